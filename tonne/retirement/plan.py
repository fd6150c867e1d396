"""From checked requests to what a run sends, in file order: one certificate per request, and one transaction per
``batch_size`` consecutive requests (``retireBatch``; an issue-and-retire request is always a transaction of its own,
and a batch of one is the single ``retire`` / ``retireFrom`` call)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from eth_abi import encode as abi_encode

from tonne.bulk.chain import pinned
from tonne.bulk.report import Problem, raise_problems
from tonne.chain.view import ChainView, Reverted, selector
from tonne.core.ids import describe
from tonne.core.units import format_tonnes
from tonne.retirement.checks import ChainState, Contracts, check_against_chain, field_name, read_state
from tonne.retirement.rows import Request, RetirementError

INPUT = "(address,string,string,string,uint40,uint40,bytes32)"
RETIRE = f"retire(uint256[],uint256[],{INPUT})"
RETIRE_FROM = f"retireFrom(address,uint256[],uint256[],{INPUT})"
# Each retirement's gas is estimated at the planning block, where every row still sees the untouched state: a fresh
# certificate balance and an untouched batch balance, never cheaper than when it is sent. The margin covers the rest.
GAS_MARGIN = 1.2
# A transaction's gas used in one execution (eth_createAccessList) is below what it needs by the gas refunds (at most a
# fifth) and the 1/64 kept back at each call; this margin covers both.
ACCESS_LIST_MARGIN = 1.3
ISSUE_AND_RETIRE = f"issueAndRetire(uint256,uint256,bytes32,{INPUT})"
REQUEST = f"(address,uint256[],uint256[],{INPUT})"  # ICarbonRetirement.RetirementRequest
RETIRE_BATCH = f"retireBatch({REQUEST}[])"
DEFAULT_BATCH_SIZE = 50  # retirements per transaction: some 4.8M gas at 50 (docs/retirement.md)


@dataclass(frozen=True)
class Retirement:
    """A request resolved to token ids: one transaction, one certificate."""

    request: Request
    token_ids: tuple[int, ...]
    gas: int | None = None  # the gas limit to send with: the planning estimate plus GAS_MARGIN

    def calldata(self, sender: str) -> bytes:
        r = self.request
        data = (r.beneficiary, r.beneficiary_name, r.reason, r.jurisdiction, r.period[0], r.period[1], r.retirement_ref)
        amounts = [c.units for c in r.credits]
        if r.issue:
            # The retirement reference doubles as the issuance order reference: both are used once, together.
            args = (self.token_ids[0], amounts[0], r.retirement_ref, data)
            return selector(ISSUE_AND_RETIRE) + abi_encode(["uint256", "uint256", "bytes32", INPUT], args)
        holder = r.holder_or(sender)
        if holder.lower() == sender.lower():
            return selector(RETIRE) + abi_encode(["uint256[]", "uint256[]", INPUT], (self.token_ids, amounts, data))
        args = (holder, self.token_ids, amounts, data)
        return selector(RETIRE_FROM) + abi_encode(["address", "uint256[]", "uint256[]", INPUT], args)


@dataclass(frozen=True)
class Batch:
    """Consecutive retirements sent as one transaction: ``retireBatch`` for several (atomic: all or none), the
    retirement's own call for one."""

    retirements: tuple[Retirement, ...]
    gas: int | None = None  # the gas limit to send with: the planning estimate plus GAS_MARGIN

    def calldata(self, sender: str) -> bytes:
        if len(self.retirements) == 1:
            return self.retirements[0].calldata(sender)
        entries = []
        for t in self.retirements:
            r = t.request
            data = (r.beneficiary, r.beneficiary_name, r.reason, r.jurisdiction, r.period[0], r.period[1])
            entries.append((r.holder_or(sender), t.token_ids, [c.units for c in r.credits], (*data, r.retirement_ref)))
        return selector(RETIRE_BATCH) + abi_encode([f"{REQUEST}[]"], (entries,))


def group(todo: Sequence[Retirement], batch_size: int = 1) -> list[Batch]:
    """``todo`` in order, as transactions of up to ``batch_size`` retirements; issue-and-retire ones alone."""
    if batch_size < 1:
        raise ValueError(f"batch size must be at least 1, got {batch_size}")
    batches: list[Batch] = []
    current: list[Retirement] = []
    for t in todo:
        if t.request.issue:
            if current:
                batches.append(Batch(tuple(current)))
                current = []
            batches.append(Batch((t,), t.gas))
            continue
        current.append(t)
        if len(current) == batch_size:
            batches.append(Batch(tuple(current)))
            current = []
    if current:
        batches.append(Batch(tuple(current)))
    return [Batch(b.retirements, b.retirements[0].gas) if len(b.retirements) == 1 else b for b in batches]


@dataclass
class Plan:
    """What a run will send: the requests already done (with their certificate ids) and those still to do."""

    path: str
    requests: list[Request]
    done: list[tuple[Request, int]]
    todo: list[Retirement]
    state: ChainState
    sender: str
    batches: list[Batch] = field(default_factory=list)  # the transactions; default: one per retirement

    def __post_init__(self) -> None:
        if not self.batches:
            self.batches = group(self.todo)

    def describe(self) -> str:
        return format_plan(self)


def where(request: Request) -> str:
    return f"line {request.line}" if request.line is not None else "the command"


def format_plan(plan: Plan) -> str:
    """Readable plan: per holder and batch, what is retired against what is held; then the transactions."""
    lines = [
        f"{plan.path}: {len(plan.requests)} retirement(s); {len(plan.done)} already done on-chain; "
        f"{len(plan.todo)} to retire in {len(plan.batches)} transaction(s), one certificate each"
        + (f" (read at block {plan.state.block})" if plan.state.block is not None else "")
    ]
    for request, certificate_id in plan.done[:10]:
        lines.append(f"  done: {where(request)} ({request.reference}) is certificate #{certificate_id}")
    if len(plan.done) > 10:
        lines.append(f"  done: ... and {len(plan.done) - 10} more")
    per_batch: dict[tuple[str, int], list[int]] = {}
    for retirement in plan.todo:
        who = "(issued now)" if retirement.request.issue else retirement.request.holder_or(plan.sender)
        for token_id, credit in zip(retirement.token_ids, retirement.request.credits, strict=True):
            per_batch.setdefault((who, token_id), []).append(credit.units)
    for (who, token_id), amounts in per_batch.items():
        held = plan.state.balances.get((who, token_id))
        of = f" of {format_tonnes(held)} held" if held is not None else ""
        lines.append(
            f"  {describe(token_id):>12}  {who}: {len(amounts)} retirement(s), {format_tonnes(sum(amounts))}{of}"
        )
    return "\n".join(lines)


def prepare(
    path: str,
    requests: Sequence[Request],
    view: ChainView,
    contracts: Contracts,
    sender: str,
    *,
    pending_timeout: float = 180.0,
    log: Callable[[str], None] = lambda _: None,
    batch_size: int = 1,
) -> Plan:
    """Wait for the sender's pending transactions, read the chain, set aside what is done, check the rest against
    the chain, group it into transactions of up to ``batch_size`` retirements and simulate each transaction.
    Raises ``RetirementError`` with every problem; nothing is sent here."""
    with pinned(view, sender, pending_timeout, log):
        state = read_state(requests, view, contracts, sender)
        done = [(r, state.done[r.retirement_ref]) for r in requests if r.retirement_ref in state.done]
        conflicts = [r for r in requests if r.retirement_ref in state.conflicts]
        pending = [
            r for r in requests if r.retirement_ref not in state.done and r.retirement_ref not in state.conflicts
        ]
        problems = [
            Problem(
                path,
                r.line,
                field_name(r, "reference"),
                f"conflict: {r.holder_or(sender)} already used the reference {r.reference!r} for certificate "
                f"#{state.conflicts[r.retirement_ref][0]}, which is not this retirement "
                f"({state.conflicts[r.retirement_ref][1]}); nothing is sent for it",
            )
            for r in conflicts
        ]
        problems += check_against_chain(pending, state, sender, path)
        problems.sort(key=lambda p: p.line or 0)
        todo = [Retirement(r, tuple(state.token_id(c) for c in r.credits)) for r in pending]
        batches = group(todo, batch_size)
        if not problems and todo:
            if batch_size == 1:
                problems, todo = simulate(todo, view, contracts, sender, path)
                batches = group(todo)
            else:
                problems, batches = simulate_batches(batches, view, contracts, sender, path)
    raise_problems(path, problems, RetirementError)
    return Plan(path=path, requests=list(requests), done=done, todo=todo, state=state, sender=sender, batches=batches)


def simulate(
    todo: Sequence[Retirement], view: ChainView, contracts: Contracts, sender: str, path: str
) -> tuple[list[Problem], list[Retirement]]:
    """Each retirement's gas estimated from ``sender`` at the pinned block (batched ``eth_estimateGas``): a revert
    becomes a problem; the estimates, with ``GAS_MARGIN``, become the retirements' gas limits."""
    results = view.estimate_many([(contracts.retirement, t.calldata(sender), sender) for t in todo])
    problems = []
    for retirement, result in zip(todo, results, strict=True):
        if isinstance(result, Reverted):
            problems.append(
                Problem(
                    path,
                    retirement.request.line,
                    field_name(retirement.request, "reference"),
                    f"the retirement contract would refuse it: {result.error}",
                )
            )
    planned = [
        replace(t, gas=int(gas * GAS_MARGIN)) if not isinstance(gas, Reverted) else t
        for t, gas in zip(todo, results, strict=True)
    ]
    return problems, planned


def simulate_batches(
    batches: Sequence[Batch], view: ChainView, contracts: Contracts, sender: str, path: str
) -> tuple[list[Problem], list[Batch]]:
    """Each transaction executed once from ``sender`` at the pinned block (batched ``eth_createAccessList``, whose
    ``gasUsed`` gives the gas limit with ``ACCESS_LIST_MARGIN``), so every retirement is simulated with those before it
    in its batch. ``eth_estimateGas`` (a dozen executions each) is asked only where that fails: for a transaction that
    would revert (to decode the error) or a node without the method. A batch that would revert is simulated again
    row by row to name the row(s) at fault (or, when each row passes alone, its first row with the batch's error)."""
    block = hex(view.block) if isinstance(view.block, int) else view.block
    datas = [b.calldata(sender) for b in batches]
    responses = view.rpc_many(
        [
            ("eth_createAccessList", [{"from": sender, "to": contracts.retirement, "data": "0x" + d.hex()}, block])
            for d in datas
        ]
    )
    gas: list[int | Reverted | None] = []
    for response in responses:
        result = response.get("result") if "error" not in response else None
        ok = isinstance(result, dict) and "gasUsed" in result and not result.get("error")
        gas.append(int(int(result["gasUsed"], 16) * ACCESS_LIST_MARGIN) if ok else None)
    again = [n for n, g in enumerate(gas) if g is None]
    if again:
        estimates = view.estimate_many([(contracts.retirement, datas[n], sender) for n in again])
        for n, estimate in zip(again, estimates, strict=True):
            gas[n] = estimate if isinstance(estimate, Reverted) else int(estimate * GAS_MARGIN)
    problems: list[Problem] = []
    planned = []
    for batch, result in zip(batches, gas, strict=True):
        if not isinstance(result, Reverted):
            planned.append(replace(batch, gas=result))
            continue
        found, _ = (
            simulate(batch.retirements, view, contracts, sender, path) if len(batch.retirements) > 1 else ([], [])
        )
        if not found:
            first = batch.retirements[0].request
            alone = f" (in a batch of {len(batch.retirements)})" if len(batch.retirements) > 1 else ""
            found = [
                Problem(
                    path,
                    first.line,
                    field_name(first, "reference"),
                    f"the retirement contract would refuse it{alone}: {result.error}",
                )
            ]
        problems += found
        planned.append(batch)
    return problems, planned
