"""The demo's collateral-pledge steps (``demo_step``, run by tonne/demo.py after the summary): a buyer pledges
credits and borrows; what the pledge prevents; a price drop; the keeper's liquidation; the position's history
rebuilt from events."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tonne.core.demo import expect_refusal
from tonne.core.report import table
from tonne.core.units import format_tonnes, tonnes_to_units
from tonne.pledge.chain import connect_pledge
from tonne.pledge.deploy import PledgeOptions
from tonne.pledge.ids import describe_class
from tonne.pledge.keeper import Keeper, ape_send
from tonne.pledge.position import format_history, format_report, position_history, position_report
from tonne.pledge.prices import FeedPlan, PriceRow, post_plan

USD = 10**6
DAY = 86_400


def demo_pledge_options(admin: Any) -> PledgeOptions:
    """What the demo's deploy adds: the pledge contracts, with the admin as lender and price feeder."""
    return PledgeOptions(lenders=[str(admin.address)], feeders=[str(admin.address)])


def demo_step(ctx: Any) -> None:
    """The pledge steps on the first batch's credits (see docs/pledge.md); their summary goes to the result."""
    ctx.result["pledge"] = run_pledge_steps(ctx.provider, ctx.actors, ctx.token_ids[0], ctx.echo, expect_refusal)


def run_pledge_steps(
    provider: Any,
    actors: Any,
    token_id: int,
    echo: Callable[[str], None],
    expect_refusal: Callable[[Callable[[], Any]], str],
) -> dict[str, Any]:
    """Run the pledge steps on credits of ``token_id`` held by the first buyer; returns a summary."""
    gas = _Gas()
    d = connect_pledge(provider)
    admin, borrower, keeper_account = actors.admin, actors.buyers[0], actors.buyers[1]
    facility, usd, credit = d.facility, d.loan_token, d.credit

    echo("")
    echo("[pledge 1/5] Collateral facility: allowlisted, listed, priced and funded")
    if not credit.isAllowed(facility.address):  # the deployer is not the compliance officer here
        gas.add(
            "allowlist pledge contracts",
            credit.setAllowed([facility.address, d.bilateral.address], True, sender=actors.compliance),
        )
    gas.add("set class parameters", facility.setClassParams(token_id, 5_000, 7_000, DAY, sender=admin))
    price = 20 * USD
    _post(provider, d, admin, token_id, price, gas)
    usd.mint(admin, 1_000_000 * USD, sender=admin)
    usd.approve(facility.address, 2**256 - 1, sender=admin)
    gas.add("supply liquidity", facility.supplyLiquidity(1_000_000 * USD, sender=admin))
    echo(
        f"      {describe_class(token_id)}: LTV 50 %, liquidation threshold 70 %, prices valid one day; "
        f"price {d.money(price)}/t; {d.money(facility.cash())} of liquidity"
    )

    echo("[pledge 2/5] A buyer pledges 1,000 t and borrows")
    pledged = tonnes_to_units(1_000)
    credit.setApprovalForAll(facility.address, True, sender=borrower)
    now = provider.get_block("latest").timestamp
    receipt = gas.add(
        "open position + pledge", facility.openPosition(now + 90 * DAY, [token_id], [pledged], sender=borrower)
    )
    position_id = receipt.return_value
    held = credit.balanceOf(borrower.address, token_id)
    refusal = expect_refusal(lambda: facility.borrow(position_id, 10_001 * USD, sender=borrower))
    echo(f"      refused, borrowing 10,001 tUSD against a 10,000 tUSD limit: {refusal}")
    gas.add("borrow", facility.borrow(position_id, 9_000 * USD, sender=borrower, gas=1_000_000))
    echo(f"      position {position_id}: 1,000 t pledged, 9,000 tUSD borrowed; the buyer keeps {format_tonnes(held)}")
    refusal = expect_refusal(
        lambda: credit.safeTransferFrom(borrower, keeper_account, token_id, held + 1, b"", sender=borrower)
    )
    echo(f"      refused, moving more than the unpledged balance: {refusal}")

    echo("[pledge 3/5] The price falls 20 % twice (the most one update may move)")
    for price in (16 * USD, 12_800_000):
        _post(provider, d, admin, token_id, price, gas)
        echo(f"      price {d.money(price)}/t")
    report = position_report(d, position_id)
    echo(f"      health factor {report.health_factor / 10**18:.3f}: liquidatable = {report.liquidatable}")

    echo("[pledge 4/5] The keeper finds the position from events and liquidates it")
    usd.mint(keeper_account, 100_000 * USD, sender=keeper_account)
    keeper = Keeper(
        provider.web3,
        facility.address,
        d.record["contracts"]["CreditFacility"]["abi"],
        d.record["contracts"]["CreditPriceOracle"]["abi"],
        keeper_account.address,
        ape_send(keeper_account, provider),
        start_block=d.start_block,
    )
    run = keeper.run()
    for item in run.liquidations:
        gas.steps.setdefault("liquidate (keeper)", []).append(item.gas_used)
        echo(
            f"      liquidated position {item.position_id}: repaid {d.money(item.repaid)}, "
            f"received {format_tonnes(item.seized)} of {describe_class(item.token_id)}"
        )
    again = keeper.run()
    echo(f"      a second keeper run: {again.describe()}")

    echo("[pledge 5/5] The position, and its history rebuilt from events alone")
    echo(format_report(d, position_report(d, position_id)))
    history = position_history(d, provider.web3, position_id)
    echo(format_history(d, history))
    rebuilt = history.positions[position_id]
    view = facility.position(position_id)
    assert rebuilt.scaled_debt == view.scaledDebt, "the events do not rebuild the position's debt"
    assert rebuilt.collateral == dict(zip(view.ids, view.amounts, strict=True)), "nor its collateral"
    echo("      rebuilt from events: collateral and scaled debt match the contract")
    rows = [[step, len(v), f"{sum(v):,}", f"{sum(v) // len(v):,}"] for step, v in gas.steps.items()]
    echo(table(["step", "txs", "gas", "gas/tx"], rows, title="Gas of the pledge steps"))
    return {
        "gas": gas.steps,
        "position": position_id,
        "liquidations": len(run.liquidations),
        "second_run_liquidations": len(again.liquidations),
        "history_events": len(history.entries),
    }


class _Gas:
    def __init__(self) -> None:
        self.steps: dict[str, list[int]] = {}

    def add(self, step: str, receipt: Any) -> Any:
        self.steps.setdefault(step, []).append(int(receipt.gas_used))
        return receipt


def _post(provider: Any, d: Any, feeder: Any, class_id: int, price: int, gas: Any) -> None:
    """Post one price through the price-feed code, observed at a fresh block's time."""
    at = provider.get_block("latest").timestamp + 60
    provider.make_request("evm_mine", [at])
    row = PriceRow("demo", 0, class_id, price, at)
    for receipt in post_plan(d, FeedPlan([row], to_post=[row]), feeder):
        gas.add("post price", receipt)
