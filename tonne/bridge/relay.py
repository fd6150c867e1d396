"""The relayer: deliver every attested message exactly once, whatever happens to the relayer.

Exactly-once comes from the chain: the gateway marks a message id processed and refuses it ever after. The
relayer's job is to never lose a message and to waste little: it keeps, in the shared store,
- ``deliveries``: message ids known processed on the destination (by this relayer or anyone else);
- ``pending_txs``: a write-ahead note of each delivery sent and not yet seen mined, settled on restart;
- a cursor per route: the highest nonce below which everything is delivered (progress, and a scan bound).
Kill it at any moment and run it again: a delivery that was mined is found processed and recorded; one that was
not is sent again; one that someone else made first is refused on-chain with GatewayMessageAlreadyProcessed,
which the relayer counts as done once ``isProcessed`` says so (a recipient's hook can revert with those very
bytes for a message that is not processed). Revert data that does not decode (anyone's contract can revert with
a known selector and no arguments) leaves that message waiting ("undecodable refusal 0x..."). Any other refusal
(rate limit, pause, recipient not allowed, too few attestations) leaves the message waiting, and it is retried on
the next pass.

With ``batch`` above 1 the relayer delivers up to ``batch`` messages per transaction (the gateway's
``deliverBatch``): it first simulates the batch (``eth_call``), whose outcomes say which messages would be
skipped and why, sends only the deliverable ones, and reads the outcome of each from the receipt's
MessageDelivered / MessageSkipped events. The write-ahead note holds one row per message of the batch, all with
the batch's transaction hash; on restart each row is settled from that receipt's events (a message that the
batch skipped is not taken for delivered). A message the batch cannot deliver within its gas per message
(BridgeDeliveryGasTooLow, or a delivery that ran out of gas) is delivered alone with ``deliver``.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_abi.exceptions import DecodingError
from eth_utils import keccak
from web3.exceptions import ContractCustomError, ContractLogicError, TransactionNotFound

from tonne.bridge.deploy import BridgePair, Side
from tonne.bridge.errors import describe_revert
from tonne.bridge.messages import ordered
from tonne.bridge.store import Store, StoredMessage

ALREADY = "GatewayMessageAlreadyProcessed"
# Why a message waits whose refusal says "already processed" while the destination says it is not.
FALSE_ALREADY = "claimed already processed, is not"
# Refusals that may only mean "not enough gas inside the batch": such a message is delivered alone.
NEEDS_MORE_GAS = {"BridgeDeliveryGasTooLow", "GatewayRecipientFailed"}
DEFAULT_BATCH = 50
DEFAULT_GAS_PER_MESSAGE = 500_000
MAX_GAS_PER_MESSAGE = (
    1_000_000_000  # a sanity bound for the option; the chains' own block gas limits are checked at start
)
# Outside the item's own call, a batch item costs at most its signature check, digest and bookkeeping.
ITEM_OVERHEAD = 20_000 + 30_000
BATCH_OVERHEAD = 100_000
MESSAGE_TYPE = "(uint256,address,address,address,uint256,bytes)"
BATCH_TYPES = [f"{MESSAGE_TYPE}[]", "bytes[][]", "uint256"]
BATCH_SELECTOR = keccak(text=f"deliverBatch({MESSAGE_TYPE}[],bytes[][],uint256)")[:4]
DELIVERED_TOPIC = keccak(text="MessageDelivered(bytes32,uint256,address,address,address,uint256,address)")
SKIPPED_TOPIC = keccak(text="MessageSkipped(bytes32,uint256,bytes)")


@dataclass
class RouteProgress:
    name: str
    total: int = 0
    delivered: int = 0
    cursor: int = 0  # every nonce up to here is delivered
    waiting: Counter = field(default_factory=Counter)
    lag_seconds: float = 0.0  # age of the oldest undelivered message

    def describe(self) -> str:
        waiting = ", ".join(f"{n} {why}" for why, n in sorted(self.waiting.items())) or "none"
        return (
            f"{self.name}: {self.delivered}/{self.total} delivered (cursor nonce {self.cursor}); "
            f"waiting: {waiting}; lag {self.lag_seconds:.1f} s"
        )


@dataclass
class PassResult:
    sent: int = 0  # deliveries this pass made
    already: int = 0  # found delivered by someone else (or by a previous run)
    routes: list[RouteProgress] = field(default_factory=list)

    @property
    def backlog(self) -> int:
        return sum(r.total - r.delivered for r in self.routes)


class Relayer:
    def __init__(
        self,
        pair: BridgePair,
        store: Store,
        sender: str,
        *,
        log: Callable[[str], None] = lambda _: None,
        on_sent: Callable[[bytes], None] | None = None,
        batch: int = DEFAULT_BATCH,
        gas_per_message: int = DEFAULT_GAS_PER_MESSAGE,
    ):
        if batch < 1:
            raise ValueError(f"batch must be at least 1, got {batch}")
        self.pair = pair
        self.store = store
        self.sender = sender
        self.log = log
        self.on_sent = on_sent  # test hook: called after each delivery is sent, before it is recorded
        self.batch = batch  # 1: one `deliver` transaction per message (the path before batches)
        self.gas_per_message = gas_per_message

    # ------------------------------------------------------------------ one pass

    def settle_pending(self) -> None:
        """Deliveries sent by an earlier run and not recorded: record the mined ones, forget the lost ones."""
        receipts: dict[str, tuple[Side, Any] | None] = {}
        outcomes: dict[str, tuple[set[bytes], dict[bytes, str]]] = {}
        claimed: dict[Side, list[bytes]] = {}
        pending = self.store.pending()
        for message_id, tx_hash in pending.items():
            if tx_hash not in receipts:
                receipts[tx_hash] = None
                for side in (self.pair.home, self.pair.remote):
                    try:
                        receipts[tx_hash] = (side, side.w3.eth.get_transaction_receipt(tx_hash))
                        break
                    except TransactionNotFound:
                        continue
            found = receipts[tx_hash]
            if found is not None and found[1]["status"] == 1:
                side, receipt = found
                # A batch transaction succeeds even when it skipped some of its messages: only those its events
                # name as delivered are; one skipped as already processed is, if the destination says so.
                if tx_hash not in outcomes:
                    outcomes[tx_hash] = self._outcomes(side, receipt)
                delivered, skipped = outcomes[tx_hash]
                mid = bytes.fromhex(message_id[2:])
                if mid in delivered:
                    self.store.mark_delivered(mid, tx_hash)
                elif skipped.get(mid) == ALREADY:
                    claimed.setdefault(side, []).append(mid)
        for side, ids in claimed.items():
            for mid in self._processed(side, ids):
                self.store.mark_delivered(mid, None)
        for message_id in pending:
            self.store.drop_pending(message_id)

    def relay_once(self, limit: int | None = None) -> PassResult:
        self.settle_pending()
        result = PassResult()
        budget = limit
        for destination in (self.pair.remote, self.pair.home):
            source = self.pair.other(destination)
            progress, sent, already = self._route(source, destination, budget)
            result.sent += sent
            result.already += already
            result.routes.append(progress)
            if budget is not None:
                budget -= sent
        return result

    def _route(self, source: Side, destination: Side, budget: int | None) -> tuple[RouteProgress, int, int]:
        name = "home->remote" if source is self.pair.home else "remote->home"
        key = f"relay:{destination.chain_id}"
        cursor = self.store.cursor(key, source.chain_id, 0)
        delivered = self.store.delivered()
        messages = [
            m
            for m in self.store.messages(destination.chain_id, min_nonce=cursor + 1)
            if m.message.source_chain_id == source.chain_id
        ]
        progress = RouteProgress(name, total=cursor + len(messages), delivered=cursor, cursor=cursor)
        gateway = destination.gateway.functions
        threshold = gateway.threshold().call()
        validators: dict[str, bool] = {}
        sent = already = 0
        oldest: float | None = None
        ready: list[tuple[StoredMessage, list[bytes]]] = []
        size = self.batch_size(destination) if messages else 1

        def record(stored: StoredMessage, outcome: str) -> None:
            nonlocal sent, already, oldest
            if outcome == "sent":
                sent += 1
                progress.delivered += 1
            elif outcome == ALREADY:
                already += 1
                progress.delivered += 1
            else:
                progress.waiting[outcome] += 1
                oldest = stored.sent_at if oldest is None else min(oldest, stored.sent_at)

        def flush() -> None:
            if ready:
                for stored, outcome in self._deliver_batch(destination, ready):
                    record(stored, outcome)
                ready.clear()

        for stored in messages:
            if "0x" + stored.id.hex() in delivered:
                progress.delivered += 1
                continue
            if budget is not None and sent + len(ready) >= budget:
                progress.waiting["not yet tried"] += 1
                oldest = stored.sent_at if oldest is None else min(oldest, stored.sent_at)
                continue
            if size == 1:
                record(stored, self._deliver(destination, stored, threshold, validators))
                continue
            signatures = self._signatures(destination, stored, threshold, validators)
            if isinstance(signatures, str):
                record(stored, signatures)
                continue
            ready.append((stored, signatures))
            if len(ready) >= size:
                flush()
        flush()
        # Advance the cursor over the contiguous delivered nonces.
        done = self.store.delivered()
        by_nonce = {m.message.nonce: m for m in messages}
        while cursor + 1 in by_nonce and "0x" + by_nonce[cursor + 1].id.hex() in done:
            cursor += 1
        self.store.set_cursor(key, source.chain_id, cursor)
        progress.cursor = cursor
        if oldest is not None:
            progress.lag_seconds = max(0.0, time.time() - oldest)
        return progress, sent, already

    def _deliver(self, destination: Side, stored: StoredMessage, threshold: int, validators: dict[str, bool]) -> str:
        """Deliver one message: "sent", ALREADY (processed before, by anyone), or why it must wait."""
        gateway = destination.gateway.functions
        signatures = self._signatures(destination, stored, threshold, validators)
        if isinstance(signatures, str):
            return signatures
        call = gateway.deliver(stored.message.as_tuple(), signatures)
        try:
            # Gas estimation runs the delivery first: a refusal comes back here as a custom error, before any
            # transaction is sent.
            tx_hash = call.transact({"from": self.sender})
        except ContractCustomError as exc:
            name = describe_revert(exc.data if isinstance(exc.data, str) else None, f"reverted: {exc}")
            if name == ALREADY:
                # Only the destination's word counts: the recipient's hook may revert with these bytes.
                if not gateway.isProcessed(stored.id).call():
                    return FALSE_ALREADY
                self.store.mark_delivered(stored.id, None)
            return name
        except ContractLogicError as exc:  # a revert without a custom error (no such function, ...)
            return f"reverted: {exc}"
        tx = "0x" + tx_hash.hex().removeprefix("0x")
        self.store.add_pending(stored.id, tx)
        if self.on_sent:
            self.on_sent(stored.id)
        receipt = destination.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=120)
        if receipt["status"] == 1:
            self.store.mark_delivered(stored.id, tx)
            return "sent"
        # Reverted after the estimate passed: someone delivered it in between, or the state moved.
        if gateway.isProcessed(stored.id).call():
            self.store.mark_delivered(stored.id, None)
            return ALREADY
        self.store.drop_pending("0x" + stored.id.hex())
        return "reverted on-chain"

    def _signatures(
        self, destination: Side, stored: StoredMessage, threshold: int, validators: dict[str, bool]
    ) -> list[bytes] | str:
        """The ``threshold`` signatures of current validators to deliver ``stored`` with, sorted by signer; or
        ALREADY / why it must wait."""
        gateway = destination.gateway.functions
        signatures = {}
        for validator, signature in self.store.attestations(stored.id).items():
            if validator not in validators:
                validators[validator] = gateway.isValidator(validator).call()
            if validators[validator]:
                signatures[validator] = signature
        if len(signatures) < threshold:
            if gateway.isProcessed(stored.id).call():  # delivered by someone with other attestations
                self.store.mark_delivered(stored.id, None)
                return ALREADY
            return f"attestations {len(signatures)}/{threshold}"
        return ordered(dict(sorted(signatures.items(), key=lambda kv: int(kv[0], 16))[:threshold]))

    def _outcomes(self, destination: Side, receipt: Any) -> tuple[set[bytes], dict[bytes, str]]:
        """The message ids a receipt's MessageDelivered events name, and the skipped ones with their reasons. The
        id is the first indexed topic of both events: read from the raw logs, no ABI decoding of the receipt."""
        gateway = destination.gateway.address
        delivered: set[bytes] = set()
        skipped: dict[bytes, str] = {}
        for log in receipt["logs"]:
            if log["address"] != gateway or not log["topics"]:
                continue
            topic = bytes(log["topics"][0])
            if topic == DELIVERED_TOPIC:
                delivered.add(bytes(log["topics"][1]))
            elif topic == SKIPPED_TOPIC:
                try:
                    _, reason = abi_decode(["uint256", "bytes"], bytes(log["data"]))
                except DecodingError:
                    reason = bytes(log["data"])
                skipped[bytes(log["topics"][1])] = describe_revert(reason)
        return delivered, skipped

    def _processed(self, destination: Side, ids: list[bytes]) -> set[bytes]:
        """Those of ``ids`` that ``destination``'s gateway has processed: one JSON-RPC batch of ``isProcessed``
        reads when there are several."""
        if not ids:
            return set()
        gateway = destination.gateway.functions
        if len(ids) == 1:
            return set(ids) if gateway.isProcessed(ids[0]).call() else set()
        with destination.w3.batch_requests() as batch:
            for mid in ids:
                batch.add(gateway.isProcessed(mid))
            flags = batch.execute()
        return {mid for mid, flag in zip(ids, flags, strict=True) if flag}

    def _batch_data(self, destination: Side, items: list[tuple[StoredMessage, list[bytes]]]) -> str:
        """The calldata of ``deliverBatch(items)``, encoded with eth_abi directly (web3's contract encoder, with its
        normalisers, cost more CPU than the rest of a batch)."""
        messages = [
            (m.source_chain_id, m.source_gateway, m.sender, m.recipient, m.nonce, m.payload)
            for m in (s.message for s, _ in items)
        ]
        body = abi_encode(BATCH_TYPES, [messages, [list(sig) for _, sig in items], self.gas_per_message])
        return "0x" + (BATCH_SELECTOR + body).hex()

    def batch_gas(self, n: int) -> int:
        """Gas limit of a batch of ``n``: each item's call (exactly gas_per_message), what the gateway keeps back
        to forward it (1/63 more and its reserve) and the item's checks outside it."""
        per_item = self.gas_per_message + self.gas_per_message // 63 + ITEM_OVERHEAD
        return BATCH_OVERHEAD + n * per_item

    def unfit_chains(self) -> list[tuple[str, int]]:
        """The chains (``home``/``remote``, block gas limit) whose blocks cannot hold even one message's delivery at
        ``gas_per_message``: on them nothing could ever be delivered."""
        limits = [(name, side.w3.eth.get_block("latest")["gasLimit"]) for name, side in
                  (("home", self.pair.home), ("remote", self.pair.remote))]  # fmt: skip
        return [(name, limit) for name, limit in limits if self.batch_gas(1) > limit]

    def batch_size(self, destination: Side) -> int:
        """``batch``, or fewer where a batch's gas bound would not fit in the destination's block gas limit."""
        if self.batch == 1:
            return 1
        limit = destination.w3.eth.get_block("latest")["gasLimit"]
        per_item = self.batch_gas(1) - BATCH_OVERHEAD
        return max(1, min(self.batch, (limit - BATCH_OVERHEAD) // per_item))

    def _deliver_batch(
        self, destination: Side, items: list[tuple[StoredMessage, list[bytes]]]
    ) -> list[tuple[StoredMessage, str]]:
        """Deliver ``items`` in one ``deliverBatch``: "sent", ALREADY, or why each must wait."""
        gateway = destination.gateway.functions
        results: dict[bytes, str] = {}
        w3 = destination.w3
        tx: dict[str, Any] = {"from": self.sender, "to": destination.gateway.address, "chainId": destination.chain_id}
        tx["data"] = self._batch_data(destination, items)  # encoded once, for the simulation and the transaction
        try:
            # The simulation: which messages would be skipped, and why.
            (outcomes,) = abi_decode(["bytes[]"], w3.eth.call(tx))
        except (ContractCustomError, ContractLogicError) as exc:  # paused, or the node's gas cap
            data = getattr(exc, "data", None)
            why = describe_revert(data if isinstance(data, str) else None, f"reverted: {exc}")
            return [(stored, why) for stored, _ in items]
        to_send = []
        alone = []
        names = [describe_revert(bytes(outcome)) if outcome else "" for outcome in outcomes]
        claimed = [stored.id for (stored, _), name in zip(items, names, strict=True) if name == ALREADY]
        processed = self._processed(destination, claimed)
        for (stored, signatures), name in zip(items, names, strict=True):
            if not name:
                to_send.append((stored, signatures))
                continue
            if name == ALREADY:
                if stored.id in processed:
                    self.store.mark_delivered(stored.id, None)
                else:
                    name = FALSE_ALREADY
            if name in NEEDS_MORE_GAS:
                alone.append(stored)
            else:
                results[stored.id] = name
        if to_send:
            if len(to_send) != len(items):
                tx["data"] = self._batch_data(destination, to_send)
            # No estimate (a binary search that runs the whole batch a dozen times): a bound that cannot fall
            # short, since each item's call gets exactly gas_per_message.
            tx["gas"] = self.batch_gas(len(to_send))
            tx_hash = w3.eth.send_transaction(tx)
            tx = "0x" + tx_hash.hex().removeprefix("0x")
            self.store.add_pending_many([s.id for s, _ in to_send], tx)
            if self.on_sent:
                for stored, _ in to_send:
                    self.on_sent(stored.id)
            receipt = destination.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=120, poll_latency=0.02)
            if receipt["status"] == 1:
                delivered, skipped = self._outcomes(destination, receipt)
            else:
                delivered, skipped = set(), {}
            done = [s.id for s, _ in to_send if s.id in delivered]
            self.store.mark_delivered_many(done, tx)
            claimed = [s.id for s, _ in to_send if s.id not in delivered and skipped.get(s.id) == ALREADY]
            processed = self._processed(destination, claimed)
            for stored, _ in to_send:
                if stored.id in delivered:
                    results[stored.id] = "sent"
                    continue
                why = skipped.get(stored.id, "reverted on-chain")
                if why == ALREADY and stored.id not in processed:
                    why = FALSE_ALREADY
                if why == ALREADY:
                    self.store.mark_delivered(stored.id, None)
                else:
                    self.store.drop_pending("0x" + stored.id.hex())
                results[stored.id] = why
        threshold = gateway.threshold().call() if alone else 0
        for stored in alone:
            results[stored.id] = self._deliver(destination, stored, threshold, {})
        return [(stored, results[stored.id]) for stored, _ in items]

    # ------------------------------------------------------------------ loop

    def run(self, *, poll: float = 0.5, once: bool = False, until_idle: float | None = None) -> PassResult:
        """Relay until stopped; with ``once``, one pass; with ``until_idle``, stop after that many seconds with
        nothing left to deliver."""
        idle_since: float | None = None
        while True:
            result = self.relay_once()
            for route in result.routes:
                self.log(route.describe())
            if once:
                return result
            if result.backlog == 0:
                idle_since = idle_since or time.monotonic()
                if until_idle is not None and time.monotonic() - idle_since >= until_idle:
                    return result
            else:
                idle_since = None
            if result.sent == 0:
                time.sleep(poll)
