"""The state of the market rebuilt from events alone: one fold over the index, in chain order, that the
reconciliation (``tonne.supervise.reconcile``), the rules (``tonne.supervise.rules``) and the report
(``tonne.supervise.report``) all read, so that each number is computed once.

What it holds, per chain (a bridge's home and remote are two chains of one index):
- ``supply[(chain, id)]``: issued (``Issued``), retired (``RetirementRecorded``; on a remote chain
  ``RemoteRetired``), cancelled (``CreditsCancelled``), the cap (``BatchOpened``), and the minted and burned units
  of the token's own transfer events, which must agree with them;
- ``balances[(chain, id, holder)]``: from ``TransferSingle`` / ``TransferBatch``; the holdings of the Tonne
  contracts themselves (the credit facility, the bilateral pledge, the exchange, the home bridge) are escrow:
  pledged collateral, or credits bridged out and locked at home (``escrow[(chain, address)]``: one deployer key
  gives the same contract addresses on two chains, so an address is escrow only on the chain that deployed it);
- ``certificates``: each retirement with its beneficiary, name, reason, jurisdiction, period, purpose, reference,
  ids and amounts; ``surrenders``, ``periods`` and ``obligations`` of the compliance periods;
- ``positions`` (the credit facility: collateral per id, scaled debt, owner, maturity; a write-off
  (``BadDebtRecorded``) zeroes the debt), each ``collateral_pledges`` event with
  its time, the facility's ``class_params`` (LTV, liquidation threshold, price age per class) and its interest
  ``accrual`` (the last index, when, and the rate per second), to value a position at any time; ``pledges``
  (bilateral);
- ``trades`` (``OrderFilled``; ``deals()``: each delivery once), ``prices`` (the oracle's ``PricePosted``),
  ``classes`` ((chain, id) -> price class, the oracle's ``ClassAssigned`` on that chain);
- ``projects`` (with each status change in ``history``), ``restricted`` projects (the token's view),
  ``batches`` (serial ranges, issuance references), ``issuances``, ``cancellations``, ``reports`` of the MRV;
- ``bridge``: per (home chain, remote chain, id), units locked at home, released back, minted and burned
  remotely (each move in ``moves``), and the transfers each side refused and sent back (``TransferReturned``) and
  got back (``TransferRestored``); the pair of chains comes from each bridge's ``BridgeLinked``;
- ``timeline``: every change of a supply figure (issued, minted, burned, retired, cancelled, and the escrow kinds
  pledged, exchange, bridged) with its block timestamp, in chain order, so that the supply at any moment
  (``supply_at``) is read from the same fold as the supply at the end (the report's charts).

Every amount is in the token's units (1 tonne = 1,000 units: ``tonne.core.units``); every record keeps the
transaction hash and block it came from, for the alerts' evidence.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from tonne.supervise.store import Event

ZERO = "0x0000000000000000000000000000000000000000"
# Contracts whose holdings are escrow, not free circulation, by the names the deployment records give them.
ESCROW_CONTRACTS = {
    "CreditFacility": "pledged",
    "BilateralPledge": "pledged",
    "CreditExchange": "exchange",
    "HomeBridge": "bridged",
}
# The kinds of supply change on the timeline: the supply's own figures, then the escrow kinds (units held by
# escrow contracts, by ESCROW_CONTRACTS' kind).
SUPPLY_KINDS = ("issued", "minted", "burned", "retired", "cancelled", "pledged", "exchange", "bridged")


class SupplyChange(NamedTuple):
    """One change of one supply figure of ``(chain_id, token_id)``: ``units`` (negative: escrow released) of
    ``kind`` (one of ``SUPPLY_KINDS``) at block time ``timestamp``."""

    timestamp: int
    chain_id: int
    token_id: int
    kind: str
    units: int


@dataclass
class Supply:
    issued: int = 0
    retired: int = 0
    cancelled: int = 0
    minted: int = 0  # the token's transfers from the zero address
    burned: int = 0  # and to it
    cap: int | None = None
    issued_events: int = 0

    @property
    def circulating(self) -> int:
        """What is still held: issued less retired and cancelled (escrow included)."""
        return self.issued - self.retired - self.cancelled


@dataclass
class Where:
    """Where a record comes from: the evidence an alert cites."""

    chain_id: int
    block_number: int
    timestamp: int
    tx_hash: str
    log_index: int

    @classmethod
    def of(cls, event: Event) -> Where:
        return cls(event.chain_id, event.block_number, event.timestamp, event.tx_hash, event.log_index)


@dataclass
class Certificate:
    chain_id: int
    certificate_id: int
    beneficiary: str
    retiring_account: str
    ids: list[int]
    amounts: list[int]
    beneficiary_name: str
    reason: str
    jurisdiction: str
    period_start: int
    period_end: int
    purpose: int
    reference: str
    where: Where

    @property
    def units(self) -> int:
        return sum(self.amounts)


@dataclass
class Surrender:
    period_id: int
    entity: str
    certificate_id: int
    amount: int
    surrendered: int  # the entity's total for the period after it
    where: Where


@dataclass
class Period:
    period_id: int
    name: str
    jurisdiction: str
    start: int
    end: int
    deadline: int
    where: Where


@dataclass
class Trade:
    order_hash: str
    maker: str
    taker: str
    side: int  # 0: the maker sold; 1: the maker bought
    token_id: int
    units: int
    price_per_unit: int
    payment_token: str
    fee: int
    where: Where
    # The buy order's fill of a match (``MatchSettled``): the same delivery as the sell order's fill just before
    # it, seen from the other side; a deal is counted once by leaving these out (``Ledger.deals``).
    match_leg: bool = False

    @property
    def seller(self) -> str:
        return self.maker if self.side == 0 else self.taker

    @property
    def buyer(self) -> str:
        return self.taker if self.side == 0 else self.maker


@dataclass
class Position:
    position_id: int
    owner: str
    maturity: int = 0
    collateral: dict[int, int] = field(default_factory=dict)
    scaled_debt: int = 0
    index: int = 0
    borrowed: int = 0
    repaid: int = 0
    liquidations: int = 0
    written_off: int = 0  # bad debt recorded for it
    where: Where | None = None


@dataclass
class Pledge:
    pledge_id: int
    pledgor: str
    pledgee: str
    ids: list[int]
    amounts: list[int]
    maturity: int
    claim_deadline: int
    state: str = "active"  # active, released, defaulted, claimed, reclaimed
    where: Where | None = None

    @property
    def escrowed(self) -> bool:
        """Whether the pledge contract still holds its credits (until claimed or reclaimed)."""
        return self.state in ("active", "released", "defaulted")


@dataclass
class Batch:
    chain_id: int
    token_id: int
    project_id: int
    serial_first: int
    serial_last: int
    period_start: int
    period_end: int
    issuance_reference: str
    verified_tonnes: int | None = None
    where: Where | None = None


@dataclass
class MrvReport:
    report_id: int
    device_id: str
    start: int
    end: int
    first_sequence: int
    last_sequence: int
    total: int
    state: str = "submitted"  # submitted, approved, rejected
    batch_id: int | None = None
    where: Where | None = None


@dataclass
class BridgeFlow:
    """One id's traffic over one bridge. A lock at home is, later, minted remotely or refused there and returned
    home (``remote_returned``), where the return releases it to its locker (``home_restored``); a burn remotely
    is released at home or refused there (``home_returned``) and minted back remotely (``remote_restored``)."""

    locked: int = 0  # home: sent out and locked in the home bridge
    released: int = 0  # home: came back and was released from it
    minted: int = 0  # remote: the mirror's units minted on arrival
    burned: int = 0  # remote: burned on the way back
    home_returned: int = 0  # home: burns it could not release, sent back to the remote chain
    home_restored: int = 0  # home: locks the remote chain returned, released to their lockers
    remote_returned: int = 0  # remote: locks it could not mint, sent back home
    remote_restored: int = 0  # remote: burns home returned, minted back to their burners

    moves: list[tuple[str, int, Where]] = field(default_factory=list)  # (locked/released/minted/burned, units, where)

    @property
    def held_home(self) -> int:
        """What the home bridge must hold (its ``locked(id)``)."""
        return self.locked - self.released - self.home_restored

    @property
    def in_flight(self) -> int:
        """Units in messages sent and not yet delivered: locks not yet minted or returned, returns of them not
        yet restored, burns not yet released or returned, and returns of those not yet restored."""
        outbound = self.locked - self.minted - self.remote_returned
        back_home = self.remote_returned - self.home_restored
        inbound = self.burned - self.released - self.home_returned
        back_remote = self.home_returned - self.remote_restored
        return outbound + back_home + inbound + back_remote


@dataclass
class Accrual:
    """The credit facility's interest index as its events last showed it (``index`` at ``at``), and its rate:
    the index now is ``index * (1 + rate * elapsed)`` (the facility's ``_currentIndex``, linear since the last
    accrual). The facility moves its accrual time silently when the index does not change (a zero rate), so the
    projection can only over-state the interest of a facility whose rate went from zero to not zero."""

    index: int = 10**27
    at: int = 0
    rate_per_second: int = 0

    def index_at(self, now: int) -> int:
        elapsed = max(0, now - self.at)
        if elapsed == 0 or self.rate_per_second == 0:
            return self.index
        return self.index + -(-self.index * self.rate_per_second * elapsed // 10**27)


@dataclass
class Ledger:
    supply: dict[tuple[int, int], Supply] = field(default_factory=lambda: defaultdict(Supply))
    balances: dict[tuple[int, int, str], int] = field(default_factory=lambda: defaultdict(int))
    escrow: dict[tuple[int, str], str] = field(default_factory=dict)  # (chain, address) -> pledged/exchange/bridged
    names: dict[tuple[int, str], str] = field(default_factory=dict)  # (chain, address) -> contract name
    certificates: dict[tuple[int, int], Certificate] = field(default_factory=dict)
    remote_retirements: list[dict[str, Any]] = field(default_factory=list)
    surrenders: list[Surrender] = field(default_factory=list)
    periods: dict[int, Period] = field(default_factory=dict)
    obligations: dict[tuple[int, str], int] = field(default_factory=dict)
    entity_names: dict[tuple[int, str], str] = field(default_factory=dict)  # (period, entity) -> its name
    trades: list[Trade] = field(default_factory=list)
    prices: list[tuple[int, int, Where]] = field(default_factory=list)  # (class id, price, where)
    classes: dict[tuple[int, int], int] = field(default_factory=dict)  # (chain, token id) -> price class
    positions: dict[int, Position] = field(default_factory=dict)
    bad_debt: int = 0  # the facility's written-off debt (its last BadDebtRecorded's total)
    pledges: dict[int, Pledge] = field(default_factory=dict)
    collateral_pledges: list[tuple[int, str, list[int], list[int], Where]] = field(default_factory=list)
    class_params: dict[int, tuple[int, int, int]] = field(default_factory=dict)  # class -> ltv, threshold, max age
    accrual: Accrual = field(default_factory=Accrual)
    restricted: dict[tuple[int, int], bool] = field(default_factory=dict)  # (chain, project) -> restricted
    cancellations: list[tuple[int, int, str, int, Where]] = field(default_factory=list)  # chain, id, holder, units
    projects: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    batches: dict[tuple[int, int], Batch] = field(default_factory=dict)
    issuances: list[tuple[int, int, str, int, str, Where]] = field(default_factory=list)  # chain, id, to, units, ref
    reports: dict[int, MrvReport] = field(default_factory=dict)
    bridge: dict[tuple[int, int, int], BridgeFlow] = field(default_factory=lambda: defaultdict(BridgeFlow))
    links: dict[tuple[int, str], int] = field(default_factory=dict)  # (chain, bridge address) -> the other chain
    transfers: list[tuple[int, int, str, str, int, Where]] = field(default_factory=list)  # chain, id, from, to, units
    timeline: list[SupplyChange] = field(default_factory=list)
    blocks: dict[int, tuple[int, int]] = field(default_factory=dict)  # chain -> (first, last) block with an event
    events: int = 0
    first_timestamp: int | None = None
    last_timestamp: int | None = None

    # ---------------------------------------------------------------- building

    @classmethod
    def build(cls, events: Iterable[Event], sources: Iterable[dict[str, Any]] = ()) -> Ledger:
        """The ledger of ``events`` (in chain order); ``sources``: the index's ``sources()`` rows, which name the
        contracts (the escrow holders among them)."""
        ledger = cls()
        for source in sources:
            for address, name in source["contracts"].items():
                ledger.names[(source["chain_id"], address)] = name
                if name in ESCROW_CONTRACTS:
                    ledger.escrow[(source["chain_id"], address)] = ESCROW_CONTRACTS[name]
        for event in events:
            ledger.apply(event)
        return ledger

    def apply(self, event: Event) -> None:
        self.events += 1
        if self.first_timestamp is None:
            self.first_timestamp = event.timestamp
        self.last_timestamp = event.timestamp
        first = self.blocks.get(event.chain_id)
        self.blocks[event.chain_id] = (event.block_number if first is None else first[0], event.block_number)
        handler = _HANDLERS.get((event.contract, event.name)) or _HANDLERS.get((None, event.name))
        if handler is not None:
            handler(self, event, event.args)

    # ---------------------------------------------------------------- reading

    def holders(self, chain_id: int, token_id: int) -> dict[str, int]:
        return {h: units for (c, i, h), units in self.balances.items() if c == chain_id and i == token_id and units}

    def escrowed(self, chain_id: int, token_id: int) -> dict[str, int]:
        """Units of ``token_id`` held by the Tonne contracts, by kind (pledged, exchange, bridged)."""
        out: dict[str, int] = defaultdict(int)
        for holder, units in self.holders(chain_id, token_id).items():
            kind = self.escrow.get((chain_id, holder))
            if kind is not None:
                out[kind] += units
        return dict(out)

    def deals(self) -> list[Trade]:
        """The trades, each delivery once: a match's two fills (one per order) count as one deal, its sell
        order's fill (which carries the fee)."""
        return [trade for trade in self.trades if not trade.match_leg]

    def supply_at(self, edges: Sequence[int]) -> dict[tuple[int, int], dict[str, list[int]]]:
        """Per (chain, id), per kind of ``SUPPLY_KINDS``, its level just before each of ``edges`` (increasing
        block timestamps): the sum of the timeline's changes with a timestamp below the edge. After the last
        event, the levels are the ledger's own: ``issued``, ``retired``... of ``supply``, and the escrow kinds
        of ``escrowed``."""
        edges = list(edges)
        if any(b <= a for a, b in zip(edges, edges[1:], strict=False)):
            raise ValueError("supply_at: the edges must increase")
        steps: dict[tuple[int, int], dict[str, list[int]]] = {}
        for change in self.timeline:
            at = bisect_right(edges, change.timestamp)  # the first edge above the change's time
            if at == len(edges):
                continue
            key = (change.chain_id, change.token_id)
            kinds = steps.get(key)
            if kinds is None:
                kinds = steps[key] = {kind: [0] * len(edges) for kind in SUPPLY_KINDS}
            kinds[change.kind][at] += change.units
        for kinds in steps.values():
            for levels in kinds.values():
                total = 0
                for i, step in enumerate(levels):
                    total += step
                    levels[i] = total
        return steps

    def surrendered(self) -> dict[tuple[int, str], int]:
        """Units surrendered per (period, entity)."""
        out: dict[tuple[int, str], int] = defaultdict(int)
        for surrender in self.surrenders:
            out[(surrender.period_id, surrender.entity)] += surrender.amount
        return dict(out)

    def surrendered_certificates(self) -> dict[int, list[Surrender]]:
        by_certificate: dict[int, list[Surrender]] = defaultdict(list)
        for surrender in self.surrenders:
            by_certificate[surrender.certificate_id].append(surrender)
        return by_certificate


# -------------------------------------------------------------------- the handlers, one per event that moves state


def _changed(ledger: Ledger, event: Event, token_id: int, kind: str, units: int) -> None:
    ledger.timeline.append(SupplyChange(event.timestamp, event.chain_id, token_id, kind, units))


def _transfer(ledger: Ledger, event: Event, ids: list[int], values: list[int], source: str, to: str) -> None:
    chain = event.chain_id
    where = Where.of(event)
    escrow = ledger.escrow
    for token_id, units in zip(ids, values, strict=True):
        if source == ZERO:
            ledger.supply[(chain, token_id)].minted += units
            _changed(ledger, event, token_id, "minted", units)
        else:
            ledger.balances[(chain, token_id, source)] -= units
            if (chain, source) in escrow:
                _changed(ledger, event, token_id, escrow[(chain, source)], -units)
        if to == ZERO:
            ledger.supply[(chain, token_id)].burned += units
            _changed(ledger, event, token_id, "burned", units)
        else:
            ledger.balances[(chain, token_id, to)] += units
            if (chain, to) in escrow:
                _changed(ledger, event, token_id, escrow[(chain, to)], units)
        ledger.transfers.append((chain, token_id, source, to, units, where))


def _transfer_single(ledger: Ledger, event: Event, a: dict) -> None:
    _transfer(ledger, event, [a["id"]], [a["value"]], a["from"], a["to"])


def _transfer_batch(ledger: Ledger, event: Event, a: dict) -> None:
    _transfer(ledger, event, a["ids"], a["values"], a["from"], a["to"])


def _issued(ledger: Ledger, event: Event, a: dict) -> None:
    supply = ledger.supply[(event.chain_id, a["id"])]
    supply.issued += a["amount"]
    supply.issued_events += 1
    _changed(ledger, event, a["id"], "issued", a["amount"])
    ledger.issuances.append((event.chain_id, a["id"], a["to"], a["amount"], a["orderRef"], Where.of(event)))


def _batch_opened(ledger: Ledger, event: Event, a: dict) -> None:
    ledger.supply[(event.chain_id, a["id"])].cap = a["capUnits"]


def _cancelled(ledger: Ledger, event: Event, a: dict) -> None:
    ledger.supply[(event.chain_id, a["id"])].cancelled += a["amount"]
    _changed(ledger, event, a["id"], "cancelled", a["amount"])
    ledger.cancellations.append((event.chain_id, a["id"], a["holder"], a["amount"], Where.of(event)))


def _restriction(ledger: Ledger, event: Event, a: dict) -> None:
    ledger.restricted[(event.chain_id, a["projectId"])] = a["restricted"]


def _retirement(ledger: Ledger, event: Event, a: dict) -> None:
    for token_id, units in zip(a["ids"], a["amounts"], strict=True):
        ledger.supply[(event.chain_id, token_id)].retired += units
        _changed(ledger, event, token_id, "retired", units)
    ledger.certificates[(event.chain_id, a["certificateId"])] = Certificate(
        event.chain_id,
        a["certificateId"],
        a["beneficiary"],
        a["retiringAccount"],
        list(a["ids"]),
        list(a["amounts"]),
        a["beneficiaryName"],
        a["reason"],
        a["jurisdiction"],
        a["periodStart"],
        a["periodEnd"],
        a["purpose"],
        a["retirementRef"],
        Where.of(event),
    )


def _remote_retired(ledger: Ledger, event: Event, a: dict) -> None:
    ledger.supply[(event.chain_id, a["id"])].retired += a["amount"]
    _changed(ledger, event, a["id"], "retired", a["amount"])
    ledger.remote_retirements.append(dict(a, where=Where.of(event), chain_id=event.chain_id))


def _period_opened(ledger: Ledger, event: Event, a: dict) -> None:
    ledger.periods[a["periodId"]] = Period(
        a["periodId"], a["name"], a["jurisdiction"], a["periodStart"], a["periodEnd"], a["deadline"], Where.of(event)
    )


def _obligation(ledger: Ledger, event: Event, a: dict) -> None:
    ledger.obligations[(a["periodId"], a["entity"])] = a["obligation"]
    ledger.entity_names[(a["periodId"], a["entity"])] = a["name"]


def _surrendered(ledger: Ledger, event: Event, a: dict) -> None:
    ledger.surrenders.append(
        Surrender(a["periodId"], a["entity"], a["certificateId"], a["amount"], a["surrendered"], Where.of(event))
    )


def _filled(ledger: Ledger, event: Event, a: dict) -> None:
    ledger.trades.append(
        Trade(
            a["orderHash"],
            a["maker"],
            a["taker"],
            a["side"],
            a["id"],
            a["units"],
            a["pricePerUnit"],
            a["paymentToken"],
            a["fee"],
            Where.of(event),
        )
    )


def _match_settled(ledger: Ledger, event: Event, a: dict) -> None:
    for trade in reversed(ledger.trades):  # the two fills just before, in this transaction
        if trade.where.tx_hash != event.tx_hash:
            break
        if trade.order_hash == a["buyHash"] and trade.where.log_index < event.log_index:
            trade.match_leg = True
            break


def _price(ledger: Ledger, event: Event, a: dict) -> None:
    ledger.prices.append((a["classId"], a["price"], Where.of(event)))


def _class(ledger: Ledger, event: Event, a: dict) -> None:
    ledger.classes[(event.chain_id, a["id"])] = a["classId"]


def _position(ledger: Ledger, event: Event) -> Position:
    position_id = event.args["positionId"]
    if position_id not in ledger.positions:
        ledger.positions[position_id] = Position(position_id, event.args.get("owner", ZERO), where=Where.of(event))
    return ledger.positions[position_id]


def _position_opened(ledger: Ledger, event: Event, a: dict) -> None:
    _position(ledger, event).maturity = a["maturity"]


def _pledged(ledger: Ledger, event: Event, a: dict) -> None:
    position = _position(ledger, event)
    for token_id, units in zip(a["ids"], a["amounts"], strict=True):
        position.collateral[token_id] = position.collateral.get(token_id, 0) + units
    ledger.collateral_pledges.append((a["positionId"], a["owner"], list(a["ids"]), list(a["amounts"]), Where.of(event)))


def _withdrawn(ledger: Ledger, event: Event, a: dict) -> None:
    position = _position(ledger, event)
    position.collateral[a["id"]] = position.collateral.get(a["id"], 0) - a["amount"]


def _borrowed(ledger: Ledger, event: Event, a: dict) -> None:
    position = _position(ledger, event)
    position.borrowed += a["amount"]
    position.scaled_debt, position.index = a["scaledDebt"], a["index"]
    _index_seen(ledger, event, a["index"])


def _repaid(ledger: Ledger, event: Event, a: dict) -> None:
    position = _position(ledger, event)
    position.repaid += a["amount"]
    position.scaled_debt, position.index = a["scaledDebt"], a["index"]
    _index_seen(ledger, event, a["index"])


def _liquidated(ledger: Ledger, event: Event, a: dict) -> None:
    position = _position(ledger, event)
    position.collateral[a["id"]] = position.collateral.get(a["id"], 0) - a["seized"]
    position.scaled_debt, position.index = a["scaledDebt"], a["index"]
    position.liquidations += 1
    _index_seen(ledger, event, a["index"])


def _bad_debt(ledger: Ledger, event: Event, a: dict) -> None:
    _position(ledger, event).scaled_debt = 0  # the facility writes the position's debt off


def _index_seen(ledger: Ledger, event: Event, index: int) -> None:
    """Every facility event that carries the index was sent after an accrual to its block's time."""
    ledger.accrual.index, ledger.accrual.at = index, event.timestamp


def _accrued(ledger: Ledger, event: Event, a: dict) -> None:
    ledger.accrual.index, ledger.accrual.at = a["index"], a["timestamp"]


def _rate(ledger: Ledger, event: Event, a: dict) -> None:
    # setRate accrues at the old rate first (an InterestAccrued before this event when the index moved).
    if ledger.accrual.at == 0:
        ledger.accrual.at = event.timestamp  # the constructor's: the index starts at 1e27 at deployment
    ledger.accrual.rate_per_second = a["ratePerSecond"]


def _class_params(ledger: Ledger, event: Event, a: dict) -> None:
    ledger.class_params[a["classId"]] = (a["ltvBps"], a["liquidationThresholdBps"], a["maxPriceAge"])


def _bad_debt(ledger: Ledger, event: Event, a: dict) -> None:
    position = _position(ledger, event)
    position.scaled_debt = 0
    position.written_off += a["amount"]
    ledger.bad_debt = a["totalBadDebt"]


def _pledge_created(ledger: Ledger, event: Event, a: dict) -> None:
    ledger.pledges[a["pledgeId"]] = Pledge(
        a["pledgeId"],
        a["pledgor"],
        a["pledgee"],
        list(a["ids"]),
        list(a["amounts"]),
        a["maturity"],
        a["claimDeadline"],
        where=Where.of(event),
    )


def _pledge_state(state: str):
    def handler(ledger: Ledger, event: Event, a: dict) -> None:
        if a["pledgeId"] in ledger.pledges:
            ledger.pledges[a["pledgeId"]].state = state

    return handler


def _project_registered(ledger: Ledger, event: Event, a: dict) -> None:
    details = a.get("input") or {}
    ledger.projects[(event.chain_id, a["projectId"])] = {
        "owner": a["owner"],
        "standard": a["standard"],
        "externalId": a["externalId"],
        "name": details.get("name", ""),
        "status": 1,  # registration makes a project Pending (ProjectStatus 1) without a ProjectStatusChanged event
        "history": [],
        "where": Where.of(event),
    }


def _project_status(ledger: Ledger, event: Event, a: dict) -> None:
    project = ledger.projects.setdefault((event.chain_id, a["projectId"]), {"status": 0})
    project["status"] = a["to"]
    project.setdefault("history", []).append((a["from"], a["to"], a["reason"], Where.of(event)))


def _batch_added(ledger: Ledger, event: Event, a: dict) -> None:
    ledger.batches[(event.chain_id, a["id"])] = Batch(
        event.chain_id,
        a["id"],
        a["projectId"],
        a["serialFirst"],
        a["serialLast"],
        a["periodStart"],
        a["periodEnd"],
        a["issuanceReference"],
        where=Where.of(event),
    )


def _batch_verified(ledger: Ledger, event: Event, a: dict) -> None:
    batch = ledger.batches.get((event.chain_id, a["id"]))
    if batch is not None:
        batch.verified_tonnes = a["quantityTonnes"]


def _report_submitted(ledger: Ledger, event: Event, a: dict) -> None:
    ledger.reports[a["reportId"]] = MrvReport(
        a["reportId"],
        a["deviceId"],
        a["start"],
        a["end"],
        a["firstSequence"],
        a["lastSequence"],
        a["total"],
        where=Where.of(event),
    )


def _report_approved(ledger: Ledger, event: Event, a: dict) -> None:
    report = ledger.reports.get(a["reportId"])
    if report is not None:
        report.state, report.batch_id = "approved", a["batchId"]


def _report_rejected(ledger: Ledger, event: Event, a: dict) -> None:
    report = ledger.reports.get(a["reportId"])
    if report is not None:
        report.state = "rejected"


def _linked(ledger: Ledger, event: Event, a: dict) -> None:
    ledger.links[(event.chain_id, event.address)] = a["remoteChainId"]


def _flow(ledger: Ledger, event: Event, home: bool) -> BridgeFlow:
    """The flow of the event's id over the event's bridge (the other chain 0 while no link was seen)."""
    other = ledger.links.get((event.chain_id, event.address), 0)
    pair = (event.chain_id, other) if home else (other, event.chain_id)
    return ledger.bridge[(*pair, event.args["id"])]


def _bridge_move(kind: str, home: bool, move: bool = True):
    """A handler adding the event's amount to the ``kind`` field of its bridge flow, ``home``: the event is the
    home bridge's; ``move``: it is one of the four moves (``locked``, ``released``, ``minted``, ``burned``) the
    rules cite, kept in ``moves`` with where it happened."""

    def handler(ledger: Ledger, event: Event, a: dict) -> None:
        flow = _flow(ledger, event, home)
        setattr(flow, kind, getattr(flow, kind) + a["amount"])
        if move:
            flow.moves.append((kind, a["amount"], Where.of(event)))

    return handler


# (contract, event) -> handler; contract None: any contract of that name's event (a token's transfers on either
# side of a bridge: CarbonCredit at home, MirrorCredit remotely).
_HANDLERS = {
    (None, "TransferSingle"): _transfer_single,
    (None, "TransferBatch"): _transfer_batch,
    ("CarbonCredit", "Issued"): _issued,
    ("CarbonCredit", "BatchOpened"): _batch_opened,
    ("CarbonCredit", "CreditsCancelled"): _cancelled,
    ("CarbonCredit", "ProjectRestrictionSet"): _restriction,
    ("CarbonRetirement", "RetirementRecorded"): _retirement,
    ("MirrorCredit", "RemoteRetired"): _remote_retired,
    ("CompliancePeriods", "PeriodOpened"): _period_opened,
    ("CompliancePeriods", "ObligationSet"): _obligation,
    ("CompliancePeriods", "Surrendered"): _surrendered,
    ("CreditExchange", "OrderFilled"): _filled,
    ("CreditExchange", "MatchSettled"): _match_settled,
    ("CreditPriceOracle", "PricePosted"): _price,
    ("CreditPriceOracle", "ClassAssigned"): _class,
    ("CreditFacility", "PositionOpened"): _position_opened,
    ("CreditFacility", "Pledged"): _pledged,
    ("CreditFacility", "Withdrawn"): _withdrawn,
    ("CreditFacility", "Borrowed"): _borrowed,
    ("CreditFacility", "Repaid"): _repaid,
    ("CreditFacility", "Liquidated"): _liquidated,
    ("CreditFacility", "BadDebtRecorded"): _bad_debt,
    ("CreditFacility", "InterestAccrued"): _accrued,
    ("CreditFacility", "InterestRateSet"): _rate,
    ("CreditFacility", "ClassParamsSet"): _class_params,
    ("BilateralPledge", "PledgeCreated"): _pledge_created,
    ("BilateralPledge", "PledgeReleased"): _pledge_state("released"),
    ("BilateralPledge", "DefaultDeclared"): _pledge_state("defaulted"),
    ("BilateralPledge", "PledgeClaimed"): _pledge_state("claimed"),
    ("BilateralPledge", "PledgeReclaimed"): _pledge_state("reclaimed"),
    ("CarbonRegistry", "ProjectRegistered"): _project_registered,
    ("CarbonRegistry", "ProjectStatusChanged"): _project_status,
    ("CarbonRegistry", "BatchAdded"): _batch_added,
    ("CarbonRegistry", "BatchVerified"): _batch_verified,
    ("CarbonMRV", "ReportSubmitted"): _report_submitted,
    ("CarbonMRV", "ReportApproved"): _report_approved,
    ("CarbonMRV", "ReportRejected"): _report_rejected,
    ("HomeBridge", "CreditsLocked"): _bridge_move("locked", True),
    ("HomeBridge", "CreditsReleased"): _bridge_move("released", True),
    ("RemoteBridge", "CreditsMinted"): _bridge_move("minted", False),
    ("RemoteBridge", "CreditsBurned"): _bridge_move("burned", False),
    ("HomeBridge", "BridgeLinked"): _linked,
    ("RemoteBridge", "BridgeLinked"): _linked,
    ("HomeBridge", "TransferReturned"): _bridge_move("home_returned", True, move=False),
    ("RemoteBridge", "TransferReturned"): _bridge_move("remote_returned", False, move=False),
    ("HomeBridge", "TransferRestored"): _bridge_move("home_restored", True, move=False),
    ("RemoteBridge", "TransferRestored"): _bridge_move("remote_restored", False, move=False),
}
