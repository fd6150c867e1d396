"""``supervise watch``'s dedupe (tonne/supervise/monitor.py): a finding is printed once while it lasts, and again
when it comes back after it went away (SUPERVISE-AUDIT-11)."""

from __future__ import annotations

from tonne.supervise.alerts import Alert
from tonne.supervise.monitor import Monitor


def _alert(key: str) -> Alert:
    return Alert("near-liquidation", "critical", key, "a position below 1.0", 1, 31337, {"txs": []})


def test_new__a_lasting_finding_once__a_returning_one_again():
    monitor = Monitor(store=None, indexers=[])
    a, b = _alert("near-liquidation:1"), _alert("near-liquidation:2")
    assert monitor.new([a]) == [a]
    assert monitor.new([a, b]) == [b]  # a lasts: not again
    assert monitor.new([b]) == []  # a recovered
    assert monitor.new([a, b]) == [a]  # a fell again: printed again
