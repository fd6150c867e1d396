"""The monitor's rules fed ledgers built from ``Event`` objects: the violations the contracts refuse (so no chain
can show them: tests/unit/supervise/test_rules_on_chain.py asserts each refusal) must still be caught if a
contract bug ever let one through, and the edges of every rule (windows, scopes, what does not count).

The events are those the indexer stores (``tonne.supervise.store.Event``), with the fields the contracts' ABIs
give them; the ledger is the real one (``Ledger.build``) and the rules the real ones.
"""

from __future__ import annotations

import json

from tonne.core.ids import encode_id
from tonne.supervise.config import Config, NearLiquidation
from tonne.supervise.ledger import ZERO, Ledger
from tonne.supervise.rules import RULE_NAMES, evaluate
from tonne.supervise.store import Event

UNITS = 1000
T0 = 1_750_000_000
HOUR, DAY = 3600, 86_400
CHAIN, REMOTE = 31337, 4242
ZERO_REF = "0x" + "00" * 32
A = "0x00000000000000000000000000000000000000A1"
B = "0x00000000000000000000000000000000000000b2"
C = "0x00000000000000000000000000000000000000C3"
FACILITY = "0x000000000000000000000000000000000000FAC1"
ADDRESSES = {
    "CarbonRegistry": "0x0000000000000000000000000000000000000001",
    "CarbonCredit": "0x0000000000000000000000000000000000000002",
    "CarbonRetirement": "0x0000000000000000000000000000000000000003",
    "CompliancePeriods": "0x0000000000000000000000000000000000000004",
    "CreditExchange": "0x0000000000000000000000000000000000000005",
    "CreditPriceOracle": "0x0000000000000000000000000000000000000006",
    "CreditFacility": FACILITY,
    "CarbonMRV": "0x0000000000000000000000000000000000000008",
    "HomeBridge": "0x0000000000000000000000000000000000000009",
    "MirrorCredit": "0x000000000000000000000000000000000000000A",
    "RemoteBridge": "0x000000000000000000000000000000000000000b",
}
ID = encode_id(1, 1)
ID2 = encode_id(1, 2)


class Chain:
    """Events in chain order, one transaction per block, 12 s apart unless ``at`` says when; ``same_tx``: in the
    previous event's transaction (an issuance's mint, a retirement's burn)."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.block = 0
        self.time = T0

    def emit(
        self, contract: str, event: str, /, *, at: int | None = None, chain: int = CHAIN, same_tx: bool = False, **args
    ) -> Event:
        log_index = 0
        if same_tx:
            log_index = self.events[-1].log_index + 1
        else:
            self.block += 1
            self.time = at if at is not None else self.time + 12
        stored = Event(
            chain,
            self.block,
            f"0x{self.block:064x}",
            self.time,
            f"0x{self.block:064x}",
            log_index,
            contract,
            ADDRESSES[contract],
            event,
            args,
        )
        self.events.append(stored)
        return stored

    def ledger(self) -> Ledger:
        sources = [{"chain_id": CHAIN, "contracts": {a: n for n, a in ADDRESSES.items()}}]
        return Ledger.build(self.events, sources)

    def alerts(self, rule: str, config: Config | None = None, now: int | None = None):
        return [a for a in evaluate(self.ledger(), config or Config(), now or self.time) if a.rule == rule]

    # ---------------------------------------------------------------- the events the tests use

    def batch(self, token_id: int, first: int, last: int, ref: str = "", project: int | None = None) -> Event:
        return self.emit(
            "CarbonRegistry",
            "BatchAdded",
            id=token_id,
            projectId=project if project is not None else token_id >> 64,
            serialFirst=first,
            serialLast=last,
            periodStart=0,
            periodEnd=1,
            issuanceReference=ref or f"ISS-{token_id}-{first}",
        )

    def issue(self, token_id: int, units: int, to: str = A, ref: str = ZERO_REF, transfer: bool = True) -> Event:
        issued = self.emit("CarbonCredit", "Issued", id=token_id, to=to, issuer=C, amount=units, orderRef=ref)
        if transfer:
            self.transfer(token_id, units, ZERO, to, same_tx=True)
        return issued

    def transfer(self, token_id: int, units: int, source: str, to: str, *, same_tx: bool = False) -> Event:
        return self.emit(
            "CarbonCredit",
            "TransferSingle",
            same_tx=same_tx,
            operator=source,
            id=token_id,
            value=units,
            to=to,
            **{"from": source},
        )

    def retire(self, certificate: int, token_id: int, units: int, account: str = A, ref: str = ZERO_REF, purpose=0):
        self.transfer(token_id, units, account, ZERO)
        return self.emit(
            "CarbonRetirement",
            "RetirementRecorded",
            same_tx=True,
            certificateId=certificate,
            beneficiary=account,
            retiringAccount=account,
            ids=[token_id],
            amounts=[units],
            beneficiaryName="Acme",
            reason="FY2025",
            jurisdiction="DE",
            periodStart=0,
            periodEnd=1,
            purpose=purpose,
            retirementRef=ref,
        )

    def fill(self, seller: str, buyer: str, units: int, price: int, token_id: int = ID, token: str = C, **at):
        return self.emit(
            "CreditExchange",
            "OrderFilled",
            orderHash="0x" + "ab" * 32,
            maker=seller,
            taker=buyer,
            side=0,
            id=token_id,
            units=units,
            pricePerUnit=price,
            paymentToken=token,
            fee=0,
            **at,
        )


def _messages_read_in_tonnes(alerts) -> None:
    for alert in alerts:
        json.loads(alert.json_line())
        assert " t" in alert.message or "tonne" in alert.message, alert.message


# ------------------------------------------------------------------------------------------------ accounting


def test_cap_exceeded__issuance_past_the_cap__flagged_from_the_issuance_that_crossed_it():
    """The token refuses it (CreditIssuanceExceedsCap; on chain: test_cap_exceeded__...)."""
    c = Chain()
    c.emit("CarbonCredit", "BatchOpened", id=ID, capUnits=1_000 * UNITS)
    c.issue(ID, 600 * UNITS)
    assert c.alerts("cap-exceeded") == []
    crossing = c.issue(ID, 500 * UNITS, to=B)
    [alert] = c.alerts("cap-exceeded")
    assert alert.severity == "critical" and alert.key == f"cap-exceeded:{CHAIN}:{ID}"
    assert alert.evidence["txs"] == [crossing.tx_hash]
    assert (alert.evidence["cap"], alert.evidence["issued"], alert.evidence["recipients"]) == (
        1_000 * UNITS,
        1_100 * UNITS,
        [B],
    )
    assert "P1/B1: 1,100 t issued against a cap of 1,000 t, 100 t more" in alert.message


def test_cap_exceeded__issued_without_a_batch_opened__flagged():
    """The token refuses it (CreditBatchNotOpen)."""
    c = Chain()
    c.issue(ID, 5 * UNITS)
    [alert] = c.alerts("cap-exceeded")
    assert alert.evidence["cap"] is None and "no batch opened" in alert.message


def test_serial_overlap__two_batches_of_one_project__flagged_with_the_shared_serials():
    """The registry refuses it (RegistrySerialOverlap)."""
    c = Chain()
    first = c.batch(ID, 1, 1_000)
    c.batch(encode_id(2, 1), 500, 1_500)  # another project: its serials are its own
    assert c.alerts("serial-overlap") == []
    second = c.batch(ID2, 900, 1_500)
    [alert] = c.alerts("serial-overlap")
    assert alert.evidence["overlap"] == [900, 1_000] and alert.evidence["ids"] == [ID, ID2]
    assert alert.evidence["txs"] == [first.tx_hash, second.tx_hash]
    assert "101 t counted twice" in alert.message


def test_issuance_reference_reused__one_batch_reference_twice__flagged_chain_wide():
    """The registry refuses it chain-wide (RegistryIssuanceReferenceUsed)."""
    c = Chain()
    c.batch(ID, 1, 10, ref="VCS-1234")
    c.batch(encode_id(7, 1), 1, 10, ref="VCS-1234")
    [alert] = c.alerts("issuance-reference-reused")
    assert alert.evidence["reference"] == "VCS-1234" and alert.evidence["projects"] == [1, 7]


def test_issuance_reference_reused__one_order_reference_twice_in_a_project__flagged_not_across_projects():
    """The token refuses it within a project (CreditOrderReferenceUsed); across projects it is allowed."""
    c = Chain()
    order = "0x" + "11" * 32
    c.issue(ID, UNITS, ref=order)
    c.issue(encode_id(2, 1), UNITS, ref=order)
    c.issue(ID, UNITS, ref=ZERO_REF)
    c.issue(ID, UNITS, ref=ZERO_REF)  # no reference: never a reuse
    assert c.alerts("issuance-reference-reused") == []
    again = c.issue(ID2, 2 * UNITS, to=B, ref=order)
    [alert] = c.alerts("issuance-reference-reused")
    assert alert.key == f"issuance-reference-reused:{CHAIN}:order:1:{order}"
    assert alert.evidence["amounts"] == [UNITS, 2 * UNITS] and again.tx_hash in alert.evidence["txs"]


# ------------------------------------------------------------------------------------------------ double offsetting


def _period(c: Chain, period_id: int, deadline: int = T0 + 365 * DAY) -> None:
    c.emit(
        "CompliancePeriods",
        "PeriodOpened",
        periodId=period_id,
        name=f"P{period_id}",
        jurisdiction="DE",
        periodStart=0,
        periodEnd=1,
        deadline=deadline,
    )


def _surrender(c: Chain, period_id: int, certificate: int, units: int, entity: str = A, total: int | None = None):
    return c.emit(
        "CompliancePeriods",
        "Surrendered",
        periodId=period_id,
        entity=entity,
        certificateId=certificate,
        by=entity,
        amount=units,
        surrendered=total if total is not None else units,
    )


def test_retired_and_surrendered__one_certificate_in_two_periods__flagged():
    """The compliance contract's only surrender path retires into a fresh certificate: no chain can show this."""
    c = Chain()
    c.issue(ID, 100 * UNITS)
    _period(c, 1)
    _period(c, 2)
    c.retire(1, ID, 10 * UNITS, purpose=1)
    first = _surrender(c, 1, 1, 10 * UNITS)
    assert c.alerts("retired-and-surrendered") == []
    second = _surrender(c, 2, 1, 10 * UNITS)
    [alert] = c.alerts("retired-and-surrendered")
    assert "surrendered 2 times in periods 1, 2" in alert.message
    assert "more than its 10 t" in alert.message  # 20 t claimed of a 10 t certificate
    assert {first.tx_hash, second.tx_hash} <= set(alert.evidence["txs"])


def test_retired_and_surrendered__a_voluntary_or_unknown_certificate_surrendered__flagged():
    c = Chain()
    c.issue(ID, 100 * UNITS)
    _period(c, 1)
    c.retire(1, ID, 10 * UNITS, purpose=0)  # voluntary
    _surrender(c, 1, 1, 10 * UNITS)
    _surrender(c, 1, 99, 5 * UNITS, entity=B)  # no such certificate
    alerts = {a.evidence["certificate"]: a for a in c.alerts("retired-and-surrendered")}
    assert "voluntary retirement, claimed again" in alerts[1].message
    assert "no retirement of the index recorded it" in alerts[99].message


def _bridge(c: Chain, kind: str, units: int, chain: int = CHAIN, token_id: int = ID) -> Event:
    contract = "HomeBridge" if kind in ("CreditsLocked", "CreditsReleased") else "RemoteBridge"
    return c.emit(
        contract, kind, chain=chain, messageId="0x" + "cd" * 32, id=token_id, amount=units, to=A, **{"from": A}
    )


def test_bridged_and_retired__home_retirement_of_locked_units__flagged():
    """The home bridge holds the locked units, so the token's balance check refuses this (on chain: the retirement
    of a locked unit reverts with ERC1155InsufficientBalance)."""
    c = Chain()
    c.issue(ID, 100 * UNITS)
    lock = _bridge(c, "CreditsLocked", 60 * UNITS)
    c.retire(1, ID, 40 * UNITS)
    assert c.alerts("bridged-and-retired") == []
    too_much = c.retire(2, ID, 10 * UNITS)
    [alert] = c.alerts("bridged-and-retired")
    assert "50 t retired at home, but only 40 t remained there after 60 t were locked" in alert.message
    assert {lock.tx_hash, too_much.tx_hash} <= set(alert.evidence["txs"])
    assert (alert.evidence["locked"], alert.evidence["retired_home"]) == (60 * UNITS, 50 * UNITS)


def test_bridged_and_retired__retired_remotely_and_released_at_home__flagged():
    """Remote retirements burn the mirror's units; the home bridge can only release what the remote burned on the
    way back. Released units that were also retired remotely are offset twice."""
    c = Chain()
    c.issue(ID, 100 * UNITS)
    # each bridge's link names the other chain: the ledger pairs the two sides' flows by it
    c.emit("HomeBridge", "BridgeLinked", remoteChainId=REMOTE, remoteBridge=A, gateway=A)
    c.emit("RemoteBridge", "BridgeLinked", chain=REMOTE, remoteChainId=CHAIN, remoteBridge=A, gateway=A)
    _bridge(c, "CreditsLocked", 60 * UNITS)
    _bridge(c, "CreditsMinted", 60 * UNITS, chain=REMOTE)
    c.emit("MirrorCredit", "RemoteRetired", chain=REMOTE, retirementId=1, account=A, id=ID, amount=60 * UNITS)
    c.retire(1, ID, 40 * UNITS)  # the 40 t that stayed home
    assert c.alerts("bridged-and-retired") == []
    _bridge(c, "CreditsReleased", 30 * UNITS)
    [alert] = c.alerts("bridged-and-retired")
    assert "60 t retired on chain 4242, more than the 30 t still locked at home" in alert.message
    assert alert.evidence["retired_remote"] == 60 * UNITS and alert.evidence["remote_chain"] == REMOTE


def test_retirement_reference_reused__one_account_twice__flagged_two_accounts_not():
    """The retirement contract refuses one account's reference twice (RetirementReferenceUsed)."""
    c = Chain()
    invoice = "0x" + "42" * 32
    c.issue(ID, 100 * UNITS)
    c.issue(ID, 100 * UNITS, to=B)
    first = c.retire(1, ID, UNITS, account=A, ref=invoice)
    c.retire(2, ID, UNITS, account=B, ref=invoice)
    c.retire(3, ID, UNITS, account=A)
    c.retire(4, ID, UNITS, account=A)  # no reference twice: fine
    assert c.alerts("retirement-reference-reused") == []
    again = c.retire(5, ID, 2 * UNITS, account=A, ref=invoice)
    [alert] = c.alerts("retirement-reference-reused")
    assert alert.evidence["certificates"] == [1, 5] and alert.evidence["txs"] == [first.tx_hash, again.tx_hash]
    assert "3 t in all" in alert.message


def _report(c: Chain, report_id: int, start: int, end: int, first: int, last: int, approve: bool = True) -> None:
    device = "0x" + "de" * 32
    c.emit(
        "CarbonMRV",
        "ReportSubmitted",
        reportId=report_id,
        deviceId=device,
        start=start,
        end=end,
        firstSequence=first,
        lastSequence=last,
        total=1,
    )
    if approve:
        c.emit("CarbonMRV", "ReportApproved", reportId=report_id, deviceId=device, batchId=report_id, tonnes=1)
    else:
        c.emit("CarbonMRV", "ReportRejected", reportId=report_id, deviceId=device, reason="no")


def test_mrv_interval_twice__overlapping_approved_intervals_or_sequences__flagged():
    """The MRV contract refuses a report that does not continue the last approved one (MrvReportNotContiguous,
    MrvWrongFirstSequence)."""
    c = Chain()
    _report(c, 1, 0, 3600, 1, 12)
    _report(c, 2, 3600, 7200, 13, 24, approve=False)
    _report(c, 3, 3600, 7200, 13, 24)  # the rejected interval again: fine
    assert c.alerts("mrv-interval-twice") == []
    _report(c, 4, 1800, 5400, 25, 36)  # overlaps reports 1 and 3 in time
    _report(c, 5, 7200, 9000, 20, 30)  # overlaps 3 and 4 in sequence numbers, not in time
    found = {tuple(a.evidence["reports"]) for a in c.alerts("mrv-interval-twice")}
    assert found == {(1, 4), (4, 3), (3, 5), (4, 5)}


# ------------------------------------------------------------------------------------------------ market abuse


def test_self_trade__one_account__critical():
    """The exchange refuses it (ExchangeSelfTrade)."""
    c = Chain()
    fill = c.fill(A, A, UNITS, 10)
    [alert] = c.alerts("self-trade")
    assert alert.severity == "critical" and alert.evidence["txs"] == [fill.tx_hash]


def test_round_trip__through_another_account_of_the_identity__flagged_and_window_edges():
    linked = Config(identities={"Beta": (B, C)})
    c = Chain()
    out = c.fill(A, B, 5 * UNITS, 10, at=T0)
    back = c.fill(C, A, 5 * UNITS, 10, at=T0 + 24 * HOUR)  # C is B's identity; exactly the window: flagged
    assert c.alerts("round-trip") == []  # without the identity, A-B and C-A are different pairs
    [alert] = c.alerts("round-trip", linked)
    assert alert.evidence["txs"] == [out.tx_hash, back.tx_hash] and alert.evidence["seconds_apart"] == 24 * HOUR
    late = Chain()
    late.fill(A, B, 5 * UNITS, 10, at=T0)
    late.fill(B, A, 5 * UNITS, 10, at=T0 + 24 * HOUR + 1)
    assert late.alerts("round-trip") == []


def test_price_outlier__below_the_median_flagged__too_few_fills_or_another_currency_not():
    c = Chain()
    for price in (100, 110, 90):
        c.fill(A, B, UNITS, price)
    c.fill(A, B, UNITS, 10, token=A)  # another payment token: another market
    assert c.alerts("price-outlier") == []
    cheap = c.fill(A, B, UNITS, 40)  # under half the median 100
    [alert] = c.alerts("price-outlier")
    assert alert.evidence["txs"] == [cheap.tx_hash] and alert.evidence["median_per_unit"] == 100
    assert "0.40 times the median" in alert.message
    old = Chain()
    for day in range(3):
        old.fill(A, B, UNITS, 100, at=T0 + day * HOUR)
    old.fill(A, B, UNITS, 400, at=T0 + 8 * DAY)  # the earlier fills are out of the week's window
    assert old.alerts("price-outlier") == []


def test_collateral_price_spike__rise_within_the_window__flagged__before_the_window_not():
    c = Chain()
    c.emit("CreditPriceOracle", "ClassAssigned", id=ID, classId=77)
    c.emit("CreditPriceOracle", "PricePosted", classId=77, price=100, at=T0)
    c.emit("CreditPriceOracle", "PricePosted", classId=77, price=130, at=T0 + 10 * DAY)  # rose long ago
    c.emit("CreditFacility", "Pledged", positionId=1, owner=A, ids=[ID], amounts=[UNITS], at=T0 + 14 * DAY)
    assert c.alerts("collateral-price-spike") == []
    c.emit("CreditPriceOracle", "PricePosted", classId=77, price=120, at=T0 + 15 * DAY)
    top = c.emit("CreditPriceOracle", "PricePosted", classId=77, price=150, at=T0 + 16 * DAY)
    pledge = c.emit("CreditFacility", "Pledged", positionId=1, owner=A, ids=[ID], amounts=[UNITS], at=T0 + 17 * DAY)
    [alert] = c.alerts("collateral-price-spike")
    assert (alert.evidence["low"], alert.evidence["price"], alert.evidence["class"]) == (120, 150, 77)
    assert alert.evidence["txs"][-2:] == [top.tx_hash, pledge.tx_hash]


# ------------------------------------------------------------------------------------------------ compliance


def test_obligation_short__partial_surrender__warned_then_critical_met_obligation_quiet():
    c = Chain()
    deadline = T0 + 20 * DAY
    _period(c, 1, deadline)
    for entity, name in ((A, "Alpha"), (B, "Beta")):
        c.emit(
            "CompliancePeriods",
            "ObligationSet",
            periodId=1,
            entity=entity,
            name=name,
            previous=0,
            obligation=10 * UNITS,
        )
    c.issue(ID, 100 * UNITS)
    c.retire(1, ID, 10 * UNITS, account=A, purpose=1)
    _surrender(c, 1, 1, 10 * UNITS, entity=A)
    assert c.alerts("obligation-short", now=deadline - 31 * DAY) == []
    [warning] = c.alerts("obligation-short", now=deadline - 30 * DAY)
    assert warning.evidence["entity"] == B and warning.severity == "warning" and "10 t short" in warning.message
    [critical] = c.alerts("obligation-short", now=deadline + 1)
    assert critical.severity == "critical" and critical.evidence["name"] == "Beta"


# ------------------------------------------------------------------------------------------------ risk


def _position(c: Chain, units: int, scaled: int, price: int, threshold: int = 7_000, rate: int = 0) -> None:
    c.emit("CreditFacility", "InterestRateSet", annualRateBps=0, ratePerSecond=rate, at=T0)
    c.emit(
        "CreditFacility", "ClassParamsSet", classId=ID, ltvBps=5_000, liquidationThresholdBps=threshold, maxPriceAge=DAY
    )
    c.emit("CreditPriceOracle", "PricePosted", classId=ID, price=price)
    c.emit("CreditFacility", "PositionOpened", positionId=1, owner=A, maturity=T0 + 365 * DAY)
    c.emit("CreditFacility", "Pledged", positionId=1, owner=A, ids=[ID], amounts=[units])
    c.emit(
        "CreditFacility", "Borrowed", positionId=1, to=A, amount=scaled, scaledDebt=scaled, index=10**27, at=T0 + 100
    )


def test_near_liquidation__the_facilitys_formula__interest_to_now__restricted_collateral_worth_nothing():
    c = Chain()
    _position(c, 100 * UNITS, 1_000 * 10**6, 15 * 10**6)  # value 1,500, limit 1,050, debt 1,000: health 1.05
    [alert] = c.alerts("near-liquidation", now=T0 + 100)
    assert alert.severity == "warning" and alert.evidence["health"] == 1.05
    assert alert.evidence["liquidation_limit"] == 1_050 * 10**6 and alert.evidence["debt"] == 1_000 * 10**6
    assert c.alerts("near-liquidation", Config(near_liquidation=NearLiquidation(health=1.05)), T0 + 100) == []
    c.emit("CarbonCredit", "ProjectRestrictionSet", projectId=1, restricted=True)
    [critical] = c.alerts("near-liquidation")
    assert critical.severity == "critical" and critical.evidence["liquidation_limit"] == 0

    growing = Chain()
    rate = 10**27 // (365 * DAY)  # 100% a year
    _position(growing, 100 * UNITS, 1_000 * 10**6, 20 * 10**6, rate=rate)  # limit 1,400: health 1.4 at T0 + 100
    assert growing.alerts("near-liquidation", now=T0 + 100) == []
    [late] = growing.alerts("near-liquidation", now=T0 + 100 + 365 * DAY // 2)  # debt ~1,500: health ~0.93
    assert late.severity == "critical"
    assert late.evidence["debt"] == -(
        -(1_000 * 10**6) * (10**27 + 10**27 * rate * (365 * DAY // 2) // 10**27) // 10**27
    )


def test_concentration__escrow_never__small_ids_not_measured():
    c = Chain()
    c.issue(ID, 1_000 * UNITS, to=A)
    c.transfer(ID, 600 * UNITS, A, FACILITY)  # pledged: escrow
    c.transfer(ID, 200 * UNITS, A, B)
    assert c.alerts("concentration") == []
    c.transfer(ID, 100 * UNITS, A, B)  # B: 300 t of 1,000 t
    [alert] = c.alerts("concentration")
    assert alert.evidence["holder"] == B and alert.evidence["share"] == 0.3
    small = Chain()
    small.issue(ID, 99 * UNITS, to=A)
    small.transfer(ID, 99 * UNITS, A, B)
    assert small.alerts("concentration") == []


def test_suspended_project_activity__moves_while_suspended_flagged__cancellation_and_after_reinstatement_not():
    """The token refuses every move of a restricted project's credits (CreditProjectRestricted)."""
    c = Chain()
    c.emit("CarbonRegistry", "ProjectRegistered", projectId=1, standard="VCS", externalId="1", owner=A)
    c.issue(ID, 100 * UNITS)
    c.transfer(ID, UNITS, A, B)
    suspended = c.emit("CarbonRegistry", "ProjectStatusChanged", projectId=1, to=3, reason="audit", by=C, **{"from": 2})
    c.emit("CarbonCredit", "CreditsCancelled", id=ID, holder=A, amount=UNITS)
    c.transfer(ID, UNITS, A, ZERO, same_tx=True)  # the cancellation's burn
    assert c.alerts("suspended-project-activity") == []
    moved = c.transfer(ID, 2 * UNITS, A, C)
    sold = c.fill(B, C, UNITS, 10)
    retired = c.retire(9, ID, UNITS, account=C)
    c.emit("CarbonRegistry", "ProjectStatusChanged", projectId=1, to=2, reason="cleared", by=C, **{"from": 3})
    c.transfer(ID, UNITS, A, C)  # approved again: fine
    alerts = c.alerts("suspended-project-activity")
    assert [a.evidence["txs"][-1] for a in alerts] == [moved.tx_hash, sold.tx_hash, retired.tx_hash]
    assert all(a.evidence["txs"][0] == suspended.tx_hash for a in alerts)
    assert "after the project was suspended" in alerts[0].message


# ------------------------------------------------------------------------------------------------ all of them


def test_evaluate__keys_stable__disabled_rules_skipped__every_message_in_tonnes():
    c = Chain()
    c.emit("CarbonCredit", "BatchOpened", id=ID, capUnits=UNITS)
    c.issue(ID, 2 * UNITS)
    c.fill(A, A, UNITS, 10)
    ledger = c.ledger()
    first, again = evaluate(ledger, Config(), c.time), evaluate(c.ledger(), Config(), c.time)
    assert [a.key for a in first] == [a.key for a in again] and {a.rule for a in first} == {
        "cap-exceeded",
        "self-trade",
    }
    _messages_read_in_tonnes(first)
    assert [a.rule for a in evaluate(ledger, Config(disabled=("self-trade",)), c.time)] == ["cap-exceeded"]
    assert len(RULE_NAMES) == 15
