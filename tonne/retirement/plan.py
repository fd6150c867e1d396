"""From checked requests to what a run sends: one transaction per request (one certificate each), in file order."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from eth_abi import encode as abi_encode

from tonne.chain.errors import Problem, problem_summary
from tonne.chain.view import ChainView, Reverted, selector
from tonne.ids import describe
from tonne.retirement.checks import ChainState, Contracts, check_against_chain, field_name, read_state
from tonne.retirement.rows import Request, RetirementError
from tonne.units import format_tonnes

INPUT = "(address,string,string,string,uint40,uint40,bytes32)"
RETIRE = f"retire(uint256[],uint256[],{INPUT})"
RETIRE_FROM = f"retireFrom(address,uint256[],uint256[],{INPUT})"
# Each retirement's gas is estimated at the planning block, where every row still sees the untouched state: a fresh
# certificate balance and an untouched batch balance, never cheaper than when it is sent. The margin covers the rest.
GAS_MARGIN = 1.2
ISSUE_AND_RETIRE = f"issueAndRetire(uint256,uint256,bytes32,{INPUT})"


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


@dataclass
class Plan:
    """What a run will send: the requests already done (with their certificate ids) and those still to do."""

    path: str
    requests: list[Request]
    done: list[tuple[Request, int]]
    todo: list[Retirement]
    state: ChainState
    sender: str

    def describe(self) -> str:
        return format_plan(self)


def where(request: Request) -> str:
    return f"line {request.line}" if request.line is not None else "the command"


def format_plan(plan: Plan) -> str:
    """Readable plan: per holder and batch, what is retired against what is held; then the transactions."""
    lines = [
        f"{plan.path}: {len(plan.requests)} retirement(s); {len(plan.done)} already done on-chain; "
        f"{len(plan.todo)} to retire in {len(plan.todo)} transaction(s), one certificate each"
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
) -> Plan:
    """Wait for the sender's pending transactions, read the chain, set aside what is done, check the rest against
    the chain and simulate it. Raises ``RetirementError`` with every problem; nothing is sent here."""
    view.wait_settled(sender, pending_timeout, log)
    view.pin()
    try:
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
        if not problems and todo:
            problems, todo = simulate(todo, view, contracts, sender, path)
    finally:
        view.unpin()
    if problems:
        raise RetirementError(problem_summary(path, problems), problems)
    return Plan(path=path, requests=list(requests), done=done, todo=todo, state=state, sender=sender)


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
