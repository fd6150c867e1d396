"""The indexer: follows every contract of a deployment record on one chain into the supervision index.

Each poll:
1. reorg check: the block hash at the cursor must still be the chain's; if not, walk back the checkpoints (the hash
   of the end of each range applied) to the newest one the chain still has, and roll the index back to it (the
   events above it deleted, in one transaction);
2. the logs of every followed contract in blocks cursor+1 .. head - confirmations (at most ``max_range`` blocks),
   one ``eth_getLogs`` call for all addresses; the range's end hash and the cursor's hash are read again after the
   logs, and a range during which either changed is left for the next poll (it met a reorganisation);
3. the logs decoded by the record's ABIs (``tonne.supervise.catalog``) and stored, with the cursor moved, in one
   transaction that first checks the cursor is still the one this poll started from.

Killed at any moment, the index holds whole ranges only; started again, it goes on from its cursor, so the database
ends as if it had never stopped. Reads are raw JSON-RPC calls: web3's middleware and formatters cost more than the
decoding.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tonne.supervise.catalog import Catalog
from tonne.supervise.store import Cursor, Event, IndexStore

STALLED_POLLS = 10  # polls in a row that store nothing before catch_up gives up
MAX_LOGS = 20_000  # logs per read: some 40 MB of JSON and decoded events in memory at once


class RpcError(RuntimeError):
    """The node refused a request or is not there."""


@dataclass(frozen=True)
class CallFailed:
    """An ``eth_call`` the node answered with an error (a revert, an unknown id): its message."""

    message: str


class ChainReader:
    """The JSON-RPC reads the indexer makes, over a web3 provider."""

    def __init__(self, provider: Any, where: str = "the node"):
        self.provider = provider
        self.where = where

    def _call(self, method: str, params: list) -> Any:
        try:
            answer = self.provider.make_request(method, params)
        except Exception as exc:  # connection refused, timeout, bad URL: the node is not there
            raise RpcError(f"{self.where}: {method} failed: {_cause(exc)}") from exc
        if not isinstance(answer, dict) or ("error" not in answer and "result" not in answer):
            raise RpcError(f"{self.where}: {method} failed: {NOT_JSON_RPC}: {str(answer)[:80]!r}")
        if "error" in answer:
            raise RpcError(f"{self.where}: {method}: {answer['error']}")
        return answer["result"]

    def chain_id(self) -> int:
        answer = self._call("eth_chainId", [])
        try:
            return int(answer, 16)
        except (TypeError, ValueError):
            raise RpcError(f"{self.where}: eth_chainId failed: {NOT_JSON_RPC}: chain id {answer!r}") from None

    def code(self, address: str) -> str:
        """The code at ``address`` at the head (hex; "0x" for none)."""
        return self._call("eth_getCode", [address, "latest"])

    def head(self) -> int:
        return int(self._call("eth_blockNumber", []), 16)

    def block(self, number: int) -> dict | None:
        return self._call("eth_getBlockByNumber", [hex(number), False])

    def block_hash(self, number: int) -> str | None:
        block = self.block(number)
        return block["hash"].lower() if block else None

    def block_hashes(self, numbers: list[int]) -> dict[int, str | None]:
        """The hash of each block, in one JSON-RPC batch (None: no such block)."""
        answers = self._batch([("eth_getBlockByNumber", [hex(n), False]) for n in numbers]) if numbers else []
        out: dict[int, str | None] = {}
        for number, answer in zip(numbers, answers, strict=True):
            block = answer.get("result") if "error" not in answer else None
            out[number] = block["hash"].lower() if block else None
        return out

    def logs(self, addresses: list[str], first: int, last: int) -> list[dict]:
        query = {"address": addresses, "fromBlock": hex(first), "toBlock": hex(last)}
        return [log for log in self._call("eth_getLogs", [query]) if not log.get("removed")]

    def calls(self, requests: list[tuple[str, str]], block: int, batch: int = 500) -> list[str | CallFailed]:
        """``eth_call`` of each (address, calldata) at block ``block``, in JSON-RPC batches of ``batch`` when the
        provider sends batches (one call each otherwise): the result's hex, or ``CallFailed`` for a call the node
        answered with an error (a revert). A node that does not answer at all raises ``RpcError``."""
        out: list[str | CallFailed] = []
        at = hex(block)
        for start in range(0, len(requests), batch):
            chunk = [("eth_call", [{"to": to, "data": data}, at]) for to, data in requests[start : start + batch]]
            answers = self._batch(chunk)
            for answer in answers:
                if "error" in answer:
                    out.append(CallFailed(str(answer["error"].get("message", answer["error"]))))
                else:
                    out.append(answer["result"])
        return out

    def _batch(self, requests: list[tuple[str, list]]) -> list[dict]:
        if not hasattr(self.provider, "make_batch_request"):
            return [self._answer(method, params) for method, params in requests]
        try:
            answers = self.provider.make_batch_request(requests)
        except Exception as exc:
            raise RpcError(
                f"{self.where}: a batch of {len(requests)} calls failed: {type(exc).__name__}: {exc}"
            ) from exc
        if not isinstance(answers, list) or len(answers) != len(requests):
            raise RpcError(f"{self.where}: a batch of {len(requests)} calls: {answers}")
        return answers

    def _answer(self, method: str, params: list) -> dict:
        try:
            return self.provider.make_request(method, params)
        except Exception as exc:
            raise RpcError(f"{self.where}: {method} failed: {type(exc).__name__}: {exc}") from exc


NOT_JSON_RPC = "the answer is not JSON-RPC (a web page or another service at this URL?)"


def _cause(exc: Exception) -> str:
    """The root of a connection error in a few words (requests nests the socket's error three levels down)."""
    if isinstance(exc, json.JSONDecodeError):  # an HTML page, a proxy's error page: something else answers
        return NOT_JSON_RPC
    text = str(exc)
    for words in ("Connection refused", "timed out", "Name or service not known", "No route to host"):
        if words in text:
            return words.lower()
    return f"{type(exc).__name__}: {text[:200]}"


@dataclass
class PollResult:
    head: int = 0
    cursor: int | None = None
    events: int = 0
    applied_to: int | None = None
    reorg_from: int | None = None
    reorg_to: int | None = None
    removed: int = 0
    skipped: str = ""


class Indexer:
    def __init__(
        self,
        store: IndexStore,
        reader: ChainReader,
        catalog: Catalog,
        *,
        confirmations: int = 0,
        max_range: int = 1000,
    ):
        self.store = store
        self.reader = reader
        self.catalog = catalog
        self.chain_id = catalog.chain_id
        self.confirmations = confirmations
        self.max_range = max_range
        # blocks per read: from 100 (a dense chain is not read whole at first), halved when a read brings more than
        # MAX_LOGS logs, doubled (up to max_range) when it brings fewer than a quarter of that
        self.span = min(max_range, 100)
        self._stamps: dict[str, int] = {}
        self._checksummed = {address.lower(): address for address in catalog.contracts}

    def bind(self) -> None:
        """Check the node is the record's chain, and the database this chain's (``StoreMismatch`` otherwise)."""
        node_chain = self.reader.chain_id()
        if node_chain != self.chain_id:
            raise RpcError(
                f"{self.reader.where} is chain {node_chain}, but the deployment record is of chain {self.chain_id}"
            )
        genesis = self.reader.block_hash(0) or ""
        self.store.bind_source(self.chain_id, genesis, dict(self.catalog.contracts), self.catalog.start_block)

    def poll(self) -> PollResult:
        result = PollResult()
        head = self.reader.head()
        result.head = head
        cursor = self.store.cursor(self.chain_id)
        if cursor is not None and self.reader.block_hash(cursor.block_number) != cursor.block_hash:
            fork = self.fork_point()
            result.reorg_from = cursor.block_number
            result.reorg_to = fork.block_number if fork else self.catalog.start_block - 1
            result.removed = self.store.rewind(self.chain_id, fork)
            cursor = fork
        first = cursor.block_number + 1 if cursor else self.catalog.start_block
        last = min(head - self.confirmations, first + self.span - 1)
        if last >= first:
            end_hash = self.reader.block_hash(last)
            logs = self.reader.logs(self.catalog.addresses, first, last)
            while len(logs) > MAX_LOGS and last > first:  # too many at once for memory: read fewer blocks
                self.span = max(1, (last - first + 1) // 2)
                last = first + self.span - 1
                end_hash = self.reader.block_hash(last)
                logs = self.reader.logs(self.catalog.addresses, first, last)
            if len(logs) < MAX_LOGS // 4:
                self.span = min(self.max_range, self.span * 2)
            stale = self.check_logs(logs, first, last, end_hash)
            end_block = self.reader.block(last)  # again: the range's end must not have changed meanwhile
            unchanged = not stale and end_hash is not None and end_block is not None
            unchanged = unchanged and end_block["hash"].lower() == end_hash
            if unchanged and cursor is not None:
                unchanged = self.reader.block_hash(cursor.block_number) == cursor.block_hash
            if not unchanged:
                result.skipped = f"blocks {first}..{last} changed while their logs were read"
            else:
                found = self.decode(logs)
                end_time = int(end_block["timestamp"], 16)
                if self.store.apply(self.chain_id, found, cursor, last, end_hash, end_time):
                    result.events = len(found)
                    result.applied_to = last
                else:
                    result.skipped = "another indexer moved the cursor"
        moved = self.store.cursor(self.chain_id)
        result.cursor = moved.block_number if moved else None
        return result

    def check_logs(self, logs: list[dict], first: int, last: int, end_hash: str | None) -> bool:
        """Refuse an answer holding a log that was not asked for (SUPERVISE-AUDIT-7): of an address not followed
        or of a block outside ``first..last`` raises (nothing of the range is stored; the next poll asks again).
        True when a log's block hash is not the chain's at that height now: a reorganisation while the logs were
        read (or a node that lies), so the range is left for the next poll."""
        followed = self._checksummed
        wrong = []
        seen: dict[int, set[str]] = {}
        for log in logs:
            number = int(log["blockNumber"], 16)
            if log["address"].lower() not in followed or not first <= number <= last:
                wrong.append(log)
            else:
                seen.setdefault(number, set()).add(log["blockHash"].lower())
        if wrong:
            raise RpcError(
                f"{self.reader.where}: eth_getLogs of blocks {first}..{last} returned {len(wrong)} log(s) not asked "
                "for (another address, or a block outside the range): nothing of the range is stored"
            )
        hashes = self.reader.block_hashes(sorted(n for n in seen if n != last))
        hashes[last] = end_hash
        return any(found != {hashes.get(n)} for n, found in seen.items())

    def catch_up(self, progress: Callable[[PollResult], None] = lambda _: None) -> int:
        """Poll until the cursor reaches the head as it was when called (less the confirmations); events stored."""
        target = self.reader.head() - self.confirmations
        stored = 0
        stalled, before = 0, None
        while True:
            result = self.poll()
            stored += result.events
            progress(result)
            if result.cursor is not None and result.cursor >= target:
                return stored
            if target < self.catalog.start_block:
                return stored
            stalled = stalled + 1 if result.cursor == before else 0  # the cursor moved, by this indexer or another
            before = result.cursor
            if stalled >= STALLED_POLLS:  # a reorg settles in a poll or two; this is a node that keeps changing
                raise RpcError(f"{self.reader.where}: {STALLED_POLLS} polls in a row stored nothing: {result.skipped}")

    def fork_point(self) -> Cursor | None:
        """The newest checkpoint whose hash the chain still has (None: none does; index again from the start)."""
        for point in self.store.checkpoints(self.chain_id):
            if self.reader.block_hash(point.block_number) == point.block_hash:
                return point
        return None

    def _timestamp(self, log: dict) -> int:
        if log.get("blockTimestamp"):
            return int(log["blockTimestamp"], 16)
        block_hash = log["blockHash"].lower()
        if block_hash not in self._stamps:
            block = self.reader._call("eth_getBlockByHash", [block_hash, False])
            self._stamps[block_hash] = int(block["timestamp"], 16) if block else 0
            if len(self._stamps) > 4096:
                self._stamps.clear()
        return self._stamps[block_hash]

    def decode(self, logs: list[dict]) -> list[Event]:
        """The logs of followed contracts as events; a log no ABI of the record describes is stored by its topic."""
        found = []
        for log in logs:
            address = self._checksummed.get(log["address"].lower(), log["address"])
            topics = log["topics"]
            shape = self.catalog.shape(address, topics[0]) if topics else None
            contract = shape.contract if shape else self.catalog.contracts.get(address, address)
            try:
                if shape is None:
                    raise LookupError("no ABI of the record describes it")
                name, args = shape.name, shape.decode(topics, log["data"])
            except Exception as exc:  # a log that does not decode is kept raw, never a stuck index
                name = "unknown"
                args = {"topics": [t.lower() for t in topics], "data": log["data"], "why": str(exc)[:200]}
            found.append(
                Event(
                    chain_id=self.chain_id,
                    block_number=int(log["blockNumber"], 16),
                    block_hash=log["blockHash"].lower(),
                    timestamp=self._timestamp(log),
                    tx_hash=log["transactionHash"].lower(),
                    log_index=int(log["logIndex"], 16),
                    contract=contract,
                    address=address,
                    name=name,
                    args=args,
                )
            )
        return found

    def run(self, stop: threading.Event, interval: float = 2.0, log: Callable[[str], None] = print) -> None:
        """Poll until ``stop`` is set; a failed poll (node down) is reported and retried after ``interval``."""
        while not stop.is_set():
            try:
                result = self.poll()
                if result.reorg_from is not None:
                    log(
                        f"chain {self.chain_id}: reorg: rolled back from block {result.reorg_from} to {result.reorg_to}"
                    )
                if result.applied_to is not None and result.cursor is not None and result.cursor < result.head:
                    continue  # catching up: no wait
            except Exception as error:  # the node or the database is away, or worse: say so, keep going
                log(f"chain {self.chain_id}: {type(error).__name__}: {error}")
            stop.wait(interval)
