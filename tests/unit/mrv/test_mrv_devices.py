"""CarbonMRV devices: registration, statuses, and every refusal with its values."""

from __future__ import annotations

import pytest
from mrv_support import (
    APPROVED,
    CAPACITY_W,
    COUNTRY,
    DECOMMISSIONED,
    EMISSIONS,
    GENERATION,
    REGISTERED,
    SUSPENDED,
    T0,
    binding_digest,
    device_id,
    new_key,
    registration,
    sign_binding,
)

from support import events, plain, project_input, reverts

UNKNOWN = device_id("never-registered")


def test_register_device__by_owner__stored_with_project_country_and_event(mrv_env, mrv, owner):
    key = new_key()
    receipt = mrv.registerDevice(
        *registration(mrv, "WF1-T07", mrv_env.project_id, GENERATION, CAPACITY_W, T0, key=key), sender=owner
    )
    did = device_id("WF1-T07")
    assert bytes(receipt.return_value) == did
    d = mrv.device(did)
    assert (d.key, d.projectId, d.kind, d.status, bytes(d.country)) == (
        key.address,
        mrv_env.project_id,
        GENERATION,
        REGISTERED,
        COUNTRY,
    )
    assert (d.capacityWatts, d.reportedUntil, d.nextSequence, d.carryMilligrams, d.openReport) == (
        CAPACITY_W,
        T0,
        1,
        0,
        0,
    )
    assert (d.owner, d.activeFrom, d.openDisputes, d.approvedOnce) == (owner.address, T0, 0, False)
    assert bytes(mrv.deviceOfKey(key.address)) == did
    assert events(receipt, mrv, "DeviceRegistered") == [
        plain(
            deviceId=did,
            projectId=mrv_env.project_id,
            meterId="WF1-T07",
            key=key.address,
            kind=GENERATION,
            capacityWatts=CAPACITY_W,
            activeFrom=T0,
            country=COUNTRY,
            owner=owner,
            by=owner,
        )
    ]


def test_register_device__by_registrar__for_any_project(mrv_env, mrv, registrar, owner, other_holder):
    other_project = mrv_env.make.project(authorize_issuer=False, owner=other_holder, country=b"BR")
    did = mrv_env.register(approve=False, project_id=other_project, sender=registrar, kind=EMISSIONS)
    d = mrv.device(did)
    assert (d.projectId, d.owner, bytes(d.country), d.kind) == (other_project, other_holder.address, b"BR", EMISSIONS)


def test_register_device__stranger__refused(mrv_env, mrv, stranger):
    with reverts(mrv.MrvNotProjectOwnerOrRegistrar, projectId=mrv_env.project_id, account=stranger):
        mrv.registerDevice(*registration(mrv, "X-1", mrv_env.project_id, GENERATION, CAPACITY_W, T0), sender=stranger)


def test_register_device__owner_of_another_project__refused(mrv_env, mrv, other_holder):
    mrv_env.make.project(authorize_issuer=False, owner=other_holder)
    with reverts(mrv.MrvNotProjectOwnerOrRegistrar, projectId=mrv_env.project_id, account=other_holder):
        mrv.registerDevice(
            *registration(mrv, "X-1", mrv_env.project_id, GENERATION, CAPACITY_W, T0), sender=other_holder
        )


def test_register_device__duplicate_meter_id__refused(mrv_env, mrv, owner):
    mrv_env.register(meter_id="DUP-1")
    with reverts(mrv.MrvDeviceExists, deviceId=device_id("DUP-1")):
        mrv.registerDevice(*registration(mrv, "DUP-1", mrv_env.project_id, GENERATION, CAPACITY_W, T0), sender=owner)


def test_register_device__empty_meter_id__refused(mrv_env, mrv, owner):
    with reverts(mrv.MrvEmptyMeterId):
        mrv.registerDevice(*registration(mrv, "", mrv_env.project_id, GENERATION, CAPACITY_W, T0), sender=owner)


def test_register_device__zero_key__refused(mrv_env, mrv, owner):
    with reverts(mrv.MrvZeroDeviceKey):
        mrv.registerDevice("Z-1", "0x" + "00" * 20, mrv_env.project_id, GENERATION, CAPACITY_W, T0, b"", sender=owner)


def test_register_device__key_of_another_device__refused_even_decommissioned(mrv_env, mrv, owner):
    key = new_key()
    first = mrv_env.register(key=key)
    mrv.decommissionDevice(first, "replaced", sender=owner)
    with reverts(mrv.MrvKeyInUse, key=key.address, deviceId=first):
        mrv.registerDevice(
            *registration(mrv, "K-2", mrv_env.project_id, GENERATION, CAPACITY_W, T0, key=key), sender=owner
        )


def test_register_device__unknown_kind__refused(mrv_env, mrv, owner):
    with reverts(mrv.MrvInvalidDeviceKind, kind=2):
        mrv.registerDevice(*registration(mrv, "KIND-2", mrv_env.project_id, 2, CAPACITY_W, T0), sender=owner)


def test_register_device__zero_capacity__refused(mrv_env, mrv, owner):
    with reverts(mrv.MrvZeroCapacity, deviceId=device_id("CAP-0")):
        mrv.registerDevice(*registration(mrv, "CAP-0", mrv_env.project_id, GENERATION, 0, T0), sender=owner)


def test_register_device__pending_project__refused(mrv_env, mrv, registry, registrar, owner):
    pending = registry.registerProject(project_input(owner=owner), sender=registrar).return_value
    with reverts(mrv.MrvProjectNotApproved, projectId=pending, status=1):
        mrv.registerDevice(*registration(mrv, "P-1", pending, GENERATION, CAPACITY_W, T0), sender=owner)


def test_register_device__unknown_project__refused(mrv, registrar):
    with reverts(mrv.MrvProjectNotApproved, projectId=999, status=0):
        mrv.registerDevice(*registration(mrv, "P-2", 999, GENERATION, CAPACITY_W, T0), sender=registrar)


def test_approve_device__registered__approved_with_event(mrv_env, mrv, verifier):
    did = mrv_env.register(approve=False)
    receipt = mrv.approveDevice(did, sender=verifier)
    assert mrv.device(did).status == APPROVED and mrv.device(did).approvedOnce
    assert events(receipt, mrv, "DeviceStatusChanged") == [
        plain(deviceId=did, **{"from": REGISTERED}, to=APPROVED, reason="approved", by=verifier)
    ]


def test_approve_device__already_approved__refused(mrv_env, mrv, verifier):
    did = mrv_env.register()
    with reverts(mrv.MrvInvalidDeviceTransition, deviceId=did, **{"from": APPROVED}, to=APPROVED):
        mrv.approveDevice(did, sender=verifier)


def test_suspend_device__approved__suspended_with_reason(mrv_env, mrv, verifier):
    did = mrv_env.register()
    receipt = mrv.suspendDevice(did, "meter tampered", sender=verifier)
    assert mrv.device(did).status == SUSPENDED
    assert events(receipt, mrv, "DeviceStatusChanged") == [
        plain(deviceId=did, **{"from": APPROVED}, to=SUSPENDED, reason="meter tampered", by=verifier)
    ]


def test_suspend_device__empty_reason__refused(mrv_env, mrv, verifier):
    did = mrv_env.register()
    with reverts(mrv.MrvEmptyReason):
        mrv.suspendDevice(did, "", sender=verifier)


def test_suspend_device__already_suspended__refused(mrv_env, mrv, verifier):
    did = mrv_env.register()
    mrv.suspendDevice(did, "check", sender=verifier)
    with reverts(mrv.MrvInvalidDeviceTransition, deviceId=did, **{"from": SUSPENDED}, to=SUSPENDED):
        mrv.suspendDevice(did, "again", sender=verifier)


@pytest.mark.parametrize(
    ("approved_before", "to", "allowed"),
    [(True, APPROVED, True), (True, REGISTERED, True), (False, APPROVED, False), (False, REGISTERED, True)],
)
def test_set_device_status__reinstate_suspended__only_to_approved_if_approved_before(
    mrv_env, mrv, verifier, registrar, approved_before, to, allowed
):
    did = mrv_env.register(approve=approved_before)
    mrv.suspendDevice(did, "check", sender=verifier)
    if allowed:
        receipt = mrv.setDeviceStatus(did, to, "cleared", sender=registrar)
        assert mrv.device(did).status == to
        assert events(receipt, mrv, "DeviceStatusChanged") == [
            plain(deviceId=did, **{"from": SUSPENDED}, to=to, reason="cleared", by=registrar)
        ]
    else:
        with reverts(mrv.MrvInvalidDeviceTransition, deviceId=did, **{"from": SUSPENDED}, to=to):
            mrv.setDeviceStatus(did, to, "cleared", sender=registrar)


def test_set_device_status__registrar_cannot_approve_a_registered_device(mrv_env, mrv, registrar):
    did = mrv_env.register(approve=False)
    with reverts(mrv.MrvInvalidDeviceTransition, deviceId=did, **{"from": REGISTERED}, to=APPROVED):
        mrv.setDeviceStatus(did, APPROVED, "skip the verifier", sender=registrar)


@pytest.mark.parametrize("to", [REGISTERED, APPROVED, SUSPENDED, DECOMMISSIONED])
def test_set_device_status__decommissioned__final(mrv_env, mrv, registrar, to):
    did = mrv_env.register()
    mrv.setDeviceStatus(did, DECOMMISSIONED, "end of life", sender=registrar)
    with reverts(mrv.MrvInvalidDeviceTransition, deviceId=did, **{"from": DECOMMISSIONED}, to=to):
        mrv.setDeviceStatus(did, to, "revive", sender=registrar)


def test_set_device_status__to_none__refused(mrv_env, mrv, registrar):
    did = mrv_env.register()
    with reverts(mrv.MrvInvalidDeviceTransition, deviceId=did, **{"from": APPROVED}, to=0):
        mrv.setDeviceStatus(did, 0, "erase", sender=registrar)


def test_set_device_status__empty_reason__refused(mrv_env, mrv, registrar):
    did = mrv_env.register()
    with reverts(mrv.MrvEmptyReason):
        mrv.setDeviceStatus(did, SUSPENDED, "", sender=registrar)


def test_decommission_device__by_owner__decommissioned(mrv_env, mrv, owner):
    did = mrv_env.register()
    receipt = mrv.decommissionDevice(did, "replaced by T08", sender=owner)
    assert mrv.device(did).status == DECOMMISSIONED
    assert events(receipt, mrv, "DeviceStatusChanged") == [
        plain(deviceId=did, **{"from": APPROVED}, to=DECOMMISSIONED, reason="replaced by T08", by=owner)
    ]


def test_decommission_device__twice_or_without_reason__refused(mrv_env, mrv, owner, registrar):
    did = mrv_env.register()
    with reverts(mrv.MrvEmptyReason):
        mrv.decommissionDevice(did, "", sender=owner)
    mrv.decommissionDevice(did, "gone", sender=registrar)
    with reverts(mrv.MrvInvalidDeviceTransition, deviceId=did, **{"from": DECOMMISSIONED}, to=DECOMMISSIONED):
        mrv.decommissionDevice(did, "gone again", sender=owner)


def test_decommission_device__stranger__refused(mrv_env, mrv, stranger):
    did = mrv_env.register()
    with reverts(mrv.MrvNotProjectOwnerOrRegistrar, projectId=mrv_env.project_id, account=stranger):
        mrv.decommissionDevice(did, "grief", sender=stranger)


@pytest.mark.parametrize(
    ("function", "args", "who"),
    [
        ("approveDevice", [], "verifier"),
        ("suspendDevice", ["x"], "verifier"),
        ("setDeviceStatus", [SUSPENDED, "x"], "registrar"),
        ("decommissionDevice", ["x"], "registrar"),
        ("submitReport", [T0, T0 + 300, 1, 1, 1, 1, b"\x01" * 32], "registrar"),
    ],
)
def test_device_functions__unknown_device__refused(mrv, verifier, registrar, function, args, who):
    sender = verifier if who == "verifier" else registrar
    with reverts(mrv.MrvUnknownDevice, deviceId=UNKNOWN):
        getattr(mrv, function)(UNKNOWN, *args, sender=sender)


def test_device_view__unknown__reverts(mrv, stranger):
    with reverts(mrv.MrvUnknownDevice, deviceId=UNKNOWN):
        mrv.device.transact(UNKNOWN, sender=stranger)
    assert bytes(mrv.deviceOfKey(stranger.address)) == b"\x00" * 32


# ------------------------------------------------------------------ the key's proof of possession


def test_device_binding_digest__matches_eip712_of_device_binding(mrv_env, mrv):
    did = device_id("BIND-1")
    expected = binding_digest(mrv_env.chain_id, mrv.address, did, mrv_env.project_id)
    assert bytes(mrv.deviceBindingDigest(did, mrv_env.project_id)) == expected
    assert bytes(mrv.deviceBindingDigest(did, mrv_env.project_id + 1)) != expected


@pytest.mark.parametrize("bad", ["empty", "other_key", "other_device", "other_project", "other_chain", "malformed"])
def test_register_device__without_the_keys_binding_signature__refused(mrv_env, mrv, owner, bad):
    key = new_key()
    did = device_id("BIND-2")
    pid = mrv_env.project_id
    signature = {
        "empty": lambda: b"",
        "other_key": lambda: sign_binding(new_key(), mrv_env.chain_id, mrv.address, did, pid),
        "other_device": lambda: sign_binding(key, mrv_env.chain_id, mrv.address, device_id("BIND-3"), pid),
        "other_project": lambda: sign_binding(key, mrv_env.chain_id, mrv.address, did, pid + 1),
        "other_chain": lambda: sign_binding(key, mrv_env.chain_id + 1, mrv.address, did, pid),
        "malformed": lambda: sign_binding(key, mrv_env.chain_id, mrv.address, did, pid)[:64],
    }[bad]()
    with reverts(mrv.MrvBadKeySignature, deviceId=did, key=key.address):
        mrv.registerDevice("BIND-2", key.address, pid, GENERATION, CAPACITY_W, T0, signature, sender=owner)
    assert mrv.deviceOfKey(key.address) == b"\x00" * 32
    good = sign_binding(key, mrv_env.chain_id, mrv.address, did, pid)
    mrv.registerDevice("BIND-2", key.address, pid, GENERATION, CAPACITY_W, T0, good, sender=owner)
    assert bytes(mrv.deviceOfKey(key.address)) == did
