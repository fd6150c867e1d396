"""The demo's market steps (``demo_step``, run by tonne/demo.py after the summary, before the pledge): a fee; a
seller lists two VCS vintages; a buyer bids for any VCS credit of vintage 2021 or later; a third party matches the
two (and the 2020 listing is shown not to meet the bid); another buyer takes part of a listing; a buyer buys and
retires in one call; the permissioned deployment refuses an outsider's purchase; the book and the trades, read
through the same code as `ape run market book` and `ape run market trades` (tonne.market.trade, tonne.market.tools)
with a local SQLite book in a temporary directory; the gas of these steps. See docs/market.md, "The demo".
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from eth_utils import keccak

from tonne.certificate import load_deployed
from tonne.core.demo import DemoContext, Ledger, expect_refusal, short
from tonne.core.deployments import Deployed
from tonne.core.ids import describe
from tonne.core.report import table
from tonne.core.units import format_tonnes, tonnes_to_units
from tonne.market import trade
from tonne.market.deploy import MarketOptions
from tonne.market.orders import BUY, SELL
from tonne.market.tools import (
    InputError,
    connect_market,
    describe_criteria,
    describe_order,
    describe_trade,
    exchange_fillable,
    parse_criteria,
    parse_price_per_tonne,
)

FEE_BPS = 50  # 0.5 %
CASH = 10_000  # tUSD minted to each buyer (the test stablecoin's open mint)
# (tonnes, price per tonne) of the seller's two listings, the bid, the partial purchase, the buy-and-retire
LIST_2021, LIST_2020 = ("400", "14"), ("300", "11")
BID = ("250", "15")
BUY_2021 = ("100", "14")
RETIRE_2020 = ("60", "11")
FY2025 = (1_735_689_600, 1_767_225_599)  # 2025-01-01T00:00:00Z .. 2025-12-31T23:59:59Z
STEPS = 8


def demo_market_options(admin: Any) -> MarketOptions:
    """What the demo's deploy adds: the CreditExchange, priced in the suite's test stablecoin."""
    return MarketOptions()


def demo_step(ctx: DemoContext) -> None:
    """The market steps on the demo's VCS batches (see the module's docstring); their summary goes to the result."""
    with tempfile.TemporaryDirectory(prefix="tonne-market-demo-") as directory:
        ctx.result["market"] = run_market_steps(ctx, str(Path(directory) / "book.sqlite"))


def run_market_steps(ctx: DemoContext, db: str) -> dict[str, Any]:
    """Run the market steps with the local SQLite book ``db``; returns a summary."""
    echo, actors = ctx.echo, ctx.actors
    gas = Ledger()
    m = connect_market(ctx.provider)
    admin, outsider = actors.admin, actors.outsider
    seller, bidder, taker = actors.buyers
    matcher = outsider  # anyone may match: the caller receives nothing, so it need not be allowlisted
    vcs_2021, vcs_2020 = ctx.token_ids[0], ctx.token_ids[1]
    fee_recipient = admin  # the exchange's operator takes the fee
    people = {"seller": seller, "bidder": bidder, "taker": taker, "fee": fee_recipient}
    ids = (vcs_2021, vcs_2020)
    local = trade.Desk(db=db)  # the demo's book; ``desk`` also echoes the approvals sent first
    desk = trade.Desk(db=db, echo=_indented(echo))

    def step(n: int, title: str) -> None:
        echo(f"[market {n}/{STEPS}] {title}")

    def price(text: str) -> int:
        return parse_price_per_tonne(text, m.decimals, m.symbol)

    echo("")
    step(1, f"The exchange, its fee and the buyers' {m.symbol}")
    gas.add("set fee", m.exchange.setFee(FEE_BPS, fee_recipient.address, sender=admin))
    fee_bps, recipient = m.exchange.fee()
    echo(f"      CreditExchange {m.exchange.address}: fee {int(fee_bps) / 100:g} % of each trade's price, paid by the "
         f"buyer's payment to {short(recipient)} (the exchange's admin)")  # fmt: skip
    for account in (bidder, taker, outsider):
        m.payment.mint(account.address, CASH * 10**m.decimals, sender=account)
    echo(f"      {', '.join(short(a) for a in (bidder, taker, outsider))} minted {CASH:,} {m.symbol} each (test "
         "stablecoin)")  # fmt: skip

    step(2, "A seller lists VCS 2021 and VCS 2020 credits (signed orders in the book; nothing on-chain but approval)")
    listings = {}
    for token_id, (tonnes, per_tonne) in ((vcs_2021, LIST_2021), (vcs_2020, LIST_2020)):
        fields = trade.order_fields(m, seller, SELL, tonnes, per_tonne, "+30d")
        posted = trade.sell(m, seller, token_id, fields, desk)
        _approvals(gas, m, posted.receipts)
        listings[token_id] = posted
        echo(f"      {short(seller)} sells {format_tonnes(posted.order.amount)} of {describe(token_id)} at "
             f"{m.per_tonne(posted.order.price_per_unit)}: order {_hash(posted.hash)}, {posted.answer['state']}, "
             f"fillable now {format_tonnes(int(posted.answer['fillable']))}")  # fmt: skip

    step(3, "A buyer bids for any VCS credit of vintage 2021 or later")
    criteria = parse_criteria(None, "VCS", "2021", None, None)
    fields = trade.order_fields(m, bidder, BUY, *BID, "+30d")
    bid = trade.bid(m, bidder, None, criteria, fields, desk)
    _approvals(gas, m, bid.receipts)
    echo(f"      {short(bidder)} bids for {format_tonnes(bid.order.amount)} of {describe_criteria(bid.order)} at "
         f"{m.per_tonne(bid.order.price_per_unit)}: order {_hash(bid.hash)}, {bid.answer['state']}")  # fmt: skip
    for token_id in ids:
        units, reason = exchange_fillable(m, bid.order, _signature(m, db, bid.hash), token_id)
        echo(f"      the exchange's fillable(bid, {describe(token_id)}): {format_tonnes(units)} ({reason})")

    step(4, "A third party matches the bid with the 2021 listing (matchOrders; the caller receives nothing)")
    no_match = _tools_refusal(
        lambda: trade.match(m, matcher, vcs_2020, desk=local),
        "the 2020 listing was matched with a bid for vintage 2021 or later",
    )
    echo(f"      the tools, asked to match {describe(vcs_2020)}: {no_match}")
    sell_2020 = listings[vcs_2020]
    vintage_refusal = expect_refusal(
        lambda: m.exchange.matchOrders(
            sell_2020.order.as_struct(), _signature(m, db, sell_2020.hash), bid.order.as_struct(),
            _signature(m, db, bid.hash), tonnes_to_units(BID[0]), vcs_2020, sender=matcher, gas=1_000_000,
        )
    )  # fmt: skip
    echo(f"      refused, matchOrders(2020 listing, the bid) sent anyway: {vintage_refusal}")
    before = _balances(m, people, ids)
    matched = trade.match(m, matcher, vcs_2021, desk=local)
    for pair, receipt in matched:
        gas.add("matchOrders", receipt)
        echo(f"      {short(matcher)} matched {format_tonnes(pair.units)} of {describe(vcs_2021)} at "
             f"{m.per_tonne(pair.price)} (the resting sell order's price): {_hash(pair.sell.hash)} with "
             f"{_hash(pair.buy.hash)}")  # fmt: skip
    match_moves = _echo_moves(echo, m, people, ids, before)

    step(5, "Another buyer takes part of the 2021 listing (the book's best offers, fillMany)")
    before = _balances(m, people, ids)
    approvals: dict[str, Any] = {}
    takes, cost, receipt = trade.buy(
        m, taker, vcs_2021, tonnes_to_units(BUY_2021[0]), price(BUY_2021[1]), desk, approvals=approvals,
    )  # fmt: skip
    _approvals(gas, m, approvals)
    gas.add("fillMany (buy)", receipt)
    for t in takes:
        echo(f"      {short(taker)} took {format_tonnes(t.units)} at {m.per_tonne(t.item.order.price_per_unit)} from "
             f"{short(t.item.order.maker)} ({_hash(t.item.hash)})")  # fmt: skip
    echo(f"      bought {format_tonnes(sum(t.units for t in takes))} of {describe(vcs_2021)} for {m.money(cost)}")
    buy_moves = _echo_moves(echo, m, people, ids, before)

    step(6, "A buyer buys and retires in one call (fillAndRetire): the certificate names the beneficiary")
    before = _balances(m, people, ids)
    retired_before = int(m.credit.totalRetired(vcs_2020))
    beneficiary_name = "Hamburg Port Logistics GmbH"
    retirement = dict(
        beneficiary=str(bidder.address),
        beneficiaryName=beneficiary_name,
        reason="Scope 1 emissions FY2025 (harbour cranes)",
        jurisdiction="DE",
        periodStart=FY2025[0],
        periodEnd=FY2025[1],
        retirementRef=keccak(text="DEMO-MARKET-RETIRE-0001"),
    )
    done = trade.buy_and_retire(
        m, bidder, vcs_2020, tonnes_to_units(RETIRE_2020[0]), price(RETIRE_2020[1]), retirement, desk,
    )  # fmt: skip
    _approvals(gas, m, done.approvals)
    gas.add("fillAndRetire", done.receipt)
    (certificate,) = load_deployed(_deployed(ctx), certificate_id=done.certificate_id)
    retired = int(m.credit.totalRetired(vcs_2020)) - retired_before
    assert retired == done.take.units == certificate.total_units, "the certificate does not match the fill"
    echo(f"      {short(bidder)} bought {format_tonnes(done.take.units)} of {describe(vcs_2020)} at "
         f"{m.per_tonne(done.take.item.order.price_per_unit)} from {_hash(done.take.item.hash)} and retired them in "
         f"the same transaction: certificate #{done.certificate_id}")  # fmt: skip
    for line in certificate.describe().splitlines():
        echo(f"        {line}")
    retire_moves = _echo_moves(echo, m, people, ids, before)

    step(7, "What the permissioned deployment refuses: an outsider (not on the allowlist) tries to buy")
    m.payment.approve(m.exchange.address, CASH * 10**m.decimals, sender=outsider)
    tools_refusal = _tools_refusal(
        lambda: trade.buy(m, outsider, vcs_2021, tonnes_to_units(10), price(BUY_2021[1]), local),
        "the tools let an account off the allowlist buy credits",
    )
    echo(f"      the tools (`ape run market buy`): {tools_refusal}")
    listing = listings[vcs_2021]
    refusal = expect_refusal(
        lambda: m.exchange.fill(
            listing.order.as_struct(), _signature(m, db, listing.hash), tonnes_to_units(10), vcs_2021,
            sender=outsider, gas=1_000_000,
        )
    )  # fmt: skip
    echo(f"      refused, the exchange's fill sent anyway: {refusal}")

    step(8, "The order book (best price first, fillable now) and the trades, from the exchange's events")
    book = {}
    for token_id in ids:
        found = trade.read_book(m, token_id, desk=local)
        echo(f"      book of {describe(token_id)}:")
        for side, items in found.items():
            echo(f"        {trade.book_heading(side, len(items))}")
            for item in items:
                echo("          " + describe_order(m, item))
        book[describe(token_id)] = {
            "sell": [(item.hash, item.fillable) for item in found[SELL]],
            "buy": [(item.hash, item.fillable) for item in found[BUY]],
        }
    trades = trade.find_trades(m)
    echo(f"      {len(trades)} trades")
    for t in trades:
        echo("        " + describe_trade(m, t))
    fees = sum(t.fee for t in trades)
    echo(f"      fees: {m.money(fees)} to {short(fee_recipient)}, the sum of the trades' fees (from the events)")

    rows = [[name, len(v), f"{sum(v):,}", f"{sum(v) // len(v):,}"] for name, v in gas.steps.items()]
    echo(table(["step", "txs", "gas", "gas/tx"], rows, title="Gas of the market steps"))
    return {
        "fee_bps": int(fee_bps),
        "fee_recipient": str(recipient),
        "orders": {"sell 2021": listings[vcs_2021].hash, "sell 2020": listings[vcs_2020].hash, "bid": bid.hash},
        "no_match_2020": no_match,
        "vintage_refusal": vintage_refusal,
        "matched": [pair.units for pair, _ in matched],
        "bought": sum(t.units for t in takes),
        "retired": done.take.units,
        "certificate": done.certificate_id,
        "moves": {"match": match_moves, "buy": buy_moves, "buy and retire": retire_moves},
        "tools_refusal": tools_refusal,
        "refusal": refusal,
        "book": book,
        "trades": len(trades),
        "fees": fees,
        "gas": gas.steps,
    }


def _approvals(gas: Ledger, m, receipts: dict[str, Any]) -> None:
    """The approvals a trade function sent first, in the gas table."""
    names = {"operator": "setApprovalForAll (exchange)", "allowance": f"approve {m.symbol} (exchange)"}
    for name, receipt in receipts.items():
        gas.add(names[name], receipt)


def _deployed(ctx: DemoContext) -> Deployed:
    suite = ctx.deployed.suite
    return Deployed(record=ctx.deployed.record, registry=suite.registry, credit=suite.credit,
                    retirement=suite.retirement)  # fmt: skip


def _tools_refusal(action, wrong: str) -> str:
    """The line the tools refuse ``action`` with (``InputError``, nothing sent); ``wrong`` if they do not refuse."""
    try:
        action()
    except InputError as exc:
        return str(exc)
    raise AssertionError(wrong)


def _indented(echo):
    return lambda line: echo(f"      {line}")


def _hash(h: str) -> str:
    return f"{h[:10]}..{h[-4:]}"


def _signature(m, db: str, key: str) -> bytes:
    """An order's signature as the book keeps it."""
    from tonne.market.tools import open_book, order_of_json

    book = open_book(m, None, db)
    try:
        return order_of_json(book.get(key))[1]
    finally:
        book.close()


def _balances(m, people: dict[str, Any], ids: tuple[int, ...]) -> dict[tuple[str, str], int]:
    out = {}
    for role, account in people.items():
        for token_id in ids:
            out[(role, describe(token_id))] = int(m.credit.balanceOf(account.address, token_id))
        out[(role, m.symbol)] = int(m.payment.balanceOf(account.address))
    return out


def _echo_moves(echo, m, people, ids, before) -> dict[str, int]:
    """Print what moved since ``before`` (credits in tonnes, the payment token in its units); returns the moves."""
    after = _balances(m, people, ids)
    moves, parts = {}, []
    for (role, what), now in after.items():
        delta = now - before[(role, what)]
        if not delta:
            continue
        moves[f"{role} {what}"] = delta
        sign = "+" if delta > 0 else "-"
        amount = m.money(abs(delta)) if what == m.symbol else f"{format_tonnes(abs(delta))} of {what}"
        parts.append(f"{role} {short(people[role])} {sign}{amount}")
    echo("      moved: " + "; ".join(parts))
    return moves
