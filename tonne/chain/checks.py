"""Pieces the chain passes of the bulk tools (issue, retire) share: registry status names, the batch view type,
reading a view result that must not revert, the wording of problems that several lines share, and the read round
of the credits a file names (``RegistryState``, ``read_registry``: project ids, batch token ids, per project its
status, issuer and restriction, per batch the registry's view, the token's issuanceCap and totalIssued, and the
token's paused and permissioned flags)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from tonne.chain.view import Call, ChainView, Reverted
from tonne.core.ids import describe, encode_id

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


# ---------------------------------------------------------------------------------------------- the registry round


@dataclass(frozen=True)
class ProjectInfo:
    status: int
    issuer_ok: bool  # the sender is an authorised issuer of the project
    restricted: bool  # its credits are restricted in the token


@dataclass(frozen=True)
class BatchInfo:
    project_id: int
    verified: bool
    cap: int
    issued: int

    @property
    def available(self) -> int:
        return self.cap - self.issued


@dataclass
class RegistryState:
    """What the chain says about the credits a file names, read at one block. Pure data, so checks are testable.
    Each tool's ``ChainState`` extends it with what is its own (issuance: used order references; retirement:
    certificates, balances, approvals)."""

    project_ids: dict = field(default_factory=dict)  # ProjectRef -> id (0: unknown)
    projects: dict[int, ProjectInfo] = field(default_factory=dict)
    batch_ids: dict = field(default_factory=dict)  # (project id, BatchRef) -> token id (0: unknown)
    batches: dict[int, BatchInfo] = field(default_factory=dict)
    permissioned: bool = False
    paused: bool = False
    allowed: dict[str, bool] = field(default_factory=dict)
    frozen: dict[str, bool] = field(default_factory=dict)
    block: int | None = None

    def token_id(self, credit: Any) -> int:
        """The token id of anything with a ``project`` and a ``batch`` (a row, a credit), 0 when either is unknown."""
        project_id = self.project_ids.get(credit.project, 0)
        return self.batch_ids.get((project_id, credit.batch), 0) if project_id else 0


def read_registry(
    state: RegistryState,
    view: ChainView,
    credit: str,
    registry: str,
    sender: str,
    projects: Iterable[Any],
    pairs: Iterable[tuple[Any, Any]],
    *,
    first: Sequence[Call] = (),
    second: Callable[[], Sequence[Call]] = lambda: (),
) -> tuple[Iterator[Any], Iterator[Any]]:
    """Fill ``state`` with what the chain says about ``projects`` (``ProjectRef``s) and ``pairs`` ((ProjectRef,
    BatchRef)): two rounds of batched calls at the view's (pinned) block. A tool's own calls ride along: ``first``
    in the first round, ``second()`` (built once the token ids are known) in the second; returns the iterators over
    their results, in order."""
    projects, pairs = set(projects), set(pairs)
    named = sorted({p for p in projects if p.project_id is None}, key=str)
    batch_refs = sorted({b.reference for _, b in pairs if b.reference is not None})
    first_round = [
        *(Call(registry, "projectIdOf(string,string)", (p.standard, p.external_id), ("uint64",)) for p in named),
        *(Call(registry, "batchOfIssuanceReference(string)", (ref,), ("uint256",)) for ref in batch_refs),
        Call(credit, "permissioned()", (), ("bool",)),
        Call(credit, "paused()", (), ("bool",)),
        *first,
    ]
    results = iter(view.call_many(first_round))
    for project in named:
        state.project_ids[project] = view_value(next(results), "projectIdOf")
    for project in projects:
        if project.project_id is not None:
            state.project_ids[project] = project.project_id
    id_of_reference = {ref: view_value(next(results), "batchOfIssuanceReference") for ref in batch_refs}
    state.permissioned = view_value(next(results), "permissioned")
    state.paused = view_value(next(results), "paused")
    first_results = results

    for project, batch in pairs:
        project_id = state.project_ids[project]
        if project_id and batch.number is not None:
            state.batch_ids[(project_id, batch)] = encode_id(project_id, batch.number)
        elif project_id:
            state.batch_ids[(project_id, batch)] = id_of_reference[batch.reference or ""]
    project_ids = sorted({pid for pid in state.project_ids.values() if pid})
    token_ids = sorted({tid for tid in state.batch_ids.values() if tid})
    second_round = [
        *(
            call
            for pid in project_ids
            for call in (
                Call(registry, "projectStatus(uint64)", (pid,), ("uint8",)),
                Call(registry, "isProjectIssuer(uint64,address)", (pid, sender), ("bool",)),
                Call(credit, "isProjectRestricted(uint64)", (pid,), ("bool",)),
            )
        ),
        *(
            call
            for tid in token_ids
            for call in (
                Call(registry, "batch(uint256)", (tid,), (BATCH_VIEW,)),
                Call(credit, "issuanceCap(uint256)", (tid,), ("uint256",)),
                Call(credit, "totalIssued(uint256)", (tid,), ("uint256",)),
            )
        ),
    ]
    own = list(second())
    results = iter(view.call_many([*second_round, *own]))
    for pid in project_ids:
        status, issuer_ok, restricted = (view_value(next(results), "project") for _ in range(3))
        state.projects[pid] = ProjectInfo(status=status, issuer_ok=issuer_ok, restricted=restricted)
    for tid in token_ids:
        batch = next(results)
        cap, issued = view_value(next(results), "issuanceCap"), view_value(next(results), "totalIssued")
        if not isinstance(batch, Reverted):  # registry.batch reverts for unknown ids
            state.batches[tid] = BatchInfo(project_id=batch[0], verified=batch[5], cap=cap, issued=issued)
    return first_results, results


def project_label(project: Any, project_id: int) -> str:
    """``project VCS:VCS-1 (id 1)``, or ``project 7`` for a project named by its id."""
    return f"project {project}" + (f" (id {project_id})" if project.project_id is None else "")


def batch_problem(project: Any, batch_ref: Any, project_id: int, state: RegistryState, *, verified: bool) -> str | None:
    """Why ``batch_ref`` of ``project`` (id ``project_id``, known) cannot be used: unknown, of another project, or
    (``verified``: issuing needs it) not verified yet; None when it can."""
    token_id = state.batch_ids.get((project_id, batch_ref), 0)
    batch = state.batches.get(token_id) if token_id else None
    if batch is None:
        if batch_ref.number is not None:
            return f"project {project} has no batch number {batch_ref.number}"
        return f"no batch has the issuance reference {batch_ref.reference!r}"
    if batch.project_id != project_id:
        return f"{batch_ref} is batch {describe(token_id)} of project {batch.project_id}, not of project {project}"
    if verified and not batch.verified:
        return f"{batch_ref} ({describe(token_id)}) is not verified yet"
    return None
