"""The MRV commands run as a user runs them, against our own Anvil and the real CarbonMRV (`deploy --mrv`): a wind
farm's simulated day of signed readings -> devices registered and approved -> a factor published -> ingest ->
report -> verify (a registry batch, the remainder carried) -> prove; each command run twice sends nothing the second
time; a verifier whose store disagrees rejects, naming why, and the corrected report is approved; strangers and bad
input refused with nothing sent."""

from __future__ import annotations

import csv
import json
import re

import pytest
from click.testing import CliRunner

from e2e_support import Deployment, contract, deploy, offline, ok, refused, script_module
from tonne.mrv.readings import device_id

START = 1_793_577_600  # 2026-11-02T00:00:00Z: before the chain's clock (reports may not end in the future)
HOUR = 3_600
G_PER_KWH = 700
STRANGER = "TEST::5"  # holds no MRV role and owns no project


@pytest.fixture(scope="module")
def mrv(anvil, tmp_path_factory) -> Deployment:
    return deploy(anvil, tmp_path_factory.mktemp("deployments-mrv"), "--mrv")


@pytest.fixture(scope="module")
def farm(mrv, tmp_path_factory):
    """A project with two simulated meters over one day, registered, approved, a factor published, the chain's
    devices exported; the readings file and the two stores' URLs."""
    d = mrv
    folder = tmp_path_factory.mktemp("farm")
    mrv_contract = contract(d, "CarbonMRV")
    project_id, _ = d.project()
    day = folder / "day.csv"
    ok(offline("mrv", "simulate", "--contract", mrv_contract.address, "--chain-id", str(d.w3.eth.chain_id),
               "--meters", "2", "--days", "1", "--start", str(START), "--project-id", str(project_id),
               "--out", str(day)))  # fmt: skip
    devices = folder / "day.devices.json"
    return dict(project_id=project_id, day=day, devices=devices, folder=folder, mrv=mrv_contract)


def _meters(farm) -> list[str]:
    return [e["meterId"] for e in json.loads(farm["devices"].read_text())["devices"]]


def test_mrv__devices_factor_ingest_report_verify_prove__a_batch_once(mrv, farm):
    d, c = mrv, farm["mrv"]
    meter, other = _meters(farm)
    first = ok(d.run("mrv", "register-devices", str(farm["devices"]), "--active-from", str(START)))
    assert f"{meter}: registered" in first and f"{other}: registered" in first
    block = d.w3.eth.block_number
    again = ok(d.run("mrv", "register-devices", str(farm["devices"]), "--active-from", str(START)))
    assert f"{meter}: already registered" in again and d.w3.eth.block_number == block
    ok(d.run("mrv", "approve-devices", "--file", str(farm["devices"])))
    assert "already approved" in ok(d.run("mrv", "approve-devices", meter))
    published = ok(d.run("mrv", "publish-factor", "GRID-ID", "--country", "ID", "--valid-from", "2026-01-01",
                         "--valid-until", "2026-12-31", "--g-per-kwh", str(G_PER_KWH)))  # fmt: skip
    assert "factor GRID-ID version 1: #1, 700 g CO2e/kWh, published" in published
    block = d.w3.eth.block_number
    assert "already published (nothing sent)" in ok(d.run("mrv", "publish-factor", "GRID-ID", "--country", "ID",
        "--valid-from", "2026-01-01", "--valid-until", "2026-12-31", "--g-per-kwh", str(G_PER_KWH)))  # fmt: skip
    assert d.w3.eth.block_number == block

    exported = farm["folder"] / "chain.devices.json"
    ok(d.run("mrv", "export-devices", "--out", str(exported), account=None))
    chain_devices = json.loads(exported.read_text())
    assert {e["meterId"]: e["status"] for e in chain_devices["devices"]} == {meter: "approved", other: "approved"}
    assert "privateKeyDemoOnly" not in exported.read_text()
    store = f"sqlite:///{farm['folder'] / 'owner.sqlite'}"
    ingested = ok(offline("mrv", "ingest", str(farm["day"]), "--devices", str(exported), "--db", store))
    assert "576 reading(s) stored, 0 already stored, 0 refused" in ingested, ingested  # 2 meters x 288 a day

    rows = [r for r in csv.DictReader(farm["day"].open()) if r["meter_id"] == meter]
    half = [r for r in rows if int(r["end"]) <= START + 12 * HOUR]
    until = str(START + 12 * HOUR)
    out = ok(d.run("mrv", "report", meter, "--factor", "GRID-ID", "--until", until, "--db", store))
    assert re.search(r"report #1 of .*sequences 1\.\.144, \d+ Wh, root 0x[0-9a-f]{64}: submitted", out), out
    block = d.w3.eth.block_number
    assert "already submitted (nothing sent)" in ok(d.run("mrv", "report", meter, "--factor", "GRID-ID", "--until",
                                                          until, "--db", store))  # fmt: skip
    assert d.w3.eth.block_number == block
    report = c.functions.report(1).call()
    total_1 = sum(int(r["value_wh"]) for r in half)
    assert report[5] == total_1 and report[1] == START and report[2] == START + 12 * HOUR

    refused(d.run("mrv", "verify", "1", "--db", store, account=STRANGER), "AccessControlUnauthorizedAccount")
    verified = ok(d.run("mrv", "verify", "1", "--db", store))
    tonnes_1, carry = divmod(total_1 * G_PER_KWH, 10**9)
    assert f"report #1 approved: {tonnes_1} t CO2e, batch" in verified and f"{carry} mg carried" in verified, verified
    assert "approved already (nothing sent)" in ok(d.run("mrv", "verify", "1", "--db", store))
    batch_id = int(re.search(r"batch (\d+)", verified).group(1))
    batch = d.registry.functions.batch(batch_id).call()
    assert batch[0] == farm["project_id"] and batch[5] is True  # the project's, verified
    assert batch[2] - batch[1] + 1 == tonnes_1 and (batch[3], batch[4]) == (START, START + 12 * HOUR)

    rest = ok(d.run("mrv", "report", meter, "--factor", "GRID-ID", "--db", store))  # to the last stored reading
    assert "report #2" in rest and "sequences 145..288" in rest, rest
    total_2 = sum(int(r["value_wh"]) for r in rows) - total_1
    second = ok(d.run("mrv", "verify", "2", "--db", store))
    tonnes_2 = (carry + total_2 * G_PER_KWH) // 10**9
    assert f"report #2 approved: {tonnes_2} t CO2e" in second, second
    assert tonnes_1 + tonnes_2 == (total_1 + total_2) * G_PER_KWH // 10**9  # nothing lost or counted twice

    proof_file = farm["folder"] / "proof.json"
    proven = ok(d.run("mrv", "prove", "1", "42", "--db", store, "--out", str(proof_file), account=None))
    assert "included in report #1's root" in proven, proven
    proof = json.loads(proof_file.read_text())
    assert proof["includedOnChain"] is True and proof["reading"]["sequence"] == 42
    assert proof["reading"]["device"] == "0x" + device_id(meter).hex()
    refused(d.run("mrv", "prove", "1", "200", "--db", store, account=None), "SEQUENCE 200", "1..144")


def test_mrv__verifier_store_disagrees__rejected_with_reasons_then_corrected_report_approved(mrv, farm):
    d = mrv
    _, meter = _meters(farm)
    owner = f"sqlite:///{farm['folder'] / 'owner.sqlite'}"
    # The verifier's own store has only the first six hours of this meter's readings.
    partial = farm["folder"] / "partial.csv"
    lines = farm["day"].read_text().splitlines(keepends=True)
    kept = [lines[0]] + [
        line for line in lines[1:] if line.startswith(meter + ",") and int(line.split(",")[4]) <= START + 6 * HOUR
    ]
    partial.write_text("".join(kept))
    verifier = f"sqlite:///{farm['folder'] / 'verifier.sqlite'}"
    exported = farm["folder"] / "chain.devices.json"
    ok(offline("mrv", "ingest", str(partial), "--devices", str(exported), "--db", verifier))

    out = ok(d.run("mrv", "report", meter, "--factor", "GRID-ID", "--until", str(START + 12 * HOUR), "--db", owner))
    report_id = re.search(r"report #(\d+)", out).group(1)
    rejected = ok(d.run("mrv", "verify", report_id, "--db", verifier))
    assert f"report #{report_id} rejected: total: the readings sum to" in rejected and "root:" in rejected, rejected
    mrv_contract = farm["mrv"]
    assert mrv_contract.functions.report(int(report_id)).call()[8] == 3  # Rejected
    assert "rejected already" in ok(d.run("mrv", "verify", report_id, "--db", verifier))

    # Rejection freed the interval: the owner submits it again; a verifier with every reading approves it.
    again = ok(d.run("mrv", "report", meter, "--factor", "GRID-ID", "--until", str(START + 12 * HOUR), "--db", owner))
    assert f"report #{int(report_id) + 1}" in again
    assert "approved" in ok(d.run("mrv", "verify", str(int(report_id) + 1), "--db", owner))


def test_mrv__bad_input_and_strangers__refused_nothing_sent(mrv, farm):
    d = mrv
    meter, other = _meters(farm)
    store = f"sqlite:///{farm['folder'] / 'owner.sqlite'}"
    block = d.w3.eth.block_number
    refused(d.run("mrv", "report", "NO-SUCH-METER", "--factor", "GRID-ID", "--db", store), "'NO-SUCH-METER'",
            "no device")  # fmt: skip
    refused(d.run("mrv", "report", meter, "--factor", "NOPE", "--db", store), "--factor 'NOPE'", "no such factor")
    refused(d.run("mrv", "report", other, "--factor", "GRID-ID", "--db", store, account=STRANGER),
            "MrvNotProjectOwnerOrRegistrar")  # fmt: skip
    refused(d.run("mrv", "verify", "99", "--db", store), "REPORT_ID 99", "no such report")
    refused(d.run("mrv", "publish-factor", "GRID-ID", "--country", "ID", "--valid-from", "2026-01-01",
                  "--valid-until", "2026-12-31", "--g-per-kwh", "1e3"), "--g-per-kwh")  # fmt: skip
    refused(d.run("mrv", "publish-factor", "GRID-ID", "--country", "id", "--valid-from", "2026-01-01",
                  "--valid-until", "2026-12-31", "--g-per-kwh", "5"), "--country")  # fmt: skip
    refused(d.run("mrv", "publish-factor", "GRID-X", "--country", "ID", "--valid-from", "2026-01-01",
                  "--valid-until", "2026-12-31", "--g-per-kwh", "5", account=STRANGER),
            "AccessControlUnauthorizedAccount")  # fmt: skip
    refused(d.run("mrv", "approve-devices"), "METER_ID ... or --file")
    refused(d.run("mrv", "register-devices", str(farm["folder"] / "missing.json"), "--active-from", "2026-11-02"),
            "missing.json")  # fmt: skip
    # A devices file without the key's binding signature (and no demo key) cannot register: nobody registers a key
    # it does not hold (MRV-AUDIT-1).
    data = json.loads(farm["devices"].read_text())
    entry = {k: v for k, v in data["devices"][0].items() if k not in ("device", "keySignature", "privateKeyDemoOnly")}
    unsigned = farm["folder"] / "unsigned.devices.json"
    unsigned.write_text(json.dumps(dict(data, devices=[dict(entry, meterId="WF9-UNSIGNED")])))
    refused(d.run("mrv", "register-devices", str(unsigned), "--active-from", "2026-11-02"), "WF9-UNSIGNED",
            "no keySignature by its key")  # fmt: skip
    assert d.w3.eth.block_number == block


def test_mrv__factor_corrected_before_verification__report_rejected_then_resubmitted_with_the_new_version(mrv, farm):
    d = mrv
    _, other = _meters(farm)
    store = f"sqlite:///{farm['folder'] / 'owner.sqlite'}"
    out = ok(d.run("mrv", "report", other, "--factor", "GRID-ID", "--db", store))  # 12h-24h, with version 1
    report_id = int(re.search(r"report #(\d+)", out).group(1))
    ok(d.run("mrv", "publish-factor", "GRID-ID", "--country", "ID", "--valid-from", "2026-01-01", "--valid-until",
             "2026-12-31", "--g-per-kwh", "650"))  # fmt: skip
    verified = d.run("mrv", "verify", str(report_id), "--db", store)
    assert f"report #{report_id} rejected: factor: GRID-ID v1 (#1): 700 g CO2e/kWh is superseded by version 2" in ok(
        verified
    ), verified.stdout
    assert "factor: GRID-ID v1 (#1)" in verified.stderr
    again = ok(d.run("mrv", "report", other, "--factor", "GRID-ID", "--db", store))  # the latest: version 2
    approved = ok(d.run("mrv", "verify", str(report_id + 1), "--db", store))
    assert f"report #{report_id + 1} approved" in approved and "sequences 145..288" in again


def test_mrv_help__every_command__an_example_and_units():
    module = script_module("mrv")
    expected = {"simulate", "ingest", "register-devices", "approve-devices", "export-devices", "publish-factor",
                "report", "verify", "prove"}  # fmt: skip
    assert set(module.cli.commands) == expected
    for name in expected:
        result = CliRunner().invoke(module.cli, [name, "--help"])
        assert result.exit_code == 0, result.output
        text = " ".join(result.output.split())
        assert f"ape run mrv {name}" in text, (name, text)
    for name, unit in (("publish-factor", "CO2e per kWh"), ("report", "Wh"), ("verify", "g/kWh"),
                       ("simulate", "W"), ("register-devices", "W")):  # fmt: skip
        text = " ".join(CliRunner().invoke(module.cli, [name, "--help"]).output.split())
        assert unit in text, (name, text)
