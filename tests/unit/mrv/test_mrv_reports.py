"""CarbonMRV reports: submission rules, approval into a verified registry batch (serials, period, reference,
metadata), the carried remainder, rejection, inclusion proofs, and constant gas whatever the readings' count."""

from __future__ import annotations

import random

import pytest
from mrv_support import (
    CAPACITY_W,
    FACTOR_CODE,
    FIVE_MINUTES,
    GRID_MG_PER_WH,
    MG_PER_TONNE,
    R_APPROVED,
    R_REJECTED,
    R_SUBMITTED,
    REGISTERED,
    SUSPENDED,
    T0,
    YEAR_END,
    MerkleTree,
    leaf,
    reading_digest,
    readings_for,
    root_of,
)

from support import events, plain, reverts

HOUR = 3600
ROOT = b"\x5a" * 32


def submit_raw(mrv_env, did, total, *, hours=1, root=ROOT, sender=None, factor_id=None, readings=12):
    """A report of `hours` from the device's cursor with `readings` sequence numbers and the given total."""
    d = mrv_env.mrv.device(did)
    start = d.reportedUntil
    return mrv_env.mrv.submitReport(
        did,
        start,
        start + hours * HOUR,
        d.nextSequence,
        d.nextSequence + readings - 1,
        total,
        mrv_env.factor_id if factor_id is None else factor_id,
        root,
        sender=sender or mrv_env.owner,
    ).return_value


def approve(mrv_env, rid, hint=None):
    hint = mrv_env.last_batch_number() if hint is None else hint
    return mrv_env.mrv.approveReport(rid, hint, sender=mrv_env.verifier)


# ------------------------------------------------------------------ submission


def test_submit_report__stored_with_event_and_device_open(mrv_env, mrv, owner):
    did = mrv_env.register()
    rs = readings_for(did, 1, T0, 12, value=1500)
    receipt = mrv.submitReport(did, T0, T0 + HOUR, 1, 12, 18_000, mrv_env.factor_id, root_of(rs), sender=owner)
    rid = receipt.return_value
    assert rid == mrv.reportCount()
    r = mrv.report(rid)
    assert (bytes(r.deviceId), r.start, r.end, r.firstSequence, r.lastSequence) == (did, T0, T0 + HOUR, 1, 12)
    assert (r.total, r.factorId, bytes(r.readingsRoot), r.status, r.batchId, r.tonnes) == (
        18_000,
        mrv_env.factor_id,
        root_of(rs),
        R_SUBMITTED,
        0,
        0,
    )
    assert mrv.device(did).openReport == rid
    assert events(receipt, mrv, "ReportSubmitted") == [
        plain(
            reportId=rid,
            deviceId=did,
            start=T0,
            end=T0 + HOUR,
            firstSequence=1,
            lastSequence=12,
            total=18_000,
            factorId=mrv_env.factor_id,
            readingsRoot=root_of(rs),
            by=owner,
        )
    ]


def test_submit_report__by_registrar__accepted(mrv_env, mrv, registrar):
    did = mrv_env.register()
    rid = submit_raw(mrv_env, did, 1000, sender=registrar)
    assert mrv.report(rid).status == R_SUBMITTED


def test_submit_report__stranger__refused(mrv_env, mrv, stranger):
    did = mrv_env.register()
    with reverts(mrv.MrvNotProjectOwnerOrRegistrar, projectId=mrv_env.project_id, account=stranger):
        submit_raw(mrv_env, did, 1000, sender=stranger)


@pytest.mark.parametrize("state", ["registered", "suspended", "decommissioned"])
def test_submit_report__device_not_approved__refused(mrv_env, mrv, verifier, owner, state):
    did = mrv_env.register(approve=state != "registered")
    status = REGISTERED
    if state == "suspended":
        mrv.suspendDevice(did, "check", sender=verifier)
        status = SUSPENDED
    elif state == "decommissioned":
        mrv.decommissionDevice(did, "gone", sender=owner)
        status = 4
    with reverts(mrv.MrvDeviceNotApproved, deviceId=did, status=status):
        submit_raw(mrv_env, did, 1000)


def test_submit_report__one_already_open__refused(mrv_env, mrv):
    did = mrv_env.register()
    rid = submit_raw(mrv_env, did, 1000)
    with reverts(mrv.MrvReportPending, deviceId=did, reportId=rid):
        submit_raw(mrv_env, did, 1000)


@pytest.mark.parametrize("offset", [-FIVE_MINUTES, FIVE_MINUTES])
def test_submit_report__not_starting_at_reported_until__refused(mrv_env, mrv, owner, offset):
    did = mrv_env.register()
    start = T0 + offset
    with reverts(mrv.MrvReportNotContiguous, deviceId=did, start=start, expected=T0):
        mrv.submitReport(did, start, start + HOUR, 1, 12, 1000, mrv_env.factor_id, ROOT, sender=owner)


@pytest.mark.parametrize("first", [0, 2])
def test_submit_report__wrong_first_sequence__refused(mrv_env, mrv, owner, first):
    did = mrv_env.register()
    with reverts(mrv.MrvWrongFirstSequence, deviceId=did, firstSequence=first, expected=1):
        mrv.submitReport(did, T0, T0 + HOUR, first, 12, 1000, mrv_env.factor_id, ROOT, sender=owner)


@pytest.mark.parametrize("end", [T0, T0 - 1])
def test_submit_report__end_not_after_start__refused(mrv_env, mrv, owner, end):
    did = mrv_env.register()
    with reverts(mrv.MrvInvalidInterval, start=T0, end=end):
        mrv.submitReport(did, T0, end, 1, 12, 0, mrv_env.factor_id, ROOT, sender=owner)


def test_submit_report__ending_after_now__refused(mrv_env, mrv, owner, chain):
    now = chain.pending_timestamp + 100
    did = mrv_env.register(active_from=now - HOUR)
    chain.pending_timestamp = now
    with reverts(mrv.MrvReportInFuture, deviceId=did, end=now + 1, now=now):
        mrv.submitReport(did, now - HOUR, now + 1, 1, 2, 0, mrv_env.factor_id, ROOT, sender=owner)
    open_ended = mrv.publishFactor(FACTOR_CODE, b"ID", T0, 2**40 - 1, 450, sender=mrv_env.methodologist).return_value[0]
    chain.pending_timestamp = now + 1
    assert mrv.report(submit_raw(mrv_env, did, 0, factor_id=open_ended)).end == now


def test_submit_report__last_sequence_below_first__refused(mrv_env, mrv, owner):
    did = mrv_env.register()
    with reverts(mrv.MrvInvalidSequenceRange, firstSequence=1, lastSequence=0):
        mrv.submitReport(did, T0, T0 + HOUR, 1, 0, 1000, mrv_env.factor_id, ROOT, sender=owner)


def test_submit_report__last_sequence_leaving_no_next__refused(mrv_env, mrv, owner):
    did = mrv_env.register()
    with reverts(mrv.MrvInvalidSequenceRange, firstSequence=1, lastSequence=2**64 - 1):
        mrv.submitReport(did, T0, T0 + HOUR, 1, 2**64 - 1, 1000, mrv_env.factor_id, ROOT, sender=owner)


def test_submit_report__zero_root__refused(mrv_env, mrv):
    did = mrv_env.register()
    with reverts(mrv.MrvZeroRoot):
        submit_raw(mrv_env, did, 1000, root=b"\x00" * 32)


def test_submit_report__unknown_factor__refused(mrv_env, mrv):
    did = mrv_env.register()
    with reverts(mrv.MrvUnknownFactor, factorId=999):
        submit_raw(mrv_env, did, 1000, factor_id=999)


def test_submit_report__factor_not_yet_valid__refused(mrv_env, mrv, methodologist, owner):
    later = mrv.publishFactor(FACTOR_CODE, b"ID", T0 + HOUR // 2, YEAR_END, 450, sender=methodologist).return_value[0]
    did = mrv_env.register()
    with reverts(
        mrv.MrvFactorNotValid, factorId=later, start=T0, end=T0 + HOUR, validFrom=T0 + HOUR // 2, validUntil=YEAR_END
    ):
        submit_raw(mrv_env, did, 1000, factor_id=later)


def test_submit_report__factor_expired_within_interval__refused(mrv_env, mrv, owner):
    did = mrv_env.register(active_from=YEAR_END - HOUR // 2)
    with reverts(
        mrv.MrvFactorNotValid,
        factorId=mrv_env.factor_id,
        start=YEAR_END - HOUR // 2,
        end=YEAR_END + HOUR // 2,
        validFrom=T0,
        validUntil=YEAR_END,
    ):
        submit_raw(mrv_env, did, 1000)


def test_submit_report__factor_valid_exactly_over_interval__accepted(mrv_env, mrv):
    did = mrv_env.register(active_from=YEAR_END - HOUR)
    assert mrv.report(submit_raw(mrv_env, did, 1000)).end == YEAR_END


def test_submit_report__factor_of_another_country__refused(mrv_env, mrv, methodologist):
    br = mrv.publishFactor(FACTOR_CODE, b"BR", T0, YEAR_END, 90, sender=methodologist).return_value[0]
    did = mrv_env.register()
    with reverts(mrv.MrvFactorCountryMismatch, factorId=br, factorCountry=b"BR", deviceCountry=b"ID"):
        submit_raw(mrv_env, did, 1000, factor_id=br)


def test_submit_report__total_at_capacity_accepted__one_more_refused(mrv_env, mrv):
    did = mrv_env.register(capacity=1_000)  # 1 kW: 1,000 Wh an hour, 500 Wh in half an hour (floor)
    with reverts(mrv.MrvImplausibleTotal, deviceId=did, total=1001, maxTotal=1000):
        submit_raw(mrv_env, did, 1001)
    other = mrv_env.register(capacity=1_001)
    d = mrv.device(other)
    # 1,001 W over 30 min is 500.5 Wh: the cap is its floor, 500
    with reverts(mrv.MrvImplausibleTotal, deviceId=other, total=501, maxTotal=500):
        mrv.submitReport(
            other, d.reportedUntil, d.reportedUntil + 1800, 1, 6, 501, mrv_env.factor_id, ROOT, sender=mrv_env.owner
        )
    assert mrv.report(submit_raw(mrv_env, did, 1000)).total == 1000


# ------------------------------------------------------------------ approval into a batch


def test_approve_report__whole_tonnes__batch_added_and_verified(mrv_env, mrv, registry, verifier):
    did = mrv_env.register()
    total = 2_500_000  # 2.5 MWh x 450 mg/Wh = 1.125 t
    rs = readings_for(did, 1, T0, 12, value=total // 12 + 1)[:12]
    root = root_of(rs)
    rid = submit_raw(mrv_env, did, total, root=root)
    receipt = mrv.approveReport(rid, 0, sender=verifier)
    batch_id = receipt.return_value
    b = registry.batch(batch_id)
    assert (b.projectId, b.serialFirst, b.serialLast, b.periodStart, b.periodEnd) == (
        mrv_env.project_id,
        1,
        1,
        T0,
        T0 + HOUR,
    )
    assert b.verified and b.verifier == mrv.address
    address = mrv.address.lower()
    assert b.issuanceReference == f"MRV/{address}/{rid}"
    assert b.metadataURI == f"mrv://{address}/reports/{rid}?root=0x{root.hex()}&factor={mrv_env.factor_id}"
    r = mrv.report(rid)
    assert (r.status, r.batchId, r.tonnes) == (R_APPROVED, batch_id, 1)
    d = mrv.device(did)
    assert (d.reportedUntil, d.nextSequence, d.carryMilligrams, d.openReport) == (T0 + HOUR, 13, 125_000_000, 0)
    assert events(receipt, mrv, "ReportApproved") == [
        plain(reportId=rid, deviceId=did, batchId=batch_id, tonnes=1, carryMilligrams=125_000_000, verifier=verifier)
    ]
    assert [e["id"] for e in events(receipt, registry, "BatchVerified")] == [batch_id]


def test_approve_report__below_a_tonne__accepted_without_batch_all_carried(mrv_env, mrv, registry, verifier):
    did = mrv_env.register()
    rid = submit_raw(mrv_env, did, 1_000_000)  # 0.45 t
    receipt = mrv.approveReport(rid, 0, sender=verifier)
    assert receipt.return_value == 0
    assert events(receipt, registry, "BatchAdded") == []
    assert (mrv.report(rid).batchId, mrv.report(rid).tonnes, mrv.report(rid).status) == (0, 0, R_APPROVED)
    assert mrv.device(did).carryMilligrams == 450_000_000
    assert registry.project(mrv_env.project_id).batchCount == 0


def test_approve_report__zero_total__accepted_cursor_moves(mrv_env, mrv, verifier):
    did = mrv_env.register()
    rid = submit_raw(mrv_env, did, 0)
    mrv.approveReport(rid, 0, sender=verifier)
    assert (mrv.device(did).reportedUntil, mrv.device(did).nextSequence) == (T0 + HOUR, 13)


def test_approve_report__second_batch_after_hint__serials_continue(mrv_env, mrv, registry, verifier):
    did = mrv_env.register()
    first = mrv.approveReport(submit_raw(mrv_env, did, 3_000_000), 0, sender=verifier).return_value  # 1.35 t
    second = mrv.approveReport(submit_raw(mrv_env, did, 3_000_000), 1, sender=verifier).return_value  # 1.35 + .35 = 1.7
    assert (registry.batch(first).serialFirst, registry.batch(first).serialLast) == (1, 1)
    assert (registry.batch(second).serialFirst, registry.batch(second).serialLast) == (2, 2)
    assert registry.batch(second).periodStart == T0 + HOUR
    assert mrv.device(did).carryMilligrams == 700_000_000


def test_approve_report__after_manual_batches__placed_after_hint(mrv_env, mrv, registry, registrar, verifier):
    mrv_env.make.batch(mrv_env.project_id, 1, 1000)  # batch 1, entered by the registrar by hand
    did = mrv_env.register()
    rid = submit_raw(mrv_env, did, 3_000_000 * 5, hours=5)  # 5 hours at capacity: 6.75 t
    batch_id = mrv.approveReport(rid, 1, sender=verifier).return_value
    assert (registry.batch(batch_id).serialFirst, registry.batch(batch_id).serialLast) == (1001, 1006)


def test_approve_report__hint_zero_overlapping_first_batch__registry_error_bubbles(mrv_env, mrv, registry, verifier):
    manual = mrv_env.make.batch(mrv_env.project_id, 1, 1000)
    did = mrv_env.register()
    rid = submit_raw(mrv_env, did, 3_000_000)
    with reverts(
        registry.RegistrySerialOverlap, projectId=mrv_env.project_id, serialFirst=1, serialLast=1, conflictingId=manual
    ):
        mrv.approveReport(rid, 0, sender=verifier)
    # nothing moved: the report stays open and a right hint approves it
    assert mrv.report(rid).status == R_SUBMITTED and mrv.device(did).reportedUntil == T0
    assert registry.batch(mrv.approveReport(rid, 1, sender=verifier).return_value).serialFirst == 1001


def test_approve_report__hint_to_a_missing_batch__registry_error_bubbles(mrv_env, mrv, registry, verifier):
    did = mrv_env.register()
    rid = submit_raw(mrv_env, did, 3_000_000)
    missing = (mrv_env.project_id << 64) | 5
    with reverts(registry.RegistryUnknownBatch, id=missing):
        mrv.approveReport(rid, 5, sender=verifier)


def test_approve_report__hint_before_a_following_batch__registry_error_bubbles(mrv_env, mrv, registry, verifier):
    mrv_env.make.batch(mrv_env.project_id, 1, 1000)
    following = mrv_env.make.batch(mrv_env.project_id, 1001, 2000, prev=1)
    did = mrv_env.register()
    rid = submit_raw(mrv_env, did, 3_000_000)
    with reverts(
        registry.RegistrySerialOverlap,
        projectId=mrv_env.project_id,
        serialFirst=1001,
        serialLast=1001,
        conflictingId=following,
    ):
        mrv.approveReport(rid, 1, sender=verifier)


def test_approve_report__project_suspended_in_registry__registry_error_bubbles(
    mrv_env, mrv, registry, registrar, verifier
):
    did = mrv_env.register()
    rid = submit_raw(mrv_env, did, 3_000_000)
    registry.setProjectStatus(mrv_env.project_id, 3, "audit", sender=registrar)
    with reverts(registry.RegistryProjectNotApproved, projectId=mrv_env.project_id, status=3):
        mrv.approveReport(rid, 0, sender=verifier)


def test_approve_report__device_suspended__refused_but_rejectable(mrv_env, mrv, verifier):
    did = mrv_env.register()
    rid = submit_raw(mrv_env, did, 3_000_000)
    mrv.suspendDevice(did, "check", sender=verifier)
    with reverts(mrv.MrvDeviceNotApproved, deviceId=did, status=SUSPENDED):
        mrv.approveReport(rid, 0, sender=verifier)
    mrv.rejectReport(rid, "device suspended", sender=verifier)
    assert mrv.device(did).openReport == 0


def test_approve_report__more_tonnes_than_a_batch__refused(mrv_env, mrv, verifier):
    did = mrv_env.register(capacity=2**64 - 1)
    total = 2_300_000_000_000_000_000  # x 450 mg = 1.035e12 t
    rid = submit_raw(mrv_env, did, total)
    with reverts(mrv.MrvReportTooLarge, reportId=rid, tonnes=total * GRID_MG_PER_WH // MG_PER_TONNE, maxTonnes=10**12):
        mrv.approveReport(rid, 0, sender=verifier)


def test_approve_report__unknown__refused(mrv, verifier):
    with reverts(mrv.MrvUnknownReport, reportId=42):
        mrv.approveReport(42, 0, sender=verifier)


@pytest.mark.parametrize("first", ["approve", "reject"])
def test_approve_or_reject__closed_report__refused(mrv_env, mrv, verifier, first):
    did = mrv_env.register()
    rid = submit_raw(mrv_env, did, 1000)
    if first == "approve":
        mrv.approveReport(rid, 0, sender=verifier)
        status = R_APPROVED
    else:
        mrv.rejectReport(rid, "wrong total", sender=verifier)
        status = R_REJECTED
    with reverts(mrv.MrvReportNotOpen, reportId=rid, status=status):
        mrv.approveReport(rid, 0, sender=verifier)
    with reverts(mrv.MrvReportNotOpen, reportId=rid, status=status):
        mrv.rejectReport(rid, "again", sender=verifier)


# ------------------------------------------------------------------ rejection


def test_reject_report__frees_interval_for_a_corrected_report(mrv_env, mrv, verifier):
    did = mrv_env.register()
    rid = submit_raw(mrv_env, did, 2_000_000)
    receipt = mrv.rejectReport(rid, "root does not match the readings", sender=verifier)
    assert mrv.report(rid).status == R_REJECTED
    assert events(receipt, mrv, "ReportRejected") == [
        plain(reportId=rid, deviceId=did, reason="root does not match the readings", by=verifier)
    ]
    d = mrv.device(did)
    assert (d.openReport, d.reportedUntil, d.nextSequence, d.carryMilligrams) == (0, T0, 1, 0)
    corrected = submit_raw(mrv_env, did, 1_900_000)
    assert mrv.report(corrected).start == T0


def test_reject_report__empty_reason__refused(mrv_env, mrv, verifier):
    did = mrv_env.register()
    rid = submit_raw(mrv_env, did, 1000)
    with reverts(mrv.MrvEmptyReason):
        mrv.rejectReport(rid, "", sender=verifier)


def test_reject_report__unknown__refused(mrv, verifier):
    with reverts(mrv.MrvUnknownReport, reportId=9):
        mrv.rejectReport(9, "x", sender=verifier)


def test_report_view__unknown__reverts(mrv, stranger):
    with reverts(mrv.MrvUnknownReport, reportId=3):
        mrv.report.transact(3, sender=stranger)


# ------------------------------------------------------------------ the carried remainder


def test_carry__many_reports__whole_tonnes_issued_equal_floor_of_total_mg(mrv_env, mrv, registry, verifier):
    rnd = random.Random(14)
    did = mrv_env.register()
    other_code = b"GRID-ID-2025-B".ljust(32, b"\x00")  # its own code: a second version would supersede the first
    other_factor = mrv.publishFactor(other_code, b"ID", T0, YEAR_END, 777, sender=mrv_env.methodologist).return_value[0]
    total_mg = issued = 0
    for i in range(40):
        factor_id, mg_per_wh = (other_factor, 777) if i % 3 == 0 else (mrv_env.factor_id, GRID_MG_PER_WH)
        total = rnd.randrange(0, CAPACITY_W + 1)
        rid = submit_raw(mrv_env, did, total, factor_id=factor_id)
        batch_id = approve(mrv_env, rid).return_value
        total_mg += total * mg_per_wh
        tonnes = mrv.report(rid).tonnes
        if batch_id:
            b = registry.batch(batch_id)
            assert b.serialLast - b.serialFirst + 1 == tonnes > 0
        else:
            assert tonnes == 0
        issued += tonnes
        assert issued == total_mg // MG_PER_TONNE
        assert mrv.device(did).carryMilligrams == total_mg % MG_PER_TONNE
    assert issued > 0 and mrv.device(did).reportedUntil == T0 + 40 * HOUR


# ------------------------------------------------------------------ readings: digest, leaf, inclusion


def test_reading_digest__equals_eth_account_eip712(mrv_env, mrv):
    r = readings_for(b"\x07" * 32, 3, T0, 1, value=123_456)[0]
    assert bytes(mrv.readingDigest(r)) == reading_digest(mrv_env.chain_id, mrv.address, r)


def test_hash_reading_leaf__equals_spec_leaf(mrv):
    r = readings_for(b"\x07" * 32, 3, T0, 1, value=2**200)[0]
    assert bytes(mrv.hashReadingLeaf(r)) == leaf(r)


@pytest.mark.parametrize("count", [1, 2, 7])
def test_reading_included__every_leaf_true__tampered_false(mrv_env, mrv, count):
    did = mrv_env.register()
    rs = readings_for(did, 1, T0, count, value=4321)
    tree = MerkleTree([leaf(r) for r in rs])
    rid = submit_raw(mrv_env, did, 4321 * count, root=tree.root)
    for r in rs:
        assert mrv.readingIncluded(rid, r, tree.proof(leaf(r)))
    r = rs[-1]
    proof = tree.proof(leaf(r))
    assert not mrv.readingIncluded(rid, dict(r, value=r["value"] + 1), proof)
    assert not mrv.readingIncluded(rid, dict(r, sequence=r["sequence"] + 100), proof)
    if proof:
        assert not mrv.readingIncluded(rid, r, [bytes(32)] + proof[1:])


def test_reading_included__unknown_report__reverts(mrv, stranger):
    r = readings_for(b"\x07" * 32, 1, T0, 1)[0]
    with reverts(mrv.MrvUnknownReport, reportId=5):
        mrv.readingIncluded.transact(5, r, [], sender=stranger)


# ------------------------------------------------------------------ constant cost


def _execution_gas(receipt) -> int:
    data = bytes(receipt.transaction.data)
    calldata = sum(4 if b == 0 else 16 for b in data)
    return receipt.gas_used - 21_000 - calldata


def test_submit_and_approve__10_and_100000_readings__same_gas(mrv_env, mrv, owner, verifier):
    # Both reports claim the same total (90 t) so that both approvals take the same path; each approval's hint
    # names an MRV batch (the warm-up's, then the 10-reading one's), so the registry reads alike strings.
    warm_up = mrv_env.register(capacity=2**40)
    approve(mrv_env, submit_raw(mrv_env, warm_up, 200_000_000))
    costs = {}
    for count in (10, 100_000):
        did = mrv_env.register(capacity=2**40)
        rs = readings_for(did, 1, T0, count, value=200_000_000 // count)
        end = rs[-1]["end"]
        submitted = mrv.submitReport(did, T0, end, 1, count, 200_000_000, mrv_env.factor_id, root_of(rs), sender=owner)
        approved = approve(mrv_env, submitted.return_value)
        assert mrv.report(submitted.return_value).tonnes == 90
        costs[count] = (_execution_gas(submitted), approved.gas_used)
    print(f"submitReport execution gas, approveReport gas: {costs}")
    assert costs[10][0] == costs[100_000][0], costs
    assert abs(costs[10][1] - costs[100_000][1]) <= 50, costs
