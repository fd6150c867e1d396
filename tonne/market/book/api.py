"""The order book's HTTP JSON API (aiohttp), and ``serve``, what ``ape run market serve`` calls.

Routes:
- ``POST /orders``: ``{"order": {...}, "signature": "0x..", "chainId": "..", "exchange": "0x.."}``. The order is
  checked field by field, then its chain and exchange, then its signature (ECDSA for an EOA maker; EIP-1271 through
  the chain for a contract wallet), then the maker's counter, then ``fillable`` on the exchange. 201 with the order
  when new, 200 with the stored order when it was already there (the same order twice is one order).
- ``GET /orders?side=sell|buy&token_id=&project=&standard=&vintage_from=&vintage_to=&country=&limit=&cursor=``:
  one side of the book, best price first (ties: listedAt, then hash); ``nextCursor`` for the next page.
- ``GET /orders/{hash}``: one order, in any state.
- ``GET /changes?since=N&limit=&wait=``: the changes after sequence number N; with ``wait`` (seconds, at most 30)
  a long poll that answers as soon as there is one. ``GET /changes/stream?since=N``: the same as Server-Sent
  Events (``id:`` is the sequence number, so a reconnecting EventSource resumes from ``Last-Event-ID``).
- ``GET /export?day=YYYY-MM-DD&kind=orders|trades``: the day's orders or trades as CSV.
- ``GET /health``: the service's chain, exchange, follower cursor, last sequence number, open orders.

Every error is JSON ``{"error": {"code", "message", "field"}}`` with a 4xx status (a 500 says "internal error" and
nothing more; the trace goes to the service's log, never to the client). Bodies are at most ``MAX_BODY`` bytes,
pages at most ``MAX_PAGE`` orders.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from typing import Any

from aiohttp import web
from eth_utils import to_checksum_address

from tonne.market.book.chain import FILLABLE_REASONS, ExchangeView
from tonne.market.book.follow import Follower, fillable_now
from tonne.market.book.schema import (
    FieldError,
    order_to_json,
    parse_country,
    parse_standard,
    parse_submission,
    parse_uint,
)
from tonne.market.book.store import BookStore, Criteria, order_of
from tonne.market.orders import BUY, SELL, Domain, Order, order_hash, recover_signer

MAX_BODY = 16 * 1024  # an order with a 65-byte signature is under 2 KiB; room for a 2 KiB EIP-1271 signature
MAX_PAGE = 500
DEFAULT_PAGE = 50
MAX_CHANGES = 1000
MAX_WAIT = 30.0
RANK = re.compile(r"[0-9a-f]{162}", re.ASCII)
HASH = re.compile(r"0x[0-9a-fA-F]{64}", re.ASCII)
DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
log = logging.getLogger("tonne.market.book")
NOTIFIER: web.AppKey = web.AppKey("notifier")


def _standing(row: dict) -> dict[str, Any]:
    """What an order row and a change row both say of the order: its state, filled and fillable units, reason."""
    return {
        "state": row["state"],
        "filled": str(row["filled"]),
        "fillable": str(row["fillable"]),
        "reason": row["reason"],
    }


def public(row: dict, order: Order | None = None) -> dict[str, Any]:
    """A stored order as the API shows it: integers as decimal strings. ``order``: the row's Order when the caller
    has it (the one just written from it), instead of rebuilding it from the row."""
    return {
        "hash": row["hash"],
        "order": order_to_json(order if order is not None else order_of(row)),
        "signature": row["signature"],
        **_standing(row),
        "checkedAt": row["checked_at"],
        "firstSeen": row["first_seen"],
        "updated": row["updated"],
    }


def public_change(row: dict) -> dict[str, Any]:
    """A change of the book's feed as the API shows it."""
    return {"seq": row["seq"], "hash": row["order_hash"], "kind": row["kind"], **_standing(row), "at": row["at"]}


class GroupWriter:
    """Group commit: submissions checked in parallel threads are written in one transaction per batch. The first
    thread to find no write under way becomes the writer and drains the queue (up to ``max_batch`` orders a
    transaction); the others wait for their own order's outcome. One transaction per batch instead of per order:
    the write lock (SQLite) or the advisory lock (PostgreSQL) is taken once for many orders."""

    def __init__(self, store: BookStore, max_batch: int = 256):
        self.store = store
        self.max_batch = max_batch
        self.lock = threading.Lock()
        self.pending: list[dict[str, Any]] = []
        self.writing = False

    def add(self, order, key: str, signature: bytes, units: int, reason: int, now: float) -> tuple[dict, bool]:
        item: dict[str, Any] = {"args": (order, key, signature, units, reason), "now": now, "done": threading.Event()}
        with self.lock:
            self.pending.append(item)
            leader = not self.writing
            self.writing = True
        if leader:
            self._drain()
        item["done"].wait()
        if "error" in item:
            raise item["error"]
        return item["result"]

    def _drain(self) -> None:
        while True:
            with self.lock:
                batch = self.pending[: self.max_batch]
                del self.pending[: self.max_batch]
                if not batch:
                    self.writing = False
                    return
            try:
                results = self.store.add_orders([b["args"] for b in batch], now=batch[0]["now"])
                for b, result in zip(batch, results, strict=True):
                    b["result"] = result
            except BaseException as error:  # every order of the batch failed: each submitter is told
                for b in batch:
                    b["error"] = error
            for b in batch:
                b["done"].set()


class BookService:
    """What the routes do, as plain blocking calls (run in a thread pool by the routes; called directly by tests
    and the bench)."""

    def __init__(self, store: BookStore, view: ExchangeView, *, clock: Callable[[], float] = time.time):
        self.store = store
        self.view = view
        self.clock = clock
        self.writer = GroupWriter(store)
        self.exchange = to_checksum_address(view.exchange_address)
        store.bind_service(view.chain_id, self.exchange)
        self.domain = Domain(view.chain_id, self.exchange)

    def submit(self, body: Any) -> tuple[int, dict]:
        sub = parse_submission(body)
        view = self.view
        if sub.chain_id != view.chain_id:
            raise FieldError("chainId", f"{sub.chain_id}: this book serves chain {view.chain_id}", 422, "wrong_chain")
        if sub.exchange != self.exchange:
            raise FieldError(
                "exchange", f"{sub.exchange}: this book serves exchange {self.exchange}", 422, "wrong_exchange"
            )
        order = sub.order
        if order.expiry < int(self.clock()):  # the exchange fills while block.timestamp <= expiry
            raise FieldError("order.expiry", f"{order.expiry} has passed (now {int(self.clock())})", 422, "expired")
        digest = order_hash(order, self.domain)
        key = "0x" + digest.hex()
        known, counter, known_id = self.store.precheck(key, order.maker, order.token_id)
        if known is not None:
            return 200, public(known)
        if recover_signer(digest, sub.signature) != order.maker and not view.is_valid_signature(order, sub.signature):
            shape = "" if len(sub.signature) == 65 else f" ({len(sub.signature)} bytes; an EOA signs 65)"
            raise FieldError(
                "signature",
                f"not the maker's signature of this order{shape}: it does not recover to {order.maker} and the "
                "maker is not a contract wallet that accepts it (EIP-1271)",
                422,
                "bad_signature",
            )
        if order.counter < counter:
            raise FieldError(
                "order.counter", f"{order.counter}: the maker raised its counter to {counter}", 422, "cancelled"
            )
        if not known_id:
            info = view.batch_info(order.token_id)
            if info is None:
                raise FieldError("order.tokenId", f"{order.token_id}: no such batch", 422, "unknown_id")
            self.store.add_id(info)
        units, reason = fillable_now(view, self.store, order, sub.signature)
        if units == 0:
            why = FILLABLE_REASONS.get(reason, f"reason {reason}")
            raise FieldError("order", f"nothing of it can be filled now: {why}", 422, "not_fillable")
        row, created = self.writer.add(order, key, sub.signature, units, reason, self.clock())
        return (201 if created else 200), public(row, order if created else None)

    def book(self, query: dict[str, str]) -> dict[str, Any]:
        allowed = {"side", "token_id", "project", "standard", "vintage_from", "vintage_to", "country"}
        allowed |= {"limit", "cursor"}
        for name in query:
            if name not in allowed:
                raise FieldError(name, f"unknown parameter (expected one of {', '.join(sorted(allowed))})")
        side_text = query.get("side")
        sides = {"sell": SELL, "0": SELL, "buy": BUY, "1": BUY}
        if side_text not in sides:
            raise FieldError("side", f"{side_text!r}: sell or buy" if side_text else "missing: sell or buy")
        side = sides[side_text]
        token_id = parse_uint(query["token_id"], "token_id") if "token_id" in query else None
        criteria = None
        if any(k in query for k in ("project", "standard", "vintage_from", "vintage_to", "country")):
            criteria = Criteria(
                project_id=parse_uint(query["project"], "project", 64) if "project" in query else None,
                standard_hash=parse_standard(query["standard"], "standard") if "standard" in query else None,
                vintage_from=parse_uint(query["vintage_from"], "vintage_from", 16) if "vintage_from" in query else None,
                vintage_to=parse_uint(query["vintage_to"], "vintage_to", 16) if "vintage_to" in query else None,
                country=parse_country(query["country"], "country") if "country" in query else None,
            )
        if token_id is None and criteria is None:
            raise FieldError("token_id", "missing: give a token_id or criteria (project, standard, vintage, country)")
        limit = parse_uint(query.get("limit", str(DEFAULT_PAGE)), "limit", 32)
        if not 1 <= limit <= MAX_PAGE:
            raise FieldError("limit", f"{limit}: 1 to {MAX_PAGE}")
        after = query.get("cursor")
        if after is not None and not RANK.fullmatch(after):
            raise FieldError("cursor", f"{after[:40]!r} is not a cursor this API gave")
        rows = self.store.book(side, token_id=token_id, criteria=criteria, limit=limit, after=after)
        return {
            "side": "sell" if side == SELL else "buy",
            "orders": [public(r) for r in rows],
            "nextCursor": rows[-1]["rank"] if len(rows) == limit else None,
        }

    def get(self, key: str) -> dict[str, Any]:
        if not HASH.fullmatch(key):
            raise FieldError("hash", f"{key[:80]!r} is not an order hash (0x and 64 hex digits)")
        row = self.store.get_order(key.lower())
        if row is None:
            raise FieldError("hash", f"{key}: no such order", 404, "not_found")
        return public(row)

    def changes(self, since: int, limit: int) -> list[dict]:
        return [public_change(r) for r in self.store.changes_since(since, limit)]

    def health(self, follower: Follower | None) -> dict[str, Any]:
        cursor = self.store.cursor(follower.name) if follower else None
        return {
            "ok": True,
            "chainId": str(self.view.chain_id),
            "exchange": self.exchange,
            "cursor": {"block": cursor.block_number, "hash": cursor.block_hash} if cursor else None,
            "lastSeq": self.store.last_seq(),
            "openOrders": self.store.count(),
        }


def error_response(status: int, code: str, message: str, field: str | None = None) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message, "field": field}}, status=status)


@web.middleware
async def json_errors(request: web.Request, handler):
    try:
        return await handler(request)
    except FieldError as error:
        return error_response(error.status, error.code, error.message, error.field)
    except web.HTTPRequestEntityTooLarge:
        return error_response(413, "body_too_large", f"request body too large: at most {MAX_BODY} bytes", "body")
    except web.HTTPException as error:
        if error.status < 400:
            raise
        code = (error.reason or "error").lower().replace(" ", "_")
        return error_response(error.status, code, f"{request.method} {request.path}: {error.reason}")
    except Exception:
        log.exception("internal error in %s %s", request.method, request.path)
        return error_response(500, "internal", "internal error (see the service's log)")


def _reject_constant(name: str):
    raise FieldError("body", f"{name} is not JSON")


class _Notifier:
    """Wakes the long polls and streams of this process when it wrote a change (other processes' writes are seen
    by the waiters' own polling of the store, every ``POLL`` seconds)."""

    POLL = 0.5

    def __init__(self):
        self.loop: asyncio.AbstractEventLoop | None = None
        self.event: asyncio.Event | None = None

    def bind(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.event = asyncio.Event()

    def notify(self) -> None:
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:  # another thread (the follower's): through the loop's self-pipe
            running = None
        if running is loop:  # a route of this loop (a POST just written): no self-pipe write, no thread hop
            self._wake()
        else:
            loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        if self.event is not None:
            self.event.set()
            self.event = asyncio.Event()

    async def wait(self, timeout: float) -> None:
        event = self.event
        if event is None:
            await asyncio.sleep(timeout)
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)


def make_app(service: BookService, follower: Follower | None = None, *, workers: int = 4) -> web.Application:
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="book")
    notifier = _Notifier()
    if follower is not None:
        follower.on_change = notifier.notify

    async def blocking(fn, *args):
        return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)

    async def post_order(request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            text = raw.decode("utf-8")
            body = json.loads(text, parse_constant=_reject_constant)
        except UnicodeDecodeError as error:
            raise FieldError("body", f"not UTF-8 (byte {error.start})") from None
        except json.JSONDecodeError as error:
            raise FieldError(
                "body", f"malformed JSON: {error.msg} at line {error.lineno} column {error.colno}"
            ) from None
        status, answer = await blocking(service.submit, body)
        if status == 201:
            notifier.notify()
        return web.json_response(answer, status=status)

    async def get_orders(request: web.Request) -> web.Response:
        return web.json_response(await blocking(service.book, dict(request.query)))

    async def get_order(request: web.Request) -> web.Response:
        return web.json_response(await blocking(service.get, request.match_info["hash"]))

    def _since(request: web.Request) -> int:
        text = request.query.get("since", request.headers.get("Last-Event-ID", "0"))
        return parse_uint(text, "since", 63)

    def _limit(request: web.Request, default: int) -> int:
        limit = parse_uint(request.query.get("limit", str(default)), "limit", 32)
        if not 1 <= limit <= MAX_CHANGES:
            raise FieldError("limit", f"{limit}: 1 to {MAX_CHANGES}")
        return limit

    async def get_changes(request: web.Request) -> web.Response:
        since, limit = _since(request), _limit(request, 100)
        wait_text = request.query.get("wait", "0")
        wait = parse_uint(wait_text, "wait", 16)
        if wait > MAX_WAIT:
            raise FieldError("wait", f"{wait}: at most {int(MAX_WAIT)} seconds")
        deadline = time.monotonic() + wait
        while True:
            found = await blocking(service.changes, since, limit)
            left = deadline - time.monotonic()
            if found or left <= 0:
                break
            await notifier.wait(min(left, _Notifier.POLL))
        return web.json_response({"changes": found, "next": found[-1]["seq"] if found else since})

    async def stream_changes(request: web.Request) -> web.StreamResponse:
        since = _since(request)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        last_beat = time.monotonic()
        while True:
            found = await blocking(service.changes, since, 500)
            for change in found:
                await response.write(f"id: {change['seq']}\nevent: change\ndata: {json.dumps(change)}\n\n".encode())
                since = change["seq"]
            if not found:
                if time.monotonic() - last_beat > 15:
                    await response.write(b": keep-alive\n\n")
                    last_beat = time.monotonic()
                await notifier.wait(_Notifier.POLL)

    async def export(request: web.Request) -> web.Response:
        text = request.query.get("day", "")
        try:
            day = date.fromisoformat(text) if DAY.fullmatch(text) else None
        except ValueError:
            day = None
        if day is None:
            raise FieldError("day", f"{text[:40]!r} is not a day (YYYY-MM-DD)")
        kind = request.query.get("kind", "orders")
        if kind not in ("orders", "trades"):
            raise FieldError("kind", f"{kind[:40]!r}: orders or trades")
        orders_csv, trades_csv = await blocking(service.store.export_day, day)
        return web.Response(
            text=orders_csv if kind == "orders" else trades_csv,
            content_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{kind}-{day.isoformat()}.csv"'},
        )

    async def health(_request: web.Request) -> web.Response:
        return web.json_response(await blocking(service.health, follower))

    async def on_startup(_app):
        notifier.bind()

    async def on_cleanup(_app):
        pool.shutdown(wait=False, cancel_futures=True)

    app = web.Application(middlewares=[json_errors], client_max_size=MAX_BODY)
    app.router.add_post("/orders", post_order)
    app.router.add_get("/orders", get_orders)
    app.router.add_get("/orders/{hash}", get_order)
    app.router.add_get("/changes", get_changes)
    app.router.add_get("/changes/stream", stream_changes)
    app.router.add_get("/export", export)
    app.router.add_get("/health", health)
    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    app[NOTIFIER] = notifier
    return app


@dataclass
class Running:
    """A book served from a background thread (``start``): its URL, and ``stop()``."""

    url: str
    thread: threading.Thread
    loop: asyncio.AbstractEventLoop
    stopped: threading.Event
    follower_stop: threading.Event | None = None

    def stop(self) -> None:
        if self.follower_stop is not None:
            self.follower_stop.set()
        if not self.stopped.is_set():
            self.loop.call_soon_threadsafe(self.stopped.set)
        self.thread.join(timeout=30)


def start(
    service: BookService,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    follower: Follower | None = None,
    poll_interval: float = 2.0,
) -> Running:
    """Serve the book from a background thread; returns once it listens (port 0: a free port)."""
    ready = threading.Event()
    stopped = threading.Event()
    box: dict[str, Any] = {}

    async def main():
        app = make_app(service, follower)
        runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=2)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        box["url"] = f"http://{host}:{runner.addresses[0][1]}"
        box["loop"] = asyncio.get_running_loop()
        ready.set()
        while not stopped.is_set():
            await asyncio.sleep(0.05)
        await runner.cleanup()

    def thread_main():
        try:
            asyncio.run(main())
        except BaseException as error:  # surfaced to start()'s caller
            box["error"] = error
            ready.set()

    thread = threading.Thread(target=thread_main, name="book-api", daemon=True)
    thread.start()
    ready.wait(30)
    if "error" in box:
        raise RuntimeError(f"the order book did not start on {host}:{port}: {box['error']}") from box["error"]
    follower_stop = None
    if follower is not None:
        follower_stop = threading.Event()
        threading.Thread(
            target=follower.run, args=(follower_stop, poll_interval, log.warning), name="book-follower", daemon=True
        ).start()
    return Running(box["url"], thread, box["loop"], stopped, follower_stop)


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 8545 + 100,
    db_url: str = "sqlite:///market-book.sqlite",
    rpc_url: str,
    exchange: str,
    registry: str,
    credit_token: str,
    start_block: int = 0,
    confirmations: int = 2,
    poll_interval: float = 2.0,
    abi: list[dict] | None = None,
    echo: Callable[[str], None] = print,
) -> None:
    """Run the order book service until interrupted: the HTTP API on ``host:port``, the store at ``db_url``, the
    follower of ``exchange`` (and of ``credit_token``'s transfers; batch data from ``registry``) through
    ``rpc_url``. What ``ape run market serve`` calls."""
    from web3 import HTTPProvider, Web3

    from tonne.market.book.chain import Web3ExchangeView

    w3 = Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": 30}))
    view = Web3ExchangeView(w3, exchange, registry, credit_token, abi=abi)
    store = BookStore(db_url)
    service = BookService(store, view)
    follower = Follower(store, view, start_block=start_block, confirmations=confirmations)
    running = start(service, host, port, follower=follower, poll_interval=poll_interval)
    echo(f"order book of exchange {view.exchange_address} on chain {view.chain_id}: {running.url} (db {db_url})")
    try:
        running.thread.join()
    except KeyboardInterrupt:
        echo("stopping")
    finally:
        running.stop()
        store.close()
