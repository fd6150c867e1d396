"""`ape run deploy` and `ape run registry ...` as a user runs them, against the session's own Anvil."""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
from pathlib import Path

from e2e_support import ROOT, Deployment, deploy, script_env
from tonne.core.ids import encode_id


def _git_head() -> str:
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()


def test_deploy__fresh_chain__writes_a_complete_record(deployment: Deployment):
    record, w3 = deployment.record, deployment.w3
    assert record["schema"] == "tonne.deployment/1"
    assert record["chainId"] == w3.eth.chain_id
    assert record["git"]["commit"] == _git_head()
    assert record["compiler"]["version"].startswith("0.8.28")
    assert record["compiler"]["settings"]["viaIR"] is True
    assert record["compiler"]["settings"]["optimizer"] == {"enabled": True, "runs": 10000}
    assert record["config"]["mode"] == "open"
    assert set(record["config"]["roles"]) == {
        "REGISTRAR_ROLE",
        "VERIFIER_ROLE",
        "ISSUER_ROLE",
        "COMPLIANCE_ROLE",
        "REGULATOR_ROLE",
        "PERIOD_REGULATOR_ROLE",
    }
    assert set(record["contracts"]) == {"CarbonRegistry", "CarbonCredit", "CarbonRetirement", "CompliancePeriods"}
    for name, entry in record["contracts"].items():
        receipt = w3.eth.get_transaction_receipt(entry["transactionHash"])
        assert receipt["contractAddress"] == entry["address"], name
        assert receipt["blockNumber"] == entry["blockNumber"], name
        assert "0x" + receipt["blockHash"].hex().removeprefix("0x") == entry["blockHash"], name
        assert w3.eth.get_code(entry["address"]), name
        assert any(item.get("name") == "supportsInterface" for item in entry["abi"]), name
    # The token really is bound to the recorded registry, in the recorded mode.
    assert deployment.credit.functions.registry().call() == record["contracts"]["CarbonRegistry"]["address"]
    assert deployment.registry.functions.creditToken().call() == record["contracts"]["CarbonCredit"]["address"]
    assert deployment.credit.functions.permissioned().call() is False
    # The compliance module is bound to the recorded retirement module, and the deployer may open periods.
    compliance = deployment.compliance
    assert compliance.functions.retirement().call() == record["contracts"]["CarbonRetirement"]["address"]
    role = compliance.functions.PERIOD_REGULATOR_ROLE().call()
    assert compliance.functions.hasRole(role, deployment.admin).call()
    retirement = w3.eth.contract(
        address=record["contracts"]["CarbonRetirement"]["address"], abi=record["contracts"]["CarbonRetirement"]["abi"]
    )
    bound = retirement.events.ComplianceBound().get_logs(from_block=deployment.start_block)
    assert [log["args"]["compliance"] for log in bound] == [compliance.address]


def test_deploy__live_record_exists__refuses_and_keeps_record(deployment: Deployment):
    path = deployment.directory / f"{deployment.record['chainId']}.json"
    before = path.read_text()
    result = deployment.run("deploy", "--dev-roles")
    assert result.returncode != 0
    assert "already has a live Tonne deployment" in result.stderr + result.stdout
    assert path.read_text() == before


def test_deploy__force__deploys_again_and_archives_old_record(anvil, tmp_path: Path):
    first = deploy(anvil, tmp_path)
    result = first.run("deploy", "--dev-roles", "--force")
    assert result.returncode == 0, result.stderr
    chain_id = first.record["chainId"]
    folder = f"{chain_id}.{first.record['contracts']['CarbonRegistry']['blockNumber']}"
    archived = json.loads((tmp_path / f"{folder}.json").read_text())
    for name, entry in archived["contracts"].items():  # its inputs moved beside it, and it points at them
        assert entry["standardJsonInput"] == f"{folder}/{name}.input.json", name
        assert (tmp_path / entry["standardJsonInput"]).is_file(), name
        entry["standardJsonInput"] = first.record["contracts"][name]["standardJsonInput"]
    assert archived == first.record
    new = json.loads((tmp_path / f"{chain_id}.json").read_text())
    assert new["contracts"]["CarbonRegistry"]["address"] != first.record["contracts"]["CarbonRegistry"]["address"]
    assert (tmp_path / new["contracts"]["CarbonRegistry"]["standardJsonInput"]).is_file()


def test_deploy__stale_record__is_replaced_with_a_note(anvil, tmp_path: Path):
    chain_id = anvil.w3.eth.chain_id
    stale = {
        "schema": "tonne.deployment/1",
        "chainId": chain_id,
        "contracts": {
            name: {"address": "0x" + "de" * 20, "abi": [{"type": "constructor"}], "blockNumber": 1, "blockHash": "0x00"}
            for name in ("CarbonRegistry", "CarbonCredit")
        },
    }
    (tmp_path / f"{chain_id}.json").write_text(json.dumps(stale))
    fresh = deploy(anvil, tmp_path)  # asserts exit 0
    assert fresh.record["contracts"]["CarbonRegistry"]["address"] != "0x" + "de" * 20


def test_registry_commands__full_project_lifecycle__as_a_user_types_them(deployment: Deployment, tmp_path: Path):
    docs = tmp_path / "pdd.pdf"
    docs.write_bytes(b"%PDF-1.4 project design document")
    external = f"CLI-{tmp_path.name}"
    ref = f"{external}/VCU-2021"

    def run(*args: str) -> subprocess.CompletedProcess:
        result = deployment.run("registry", *args)
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    run(
        "register", "--standard", "GS", "--external-id", external, "--name", "Cookstoves Ashanti",
        "--methodology", "GS-TPDDTEC", "--type", "Cookstoves", "--country", "GH", "--region", "Ashanti",
        "--owner", deployment.admin, "--metadata-uri", "ipfs://pdd", "--documents", str(docs),
    )  # fmt: skip
    project_id = deployment.registry.functions.projectIdOf("GS", external).call()
    assert project_id > 0
    run("approve", f"GS:{external}", "--reason", "validation report accepted")
    run("add-batch", f"GS:{external}", "--serials", "5001-6000", "--period", "2021-01-01:2021-12-31",
        "--issuance-ref", ref)  # fmt: skip
    run("add-batch", str(project_id), "--serials", "1-5000", "--period", "2020-01-01:2020-12-31",
        "--issuance-ref", f"{ref}-2020")  # fmt: skip
    run("verify-batch", f"GS:{external}", ref)
    run("authorize-issuer", f"GS:{external}", deployment.admin)

    view = deployment.registry.functions.project(project_id).call()
    assert view[10] == 2  # Approved
    assert view[9] == hashlib.sha256(docs.read_bytes()).digest()  # the document's hash
    first_number = deployment.registry.functions.firstBatchNumber(project_id).call()
    assert first_number == 2  # the 2020 vintage, added second, heads the serial-sorted list
    assert deployment.credit.functions.issuanceCap(encode_id(project_id, 1)).call() == 1000 * 1000
    assert deployment.registry.functions.isProjectIssuer(project_id, deployment.admin).call()

    shown = subprocess.run(  # a read-only command: no --account
        [str(ROOT / ".venv/bin/ape"), "run", "registry", "show", f"GS:{external}", "--network", deployment.anvil.url],
        cwd=ROOT, env=script_env(deployment.directory), capture_output=True, text=True, timeout=120,
    ).stdout  # fmt: skip
    assert "5001-6000 (verified)" in shown and "1-5000 (unverified)" in shown

    nonce = deployment.w3.eth.get_transaction_count(deployment.admin)
    refused = deployment.run("registry", "add-batch", f"GS:{external}", "--serials", "4990-5010", "--period",
                             "2020-01-01:2020-12-31", "--issuance-ref", f"{ref}-overlap")  # fmt: skip
    assert refused.returncode != 0
    assert "overlap batch 2 (1-5000)" in refused.stderr
    assert deployment.w3.eth.get_transaction_count(deployment.admin) == nonce  # nothing was sent

    run("suspend", f"GS:{external}", "--reason", "reversal under investigation")
    assert deployment.credit.functions.isProjectRestricted(project_id).call() is True


def test_registry_commands__unknown_project_or_bad_input__exit_with_a_clear_error(deployment: Deployment):
    unknown = deployment.run("registry", "approve", "VCS:NO-SUCH-PROJECT", "--reason", "x")
    assert unknown.returncode != 0 and "'VCS:NO-SUCH-PROJECT' is not registered" in unknown.stderr
    bad_range = deployment.run("registry", "add-batch", "1", "--serials", "9-1", "--period", "2020-01-01:2020-12-31",
                               "--issuance-ref", "x")  # fmt: skip
    assert bad_range.returncode != 0 and "first serial is after the last" in bad_range.stderr


def _register(deployment: Deployment, external: str, *overrides: str) -> subprocess.CompletedProcess:
    options = {
        "--standard": "VCS", "--external-id": external, "--name": "Dup", "--methodology": "VM0007",
        "--country": "BR", "--owner": deployment.admin, "--metadata-uri": "ipfs://x",
        "--metadata-hash": "0x" + "ab" * 32,
    }  # fmt: skip
    for key, value in zip(overrides[::2], overrides[1::2], strict=True):
        options[key] = value
    return deployment.run("registry", "register", *(part for item in options.items() for part in item))


def test_registry_register__duplicate__names_the_error_and_the_existing_project_no_trace(deployment: Deployment):
    external = f"DUP-{time.time_ns()}"
    first = _register(deployment, external)
    assert first.returncode == 0, first.stderr
    project_id = deployment.registry.functions.projectIdOf("VCS", external).call()
    nonce = deployment.w3.eth.get_transaction_count(deployment.admin)
    again = _register(deployment, external)
    assert again.returncode == 1
    assert f"already registered as project {project_id} (RegistryDuplicateProject)" in again.stderr
    assert f"ape run registry show {project_id}" in again.stderr
    assert "tx.origin" not in again.stdout + again.stderr and "Traceback" not in again.stderr
    assert deployment.w3.eth.get_transaction_count(deployment.admin) == nonce


def test_registry_register__several_bad_options__all_reported_at_once_before_connecting(deployment: Deployment):
    nonce = deployment.w3.eth.get_transaction_count(deployment.admin)
    bad = _register(deployment, "BAD-1", "--owner", "0xabc", "--country", "br", "--metadata-hash", "0x12")
    assert bad.returncode == 2
    for option in ("--owner '0xabc'", "--country 'br'", "--metadata-hash '0x12'"):
        assert option in bad.stderr
    assert "ConversionError" not in bad.stderr and "Traceback" not in bad.stderr
    assert deployment.w3.eth.get_transaction_count(deployment.admin) == nonce
