"""ERC-1155 receiver behaviour on issuance and on single and batch transfers: a contract that accepts, one
that refuses, one with no hook at all, and a plain account."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from support import CREDIT_MOVES, ZERO_REF, Factory, move_credits, order_ref, reverts
from tonne.core.ids import project_of

# Session fixtures first, before any module state: ape rebases (re-runs) module fixtures otherwise.
pytestmark = pytest.mark.usefixtures("other_holder")

AMOUNT = 250


@dataclass
class Setup:
    token_id: int
    receivers: dict[str, Any]


@pytest.fixture(scope="module")
def setup(project, registry, credit, admin, registrar, verifier, issuer, holder, other_holder) -> Setup:
    """A verified batch of which `holder` holds 1000 units, and one receiver of each kind."""
    make = Factory(registry, credit, registrar, verifier, issuer, holder)
    token_id = make.batch(make.project())
    credit.issue(token_id, holder, 1000, ZERO_REF, sender=issuer)
    receivers = {
        "accepting": project.AcceptingReceiver.deploy(sender=admin),
        "rejecting": project.RejectingReceiver.deploy(sender=admin),
        "non-receiver": project.NonReceiver.deploy(sender=admin),
        "eoa": other_holder,
    }
    return Setup(token_id, receivers)


def snapshot(credit, token_id: int, holder, receiver, ref: bytes) -> dict:
    return dict(
        holder=credit.balanceOf(holder, token_id),
        receiver=credit.balanceOf(receiver, token_id),
        supply=credit.totalSupply(token_id),
        issued=credit.totalIssued(token_id),
        ref_used=credit.isOrderReferenceUsed(project_of(token_id), ref),
    )


def send(credit, how: str, issuer, holder, receiver, token_id: int, ref: bytes):
    sender = issuer if how == "issue" else holder
    return move_credits(credit, how, sender=sender, to=receiver, token_id=token_id, amount=AMOUNT, ref=ref)


@pytest.mark.parametrize("how", CREDIT_MOVES)
@pytest.mark.parametrize("kind", ["accepting", "eoa"])
def test_receiver__accepts__credits_arrive(credit, issuer, holder, setup, kind, how):
    receiver = setup.receivers[kind]
    ref = order_ref(1)
    before = snapshot(credit, setup.token_id, holder, receiver, ref)

    send(credit, how, issuer, holder, receiver, setup.token_id, ref)

    after = snapshot(credit, setup.token_id, holder, receiver, ref)
    issuing = how == "issue"
    assert after == dict(
        holder=before["holder"] - (0 if issuing else AMOUNT),
        receiver=before["receiver"] + AMOUNT,
        supply=before["supply"] + (AMOUNT if issuing else 0),
        issued=before["issued"] + (AMOUNT if issuing else 0),
        ref_used=issuing,
    )


@pytest.mark.parametrize("how", CREDIT_MOVES)
def test_receiver__refuses__reverts_with_its_error_and_nothing_changes(credit, issuer, holder, setup, how):
    rejecting = setup.receivers["rejecting"]
    ref = order_ref(2)
    before = snapshot(credit, setup.token_id, holder, rejecting, ref)

    with reverts(rejecting.ReceiverRefused):
        send(credit, how, issuer, holder, rejecting, setup.token_id, ref)

    assert snapshot(credit, setup.token_id, holder, rejecting, ref) == before
    assert before["ref_used"] is False


@pytest.mark.parametrize("how", CREDIT_MOVES)
def test_receiver__contract_without_hook__reverts_invalid_receiver(credit, issuer, holder, setup, how):
    non_receiver = setup.receivers["non-receiver"]
    ref = order_ref(3)
    before = snapshot(credit, setup.token_id, holder, non_receiver, ref)

    with reverts(credit.ERC1155InvalidReceiver, receiver=non_receiver):
        send(credit, how, issuer, holder, non_receiver, setup.token_id, ref)

    assert snapshot(credit, setup.token_id, holder, non_receiver, ref) == before


def test_issue_many__one_recipient_refuses__no_order_issued(credit, issuer, holder, setup):
    rejecting = setup.receivers["rejecting"]
    orders = [
        dict(id=setup.token_id, to=holder, amount=AMOUNT, orderRef=order_ref(4)),
        dict(id=setup.token_id, to=rejecting, amount=AMOUNT, orderRef=order_ref(5)),
    ]
    with reverts(rejecting.ReceiverRefused):
        credit.issueMany(orders, sender=issuer)

    assert credit.balanceOf(holder, setup.token_id) == 1000
    assert credit.totalIssued(setup.token_id) == 1000
    project = project_of(setup.token_id)
    assert not credit.isOrderReferenceUsed(project, order_ref(4)) and not credit.isOrderReferenceUsed(
        project, order_ref(5)
    )


def test_accepting_receiver__credits_received__can_be_passed_on(credit, issuer, other_holder, setup):
    accepting = setup.receivers["accepting"]
    credit.issue(setup.token_id, accepting, AMOUNT, ZERO_REF, sender=issuer)

    call = credit.safeTransferFrom.encode_input(accepting, other_holder, setup.token_id, 100, b"")
    accepting.execute(credit, call, sender=other_holder)

    assert credit.balanceOf(accepting, setup.token_id) == AMOUNT - 100
    assert credit.balanceOf(other_holder, setup.token_id) == 100
