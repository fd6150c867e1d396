"""CarbonRetirement: retire, retireFrom, issueAndRetire and retireForCompliance; the certificate each one records,
its events, retirement references, and every refusal (token rules, input validation, callers)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from support import (
    ZERO_ADDRESS,
    ZERO_REF,
    Factory,
    batch_input,
    events,
    order_ref,
    plain,
    retirement_input,
    reverts,
)
from tonne.core.ids import project_of

# Session fixtures first, before any module state: ape rebases (re-runs) module fixtures otherwise.
pytestmark = pytest.mark.usefixtures(
    "chain",
    "project",
    "admin",
    "compliance",
    "regulator",
    "permissioned_suite",
    "hookless_suite",
    "other_holder",
    "stranger",
)

VOLUNTARY, COMPLIANCE = 0, 1
SUSPENDED, TERMINATED = 3, 4
MAX_IDS = 100


@dataclass
class Book:
    """Module state. Project p: batch a (1000 t; `holder` holds 100,000 units), batch b (10 t; `holder` holds
    5,000 units) and batch fresh (10 t, nothing issued). Project q: batch c (1000 t; `holder` holds 10,000
    units). The `issuer` fixture is authorised for both projects."""

    p: int
    q: int
    a: int
    b: int
    fresh: int
    c: int


@pytest.fixture(scope="module")
def book(registry, credit, retirement, registrar, verifier, issuer, holder) -> Book:
    make = Factory(registry, credit, registrar, verifier, issuer, holder)
    p = make.project()
    a = make.batch(p, 1, 1000)
    b = make.batch(p, 1001, 1010, prev=1)
    fresh = make.batch(p, 2001, 2010, prev=2)
    q = make.project()
    c = make.batch(q, 1, 1000, ref="ISS-Q-1")
    credit.issueMany(
        [
            dict(id=a, to=holder, amount=100_000, orderRef=ZERO_REF),
            dict(id=b, to=holder, amount=5_000, orderRef=ZERO_REF),
            dict(id=c, to=holder, amount=10_000, orderRef=ZERO_REF),
        ],
        sender=issuer,
    )
    return Book(p=p, q=q, a=a, b=b, fresh=fresh, c=c)


def ledger(credit, token_id: int) -> dict:
    return dict(
        issued=credit.totalIssued(token_id),
        supply=credit.totalSupply(token_id),
        retired=credit.totalRetired(token_id),
        cancelled=credit.totalCancelled(token_id),
    )


def certificate(retirement, certificate_id: int) -> dict:
    view = retirement.certificate(certificate_id)
    return plain(
        beneficiary=view.beneficiary,
        retiringAccount=view.retiringAccount,
        firstId=view.firstId,
        totalAmount=view.totalAmount,
        idCount=view.idCount,
        purpose=view.purpose,
        timestamp=view.timestamp,
        periodStart=view.periodStart,
        periodEnd=view.periodEnd,
        country=view.country,
    )


def block_time(chain, receipt) -> int:
    return chain.blocks[receipt.block_number].timestamp


def recorded(certificate_id, beneficiary, retiring_account, ids, amounts, inp, purpose=VOLUNTARY) -> dict:
    """The RetirementRecorded arguments expected for input `inp`."""
    return plain(
        certificateId=certificate_id,
        beneficiary=beneficiary,
        retiringAccount=retiring_account,
        ids=ids,
        amounts=amounts,
        beneficiaryName=inp["beneficiaryName"],
        reason=inp["reason"],
        jurisdiction=inp["jurisdiction"],
        periodStart=inp["periodStart"],
        periodEnd=inp["periodEnd"],
        purpose=purpose,
        retirementRef=inp["retirementRef"],
    )


# ------------------------------------------------------------------ wiring


def test_retirement__deployed__bound_both_ways(credit, retirement):
    assert retirement.creditToken() == credit.address
    assert credit.retirement() == retirement.address
    assert retirement.MAX_IDS_PER_CERTIFICATE() == MAX_IDS
    assert (retirement.name(), retirement.symbol()) == ("Tonne Retirement Certificate", "TONNE-RC")
    assert retirement.certificateCount() == 0


# ------------------------------------------------------------------ retire


def test_retire__one_id__burns_records_and_certifies(chain, credit, retirement, holder, other_holder, book):
    before = ledger(credit, book.a)
    inp = retirement_input(beneficiary=other_holder, jurisdiction="US-CA", retirementRef=order_ref(1))

    receipt = retirement.retire([book.a], [1_500], inp, sender=holder)

    assert receipt.return_value == 1
    assert credit.balanceOf(holder, book.a) == 100_000 - 1_500
    assert ledger(credit, book.a) == dict(
        issued=before["issued"], supply=before["supply"] - 1_500, retired=1_500, cancelled=0
    )
    assert retirement.certificateCount() == 1
    assert retirement.ownerOf(1) == other_holder.address
    assert retirement.balanceOf(other_holder) == 1 and retirement.balanceOf(holder) == 0
    assert certificate(retirement, 1) == plain(
        beneficiary=other_holder,
        retiringAccount=holder,
        firstId=book.a,
        totalAmount=1_500,
        idCount=1,
        purpose=VOLUNTARY,
        timestamp=block_time(chain, receipt),
        periodStart=inp["periodStart"],
        periodEnd=inp["periodEnd"],
        country=b"US",
    )
    assert events(receipt, credit, "TransferSingle") == [
        plain(operator=retirement, **{"from": holder}, to=ZERO_ADDRESS, id=book.a, value=1_500)
    ]
    assert events(receipt, retirement, "Transfer") == [plain(**{"from": ZERO_ADDRESS}, to=other_holder, tokenId=1)]
    assert events(receipt, retirement, "Locked") == [dict(tokenId=1)]
    assert events(receipt, retirement, "RetirementRecorded") == [
        recorded(1, other_holder, holder, [book.a], [1_500], inp)
    ]


def test_retire__several_ids_of_several_projects__one_certificate_listing_all(chain, credit, retirement, holder, book):
    ids, amounts = [book.b, book.a, book.c], [250, 1_000, 4_000]
    inp = retirement_input(jurisdiction="GB-ENG")
    supplies = [credit.totalSupply(i) for i in ids]

    receipt = retirement.retire(ids, amounts, inp, sender=holder)

    assert credit.balanceOfBatch([holder] * 3, ids) == [5_000 - 250, 100_000 - 1_000, 10_000 - 4_000]
    assert [credit.totalSupply(i) for i in ids] == [s - a for s, a in zip(supplies, amounts, strict=True)]
    assert [credit.totalRetired(i) for i in ids] == amounts
    view = certificate(retirement, 1)
    assert (view["firstId"], view["totalAmount"], view["idCount"]) == (book.b, 5_250, 3)
    assert (view["beneficiary"], view["retiringAccount"]) == (plain(holder), plain(holder))
    assert view["country"] == b"GB"
    assert view["timestamp"] == block_time(chain, receipt)
    assert events(receipt, credit, "TransferBatch") == [
        plain(operator=retirement, **{"from": holder}, to=ZERO_ADDRESS, ids=ids, values=amounts)
    ]
    assert events(receipt, retirement, "RetirementRecorded") == [recorded(1, holder, holder, ids, amounts, inp)]


def test_retire__same_id_listed_twice__both_amounts_retired(credit, retirement, holder, book):
    receipt = retirement.retire([book.a, book.a], [100, 200], retirement_input(), sender=holder)

    assert credit.balanceOf(holder, book.a) == 100_000 - 300
    assert credit.totalRetired(book.a) == 300
    assert certificate(retirement, 1)["totalAmount"] == 300
    assert events(receipt, retirement, "RetirementRecorded")[0]["amounts"] == [100, 200]


def test_retire__zero_beneficiary__certificate_to_retiring_account(retirement, holder, book):
    receipt = retirement.retire([book.a], [1], retirement_input(beneficiary=ZERO_ADDRESS), sender=holder)

    assert retirement.ownerOf(1) == holder.address
    assert certificate(retirement, 1)["beneficiary"] == plain(holder)
    assert events(receipt, retirement, "RetirementRecorded")[0]["beneficiary"] == plain(holder)


def test_retire__beneficiary_is_retiring_account__same_as_zero(retirement, holder, book):
    retirement.retire([book.a], [1], retirement_input(beneficiary=holder), sender=holder)
    assert certificate(retirement, 1)["beneficiary"] == certificate(retirement, 1)["retiringAccount"] == plain(holder)


def test_retire__successive_retirements__certificates_numbered_from_one(retirement, holder, other_holder, book):
    first = retirement.retire([book.a], [10], retirement_input(), sender=holder)
    second = retirement.retire([book.b], [20], retirement_input(beneficiary=other_holder), sender=holder)

    assert (first.return_value, second.return_value) == (1, 2)
    assert retirement.certificateCount() == 2
    assert (certificate(retirement, 1)["firstId"], certificate(retirement, 2)["firstId"]) == (book.a, book.b)
    assert (retirement.ownerOf(1), retirement.ownerOf(2)) == (holder.address, other_holder.address)


def test_retire__equal_period_bounds__accepted(retirement, holder, book):
    retirement.retire(
        [book.a], [1], retirement_input(periodStart=1_700_000_000, periodEnd=1_700_000_000), sender=holder
    )
    view = certificate(retirement, 1)
    assert (view["periodStart"], view["periodEnd"]) == (1_700_000_000, 1_700_000_000)


def test_retire__exactly_max_ids__accepted(credit, retirement, holder, book):
    receipt = retirement.retire([book.a] * MAX_IDS, [1] * MAX_IDS, retirement_input(), sender=holder)
    assert certificate(retirement, 1)["idCount"] == MAX_IDS
    assert certificate(retirement, 1)["totalAmount"] == MAX_IDS
    assert credit.totalRetired(book.a) == MAX_IDS
    assert len(events(receipt, retirement, "RetirementRecorded")[0]["ids"]) == MAX_IDS


# ------------------------------------------------------------------ retireFrom


def test_retire_from__approved_operator__retires_holders_credits_for_holder(
    credit, retirement, holder, other_holder, stranger, book
):
    credit.setApprovalForAll(stranger, True, sender=holder)
    inp = retirement_input(beneficiary=other_holder)

    receipt = retirement.retireFrom(holder, [book.a], [700], inp, sender=stranger)

    assert credit.balanceOf(holder, book.a) == 100_000 - 700
    assert credit.totalRetired(book.a) == 700
    view = certificate(retirement, receipt.return_value)
    assert (view["retiringAccount"], view["beneficiary"]) == (plain(holder), plain(other_holder))
    assert events(receipt, retirement, "RetirementRecorded") == [
        recorded(1, other_holder, holder, [book.a], [700], inp)
    ]


def test_retire_from__approved_operator_zero_beneficiary__certificate_to_holder(
    credit, retirement, holder, stranger, book
):
    credit.setApprovalForAll(stranger, True, sender=holder)
    retirement.retireFrom(holder, [book.a], [1], retirement_input(), sender=stranger)
    assert retirement.ownerOf(1) == holder.address
    assert retirement.balanceOf(stranger) == 0


def test_retire_from__holder_itself__needs_no_approval(credit, retirement, holder, book):
    retirement.retireFrom(holder, [book.a], [5], retirement_input(), sender=holder)
    assert credit.totalRetired(book.a) == 5
    assert certificate(retirement, 1)["retiringAccount"] == plain(holder)


@pytest.mark.parametrize("approval", ["never", "revoked", "given-to-another"])
def test_retire_from__operator_not_approved__reverts(
    credit, retirement, holder, other_holder, stranger, book, approval
):
    if approval == "revoked":
        credit.setApprovalForAll(stranger, True, sender=holder)
        credit.setApprovalForAll(stranger, False, sender=holder)
    elif approval == "given-to-another":
        credit.setApprovalForAll(other_holder, True, sender=holder)

    with reverts(retirement.RetirementOperatorNotApproved, holder=holder, operator=stranger):
        retirement.retireFrom(holder, [book.a], [1], retirement_input(), sender=stranger)
    assert credit.balanceOf(holder, book.a) == 100_000
    assert retirement.certificateCount() == 0


def test_retire_from__approved_operator_of_frozen_holder__reverts(
    credit, retirement, regulator, holder, stranger, book
):
    credit.setApprovalForAll(stranger, True, sender=holder)
    credit.setFrozen(holder, True, "sanctions", sender=regulator)
    with reverts(credit.CreditAccountFrozen, account=holder):
        retirement.retireFrom(holder, [book.a], [1], retirement_input(), sender=stranger)


# ------------------------------------------------------------------ issueAndRetire


def test_issue_and_retire__authorised_issuer__issued_equals_retired_and_no_balance(
    chain, credit, retirement, issuer, other_holder, book
):
    inp = retirement_input(beneficiary=other_holder, jurisdiction="FR-75")

    receipt = retirement.issueAndRetire(book.fresh, 2_500, order_ref(1), inp, sender=issuer)

    assert ledger(credit, book.fresh) == dict(issued=2_500, supply=0, retired=2_500, cancelled=0)
    assert credit.balanceOf(issuer, book.fresh) == 0
    assert credit.balanceOf(other_holder, book.fresh) == 0
    assert credit.exists(book.fresh)
    assert credit.isOrderReferenceUsed(project_of(book.fresh), order_ref(1))
    assert events(receipt, credit, "Issued") == [
        plain(id=book.fresh, to=ZERO_ADDRESS, issuer=issuer, amount=2_500, orderRef=order_ref(1))
    ]
    assert events(receipt, credit, "TransferSingle") == []  # no balance ever existed
    assert certificate(retirement, receipt.return_value) == plain(
        beneficiary=other_holder,
        retiringAccount=issuer,
        firstId=book.fresh,
        totalAmount=2_500,
        idCount=1,
        purpose=VOLUNTARY,
        timestamp=block_time(chain, receipt),
        periodStart=inp["periodStart"],
        periodEnd=inp["periodEnd"],
        country=b"FR",
    )
    assert events(receipt, retirement, "RetirementRecorded") == [
        recorded(1, other_holder, issuer, [book.fresh], [2_500], inp)
    ]
    assert events(receipt, retirement, "Locked") == [dict(tokenId=1)]


def test_issue_and_retire__stranger__refused_as_unauthorised_issuer(registry, credit, retirement, stranger, book):
    with reverts(registry.RegistryIssuerNotAuthorized, projectId=book.p, account=stranger):
        retirement.issueAndRetire(book.fresh, 1, ZERO_REF, retirement_input(), sender=stranger)
    assert credit.totalIssued(book.fresh) == 0


def test_issue_and_retire__issuer_of_another_project_only__refused(
    registry, credit, retirement, registrar, issuer, book
):
    registry.setProjectIssuer(book.p, issuer, False, sender=registrar)
    with reverts(registry.RegistryIssuerNotAuthorized, projectId=book.p, account=issuer):
        retirement.issueAndRetire(book.fresh, 1, ZERO_REF, retirement_input(), sender=issuer)
    # Still authorised for project q.
    retirement.issueAndRetire(book.c, 1, ZERO_REF, retirement_input(), sender=issuer)
    assert credit.totalRetired(book.c) == 1


def test_issue_and_retire__cap_shared_with_issuance__respected(credit, retirement, issuer, holder, book):
    credit.issue(book.fresh, holder, 4_000, ZERO_REF, sender=issuer)
    with reverts(credit.CreditIssuanceExceedsCap, id=book.fresh, requested=6_001, available=6_000):
        retirement.issueAndRetire(book.fresh, 6_001, ZERO_REF, retirement_input(), sender=issuer)

    retirement.issueAndRetire(book.fresh, 6_000, ZERO_REF, retirement_input(), sender=issuer)
    assert ledger(credit, book.fresh) == dict(issued=10_000, supply=4_000, retired=6_000, cancelled=0)
    # The retired part counts against the cap for ordinary issuance too.
    with reverts(credit.CreditIssuanceExceedsCap, id=book.fresh, requested=1, available=0):
        credit.issue(book.fresh, holder, 1, ZERO_REF, sender=issuer)


@pytest.mark.parametrize("first", ["issue", "issueAndRetire"])
def test_issue_and_retire__order_ref_replayed__reverts(credit, retirement, issuer, holder, book, first):
    if first == "issue":
        credit.issue(book.fresh, holder, 10, order_ref(5), sender=issuer)
    else:
        retirement.issueAndRetire(book.fresh, 10, order_ref(5), retirement_input(), sender=issuer)
    issued = credit.totalIssued(book.fresh)

    with reverts(credit.CreditOrderReferenceUsed, orderRef=order_ref(5)):
        retirement.issueAndRetire(book.fresh, 10, order_ref(5), retirement_input(), sender=issuer)
    with reverts(credit.CreditOrderReferenceUsed, orderRef=order_ref(5)):
        credit.issue(book.fresh, holder, 10, order_ref(5), sender=issuer)
    assert credit.totalIssued(book.fresh) == issued == 10


def test_issue_and_retire__zero_order_ref__may_repeat(credit, retirement, issuer, book):
    retirement.issueAndRetire(book.fresh, 10, ZERO_REF, retirement_input(), sender=issuer)
    retirement.issueAndRetire(book.fresh, 10, ZERO_REF, retirement_input(), sender=issuer)
    assert credit.totalRetired(book.fresh) == 20
    assert retirement.certificateCount() == 2


def test_issue_and_retire__zero_amount__reverts(credit, retirement, issuer, book):
    with reverts(credit.CreditZeroAmount, id=book.fresh):
        retirement.issueAndRetire(book.fresh, 0, ZERO_REF, retirement_input(), sender=issuer)


def test_issue_and_retire__unverified_batch__reverts(registry, credit, retirement, registrar, issuer, book):
    unverified = registry.addBatch(book.p, batch_input(3001, 3010), 3, sender=registrar).return_value
    with reverts(credit.CreditBatchNotOpen, id=unverified):
        retirement.issueAndRetire(unverified, 1, ZERO_REF, retirement_input(), sender=issuer)


def test_issue_and_retire__paused__reverts(credit, retirement, regulator, issuer, book):
    credit.pause(sender=regulator)
    with reverts(credit.CreditPaused):
        retirement.issueAndRetire(book.fresh, 1, ZERO_REF, retirement_input(), sender=issuer)
    assert credit.totalIssued(book.fresh) == 0


@pytest.mark.parametrize("status", [SUSPENDED, TERMINATED])
def test_issue_and_retire__restricted_project__reverts(registry, credit, retirement, registrar, issuer, book, status):
    registry.setProjectStatus(book.p, status, "audit", sender=registrar)
    with reverts(credit.CreditProjectRestricted, id=book.fresh, projectId=book.p):
        retirement.issueAndRetire(book.fresh, 1, ZERO_REF, retirement_input(), sender=issuer)
    assert credit.totalIssued(book.fresh) == 0


def test_issue_and_retire__invalid_input__nothing_issued(credit, retirement, issuer, book):
    with reverts(retirement.RetirementEmptyField, field="reason"):
        retirement.issueAndRetire(book.fresh, 1, order_ref(6), retirement_input(reason=""), sender=issuer)
    assert credit.totalIssued(book.fresh) == 0
    assert not credit.isOrderReferenceUsed(project_of(book.fresh), order_ref(6))


# ------------------------------------------------------------------ retirement references


def test_retirement_ref__reused__reverts_naming_first_certificate(credit, retirement, holder, other_holder, book):
    ref = order_ref(77)
    retirement.retire([book.a], [10], retirement_input(retirementRef=ref), sender=holder)
    assert retirement.certificateOfReference(holder, ref) == 1

    with reverts(retirement.RetirementReferenceUsed, retiringAccount=holder, retirementRef=ref, certificateId=1):
        retirement.retire([book.b], [10], retirement_input(retirementRef=ref), sender=holder)
    assert credit.totalRetired(book.a) == 10 and credit.totalRetired(book.b) == 0
    assert retirement.certificateCount() == 1


def test_retirement_ref__squatted_by_another_account__victim_still_retires(credit, retirement, holder, other_holder,
                                                                          book):  # fmt: skip
    ref = order_ref(79)
    # The attacker holds 1 kg and retires first with the victim's predictable reference.
    credit.safeTransferFrom(holder, other_holder, book.a, 1, b"", sender=holder)
    squat = retirement.retire([book.a], [1], retirement_input(retirementRef=ref), sender=other_holder).return_value
    assert retirement.certificateOfReference(other_holder, ref) == squat
    assert retirement.certificateOfReference(holder, ref) == 0

    mine = retirement.retire([book.a], [10], retirement_input(retirementRef=ref), sender=holder).return_value
    assert mine != squat
    assert retirement.certificateOfReference(holder, ref) == mine
    assert retirement.certificate(mine).retiringAccount == holder


def test_retirement_ref__used_by_issue_and_retire__scoped_to_the_issuer(retirement, issuer, holder, book):
    ref = order_ref(78)
    retirement.issueAndRetire(book.fresh, 10, ZERO_REF, retirement_input(retirementRef=ref), sender=issuer)
    # Scoped to the retiring account: the issuer's reference does not bind the holder ...
    retirement.retire([book.a], [10], retirement_input(retirementRef=ref), sender=holder)
    # ... but the issuer cannot use it twice.
    with reverts(retirement.RetirementReferenceUsed, retiringAccount=issuer, retirementRef=ref, certificateId=1):
        retirement.issueAndRetire(book.fresh, 10, ZERO_REF, retirement_input(retirementRef=ref), sender=issuer)


def test_retirement_ref__zero__repeatable_and_maps_to_nothing(retirement, holder, book):
    retirement.retire([book.a], [10], retirement_input(), sender=holder)
    retirement.retire([book.a], [10], retirement_input(), sender=holder)
    assert retirement.certificateCount() == 2
    assert retirement.certificateOfReference(holder, ZERO_REF) == 0


def test_certificate_of_reference__several_refs__each_maps_to_its_certificate(retirement, holder, book):
    retirement.retire([book.a], [1], retirement_input(retirementRef=order_ref(1)), sender=holder)
    retirement.retire([book.a], [1], retirement_input(), sender=holder)
    retirement.retire([book.a], [1], retirement_input(retirementRef=order_ref(2)), sender=holder)

    assert retirement.certificateOfReference(holder, order_ref(1)) == 1
    assert retirement.certificateOfReference(holder, order_ref(2)) == 3
    assert retirement.certificateOfReference(holder, order_ref(3)) == 0


def test_retirement_ref__failed_retirement__does_not_consume_it(retirement, holder, book):
    ref = order_ref(79)
    with reverts(retirement.RetirementEmptyField, field="beneficiaryName"):
        retirement.retire([book.a], [1], retirement_input(beneficiaryName="", retirementRef=ref), sender=holder)
    assert retirement.certificateOfReference(holder, ref) == 0
    retirement.retire([book.a], [1], retirement_input(retirementRef=ref), sender=holder)
    assert retirement.certificateOfReference(holder, ref) == 1


# ------------------------------------------------------------------ refusals by the token


def test_retire__more_than_balance__reverts(credit, retirement, holder, book):
    with reverts(credit.ERC1155InsufficientBalance, sender=holder, balance=5_000, needed=5_001, tokenId=book.b):
        retirement.retire([book.b], [5_001], retirement_input(), sender=holder)
    with reverts(credit.ERC1155InsufficientBalance, sender=holder, balance=5_000, needed=5_001, tokenId=book.b):
        retirement.retire([book.a, book.b], [1, 5_001], retirement_input(), sender=holder)
    assert credit.totalRetired(book.a) == credit.totalRetired(book.b) == 0
    assert retirement.certificateCount() == 0


def test_retire__account_without_credits__reverts(credit, retirement, stranger, book):
    with reverts(credit.ERC1155InsufficientBalance, sender=stranger, balance=0, needed=1, tokenId=book.a):
        retirement.retire([book.a], [1], retirement_input(), sender=stranger)


@pytest.mark.parametrize("amounts", [[0], [10, 0]])
def test_retire__zero_amount__reverts(credit, retirement, holder, book, amounts):
    ids = [book.a, book.b][: len(amounts)]
    with reverts(credit.CreditZeroAmount, id=ids[amounts.index(0)]):
        retirement.retire(ids, amounts, retirement_input(), sender=holder)
    assert credit.totalRetired(book.a) == 0


@pytest.mark.parametrize(("n_ids", "n_amounts"), [(0, 0), (2, 1), (1, 2), (0, 1)])
def test_retire__empty_or_mismatched_lists__reverts(credit, retirement, holder, book, n_ids, n_amounts):
    ids, amounts = [book.a, book.b][:n_ids], [10, 20][:n_amounts]
    with reverts(credit.CreditInvalidLists, ids=n_ids, amounts=n_amounts):
        retirement.retire(ids, amounts, retirement_input(), sender=holder)
    assert retirement.certificateCount() == 0


def test_retire__frozen_holder__reverts_until_unfrozen(credit, retirement, regulator, holder, book):
    credit.setFrozen(holder, True, "sanctions", sender=regulator)
    with reverts(credit.CreditAccountFrozen, account=holder):
        retirement.retire([book.a], [1], retirement_input(), sender=holder)

    credit.setFrozen(holder, False, "cleared", sender=regulator)
    retirement.retire([book.a], [1], retirement_input(), sender=holder)
    assert credit.totalRetired(book.a) == 1


def test_retire__frozen_beneficiary__still_receives_the_certificate(
    credit, retirement, regulator, holder, stranger, book
):
    # The freeze is about credits; a certificate is not one.
    credit.setFrozen(stranger, True, "sanctions", sender=regulator)
    retirement.retire([book.a], [1], retirement_input(beneficiary=stranger), sender=holder)
    assert retirement.ownerOf(1) == stranger.address


def test_retire__paused__reverts_until_unpaused(credit, retirement, regulator, holder, book):
    credit.pause(sender=regulator)
    with reverts(credit.CreditPaused):
        retirement.retire([book.a], [1], retirement_input(), sender=holder)
    assert retirement.certificateCount() == 0

    credit.unpause(sender=regulator)
    retirement.retire([book.a], [1], retirement_input(), sender=holder)
    assert credit.totalRetired(book.a) == 1


@pytest.mark.parametrize("status", [SUSPENDED, TERMINATED])
def test_retire__restricted_project__reverts(registry, credit, retirement, registrar, holder, book, status):
    registry.setProjectStatus(book.p, status, "investigation", sender=registrar)

    with reverts(credit.CreditProjectRestricted, id=book.a, projectId=book.p):
        retirement.retire([book.a], [1], retirement_input(), sender=holder)
    # A list mixing in a restricted id is refused as a whole.
    with reverts(credit.CreditProjectRestricted, id=book.b, projectId=book.p):
        retirement.retire([book.c, book.b], [1, 1], retirement_input(), sender=holder)
    assert credit.totalRetired(book.a) == credit.totalRetired(book.c) == 0

    # The other project is not affected.
    retirement.retire([book.c], [1], retirement_input(), sender=holder)
    assert credit.totalRetired(book.c) == 1


def test_retire__suspended_then_reapproved__retirable_again(registry, credit, retirement, registrar, holder, book):
    registry.setProjectStatus(book.p, SUSPENDED, "audit", sender=registrar)
    registry.setProjectStatus(book.p, 2, "audit closed", sender=registrar)
    retirement.retire([book.a], [1], retirement_input(), sender=holder)
    assert credit.totalRetired(book.a) == 1


@pytest.fixture(scope="module")
def allowed(permissioned_suite, registrar, verifier, issuer, compliance, holder):
    """Permissioned mode: `holder` on the allowlist with 1000 units of a verified batch."""
    credit = permissioned_suite.credit
    make = Factory(permissioned_suite.registry, credit, registrar, verifier, issuer, holder)
    token_id = make.batch(make.project())
    credit.setAllowed([holder], True, sender=compliance)
    credit.issue(token_id, holder, 1000, ZERO_REF, sender=issuer)
    return token_id


def test_permissioned__allowlisted_holder__retires(permissioned_suite, holder, allowed):
    retirement = permissioned_suite.retirement
    retirement.retire([allowed], [100], retirement_input(), sender=holder)
    assert permissioned_suite.credit.totalRetired(allowed) == 100
    assert retirement.ownerOf(1) == holder.address


def test_permissioned__holder_removed_from_allowlist__reverts(permissioned_suite, compliance, holder, allowed):
    credit, retirement = permissioned_suite.credit, permissioned_suite.retirement
    credit.setAllowed([holder], False, sender=compliance)
    with reverts(credit.CreditAccountNotAllowed, account=holder):
        retirement.retire([allowed], [100], retirement_input(), sender=holder)
    assert credit.totalRetired(allowed) == 0


def test_permissioned__issue_and_retire__no_holder_involved__accepted(permissioned_suite, issuer, allowed):
    # The issuer never holds the credits, so the allowlist has nothing to check.
    credit, retirement = permissioned_suite.credit, permissioned_suite.retirement
    retirement.issueAndRetire(allowed, 100, ZERO_REF, retirement_input(), sender=issuer)
    assert credit.totalRetired(allowed) == 100 and credit.balanceOf(issuer, allowed) == 0


# ------------------------------------------------------------------ input validation


@pytest.mark.parametrize("field", ["beneficiaryName", "reason"])
def test_retire__empty_required_text__reverts(credit, retirement, holder, book, field):
    with reverts(retirement.RetirementEmptyField, field=field):
        retirement.retire([book.a], [1], retirement_input(**{field: ""}), sender=holder)
    assert credit.totalRetired(book.a) == 0


@pytest.mark.parametrize(
    "jurisdiction",
    ["", "de", "D", "DEU", "US-", "US-CALIF", "U1", "1U", "us-CA", "US-ca", "US_CA", "US--C", "USA-C", "US-C-", "DE "],
)
def test_retire__invalid_jurisdiction__reverts(credit, retirement, holder, book, jurisdiction):
    with reverts(retirement.RetirementInvalidJurisdiction, jurisdiction=jurisdiction):
        retirement.retire([book.a], [1], retirement_input(jurisdiction=jurisdiction), sender=holder)
    assert credit.totalRetired(book.a) == 0


@pytest.mark.parametrize(
    ("jurisdiction", "country"),
    [("DE", b"DE"), ("US-CA", b"US"), ("GB-ENG", b"GB"), ("FR-75", b"FR"), ("JP-1", b"JP"), ("CN-A1B", b"CN")],
)
def test_retire__valid_jurisdiction__country_is_its_first_two_letters(retirement, holder, book, jurisdiction, country):
    receipt = retirement.retire([book.a], [1], retirement_input(jurisdiction=jurisdiction), sender=holder)
    assert certificate(retirement, 1)["country"] == country
    assert events(receipt, retirement, "RetirementRecorded")[0]["jurisdiction"] == jurisdiction


@pytest.mark.parametrize(("start", "end"), [(1_700_000_001, 1_700_000_000), (2**40 - 1, 0)])
def test_retire__period_ends_before_it_starts__reverts(credit, retirement, holder, book, start, end):
    with reverts(retirement.RetirementInvalidPeriod, periodStart=start, periodEnd=end):
        retirement.retire([book.a], [1], retirement_input(periodStart=start, periodEnd=end), sender=holder)
    assert credit.totalRetired(book.a) == 0


@pytest.mark.parametrize("end", [2**32, 2**40 - 1])
def test_retire__period_ends_after_32_bit_seconds__reverts(credit, retirement, holder, book, end):
    # The certificate keeps seconds in 32 bits (until 2106): a later end would be stored truncated.
    with reverts(retirement.RetirementInvalidPeriod, periodStart=0, periodEnd=end):
        retirement.retire([book.a], [1], retirement_input(periodStart=0, periodEnd=end), sender=holder)
    assert credit.totalRetired(book.a) == 0


def test_retire__period_ends_at_last_32_bit_second__stored_exactly(retirement, holder, book):
    retirement.retire([book.a], [1], retirement_input(periodStart=2**32 - 2, periodEnd=2**32 - 1), sender=holder)
    view = certificate(retirement, 1)
    assert (view["periodStart"], view["periodEnd"]) == (2**32 - 2, 2**32 - 1)


@pytest.fixture(scope="module")
def huge(registry, credit, registrar, verifier, issuer, holder) -> int:
    """A batch of 281,474,976,711 t (more than 2^48 units), 2^48 units of it held by `holder`."""
    make = Factory(registry, credit, registrar, verifier, issuer, holder)
    token_id = make.batch(make.project(), 1, 281_474_976_711, ref="ISS-HUGE")
    credit.issue(token_id, holder, 2**48, ZERO_REF, sender=issuer)
    return token_id


def test_retire__total_above_certificate_maximum__reverts(credit, retirement, holder, huge):
    maximum = retirement.MAX_CERTIFICATE_UNITS()
    assert maximum == 2**48 - 1
    with reverts(retirement.RetirementAmountTooLarge, total=2**48, max=maximum):
        retirement.retire([huge, huge], [2**47, 2**47], retirement_input(), sender=holder)
    assert credit.totalRetired(huge) == 0
    assert credit.balanceOf(holder, huge) == 2**48


def test_retire__total_at_certificate_maximum__recorded_exactly(credit, retirement, holder, huge):
    retirement.retire([huge], [2**48 - 1], retirement_input(), sender=holder)
    view = certificate(retirement, 1)
    assert (view["firstId"], view["totalAmount"]) == (huge, 2**48 - 1)
    assert credit.totalRetired(huge) == 2**48 - 1


def test_retire__operator_for_holder_with_third_party_beneficiary__retiring_account_stored(
    credit, retirement, holder, other_holder, stranger, book
):
    # The retiring account takes its own slot only when it is not the beneficiary; it must still read back.
    credit.setApprovalForAll(other_holder, True, sender=holder)
    retirement.retireFrom(holder, [book.a], [5], retirement_input(beneficiary=stranger.address), sender=other_holder)
    view = certificate(retirement, 1)
    assert (view["beneficiary"], view["retiringAccount"]) == (plain(stranger), plain(holder))


def test_retire__more_than_max_ids__reverts(credit, retirement, holder, book):
    n = MAX_IDS + 1
    with reverts(retirement.RetirementTooManyIds, count=n, max=MAX_IDS):
        retirement.retire([book.a] * n, [1] * n, retirement_input(), sender=holder)
    assert credit.totalRetired(book.a) == 0
    assert credit.balanceOf(holder, book.a) == 100_000


# ------------------------------------------------------------------ compliance hook
# The shared suite binds its CompliancePeriods module at deploy time (tests/unit/compliance/test_compliance_periods.py
# covers surrenders through it); the hook itself is tested here on a suite deployed without one, with the
# `compliance` account bound in its place.


@dataclass
class Hookless:
    credit: object
    retirement: object
    token_id: int  # `holder` holds 100,000 units


@pytest.fixture(scope="module")
def hookless(hookless_suite, registrar, verifier, issuer, holder) -> Hookless:
    suite = hookless_suite
    make = Factory(suite.registry, suite.credit, registrar, verifier, issuer, holder)
    token_id = make.issued(holder, tonnes=100)
    return Hookless(suite.credit, suite.retirement, token_id)


def test_shared_suite__compliance_hook__bound_to_compliance_periods(retirement, periods, admin):
    assert periods.retirement() == retirement.address
    with reverts(retirement.RetirementComplianceAlreadyBound, current=periods):
        retirement.bindCompliance(admin, sender=admin)


def test_retire_for_compliance__nothing_bound__refused(compliance, holder, hookless):
    retirement = hookless.retirement
    with reverts(retirement.RetirementCallerNotCompliance, caller=compliance):
        retirement.retireForCompliance(holder, holder, [hookless.token_id], [1], retirement_input(), sender=compliance)


def test_retire_for_compliance__bound_module__retires_with_compliance_purpose(admin, compliance, holder, hookless):
    credit, retirement, token_id = hookless.credit, hookless.retirement, hookless.token_id
    bound = retirement.bindCompliance(compliance, sender=admin)
    assert events(bound, retirement, "ComplianceBound") == [plain(compliance=compliance)]
    inp = retirement_input()

    receipt = retirement.retireForCompliance(holder, holder, [token_id], [3_000], inp, sender=compliance)

    assert credit.balanceOf(holder, token_id) == 100_000 - 3_000
    assert credit.totalRetired(token_id) == 3_000
    view = certificate(retirement, 1)
    assert (view["purpose"], view["retiringAccount"], view["beneficiary"]) == (COMPLIANCE, plain(holder), plain(holder))
    assert events(receipt, retirement, "RetirementRecorded") == [
        recorded(1, holder, holder, [token_id], [3_000], inp, purpose=COMPLIANCE)
    ]


@pytest.mark.parametrize("caller", ["stranger", "holder", "admin"])
def test_retire_for_compliance__not_the_bound_module__refused(admin, compliance, holder, stranger, hookless, caller):
    retirement = hookless.retirement
    retirement.bindCompliance(compliance, sender=admin)
    account = {"stranger": stranger, "holder": holder, "admin": admin}[caller]
    with reverts(retirement.RetirementCallerNotCompliance, caller=account):
        retirement.retireForCompliance(holder, holder, [hookless.token_id], [1], retirement_input(), sender=account)
    assert retirement.certificateCount() == 0


def test_bind_compliance__twice__reverts(admin, compliance, stranger, hookless):
    retirement = hookless.retirement
    retirement.bindCompliance(compliance, sender=admin)
    with reverts(retirement.RetirementComplianceAlreadyBound, current=compliance):
        retirement.bindCompliance(stranger, sender=admin)
    with reverts(retirement.RetirementComplianceAlreadyBound, current=compliance):
        retirement.bindCompliance(compliance, sender=admin)


def test_bind_compliance__zero_address__reverts(admin, compliance, holder, hookless):
    retirement = hookless.retirement
    with reverts(retirement.RetirementComplianceAlreadyBound, current=ZERO_ADDRESS):
        retirement.bindCompliance(ZERO_ADDRESS, sender=admin)
    # Still unbound: a real module can be bound afterwards.
    retirement.bindCompliance(compliance, sender=admin)
    retirement.retireForCompliance(holder, holder, [hookless.token_id], [1], retirement_input(), sender=compliance)


def test_bind_compliance__stranger__refused(stranger, hookless):
    retirement = hookless.retirement
    with reverts(retirement.AccessControlUnauthorizedAccount, account=stranger, neededRole=b"\x00" * 32):
        retirement.bindCompliance(stranger, sender=stranger)


# ------------------------------------------------------------------ the token's retirement entry points


@pytest.mark.parametrize("caller", ["stranger", "holder", "admin"])
def test_token_retire__called_directly__refused(credit, admin, holder, stranger, book, caller):
    account = {"stranger": stranger, "holder": holder, "admin": admin}[caller]
    with reverts(credit.CreditCallerNotRetirement, caller=account):
        credit.retire(holder, holder, [book.a], [1], sender=account)
    assert credit.balanceOf(holder, book.a) == 100_000


@pytest.mark.parametrize("caller", ["stranger", "issuer"])
def test_token_issue_retired__called_directly__refused(credit, issuer, stranger, book, caller):
    account = issuer if caller == "issuer" else stranger
    with reverts(credit.CreditCallerNotRetirement, caller=account):
        credit.issueRetired(account, book.fresh, 1, ZERO_REF, sender=account)
    assert credit.totalIssued(book.fresh) == 0


@pytest.mark.parametrize("new", ["stranger", "zero"])
def test_bind_retirement__already_bound__reverts(credit, retirement, admin, stranger, new):
    target = stranger if new == "stranger" else ZERO_ADDRESS
    with reverts(credit.CreditRetirementAlreadyBound, current=retirement):
        credit.bindRetirement(target, sender=admin)
    assert credit.retirement() == retirement.address


def test_bind_retirement__fresh_token__zero_refused_then_binds_once(project, registry, admin, stranger):
    token = project.CarbonCredit.deploy(registry, False, "", 0, admin, sender=admin)
    assert token.retirement() == ZERO_ADDRESS
    with reverts(token.CreditRetirementAlreadyBound, current=ZERO_ADDRESS):
        token.bindRetirement(ZERO_ADDRESS, sender=admin)

    receipt = token.bindRetirement(stranger, sender=admin)
    assert events(receipt, token, "RetirementBound") == [plain(retirement=stranger)]
    assert token.retirement() == stranger.address
    with reverts(token.CreditRetirementAlreadyBound, current=stranger):
        token.bindRetirement(admin, sender=admin)


def test_bind_retirement__stranger__refused(credit, stranger):
    with reverts(credit.AccessControlUnauthorizedAccount, account=stranger, neededRole=b"\x00" * 32):
        credit.bindRetirement(stranger, sender=stranger)


def test_retire_from__frozen_operator__reverts(credit, retirement, regulator, holder, stranger, book):
    credit.setApprovalForAll(stranger, True, sender=holder)
    credit.setFrozen(stranger, True, "sanctions", sender=regulator)
    with reverts(credit.CreditAccountFrozen, account=stranger):
        retirement.retireFrom(holder, [book.a], [1], retirement_input(beneficiary=stranger), sender=stranger)
    assert retirement.certificateCount() == 0


def test_permissioned__operator_not_allowlisted__retire_from_reverts(permissioned_suite, holder, stranger, allowed):
    credit, retirement = permissioned_suite.credit, permissioned_suite.retirement
    credit.setApprovalForAll(stranger, True, sender=holder)
    with reverts(credit.CreditAccountNotAllowed, account=stranger):
        retirement.retireFrom(holder, [allowed], [1], retirement_input(beneficiary=stranger), sender=stranger)


def test_issue_and_retire__frozen_issuer__reverts_nothing_issued(credit, retirement, regulator, issuer, book):
    credit.setFrozen(issuer, True, "sanctions", sender=regulator)
    with reverts(credit.CreditAccountFrozen, account=issuer):
        retirement.issueAndRetire(book.fresh, 10, order_ref(81), retirement_input(), sender=issuer)
    assert (credit.totalIssued(book.fresh), credit.totalRetired(book.fresh)) == (0, 0)
    assert retirement.certificateCount() == 0
    credit.setFrozen(issuer, False, "cleared", sender=regulator)
    retirement.issueAndRetire(book.fresh, 10, order_ref(81), retirement_input(), sender=issuer)
    assert credit.totalRetired(book.fresh) == 10


def test_retire_from__frozen_operator_unfrozen__retires(credit, retirement, regulator, holder, stranger, book):
    credit.setApprovalForAll(stranger, True, sender=holder)
    credit.setFrozen(stranger, True, "sanctions", sender=regulator)
    credit.setFrozen(stranger, False, "cleared", sender=regulator)
    certificate_id = retirement.retireFrom(holder, [book.a], [1], retirement_input(), sender=stranger).return_value
    assert retirement.certificate(certificate_id).retiringAccount == holder


# ------------------------------------------------------------------ retireBatch: many retirements, one transaction


def entry(ids, amounts, inp, holder=ZERO_ADDRESS) -> dict:
    """One RetirementRequest of a retireBatch call."""
    return dict(holder=holder, ids=ids, amounts=amounts, input=inp)


def nothing_retired(credit, retirement, book) -> bool:
    return retirement.certificateCount() == 0 and all(credit.totalRetired(i) == 0 for i in (book.a, book.b, book.c))


def test_retire_batch__three_entries__each_its_own_certificate_reference_and_event(
    chain, credit, retirement, holder, other_holder, stranger, book
):
    credit.setApprovalForAll(stranger, True, sender=holder)
    first = retirement_input(retirementRef=order_ref(1))
    second = retirement_input(beneficiary=other_holder, jurisdiction="US-CA", retirementRef=order_ref(2))
    third = retirement_input(jurisdiction="GB-ENG", retirementRef=order_ref(3))
    requests = [
        entry([book.a], [100], first, holder=holder),  # the holder named explicitly: retireFrom's path
        entry([book.b, book.c], [20, 30], second, holder=holder),
        entry([book.a], [5], third, holder=holder),
    ]

    receipt = retirement.retireBatch(requests, sender=stranger)

    assert receipt.return_value == 1
    assert retirement.certificateCount() == 3
    assert credit.balanceOf(holder, book.a) == 100_000 - 105
    assert (credit.totalRetired(book.a), credit.totalRetired(book.b), credit.totalRetired(book.c)) == (105, 20, 30)
    assert [retirement.certificateOfReference(holder, order_ref(n)) for n in (1, 2, 3)] == [1, 2, 3]
    assert retirement.certificateOfReference(stranger, order_ref(1)) == 0  # the holder's references, not the caller's
    assert [retirement.ownerOf(n) for n in (1, 2, 3)] == [holder.address, other_holder.address, holder.address]
    assert certificate(retirement, 2) == plain(
        beneficiary=other_holder,
        retiringAccount=holder,
        firstId=book.b,
        totalAmount=50,
        idCount=2,
        purpose=VOLUNTARY,
        timestamp=block_time(chain, receipt),
        periodStart=second["periodStart"],
        periodEnd=second["periodEnd"],
        country=b"US",
    )
    assert events(receipt, retirement, "RetirementRecorded") == [
        recorded(1, holder, holder, [book.a], [100], first),
        recorded(2, other_holder, holder, [book.b, book.c], [20, 30], second),
        recorded(3, holder, holder, [book.a], [5], third),
    ]
    assert events(receipt, retirement, "Locked") == [dict(tokenId=n) for n in (1, 2, 3)]


def test_retire_batch__zero_holder__the_callers_own_credits_as_retire(credit, retirement, holder, book):
    retirement.retire([book.a], [1], retirement_input(), sender=holder)  # certificate 1
    receipt = retirement.retireBatch(
        [entry([book.a], [10], retirement_input()), entry([book.b], [10], retirement_input())], sender=holder
    )
    assert receipt.return_value == 2  # the first certificate of the batch; the second is 3
    assert [retirement.certificate(n).retiringAccount for n in (2, 3)] == [holder.address] * 2
    assert credit.totalRetired(book.a) == 11 and credit.totalRetired(book.b) == 10


def test_retire_batch__empty__reverts(retirement, holder):
    with reverts(retirement.RetirementBatchEmpty):
        retirement.retireBatch([], sender=holder)


def test_retire_batch__reference_repeated_inside_the_batch__whole_batch_reverts_naming_the_first(
    credit, retirement, holder, book
):
    ref = order_ref(5)
    requests = [
        entry([book.a], [10], retirement_input(retirementRef=ref)),
        entry([book.b], [10], retirement_input(retirementRef=order_ref(6))),
        entry([book.c], [10], retirement_input(retirementRef=ref)),
    ]
    # Certificate 1 is the batch's first entry, which the revert then undoes with everything else.
    with reverts(retirement.RetirementReferenceUsed, retiringAccount=holder, retirementRef=ref, certificateId=1):
        retirement.retireBatch(requests, sender=holder)
    assert nothing_retired(credit, retirement, book)
    assert retirement.certificateOfReference(holder, ref) == 0
    assert retirement.certificateOfReference(holder, order_ref(6)) == 0


def test_retire_batch__reference_used_by_an_earlier_batch_or_retire__reverts_naming_its_certificate(
    credit, retirement, holder, book
):
    retirement.retireBatch([entry([book.a], [10], retirement_input(retirementRef=order_ref(7)))], sender=holder)
    retirement.retire([book.a], [10], retirement_input(retirementRef=order_ref(8)), sender=holder)
    for used, certificate_id in ((order_ref(7), 1), (order_ref(8), 2)):
        fresh = entry([book.b], [1], retirement_input(retirementRef=order_ref(9)))
        with reverts(
            retirement.RetirementReferenceUsed, retiringAccount=holder, retirementRef=used, certificateId=certificate_id
        ):
            retirement.retireBatch([fresh, entry([book.b], [1], retirement_input(retirementRef=used))], sender=holder)
    # A batch's reference binds a later single retire too.
    with reverts(
        retirement.RetirementReferenceUsed, retiringAccount=holder, retirementRef=order_ref(7), certificateId=1
    ):
        retirement.retire([book.b], [1], retirement_input(retirementRef=order_ref(7)), sender=holder)
    assert credit.totalRetired(book.b) == 0 and retirement.certificateCount() == 2


@pytest.mark.parametrize("bad", ["empty name", "bad jurisdiction", "bad period", "zero amount", "over balance"])
def test_retire_batch__one_bad_row__nothing_retired_and_its_error(credit, retirement, holder, book, bad):
    good = [entry([book.a], [10], retirement_input(retirementRef=order_ref(n))) for n in (1, 2, 3)]
    row = {
        "empty name": entry([book.a], [10], retirement_input(beneficiaryName="")),
        "bad jurisdiction": entry([book.a], [10], retirement_input(jurisdiction="Germany")),
        "bad period": entry([book.a], [10], retirement_input(periodStart=20, periodEnd=10)),
        "zero amount": entry([book.a, book.b], [10, 0], retirement_input()),
        "over balance": entry([book.b], [5_001], retirement_input()),
    }[bad]
    error = {
        "empty name": (retirement.RetirementEmptyField, dict(field="beneficiaryName")),
        "bad jurisdiction": (retirement.RetirementInvalidJurisdiction, dict(jurisdiction="Germany")),
        "bad period": (retirement.RetirementInvalidPeriod, dict(periodStart=20, periodEnd=10)),
        "zero amount": (credit.CreditZeroAmount, dict(id=book.b)),
        "over balance": (
            credit.ERC1155InsufficientBalance,
            dict(sender=holder, balance=5_000, needed=5_001, tokenId=book.b),
        ),
    }[bad]
    with reverts(error[0], **error[1]):
        retirement.retireBatch([good[0], good[1], row, good[2]], sender=holder)
    assert nothing_retired(credit, retirement, book)
    assert all(retirement.certificateOfReference(holder, order_ref(n)) == 0 for n in (1, 2, 3))


def test_retire_batch__balance_spent_by_an_earlier_entry__reverts(credit, retirement, holder, book):
    # Each entry alone fits the 5,000 units held; together they do not: entries run in order on the live state.
    with reverts(credit.ERC1155InsufficientBalance, sender=holder, balance=1_000, needed=4_001, tokenId=book.b):
        retirement.retireBatch(
            [entry([book.b], [4_000], retirement_input()), entry([book.b], [4_001], retirement_input())], sender=holder
        )
    assert nothing_retired(credit, retirement, book)


def test_retire_batch__stranger_names_a_holder_who_did_not_approve__reverts(credit, retirement, holder, stranger, book):
    mine = entry([book.a], [1], retirement_input(retirementRef=order_ref(1)))  # the stranger holds nothing: never run
    theirs = entry([book.a], [10], retirement_input(retirementRef=order_ref(2)), holder=holder)
    with reverts(retirement.RetirementOperatorNotApproved, holder=holder, operator=stranger):
        retirement.retireBatch([theirs, mine], sender=stranger)
    assert nothing_retired(credit, retirement, book)
    assert retirement.certificateOfReference(holder, order_ref(2)) == 0


def test_retire_batch__another_account_uses_my_reference__scoped_victim_still_retires(
    credit, retirement, holder, other_holder, book
):
    ref = order_ref(42)
    credit.safeTransferFrom(holder, other_holder, book.a, 2, b"", sender=holder)
    squat = retirement.retireBatch(
        [entry([book.a], [1], retirement_input(retirementRef=ref)), entry([book.a], [1], retirement_input())],
        sender=other_holder,
    ).return_value
    assert retirement.certificateOfReference(other_holder, ref) == squat
    assert retirement.certificateOfReference(holder, ref) == 0

    mine = retirement.retireBatch([entry([book.a], [10], retirement_input(retirementRef=ref))], sender=holder)
    assert retirement.certificateOfReference(holder, ref) == mine.return_value == squat + 2
    assert retirement.certificate(mine.return_value).retiringAccount == holder.address


def test_retire_batch__frozen_holder_in_any_entry__reverts_until_unfrozen(
    credit, retirement, regulator, holder, other_holder, book
):
    credit.safeTransferFrom(holder, other_holder, book.a, 10, b"", sender=holder)
    credit.setApprovalForAll(holder, True, sender=other_holder)
    requests = [
        entry([book.a], [10], retirement_input()),
        entry([book.a], [10], retirement_input(), holder=other_holder),
    ]
    credit.setFrozen(other_holder, True, "sanctions", sender=regulator)
    with reverts(credit.CreditAccountFrozen, account=other_holder):
        retirement.retireBatch(requests, sender=holder)
    assert retirement.certificateCount() == 0 and credit.totalRetired(book.a) == 0

    credit.setFrozen(other_holder, False, "cleared", sender=regulator)
    retirement.retireBatch(requests, sender=holder)
    assert credit.totalRetired(book.a) == 20 and retirement.certificateCount() == 2


def test_retire_batch__frozen_operator__refused_for_another_holders_credits(
    credit, retirement, regulator, holder, stranger, book
):
    credit.setApprovalForAll(stranger, True, sender=holder)
    credit.setFrozen(stranger, True, "sanctions", sender=regulator)
    with reverts(credit.CreditAccountFrozen, account=stranger):
        retirement.retireBatch([entry([book.a], [10], retirement_input(), holder=holder)], sender=stranger)
    assert nothing_retired(credit, retirement, book)


def test_retire_batch__paused__reverts(credit, retirement, regulator, holder, book):
    credit.pause(sender=regulator)
    with reverts(credit.CreditPaused):
        retirement.retireBatch([entry([book.a], [1], retirement_input())], sender=holder)
    assert nothing_retired(credit, retirement, book)


def test_retire_batch__restricted_project_in_one_entry__reverts(registry, credit, retirement, registrar, holder, book):
    registry.setProjectStatus(book.q, SUSPENDED, "audit", sender=registrar)
    with reverts(credit.CreditProjectRestricted, id=book.c, projectId=book.q):
        retirement.retireBatch(
            [entry([book.a], [1], retirement_input()), entry([book.c], [1], retirement_input())], sender=holder
        )
    assert nothing_retired(credit, retirement, book)


def test_retire_batch__entry_with_too_many_ids__reverts(credit, retirement, holder, book):
    ids, amounts = [book.a] * (MAX_IDS + 1), [1] * (MAX_IDS + 1)
    with reverts(retirement.RetirementTooManyIds, count=MAX_IDS + 1, max=MAX_IDS):
        retirement.retireBatch([entry([book.a], [1], retirement_input()), entry(ids, amounts, retirement_input())],
                               sender=holder)  # fmt: skip
    assert nothing_retired(credit, retirement, book)


def test_permissioned__retire_batch__holder_off_the_allowlist__reverts(permissioned_suite, compliance, holder, allowed):
    credit, retirement = permissioned_suite.credit, permissioned_suite.retirement
    retirement.retireBatch([entry([allowed], [100], retirement_input())], sender=holder)
    credit.setAllowed([holder], False, sender=compliance)
    with reverts(credit.CreditAccountNotAllowed, account=holder):
        retirement.retireBatch([entry([allowed], [100], retirement_input())], sender=holder)
    assert credit.totalRetired(allowed) == 100 and retirement.certificateCount() == 1
