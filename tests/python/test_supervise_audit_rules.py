"""Outside audit of the supervision module (audit/supervise-outside-audit.md): the proofs of concept the chain
cannot produce, or that need no chain, fed to the real ledger and rules as ``Event`` objects (the events the
indexer stores, with the fields of the contracts' ABIs). Each test asserts the secure behaviour; a confirmed
weakness is marked ``xfail(strict=True)`` with its finding id, and turns XPASS (a failure) when it is fixed.
"""

from __future__ import annotations

import pytest
from test_supervise_rules import (
    CHAIN,
    DAY,
    FACILITY,
    HOUR,
    ID,
    REMOTE,
    T0,
    UNITS,
    A,
    B,
    C,
    Chain,
    _position,
)

from tonne.supervise.config import Config, ConfigError, parse
from tonne.supervise.ledger import ZERO
from tonne.supervise.rules import RULE_NAMES

USD = 10**6
D = "0x00000000000000000000000000000000000000D4"
E = "0x00000000000000000000000000000000000000E5"
FAKE_USD = "0x000000000000000000000000000000000000F00D"


def config(text: str) -> Config | None:
    """The config of ``text``, or None when it is refused (a refusal is a fix too)."""
    try:
        return parse(text, "audit.toml", RULE_NAMES)
    except ConfigError:
        return None


# ------------------------------------------------------------------------------------------------ SUPERVISE-AUDIT-3


@pytest.mark.parametrize("health", ["0", "0.5", "0.9"])
def test_audit3_near_liquidation_health_below_one__liquidatable_positions_still_critical(health):
    c = Chain()
    _position(c, 100 * UNITS, 1_000 * USD, 13_600_000)  # value 1,360, limit 952, debt 1,000: health 0.952
    [default] = c.alerts("near-liquidation", now=T0 + 100)
    assert default.severity == "critical"  # with the defaults
    chosen = config(f"[near-liquidation]\nhealth = {health}\n")
    if chosen is None:
        return
    assert [a.severity for a in c.alerts("near-liquidation", chosen, T0 + 100)] == ["critical"]


# ------------------------------------------------------------------------------------------------ SUPERVISE-AUDIT-4


def _market(c: Chain, price: int, fills: int = 3, units: int = 10 * UNITS) -> None:
    for _ in range(fills):
        c.fill(A, B, units, price)


def test_audit4_price_outlier__dust_fills_move_the_median__the_large_marked_fill_still_flagged():
    c = Chain()
    _market(c, 100)  # the market: 3 fills of 10 t at 100 a unit
    for _ in range(4):
        c.fill(D, E, 1, 300)  # dust: 4 fills of 1 unit (0.001 t) at 300
    big = c.fill(D, E, 1_000 * UNITS, 300)  # 1,000 t at 300
    flagged = {a.evidence["units"] for a in c.alerts("price-outlier")}
    assert 1 in flagged  # the dust itself is flagged (warnings of 0.001 t)
    assert 1_000 * UNITS in flagged, f"the 1,000 t fill of {big.tx_hash} at 3x the market is not flagged"


@pytest.mark.xfail(
    strict=True,
    reason="SUPERVISE-AUDIT-4 (known limit, documented in rules.py): prices are compared only within one payment "
    "token (events do not say a token's decimals or worth); a fill in a token no other fill of the id uses has no "
    "history, so it is not compared",
)
def test_audit4_price_outlier__a_fill_in_a_token_of_ones_own__compared_with_the_id_s_market():
    c = Chain()
    _market(c, 100, fills=5)
    c.fill(D, E, 1_000 * UNITS, 10_000, token=FAKE_USD)  # 100x the market, priced in a worthless token
    assert [a.evidence["units"] for a in c.alerts("price-outlier")] == [1_000 * UNITS]


# ------------------------------------------------------------------------------------------------ SUPERVISE-AUDIT-5


@pytest.mark.parametrize("back", ["transfer", "three_legs"])
def test_audit5_round_trip__credits_back_to_the_seller_within_the_window__flagged(back):
    c = Chain()
    c.issue(ID, 100 * UNITS, to=A)
    c.fill(A, B, 100 * UNITS, 500)  # A "sells" 100 t to B: volume and a price
    if back == "transfer":
        # the instant refund: B sends them straight back, off the exchange
        c.emit(
            "CarbonCredit", "TransferSingle", at=T0 + HOUR, operator=B, id=ID, value=100 * UNITS, to=A, **{"from": B}
        )
    else:
        c.fill(B, D, 100 * UNITS, 500, at=T0 + HOUR)
        c.fill(D, A, 100 * UNITS, 500, at=T0 + 2 * HOUR)  # A -> B -> D -> A in two hours
    assert len(c.alerts("round-trip")) == 1


def test_defence_round_trip__two_legs_within_the_window__flagged():
    c = Chain()
    c.fill(A, B, 100 * UNITS, 500, at=T0)
    c.fill(B, A, 100 * UNITS, 500, at=T0 + HOUR)
    assert len(c.alerts("round-trip")) == 1


# ------------------------------------------------------------------------------------------------ SUPERVISE-AUDIT-6


def test_audit6_concentration__one_identity_across_accounts__flagged():
    c = Chain()
    c.issue(ID, 1_000 * UNITS, to=A)
    for account in (B, D, E):
        c.transfer(ID, 150 * UNITS, A, account)  # 15% each, 45% together
    grouped = Config(identities={"Cornering Ltd": (B, D, E)})
    assert len(c.alerts("concentration", grouped)) == 1


def test_audit6_concentration__issued_then_sold_then_bought_back__flagged():
    c = Chain()
    c.issue(ID, 1_000 * UNITS, to=A)
    c.transfer(ID, 1_000 * UNITS, A, B)  # sold it all (primary market)
    c.transfer(ID, 900 * UNITS, B, A)  # and bought 90% back
    assert [a.evidence["holder"] for a in c.alerts("concentration")] == [A]


# ------------------------------------------------------------------------------------------------ SUPERVISE-AUDIT-8


def test_audit8_suspended_project__mirror_credits_moved_on_the_remote_chain__flagged():
    c = Chain()
    c.emit("CarbonRegistry", "ProjectStatusChanged", projectId=ID >> 64, to=3, reason="fraud", **{"from": 2})
    c.emit(
        "MirrorCredit",
        "TransferSingle",
        chain=REMOTE,
        operator=A,
        id=ID,
        value=10 * UNITS,
        to=B,
        **{"from": A},
    )
    assert len(c.alerts("suspended-project-activity")) == 1


def test_defence_suspended_project__home_move_flagged():
    c = Chain()
    c.emit("CarbonRegistry", "ProjectStatusChanged", projectId=ID >> 64, to=3, reason="fraud", **{"from": 2})
    c.transfer(ID, 10 * UNITS, A, B)
    assert len(c.alerts("suspended-project-activity")) == 1


# ------------------------------------------------------------------------------------------------ SUPERVISE-AUDIT-9


def _match(c: Chain, seller: str, buyer: str, units: int, price: int, fee: int = 0) -> None:
    """``matchOrders``: the sell order's fill, the buy order's fill, then MatchSettled, in one transaction."""
    common = dict(id=ID, units=units, pricePerUnit=price, paymentToken=C)
    sell, buy = "0x" + "51" * 32, "0x" + "b0" * 32
    c.emit("CreditExchange", "OrderFilled", orderHash=sell, maker=seller, taker=buyer, side=0, fee=fee, **common)
    c.emit("CreditExchange", "OrderFilled", same_tx=True, orderHash=buy, maker=buyer, taker=seller, side=1, fee=0,
           **common)  # fmt: skip
    c.emit(
        "CreditExchange",
        "MatchSettled",
        same_tx=True,
        sellHash=sell,
        buyHash=buy,
        matcher=D,
        id=ID,
        units=units,
        price=price,
        fee=fee,
    )


def test_audit9_match_between_two_accounts_of_one_identity__one_self_trade_alert():
    c = Chain()
    _match(c, A, B, 10 * UNITS, 100)
    assert len(c.ledger().deals()) == 1  # the ledger knows it is one deal
    grouped = Config(identities={"One Ltd": (A, B)})
    assert len(c.alerts("self-trade", grouped)) == 1


# ------------------------------------------------------------------------------------------------ sound (defences)


def test_defence_transfer_batch_with_one_id_twice_and_transfer_to_self__balances_exact():
    c = Chain()
    c.issue(ID, 100 * UNITS, to=A)
    c.emit("CarbonCredit", "TransferBatch", operator=A, to=B, ids=[ID, ID], values=[10 * UNITS, 5 * UNITS],
           **{"from": A})  # fmt: skip
    c.transfer(ID, 7 * UNITS, B, B)
    c.transfer(ID, 0, A, B)
    ledger = c.ledger()
    assert ledger.holders(CHAIN, ID) == {A: 85 * UNITS, B: 15 * UNITS}


def test_defence_concentration__escrow_of_the_facility_never_flagged():
    c = Chain()
    c.issue(ID, 1_000 * UNITS, to=A)
    c.transfer(ID, 900 * UNITS, A, FACILITY)
    assert c.alerts("concentration", Config()) == []
    assert ZERO not in c.ledger().holders(CHAIN, ID)


def test_defence_obligation_short__critical_after_the_deadline_when_now_is_given():
    c = Chain()
    deadline = T0 + 10 * DAY
    c.emit("CompliancePeriods", "PeriodOpened", periodId=1, name="P", jurisdiction="DE", periodStart=T0,
           periodEnd=T0 + DAY, deadline=deadline)  # fmt: skip
    c.emit("CompliancePeriods", "ObligationSet", periodId=1, entity=A, name="A", obligation=10 * UNITS)
    [alert] = c.alerts("obligation-short", now=deadline + DAY)
    assert alert.severity == "critical"
