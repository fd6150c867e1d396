"""`make bench` rows of the pledge module: gas per operation, and keeper throughput over 1,000 positions.

The keeper figure is measured on the chain ``make bench`` runs against (a plain Anvil): 1,000 positions are
opened and borrowed against, a price fall leaves a tenth of them unhealthy, and one keeper run finds them from
events, reads every position's health, and liquidates the unhealthy ones.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tonne.bench.gas import _register
from tonne.core.report import table
from tonne.issuance.send import wait_for_receipt
from tonne.pledge.deploy import deploy_pledge, grant_pledge_roles
from tonne.pledge.gas import measure_pledge_gas, mine_at
from tonne.pledge.keeper import Keeper
from tonne.registry.suite import deploy_suite

USD = 10**6
UNITS = 1000
DAY = 86_400
# A fixed gas limit: an estimate made at the latest block's time misses the interest accrual that the mined
# block (one second later) performs, and would run out of gas. Gas used does not depend on the limit.
GAS = 2_000_000
GAS_ROWS = (
    "open position + pledge 1 id",
    "pledge 1 more id",
    "borrow, 2 ids",
    "borrow, 16 ids (worst case)",
    "repay part",
    "repay all",
    "withdraw part, with debt, 2 ids",
    "withdraw all of an id, no debt",
    "liquidate part",
    "liquidate last unit + bad debt",
    "post 1 price",
    "post 16 prices",
    "bilateral: create pledge, 1 id",
    "bilateral: claim",
    "bilateral: reclaim",
)


def run_pledge_bench(
    project: Any, provider: Any, accounts: list[Any], *, positions: int = 1_000, echo: Callable[[str], None] = print
) -> dict[str, Any]:
    from ape import chain

    echo("")
    echo("Collateral pledges: gas per operation")
    gas = measure_pledge_gas(project, chain, accounts)
    echo(table(["operation", "gas"], [[name, f"{gas[name]:,}"] for name in GAS_ROWS]))
    echo("")
    echo(f"Keeper throughput over {positions:,} positions")
    keeper = keeper_throughput(project, provider, chain, accounts, positions)
    echo(
        f"{keeper['positions']:,} positions with debt scanned (events + health) in {keeper['scan_seconds']:.2f} s "
        f"({keeper['positions_per_second']:,.0f}/s); {keeper['liquidated']} liquidated in "
        f"{keeper['run_seconds']:.2f} s all told ({keeper['liquidations_per_second']:.1f} liquidations/s); "
        f"a second run liquidated {keeper['second_run_liquidated']} in {keeper['second_run_seconds']:.2f} s"
    )
    return {"gas": gas, "keeper": keeper}


def keeper_throughput(project: Any, provider: Any, chain: Any, accounts: list[Any], count: int) -> dict[str, Any]:
    admin, registrar, verifier, issuer, lender, feeder, borrower, liquidator = accounts[:8]
    w3 = provider.web3
    suite = deploy_suite(
        project, admin, roles={"REGISTRAR_ROLE": [registrar], "VERIFIER_ROLE": [verifier], "ISSUER_ROLE": [issuer]}
    )
    registry, credit = suite.registry, suite.credit
    contracts = deploy_pledge(project, credit, admin)
    grant_pledge_roles(contracts, lenders=[lender], feeders=[feeder], sender=admin)
    facility, oracle, usd = contracts.facility, contracts.oracle, contracts.loan_token
    project_id = _register(None, registry, registrar, issuer, borrower, "KEEPER")
    batch = dict(serialFirst=1, serialLast=10**7, periodStart=1, periodEnd=2, issuanceReference="BK", metadataURI="")
    token_id = registry.addBatch(project_id, batch, 0, sender=registrar).return_value
    registry.verifyBatch(token_id, sender=verifier)
    credit.issue(token_id, borrower, count * 10 * UNITS, b"\x00" * 32, sender=issuer)
    facility.setClassParams(token_id, 5_000, 7_000, 30 * DAY, gas=GAS, sender=admin)
    _post(chain, oracle, feeder, token_id, 20 * USD)
    usd.mint(lender, 10**15, sender=lender)
    usd.approve(facility, 2**256 - 1, sender=lender)
    facility.supplyLiquidity(10**14, gas=GAS, sender=lender)
    credit.setApprovalForAll(facility, True, sender=borrower)
    usd.mint(liquidator, 10**15, sender=liquidator)

    # 10 t each (200 tUSD, limit 100): one position in ten borrows to its limit, the rest to 30 %.
    maturity = chain.blocks.head.timestamp + 365 * DAY
    start_id = facility.positionCount() + 1
    f = w3.eth.contract(address=facility.address, abi=facility.contract_type.model_dump(mode="json")["abi"])
    last = None
    for _ in range(count):
        last = w3.eth.send_transaction(
            {
                "from": borrower.address,
                "to": facility.address,
                "gas": 400_000,
                "data": f.functions.openPosition(maturity, [token_id], [10 * UNITS])._encode_transaction_data(),
            }
        )
    wait_for_receipt(w3, last.to_0x_hex(), 300)
    for n in range(count):
        amount = 99 * USD if n % 10 == 0 else 60 * USD
        last = w3.eth.send_transaction(
            {
                "from": borrower.address,
                "to": facility.address,
                "gas": 400_000,
                "data": f.functions.borrow(start_id + n, amount)._encode_transaction_data(),
            }
        )
    wait_for_receipt(w3, last.to_0x_hex(), 300)
    for price in (16 * USD, 12_800_000):  # two falls of 20 %: the positions at their limit turn unhealthy
        _post(chain, oracle, feeder, token_id, price)

    def send(to: str, data: bytes) -> tuple[str, int]:
        tx = w3.eth.send_transaction({"from": liquidator.address, "to": to, "data": "0x" + data.hex(), "gas": 600_000})
        sent = wait_for_receipt(w3, tx.to_0x_hex(), 120)
        return sent.tx_hash, sent.gas_used

    start_block = int(facility.creation_metadata.receipt.block_number)
    abi = facility.contract_type.model_dump(mode="json")["abi"]
    oracle_abi = oracle.contract_type.model_dump(mode="json")["abi"]
    keeper = Keeper(w3, facility.address, abi, oracle_abi, liquidator.address, send, start_block=start_block)
    started = time.perf_counter()
    report = keeper.run()
    seconds = time.perf_counter() - started
    again = keeper.run()
    unhealthy = count // 10
    if len(report.liquidations) != unhealthy or again.liquidations:
        raise RuntimeError(
            f"keeper liquidated {len(report.liquidations)} (expected {unhealthy}), then {len(again.liquidations)}"
        )
    return {
        "positions": report.positions_with_debt,
        "liquidatable": len(report.liquidatable),
        "liquidated": len(report.liquidations),
        "scan_seconds": round(report.scan_seconds, 3),
        "positions_per_second": round(report.positions_with_debt / report.scan_seconds, 1),
        "run_seconds": round(seconds, 3),
        "liquidations_per_second": round(len(report.liquidations) / max(seconds - report.scan_seconds, 1e-9), 1),
        "liquidation_gas": sum(item.gas_used for item in report.liquidations) // max(len(report.liquidations), 1),
        "second_run_liquidated": len(again.liquidations),
        "second_run_seconds": round(again.total_seconds, 3),
    }


def _post(chain: Any, oracle: Any, feeder: Any, token_id: int, price: int) -> None:
    at = chain.blocks.head.timestamp + 1
    mine_at(chain, at)
    oracle.postPrices([token_id], [price], [at], gas=GAS, sender=feeder)


def bench_rows(ctx: Any) -> dict[str, Any]:
    """The pledge module's bench rows (``tonne.modules``): gas per operation and keeper throughput."""
    return {"pledge": run_pledge_bench(ctx.project, ctx.provider, ctx.accounts, echo=ctx.echo)}
