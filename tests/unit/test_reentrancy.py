"""Re-entrancy through the ERC-1155 receiver hook, with the ReentrantReceiver attacker contract.

Issuance is `nonReentrant`: a second issuance from inside the hook fails even when the attacker is a fully
authorised issuer. Transfers are not guarded: moving on what has just arrived is legitimate, and must leave
the books consistent (the sum of all balances equals totalSupply).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from support import CREDIT_MOVES, ZERO_REF, Factory, batch_input, decode_error, move_credits, order_ref

# Session fixtures first, before any module state: ape rebases (re-runs) module fixtures otherwise.
pytestmark = pytest.mark.usefixtures("accounts", "other_holder")

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
    assert credit.isOrderReferenceUsed(order_ref(8)) and not credit.isOrderReferenceUsed(order_ref(9))

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
