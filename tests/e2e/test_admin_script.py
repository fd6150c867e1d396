"""`ape run admin ...` as a compliance officer, a regulator and an admin run it: checks first, nothing sent on a
refusal, nothing sent twice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_utils import keccak
from web3 import Web3

from e2e_support import Anvil, Deployment, ape_run, deploy

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
    # The dev deployment's admin delay is 0 s, and OpenZeppelin accepts only once the schedule (the begin's block
    # time) has strictly passed: move the chain's clock on, rather than count on a second of wall clock between
    # the commands (one `ape run` process each took seconds; run in the test process they take less than one).
    suite.anvil.rpc("evm_increaseTime", [1])
    suite.anvil.rpc("evm_mine")
    accepted = suite.run("admin", "accept-admin", "--contract", "retirement", account="TEST::8")
    assert accepted.returncode == 0, accepted.stderr
    assert retirement.functions.defaultAdmin().call() == NEW_ADMIN


# ---------------------------------------------------------------------------------------------- hostile input


def test_allow__hostile_csv__every_bad_line_named_and_nobody_allowed(suite: Deployment, tmp_path: Path):
    fresh = ["0x" + "ab" * 20, "0x" + "cd" * 20]
    cyrillic_a = KYC[0][:5] + "\u0430" + KYC[0][6:]  # looks like the address, one letter is Cyrillic
    lines = [
        "account,note",
        f"  {fresh[0]}  ,padded",  # whitespace: accepted as the address
        f"{fresh[0].upper().replace('0X', '0x')},same address in upper case",
        cyrillic_a + ",homoglyph",
        "1e3,junk",
        f'{fresh[1]},"an unterminated quote',
        f"{KYC[2]},after it",
    ]
    path = tmp_path / "hostile.csv"
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    block = suite.w3.eth.block_number
    result = suite.run("admin", "allow", "--csv", str(path))
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert f"{path}:3: account: {Web3.to_checksum_address(fresh[0])} is already listed on line 2" in out
    assert f"{path}:4: account:" in out and "is not an address" in out
    assert f"{path}:5: account: '1e3' is not an address" in out
    assert f"{path}:6: row: a quoted field is not closed" in out
    assert "Traceback" not in out and len(out.splitlines()) < 12
    assert suite.w3.eth.block_number == block
    assert not any(suite.credit.functions.isAllowed(Web3.to_checksum_address(a)).call() for a in (*fresh, KYC[2]))


def test_admin__missing_or_stale_deployment_record__one_clear_line_nothing_sent(suite: Deployment, tmp_path: Path):
    empty = tmp_path / "no-such-folder"  # the records folder does not exist at all
    missing = ape_run("admin", "pause", anvil=suite.anvil, directory=empty)
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert "deploy" in missing.stderr.lower() and len(missing.stderr.strip().splitlines()) <= 3

    stale = tmp_path / "stale"
    stale.mkdir()
    for record in suite.directory.glob("*.json"):
        data = json.loads(record.read_text())
        data["contracts"]["CarbonCredit"]["address"] = "0x" + "de" * 20
        (stale / record.name).write_text(json.dumps(data))
    block = suite.w3.eth.block_number
    result = ape_run("admin", "pause", anvil=suite.anvil, directory=stale)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "no code" in result.stderr and len(result.stderr.strip().splitlines()) <= 3
    assert suite.w3.eth.block_number == block


def test_admin__rpc_down__one_line_naming_the_node(suite: Deployment):
    down = Anvil(suite.anvil.process, "http://127.0.0.1:9", suite.anvil.w3)  # nothing listens on port 9
    result = ape_run("admin", "roles", anvil=down, directory=suite.directory, account=None, timeout=120)
    out = result.stdout + result.stderr
    assert result.returncode == 1
    assert "No (supported) node found on 'http://127.0.0.1:9'" in out and "Traceback" not in out
    assert len(out.strip().splitlines()) <= 2


def test_allow__same_command_twice_at_once__both_succeed_each_account_allowed(suite: Deployment, tmp_path: Path):
    accounts = ["0x" + f"{n:02x}" * 20 for n in (0x31, 0x32, 0x33)]
    path = tmp_path / "twice.csv"
    path.write_text("account\n" + "\n".join(accounts) + "\n")
    first = suite.start("admin", "allow", "--csv", str(path), out=tmp_path / "a.out")
    second = suite.start("admin", "allow", "--csv", str(path), out=tmp_path / "b.out")
    codes = [process.wait(timeout=180) for process, _ in (first, second)]
    texts = [
        (tmp_path / f"{n}.out").read_text() + err.read_text() for n, (_, err) in zip("ab", (first, second), strict=True)
    ]
    assert codes == [0, 0], texts
    assert all("Traceback" not in t and "tx.origin" not in t for t in texts)
    assert all(suite.credit.functions.isAllowed(Web3.to_checksum_address(a)).call() for a in accounts)
