"""Crash and concurrency: an ingest killed midway (SIGKILL) and run again leaves the store of a clean run; two
ingests of the same file at once store each reading once. Real processes, SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tonne.mrv.ingest import ingest, load_devices
from tonne.mrv.simulate import Fault, simulate
from tonne.mrv.store import ReadingStore

ROOT = Path(__file__).parents[3]

_CHILD = """
import os, signal, sys
from tonne.mrv.ingest import ingest, load_devices
from tonne.mrv.store import ReadingStore
path, devices_path, url, kill_after = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
devices, domain = load_devices(devices_path)
store = ReadingStore(url)
chunks = [0]
def on_chunk(result):
    chunks[0] += 1
    if kill_after and chunks[0] >= kill_after:
        os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, no finally: as a power cut
result = ingest([path], store, devices, domain, workers=1, chunk=500, on_chunk=on_chunk)
print(result.stored, result.duplicates, result.problems)
"""


def _child(path, devices, url, kill_after=0) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [sys.executable, "-c", _CHILD, str(path), str(devices), url, str(kill_after)]
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _snapshot(url: str) -> tuple[list, list]:
    store = ReadingStore(url)
    try:
        readings = store.all_readings()
        conflicts = [{k: v for k, v in c.items() if k not in ("id", "run_id", "found_at")} for c in store.conflicts()]
        return readings, sorted(conflicts, key=lambda c: (c["device"], c["sequence"], c["other_signature"]))
    finally:
        store.close()


@pytest.fixture
def faulty_farm(tmp_path, domain):
    out, dev = tmp_path / "farm.csv", tmp_path / "dev.json"
    faults = [Fault("repeat", index=700), Fault("clock-back", index=2100), Fault("tamper", index=3000)]
    sim = simulate(out, dev, domain, meters=6, steps=700, faults=faults)
    assert sim.rows == 4200
    return out, dev


def test_ingest__killed_midway_then_rerun__store_equals_a_clean_run(faulty_farm, mrv_url, tmp_path):
    out, dev = faulty_farm
    clean_url = f"sqlite:///{tmp_path / 'clean.sqlite'}"
    devices, domain = load_devices(dev)
    clean = ReadingStore(clean_url)
    ingest([out], clean, devices, domain, workers=0)
    clean.close()

    killed = _child(out, dev, mrv_url, kill_after=3)
    killed.communicate(timeout=300)
    assert killed.returncode == -9
    partial, _ = _snapshot(mrv_url)
    assert 0 < len(partial) < 4200 - 3  # some chunks committed, not all
    store = ReadingStore(mrv_url)
    runs = store.runs()
    assert [r["status"] for r in runs] == ["running"]  # the killed run stays visible as such
    result = ingest([out], store, devices, domain, workers=2)
    store.close()
    assert result.duplicates == len(partial)
    assert _snapshot(mrv_url) == _snapshot(clean_url)


def test_ingest__same_file_twice_at_once__each_reading_stored_once(faulty_farm, mrv_url):
    out, dev = faulty_farm
    ReadingStore(mrv_url).close()  # the tables, before two processes race to create them
    first, second = _child(out, dev, mrv_url), _child(out, dev, mrv_url)
    outputs = [p.communicate(timeout=300) for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0], outputs
    counts = [tuple(map(int, o[0].split())) for o in outputs]
    stored = sum(c[0] for c in counts)
    readings, conflicts = _snapshot(mrv_url)
    assert stored == len(readings) == 4200 - 3  # every good reading once, whichever process stored it
    assert sum(c[1] for c in counts) == 4200 - 3  # the other process found it already stored
    assert len({(r[0], r[1]) for r in readings}) == len(readings)
    assert sorted(c["kind"] for c in conflicts) == ["overlap", "sequence"]
