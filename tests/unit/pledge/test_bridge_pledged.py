"""The bridge and the pledge facility together: credits pledged in a facility position sit in the facility's
escrow, not in the borrower's balance, so the bridge cannot send them; what the borrower still holds can go."""

from __future__ import annotations

import pytest

from bridge_support import Bridges, deploy_bridges
from pledge_support import HOLDING
from support import reverts

pytestmark = pytest.mark.usefixtures("world", "stranger")


@pytest.fixture(scope="session")
def bridges(project, open_suite, admin, regulator, world) -> Bridges:
    return deploy_bridges(project, open_suite, admin, regulator)


def test_send__pledged_credits__refused_by_the_token(world, bridges):
    pledged = 600_000
    world.open([world.id_a], [pledged])
    assert world.credit.balanceOf(world.facility, world.id_a) >= pledged
    free = HOLDING - pledged
    assert world.credit.balanceOf(world.borrower, world.id_a) == free
    world.credit.setApprovalForAll(bridges.home, True, sender=world.borrower)
    with reverts(
        world.credit.ERC1155InsufficientBalance,
        sender=world.borrower,
        balance=free,
        needed=free + 1,
        tokenId=world.id_a,
    ):
        bridges.home.send(world.id_a, free + 1, bridges.to_remote(world.borrower), sender=world.borrower)
    assert bridges.home.locked(world.id_a) == 0
    # What is still the borrower's own can be bridged; the pledged part stays in the facility.
    bridges.lock(world.borrower, world.id_a, free)
    assert bridges.home.locked(world.id_a) == free
    assert world.credit.balanceOf(world.facility, world.id_a) >= pledged


def test_send__facility_cannot_be_made_to_bridge_escrow(world, bridges, stranger):
    """Nobody but a holder (or its approved operator) can send: the bridge pulls from `msg.sender` only, so a
    stranger cannot bridge the facility's escrow, and the facility approves no one."""
    world.open([world.id_a], [100_000])
    assert not world.credit.isApprovedForAll(world.facility, bridges.home)
    world.credit.setApprovalForAll(bridges.home, True, sender=stranger)
    with reverts(world.credit.ERC1155InsufficientBalance, sender=stranger, balance=0, needed=1, tokenId=world.id_a):
        bridges.home.send(world.id_a, 1, bridges.to_remote(stranger), sender=stranger)
