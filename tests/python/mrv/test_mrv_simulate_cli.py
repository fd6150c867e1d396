"""Simulate: deterministic, physically bounded, a daily profile, demo keys marked; the mrv script as a user runs
it (simulate then ingest, exit codes, messages, --help with examples and units)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tonne.mrv.readings import address_of, private_key
from tonne.mrv.simulate import DEFAULT_START, Fault, SimulationError, farm, generate, parse_fault, simulate

CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"  # as conftest.py

ROOT = Path(__file__).parents[3]


def test_simulate__same_seed__same_bytes_other_seed_other(tmp_path, domain):
    a = simulate(tmp_path / "a.csv", tmp_path / "a.json", domain, meters=3, steps=50, seed=4)
    simulate(tmp_path / "b.csv", tmp_path / "b.json", domain, meters=3, steps=50, seed=4)
    simulate(tmp_path / "c.csv", tmp_path / "c.json", domain, meters=3, steps=50, seed=5)
    assert a.rows == 150
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert (tmp_path / "a.csv").read_bytes() != (tmp_path / "c.csv").read_bytes()


def test_simulate__week__never_above_nameplate_and_windier_at_night(domain):
    meters = farm(4, seed=2, capacity_w=2_000_000)
    rows = list(generate(meters, domain, steps=7 * 288, seed=2))
    limit = 2_000_000 * 300 // 3600
    assert all(0 <= r.reading.value <= limit for r in rows)
    assert any(r.reading.value == limit for r in rows) and any(r.reading.value == 0 for r in rows)

    def mean(hours):
        chosen = [r.reading.value for r in rows if (r.reading.start - DEFAULT_START) % 86_400 // 3600 in hours]
        return sum(chosen) / len(chosen)

    assert mean(range(0, 6)) > mean(range(12, 18))  # the daily cycle: stronger wind at night


def test_simulate__devices_file__keys_marked_demo_only_and_matching(tmp_path, domain):
    simulate(tmp_path / "r.csv", tmp_path / "d.json", domain, meters=2, steps=2)
    data = json.loads((tmp_path / "d.json").read_text())
    assert "DEMO ONLY" in data["warning"]
    assert (data["chainId"], data["verifyingContract"]) == (31337, CONTRACT)
    for entry in data["devices"]:
        assert address_of(private_key(entry["privateKeyDemoOnly"])) == entry["keyAddress"]
        assert entry["capacityW"] == 3_000_000 and entry["status"] == "approved"


@pytest.mark.parametrize(
    ("text", "words"),
    [("tamper", "KIND@INDEX"), ("melt@3", "expected one of"), ("gap:2", "KIND@INDEX"), ("gap:0.0", "not in (0, 1]")],
)
def test_parse_fault__bad__refused(text, words):
    with pytest.raises(SimulationError, match=words.replace("(", r"\(").replace("]", r"\]")):
        parse_fault(text)


def test_parse_fault__index_and_rate():
    assert parse_fault("tamper@120") == Fault("tamper", index=120)
    assert parse_fault("gap:0.01") == Fault("gap", rate=0.01)


def _cli():
    spec = importlib.util.spec_from_file_location("mrv_script", ROOT / "scripts" / "mrv.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.cli


def test_mrv_script__simulate_then_ingest__as_a_user(tmp_path):
    cli, runner = _cli(), CliRunner()
    out = tmp_path / "week.csv"
    done = runner.invoke(cli, ["simulate", "--contract", CONTRACT, "--meters", "2", "--days", "1", "--out", str(out),
                               "--fault", "over-capacity@7"])  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "fault over-capacity at index 7: WF1-T02, line 9, sequence 4" in done.output
    db = f"sqlite:///{tmp_path / 'm.sqlite'}"
    args = ["ingest", str(out), "--devices", str(tmp_path / "week.devices.json"), "--db", db, "--workers", "0"]
    first = runner.invoke(cli, args)
    assert first.exit_code == 2, first.output  # done, one refused
    assert f"{out}:9: value_wh: 300000 Wh is above the nameplate capacity" in first.output
    assert "575 reading(s) stored" in first.output and "1 refused" in first.output
    again = runner.invoke(cli, args)
    assert "0 reading(s) stored, 575 already stored" in again.output


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["ingest", "nope.csv", "--devices", "nope.json"], "nope.json: no such devices file"),
        (["simulate", "--contract", "0x12", "--out", "x.csv"], "is not an address"),
        (["simulate", "--contract", CONTRACT, "--meters", "1_000", "--out", "x.csv"], "digits 0-9"),
        (["simulate", "--contract", CONTRACT, "--fault", "melt@1", "--out", "x.csv"], "expected one of"),
        (["simulate", "--contract", CONTRACT, "--days", "1", "--steps", "2", "--out", "x.csv"], "not both"),
    ],
)
def test_mrv_script__bad_input__one_line_no_traceback(tmp_path, monkeypatch, args, words):
    monkeypatch.chdir(tmp_path)
    done = CliRunner().invoke(_cli(), args)
    assert done.exit_code in (1, 2) and words in done.output, done.output
    assert "Traceback" not in done.output


def test_mrv_script__ingest_missing_readings_file__named(tmp_path):
    cli, runner = _cli(), CliRunner()
    runner.invoke(cli, ["simulate", "--contract", CONTRACT, "--steps", "2", "--out", str(tmp_path / "r.csv")])
    done = runner.invoke(cli, ["ingest", str(tmp_path / "gone.csv"), "--devices", str(tmp_path / "r.devices.json"),
                               "--db", f"sqlite:///{tmp_path / 'm.sqlite'}"])  # fmt: skip
    assert done.exit_code == 1 and f"{tmp_path / 'gone.csv'}: no such file or folder" in done.output


def test_mrv_script__help__examples_and_units():
    cli, runner = _cli(), CliRunner()
    for name, units in (("simulate", ["watts (W)", "Seconds per reading"]), ("ingest", ["W", "Wh"])):
        text = " ".join(runner.invoke(cli, [name, "--help"]).output.split())
        assert f"ape run mrv {name}" in text and "Examples" in text
        assert all(u in text for u in units), text


def test_bench__ingest_throughput__measured_in_a_subprocess(tmp_path):
    from tonne.mrv.bench import ingest_throughput

    figures = ingest_throughput(2_000, workers=1, cache=tmp_path)
    assert figures["readings"] == figures["stored"] == 2_000
    assert figures["readings_per_s"] > 0 and 10 < figures["peak_rss_mb"] < 300
    assert figures["worker_peak_rss_mb"] > 10 and figures["cpu_seconds"] > 0
