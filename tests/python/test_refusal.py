"""Decoding contract refusals into one readable line (tonne.chain.refusal), and the issue tool's line ranges."""

from __future__ import annotations

from types import SimpleNamespace

from eth_abi import encode
from eth_utils import keccak

from tonne.bulk.report import line_ranges
from tonne.chain.errors import SendFailed
from tonne.chain.refusal import decode_error, explain, role_name
from tonne.pledge.chain import format_money

ACCOUNT = "0x70997970C51812dC3A010c7D01b50e20d4DC79c8"


def _data(signature: str, types: list[str], values: list) -> bytes:
    return keccak(text=signature)[:4] + encode(types, values)


def _usd(units: int) -> str:
    return format_money(units, 6, "tUSD")


def test_explain__erc20_insufficient_balance_as_raw_hex__named_with_balance_and_shortfall_in_tusd():
    data = _data(
        "ERC20InsufficientBalance(address,uint256,uint256)", ["address", "uint256", "uint256"], [ACCOUNT, 0, 10**11]
    )
    assert data[:4].hex() == "e450d38c"
    exc = SimpleNamespace(revert_message="0x" + data.hex(), contract_address=None)
    text = explain(exc, money=_usd)
    assert text.startswith("ERC20InsufficientBalance(sender=" + ACCOUNT)
    assert "holds 0 tUSD" in text and "100,000 tUSD is needed (100,000 tUSD short)" in text
    assert "0xe450d38c" not in text


def test_explain__missing_role__names_role_contract_account_and_the_admin_command():
    role = keccak(text="PERIOD_REGULATOR_ROLE")
    abi = SimpleNamespace(name="AccessControlUnauthorizedAccount")
    exc = SimpleNamespace(abi=abi, inputs={"account": ACCOUNT.lower(), "neededRole": role}, contract_address="0xAbC")
    text = explain(exc, contracts={"0xabc": "CompliancePeriods"})
    assert "neededRole=PERIOD_REGULATOR_ROLE" in text
    assert f"{ACCOUNT} does not hold PERIOD_REGULATOR_ROLE on CompliancePeriods" in text
    assert f"ape run admin grant PERIOD_REGULATOR {ACCOUNT}" in text
    assert "Run again" not in text and "\\x" not in text


def test_explain__send_failed_with_revert_data__decoded_from_the_attribute():
    data = _data(
        "ERC20InsufficientAllowance(address,uint256,uint256)", ["address", "uint256", "uint256"], [ACCOUNT, 1, 2]
    )
    text = explain(SendFailed("the gas estimate reverted", data))
    assert text.startswith("ERC20InsufficientAllowance(spender=")


def test_explain__unknown_revert__one_line_not_a_trace():
    exc = RuntimeError("reverted without message\ntx.origin=0x..\n  orders=[")
    assert explain(exc) == "reverted: reverted without message"


def test_decode_error__garbage_and_short_data__none():
    assert decode_error("0xzz") is None
    assert decode_error(b"\x01\x02") is None
    assert decode_error("0x" + "ab" * 40) is None


def test_role_name__known_zero_and_unknown():
    assert role_name(keccak(text="LENDER_ROLE")) == "LENDER_ROLE"
    assert role_name(b"\x00" * 32) == "DEFAULT_ADMIN_ROLE"
    assert role_name(b"\x01" * 32) == "0x" + "01" * 32


def test_line_ranges__consecutive_lines__collapsed_and_capped():
    assert line_ranges([5, 2, 3, 4, 9, 11, 12]) == "2-5, 9, 11-12"
    assert line_ranges(list(range(0, 100, 2)), shown=3) == "0, 2, 4, ... (47 more ranges)"


class _Provider:
    def __init__(self, response):
        self.response = response

    def make_request(self, method, params):
        assert method == "eth_estimateGas"
        return self.response


def test_estimate_gas__reverting_estimate__send_failed_names_the_error_and_keeps_the_data():
    import pytest

    from tonne.chain.send import estimate_gas

    data = _data("RegistryDuplicateProject(string,string,uint64)", ["string", "string", "uint64"], ["VCS", "1234", 7])
    w3 = SimpleNamespace(
        provider=_Provider({"error": {"code": 3, "message": "execution reverted", "data": "0x" + data.hex()}})
    )
    with pytest.raises(SendFailed) as info:
        estimate_gas(w3, ACCOUNT, ACCOUNT, b"\x01")
    assert info.value.revert_data == data
    text = str(info.value)
    assert "RegistryDuplicateProject(standard=VCS, externalId=1234, existingProjectId=7)" in text
    assert "already registered as project 7 (ape run registry show 7)" in text
    assert len(text.splitlines()) == 1


def test_estimate_gas__success__margin_added():
    from tonne.chain.send import estimate_gas

    w3 = SimpleNamespace(provider=_Provider({"result": hex(100_000)}))
    assert estimate_gas(w3, ACCOUNT, ACCOUNT, b"") == 145_000
