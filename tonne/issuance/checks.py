"""The chain pass: read what the chain says about a file's rows at one block, then check the rows against it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from eth_abi import encode as abi_encode
from eth_utils import keccak

from tonne.chain.checks import APPROVED, BATCH_VIEW, other_lines, status_name, unknown_project, view_value
from tonne.chain.view import Call, ChainView, Reverted, hex_bytes
from tonne.core.ids import describe, encode_id
from tonne.core.units import format_tonnes
from tonne.issuance.errors import Problem
from tonne.issuance.rows import HEADER, BatchRef, ProjectRef, Row

ORDER_DIGEST = "orderDigest(uint64,bytes32)"


def order_digest(token_id: int, recipient: str, units: int) -> bytes:
    """What the token records under a used order reference: keccak256(abi.encode(id, to, amount))."""
    return keccak(abi_encode(["uint256", "address", "uint256"], [token_id, recipient, units]))


ISSUE_MANY = "issueMany((uint256,address,uint256,bytes32)[])"


# ---------------------------------------------------------------------------------------------------- chain state


@dataclass(frozen=True)
class ProjectInfo:
    status: int
    issuer_ok: bool
    restricted: bool


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
class ChainState:
    """What the chain says about the rows of a file, read at one block. Pure data: validation is testable."""

    project_ids: dict[ProjectRef, int] = field(default_factory=dict)  # 0: unknown
    projects: dict[int, ProjectInfo] = field(default_factory=dict)
    batch_ids: dict[tuple[int, BatchRef], int] = field(default_factory=dict)  # 0: unknown
    batches: dict[int, BatchInfo] = field(default_factory=dict)
    # order_ref -> the digest recorded under it in the row's project (rows of a known project whose ref is used)
    recorded: dict[bytes, bytes] = field(default_factory=dict)
    permissioned: bool = False
    paused: bool = False
    allowed: dict[str, bool] = field(default_factory=dict)
    frozen: dict[str, bool] = field(default_factory=dict)
    rejections: dict[str, str] = field(default_factory=dict)  # contract recipient -> revert of a test issuance
    contracts: set[str] = field(default_factory=set)  # recipients that hold code (their chunks get a gas estimate)
    block: int | None = None

    def token_id(self, row: Row) -> int:
        """The row's token id, or 0 when its project or batch is unknown."""
        project_id = self.project_ids.get(row.project, 0)
        return self.batch_ids.get((project_id, row.batch), 0) if project_id else 0


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
    references): two rounds of batched calls at the pinned block. Takes keys, not rows, so that a streamed file
    needs only its distinct keys in memory."""
    credit, registry = contracts.credit, contracts.registry
    state = ChainState(block=view.block if isinstance(view.block, int) else None)
    projects, pairs = set(projects), set(pairs)

    named = sorted({p for p in projects if p.project_id is None}, key=str)
    by_number = sorted({p for p in projects if p.project_id is not None}, key=str)
    batch_refs = sorted({b.reference for _, b in pairs if b.reference is not None})
    recipients = sorted(set(recipients))
    first_round = [
        *(Call(registry, "projectIdOf(string,string)", (p.standard, p.external_id), ("uint64",)) for p in named),
        *(Call(registry, "batchOfIssuanceReference(string)", (ref,), ("uint256",)) for ref in batch_refs),
        Call(credit, "permissioned()", (), ("bool",)),
        Call(credit, "paused()", (), ("bool",)),
    ]
    results = iter(view.call_many(first_round))
    for project in named:
        state.project_ids[project] = view_value(next(results), "projectIdOf")
    for project in by_number:
        state.project_ids[project] = project.project_id or 0
    id_of_reference = {ref: view_value(next(results), "batchOfIssuanceReference") for ref in batch_refs}
    state.permissioned = view_value(next(results), "permissioned")
    state.paused = view_value(next(results), "paused")

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
        *(Call(credit, "isFrozen(address)", (a,), ("bool",)) for a in recipients),
        *(Call(credit, "isAllowed(address)", (a,), ("bool",)) for a in recipients if state.permissioned),
    ]
    results = iter(view.call_many(second_round))
    for pid in project_ids:
        status, issuer_ok, restricted = (view_value(next(results), "project") for _ in range(3))
        state.projects[pid] = ProjectInfo(status=status, issuer_ok=issuer_ok, restricted=restricted)
    for tid in token_ids:
        view_, cap, issued = (
            next(results),
            view_value(next(results), "issuanceCap"),
            view_value(next(results), "totalIssued"),
        )
        if isinstance(view_, Reverted):  # registry.batch reverts for unknown ids
            continue
        state.batches[tid] = BatchInfo(project_id=view_[0], verified=view_[5], cap=cap, issued=issued)
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


def check_against_chain(rows: Sequence[Row], state: ChainState, sender: str, path: str) -> list[Problem]:
    """Problems of the rows still to issue, given the chain state. Each problem of a project, batch or recipient
    is reported once, on the first line it affects, with the other lines it affects."""
    problems: list[Problem] = []
    if state.paused:
        problems.append(
            Problem(path, None, "token", "the credit token is paused by the regulator: nothing can be issued")
        )
    grouped: dict[tuple[str, str], list[int]] = {}

    def add(row: Row, column: str, message: str) -> None:
        grouped.setdefault((column, message), []).append(row.line)

    for row in rows:
        _check_row(row, state, sender, add)
    for (column, message), lines in grouped.items():
        problems.append(Problem(path, lines[0], column, message + other_lines(lines)))
    problems.extend(_cap_problems(rows, state, path))
    problems.sort(key=lambda p: (p.line or 0, HEADER.index(p.field) if p.field in HEADER else -1))
    return problems


def _check_row(row: Row, state: ChainState, sender: str, add: Callable[[Row, str, str], None]) -> None:
    project_id = state.project_ids.get(row.project, 0)
    info = state.projects.get(project_id) if project_id else None
    if info is None or info.status == 0:
        add(row, "project", unknown_project(row.project))
    else:
        label = f"project {row.project}" + (f" (id {project_id})" if row.project.project_id is None else "")
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
    token_id = state.batch_ids.get((project_id, row.batch), 0)
    batch = state.batches.get(token_id) if token_id else None
    if batch is None:
        if row.batch.number is not None:
            add(row, "batch", f"project {row.project} has no batch number {row.batch.number}")
        else:
            add(row, "batch", f"no batch has the issuance reference {row.batch.reference!r}")
    elif batch.project_id != project_id:
        add(
            row,
            "batch",
            f"{row.batch} is batch {describe(token_id)} of project {batch.project_id}, not of project {row.project}",
        )
    elif not batch.verified:
        add(row, "batch", f"{row.batch} ({describe(token_id)}) is not verified yet")


def _cap_problems(rows: Sequence[Row], state: ChainState, path: str) -> list[Problem]:
    by_batch: dict[int, list[Row]] = {}
    for row in rows:
        token_id = state.token_id(row)
        batch = state.batches.get(token_id)
        if batch is not None and batch.verified and batch.project_id == state.project_ids.get(row.project):
            by_batch.setdefault(token_id, []).append(row)
    problems = []
    for token_id, batch_rows in by_batch.items():
        batch = state.batches[token_id]
        total = sum(r.units for r in batch_rows)
        if total <= batch.available:
            continue
        running, crossing = 0, batch_rows[-1]
        for r in batch_rows:
            running += r.units
            if running > batch.available:
                crossing = r
                break
        message = (
            f"batch {describe(token_id)} ({batch_rows[0].batch}) has {format_tonnes(batch.available)} left to issue "
            f"(cap {format_tonnes(batch.cap)}, {format_tonnes(batch.issued)} issued), but its {len(batch_rows)} "
            f"row(s) still to issue need {format_tonnes(total)}; the cap is passed on this line"
        )
        problems.append(Problem(path, crossing.line, "tonnes", message + other_lines([r.line for r in batch_rows])))
    return problems
