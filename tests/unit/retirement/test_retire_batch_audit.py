"""The outside audit of retireBatch: its proof-of-concept tests, one per suspicion. Each asserts the safe
behaviour, so it fails if the problem is real. Many-retirement transactions against the single paths, references,
approvals, token rules, compliance accounting, empty and zero entries, re-entrancy and certificate numbering."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from support import (
    ZERO_ADDRESS,
    ZERO_REF,
    Factory,
    compliance_period,
    events,
    order_ref,
    retirement_input,
    reverts,
)

pytestmark = pytest.mark.usefixtures(
    "chain",
    "project",
    "admin",
    "regulator",
    "compliance",
    "period_regulator",
    "periods",
    "permissioned_suite",
    "other_holder",
    "stranger",
)

VOLUNTARY, COMPLIANCE = 0, 1


@dataclass
class Book:
    """Project p, batch a: `holder` holds 100,000 units, `other_holder` 10,000. Batch b: `holder` 5,000."""

    p: int
    a: int
    b: int


@pytest.fixture(scope="module")
def book(registry, credit, retirement, registrar, verifier, issuer, holder, other_holder) -> Book:
    make = Factory(registry, credit, registrar, verifier, issuer, holder)
    p = make.project()
    a = make.batch(p, 1, 1000)
    b = make.batch(p, 1001, 1010, prev=1)
    credit.issueMany(
        [
            dict(id=a, to=holder, amount=100_000, orderRef=ZERO_REF),
            dict(id=a, to=other_holder, amount=10_000, orderRef=ZERO_REF),
            dict(id=b, to=holder, amount=5_000, orderRef=ZERO_REF),
        ],
        sender=issuer,
    )
    return Book(p=p, a=a, b=b)


def entry(ids, amounts, inp, holder=ZERO_ADDRESS) -> dict:
    return dict(holder=holder, ids=ids, amounts=amounts, input=inp)


def ref_input(n: int, **overrides) -> dict:
    return retirement_input(retirementRef=order_ref(n), **overrides)


# ------------------------------------------------------------------ references across the five paths


def test_audit__batch_reference_binds_retire_from_and_retire_of_the_same_holder(credit, retirement, holder, stranger,
                                                                                 book):  # fmt: skip
    credit.setApprovalForAll(stranger, True, sender=holder)
    first = retirement.retireBatch([entry([book.a], [1], ref_input(1), holder=holder)], sender=stranger).return_value
    with reverts(retirement.RetirementReferenceUsed, retiringAccount=holder, retirementRef=order_ref(1),
                 certificateId=first):  # fmt: skip
        retirement.retireFrom(holder, [book.a], [1], ref_input(1), sender=stranger)
    with reverts(retirement.RetirementReferenceUsed, retiringAccount=holder, retirementRef=order_ref(1),
                 certificateId=first):  # fmt: skip
        retirement.retire([book.a], [1], ref_input(1), sender=holder)
    # ... and a reference of retireFrom binds a batch entry where the holder is the caller (zero holder)
    second = retirement.retireFrom(holder, [book.a], [1], ref_input(2), sender=stranger).return_value
    with reverts(retirement.RetirementReferenceUsed, retiringAccount=holder, retirementRef=order_ref(2),
                 certificateId=second):  # fmt: skip
        retirement.retireBatch([entry([book.a], [1], ref_input(2))], sender=holder)
    assert credit.totalRetired(book.a) == 2


def test_audit__issue_and_retire_reference__binds_the_issuers_batch_entries_only(credit, retirement, issuer, holder,
                                                                                  book):  # fmt: skip
    cid = retirement.issueAndRetire(book.a, 5, ZERO_REF, ref_input(3), sender=issuer).return_value
    credit.safeTransferFrom(holder, issuer, book.a, 10, b"", sender=holder)
    with reverts(retirement.RetirementReferenceUsed, retiringAccount=issuer, retirementRef=order_ref(3),
                 certificateId=cid):  # fmt: skip
        retirement.retireBatch([entry([book.a], [1], ref_input(3))], sender=issuer)
    # The holder's namespace is untouched by the issuer's reference.
    assert retirement.retireBatch([entry([book.a], [1], ref_input(3))], sender=holder).return_value == cid + 1


def test_audit__same_reference_for_two_holders_in_one_batch__both_certified(credit, retirement, holder, other_holder,
                                                                             book):  # fmt: skip
    credit.setApprovalForAll(holder, True, sender=other_holder)
    receipt = retirement.retireBatch(
        [entry([book.a], [1], ref_input(4)), entry([book.a], [1], ref_input(4), holder=other_holder)], sender=holder
    )
    first = receipt.return_value
    assert retirement.certificateOfReference(holder, order_ref(4)) == first
    assert retirement.certificateOfReference(other_holder, order_ref(4)) == first + 1


def test_audit__zero_holder_and_explicit_caller_holder__same_reference_namespace(retirement, holder, book):
    first = retirement.retireBatch([entry([book.a], [1], ref_input(5))], sender=holder).return_value
    with reverts(retirement.RetirementReferenceUsed, retiringAccount=holder, retirementRef=order_ref(5),
                 certificateId=first):  # fmt: skip
        retirement.retireBatch([entry([book.a], [1], ref_input(5), holder=holder)], sender=holder)


# ------------------------------------------------------------------ approvals: nobody else's reference or credits


def test_audit__stranger_cannot_burn_a_reference_of_a_holder_who_approved_someone_else(
    credit, retirement, holder, other_holder, stranger, book
):
    credit.setApprovalForAll(other_holder, True, sender=holder)  # approved another operator, not the stranger
    with reverts(retirement.RetirementOperatorNotApproved, holder=holder, operator=stranger):
        retirement.retireBatch([entry([book.a], [1], ref_input(6), holder=holder)], sender=stranger)
    assert retirement.certificateOfReference(holder, order_ref(6)) == 0
    assert credit.balanceOf(holder, book.a) == 100_000


def test_audit__approval_checked_per_entry__second_unapproving_holder_reverts_all(
    credit, retirement, holder, other_holder, stranger, book
):
    credit.setApprovalForAll(stranger, True, sender=holder)  # holder approved; other_holder did not
    with reverts(retirement.RetirementOperatorNotApproved, holder=other_holder, operator=stranger):
        retirement.retireBatch(
            [
                entry([book.a], [1], ref_input(7), holder=holder),
                entry([book.a], [1], ref_input(8), holder=other_holder),
            ],
            sender=stranger,
        )
    assert credit.totalRetired(book.a) == 0 and retirement.certificateCount() == 0


def test_audit__approval_revoked__batch_refused(credit, retirement, holder, stranger, book):
    credit.setApprovalForAll(stranger, True, sender=holder)
    credit.setApprovalForAll(stranger, False, sender=holder)
    with reverts(retirement.RetirementOperatorNotApproved, holder=holder, operator=stranger):
        retirement.retireBatch([entry([book.a], [1], retirement_input(), holder=holder)], sender=stranger)


# ------------------------------------------------------------------ token rules


def test_permissioned__audit_operator_off_the_allowlist__batch_refused(
    permissioned_suite, registrar, verifier, issuer, compliance, holder, stranger
):
    s = permissioned_suite
    make = Factory(s.registry, s.credit, registrar, verifier, issuer, holder)
    token_id = make.batch(make.project())
    s.credit.setAllowed([holder], True, sender=compliance)
    s.credit.issue(token_id, holder, 1_000, ZERO_REF, sender=issuer)
    s.credit.setApprovalForAll(stranger, True, sender=holder)
    with reverts(s.credit.CreditAccountNotAllowed, account=stranger):
        s.retirement.retireBatch([entry([token_id], [1], retirement_input(), holder=holder)], sender=stranger)
    assert s.credit.totalRetired(token_id) == 0


def test_audit__frozen_beneficiary__certificate_still_minted_as_in_retire(credit, retirement, regulator, holder,
                                                                          other_holder, book):  # fmt: skip
    # Info: the certificate is not a credit; the single path does the same (test_retire__frozen_beneficiary__...).
    credit.setFrozen(other_holder, True, "sanctions", sender=regulator)
    cid = retirement.retireBatch(
        [entry([book.a], [1], retirement_input(beneficiary=other_holder))], sender=holder
    ).return_value
    assert retirement.ownerOf(cid) == other_holder.address


def test_audit__paused_then_unpaused__batch_refused_then_accepted(credit, retirement, regulator, holder, book):
    credit.pause(sender=regulator)
    with reverts(credit.CreditPaused):
        retirement.retireBatch([entry([book.a], [1], ref_input(9))], sender=holder)
    credit.unpause(sender=regulator)
    retirement.retireBatch([entry([book.a], [1], ref_input(9))], sender=holder)
    assert credit.totalRetired(book.a) == 1


# ------------------------------------------------------------------ empty, zero and spent entries


@pytest.mark.parametrize(("ids", "amounts"), [([], []), ("a", []), ([], [1]), ("a", [1, 1])])
def test_audit__entry_with_empty_or_mismatched_lists__whole_batch_reverts(credit, retirement, holder, book, ids,
                                                                          amounts):  # fmt: skip
    ids = [book.a] if ids == "a" else ids
    with reverts(credit.CreditInvalidLists, ids=len(ids), amounts=len(amounts)):
        retirement.retireBatch(
            [entry([book.a], [1], ref_input(10)), entry(ids, amounts, retirement_input())], sender=holder
        )
    assert retirement.certificateCount() == 0 and retirement.certificateOfReference(holder, order_ref(10)) == 0


def test_audit__entry_with_zero_amount__reverts(credit, retirement, holder, book):
    with reverts(credit.CreditZeroAmount, id=book.a):
        retirement.retireBatch([entry([book.a], [0], retirement_input())], sender=holder)


def test_audit__empty_batch__reverts(retirement, stranger):
    with reverts(retirement.RetirementBatchEmpty):
        retirement.retireBatch([], sender=stranger)


def test_audit__balance_spent_exactly_by_earlier_entries__last_entry_refused(credit, retirement, holder, book):
    # 5,000 held: 2,500 + 2,500 empties it; a third unit must not be retired from nothing.
    with reverts(credit.ERC1155InsufficientBalance, sender=holder, balance=0, needed=1, tokenId=book.b):
        retirement.retireBatch(
            [entry([book.b], [2_500], retirement_input()), entry([book.b], [2_500], retirement_input()),
             entry([book.b], [1], retirement_input())],
            sender=holder,
        )  # fmt: skip
    assert credit.balanceOf(holder, book.b) == 5_000


# ------------------------------------------------------------------ compliance accounting


def test_audit__batch_cannot_count_as_compliance_surrender(credit, retirement, periods, period_regulator, holder,
                                                           book):  # fmt: skip
    period_id = periods.openPeriod(compliance_period(), sender=period_regulator).return_value
    periods.setObligations(period_id, [holder], ["Acme"], [1_000], sender=period_regulator)
    cid = retirement.retireBatch(
        [entry([book.a], [1_000], ref_input(11, jurisdiction="DE", reason="EU ETS 2025 surrender"))], sender=holder
    ).return_value
    assert retirement.certificate(cid).purpose == VOLUNTARY
    s = periods.status(period_id, holder)
    assert (s.surrendered, s.compliant) == (0, False)
    # The reference namespace is shared: the entity's own voluntary batch blocks its surrender with that reference.
    with reverts(retirement.RetirementReferenceUsed, retiringAccount=holder, retirementRef=order_ref(11),
                 certificateId=cid):  # fmt: skip
        periods.surrender(period_id, [book.a], [1_000], order_ref(11), sender=holder)
    # A fresh reference surrenders normally, and is then refused to a batch.
    sid = periods.surrender(period_id, [book.a], [1_000], order_ref(12), sender=holder).return_value
    assert retirement.certificate(sid).purpose == COMPLIANCE
    with reverts(retirement.RetirementReferenceUsed, retiringAccount=holder, retirementRef=order_ref(12),
                 certificateId=sid):  # fmt: skip
        retirement.retireBatch([entry([book.a], [1], ref_input(12))], sender=holder)


def test_audit__retire_for_compliance__cannot_be_reached_through_a_batch(retirement, holder, stranger):
    # Only the compliance module may certify with Purpose.Compliance; retireBatch has no purpose field.
    with reverts(retirement.RetirementCallerNotCompliance, caller=stranger):
        retirement.retireForCompliance(holder, stranger, [1], [1], retirement_input(), sender=stranger)


# ------------------------------------------------------------------ re-entrancy through the certificate mint


def test_audit__armed_erc721_receiver_as_beneficiary__no_hook_runs(project, credit, retirement, admin, holder, book):
    receiver = project.ReentrantCertificateReceiver.deploy(sender=admin)
    again = retirement.retireBatch.encode_input([entry([book.a], [1], ref_input(13))])
    receiver.arm(retirement.address, again, sender=admin)
    receipt = retirement.retireBatch(
        [entry([book.a], [1], retirement_input(beneficiary=receiver)), entry([book.a], [1], retirement_input())],
        sender=holder,
    )
    assert receiver.attempts() == 0 and receiver.armed()
    assert retirement.ownerOf(receipt.return_value) == receiver.address
    assert retirement.certificateCount() == 2


# ------------------------------------------------------------------ certificate numbering and events


def test_audit__ids_consecutive_after_other_paths__events_one_per_entry_and_totals_match(
    credit, retirement, issuer, holder, other_holder, book
):
    retirement.issueAndRetire(book.a, 7, ZERO_REF, retirement_input(), sender=issuer)  # certificate 1
    credit.setApprovalForAll(holder, True, sender=other_holder)
    requests = [
        entry([book.a], [10], ref_input(20)),
        entry([book.a, book.b], [3, 4], ref_input(21)),
        entry([book.a], [10], ref_input(20), holder=other_holder),  # same ref, other holder: fine
    ]
    receipt = retirement.retireBatch(requests, sender=holder)
    assert receipt.return_value == 2 and retirement.certificateCount() == 4
    recorded = events(receipt, retirement, "RetirementRecorded")
    assert [e["certificateId"] for e in recorded] == [2, 3, 4]
    assert [e["retiringAccount"] for e in recorded] == [holder.address.lower()] * 2 + [other_holder.address.lower()]
    assert [e["amounts"] for e in recorded] == [[10], [3, 4], [10]]
    assert [t["tokenId"] for t in events(receipt, retirement, "Locked")] == [2, 3, 4]
    totals = {book.a: 7 + 10 + 3 + 10, book.b: 4}
    assert {i: credit.totalRetired(i) for i in totals} == totals
    assert sum(retirement.certificate(n).totalAmount for n in (1, 2, 3, 4)) == sum(totals.values())


def test_audit__gas_per_entry_does_not_grow_with_batch_length(retirement, holder, book):
    def gas(n: int, base: int) -> int:
        batch = [entry([book.a], [1], ref_input(base + i)) for i in range(n)]
        return retirement.retireBatch(batch, sender=holder).gas_used

    g10, g40 = gas(10, 1_000), gas(40, 2_000)
    # Linear in the entries (calldata loop only): the 30 extra entries cost no more per entry than the first 10.
    assert (g40 - g10) / 30 <= g10 / 10 * 1.05
