"""CarbonCredit: issuance (caps, order references, authorisation), supply views, URIs, interfaces, and
restricted projects."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from eth_abi import encode as abi_encode
from eth_utils import keccak

from support import (
    CREDIT_MOVES,
    ZERO_REF,
    Factory,
    batch_input,
    events,
    move_credits,
    order_ref,
    plain,
    reverts,
)
from tonne.core.ids import encode_id
from tonne.registry.suite import DEFAULT_FALLBACK_URI

# Session fixtures first, before any module state: ape rebases (re-runs) module fixtures otherwise.
pytestmark = pytest.mark.usefixtures("admin", "permissioned_suite", "stranger", "other_holder")

ZERO_ADDRESS = "0x" + "00" * 20
APPROVED, SUSPENDED = 2, 3


@dataclass
class Book:
    """Module state: project p1 with batches a (1000 t, with URI), b (10 t, no URI) and c (not verified);
    project p2 with batch d (10 t). The `issuer` fixture is authorised for both projects."""

    p1: int
    p2: int
    a: int
    b: int
    c: int
    d: int


@pytest.fixture(scope="module")
def book(registry, credit, registrar, verifier, issuer, holder) -> Book:
    make = Factory(registry, credit, registrar, verifier, issuer, holder)
    p1 = make.project()
    a = make.batch(p1, 1, 1000)
    b = registry.addBatch(p1, batch_input(1001, 1010, uri=""), 1, sender=registrar).return_value
    registry.verifyBatch(b, sender=verifier)
    c = make.batch(p1, 2001, 2010, prev=2, verify=False)
    p2 = make.project()
    d = make.batch(p2, 1, 10)
    return Book(p1=p1, p2=p2, a=a, b=b, c=c, d=d)


def order(token_id: int, to, amount: int, ref: bytes = ZERO_REF) -> dict:
    return dict(id=token_id, to=to, amount=amount, orderRef=ref)


def balances(credit, pairs) -> list[int]:
    return [credit.balanceOf(account, token_id) for account, token_id in pairs]


def issued(credit, *token_ids: int) -> list[int]:
    return [credit.totalIssued(token_id) for token_id in token_ids]


# ------------------------------------------------------------------ views before issuance


def test_verified_batch__nothing_issued__cap_is_quantity_in_kilograms(credit, book):
    assert credit.UNITS_PER_TONNE() == 1000
    assert credit.issuanceCap(book.a) == 1000 * 1000
    assert credit.issuanceCap(book.b) == 10 * 1000
    assert credit.issuanceCap(book.c) == 0  # not verified
    assert credit.issuanceCap(encode_id(book.p1, 9)) == 0  # no such batch
    assert (credit.totalSupply(book.a), credit.totalIssued(book.a), credit.exists(book.a)) == (0, 0, False)


def test_token__deployed__points_at_its_registry_in_its_mode(registry, credit, permissioned_suite):
    assert credit.registry() == registry.address
    assert credit.permissioned() is False
    assert permissioned_suite.credit.permissioned() is True
    assert permissioned_suite.credit.registry() == permissioned_suite.registry.address


# ------------------------------------------------------------------ issue


def test_issue__valid_order__mints_records_and_emits(credit, issuer, holder, book):
    receipt = credit.issue(book.a, holder, 1500, order_ref(1), sender=issuer)

    assert credit.balanceOf(holder, book.a) == 1500
    assert (credit.totalSupply(book.a), credit.totalIssued(book.a), credit.exists(book.a)) == (1500, 1500, True)
    assert credit.isOrderReferenceUsed(book.p1, order_ref(1))
    assert events(receipt, credit, "Issued") == [
        plain(id=book.a, to=holder, issuer=issuer, amount=1500, orderRef=order_ref(1))
    ]
    assert events(receipt, credit, "TransferSingle") == [
        plain(operator=issuer, **{"from": ZERO_ADDRESS}, to=holder, id=book.a, value=1500)
    ]


def test_issue__exactly_the_cap__accepted_then_one_more_reverts(credit, issuer, holder, book):
    credit.issue(book.b, holder, 9_999, ZERO_REF, sender=issuer)
    credit.issue(book.b, holder, 1, ZERO_REF, sender=issuer)
    assert credit.totalIssued(book.b) == credit.issuanceCap(book.b) == 10_000

    with reverts(credit.CreditIssuanceExceedsCap, id=book.b, requested=1, available=0):
        credit.issue(book.b, holder, 1, ZERO_REF, sender=issuer)
    assert credit.totalSupply(book.b) == 10_000


def test_issue__one_unit_over_the_cap__reverts(credit, issuer, holder, book):
    with reverts(credit.CreditIssuanceExceedsCap, id=book.b, requested=10_001, available=10_000):
        credit.issue(book.b, holder, 10_001, ZERO_REF, sender=issuer)
    assert credit.totalIssued(book.b) == 0


def test_issue__zero_amount__reverts(credit, issuer, holder, book):
    with reverts(credit.CreditZeroAmount, id=book.a):
        credit.issue(book.a, holder, 0, order_ref(2), sender=issuer)
    assert not credit.isOrderReferenceUsed(book.p1, order_ref(2))


@pytest.mark.parametrize("batch", ["unverified", "nonexistent"])
def test_issue__batch_not_open__reverts(credit, issuer, holder, book, batch):
    token_id = book.c if batch == "unverified" else encode_id(book.p1, 9)
    with reverts(credit.CreditBatchNotOpen, id=token_id):
        credit.issue(token_id, holder, 1, ZERO_REF, sender=issuer)


@pytest.mark.parametrize(
    "case", ["role-without-project", "project-without-role", "role-revoked", "authorisation-withdrawn", "other-project"]
)
def test_issue__caller_not_a_project_issuer__reverts(
    registry, credit, admin, registrar, issuer, other_holder, holder, book, case
):
    caller = other_holder
    role = registry.ISSUER_ROLE()
    if case == "role-without-project":
        registry.grantRole(role, other_holder, sender=admin)
    elif case == "project-without-role":
        registry.setProjectIssuer(book.p1, other_holder, True, sender=registrar)
    elif case == "role-revoked":
        caller = issuer
        registry.revokeRole(role, issuer, sender=admin)
    elif case == "authorisation-withdrawn":
        caller = issuer
        registry.setProjectIssuer(book.p1, issuer, False, sender=registrar)
    else:
        registry.grantRole(role, other_holder, sender=admin)
        registry.setProjectIssuer(book.p2, other_holder, True, sender=registrar)

    with reverts(registry.RegistryIssuerNotAuthorized, projectId=book.p1, account=caller):
        credit.issue(book.a, holder, 1000, ZERO_REF, sender=caller)
    assert credit.totalIssued(book.a) == 0


# ------------------------------------------------------------------ issueMany


def test_issue_many__many_recipients_ids_and_projects__mints_each_in_order(credit, issuer, holder, other_holder, book):
    orders = [
        order(book.a, holder, 100, order_ref(3)),
        order(book.b, other_holder, 200),
        order(book.d, holder, 50),
        order(book.a, other_holder, 300, order_ref(4)),
    ]

    receipt = credit.issueMany(orders, sender=issuer)

    assert events(receipt, credit, "Issued") == [
        plain(id=o["id"], to=o["to"], issuer=issuer, amount=o["amount"], orderRef=o["orderRef"]) for o in orders
    ]
    pairs = [(holder, book.a), (other_holder, book.a), (other_holder, book.b), (holder, book.d)]
    assert balances(credit, pairs) == [100, 300, 200, 50]
    assert issued(credit, book.a, book.b, book.d) == [400, 200, 50]
    assert credit.isOrderReferenceUsed(book.p1, order_ref(3)) and credit.isOrderReferenceUsed(book.p1, order_ref(4))


def test_issue_many__single_order__same_as_issue(credit, issuer, holder, book):
    receipt = credit.issueMany([order(book.d, holder, 7, order_ref(5))], sender=issuer)
    assert events(receipt, credit, "Issued") == [
        plain(id=book.d, to=holder, issuer=issuer, amount=7, orderRef=order_ref(5))
    ]
    assert credit.balanceOf(holder, book.d) == credit.totalSupply(book.d) == 7


def test_issue_many__no_orders__reverts(credit, issuer):
    with reverts(credit.CreditNoOrders):
        credit.issueMany([], sender=issuer)


@pytest.mark.parametrize("bad", ["zero-amount", "over-cap", "not-open", "reused-ref", "other-project-unauthorised"])
def test_issue_many__one_bad_order__nothing_issued(registry, credit, registrar, issuer, holder, book, bad):
    first = order(book.a, holder, 1000, order_ref(6))
    second, error, args = {
        "zero-amount": (order(book.a, holder, 0), credit.CreditZeroAmount, dict(id=book.a)),
        "over-cap": (
            order(book.b, holder, 10_001),
            credit.CreditIssuanceExceedsCap,
            dict(id=book.b, requested=10_001, available=10_000),
        ),
        "not-open": (order(book.c, holder, 1), credit.CreditBatchNotOpen, dict(id=book.c)),
        "reused-ref": (
            order(book.b, holder, 1, order_ref(6)),
            credit.CreditOrderReferenceUsed,
            dict(orderRef=order_ref(6)),
        ),
        "other-project-unauthorised": (
            order(book.d, holder, 1),
            registry.RegistryIssuerNotAuthorized,
            dict(projectId=book.p2, account=issuer),
        ),
    }[bad]
    if bad == "other-project-unauthorised":
        registry.setProjectIssuer(book.p2, issuer, False, sender=registrar)

    with reverts(error, **args):
        credit.issueMany([first, second, order(book.a, holder, 1)], sender=issuer)

    assert credit.balanceOf(holder, book.a) == 0
    assert issued(credit, book.a, book.b, book.d) == [0, 0, 0]
    assert not credit.isOrderReferenceUsed(book.p1, order_ref(6))


def test_issue_many__orders_together_over_the_cap__reverts(credit, issuer, holder, other_holder, book):
    orders = [order(book.b, holder, 6_000), order(book.b, other_holder, 5_000)]
    with reverts(credit.CreditIssuanceExceedsCap, id=book.b, requested=5_000, available=4_000):
        credit.issueMany(orders, sender=issuer)
    assert credit.totalIssued(book.b) == 0


# ------------------------------------------------------------------ order references


def test_issue__order_ref_reused_in_later_call__reverts(credit, issuer, holder, book):
    credit.issue(book.a, holder, 10, order_ref(7), sender=issuer)
    # The reference is per project: a different id and recipient of the same project does not make the order new.
    with reverts(credit.CreditOrderReferenceUsed, orderRef=order_ref(7)):
        credit.issue(book.b, holder, 10, order_ref(7), sender=issuer)
    with reverts(credit.CreditOrderReferenceUsed, orderRef=order_ref(7)):
        credit.issueMany([order(book.b, holder, 10, order_ref(7))], sender=issuer)
    assert issued(credit, book.a, book.b, book.d) == [10, 0, 0]
    assert credit.orderDigest(book.p1, order_ref(7)) == keccak(
        abi_encode(["uint256", "address", "uint256"], [book.a, str(holder), 10])
    )


def test_issue__other_projects_issuer_uses_the_ref_first__owner_project_still_issues(
    registry, credit, admin, registrar, verifier, issuer, holder, other_holder, stranger, book
):
    # `stranger` is issuer of its own project only; it front-runs p2's reference 30 under its project.
    registry.grantRole(registry.ISSUER_ROLE(), stranger, sender=admin)
    make = Factory(registry, credit, registrar, verifier, stranger, holder)
    own = make.project()
    own_batch = make.batch(own, 1, 10, ref="ISS-STRANGER-30")
    assert not registry.isProjectIssuer(book.p2, stranger)
    credit.issue(own_batch, other_holder, 5, order_ref(30), sender=stranger)

    assert credit.isOrderReferenceUsed(own, order_ref(30))
    assert not credit.isOrderReferenceUsed(book.p2, order_ref(30))
    assert credit.orderDigest(book.p2, order_ref(30)) == ZERO_REF
    credit.issue(book.d, holder, 7, order_ref(30), sender=issuer)
    assert credit.balanceOf(holder, book.d) == 7
    assert credit.orderDigest(book.p2, order_ref(30)) == keccak(
        abi_encode(["uint256", "address", "uint256"], [book.d, str(holder), 7])
    )


def test_issue_many__order_ref_twice_in_one_call__reverts(credit, issuer, holder, book):
    orders = [order(book.a, holder, 10, order_ref(8)), order(book.a, holder, 10, order_ref(8))]
    with reverts(credit.CreditOrderReferenceUsed, orderRef=order_ref(8)):
        credit.issueMany(orders, sender=issuer)
    assert not credit.isOrderReferenceUsed(book.p1, order_ref(8))
    assert credit.totalIssued(book.a) == 0


def test_issue__zero_order_ref__may_repeat(credit, issuer, holder, book):
    credit.issue(book.a, holder, 10, ZERO_REF, sender=issuer)
    credit.issue(book.a, holder, 10, ZERO_REF, sender=issuer)
    credit.issueMany([order(book.a, holder, 10), order(book.a, holder, 10)], sender=issuer)

    assert credit.balanceOf(holder, book.a) == 40
    assert not credit.isOrderReferenceUsed(book.p1, ZERO_REF)


# ------------------------------------------------------------------ metadata and interfaces


def test_uri__batch_with_and_without_uri__batch_uri_or_template(credit, book):
    assert credit.uri(book.a) == "ipfs://bafy-batch"
    assert credit.uri(book.b) == DEFAULT_FALLBACK_URI
    assert credit.uri(encode_id(book.p1, 9)) == DEFAULT_FALLBACK_URI


def _interface_id(contract_type, minus=None) -> bytes:
    """ERC-165 id: XOR of the selectors of the interface's own functions (inherited ones removed)."""
    value = 0
    for abi in contract_type.methods:
        value ^= int.from_bytes(_selector(abi), "big")
    for abi in minus.methods if minus else []:
        value ^= int.from_bytes(_selector(abi), "big")
    return value.to_bytes(4, "big")


def _selector(abi) -> bytes:
    return keccak(text=abi.selector)[:4]


@pytest.mark.parametrize(
    ("interface", "supported"),
    [
        ("01ffc9a7", True),  # ERC-165
        ("d9b67a26", True),  # ERC-1155
        ("0e89341c", True),  # ERC-1155 metadata URI
        ("7965db0b", True),  # IAccessControl
        ("31498786", True),  # IAccessControlDefaultAdminRules
        ("ICarbonCredit", True),
        ("ffffffff", False),  # ERC-165 requires false for this id
        ("4e2312e0", False),  # ERC-1155 receiver: the token is not one
    ],
)
def test_supports_interface__known_ids__as_declared(project, credit, interface, supported):
    if interface == "ICarbonCredit":
        interface_id = _interface_id(project.ICarbonCredit.contract_type, minus=project.ICreditLedger.contract_type)
    else:
        interface_id = bytes.fromhex(interface)
    assert credit.supportsInterface(interface_id) is supported


# ------------------------------------------------------------------ restricted projects


@pytest.mark.parametrize("how", CREDIT_MOVES)
def test_restricted_project__any_move__reverts_until_reapproved(
    registry, credit, registrar, issuer, holder, other_holder, book, how
):
    credit.issueMany([order(book.a, holder, 500), order(book.d, holder, 500)], sender=issuer)
    registry.setProjectStatus(book.p1, SUSPENDED, "audit", sender=registrar)
    sender = issuer if how == "issue" else holder

    with reverts(credit.CreditProjectRestricted, id=book.a, projectId=book.p1):
        move_credits(credit, how, sender=sender, to=other_holder, token_id=book.a, amount=100)
    # The other project is not affected.
    move_credits(credit, how, sender=sender, to=other_holder, token_id=book.d, amount=100)

    registry.setProjectStatus(book.p1, APPROVED, "audit closed", sender=registrar)
    move_credits(credit, how, sender=sender, to=other_holder, token_id=book.a, amount=100)
    assert balances(credit, [(other_holder, book.a), (other_holder, book.d)]) == [100, 100]


def test_restricted_project__batch_transfer_mixing_projects__reverts(
    registry, credit, registrar, issuer, holder, other_holder, book
):
    credit.issueMany([order(book.a, holder, 500), order(book.d, holder, 500)], sender=issuer)
    registry.setProjectStatus(book.p1, SUSPENDED, "audit", sender=registrar)

    with reverts(credit.CreditProjectRestricted, id=book.a, projectId=book.p1):
        credit.safeBatchTransferFrom(holder, other_holder, [book.d, book.a], [100, 100], b"", sender=holder)
    assert balances(credit, [(holder, book.a), (holder, book.d)]) == [500, 500]


def test_terminated_project__credits__stay_restricted(registry, credit, registrar, issuer, holder, other_holder, book):
    credit.issue(book.a, holder, 500, ZERO_REF, sender=issuer)
    registry.setProjectStatus(book.p1, 4, "fraud", sender=registrar)

    with reverts(credit.CreditProjectRestricted, id=book.a, projectId=book.p1):
        credit.safeTransferFrom(holder, other_holder, book.a, 1, b"", sender=holder)
    with reverts(credit.CreditProjectRestricted, id=book.b, projectId=book.p1):
        credit.issue(book.b, holder, 1, ZERO_REF, sender=issuer)
    assert credit.isProjectRestricted(book.p1)


@pytest.mark.parametrize("method", ["issue", "issueMany"])
def test_issue__id_outside_any_project__refused_as_unauthorised(credit, registry, stranger, method):
    # Project 0 never exists, so nobody is its issuer: both entry points must refuse on authorisation, before
    # looking at the ledger (`issueMany` must not take "no project checked yet" for "project 0 checked").
    token_id = 5  # project 0, batch 5
    with reverts(registry.RegistryIssuerNotAuthorized, projectId=0, account=stranger):
        if method == "issue":
            credit.issue(token_id, stranger, 1, ZERO_REF, sender=stranger)
        else:
            credit.issueMany([order(token_id, stranger, 1)], sender=stranger)


# ------------------------------------------------------------------ a frozen issuer mints nothing


def test_issue__frozen_issuer__reverts_nothing_issued(credit, regulator, issuer, holder, book):
    credit.setFrozen(issuer, True, "sanctions", sender=regulator)
    with reverts(credit.CreditAccountFrozen, account=issuer):
        credit.issue(book.a, holder, 1500, order_ref(31), sender=issuer)
    with reverts(credit.CreditAccountFrozen, account=issuer):
        credit.issueMany([order(book.a, holder, 1500, order_ref(32))], sender=issuer)
    assert (credit.totalIssued(book.a), credit.balanceOf(holder, book.a)) == (0, 0)
    assert not credit.isOrderReferenceUsed(book.p1, order_ref(31))
    # Unfrozen, the same issuer issues again.
    credit.setFrozen(issuer, False, "cleared", sender=regulator)
    credit.issue(book.a, holder, 1500, order_ref(31), sender=issuer)
    assert credit.totalIssued(book.a) == 1500
