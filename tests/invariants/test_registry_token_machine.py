"""Stateful property test of CarbonRegistry, CarbonCredit and CarbonRetirement together, against a Python model.

Hypothesis drives random sequences of registrar, verifier, issuer and holder actions on the real contracts
(Anvil) and keeps a model alongside: registrations, batches, issuance, transfers, retirements (by the holder, by
an operator, several in one atomic retireBatch, issue-and-retire) and the registrar's cancellations. Each
action's outcome (success, or the exact custom error) is predicted by the model first; after every step the
invariants compare the whole chain state of the machine's projects with the model:

- each project's serial-sorted batch list is strictly increasing, disjoint, and holds exactly its batches;
- per id: totalIssued <= issuanceCap, and the cap is quantity * 1000 once verified, 0 before;
- per id: the sum of the holders' balances == totalSupply == the model's supply;
- every (holder, id) balance, project status, restriction flag and used order reference agrees;
- per id: totalIssued == totalSupply + totalRetired + totalCancelled, each equal to the model's, and the
  booked shortfall equals the model's;
- per id: the certificates' amounts (from their RetirementRecorded events) sum to totalRetired, and each
  certificate's stored view (first id, id count, total, owner) agrees with its event and the model.

At the end of each run, the supervision index follows the suite's contracts from their deployment and the state
rebuilt from those events alone must reconcile with the chain with no alert (``supervise_support.Reconciler``).

Runs are deterministic (``derandomize=True``). For a deeper local run, pick the ``tonne-deep`` profile:
``TONNE_HYPOTHESIS_PROFILE=tonne-deep ape test tests/invariants``.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

import pytest
from ape.exceptions import ContractLogicError
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from supervise_support import Reconciler
from support import BatchedReads, FastRevert, FastSender, batch_input, project_input
from tonne.core.ids import describe, encode_id, project_of

# 40 sequences of up to 30 steps, each step followed by a full scan of the machine's state.
settings.register_profile(
    "tonne-ci",
    max_examples=40,
    stateful_step_count=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "tonne-deep",
    parent=settings.get_profile("tonne-ci"),
    max_examples=200,
    stateful_step_count=50,
    derandomize=False,
)
MACHINE_SETTINGS = settings.get_profile(os.environ.get("TONNE_HYPOTHESIS_PROFILE", "tonne-ci"))

UNITS_PER_TONNE = 1000
# At most 5 projects that are not Terminated (a Terminated one is dead weight), at most 7 in all.
MAX_LIVE_PROJECTS, MAX_PROJECTS = 5, 7
# A small serial space and long ranges, so that most new ranges touch or overlap an existing one.
SERIAL_MIN, SERIAL_MAX = 1, 200
MAX_RANGE_LENGTH = 40
MAX_BATCHES_PER_PROJECT = 6
PERIOD = (1609459200, 1640995199)
ZERO_REF = b"\x00" * 32
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
# At most this many ids in one retirement, so that the sequences stay quick.
MAX_RETIRE_IDS = 4
# Planted faults that belong to an id rather than to an amount or a reference.
ID_FAULTS = ("restricted", "unauthorised")


class Status(IntEnum):
    NONE = 0
    PENDING = 1
    APPROVED = 2
    SUSPENDED = 3
    TERMINATED = 4


ALLOWED_MOVES: dict[Status, set[Status]] = {
    Status.PENDING: {Status.APPROVED, Status.TERMINATED},
    Status.APPROVED: {Status.SUSPENDED, Status.TERMINATED},
    Status.SUSPENDED: {Status.APPROVED, Status.TERMINATED},
    Status.TERMINATED: set(),
}


# ---------------------------------------------------------------------------------------------- model


@dataclass
class BatchModel:
    project_id: int
    number: int
    first: int
    last: int
    reference: str
    verified: bool = False

    @property
    def token_id(self) -> int:
        return encode_id(self.project_id, self.number)

    @property
    def cap(self) -> int:
        return (self.last - self.first + 1) * UNITS_PER_TONNE if self.verified else 0


@dataclass
class ProjectModel:
    project_id: int
    status: Status = Status.PENDING
    ever_approved: bool = False
    issuer_authorized: bool = False
    batches: dict[int, BatchModel] = field(default_factory=dict)  # batch number -> batch

    @property
    def restricted(self) -> bool:
        """What the token must see: Suspended or Terminated after having been Approved."""
        return self.ever_approved and self.status in (Status.SUSPENDED, Status.TERMINATED)

    def sorted_batches(self) -> list[BatchModel]:
        return sorted(self.batches.values(), key=lambda b: b.first)

    def hint_for(self, first: int) -> int:
        """Number of the batch with the greatest serialFirst <= first (0: the range would come first)."""
        before = [b for b in self.batches.values() if b.first <= first]
        return max(before, key=lambda b: b.first).number if before else 0

    def overlapping(self, first: int, last: int) -> list[BatchModel]:
        return [b for b in self.batches.values() if b.first <= last and first <= b.last]


@dataclass
class CertificateModel:
    """A certificate as the machine saw it minted: its ids and amounts come from its RetirementRecorded event
    (chain data); `owner` is who the model says must hold it."""

    certificate_id: int
    owner: str
    ids: list[int]
    amounts: list[int]


@dataclass
class Model:
    projects: dict[int, ProjectModel] = field(default_factory=dict)
    balances: dict[tuple[str, int], int] = field(default_factory=dict)  # (holder, id) -> units
    issued: dict[int, int] = field(default_factory=dict)  # id -> units issued
    retired: dict[int, int] = field(default_factory=dict)  # id -> units retired
    cancelled: dict[int, int] = field(default_factory=dict)  # id -> units cancelled by the registrar
    shortfall: dict[int, int] = field(default_factory=dict)  # id -> reversal units not recovered on-chain
    used_refs: set[tuple[int, bytes]] = field(default_factory=set)  # (project id, order reference): scoped
    references: set[str] = field(default_factory=set)
    # (retiring account, retirement reference): references are scoped to the retiring account, so another
    # account's use of the same reference does not block this one.
    retirement_refs: set[tuple[str, bytes]] = field(default_factory=set)
    certificates: list[CertificateModel] = field(default_factory=list)

    def supply(self, token_id: int) -> int:
        return self.issued.get(token_id, 0) - self.retired.get(token_id, 0) - self.cancelled.get(token_id, 0)

    def batches(self) -> list[BatchModel]:
        return [b for p in self.projects.values() for b in p.batches.values()]

    def batch(self, token_id: int) -> BatchModel:
        return next(b for b in self.batches() if b.token_id == token_id)

    def balance(self, holder: str, token_id: int) -> int:
        return self.balances.get((holder, token_id), 0)

    def issue_error(self, orders: Iterable[tuple[int, str, int, bytes]]) -> str | None:
        """The custom error `issue`/`issueMany` must revert with, in the contract's order of checks."""
        issued = dict(self.issued)
        used = set(self.used_refs)
        for token_id, _to, amount, ref in orders:
            p = self.projects[project_of(token_id)]
            if not p.issuer_authorized:
                return "RegistryIssuerNotAuthorized"
            if amount == 0:
                return "CreditZeroAmount"
            cap = self.batch(token_id).cap
            if cap == 0:
                return "CreditBatchNotOpen"
            if amount > cap - issued.get(token_id, 0):
                return "CreditIssuanceExceedsCap"
            issued[token_id] = issued.get(token_id, 0) + amount
            if ref != ZERO_REF:
                if (project_of(token_id), ref) in used:  # order references are scoped to the project
                    return "CreditOrderReferenceUsed"
                used.add((project_of(token_id), ref))
            if p.restricted:
                return "CreditProjectRestricted"
        return None

    def apply_issue(self, orders: Iterable[tuple[int, str, int, bytes]]) -> None:
        for token_id, to, amount, ref in orders:
            self.issued[token_id] = self.issued.get(token_id, 0) + amount
            self.balances[(to, token_id)] = self.balance(to, token_id) + amount
            if ref != ZERO_REF:
                self.used_refs.add((project_of(token_id), ref))

    def transfer_error(self, sender: str, to: str, items: list[tuple[int, int]]) -> str | None:
        """The error a (batch) transfer must revert with: restriction first, then balances in order."""
        for token_id, _ in items:
            if self.projects[project_of(token_id)].restricted:
                return "CreditProjectRestricted"
        balances = dict(self.balances)
        for token_id, amount in items:
            if balances.get((sender, token_id), 0) < amount:
                return "ERC1155InsufficientBalance"
            balances[(sender, token_id)] = balances.get((sender, token_id), 0) - amount
            balances[(to, token_id)] = balances.get((to, token_id), 0) + amount
        return None

    def apply_transfer(self, sender: str, to: str, items: list[tuple[int, int]]) -> None:
        for token_id, amount in items:
            self.balances[(sender, token_id)] = self.balance(sender, token_id) - amount
            self.balances[(to, token_id)] = self.balance(to, token_id) + amount

    def retire_error(self, holder: str, items: list[tuple[int, int]], ref: bytes) -> str | None:
        """The error a retirement must revert with: zero amounts (checked for every id first), then the burn's
        checks (as a transfer's), then a replayed retirement reference."""
        if any(amount == 0 for _, amount in items):
            return "CreditZeroAmount"
        return self.transfer_error(holder, ZERO_ADDRESS, items) or self._retirement_ref_error(holder, ref)

    def issue_and_retire_error(
        self, issuer: str, token_id: int, amount: int, order_ref: bytes, ref: bytes
    ) -> str | None:
        """issueRetired checks the issuer and the restriction before the issuance itself (no mint runs); the
        reference is the issuer's (the retiring account)."""
        p = self.projects[project_of(token_id)]
        if not p.issuer_authorized:
            return "RegistryIssuerNotAuthorized"
        if p.restricted:
            return "CreditProjectRestricted"
        issue = self.issue_error([(token_id, ZERO_ADDRESS, amount, order_ref)])
        return issue or self._retirement_ref_error(issuer, ref)

    def _retirement_ref_error(self, account: str, ref: bytes) -> str | None:
        return "RetirementReferenceUsed" if ref != ZERO_REF and (account, ref) in self.retirement_refs else None

    def refs_of(self, account: str) -> list[bytes]:
        """The retirement references ``account`` used (sorted), or every used one when it used none."""
        own = sorted(ref for a, ref in self.retirement_refs if a == account)
        return own or sorted({ref for _, ref in self.retirement_refs})

    def apply_retire(self, holder: str, items: list[tuple[int, int]], ref: bytes) -> None:
        for token_id, amount in items:
            self.balances[(holder, token_id)] = self.balance(holder, token_id) - amount
            self.retired[token_id] = self.retired.get(token_id, 0) + amount
        if ref != ZERO_REF:
            self.retirement_refs.add((holder, ref))

    def cancel_error(self, token_id: int, items: list[tuple[str, int]], reversal: int) -> str | None:
        """cancel: zero amounts and balances holder by holder (the burn bypasses pause, freezes and
        restrictions), then the reversal against what was cancelled."""
        left = dict(self.balances)
        for holder, amount in items:
            if amount == 0:
                return "CreditZeroAmount"
            if left.get((holder, token_id), 0) < amount:
                return "ERC1155InsufficientBalance"
            left[(holder, token_id)] = left.get((holder, token_id), 0) - amount
        cancelled = sum(amount for _, amount in items)
        if reversal < cancelled:
            return "CreditReversalBelowCancelled"
        return "CreditZeroAmount" if reversal == 0 else None

    def apply_cancel(self, token_id: int, items: list[tuple[str, int]], reversal: int) -> None:
        for holder, amount in items:
            self.balances[(holder, token_id)] = self.balance(holder, token_id) - amount
        cancelled = sum(amount for _, amount in items)
        self.cancelled[token_id] = self.cancelled.get(token_id, 0) + cancelled
        self.shortfall[token_id] = self.shortfall.get(token_id, 0) + reversal - cancelled


# ---------------------------------------------------------------------------------------------- machine


@dataclass
class Env:
    registry: Any
    credit: Any
    retirement: Any
    registrar: Any
    verifier: Any
    issuer: Any
    holders: list[Any]
    chain: Any
    outcomes: Counter[str] = field(default_factory=Counter)  # "rule: ok" or "rule: ErrorName" -> count
    reconciler: Reconciler | None = None  # the supervision index's reconciliation, once at the end of each run


def send_expecting(
    outcomes: Counter[str],
    label: str,
    expected: str | set[str] | None,
    send: Callable[[], Any],
    decoders: Iterable[Any] = (),
) -> Any | None:
    """Send a transaction; it must succeed when `expected` is None, else revert with one of those custom errors.

    Returns the receipt, or None after the expected revert, and counts the outcome in `outcomes`. The machine
    sends through `support.FastSender`, which decodes revert data with the suite's ABIs (`FastRevert`); an ape
    call's error that bubbles up from a contract below the one called may reach ape undecoded: it is decoded
    with the first of `decoders` whose ABI has its selector.
    """
    if expected is None:
        receipt = send()
        outcomes[f"{label}: ok"] += 1
        return receipt
    names = {expected} if isinstance(expected, str) else expected
    try:
        send()
    except (ContractLogicError, FastRevert) as err:
        name = getattr(err, "name", None) or _decode_raw(err, decoders) or repr(err)
        assert name in names, f"{label}: reverted with {name} ({err}), expected one of {sorted(names)}"
        outcomes[f"{label}: {name}"] += 1
        return None
    raise AssertionError(f"{label}: transaction succeeded, expected a revert with one of {sorted(names)}")


def _decode_raw(err: ContractLogicError, decoders: Iterable[Any]) -> str | None:
    data = getattr(err, "revert_message", None)
    if not isinstance(data, str) or not data.startswith("0x") or len(data) < 10:
        return None
    selector = bytes.fromhex(data[2:10])
    for contract in decoders:
        try:
            return contract.contract_type.errors[selector].name
        except KeyError:
            continue
    return None


class RegistryTokenMachine(RuleBasedStateMachine):
    def __init__(self, env: Env) -> None:
        super().__init__()
        self.env = env
        self.snapshot = env.chain.snapshot()
        self.reads = BatchedReads(env.chain.provider.web3, env.registry, env.credit, env.retirement)
        self.model = Model()
        self.base_project_count = env.registry.projectCount()
        self.base_certificate_count = env.retirement.certificateCount()
        self.holders = [h.address for h in env.holders]
        self.holder_accounts = {h.address: h for h in env.holders}
        self.next_reference = 0
        self.next_order_ref = 0
        self.tried_refs: set[bytes] = set()
        self.next_retirement_ref = 0

    def teardown(self) -> None:
        try:
            if self.env.reconciler is not None:
                self.env.reconciler.check()  # the state rebuilt from the run's events equals the chain's
        finally:  # a failed check leaves the chain as the next (shrinking) run expects it
            self.env.chain.restore(self.snapshot)

    # -------------------------------------------------------------------------------- helpers

    def _send(self, label: str, expected: str | set[str] | None, send: Callable[[], Any]) -> Any | None:
        env = self.env
        return send_expecting(env.outcomes, label, expected, send, (env.credit, env.registry, env.retirement))

    def _fresh_reference(self) -> str:
        self.next_reference += 1
        return f"ISS-{self.base_project_count}-{self.next_reference}"

    def _draw_range(self, data: st.DataObject, p: ProjectModel) -> tuple[int, int]:
        """A random range, one that starts/ends on or right next to an existing batch's edge, or one that starts
        inside a batch. Once the project holds MAX_BATCHES_PER_PROJECT batches, always the last kind: the
        overlap checks keep being exercised while the state (and the invariants' reads) stay small."""
        length = data.draw(st.integers(1, MAX_RANGE_LENGTH), label="length")
        if len(p.batches) >= MAX_BATCHES_PER_PROJECT:
            mode = "inside"
        else:
            modes = ["after", "inside", "before", "random"] if p.batches else ["random"]
            mode = data.draw(st.sampled_from(modes), label="range mode")
        if mode == "random":
            first = data.draw(st.integers(SERIAL_MIN, SERIAL_MAX), label="first")
            return first, first + length - 1
        b = data.draw(st.sampled_from(p.sorted_batches()), label="neighbour")
        if mode == "inside":
            first = data.draw(st.integers(b.first, b.last), label="first")
            return first, first + length - 1
        gap = data.draw(st.integers(0, 1), label="gap")  # 0: shares the edge serial, 1: adjacent
        if mode == "after":
            first = b.last + gap
            return first, first + length - 1
        last = max(SERIAL_MIN, b.first - gap)
        return max(SERIAL_MIN, last - length + 1), last

    def _amount(self, data: st.DataObject, available: int, label: str) -> int:
        """A valid amount: within `available` or exactly it (zero only when nothing is available)."""
        if available <= 0:
            return 0
        return data.draw(st.one_of(st.integers(1, available), st.just(available)), label=label)

    def _excess(self, data: st.DataObject, available: int, label: str) -> int:
        """An amount above `available`: mostly by one unit (where off-by-one bugs live), else by up to 50 t."""
        available = max(available, 0)
        if data.draw(st.sampled_from([True, True, True, False]), label=f"{label} by one"):
            return available + 1
        return data.draw(st.integers(available + 2, available + 50 * UNITS_PER_TONNE), label=label)

    def _draw_id(self, data: st.DataObject, pool: list[BatchModel], label: str) -> BatchModel:
        """A batch from `pool`, or from all batches when `pool` is empty."""
        return data.draw(st.sampled_from(pool or self.model.batches()), label=label)

    def _draw_fault(self, data: st.DataObject, count: int, kinds: list[str]) -> tuple[int, str]:
        """Two calls in three are meant to pass (index -1); else one item gets a fault of `kinds`.

        A fault of the id (restricted project, issuer not authorised) goes on the last item, behind valid ones
        of other ids: that is where a check made once per call instead of once per id would miss it."""
        if not data.draw(st.sampled_from([False, False, True]), label="plant a fault"):
            return -1, ""
        kind = data.draw(st.sampled_from(kinds), label="fault")
        if kind in ID_FAULTS:
            return count - 1, kind
        return data.draw(st.integers(0, count - 1), label="faulty item"), kind

    def _issue_orders(self, data: st.DataObject, count: int) -> tuple[list[tuple[int, str, int, bytes]], str]:
        """`count` orders meant to pass, or with one planted fault: a zero or excessive amount, an unopened id,
        an id of a restricted project or of one the issuer is not authorised for, a replayed reference.
        Returns the orders and the fault ("" for none)."""
        batches = self.model.batches()
        pools = {
            "": [b for b in batches if b.verified and self._issuable(b)],
            "unopened": [b for b in batches if not b.verified],
            "restricted": [b for b in batches if b.verified and self._restricted(b)],
            "unauthorised": [b for b in batches if not self.model.projects[b.project_id].issuer_authorized],
        }
        # Id faults twice: they need a second, valid order before them to catch a check made once per call.
        kinds = ["zero", "excess"] + [k for k in ("unopened", *ID_FAULTS, *ID_FAULTS) if pools[k]]
        kinds += ["replay"] if self.model.used_refs else []
        faulty, fault = self._draw_fault(data, count, kinds)
        orders: list[tuple[int, str, int, bytes]] = []
        pending = dict(self.model.issued)
        for i in range(count):
            kind = fault if i == faulty else ""
            pool = pools.get(kind, pools[""])
            if not kind:  # valid orders on ids with something left to issue, where there are such ids
                pool = [b for b in pool if b.cap > pending.get(b.token_id, 0)] or pool
            b = self._draw_id(data, pool, f"order {i} id")
            to = data.draw(st.sampled_from(self.holders), label=f"order {i} to")
            available = b.cap - pending.get(b.token_id, 0)
            if kind == "zero":
                amount = 0
            elif kind == "excess":
                amount = self._excess(data, available, f"order {i} amount")
            else:
                amount = self._amount(data, available, f"order {i} amount")
            if kind == "replay":
                ref = data.draw(
                    st.sampled_from(sorted({ref for _, ref in self.model.used_refs})), label=f"order {i} ref"
                )
            elif data.draw(st.booleans(), label=f"order {i} has ref"):
                self.next_order_ref += 1
                ref = self.next_order_ref.to_bytes(32, "big")
                self.tried_refs.add(ref)
            else:
                ref = ZERO_REF
            pending[b.token_id] = pending.get(b.token_id, 0) + amount
            orders.append((b.token_id, to, amount, ref))
        return orders, fault

    def _restricted(self, b: BatchModel) -> bool:
        return self.model.projects[b.project_id].restricted

    def _issue(self, orders: list[tuple[int, str, int, bytes]], many: bool, label: str) -> None:
        """Send `issue` (one order) or `issueMany` and check the outcome against the model."""
        credit, issuer = self.env.credit, self.env.issuer

        def send() -> Any:
            if many:
                return credit.issueMany([list(o) for o in orders], sender=issuer)
            return credit.issue(*orders[0], sender=issuer)

        if self._send(label, self.model.issue_error(orders), send) is not None:
            self.model.apply_issue(orders)

    def _movable_holders(self) -> list[str]:
        """Holders with a balance of an id whose project is not restricted."""
        movable = [b for b in self.model.batches() if not self._restricted(b)]
        return [h for h in self.holders if any(self.model.balance(h, b.token_id) for b in movable)]

    def _issuable(self, b: BatchModel) -> bool:
        p = self.model.projects[b.project_id]
        return p.issuer_authorized and not p.restricted and self.model.issued.get(b.token_id, 0) < b.cap

    def _transfer_items(self, data: st.DataObject, sender: str, count: int) -> tuple[list[tuple[int, int]], str]:
        """`count` (id, amount) items meant to pass (ids may repeat), or with one planted fault: an amount above
        the balance left, or an id of a restricted project. Returns the items and the fault ("" for none)."""
        owned = [b for b in self.model.batches() if self.model.balance(sender, b.token_id) > 0]
        pools = {
            "": [b for b in owned if not self._restricted(b)],
            "restricted": [b for b in self.model.batches() if self._restricted(b)],
        }
        faulty, fault = self._draw_fault(data, count, ["excess"] + (["restricted"] if pools["restricted"] else []))
        left = {b.token_id: self.model.balance(sender, b.token_id) for b in self.model.batches()}
        items = []
        for i in range(count):
            kind = fault if i == faulty else ""
            token_id = self._draw_id(data, pools.get(kind, pools[""]), f"item {i} id").token_id
            if kind == "excess":
                amount = self._excess(data, left[token_id], f"item {i} amount")
            else:
                amount = self._amount(data, left[token_id], f"item {i} amount")
            left[token_id] -= amount
            items.append((token_id, amount))
        return items, fault

    def _add_batch(
        self, label: str, p: ProjectModel, first: int, last: int, hint: int, reuse_reference: bool
    ) -> BatchModel | None:
        """Send addBatch with `hint`, check the outcome against the model, and return the new batch if any."""
        reference = (
            sorted(self.model.references)[0] if reuse_reference and self.model.references else self._fresh_reference()
        )
        correct_hint = p.hint_for(first)
        overlap = p.overlapping(first, last)
        expected: set[str] | None
        if p.status != Status.APPROVED:
            expected = {"RegistryProjectNotApproved"}
        elif reference in self.model.references:
            expected = {"RegistryIssuanceReferenceUsed"}
        elif hint == correct_hint:
            expected = {"RegistrySerialOverlap"} if overlap else None
        else:
            # A wrong hint may be caught either way when the range overlaps; never may it pass.
            expected = {"RegistryBadPositionHint", "RegistrySerialOverlap"} if overlap else {"RegistryBadPositionHint"}

        def send() -> Any:
            return self.env.registry.addBatch(
                p.project_id, batch_input(first, last, reference, PERIOD), hint, sender=self.env.registrar
            )

        receipt = self._send(label, expected, send)
        if receipt is None:
            # Nothing of the rejected batch may remain; the invariants check the rest of the state.
            earlier = next((b.token_id for b in self.model.batches() if b.reference == reference), 0)
            assert self.env.registry.batchOfIssuanceReference(reference) == earlier, f"reference {reference}"
            return None
        number = len(p.batches) + 1
        assert receipt.return_value == encode_id(p.project_id, number)
        b = p.batches[number] = BatchModel(p.project_id, number, first, last, reference)
        self.model.references.add(reference)
        return b

    @staticmethod
    def _wrong_hints(p: ProjectModel, correct: int) -> dict[str, list[int]]:
        """Every hint but `correct`, by kind: a batch (or 0, the list head) before the right place in the serial
        order, a batch after it, or a number of no stored batch (the new batch's own number, or beyond)."""
        order = [0] + [b.number for b in p.sorted_batches()]
        at = order.index(correct)
        return {
            "hint before": order[:at],
            "hint after": order[at + 1 :],
            "hint to no batch": [len(p.batches) + 1, len(p.batches) + 2],
        }

    def _verify(self, b: BatchModel) -> None:
        """Send verifyBatch and check the outcome against the model."""
        expected = None
        if b.verified:
            expected = "RegistryBatchAlreadyVerified"
        elif self.model.projects[b.project_id].status != Status.APPROVED:
            expected = "RegistryProjectNotApproved"

        def send() -> Any:
            return self.env.registry.verifyBatch(b.token_id, sender=self.env.verifier)

        if self._send("verify_batch", expected, send) is not None:
            b.verified = True

    # -------------------------------------------------------------------------------- registrar

    def _register_project(self, approve: bool, authorize: bool) -> ProjectModel:
        env = self.env
        receipt = env.registry.registerProject(project_input(owner=env.holders[0]), sender=env.registrar)
        project_id = receipt.return_value
        assert project_id == self.base_project_count + len(self.model.projects) + 1
        p = self.model.projects[project_id] = ProjectModel(project_id)
        if approve:
            env.registry.setProjectStatus(project_id, int(Status.APPROVED), "validated", sender=env.registrar)
            p.status, p.ever_approved = Status.APPROVED, True
        if authorize:
            env.registry.setProjectIssuer(project_id, env.issuer, True, sender=env.registrar)
            p.issuer_authorized = True
        return p

    @initialize(data=st.data())
    def start_with_credits(self, data: st.DataObject) -> None:
        """Four approved projects with one verified batch each. The first three are partly issued to the holders,
        then the third is suspended (its credits are restricted); the issuer is not authorised for the fourth.
        So every sequence can issue, transfer, and meet a restricted id and an id it may not issue from its
        first step: Hypothesis runs each sequence with a random subset of the rules ("swarm testing"), and
        without this start a sequence lacking the issuing or status rules would test little."""
        projects = []
        for i in range(4):
            p = self._register_project(approve=True, authorize=i < 3)
            first, last = self._draw_range(data, p)
            added = self._add_batch("add_batch", p, first, last, 0, reuse_reference=False)
            assert added is not None
            self._verify(added)
            projects.append(p)
        orders = []
        for i, b in enumerate(self.model.batches()[:3]):
            for h in data.draw(st.lists(st.sampled_from(self.holders), min_size=1, max_size=3), label=f"holders {i}"):
                orders.append((b.token_id, h, self._amount(data, b.cap // 4, f"amount {i}"), ZERO_REF))
        self._issue(orders, many=True, label="issueMany (start)")
        self._set_status(projects[2], Status.SUSPENDED)
        # The first holder lets the second retire for it; every other (holder, operator) pair is unapproved.
        self.env.credit.setApprovalForAll(self.holders[1], True, sender=self.env.holders[0])
        # Every sequence also meets a reversal smaller than what it cancels, which the chain must refuse whole
        # (the random cancels reach it too, but too rarely to count on in 40 sequences). No draw is made here,
        # so the sequences that follow are unchanged.
        b = self.model.batches()[0]
        h = next(h for h in self.holders if self.model.balance(h, b.token_id) > 0)
        registry, registrar = self.env.registry, self.env.registrar
        self._send(
            "cancelCredits",
            self.model.cancel_error(b.token_id, [(h, 1)], 0),
            lambda: registry.cancelCredits(b.token_id, [h], [1], 0, "reversal", sender=registrar),
        )
        # Likewise, without draws: a cancel of one unit more than the holder has (refused whole, before the
        # reversal is looked at), one unit over the cap, and an issueMany whose last order is of the restricted
        # project behind a valid one (a check made once per call would miss it). The model predicts both.
        held = self.model.balance(h, b.token_id)
        self._send(
            "cancelCredits",
            self.model.cancel_error(b.token_id, [(h, held + 1)], held + 1),
            lambda: registry.cancelCredits(b.token_id, [h], [held + 1], held + 1, "reversal", sender=registrar),
        )
        over = b.cap - self.model.issued.get(b.token_id, 0) + 1
        self._issue([(b.token_id, self.holders[0], over, ZERO_REF)], many=False, label="issue")
        restricted = self.model.batches()[2]
        orders = [(b.token_id, self.holders[0], 1, ZERO_REF), (restricted.token_id, self.holders[1], 1, ZERO_REF)]
        self._issue(orders, many=True, label="issueMany (restricted id last)")
        # Still without draws: retirement references are the retiring account's. The issuer retires with one,
        # a holder then uses the same one (another account's: allowed, the audit's squatting case) and uses it
        # a second time (its own: refused). The holder is first given the 2 units these retirements burn.
        ref = (1 << 254).to_bytes(32, "big")  # never a fresh reference (1 << 255 | n)
        self._issue([(b.token_id, h, 2, ZERO_REF)], many=False, label="issue")
        self._send_issue_and_retire(b.token_id, 1, ZERO_REF, ZERO_ADDRESS, ref)
        self._send_retire(h, [(b.token_id, 1)], ZERO_ADDRESS, ref, "retire (another account's reference)")
        self._send_retire(h, [(b.token_id, 1)], ZERO_ADDRESS, ref, "retire")
        # And the approved operator retires one unit for the first holder (retireFrom), which the random actions
        # reach only by a lucky draw: one operator pair is approved, and the batch actions share the draws.
        first = self.holders[0]
        self._issue([(b.token_id, first, 1, ZERO_REF)], many=False, label="issue")
        ref_from = ((1 << 254) | 1).to_bytes(32, "big")  # never a drawn reference either
        self._send_retire(first, [(b.token_id, 1)], ZERO_ADDRESS, ref_from, "retireFrom", operator=self.holders[1])

    @rule(data=st.data())
    def act(self, data: st.DataObject) -> None:
        """One action of one role, drawn with fixed weights. All actions share this one rule on purpose:
        Hypothesis turns whole rules off at random for each sequence ("swarm testing"), and with one rule per
        action most sequences ended up flipping statuses while few issued or overlapped anything."""
        actors = ["registrar"] * 3 + ["holder"] * 3 + ["retiree"] * 2 + ["batch retiree"]
        if any(self._issuable(b) for b in self.model.batches()):
            actors += ["issuer"] * 3
        if any(not b.verified for b in self.model.batches()):
            actors += ["verifier"] * 2
        actor = data.draw(st.sampled_from(actors), label="actor")
        if actor in ("holder", "retiree", "batch retiree") and not self._movable_holders():
            actor = "registrar"
        self.env.outcomes[f"(steps of the {actor})"] += 1
        {
            "registrar": self._registrar_acts,
            "verifier": self._verifier_verifies,
            "issuer": self._issuer_issues,
            "holder": self._holder_transfers,
            "retiree": self._holder_retires,
            "batch retiree": self._holder_retires_batch,
        }[actor](data)

    def _registrar_acts(self, data: st.DataObject) -> None:
        # Weighted: adding batches (and so the overlap checks) is what this machine is most about.
        actions = ["add batch"] * 3 + ["set project status"] * 2 + ["set issuer", "register project"] + ["cancel"] * 2
        action = data.draw(st.sampled_from(actions), label="registrar action")
        live = sum(p.status != Status.TERMINATED for p in self.model.projects.values())
        if action == "register project" and len(self.model.projects) < MAX_PROJECTS and live < MAX_LIVE_PROJECTS:
            approve = data.draw(st.sampled_from([True, True, True, False]), label="approve")
            authorize = data.draw(st.sampled_from([True, True, True, False]), label="authorize")
            self._register_project(approve, authorize)
        elif action == "set project status":
            self._registrar_sets_status(data)
        elif action == "set issuer":
            self._registrar_sets_issuer(data)
        elif action == "cancel":
            self._registrar_cancels(data)
        else:
            self._registrar_adds_batch(data)

    def _registrar_sets_status(self, data: st.DataObject) -> None:
        """Mostly an allowed move other than to Terminated (which is final), sometimes Terminated, sometimes any
        status (mostly not allowed)."""
        kind = data.draw(st.sampled_from(["allowed"] * 6 + ["terminate", "any"]), label="kind of move")
        projects = list(self.model.projects.values())
        live = [p for p in projects if p.status != Status.TERMINATED]
        if live and data.draw(st.sampled_from([True, True, True, False]), label="live project"):
            projects = live
        p = data.draw(st.sampled_from(projects), label="project")
        moves = sorted(ALLOWED_MOVES[p.status] - {Status.TERMINATED})
        if kind == "allowed" and moves:
            new_status = data.draw(st.sampled_from(moves), label="new status")
        elif kind == "terminate":
            new_status = Status.TERMINATED
        else:
            new_status = data.draw(st.sampled_from(list(Status)), label="new status")
        self._set_status(p, new_status)

    def _set_status(self, p: ProjectModel, new_status: Status) -> None:
        """Send setProjectStatus and check the outcome against the model."""
        registry, registrar = self.env.registry, self.env.registrar
        allowed = new_status in ALLOWED_MOVES[p.status]

        def send() -> Any:
            return registry.setProjectStatus(p.project_id, int(new_status), "review", sender=registrar)

        if self._send("set_project_status", None if allowed else "RegistryInvalidStatusTransition", send) is None:
            return
        p.status = new_status
        p.ever_approved = p.ever_approved or new_status == Status.APPROVED

    def _registrar_sets_issuer(self, data: st.DataObject) -> None:
        p = data.draw(st.sampled_from(list(self.model.projects.values())), label="project")
        authorized = data.draw(st.sampled_from([True, True, True, False]), label="authorized")
        registry, registrar = self.env.registry, self.env.registrar
        self._send(
            "set_project_issuer",
            None,
            lambda: registry.setProjectIssuer(p.project_id, self.env.issuer, authorized, sender=registrar),
        )
        p.issuer_authorized = authorized

    def _registrar_cancels(self, data: st.DataObject) -> None:
        """cancelCredits of one id: from zero to three holders (repeats allowed) and a reversal that equals what
        is cancelled, or exceeds it (a shortfall), or one planted fault: an amount above a balance, a zero
        amount, or a reversal below what is cancelled. Mostly on an id that holders hold."""
        held = [b for b in self.model.batches() if any(self.model.balance(h, b.token_id) for h in self.holders)]
        b = self._draw_id(data, held if data.draw(st.sampled_from([True] * 3 + [False]), label="held") else [], "id")
        count = data.draw(st.integers(0, 3), label="holders")
        kinds = ["excess", "excess", "zero", "reversal below"] if count else ["zero reversal"]
        faulty, fault = self._draw_fault(data, max(count, 1), kinds)
        left = {h: self.model.balance(h, b.token_id) for h in self.holders}
        items: list[tuple[str, int]] = []
        for i in range(count):
            kind = fault if i == faulty else ""
            with_credits = [h for h in self.holders if left[h] > 0]
            h = data.draw(st.sampled_from(with_credits or self.holders), label=f"holder {i}")
            if kind == "excess":
                amount = self._excess(data, left[h], f"amount {i}")
            elif kind == "zero" or left[h] == 0:
                amount = 0
            else:
                amount = self._amount(data, left[h], f"amount {i}")
            left[h] -= amount
            items.append((h, amount))
        cancelled = sum(amount for _, amount in items)
        if fault == "reversal below" and cancelled > 0:
            reversal = data.draw(st.integers(0, cancelled - 1), label="reversal")
        elif fault == "zero reversal":
            reversal = 0
        else:
            extra = data.draw(st.sampled_from([0, 0, 1, UNITS_PER_TONNE, 7 * UNITS_PER_TONNE]), label="shortfall")
            reversal = cancelled + extra
        registry, registrar = self.env.registry, self.env.registrar

        def send() -> Any:
            holders, amounts = [h for h, _ in items], [a for _, a in items]
            return registry.cancelCredits(b.token_id, holders, amounts, reversal, "reversal", sender=registrar)

        label = "cancelCredits (shortfall)" if reversal > cancelled else "cancelCredits"
        if self._send(label, self.model.cancel_error(b.token_id, items, reversal), send) is not None:
            self.model.apply_cancel(b.token_id, items, reversal)

    def _registrar_adds_batch(self, data: st.DataObject) -> None:
        """A random range on a project, mostly an Approved one; with the hint the tooling would compute (2 in 5),
        any other hint (2 in 5: a batch before or after the right place, or a number of no stored batch), or an
        issuance reference already used (1 in 5). One batch added in four is verified at once, so that
        issuance is reached sooner."""
        projects = list(self.model.projects.values())
        approved = [p for p in projects if p.status == Status.APPROVED]
        if approved and data.draw(st.sampled_from([True, True, True, False]), label="approved project"):
            projects = approved
        p = data.draw(st.sampled_from(projects), label="project")
        first, last = self._draw_range(data, p)
        correct = p.hint_for(first)
        mode = data.draw(st.sampled_from(["computed hint"] * 2 + ["wrong hint"] * 2 + ["used reference"]), label="mode")
        if mode == "wrong hint":
            wrong_hints = self._wrong_hints(p, correct)
            kind = data.draw(st.sampled_from(sorted(k for k, hints in wrong_hints.items() if hints)), label="hint")
            hint = data.draw(st.sampled_from(wrong_hints[kind]), label="hint")
            added = self._add_batch(f"add_batch ({kind})", p, first, last, hint, reuse_reference=False)
        else:
            added = self._add_batch("add_batch", p, first, last, correct, reuse_reference=mode == "used reference")
        if added is not None and data.draw(st.sampled_from([False, False, False, True]), label="verify now"):
            self._verify(added)

    # -------------------------------------------------------------------------------- verifier

    def _verifier_verifies(self, data: st.DataObject) -> None:
        """Mostly a batch not verified yet; now and then any batch, perhaps one verified already."""
        again = data.draw(st.sampled_from([False, False, False, True]), label="any batch")
        unverified = [b for b in self.model.batches() if not b.verified]
        self._verify(self._draw_id(data, [] if again else unverified, "batch"))

    # -------------------------------------------------------------------------------- issuer

    def _issuer_issues(self, data: st.DataObject) -> None:
        """One order through `issue`, or one to four through `issueMany`, or (one time in five) one through
        `issueAndRetire`. Only while some id can be issued (see `act`), so that planted faults sit among valid
        orders."""
        if data.draw(st.sampled_from([False] * 4 + [True]), label="issueAndRetire"):
            self._issuer_issues_and_retires(data)
            return
        many = data.draw(st.booleans(), label="issueMany")
        orders, fault = self._issue_orders(data, data.draw(st.integers(2, 4), label="orders") if many else 1)
        label = "issueMany" if many else "issue"
        if fault in ID_FAULTS and len(orders) > 1:
            label += f" ({fault} id last)"
        self._issue(orders, many, label)

    def _issuer_issues_and_retires(self, data: st.DataObject) -> None:
        """issueAndRetire of one order (with the same planted faults as `issue`) for a random beneficiary."""
        orders, _fault = self._issue_orders(data, 1)
        token_id, _to, amount, order_ref = orders[0]
        beneficiary, ref = self._retirement_input_parts(data, str(self.env.issuer.address))
        self._send_issue_and_retire(token_id, amount, order_ref, beneficiary, ref)

    def _send_issue_and_retire(
        self, token_id: int, amount: int, order_ref: bytes, beneficiary: str, ref: bytes
    ) -> None:
        retirement, issuer = self.env.retirement, self.env.issuer
        expected = self.model.issue_and_retire_error(str(issuer.address), token_id, amount, order_ref, ref)

        def send() -> Any:
            return retirement.issueAndRetire(
                token_id, amount, order_ref, self._retirement_input(beneficiary, ref), sender=issuer
            )

        receipt = self._send("issueAndRetire", expected, send)
        if receipt is None:
            return
        self.model.issued[token_id] = self.model.issued.get(token_id, 0) + amount
        if order_ref != ZERO_REF:
            self.model.used_refs.add((project_of(token_id), order_ref))
        self.model.retired[token_id] = self.model.retired.get(token_id, 0) + amount
        if ref != ZERO_REF:
            self.model.retirement_refs.add((str(issuer.address), ref))
        self._record_certificate(receipt, beneficiary if beneficiary != ZERO_ADDRESS else issuer.address)

    # -------------------------------------------------------------------------------- retirement

    def _retirement_input_parts(self, data: st.DataObject, account: str) -> tuple[str, bytes]:
        """A beneficiary (a holder, or none: the certificate then goes to the retiring account) and a retirement
        reference: none, a fresh one, or (one time in six, once any was used) a replayed one: one `account` (the
        retiring account) used, or, while it used none, another account's (which it may use)."""
        beneficiary = data.draw(st.sampled_from([*self.holders, ZERO_ADDRESS]), label="beneficiary")
        kinds = ["none", "none", "fresh", "fresh", "fresh"] + (["replay"] if self.model.retirement_refs else [])
        kind = data.draw(st.sampled_from(kinds), label="retirement reference")
        if kind == "replay":
            return beneficiary, data.draw(st.sampled_from(self.model.refs_of(account)), label="replayed")
        if kind == "none":
            return beneficiary, ZERO_REF
        self.next_retirement_ref += 1
        return beneficiary, (1 << 255 | self.next_retirement_ref).to_bytes(32, "big")

    @staticmethod
    def _retirement_input(beneficiary: str, ref: bytes) -> dict[str, Any]:
        return {
            "beneficiary": beneficiary,
            "beneficiaryName": "Beneficiary",
            "reason": "Scope 1 emissions",
            "jurisdiction": "DE",
            "periodStart": PERIOD[0],
            "periodEnd": PERIOD[1],
            "retirementRef": ref,
        }

    def _record_certificate(self, receipt: Any, owner: str) -> None:
        """Keeps the minted certificate's ids and amounts as its RetirementRecorded event states them."""
        (event,) = receipt.decode_logs(self.env.retirement.RetirementRecorded)
        certificate_id = self.base_certificate_count + len(self.model.certificates) + 1
        assert event.certificateId == certificate_id == receipt.return_value
        self.model.certificates.append(
            CertificateModel(certificate_id, owner, [int(i) for i in event.ids], [int(a) for a in event.amounts])
        )

    def _holder_retires(self, data: st.DataObject) -> None:
        """A holder retires one id (`retire`) or two to four (repeats allowed), or an operator does so for it
        (`retireFrom`: approved for the first holder only). Faults: an amount above the balance, an id of a
        restricted project, a zero amount, a replayed retirement reference, an unapproved operator."""
        by_operator = data.draw(st.sampled_from([False] * 3 + [True]), label="retireFrom")
        approved_pair = by_operator and data.draw(st.booleans(), label="the approved operator")
        movable = self._movable_holders()
        holders = movable if data.draw(st.sampled_from([True] * 3 + [False]), label="owner") else self.holders
        holder = self.holders[0] if approved_pair else data.draw(st.sampled_from(holders), label="holder")
        count = data.draw(st.integers(1, MAX_RETIRE_IDS), label="ids")
        items, fault = self._transfer_items(data, holder, count)
        if not fault:
            # Repeated ids may find the balance spent by an earlier item: drop those, keeping at least one item.
            items = [item for item in items if item[1] > 0] or items[:1]
            if data.draw(st.sampled_from([False] * 7 + [True]), label="zero amount"):
                at = data.draw(st.integers(0, len(items) - 1), label="zero item")
                items[at] = (items[at][0], 0)
        count = len(items)
        beneficiary, ref = self._retirement_input_parts(data, holder)
        caller = holder
        if approved_pair:
            caller = self.holders[1]
        elif by_operator:
            caller = data.draw(st.sampled_from([h for h in self.holders if h != holder]), label="operator")
        approved = caller == holder or (holder, caller) == (self.holders[0], self.holders[1])
        expected = "RetirementOperatorNotApproved" if not approved else self.model.retire_error(holder, items, ref)
        retirement, account = self.env.retirement, self.holder_accounts[caller]
        ids, amounts = [i for i, _ in items], [a for _, a in items]

        def send() -> Any:
            retirement_input = self._retirement_input(beneficiary, ref)
            if by_operator:
                return retirement.retireFrom(holder, ids, amounts, retirement_input, sender=account)
            return retirement.retire(ids, amounts, retirement_input, sender=account)

        label = ("retireFrom" if by_operator else "retire") + (" (several ids)" if count > 1 else "")
        receipt = self._send(label, expected, send)
        if receipt is not None:
            self.model.apply_retire(holder, items, ref)
            self._record_certificate(receipt, beneficiary if beneficiary != ZERO_ADDRESS else holder)

    def _holder_retires_batch(self, data: st.DataObject) -> None:
        """`retireBatch`: a holder retires two or three entries of its own credits (one or two ids each) in one
        transaction, one certificate each. Faults as for `retire`, in any entry (the whole batch must revert with the
        first faulty entry's error and change nothing), an entry spending what an earlier one retired, and a
        reference repeated inside the batch."""
        holder = data.draw(st.sampled_from(self._movable_holders()), label="batch holder")
        n = data.draw(st.integers(2, 3), label="entries")
        after = Model(
            projects=self.model.projects,
            balances=dict(self.model.balances),
            retired=dict(self.model.retired),
            retirement_refs=set(self.model.retirement_refs),
        )  # what the model says after each entry, to know the batch's first error
        entries: list[tuple[list[tuple[int, int]], str, bytes]] = []
        expected: str | None = None
        for _ in range(n):
            # Drawn against what the entries before left (mostly meant to pass), not the balance before the batch.
            before, self.model.balances = self.model.balances, after.balances
            try:
                items, fault = self._transfer_items(data, holder, data.draw(st.integers(1, 2), label="ids"))
            finally:
                self.model.balances = before
            if not fault:
                items = [item for item in items if item[1] > 0] or items[:1]
            beneficiary, ref = self._retirement_input_parts(data, holder)
            earlier = sorted({r for _, _, r in entries if r != ZERO_REF})
            if earlier and data.draw(st.sampled_from([False] * 4 + [True]), label="repeat a reference of the batch"):
                ref = data.draw(st.sampled_from(earlier), label="repeated")
            if expected is None:
                expected = after.retire_error(holder, items, ref)
                if expected is None:
                    after.apply_retire(holder, items, ref)
            entries.append((items, beneficiary, ref))
        retirement, account = self.env.retirement, self.holder_accounts[holder]
        requests = [
            {
                "holder": ZERO_ADDRESS,
                "ids": [i for i, _ in items],
                "amounts": [a for _, a in items],
                "input": self._retirement_input(beneficiary, ref),
            }
            for items, beneficiary, ref in entries
        ]
        label = f"retireBatch ({n} entries)"
        receipt = self._send(label, expected, lambda: retirement.retireBatch(requests, sender=account))
        if receipt is None:
            return
        recorded = receipt.decode_logs(self.env.retirement.RetirementRecorded)
        first = self.base_certificate_count + len(self.model.certificates) + 1
        assert receipt.return_value == first
        assert [int(e.certificateId) for e in recorded] == list(range(first, first + n))
        for event, (items, beneficiary, ref) in zip(recorded, entries, strict=True):
            assert [(int(i), int(a)) for i, a in zip(event.ids, event.amounts, strict=True)] == items
            self.model.apply_retire(holder, items, ref)
            owner = beneficiary if beneficiary != ZERO_ADDRESS else holder
            self.model.certificates.append(
                CertificateModel(int(event.certificateId), owner, [i for i, _ in items], [a for _, a in items])
            )

    def _send_retire(
        self,
        holder: str,
        items: list[tuple[int, int]],
        beneficiary: str,
        ref: bytes,
        label: str,
        operator: str | None = None,
    ) -> None:
        """`holder` retires its own `items`, or its approved `operator` does so for it with retireFrom (no draw)."""
        retirement = self.env.retirement
        account = self.holder_accounts[operator or holder]
        ids, amounts = [i for i, _ in items], [a for _, a in items]

        def send() -> Any:
            retirement_input = self._retirement_input(beneficiary, ref)
            if operator is not None:
                return retirement.retireFrom(holder, ids, amounts, retirement_input, sender=account)
            return retirement.retire(ids, amounts, retirement_input, sender=account)

        receipt = self._send(label, self.model.retire_error(holder, items, ref), send)
        if receipt is not None:
            self.model.apply_retire(holder, items, ref)
            self._record_certificate(receipt, beneficiary if beneficiary != ZERO_ADDRESS else holder)

    # -------------------------------------------------------------------------------- holders

    def _holder_transfers(self, data: st.DataObject) -> None:
        """One id through `safeTransferFrom`, or one to four (repeats allowed) through `safeBatchTransferFrom`.
        Only while some credits can move (see `act`), and mostly from a holder who has such credits."""
        many = data.draw(st.booleans(), label="safeBatchTransferFrom")
        movable = self._movable_holders()
        senders = movable if data.draw(st.sampled_from([True, True, True, False]), label="owner") else self.holders
        sender = data.draw(st.sampled_from(senders), label="from")
        to = data.draw(st.sampled_from(self.holders), label="to")
        items, fault = self._transfer_items(data, sender, data.draw(st.integers(1, 4), label="items") if many else 1)
        credit, account = self.env.credit, self.holder_accounts[sender]

        def send() -> Any:
            if many:
                ids, amounts = [i for i, _ in items], [a for _, a in items]
                return credit.safeBatchTransferFrom(sender, to, ids, amounts, b"", sender=account)
            return credit.safeTransferFrom(sender, to, *items[0], b"", sender=account)

        label = "safeBatchTransferFrom" if many else "safeTransferFrom"
        if fault in ID_FAULTS and len(items) > 1:
            label += f" ({fault} id last)"
        elif sender == to or not any(amount for _, amount in items):
            label += " (nothing moves)"
        if self._send(label, self.model.transfer_error(sender, to, items), send) is not None:
            self.model.apply_transfer(sender, to, items)

    # -------------------------------------------------------------------------------- invariants

    @invariant()
    def chain_matches_model(self) -> None:
        """Reads everything the checks need in one JSON-RPC batch, then runs them."""
        env, reads = self.env, self.reads
        reads.add("projectCount", env.registry, "projectCount")
        for pid in self.model.projects:
            reads.add(("project", pid), env.registry, "project", pid)
            reads.add(("first", pid), env.registry, "firstBatchNumber", pid)
            reads.add(("isIssuer", pid), env.registry, "isProjectIssuer", pid, env.issuer.address)
            reads.add(("restricted", pid), env.credit, "isProjectRestricted", pid)
        batches = self.model.batches()
        for b in batches:
            reads.add(("batch", b.token_id), env.registry, "batch", b.token_id)
            for name in ("totalSupply", "totalIssued", "issuanceCap", "totalRetired", "totalCancelled", "shortfall"):
                reads.add((name, b.token_id), env.credit, name, b.token_id)
        reads.add("certificateCount", env.retirement, "certificateCount")
        for c in self.model.certificates:
            reads.add(("certificate", c.certificate_id), env.retirement, "certificate", c.certificate_id)
            reads.add(("ownerOf", c.certificate_id), env.retirement, "ownerOf", c.certificate_id)
        pairs = [(h, b.token_id) for h in self.holders for b in batches]
        reads.add("balances", env.credit, "balanceOfBatch", [h for h, _ in pairs], [i for _, i in pairs])
        for ref in self.tried_refs:
            for pid in self.model.projects:
                reads.add(("refUsed", pid, ref), env.credit, "isOrderReferenceUsed", pid, ref)
        state = reads.execute()

        self._check_projects(state)
        self._check_batch_lists(state)
        self._check_supply_and_balances(state, dict(zip(pairs, state["balances"], strict=True)))
        self._check_certificates(state)

    def _check_projects(self, state: dict[Hashable, Any]) -> None:
        assert state["projectCount"] == self.base_project_count + len(self.model.projects)
        for pid, p in self.model.projects.items():
            view = state[("project", pid)]
            assert Status(view.status) == p.status, f"project {pid}: status {view.status}, model {p.status!r}"
            assert view.batchCount == len(p.batches), f"project {pid}: batchCount {view.batchCount}"
            assert state[("restricted", pid)] == p.restricted, f"project {pid}: restricted flag"
            assert state[("isIssuer", pid)] == p.issuer_authorized, f"project {pid}: issuer authorisation"
        for ref in self.tried_refs:
            for pid in self.model.projects:
                used = (pid, ref) in self.model.used_refs
                assert state[("refUsed", pid, ref)] == used, f"order reference {ref.hex()} of project {pid}"

    def _check_batch_lists(self, state: dict[Hashable, Any]) -> None:
        """Walks each project's list firstBatchNumber -> nextBatchNumber: strictly increasing, disjoint ranges,
        and exactly the project's batches."""
        for pid, p in self.model.projects.items():
            seen: list[int] = []
            previous_last: int | None = None
            number = state[("first", pid)]
            while number != 0:
                assert number in p.batches, f"project {pid}: list {seen} reaches batch {number}, never added"
                assert number not in seen, f"project {pid}: cycle in the batch list at {number}: {seen}"
                seen.append(number)
                view = state[("batch", encode_id(pid, number))]
                assert view.projectId == pid
                assert view.serialFirst <= view.serialLast
                if previous_last is not None:
                    assert view.serialFirst > previous_last, (
                        f"project {pid}: batch {number} [{view.serialFirst}, {view.serialLast}] "
                        f"does not come after serial {previous_last}; list {seen}"
                    )
                previous_last = view.serialLast
                b = p.batches[number]
                assert (view.serialFirst, view.serialLast, view.verified) == (b.first, b.last, b.verified)
                assert view.issuanceReference == b.reference
                number = view.nextBatchNumber
            assert seen == [b.number for b in p.sorted_batches()], f"project {pid}: list {seen}"

    def _check_supply_and_balances(self, state: dict[Hashable, Any], balances: dict[tuple[str, int], int]) -> None:
        for (holder, token_id), balance in balances.items():
            assert balance == self.model.balance(holder, token_id), f"balance of {holder} in {describe(token_id)}"
        for b in self.model.batches():
            supply = state[("totalSupply", b.token_id)]
            issued = state[("totalIssued", b.token_id)]
            cap = state[("issuanceCap", b.token_id)]
            holders_sum = sum(balances[(h, b.token_id)] for h in self.holders)
            retired, cancelled = state[("totalRetired", b.token_id)], state[("totalCancelled", b.token_id)]
            name = describe(b.token_id)
            assert holders_sum == supply, f"{name}: balances sum to {holders_sum}, totalSupply {supply}"
            assert issued == supply + retired + cancelled, (
                f"{name}: issued {issued} != circulating {supply} + retired {retired} + cancelled {cancelled}"
            )
            assert issued == self.model.issued.get(b.token_id, 0), f"{name}: issued {issued}"
            assert supply == self.model.supply(b.token_id), f"{name}: supply {supply}"
            assert retired == self.model.retired.get(b.token_id, 0), f"{name}: retired {retired}"
            assert cancelled == self.model.cancelled.get(b.token_id, 0), f"{name}: cancelled {cancelled}"
            shortfall = state[("shortfall", b.token_id)]
            assert shortfall == self.model.shortfall.get(b.token_id, 0), f"{name}: shortfall {shortfall}"
            assert cap == b.cap, f"{describe(b.token_id)}: cap {cap}, expected {b.cap} (verified={b.verified})"
            assert issued <= cap, f"{describe(b.token_id)}: issued {issued} > cap {cap}"

    def _check_certificates(self, state: dict[Hashable, Any]) -> None:
        """Certificates' amounts per id (as their events state them) sum to what the token booked as retired;
        each stored certificate agrees with its event and is held by the beneficiary (or retiring account)."""
        certificates = self.model.certificates
        assert state["certificateCount"] == self.base_certificate_count + len(certificates)
        certified: Counter[int] = Counter()
        for c in certificates:
            for token_id, amount in zip(c.ids, c.amounts, strict=True):
                certified[token_id] += amount
            view = state[("certificate", c.certificate_id)]
            assert (view.firstId, view.idCount, view.totalAmount) == (c.ids[0], len(c.ids), sum(c.amounts)), (
                f"certificate {c.certificate_id}: stored {view} disagrees with its event {c}"
            )
            owner = state[("ownerOf", c.certificate_id)]
            assert owner == view.beneficiary == c.owner, f"certificate {c.certificate_id}: owner {owner}"
        for b in self.model.batches():
            retired = state[("totalRetired", b.token_id)]
            assert certified[b.token_id] == retired, (
                f"{describe(b.token_id)}: certificates hold {certified[b.token_id]} units, token retired {retired}"
            )


# Outcomes that every CI run must reach at least once ("a | b": either), so that a change to the strategies
# cannot quietly stop exercising the paths this test exists for.
REQUIRED_OUTCOMES = (
    "add_batch: ok",
    "add_batch: RegistrySerialOverlap",
    "add_batch (hint before): RegistryBadPositionHint",
    "add_batch (hint after): RegistryBadPositionHint",
    "add_batch (hint to no batch): RegistryBadPositionHint",
    "verify_batch: ok",
    "issue: ok",
    "issueMany: ok",
    "issue: CreditIssuanceExceedsCap | issueMany: CreditIssuanceExceedsCap",
    "safeTransferFrom: ok",
    "safeBatchTransferFrom: ok",
    "safeTransferFrom: ERC1155InsufficientBalance",
    "safeTransferFrom: CreditProjectRestricted",
    "safeBatchTransferFrom (restricted id last): CreditProjectRestricted",
    "issueMany (restricted id last): CreditProjectRestricted",
    "issueMany (unauthorised id last): RegistryIssuerNotAuthorized",
    "set_project_status: ok",
    "retire: ok",
    "retire (several ids): ok",
    "retire: ERC1155InsufficientBalance | retire (several ids): ERC1155InsufficientBalance",
    "retire: CreditProjectRestricted | retire (several ids): CreditProjectRestricted",
    "retire: CreditZeroAmount | retire (several ids): CreditZeroAmount",
    "retire: RetirementReferenceUsed | retire (several ids): RetirementReferenceUsed",
    "retire (another account's reference): ok",
    "retireFrom: ok | retireFrom (several ids): ok",
    "retireFrom: RetirementOperatorNotApproved | retireFrom (several ids): RetirementOperatorNotApproved",
    "issueAndRetire: ok",
    "retireBatch (2 entries): ok | retireBatch (3 entries): ok",
    "retireBatch (2 entries): RetirementReferenceUsed | retireBatch (3 entries): RetirementReferenceUsed",
    "retireBatch (2 entries): ERC1155InsufficientBalance | retireBatch (3 entries): ERC1155InsufficientBalance",
    "cancelCredits: ok",
    "cancelCredits (shortfall): ok",
    "cancelCredits: ERC1155InsufficientBalance",
    "cancelCredits: CreditReversalBelowCancelled",
)


@pytest.mark.slow
def test_registry_and_token__random_sequences__keep_invariants(
    open_suite: Any, registrar: Any, verifier: Any, issuer: Any, accounts: Any, chain: Any
) -> None:
    suite = (open_suite.registry, open_suite.credit, open_suite.retirement)
    fast = FastSender(chain.provider.web3, *suite)
    registry, credit, retirement = (fast.wrap(c) for c in suite)
    env = Env(
        registry=registry,
        credit=credit,
        retirement=retirement,
        registrar=registrar,
        verifier=verifier,
        issuer=issuer,
        holders=[accounts[6], accounts[7], accounts[8]],
        chain=chain,
        reconciler=Reconciler(chain.provider.web3, [*suite, open_suite.compliance]),
    )
    run_state_machine_as_test(lambda: RegistryTokenMachine(env), settings=MACHINE_SETTINGS)
    print(f"\n{env.reconciler.summary()}")

    print("\nOutcomes of the machine's transactions:")
    for outcome, count in sorted(env.outcomes.items()):
        print(f"{count:6d}  {outcome}")
    missing = [o for o in REQUIRED_OUTCOMES if not any(env.outcomes[alt] for alt in o.split(" | "))]
    assert not missing, f"the run never reached {missing}; widen the strategies or add examples"
