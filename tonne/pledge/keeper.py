"""The liquidation keeper: finds positions with debt from the facility's events, reads their health in a few
calls, and liquidates those the facility would accept, each after a dry run of the exact call.

Safe on a schedule: nothing is kept between runs, the chain is the only state. A run re-reads everything, so a
position another keeper (or an earlier run) already brought back to health is skipped, and a run started while
the keeper's own transactions are still pending does nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from web3 import Web3

BPS = 10_000
UNITS_PER_TONNE = 1000
HEALTH_BATCH = 200
# Events that carry a position's scaled debt after them, and the data word that holds it.
_DEBT_WORD = {
    "Borrowed(uint256,address,uint256,uint256,uint256)": 1,
    "Repaid(uint256,address,uint256,uint256,uint256)": 1,
    "Liquidated(uint256,address,uint256,uint256,uint256,uint256,uint256)": 2,
    "BadDebtRecorded(uint256,uint256,uint256)": None,  # the debt is zero after it
}
TOPICS = {Web3.keccak(text=sig).to_0x_hex(): word for sig, word in _DEBT_WORD.items()}


@dataclass
class Liquidation:
    position_id: int
    token_id: int
    repay: int
    repaid: int = 0
    seized: int = 0
    tx_hash: str = ""
    gas_used: int = 0


@dataclass
class KeeperReport:
    positions_with_debt: int = 0
    liquidatable: list[int] = field(default_factory=list)
    stale: list[int] = field(default_factory=list)
    liquidations: list[Liquidation] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    scan_seconds: float = 0.0
    total_seconds: float = 0.0

    def describe(self) -> str:
        return (
            f"{self.positions_with_debt} position(s) with debt, {len(self.liquidatable)} liquidatable, "
            f"{len(self.stale)} on stale prices; {len(self.liquidations)} liquidated, {len(self.skipped)} skipped; "
            f"scan {self.scan_seconds:.2f} s, total {self.total_seconds:.2f} s"
        )


class Keeper:
    """Reads with web3 (``w3``), sends through ``send(to, data) -> (tx_hash, gas_used)``."""

    def __init__(
        self,
        w3: Web3,
        facility_address: str,
        facility_abi: list[dict[str, Any]],
        oracle_abi: list[dict[str, Any]],
        liquidator: str,
        send: Callable[[str, bytes], tuple[str, int]],
        *,
        start_block: int,
        log_chunk: int = 50_000,
        log: Callable[[str], None] = lambda _m: None,
    ) -> None:
        self.w3 = w3
        self.facility = w3.eth.contract(address=Web3.to_checksum_address(facility_address), abi=facility_abi)
        self.oracle = w3.eth.contract(address=self.facility.functions.oracle().call(), abi=oracle_abi)
        token = self.facility.functions.loanToken().call()
        self.loan_token = w3.eth.contract(address=token, abi=_ERC20)
        self.liquidator = Web3.to_checksum_address(liquidator)
        self.send = send
        self.start_block = start_block
        self.log_chunk = log_chunk
        self.log = log

    # ------------------------------------------------------------------ reading

    def positions_with_debt(self) -> list[int]:
        """Position ids whose last debt event left a scaled debt, from logs alone (one query per chunk)."""
        head = self.w3.eth.block_number
        last: dict[int, int] = {}
        for start in range(self.start_block, head + 1, self.log_chunk):
            logs = self.w3.eth.get_logs(
                {
                    "address": self.facility.address,
                    "fromBlock": start,
                    "toBlock": min(start + self.log_chunk - 1, head),
                    "topics": [list(TOPICS)],
                }
            )
            for entry in sorted(logs, key=lambda e: (e["blockNumber"], e["logIndex"])):
                word = TOPICS[entry["topics"][0].to_0x_hex()]
                position_id = int.from_bytes(entry["topics"][1], "big")
                data = bytes(entry["data"])
                last[position_id] = 0 if word is None else int.from_bytes(data[32 * word : 32 * word + 32], "big")
        return sorted(p for p, scaled in last.items() if scaled)

    def health(self, position_ids: list[int]) -> list[Any]:
        out = []
        for start in range(0, len(position_ids), HEALTH_BATCH):
            out.extend(self.facility.functions.healthMany(position_ids[start : start + HEALTH_BATCH]).call())
        return out

    # ------------------------------------------------------------------ acting

    def run(self, *, dry_run: bool = False, max_liquidations: int | None = None) -> KeeperReport:
        started = time.perf_counter()
        report = KeeperReport()
        latest = self.w3.eth.get_transaction_count(self.liquidator, "latest")
        pending = self.w3.eth.get_transaction_count(self.liquidator, "pending")
        if pending > latest:
            report.skipped.append(f"{pending - latest} transaction(s) of {self.liquidator} still pending: run later")
            return report
        ids = self.positions_with_debt()
        report.positions_with_debt = len(ids)
        healths = self.health(ids)
        # Health tuple: collateralValue, borrowLimit, liquidationLimit, debt, healthFactor, stale, matured, liquidatable
        report.liquidatable = [p for p, h in zip(ids, healths, strict=True) if h[7]]
        report.stale = [p for p, h in zip(ids, healths, strict=True) if h[5]]
        report.scan_seconds = time.perf_counter() - started
        if not dry_run and report.liquidatable:
            self._ensure_allowance()
        for position_id in report.liquidatable:
            if max_liquidations is not None and len(report.liquidations) >= max_liquidations:
                report.skipped.append(f"position {position_id}: --max-liquidations reached")
                continue
            self._liquidate(position_id, report, dry_run)
        report.total_seconds = time.perf_counter() - started
        return report

    def _liquidate(self, position_id: int, report: KeeperReport, dry_run: bool) -> None:
        f = self.facility.functions
        view = f.position(position_id).call()  # owner, maturity, scaledDebt, debt, ids, amounts
        health = f.health(position_id).call()
        if not health[7]:
            report.skipped.append(f"position {position_id}: healthy again")
            return
        debt = health[3]
        token_id = self._richest_id(view[4], view[5])
        if token_id is None:
            report.skipped.append(f"position {position_id}: no priced collateral to seize")
            return
        # The facility caps the offer at what it may take (close factor, whole debt once matured or for dust)
        # and pulls only that; a margin above the debt covers the interest of the blocks until inclusion.
        repay = min(debt + debt // 100 + 1, self.loan_token.functions.balanceOf(self.liquidator).call())
        if repay == 0:
            report.skipped.append(f"position {position_id}: the liquidator holds no loan currency")
            return
        call = f.liquidate(position_id, token_id, repay)
        try:
            repaid, seized = call.call({"from": self.liquidator})
        except Exception as exc:  # noqa: BLE001 - a refused dry run is reported, never sent
            report.skipped.append(f"position {position_id}: dry run refused ({_reason(exc)})")
            return
        item = Liquidation(position_id, token_id, repay, repaid, seized)
        if not dry_run:
            item.tx_hash, item.gas_used = self.send(
                self.facility.address, bytes.fromhex(call._encode_transaction_data()[2:])
            )
            self.log(f"liquidated position {position_id}: repaid {repaid}, seized {seized} of {token_id}")
        report.liquidations.append(item)

    def _richest_id(self, ids: list[int], amounts: list[int]) -> int | None:
        best, best_value = None, 0
        now = self.w3.eth.get_block("latest")["timestamp"]
        for token_id, amount in zip(ids, amounts, strict=True):
            class_id, price, updated_at = self.oracle.functions.quote(token_id).call()
            max_age = self.facility.functions.classParams(class_id).call()[2]
            if updated_at == 0 or now - updated_at > max_age:
                continue  # a stale id cannot be seized
            value = amount * price // UNITS_PER_TONNE
            if value > best_value:
                best, best_value = token_id, value
        return best

    def _ensure_allowance(self) -> None:
        allowance = self.loan_token.functions.allowance(self.liquidator, self.facility.address).call()
        if allowance < 2**255:
            data = self.loan_token.functions.approve(self.facility.address, 2**256 - 1)._encode_transaction_data()
            self.send(self.loan_token.address, bytes.fromhex(data[2:]))
            self.log(f"approved the facility to take {self.liquidator}'s loan currency")


def ape_send(account: Any, provider: Any) -> Callable[[str, bytes], tuple[str, int]]:
    """A keeper ``send`` through an ape account (test, keyfile or hardware wallet), with headroom over the gas
    estimate: interest accrual writes a slot and logs only once the block time has moved on."""
    from tonne.issuance.send import wait_for_receipt

    w3 = provider.web3
    timeout = float(provider.network.transaction_acceptance_timeout)

    def send(to: str, data: bytes) -> tuple[str, int]:
        gas = w3.eth.estimate_gas({"from": account.address, "to": to, "data": "0x" + data.hex()})
        txn = provider.network.ecosystem.create_transaction(
            receiver=to, data=data, sender=account.address, gas_limit=int(gas * 1.25) + 30_000
        )
        signed = account.sign_transaction(account.prepare_transaction(txn))
        if not signed:
            raise RuntimeError(f"{account.address} did not sign the transaction")
        tx_hash = w3.eth.send_raw_transaction(signed.serialize_transaction()).to_0x_hex()
        sent = wait_for_receipt(w3, tx_hash, timeout)
        return sent.tx_hash, sent.gas_used

    return send


def _reason(exc: Exception) -> str:
    data = getattr(exc, "data", None)
    return f"{type(exc).__name__}: {data or exc}"


_ERC20 = [
    {
        "type": "function",
        "name": "balanceOf",
        "stateMutability": "view",
        "inputs": [{"name": "a", "type": "address"}],
        "outputs": [{"name": "", "type": "uint256"}],
    },
    {
        "type": "function",
        "name": "allowance",
        "stateMutability": "view",
        "inputs": [{"name": "o", "type": "address"}, {"name": "s", "type": "address"}],
        "outputs": [{"name": "", "type": "uint256"}],
    },
    {
        "type": "function",
        "name": "approve",
        "stateMutability": "nonpayable",
        "inputs": [{"name": "s", "type": "address"}, {"name": "v", "type": "uint256"}],
        "outputs": [{"name": "", "type": "bool"}],
    },
]
