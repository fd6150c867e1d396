"""Pieces the chain passes of the bulk tools (issue, retire) share: registry status names, the batch view type,
reading a view result that must not revert, and the wording of problems that several lines share."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tonne.chain.view import Reverted

STATUS_NAMES = ("None", "Pending", "Approved", "Suspended", "Terminated")
APPROVED = 2
BATCH_VIEW = "(uint64,uint64,uint64,uint40,uint40,bool,address,uint64,string,string)"


def view_value(result: Any, what: str) -> Any:
    """``result`` of a view call that a Tonne deployment never reverts; raises naming ``what`` if it did."""
    if isinstance(result, Reverted):
        raise RuntimeError(f"the view call {what} reverted unexpectedly ({result.error}); is this a Tonne deployment?")
    return result


def status_name(status: int) -> str:
    return STATUS_NAMES[status] if status < len(STATUS_NAMES) else str(status)


def unknown_project(project: Any) -> str:
    """The problem of a project reference (``tonne.core.csvinput.ProjectRef``) the registry does not know."""
    if project.project_id is not None:
        return f"project {project.project_id} does not exist"
    return f"no project {project.external_id!r} of standard {project.standard!r} is registered"


def other_lines(lines: Sequence[int | None], shown: int = 10) -> str:
    """`` [N rows: lines a, b, ...]`` when a problem affects several lines (command-line requests have none)."""
    numbers = [n for n in lines if n is not None]
    if len(numbers) < 2:
        return ""
    listed = ", ".join(str(n) for n in numbers[:shown]) + (", ..." if len(numbers) > shown else "")
    return f" [{len(numbers)} rows: lines {listed}]"
