"""A position as a borrower or lender reads it: collateral value, debt, health factor, liquidation prices; and
every position's history rebuilt from the facility's events alone."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from web3 import Web3

from tonne.core.report import table
from tonne.core.units import format_tonnes
from tonne.pledge.chain import PledgeDeployed
from tonne.pledge.ids import describe_class

BPS = 10_000
WAD = 10**18
UNITS_PER_TONNE = 1000


@dataclass
class CollateralLine:
    token_id: int
    class_id: int
    units: int
    price: int
    updated_at: int
    value: int
    ltv_bps: int
    threshold_bps: int
    restricted: bool


@dataclass
class PositionReport:
    position_id: int
    owner: str
    maturity: int
    debt: int
    scaled_debt: int
    lines: list[CollateralLine]
    collateral_value: int
    borrow_limit: int
    liquidation_limit: int
    health_factor: int  # 1e18 = 1.0; max uint when no debt
    stale: bool
    matured: bool
    liquidatable: bool

    @property
    def fall_to_liquidation(self) -> float | None:
        """The share by which every price may fall before the position becomes liquidatable (None: no debt)."""
        if self.debt == 0 or self.liquidation_limit == 0:
            return None
        return max(0.0, 1 - self.debt / self.liquidation_limit)

    def liquidation_price(self, line: CollateralLine) -> int | None:
        """The price of ``line`` at which the position becomes liquidatable, all prices falling together (for
        a one-id position, exactly that id's liquidation price)."""
        if self.debt == 0 or self.liquidation_limit == 0 or line.value == 0:
            return None
        return line.price * self.debt // self.liquidation_limit


def position_report(d: PledgeDeployed, position_id: int) -> PositionReport:
    view = d.facility.position(position_id)
    if int(str(view.owner), 16) == 0:
        raise ValueError(f"position {position_id} does not exist (positions so far: {d.facility.positionCount()})")
    health = d.facility.health(position_id)
    lines = []
    for token_id, units in zip(view.ids, view.amounts, strict=True):
        class_id, price, updated_at = d.oracle.quote(token_id)
        params = d.facility.classParams(class_id)
        restricted = bool(d.credit.isProjectRestricted(token_id >> 64))
        value = 0 if restricted or params.liquidationThresholdBps == 0 else units * price // UNITS_PER_TONNE
        lines.append(
            CollateralLine(
                int(token_id),
                int(class_id),
                int(units),
                int(price),
                int(updated_at),
                value,
                int(params.ltvBps),
                int(params.liquidationThresholdBps),
                restricted,
            )
        )
    return PositionReport(
        position_id=position_id,
        owner=str(view.owner),
        maturity=int(view.maturity),
        debt=int(health.debt),
        scaled_debt=int(view.scaledDebt),
        lines=lines,
        collateral_value=int(health.collateralValue),
        borrow_limit=int(health.borrowLimit),
        liquidation_limit=int(health.liquidationLimit),
        health_factor=int(health.healthFactor),
        stale=bool(health.stale),
        matured=bool(health.matured),
        liquidatable=bool(health.liquidatable),
    )


def format_report(d: PledgeDeployed, r: PositionReport) -> str:
    rows = []
    for line in r.lines:
        liq = r.liquidation_price(line)
        rows.append(
            [
                describe_class(line.token_id),
                format_tonnes(line.units),
                d.money(line.price) + "/t",
                _time(line.updated_at),
                d.money(line.value) + (" (restricted)" if line.restricted else ""),
                f"{line.ltv_bps / 100:g}% / {line.threshold_bps / 100:g}%",
                d.money(liq) + "/t" if liq is not None else "-",
            ]
        )
    hf = "-" if r.health_factor >= 2**255 else f"{r.health_factor / WAD:.4f}"
    fall = r.fall_to_liquidation
    lines = [
        f"Position {r.position_id}: owner {r.owner}, maturity {_time(r.maturity)}"
        + (" (matured)" if r.matured else ""),
        table(
            ["collateral", "amount", "price", "priced at", "value", "LTV / threshold", "liquidation price"],
            rows,
        ),
        f"collateral value {d.money(r.collateral_value)}; borrow limit {d.money(r.borrow_limit)}; "
        f"liquidation limit {d.money(r.liquidation_limit)}",
        f"debt {d.money(r.debt)}; health factor {hf}"
        + (f"; liquidatable if prices fall {fall:.1%}" if fall is not None and not r.liquidatable else "")
        + ("; LIQUIDATABLE" if r.liquidatable else "")
        + ("; some price is STALE" if r.stale else ""),
    ]
    return "\n".join(lines)


def _time(ts: int) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ") if ts else "never"


# ---------------------------------------------------------------------------------------------- history

POSITION_EVENTS = ("PositionOpened", "Pledged", "Borrowed", "Repaid", "Withdrawn", "Liquidated", "BadDebtRecorded")


@dataclass
class PositionState:
    """A position rebuilt from events alone."""

    owner: str = ""
    maturity: int = 0
    scaled_debt: int = 0
    collateral: dict[int, int] = field(default_factory=dict)
    borrowed: int = 0
    repaid: int = 0
    bad_debt: int = 0


@dataclass
class History:
    entries: list[tuple[int, int, str, dict[str, Any]]]  # (block, position, event, args)
    positions: dict[int, PositionState]


def position_history(d: PledgeDeployed, w3: Web3, position_id: int | None = None, chunk: int = 50_000) -> History:
    """Every position event of the facility (of one position, if given), in chain order, and the positions
    rebuilt from them: owner, maturity, collateral per id, scaled debt."""
    abi = [a for a in d.record["contracts"]["CreditFacility"]["abi"]]
    facility = w3.eth.contract(address=Web3.to_checksum_address(d.facility.address), abi=abi)
    topics = {Web3.keccak(text=_signature(abi, name)).to_0x_hex(): name for name in POSITION_EVENTS}
    position_topic = None if position_id is None else "0x" + f"{position_id:064x}"
    head = w3.eth.block_number
    logs = []
    for start in range(d.start_block, head + 1, chunk):
        query = {
            "address": facility.address,
            "fromBlock": start,
            "toBlock": min(start + chunk - 1, head),
            "topics": [list(topics), position_topic],
        }
        logs.extend(w3.eth.get_logs(query))
    logs.sort(key=lambda log: (log["blockNumber"], log["logIndex"]))
    entries = []
    positions: dict[int, PositionState] = {}
    for log in logs:
        name = topics[log["topics"][0].to_0x_hex()]
        args = dict(getattr(facility.events, name)().process_log(log)["args"])
        pid = int(args["positionId"])
        p = positions.setdefault(pid, PositionState())
        if name == "PositionOpened":
            p.owner, p.maturity = args["owner"], args["maturity"]
        elif name == "Pledged":
            for token_id, amount in zip(args["ids"], args["amounts"], strict=True):
                p.collateral[token_id] = p.collateral.get(token_id, 0) + amount
        elif name == "Withdrawn":
            p.collateral[args["id"]] -= args["amount"]
        elif name == "Liquidated":
            p.collateral[args["id"]] -= args["seized"]
            p.scaled_debt = args["scaledDebt"]
            p.repaid += args["repaid"]
        elif name in ("Borrowed", "Repaid"):
            p.scaled_debt = args["scaledDebt"]
            if name == "Borrowed":
                p.borrowed += args["amount"]
            else:
                p.repaid += args["amount"]
        elif name == "BadDebtRecorded":
            p.scaled_debt = 0
            p.bad_debt += args["amount"]
        p.collateral = {i: a for i, a in p.collateral.items() if a}
        entries.append((log["blockNumber"], pid, name, args))
    return History(entries, positions)


def format_history(d: PledgeDeployed, h: History) -> str:
    rows = []
    for block, pid, name, args in h.entries:
        rows.append([block, pid, name, _describe_event(d, name, args)])
    return table(["block", "position", "event", "what"], rows, title="Position history (from events)")


def _describe_event(d: PledgeDeployed, name: str, a: dict[str, Any]) -> str:
    if name == "PositionOpened":
        return f"owner {a['owner'][:10]}.., maturity {_time(a['maturity'])}"
    if name == "Pledged":
        return ", ".join(
            f"{format_tonnes(amount)} of {describe_class(i)}" for i, amount in zip(a["ids"], a["amounts"], strict=True)
        )
    if name == "Withdrawn":
        return f"{format_tonnes(a['amount'])} of {describe_class(a['id'])} back to {a['to'][:10]}.."
    if name == "Borrowed":
        return f"{d.money(a['amount'])} to {a['to'][:10]}.."
    if name == "Repaid":
        return f"{d.money(a['amount'])} by {a['payer'][:10]}.."
    if name == "Liquidated":
        return (
            f"{a['liquidator'][:10]}.. repaid {d.money(a['repaid'])}, "
            f"received {format_tonnes(a['seized'])} of {describe_class(a['id'])}"
        )
    return f"{d.money(a['amount'])} written off (total bad debt {d.money(a['totalBadDebt'])})"


def _signature(abi: list[dict[str, Any]], name: str) -> str:
    event = next(e for e in abi if e.get("type") == "event" and e["name"] == name)
    return f"{name}({','.join(_type(i) for i in event['inputs'])})"


def _type(param: dict[str, Any]) -> str:
    if param["type"].startswith("tuple"):
        return "(" + ",".join(_type(c) for c in param["components"]) + ")" + param["type"][5:]
    return param["type"]
