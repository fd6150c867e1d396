"""`ape run admin ...` refusing input the contracts would accept but nobody could ever use (the zero address as
admin or role holder), or that the contract always refuses (setAllowed in open mode): refused before anything is
sent. (A file of its own: the suite of test_admin_script.py changes roles and the admin.)"""

from __future__ import annotations

from eth_utils import keccak

from e2e_support import Deployment

KYC_0 = "0x976EA74026E726554dB657fA54763abd0C3a0aa9"

ZERO = "0x" + "0" * 40


def test_transfer_admin__zero_address__refused_as_an_option_error_and_nothing_sent(permissioned_deployment: Deployment):
    block = permissioned_deployment.w3.eth.block_number
    pending = permissioned_deployment.registry.functions.pendingDefaultAdmin().call()
    result = permissioned_deployment.run("admin", "transfer-admin", ZERO, "--contract", "registry")
    assert result.returncode != 0
    assert "NEW_ADMIN: the zero address cannot hold DEFAULT_ADMIN" in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
    assert permissioned_deployment.w3.eth.block_number == block
    assert permissioned_deployment.registry.functions.pendingDefaultAdmin().call() == pending


def test_grant__zero_address__refused_as_an_option_error_and_nothing_sent(permissioned_deployment: Deployment):
    block = permissioned_deployment.w3.eth.block_number
    result = permissioned_deployment.run("admin", "grant", "ISSUER", ZERO)
    assert result.returncode != 0
    assert "MEMBER: the zero address cannot hold ISSUER" in result.stderr + result.stdout
    assert permissioned_deployment.w3.eth.block_number == block
    assert not permissioned_deployment.registry.functions.hasRole(keccak(text="ISSUER_ROLE"), ZERO).call()


def test_allow__open_mode_deployment__refused_before_sending(deployment: Deployment):
    # setAllowed always reverts CreditAllowlistDisabled in open mode: the tool says so and sends nothing.
    assert not deployment.credit.functions.permissioned().call()
    block = deployment.w3.eth.block_number
    result = deployment.run("admin", "allow", KYC_0)
    assert result.returncode != 0
    output = result.stderr + result.stdout
    assert "is in open mode (permissioned() is false)" in output and "nothing was sent" in output
    assert "the contract refused" not in output and "Traceback" not in result.stderr
    assert deployment.w3.eth.block_number == block
