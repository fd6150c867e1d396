"""Stateful property test of CarbonMRV, against a Python model.

Hypothesis drives random sequences on the real contracts (Anvil): devices registered (approved at once or later),
reports of five-minute readings (contiguous or not, the right first sequence or not, within capacity or over it,
with a factor valid for the interval and the country or not), approvals (with the right registry hint, or a hint
that overlaps the project's first batch), rejections, suspensions and reinstatements, challenges (the same
sequence, overlapping intervals, identical readings, adjacent readings, a forged signature, a pair already
disputed) and the registrar's resolutions. The model predicts each outcome first: success, or the exact custom
error of the first check that fails (the MRV contract's or, for a bad hint, the registry's). After every step the
invariants check, on-chain:

- per device, status, `reportedUntil`, `nextSequence`, `carryMilligrams`, the open report and the open disputes
  equal the model's;
- no interval of a device is counted twice: the device's approved reports, read on-chain, tile
  `[activeFrom, reportedUntil)` in order without gap or overlap, and sequences likewise from 1;
- issued tonnes per device (the sum of its approved reports' tonnes, and of their batches' serial counts) ==
  floor(accepted mg / 1e9), and the carry < 1e9 is the rest;
- every batch is verified, its period is its report's interval, its serials follow the project's previous batch,
  and the root in its metadata URI is the Merkle root of the readings the model kept for that report.

Settings (profile ``tonne-mrv-ci``, the default): 25 sequences of up to 50 steps, deterministic (about 25 s on two
idle cores); each step is one action weighted towards the report path (submit, approve). The counts of
every action's outcome are printed at the end (``-s``), and the run must reach each of ``REQUIRED_OUTCOMES``.
At the end of each sequence, the supervision index follows the suite's and the MRV contract from their deployment,
and the state rebuilt from those events alone must reconcile with the chain with no alert
(``supervise_support.Reconciler``).
A deeper local run: ``TONNE_HYPOTHESIS_PROFILE=tonne-deep ape test tests/invariants/test_mrv_machine.py -s``.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest
from eth_utils import keccak
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from mrv_support import (
    FACTOR_CODE,
    FIVE_MINUTES,
    MG_PER_TONNE,
    T0,
    YEAR_END,
    new_key,
    reading,
    reading_digest,
    readings_for,
    root_of,
    sign_binding,
    sign_reading,
)

from supervise_support import Reconciler
from support import BatchedReads, Factory, FastRevert, FastSender
from tonne.mrv.deploy import deploy_mrv

settings.register_profile(
    "tonne-mrv-ci",
    max_examples=25,
    stateful_step_count=50,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "tonne-mrv-deep", parent=settings.get_profile("tonne-mrv-ci"), max_examples=100, stateful_step_count=60
)
_PROFILE = {"tonne-deep": "tonne-mrv-deep", "tonne-ci": "tonne-mrv-ci"}
MACHINE_SETTINGS = settings.get_profile(
    _PROFILE.get(os.environ.get("TONNE_HYPOTHESIS_PROFILE", "tonne-ci"), "tonne-mrv-ci")
)

NONE, REGISTERED, APPROVED, SUSPENDED, DECOMMISSIONED = range(5)
R_SUBMITTED, R_APPROVED, R_REJECTED = 1, 2, 3
MAX_DEVICES = 4
CAPACITIES = (1_200_000, 3_600_000, 12_000_000)  # W, multiples of 12: a five-minute reading's cap is exact
ACTIONS = ("submit",) * 6 + ("approve",) * 5 + ("reject", "register", "approve_device", "suspend", "reinstate")
ACTIONS += ("challenge",) * 2 + ("resolve",) * 2
FAULTS = ("none",) * 8 + ("gap", "overlap", "sequence", "capacity", "country", "validity", "superseded")
ROOT_IN_URI = re.compile(r"\?root=0x([0-9a-f]{64})&factor=(\d+)$")


@dataclass
class FactorTerms:
    factor_id: int
    mg: int
    country: bytes
    valid_from: int
    valid_until: int
    superseded: bool = False  # a later version of its code exists


@dataclass
class DeviceModel:
    did: bytes
    key: Any
    capacity: int
    status: int = REGISTERED
    approved_once: bool = False
    reported_until: int = T0
    next_sequence: int = 1
    carry: int = 0
    open_report: int = 0
    open_disputes: int = 0
    suspended_from: int | None = None  # the status an open dispute's challenge suspended, to restore
    accepted_mg: int = 0
    issued: int = 0
    accepted: list[int] = field(default_factory=list)  # report ids, in order
    signed: list[dict] = field(default_factory=list)  # readings of its reports, for challenges


@dataclass
class ReportModel:
    rid: int
    did: bytes
    start: int
    end: int
    first: int
    last: int
    total: int
    factor: FactorTerms
    root: bytes
    readings: list[dict]
    status: int = R_SUBMITTED
    batch_id: int = 0
    tonnes: int = 0


@dataclass
class Model:
    devices: dict[bytes, DeviceModel] = field(default_factory=dict)
    reports: dict[int, ReportModel] = field(default_factory=dict)
    disputes: dict[int, tuple[bytes, bool]] = field(default_factory=dict)  # id -> (device, open)
    pairs: dict[frozenset, int] = field(default_factory=dict)
    batches: list[tuple[int, int, int, int]] = field(default_factory=list)  # (batch id, report id, first, last)


@dataclass
class Env:
    chain: Any
    mrv: Any  # FastSender-wrapped
    raw_mrv: Any
    registry: Any
    owner: Any
    registrar: Any
    verifier: Any
    stranger: Any
    project_id: int
    factors: list[FactorTerms]
    outcomes: Counter = field(default_factory=Counter)
    reconciler: Reconciler | None = None  # the supervision index's reconciliation, once at the end of each run


def _name(err: FastRevert) -> str:
    return err.name or f"undecoded 0x{err.data.hex()}"


class MrvMachine(RuleBasedStateMachine):
    def __init__(self, env: Env) -> None:
        super().__init__()
        self.env = env
        self.snapshot = env.chain.snapshot()
        self.model = Model()
        self.reads = BatchedReads(env.chain.provider.web3, env.raw_mrv, env.registry)
        self.meters = 0
        self.kept_pairs: dict[frozenset, tuple[dict, dict]] = {}  # disputed digests -> the two readings
        self.env.outcomes["sequences"] += 1

    def teardown(self) -> None:
        try:
            if self.env.reconciler is not None:
                self.env.reconciler.check()  # the state rebuilt from the run's events equals the chain's
        finally:  # a failed check leaves the chain as the next (shrinking) run expects it
            self.env.chain.restore(self.snapshot)

    # ------------------------------------------------------------------ helpers

    def _send(self, label: str, expected: str | None, function: str, *args, sender) -> bool:
        try:
            getattr(self.env.mrv, function)(*args, sender=sender)
            got = None
        except FastRevert as err:
            got = _name(err)
        outcome = f"{label}: {got or 'ok'}"
        assert got == expected, f"{label}: {'reverted with ' + got if got else 'succeeded'}, model: {expected or 'ok'}"
        self.env.outcomes[outcome] += 1
        event(outcome)
        return got is None

    def _device(self, data) -> DeviceModel:
        return data.draw(st.sampled_from(list(self.model.devices.values())), label="device")

    def _next_report_id(self) -> int:
        return len(self.model.reports) + 1

    # ------------------------------------------------------------------ the step

    @initialize(data=st.data())
    def two_devices(self, data) -> None:
        for _ in range(2):
            self.register(data)

    @rule(data=st.data())
    def step(self, data) -> None:
        """One action, weighted towards the report path (submit, approve) so that devices report many times."""
        action = data.draw(st.sampled_from(ACTIONS), label="action")
        getattr(self, action)(data)
        self.env.outcomes[f"step: {action}"] += 1

    # ------------------------------------------------------------------ devices

    def register(self, data) -> None:
        if len(self.model.devices) >= MAX_DEVICES:
            return
        capacity = data.draw(st.sampled_from(CAPACITIES), label="capacity")
        approve = data.draw(st.integers(0, 4), label="approve") > 0
        self.meters += 1
        meter = f"MRV-MACHINE-{self.env.outcomes['sequences']}-{self.meters}"
        key = new_key()
        d = DeviceModel(did=keccak(text=meter), key=key, capacity=capacity)
        # signed by another key; never the first devices, so that there are devices to act on
        forged = bool(self.model.devices) and data.draw(st.integers(0, 9), label="forged binding?") == 0
        chain_id, address = self.env.chain.chain_id, self.env.raw_mrv.address
        binding = sign_binding(new_key() if forged else key, chain_id, address, d.did, self.env.project_id)
        expected = "MrvBadKeySignature" if forged else None
        if not self._send(
            "registerDevice", expected, "registerDevice", meter, key.address, self.env.project_id, 0, capacity, T0,
            binding, sender=self.env.owner,
        ):  # fmt: skip
            return
        self.model.devices[d.did] = d
        if approve:
            self._approve_device(d)

    def _approve_device(self, d: DeviceModel) -> None:
        expected = None if d.status == REGISTERED else "MrvInvalidDeviceTransition"
        if self._send("approveDevice", expected, "approveDevice", d.did, sender=self.env.verifier):
            d.status, d.approved_once = APPROVED, True

    def approve_device(self, data) -> None:
        self._approve_device(self._device(data))

    def suspend(self, data) -> None:
        d = self._device(data)
        expected = None if d.status in (REGISTERED, APPROVED) else "MrvInvalidDeviceTransition"
        if self._send("suspendDevice", expected, "suspendDevice", d.did, "check", sender=self.env.verifier):
            d.status = SUSPENDED

    def reinstate(self, data) -> None:
        d = self._device(data)
        expected = "MrvInvalidDeviceTransition"
        if d.status == SUSPENDED and d.approved_once:
            expected = "MrvDeviceHasOpenDisputes" if d.open_disputes else None
        if self._send("setDeviceStatus", expected, "setDeviceStatus", d.did, APPROVED, "ok", sender=self.env.registrar):
            d.status = APPROVED

    # ------------------------------------------------------------------ reports

    def submit(self, data) -> None:
        hours = data.draw(st.integers(1, 4), label="hours")
        fault = data.draw(st.sampled_from(FAULTS), label="fault")
        fill = data.draw(st.integers(0, 100), label="fill")
        factor_index = data.draw(st.integers(0, 1), label="factor")
        ready = [d for d in self.model.devices.values() if d.status == APPROVED and not d.open_report]
        d = (
            data.draw(st.sampled_from(ready), label="device")
            if ready and data.draw(st.integers(0, 5))
            else self._device(data)
        )
        start = d.reported_until + {"gap": FIVE_MINUTES, "overlap": -FIVE_MINUTES}.get(fault, 0)
        first = d.next_sequence + (1 if fault == "sequence" else 0)
        n = hours * 12
        per_reading_cap = d.capacity // 12
        value = per_reading_cap + 1 if fault == "capacity" else per_reading_cap * fill // 100
        readings = readings_for(d.did, first, start, n, value)
        end = readings[-1]["end"]
        f = {"country": self.env.factors[2], "validity": self.env.factors[3], "superseded": self.env.factors[4]}.get(
            fault, self.env.factors[factor_index]
        )
        total = value * n
        root = root_of(readings)

        expected = None
        if d.status != APPROVED:
            expected = "MrvDeviceNotApproved"
        elif d.open_report:
            expected = "MrvReportPending"
        elif start != d.reported_until:
            expected = "MrvReportNotContiguous"
        elif first != d.next_sequence:
            expected = "MrvWrongFirstSequence"
        elif f.superseded:
            expected = "MrvFactorSuperseded"
        elif start < f.valid_from or end > f.valid_until:
            expected = "MrvFactorNotValid"
        elif f.country != b"ID":
            expected = "MrvFactorCountryMismatch"
        elif total > d.capacity * (end - start) // 3600:
            expected = "MrvImplausibleTotal"
        label = f"submitReport ({fault})"
        args = (d.did, start, end, first, first + n - 1, total, f.factor_id, root)
        if self._send(label, expected, "submitReport", *args, sender=self.env.owner):
            rid = self._next_report_id()
            self.model.reports[rid] = ReportModel(
                rid, d.did, start, end, first, first + n - 1, total, f, root, readings
            )
            d.open_report = rid
            d.signed.extend(readings[:: max(1, n // 4)])  # a few of its readings, for challenges

    def _report(self, data) -> ReportModel:
        open_ = [r for r in self.model.reports.values() if r.status == R_SUBMITTED]
        pool = open_ if open_ and data.draw(st.integers(0, 4), label="open?") else list(self.model.reports.values())
        return data.draw(st.sampled_from(pool), label="report")

    def approve(self, data) -> None:
        if not self.model.reports:
            return
        bad_hint = data.draw(st.integers(0, 4), label="hint")
        r = self._report(data)
        d = self.model.devices[r.did]
        mg = d.carry + r.total * r.factor.mg
        tonnes = mg // MG_PER_TONNE
        last_batch = len(self.model.batches)
        wrong_hint = bad_hint == 0 and last_batch > 0
        hint = 0 if wrong_hint else last_batch
        expected = None
        if r.status != R_SUBMITTED:
            expected = "MrvReportNotOpen"
        elif d.status != APPROVED:
            expected = "MrvDeviceNotApproved"
        elif wrong_hint and tonnes:
            expected = "RegistrySerialOverlap"
        label = "approveReport" + (" (wrong hint)" if wrong_hint else "") + ("" if tonnes else " (under a tonne)")
        if not self._send(label, expected, "approveReport", r.rid, hint, sender=self.env.verifier):
            return
        r.status, r.tonnes = R_APPROVED, tonnes
        d.carry = mg % MG_PER_TONNE
        d.accepted_mg += r.total * r.factor.mg
        d.issued += tonnes
        d.reported_until, d.next_sequence, d.open_report = r.end, r.last + 1, 0
        d.accepted.append(r.rid)
        if tonnes:
            serial_first = self.model.batches[-1][3] + 1 if self.model.batches else 1
            r.batch_id = (self.env.project_id << 64) | (last_batch + 1)
            self.model.batches.append((r.batch_id, r.rid, serial_first, serial_first + tonnes - 1))

    def reject(self, data) -> None:
        if not self.model.reports:
            return
        r = self._report(data)
        expected = None if r.status == R_SUBMITTED else "MrvReportNotOpen"
        if self._send("rejectReport", expected, "rejectReport", r.rid, "no", sender=self.env.verifier):
            r.status = R_REJECTED
            self.model.devices[r.did].open_report = 0

    # ------------------------------------------------------------------ challenges

    def challenge(self, data) -> None:
        if not any(d.signed for d in self.model.devices.values()):
            return
        kind = data.draw(
            st.sampled_from(["sequence", "overlap", "identical", "adjacent", "forged", "again"]), label="kind"
        )
        d = data.draw(st.sampled_from([d for d in self.model.devices.values() if d.signed]), label="device")
        a = data.draw(st.sampled_from(d.signed), label="reading")
        earlier = [
            p for p, i in sorted(self.model.pairs.items(), key=lambda x: x[1]) if self.model.disputes[i][0] == d.did
        ]
        if kind == "again" and not earlier:
            kind = "sequence"
        if kind == "again":
            a, b = self.kept_pairs[data.draw(st.sampled_from(earlier), label="pair")]
        elif kind == "identical":
            b = a
        elif kind == "overlap":
            b = reading(d.did, a["sequence"] + 1000, a["start"] + 60, a["end"] + 60, a["value"])
        elif kind == "adjacent":
            b = reading(d.did, a["sequence"] + 1000, a["end"], a["end"] + FIVE_MINUTES, a["value"])
        else:  # the same sequence, another value (forged: signed by another key)
            b = dict(a, value=a["value"] + data.draw(st.integers(1, 3), label="delta"))
        chain_id, address = self.env.chain.chain_id, self.env.raw_mrv.address
        sig_a = sign_reading(d.key, chain_id, address, a)
        sig_b = sign_reading(new_key() if kind == "forged" else d.key, chain_id, address, b)
        digests = frozenset((reading_digest(chain_id, address, a), reading_digest(chain_id, address, b)))
        expected = None
        if len(digests) == 1:
            expected = "MrvSameReading"
        elif kind == "forged":
            expected = "MrvBadReadingSignature"
        elif kind == "adjacent":
            expected = "MrvReadingsDoNotConflict"
        elif digests in self.model.pairs:
            expected = "MrvDuplicateDispute"
        if self._send(f"challenge ({kind})", expected, "challenge", a, sig_a, b, sig_b, sender=self.env.stranger):
            dispute_id = len(self.model.disputes) + 1
            self.model.disputes[dispute_id] = (d.did, True)
            self.model.pairs[digests] = dispute_id
            self.kept_pairs[digests] = (a, b)
            d.open_disputes += 1
            if d.status in (REGISTERED, APPROVED):
                d.suspended_from, d.status = d.status, SUSPENDED

    def resolve(self, data) -> None:
        if not self.model.disputes:
            return
        reinstate = data.draw(st.booleans(), label="reinstate")
        dispute_id = data.draw(st.sampled_from(sorted(self.model.disputes)), label="dispute")
        did, is_open = self.model.disputes[dispute_id]
        d = self.model.devices[did]
        expected = None
        if not is_open:
            expected = "MrvDisputeClosed"
        elif reinstate and d.open_disputes > 1:
            expected = "MrvDeviceHasOpenDisputes"
        elif reinstate and d.suspended_from is not None and d.status != SUSPENDED:
            expected = "MrvInvalidDeviceTransition"
        label = f"resolveDispute ({'reinstate' if reinstate else 'keep suspended'})"
        if self._send(label, expected, "resolveDispute", dispute_id, reinstate, sender=self.env.registrar):
            self.model.disputes[dispute_id] = (did, False)
            d.open_disputes -= 1
            if reinstate and d.suspended_from is not None:
                d.status = d.suspended_from  # exactly what the challenge suspended, not "Approved if ever"
            if d.open_disputes == 0:
                d.suspended_from = None

    # ------------------------------------------------------------------ invariants

    @invariant()
    def chain_agrees_with_model(self) -> None:
        mrv, registry = self.env.raw_mrv, self.env.registry
        for did in self.model.devices:
            self.reads.add(("device", did), mrv, "device", did)
        for rid in self.model.reports:
            self.reads.add(("report", rid), mrv, "report", rid)
        for batch_id, *_ in self.model.batches:
            self.reads.add(("batch", batch_id), registry, "batch", batch_id)
        got = self.reads.execute()
        for did, d in self.model.devices.items():
            v = got[("device", did)]
            assert (v.status, v.reportedUntil, v.nextSequence, v.carryMilligrams, v.openReport, v.openDisputes) == (
                d.status,
                d.reported_until,
                d.next_sequence,
                d.carry,
                d.open_report,
                d.open_disputes,
            ), f"device {did.hex()}: chain {v}, model {d}"
            # accepted intervals tile [activeFrom, reportedUntil) and sequences [1, nextSequence), in order
            cursor, sequence, issued = T0, 1, 0
            approved = [rid for rid in sorted(self.model.reports) if got[("report", rid)].status == R_APPROVED]
            approved = [rid for rid in approved if bytes(got[("report", rid)].deviceId) == did]
            assert approved == d.accepted
            for rid in approved:
                r = got[("report", rid)]
                assert (r.start, r.firstSequence) == (cursor, sequence), f"report {rid} does not tile"
                cursor, sequence, issued = r.end, r.lastSequence + 1, issued + r.tonnes
            assert (cursor, sequence) == (v.reportedUntil, v.nextSequence)
            assert issued == d.issued == d.accepted_mg // MG_PER_TONNE
            assert v.carryMilligrams == d.accepted_mg % MG_PER_TONNE < MG_PER_TONNE
        for rid, r in self.model.reports.items():
            v = got[("report", rid)]
            assert (v.status, v.batchId, v.tonnes, bytes(v.readingsRoot)) == (r.status, r.batch_id, r.tonnes, r.root)
        previous_last = 0
        for batch_id, rid, first, last in self.model.batches:
            b, r = got[("batch", batch_id)], self.model.reports[rid]
            assert b.verified and (b.serialFirst, b.serialLast) == (first, last) and first == previous_last + 1
            assert (b.periodStart, b.periodEnd) == (r.start, r.end)
            match = ROOT_IN_URI.search(b.metadataURI)
            assert match, f"batch {batch_id}: no root in {b.metadataURI!r}"
            assert bytes.fromhex(match.group(1)) == root_of(r.readings), f"batch {batch_id}: root is not the readings'"
            assert int(match.group(2)) == r.factor.factor_id
            previous_last = last


@pytest.fixture(scope="module")
def mrv_machine_env(project, chain, accounts, open_suite, admin, registrar, verifier, issuer, compliance) -> Env:
    owner, stranger = accounts.generate_test_account(), accounts.generate_test_account()
    for a in (owner, stranger):
        chain.set_balance(a, 10**21)
    roles = {"REGISTRAR_ROLE": [registrar], "VERIFIER_ROLE": [verifier], "METHODOLOGY_ROLE": [compliance]}
    mrv = deploy_mrv(project, open_suite, admin, roles=roles).mrv
    registry = open_suite.registry
    project_id = Factory(registry, open_suite.credit, registrar, verifier, issuer, owner).project(
        authorize_issuer=False
    )
    factors = []
    # One code each (a later version of a code supersedes the earlier), but the last two: version 1 of code 4,
    # superseded by version 2 (unused), for the "superseded" fault.
    terms = ((450, b"ID", T0), (777, b"ID", T0), (90, b"BR", T0), (450, b"ID", T0 + 86_400), (450, b"ID", T0))
    for i, (mg, country, valid_from) in enumerate((*terms, terms[-1])):
        code = FACTOR_CODE[:-1] + bytes([min(i, 4)])
        factor_id = mrv.publishFactor(code, country, valid_from, YEAR_END, mg, sender=compliance).return_value[0]
        factors.append(FactorTerms(factor_id, mg, country, valid_from, YEAR_END, superseded=i == 4))
    fast = FastSender(chain.provider.web3, mrv, registry)
    suite = (registry, open_suite.credit, open_suite.retirement, open_suite.compliance)
    reconciler = Reconciler(chain.provider.web3, [*suite, mrv])
    return Env(
        chain,
        fast.wrap(mrv),
        mrv,
        registry,
        owner,
        registrar,
        verifier,
        stranger,
        project_id,
        factors,
        reconciler=reconciler,
    )


REQUIRED_OUTCOMES = (
    "submitReport (none): ok",
    "submitReport (gap): MrvReportNotContiguous",
    "submitReport (overlap): MrvReportNotContiguous",
    "submitReport (sequence): MrvWrongFirstSequence",
    "submitReport (capacity): MrvImplausibleTotal",
    "submitReport (country): MrvFactorCountryMismatch",
    "submitReport (validity): MrvFactorNotValid",
    "approveReport: ok",
    "approveReport (under a tonne): ok",
    "approveReport (wrong hint): RegistrySerialOverlap",
    "rejectReport: ok",
    "challenge (sequence): ok",
    "challenge (overlap): ok",
    "challenge (identical): MrvSameReading",
    "challenge (adjacent): MrvReadingsDoNotConflict",
    "challenge (forged): MrvBadReadingSignature",
    "resolveDispute (reinstate): ok",
)


@pytest.mark.slow
def test_mrv__random_sequences__keep_invariants(mrv_machine_env: Env) -> None:
    env = mrv_machine_env
    run_state_machine_as_test(lambda: MrvMachine(env), settings=MACHINE_SETTINGS)
    print(env.reconciler.summary())
    print(f"\nMRV machine: {env.outcomes['sequences']} sequences")
    for outcome, count in sorted(env.outcomes.items()):
        print(f"{count:6d}  {outcome}")
    missing = [o for o in REQUIRED_OUTCOMES if not env.outcomes[o]]
    assert not missing, f"the run never reached {missing}; widen the strategies"
