"""Benchmarks of the market. ``book_throughput``: the order book service's probe (issue 12 targets: at least 1,000
orders/s accepted with the signature checked; a book query p95 under 50 ms holding 100,000 orders).

The probe runs the service's own code (JSON validation, EIP-712 hashing, ECDSA recovery, the database write with its
change row) over a chain view answered in process (``_LocalView``: every order fillable, no RPC): the exchange's
``fillable`` is an ``eth_call`` whose cost is the node's, to be measured against the contract once it lands.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from eth_keys import keys
from eth_utils import keccak, to_checksum_address

from tonne.market.book.chain import BatchInfo, Head
from tonne.market.book.schema import order_to_json
from tonne.market.orders import BUY, SELL, Domain, Order, order_hash, sign_order

CHAIN_ID = 31337
EXCHANGE = to_checksum_address("0x" + "e1" * 20)
PAYMENT = to_checksum_address("0x" + "5a" * 20)
TOKEN_ID = (3 << 64) | 1


class _LocalView:
    """The chain as the probe sees it: every order fillable in full, one batch, no logs."""

    chain_id = CHAIN_ID
    exchange_address = EXCHANGE

    def is_valid_signature(self, order, signature):
        return False

    def fillable(self, order, signature, token_id):
        return order.amount, 0

    def batch_info(self, token_id):
        return BatchInfo(token_id, token_id >> 64, keccak(text="VCS"), 2021, 2021, b"BR")

    def head(self):
        return Head(0, "0x" + "00" * 32, int(time.time()))

    def block_hash(self, number):
        return "0x" + "00" * 32

    def events(self, from_block, to_block):
        return []


def _order(maker: str, i: int, side: int, now: int) -> Order:
    return Order(
        maker=maker,
        side=side,
        token_id=TOKEN_ID,
        project_id=0,
        standard_hash=b"\x00" * 32,
        vintage_from=0,
        vintage_to=0,
        country=b"\x00\x00",
        amount=1000 + i % 977,
        price_per_unit=(2**64 + (i * 7919) % 100_003) * 1000,  # above 2^64, many ties
        payment_token=PAYMENT,
        min_fill=0,
        listed_at=now - i % 1000,
        expiry=now + 86_400,
        taker="0x" + "00" * 20,
        nonce=i,
        counter=0,
    )


def book_throughput(
    db_url: str | None = None,
    *,
    accepted: int = 3000,
    book_size: int = 100_000,
    queries: int = 300,
    http: bool = True,
    echo=print,
) -> dict:
    """Orders accepted per second (``BookService.submit``: schema, hash, signature, write) and through HTTP, and the
    p50/p95 of book queries (one id's best 50 sells, one id's best 50 buys, a criteria query) holding
    ``book_size`` orders. ``db_url``: a fresh database (default: a SQLite file in a temporary folder)."""
    from tonne.market.book.api import BookService, start
    from tonne.market.book.store import BookStore

    tmp = tempfile.TemporaryDirectory(prefix="tonne-book-bench-")
    db_url = db_url or f"sqlite:///{Path(tmp.name) / 'book.sqlite'}"
    store = BookStore(db_url)
    service = BookService(store, _LocalView())
    now = int(time.time())
    makers = [keys.PrivateKey(keccak(text=f"bench maker {k}")) for k in range(16)]
    addresses = [m.public_key.to_checksum_address() for m in makers]

    def bodies(start_at: int, count: int) -> list[bytes]:
        out = []
        for i in range(start_at, start_at + count):
            k = i % len(makers)
            order = _order(addresses[k], i, SELL if i % 2 else BUY, now)
            signature = sign_order(order, Domain(CHAIN_ID, EXCHANGE), makers[k].to_bytes())
            body = {
                "order": order_to_json(order),
                "signature": "0x" + signature.hex(),
                "chainId": str(CHAIN_ID),
                "exchange": EXCHANGE,
            }
            out.append(json.dumps(body).encode())
        return out

    results: dict = {"db": db_url.split(":", 1)[0]}
    direct = bodies(0, accepted)
    started = time.perf_counter()
    for raw in direct:
        status, _ = service.submit(json.loads(raw))
        assert status == 201, status
    seconds = time.perf_counter() - started
    results["accepted_per_s"] = round(accepted / seconds)
    echo(f"submit (schema, hash, ECDSA, write): {accepted} orders in {seconds:.2f} s = {accepted / seconds:,.0f}/s")

    if http:
        import requests

        running = start(service)
        over_http = bodies(accepted, accepted)
        sessions = [requests.Session() for _ in range(8)]

        def post(i: int) -> int:
            return sessions[i % 8].post(f"{running.url}/orders", data=over_http[i], timeout=30).status_code

        started = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(post, range(len(over_http))))
        seconds = time.perf_counter() - started
        assert set(statuses) == {201}, set(statuses)
        results["accepted_http_per_s"] = round(accepted / seconds)
        echo(f"POST /orders, 8 clients: {accepted} orders in {seconds:.2f} s = {accepted / seconds:,.0f}/s")
        running.stop()

    # Fill the book up to `book_size` orders (signatures are not checked on this path: the rows are what matters).
    have = store.count()
    batch = []
    started = time.perf_counter()
    for i in range(10**6, 10**6 + book_size - have):
        order = _order(addresses[i % 16], i, SELL if i % 2 else BUY, now)
        batch.append((order, "0x" + order_hash(order, Domain(CHAIN_ID, EXCHANGE)).hex(), b"\x01" * 65, order.amount, 0))
        if len(batch) == 5000:
            store.add_orders(batch)
            batch = []
    if batch:
        store.add_orders(batch)
    results["book_orders"] = store.count()
    echo(f"book filled to {results['book_orders']:,} open orders in {time.perf_counter() - started:.1f} s")

    from tonne.market.book.store import Criteria

    def timed(fn) -> list[float]:
        out = []
        for _ in range(queries):
            t = time.perf_counter()
            fn()
            out.append((time.perf_counter() - t) * 1000)
        return out

    cases = {
        "sells_of_id": lambda: service.book({"side": "sell", "token_id": str(TOKEN_ID), "limit": "50"}),
        "buys_of_id": lambda: service.book({"side": "buy", "token_id": str(TOKEN_ID), "limit": "50"}),
        "sells_by_criteria": lambda: store.book(SELL, criteria=Criteria(project_id=3, vintage_from=2021), limit=50),
    }
    for name, fn in cases.items():
        fn()  # warm
        ms = sorted(timed(fn))
        p50, p95 = statistics.median(ms), ms[int(len(ms) * 0.95) - 1]
        results[f"{name}_p50_ms"] = round(p50, 2)
        results[f"{name}_p95_ms"] = round(p95, 2)
        echo(f"book query {name} (best 50 of {results['book_orders']:,}): p50 {p50:.2f} ms, p95 {p95:.2f} ms")
    # The deepest page: the cursor of the 2,000th order.
    page = service.book({"side": "sell", "token_id": str(TOKEN_ID), "limit": "500"})
    for _ in range(3):
        page = service.book({"side": "sell", "token_id": str(TOKEN_ID), "limit": "500", "cursor": page["nextCursor"]})
    cursor = page["nextCursor"]
    ms = sorted(timed(lambda: service.book({"side": "sell", "token_id": str(TOKEN_ID), "cursor": cursor})))
    results["sells_page_41_p95_ms"] = round(ms[int(len(ms) * 0.95) - 1], 2)
    store.close()
    tmp.cleanup()
    return results


if __name__ == "__main__":
    import sys

    print(json.dumps(book_throughput(sys.argv[1] if len(sys.argv) > 1 else None), indent=2))


def book_on_chain(project, provider, accounts, *, orders: int = 500, echo=print) -> dict:
    """Orders accepted per second by the book service against the bench's own chain: the real exchange's
    ``fillable`` (an ``eth_call`` per order) and the registry's batch data (once per id) through
    ``Web3ExchangeView``, sell orders signed by 8 funded makers. The in-process figure (``book_throughput``) is the
    service's own cost; this one adds the node's."""
    from tonne.bench.gas import _batch, _register
    from tonne.market.book.api import BookService
    from tonne.market.book.chain import Web3ExchangeView
    from tonne.market.book.store import BookStore
    from tonne.market.deploy import deploy_market
    from tonne.market.orders import ZERO_ADDRESS
    from tonne.registry.suite import deploy_suite

    admin, registrar, verifier, issuer = accounts[:4]
    makers = accounts[4:12]
    roles = {"REGISTRAR_ROLE": [registrar], "VERIFIER_ROLE": [verifier], "ISSUER_ROLE": [issuer]}
    suite = deploy_suite(project, admin, permissioned=False, roles=roles)
    market = deploy_market(project, suite, admin)
    project_id = _register(None, suite.registry, registrar, issuer, admin, "book")
    token_id = suite.registry.addBatch(project_id, _batch(1, 1_000_000, "BOOK-1"), 0, sender=registrar).return_value
    suite.registry.verifyBatch(token_id, sender=verifier)
    for maker in makers:
        suite.credit.issue(token_id, maker, 10_000_000, b"\x00" * 32, sender=issuer)
        suite.credit.setApprovalForAll(market.exchange.address, True, sender=maker)
    w3 = provider.web3
    chain_id = int(provider.chain_id)
    exchange = str(market.exchange.address)
    view = Web3ExchangeView(w3, exchange, str(suite.registry.address), str(suite.credit.address), chain_id=chain_id)
    tmp = tempfile.TemporaryDirectory(prefix="tonne-book-chain-")
    store = BookStore(f"sqlite:///{Path(tmp.name) / 'book.sqlite'}")
    service = BookService(store, view)
    domain = Domain(chain_id, exchange)
    now = int(provider.get_block("latest").timestamp)
    bodies = []
    for i in range(orders):
        maker = makers[i % len(makers)]
        order = Order(
            maker=str(maker.address), side=SELL, token_id=token_id, amount=1_000 + i, price_per_unit=10_000 + i,
            payment_token=str(market.payment_token.address), expiry=now + 86_400, listed_at=now, taker=ZERO_ADDRESS,
            nonce=i, counter=0,
        )  # fmt: skip
        signature = sign_order(order, domain, maker.private_key)
        body = {"order": order_to_json(order), "signature": "0x" + signature.hex(), "chainId": str(chain_id)}
        bodies.append(json.dumps({**body, "exchange": exchange}).encode())
    started = time.perf_counter()
    for raw in bodies:
        status, _ = service.submit(json.loads(raw))
        assert status == 201, status
    seconds = time.perf_counter() - started
    store.close()
    tmp.cleanup()
    echo(f"submit against the chain (fillable eth_call each): {orders} orders in {seconds:.2f} s = "
         f"{orders / seconds:,.0f}/s")  # fmt: skip
    return {"orders": orders, "seconds": round(seconds, 3), "accepted_per_s": round(orders / seconds)}


# Nori's published gas snapshot of Market.swap (not measured here: their repository's .gas-snapshot), by removal ids.
NORI_SWAP_GAS = {1: 470_314, 10: 1_549_359, 250: 29_847_653}


def bench_rows(ctx) -> dict:
    """The market module's bench rows (``tonne.modules``): gas per operation beside the floor of a trade measured in
    the same run, the 10,000th fill against the first, and the order book service's throughput and query times."""
    from ape import chain

    from tonne.bench.common import yes
    from tonne.core.report import table
    from tonne.market.gas import measure_market_gas, ratios

    gas = measure_market_gas(ctx.project, chain, ctx.accounts, constancy_fills=ctx.batches)
    met = ratios(gas)
    ctx.echo("")
    ctx.echo(table(["operation", "gas"], [[name, f"{value:,}"] for name, value in gas.items()], title="Market gas"))
    ctx.echo(
        table(
            ["ratio", "measured", "target", "met"],
            [[name, f"{r['ratio']:.3f}", f"{r['target']}", yes(r["met"])] for name, r in met.items()],
            title="Market targets",
        )
    )
    ctx.echo("Nori Market.swap (published, not measured here): " + ", ".join(
        f"{n} removal id(s) {g:,} gas" for n, g in NORI_SWAP_GAS.items()))  # fmt: skip
    book = book_throughput(echo=ctx.echo)
    book["on_chain"] = book_on_chain(ctx.project, ctx.provider, ctx.accounts, echo=ctx.echo)
    constancy = f"fill sell, after {ctx.batches} fills"
    return {
        "market": {
            "gas": gas,
            "ratios": met,
            "constancy": {
                "fills_before": ctx.batches,
                "first": gas["fill sell, with fee"],
                "after": gas[constancy],
                "same": abs(gas[constancy] - gas["fill sell, with fee"]) <= 48,
            },
            "nori_published_swap_gas": {str(k): v for k, v in NORI_SWAP_GAS.items()},
            "book": book,
        }
    }
