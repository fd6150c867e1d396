"""Readings: the hand-made EIP-712 digest equals eth_account's, signatures equal Account.sign_typed_data's and
recover there, low s; meter ids are NFC-normalised and refuse invisible characters."""

from __future__ import annotations

import unicodedata

import pytest
from eth_account import Account
from eth_account.messages import _hash_eip191_message, encode_typed_data
from hypothesis import given, settings
from hypothesis import strategies as st

from tonne.mrv.readings import (
    HALF_N,
    SECP256K1_N,
    AddressMatcher,
    Domain,
    MeterIdError,
    Reading,
    SignatureError,
    address_of,
    device_id,
    keccak,
    private_key,
    recover,
    sign,
)

readings = st.builds(
    Reading,
    st.binary(min_size=32, max_size=32),
    st.integers(0, 2**64 - 1),
    st.integers(0, 2**40 - 1),
    st.integers(0, 2**40 - 1),
    st.integers(0, 2**256 - 1),
)
secrets = st.integers(1, SECP256K1_N - 1)
domains = st.builds(Domain, st.integers(1, 2**64), st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex()))


@settings(max_examples=60, deadline=None)
@given(readings, secrets, domains)
def test_digest_and_signature__any_reading__equal_eth_account(reading, secret, domain):
    typed = domain.typed_data(reading)
    assert domain.digest(reading) == _hash_eip191_message(encode_typed_data(full_message=typed))
    key = private_key(secret)
    signature = sign(domain, reading, key)
    theirs = Account.sign_typed_data(secret.to_bytes(32, "big"), full_message=typed)
    assert signature == theirs.signature
    assert Account.recover_message(encode_typed_data(full_message=typed), signature=signature) == address_of(key)
    assert int.from_bytes(signature[32:64], "big") <= HALF_N and signature[64] in (27, 28)
    assert recover(domain.digest(reading), signature) == address_of(key)
    assert AddressMatcher(bytes.fromhex(address_of(key)[2:])).matches(domain.digest(reading), signature)


def _high_s(signature: bytes) -> bytes:
    s = int.from_bytes(signature[32:64], "big")
    return signature[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - signature[64]])


def test_recover__high_s_or_bad_v__refused_as_openzeppelin(domain):
    key = private_key(b"\x07" * 32)
    reading = Reading(device_id("WF1-T01"), 1, 100, 400, 5000)
    digest, good = domain.digest(reading), sign(domain, reading, key)
    matcher = AddressMatcher(bytes.fromhex(address_of(key)[2:]))
    high = _high_s(good)  # the same point, malleated: eth_keys would accept it, OZ ECDSA refuses it
    with pytest.raises(SignatureError, match="upper half"):
        recover(digest, high)
    assert not matcher.matches(digest, high)
    for v in (0, 1, 29):
        bad = good[:64] + bytes([v])
        with pytest.raises(SignatureError, match="v is"):
            recover(digest, bad)
        assert not matcher.matches(digest, bad)
    flipped = good[:64] + bytes([55 - good[64]])  # the other v: another key
    assert not matcher.matches(digest, flipped)
    assert matcher.matches(digest, good) and matcher.matches(digest, good)  # the cached-key path as well
    with pytest.raises(SignatureError, match="64 bytes"):
        recover(digest, good[:64])


def test_domain__other_chain_or_contract__other_digest():
    reading = Reading(device_id("M"), 1, 1, 2, 3)
    a = Domain(1, "0x" + "11" * 20)
    assert a.digest(reading) != Domain(2, "0x" + "11" * 20).digest(reading)
    assert a.digest(reading) != Domain(1, "0x" + "12" * 20).digest(reading)


def test_device_id__two_unicode_normal_forms__one_device():
    composed, decomposed = "WIND-\u00c9OLE-1", "WIND-E\u0301OLE-1"
    assert composed != decomposed and unicodedata.normalize("NFC", decomposed) == composed
    assert device_id(composed) == device_id(decomposed) == keccak(composed.encode())
    assert device_id("WF1-T07") == keccak(b"WF1-T07")


@pytest.mark.parametrize(
    "meter_id",
    ["", "WF1\u200b-T1", "WF1\tT1", "WF1\nT1", "WF1\u202eT1", "WF1\u00a0T1", " WF1", "WF1 ", "W\x00", "x" * 129],
)
def test_device_id__invisible_or_bad__refused(meter_id):
    with pytest.raises(MeterIdError):
        device_id(meter_id)


@settings(max_examples=30, deadline=None)
@given(st.binary(min_size=32, max_size=32), st.integers(0, 2**64 - 1), domains)
def test_binding_digest__any_device_and_project__equals_eth_account(device, project_id, domain):
    typed = domain.typed_data(Reading(device, 0, 0, 0, 0))
    binding = [{"name": "device", "type": "bytes32"}, {"name": "projectId", "type": "uint64"}]
    typed["types"] = {"EIP712Domain": typed["types"]["EIP712Domain"], "DeviceBinding": binding}
    typed["primaryType"], typed["message"] = "DeviceBinding", {"device": device, "projectId": project_id}
    assert domain.binding_digest(device, project_id) == _hash_eip191_message(encode_typed_data(full_message=typed))
