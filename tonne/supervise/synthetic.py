"""A synthetic market's events, built in Python without a chain: the load of the report's timing (issue 15's
bench: ``supervise report`` over 100,000 events in under 30 s), and of any test that needs many events fast.

``synthetic_events(n)`` returns ``n`` ``Event`` objects of one chain over ``days`` days, shaped as the indexer
stores them (the contracts' event names and fields): projects and batches registered, credits issued (``Issued``
and its mint), moved between holders, sold on the exchange (``OrderFilled`` and the delivery), retired for
beneficiaries in several jurisdictions (``RetirementRecorded`` and the burn), pledged to and withdrawn from the
credit facility, priced by the oracle, and surrendered in a compliance period. Every move stays within what its
sender holds, so the ledger conserves; ``Expected`` tallies what was generated (per batch, per beneficiary, per
jurisdiction) apart from the ledger, for tests to compare with.

    python -m tonne.supervise.synthetic 100000 [report.html]

prints the time to build the events, to fold them (``Ledger.build``), and to write the report.
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_utils import keccak, to_checksum_address

from tonne.core.ids import encode_id
from tonne.supervise.ledger import ZERO
from tonne.supervise.store import Event

CHAIN_ID = 31337
START = 1_767_225_600  # 2026-01-01 00:00:00 UTC


def _address(label: str) -> str:
    return to_checksum_address(keccak(text=label)[:20])


CONTRACTS = {
    name: _address(f"tonne synthetic {name}")
    for name in (
        "CarbonRegistry",
        "CarbonCredit",
        "CarbonRetirement",
        "CompliancePeriods",
        "CreditExchange",
        "CreditPriceOracle",
        "CreditFacility",
        "TestStablecoin",
    )
}
JURISDICTIONS = ("DE", "FR", "GB-ENG", "NL", "US-CA", "JP", "BR", "GH-AH", "CN-BJ", "")


@dataclass
class Expected:
    """What the generator made, tallied by itself (not by the ledger)."""

    issued: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    retired: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    pledged: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    by_beneficiary: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    by_jurisdiction: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    deals: int = 0
    certificates: int = 0


def sources() -> list[dict[str, Any]]:
    """The ``IndexStore.sources()`` row of the synthetic chain."""
    return [
        {
            "chain_id": CHAIN_ID,
            "genesis_hash": "0x" + keccak(text="tonne synthetic genesis").hex(),
            "contracts": {address: name for name, address in CONTRACTS.items()},
            "start_block": 1,
        }
    ]


def synthetic_events(
    n: int, *, days: int = 90, projects: int = 20, batches_per_project: int = 3, seed: int = 15
) -> tuple[list[Event], Expected]:
    """``n`` events (exactly) of a market over ``days`` days, in chain order, and the generator's own tallies."""
    rng = random.Random(seed)
    out: list[Event] = []
    expected = Expected()
    holders = [_address(f"holder {i}") for i in range(200)]
    beneficiaries = [
        (_address(f"beneficiary {i}"), f"Beneficiary {i} GmbH", JURISDICTIONS[i % len(JURISDICTIONS)])
        for i in range(400)
    ]
    balances: dict[tuple[int, str], int] = defaultdict(int)
    position_collateral: dict[tuple[int, int], int] = defaultdict(int)
    state = {"block": 0, "log": 0, "tx": 0, "certificate": 0, "order": 0}
    span = days * 86_400
    facility = CONTRACTS["CreditFacility"]

    def emit(contract: str, name: str, args: dict[str, Any], new_tx: bool = True) -> None:
        if len(out) >= n:
            return
        if new_tx:
            state["tx"] += 1
        block = state["block"]
        out.append(
            Event(
                CHAIN_ID,
                block,
                "0x" + keccak(text=f"block {block}").hex(),
                START + span * len(out) // max(n, 1),
                "0x" + keccak(text=f"tx {state['tx']}").hex(),
                state["log"],
                contract,
                CONTRACTS[contract],
                name,
                args,
            )
        )
        state["log"] += 1

    def next_block() -> None:
        state["block"] += 1
        state["log"] = 0

    def move(token_id: int, source: str, to: str, units: int) -> None:
        emit(
            "CarbonCredit",
            "TransferSingle",
            {"operator": source, "from": source, "to": to, "id": token_id, "value": units},
            new_tx=False,
        )
        if source != ZERO:
            balances[(token_id, source)] -= units
        if to != ZERO:
            balances[(token_id, to)] += units

    def holding(token_id: int) -> tuple[str, int] | None:
        for _ in range(8):
            holder = rng.choice(holders)
            if balances[(token_id, holder)] >= 1_000:
                return holder, balances[(token_id, holder)]
        return None

    ids: list[int] = []
    next_block()
    for project_id in range(1, projects + 1):
        owner = holders[project_id % len(holders)]
        emit("CarbonRegistry", "ProjectRegistered", {
            "projectId": project_id, "owner": owner, "standard": ("VCS", "GS", "CCER")[project_id % 3],
            "externalId": f"SYN-{project_id}", "input": {"name": f"Synthetic project {project_id}"},
        })  # fmt: skip
        emit(
            "CarbonRegistry",
            "ProjectStatusChanged",
            {"projectId": project_id, "by": ZERO, "from": 1, "to": 2, "reason": "validated"},
            new_tx=True,
        )
        for batch in range(1, batches_per_project + 1):
            token_id = encode_id(project_id, batch)
            cap = 50_000_000 * 1_000  # above what the run issues: no batch over its cap
            emit("CarbonRegistry", "BatchAdded", {
                "id": token_id, "projectId": project_id, "serialFirst": batch * 10**9 + 1,
                "serialLast": batch * 10**9 + cap // 1_000, "periodStart": 1_609_459_200, "periodEnd": 1_640_995_199,
                "issuanceReference": f"SYN-{project_id}-{batch}",
            })  # fmt: skip
            emit("CarbonCredit", "BatchOpened", {"id": token_id, "capUnits": cap}, new_tx=False)
            ids.append(token_id)
        next_block()
    emit("CompliancePeriods", "PeriodOpened", {
        "periodId": 1, "name": "Synthetic 2026", "jurisdiction": "DE", "periodStart": START,
        "periodEnd": START + span, "deadline": START + span + 30 * 86_400,
    })  # fmt: skip
    entities = holders[:30]
    for i, entity in enumerate(entities):
        emit("CompliancePeriods", "ObligationSet", {"periodId": 1, "entity": entity, "name": f"Entity {i}",
                                                    "previous": 0, "obligation": 5_000_000}, new_tx=False)  # fmt: skip
    surrendered: dict[str, int] = defaultdict(int)
    price = {token_id: rng.randint(8_000, 20_000) for token_id in ids}  # units of tUSD (6 decimals) per kg

    while len(out) < n:
        next_block()
        roll = rng.random()
        token_id = rng.choice(ids)
        if roll < 0.08 or not any(balances[(token_id, h)] for h in holders[:5]):
            to = rng.choice(holders)
            units = rng.randint(1, 50) * 1_000_000
            emit("CarbonCredit", "Issued", {"id": token_id, "to": to, "issuer": holders[0], "amount": units,
                                            "orderRef": "0x" + keccak(text=f"order {len(out)}").hex()})  # fmt: skip
            move(token_id, ZERO, to, units)
            expected.issued[token_id] += units
            continue
        held = holding(token_id)
        if held is None:
            continue
        holder, balance = held
        if roll < 0.45:
            to = rng.choice(holders)
            units = rng.randint(1, max(1, balance // 4_000)) * 1_000
            emit("CarbonCredit", "TransferSingle", {"operator": holder, "from": holder, "to": to, "id": token_id,
                                                    "value": units})  # fmt: skip
            balances[(token_id, holder)] -= units
            balances[(token_id, to)] += units
        elif roll < 0.70:
            buyer = rng.choice(holders)
            units = rng.randint(1, max(1, balance // 4_000)) * 1_000
            price[token_id] = max(1_000, price[token_id] + rng.randint(-300, 300))
            state["order"] += 1
            emit("CreditExchange", "OrderFilled", {
                "orderHash": "0x" + keccak(text=f"order hash {state['order']}").hex(), "maker": holder,
                "taker": buyer, "side": 0, "id": token_id, "units": units, "pricePerUnit": price[token_id],
                "paymentToken": CONTRACTS["TestStablecoin"], "fee": 0, "filledTotal": units,
            })  # fmt: skip
            move(token_id, holder, buyer, units)
            expected.deals += 1
        elif roll < 0.90:
            units = rng.randint(1, max(1, balance // 10_000)) * 1_000
            beneficiary, name, jurisdiction = rng.choice(beneficiaries)
            state["certificate"] += 1
            emit("CarbonRetirement", "RetirementRecorded", {
                "certificateId": state["certificate"], "beneficiary": beneficiary, "retiringAccount": holder,
                "ids": [token_id], "amounts": [units], "beneficiaryName": name, "reason": "synthetic",
                "jurisdiction": jurisdiction, "periodStart": START, "periodEnd": START + span, "purpose": 0,
                "retirementRef": "0x" + "00" * 32,
            })  # fmt: skip
            move(token_id, holder, ZERO, units)
            expected.retired[token_id] += units
            expected.by_beneficiary[beneficiary] += units
            expected.by_jurisdiction[jurisdiction] += units
            expected.certificates += 1
            if holder in entities and surrendered[holder] + units <= 5_000_000:
                surrendered[holder] += units
                emit("CompliancePeriods", "Surrendered", {
                    "periodId": 1, "entity": holder, "certificateId": state["certificate"], "by": holder,
                    "amount": units, "surrendered": surrendered[holder],
                }, new_tx=False)  # fmt: skip
        elif roll < 0.96:
            units = rng.randint(1, max(1, balance // 8_000)) * 1_000
            position_id = holders.index(holder) + 1
            emit("CreditFacility", "Pledged", {"positionId": position_id, "owner": holder, "ids": [token_id],
                                               "amounts": [units]})  # fmt: skip
            move(token_id, holder, facility, units)
            position_collateral[(position_id, token_id)] += units
            expected.pledged[token_id] += units
        elif roll < 0.98:
            position_id = holders.index(holder) + 1
            pledged = position_collateral.get((position_id, token_id), 0)
            if pledged:
                emit("CreditFacility", "Withdrawn", {"positionId": position_id, "id": token_id, "amount": pledged})
                move(token_id, facility, holder, pledged)
                position_collateral[(position_id, token_id)] = 0
                expected.pledged[token_id] -= pledged
        else:
            emit("CreditPriceOracle", "PricePosted", {"classId": token_id, "price": price[token_id] * 1_000,
                                                      "observedAt": START, "feeder": holders[1]})  # fmt: skip
    return out, expected


def measure(n: int, path: Path | None = None) -> dict[str, float]:
    """Seconds to build ``n`` synthetic events, to fold them, and to write their report (to ``path``)."""
    from tonne.supervise.ledger import Ledger
    from tonne.supervise.report import write_report

    started = time.perf_counter()
    events, _ = synthetic_events(n)
    built = time.perf_counter()
    ledger = Ledger.build(events, sources())
    folded = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        target = path or Path(folder) / "report.html"
        write_report(ledger, [], target, sources=sources(), decimals={CONTRACTS["TestStablecoin"]: 6},
                     oracle_token=CONTRACTS["TestStablecoin"])  # fmt: skip
        written = time.perf_counter()
        size = target.stat().st_size
    return {
        "events": n,
        "build_s": round(built - started, 2),
        "ledger_s": round(folded - built, 2),
        "report_s": round(written - folded, 2),
        "report_bytes": size,
    }


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    print(measure(count, Path(sys.argv[2]) if len(sys.argv) > 2 else None))
