"""What the market's command-line tools (scripts/market.py) do: read the inputs (tonnes, prices per tonne, ids,
criteria, expiries) refusing anything ambiguous, sign orders with an ape account, talk to an order book (a book
service by URL, or the local SQLite book through the same checks the service runs), and plan fills and matches
from the exchange's own ``fillable``.

Units at the command line: amounts in tonnes (1 t = 1000 token units, at most 3 decimals), prices per tonne in the
payment token (e.g. ``12.5`` tUSD a tonne); the contract's ``pricePerUnit`` is per kg unit, so a price per tonne
must be a whole number of the token's smallest units per kg (12.5 tUSD/t = 12,500 tUSD micro-units per kg).
"""

from __future__ import annotations

import csv
import io
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from eth_utils import keccak, to_checksum_address

from tonne.core.deployments import DeploymentError, connect, load_contracts, record_path
from tonne.core.ids import encode_id
from tonne.core.units import (
    UNITS_PER_TONNE,
    UnitError,
    format_tonnes,
    parse_amount,
    parse_tonnes_amount,
    units_to_tonnes,
)
from tonne.market.orders import (
    BUY,
    SELL,
    ZERO_ADDRESS,
    ZERO_HASH,
    Domain,
    Limit,
    Order,
    order_hash,
    recover_signer,
    sign_order,
    standard_hash,
    typed_data,
)

_ID = re.compile(r"[0-9]{1,78}", re.ASCII)
_BATCH = re.compile(r"P([0-9]{1,20})/B([0-9]{1,20})", re.ASCII | re.IGNORECASE)
_YEAR = re.compile(r"[0-9]{4}", re.ASCII)
_COUNTRY = re.compile(r"[A-Z]{2}", re.ASCII)
_STANDARD = re.compile(r"[A-Za-z0-9 ._-]{1,32}", re.ASCII)
_RELATIVE = re.compile(r"\+([0-9]{1,6})([dhm])", re.ASCII)
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_HASH = re.compile(r"0x[0-9a-fA-F]{64}", re.ASCII)
DEFAULT_EXPIRY = "+30d"
REASONS = {int(limit): limit.name.lower().replace("_", " ") for limit in Limit}


class InputError(ValueError):
    """A refused input or a refused action, one line (``option: problem``); nothing was sent."""


# ---------------------------------------------------------------------------------------------- inputs


def parse_credit_id(text: str, name: str = "ID") -> int:
    """A credit id: ``P<project>/B<batch>`` or its number, ASCII digits only."""
    match = _BATCH.fullmatch(text)
    if match:
        project, batch = int(match[1]), int(match[2])
        if not (0 < project < 2**64 and 0 < batch < 2**64):
            raise InputError(f"{name} {text!r}: project and batch must be 1 to 2^64-1")
        return encode_id(project, batch)
    if _ID.fullmatch(text) and 0 < int(text) < 2**256:
        return int(text)
    raise InputError(f"{name} {text!r}: not a credit id (P<project>/B<batch>, e.g. P3/B1, or its number)")


def describe_id(token_id: int) -> str:
    return f"P{token_id >> 64}/B{token_id & (2**64 - 1)}" if token_id else "any"


def parse_tonnes(text: str, name: str = "TONNES") -> int:
    """Tonnes (at most 3 decimals) -> token units; above zero."""
    try:
        return parse_tonnes_amount(text)
    except UnitError as exc:
        raise InputError(f"{name} {text!r}: {exc} (tonnes, e.g. 10.5)") from None


def parse_price_per_tonne(text: str, decimals: int, symbol: str, name: str = "--price") -> int:
    """A price per tonne in the payment token (e.g. ``12.5``) -> the contract's price per kg unit, exactly."""
    try:
        per_tonne = parse_amount(text, decimals, symbol, maximum=2**256 - 1)
    except UnitError as exc:
        raise InputError(f"{name} {text!r}: {exc} ({symbol} per tonne, e.g. 12.5)") from None
    per_unit, rest = divmod(per_tonne, UNITS_PER_TONNE)
    if rest:
        step = format_token(UNITS_PER_TONNE, decimals)
        raise InputError(
            f"{name} {text!r}: a price per tonne must be a multiple of {step} {symbol} (the exchange prices per kg, "
            f"in whole smallest units of {symbol})"
        )
    return per_unit


def parse_expiry(text: str, now: int, name: str = "--expiry") -> int:
    """``+30d`` / ``+12h`` / ``+90m`` from the chain's time, ``YYYY-MM-DD`` (the end of that UTC day), or unix
    seconds; after now."""
    match = _RELATIVE.fullmatch(text)
    if match:
        seconds = int(match[1]) * {"d": 86_400, "h": 3_600, "m": 60}[match[2]]
        expiry = now + seconds
    elif _DAY.fullmatch(text):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise InputError(f"{name} {text!r}: not a calendar day") from None
        expiry = int(datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=timezone.utc).timestamp())
    elif _ID.fullmatch(text):
        expiry = int(text)
    else:
        raise InputError(f"{name} {text!r}: expected +DAYSd, +HOURSh, +MINUTESm, YYYY-MM-DD or unix seconds")
    if expiry <= now or expiry >= 2**64:
        raise InputError(f"{name} {text!r}: {expiry} is not after the chain's time {now}")
    return expiry


def parse_year(text: str | None, name: str) -> int:
    if text is None:
        return 0
    if not _YEAR.fullmatch(text) or not 1900 <= int(text) <= 9999:
        raise InputError(f"{name} {text!r}: a calendar year, four digits 0-9 (e.g. 2021)")
    return int(text)


def parse_country(text: str | None) -> bytes:
    if text is None:
        return b"\x00\x00"
    if not _COUNTRY.fullmatch(text):
        raise InputError(f"--country {text!r}: an ISO 3166-1 alpha-2 code, two capital letters A-Z (e.g. BR)")
    return text.encode()


def parse_standard(text: str | None) -> bytes:
    if text is None:
        return ZERO_HASH
    if not _STANDARD.fullmatch(text):
        raise InputError(f"--standard {text!r}: a registry standard code (e.g. VCS), letters, digits, ' ._-'")
    return standard_hash(text)


def parse_project(text: str | None) -> int:
    if text is None:
        return 0
    if not _ID.fullmatch(text) or not 0 < int(text) < 2**64:
        raise InputError(f"--project {text!r}: a project number, digits 0-9, 1 to 2^64-1")
    return int(text)


def parse_hash(text: str) -> str:
    if not _HASH.fullmatch(text):
        raise InputError(f"HASH {text[:80]!r}: an order hash, 0x and 64 hex digits")
    return text.lower()


def parse_day(text: str) -> date:
    try:
        if _DAY.fullmatch(text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise InputError(f"--day {text[:40]!r}: a UTC day, YYYY-MM-DD")


@dataclass(frozen=True)
class Criteria:
    project_id: int = 0
    standard_hash: bytes = ZERO_HASH
    vintage_from: int = 0
    vintage_to: int = 0
    country: bytes = b"\x00\x00"
    standard: str | None = None

    @property
    def any(self) -> bool:
        return bool(
            self.project_id or self.standard_hash != ZERO_HASH or self.vintage_from or self.vintage_to
            or self.country != b"\x00\x00"
        )  # fmt: skip

    def query(self) -> dict[str, str]:
        """The book API's query parameters."""
        out = {}
        if self.project_id:
            out["project"] = str(self.project_id)
        if self.standard_hash != ZERO_HASH:
            out["standard"] = "0x" + self.standard_hash.hex()
        if self.vintage_from:
            out["vintage_from"] = str(self.vintage_from)
        if self.vintage_to:
            out["vintage_to"] = str(self.vintage_to)
        if self.country != b"\x00\x00":
            out["country"] = self.country.decode()
        return out


def parse_criteria(project, standard, vintage_from, vintage_to, country) -> Criteria:
    c = Criteria(
        project_id=parse_project(project),
        standard_hash=parse_standard(standard),
        vintage_from=parse_year(vintage_from, "--vintage-from"),
        vintage_to=parse_year(vintage_to, "--vintage-to"),
        country=parse_country(country),
        standard=standard,
    )
    if c.vintage_from and c.vintage_to and c.vintage_to < c.vintage_from:
        raise InputError(f"--vintage-to {vintage_to}: before --vintage-from {vintage_from}")
    return c


def format_token(amount: int, decimals: int, symbol: str = "") -> str:
    whole, frac = divmod(amount, 10**decimals)
    text = f"{whole:,}"
    if frac:
        text += "." + f"{frac:0{decimals}d}".rstrip("0")
    return f"{text} {symbol}".rstrip()


# ---------------------------------------------------------------------------------------------- the deployment


@dataclass
class Market:
    """The recorded market of the connected chain: the exchange, the suite, and the default payment token."""

    record: dict[str, Any]
    chain_id: int
    exchange: Any
    credit: Any
    registry: Any
    payment: Any
    decimals: int
    symbol: str
    provider: Any
    _payment_tokens: dict[str, tuple[int, str]] = field(default_factory=dict)

    @property
    def domain(self) -> Domain:
        return Domain(self.chain_id, str(self.exchange.address))

    @property
    def start_block(self) -> int:
        return int(self.record["contracts"]["CreditExchange"]["blockNumber"])

    @property
    def abi(self) -> list[dict]:
        return self.record["contracts"]["CreditExchange"]["abi"]

    def money(self, amount: int) -> str:
        return format_token(amount, self.decimals, self.symbol)

    def per_tonne(self, price_per_unit: int) -> str:
        return format_token(price_per_unit * UNITS_PER_TONNE, self.decimals, self.symbol) + "/t"

    def now(self) -> int:
        return int(self.provider.get_block("latest").timestamp)

    def default_book_path(self) -> Path:
        return record_path(self.chain_id).parent / f"market-book-{self.chain_id}.sqlite"


def connect_market(provider: Any) -> Market:
    """The market of the chain behind ``provider`` (deployed with `ape run deploy --market`)."""
    from ape import Contract

    from tonne.pledge.chain import ERC20_ABI

    deployed = connect(provider)
    record = deployed.record
    if "CreditExchange" not in record["contracts"]:
        raise DeploymentError(
            f"the deployment record of chain {provider.chain_id} has no CreditExchange; deploy with "
            "`ape run deploy --market`"
        )
    contracts = load_contracts(record)
    config = record["config"].get("market", {})
    payment = Contract(config["paymentToken"], abi=ERC20_ABI + _MINT_ABI)
    return Market(
        record=record,
        chain_id=int(provider.chain_id),
        exchange=contracts["CreditExchange"],
        credit=deployed.credit,
        registry=deployed.registry,
        payment=payment,
        decimals=int(payment.decimals()),
        symbol=str(payment.symbol()),
        provider=provider,
    )


_MINT_ABI = [
    {
        "type": "function",
        "name": "mint",
        "stateMutability": "nonpayable",
        "inputs": [{"name": "to", "type": "address"}, {"name": "amount", "type": "uint256"}],
        "outputs": [],
    }
]


# ---------------------------------------------------------------------------------------------- signing


def sign_with_account(order: Order, domain: Domain, account: Any) -> bytes:
    """The maker's 65-byte EIP-712 signature by an ape account (a test account's key, or the account's own
    ``sign_message`` of the typed data: keyfile and hardware accounts); checked to recover to the maker."""
    from eth_account.messages import encode_typed_data

    key = getattr(type(account), "private_key", None) is not None and getattr(account, "private_key", None)
    if key:
        signature = sign_order(order, domain, key)
    else:
        signed = account.sign_message(encode_typed_data(full_message=typed_data(order, domain)))
        if signed is None:
            raise InputError(f"--account {account.address}: did not sign the order")
        signature = bytes(signed.encode_rsv())
    if recover_signer(order_hash(order, domain), signature) != order.maker:
        raise InputError(f"--account {account.address}: its signature does not recover to the maker {order.maker}")
    return signature


def new_nonce() -> int:
    return (time.time_ns() << 64) | secrets.randbits(64)


def submission(order: Order, signature: bytes, domain: Domain) -> dict[str, Any]:
    from tonne.market.book.schema import order_to_json

    return {
        "order": order_to_json(order),
        "signature": "0x" + signature.hex(),
        "chainId": str(domain.chain_id),
        "exchange": domain.verifying_contract,
    }


# ---------------------------------------------------------------------------------------------- books


class HttpBook:
    """A book service (``ape run market serve``) by URL."""

    def __init__(self, url: str):
        if not re.fullmatch(r"https?://[^\s/]+(/[^\s]*)?", url, re.ASCII):
            raise InputError(f"--book {url[:80]!r}: a book service URL, e.g. http://127.0.0.1:8645")
        self.url = url.rstrip("/")
        self.where = self.url

    def _answer(self, response) -> dict:
        try:
            body = response.json()
        except ValueError:
            raise InputError(f"--book {self.url}: answered {response.status_code} without JSON") from None
        if response.status_code >= 400:
            error = body.get("error", {}) if isinstance(body, dict) else {}
            where = f"{error.get('field')}: " if error.get("field") else ""
            raise InputError(f"--book {self.url}: refused ({response.status_code} {error.get('code')}): {where}"
                             f"{error.get('message')}")  # fmt: skip
        return body

    def _call(self, method: str, path: str, **kwargs) -> dict:
        import requests

        try:
            response = requests.request(method, self.url + path, timeout=30, **kwargs)
        except requests.RequestException as exc:
            raise InputError(f"--book {self.url}: unreachable ({type(exc).__name__}); start it with "
                             "`ape run market serve`") from None  # fmt: skip
        return self._answer(response)

    def submit(self, body: dict) -> dict:
        return self._call("POST", "/orders", data=json.dumps(body), headers={"Content-Type": "application/json"})

    def side(self, query: dict[str, str]) -> list[dict]:
        return self._call("GET", "/orders", params=query)["orders"]

    def get(self, key: str) -> dict:
        return self._call("GET", f"/orders/{key}")

    def export_orders(self, day: date) -> str:
        import requests

        response = requests.get(self.url + "/export", params={"day": day.isoformat(), "kind": "orders"}, timeout=60)
        if response.status_code != 200:
            self._answer(response)
        return response.text

    def close(self) -> None:
        pass


class LocalBook:
    """The local SQLite book, through the book service's own checks (``BookService``) and brought up to date with
    the chain's events (``Follower``, no confirmations) before each read."""

    def __init__(self, market: Market, db_url: str):
        from tonne.market.book.api import BookService
        from tonne.market.book.chain import Web3ExchangeView
        from tonne.market.book.follow import Follower
        from tonne.market.book.store import BookStore, StoreMismatch

        view = Web3ExchangeView(
            market.provider.web3,
            str(market.exchange.address),
            str(market.registry.address),
            str(market.credit.address),
            chain_id=market.chain_id,
            abi=market.abi,
        )
        self.where = db_url
        try:
            self.store = BookStore(db_url)
            self.service = BookService(self.store, view)
        except StoreMismatch as exc:
            raise InputError(f"--db: {exc}") from None
        except Exception as exc:  # an unreadable file, a database server away
            raise InputError(f"--db {db_url}: cannot open the book ({type(exc).__name__}: {exc})") from None
        self.follower = Follower(self.store, view, start_block=market.start_block, confirmations=0)

    def catch_up(self) -> None:
        while True:
            result = self.follower.poll()
            if result.applied_to is None or result.applied_to >= result.head:
                return

    def _do(self, fn, *args):
        from tonne.market.book.schema import FieldError

        try:
            return fn(*args)
        except FieldError as exc:
            raise InputError(f"book {self.where}: refused ({exc.code}): {exc}") from None

    def submit(self, body: dict) -> dict:
        self.catch_up()
        return self._do(self.service.submit, body)[1]

    def side(self, query: dict[str, str]) -> list[dict]:
        self.catch_up()
        return self._do(self.service.book, query)["orders"]

    def get(self, key: str) -> dict:
        self.catch_up()
        return self._do(self.service.get, key)

    def export_orders(self, day: date) -> str:
        self.catch_up()
        return self.store.export_day(day)[0]

    def close(self) -> None:
        self.store.close()


def sqlite_url(path: str | Path) -> str:
    return f"sqlite:///{Path(path).resolve()}"


def open_book(market: Market, book_url: str | None, db: str | None) -> HttpBook | LocalBook:
    if book_url and db:
        raise InputError("--book / --db: give one (a book service URL, or the local SQLite book's file)")
    if book_url:
        return HttpBook(book_url)
    path = Path(db) if db else market.default_book_path()
    if path.exists() and path.is_dir():
        raise InputError(f"--db {path}: a directory, not a SQLite file")
    return LocalBook(market, sqlite_url(path))


def order_of_json(entry: dict) -> tuple[Order, bytes]:
    """An order and its signature as the book API shows them."""
    from tonne.market.book.schema import parse_submission

    body = {"order": entry["order"], "signature": entry["signature"], "chainId": "0", "exchange": ZERO_ADDRESS}
    sub = parse_submission(body)
    return sub.order, sub.signature


# ---------------------------------------------------------------------------------------------- reading the book


@dataclass
class Listed:
    """An order of the book with what the exchange says of it now."""

    hash: str
    order: Order
    signature: bytes
    state: str
    fillable: int  # units the exchange would fill now (for the id asked about)
    reason: str
    id: int  # the id it would deliver or take (a criteria bid: the id asked about, or 0)


def exchange_fillable(market: Market, order: Order, signature: bytes, token_id: int) -> tuple[int, str]:
    units, reason = market.exchange.fillable(order.as_struct(), signature, token_id)
    return int(units), REASONS.get(int(reason), str(reason))


def listed_side(
    market: Market, book, side: int, token_id: int | None, criteria: Criteria, limit: int = 100
) -> list[Listed]:
    """One side of the book for an id or criteria, best price first, each with the exchange's ``fillable`` now."""
    query = {"side": "sell" if side == SELL else "buy", "limit": str(limit)}
    if token_id is not None:
        query["token_id"] = str(token_id)
    query.update(criteria.query())
    out = []
    for entry in book.side(query):
        order, signature = order_of_json(entry)
        deliver = order.token_id or (token_id or 0)
        if deliver:
            units, reason = exchange_fillable(market, order, signature, deliver)
        else:
            units, reason = int(entry["fillable"]), "criteria bid: fillable is per id (give an ID)"
        out.append(Listed(entry["hash"], order, signature, entry["state"], units, reason, deliver))
    return out


def describe_order(market: Market, item: Listed) -> str:
    o = item.order
    side = "sell" if o.side == SELL else "buy "
    what = describe_id(o.token_id) if o.token_id else "criteria(" + describe_criteria(o) + ")"
    now = f"fillable now {format_tonnes(item.fillable)}"
    if item.fillable == 0 or item.reason not in ("none", "fillable"):
        now += f" ({item.reason})"
    return (
        f"{side} {what} {format_tonnes(o.amount)} at {market.per_tonne(o.price_per_unit)}; {now}; maker {o.maker}; "
        f"expires {_when(o.expiry)}; {item.hash}"
    )


def describe_criteria(o: Order) -> str:
    parts = []
    if o.project_id:
        parts.append(f"project {o.project_id}")
    if o.standard_hash != ZERO_HASH:
        parts.append(f"standard {_standard_name(o.standard_hash)}")
    if o.vintage_from or o.vintage_to:
        parts.append(f"vintage {o.vintage_from or '..'}-{o.vintage_to or '..'}")
    if o.country != b"\x00\x00":
        parts.append(f"country {o.country.decode(errors='replace')}")
    return ", ".join(parts) or "any credit"


def _standard_name(digest: bytes) -> str:
    for code in ("VCS", "GS", "CDM", "ACR", "CAR", "PURO", "ISO", "CCB"):
        if keccak(text=code) == digest:
            return code
    return "0x" + digest.hex()[:8] + ".."


def _when(ts: int) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------------------------- planning fills


@dataclass
class Take:
    item: Listed
    units: int

    @property
    def cost(self) -> int:
        return self.units * self.item.order.price_per_unit


def plan_buy(items: list[Listed], wanted: int, max_price: int, buyer: str) -> tuple[list[Take], int]:
    """Sell orders to take, best first, up to ``wanted`` units at prices per unit up to ``max_price``: each fill at
    least the order's minimum (min(minFill, what is fillable)); orders of the buyer itself, named for another taker,
    or not fillable now are passed over. Returns the takes and the units available within the price."""
    takes: list[Take] = []
    need = wanted
    available = 0
    for item in items:
        o = item.order
        if o.price_per_unit > max_price or item.fillable == 0 or o.maker == buyer:
            continue
        if o.taker != ZERO_ADDRESS and o.taker != buyer:
            continue
        available += item.fillable
        if need == 0:
            continue
        units = min(need, item.fillable)
        if units < min(o.min_fill, item.fillable):
            continue
        takes.append(Take(item, units))
        need -= units
    return takes, available


@dataclass
class Pair:
    sell: Listed
    buy: Listed
    units: int
    price: int  # the resting order's (earlier listedAt; a tie: the sell's)


def plan_matches(sells: list[Listed], buys: list[Listed]) -> list[Pair]:
    """Crossing (sell, buy) pairs of one id's book, best prices first, as ``matchOrders`` would settle them: the
    same payment token, different makers, each order's taker (if named) the other's maker, each fill at least the
    order's minimum; what each pair takes is no longer fillable for the next."""
    left = {id(i): i.fillable for i in sells + buys}
    pairs = []
    for s in sells:
        for b in buys:
            so, bo = s.order, b.order
            if so.price_per_unit > bo.price_per_unit:
                break  # buys are best (highest) first: none below crosses
            if so.payment_token != bo.payment_token or so.maker == bo.maker:
                continue
            if (so.taker not in (ZERO_ADDRESS, bo.maker)) or (bo.taker not in (ZERO_ADDRESS, so.maker)):
                continue
            units = min(left[id(s)], left[id(b)])
            if units == 0 or units < min(so.min_fill, left[id(s)]) or units < min(bo.min_fill, left[id(b)]):
                continue
            price = bo.price_per_unit if bo.listed_at < so.listed_at else so.price_per_unit
            pairs.append(Pair(s, b, units, price))
            left[id(s)] -= units
            left[id(b)] -= units
            if left[id(s)] == 0:
                break
    return pairs


# ---------------------------------------------------------------------------------------------- trades


@dataclass
class Trade:
    block_number: int
    timestamp: int
    tx_hash: str
    log_index: int
    order_hash: str
    side: int  # of the order filled: 0 a sell (the taker bought), 1 a buy (the taker sold)
    maker: str
    taker: str
    token_id: int
    units: int
    price_per_unit: int
    payment_token: str
    fee: int
    matched: bool

    @property
    def seller(self) -> str:
        return self.maker if self.side == SELL else self.taker

    @property
    def buyer(self) -> str:
        return self.taker if self.side == SELL else self.maker


TRADE_COLUMNS = [
    "block_number", "timestamp", "time_utc", "tx_hash", "log_index", "order_hash", "side", "seller", "buyer",
    "token_id", "credit", "units", "tonnes", "price_per_unit", "payment_token", "cost", "fee", "matched",
]  # fmt: skip


def read_trades(market: Market, from_block: int | None = None) -> list[Trade]:
    """Every trade of the exchange, from its events: one per ``OrderFilled``, except that a match (two
    ``OrderFilled``, sell then buy, then ``MatchSettled``) is one trade, its sell order's event."""
    from tonne.market.book.chain import event_shape

    w3 = market.provider.web3
    filled = event_shape(market.abi, "OrderFilled")
    settled = event_shape(market.abi, "MatchSettled")
    answer = w3.provider.make_request(
        "eth_getLogs",
        [
            {
                "address": str(market.exchange.address),
                "fromBlock": hex(market.start_block if from_block is None else from_block),
                "toBlock": "latest",
                "topics": [["0x" + filled.topic.hex(), "0x" + settled.topic.hex()]],
            }
        ],
    )
    if "error" in answer:
        raise InputError(f"eth_getLogs: {answer['error']}")
    from eth_abi import decode

    logs = sorted(answer["result"], key=lambda lg: (int(lg["blockNumber"], 16), int(lg["logIndex"], 16)))
    settles = {
        (lg["transactionHash"], int(lg["logIndex"], 16))
        for lg in logs
        if bytes.fromhex(lg["topics"][0][2:]) == settled.topic
    }
    stamps: dict[int, int] = {}
    trades = []
    for lg in logs:
        if bytes.fromhex(lg["topics"][0][2:]) != filled.topic:
            continue
        index = int(lg["logIndex"], 16)
        tx = lg["transactionHash"]
        values = dict(
            zip(filled.data_names, decode(list(filled.data_types), bytes.fromhex(lg["data"][2:])), strict=True)
        )
        matched = (tx, index + 2) in settles or (tx, index + 1) in settles
        if values["side"] == BUY and (tx, index + 1) in settles:
            continue  # the buy half of a match: the sell half is the trade
        number = int(lg["blockNumber"], 16)
        if number not in stamps:
            stamps[number] = int(w3.eth.get_block(number)["timestamp"])
        trades.append(
            Trade(
                block_number=number,
                timestamp=stamps[number],
                tx_hash=tx if tx.startswith("0x") else "0x" + tx,
                log_index=index,
                order_hash=lg["topics"][1],
                side=int(values["side"]),
                maker=to_checksum_address("0x" + lg["topics"][2][-40:]),
                taker=to_checksum_address("0x" + lg["topics"][3][-40:]),
                token_id=int(values["id"]),
                units=int(values["units"]),
                price_per_unit=int(values["pricePerUnit"]),
                payment_token=to_checksum_address(values["paymentToken"]),
                fee=int(values["fee"]),
                matched=matched,
            )
        )
    return trades


def describe_trade(market: Market, t: Trade) -> str:
    how = "match" if t.matched else ("bought from sell order" if t.side == SELL else "sold into buy order")
    return (
        f"{_when(t.timestamp)} block {t.block_number}: {format_tonnes(t.units)} of {describe_id(t.token_id)} at "
        f"{market.per_tonne(t.price_per_unit)} = {market.money(t.units * t.price_per_unit)} (fee "
        f"{market.money(t.fee)}); seller {t.seller}, buyer {t.buyer}; {how} {t.order_hash}; tx {t.tx_hash}"
    )


def trades_csv(trades: list[Trade]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(TRADE_COLUMNS)
    for t in trades:
        writer.writerow(
            [
                t.block_number, t.timestamp, _when(t.timestamp), t.tx_hash, t.log_index, t.order_hash,
                "sell" if t.side == SELL else "buy", t.seller, t.buyer, t.token_id, describe_id(t.token_id), t.units,
                units_to_tonnes(t.units), t.price_per_unit, t.payment_token,
                t.units * t.price_per_unit, t.fee, "yes" if t.matched else "no",
            ]
        )  # fmt: skip
    return out.getvalue()


def day_bounds(day: date) -> tuple[int, int]:
    start = int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp())
    return start, start + 86_400
