"""Properties of ingest over random farms and faults: the chunking does not change the store; every clean reading
is stored and no faulty one; stored readings are authentic, within capacity, and never overlap; a rerun stores
nothing."""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tonne.mrv.ingest import DeviceInfo, ingest
from tonne.mrv.readings import Domain, Reading, recover
from tonne.mrv.simulate import FAULT_KINDS, Fault, farm, generate, write_readings
from tonne.mrv.store import ReadingStore

DOMAIN = Domain(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3")
_runs = itertools.count()


@st.composite
def farms(draw):
    meters = draw(st.integers(1, 3))
    steps = draw(st.integers(2, 25))
    faults = draw(
        st.lists(
            st.tuples(st.sampled_from(FAULT_KINDS), st.integers(0, meters * steps - 1)),
            max_size=6,
            unique_by=lambda f: f[1],
        )
    )
    return (
        meters,
        steps,
        [Fault(kind, index=i) for kind, i in faults],
        draw(st.integers(1, 40)),
        draw(st.integers(1, 40)),
    )


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(farms())
def test_ingest__random_farm_and_faults__invariants(case):
    meters, steps, faults, chunk_a, chunk_b = case
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        farm_meters = farm(meters, seed=3)
        rows = list(generate(farm_meters, DOMAIN, steps=steps, seed=3, faults=faults))
        path = tmp_path / "r.csv"
        write_readings(iter(rows), path)
        devices = {
            m.device: DeviceInfo(m.address.lower(), 1, m.capacity_w, "approved", m.meter_id) for m in farm_meters
        }
        stores = []
        for chunk in (chunk_a, chunk_b):
            store = ReadingStore(f"sqlite:///{tmp_path / f's{next(_runs)}.sqlite'}")
            ingest([path], store, devices, DOMAIN, workers=0, chunk=chunk)
            stores.append(store)
        stored = stores[0].all_readings()
        assert stored == stores[1].all_readings()  # the chunking changes nothing

        again = ingest([path], stores[0], devices, DOMAIN, workers=0, chunk=chunk_b)
        assert again.stored == 0 and again.duplicates == len(stored)
        for store in stores:
            store.close()

    keys = {(bytes.fromhex(s[0][2:]), s[1], s[3], s[4], s[5]) for s in stored}
    clock_back = {r.meter_id for r in rows if r.fault == "clock-back"}
    written = [r for r in rows if r.fault != "gap"]
    for r in written:
        key = (r.reading.device, r.reading.sequence, r.reading.start, r.reading.end, r.reading.value)
        if r.fault is None and r.meter_id not in clock_back:
            assert key in keys, (r, faults)
        if r.fault in ("tamper", "unknown-key", "over-capacity"):
            assert key not in keys, (r, faults)
    by_device: dict[str, list] = {}
    for s in stored:
        by_device.setdefault(s[0], []).append(s)
        reading = Reading(bytes.fromhex(s[0][2:]), s[1], s[3], s[4], s[5])
        info = devices[reading.device]
        assert recover(DOMAIN.digest(reading), bytes.fromhex(s[6][2:])).lower() == info.key_address
        assert reading.value * 3600 <= info.capacity_w * (reading.end - reading.start)
    for series in by_device.values():
        for a, b in itertools.pairwise(series):  # in sequence order: time order, no overlap
            assert a[1] < b[1] and a[4] <= b[3]
