"""Trades of a permissioned deployment: every token rule applies to both legs, since the credits move through
the token's safeTransferFrom with the exchange as operator."""

from __future__ import annotations

import pytest
from market_support import BUY

from support import reverts
from tonne.market.orders import Limit

pytestmark = pytest.mark.usefixtures("permissioned_market", "stranger", "compliance", "regulator")


@pytest.fixture
def m(permissioned_market):
    return permissioned_market


def test_permissioned__all_allowlisted__trade_settles(m):
    order = m.order()
    m.fill(order, 10)
    assert m.exchange.filledOf(m.hash(order)) == 10


def test_permissioned__maker_not_allowlisted__refused(m, compliance):
    order = m.order()
    m.credit.setAllowed([m.seller], False, sender=compliance)
    with reverts(m.credit.CreditAccountNotAllowed, account=m.seller):
        m.fill(order, 10)
    assert m.fillable(order) == (0, Limit.MAKER_NOT_ALLOWED)
    assert m.exchange.filledOf(m.hash(order)) == 0


def test_permissioned__taker_not_allowlisted__refused(m, stranger, admin):
    m.usd.mint(stranger, 10**12, sender=admin)
    m.usd.approve(m.exchange, 2**256 - 1, sender=stranger)
    order = m.order()
    with reverts(m.credit.CreditAccountNotAllowed, account=stranger):
        m.fill(order, 10, sender=stranger)


def test_permissioned__buy_order_taker_not_allowlisted__refused(m, compliance):
    order = m.order(side=BUY)
    m.credit.setAllowed([m.seller], False, sender=compliance)
    with reverts(m.credit.CreditAccountNotAllowed, account=m.seller):
        m.fill(order, 10, sender=m.seller)


def test_permissioned__exchange_not_allowlisted__refused_as_operator(m, compliance):
    order = m.order()
    m.credit.setAllowed([m.exchange], False, sender=compliance)
    with reverts(m.credit.CreditAccountNotAllowed, account=m.exchange):
        m.fill(order, 10)


@pytest.mark.parametrize("who", ["maker", "taker"])
def test_permissioned__party_frozen__refused(m, regulator, who):
    order = m.order()
    frozen = m.seller if who == "maker" else m.buyer
    m.credit.setFrozen(frozen, True, "sanctions screening", sender=regulator)
    with reverts(m.credit.CreditAccountFrozen, account=frozen):
        m.fill(order, 10)


def test_permissioned__suspended_project__refused(m, registrar):
    order = m.order()
    project_id = m.id_a >> 64
    m.registry.setProjectStatus(project_id, 3, "investigation", sender=registrar)
    with reverts(m.credit.CreditProjectRestricted, id=m.id_a, projectId=project_id):
        m.fill(order, 10)


def test_permissioned__paused__refused(m, regulator):
    order = m.order()
    m.credit.pause(sender=regulator)
    with reverts(m.credit.CreditPaused):
        m.fill(order, 10)
