"""The pledge contracts of the connected chain's deployment record, and the loan currency's units."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tonne.core.deployments import DeploymentError, connect, load_contracts
from tonne.core.units import UnitError, parse_amount

ERC20_ABI = [
    {"type": "function", "name": name, "stateMutability": "view", "inputs": inputs, "outputs": outputs}
    for name, inputs, outputs in (
        ("decimals", [], [{"name": "", "type": "uint8"}]),
        ("symbol", [], [{"name": "", "type": "string"}]),
        ("balanceOf", [{"name": "account", "type": "address"}], [{"name": "", "type": "uint256"}]),
        (
            "allowance",
            [{"name": "owner", "type": "address"}, {"name": "spender", "type": "address"}],
            [{"name": "", "type": "uint256"}],
        ),
    )
] + [
    {
        "type": "function",
        "name": "approve",
        "stateMutability": "nonpayable",
        "inputs": [{"name": "spender", "type": "address"}, {"name": "value", "type": "uint256"}],
        "outputs": [{"name": "", "type": "bool"}],
    }
]


@dataclass(frozen=True)
class PledgeDeployed:
    record: dict[str, Any]
    registry: Any
    credit: Any
    oracle: Any
    facility: Any
    bilateral: Any
    loan_token: Any
    decimals: int
    symbol: str

    @property
    def start_block(self) -> int:
        return min(entry["blockNumber"] for entry in self.record["contracts"].values())

    def money(self, units: int) -> str:
        return format_money(units, self.decimals, self.symbol)


def connect_pledge(provider: Any, directory: Path | str | None = None) -> PledgeDeployed:
    """The recorded pledge contracts of the chain behind ``provider`` (deployed with `ape run deploy --pledge`)."""
    from ape import Contract

    deployed = connect(provider, directory)
    if "CreditFacility" not in deployed.record["contracts"]:
        raise DeploymentError(
            f"the deployment record of chain {provider.chain_id} has no pledge contracts; deploy with --pledge"
        )
    contracts = load_contracts(deployed.record)
    facility = contracts["CreditFacility"]
    token = contracts.get("TestStablecoin") or Contract(facility.loanToken(), abi=ERC20_ABI)
    return PledgeDeployed(
        record=deployed.record,
        registry=deployed.registry,
        credit=deployed.credit,
        oracle=contracts["CreditPriceOracle"],
        facility=facility,
        bilateral=contracts["BilateralPledge"],
        loan_token=token,
        decimals=int(token.decimals()),
        symbol=str(token.symbol()),
    )


class AmountError(ValueError):
    """An amount of money that cannot be expressed in the loan currency's units."""


def parse_money(text: str, decimals: int) -> int:
    """``"1234.5"`` -> base units of a token with ``decimals``, in the one amount grammar of ``tonne.core.units``
    (``parse_amount``): ``"12,50"``, ``"1_000"``, ``"1e3"``, ``" 12"`` are refused, never reinterpreted."""
    try:
        return parse_amount(text, decimals, allow_zero=True, maximum=2**256 - 1)
    except UnitError as exc:
        raise AmountError(str(exc)) from exc


def format_money(units: int, decimals: int, symbol: str = "") -> str:
    whole, frac = divmod(abs(units), 10**decimals)
    text = f"{'-' if units < 0 else ''}{whole:,}"
    if frac:
        text += "." + f"{frac:0{decimals}d}".rstrip("0")
    return f"{text} {symbol}".rstrip()
