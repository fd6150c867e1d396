"""A simulated wind farm: N turbines' generation meters, each signing a reading every interval (5 minutes by default).

The profile is deterministic for a seed: a farm-wide wind speed with a daily cycle (stronger at night) and weather
that drifts over hours (an AR(1) process, six-hour correlation), plus each turbine's own gusts (twenty-minute
correlation) and wake loss; a standard power curve (cut-in 3 m/s, rated 12 m/s, cut-out 25 m/s) turns the speed
into power, and the energy of an interval (Wh) is never above the nameplate capacity x the interval.

Keys: each meter's key is derived from the seed and its meter id (keccak), so a simulation is reproducible. They
are written to the devices file for a LOCAL DEMO ONLY (``privateKeyDemoOnly``): never register them for real meters.

Faults (``Fault``), each at an index of the fault-free stream (row ``step x meters + meter``) or at a rate (a
seeded draw per row):
- ``gap``: the meter misses the interval (no reading; its next reading keeps the next sequence number, later);
- ``repeat``: the meter signs this interval with its previous sequence number again (a repeated sequence);
- ``over-capacity``: the value is above nameplate capacity x interval (correctly signed);
- ``clock-back``: the meter's clock goes back one interval from this reading on (this interval overlaps the last);
- ``tamper``: the value is changed after signing;
- ``unknown-key``: the reading is signed by a key that is not the meter's.
"""

from __future__ import annotations

import csv
import json
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import coincurve

from tonne.mrv.readings import SECP256K1_N, Domain, Reading, address_of, device_id, keccak, sign_digest

FAULT_KINDS = ("gap", "repeat", "over-capacity", "clock-back", "tamper", "unknown-key")
DEFAULT_CAPACITY_W = 3_000_000
DEFAULT_INTERVAL_S = 300
DEFAULT_START = 1_793_577_600  # 2026-11-02T00:00:00Z, a Monday
DEMO_WARNING = (
    "DEMO ONLY: these private keys were derived from a public seed by `mrv simulate` for a local demo; anyone can "
    "recompute them. Never register them for real meters or on a public chain."
)


class SimulationError(ValueError):
    """Options that cannot make a simulation; the message names the option."""


@dataclass(frozen=True)
class Fault:
    kind: str
    index: int | None = None
    rate: float | None = None

    def __post_init__(self):
        if self.kind not in FAULT_KINDS:
            raise SimulationError(f"fault {self.kind!r}: expected one of {', '.join(FAULT_KINDS)}")
        if (self.index is None) == (self.rate is None):
            raise SimulationError(f"fault {self.kind!r}: give an index (kind@N) or a rate (kind:R)")
        if self.rate is not None and not 0 < self.rate <= 1:
            raise SimulationError(f"fault {self.kind!r}: rate {self.rate} is not in (0, 1]")


def parse_fault(text: str) -> Fault:
    """``tamper@120`` (the row at index 120 of the fault-free stream) or ``gap:0.01`` (each row with probability
    0.01, seeded)."""
    import re

    found = re.fullmatch(r"([a-z-]+)(?:@([0-9]+)|:(0?\.[0-9]+|1|1\.0+))", text.strip(), re.ASCII)
    if not found:
        raise SimulationError(f"fault {text!r}: expected KIND@INDEX or KIND:RATE, e.g. tamper@120 or gap:0.01")
    kind, index, rate = found.groups()
    return Fault(kind, int(index) if index is not None else None, float(rate) if rate is not None else None)


@dataclass(frozen=True)
class Meter:
    meter_id: str
    device: bytes
    key: coincurve.PrivateKey
    address: str
    capacity_w: int
    wake: float


@dataclass(frozen=True)
class SimRow:
    meter_id: str
    reading: Reading  # as written (a tampered value is written, not the signed one)
    signature: bytes
    index: int  # index of the fault-free stream
    fault: str | None


@dataclass(frozen=True)
class InjectedFault:
    kind: str
    index: int
    meter_id: str
    sequence: int | None  # None: no row written (a gap)
    line: int | None  # line of the output file (CSV: header is line 1)


def _key(seed: int, label: str) -> coincurve.PrivateKey:
    counter = 0
    while True:
        secret = int.from_bytes(keccak(f"tonne-mrv-demo-key:{seed}:{label}:{counter}".encode()), "big")
        if 0 < secret < SECP256K1_N:
            return coincurve.PrivateKey(secret.to_bytes(32, "big"))
        counter += 1  # pragma: no cover - probability 2^-128


def farm(meters: int, *, seed: int = 1, capacity_w: int = DEFAULT_CAPACITY_W, prefix: str = "WF1-T") -> list[Meter]:
    if meters < 1:
        raise SimulationError(f"--meters {meters}: at least 1")
    if capacity_w < 1:
        raise SimulationError(f"--capacity {capacity_w}: at least 1 W")
    rng = random.Random(f"wake:{seed}")
    width = max(2, len(str(meters)))
    out = []
    for i in range(1, meters + 1):
        meter_id = f"{prefix}{i:0{width}d}"
        key = _key(seed, meter_id)
        out.append(Meter(meter_id, device_id(meter_id), key, address_of(key), capacity_w, rng.uniform(0.88, 1.0)))
    return out


def power_w(speed: float, capacity_w: int) -> float:
    if speed < 3.0 or speed >= 25.0:
        return 0.0
    if speed >= 12.0:
        return float(capacity_w)
    return capacity_w * (speed**3 - 27.0) / (1728.0 - 27.0)


def generate(
    meters: Sequence[Meter],
    domain: Domain,
    *,
    steps: int,
    start: int = DEFAULT_START,
    interval_s: int = DEFAULT_INTERVAL_S,
    seed: int = 1,
    faults: Sequence[Fault] = (),
) -> Iterator[SimRow]:
    """The farm's readings, step by step (every meter at each step), faults applied."""
    if steps < 1:
        raise SimulationError(f"steps {steps}: at least 1")
    if not 1 <= interval_s <= 86_400:
        raise SimulationError(f"--interval {interval_s}: 1 to 86400 seconds")
    weather = random.Random(f"weather:{seed}")
    gusts = random.Random(f"gusts:{seed}")
    fault_rng = random.Random(f"faults:{seed}")
    at = {f.index: f.kind for f in faults if f.index is not None}
    rated = [f for f in faults if f.rate is not None]
    unknown = _key(seed, "unknown-key")
    phi_w = math.exp(-interval_s / (6 * 3600))
    phi_g = math.exp(-interval_s / (20 * 60))
    anomaly = weather.gauss(0, 2.5)
    gust = [gusts.gauss(0, 0.8) for _ in meters]
    seq = [0] * len(meters)
    shift = [0] * len(meters)
    n = len(meters)
    for step in range(steps):
        t0 = start + step * interval_s
        anomaly = phi_w * anomaly + math.sqrt(1 - phi_w * phi_w) * weather.gauss(0, 2.5)
        hour = (t0 % 86_400) / 3600
        mean = 7.5 + 1.2 * math.cos(2 * math.pi * (hour - 3) / 24)
        for m, meter in enumerate(meters):
            index = step * n + m
            gust[m] = phi_g * gust[m] + math.sqrt(1 - phi_g * phi_g) * gusts.gauss(0, 0.8)
            speed = max(0.0, (mean + anomaly) * meter.wake + gust[m])
            limit = meter.capacity_w * interval_s // 3600
            value = min(limit, int(power_w(speed, meter.capacity_w) * interval_s / 3600))
            kind = at.get(index)
            for f in rated:  # one draw per rated fault and row, whatever happens: the stream stays seeded
                if fault_rng.random() < f.rate and kind is None:
                    kind = f.kind
            if kind == "gap":
                yield SimRow(meter.meter_id, Reading(meter.device, seq[m] + 1, 0, 0, 0), b"", index, "gap")
                continue
            if kind == "clock-back":
                shift[m] -= interval_s
            if kind == "repeat" and seq[m] > 0:
                sequence = seq[m]
            else:
                seq[m] += 1
                sequence = seq[m]
            if kind == "over-capacity":
                value = limit + max(1, limit // 5)
            begin = t0 + shift[m]
            reading = Reading(meter.device, sequence, begin, begin + interval_s, value)
            signer = unknown if kind == "unknown-key" else meter.key
            signature = sign_digest(domain.digest(reading), signer)
            if kind == "tamper":
                reading = Reading(meter.device, sequence, begin, begin + interval_s, value + 1000)
            yield SimRow(meter.meter_id, reading, signature, index, kind)


def _row_values(row: SimRow) -> list:
    r = row.reading
    return [row.meter_id, "0x" + r.device.hex(), r.sequence, r.start, r.end, r.value, "0x" + row.signature.hex()]


def write_readings(rows: Iterator[SimRow], path: str | Path, fmt: str = "csv") -> tuple[int, list[InjectedFault]]:
    """Write the rows as CSV (with a header) or JSON lines; returns the rows written and the faults injected."""
    from tonne.mrv.ingest import COLUMNS

    if fmt not in ("csv", "jsonl"):
        raise SimulationError(f"--format {fmt!r}: csv or jsonl")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    injected: list[InjectedFault] = []
    written = 0
    line = 1 if fmt == "csv" else 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n") if fmt == "csv" else None
        if writer:
            writer.writerow(COLUMNS)
        for row in rows:
            if row.fault == "gap":
                injected.append(InjectedFault("gap", row.index, row.meter_id, None, None))
                continue
            line += 1
            written += 1
            values = _row_values(row)
            if writer:
                writer.writerow(values)
            else:
                handle.write(json.dumps(dict(zip(COLUMNS, values, strict=True)), separators=(",", ":")) + "\n")
            if row.fault:
                injected.append(InjectedFault(row.fault, row.index, row.meter_id, row.reading.sequence, line))
    return written, injected


def write_devices(meters: Sequence[Meter], domain: Domain, path: str | Path, project_id: int = 1) -> None:
    """The devices file: each meter's id, device id, key address, capacity, project, status, and its private key
    for a LOCAL DEMO ONLY."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "warning": DEMO_WARNING,
        "chainId": domain.chain_id,
        "verifyingContract": domain.verifying_contract,
        "devices": [
            {
                "meterId": m.meter_id,
                "device": "0x" + m.device.hex(),
                "keyAddress": m.address,
                "projectId": project_id,
                "capacityW": m.capacity_w,
                "status": "approved",
                # the meter's proof that its key is this device's in this project (registerDevice checks it)
                "keySignature": "0x" + sign_digest(domain.binding_digest(m.device, project_id), m.key).hex(),
                "privateKeyDemoOnly": "0x" + m.key.secret.hex(),
            }
            for m in meters
        ],
    }
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


@dataclass(frozen=True)
class Simulation:
    rows: int
    faults: list[InjectedFault]
    meters: list[Meter]


def simulate(
    out: str | Path,
    devices_out: str | Path,
    domain: Domain,
    *,
    meters: int,
    steps: int,
    start: int = DEFAULT_START,
    interval_s: int = DEFAULT_INTERVAL_S,
    capacity_w: int = DEFAULT_CAPACITY_W,
    seed: int = 1,
    faults: Sequence[Fault] = (),
    fmt: str | None = None,
    project_id: int = 1,
) -> Simulation:
    """Write the readings (``fmt``: csv or jsonl; default from ``out``'s suffix) and the devices file."""
    if fmt is None:
        fmt = "jsonl" if Path(out).suffix.lower() in (".jsonl", ".ndjson", ".json") else "csv"
    farm_meters = farm(meters, seed=seed, capacity_w=capacity_w)
    rows = generate(farm_meters, domain, steps=steps, start=start, interval_s=interval_s, seed=seed, faults=faults)
    written, injected = write_readings(rows, out, fmt)
    write_devices(farm_meters, domain, devices_out, project_id)
    return Simulation(written, injected, farm_meters)
