"""Aggregate: a period's readings, total, gaps, root and proofs from the store; refused periods; verification."""

from __future__ import annotations

import dataclasses

import pytest

from tonne.mrv import merkle
from tonne.mrv.aggregate import PeriodError, build_period, verify_report
from tonne.mrv.ingest import ingest, load_devices
from tonne.mrv.readings import device_id
from tonne.mrv.simulate import DEFAULT_START, Fault, simulate
from tonne.mrv.store import ReadingStore

T0 = DEFAULT_START
METER = "WF1-T01"


@pytest.fixture
def store_with(tmp_path, domain, mrv_url):
    def make(faults=()):
        out, dev = tmp_path / "r.csv", tmp_path / "dev.json"
        simulate(out, dev, domain, meters=2, steps=48, faults=faults)
        devices, dom = load_devices(dev)
        store = ReadingStore(mrv_url)
        ingest([out], store, devices, dom, workers=0)
        return store

    return make


def test_period__clean_day_half__total_root_and_proofs(store_with):
    store = store_with()
    device = device_id(METER)
    period = build_period(store, device, T0, T0 + 24 * 300, reported_until=T0, next_sequence=1)
    stored = store.readings_of(device)[:24]
    assert [r.sequence for r in period.readings] == list(range(1, 25))
    assert period.total == sum(r.value for r in stored) and period.total > 0
    assert period.root == merkle.root_of([r.reading for r in stored])
    assert period.fields.as_dict() == {"start": T0, "end": T0 + 7200, "firstSequence": 1, "lastSequence": 24,
                                       "total": period.total, "root": "0x" + period.root.hex()}  # fmt: skip
    for seq in (1, 13, 24):
        reading, leaf, proof = period.proof(seq)
        assert merkle.verify(proof, period.root, leaf) and leaf == merkle.leaf_hash(reading)
    with pytest.raises(PeriodError, match="sequence 25 is not among"):
        period.proof(25)
    following = build_period(store, device, T0 + 7200, T0 + 48 * 300, reported_until=T0 + 7200, next_sequence=25)
    assert following.fields.first_sequence == 25 and following.fields.last_sequence == 48
    assert verify_report([r.reading for r in period.readings], period.fields).ok


@pytest.mark.parametrize(
    ("start", "end", "until", "next_seq", "words"),
    [
        (T0 + 300, T0 + 900, T0, 2, "is not where the device's last report ended"),
        (T0, T0 + 450, T0, 1, "runs past the period's end"),
        (T0, T0, T0, 1, "is not after start"),
        (T0, T0 + 900, T0, 2, "below the device's next sequence 2"),
        (T0 + 100 * 300, T0 + 101 * 300, T0 + 100 * 300, 101, "no stored readings"),
    ],
)
def test_period__bad_period__refused_with_reason(store_with, start, end, until, next_seq, words):
    store = store_with()
    with pytest.raises(PeriodError, match=words):
        build_period(store, device_id(METER), start, end, reported_until=until, next_sequence=next_seq)


def test_period__gap_inside__refused_unless_allowed_and_counted_zero(store_with):
    store = store_with([Fault("gap", index=20), Fault("tamper", index=30)])  # meter 1: steps 10 and 15
    device = device_id(METER)
    with pytest.raises(PeriodError, match=r"2 gap\(s\) in the period .*sequence 15\.\.15 missing"):
        build_period(store, device, T0, T0 + 48 * 300, reported_until=T0, next_sequence=1)
    period = build_period(store, device, T0, T0 + 48 * 300, reported_until=T0, next_sequence=1, allow_gaps=True)
    assert [(g.start, g.end, g.sequences) for g in period.gaps] == [
        (T0 + 10 * 300, T0 + 11 * 300, None),
        (T0 + 15 * 300, T0 + 16 * 300, (15, 15)),
    ]
    assert len(period.readings) == 46 and period.total == sum(r.value for r in period.readings)
    verification = verify_report([r.reading for r in period.readings], period.fields)
    assert verification.ok and len(verification.gaps) == 2  # shown to the verifier, who decides


def test_verify__tampered_or_missing_reading__reasons(store_with):
    store = store_with()
    period = build_period(store, device_id(METER), T0, T0 + 10 * 300, reported_until=T0, next_sequence=1)
    readings = [r.reading for r in period.readings]
    tampered = [*readings[:4], dataclasses.replace(readings[4], value=readings[4].value + 1), *readings[5:]]
    result = verify_report(tampered, period.fields)
    assert not result.ok
    assert [r.split(":")[0] for r in result.reasons] == ["total", "root"]
    dropped = verify_report(readings[:-1], period.fields)
    assert {r.split(":")[0] for r in dropped.reasons} == {"total", "root", "lastSequence"}
    overlap = [*readings, dataclasses.replace(readings[-1], sequence=11, start=readings[-1].start + 100,
                                              end=readings[-1].end + 100)]  # fmt: skip
    assert any("overlap" in r for r in verify_report(overlap, period.fields).reasons)
    assert not verify_report([], period.fields).ok
