"""One surrender, checked against the chain before anything is sent.

Credits are named as ``ape run retire one`` names them: by ``--project`` (numeric id or ``STANDARD:EXTERNAL_ID``)
and one or more ``--batch`` (batch number or issuance reference), or by one or more token ``--id``; one
``--amount`` (tonnes, at most 3 decimals) per batch, in the same order. One surrender, one certificate.

A surrender is idempotent: its ``retirementRef`` is keccak256 of its reference, which the retirement module
accepts once, ever, from each retiring account (the entity), so a second run finds the certificate and sends
nothing; a certificate of the entity's under the reference that is not this surrender is refused as a conflict.
Without ``--reference``, the reference is derived from the sending account and everything the command says
(``auto:`` + 32 hex digits), as ``ape run retire one`` derives its own: the same command twice surrenders once; to
surrender the same thing twice on purpose, give two references.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_utils import keccak

from tonne.chain.view import Call, ChainView, Reverted
from tonne.compliance.errors import ComplianceRefusal, InputError
from tonne.compliance.obligations import PERIOD_VIEW, STATUS_VIEW
from tonne.compliance.terms import iso
from tonne.core.csvinput import FieldError, parse_tonnes
from tonne.core.ids import batch_number_of, describe, project_of
from tonne.core.units import format_tonnes
from tonne.registry.ops import resolve_batch, resolve_project
from tonne.retirement.checks import CERTIFICATE_VIEW, COMPLIANCE, certificate_mismatch

MAX_IDS_PER_SURRENDER = 100  # CompliancePeriods.MAX_IDS_PER_SURRENDER
ZERO_REF = b"\x00" * 32


def pair_credits(token_ids: Sequence[int], amounts: Sequence[str]) -> list[tuple[int, int]]:
    """(token id, units) pairs from token ids and ``--amount`` texts, checked: one amount per id, at most
    ``MAX_IDS_PER_SURRENDER``; raises ``InputError`` naming the option at fault."""
    if not token_ids:
        raise InputError("name the credits: --id TOKEN_ID, or --project and --batch")
    for token_id in token_ids:
        if not (project_of(token_id) and batch_number_of(token_id)) or token_id >> 128:
            raise InputError(f"--id {token_id} is not a credit token id (project << 64 | batch)")
    if len(amounts) != len(token_ids):
        raise InputError(f"{len(amounts)} --amount value(s) for {len(token_ids)} batch(es): give one each, in order")
    if len(token_ids) > MAX_IDS_PER_SURRENDER:
        raise InputError(f"{len(token_ids)} batches; one surrender lists at most {MAX_IDS_PER_SURRENDER}")
    units = []
    for text in amounts:
        try:
            units.append(parse_tonnes(text))
        except FieldError as exc:
            raise InputError(f"--amount {text!r}: {exc}") from exc
    return list(zip(token_ids, units, strict=True))


def resolve_credits(
    registry: Any, *, ids: Sequence[int], project: str | None, batches: Sequence[str], amounts: Sequence[str]
) -> list[tuple[int, int]]:
    """The credits of a surrender from its options; ``--project``/``--batch`` are resolved in the registry."""
    if ids and (project or batches):
        raise InputError("name credits by --id, or by --project and --batch, not both")
    if ids:
        return pair_credits(list(ids), amounts)
    if not (project and batches):
        raise InputError("name the credits: --id TOKEN_ID, or --project and --batch")
    project_id = resolve_project(registry, project)
    return pair_credits([resolve_batch(registry, project_id, batch) for batch in batches], amounts)


def auto_reference(*, sender: str, entity: str, period_id: int, credits: Sequence[tuple[int, int]]) -> str:
    """The reference of a surrender given without one: ``auto:`` + the first 32 hex digits of keccak256 over the
    sender, the entity, the period and the credits (addresses in lower case)."""
    text = "|".join(
        ["surrender", sender.lower(), entity.lower(), str(period_id), ",".join(f"{t}:{u}" for t, u in credits)]
    )
    return "auto:" + keccak(text.encode()).hex()[:32]


def reference_key(reference: str | None) -> bytes:
    """The ``retirementRef`` of a surrender reference: keccak256 of its UTF-8 bytes (zero: none)."""
    if reference is None:
        return ZERO_REF
    if not reference.strip():
        raise InputError("--reference is empty")
    return keccak(reference.encode("utf-8"))


@dataclass(frozen=True)
class SurrenderPlan:
    period_id: int
    period_name: str
    entity: str
    sender: str
    credits: list[tuple[int, int]]
    retirement_ref: bytes
    obligation: int
    surrendered: int
    done_certificate: int = 0  # non-zero: the reference was used already, by this certificate

    @property
    def total(self) -> int:
        return sum(units for _, units in self.credits)

    def describe(self) -> str:
        parts = ", ".join(f"{describe(t)} {format_tonnes(u)}" for t, u in self.credits)
        return (
            f"surrender {format_tonnes(self.total)} ({parts}) for {self.entity} in period {self.period_id} "
            f"({self.period_name!r}); obligation {format_tonnes(self.obligation)}, "
            f"already surrendered {format_tonnes(self.surrendered)}"
        )


def plan_surrender(
    view: ChainView,
    *,
    periods: str,
    credit: str,
    retirement: str,
    period_id: int,
    entity: str,
    sender: str,
    credits: list[tuple[int, int]],
    reference: str | None = None,
) -> SurrenderPlan:
    """Every check the contracts make, read from one pinned block; raises ``ComplianceRefusal`` listing every
    reason the chain would refuse. A used ``reference`` gives a plan with ``done_certificate`` set."""
    ref = reference_key(reference)
    what = f"surrender for {entity} in period {period_id}"
    block = view.pin()
    try:
        now = int(view.w3.eth.get_block(block)["timestamp"])
        terms = view.call(Call(periods, "period(uint64)", (period_id,), (PERIOD_VIEW,)))
        if isinstance(terms, Reverted):
            raise ComplianceRefusal(what, [f"period {period_id}: {terms.error}"])
        if ref != ZERO_REF:
            done = view.call(Call(retirement, "certificateOfReference(address,bytes32)", (entity, ref), ("uint256",)))
            if done:
                cert = view.call(Call(retirement, "certificate(uint256)", (done,), (CERTIFICATE_VIEW,)))
                why = (
                    "its certificate cannot be read"
                    if isinstance(cert, Reverted)
                    else certificate_mismatch(
                        cert,
                        entity,
                        entity,
                        [t for t, _ in credits],
                        [u for _, u in credits],
                        COMPLIANCE,
                        "this surrender",
                    )
                )
                if why:
                    raise ComplianceRefusal(
                        what,
                        [
                            f"conflict: {entity} already used this reference for certificate #{done}, which is not "
                            f"this surrender ({why}); nothing is sent"
                        ],
                    )
                return SurrenderPlan(period_id, terms[0], entity, sender, credits, ref, 0, 0, done_certificate=done)
        totals = Counter()
        for token_id, units in credits:
            totals[token_id] += units
        calls = [Call(periods, "status(uint64,address)", (period_id, entity), (STATUS_VIEW,))]
        calls += [Call(periods, "requireEligible(uint64,uint256)", (period_id, t), ()) for t in totals]
        calls += [Call(credit, "balanceOf(address,uint256)", (entity, t), ("uint256",)) for t in totals]
        calls.append(Call(credit, "isApprovedForAll(address,address)", (entity, sender), ("bool",)))
        results = view.call_many(calls)
    finally:
        view.unpin()
    name, deadline = terms[0], int(terms[4])
    status = results[0]
    eligible = results[1 : 1 + len(totals)]
    balances = results[1 + len(totals) : 1 + 2 * len(totals)]
    approved = results[-1]
    obligation, surrendered = int(status[0]), int(status[1])
    reasons = []
    if now > deadline:
        reasons.append(f"the deadline of period {period_id} ({name!r}) passed at {iso(deadline)}")
    if obligation == 0:
        reasons.append(f"{entity} has no obligation in period {period_id}")
    remaining = obligation - surrendered
    total = sum(totals.values())
    if obligation and total > remaining:
        reasons.append(
            f"{format_tonnes(total)} is more than the {format_tonnes(remaining)} still owed "
            f"(obligation {format_tonnes(obligation)}, surrendered {format_tonnes(surrendered)})"
        )
    for (token_id, units), check, balance in zip(totals.items(), eligible, balances, strict=True):
        if isinstance(check, Reverted):
            reasons.append(f"{describe(token_id)} (id {token_id}) is not eligible: {check.error}")
        if isinstance(balance, Reverted) or int(balance) < units:
            held = "unknown" if isinstance(balance, Reverted) else format_tonnes(int(balance))
            reasons.append(f"{entity} holds {held} of {describe(token_id)}, less than {format_tonnes(units)}")
    if sender.lower() != entity.lower() and not approved:
        reasons.append(f"{sender} is not an approved operator of {entity} on the credit token (setApprovalForAll)")
    if reasons:
        raise ComplianceRefusal(what, reasons)
    return SurrenderPlan(period_id, name, entity, sender, credits, ref, obligation, surrendered)


def send_surrender(plan: SurrenderPlan, periods: Any, account: Any) -> tuple[Any, int]:
    """Send the planned surrender with ape; returns (receipt, certificate id). The id is read from the
    ``Surrendered`` event, which needs no tracing node."""
    ids = [token_id for token_id, _ in plan.credits]
    amounts = [units for _, units in plan.credits]
    if plan.entity.lower() == str(account.address).lower():
        receipt = periods.surrender(plan.period_id, ids, amounts, plan.retirement_ref, sender=account)
    else:
        receipt = periods.surrenderFrom(plan.entity, plan.period_id, ids, amounts, plan.retirement_ref, sender=account)
    (logged,) = receipt.decode_logs(periods.Surrendered)
    return receipt, int(logged.certificateId)
