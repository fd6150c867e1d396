"""What the order book's tests share: makers with real keys, signed orders, and ``ReplayExchange``.

``ReplayExchange`` is an in-process ``ExchangeView`` for the book's own logic (reorgs, crashes, pages, races)
that a real chain cannot script (tests/e2e/test_market_script.py runs the book against the real CreditExchange):
it replays a fixed list of blocks and exchange events (and can replace its last blocks, a
reorg), answers ``fillable`` from a table the test sets, and batch data from a dict. It checks nothing itself: the
EOA signatures the book is given are checked by the book with real secp256k1 (eth_keys/coincurve), the same code
the service runs; only EIP-1271 answers (contract wallets) come from the double.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections import Counter
from dataclasses import dataclass, field

from eth_account import Account
from eth_utils import keccak, to_checksum_address

from tonne.market.book.chain import BatchInfo, ChainEvent, Head
from tonne.market.book.schema import order_to_json
from tonne.market.orders import BUY, SELL, Domain, Limit, Order, order_hash, sign_order

CHAIN_ID = 31337
EXCHANGE = to_checksum_address("0x" + "e1" * 20)
PAYMENT = to_checksum_address("0x" + "5a" * 20)
VCS = keccak(text="VCS")
GS = keccak(text="GS")
# Project 3 is VCS in Brazil, vintage 2021; project 4 is Gold Standard in Kenya, vintage 2019.
ID_A = (3 << 64) | 1
ID_B = (3 << 64) | 2
ID_C = (4 << 64) | 1
BATCHES = {
    ID_A: BatchInfo(ID_A, 3, VCS, 2021, 2021, b"BR"),
    ID_B: BatchInfo(ID_B, 3, VCS, 2022, 2022, b"BR"),
    ID_C: BatchInfo(ID_C, 4, GS, 2019, 2019, b"KE"),
}
NOW = 1_800_000_000
MAKERS = [Account.from_key(keccak(text=f"tonne market maker {i}")) for i in range(8)]
_nonces = itertools.count(1)


def make_order(maker=None, **fields) -> Order:
    maker = maker or MAKERS[0]
    values = {
        "maker": maker.address,
        "side": SELL,
        "token_id": ID_A,
        "project_id": 0,
        "standard_hash": b"\x00" * 32,
        "vintage_from": 0,
        "vintage_to": 0,
        "country": b"\x00\x00",
        "amount": 10_000,
        "price_per_unit": 5_000,
        "payment_token": PAYMENT,
        "min_fill": 0,
        "listed_at": NOW - 100,
        "expiry": NOW + 86_400,
        "taker": "0x" + "00" * 20,
        "nonce": next(_nonces),
        "counter": 0,
    }
    values.update(fields)
    return Order(**values)


def bid(maker=None, **fields) -> Order:
    fields.setdefault("side", BUY)
    fields.setdefault("token_id", 0)
    return make_order(maker or MAKERS[1], **fields)


def signed_body(order: Order, key=None, *, chain_id=CHAIN_ID, exchange=EXCHANGE) -> dict:
    """The JSON body of ``POST /orders`` for ``order``, signed by its maker's real key (or by ``key``)."""
    key = key if key is not None else next(m.key for m in MAKERS if m.address == order.maker)
    signature = sign_order(order, Domain(chain_id, exchange), key)
    return {
        "order": order_to_json(order),
        "signature": "0x" + signature.hex(),
        "chainId": str(chain_id),
        "exchange": exchange,
    }


def hash_of(order: Order) -> str:
    return "0x" + order_hash(order, Domain(CHAIN_ID, EXCHANGE)).hex()


def body_bytes(body: dict) -> bytes:
    return json.dumps(body).encode()


@dataclass
class ReplayExchange:
    """An ``ExchangeView`` over a fixed, replayed chain (see the module docstring)."""

    chain_id: int = CHAIN_ID
    exchange_address: str = EXCHANGE
    batches: dict[int, BatchInfo] = field(default_factory=lambda: dict(BATCHES))
    fillable_of: dict[str, tuple[int, int]] = field(default_factory=dict)  # by order hash; default: amount - filled
    wallets: dict[str, set[bytes]] = field(default_factory=dict)  # EIP-1271 makers: the signatures they accept
    blocks: list[tuple[str, int]] = field(default_factory=list)  # (hash, timestamp), block number = index
    logs: dict[int, list[ChainEvent]] = field(default_factory=dict)
    calls: Counter = field(default_factory=Counter)
    _fork: int = 0

    def __post_init__(self):
        if not self.blocks:
            self.blocks.append((self._hash(0), NOW - 1000))

    def _hash(self, number: int) -> str:
        return "0x" + keccak(text=f"block {number} fork {self._fork}").hex()

    # -------------------------------------------------------------- the chain, as the test writes it

    def mine(self, *chain_events: ChainEvent, timestamp: int | None = None) -> int:
        """A new block holding ``chain_events`` (their block fields filled in); returns its number."""
        number = len(self.blocks)
        block_hash = self._hash(number)
        stamp = timestamp if timestamp is not None else self.blocks[-1][1] + 12
        self.blocks.append((block_hash, stamp))
        self.logs[number] = [
            dataclasses.replace(
                ev,
                block_number=number,
                block_hash=block_hash,
                tx_hash="0x" + keccak(text=f"tx {number} {i} {ev.kind}").hex(),
                log_index=i,
                timestamp=stamp,
            )
            for i, ev in enumerate(chain_events)
        ]
        return number

    def mine_empty(self, count: int) -> None:
        for _ in range(count):
            self.mine()

    def reorg(self, depth: int) -> None:
        """Drop the last ``depth`` blocks (a fork); the next ``mine`` calls build the new branch."""
        self._fork += 1
        for number in range(len(self.blocks) - depth, len(self.blocks)):
            self.logs.pop(number, None)
        del self.blocks[len(self.blocks) - depth :]

    # -------------------------------------------------------------- ExchangeView

    def is_valid_signature(self, order: Order, signature: bytes) -> bool:
        self.calls["is_valid_signature"] += 1
        return signature in self.wallets.get(order.maker, set())

    def fillable(self, order: Order, signature: bytes, token_id: int) -> tuple[int, int]:
        self.calls["fillable"] += 1
        key = "0x" + order_hash(order, Domain(self.chain_id, self.exchange_address)).hex()
        if key in self.fillable_of:
            return self.fillable_of[key]
        # As the exchange would say with no other limit: what its own fill events leave of the amount.
        done = max(
            (
                ev.filled_total
                for evs in self.logs.values()
                for ev in evs
                if ev.kind == "filled" and ev.order_hash == key
            ),
            default=0,
        )
        return (order.amount - done, 0) if done < order.amount else (0, int(Limit.FILLED))

    def batch_info(self, token_id: int) -> BatchInfo | None:
        self.calls["batch_info"] += 1
        return self.batches.get(token_id)

    def head(self) -> Head:
        return Head(len(self.blocks) - 1, self.blocks[-1][0], self.blocks[-1][1])

    def block_hash(self, number: int) -> str | None:
        return self.blocks[number][0] if 0 <= number < len(self.blocks) else None

    def events(self, from_block: int, to_block: int):
        self.calls["events"] += 1
        for number in range(from_block, to_block + 1):
            yield from self.logs.get(number, [])


def filled(order: Order, units: int, total: int, taker: str = "0x" + "7a" * 20) -> ChainEvent:
    return ChainEvent(
        "filled",
        0,
        "",
        "",
        0,
        order_hash=hash_of(order),
        maker=order.maker,
        taker=taker,
        token_id=order.token_id,
        units=units,
        price_per_unit=order.price_per_unit,
        payment_token=order.payment_token,
        fee=0,
        filled_total=total,
    )


def cancelled(order: Order) -> ChainEvent:
    return ChainEvent("cancelled", 0, "", "", 0, order_hash=hash_of(order), maker=order.maker)


def counter_raised(maker: str, counter: int) -> ChainEvent:
    return ChainEvent("counter", 0, "", "", 0, maker=maker, counter=counter)


def touched(*makers: str) -> ChainEvent:
    return ChainEvent("touched", 0, "", "", 0, makers=tuple(makers))
