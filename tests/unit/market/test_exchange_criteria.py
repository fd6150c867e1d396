"""Buy orders with criteria: any id of a project, a standard, a vintage range, a country, checked against the
registry at settlement; and an id of another project, standard, vintage or country refused, naming it."""

from __future__ import annotations

import pytest
from market_support import BUY, HOLDING, UNITS, standard_hash

from support import ZERO_REF, batch_input, reverts

pytestmark = pytest.mark.usefixtures("market", "stranger")

Y2019 = (1546300800, 1577836799)
Y2020_2021 = (1577836800, 1640995199)
Y2023 = (1672531200, 1704067199)


def issued_batch(market, project_id, first, last, prev, period):
    token_id = market.registry.addBatch(
        project_id, batch_input(first, last, period=period), prev, sender=market.make.registrar
    ).return_value
    market.registry.verifyBatch(token_id, sender=market.make.verifier)
    market.credit.issue(token_id, market.seller, HOLDING, ZERO_REF, sender=market.make.issuer)
    return token_id


@pytest.fixture(scope="module")
def ids(market):
    """Ids of other projects and vintages, held by the seller: a GS project in BR (vintage 2021), and in the
    market's own project (VCS, ID) batches of vintage 2019, 2020-2021 (straddling) and 2023."""
    project_id = market.id_a >> 64
    gs = market.make.batch(market.make.project(standard="GS", country=b"BR"), 1, 10_000, ref="GS-BR-1")
    market.credit.issue(gs, market.seller, HOLDING, ZERO_REF, sender=market.make.issuer)
    return dict(
        gs_br=gs,
        v2019=issued_batch(market, project_id, 20_001, 21_000, 2, Y2019),
        v2020_2021=issued_batch(market, project_id, 21_001, 22_000, 3, Y2020_2021),
        v2023=issued_batch(market, project_id, 22_001, 23_000, 4, Y2023),
    )


def bid(market, **criteria):
    return market.order(side=BUY, token_id=0, **criteria)


def test_criteria_buy__vcs_vintage_2021_or_later__met_by_matching_id(market, ids):
    order = bid(market, standard_hash=standard_hash("VCS"), vintage_from=2021)
    before = market.credit.balanceOf(market.buyer, ids["v2023"])
    market.fill(order, UNITS, sender=market.seller, id=ids["v2023"])
    market.fill(order, UNITS, sender=market.seller, id=market.id_a)
    assert market.credit.balanceOf(market.buyer, ids["v2023"]) == before + UNITS
    assert market.fillable(order, id=ids["v2023"]) == (8 * UNITS, 0)


def test_criteria_buy__id_of_another_project__refused(market, ids):
    project_id = market.id_a >> 64
    order = bid(market, project_id=project_id)
    with reverts(
        market.exchange.ExchangeProjectMismatch,
        orderHash=market.hash(order),
        id=ids["gs_br"],
        projectOfId=ids["gs_br"] >> 64,
        projectId=project_id,
    ):
        market.fill(order, UNITS, sender=market.seller, id=ids["gs_br"])
    market.fill(order, UNITS, sender=market.seller, id=market.id_b)


def test_criteria_buy__id_of_another_standard__refused(market, ids):
    order = bid(market, standard_hash=standard_hash("VCS"))
    with reverts(
        market.exchange.ExchangeStandardMismatch, orderHash=market.hash(order), id=ids["gs_br"], standard="GS"
    ):
        market.fill(order, UNITS, sender=market.seller, id=ids["gs_br"])


@pytest.mark.parametrize(
    ("which", "first", "last", "bounds"),
    [
        ("v2019", 2019, 2019, (2021, 0)),
        ("v2020_2021", 2020, 2021, (2021, 0)),  # straddles the lower bound: refused, as CompliancePeriods does
        ("v2023", 2023, 2023, (0, 2022)),
    ],
)
def test_criteria_buy__id_of_another_vintage__refused(market, ids, which, first, last, bounds):
    order = bid(market, vintage_from=bounds[0], vintage_to=bounds[1])
    with reverts(
        market.exchange.ExchangeVintageMismatch,
        orderHash=market.hash(order),
        id=ids[which],
        firstYear=first,
        lastYear=last,
        vintageFrom=bounds[0],
        vintageTo=bounds[1],
    ):
        market.fill(order, UNITS, sender=market.seller, id=ids[which])
    assert market.fillable(order, id=ids[which]) == (0, 8)  # CriteriaNotMet


def test_criteria_buy__id_of_another_country__refused(market, ids):
    order = bid(market, country=b"ID")
    with reverts(
        market.exchange.ExchangeCountryMismatch, orderHash=market.hash(order), id=ids["gs_br"], country=b"BR",
        wanted=b"ID",
    ):  # fmt: skip
        market.fill(order, UNITS, sender=market.seller, id=ids["gs_br"])
    market.fill(order, UNITS, sender=market.seller, id=market.id_a)


def test_criteria_buy__no_criteria_at_all__any_id(market, ids):
    order = bid(market)
    market.fill(order, UNITS, sender=market.seller, id=ids["gs_br"])
    market.fill(order, UNITS, sender=market.seller, id=ids["v2019"])


def test_criteria_buy__unknown_id__registry_refuses_and_fillable_says_criteria(market):
    order = bid(market, vintage_from=2021)
    unknown = (999 << 64) | 1
    with reverts(market.registry.RegistryUnknownBatch, id=unknown):
        market.fill(order, UNITS, sender=market.seller, id=unknown)
    assert market.fillable(order, id=unknown) == (0, 8)


def test_buy_for_one_id__another_id__refused(market, ids):
    order = market.order(side=BUY, token_id=market.id_a)
    with reverts(market.exchange.ExchangeWrongId, orderHash=market.hash(order), id=market.id_b, tokenId=market.id_a):
        market.fill(order, UNITS, sender=market.seller, id=market.id_b)


def test_sell_with_criteria__refused(market):
    from tonne.market.orders import Order

    order = market.order()
    # The Python Order refuses it; a hand-made struct reaches the contract, which refuses it too.
    with pytest.raises(ValueError, match="sell order"):
        Order(**{**order.__dict__, "vintage_from": 2021})
    struct = dict(order.as_struct(), vintageFrom=2021)
    h = market.exchange.hashOrder(struct)
    with reverts(market.exchange.ExchangeSellWithCriteria, orderHash=h):
        market.exchange.fill(struct, b"\x00" * 65, 1, market.id_a, sender=market.buyer)
