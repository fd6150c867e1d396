"""Access control of CarbonMRV: a stranger is refused by every privileged function, each role's holder is refused
the other roles' functions, and the table is checked against the ABI, so a new state-changing function without a
refusal test (or a reason to be open) fails here. `challenge` is open to anyone by design: it needs two
conflicting readings signed by the device's own key (its refusals are in test_mrv_challenge.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import pytest
from mrv_support import (
    CAPACITY_W,
    COUNTRY,
    FACTOR_CODE,
    GENERATION,
    SUSPENDED,
    T0,
    YEAR_END,
    readings_for,
    registration,
)

from support import reverts

pytestmark = pytest.mark.usefixtures("mrv_env", "stranger", "attacker", "other_holder")

PUBLIC_BY_DESIGN = {
    "challenge": "anyone may prove a double report: it takes two conflicting readings signed by the device key",
}


@dataclass
class Ctx:
    mrv_env: Any
    caller: Any
    device: bytes  # Approved, with report `report` open
    registered: bytes  # Registered, not approved
    report: int
    dispute: int  # open, of `disputed`


class Row(NamedTuple):
    function: str
    args: Callable[[Ctx], list]
    refusal: str | Callable[[Ctx], tuple[str, dict]]  # a role name, or (error name, error inputs)


def _not_owner(c: Ctx) -> tuple[str, dict]:
    return "MrvNotProjectOwnerOrRegistrar", dict(projectId=c.mrv_env.project_id, account=c.caller)


def _bad_confirmation(c: Ctx) -> tuple[str, dict]:
    return "AccessControlBadConfirmation", {}


def _not_pending_admin(c: Ctx) -> tuple[str, dict]:
    return "AccessControlInvalidDefaultAdmin", dict(defaultAdmin=c.caller)


TABLE: list[Row] = [
    Row(
        "registerDevice",
        lambda c: registration(c.mrv_env.mrv, "STRANGER-1", c.mrv_env.project_id, GENERATION, CAPACITY_W, T0),
        _not_owner,
    ),
    Row("approveDevice", lambda c: [c.registered], "VERIFIER_ROLE"),
    Row("suspendDevice", lambda c: [c.device, "grief"], "VERIFIER_ROLE"),
    Row("setDeviceStatus", lambda c: [c.device, SUSPENDED, "grief"], "REGISTRAR_ROLE"),
    Row("decommissionDevice", lambda c: [c.device, "grief"], _not_owner),
    Row("publishFactor", lambda c: [FACTOR_CODE, COUNTRY, T0, YEAR_END, 1], "METHODOLOGY_ROLE"),
    Row(
        "submitReport", lambda c: [c.registered, T0, T0 + 3600, 1, 12, 1, c.mrv_env.factor_id, b"\x01" * 32], _not_owner
    ),
    Row("approveReport", lambda c: [c.report, 0], "VERIFIER_ROLE"),
    Row("rejectReport", lambda c: [c.report, "grief"], "VERIFIER_ROLE"),
    Row("resolveDispute", lambda c: [c.dispute, True], "REGISTRAR_ROLE"),
    Row("grantRole", lambda c: [c.mrv_env.mrv.VERIFIER_ROLE(), c.caller], "DEFAULT_ADMIN_ROLE"),
    Row("revokeRole", lambda c: [c.mrv_env.mrv.VERIFIER_ROLE(), c.mrv_env.verifier], "DEFAULT_ADMIN_ROLE"),
    Row("renounceRole", lambda c: [c.mrv_env.mrv.VERIFIER_ROLE(), c.mrv_env.verifier], _bad_confirmation),
    Row("beginDefaultAdminTransfer", lambda c: [c.caller], "DEFAULT_ADMIN_ROLE"),
    Row("cancelDefaultAdminTransfer", lambda c: [], "DEFAULT_ADMIN_ROLE"),
    Row("acceptDefaultAdminTransfer", lambda c: [], _not_pending_admin),
    Row("changeDefaultAdminDelay", lambda c: [3600], "DEFAULT_ADMIN_ROLE"),
    Row("rollbackDefaultAdminDelay", lambda c: [], "DEFAULT_ADMIN_ROLE"),
]
ROLE_ROWS = [row for row in TABLE if isinstance(row.refusal, str)]
OWNER_ROWS = [row for row in TABLE if row.refusal is _not_owner]


@pytest.fixture
def target(mrv_env, stranger) -> dict:
    """An Approved device with an open report, a Registered device, and an open dispute of a third device."""
    device = mrv_env.register()
    registered = mrv_env.register(approve=False)
    report = mrv_env.submit(device, readings_for(device, 1, T0, 12))
    disputed = mrv_env.register()
    a = readings_for(disputed, 1, T0, 1)[0]
    b = dict(a, value=a["value"] + 1)
    dispute = mrv_env.mrv.challenge(a, mrv_env.sign(a), b, mrv_env.sign(b), sender=stranger).return_value
    return dict(device=device, registered=registered, report=report, dispute=dispute)


def call_refused(row: Row, c: Ctx) -> None:
    mrv = c.mrv_env.mrv
    if isinstance(row.refusal, str):
        error, inputs = (
            "AccessControlUnauthorizedAccount",
            dict(account=c.caller, neededRole=getattr(mrv, row.refusal)()),
        )
    else:
        error, inputs = row.refusal(c)
    with reverts(getattr(mrv, error), **inputs):
        getattr(mrv, row.function)(*row.args(c), sender=c.caller)


@pytest.mark.parametrize("row", TABLE, ids=[r.function for r in TABLE])
def test_privileged_function__stranger__refused(mrv_env, stranger, target, row):
    call_refused(row, Ctx(mrv_env, stranger, **target))


@pytest.mark.parametrize("row", ROLE_ROWS, ids=[r.function for r in ROLE_ROWS])
def test_role_gated_function__holder_of_another_role_or_project_owner__refused(mrv_env, target, row):
    # Each MRV role is refused the others' functions; the project owner holds none of them; and the registry's
    # registrar holding the MRV REGISTRAR_ROLE is not the MRV admin.
    others = {
        "DEFAULT_ADMIN_ROLE": [mrv_env.registrar, mrv_env.verifier, mrv_env.methodologist, mrv_env.owner],
        "REGISTRAR_ROLE": [mrv_env.verifier, mrv_env.methodologist, mrv_env.owner],
        "VERIFIER_ROLE": [mrv_env.registrar, mrv_env.methodologist, mrv_env.owner],
        "METHODOLOGY_ROLE": [mrv_env.registrar, mrv_env.verifier, mrv_env.owner],
    }[row.refusal]
    for caller in others:
        call_refused(row, Ctx(mrv_env, caller, **target))


@pytest.mark.parametrize("row", OWNER_ROWS, ids=[r.function for r in OWNER_ROWS])
def test_owner_gated_function__owner_of_another_project_or_verifier__refused(mrv_env, other_holder, target, row):
    mrv_env.make.project(authorize_issuer=False, owner=other_holder)
    for caller in (other_holder, mrv_env.verifier, mrv_env.methodologist):
        call_refused(row, Ctx(mrv_env, caller, **target))


def test_access_table__covers_every_state_changing_function(mrv):
    abi_functions = {abi.name for abi in mrv.contract_type.methods if abi.stateMutability != "view"}
    abi_functions -= {abi.name for abi in mrv.contract_type.methods if abi.stateMutability == "pure"}
    tested = {row.function for row in TABLE}
    public = set(PUBLIC_BY_DESIGN)
    assert not tested & public
    assert abi_functions - tested - public == set(), "state-changing functions with no stranger test"
    assert (tested | public) - abi_functions == set(), "stale rows"


def test_default_admin__granted_directly__reverts(mrv, admin, stranger):
    with reverts(mrv.AccessControlEnforcedDefaultAdminRules):
        mrv.grantRole(mrv.DEFAULT_ADMIN_ROLE(), stranger, sender=admin)
