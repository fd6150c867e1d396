"""An alert: what a rule (``tonne.supervise.rules``) or the reconciliation (``tonne.supervise.reconcile``) found,
with its evidence, as one JSON line or one table row."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

SEVERITIES = ("info", "warning", "critical")


@dataclass(frozen=True)
class Alert:
    """``rule``: the rule's name (``conservation``, ``wash-trade``, ...); ``key``: what makes this alert itself
    (the same finding in a later run has the same key, so ``watch`` prints it once); ``at``: the block timestamp of
    the newest evidence; ``evidence``: transaction hashes (``txs``), accounts, ids and amounts."""

    rule: str
    severity: str
    key: str
    message: str
    at: int
    chain_id: int
    evidence: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"alert severity {self.severity!r}: one of {', '.join(SEVERITIES)}")

    def json_line(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"), default=str)
