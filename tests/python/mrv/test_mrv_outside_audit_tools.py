"""Outside audit of the MRV tooling (audit/mrv-outside-audit.md): units, the verifier's re-derivation, the
signature re-check's domain, and the Merkle tree's second-preimage resistance. Plain passing tests: each
suspicion here did not hold."""

from __future__ import annotations

from tonne.mrv import aggregate, merkle
from tonne.mrv.chain import TONNE_MG
from tonne.mrv.readings import Domain, Reading, device_id, private_key, recover, sign

DEVICE = device_id("AUDIT-WF-01")
T0 = 1_735_689_600
STEP = 300


def _readings(count: int, value: int = 1000, first: int = 1) -> list[Reading]:
    return [Reading(DEVICE, first + i, T0 + i * STEP, T0 + (i + 1) * STEP, value) for i in range(count)]


def test_units__1000_kwh_at_450_g_per_kwh_is_450_kg():
    """Wh readings x a factor in mg/Wh (numerically g/kWh): 1,000 kWh = 1e6 Wh at 450 g/kWh is 0.45 t, as the
    contract computes it (mg = Wh x factor, t = mg // 1e9). A factor entered as kg/MWh or mg/kWh would be off by
    1,000 either way; the tools take the factor as the spec's integer and never rescale it."""
    wh, factor = 1_000_000, 450
    assert wh * factor == 450_000_000 and TONNE_MG == 10**9
    assert (wh * factor) // TONNE_MG == 0 and (wh * factor) % TONNE_MG == 450_000_000
    assert (wh * 3 * factor) // TONNE_MG == 1  # 3,000 kWh: 1.35 t


def test_verifier__plausible_total_of_readings_that_do_not_exist__rejected():
    """A report whose total is plausible but whose readings are not the ones the verifier holds: the verifier's
    re-derivation names both the root and the total (and an empty store is never a pass)."""
    held = _readings(12)
    claimed = aggregate.ReportFields(T0, T0 + 12 * STEP, 1, 12, 12 * 1000 + 1, b"\x42" * 32)
    v = aggregate.verify_report(held, claimed)
    assert not v.ok
    assert any(r.startswith("total:") for r in v.reasons) and any(r.startswith("root:") for r in v.reasons)
    assert not aggregate.verify_report([], claimed).ok


def test_verifier__same_total_other_readings__root_mismatch_rejected():
    """The total alone is not trusted: readings moved between intervals (same sum) change the root."""
    held = _readings(12)
    moved = [*held[:5], Reading(DEVICE, 6, held[5].start, held[5].end, 900), Reading(DEVICE, 7, held[6].start,
             held[6].end, 1100), *held[7:]]  # fmt: skip
    report = aggregate.ReportFields(T0, T0 + 12 * STEP, 1, 12, 12_000, merkle.root_of(moved))
    v = aggregate.verify_report(held, report)
    assert (
        not v.ok
        and [r for r in v.reasons if r.startswith("root:")]
        and not [r for r in v.reasons if r.startswith("total:")]
    )


def test_verifier__readings_outside_the_interval_or_repeated__named():
    held = [*_readings(3), Reading(DEVICE, 3, T0 + 2 * STEP, T0 + 3 * STEP, 1001), _readings(1, first=4)[0]]
    stray = Reading(DEVICE, 4, T0 + 10 * STEP, T0 + 11 * STEP, 1000)
    rs = [*held[:4], stray]
    report = aggregate.ReportFields(T0, T0 + 3 * STEP, 1, 4, sum(r.value for r in rs), merkle.root_of(rs))
    v = aggregate.verify_report(rs, report)
    assert not v.ok
    assert any("appears twice" in r for r in v.reasons)
    assert any("outside the report's" in r for r in v.reasons)


def test_signature_recheck__reading_signed_for_another_chain_or_contract__recovers_another_signer():
    """The verifier's re-check uses the chain's own domain: a reading signed for a fork, a test chain or another
    CarbonMRV recovers to some other address, so `_signature_reasons` names it."""
    key = private_key(0xA11CE)
    from tonne.mrv.readings import address_of

    me = address_of(key).lower()
    r = _readings(1)[0]
    here = Domain(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3")
    for elsewhere in (Domain(1, here.verifying_contract), Domain(31337, "0x" + "11" * 20)):
        sig = sign(elsewhere, r, key)
        assert recover(elsewhere.digest(r), sig).lower() == me
        assert recover(here.digest(r), sig).lower() != me


def test_merkle__leaf_is_a_32_byte_preimage__never_an_internal_node():
    """Second preimage: a leaf is keccak(keccak(abi.encode(5 words))), an internal node keccak(64 bytes); the tool
    builds leaves only from readings (`leaf_hash`), and every proof the tool gives verifies for its own reading
    only, for odd counts and duplicate readings too."""
    for count in (1, 3, 5, 9):
        rs = _readings(count)
        tree = merkle.tree_of(rs)
        internal = set(tree.nodes[: len(tree.nodes) - count])
        for r in rs:
            lf = merkle.leaf_hash(r)
            assert lf not in internal
            assert merkle.verify(tree.proof(lf), tree.root, lf)
            other = Reading(r.device, r.sequence, r.start, r.end, r.value + 1)
            assert not merkle.verify(tree.proof(lf), tree.root, merkle.leaf_hash(other))
    dup = _readings(2) + _readings(1)
    tree = merkle.tree_of(dup)
    assert tree.leaf_count == 3 and merkle.verify(
        tree.proof(merkle.leaf_hash(dup[0])), tree.root, merkle.leaf_hash(dup[0])
    )
