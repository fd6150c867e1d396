"""The chain pass: read what the chain says about the requests at one block, then check them against it.

Everything a retirement needs is checked before anything is sent: the project is Approved and its credits are not
restricted, the batch exists and belongs to it, each holder holds enough of each batch for all its requests still to
do, the sending account may retire the holder's credits (it is the holder, or the holder approved it on the credit
token), the holder is not frozen and, in permissioned mode, is on the allowlist, and the token is not paused. For
issue-and-retire: the batch is verified, the sending account is an authorised issuer, the cap has room, and the
reference is not already an issuance order reference. Last, every request still to do is simulated (``eth_call``
from the sending account): a revert no check above foresaw is reported too, with the contract's own error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from tonne.chain.checks import (
    APPROVED,
    RegistryState,
    batch_problem,
    other_lines,
    project_label,
    read_registry,
    status_name,
    unknown_project,
    view_value,
)
from tonne.chain.checks import BatchInfo as BatchInfo  # re-exported: the retirement's chain state
from tonne.chain.checks import ProjectInfo as ProjectInfo
from tonne.chain.errors import Problem
from tonne.chain.view import Call, ChainView, Reverted
from tonne.core.ids import describe
from tonne.core.units import format_tonnes
from tonne.retirement.rows import Credit, Request

CERTIFICATE_VIEW = "(address,address,uint256,uint256,uint16,uint8,uint40,uint40,uint40,bytes2)"
ZERO = "0x0000000000000000000000000000000000000000"


VOLUNTARY, COMPLIANCE = 0, 1  # ICarbonRetirement.Purpose
PURPOSE_NAMES = ("voluntary", "compliance")


def certificate_mismatch(
    certificate: Sequence,
    retiring: str,
    beneficiary: str,
    ids: Sequence[int],
    amounts: Sequence[int],
    purpose: int = VOLUNTARY,
    label: str = "this row",
    *,
    jurisdiction: str | None = None,
    period: tuple[int, int] | None = None,
) -> str | None:
    """Why the certificate ``certificate`` (a ``certificate(uint256)`` tuple) is not the retirement of ``amounts`` of
    ``ids`` by ``retiring`` for ``beneficiary`` (zero address: the retiring account) with ``purpose``, or None when
    it is. The certificate stores the first id, the id count and the total, so those are what is compared; and,
    when given, the ``jurisdiction``'s country (its first two letters) and the consumption ``period``."""
    beneficiary = retiring if int(beneficiary, 16) == 0 else beneficiary
    wanted = {
        "retiring account": retiring.lower(),
        "beneficiary": beneficiary.lower(),
        "purpose": PURPOSE_NAMES[purpose],
        "first id": int(ids[0]) if ids else 0,
        "id count": len(ids),
        "total": sum(int(a) for a in amounts),
    }
    if jurisdiction is not None:
        wanted["jurisdiction country"] = jurisdiction[:2].upper()
    if period is not None:
        wanted["period"] = f"{int(period[0])}..{int(period[1])}"
    found_purpose = int(certificate[5])
    found = {
        "retiring account": str(certificate[1]).lower(),
        "beneficiary": str(certificate[0]).lower(),
        "purpose": PURPOSE_NAMES[found_purpose] if found_purpose < len(PURPOSE_NAMES) else str(found_purpose),
        "first id": int(certificate[2]),
        "id count": int(certificate[4]),
        "total": int(certificate[3]),
    }
    if jurisdiction is not None:
        found["jurisdiction country"] = bytes(certificate[9]).decode("ascii", "replace")
    if period is not None:
        found["period"] = f"{int(certificate[7])}..{int(certificate[8])}"
    diffs = [f"{k} {found[k]} ({label}: {wanted[k]})" for k in wanted if found[k] != wanted[k]]
    return "; ".join(diffs) or None


@dataclass(frozen=True)
class Contracts:
    """Addresses of the deployment the requests are retired on."""

    credit: str
    registry: str
    retirement: str


@dataclass
class ChainState(RegistryState):
    """What the chain says about the requests, read at one block (``RegistryState``, with the retirement's own:
    the references used, balances, approvals). Pure data, so the checks are testable."""

    done: dict[bytes, int] = field(default_factory=dict)  # retirementRef -> certificate id, for refs already used
    # retirementRef -> (certificate id, why it is not this row's retirement): the retiring account used the
    # reference for another retirement; nothing is sent for such a row.
    conflicts: dict[bytes, tuple[int, str]] = field(default_factory=dict)
    order_refs_used: set[bytes] = field(default_factory=set)  # issue-and-retire references used as order refs
    balances: dict[tuple[str, int], int] = field(default_factory=dict)  # (holder, token id) -> units
    approved: dict[str, bool] = field(default_factory=dict)  # holder -> has approved the sender


def read_state(requests: Sequence[Request], view: ChainView, contracts: Contracts, sender: str) -> ChainState:
    """Everything the chain pass needs about ``requests``, at the pinned block: the registry round
    (``tonne.chain.checks.read_registry``) with the requests' references, holders and balances riding along."""
    credit, retirement = contracts.credit, contracts.retirement
    state = ChainState(block=view.block if isinstance(view.block, int) else None)
    credits = [c for r in requests for c in r.credits]
    holders = sorted({r.holder_or(sender) for r in requests if not r.issue})
    first = [
        *(
            Call(
                retirement,
                "certificateOfReference(address,bytes32)",
                (r.holder_or(sender), r.retirement_ref),
                ("uint256",),
            )
            for r in requests
        ),
        *(Call(credit, "isFrozen(address)", (h,), ("bool",)) for h in holders),
        *(Call(credit, "isApprovedForAll(address,address)", (h, sender), ("bool",)) for h in holders if h != sender),
    ]
    pairs: list[tuple[str, int]] = []

    def second() -> list[Call]:
        found = sorted({(r.holder_or(sender), state.token_id(c)) for r in requests if not r.issue for c in r.credits})
        pairs.extend((h, t) for h, t in found if t)
        return [
            *(Call(credit, "balanceOf(address,uint256)", (h, t), ("uint256",)) for h, t in pairs),
            *(Call(credit, "isAllowed(address)", (h,), ("bool",)) for h in holders if state.permissioned),
        ]

    results, own = read_registry(
        state,
        view,
        credit,
        contracts.registry,
        sender,
        (c.project for c in credits),
        ((c.project, c.batch) for c in credits),
        first=first,
        second=second,
    )
    used = {}
    for r in requests:
        certificate_id = view_value(next(results), "certificateOfReference")
        if certificate_id:
            used[r.retirement_ref] = (r, certificate_id)
    state.frozen = {h: view_value(next(results), "isFrozen") for h in holders}
    state.approved = {h: h == sender or view_value(next(results), "isApprovedForAll") for h in holders}
    state.balances = {pair: view_value(next(own), "balanceOf") for pair in pairs}
    if state.permissioned:
        state.allowed = {h: view_value(next(own), "isAllowed") for h in holders}
    # Issuance order references are scoped to the project (CarbonCredit.isOrderReferenceUsed(projectId, ref)).
    scoped = sorted(
        {
            (pid, r.retirement_ref)
            for r in requests
            if r.issue
            for c in r.credits
            if (pid := state.project_ids[c.project])
        }
    )
    order_used = view.call_many(
        [Call(credit, "isOrderReferenceUsed(uint64,bytes32)", key, ("bool",)) for key in scoped]
    )
    state.order_refs_used = {
        ref for (_, ref), u in zip(scoped, order_used, strict=True) if view_value(u, "isOrderReferenceUsed")
    }
    if used:
        certificates = view.call_many(
            [Call(retirement, "certificate(uint256)", (cid,), (CERTIFICATE_VIEW,)) for _, cid in used.values()]
        )
        for (ref, (r, cid)), cert in zip(used.items(), certificates, strict=True):
            ids = [state.token_id(c) for c in r.credits] if not isinstance(cert, Reverted) else []
            why = "its certificate cannot be read" if isinstance(cert, Reverted) else None
            why = why or certificate_mismatch(
                cert,
                r.holder_or(sender),
                r.beneficiary,
                ids,
                [c.units for c in r.credits],
                jurisdiction=r.jurisdiction,
                period=r.period,
            )
            if why:
                state.conflicts[ref] = (cid, why)
            else:
                state.done[ref] = cid
    return state


# ---------------------------------------------------------------------------------------------------- checks


def check_against_chain(requests: Sequence[Request], state: ChainState, sender: str, path: str) -> list[Problem]:
    """Problems of the requests still to do, given the chain state. A problem of a project, batch or holder is
    reported once, on the first line it affects, with the other lines it affects."""
    problems: list[Problem] = []
    if state.paused:
        problems.append(
            Problem(path, None, "token", "the credit token is paused by the regulator: nothing can be retired")
        )
    grouped: dict[tuple[str, str], list[int | None]] = {}

    def add(request: Request, column: str, message: str) -> None:
        grouped.setdefault((field_name(request, column), message), []).append(request.line)

    for request in requests:
        _check_request(request, state, sender, add)
    for (column, message), lines in grouped.items():
        problems.append(Problem(path, lines[0], column, message + other_lines(lines)))
    problems.extend(_balance_problems(requests, state, sender, path))
    problems.sort(key=lambda p: p.line or 0)
    return problems


def _check_request(request: Request, state: ChainState, sender: str, add: Callable[[Request, str, str], None]) -> None:
    for credit in request.credits:
        project_id = state.project_ids.get(credit.project, 0)
        info = state.projects.get(project_id) if project_id else None
        if info is None or info.status == 0:
            add(request, "project", unknown_project(credit.project))
            continue
        label = project_label(credit.project, project_id)
        if info.status != APPROVED:
            status = status_name(info.status)
            add(
                request,
                "project",
                f"{label} is {status}: its credits cannot be retired (only the registrar's cancel removes them)",
            )
        elif info.restricted:
            add(request, "project", f"credits of {label} are restricted in the token")
        if request.issue and not info.issuer_ok:
            add(request, "project", f"{sender} is not an authorised issuer of {label} (ISSUER_ROLE + setProjectIssuer)")
        _check_batch(request, credit, project_id, state, add)
    if request.issue:
        if request.retirement_ref in state.order_refs_used:
            add(request, "reference", f"{request.reference!r} is already used as an issuance order reference")
        return
    holder = request.holder_or(sender)
    if not state.approved.get(holder, False):
        add(
            request,
            "holder",
            f"{sender} may not retire credits of {holder}: the holder has not approved it on the credit token "
            "(setApprovalForAll)",
        )
    if state.frozen.get(holder):
        add(request, "holder", f"{holder} is frozen by the regulator")
    if state.permissioned and not state.allowed.get(holder, False):
        add(request, "holder", f"{holder} is not on the allowlist (the token is permissioned)")


def _check_batch(
    request: Request, credit: Credit, project_id: int, state: ChainState, add: Callable[[Request, str, str], None]
) -> None:
    problem = batch_problem(credit.project, credit.batch, project_id, state, verified=request.issue)
    if problem:
        add(request, "batch", problem)


def _balance_problems(requests: Sequence[Request], state: ChainState, sender: str, path: str) -> list[Problem]:
    """Per holder and batch: the requests still to do must fit in the balance (or, to issue, in the cap)."""
    needs: dict[tuple[str, int], list[tuple[Request, int]]] = {}
    for request in requests:
        for credit in request.credits:
            token_id = state.token_id(credit)
            batch = state.batches.get(token_id)
            if batch is None or batch.project_id != state.project_ids.get(credit.project):
                continue
            if request.issue and not batch.verified:
                continue  # reported as unverified; its cap is 0 until it is verified
            key = ("(issue)" if request.issue else request.holder_or(sender), token_id)
            needs.setdefault(key, []).append((request, credit.units))
    problems = []
    for (holder, token_id), items in needs.items():
        batch = state.batches[token_id]
        have = batch.cap - batch.issued if holder == "(issue)" else state.balances.get((holder, token_id), 0)
        total = sum(units for _, units in items)
        if total <= have:
            continue
        running, crossing = 0, items[-1][0]
        for request, units in items:
            running += units
            if running > have:
                crossing = request
                break
        named = items[0][0].credits[0].batch if len(items[0][0].credits) == 1 else "batch"
        if holder == "(issue)":
            what = (
                f"batch {describe(token_id)} has {format_tonnes(have)} left to issue (cap {format_tonnes(batch.cap)}, "
                f"{format_tonnes(batch.issued)} issued)"
            )
        else:
            what = f"{holder} holds {format_tonnes(have)} of batch {describe(token_id)} ({named})"
        message = (
            f"{what}, but the {len(items)} retirement(s) still to do need {format_tonnes(total)}; that is passed here"
        )
        lines = [r.line for r, _ in items]
        problems.append(Problem(path, crossing.line, field_name(crossing, "tonnes"), message + other_lines(lines)))
    return problems


def field_name(request: Request, column: str) -> str:
    """The CSV column, or for a command-line request the option that gave the value."""
    if request.line is not None:
        return column
    return "--" + {"tonnes": "amount"}.get(column, column)
