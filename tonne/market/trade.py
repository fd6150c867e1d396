"""The market's actions on a connected ``Market``: order fields, posting a sell order or a bid, reading the book,
buying from it (``fillMany``), buying and retiring in one call (``fillAndRetire``), matching crossing orders
(``matchOrders``), cancelling, reading trades, exporting a day and serving the book. scripts/market.py is their
command line (options, echo, error lines); the demo (tonne/market/demo.py) runs the same functions.

Each takes parsed values (units, prices per kg unit, ids, ``Criteria``), checks what it can before sending (what
is fillable now, balances, a dry run), and raises ``InputError`` (one line; nothing was sent) when it refuses.
Each also takes a ``Desk``: where the book is; where the lines that say what was done on the way go (an approval
sent before the action); and the words the user typed, ``field`` and ``credit``, that name the inputs in the
refusals (the script passes e.g. ``TONNES 10.5`` and ``P3/B1``; without them the values are spelled out).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from tonne.core.units import format_tonnes
from tonne.market.orders import BUY, SELL, ZERO_ADDRESS, Order
from tonne.market.tools import (
    Criteria,
    HttpBook,
    InputError,
    Listed,
    LocalBook,
    Market,
    Pair,
    Take,
    Trade,
    day_bounds,
    describe_id,
    listed_side,
    new_nonce,
    open_book,
    order_of_json,
    parse_criteria,
    parse_expiry,
    parse_price_per_tonne,
    parse_tonnes,
    plan_buy,
    plan_matches,
    read_trades,
    sign_with_account,
    sqlite_url,
    submission,
    trades_csv,
)

Echo = Callable[[str], None]
NO_CRITERIA = Criteria()


def _quiet(_: str) -> None:
    pass


def _tonnes(units: int) -> str:
    return format_tonnes(units).removesuffix(" t")


@dataclass(frozen=True)
class Desk:
    """How an action is asked for: where it finds the order book, ``book_url`` (a book service) or ``db`` (a local
    SQLite file; neither: the chain's default one); where it says what it did on the way, ``echo`` (an approval
    sent first); and the words typed for the amount (``field``) and the credit (``credit``), for its refusals."""

    book_url: str | None = None
    db: str | None = None
    echo: Echo = _quiet
    field: str | None = None
    credit: str | None = None

    @contextmanager
    def book(self, m: Market) -> Iterator[HttpBook | LocalBook]:
        """The book, opened as ``open_book`` opens it (refused as it refuses) and closed after the block."""
        b = open_book(m, self.book_url, self.db)
        try:
            yield b
        finally:
            b.close()


HERE = Desk()  # the local default book, nothing echoed


@dataclass
class Posted:
    """An order signed and put in a book: the book's answer, where the book is, and the approvals sent first."""

    order: Order
    answer: dict[str, Any]
    where: str
    receipts: dict[str, Any] = field(default_factory=dict)

    @property
    def hash(self) -> str:
        return self.answer["hash"]


# ---------------------------------------------------------------------------------------------- orders


def order_fields(
    m: Market,
    account: Any,
    side: int,
    amount: str,
    price: str,
    expiry: str,
    min_fill: str | None = None,
    taker: str | None = None,
) -> dict[str, Any]:
    """The fields of an order by ``account`` (everything but what it trades), from the words of the command line:
    tonnes, a price per tonne, an expiry, a minimum fill and a taker; listed at the chain's time now, with a fresh
    nonce and the maker's current counter."""
    from tonne.core.csvinput import parse_address

    now = m.now()
    units = parse_tonnes(amount)
    per_unit = parse_price_per_tonne(price, m.decimals, m.symbol)
    due = parse_expiry(expiry, now)
    minimum = parse_tonnes(min_fill, "--min-fill") if min_fill is not None else 0
    if minimum > units:
        raise InputError(f"--min-fill {min_fill}: above the order's {format_tonnes(units)}")
    taker_address = ZERO_ADDRESS
    if taker is not None:
        try:
            taker_address = parse_address(taker)
        except ValueError as exc:
            raise InputError(f"--taker {taker!r}: {exc}") from None
    return dict(
        maker=str(account.address),
        side=side,
        amount=units,
        price_per_unit=per_unit,
        payment_token=str(m.payment.address),
        expiry=due,
        min_fill=minimum,
        listed_at=now,
        taker=taker_address,
        nonce=new_nonce(),
        counter=int(m.exchange.counterOf(account.address)),
    )


def post_order(m: Market, account: Any, order: Order, desk: Desk = HERE):
    """Sign ``order`` with ``account`` and submit it to the book; returns the book's answer and where it is."""
    with desk.book(m) as book:
        signature = sign_with_account(order, m.domain, account)
        return book.submit(submission(order, signature, m.domain)), book.where


def ensure_operator(m: Market, account: Any, echo: Echo = _quiet) -> Any | None:
    """Approve the exchange as operator of ``account``'s credits unless it is; the receipt, or None."""
    if m.credit.isApprovedForAll(account.address, m.exchange.address):
        return None
    receipt = m.credit.setApprovalForAll(m.exchange.address, True, sender=account)
    echo(f"approved the exchange {m.exchange.address} as operator of {account.address}'s credits")
    return receipt


def ensure_allowance(m: Market, account: Any, cost: int, echo: Echo = _quiet) -> Any | None:
    """Raise ``account``'s payment-token allowance to the exchange by ``cost`` if it is below ``cost`` (raised by
    the cost, so that what the account's bids rely on stays allowed); the receipt, or None."""
    allowance = int(m.payment.allowance(account.address, m.exchange.address))
    if allowance >= cost:
        return None
    receipt = m.payment.approve(m.exchange.address, allowance + cost, sender=account)
    echo(f"allowed the exchange {m.exchange.address} {m.money(allowance + cost)} of {account.address}'s {m.symbol}")
    return receipt


def _receipts(**found: Any) -> dict[str, Any]:
    return {name: r for name, r in found.items() if r is not None}


def sell(m: Market, account: Any, token_id: int, fields: dict[str, Any], desk: Desk = HERE) -> Posted:
    """Offer ``fields["amount"]`` units of ``token_id`` (``fields`` from ``order_fields``, side SELL): checks the
    maker holds them, approves the exchange as operator if needed, signs and posts the sell order."""
    field = desk.field or f"TONNES {_tonnes(fields['amount'])}"
    held = int(m.credit.balanceOf(account.address, token_id))
    if held < fields["amount"]:
        credit = desk.credit or describe_id(token_id)
        raise InputError(f"{field}: {account.address} holds {format_tonnes(held)} of {credit}")
    order = Order(token_id=token_id, **fields)
    approval = ensure_operator(m, account, desk.echo)
    answer, where = post_order(m, account, order, desk)
    return Posted(order, answer, where, _receipts(operator=approval))


def check_bid_target(token_id: int | None, criteria: Criteria, credit: str | None = None) -> None:
    """A bid names one id or criteria, not both."""
    if token_id is not None and criteria.any:
        raise InputError(f"ID {credit or describe_id(token_id)}: a bid for one id takes no criteria; use `any` with "
                         "criteria")  # fmt: skip


def bid(
    m: Market, account: Any, token_id: int | None, criteria: Criteria, fields: dict[str, Any], desk: Desk = HERE
) -> Posted:
    """Bid for ``fields["amount"]`` units of ``token_id``, or (``None``) of any credit meeting ``criteria``:
    checks the maker's payment-token balance, raises its allowance if short, signs and posts the buy order."""
    check_bid_target(token_id, criteria, desk.credit)
    order = Order(
        token_id=token_id or 0,
        project_id=criteria.project_id,
        standard_hash=criteria.standard_hash,
        vintage_from=criteria.vintage_from,
        vintage_to=criteria.vintage_to,
        country=criteria.country,
        **fields,
    )
    field = desk.field or f"TONNES {_tonnes(order.amount)} at --price {m.per_tonne(order.price_per_unit)}"
    cost = order.cost(order.amount)
    cash = int(m.payment.balanceOf(account.address))
    if cash < cost:
        raise InputError(f"{field}: costs {m.money(cost)}; {account.address} holds {m.money(cash)}")
    approval = ensure_allowance(m, account, cost, desk.echo)
    answer, where = post_order(m, account, order, desk)
    return Posted(order, answer, where, _receipts(allowance=approval))


# ---------------------------------------------------------------------------------------------- the book


def read_book(
    m: Market,
    token_id: int | None,
    criteria: Criteria = NO_CRITERIA,
    sides: tuple[int, ...] = (SELL, BUY),
    limit: int = 50,
    desk: Desk = HERE,
) -> dict[int, list[Listed]]:
    """The book of ``token_id`` (its sell orders and the bids it meets), or (``None``) the orders meeting
    ``criteria``, per side, best price first, each with the exchange's ``fillable`` now."""
    if token_id is None and not criteria.any:
        raise InputError("ID any: give criteria (--project, --standard, --vintage-from/--vintage-to, --country)")
    with desk.book(m) as b:
        return {s: listed_side(m, b, s, token_id, criteria, limit) for s in sides}


def book_heading(side: int, count: int) -> str:
    return f"{'sell orders (asks), lowest first' if side == SELL else 'buy orders (bids), highest first'}: {count}"


# ---------------------------------------------------------------------------------------------- taking orders


def check_holder(m: Market, address: str) -> None:
    """The token's own refusals of a receiver, said before anything is sent."""
    if m.credit.paused():
        raise InputError("the credit token is paused: no transfer, so no trade; nothing was sent")
    if m.credit.isFrozen(address):
        raise InputError(f"--account {address}: frozen on the credit token; nothing was sent")
    if m.credit.permissioned() and not m.credit.isAllowed(address):
        raise InputError(f"--account {address}: not on the credit token's allowlist (permissioned mode); "
                         "nothing was sent")  # fmt: skip


def plan_purchase(
    m: Market, account: Any, token_id: int, wanted: int, max_price: int, desk: Desk = HERE, *, single: bool = False
) -> tuple[list[Take], int]:
    """The sell orders of the book that ``account`` would take for ``wanted`` units of ``token_id`` at ``max_price``
    per unit at most, best first, and their cost; refused unless all of it is fillable now and affordable, and the
    account may receive credits. ``single``: from one order only (the best that has it all)."""
    field = desk.field or f"TONNES {_tonnes(wanted)}"
    credit = desk.credit or describe_id(token_id)
    with desk.book(m) as b:
        items = listed_side(m, b, SELL, token_id, parse_criteria(None, None, None, None, None), 500)
    if single:  # one order must have it all
        items = [i for i in items if i.fillable >= wanted]
    takes, available = plan_buy(items, wanted, max_price, str(account.address))
    got = sum(t.units for t in takes)
    if got < wanted:
        raise InputError(
            f"{field}: only {format_tonnes(available)} of {credit} offered at or below "
            f"{m.per_tonne(max_price)} and fillable now ({len(takes)} orders usable); nothing was sent"
        )
    cost = sum(t.cost for t in takes)
    cash = int(m.payment.balanceOf(account.address))
    if cash < cost:
        raise InputError(f"{field}: costs {m.money(cost)}; {account.address} holds {m.money(cash)}; nothing was sent")
    check_holder(m, account.address)
    return takes, cost


def buy(
    m: Market,
    account: Any,
    token_id: int,
    wanted: int,
    max_price: int,
    desk: Desk = HERE,
    approvals: dict[str, Any] | None = None,
) -> tuple[list[Take], int, Any]:
    """Buy ``wanted`` units of ``token_id`` from the book's sell orders, best price first, at ``max_price`` per
    unit at most, in one ``fillMany`` (dry-run first): returns the takes, their cost and the receipt (the
    allowance raised first, if it was, goes to ``approvals``)."""
    takes, cost = plan_purchase(m, account, token_id, wanted, max_price, desk)
    allowance = ensure_allowance(m, account, cost, desk.echo)
    if approvals is not None:
        approvals.update(_receipts(allowance=allowance))
    fills = [(t.item.order.as_tuple(), t.item.signature, t.units, token_id) for t in takes]
    m.exchange.fillMany.estimate_gas_cost(fills, sender=account)  # the dry run: a refusal here sends nothing
    receipt = m.exchange.fillMany(fills, sender=account)
    return takes, cost, receipt


@dataclass
class Retirement:
    """What ``buy_and_retire`` did: the order taken, what it cost, the receipt and the certificate."""

    take: Take
    cost: int
    receipt: Any
    certificate_id: int
    approvals: dict[str, Any]


def buy_and_retire(
    m: Market, account: Any, token_id: int, units: int, max_price: int, retirement: dict[str, Any], desk: Desk = HERE
) -> Retirement:
    """Buy ``units`` of ``token_id`` from the best sell order that has them all at ``max_price`` per unit at most
    and retire them in the same call (``fillAndRetire``; ``retirement`` is the retirement module's
    ``RetirementInput``, e.g. beneficiary name, reason, jurisdiction and period); the certificate goes to
    ``retirement["beneficiary"]``. The retirement module burns the credits as the exchange, the account's operator:
    it is approved first if it is not."""
    takes, cost = plan_purchase(m, account, token_id, units, max_price, desk, single=True)
    take = takes[0]
    used = _certificate_of_reference(m, account, retirement["retirementRef"])
    if used:  # checked before any approval is sent: a repeated request sends nothing
        ref = _hex(retirement["retirementRef"])
        raise InputError(f"the retirement reference {ref} of {account.address} was used by certificate #{used}: "
                         "this request was retired already; nothing was sent")  # fmt: skip
    allowance = ensure_allowance(m, account, cost, desk.echo)
    approvals = _receipts(allowance=allowance, operator=ensure_operator(m, account, desk.echo))
    args = (take.item.order.as_struct(), take.item.signature, take.units, retirement)
    # The dry runs are gas estimates: their revert data decodes into the custom error (an eth_call's, through ape,
    # comes back as lossy text).
    m.exchange.fillAndRetire.estimate_gas_cost(*args, sender=account)
    receipt = m.exchange.fillAndRetire(*args, sender=account)
    _, certificate_id = receipt.return_value
    return Retirement(take, cost, receipt, int(certificate_id), approvals)


def _certificate_of_reference(m: Market, account: Any, ref: bytes) -> int:
    """The certificate that ``account`` already got for retirement reference ``ref``, or 0."""
    from ape import Contract

    entry = m.record["contracts"]["CarbonRetirement"]
    return int(Contract(entry["address"], abi=entry["abi"]).certificateOfReference(account.address, ref))


def _hex(value: bytes) -> str:
    return "0x" + bytes(value).hex()


def match(m: Market, account: Any, token_id: int, max_matches: int = 10, desk: Desk = HERE) -> list[tuple[Pair, Any]]:
    """Settle crossing sell and buy orders of ``token_id`` (bids for it, criteria bids it meets included), best
    prices first, at most ``max_matches``, each dry-run first then sent by ``account`` (``matchOrders``)."""
    with desk.book(m) as b:
        sells = listed_side(m, b, SELL, token_id, NO_CRITERIA, 500)
        buys = listed_side(m, b, BUY, token_id, NO_CRITERIA, 500)
    pairs = plan_matches(sells, buys)[:max_matches]
    if not pairs:
        raise InputError(f"ID {desk.credit or describe_id(token_id)}: no crossing sell and buy orders fillable now; "
                         "nothing was sent")  # fmt: skip
    done = []
    for p in pairs:
        args = (p.sell.order.as_struct(), p.sell.signature, p.buy.order.as_struct(), p.buy.signature, p.units,
                token_id)  # fmt: skip
        m.exchange.matchOrders.estimate_gas_cost(*args, sender=account)
        done.append((p, m.exchange.matchOrders(*args, sender=account)))
    return done


# ---------------------------------------------------------------------------------------------- cancelling


def cancel(m: Market, account: Any, key: str, desk: Desk = HERE) -> Any:
    """Cancel ``account``'s order of hash ``key`` (as the book has it) on the exchange; the receipt."""
    with desk.book(m) as b:
        order, _ = order_of_json(b.get(key))
    if order.maker != account.address:
        raise InputError(f"HASH {key}: an order of {order.maker}, not of --account {account.address}")
    if m.exchange.cancelled(key):
        raise InputError(f"HASH {key}: already cancelled")
    return m.exchange.cancel(order.as_struct(), sender=account)


def cancel_all(m: Market, account: Any) -> Any:
    """Cancel every order ``account`` signed so far (``incrementCounter``); the receipt."""
    return m.exchange.incrementCounter(sender=account)


# ---------------------------------------------------------------------------------------------- trades, export, serve


def find_trades(m: Market, token_id: int | None = None, who: str | None = None) -> list[Trade]:
    """The exchange's trades (``read_trades``), of ``token_id`` and with ``who`` as buyer or seller if given."""
    return [
        t
        for t in read_trades(m)
        if (token_id is None or t.token_id == token_id) and (who is None or who in (t.seller, t.buyer))
    ]


def export_day(m: Market, when: date, directory: str | Path, desk: Desk = HERE) -> tuple[Path, int, Path, int]:
    """Write orders-<day>.csv (orders first seen that UTC day, from the book) and trades-<day>.csv (trades mined
    that day) under ``directory``; returns each path and its row count."""
    start, end = day_bounds(when)
    with desk.book(m) as b:
        orders_csv = b.export_orders(when)
    found = [t for t in read_trades(m) if start <= t.timestamp < end]
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    orders_path, trades_path = out / f"orders-{when}.csv", out / f"trades-{when}.csv"
    orders_path.write_text(orders_csv)
    trades_path.write_text(trades_csv(found))
    return orders_path, orders_csv.count("\n") - 1, trades_path, len(found)


def serve(
    m: Market,
    provider: Any,
    *,
    host: str,
    port: int,
    db: str | None,
    database: str | None,
    confirmations: int,
    poll: float,
    echo: Echo = _quiet,
) -> None:
    """Run the book service (tonne.market.book.api) on a SQLite file or a database URL until interrupted."""
    if db and database:
        raise InputError("--db / --database: give one")
    if database and not database.startswith(("sqlite:", "postgresql")):
        raise InputError(f"--database {database[:60]!r}: expected sqlite:///FILE or postgresql+psycopg://...")
    url = database or sqlite_url(db or m.default_book_path())
    uri = getattr(provider, "uri", None) or getattr(provider, "http_uri", None)
    if not uri:
        raise InputError(f"--network: provider {provider.name} has no RPC URL for the book's follower")
    from tonne.market.book.api import serve as serve_book
    from tonne.market.book.store import StoreMismatch

    try:
        serve_book(
            host=host,
            port=port,
            db_url=url,
            rpc_url=uri,
            exchange=str(m.exchange.address),
            registry=str(m.registry.address),
            credit_token=str(m.credit.address),
            start_block=m.start_block,
            confirmations=confirmations,
            poll_interval=poll,
            abi=m.abi,
            echo=echo,
        )
    except StoreMismatch as exc:
        raise InputError(f"--db/--database: {exc}") from None
    except OSError as exc:
        raise InputError(f"--host/--port {host}:{port}: cannot listen ({exc})") from None
    except RuntimeError as exc:
        raise InputError(f"serve: {exc}") from None
