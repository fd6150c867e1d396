"""CarbonMRV emission factors: versioned per code, immutable once published, every refusal with its values."""

from __future__ import annotations

import pytest
from mrv_support import COUNTRY, FACTOR_CODE, GRID_MG_PER_WH, T0, YEAR_END

from support import events, plain, reverts

CODE_B = b"GRID-BR-2025".ljust(32, b"\x00")


def test_publish_factor__versions_count_per_code__old_versions_unchanged(mrv_env, mrv, methodologist):
    assert mrv.latestFactorVersion(FACTOR_CODE) == 1  # the fixture's
    receipt = mrv.publishFactor(FACTOR_CODE, COUNTRY, T0, YEAR_END, 470, sender=methodologist)
    factor_id, version = receipt.return_value
    assert (factor_id, version) == (mrv_env.factor_id + 1, 2)
    other_id, other_version = mrv.publishFactor(CODE_B, b"BR", T0, YEAR_END, 90, sender=methodologist).return_value
    assert (other_id, other_version) == (factor_id + 1, 1)

    assert mrv.latestFactorVersion(FACTOR_CODE) == 2 and mrv.latestFactorVersion(CODE_B) == 1
    assert mrv.factorIdOf(FACTOR_CODE, 1) == mrv_env.factor_id and mrv.factorIdOf(FACTOR_CODE, 2) == factor_id
    assert mrv.factorIdOf(FACTOR_CODE, 3) == 0 and mrv.factorCount() == other_id
    old, new = mrv.factor(mrv_env.factor_id), mrv.factor(factor_id)
    assert (old.milligramsPerUnit, old.version, new.milligramsPerUnit, new.version) == (GRID_MG_PER_WH, 1, 470, 2)
    assert (bytes(new.code), bytes(new.country), new.validFrom, new.validUntil) == (FACTOR_CODE, COUNTRY, T0, YEAR_END)
    assert events(receipt, mrv, "FactorPublished") == [
        plain(
            factorId=factor_id,
            code=FACTOR_CODE,
            version=2,
            country=COUNTRY,
            validFrom=T0,
            validUntil=YEAR_END,
            milligramsPerUnit=470,
            by=methodologist,
        )
    ]


def test_factor_abi__no_function_changes_a_published_factor(mrv):
    writers = {abi.name for abi in mrv.contract_type.mutable_methods}
    assert {w for w in writers if "actor" in w} == {"publishFactor"}


def test_publish_factor__zero_code__refused(mrv, methodologist):
    with reverts(mrv.MrvZeroFactorCode):
        mrv.publishFactor(b"\x00" * 32, COUNTRY, T0, YEAR_END, 450, sender=methodologist)


@pytest.mark.parametrize("country", [b"id", b"\x00\x00", b"I1"])
def test_publish_factor__bad_country__refused(mrv, methodologist, country):
    with reverts(mrv.MrvInvalidCountry, country=country):
        mrv.publishFactor(FACTOR_CODE, country, T0, YEAR_END, 450, sender=methodologist)


def test_publish_factor__validity_ends_before_start__refused(mrv, methodologist):
    with reverts(mrv.MrvInvalidFactorValidity, validFrom=YEAR_END, validUntil=T0):
        mrv.publishFactor(FACTOR_CODE, COUNTRY, YEAR_END, T0, 450, sender=methodologist)


def test_publish_factor__zero_milligrams__refused(mrv, methodologist):
    with reverts(mrv.MrvZeroFactor, code=FACTOR_CODE):
        mrv.publishFactor(FACTOR_CODE, COUNTRY, T0, YEAR_END, 0, sender=methodologist)


def test_publish_factor__one_instant_validity__accepted(mrv, methodologist):
    factor_id = mrv.publishFactor(FACTOR_CODE, COUNTRY, T0, T0, 1, sender=methodologist).return_value[0]
    assert mrv.factor(factor_id).validUntil == T0


def test_factor_view__unknown__reverts(mrv, stranger):
    with reverts(mrv.MrvUnknownFactor, factorId=77):
        mrv.factor.transact(77, sender=stranger)
