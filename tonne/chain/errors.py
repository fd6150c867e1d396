"""The problems of an input file or command, and the errors the bulk tools raise.

Shared by the issuance and retirement tools: a run that finds any problem before sending raises a ``ToolError``
subclass listing every ``Problem`` as ``file:line: field: message``, and sends nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input: ``file:line: field: message`` (no line for file-wide problems; with
    ``entry``, ``line`` is the place of an entry in a JSON list, ``file:entry N``; no field: ``file: message``)."""

    path: str
    line: int | None
    field: str
    message: str
    entry: bool = False

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{'entry ' * self.entry}{self.line}"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class ToolError(RuntimeError):
    """The input cannot be processed as it is; ``problems`` lists every problem found."""

    def __init__(self, summary: str, problems: Sequence[Problem] = ()) -> None:
        self.summary = summary
        self.problems = list(problems)
        super().__init__(self.report())

    def report(self) -> str:
        return "\n".join([self.summary, *(str(p) for p in self.problems)])


class PendingTransactionsError(ToolError):
    """The sending account still has transactions in the mempool after the timeout."""


class SendFailed(RuntimeError):
    """A transaction could not be sent, was not mined in time, or reverted; ``revert_data`` is the custom error's
    data when the node returned it (a refused gas estimate), else empty. ``retry``: set by the bulk sender
    (``tonne.bulk.send_windowed``) for a nonce clash within its retries, so the tool sends it again even when its
    re-check finds nothing of it done meanwhile."""

    def __init__(self, message: str, revert_data: bytes = b"") -> None:
        super().__init__(message)
        self.revert_data = revert_data
        self.retry = False


def problem_summary(name: str, problems: Sequence[Problem]) -> str:
    count = len(problems)
    return f"{name}: {count} problem{'s' * (count != 1)} found, nothing was sent"
