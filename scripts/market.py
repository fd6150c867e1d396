"""Trade credits on the CreditExchange: signed orders in an order book, settled on-chain (see docs/market.md).

    ape run market sell P3/B1 10.5 --price 12.5 --account seller          # 10.5 t at 12.5 tUSD a tonne
    ape run market sell P3/B1 100 --price 12 --min-fill 5 --expiry +7d --book http://127.0.0.1:8645
    ape run market bid P3/B1 20 --price 13 --account buyer                 # a bid for one id
    ape run market bid any 50 --price 11 --project 3 --vintage-from 2021 --country BR --account buyer
    ape run market book P3/B1                                              # both sides, best price first
    ape run market book any --side buy --standard VCS --vintage-to 2022
    ape run market buy P3/B1 15 --max-price 12.75 --account buyer         # take the best offers
    ape run market buy-and-retire P3/B1 5 --max-price 12 --name "Acme GmbH" --reason "Scope 1 FY2025" \
        --jurisdiction DE --period 2025 --account buyer                    # fillAndRetire: one certificate
    ape run market match P3/B1 --account keeper                           # settle crossing sell and buy orders
    ape run market cancel 0x5f1c...e2 --account seller                     # one order (by its hash)
    ape run market cancel-all --account seller                             # every order signed so far
    ape run market trades --id P3/B1
    ape run market export --day 2026-12-03 --out exports/                  # orders-<day>.csv, trades-<day>.csv
    ape run market serve --port 8645                                       # the book service, SQLite file
    ape run market serve --database postgresql+psycopg://book@db/book      # on PostgreSQL

Amounts are in tonnes (1 t = 1000 kg units, at most 3 decimals); prices are per tonne in the payment token
(tUSD on a local chain, `config.market.paymentToken` of the deployment record). Numbers are plain decimals with
'.' as the point: `1,5`, `1e3`, `1_000` and other scripts' digits are refused, never reinterpreted. Orders go to
the local SQLite book (deployments/market-book-<chainId>.sqlite, or --db FILE) unless --book URL names a book
service. Every command checks its inputs, and the exchange's `fillable`, before sending anything: a refusal sends
nothing.
"""

from functools import partial

import click
from ape.cli import ConnectedProviderCommand, account_option

from tonne.core.clihelp import connect_deployment, run_action, whole_number_option
from tonne.core.units import format_tonnes
from tonne.market import trade
from tonne.market.orders import BUY, SELL
from tonne.market.tools import (
    DEFAULT_EXPIRY,
    InputError,
    describe_criteria,
    describe_order,
    describe_trade,
    parse_credit_id,
    parse_criteria,
    parse_day,
    parse_hash,
    parse_price_per_tonne,
    parse_tonnes,
)

_run = partial(run_action, known=(InputError,))


def _market(provider):
    from tonne.market.tools import connect_market

    return connect_deployment(provider, connect_market)


def book_options(func):
    func = click.option("--db", default=None, metavar="FILE", help="The local SQLite book [default: deployments/"
                        "market-book-<chainId>.sqlite].")(func)  # fmt: skip
    return click.option("--book", "book_url", default=None, metavar="URL",
                        help="A book service (ape run market serve), e.g. http://127.0.0.1:8645.")(func)  # fmt: skip


def criteria_options(func):
    for decl, text in reversed(
        [
            ("--project", "Project number (e.g. 3)."),
            ("--standard", "Registry standard code (e.g. VCS)."),
            ("--vintage-from", "First vintage year, e.g. 2021 (the batch's monitoring period starts in or after)."),
            ("--vintage-to", "Last vintage year, e.g. 2022 (the batch's monitoring period ends in or before)."),
            ("--country", "ISO 3166-1 alpha-2 country of the project (e.g. BR)."),
        ]
    ):
        func = click.option(decl, default=None, help=text)(func)
    return func


def _id_or_any(text: str) -> int | None:
    return None if text == "any" else parse_credit_id(text)


@click.group()
def cli():
    """Credit market: sell, bid, book, buy, buy-and-retire, match, cancel, cancel-all, trades, export, serve."""


def _echo_posted(m, answer: dict, where: str) -> None:
    click.echo(
        f"order {answer['hash']} {answer['state']} in {where}; fillable now {format_tonnes(int(answer['fillable']))}"
    )


def order_options(func):
    func = click.option("--taker", default=None, metavar="ADDRESS", help="Only this account may fill it.")(func)
    func = click.option("--min-fill", default=None, metavar="TONNES", help="Smallest fill, in tonnes.")(func)
    func = click.option("--expiry", default=DEFAULT_EXPIRY, show_default=True,
                        help="+DAYSd, +HOURSh, +MINUTESm (from the chain's time), YYYY-MM-DD (end of that UTC day) "
                        "or unix seconds; the order fills up to and including it.")(func)  # fmt: skip
    return click.option("--price", required=True, help="Price per tonne in the payment token, e.g. 12.5.")(func)


@cli.command(cls=ConnectedProviderCommand)
@account_option()
@click.argument("credit_id", metavar="ID")
@click.argument("tonnes")
@order_options
@book_options
def sell(provider, account, credit_id, tonnes, price, expiry, min_fill, taker, book_url, db):
    """Offer TONNES (t CO2e, e.g. 10.5) of credit ID (P<project>/B<batch>) at --price per tonne: sign a sell order
    and put it in the book. Approves the exchange as your credits' operator first if it is not (one transaction)."""
    m = _market(provider)

    def act():
        token_id = parse_credit_id(credit_id)
        fields = trade.order_fields(m, account, SELL, tonnes, price, expiry, min_fill, taker)
        desk = trade.Desk(book_url, db, click.echo, field=f"TONNES {tonnes}", credit=credit_id)
        return trade.sell(m, account, token_id, fields, desk)

    posted = _run(act)
    answer, where = posted.answer, posted.where
    offered, price_per_unit = int(answer["order"]["amount"]), int(answer["order"]["pricePerUnit"])
    click.echo(f"sell {format_tonnes(offered)} of {credit_id} at {m.per_tonne(price_per_unit)}")
    _echo_posted(m, answer, where)


@cli.command(cls=ConnectedProviderCommand)
@account_option()
@click.argument("credit_id", metavar="ID|any")
@click.argument("tonnes")
@order_options
@criteria_options
@book_options
def bid(provider, account, credit_id, tonnes, price, expiry, min_fill, taker, project, standard, vintage_from,
        vintage_to, country, book_url, db):  # fmt: skip
    """Bid for TONNES (t CO2e) of credit ID at --price per tonne, or, with `any`, of any credit meeting the criteria
    given (--project, --standard, --vintage-from/--vintage-to, --country; none: any credit at all). Signs a buy
    order and puts it in the book; raises your payment-token allowance to the exchange first if it is short."""
    m = _market(provider)

    def act():
        token_id = _id_or_any(credit_id)
        criteria = parse_criteria(project, standard, vintage_from, vintage_to, country)
        trade.check_bid_target(token_id, criteria, credit_id)
        fields = trade.order_fields(m, account, BUY, tonnes, price, expiry, min_fill, taker)
        desk = trade.Desk(book_url, db, click.echo, field=f"TONNES {tonnes} at --price {price}", credit=credit_id)
        return trade.bid(m, account, token_id, criteria, fields, desk)

    posted = _run(act)
    answer, where, order = posted.answer, posted.where, posted.order
    what = credit_id if order.token_id else describe_criteria(order)
    click.echo(f"bid {format_tonnes(order.amount)} of {what} at {m.per_tonne(order.price_per_unit)}")
    _echo_posted(m, answer, where)


@cli.command(cls=ConnectedProviderCommand)
@click.argument("credit_id", metavar="ID|any")
@click.option("--side", type=click.Choice(["sell", "buy", "both"]), default="both", show_default=True)
@whole_number_option("--limit", help="Orders a side, at most.", min=1, max=500, default=50)
@criteria_options
@book_options
def book(provider, credit_id, side, limit, project, standard, vintage_from, vintage_to, country, book_url, db):
    """The book of credit ID (its sell orders, and the bids it meets, criteria bids included), or, with `any`, the
    orders meeting the criteria; best price first; `fillable now` is the exchange's `fillable`, in tonnes."""
    m = _market(provider)

    def act():
        token_id = _id_or_any(credit_id)
        criteria = parse_criteria(project, standard, vintage_from, vintage_to, country)
        sides = (SELL, BUY) if side == "both" else (SELL if side == "sell" else BUY,)
        return trade.read_book(m, token_id, criteria, sides, limit, trade.Desk(book_url, db))

    found = _run(act)
    for s, items in found.items():
        click.echo(trade.book_heading(s, len(items)))
        for item in items:
            click.echo("  " + describe_order(m, item))


@cli.command(cls=ConnectedProviderCommand)
@account_option()
@click.argument("credit_id", metavar="ID")
@click.argument("tonnes")
@click.option("--max-price", required=True, help="The most you pay per tonne, in the payment token, e.g. 12.75.")
@book_options
def buy(provider, account, credit_id, tonnes, max_price, book_url, db):
    """Buy TONNES (t CO2e) of credit ID from the book's sell orders, best price first, at --max-price per tonne at
    most, in one transaction (fillMany). Everything is checked first (what is fillable now, your balance, a dry
    run); if fewer than TONNES are offered within the price, nothing is sent."""
    m = _market(provider)

    def act():
        token_id = parse_credit_id(credit_id)
        wanted = parse_tonnes(tonnes)
        limit = parse_price_per_tonne(max_price, m.decimals, m.symbol, "--max-price")
        desk = trade.Desk(book_url, db, click.echo, field=f"TONNES {tonnes}", credit=credit_id)
        return trade.buy(m, account, token_id, wanted, limit, desk)

    takes, cost, receipt = _run(act)
    for t in takes:
        click.echo(f"  {format_tonnes(t.units)} at {m.per_tonne(t.item.order.price_per_unit)} from "
                   f"{t.item.order.maker} ({t.item.hash})")  # fmt: skip
    total = sum(t.units for t in takes)
    click.echo(f"bought {format_tonnes(total)} of {credit_id} for {m.money(cost)} (tx {receipt.txn_hash})")


@cli.command("buy-and-retire", cls=ConnectedProviderCommand)
@account_option()
@click.argument("credit_id", metavar="ID")
@click.argument("tonnes")
@click.option("--max-price", required=True, help="The most you pay per tonne, in the payment token, e.g. 12.75.")
@click.option("--beneficiary", help="Account the certificate goes to (default: --account).")
@click.option("--name", required=True, help="The beneficiary's name, as the certificate shows it.")
@click.option("--reason", required=True, help='Why, e.g. "Scope 1 emissions FY2025".')
@click.option("--jurisdiction", required=True, help="ISO 3166-1 alpha-2 or ISO 3166-2 code, e.g. DE or US-CA.")
@click.option("--period", required=True, help="Consumption period: YYYY, or YYYY-MM-DD:YYYY-MM-DD.")
@click.option("--reference", help="Idempotency key, used once ever (default: derived from all of the above).")
@book_options
def buy_and_retire(provider, account, credit_id, tonnes, max_price, beneficiary, name, reason, jurisdiction, period,
                   reference, book_url, db):  # fmt: skip
    """Buy TONNES (t CO2e) of credit ID from the one best sell order that has them all at --max-price per tonne at
    most, and retire them in the same transaction (fillAndRetire): the certificate names --name, --reason,
    --jurisdiction and --period, as `ape run retire one` does. Running it twice retires once (the reference, by
    default derived from the request, is used once ever); everything is checked, and dry-run, first."""
    from tonne.retirement.rows import RetirementError, command_request

    m = _market(provider)

    def act():
        token_id = parse_credit_id(credit_id)
        request = command_request(project=None, batches=(), ids=(token_id,), amounts=(tonnes,),
                                  beneficiary=beneficiary, name=name, reason=reason, jurisdiction=jurisdiction,
                                  period=period, reference=reference, sender=str(account.address))  # fmt: skip
        limit = parse_price_per_tonne(max_price, m.decimals, m.symbol, "--max-price")
        retirement = dict(beneficiary=request.beneficiary, beneficiaryName=request.beneficiary_name,
                          reason=request.reason, jurisdiction=request.jurisdiction, periodStart=request.period[0],
                          periodEnd=request.period[1], retirementRef=request.retirement_ref)  # fmt: skip
        desk = trade.Desk(book_url, db, click.echo, field=f"TONNES {tonnes}", credit=credit_id)
        done = trade.buy_and_retire(m, account, token_id, request.units, limit, retirement, desk)
        return request, done

    def message(exc):
        if isinstance(exc, RetirementError):  # the retirement fields' problems, named by this command's options
            return "; ".join(f"{p.field}: {p.message}" for p in exc.problems) + "; nothing was sent"
        return str(exc)

    request, done = run_action(act, known=(InputError, RetirementError), message=message)
    order = done.take.item.order
    click.echo(f"bought {format_tonnes(done.take.units)} of {credit_id} at {m.per_tonne(order.price_per_unit)} from "
               f"{order.maker} ({done.take.item.hash}) for {m.money(done.cost)} and retired them: certificate "
               f"#{done.certificate_id} (reference {request.reference}, tx {done.receipt.txn_hash})")  # fmt: skip


@cli.command(cls=ConnectedProviderCommand)
@account_option()
@click.argument("credit_id", metavar="ID")
@whole_number_option("--max", "max_matches", help="Matches to settle, at most.", min=1, max=100, default=10)
@book_options
def match(provider, account, credit_id, max_matches, book_url, db):
    """Settle crossing sell and buy orders of credit ID (bids for it, criteria bids it meets included), best prices
    first, each at the resting order's price (matchOrders: anyone may call; the caller receives nothing). Each
    match is dry-run first; a refused one is reported and skipped."""
    m = _market(provider)

    def act():
        token_id = parse_credit_id(credit_id)
        return trade.match(m, account, token_id, max_matches, trade.Desk(book_url, db, credit=credit_id))

    for p, receipt in _run(act):
        click.echo(
            f"matched {format_tonnes(p.units)} of {credit_id} at {m.per_tonne(p.price)}: sell {p.sell.hash} "
            f"({p.sell.order.maker}) with buy {p.buy.hash} ({p.buy.order.maker}) (tx {receipt.txn_hash})"
        )


@cli.command(cls=ConnectedProviderCommand)
@account_option()
@click.argument("order_hash", metavar="HASH")
@book_options
def cancel(provider, account, order_hash, book_url, db):
    """Cancel one order of yours, named by its HASH (0x and 64 hex digits, as `book` shows it), on the exchange."""
    m = _market(provider)

    def act():
        return trade.cancel(m, account, parse_hash(order_hash), trade.Desk(book_url, db))

    receipt = _run(act)
    click.echo(f"cancelled {order_hash} (tx {receipt.txn_hash})")


@cli.command("cancel-all", cls=ConnectedProviderCommand)
@account_option()
def cancel_all(provider, account):
    """Cancel every order you signed so far, at once: raises your counter on the exchange (incrementCounter); the
    orders you sign afterwards carry the new counter."""
    m = _market(provider)
    receipt = _run(lambda: trade.cancel_all(m, account))
    click.echo(f"cancelled every order of {account.address}: counter now {m.exchange.counterOf(account.address)} "
               f"(tx {receipt.txn_hash})")  # fmt: skip


@cli.command(cls=ConnectedProviderCommand)
@click.option("--id", "credit_id", default=None, metavar="ID", help="Only trades of this credit id.")
@click.option("--address", default=None, metavar="ADDRESS", help="Only trades this account bought or sold in.")
def trades(provider, credit_id, address):
    """Every trade of the exchange, from its OrderFilled events (a match is one trade), oldest first."""
    m = _market(provider)

    def act():
        from tonne.core.csvinput import parse_address

        token_id = parse_credit_id(credit_id, "--id") if credit_id is not None else None
        who = None
        if address is not None:
            try:
                who = parse_address(address)
            except ValueError as exc:
                raise InputError(f"--address {address!r}: {exc}") from None
        return trade.find_trades(m, token_id, who)

    found = _run(act)
    click.echo(f"{len(found)} trades")
    for t in found:
        click.echo("  " + describe_trade(m, t))


@cli.command(cls=ConnectedProviderCommand)
@click.option("--day", required=True, help="The UTC day, YYYY-MM-DD.")
@click.option("--out", "directory", default=".", show_default=True, type=click.Path(file_okay=False),
              help="Directory the two CSV files are written to.")  # fmt: skip
@book_options
def export(provider, day, directory, book_url, db):
    """Write the orders first seen on one UTC day (from the book) and the trades mined that day (from the
    exchange's events) as orders-<day>.csv and trades-<day>.csv."""
    m = _market(provider)

    def act():
        return trade.export_day(m, parse_day(day), directory, trade.Desk(book_url, db))

    orders_path, n_orders, trades_path, n_trades = _run(act)
    click.echo(f"{n_orders} orders -> {orders_path}")
    click.echo(f"{n_trades} trades -> {trades_path}")


@cli.command(cls=ConnectedProviderCommand)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@whole_number_option("--port", help="TCP port (0: a free one).", min=0, max=65535, default=8645)
@click.option("--db", default=None, metavar="FILE", help="SQLite file [default: deployments/market-book-<chainId>"
              ".sqlite].")  # fmt: skip
@click.option("--database", default=None, metavar="URL", help="A database URL instead, e.g. "
              "postgresql+psycopg://user@host/book.")  # fmt: skip
@whole_number_option("--confirmations", help="Blocks an event waits before the book applies it.", max=1000,
                     default=2)  # fmt: skip
@click.option("--poll", type=click.FloatRange(0.05, 3600), default=2.0, show_default=True,
              help="Seconds between polls of the chain.")  # fmt: skip
def serve(provider, host, port, db, database, confirmations, poll):
    """Run the order book service (HTTP JSON API: POST /orders, GET /orders, /orders/<hash>, /changes, /export,
    /health) until interrupted, following the exchange's events from its deployment block."""
    m = _market(provider)

    def act():
        trade.serve(m, provider, host=host, port=port, db=db, database=database, confirmations=confirmations,
                    poll=poll, echo=click.echo)  # fmt: skip

    _run(act)


from tonne.core.clihelp import add_examples  # noqa: E402 - after the commands it describes

add_examples(cli, __doc__, "market")
