"""The edges of the fixes of the outside audit's rule findings (audit/supervise-outside-audit.md, SUPERVISE-AUDIT-3,
4, 5, 6, 8, 9, 12): what each fix must still leave quiet, and what it must now see, on the real ledger and rules
fed ``Event`` objects (tests/python/test_supervise_rules.py's ``Chain``). The audit's own proofs of concept are in
tests/python/test_supervise_audit_rules.py.
"""

from __future__ import annotations

import pytest
from test_supervise_rules import ADDRESSES, CHAIN, FACILITY, HOUR, ID, REMOTE, T0, UNITS, A, B, C, Chain, _position

from tonne.supervise.config import Config, ConfigError, NearLiquidation, parse
from tonne.supervise.ledger import Ledger
from tonne.supervise.rules import RULE_NAMES, evaluate, weighted_median

D = "0x00000000000000000000000000000000000000D4"
E = "0x00000000000000000000000000000000000000E5"
USD = 10**6


def _back(c: Chain, source: str, to: str, units: int, at: int):
    return c.emit("CarbonCredit", "TransferSingle", at=at, operator=source, id=ID, value=units, to=to,
                  **{"from": source})  # fmt: skip


# ------------------------------------------------------------------------------------------------ SUPERVISE-AUDIT-3


def test_near_liquidation__a_threshold_below_one_built_in_code__liquidatable_still_critical():
    c = Chain()
    _position(c, 100 * UNITS, 1_000 * USD, 13_600_000)  # health 0.952
    low = Config(near_liquidation=NearLiquidation(health=0.5))
    [alert] = c.alerts("near-liquidation", low, T0 + 100)
    assert alert.severity == "critical" and "liquidatable now" in alert.message
    healthy = Chain()
    _position(healthy, 100 * UNITS, 1_000 * USD, 15 * USD)  # health 1.05: above a threshold of 1.0
    assert healthy.alerts("near-liquidation", Config(near_liquidation=NearLiquidation(health=1.0)), T0 + 100) == []


@pytest.mark.parametrize("health", ["0", "0.5", "0.999"])
def test_config__near_liquidation_health_below_one__refused_at_its_line(health):
    with pytest.raises(ConfigError) as refused:
        parse(f"# risk\n[near-liquidation]\nhealth = {health}\n", "s.toml", RULE_NAMES)
    message = str(refused.value)
    assert message.startswith("s.toml:3: near-liquidation.health: at least 1.0") and "disabled" in message
    assert parse("[near-liquidation]\nhealth = 1\n", "s.toml").near_liquidation.health == 1.0


# ------------------------------------------------------------------------------------------------ SUPERVISE-AUDIT-4


def test_weighted_median__the_units_decide__an_exact_half_split_is_the_mean_of_the_two():
    assert weighted_median([(100, 30_000), (300, 1), (300, 1)]) == 100
    assert weighted_median([(100, 1), (300, 3)]) == 300
    assert weighted_median([(100, 2), (300, 2)]) == 200
    assert weighted_median([(90, 1), (100, 1), (110, 1)]) == 100
    assert weighted_median([]) == 0


def test_price_outlier__a_large_fill_sets_the_market__dust_at_the_old_price_flagged_not_the_next_large_fill():
    c = Chain()
    c.fill(A, B, 1_000 * UNITS, 100)
    c.fill(A, B, 1, 300)
    c.fill(A, B, 1, 300)
    assert c.alerts("price-outlier") == []  # fewer than 3 fills before them: no median (min_trades 3)
    honest = c.fill(A, B, 500 * UNITS, 110)  # the median by units is 100 (1,000 t); of the fills it would be 300
    dust = c.fill(A, B, 1, 300)
    flagged = [a.evidence["txs"][0] for a in c.alerts("price-outlier")]
    assert honest.tx_hash not in flagged and flagged == [dust.tx_hash]
    [alert] = c.alerts("price-outlier")
    assert alert.evidence["median_per_unit"] == 100 and alert.evidence["units_in_window"] == 1_500 * UNITS + 2


# ------------------------------------------------------------------------------------------------ SUPERVISE-AUDIT-5


def test_round_trip__three_legs_mixing_a_transfer__flagged_with_the_path__four_legs_or_late_not():
    c = Chain()
    sold = c.fill(A, B, 100 * UNITS, 500, at=T0)
    c.emit("CarbonCredit", "TransferSingle", at=T0 + HOUR, operator=B, id=ID, value=100 * UNITS, to=D, **{"from": B})
    back = c.fill(D, A, 100 * UNITS, 500, at=T0 + 2 * HOUR)
    [alert] = c.alerts("round-trip")
    assert alert.evidence["path"] == [A, B, D, A] and alert.evidence["prices_per_unit"] == [500, None, 500]
    assert alert.evidence["txs"][0] == sold.tx_hash and alert.evidence["txs"][-1] == back.tx_hash
    assert "in 3 moves" in alert.message

    four = Chain()
    four.fill(A, B, 100 * UNITS, 500, at=T0)
    four.fill(B, D, 100 * UNITS, 500, at=T0 + HOUR)
    four.fill(D, E, 100 * UNITS, 500, at=T0 + 2 * HOUR)
    four.fill(E, A, 100 * UNITS, 500, at=T0 + 3 * HOUR)
    assert four.alerts("round-trip") == []  # more than 3 legs: not followed

    late = Chain()
    late.fill(A, B, 100 * UNITS, 500, at=T0)
    _back(late, B, A, 100 * UNITS, at=T0 + 24 * HOUR + 1)
    assert late.alerts("round-trip") == []


def test_round_trip__transfers_alone__escrow__or_a_deals_own_delivery__not_a_round_trip():
    c = Chain()
    c.issue(ID, 100 * UNITS, to=A)
    c.transfer(ID, 10 * UNITS, A, B)
    c.transfer(ID, 10 * UNITS, B, A)  # no deal: a loan between friends, not printed volume
    c.fill(A, B, 10 * UNITS, 500)
    c.transfer(ID, 10 * UNITS, A, B, same_tx=True)  # the fill's own delivery
    c.transfer(ID, 10 * UNITS, B, FACILITY)  # pledged
    c.transfer(ID, 10 * UNITS, FACILITY, A)  # a liquidation's seizure by A: escrow, not B's move
    assert c.alerts("round-trip") == []
    _back(c, B, A, UNITS, at=c.time + HOUR)  # now B sends some back itself
    assert len(c.alerts("round-trip")) == 1


def test_round_trip__two_departures_one_return__one_alert_with_the_latest_departure():
    c = Chain()
    c.fill(A, B, 5 * UNITS, 10, at=T0)
    second = c.fill(A, B, 5 * UNITS, 10, at=T0 + HOUR)
    back = c.fill(B, A, 5 * UNITS, 10, at=T0 + 2 * HOUR)
    [alert] = c.alerts("round-trip")
    assert alert.evidence["txs"] == [second.tx_hash, back.tx_hash]


# ------------------------------------------------------------------------------------------------ SUPERVISE-AUDIT-6


def test_concentration__units_back_from_escrow_are_ones_own__a_liquidators_seizure_is_received():
    c = Chain()
    c.issue(ID, 1_000 * UNITS, to=A)
    c.transfer(ID, 900 * UNITS, A, FACILITY)  # pledged
    c.transfer(ID, 600 * UNITS, FACILITY, A)  # withdrawn: A's own
    assert c.alerts("concentration") == []
    c.transfer(ID, 300 * UNITS, FACILITY, B)  # seized by the liquidator B: received
    [alert] = c.alerts("concentration")
    assert (alert.evidence["holder"], alert.evidence["counted"]) == (B, 300 * UNITS)


def test_concentration__moves_within_an_identity_not_received__the_group_named_in_the_key():
    group = Config(identities={"Dev Ltd": (A, B)})
    c = Chain()
    c.issue(ID, 1_000 * UNITS, to=A)
    c.transfer(ID, 600 * UNITS, A, B)  # the developer's second account: still the primary market
    assert c.alerts("concentration", group) == []
    assert [a.evidence["holder"] for a in c.alerts("concentration")] == [B]  # without the group, B received 600 t
    c.transfer(ID, 300 * UNITS, A, D)
    c.transfer(ID, 300 * UNITS, D, B)  # bought back 300 t from a stranger
    [alert] = c.alerts("concentration", group)
    assert alert.key == f"concentration:{CHAIN}:{ID}:identity:Dev Ltd"
    assert (alert.evidence["counted"], alert.evidence["units"]) == (300 * UNITS, 1_000 * UNITS)
    assert alert.evidence["accounts"] == [A, B] and "identity 'Dev Ltd'" in alert.message


def test_concentration__a_deal_with_no_transfer_in_the_index_counts_once_with_its_transfer_once():
    c = Chain()
    c.issue(ID, 1_000 * UNITS, to=A)
    c.fill(A, B, 200 * UNITS, 10)
    c.transfer(ID, 200 * UNITS, A, B, same_tx=True)  # the fill's delivery: 200 t, not 400 t, received
    c.transfer(ID, 100 * UNITS, A, B)
    [alert] = c.alerts("concentration")
    assert alert.evidence["received"] == 300 * UNITS


# ------------------------------------------------------------------------------------------------ SUPERVISE-AUDIT-8


def _two_chains(c: Chain) -> Ledger:
    remote = ("MirrorCredit", "RemoteBridge")
    sources = [
        {"chain_id": CHAIN, "contracts": {a: n for n, a in ADDRESSES.items() if n not in remote}},
        {"chain_id": REMOTE, "contracts": {a: n for n, a in ADDRESSES.items() if n in remote}},
    ]
    return Ledger.build(c.events, sources)


def _mirror_move(c: Chain, at: int):
    return c.emit("MirrorCredit", "TransferSingle", chain=REMOTE, at=at, operator=A, id=ID, value=UNITS, to=B,
                  **{"from": A})  # fmt: skip


def test_suspended_project__remote_moves_judged_by_the_linked_home_in_block_time():
    c = Chain()
    c.emit("RemoteBridge", "BridgeLinked", chain=REMOTE, at=T0, remoteChainId=CHAIN, remoteBridge=C)
    _mirror_move(c, T0 + HOUR)  # before the suspension: fine
    c.emit("CarbonRegistry", "ProjectStatusChanged", at=T0 + 2 * HOUR, projectId=1, to=3, reason="fraud", by=C,
           **{"from": 2})  # fmt: skip
    during = _mirror_move(c, T0 + 3 * HOUR)
    c.emit("CarbonRegistry", "ProjectStatusChanged", at=T0 + 4 * HOUR, projectId=1, to=2, reason="cleared", by=C,
           **{"from": 3})  # fmt: skip
    _mirror_move(c, T0 + 5 * HOUR)  # approved again: fine
    alerts = [a for a in evaluate(_two_chains(c), Config(), c.time) if a.rule == "suspended-project-activity"]
    assert [a.key for a in alerts] == [f"suspended-project-activity:{REMOTE}:1:{during.tx_hash}"]
    assert f"of chain {CHAIN}" in alerts[0].message and "the mirror should have refused it" in alerts[0].message


# ------------------------------------------------------------------------------------------------ SUPERVISE-AUDIT-9


def test_price_outlier__a_match_weighs_once():
    c = Chain()
    for _ in range(3):
        c.fill(A, B, 10 * UNITS, 100)
    sell, buy = "0x" + "51" * 32, "0x" + "b0" * 32
    common = dict(id=ID, units=10 * UNITS, pricePerUnit=300, paymentToken=C)
    c.emit("CreditExchange", "OrderFilled", orderHash=sell, maker=D, taker=E, side=0, fee=0, **common)
    c.emit("CreditExchange", "OrderFilled", same_tx=True, orderHash=buy, maker=E, taker=D, side=1, fee=0, **common)
    c.emit("CreditExchange", "MatchSettled", same_tx=True, sellHash=sell, buyHash=buy, matcher=C, id=ID,
           units=10 * UNITS, price=300, fee=0)  # fmt: skip
    [alert] = c.alerts("price-outlier")  # one deal at 3x, not two fills (the second judged against the first)
    assert alert.evidence["fills"] == 3


# ------------------------------------------------------------------------------------------------ SUPERVISE-AUDIT-12


def test_escrow_and_classes__keyed_by_chain__an_equal_address_on_another_chain_is_not_escrow():
    c = Chain()
    c.emit("MirrorCredit", "TransferSingle", chain=REMOTE, operator=A, id=ID, value=1_000 * UNITS, to=FACILITY,
           **{"from": "0x0000000000000000000000000000000000000000"})  # fmt: skip
    c.emit("CreditPriceOracle", "ClassAssigned", chain=REMOTE, id=ID, classId=77)
    ledger = c.ledger()
    assert (CHAIN, FACILITY) in ledger.escrow and (REMOTE, FACILITY) not in ledger.escrow
    assert ledger.escrowed(REMOTE, ID) == {} and ledger.classes == {(REMOTE, ID): 77}
    assert ledger.classes.get((CHAIN, ID), ID) == ID
