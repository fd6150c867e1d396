"""The one report format of the bulk tools: every problem as ``file:line: field: message``.

``Problem``, ``ToolError`` and ``problem_summary`` are defined in ``tonne.chain.errors`` (the chain layer raises
them too); this module is where a bulk tool takes them from, with the helpers every tool's report uses.
"""

from __future__ import annotations

from collections.abc import Sequence

from tonne.chain.errors import PendingTransactionsError, Problem, SendFailed, ToolError, problem_summary


def line_ranges(lines: Sequence[int], shown: int = 12) -> str:
    """``2-19, 22, 40-41`` for sorted line numbers (at most ``shown`` ranges, then ``... (N more)``)."""
    ranges: list[list[int]] = []
    for n in sorted(set(lines)):
        if ranges and n == ranges[-1][1] + 1:
            ranges[-1][1] = n
        else:
            ranges.append([n, n])
    parts = [f"{a}" if a == b else f"{a}-{b}" for a, b in ranges]
    rest = len(parts) - shown
    return ", ".join(parts[:shown]) + (f", ... ({rest} more ranges)" if rest > 0 else "")


def raise_problems(path: str, problems: list[Problem], error: type[ToolError]) -> None:
    """Raise ``error`` listing ``problems`` in line order (nothing sent), if there are any."""
    if problems:
        problems.sort(key=lambda p: p.line or 0)
        raise error(problem_summary(path, problems), problems)


__all__ = [
    "PendingTransactionsError",
    "Problem",
    "SendFailed",
    "ToolError",
    "line_ranges",
    "problem_summary",
    "raise_problems",
]
