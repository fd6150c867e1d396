"""Access control of the pledge contracts: a stranger is refused by every state-changing function of the oracle,
the facility and the bilateral pledge, and the table is checked against the ABIs, so that a new function
without a refusal test fails here. Functions open to anyone by design are listed with the reason."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import pytest

from pledge_support import DAY, UNITS, USD
from support import reverts

pytestmark = pytest.mark.usefixtures("world", "stranger", "other_holder")

PUBLIC_BY_DESIGN = {
    "oracle": {},
    "facility": {
        "openPosition": "opens a position of the caller, with the caller's credits",
        "repay": "only pays down someone's debt with the caller's money",
        "liquidate": "open to anyone, gated by the position's health or maturity (test_liquidation.py)",
        "accrue": "only brings the index up to now, as every state change does",
    },
    "bilateral": {"createPledge": "pledges the caller's own credits"},
}


class Row(NamedTuple):
    contract: str
    function: str
    args: Callable[[Any], list]
    refusal: str | Callable[[Any, Any], tuple[str, dict]]  # a role name, or (ctx, caller) -> (error, inputs)


def _admin_rows(contract: str, role: str) -> list[Row]:
    def role_id(c):
        return getattr(getattr(c, contract), role)()

    return [
        Row(contract, "grantRole", lambda c: [role_id(c), c.stranger], "DEFAULT_ADMIN_ROLE"),
        Row(contract, "revokeRole", lambda c: [role_id(c), c.role_holder(contract)], "DEFAULT_ADMIN_ROLE"),
        Row(
            contract,
            "renounceRole",
            lambda c: [role_id(c), c.role_holder(contract)],
            lambda c, caller: ("AccessControlBadConfirmation", {}),
        ),
        Row(contract, "beginDefaultAdminTransfer", lambda c: [c.stranger], "DEFAULT_ADMIN_ROLE"),
        Row(contract, "cancelDefaultAdminTransfer", lambda c: [], "DEFAULT_ADMIN_ROLE"),
        Row(
            contract,
            "acceptDefaultAdminTransfer",
            lambda c: [],
            lambda c, caller: ("AccessControlInvalidDefaultAdmin", dict(defaultAdmin=caller)),
        ),
        Row(contract, "changeDefaultAdminDelay", lambda c: [3600], "DEFAULT_ADMIN_ROLE"),
        Row(contract, "rollbackDefaultAdminDelay", lambda c: [], "DEFAULT_ADMIN_ROLE"),
    ]


def _not_owner(c, caller):
    return "FacilityNotPositionOwner", dict(positionId=c.position_id, caller=caller)


def _not_pledgee(c, caller):
    return "PledgeCallerNotPledgee", dict(pledgeId=1, caller=caller)


def _not_pledgor(c, caller):
    return "PledgeCallerNotPledgor", dict(pledgeId=1, caller=caller)


TABLE: list[Row] = [
    Row("oracle", "postPrices", lambda c: [[c.world.id_a], [USD], [c.world.now()]], "PRICE_FEEDER_ROLE"),
    Row("oracle", "setClass", lambda c: [[c.world.id_a], 1 << 255], "DEFAULT_ADMIN_ROLE"),
    Row("oracle", "setMaxMoveBps", lambda c: [10_000], "DEFAULT_ADMIN_ROLE"),
    *_admin_rows("oracle", "PRICE_FEEDER_ROLE"),
    Row("facility", "pledge", lambda c: [c.position_id, [c.world.id_a], [UNITS]], _not_owner),
    Row("facility", "borrow", lambda c: [c.position_id, USD], _not_owner),
    Row("facility", "withdraw", lambda c: [c.position_id, c.world.id_a, UNITS], _not_owner),
    Row("facility", "supplyLiquidity", lambda c: [USD], "LENDER_ROLE"),
    Row("facility", "withdrawLiquidity", lambda c: [USD, c.stranger], "LENDER_ROLE"),
    Row("facility", "setClassParams", lambda c: [c.world.id_a, 9_000, 9_500, 10**6], "DEFAULT_ADMIN_ROLE"),
    Row("facility", "setInterestRate", lambda c: [0], "DEFAULT_ADMIN_ROLE"),
    Row("facility", "setLiquidationParams", lambda c: [10_000, 5_000], "DEFAULT_ADMIN_ROLE"),
    *_admin_rows("facility", "LENDER_ROLE"),
    Row("bilateral", "release", lambda c: [1], _not_pledgee),
    Row("bilateral", "declareDefault", lambda c: [1], _not_pledgee),
    Row("bilateral", "claim", lambda c: [1, c.stranger], _not_pledgee),
    Row("bilateral", "reclaim", lambda c: [1], _not_pledgor),
]
IDS = [f"{r.contract}.{r.function}" for r in TABLE]


class Ctx:
    def __init__(self, world, stranger, position_id):
        self.world, self.stranger, self.position_id = world, stranger, position_id
        self.oracle, self.facility, self.bilateral = world.oracle, world.facility, world.bilateral

    def role_holder(self, contract: str):
        return self.world.feeder if contract == "oracle" else self.world.lender


@pytest.fixture
def ctx(world, stranger, other_holder):
    """A position of the borrower (with debt) and pledge 1 from the borrower to `other_holder`, matured, so
    every refused call would otherwise have something to act on."""
    position_id = world.open()
    world.facility.borrow(position_id, USD, sender=world.borrower)
    maturity = world.now() + DAY
    world.bilateral.createPledge(other_holder, [world.id_b], [UNITS], maturity, maturity + DAY, sender=world.borrower)
    world.chain.pending_timestamp = maturity
    world.bilateral.declareDefault(1, sender=other_holder)
    return Ctx(world, stranger, position_id)


def call_refused(row: Row, c: Ctx, caller) -> None:
    contract = getattr(c, row.contract)
    if isinstance(row.refusal, str):
        error, inputs = (
            "AccessControlUnauthorizedAccount",
            dict(account=caller, neededRole=getattr(contract, row.refusal)()),
        )
    else:
        error, inputs = row.refusal(c, caller)
    with reverts(getattr(contract, error), **inputs):
        getattr(contract, row.function)(*row.args(c), sender=caller)


@pytest.mark.parametrize("row", TABLE, ids=IDS)
def test_privileged_function__stranger__refused(ctx, stranger, row):
    call_refused(row, ctx, stranger)


@pytest.mark.parametrize(
    "row",
    [r for r in TABLE if r.refusal in ("DEFAULT_ADMIN_ROLE", "LENDER_ROLE")],
    ids=lambda r: f"{r.contract}.{r.function}",
)
def test_admin_and_lender_functions__holder_of_another_role__refused(ctx, world, row):
    # The feeder (an oracle role) has no power over the facility, nor the lender over the admin's settings.
    insider = world.lender if row.refusal == "DEFAULT_ADMIN_ROLE" else world.feeder
    call_refused(row, ctx, insider)


def test_owner_functions__the_lender__refused(ctx, world):
    # The lender funds the loans but may not borrow on, pledge to, or empty a borrower's position.
    for row in TABLE:
        if row.refusal is _not_owner:
            call_refused(row, ctx, world.lender)


@pytest.mark.parametrize("name", ["oracle", "facility", "bilateral"])
def test_access_table__covers_every_state_changing_function(world, name):
    contract = getattr(world, name)
    abi = {m.name for m in contract.contract_type.methods if m.stateMutability not in ("view", "pure")}
    tested = {r.function for r in TABLE if r.contract == name}
    public = set(PUBLIC_BY_DESIGN[name])
    assert not tested & public
    assert abi - tested - public == set(), f"{name}: state-changing functions with no stranger test"
    assert (tested | public) - abi == set(), f"{name}: stale rows"
