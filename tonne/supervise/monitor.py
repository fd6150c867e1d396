"""``supervise watch``: the index followed, the ledger kept current, the rules run after every change, and each
finding printed once.

The ledger is a fold, so it is kept, not rebuilt: after a poll only the events of the blocks the indexers just
applied are folded in (each chain's cursor only moves by whole blocks). A poll that rolled a reorganisation back
makes the ledger rebuild from the index, since a fold cannot be unwound. An alert is printed when its key was not
among the previous round's findings: a finding that lasts is printed once; one that disappears (a position that
recovers) and comes back (it falls again) is printed again (SUPERVISE-AUDIT-11).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from tonne.supervise.alerts import Alert
from tonne.supervise.config import Config
from tonne.supervise.index import Indexer
from tonne.supervise.ledger import Ledger
from tonne.supervise.rules import evaluate
from tonne.supervise.store import IndexStore


def utc(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def alert_row(alert: Alert) -> list[str]:
    txs = alert.evidence.get("txs") or []
    first = f"{txs[0][:12]}.." if txs else "-"
    more = f" +{len(txs) - 1}" if len(txs) > 1 else ""
    return [utc(alert.at) if alert.at else "-", alert.severity, alert.rule, alert.message, first + more]


ALERT_HEADERS = ["time (UTC)", "severity", "rule", "finding", "evidence"]


@dataclass
class Monitor:
    store: IndexStore
    indexers: list[Indexer]
    config: Config = field(default_factory=Config)
    extra: Callable[[Ledger], list[Alert]] = lambda _ledger: []  # more findings (the reconciliation's)
    ledger: Ledger | None = None
    seen: set[str] = field(default_factory=set)
    folded_to: dict[int, int] = field(default_factory=dict)  # chain id -> last block folded into the ledger
    judged: tuple = ()  # (the time, the blocks folded) the last findings were computed at, and those findings

    def rebuild(self) -> None:
        self.ledger = Ledger.build(self.store.events(), self.store.sources())
        self.judged = ()
        self.folded_to = {}
        for indexer in self.indexers:
            cursor = self.store.cursor(indexer.chain_id)
            self.folded_to[indexer.chain_id] = cursor.block_number if cursor else -1

    def fold_new(self) -> int:
        """Fold in the events of blocks applied since the last fold; the number folded."""
        folded = 0
        for indexer in self.indexers:
            chain_id = indexer.chain_id
            after = self.folded_to.get(chain_id, -1)
            cursor = self.store.cursor(chain_id)
            if cursor is None or cursor.block_number <= after:
                continue
            for event in self.store.events(chain_id=chain_id, from_block=after + 1, to_block=cursor.block_number):
                self.ledger.apply(event)
                folded += 1
            self.folded_to[chain_id] = cursor.block_number
        return folded

    def now(self) -> int:
        """The time the rules measure deadlines and interest at: the newest head block's, as the contracts see
        time (never this machine's clock)."""
        stamps = []
        for indexer in self.indexers:
            block = indexer.reader.block(indexer.reader.head())
            if block:
                stamps.append(int(block["timestamp"], 16))
        return max(stamps, default=self.ledger.last_timestamp if self.ledger else 0) or 0

    def findings(self) -> list[Alert]:
        """The rules' (and ``extra``'s) findings now. The same ledger at the same time gives the same findings (the
        reconciliation reads at the folded blocks), so a round with no new block reuses the last ones."""
        if self.ledger is None:
            self.rebuild()
        now = self.now()
        at = (now, tuple(sorted(self.folded_to.items())))
        if self.judged and self.judged[0] == at:
            return self.judged[1]
        alerts = evaluate(self.ledger, self.config, now) + self.extra(self.ledger)
        self.judged = (at, alerts)
        return alerts

    def step(self) -> list[Alert]:
        """One round: poll every indexer, bring the ledger up to date, and return the findings not seen before."""
        rolled_back = False
        for indexer in self.indexers:
            result = indexer.poll()
            rolled_back |= result.reorg_from is not None
        if self.ledger is None or rolled_back:
            self.rebuild()
        else:
            self.fold_new()
        return self.new(self.findings())

    def new(self, alerts: list[Alert]) -> list[Alert]:
        """The findings not among the previous round's; they become the round to compare the next one with."""
        fresh = [a for a in alerts if a.key not in self.seen]
        self.seen = {a.key for a in alerts}
        return fresh
