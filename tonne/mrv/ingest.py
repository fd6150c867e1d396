"""Ingest signed meter readings (CSV or JSON lines) into the store, every reading checked, streaming.

Columns (CSV header, any order; JSON object keys): ``meter_id, device, sequence, start, end, value_wh, signature``.
Numbers are plain decimal integers of the ASCII digits 0-9 (JSON: integers, or such strings): a decimal comma,
``1e3``, ``1_000``, a sign, a decimal point, spaces or other scripts' digits are refused with the file, line and
field. Each reading is checked for:
- well-formed fields: meter id (NFC-normalised, no invisible characters), ``device == keccak256(meter id)``,
  sequence (uint64, from 1), start < end (uint40 unix seconds), value (uint256 Wh), signature (65 bytes);
- its device: known (``devices``: device id -> ``DeviceInfo``; from the chain later, from a devices file now),
  approved (a registered or suspended device's readings are refused);
- its signature: the EIP-712 digest recovers (as OpenZeppelin's ECDSA: v 27/28, low s) to the device's key; a
  tampered value or another key's signature fails here;
- physical plausibility: ``value_wh x 3600 <= capacity_w x (end - start)``;
- its place in the device's series (against the store, inside the write transaction): the next sequence is stored;
  the same sequence again with the same content is a duplicate (nothing stored: ingest is idempotent); with other
  content it is a conflict (both readings and signatures kept in ``mrv_conflicts``: evidence of double reporting);
  an interval starting before the device's previous reading ended (a clock that went back) is refused and also
  kept as an overlap conflict; a reading whose sequence is below the device's last stored one but not stored
  (a late reading, e.g. from a file ingested later) fills its gap when its interval fits between its stored
  neighbours, and is an overlap conflict when it does not. A missing interval (start after the previous end) or
  missing sequence numbers (a refused or absent reading) are recorded as gaps, not errors: they are counted as
  zero, and a report across them needs ``allow_gaps``.

Throughput: the main process reads lines in chunks; a pool of processes parses, checks and recovers signatures;
the main process applies each chunk's results to the store in one transaction, in file order. Memory stays flat
(at most ``2 x workers`` chunks in flight; problems are streamed to ``on_problem``). Killed midway, a rerun stores
what is missing and nothing twice (whole chunks commit; the rest are duplicates).
"""

from __future__ import annotations

import csv
import json
import multiprocessing
import os
import re
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tonne.chain.errors import Problem, ToolError
from tonne.mrv.readings import READING_TYPEHASH as _TYPEHASH
from tonne.mrv.readings import (
    UINT40_MAX,
    UINT64_MAX,
    UINT256_MAX,
    AddressMatcher,
    Domain,
    MeterIdError,
    keccak,
    normalise_meter_id,
)
from tonne.mrv.store import ReadingStore

COLUMNS = ("meter_id", "device", "sequence", "start", "end", "value_wh", "signature")
STATUSES = ("registered", "approved", "suspended", "decommissioned")
APPROVED = "approved"
CHUNK = 4000
MAX_KEPT_PROBLEMS = 1000
MAX_KEPT_GAPS = 10_000
MAX_LINE_BYTES = 4096
_HEX32 = re.compile(r"0x[0-9a-fA-F]{64}", re.ASCII)
_SIG = re.compile(r"0x[0-9a-fA-F]{130}", re.ASCII)
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}", re.ASCII)


class IngestError(ToolError):
    """Input that cannot be read at all (missing file or folder, no header, unknown columns, bad devices file)."""


@dataclass(frozen=True)
class DeviceInfo:
    """What the chain knows of a device: its signing key, project, nameplate capacity (W) and status."""

    key_address: str
    project_id: int
    capacity_w: int
    status: str
    meter_id: str | None = None


@dataclass(frozen=True)
class Gap:
    """A missing stretch of a device's series: no reading for [start, end) (``end`` the next reading's start), and
    the sequence numbers missing between ``after_sequence`` and ``next_sequence``, if any."""

    device: str
    meter_id: str
    after_sequence: int
    next_sequence: int
    start: int
    end: int

    def __str__(self) -> str:
        missing = self.next_sequence - self.after_sequence - 1
        seqs = f", sequence {self.after_sequence + 1}..{self.next_sequence - 1} missing" if missing else ""
        return f"{self.meter_id}: no reading for [{self.start}, {self.end}) ({self.end - self.start} s{seqs})"


@dataclass
class IngestResult:
    run_id: int
    lines: int = 0
    stored: int = 0
    duplicates: int = 0
    problems: int = 0  # field problems (a reading can have several)
    refused: int = 0  # readings refused
    conflicts: int = 0
    gaps: list[Gap] = field(default_factory=list)  # the first MAX_KEPT_GAPS
    gap_count: int = 0
    kept_problems: list[Problem] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def readings_per_second(self) -> float:
        return self.lines / self.seconds if self.seconds else 0.0

    def counts(self) -> dict[str, int]:
        return {
            "lines": self.lines,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "problems": self.problems,
            "refused": self.refused,
            "conflicts": self.conflicts,
            "gaps": self.gap_count,
        }


# ---------------------------------------------------------------------------------------------------- devices file


def load_devices(path: str | Path) -> tuple[dict[bytes, DeviceInfo], Domain | None]:
    """The devices file (``mrv simulate`` writes one): ``{"chainId", "verifyingContract", "devices": [{"meterId",
    "device", "keyAddress", "projectId", "capacityW", "status"}, ...]}``; private keys in it are ignored."""
    path = Path(path)
    name = str(path)
    if not path.is_file():
        raise IngestError(f"{name}: no such devices file" + (" (a folder)" if path.is_dir() else ""))
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise IngestError(f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise IngestError(f"{name}:{exc.lineno}: not JSON ({exc.msg})") from None
    if not isinstance(data, dict) or not isinstance(data.get("devices"), list):
        raise IngestError(f'{name}: expected an object with a "devices" list')
    problems: list[Problem] = []
    devices: dict[bytes, DeviceInfo] = {}
    for i, entry in enumerate(data["devices"], 1):

        def bad(fld: str, msg: str, i=i) -> None:
            problems.append(Problem(name, i, fld, msg, entry=True))

        if not isinstance(entry, dict):
            bad("", "expected an object")
            continue
        try:
            meter = normalise_meter_id(entry.get("meterId"))
        except MeterIdError as exc:
            bad("meterId", str(exc))
            continue
        dev = keccak(meter.encode())
        given = entry.get("device")
        if given is not None and (not isinstance(given, str) or given.lower() != "0x" + dev.hex()):
            bad("device", f"{given!r} is not keccak256 of the meter id {meter!r} (0x{dev.hex()})")
            continue
        key = entry.get("keyAddress")
        if not isinstance(key, str) or not _ADDRESS.fullmatch(key):
            bad("keyAddress", f"{key!r} is not an address (0x and 40 hex digits)")
            continue
        numbers = {}
        for fld in ("projectId", "capacityW"):
            value = entry.get(fld)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                bad(fld, f"{value!r} is not a whole number above zero")
            numbers[fld] = value
        status = entry.get("status")
        if status not in STATUSES:
            bad("status", f"{status!r}: expected one of {', '.join(STATUSES)}")
            continue
        if dev in devices:
            bad("meterId", f"{meter!r} appears twice (meter ids are compared in Unicode NFC)")
            continue
        if any(isinstance(v, bool) or not isinstance(v, int) or v <= 0 for v in numbers.values()):
            continue
        devices[dev] = DeviceInfo(key.lower(), numbers["projectId"], numbers["capacityW"], status, meter)
    if problems:
        raise IngestError(f"{name}: {len(problems)} problem(s) in the devices file", problems)
    domain = None
    if "chainId" in data or "verifyingContract" in data:
        chain_id, contract = data.get("chainId"), data.get("verifyingContract")
        if isinstance(chain_id, bool) or not isinstance(chain_id, int) or chain_id <= 0:
            raise IngestError(f"{name}: chainId: {chain_id!r} is not a chain id")
        if not isinstance(contract, str) or not _ADDRESS.fullmatch(contract):
            raise IngestError(f"{name}: verifyingContract: {contract!r} is not an address")
        domain = Domain(chain_id, contract)
    return devices, domain


# ---------------------------------------------------------------------------------------------------- files


def reading_files(paths: Sequence[str | Path]) -> list[tuple[Path, str]]:
    """(file, format) for each path: a file (``.csv``, ``.jsonl``/``.ndjson``/``.json``), or a folder's such files
    in name order; a missing path or an empty folder is an IngestError."""
    out: list[tuple[Path, str]] = []
    problems = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and _format_of(p))
            if not found:
                problems.append(Problem(str(path), None, "", "folder holds no .csv or .jsonl readings file"))
            out.extend((p, _format_of(p)) for p in found)
        elif path.is_file():
            fmt = _format_of(path)
            if fmt is None:
                problems.append(Problem(str(path), None, "", "unknown format: expected a .csv or .jsonl file"))
            else:
                out.append((path, fmt))
        else:
            problems.append(Problem(str(path), None, "", "no such file or folder"))
    if problems:
        raise IngestError("ingest: nothing was read", problems)
    return out


def _format_of(path: Path) -> str | None:
    suffix = path.suffix.lower()
    return "csv" if suffix == ".csv" else "jsonl" if suffix in (".jsonl", ".ndjson", ".json") else None


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as handle:
        yield from enumerate(handle, 1)


def _csv_header(path: Path, first: bytes | None) -> tuple[int, ...]:
    name = str(path)
    if first is None:
        raise IngestError(f"{name}: empty file (expected a header: {','.join(COLUMNS)})")
    try:
        text = first.decode("utf-8").removeprefix("\ufeff").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        raise IngestError(f"{name}:1: header is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    try:
        names = next(csv.reader([text], strict=True))
    except (csv.Error, StopIteration) as exc:
        raise IngestError(f"{name}:1: header cannot be read as CSV ({exc})") from None
    names = [n.strip().lower() for n in names]
    unknown = [n for n in names if n not in COLUMNS]
    missing = [c for c in COLUMNS if c not in names]
    if unknown or missing or len(set(names)) != len(names):
        detail = "; ".join(
            part
            for part in (
                f"unknown column(s) {', '.join(map(repr, unknown))}" if unknown else "",
                f"missing column(s) {', '.join(missing)}" if missing else "",
                "a column named twice" if len(set(names)) != len(names) else "",
            )
            if part
        )
        raise IngestError(f"{name}:1: header: {detail} (expected {','.join(COLUMNS)})")
    return tuple(names.index(c) for c in COLUMNS)


# ---------------------------------------------------------------------------------------------------- the checks


def _explain(value: str) -> str:
    if value == "":
        return "empty"
    if value != value.strip():
        return "has spaces around it"
    if value.startswith("-"):
        return "is negative"
    if value.startswith("+"):
        return "has a sign"
    if "," in value:
        return "has a decimal comma or digit grouping"
    if "." in value:
        return "is not a whole number (a decimal point)"
    if "_" in value:
        return "has a digit separator '_'"
    if any(c in "eE" for c in value) and any("0" <= c <= "9" for c in value):
        return "is in exponent notation"
    if any(c.isdigit() and not "0" <= c <= "9" for c in value):
        return "uses digits of another script (only the ASCII digits 0-9)"
    return "is not a decimal integer"


def _uint(value, fld: str, maximum: int, errors: list) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):  # a JSON integer
        number = value
        if number < 0:
            errors.append((fld, f"{value} is negative"))
            return None
    elif isinstance(value, str):
        if not (value.isascii() and value.isdigit()):
            errors.append((fld, f"{value[:40]!r} {_explain(value)}: write a plain decimal integer, e.g. 1500"))
            return None
        number = int(value)
    elif isinstance(value, float):
        errors.append((fld, f"{value!r} is a JSON float: write a whole number, e.g. 1500"))
        return None
    else:
        errors.append((fld, f"{value!r} is not a decimal integer"))
        return None
    if number > maximum:
        errors.append((fld, f"{number} is above the largest allowed ({maximum})"))
        return None
    return number


# Worker state: set by _init (fork: inherited; spawn: pickled once per worker).
_W: dict = {}


def _die_with_parent() -> None:
    """Linux: a worker whose ingest process is killed (SIGKILL, a crash) gets SIGTERM instead of living on."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass


def _init(separator: bytes, devices: Mapping[bytes, DeviceInfo], worker: bool = False) -> None:
    if worker:
        _die_with_parent()
    _W["separator"] = separator
    _W["devices"] = dict(devices)
    _W["matchers"] = {d: AddressMatcher(bytes.fromhex(info.key_address[2:])) for d, info in devices.items()}
    _W["meters"] = {}


def _meter(raw, errors: list) -> tuple[str, bytes] | None:
    cache = _W["meters"]
    if isinstance(raw, str) and raw in cache:
        return cache[raw]
    try:
        meter = normalise_meter_id(raw)
    except MeterIdError as exc:
        errors.append(("meter_id", str(exc)))
        return None
    found = (meter, keccak(meter.encode()))
    if len(cache) < 100_000:
        cache[raw] = found
    return found


def _check(values: tuple, errors: list) -> tuple | None:
    """One row's seven raw values -> the checked reading tuple, or None with ``errors`` filled."""
    raw_meter, raw_device, raw_seq, raw_start, raw_end, raw_value, raw_sig = values
    meter = _meter(raw_meter, errors)
    device = None
    if not isinstance(raw_device, str) or not _HEX32.fullmatch(raw_device):
        errors.append(("device", f"{str(raw_device)[:80]!r} is not a bytes32 (0x and 64 hex digits)"))
    else:
        device = bytes.fromhex(raw_device[2:])
        if meter is not None and device != meter[1]:
            errors.append(
                ("device", f"{raw_device} is not keccak256 of the meter id {meter[0]!r} (0x{meter[1].hex()})")
            )
    seq = _uint(raw_seq, "sequence", UINT64_MAX, errors)
    if seq == 0:
        errors.append(("sequence", "0: sequence numbers start at 1"))
    start = _uint(raw_start, "start", UINT40_MAX, errors)
    end = _uint(raw_end, "end", UINT40_MAX, errors)
    if start is not None and end is not None and end <= start:
        errors.append(("end", f"{end} is not after start {start} (the interval is [start, end))"))
    value = _uint(raw_value, "value_wh", UINT256_MAX, errors)
    sig = None
    if not isinstance(raw_sig, str) or not _SIG.fullmatch(raw_sig):
        errors.append(("signature", f"{str(raw_sig)[:40]!r}... is not 65 bytes of hex (0x and 130 hex digits)"))
    else:
        sig = bytes.fromhex(raw_sig[2:])
    if errors:
        return None
    info = _W["devices"].get(device)
    if info is None:
        errors.append(("device", f"{meter[0]} (0x{device.hex()}) is not a registered device"))
        return None
    encoded = (
        device + seq.to_bytes(32, "big") + start.to_bytes(32, "big") + end.to_bytes(32, "big") + value.to_bytes(32)
    )
    digest = keccak(b"\x19\x01" + _W["separator"] + keccak(_TYPEHASH + encoded))
    if not _W["matchers"][device].matches(digest, sig):
        errors.append(("signature", _signature_problem(digest, sig, info)))
        return None
    if info.status != APPROVED:
        errors.append(("device", f"{meter[0]} is {info.status}, not approved: its readings do not count"))
        return None
    if value * 3600 > info.capacity_w * (end - start):
        limit = info.capacity_w * (end - start) // 3600
        errors.append(
            (
                "value_wh",
                f"{value} Wh is above the nameplate capacity: {info.capacity_w} W x {end - start} s = {limit} Wh",
            )
        )
        return None
    return (meter[0], raw_device.lower(), seq, start, end, value, raw_sig.lower())


def _signature_problem(digest: bytes, sig: bytes, info: DeviceInfo) -> str:
    from tonne.mrv.readings import SignatureError, recover

    try:
        who = recover(digest, sig)
    except SignatureError as exc:
        return f"not a valid signature ({exc})"
    return (
        f"recovers to {who}, not the device's key {info.key_address}: the reading was altered after signing, or "
        "signed by another key"
    )


def _parse_csv_line(text: str, columns: tuple[int, ...], errors: list) -> tuple | None:
    if '"' in text:
        try:
            rows = list(csv.reader([text], strict=True))
        except csv.Error as exc:
            errors.append(("", f"unterminated or misplaced quote ({exc}); a field never spans lines"))
            return None
        fields = rows[0] if rows else []
    else:
        fields = text.split(",")
    if len(fields) != len(COLUMNS):
        errors.append(("", f"{len(fields)} fields, expected {len(COLUMNS)} ({','.join(COLUMNS)}): a comma too many?"))
        return None
    return tuple(fields[i] for i in columns)


def _unique_keys(pairs):
    out = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"key {key!r} appears twice")
        out[key] = value
    return out


def _parse_json_line(text: str, errors: list) -> tuple | None:
    try:
        obj = json.loads(text, object_pairs_hook=_unique_keys)
    except ValueError as exc:
        errors.append(("", f"not a JSON object ({exc})"))
        return None
    if not isinstance(obj, dict):
        errors.append(("", f"expected a JSON object, got {type(obj).__name__}"))
        return None
    unknown = sorted(set(obj) - set(COLUMNS))
    missing = [c for c in COLUMNS if c not in obj]
    if unknown:
        errors.append((unknown[0], f"unknown field (expected {', '.join(COLUMNS)})"))
    for c in missing:
        errors.append((c, "missing"))
    if errors:
        return None
    return tuple(obj[c] for c in COLUMNS)


def _work(task: tuple) -> list[tuple]:
    """A chunk of raw lines -> per line ("ok", line, checked...) or ("bad", line, field, message); blank lines
    give nothing."""
    fmt, columns, first_is_header_line, lines = task
    out = []
    for number, raw in lines:
        errors: list = []
        if len(raw) > MAX_LINE_BYTES:
            out.append(("bad", number, "", f"line of {len(raw)} bytes, at most {MAX_LINE_BYTES}"))
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            out.append(("bad", number, "", f"not UTF-8 ({exc.reason} at byte {exc.start})"))
            continue
        if number == 1 and first_is_header_line:
            text = text.removeprefix("\ufeff")
        text = text.removesuffix("\n").removesuffix("\r")
        if not text.strip():
            continue
        values = _parse_csv_line(text, columns, errors) if fmt == "csv" else _parse_json_line(text, errors)
        checked = None if values is None else _check(values, errors)
        if checked is None:
            out.extend(("bad", number, f, m) for f, m in errors)
        else:
            out.append(("ok", number, *checked))
    return out


# ---------------------------------------------------------------------------------------------------- the run


class _Series:
    """Applies one chunk's checked readings to the store, in file order, inside one write transaction."""

    def __init__(self, store: ReadingStore, run_id: int, result: IngestResult, report: Callable[[Problem], None]):
        self.store, self.run_id, self.result, self.report = store, run_id, result, report

    def apply(self, source: str, oks: list[tuple]) -> None:
        if not oks:
            return
        store, result = self.store, self.result
        with store.write() as conn:
            by_device: dict[str, list[int]] = {}
            for r in oks:
                by_device.setdefault(r[3], []).append(r[4])
            last: dict[str, dict | None] = {}
            known: dict[str, dict[int, tuple]] = {}
            for dev, seqs in by_device.items():
                row = store.last_reading(conn, dev)
                last[dev] = row
                low = min(seqs)
                if row is not None and low <= row["sequence"]:
                    known[dev] = store.stored_range(conn, dev, low, min(max(seqs), row["sequence"]))
                else:
                    known[dev] = {}
            new_rows: list[dict] = []
            new_conflicts: list[dict] = []
            flushed = 0
            now = time.time()
            for _, line, meter, dev, seq, start, end, value, sig in oks:
                prev = last[dev]
                next_seq = prev["sequence"] + 1 if prev else 1
                if seq < next_seq:
                    stored = known[dev].get(seq)
                    if stored is None:
                        store.insert_readings(conn, new_rows)  # the neighbours' query must see this chunk's rows
                        flushed += len(new_rows)
                        new_rows.clear()
                        stored = self._late(conn, source, line, meter, dev, seq, start, end, value, sig, now)
                        if stored is not None:
                            new_conflicts.append(stored)
                            continue
                        fill = self._row(dev, seq, meter, start, end, value, sig, source, line)
                        new_rows.append(fill)
                        known[dev][seq] = (start, end, value, sig)
                    elif stored[:3] == (start, end, value):
                        result.duplicates += 1
                    else:
                        s_start, s_end, s_value, s_sig = stored
                        new_conflicts.append(self._conflict("sequence", dev, seq, stored, seq, start, end, value,
                                                            sig, source, line, now))  # fmt: skip
                        self._refuse(source, line, "sequence", f"{meter} signed sequence {seq} twice: stored "
                                  f"[{s_start}, {s_end}) {s_value} Wh, this one [{start}, {end}) {value} Wh "
                                  "(double reporting: both kept as a conflict)")  # fmt: skip
                    continue
                if prev is not None and start < prev["end_time"]:
                    new_conflicts.append(self._overlap(prev, source, line, meter, dev, seq, start, end, value, sig,
                                                       now))  # fmt: skip
                    continue
                if prev is not None and (start > prev["end_time"] or seq > next_seq):
                    self._gap(Gap(dev, meter, prev["sequence"], seq, prev["end_time"], start))
                elif prev is None and seq > 1:
                    self._gap(Gap(dev, meter, 0, seq, start, start))
                row = self._row(dev, seq, meter, start, end, value, sig, source, line)
                new_rows.append(row)
                known[dev][seq] = (start, end, value, sig)
                last[dev] = row
            store.insert_readings(conn, new_rows)
            store.insert_conflicts(conn, new_conflicts)
        result.stored += flushed + len(new_rows)
        result.conflicts += len(new_conflicts)

    def _row(self, dev, seq, meter, start, end, value, sig, source, line) -> dict:
        return {
            "device": dev,
            "sequence": seq,
            "meter_id": meter,
            "start_time": start,
            "end_time": end,
            "value": value,
            "signature": sig,
            "source": source,
            "line": line,
            "run_id": self.run_id,
        }

    def _overlap(self, prev, source, line, meter, dev, seq, start, end, value, sig, now) -> dict:
        """An authentic reading whose interval overlaps the stored reading ``prev``: refused, kept as a conflict."""
        stored = (prev["start_time"], prev["end_time"], prev["value"], prev["signature"])
        p_seq = prev["sequence"]
        if p_seq < seq:
            why = f"{start} is before the end {prev['end_time']} of {meter}'s previous reading (sequence {p_seq})"
        else:
            why = f"[{start}, {end}) overlaps {meter}'s later reading (sequence {p_seq}, from {prev['start_time']})"
        self._refuse(source, line, "start", f"{why}: the clock went back or the intervals overlap (kept as a conflict)")
        return self._conflict("overlap", dev, p_seq, stored, seq, start, end, value, sig, source, line, now)

    def _late(self, conn, source, line, meter, dev, seq, start, end, value, sig, now) -> dict | None:
        """A reading below the device's last stored sequence, not stored: it fills its gap if its interval fits
        between its stored neighbours (returns None), else it is an overlap (returns the conflict row)."""
        below, above = self.store.neighbours(conn, dev, seq)
        if below is not None and start < below["end_time"]:
            return self._overlap(below, source, line, meter, dev, seq, start, end, value, sig, now)
        if above is not None and end > above["start_time"]:
            return self._overlap(above, source, line, meter, dev, seq, start, end, value, sig, now)
        return None

    def _conflict(self, kind, dev, seq, stored, other_seq, start, end, value, sig, source, line, now) -> dict:
        s_start, s_end, s_value, s_sig = stored
        return {
            "kind": kind,
            "device": dev,
            "sequence": seq,
            "stored_start": s_start,
            "stored_end": s_end,
            "stored_value": s_value,
            "stored_signature": s_sig,
            "other_sequence": other_seq,
            "other_start": start,
            "other_end": end,
            "other_value": value,
            "other_signature": sig,
            "source": source,
            "line": line,
            "run_id": self.run_id,
            "found_at": now,
        }

    def _gap(self, gap: Gap) -> None:
        self.result.gap_count += 1
        if len(self.result.gaps) < MAX_KEPT_GAPS:
            self.result.gaps.append(gap)

    def _refuse(self, source: str, line: int, fld: str, message: str) -> None:
        """A reading refused by its place in the series (one problem, one reading)."""
        self.result.refused += 1
        self._bad(source, line, fld, message)

    def _bad(self, source: str, line: int, fld: str, message: str) -> None:
        problem = Problem(source, line, fld, message)
        self.result.problems += 1
        if len(self.result.kept_problems) < MAX_KEPT_PROBLEMS:
            self.result.kept_problems.append(problem)
        self.report(problem)


def _chunks(path: Path, fmt: str, chunk: int) -> Iterator[tuple]:
    lines = _lines(path)
    columns: tuple[int, ...] = ()
    if fmt == "csv":
        first = next(lines, None)
        columns = _csv_header(path, None if first is None else first[1])
    batch: list[tuple[int, bytes]] = []
    for item in lines:
        batch.append(item)
        if len(batch) >= chunk:
            yield (fmt, columns, fmt != "csv", batch)
            batch = []
    if batch:
        yield (fmt, columns, fmt != "csv", batch)


def ingest(
    paths: Sequence[str | Path],
    store: ReadingStore,
    devices: Mapping[bytes, DeviceInfo],
    domain: Domain,
    *,
    workers: int | None = None,
    chunk: int = CHUNK,
    on_problem: Callable[[Problem], None] | None = None,
    on_chunk: Callable[[IngestResult], None] | None = None,
) -> IngestResult:
    """Ingest the readings files (or folders of them) into ``store``; every problem goes to ``on_problem`` (and the
    first ``MAX_KEPT_PROBLEMS`` into the result). ``workers``: signature-checking processes (default: the CPUs;
    0: in this process)."""
    files = reading_files(paths)
    started = time.perf_counter()
    run_id = store.start_run([str(p) for p, _ in files])
    result = IngestResult(run_id)
    series = _Series(store, run_id, result, on_problem or (lambda p: None))
    workers = (os.cpu_count() or 1) if workers is None else workers
    status = "failed"
    pool = None
    try:
        if workers > 0:
            methods = multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
            pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_init,
                                       initargs=(domain.separator, dict(devices), True))  # fmt: skip
        else:
            _init(domain.separator, devices)
        for path, fmt in files:
            source = str(path)

            def consume(out: list[tuple], source=source) -> None:
                oks = [item for item in out if item[0] == "ok"]
                if len(oks) == len(out):
                    result.lines += len(out)
                else:
                    bad_lines = set()
                    for item in out:
                        if item[0] != "ok":
                            bad_lines.add(item[1])
                            series._bad(source, item[1], item[2], item[3])
                    result.lines += len(oks) + len(bad_lines)
                    result.refused += len(bad_lines)
                series.apply(source, oks)
                if on_chunk:
                    on_chunk(result)

            if pool is None:
                for task in _chunks(path, fmt, chunk):
                    consume(_work(task))
                continue
            window: deque = deque()
            for task in _chunks(path, fmt, chunk):
                window.append(pool.submit(_work, task))
                if len(window) >= 2 * workers:
                    consume(window.popleft().result())
            while window:
                consume(window.popleft().result())
        status = "done"
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        result.seconds = time.perf_counter() - started
        try:
            store.finish_run(run_id, status, result.counts())
        except Exception:  # noqa: BLE001 - the run's own error matters more than its bookkeeping
            if status == "done":
                raise
    return result


def summary(result: IngestResult) -> str:
    return (
        f"{result.lines} line(s): {result.stored} reading(s) stored, {result.duplicates} already stored, "
        f"{result.refused} refused, {result.conflicts} conflict(s) found, {result.gap_count} gap(s) "
        f"({result.seconds:.1f} s, {result.readings_per_second:,.0f} readings/s)"
    )


__all__ = ["COLUMNS", "DeviceInfo", "Gap", "IngestError", "IngestResult", "ingest", "load_devices", "summary"]
