"""The errors an issuance run raises; ``Problem`` and the shared errors live in ``tonne.chain.errors``."""

from __future__ import annotations

from tonne.chain.errors import PendingTransactionsError, Problem, SendFailed, ToolError, problem_summary


class IssuanceError(ToolError):
    """The input cannot be issued as it is; ``problems`` lists every problem found."""


__all__ = ["IssuanceError", "PendingTransactionsError", "Problem", "SendFailed", "ToolError", "problem_summary"]
