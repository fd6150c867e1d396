"""Re-entrancy through the ERC-1155 receiver hook, with the ReentrantReceiver attacker contract.

Issuance is `nonReentrant`: a second issuance from inside the hook fails even when the attacker is a fully
authorised issuer. Transfers are not guarded: moving on what has just arrived is legitimate, and must leave
the books consistent (the sum of all balances equals totalSupply).

Retirement runs no receiver hook at all (a burn has no recipient, and certificates are minted with `_mint`),
so an attacker cannot act in the middle of one; retiring from inside a transfer hook is legitimate and keeps
issued = supply + retired + cancelled, while from inside an issuance hook the token's guard refuses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from support import (
    CREDIT_MOVES,
    ZERO_ADDRESS,
    ZERO_REF,
    Factory,
    batch_input,
    decode_error,
    events,
    move_credits,
    order_ref,
    plain,
    retirement_input,
)
from tonne.core.ids import project_of

# Session fixtures first, before any module state: ape rebases (re-runs) module fixtures otherwise.
pytestmark = pytest.mark.usefixtures("accounts", "other_holder", "retirement")

INCOMING = 300


@dataclass
class Arena:
    attacker: Any  # the ReentrantReceiver
    held: int  # 1000 t batch; `holder` holds 1000 units of it
    small: int  # 10 t batch (cap 10,000 units), nothing issued


@pytest.fixture(scope="module")
def arena(project, registry, credit, admin, registrar, verifier, issuer, holder) -> Arena:
    make = Factory(registry, credit, registrar, verifier, issuer, holder)
    project_id = make.project()
    held = make.batch(project_id, 1, 1000)
    small = registry.addBatch(project_id, batch_input(1001, 1010), 1, sender=registrar).return_value
    registry.verifyBatch(small, sender=verifier)
    credit.issue(held, holder, 1000, ZERO_REF, sender=issuer)

    attacker = project.ReentrantReceiver.deploy(sender=admin)
    # Make the attacker a real issuer, so only the re-entrancy guard can stop its nested issuance.
    registry.grantRole(registry.ISSUER_ROLE(), attacker, sender=admin)
    registry.setProjectIssuer(project_id, attacker, True, sender=registrar)
    return Arena(attacker, held, small)


def issuance_call(credit, how: str, token_id: int, to, amount: int, ref: bytes) -> bytes:
    if how == "issue":
        return credit.issue.encode_input(token_id, to, amount, ref)
    return credit.issueMany.encode_input([(token_id, to, amount, ref)])


def supply_is_sum_of_balances(credit, token_id: int, holders) -> bool:
    balances = credit.balanceOfBatch(list(holders), [token_id] * len(holders))
    return sum(balances) == credit.totalSupply(token_id)


def send_to_attacker(credit, how: str, issuer, holder, arena: Arena, token_id: int):
    sender = issuer if how == "issue" else holder
    return move_credits(credit, how, sender=sender, to=arena.attacker, token_id=token_id, amount=INCOMING)


# ------------------------------------------------------------------ (a) nested issuance


@pytest.mark.parametrize("inner", ["issue", "issueMany"])
@pytest.mark.parametrize("outer", ["issue", "issueMany"])
def test_issuance_hook__reenters_issuance__blocked_and_outer_issues_once(
    credit, issuer, other_holder, accounts, arena, outer, inner
):
    attacker = arena.attacker
    nested = issuance_call(credit, inner, arena.small, other_holder, 4_000, order_ref(9))
    attacker.arm(credit, nested, sender=other_holder)

    if outer == "issue":
        credit.issue(arena.small, attacker, 6_000, order_ref(8), sender=issuer)
    else:
        credit.issueMany([(arena.small, attacker, 6_000, order_ref(8))], sender=issuer)

    assert attacker.attempts() == 1
    assert attacker.lastSucceeded() is False
    assert decode_error(credit, attacker.lastRevertData()) == ("ReentrancyGuardReentrantCall", {})
    assert credit.totalSupply(arena.small) == credit.totalIssued(arena.small) == 6_000
    assert credit.balanceOf(attacker, arena.small) == 6_000
    assert credit.balanceOf(other_holder, arena.small) == 0
    project = project_of(arena.small)
    assert credit.isOrderReferenceUsed(project, order_ref(8)) and not credit.isOrderReferenceUsed(project, order_ref(9))

    # Control: the same call made outside the hook is valid, so only the guard refused it above.
    attacker.execute(credit, nested, sender=other_holder)
    assert credit.balanceOf(other_holder, arena.small) == 4_000
    assert credit.totalIssued(arena.small) == credit.issuanceCap(arena.small) == 10_000
    assert supply_is_sum_of_balances(credit, arena.small, [*accounts, attacker])


# ------------------------------------------------------------------ (b) passing on what arrives


@pytest.mark.parametrize("how", CREDIT_MOVES)
def test_incoming_hook__forwards_what_it_receives__allowed_and_consistent(
    credit, issuer, holder, other_holder, accounts, arena, how
):
    attacker = arena.attacker
    supply_before = credit.totalSupply(arena.held)
    forward = credit.safeTransferFrom.encode_input(attacker, other_holder, arena.held, INCOMING, b"")
    attacker.arm(credit, forward, sender=other_holder)

    send_to_attacker(credit, how, issuer, holder, arena, arena.held)

    assert attacker.attempts() == 1
    assert attacker.lastSucceeded() is True
    assert credit.balanceOf(attacker, arena.held) == 0
    assert credit.balanceOf(other_holder, arena.held) == INCOMING
    assert credit.balanceOf(holder, arena.held) == (1000 if how == "issue" else 1000 - INCOMING)
    assert credit.totalSupply(arena.held) == supply_before + (INCOMING if how == "issue" else 0)
    assert supply_is_sum_of_balances(credit, arena.held, [*accounts, attacker])


# ------------------------------------------------------------------ (c) overdraw from inside the hook


@pytest.mark.parametrize("how", CREDIT_MOVES)
def test_incoming_hook__forwards_more_than_it_holds__fails_and_consistent(
    credit, issuer, holder, other_holder, accounts, arena, how
):
    attacker = arena.attacker
    supply_before = credit.totalSupply(arena.held)
    overdraw = credit.safeTransferFrom.encode_input(attacker, other_holder, arena.held, INCOMING + 1, b"")
    attacker.arm(credit, overdraw, sender=other_holder)

    send_to_attacker(credit, how, issuer, holder, arena, arena.held)

    assert attacker.attempts() == 1
    assert attacker.lastSucceeded() is False
    assert decode_error(credit, attacker.lastRevertData()) == (
        "ERC1155InsufficientBalance",
        dict(sender=attacker.address.lower(), balance=INCOMING, needed=INCOMING + 1, tokenId=arena.held),
    )
    assert credit.balanceOf(attacker, arena.held) == INCOMING
    assert credit.balanceOf(other_holder, arena.held) == 0
    assert credit.totalSupply(arena.held) == supply_before + (INCOMING if how == "issue" else 0)
    assert supply_is_sum_of_balances(credit, arena.held, [*accounts, attacker])


# ------------------------------------------------------------------ (d) retirement runs no receiver hook

RETIRE = 200


@pytest.fixture
def retiree(project, credit, admin, issuer, arena):
    """A ReentrantCertificateReceiver (ERC-1155 and ERC-721 hooks, both replaying the armed call) holding 500
    units of `arena.held`. Per test, so that no other test's sum of balances has to know of it."""
    receiver = project.ReentrantCertificateReceiver.deploy(sender=admin)
    credit.issue(arena.held, receiver, 500, ZERO_REF, sender=issuer)  # unarmed: the hook replays nothing
    return receiver


def batch_entry(holder, ids, amounts, inp) -> dict:
    """One RetirementRequest of a retireBatch call (holder zero: the caller)."""
    return dict(holder=holder, ids=ids, amounts=amounts, input=inp)


def books_balance(credit, token_id: int, holders) -> bool:
    issued = credit.totalIssued(token_id)
    accounted = credit.totalSupply(token_id) + credit.totalRetired(token_id) + credit.totalCancelled(token_id)
    return issued == accounted and supply_is_sum_of_balances(credit, token_id, holders)


@pytest.mark.parametrize("entry", ["retire", "retireFrom", "issueAndRetire", "retireBatch"])
def test_retirement__armed_receiver_retires_and_is_beneficiary__no_hook_runs(
    credit, retirement, issuer, other_holder, arena, retiree, entry
):
    # Armed with something it could gain from (more retirements, a transfer out): any hook would try it.
    grab = credit.safeTransferFrom.encode_input(retiree, other_holder, arena.held, 1, b"")
    retiree.arm(credit, grab, sender=other_holder)
    inp = retirement_input()  # beneficiary zero: the certificate goes to the retiring account, the receiver

    if entry == "retire":
        call = retirement.retire.encode_input([arena.held], [RETIRE], inp)
        receipt = retiree.execute(retirement, call, sender=other_holder)
    elif entry == "retireBatch":
        call = retirement.retireBatch.encode_input([batch_entry(ZERO_ADDRESS, [arena.held], [RETIRE], inp)])
        receipt = retiree.execute(retirement, call, sender=other_holder)
    elif entry == "retireFrom":
        approve = credit.setApprovalForAll.encode_input(other_holder, True)
        retiree.execute(credit, approve, sender=other_holder)
        receipt = retirement.retireFrom(retiree, [arena.held], [RETIRE], inp, sender=other_holder)
    else:
        receipt = retirement.issueAndRetire(
            arena.small, RETIRE, ZERO_REF, retirement_input(beneficiary=retiree), sender=issuer
        )

    assert retiree.attempts() == 0 and retiree.armed() is True
    assert retirement.ownerOf(1) == retiree.address
    recorded = events(receipt, retirement, "RetirementRecorded")
    assert [(e["beneficiary"], e["amounts"]) for e in recorded] == [(plain(retiree), [RETIRE])]
    assert credit.balanceOf(other_holder, arena.held) == 0
    if entry == "issueAndRetire":
        assert credit.balanceOf(retiree, arena.held) == 500
        assert credit.totalRetired(arena.small) == credit.totalIssued(arena.small) == RETIRE
    else:
        assert credit.balanceOf(retiree, arena.held) == 500 - RETIRE
        assert credit.totalRetired(arena.held) == RETIRE
        assert recorded[0]["retiringAccount"] == plain(retiree)


def test_retirement__armed_erc1155_only_receiver_as_beneficiary__certificate_minted(
    credit, retirement, holder, other_holder, arena
):
    # ReentrantReceiver has no ERC-721 hook: a safe mint would revert (ERC721InvalidReceiver); `_mint` does not.
    attacker = arena.attacker
    attacker.arm(
        credit, credit.safeTransferFrom.encode_input(attacker, other_holder, arena.held, 1, b""), sender=holder
    )

    retirement.retire([arena.held], [RETIRE], retirement_input(beneficiary=attacker), sender=holder)

    assert retirement.ownerOf(1) == attacker.address
    assert attacker.attempts() == 0


@pytest.mark.parametrize("armed_with", ["retireBatch", "transfer out"])
def test_retirement__batch_mints_several_certificates_to_an_armed_receiver__no_hook_runs(
    credit, retirement, holder, other_holder, arena, retiree, armed_with
):
    # A batch of three, every certificate to the armed receiver (two of its own credits, one of the holder's):
    # neither the ERC-721 hook (certificates are minted with `_mint`) nor an ERC-1155 hook (burns have no
    # recipient) runs, so the armed call, a nested batch or a transfer out, is never tried.
    nested = retirement.retireBatch.encode_input([batch_entry(ZERO_ADDRESS, [arena.held], [1], retirement_input())])
    grab = credit.safeTransferFrom.encode_input(retiree, other_holder, arena.held, 1, b"")
    retiree.arm(retirement if armed_with == "retireBatch" else credit, nested if armed_with == "retireBatch" else grab,
                sender=other_holder)  # fmt: skip
    approve = credit.setApprovalForAll.encode_input(holder, True)
    retiree.execute(credit, approve, sender=other_holder)
    to_receiver = retirement_input(beneficiary=retiree)
    requests = [
        batch_entry(retiree.address, [arena.held], [100], to_receiver),
        batch_entry(ZERO_ADDRESS, [arena.held], [50], to_receiver),
        batch_entry(retiree.address, [arena.held], [100], to_receiver),
    ]

    receipt = retirement.retireBatch(requests, sender=holder)

    assert retiree.attempts() == 0 and retiree.armed() is True
    assert [retirement.ownerOf(n) for n in (1, 2, 3)] == [retiree.address] * 3
    assert [e["retiringAccount"] for e in events(receipt, retirement, "RetirementRecorded")] == [
        plain(retiree),
        plain(holder),
        plain(retiree),
    ]
    assert credit.balanceOf(retiree, arena.held) == 500 - 200
    assert credit.totalRetired(arena.held) == 250
    assert retirement.certificateCount() == 3


def reentrant_retirement(retirement, arena: Arena, inner: str) -> bytes:
    """The attacker's call from inside its hook: retire what is arriving (alone or as a batch of two), or
    issue-and-retire (it is an authorised issuer of the arena's project)."""
    if inner == "retire":
        return retirement.retire.encode_input([arena.held], [INCOMING], retirement_input())
    if inner == "retireBatch":
        half = INCOMING // 2
        requests = [batch_entry(ZERO_ADDRESS, [arena.held], [half], retirement_input())] * 2
        return retirement.retireBatch.encode_input(requests)
    return retirement.issueAndRetire.encode_input(arena.small, INCOMING, order_ref(20), retirement_input())


@pytest.mark.parametrize("inner", ["retire", "retireBatch", "issueAndRetire"])
@pytest.mark.parametrize("how", CREDIT_MOVES)
def test_incoming_hook__retires_from_inside__transfer_allowed_issuance_guarded_books_balance(
    credit, retirement, issuer, holder, other_holder, accounts, arena, how, inner
):
    attacker = arena.attacker
    retired_id = arena.small if inner == "issueAndRetire" else arena.held
    certificates = 2 if inner == "retireBatch" else 1
    retired_before = credit.totalRetired(retired_id)
    attacker.arm(retirement, reentrant_retirement(retirement, arena, inner), sender=other_holder)

    send_to_attacker(credit, how, issuer, holder, arena, arena.held)

    assert attacker.attempts() == 1
    if how == "issue":
        # Inside `issue` the token's guard is held, and every retirement path goes through the token.
        assert attacker.lastSucceeded() is False
        assert decode_error(credit, attacker.lastRevertData()) == ("ReentrancyGuardReentrantCall", {})
        assert credit.totalRetired(retired_id) == retired_before
        assert retirement.certificateCount() == 0
        assert credit.balanceOf(attacker, arena.held) == INCOMING
    else:
        assert attacker.lastSucceeded() is True
        assert credit.totalRetired(retired_id) == retired_before + INCOMING
        assert retirement.certificateCount() == certificates
        views = [retirement.certificate(n) for n in range(1, certificates + 1)]
        assert [(v.retiringAccount, v.firstId) for v in views] == [(attacker.address, retired_id)] * certificates
        assert sum(v.totalAmount for v in views) == INCOMING
        assert credit.balanceOf(attacker, arena.held) == (INCOMING if inner == "issueAndRetire" else 0)
    for token_id in (arena.held, arena.small):
        assert books_balance(credit, token_id, [*accounts, attacker])


@pytest.mark.parametrize("how", CREDIT_MOVES)
def test_incoming_hook__calls_token_retire_directly__refused(
    credit, issuer, holder, other_holder, accounts, arena, how
):
    attacker = arena.attacker
    attacker.arm(credit, credit.retire.encode_input(attacker, attacker, [arena.held], [INCOMING]), sender=other_holder)

    send_to_attacker(credit, how, issuer, holder, arena, arena.held)

    assert attacker.attempts() == 1 and attacker.lastSucceeded() is False
    assert decode_error(credit, attacker.lastRevertData()) == (
        "CreditCallerNotRetirement",
        dict(caller=attacker.address.lower()),
    )
    assert credit.balanceOf(attacker, arena.held) == INCOMING
    assert credit.totalRetired(arena.held) == 0
    assert books_balance(credit, arena.held, [*accounts, attacker])
