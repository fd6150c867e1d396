"""The relayer: deliver every attested message exactly once, whatever happens to the relayer.

Exactly-once comes from the chain: the gateway marks a message id processed and refuses it ever after. The
relayer's job is to never lose a message and to waste little: it keeps, in the shared store,
- ``deliveries``: message ids known processed on the destination (by this relayer or anyone else);
- ``pending_txs``: a write-ahead note of each delivery sent and not yet seen mined, settled on restart;
- a cursor per route: the highest nonce below which everything is delivered (progress, and a scan bound).
Kill it at any moment and run it again: a delivery that was mined is found processed and recorded; one that was
not is sent again; one that someone else made first is refused on-chain with GatewayMessageAlreadyProcessed,
which the relayer counts as done. Any other refusal (rate limit, pause, recipient not allowed, too few
attestations) leaves the message waiting, and it is retried on the next pass.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from web3.exceptions import ContractCustomError, ContractLogicError, TransactionNotFound

from tonne.bridge.deploy import BridgePair, Side
from tonne.bridge.errors import decode_revert
from tonne.bridge.messages import ordered
from tonne.bridge.store import Store, StoredMessage

ALREADY = "GatewayMessageAlreadyProcessed"


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
    ):
        self.pair = pair
        self.store = store
        self.sender = sender
        self.log = log
        self.on_sent = on_sent  # test hook: called after each delivery is sent, before it is recorded

    # ------------------------------------------------------------------ one pass

    def settle_pending(self) -> None:
        """Deliveries sent by an earlier run and not recorded: record the mined ones, forget the lost ones."""
        for message_id, tx_hash in self.store.pending().items():
            for side in (self.pair.home, self.pair.remote):
                try:
                    receipt = side.w3.eth.get_transaction_receipt(tx_hash)
                except TransactionNotFound:
                    continue
                if receipt["status"] == 1:
                    self.store.mark_delivered(bytes.fromhex(message_id[2:]), tx_hash)
                break
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
        for stored in messages:
            if "0x" + stored.id.hex() in delivered:
                progress.delivered += 1
                continue
            if budget is not None and sent >= budget:
                progress.waiting["not yet tried"] += 1
                oldest = stored.sent_at if oldest is None else min(oldest, stored.sent_at)
                continue
            outcome = self._deliver(destination, stored, threshold, validators)
            if outcome == "sent":
                sent += 1
                progress.delivered += 1
            elif outcome == ALREADY:
                already += 1
                progress.delivered += 1
            else:
                progress.waiting[outcome] += 1
                oldest = stored.sent_at if oldest is None else min(oldest, stored.sent_at)
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
        chosen = dict(sorted(signatures.items(), key=lambda kv: int(kv[0], 16))[:threshold])
        call = gateway.deliver(stored.message.as_tuple(), ordered(chosen))
        try:
            # Gas estimation runs the delivery first: a refusal comes back here as a custom error, before any
            # transaction is sent.
            tx_hash = call.transact({"from": self.sender})
        except ContractCustomError as exc:
            refused = decode_revert(exc.data if isinstance(exc.data, str) else None)
            name = refused[0] if refused else f"reverted: {exc}"
            if name == ALREADY:
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
