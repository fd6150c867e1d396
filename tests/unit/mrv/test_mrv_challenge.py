"""CarbonMRV challenges: two conflicting readings signed by one device key suspend it and open a dispute; every
refusal (identical readings, no conflict, a forged or malformed signature, two devices, a repeated dispute); what
happens to an open report and to a batch already issued; the registrar's resolution."""

from __future__ import annotations

import pytest
from mrv_support import (
    APPROVED,
    DECOMMISSIONED,
    FIVE_MINUTES,
    R_SUBMITTED,
    REGISTERED,
    SUSPENDED,
    T0,
    device_id,
    new_key,
    reading,
    reading_digest,
    readings_for,
    root_of,
)

from support import ZERO_REF, events, plain, reverts


def conflicting(did, kind="sequence"):
    """Two different readings of `did`: the same sequence with another value, or overlapping intervals."""
    a = reading(did, 5, T0, T0 + FIVE_MINUTES, 1000)
    if kind == "sequence":
        return a, dict(a, value=1001)
    return a, reading(did, 6, T0 + 60, T0 + 60 + FIVE_MINUTES, 1000)


def digest(mrv_env, r):
    return reading_digest(mrv_env.chain_id, mrv_env.mrv.address, r)


@pytest.mark.parametrize("kind", ["sequence", "overlap"])
def test_challenge__conflicting_signed_readings__device_suspended_dispute_recorded(mrv_env, mrv, stranger, kind):
    did = mrv_env.register()
    a, b = conflicting(did, kind)
    receipt = mrv.challenge(a, mrv_env.sign(a), b, mrv_env.sign(b), sender=stranger)
    dispute_id = receipt.return_value
    assert dispute_id == mrv.disputeCount() == 1
    d = mrv.device(did)
    assert (d.status, d.openDisputes) == (SUSPENDED, 1)
    x = mrv.dispute(dispute_id)
    assert (bytes(x.deviceId), x.challenger, bytes(x.readingA), bytes(x.readingB), x.open, x.reinstated) == (
        did,
        stranger.address,
        digest(mrv_env, a),
        digest(mrv_env, b),
        True,
        False,
    )
    assert events(receipt, mrv, "DisputeOpened") == [
        plain(disputeId=1, deviceId=did, challenger=stranger, readingA=digest(mrv_env, a), readingB=digest(mrv_env, b))
    ]
    assert events(receipt, mrv, "DeviceStatusChanged") == [
        plain(
            deviceId=did,
            **{"from": APPROVED},
            to=SUSPENDED,
            reason="challenge: conflicting signed readings",
            by=stranger,
        )
    ]


def test_challenge__identical_readings__refused(mrv_env, mrv, stranger):
    did = mrv_env.register()
    a, _ = conflicting(did)
    with reverts(mrv.MrvSameReading, readingDigest=digest(mrv_env, a)):
        mrv.challenge(a, mrv_env.sign(a), a, mrv_env.sign(a), sender=stranger)


def test_challenge__adjacent_readings__do_not_conflict(mrv_env, mrv, stranger):
    did = mrv_env.register()
    a, b = readings_for(did, 1, T0, 2)
    with reverts(mrv.MrvReadingsDoNotConflict, readingA=digest(mrv_env, a), readingB=digest(mrv_env, b)):
        mrv.challenge(a, mrv_env.sign(a), b, mrv_env.sign(b), sender=stranger)


def test_challenge__malformed_interval_is_no_overlap(mrv_env, mrv, stranger):
    did = mrv_env.register()
    a = reading(did, 1, T0, T0 + FIVE_MINUTES, 1)
    b = reading(did, 2, T0 + 200, T0 + 100, 1)  # end before start: never overlaps, only its sequence could conflict
    with reverts(mrv.MrvReadingsDoNotConflict, readingA=digest(mrv_env, a), readingB=digest(mrv_env, b)):
        mrv.challenge(a, mrv_env.sign(a), b, mrv_env.sign(b), sender=stranger)


@pytest.mark.parametrize("forged", ["a", "b"])
def test_challenge__reading_signed_by_another_key__refused(mrv_env, mrv, stranger, forged):
    did = mrv_env.register()
    a, b = conflicting(did)
    impostor = new_key()
    sig_a = mrv_env.sign(a, impostor) if forged == "a" else mrv_env.sign(a)
    sig_b = mrv_env.sign(b, impostor) if forged == "b" else mrv_env.sign(b)
    bad = a if forged == "a" else b
    with reverts(mrv.MrvBadReadingSignature, deviceId=did, readingDigest=digest(mrv_env, bad)):
        mrv.challenge(a, sig_a, b, sig_b, sender=stranger)
    assert mrv.device(did).status == APPROVED


def test_challenge__signature_of_another_reading__refused(mrv_env, mrv, stranger):
    did = mrv_env.register()
    a, b = conflicting(did)
    with reverts(mrv.MrvBadReadingSignature, deviceId=did, readingDigest=digest(mrv_env, b)):
        mrv.challenge(a, mrv_env.sign(a), b, mrv_env.sign(a), sender=stranger)


@pytest.mark.parametrize("signature", [b"", b"\x01" * 64, b"\x00" * 65])
def test_challenge__malformed_signature__refused(mrv_env, mrv, stranger, signature):
    did = mrv_env.register()
    a, b = conflicting(did)
    with reverts(mrv.MrvBadReadingSignature, deviceId=did, readingDigest=digest(mrv_env, b)):
        mrv.challenge(a, mrv_env.sign(a), b, signature, sender=stranger)


def test_challenge__high_s_signature__refused(mrv_env, mrv, stranger):
    did = mrv_env.register()
    a, b = conflicting(did)
    sig = mrv_env.sign(b)
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    s = int.from_bytes(sig[32:64], "big")
    flipped = sig[:32] + (n - s).to_bytes(32, "big") + bytes([55 - sig[64]])  # the same signature, malleated
    with reverts(mrv.MrvBadReadingSignature, deviceId=did, readingDigest=digest(mrv_env, b)):
        mrv.challenge(a, mrv_env.sign(a), b, flipped, sender=stranger)


def test_challenge__readings_of_two_devices__refused(mrv_env, mrv, stranger):
    one, two = mrv_env.register(), mrv_env.register()
    a = reading(one, 1, T0, T0 + FIVE_MINUTES, 1)
    b = reading(two, 1, T0, T0 + FIVE_MINUTES, 2)
    with reverts(mrv.MrvChallengeDifferentDevices, deviceA=one, deviceB=two):
        mrv.challenge(a, mrv_env.sign(a), b, mrv_env.sign(b), sender=stranger)


def test_challenge__unknown_device__refused(mrv_env, mrv, stranger):
    did = device_id("nobody")
    a, b = conflicting(did)
    key = new_key()
    with reverts(mrv.MrvUnknownDevice, deviceId=did):
        mrv.challenge(a, mrv_env.sign(a, key), b, mrv_env.sign(b, key), sender=stranger)


def test_challenge__same_pair_twice_in_either_order__refused(mrv_env, mrv, stranger, attacker):
    did = mrv_env.register()
    a, b = conflicting(did)
    first = mrv.challenge(a, mrv_env.sign(a), b, mrv_env.sign(b), sender=stranger).return_value
    with reverts(mrv.MrvDuplicateDispute, disputeId=first):
        mrv.challenge(b, mrv_env.sign(b), a, mrv_env.sign(a), sender=attacker)


def test_challenge__suspended_device__second_dispute_status_unchanged(mrv_env, mrv, stranger):
    did = mrv_env.register()
    a, b = conflicting(did)
    mrv.challenge(a, mrv_env.sign(a), b, mrv_env.sign(b), sender=stranger)
    c = dict(a, value=999)
    receipt = mrv.challenge(a, mrv_env.sign(a), c, mrv_env.sign(c), sender=stranger)
    assert events(receipt, mrv, "DeviceStatusChanged") == []
    assert (mrv.device(did).status, mrv.device(did).openDisputes) == (SUSPENDED, 2)


def test_challenge__open_report__cannot_be_approved_only_rejected(mrv_env, mrv, owner, verifier, stranger):
    did = mrv_env.register()
    rs = readings_for(did, 1, T0, 12)
    rid = mrv_env.submit(did, rs)
    a, b = rs[4], dict(rs[4], value=rs[4]["value"] + 1)
    mrv.challenge(a, mrv_env.sign(a), b, mrv_env.sign(b), sender=stranger)
    with reverts(mrv.MrvDeviceNotApproved, deviceId=did, status=SUSPENDED):
        mrv.approveReport(rid, 0, sender=verifier)
    assert mrv.report(rid).status == R_SUBMITTED
    with reverts(mrv.MrvDeviceNotApproved, deviceId=did, status=SUSPENDED):
        mrv_env.submit(did, rs)
    mrv.rejectReport(rid, "double-reported reading 5", sender=verifier)
    assert mrv.device(did).openReport == 0


def test_challenge__batch_already_issued_stays__registrar_may_cancel_it(
    mrv_env, mrv, registry, credit, registrar, verifier, issuer, stranger
):
    did = mrv_env.register()
    rs = readings_for(did, 1, T0, 12, value=250_000)  # 3 MWh: 1.35 t
    batch_id = mrv.approveReport(mrv_env.submit(did, rs), 0, sender=verifier).return_value
    registry.setProjectIssuer(mrv_env.project_id, issuer, True, sender=registrar)
    credit.issue(batch_id, mrv_env.owner, 1000, ZERO_REF, sender=issuer)
    a, b = rs[0], dict(rs[0], value=1)
    mrv.challenge(a, mrv_env.sign(a), b, mrv_env.sign(b), sender=stranger)
    assert registry.batch(batch_id).verified and credit.balanceOf(mrv_env.owner, batch_id) == 1000
    registry.cancelCredits(batch_id, [mrv_env.owner], [1000], 1000, "MRV dispute 1: double reporting", sender=registrar)
    assert credit.balanceOf(mrv_env.owner, batch_id) == 0 and credit.totalCancelled(batch_id) == 1000
    mrv.resolveDispute(1, False, sender=registrar)
    assert mrv.device(did).status == SUSPENDED and not mrv.dispute(1).open


# ------------------------------------------------------------------ resolution


@pytest.mark.parametrize(("approved_before", "back_to"), [(True, APPROVED), (False, REGISTERED)])
def test_resolve_dispute__reinstate__device_back_to_its_status(
    mrv_env, mrv, registrar, stranger, approved_before, back_to
):
    did = mrv_env.register(approve=approved_before)
    a, b = conflicting(did)
    dispute_id = mrv.challenge(a, mrv_env.sign(a), b, mrv_env.sign(b), sender=stranger).return_value
    receipt = mrv.resolveDispute(dispute_id, True, sender=registrar)
    assert mrv.device(did).status == back_to and mrv.device(did).openDisputes == 0
    x = mrv.dispute(dispute_id)
    assert (x.open, x.reinstated) == (False, True)
    assert events(receipt, mrv, "DisputeResolved") == [
        plain(disputeId=dispute_id, deviceId=did, reinstated=True, by=registrar)
    ]
    assert events(receipt, mrv, "DeviceStatusChanged") == [
        plain(deviceId=did, **{"from": SUSPENDED}, to=back_to, reason="dispute resolved: reinstated", by=registrar)
    ]


def test_resolve_dispute__reinstated_device_reports_again(mrv_env, mrv, registrar, verifier, stranger):
    did = mrv_env.register()
    rs = readings_for(did, 1, T0, 12)
    a, b = conflicting(did)
    mrv.challenge(a, mrv_env.sign(a), b, mrv_env.sign(b), sender=stranger)
    mrv.resolveDispute(1, True, sender=registrar)
    rid = mrv_env.submit(did, rs)
    mrv.approveReport(rid, 0, sender=verifier)
    assert mrv.device(did).nextSequence == 13


def test_resolve_dispute__another_still_open__cannot_reinstate(mrv_env, mrv, registrar, stranger):
    did = mrv_env.register()
    a, b = conflicting(did)
    c = dict(a, value=7)
    mrv.challenge(a, mrv_env.sign(a), b, mrv_env.sign(b), sender=stranger)
    mrv.challenge(a, mrv_env.sign(a), c, mrv_env.sign(c), sender=stranger)
    with reverts(mrv.MrvDeviceHasOpenDisputes, deviceId=did, openDisputes=1):
        mrv.resolveDispute(1, True, sender=registrar)
    with reverts(mrv.MrvDeviceHasOpenDisputes, deviceId=did, openDisputes=2):
        mrv.setDeviceStatus(did, APPROVED, "cleared", sender=registrar)
    mrv.resolveDispute(1, False, sender=registrar)
    mrv.resolveDispute(2, True, sender=registrar)
    assert mrv.device(did).status == APPROVED


def test_resolve_dispute__decommissioned_device__cannot_reinstate(mrv_env, mrv, registrar, owner, stranger):
    did = mrv_env.register()
    a, b = conflicting(did)
    mrv.challenge(a, mrv_env.sign(a), b, mrv_env.sign(b), sender=stranger)
    mrv.decommissionDevice(did, "removed", sender=owner)
    with reverts(mrv.MrvInvalidDeviceTransition, deviceId=did, **{"from": DECOMMISSIONED}, to=APPROVED):
        mrv.resolveDispute(1, True, sender=registrar)
    mrv.resolveDispute(1, False, sender=registrar)
    assert mrv.device(did).openDisputes == 0


def test_resolve_dispute__closed_or_unknown__refused(mrv_env, mrv, registrar, stranger):
    did = mrv_env.register()
    a, b = conflicting(did)
    mrv.challenge(a, mrv_env.sign(a), b, mrv_env.sign(b), sender=stranger)
    mrv.resolveDispute(1, False, sender=registrar)
    with reverts(mrv.MrvDisputeClosed, disputeId=1):
        mrv.resolveDispute(1, True, sender=registrar)
    with reverts(mrv.MrvUnknownDispute, disputeId=2):
        mrv.resolveDispute(2, False, sender=registrar)
    with reverts(mrv.MrvUnknownDispute, disputeId=2):
        mrv.dispute.transact(2, sender=stranger)


def test_challenge_then_report_rules__interval_never_counted_twice(mrv_env, mrv, verifier, registrar, stranger):
    """After a rejected report and a reinstatement, the device's next report still starts where the last accepted
    one ended: nothing lets an accepted interval be reported again."""
    did = mrv_env.register()
    first = readings_for(did, 1, T0, 12)
    mrv.approveReport(mrv_env.submit(did, first), 0, sender=verifier)
    with reverts(mrv.MrvReportNotContiguous, deviceId=did, start=T0, expected=first[-1]["end"]):
        mrv_env.submit(did, first, root=root_of(first[:3]))
