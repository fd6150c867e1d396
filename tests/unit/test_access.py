"""Access control: a stranger is refused by every state-changing function of the registry, the credit token, the
retirement module and the compliance periods, and the table that says so is checked against the ABIs, so a new
privileged function without a refusal test fails here.

Each row is a function called by someone who has no business calling it, with the exact refusal expected.
Functions that anyone may call on their own behalf (transfers, renouncing one's own role, accepting an admin
transfer addressed to oneself) are in the table too, exercised on someone else's behalf. Only functions that
touch nothing but the caller's own state are in `PUBLIC_BY_DESIGN`. The certificate's transfer and approval
functions are in the table too: they refuse everyone, the owner included (see retirement/test_certificate.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import pytest
from eth_utils import keccak

from support import (
    ZERO_REF,
    Factory,
    batch_input,
    compliance_period,
    events,
    plain,
    project_input,
    retirement_input,
    reverts,
)

# Session fixtures first, before any module state: ape rebases (re-runs) module fixtures otherwise.
pytestmark = pytest.mark.usefixtures(
    "chain", "admin", "compliance", "period_regulator", "other_holder", "stranger", "attacker", "retirement", "periods"
)

CONTRACTS = ("registry", "credit", "retirement", "periods")
PUBLIC_BY_DESIGN = {
    "registry": {},
    "credit": {"setApprovalForAll": "only sets the caller's own operator approvals"},
    "retirement": {"retire": "only retires the caller's own credits"},
    "periods": {"surrender": "only surrenders the caller's own credits, against the caller's own obligation"},
}
# The retirement module defines no role of its own: its admin rows use one nobody holds (its admin is the admin).
UNHELD_ROLE = keccak(text="UNHELD_ROLE")


@dataclass
class Ctx:
    registry: Any
    credit: Any
    retirement: Any
    periods: Any
    caller: Any  # who is refused
    holder: Any
    registrar: Any
    regulator: Any
    period_regulator: Any
    project_id: int
    token_id: int
    certificate_id: int  # owned by `holder`
    period_id: int  # open; `holder` owes 5 units in it


class Row(NamedTuple):
    contract: str  # "registry", "credit" or "retirement"
    function: str
    args: Callable[[Ctx], list]
    refusal: str | Callable[[Ctx], tuple[str, dict]]  # a role name, or (error name, error inputs)
    overload: str = ""  # tells apart the rows of one overloaded function


def _not_registry(c: Ctx) -> tuple[str, dict]:
    return "CreditCallerNotRegistry", dict(caller=c.caller)


def _not_issuer(c: Ctx) -> tuple[str, dict]:
    return "RegistryIssuerNotAuthorized", dict(projectId=c.project_id, account=c.caller)


def _not_approved_operator(c: Ctx) -> tuple[str, dict]:
    return "ERC1155MissingApprovalForAll", dict(operator=c.caller, owner=c.holder)


def _not_retirement(c: Ctx) -> tuple[str, dict]:
    return "CreditCallerNotRetirement", dict(caller=c.caller)


def _not_compliance(c: Ctx) -> tuple[str, dict]:
    return "RetirementCallerNotCompliance", dict(caller=c.caller)


def _not_retirement_operator(c: Ctx) -> tuple[str, dict]:
    return "RetirementOperatorNotApproved", dict(holder=c.holder, operator=c.caller)


def _not_surrender_operator(c: Ctx) -> tuple[str, dict]:
    return "ComplianceOperatorNotApproved", dict(entity=c.holder, operator=c.caller)


def _certificate_locked(c: Ctx) -> tuple[str, dict]:
    return "CertificateNonTransferable", dict(certificateId=c.certificate_id)


def _approval_for_all_locked(c: Ctx) -> tuple[str, dict]:
    return "CertificateNonTransferable", dict(certificateId=0)


def _bad_confirmation(c: Ctx) -> tuple[str, dict]:
    return "AccessControlBadConfirmation", {}


def _not_pending_admin(c: Ctx) -> tuple[str, dict]:
    return "AccessControlInvalidDefaultAdmin", dict(defaultAdmin=c.caller)


def _admin_rows(contract: str, role: str | bytes, holder_of_role: Callable[[Ctx], Any]) -> list[Row]:
    """The AccessControlDefaultAdminRules surface, the same on every contract; `role` is a role's name or id."""
    return [
        Row(contract, "grantRole", lambda c: [_role(c, contract, role), c.caller], "DEFAULT_ADMIN_ROLE"),
        Row(contract, "revokeRole", lambda c: [_role(c, contract, role), holder_of_role(c)], "DEFAULT_ADMIN_ROLE"),
        Row(contract, "renounceRole", lambda c: [_role(c, contract, role), holder_of_role(c)], _bad_confirmation),
        Row(contract, "beginDefaultAdminTransfer", lambda c: [c.caller], "DEFAULT_ADMIN_ROLE"),
        Row(contract, "cancelDefaultAdminTransfer", lambda c: [], "DEFAULT_ADMIN_ROLE"),
        Row(contract, "acceptDefaultAdminTransfer", lambda c: [], _not_pending_admin),
        Row(contract, "changeDefaultAdminDelay", lambda c: [3600], "DEFAULT_ADMIN_ROLE"),
        Row(contract, "rollbackDefaultAdminDelay", lambda c: [], "DEFAULT_ADMIN_ROLE"),
    ]


def _role(c: Ctx, contract: str, role: str | bytes) -> bytes:
    return role if isinstance(role, bytes) else getattr(getattr(c, contract), role)()


TABLE: list[Row] = [
    # registry
    Row("registry", "bindCreditToken", lambda c: [c.caller], "DEFAULT_ADMIN_ROLE"),
    Row("registry", "registerProject", lambda c: [project_input(owner=c.caller)], "REGISTRAR_ROLE"),
    Row("registry", "updateProject", lambda c: [c.project_id, project_input(owner=c.caller)], "REGISTRAR_ROLE"),
    Row("registry", "setProjectStatus", lambda c: [c.project_id, 3, "takeover"], "REGISTRAR_ROLE"),
    Row(
        "registry",
        "updateProjectDocuments",
        lambda c: [c.project_id, "ipfs://forged", b"\x66" * 32],
        lambda c: ("RegistryNotProjectOwnerOrRegistrar", dict(projectId=c.project_id, account=c.caller)),
    ),
    Row("registry", "setProjectIssuer", lambda c: [c.project_id, c.caller, True], "REGISTRAR_ROLE"),
    Row("registry", "addBatch", lambda c: [c.project_id, batch_input(5001, 6000), 1], "REGISTRAR_ROLE"),
    Row("registry", "verifyBatch", lambda c: [c.token_id + 1], "VERIFIER_ROLE"),
    Row("registry", "cancelCredits", lambda c: [c.token_id, [c.holder], [1], 1, "grief"], "REGISTRAR_ROLE"),
    *_admin_rows("registry", "REGISTRAR_ROLE", lambda c: c.registrar),
    # credit
    Row("credit", "openBatch", lambda c: [c.token_id + 1, 10**6], _not_registry),
    Row("credit", "setProjectRestricted", lambda c: [c.project_id, True], _not_registry),
    Row("credit", "issue", lambda c: [c.token_id, c.caller, 1000, ZERO_REF], _not_issuer),
    Row("credit", "issueMany", lambda c: [[(c.token_id, c.caller, 1000, ZERO_REF)]], _not_issuer),
    Row("credit", "setAllowed", lambda c: [[c.caller], True], "COMPLIANCE_ROLE"),
    Row("credit", "setFrozen", lambda c: [c.holder, True, "grief"], "REGULATOR_ROLE"),
    Row("credit", "pause", lambda c: [], "REGULATOR_ROLE"),
    Row("credit", "unpause", lambda c: [], "REGULATOR_ROLE"),
    Row("credit", "safeTransferFrom", lambda c: [c.holder, c.caller, c.token_id, 1, b""], _not_approved_operator),
    Row(
        "credit",
        "safeBatchTransferFrom",
        lambda c: [c.holder, c.caller, [c.token_id], [1], b""],
        _not_approved_operator,
    ),
    Row("credit", "bindRetirement", lambda c: [c.caller], "DEFAULT_ADMIN_ROLE"),
    Row("credit", "retire", lambda c: [c.holder, c.holder, [c.token_id], [1]], _not_retirement),
    Row("credit", "issueRetired", lambda c: [c.caller, c.token_id, 1000, ZERO_REF], _not_retirement),
    Row("credit", "cancel", lambda c: [c.token_id, [c.holder], [1], 1, "grief"], _not_registry),
    *_admin_rows("credit", "REGULATOR_ROLE", lambda c: c.regulator),
    # retirement
    Row(
        "retirement",
        "retireFrom",
        lambda c: [c.holder, [c.token_id], [1], retirement_input(beneficiary=c.caller)],
        _not_retirement_operator,
    ),
    Row(
        "retirement",
        "retireBatch",
        lambda c: [
            [dict(holder=c.holder, ids=[c.token_id], amounts=[1], input=retirement_input(beneficiary=c.caller))]
        ],
        _not_retirement_operator,
    ),
    Row("retirement", "issueAndRetire", lambda c: [c.token_id, 1000, ZERO_REF, retirement_input()], _not_issuer),
    Row(
        "retirement",
        "retireForCompliance",
        lambda c: [c.holder, c.caller, [c.token_id], [1], retirement_input(beneficiary=c.caller)],
        _not_compliance,
    ),
    Row("retirement", "bindCompliance", lambda c: [c.caller], "DEFAULT_ADMIN_ROLE"),
    Row("retirement", "approve", lambda c: [c.caller, c.certificate_id], _certificate_locked),
    Row("retirement", "setApprovalForAll", lambda c: [c.caller, True], _approval_for_all_locked),
    Row("retirement", "transferFrom", lambda c: [c.holder, c.caller, c.certificate_id], _certificate_locked),
    Row("retirement", "safeTransferFrom", lambda c: [c.holder, c.caller, c.certificate_id], _certificate_locked),
    Row(
        "retirement",
        "safeTransferFrom",
        lambda c: [c.holder, c.caller, c.certificate_id, b""],
        _certificate_locked,
        overload="with-data",
    ),
    *_admin_rows("retirement", UNHELD_ROLE, lambda c: c.holder),
    # compliance periods
    Row("periods", "openPeriod", lambda c: [compliance_period()], "PERIOD_REGULATOR_ROLE"),
    Row(
        "periods",
        "setObligations",
        lambda c: [c.period_id, [c.holder], ["Forged Name Ltd"], [10**9]],
        "PERIOD_REGULATOR_ROLE",
    ),
    Row(
        "periods",
        "surrenderFrom",
        lambda c: [c.holder, c.period_id, [c.token_id], [1], ZERO_REF],
        _not_surrender_operator,
    ),
    *_admin_rows("periods", "PERIOD_REGULATOR_ROLE", lambda c: c.period_regulator),
]
ROW_IDS = [f"{row.contract}.{row.function}" + (f"[{row.overload}]" if row.overload else "") for row in TABLE]
ROLE_ROWS = [row for row in TABLE if isinstance(row.refusal, str)]


@pytest.fixture(scope="module")
def target(registry, credit, retirement, periods, registrar, verifier, issuer, period_regulator, holder) -> tuple:
    """An Approved project owned by `holder` with a verified batch (the next batch number is unverified), of
    which `holder` holds 10 units, and certificate 1, owned by `holder` (1 more unit, retired). The retirement
    module's compliance hook is bound (to CompliancePeriods, at deploy), so its refusal is not for want of one.
    Compliance period 1 is open, and `holder` owes 5 units in it, so a surrender refusal is not for want of one."""
    make = Factory(registry, credit, registrar, verifier, issuer, holder)
    project_id = make.project()
    token_id = make.batch(project_id, 1, 1000)
    make.batch(project_id, 1001, 2000, prev=1, verify=False)
    credit.issue(token_id, holder, 11, ZERO_REF, sender=issuer)
    certificate_id = retirement.retire([token_id], [1], retirement_input(), sender=holder).return_value
    period_id = periods.openPeriod(compliance_period(), sender=period_regulator).return_value
    periods.setObligations(period_id, [holder], ["Holder Ltd"], [5], sender=period_regulator)
    return project_id, token_id, certificate_id, period_id


@pytest.fixture
def parties(registry, credit, retirement, periods, holder, registrar, regulator, period_regulator) -> dict:
    """Everything a Ctx holds but the caller and the target."""
    return dict(
        registry=registry,
        credit=credit,
        retirement=retirement,
        periods=periods,
        holder=holder,
        registrar=registrar,
        regulator=regulator,
        period_regulator=period_regulator,
    )


def make_ctx(parties: dict, caller, target) -> Ctx:
    project_id, token_id, certificate_id, period_id = target
    return Ctx(
        caller=caller,
        project_id=project_id,
        token_id=token_id,
        certificate_id=certificate_id,
        period_id=period_id,
        **parties,
    )


def expected_refusal(row: Row, c: Ctx) -> tuple[Any, dict]:
    contract = getattr(c, row.contract)
    if isinstance(row.refusal, str):
        role = _role(c, row.contract, row.refusal)
        return contract.AccessControlUnauthorizedAccount, dict(account=c.caller, neededRole=role)
    name, inputs = row.refusal(c)
    # The token asks the registry who may issue, so that refusal is the registry's error.
    owner = c.registry if name.startswith("Registry") else contract
    return getattr(owner, name), inputs


def call_refused(row: Row, c: Ctx) -> None:
    contract = getattr(c, row.contract)
    error, inputs = expected_refusal(row, c)
    function = getattr(contract, row.function)
    assert row.function not in {abi.name for abi in contract.contract_type.view_methods}, (
        f"{row.contract}.{row.function} is view/pure: a wallet would only eth_call it and never see it refused"
    )
    with reverts(error, **inputs):
        function(*row.args(c), sender=c.caller)


def state_changing_functions(contract) -> set[str]:
    """Every function of the ABI but the `view` ones: `pure` ones too, since the certificate's approvals are
    declared pure (they always revert) yet are state-changing in ERC-721."""
    return {abi.name for abi in contract.contract_type.methods if abi.stateMutability != "view"}


# ------------------------------------------------------------------ the table


@pytest.mark.parametrize("row", TABLE, ids=ROW_IDS)
def test_privileged_function__stranger__refused(parties, stranger, target, row):
    call_refused(row, make_ctx(parties, stranger, target))


@pytest.mark.parametrize("row", ROLE_ROWS, ids=[f"{r.contract}.{r.function}" for r in ROLE_ROWS])
def test_role_gated_function__holder_of_another_role__refused(
    parties, admin, registrar, verifier, compliance, regulator, period_regulator, target, row
):
    # Someone trusted with one job is still refused every other one. The token's REGULATOR (freeze, pause) and
    # the compliance periods' PERIOD_REGULATOR are distinct roles: each is refused the other's functions.
    insiders = {
        "DEFAULT_ADMIN_ROLE": [registrar if row.contract == "registry" else regulator],
        "REGISTRAR_ROLE": [verifier],
        "VERIFIER_ROLE": [registrar],
        "COMPLIANCE_ROLE": [regulator],
        "REGULATOR_ROLE": [compliance, period_regulator],
        "PERIOD_REGULATOR_ROLE": [regulator, compliance],
    }[row.refusal]
    for insider in insiders:
        assert insider != admin
        call_refused(row, make_ctx(parties, insider, target))


@pytest.mark.parametrize("insider", ["registrar", "verifier"])
@pytest.mark.parametrize("function", ["credit.issue", "retirement.issueAndRetire"])
def test_issue__registry_role_holder_without_issuer_role__refused(
    parties, registrar, verifier, target, insider, function
):
    caller = registrar if insider == "registrar" else verifier
    issue_row = TABLE[ROW_IDS.index(function)]
    call_refused(issue_row, make_ctx(parties, caller, target))


@pytest.mark.parametrize("contract_name", CONTRACTS)
def test_access_table__covers_every_state_changing_function(registry, credit, retirement, periods, contract_name):
    contract = {"registry": registry, "credit": credit, "retirement": retirement, "periods": periods}[contract_name]
    abi_functions = state_changing_functions(contract)
    tested = {row.function for row in TABLE if row.contract == contract_name}
    public = set(PUBLIC_BY_DESIGN[contract_name])

    assert not tested & public, f"{contract_name}: in both the table and PUBLIC_BY_DESIGN: {tested & public}"
    untested = abi_functions - tested - public
    assert untested == set(), f"{contract_name}: state-changing functions with no stranger test: {untested}"
    assert (tested | public) - abi_functions == set(), (
        f"{contract_name}: stale rows: {(tested | public) - abi_functions}"
    )


def test_set_approval_for_all__stranger__changes_only_its_own_approval(credit, stranger, holder, attacker, target):
    credit.setApprovalForAll(attacker, True, sender=stranger)
    assert credit.isApprovedForAll(stranger, attacker)
    assert not credit.isApprovedForAll(holder, attacker)
    with reverts(credit.ERC1155MissingApprovalForAll, operator=attacker, owner=holder):
        credit.safeTransferFrom(holder, attacker, target[1], 1, b"", sender=attacker)


def test_surrender__stranger__has_no_obligation_and_surrenders_nothing(credit, periods, stranger, holder, target):
    _, token_id, _, period_id = target
    # Surrendering is open to anyone, but only against the caller's own obligation: the stranger has none.
    with reverts(periods.ComplianceNoObligation, periodId=period_id, entity=stranger):
        periods.surrender(period_id, [token_id], [1], ZERO_REF, sender=stranger)
    assert credit.balanceOf(holder, token_id) == 10
    assert periods.status(period_id, holder).surrendered == 0


def test_retire__stranger__can_only_retire_its_own_credits(credit, retirement, stranger, holder, target):
    token_id = target[1]
    # Retiring is open to anyone, but only from the caller's own balance: the stranger has none.
    with reverts(credit.ERC1155InsufficientBalance, sender=stranger, balance=0, needed=1, tokenId=token_id):
        retirement.retire([token_id], [1], retirement_input(beneficiary=stranger), sender=stranger)
    assert credit.balanceOf(holder, token_id) == 10
    assert credit.totalRetired(token_id) == 1


# ------------------------------------------------------------------ admin transfer


@pytest.mark.parametrize("contract_name", CONTRACTS)
def test_default_admin__granted_directly__reverts(
    registry, credit, retirement, periods, admin, stranger, contract_name
):
    contract = {"registry": registry, "credit": credit, "retirement": retirement, "periods": periods}[contract_name]
    with reverts(contract.AccessControlEnforcedDefaultAdminRules):
        contract.grantRole(contract.DEFAULT_ADMIN_ROLE(), stranger, sender=admin)


@pytest.mark.parametrize("contract_name", CONTRACTS)
def test_default_admin_transfer__two_steps__only_new_admin_accepts(
    chain, registry, credit, retirement, periods, admin, other_holder, stranger, contract_name
):
    contract = {"registry": registry, "credit": credit, "retirement": retirement, "periods": periods}[contract_name]
    admin_role = contract.DEFAULT_ADMIN_ROLE()
    regular_role = {
        "registry": registry.REGISTRAR_ROLE(),
        "credit": credit.REGULATOR_ROLE(),
        "retirement": UNHELD_ROLE,
        "periods": periods.PERIOD_REGULATOR_ROLE(),
    }[contract_name]

    begun = contract.beginDefaultAdminTransfer(other_holder, sender=admin)
    schedule = contract.pendingDefaultAdmin().schedule
    assert events(begun, contract, "DefaultAdminTransferScheduled") == [
        plain(newAdmin=other_holder, acceptSchedule=schedule)
    ]
    assert contract.defaultAdmin() == admin.address  # nothing moves before acceptance
    chain.pending_timestamp = schedule + 1

    with reverts(contract.AccessControlInvalidDefaultAdmin, defaultAdmin=stranger):
        contract.acceptDefaultAdminTransfer(sender=stranger)
    contract.acceptDefaultAdminTransfer(sender=other_holder)

    assert contract.defaultAdmin() == other_holder.address
    assert contract.hasRole(admin_role, other_holder) and not contract.hasRole(admin_role, admin)
    with reverts(contract.AccessControlUnauthorizedAccount, account=admin, neededRole=admin_role):
        contract.grantRole(regular_role, stranger, sender=admin)
    contract.grantRole(regular_role, stranger, sender=other_holder)
    assert contract.hasRole(regular_role, stranger)
