"""The errors of the compliance tooling: one bad value (``InputError``), a file with problems (``FileError``, a
``ToolError`` like the other bulk tools' errors), or an action the chain would refuse (``ComplianceRefusal``)."""

from __future__ import annotations

from collections.abc import Sequence

from tonne.chain.errors import Problem, ToolError
from tonne.registry.ops import InputError

__all__ = ["ComplianceRefusal", "FileError", "InputError", "Problem", "SendError"]


class FileError(ToolError):
    """An obligations file cannot be used as it is; ``problems`` lists every problem, ``file:line: field: ...``."""


class SendError(ToolError):
    """A transaction of a run failed and the re-check found nothing of it done meanwhile; the summary is the
    contract's refusal, decoded. What was sent before stands."""


class ComplianceRefusal(RuntimeError):
    """The chain would refuse the action; ``reasons`` says every reason found. Nothing was sent."""

    def __init__(self, what: str, reasons: Sequence[str]) -> None:
        self.what = what
        self.reasons = list(reasons)
        super().__init__(self.report())

    def report(self) -> str:
        return "\n".join([f"{self.what}: refused, nothing was sent", *(f"  - {r}" for r in self.reasons)])
