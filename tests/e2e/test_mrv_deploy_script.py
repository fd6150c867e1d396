"""`ape run deploy --mrv` as a user runs it, against the session's own Anvil: the CarbonMRV recorded beside the
suite, holding the registry's REGISTRAR and VERIFIER roles, its own roles granted as asked; bad role addresses
refused before anything is sent."""

from __future__ import annotations

import json

from e2e_support import ape_run

MRV_REGISTRAR = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"  # TEST::1


def _contract(w3, record, name):
    entry = record["contracts"][name]
    return w3.eth.contract(address=entry["address"], abi=entry["abi"])


def test_deploy_mrv__dev_roles__recorded_and_holds_registry_roles(anvil, tmp_path):
    result = ape_run(
        "deploy", "--dev-roles", "--mrv", "--mrv-registrar", MRV_REGISTRAR, anvil=anvil, directory=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    record = json.loads((tmp_path / f"{anvil.w3.eth.chain_id}.json").read_text())
    mrv = _contract(anvil.w3, record, "CarbonMRV")
    registry = _contract(anvil.w3, record, "CarbonRegistry")
    deployer = record["deployer"]
    assert f"CarbonMRV         {mrv.address}" in result.stdout
    assert mrv.functions.registry().call() == registry.address
    for role in ("REGISTRAR_ROLE", "VERIFIER_ROLE"):
        assert registry.functions.hasRole(getattr(registry.functions, role)().call(), mrv.address).call()
    assert mrv.functions.hasRole(mrv.functions.REGISTRAR_ROLE().call(), MRV_REGISTRAR).call()
    for role in ("REGISTRAR_ROLE", "VERIFIER_ROLE", "METHODOLOGY_ROLE"):
        assert mrv.functions.hasRole(getattr(mrv.functions, role)().call(), deployer).call()
    assert mrv.functions.defaultAdmin().call() == deployer
    config = record["config"]["mrv"]
    assert config["roles"]["REGISTRAR_ROLE"] == [MRV_REGISTRAR, deployer]
    assert f"note: CarbonMRV {mrv.address} holds REGISTRAR_ROLE and VERIFIER_ROLE" in result.stdout


def test_deploy_mrv__bad_role_address_or_role_without_mrv__refused_nothing_written(anvil, tmp_path):
    bad = ape_run("deploy", "--mrv", "--methodologist", "0x1234", anvil=anvil, directory=tmp_path)
    assert bad.returncode != 0 and "--methodologist '0x1234'" in bad.stdout + bad.stderr
    alone = ape_run("deploy", "--mrv-verifier", MRV_REGISTRAR, anvil=anvil, directory=tmp_path)
    assert alone.returncode != 0 and "need --mrv" in alone.stdout + alone.stderr
    assert "Traceback" not in bad.stdout + bad.stderr + alone.stdout + alone.stderr
    assert not list(tmp_path.glob("*.json"))
