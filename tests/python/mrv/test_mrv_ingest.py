"""Ingest: hostile files refused with file:line:field, each simulated fault caught with its message, idempotent,
conflicts kept with both signatures, SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tonne.mrv.ingest import COLUMNS, DeviceInfo, IngestError, ingest, load_devices
from tonne.mrv.readings import Reading, device_id, private_key, sign
from tonne.mrv.simulate import DEFAULT_START, Fault, simulate
from tonne.mrv.store import ReadingStore


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def _write(path: Path, rows: list[list[str]], newline: str = "\n", bom: bool = False) -> Path:
    text = newline.join(",".join(r) for r in rows) + newline
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def _run(paths, url, devices_file, workers=0):
    devices, domain = load_devices(devices_file)
    store = ReadingStore(url)
    problems = []
    try:
        result = ingest(paths, store, devices, domain, workers=workers, on_problem=problems.append)
        return result, [str(p) for p in problems], store.all_readings(), store.conflicts()
    finally:
        store.close()


def test_ingest__clean_farm__all_stored_then_all_duplicates(farm_files, mrv_url):
    readings, devices = farm_files
    first, problems, stored, _ = _run([readings], mrv_url, devices, workers=2)
    assert (first.lines, first.stored, first.problems, problems, len(first.gaps)) == (240, 240, 0, [], 0)
    assert len(stored) == 240
    again, problems, stored_again, _ = _run([readings], mrv_url, devices, workers=2)
    assert (again.stored, again.duplicates, again.problems) == (0, 240, 0)
    assert stored_again == stored


def test_ingest__late_reading_from_another_file__fills_its_gap(farm_files, mrv_url, tmp_path):
    readings, devices = farm_files
    rows = _rows(readings)
    late = _write(tmp_path / "late.csv", [rows[0], rows[50]])
    rest = _write(tmp_path / "rest.csv", rows[:50] + rows[51:])
    first, problems, _, _ = _run([rest], mrv_url, devices)
    assert (first.stored, problems, len(first.gaps)) == (239, [], 1)
    second, problems, stored, _ = _run([late], mrv_url, devices)
    assert (second.stored, problems) == (1, [])
    clean, _, clean_stored, _ = _run([readings], f"sqlite:///{tmp_path / 'clean.sqlite'}", devices)
    assert [s[:7] for s in stored] == [s[:7] for s in clean_stored]


# ---------------------------------------------------------------------------------------------------- hostile input


@pytest.mark.parametrize(
    ("column", "value", "words"),
    [
        ("value_wh", '"1,5"', "decimal comma"),
        ("value_wh", "1e3", "exponent"),
        ("value_wh", "1_000", "digit separator"),
        ("value_wh", "\u0661\u0662", "another script"),
        ("value_wh", "\uff11\uff12", "another script"),
        ("value_wh", "-5", "negative"),
        ("value_wh", "12.5", "decimal point"),
        ("value_wh", " 12", "spaces"),
        ("value_wh", "", "empty"),
        ("sequence", "0", "start at 1"),
        ("sequence", str(2**64), "above the largest"),
        ("start", "1e9", "exponent"),
        ("end", "1", "not after start"),
        ("device", "0x1234", "not a bytes32"),
        ("device", "0x" + "ab" * 32, "not keccak256 of the meter id"),
        ("signature", "0xzz", "not 65 bytes"),
        ("meter_id", "WF1\u200b-T01", "invisible"),
    ],
)
def test_ingest__hostile_field__refused_with_file_line_field(farm_files, sqlite_url, tmp_path, column, value, words):
    readings, devices = farm_files
    rows = _rows(readings)
    rows[3][COLUMNS.index(column)] = value  # line 4 of the file
    bad = _write(tmp_path / "bad.csv", [[f'"{c}"' if "," in c and not c.startswith('"') else c for c in r]
                                        for r in rows])  # fmt: skip
    result, problems, stored, _ = _run([bad], sqlite_url, devices)
    mine = [p for p in problems if p.startswith(f"{bad}:4: {column}: ")]
    assert mine and words in mine[0], problems
    assert len(stored) == 239 and all(s[8] != 4 for s in stored)


def test_ingest__bom_and_crlf__read_as_plain(farm_files, sqlite_url, tmp_path):
    readings, devices = farm_files
    odd = _write(tmp_path / "crlf.csv", _rows(readings), newline="\r\n", bom=True)
    result, problems, stored, _ = _run([odd], sqlite_url, devices)
    assert (result.stored, problems) == (240, [])


def test_ingest__unterminated_quote__one_clear_error_on_its_line(farm_files, sqlite_url, tmp_path):
    readings, devices = farm_files
    rows = _rows(readings)
    rows[10][0] = '"' + rows[10][0]
    bad = _write(tmp_path / "quote.csv", rows)
    result, problems, stored, _ = _run([bad], sqlite_url, devices)
    assert len(problems) == 1 and problems[0].startswith(f"{bad}:11: unterminated or misplaced quote"), problems
    assert result.stored == 239


def test_ingest__extra_comma_and_not_utf8__refused_on_their_lines(farm_files, sqlite_url, tmp_path):
    readings, devices = farm_files
    lines = readings.read_bytes().splitlines(keepends=True)
    lines[5] = lines[5].rstrip(b"\n") + b",x\n"
    lines[6] = lines[6].replace(b"WF1", b"WF\xff", 1)
    bad = tmp_path / "odd.csv"
    bad.write_bytes(b"".join(lines))
    _, problems, _, _ = _run([bad], sqlite_url, devices)
    assert any(p.startswith(f"{bad}:6: 8 fields, expected 7") for p in problems), problems
    assert any(p.startswith(f"{bad}:7: not UTF-8") for p in problems), problems


def test_ingest__bad_header_missing_file_and_folder__nothing_read(farm_files, sqlite_url, tmp_path):
    readings, devices = farm_files
    rows = _rows(readings)
    rows[0][5] = "value"
    bad = _write(tmp_path / "header.csv", rows)
    with pytest.raises(IngestError, match=r"header\.csv:1: header: unknown column\(s\) 'value'; missing column"):
        _run([bad], sqlite_url, devices)
    with pytest.raises(IngestError) as raised:
        _run([tmp_path / "nope.csv", tmp_path / "nofolder"], sqlite_url, devices)
    assert [str(p) for p in raised.value.problems] == [
        f"{tmp_path / 'nope.csv'}: no such file or folder",
        f"{tmp_path / 'nofolder'}: no such file or folder",
    ]
    (tmp_path / "empty").mkdir()
    with pytest.raises(IngestError, match="no .csv or .jsonl"):
        _run([tmp_path / "empty"], sqlite_url, devices)
    with pytest.raises(IngestError, match="no such devices file"):
        load_devices(tmp_path / "nodevices.json")


def test_ingest__folder__its_files_in_name_order(tmp_path, domain, sqlite_url):
    folder = tmp_path / "in"
    simulate(folder / "a.csv", tmp_path / "dev.json", domain, meters=2, steps=5)
    result, problems, _, _ = _run([folder], sqlite_url, tmp_path / "dev.json")
    assert (result.stored, problems) == (10, [])


def test_ingest__jsonl_hostile__floats_and_strings_refused(tmp_path, domain, sqlite_url):
    out, dev = tmp_path / "r.jsonl", tmp_path / "dev.json"
    simulate(out, dev, domain, meters=2, steps=10)
    lines = out.read_text().splitlines()
    objs = [json.loads(line) for line in lines]
    objs[0]["value_wh"] = 12.0
    objs[1]["value_wh"] = "1e3"
    objs[2]["sequence"] = True
    objs[3]["start"] = -1
    del objs[4]["signature"]
    text = [json.dumps(o) for o in objs]
    text[5] = text[5][:-1] + ', "value_wh": 1}'  # a key twice
    text[6] = "[1, 2]"
    out.write_text("\n".join(text) + "\n")
    result, problems, _, _ = _run([out], sqlite_url, dev)
    expect = {
        1: "value_wh: 12.0 is a JSON float",
        2: "value_wh: '1e3' is in exponent notation",
        3: "sequence: True is not a decimal integer",
        4: "start: -1 is negative",
        5: "signature: missing",
        6: "appears twice",
        7: "expected a JSON object, got list",
    }
    for line, words in expect.items():
        assert any(p.startswith(f"{out}:{line}: ") and words in p for p in problems), (line, problems)
    assert result.stored == 13


def test_ingest__meter_id_in_another_normal_form__same_device(tmp_path, domain, sqlite_url):
    composed, decomposed = "PARC-\u00c9OLE-1", "PARC-E\u0301OLE-1"
    key = private_key(b"\x05" * 32)
    from tonne.mrv.readings import address_of

    dev = device_id(composed)
    devices = {dev: DeviceInfo(address_of(key).lower(), 1, 1_000_000, "approved", composed)}
    rows = [list(COLUMNS)]
    for seq, meter in ((1, composed), (2, decomposed)):
        r = Reading(dev, seq, 1000 + 300 * seq, 1300 + 300 * seq, 1000)
        rows.append([meter, "0x" + dev.hex(), str(seq), str(r.start), str(r.end), "1000",
                     "0x" + sign(domain, r, key).hex()])  # fmt: skip
    path = _write(tmp_path / "nfc.csv", rows)
    store = ReadingStore(sqlite_url)
    result = ingest([path], store, devices, domain, workers=0)
    assert (result.stored, result.problems) == (2, 0)
    assert [s[2] for s in store.all_readings()] == [composed, composed]  # stored in NFC


def test_ingest__device_unknown_or_not_approved__refused(farm_files, sqlite_url):
    readings, devices_file = farm_files
    devices, domain = load_devices(devices_file)
    first = next(iter(devices))
    second = list(devices)[1]
    devices[second] = DeviceInfo(devices[second].key_address, 1, devices[second].capacity_w, "suspended", "x")
    del devices[first]
    store = ReadingStore(sqlite_url)
    problems = []
    result = ingest([readings], store, devices, domain, workers=0, on_problem=problems.append)
    assert result.stored == 120 and result.problems == 120
    assert sum("is not a registered device" in str(p) for p in problems) == 60
    assert sum("is suspended, not approved" in str(p) for p in problems) == 60


def test_load_devices__bad_entries__each_named(tmp_path):
    path = tmp_path / "dev.json"
    path.write_text(json.dumps({"devices": [
        {"meterId": "A", "keyAddress": "0x12", "projectId": 1, "capacityW": 5, "status": "approved"},
        {"meterId": "B", "keyAddress": "0x" + "11" * 20, "projectId": 0, "capacityW": 5, "status": "approved"},
        {"meterId": "C", "keyAddress": "0x" + "11" * 20, "projectId": 1, "capacityW": 5, "status": "active"},
        {"meterId": "E\u0301", "keyAddress": "0x" + "11" * 20, "projectId": 1, "capacityW": 5, "status": "approved"},
        {"meterId": "\u00c9", "keyAddress": "0x" + "11" * 20, "projectId": 1, "capacityW": 5, "status": "approved"},
    ]}))  # fmt: skip
    with pytest.raises(IngestError) as raised:
        load_devices(path)
    text = [str(p) for p in raised.value.problems]
    assert text[0].startswith(f"{path}:entry 1: keyAddress:")
    assert text[1].startswith(f"{path}:entry 2: projectId:")
    assert text[2].startswith(f"{path}:entry 3: status:")
    assert text[3].startswith(f"{path}:entry 5: meterId:") and "appears twice" in text[3]


# ---------------------------------------------------------------------------------------------------- faults

FAULT_MESSAGES = {
    "over-capacity": ("value_wh", "above the nameplate capacity"),
    "tamper": ("signature", "altered after signing, or signed by another key"),
    "unknown-key": ("signature", "altered after signing, or signed by another key"),
    "repeat": ("sequence", "signed sequence"),
    "clock-back": ("start", "the clock went back or the intervals overlap"),
}


@pytest.mark.parametrize("kind", ["gap", "repeat", "over-capacity", "clock-back", "tamper", "unknown-key"])
def test_ingest__simulated_fault__caught_with_its_message(tmp_path, domain, mrv_url, kind):
    out, dev = tmp_path / "f.csv", tmp_path / "dev.json"
    sim = simulate(out, dev, domain, meters=3, steps=40, faults=[Fault(kind, index=31)])
    (fault,) = sim.faults
    result, problems, stored, conflicts = _run([out], mrv_url, dev)
    if kind == "gap":
        assert problems == [] and result.stored == sim.rows == 119
        (gap,) = result.gaps
        assert (gap.meter_id, gap.end - gap.start, gap.next_sequence - gap.after_sequence) == (fault.meter_id, 300, 1)
        return
    fld, words = FAULT_MESSAGES[kind]
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{out}:{fault.line}: {fld}: ") and words in problems[0], problems
    assert result.stored == sim.rows - 1
    assert all(s[8] != fault.line for s in stored)  # nothing of it stored
    if kind in ("repeat", "clock-back"):
        (conflict,) = conflicts
        assert conflict["kind"] == ("sequence" if kind == "repeat" else "overlap")
        assert conflict["stored_signature"] != conflict["other_signature"]
        assert conflict["line"] == fault.line
    else:
        assert conflicts == []
    # the same file again: the same refusal, nothing stored twice, no second conflict row
    again, problems_again, stored_again, conflicts_again = _run([out], mrv_url, dev)
    assert problems_again == problems and stored_again == stored and len(conflicts_again) == len(conflicts)
    assert again.stored == 0


def test_ingest__fault_rates__every_fault_refused_or_gap(tmp_path, domain, sqlite_url):
    out, dev = tmp_path / "f.csv", tmp_path / "dev.json"
    faults = [Fault(k, rate=0.02) for k in ("gap", "over-capacity", "tamper", "unknown-key")]
    sim = simulate(out, dev, domain, meters=5, steps=100, faults=faults, seed=9)
    kinds = [f.kind for f in sim.faults]
    assert {"gap", "over-capacity", "tamper", "unknown-key"} <= set(kinds)
    result, problems, stored, _ = _run([out], sqlite_url, dev, workers=2)
    refused_lines = {int(p.split(":")[1]) for p in problems}
    assert refused_lines == {f.line for f in sim.faults if f.kind != "gap"}
    assert result.stored == sim.rows - len(refused_lines)
    # each missing or refused reading leaves its interval in a gap (but one at a meter's very end: nothing follows)
    covered = {(g.meter_id, t) for g in result.gaps for t in range(g.start, g.end, 300)}
    faulted = {(f.meter_id, DEFAULT_START + 300 * (f.index // 5)) for f in sim.faults if f.index // 5 < 99}
    assert covered == faulted


def test_ingest__jsonl_with_bom_and_crlf__read_as_plain(tmp_path, domain, sqlite_url):
    out, dev = tmp_path / "r.jsonl", tmp_path / "dev.json"
    simulate(out, dev, domain, meters=2, steps=5)
    out.write_bytes(b"\xef\xbb\xbf" + out.read_bytes().replace(b"\n", b"\r\n"))
    result, problems, _, _ = _run([out], sqlite_url, dev)
    assert (result.stored, problems) == (10, [])


def test_store__bad_url__refused_with_the_forms_expected():
    from tonne.mrv.store import StoreError

    with pytest.raises(StoreError, match="expected sqlite:///path or postgresql"):
        ReadingStore("mysql://x@y/z")
