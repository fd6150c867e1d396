"""The chain pass: read what the chain says about a file's rows at one block (the registry round is
``tonne.chain.checks.read_registry``, shared with retirement), and the checks of one row against it; the file's
pass, row by row with the batches' running sums, is ``tonne.issuance.stream``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from eth_abi import encode as abi_encode
from eth_utils import keccak

from tonne.chain.checks import (
    APPROVED,
    RegistryState,
    batch_problem,
    project_label,
    read_registry,
    status_name,
    unknown_project,
    view_value,
)
from tonne.chain.checks import BatchInfo as BatchInfo  # re-exported: the issuance's chain state
from tonne.chain.checks import ProjectInfo as ProjectInfo
from tonne.chain.view import Call, ChainView, Reverted, hex_bytes
from tonne.core.units import format_tonnes
from tonne.issuance.errors import Problem
from tonne.issuance.rows import BatchRef, ProjectRef, Row

ORDER_DIGEST = "orderDigest(uint64,bytes32)"


def order_digest(token_id: int, recipient: str, units: int) -> bytes:
    """What the token records under a used order reference: keccak256(abi.encode(id, to, amount))."""
    return keccak(abi_encode(["uint256", "address", "uint256"], [token_id, recipient, units]))


ISSUE_MANY = "issueMany((uint256,address,uint256,bytes32)[])"


# ---------------------------------------------------------------------------------------------------- chain state


@dataclass
class ChainState(RegistryState):
    """What the chain says about the rows of a file, read at one block (``RegistryState``, with the issuance's
    own: the order references used, the contract recipients). Pure data: validation is testable."""

    # order_ref -> the digest recorded under it in the row's project (rows of a known project whose ref is used)
    recorded: dict[bytes, bytes] = field(default_factory=dict)
    rejections: dict[str, str] = field(default_factory=dict)  # contract recipient -> revert of a test issuance
    contracts: set[str] = field(default_factory=set)  # recipients that hold code (their chunks get a gas estimate)


@dataclass(frozen=True)
class Contracts:
    """Addresses of the deployment the rows are issued on."""

    credit: str
    registry: str


def read_state(rows: Sequence[Row], view: ChainView, contracts: Contracts, sender: str) -> ChainState:
    """Everything the chain pass needs about ``rows``, in batched calls at the pinned block: ``read_keys`` for
    their projects, batches and recipients, then ``read_recorded`` for their order references."""
    state = read_keys(
        {r.project for r in rows},
        {(r.project, r.batch) for r in rows},
        {r.recipient for r in rows},
        view,
        contracts,
        sender,
    )
    state.recorded = read_recorded(rows, state, view, contracts)
    return state


def read_keys(
    projects: Iterable[ProjectRef],
    pairs: Iterable[tuple[ProjectRef, BatchRef]],
    recipients: Iterable[str],
    view: ChainView,
    contracts: Contracts,
    sender: str,
) -> ChainState:
    """What the chain says about a file's distinct projects, (project, batch) pairs and recipients (not its order
    references): the registry round (``tonne.chain.checks.read_registry``) at the pinned block, with each
    recipient's frozen (and, when the token is permissioned, allowlist) flag. Takes keys, not rows, so that a
    streamed file needs only its distinct keys in memory."""
    credit = contracts.credit
    state = ChainState(block=view.block if isinstance(view.block, int) else None)
    recipients = sorted(set(recipients))

    def own() -> list[Call]:
        return [
            *(Call(credit, "isFrozen(address)", (a,), ("bool",)) for a in recipients),
            *(Call(credit, "isAllowed(address)", (a,), ("bool",)) for a in recipients if state.permissioned),
        ]

    _, results = read_registry(state, view, credit, contracts.registry, sender, projects, pairs, second=own)
    state.frozen = {a: view_value(next(results), "isFrozen") for a in recipients}
    if state.permissioned:
        state.allowed = {a: view_value(next(results), "isAllowed") for a in recipients}
    return state


def read_recorded(rows: Sequence[Row], state: ChainState, view: ChainView, contracts: Contracts) -> dict[bytes, bytes]:
    """order_ref -> the digest recorded under it in the row's project, for the ``rows`` of a known project whose
    reference is used (batched calls at the pinned block)."""
    scoped = [r for r in rows if state.project_ids.get(r.project)]  # order references live in their project
    calls = [
        Call(contracts.credit, ORDER_DIGEST, (state.project_ids[r.project], r.order_ref), ("bytes32",)) for r in scoped
    ]
    recorded: dict[bytes, bytes] = {}
    for r, result in zip(scoped, view.call_many(calls), strict=True):
        digest = bytes(view_value(result, "orderDigest"))
        if any(digest):
            recorded[r.order_ref] = digest
    return recorded


def split_done(
    rows: Sequence[Row], state: ChainState, path: str, recorded: dict[bytes, bytes] | None = None
) -> tuple[list[Row], list[Row], list[Problem]]:
    """(done, todo, conflicts): a row is done only when its project's issuance under its reference is this row's
    (same token id, recipient and units); a reference used by anything else is a conflict and blocks the run."""
    done, todo, conflicts = [], [], []
    used = state.recorded if recorded is None else recorded
    for row in rows:
        digest = used.get(row.order_ref)
        if digest is None:
            todo.append(row)
        elif digest == order_digest(state.token_id(row), row.recipient, row.units):
            done.append(row)
        else:
            conflicts.append(
                Problem(
                    path,
                    row.line,
                    "reference",
                    f"{row.reference!r} was already used in project {row.project} by a different issuance "
                    f"(not {format_tonnes(row.units)} of this batch to {row.recipient}); nothing is sent",
                )
            )
    return done, todo, conflicts


def check_receivers(rows: Sequence[Row], state: ChainState, view: ChainView, contracts: Contracts, sender: str) -> None:
    """For recipients that are contracts, simulate issuing them 1 unit: a contract may reject ERC-1155 credits.

    Reverts with the token's or registry's own errors are left out: the other checks report those causes."""
    candidates: dict[str, int] = {}
    for row in rows:
        token_id = state.token_id(row)
        if token_id and row.recipient not in candidates:
            candidates[row.recipient] = token_id
    try_receivers(candidates, state, view, contracts, sender)


def find_contracts(addresses: Sequence[str], view: ChainView) -> set[str]:
    """The ``addresses`` that hold code at the pinned block (one batched ``eth_getCode`` round)."""
    if not addresses:
        return set()
    block = hex(view.block) if isinstance(view.block, int) else view.block
    codes = view.rpc_many([("eth_getCode", [a, block]) for a in addresses])
    return {a for a, code in zip(addresses, codes, strict=True) if hex_bytes(code.get("result"))}


def try_receivers(
    candidates: dict[str, int],
    state: ChainState,
    view: ChainView,
    contracts: Contracts,
    sender: str,
    known_contracts: set[str] | None = None,
) -> None:
    """``check_receivers`` for ``candidates`` (recipient -> a token id it is to receive): the contracts among them
    (``known_contracts`` if already read) go to ``state.contracts``, and those that reject a simulated 1-unit
    issuance to ``state.rejections``."""
    if not candidates:
        return
    addresses = list(candidates)
    found = find_contracts(addresses, view) if known_contracts is None else known_contracts
    contracts_to_try = [a for a in addresses if a in found]
    state.contracts.update(contracts_to_try)
    calls = [
        Call(
            contracts.credit,
            ISSUE_MANY,
            ([(candidates[a], a, 1, b"\x00" * 32)],),
            (),
            sender=sender,
        )
        for a in contracts_to_try
    ]
    for address, result in zip(contracts_to_try, view.call_many(calls), strict=True):
        if isinstance(result, Reverted) and not result.error.startswith(("Credit", "Registry")):
            state.rejections[address] = result.error


# ---------------------------------------------------------------------------------------------------- chain pass


def check_row(row: Row, state: ChainState, sender: str, add: Callable[[Row, str, str], None]) -> None:
    project_id = state.project_ids.get(row.project, 0)
    info = state.projects.get(project_id) if project_id else None
    if info is None or info.status == 0:
        add(row, "project", unknown_project(row.project))
    else:
        label = project_label(row.project, project_id)
        if info.status != APPROVED:
            status = status_name(info.status)
            add(row, "project", f"{label} is {status}; credits can be issued only while it is Approved")
        elif info.restricted:
            add(row, "project", f"credits of {label} are restricted in the token")
        if not info.issuer_ok:
            add(row, "project", f"{sender} is not an authorised issuer of {label} (ISSUER_ROLE + setProjectIssuer)")
        _check_batch(row, project_id, state, add)
    if state.frozen.get(row.recipient):
        add(row, "recipient", f"{row.recipient} is frozen by the regulator")
    if state.permissioned and not state.allowed.get(row.recipient, False):
        add(row, "recipient", f"{row.recipient} is not on the allowlist (the token is permissioned)")
    if row.recipient in state.rejections:
        add(row, "recipient", f"contract {row.recipient} rejects the credits: {state.rejections[row.recipient]}")


def _check_batch(row: Row, project_id: int, state: ChainState, add: Callable[[Row, str, str], None]) -> None:
    problem = batch_problem(row.project, row.batch, project_id, state, verified=True)
    if problem:
        add(row, "batch", problem)
