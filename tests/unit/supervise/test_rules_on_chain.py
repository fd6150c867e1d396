"""The monitor's rules on a real chain: every Tonne module on ape's Anvil, the chain indexed as ``supervise index``
does, the ledger rebuilt from the index, the rules run over it.

Each rule has a scenario that triggers it, and a nearby normal case that must not. Where the contracts make the
violation impossible (the token's cap, the registry's serial and reference guards, the retirement's reference
guard, the MRV's contiguity, the exchange's self-trade guard, the restriction of a suspended project, the home
bridge's escrow), the test asserts the contract refuses it, and tests/python/test_supervise_rules.py feeds the rule
the violation built from events, so that the rule would still catch it if a contract bug ever let it through.
"""

from __future__ import annotations

import itertools

from market_support import PRICE, SELL

from rules_world import PRICE_P, UNITS, USD, of
from support import ZERO_REF, compliance_period, retirement_input, reverts
from tonne.supervise.config import Concentration, Config

DAY = 86_400
_refs = itertools.count(1)


def ref(text: str) -> bytes:
    return f"{text}-{next(_refs)}".encode().ljust(32, b"\x00")


def tx(receipt) -> str:
    return str(receipt.txn_hash).lower()


def sell(world, units: int, price: int = PRICE, *, maker=None, taker=None, token_id=None):
    """``maker`` (the market's seller) sells ``units`` to ``taker`` (its buyer) at ``price`` per unit."""
    m = world.market
    maker = maker or m.seller
    taker = taker or (m.buyer if maker == m.seller else m.seller)
    order = m.order(maker=maker, side=SELL, amount=units, price_per_unit=price, token_id=token_id or m.id_a)
    return m.fill(order, units, sender=taker)


# ------------------------------------------------------------------------------------------------ accounting


def test_cap_exceeded__issuance_to_the_cap_is_quiet__one_unit_more_the_token_refuses(world, tmp_path):
    pid = world.make.project()
    token_id = world.make.batch(pid, 1, 1_000, ref=f"CAP-{pid}")  # 1,000 t
    world.suite.credit.issue(token_id, world.holder, 1_000 * UNITS, ZERO_REF, sender=world.issuer)

    assert of(world.alerts(tmp_path), "cap-exceeded") == []
    with reverts(world.suite.credit.CreditIssuanceExceedsCap, id=token_id, requested=1, available=0):
        world.suite.credit.issue(token_id, world.holder, 1, ZERO_REF, sender=world.issuer)


def test_serial_overlap__adjacent_ranges_are_quiet__an_overlap_the_registry_refuses(world, tmp_path):
    pid = world.make.project()
    first = world.make.batch(pid, 1, 1_000, ref=f"SER-{pid}-1")
    world.make.batch(pid, 1_001, 2_000, prev=1, ref=f"SER-{pid}-2")

    assert of(world.alerts(tmp_path), "serial-overlap") == []
    with reverts(
        world.suite.registry.RegistrySerialOverlap,
        projectId=pid,
        serialFirst=500,
        serialLast=1_500,
        conflictingId=first,
    ):
        world.make.batch(pid, 500, 1_500, prev=1, ref=f"SER-{pid}-3")


def test_issuance_reference_reused__one_order_ref_in_two_projects_is_quiet__reuse_refused(world, tmp_path):
    credit = world.suite.credit
    order = ref("ORDER")
    a = world.issued(world.holder, 10)
    b = world.issued(world.holder, 10)  # another project: the token scopes order references per project
    credit.issue(a, world.holder, UNITS, order, sender=world.issuer)
    credit.issue(b, world.holder, UNITS, order, sender=world.issuer)

    assert of(world.alerts(tmp_path), "issuance-reference-reused") == []
    with reverts(credit.CreditOrderReferenceUsed, orderRef=order):
        credit.issue(a, world.holder, UNITS, order, sender=world.issuer)
    used = world.suite.registry.batch(a).issuanceReference
    with reverts(world.suite.registry.RegistryIssuanceReferenceUsed, issuanceReference=used, existingId=a):
        world.make.batch(world.make.project(), 1, 10, ref=used)


# ------------------------------------------------------------------------------------------------ double offsetting


def test_bridged_and_retired__retiring_what_remains_after_the_lock_is_quiet__the_locked_units_cannot_be_retired(
    world, tmp_path
):
    token_id = world.issued(world.holder, 100)
    world.bridges.lock(world.holder, token_id, 60 * UNITS)
    world.suite.retirement.retire([token_id], [40 * UNITS], retirement_input(), sender=world.holder)

    ledger = world.ledger(tmp_path)
    [flow] = [f for (_, _, i), f in ledger.bridge.items() if i == token_id]
    assert flow.locked == 60 * UNITS  # the rule sees the lock
    assert of(world.alerts(tmp_path), "bridged-and-retired") == []
    with reverts(
        world.suite.credit.ERC1155InsufficientBalance, sender=world.holder, balance=0, needed=1, tokenId=token_id
    ):
        world.suite.retirement.retire([token_id], [1], retirement_input(), sender=world.holder)


def test_retirement_reference_reused__one_reference_of_two_accounts_is_quiet__reuse_refused(world, tmp_path):
    token_id = world.issued(world.holder, 10)
    world.suite.credit.safeTransferFrom(world.holder, world.other, token_id, 5 * UNITS, b"", sender=world.holder)
    reference = ref("INVOICE")
    first = world.suite.retirement.retire(
        [token_id], [UNITS], retirement_input(retirementRef=reference), sender=world.holder
    )
    world.suite.retirement.retire([token_id], [UNITS], retirement_input(retirementRef=reference), sender=world.other)

    assert of(world.alerts(tmp_path), "retirement-reference-reused") == []
    with reverts(
        world.suite.retirement.RetirementReferenceUsed,
        retiringAccount=world.holder,
        retirementRef=reference,
        certificateId=first.return_value,
    ):
        world.suite.retirement.retire(
            [token_id], [UNITS], retirement_input(retirementRef=reference), sender=world.holder
        )


def test_mrv_interval_twice__a_rejected_interval_reported_again_is_quiet__an_overlap_refused(world, tmp_path):
    mrv = world.mrv
    did = mrv.register()
    readings = mrv.next_readings(did, 12, value=200_000)  # 2.4 MWh: 1.08 t at 450 g/kWh
    rejected = mrv.submit(did, readings)
    mrv.mrv.rejectReport(rejected, "meter photo missing", sender=mrv.verifier)
    again = mrv.submit(did, readings)  # the same interval and readings, now accepted
    mrv.mrv.approveReport(again, mrv.last_batch_number(), sender=mrv.verifier)

    ledger = world.ledger(tmp_path)
    assert {r.state for r in ledger.reports.values() if r.device_id == "0x" + did.hex()} == {"rejected", "approved"}
    assert of(world.alerts(tmp_path), "mrv-interval-twice") == []
    with reverts(
        mrv.mrv.MrvReportNotContiguous, deviceId=did, start=readings[0]["start"], expected=readings[-1]["end"]
    ):
        mrv.submit(did, readings)


def test_obligation_short__warned_near_the_deadline_critical_after__a_surrender_equal_to_the_obligation_quiet(
    world, tmp_path
):
    periods = world.suite.compliance
    token_id = world.issued(world.holder, 100)
    world.suite.credit.safeTransferFrom(world.holder, world.other, token_id, 50 * UNITS, b"", sender=world.holder)
    deadline = world.now() + 10 * DAY
    receipt = periods.openPeriod(compliance_period(deadline=deadline), sender=world.period_regulator)
    period_id = receipt.return_value
    periods.setObligations(
        period_id,
        [world.holder, world.other],
        ["Full GmbH", "Short AG"],
        [10 * UNITS, 10 * UNITS],
        sender=world.period_regulator,
    )
    periods.surrender(period_id, [token_id], [10 * UNITS], ZERO_REF, sender=world.holder)
    short = periods.surrender(period_id, [token_id], [4 * UNITS], ZERO_REF, sender=world.other)

    # Forty days before the deadline nothing is due yet (the rule warns from thirty).
    assert of(world.alerts(tmp_path, now=deadline - 40 * DAY), "obligation-short") == []
    [warning] = of(world.alerts(tmp_path), "obligation-short")
    assert warning.severity == "warning"
    assert warning.evidence["entity"] == world.other.address
    assert (warning.evidence["obligation"], warning.evidence["surrendered"]) == (10 * UNITS, 4 * UNITS)
    assert tx(short) in warning.evidence["txs"]
    assert "Short AG" in warning.message and "6 t short" in warning.message
    [critical] = of(world.alerts(tmp_path, now=deadline + DAY), "obligation-short")
    assert critical.severity == "critical" and critical.key != warning.key
    assert critical.evidence["entity"] == world.other.address
    # The surrenders are certificates of their own: nothing retired twice.
    assert of(world.alerts(tmp_path), "retired-and-surrendered") == []


# ------------------------------------------------------------------------------------------------ market abuse


def test_self_trade__one_identity_flagged__strangers_quiet__one_account_refused_by_the_exchange(world, tmp_path):
    m = world.market
    fill = sell(world, 2 * UNITS)
    linked = Config(identities={"Acme Trading": (m.seller.address, m.buyer.address)})

    assert of(world.alerts(tmp_path), "self-trade") == []  # no identity links: two parties
    [alert] = of(world.alerts(tmp_path, linked), "self-trade")
    assert alert.severity == "warning"
    assert alert.evidence["txs"] == [tx(fill)]
    assert (alert.evidence["seller"], alert.evidence["buyer"]) == (m.seller.address, m.buyer.address)
    assert alert.evidence["identity"] == "Acme Trading" and alert.evidence["units"] == 2 * UNITS
    order = m.order(maker=m.seller, side=SELL, amount=UNITS)
    with reverts(m.exchange.ExchangeSelfTrade, account=m.seller):
        m.fill(order, UNITS, sender=m.seller)


def test_round_trip__back_within_the_window_flagged__back_after_it_quiet(world, tmp_path):
    m = world.market
    sell(world, 5 * UNITS)  # A -> B
    world.warp(25 * 3600)
    back = sell(world, 5 * UNITS, maker=m.buyer)  # B -> A a day and an hour later: outside the 24 h window
    assert of(world.alerts(tmp_path), "round-trip") == []

    world.warp(3600)
    again = sell(world, 5 * UNITS)  # A -> B an hour after B -> A: a round trip of B's
    [alert] = of(world.alerts(tmp_path), "round-trip")
    assert alert.evidence["txs"] == [tx(back), tx(again)]
    assert alert.evidence["accounts"] == [m.buyer.address, m.seller.address]
    assert alert.evidence["units"] == [5 * UNITS, 5 * UNITS]


def test_price_outlier__fill_at_the_median_quiet__fill_at_three_times_flagged(world, tmp_path):
    for price in (PRICE, PRICE + 10, PRICE - 10, PRICE):
        sell(world, UNITS, price)
    assert of(world.alerts(tmp_path), "price-outlier") == []

    high = sell(world, UNITS, 3 * PRICE)
    [alert] = of(world.alerts(tmp_path), "price-outlier")
    assert alert.evidence["txs"] == [tx(high)]
    assert alert.evidence["price_per_unit"] == 3 * PRICE
    assert alert.evidence["median_per_unit"] == PRICE
    assert alert.evidence["fills"] == 4
    assert "3.00 times the median" in alert.message


def test_collateral_price_spike__a_pledge_after_20_percent_quiet__after_44_percent_flagged(world, tmp_path):
    facility, p = world.pledge.facility, world.id_p
    world.post(p, PRICE_P * 12 // 10)  # +20%: one capped update
    opened = facility.openPosition(world.now() + 30 * DAY, [p], [10 * UNITS], sender=world.holder)
    position_id = opened.return_value
    assert len(world.ledger(tmp_path).collateral_pledges) == 1  # the rule saw this pledge, and let it be
    assert of(world.alerts(tmp_path), "collateral-price-spike") == []

    top = world.post(p, PRICE_P * 144 // 100)  # +44% within the window
    pledge = facility.pledge(position_id, [p], [20 * UNITS], sender=world.holder)
    [alert] = of(world.alerts(tmp_path), "collateral-price-spike")
    assert alert.evidence["position"] == position_id and alert.evidence["units"] == 20 * UNITS
    assert (alert.evidence["low"], alert.evidence["price"]) == (PRICE_P, PRICE_P * 144 // 100)
    assert alert.evidence["txs"][-2:] == [tx(top), tx(pledge)]
    assert "44%" in alert.message


# ------------------------------------------------------------------------------------------------ risk


def test_near_liquidation__healthy_and_at_1_12_quiet__warned_below_1_10__critical_below_1(world, tmp_path):
    facility, p = world.pledge.facility, world.id_p
    opened = facility.openPosition(world.now() + 30 * DAY, [p], [100 * UNITS], sender=world.holder)
    position_id = opened.return_value
    facility.borrow(position_id, 999 * USD, sender=world.holder)  # value 2,000, limit 1,400: health 1.40
    assert of(world.alerts(tmp_path), "near-liquidation") == []

    world.post(p, 16 * USD)  # limit 1,120: health 1.12
    assert of(world.alerts(tmp_path), "near-liquidation") == []

    world.post(p, 15_500_000)  # limit 1,085: health 1.085
    [warning] = of(world.alerts(tmp_path), "near-liquidation")
    on_chain = facility.health(position_id)
    assert warning.severity == "warning" and warning.evidence["position"] == position_id
    assert warning.evidence["liquidation_limit"] == on_chain.liquidationLimit == 1_085 * USD
    assert abs(warning.evidence["debt"] - on_chain.debt) <= on_chain.debt // 10**6  # interest of a second or two
    assert abs(warning.evidence["health"] - on_chain.healthFactor / 10**18) < 1e-5

    world.post(p, 13 * USD)  # limit 910: health 0.91, liquidatable
    [critical] = of(world.alerts(tmp_path), "near-liquidation")
    assert critical.severity == "critical" and critical.key != warning.key
    assert facility.health(position_id).liquidatable


def test_concentration__20_percent_quiet__30_percent_flagged__escrow_and_issuance_not_counted(world, tmp_path):
    m = world.market
    sell(world, 20 * UNITS)  # the buyer holds 20 t of the 100 t of id A
    world.pledge.facility.openPosition(world.now() + 30 * DAY, [world.id_p], [300 * UNITS], sender=world.holder)
    assert of(world.alerts(tmp_path), "concentration") == []  # the seller holds what it was issued; the facility escrow

    bought = sell(world, 10 * UNITS)
    [alert] = of(world.alerts(tmp_path), "concentration")
    assert (alert.evidence["id"], alert.evidence["holder"]) == (m.id_a, m.buyer.address)
    assert (alert.evidence["units"], alert.evidence["circulating"]) == (30 * UNITS, 100 * UNITS)
    assert tx(bought) in alert.evidence["txs"]
    assert "30% of the 100 t" in alert.message

    counting_issued = Config(concentration=Concentration(include_issued=True))
    flagged = {
        (a.evidence["id"], a.evidence["holder"]) for a in of(world.alerts(tmp_path, counting_issued), "concentration")
    }
    assert (m.id_a, m.seller.address) in flagged  # 70 t of 100 t, issued to it
    assert (world.id_p, world.holder.address) in flagged  # 700 t of 1,000 t
    assert world.pledge.facility.address not in {holder for _id, holder in flagged}  # 300 t in escrow


def test_suspended_project_activity__cancellation_allowed_and_quiet__a_transfer_refused(world, tmp_path):
    pid = world.make.project()
    token_id = world.issued(world.holder, 50, project_id=pid)
    world.suite.credit.safeTransferFrom(world.holder, world.other, token_id, UNITS, b"", sender=world.holder)
    world.suite.registry.setProjectStatus(pid, 3, "fraud investigation", sender=world.registrar)
    world.suite.registry.cancelCredits(
        token_id, [world.holder], [5 * UNITS], 5 * UNITS, "reversal", sender=world.registrar
    )

    ledger = world.ledger(tmp_path)
    assert ledger.restricted[(world.chain.chain_id, pid)] is True
    assert ledger.supply[(world.chain.chain_id, token_id)].cancelled == 5 * UNITS
    assert of(world.alerts(tmp_path), "suspended-project-activity") == []
    with reverts(world.suite.credit.CreditProjectRestricted, id=token_id, projectId=pid):
        world.suite.credit.safeTransferFrom(world.holder, world.other, token_id, UNITS, b"", sender=world.holder)


# ------------------------------------------------------------------------------------------------ a normal day


def test_a_normal_flow_triggers_nothing(world, tmp_path):
    """Issuance, trades at the going price, a retirement with its reference, a surrender of the whole obligation,
    an approved MRV report, a healthy loan, credits bridged out: no rule fires."""
    m, facility = world.market, world.pledge.facility
    for price in (PRICE, PRICE + 50, PRICE - 50, PRICE):
        sell(world, 2 * UNITS, price)
    world.suite.retirement.retire([m.id_a], [2 * UNITS], retirement_input(retirementRef=ref("NORMAL")), sender=m.buyer)
    token_id = world.issued(world.holder, 100)
    deadline = world.now() + 10 * DAY
    period_id = world.suite.compliance.openPeriod(
        compliance_period(deadline=deadline), sender=world.period_regulator
    ).return_value
    world.suite.compliance.setObligations(
        period_id, [world.holder], ["Holder SE"], [10 * UNITS], sender=world.period_regulator
    )
    world.suite.compliance.surrender(period_id, [token_id], [10 * UNITS], ref("SURRENDER"), sender=world.holder)
    did = world.mrv.register()
    report = world.mrv.submit(did, world.mrv.next_readings(did, 12, value=200_000))
    world.mrv.mrv.approveReport(report, world.mrv.last_batch_number(), sender=world.mrv.verifier)
    position_id = facility.openPosition(
        world.now() + 30 * DAY, [world.id_p], [100 * UNITS], sender=world.holder
    ).return_value
    facility.borrow(position_id, 500 * USD, sender=world.holder)
    world.bridges.lock(world.holder, token_id, 30 * UNITS)

    ledger = world.ledger(tmp_path)
    assert len(ledger.trades) == 4 and len(ledger.surrenders) == 1 and ledger.positions[position_id].scaled_debt > 0
    assert [r.state for r in ledger.reports.values()] == ["approved"]
    assert world.alerts(tmp_path) == []
