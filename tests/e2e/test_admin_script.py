"""`ape run admin ...` as a compliance officer, a regulator and an admin run it: checks first, nothing sent on a
refusal, nothing sent twice."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_utils import keccak

from e2e_support import Anvil, Deployment, deploy

# Anvil's test accounts 5..9: never given a role by --dev-roles (TEST::5 is the stranger).
STRANGER_ACCOUNT = "TEST::5"
KYC = [
    "0x976EA74026E726554dB657fA54763abd0C3a0aa9",
    "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955",
    "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720",
]
NEW_ADMIN = "0x23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f"  # TEST::8


@pytest.fixture(scope="module")
def suite(anvil: Anvil, tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    """A permissioned suite of its own: these tests change roles and the admin, which others must not see."""
    return deploy(anvil, tmp_path_factory.mktemp("deployments-admin"), "--permissioned")


def _role(name: str) -> bytes:
    return keccak(text=f"{name}_ROLE")


def _allowed(suite: Deployment) -> list[bool]:
    return [suite.credit.functions.isAllowed(account).call() for account in KYC]


def test_allow__csv_with_a_bad_row__names_the_line_and_allows_nobody(suite: Deployment, tmp_path: Path):
    path = tmp_path / "kyc.csv"
    path.write_text(f"account,note\n{KYC[0]},ok\n{KYC[1].lower()[:-1]},short\n{KYC[0].lower()},again\n")
    result = suite.run("admin", "allow", "--csv", str(path))
    assert result.returncode != 0
    assert f"{path}:3: account:" in result.stderr + result.stdout
    assert f"{path}:4: account: {KYC[0]} is already listed on line 2" in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
    assert _allowed(suite) == [False, False, False]


def test_allow__stranger__refused_naming_role_and_contract(suite: Deployment, tmp_path: Path):
    result = suite.run("admin", "allow", KYC[0], account=STRANGER_ACCOUNT)
    assert result.returncode != 0
    assert "does not hold COMPLIANCE on CarbonCredit" in result.stderr + result.stdout
    assert _allowed(suite) == [False, False, False]


def test_allow__csv_twice__allows_once_then_changes_nothing(suite: Deployment, tmp_path: Path):
    path = tmp_path / "kyc.csv"
    path.write_bytes(("\ufeffAccount , note\r\n" + "".join(f"{a},desk {i}\r\n" for i, a in enumerate(KYC))).encode())
    first = suite.run("admin", "allow", "--csv", str(path), "--chunk-size", "2")
    assert first.returncode == 0, first.stderr
    assert "allowed 3 accounts" in first.stdout
    assert _allowed(suite) == [True, True, True]
    block = suite.w3.eth.block_number
    second = suite.run("admin", "allow", "--csv", str(path))
    assert second.returncode == 0, second.stderr
    assert "nothing to change" in second.stdout
    assert suite.w3.eth.block_number == block
    revoked = suite.run("admin", "allow", KYC[2], "--revoke")
    assert revoked.returncode == 0, revoked.stderr
    assert _allowed(suite) == [True, True, False]


def test_grant__role_named_on_the_wrong_contract__says_which_contract_checks_it(suite: Deployment):
    result = suite.run("admin", "grant", "ISSUER", KYC[0], "--contract", "token")
    assert result.returncode != 0
    assert "ISSUER is granted and checked on CarbonRegistry" in result.stderr + result.stdout
    assert not suite.registry.functions.hasRole(_role("ISSUER"), KYC[0]).call()


def test_grant_and_revoke__admin__changes_the_role_on_its_contract_and_roles_lists_it(suite: Deployment):
    stranger = suite.run("admin", "grant", "ISSUER", KYC[0], account=STRANGER_ACCOUNT)
    assert stranger.returncode != 0
    assert "does not hold DEFAULT_ADMIN on CarbonRegistry" in stranger.stderr + stranger.stdout
    granted = suite.run("admin", "grant", "issuer", KYC[0])
    assert granted.returncode == 0, granted.stderr
    assert suite.registry.functions.hasRole(_role("ISSUER"), KYC[0]).call()
    listed = suite.run("admin", "roles", account=None)
    assert listed.returncode == 0, listed.stderr
    registry_part = listed.stdout.split("CarbonCredit")[0]
    assert f"ISSUER            {KYC[0]}" in registry_part
    revoked = suite.run("admin", "revoke", "ISSUER", KYC[0])
    assert revoked.returncode == 0, revoked.stderr
    assert not suite.registry.functions.hasRole(_role("ISSUER"), KYC[0]).call()


def test_freeze_and_pause__stranger_refused__regulator_applies_once(suite: Deployment):
    refused = suite.run("admin", "freeze", KYC[1], "--reason", "court order", account=STRANGER_ACCOUNT)
    assert refused.returncode != 0
    assert "does not hold REGULATOR on CarbonCredit" in refused.stderr + refused.stdout
    assert not suite.credit.functions.isFrozen(KYC[1]).call()
    frozen = suite.run("admin", "freeze", KYC[1], "--reason", "court order")
    assert frozen.returncode == 0, frozen.stderr
    assert suite.credit.functions.isFrozen(KYC[1]).call()
    again = suite.run("admin", "freeze", KYC[1], "--reason", "court order")
    assert "already frozen" in again.stdout
    assert suite.run("admin", "unfreeze", KYC[1], "--reason", "lifted").returncode == 0
    assert not suite.credit.functions.isFrozen(KYC[1]).call()
    assert suite.run("admin", "pause", account=STRANGER_ACCOUNT).returncode != 0
    assert not suite.credit.functions.paused().call()
    assert suite.run("admin", "pause").returncode == 0
    assert suite.credit.functions.paused().call()
    assert suite.run("admin", "unpause").returncode == 0
    assert not suite.credit.functions.paused().call()


def test_freeze__bad_address__names_the_argument_and_sends_nothing(suite: Deployment):
    block = suite.w3.eth.block_number
    result = suite.run("admin", "freeze", "0xabc", "--reason", "x")
    assert result.returncode != 0
    assert "TARGET: '0xabc' is not an address" in result.stderr + result.stdout
    assert suite.w3.eth.block_number == block


def test_transfer_admin__two_steps__only_the_pending_admin_accepts(suite: Deployment):
    started = suite.run("admin", "transfer-admin", NEW_ADMIN, "--contract", "retirement")
    assert started.returncode == 0, started.stderr
    retirement = suite.retirement
    assert retirement.functions.pendingDefaultAdmin().call()[0] == NEW_ADMIN
    wrong = suite.run("admin", "accept-admin", "--contract", "retirement", account=STRANGER_ACCOUNT)
    assert wrong.returncode != 0
    assert "is not the pending admin of CarbonRetirement" in wrong.stderr + wrong.stdout
    suite.anvil.rpc("evm_mine")
    accepted = suite.run("admin", "accept-admin", "--contract", "retirement", account="TEST::8")
    assert accepted.returncode == 0, accepted.stderr
    assert retirement.functions.defaultAdmin().call() == NEW_ADMIN
