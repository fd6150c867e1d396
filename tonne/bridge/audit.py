"""`bridge-audit`: the cross-chain books, per id, from chain data alone.

For every id that ever crossed: home locked = remote supply + remote retired + in flight, where in flight is the
amount of lock messages not yet delivered on the remote chain plus that of burn messages not yet delivered at
home. A return (a transfer whose recipient refused it, sent back to its sender) counts like a transfer in its own
direction: home->remote (a refused burn: still locked, re-minted on delivery) as out, remote->home (a refused
lock: still locked, released on delivery) as back; the refused transfer itself counts as delivered. Every message
from either gateway is listed with its state; messages not sent by the linked bridges ("foreign": anyone may call
a gateway) are listed apart and counted nowhere.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from tonne.bridge.deploy import BridgePair
from tonne.bridge.messages import RULES, Transfer, kind_of
from tonne.bridge.store import Store
from tonne.bridge.watch import sent_messages
from tonne.core.ids import describe
from tonne.core.report import table


@dataclass
class MessageState:
    direction: str
    nonce: int
    message_id: bytes
    transfer: Transfer | None
    delivered: bool
    foreign: bool
    attestations: int | None = None


@dataclass
class IdBooks:
    token_id: int
    locked: int
    remote_supply: int
    remote_retired: int
    in_flight_out: int  # locked at home, not yet minted
    in_flight_back: int  # burned remotely, not yet released

    @property
    def balanced(self) -> bool:
        return self.locked == self.remote_supply + self.remote_retired + self.in_flight_out + self.in_flight_back


@dataclass
class AuditReport:
    ids: list[IdBooks] = field(default_factory=list)
    messages: list[MessageState] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(b.balanced for b in self.ids)

    def render(self) -> str:
        books = table(
            ["id", "home locked", "remote supply", "remote retired", "in flight out", "in flight back", "balanced"],
            [
                [
                    describe(b.token_id),
                    f"{b.locked:,}",
                    f"{b.remote_supply:,}",
                    f"{b.remote_retired:,}",
                    f"{b.in_flight_out:,}",
                    f"{b.in_flight_back:,}",
                    "yes" if b.balanced else "NO",
                ]
                for b in self.ids
            ],
            title="Per id (units; 1,000 units = 1 t): home locked = remote supply + retired + in flight",
        )
        rows = []
        for m in self.messages:
            t = m.transfer
            rows.append(
                [
                    m.direction,
                    m.nonce,
                    "0x" + m.message_id.hex()[:12],
                    describe(t.token_id) if t else "-",
                    f"{t.amount:,}" if t else "-",
                    (t.to[:10] + "...") if t else "-",
                    "foreign" if m.foreign else ("delivered" if m.delivered else "in flight"),
                    "-" if m.attestations is None else m.attestations,
                ]
            )
        messages = table(
            ["direction", "nonce", "message id", "id", "units", "to", "state", "attestations"],
            rows,
            title=f"Messages ({len(self.messages)})",
        )
        verdict = "books balance for every id" if self.ok else "BOOKS DO NOT BALANCE"
        return f"{books}\n\n{messages}\n\n{verdict}"


def audit(pair: BridgePair, store: Store | None = None) -> AuditReport:
    report = AuditReport()
    out: dict[int, int] = defaultdict(int)
    back: dict[int, int] = defaultdict(int)
    ids: set[int] = set()
    for source, direction in ((pair.home, "home->remote"), (pair.remote, "remote->home")):
        destination = pair.other(source)
        for sent in sent_messages(source, source.start_block):
            message = sent.message
            foreign = (
                message.sender != source.bridge.address
                or message.recipient != destination.bridge.address
                or sent.destination_chain_id != destination.chain_id
            )
            try:
                if not foreign and kind_of(message.payload) == RULES:
                    transfer = None  # rules move no credit: listed, outside the books
                else:
                    transfer = Transfer.decode(message.payload)
            except Exception:  # noqa: BLE001 - a foreign message may carry anything
                transfer, foreign = None, True
            delivered = not foreign and destination.gateway.functions.isProcessed(message.id).call()
            attestations = len(store.attestations(message.id)) if store else None
            report.messages.append(
                MessageState(direction, message.nonce, message.id, transfer, delivered, foreign, attestations)
            )
            if foreign or transfer is None:
                continue
            ids.add(transfer.token_id)
            if not delivered:
                (out if source is pair.home else back)[transfer.token_id] += transfer.amount
    mirror = pair.remote.token.functions
    for token_id in sorted(ids):
        report.ids.append(
            IdBooks(
                token_id,
                pair.home.bridge.functions.locked(token_id).call(),
                mirror.totalSupply(token_id).call(),
                mirror.totalRetired(token_id).call(),
                out[token_id],
                back[token_id],
            )
        )
    return report
