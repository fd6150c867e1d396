"""Cancellation by the registrar (reversals and invalidations): what it burns, what it books as shortfall, that it
reaches frozen holders, a paused token and restricted projects alike, its refusals, and the ledger invariants
after a mix of issuance, transfers, retirements and cancellations."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from support import ZERO_ADDRESS, ZERO_REF, Factory, events, plain, retirement_input, reverts
from tonne.core.ids import encode_id

# Session fixtures first, before any module state: ape rebases (re-runs) module fixtures otherwise.
pytestmark = pytest.mark.usefixtures("accounts", "admin", "regulator", "other_holder", "stranger")

SUSPENDED, TERMINATED = 3, 4


@dataclass
class Book:
    """Module state: project p with batch a (1000 t; `holder` holds 5,000 units, `other_holder` 3,000) and batch
    b (10 t; `holder` holds 1,000 units)."""

    p: int
    a: int
    b: int


@pytest.fixture(scope="module")
def book(registry, credit, registrar, verifier, issuer, holder, other_holder) -> Book:
    make = Factory(registry, credit, registrar, verifier, issuer, holder)
    p = make.project()
    a = make.batch(p, 1, 1000)
    b = make.batch(p, 1001, 1010, prev=1)
    credit.issueMany(
        [
            dict(id=a, to=holder, amount=5_000, orderRef=ZERO_REF),
            dict(id=a, to=other_holder, amount=3_000, orderRef=ZERO_REF),
            dict(id=b, to=holder, amount=1_000, orderRef=ZERO_REF),
        ],
        sender=issuer,
    )
    return Book(p=p, a=a, b=b)


def ledger(credit, token_id: int) -> dict:
    return dict(
        issued=credit.totalIssued(token_id),
        supply=credit.totalSupply(token_id),
        retired=credit.totalRetired(token_id),
        cancelled=credit.totalCancelled(token_id),
        shortfall=credit.shortfall(token_id),
    )


# ------------------------------------------------------------------ cancelling


def test_cancel__several_holders__burns_books_and_emits(
    registry, credit, retirement, registrar, holder, other_holder, book
):
    receipt = registry.cancelCredits(
        book.a, [holder, other_holder], [1_000, 500], 2_000, "reversal: forest fire 2024", sender=registrar
    )

    assert credit.balanceOfBatch([holder, other_holder], [book.a, book.a]) == [4_000, 2_500]
    assert ledger(credit, book.a) == dict(issued=8_000, supply=6_500, retired=0, cancelled=1_500, shortfall=500)
    assert events(receipt, credit, "CreditsCancelled") == [
        plain(id=book.a, holder=holder, amount=1_000),
        plain(id=book.a, holder=other_holder, amount=500),
    ]
    assert events(receipt, credit, "ReversalRecorded") == [
        dict(id=book.a, reversal=2_000, cancelled=1_500, shortfall=500, reason="reversal: forest fire 2024")
    ]
    assert events(receipt, credit, "TransferSingle") == [
        plain(operator=registry, **{"from": holder}, to=ZERO_ADDRESS, id=book.a, value=1_000),
        plain(operator=registry, **{"from": other_holder}, to=ZERO_ADDRESS, id=book.a, value=500),
    ]
    # No certificate for a cancellation.
    assert retirement.certificateCount() == 0
    assert events(receipt, retirement, "RetirementRecorded") == []
    # The other batch is untouched.
    assert ledger(credit, book.b) == dict(issued=1_000, supply=1_000, retired=0, cancelled=0, shortfall=0)


def test_cancel__reversal_equals_cancelled__no_shortfall(registry, credit, registrar, holder, book):
    receipt = registry.cancelCredits(book.a, [holder], [5_000], 5_000, "invalidation", sender=registrar)
    assert credit.balanceOf(holder, book.a) == 0
    assert ledger(credit, book.a) == dict(issued=8_000, supply=3_000, retired=0, cancelled=5_000, shortfall=0)
    assert events(receipt, credit, "ReversalRecorded")[0]["shortfall"] == 0


def test_cancel__successive_reversals__cancelled_and_shortfall_accumulate(
    registry, credit, registrar, holder, other_holder, book
):
    registry.cancelCredits(book.a, [holder], [100], 300, "reversal 1", sender=registrar)
    registry.cancelCredits(book.a, [other_holder], [50], 60, "reversal 2", sender=registrar)
    assert (credit.totalCancelled(book.a), credit.shortfall(book.a)) == (150, 210)
    assert credit.totalSupply(book.a) == 8_000 - 150


def test_cancel__same_holder_twice_in_one_call__both_amounts_burned(registry, credit, registrar, holder, book):
    registry.cancelCredits(book.a, [holder, holder], [1_000, 2_000], 3_000, "duplicate rows", sender=registrar)
    assert credit.balanceOf(holder, book.a) == 2_000
    assert credit.totalCancelled(book.a) == 3_000


def test_cancel__everything_already_retired__whole_reversal_is_shortfall(
    registry, credit, retirement, registrar, holder, book
):
    # Credits that were retired cannot be taken back: a reversal with no holder to cancel from books a shortfall.
    retirement.retire([book.b], [1_000], retirement_input(), sender=holder)
    receipt = registry.cancelCredits(book.b, [], [], 1_000, "reversal after retirement", sender=registrar)

    assert ledger(credit, book.b) == dict(issued=1_000, supply=0, retired=1_000, cancelled=0, shortfall=1_000)
    assert events(receipt, credit, "CreditsCancelled") == []
    assert events(receipt, credit, "ReversalRecorded") == [
        dict(id=book.b, reversal=1_000, cancelled=0, shortfall=1_000, reason="reversal after retirement")
    ]


def test_cancel__frozen_holder__still_cancelled(registry, credit, registrar, regulator, holder, other_holder, book):
    credit.setFrozen(holder, True, "sanctions", sender=regulator)
    with reverts(credit.CreditAccountFrozen, account=holder):
        credit.safeTransferFrom(holder, other_holder, book.a, 1, b"", sender=holder)

    registry.cancelCredits(book.a, [holder], [1_000], 1_000, "reversal", sender=registrar)

    assert credit.balanceOf(holder, book.a) == 4_000
    assert credit.totalCancelled(book.a) == 1_000
    assert credit.isFrozen(holder)


def test_cancel__paused_token__still_cancelled(registry, credit, registrar, regulator, holder, book):
    credit.pause(sender=regulator)
    registry.cancelCredits(book.a, [holder], [1_000], 1_000, "reversal", sender=registrar)
    assert credit.balanceOf(holder, book.a) == 4_000
    assert credit.totalCancelled(book.a) == 1_000
    assert credit.paused()


@pytest.mark.parametrize("status", [SUSPENDED, TERMINATED])
def test_cancel__restricted_project__cancels_what_nothing_else_can_move(
    registry, credit, retirement, registrar, holder, other_holder, book, status
):
    registry.setProjectStatus(book.p, status, "fraud", sender=registrar)
    with reverts(credit.CreditProjectRestricted, id=book.a, projectId=book.p):
        retirement.retire([book.a], [1], retirement_input(), sender=holder)
    with reverts(credit.CreditProjectRestricted, id=book.a, projectId=book.p):
        credit.safeTransferFrom(holder, other_holder, book.a, 1, b"", sender=holder)

    registry.cancelCredits(book.a, [holder, other_holder], [5_000, 3_000], 8_000, "invalidation", sender=registrar)

    assert credit.balanceOfBatch([holder, other_holder], [book.a, book.a]) == [0, 0]
    assert ledger(credit, book.a) == dict(issued=8_000, supply=0, retired=0, cancelled=8_000, shortfall=0)


# ------------------------------------------------------------------ refusals


def test_cancel__more_than_holders_balance__reverts(registry, credit, registrar, holder, other_holder, book):
    with reverts(credit.ERC1155InsufficientBalance, sender=other_holder, balance=3_000, needed=3_001, tokenId=book.a):
        registry.cancelCredits(book.a, [holder, other_holder], [10, 3_001], 5_000, "reversal", sender=registrar)
    assert credit.balanceOfBatch([holder, other_holder], [book.a, book.a]) == [5_000, 3_000]
    assert ledger(credit, book.a)["cancelled"] == ledger(credit, book.a)["shortfall"] == 0


def test_cancel__holder_without_credits__reverts(registry, credit, registrar, stranger, book):
    with reverts(credit.ERC1155InsufficientBalance, sender=stranger, balance=0, needed=1, tokenId=book.a):
        registry.cancelCredits(book.a, [stranger], [1], 1, "reversal", sender=registrar)


def test_cancel__zero_address_as_holder__reverts_and_books_nothing(registry, credit, registrar, book):
    # The zero address holds nothing: "cancelling" from it must not book cancelled units that were never burned.
    with reverts(credit.ERC1155InvalidSender, sender=ZERO_ADDRESS):
        registry.cancelCredits(book.a, [ZERO_ADDRESS], [1_000], 1_000, "reversal", sender=registrar)
    assert ledger(credit, book.a) == dict(issued=8_000, supply=8_000, retired=0, cancelled=0, shortfall=0)


def test_cancel__reversal_below_cancelled__reverts(registry, credit, registrar, holder, other_holder, book):
    with reverts(credit.CreditReversalBelowCancelled, reversal=1_499, cancelled=1_500):
        registry.cancelCredits(book.a, [holder, other_holder], [1_000, 500], 1_499, "reversal", sender=registrar)
    assert credit.balanceOf(holder, book.a) == 5_000


@pytest.mark.parametrize("with_holder", [False, True])
def test_cancel__zero_reversal__reverts(registry, credit, registrar, holder, book, with_holder):
    if with_holder:
        with reverts(credit.CreditReversalBelowCancelled, reversal=0, cancelled=1):
            registry.cancelCredits(book.a, [holder], [1], 0, "nothing", sender=registrar)
    else:
        with reverts(credit.CreditZeroAmount, id=book.a):
            registry.cancelCredits(book.a, [], [], 0, "nothing", sender=registrar)
    assert ledger(credit, book.a)["cancelled"] == ledger(credit, book.a)["shortfall"] == 0


def test_cancel__zero_amount_for_a_holder__reverts(registry, credit, registrar, holder, other_holder, book):
    with reverts(credit.CreditZeroAmount, id=book.a):
        registry.cancelCredits(book.a, [holder, other_holder], [10, 0], 10, "reversal", sender=registrar)


def test_cancel__empty_reason__reverts(registry, credit, registrar, holder, book):
    with reverts(credit.CreditEmptyReason):
        registry.cancelCredits(book.a, [holder], [1], 1, "", sender=registrar)
    assert credit.balanceOf(holder, book.a) == 5_000


@pytest.mark.parametrize(("n_holders", "n_amounts"), [(2, 1), (1, 2), (0, 1), (1, 0)])
def test_cancel__mismatched_lists__reverts(
    registry, credit, registrar, holder, other_holder, book, n_holders, n_amounts
):
    holders, amounts = [holder, other_holder][:n_holders], [10, 20][:n_amounts]
    with reverts(credit.CreditInvalidLists, ids=n_holders, amounts=n_amounts):
        registry.cancelCredits(book.a, holders, amounts, 100, "reversal", sender=registrar)
    assert credit.totalCancelled(book.a) == 0


@pytest.mark.parametrize("which", ["batch-number", "project", "zero"])
def test_cancel__unknown_batch__reverts(registry, credit, registrar, holder, book, which):
    token_id = {"batch-number": encode_id(book.p, 9), "project": encode_id(book.p + 50, 1), "zero": 0}[which]
    with reverts(registry.RegistryUnknownBatch, id=token_id):
        registry.cancelCredits(token_id, [holder], [1], 1, "reversal", sender=registrar)


@pytest.mark.parametrize("caller", ["stranger", "holder", "admin", "issuer", "verifier"])
def test_cancel_credits__not_registrar__refused(
    registry, credit, admin, issuer, verifier, holder, stranger, book, caller
):
    account = {"stranger": stranger, "holder": holder, "admin": admin, "issuer": issuer, "verifier": verifier}[caller]
    with reverts(registry.AccessControlUnauthorizedAccount, account=account, neededRole=registry.REGISTRAR_ROLE()):
        registry.cancelCredits(book.a, [holder], [1], 1, "grief", sender=account)
    assert credit.balanceOf(holder, book.a) == 5_000


@pytest.mark.parametrize("caller", ["registrar", "admin", "holder"])
def test_token_cancel__called_directly__refused(credit, admin, registrar, holder, book, caller):
    account = {"registrar": registrar, "admin": admin, "holder": holder}[caller]
    with reverts(credit.CreditCallerNotRegistry, caller=account):
        credit.cancel(book.a, [holder], [1], 1, "bypass", sender=account)
    assert credit.balanceOf(holder, book.a) == 5_000


# ------------------------------------------------------------------ invariants after a mix


def test_ledger__mix_of_everything__books_balance(
    registry, credit, retirement, registrar, issuer, accounts, holder, other_holder, stranger, book
):
    credit.setApprovalForAll(stranger, True, sender=other_holder)
    receipts = [
        retirement.retire([book.a, book.b], [700, 300], retirement_input(), sender=holder),
        retirement.retireFrom(other_holder, [book.a], [400], retirement_input(beneficiary=holder), sender=stranger),
        retirement.issueAndRetire(book.b, 2_000, ZERO_REF, retirement_input(), sender=issuer),
        retirement.retire([book.a, book.a], [10, 20], retirement_input(), sender=holder),
    ]
    registry.cancelCredits(book.a, [holder, other_holder], [900, 600], 2_000, "reversal", sender=registrar)
    credit.safeTransferFrom(holder, stranger, book.a, 1_234, b"", sender=holder)
    receipts.append(retirement.retire([book.a], [234], retirement_input(), sender=stranger))
    credit.issue(book.b, other_holder, 500, ZERO_REF, sender=issuer)
    registry.cancelCredits(book.b, [holder], [100], 100, "invalidation", sender=registrar)

    retired_by_certificates: dict[int, int] = {book.a: 0, book.b: 0}
    for receipt in receipts:
        for event in events(receipt, retirement, "RetirementRecorded"):
            for token_id, amount in zip(event["ids"], event["amounts"], strict=True):
                retired_by_certificates[token_id] += amount

    for token_id in (book.a, book.b):
        books = ledger(credit, token_id)
        balances = credit.balanceOfBatch(list(accounts), [token_id] * len(accounts))
        assert books["issued"] == books["supply"] + books["retired"] + books["cancelled"]
        assert books["supply"] == sum(balances)
        assert books["retired"] == retired_by_certificates[token_id]
        assert books["issued"] <= credit.issuanceCap(token_id)

    assert ledger(credit, book.a) == dict(issued=8_000, supply=5_136, retired=1_364, cancelled=1_500, shortfall=500)
    assert ledger(credit, book.b) == dict(issued=3_500, supply=1_100, retired=2_300, cancelled=100, shortfall=0)
    assert retirement.certificateCount() == 5
