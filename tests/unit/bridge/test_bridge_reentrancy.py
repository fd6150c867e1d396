"""Re-entrancy through the ERC-1155 receiver hook on release (home) and on mint (remote).

The attacker (contracts/test/ReentrantReceiver.sol) is the addressee of a message; from inside the hook it
replays the message being delivered, delivers another valid message, or sends what it just received. The gateway
marked the message processed before the hook runs, and both bridges are guarded, so the books stay exact:
home locked = remote supply.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from bridge_support import Bridges
from support import decode_error

pytestmark = pytest.mark.usefixtures("bridges", "accounts")


@dataclass
class Scene:
    attacker: Any
    token_id: int


@pytest.fixture
def scene(project, bridges: Bridges, held, holder, stranger, admin) -> Scene:
    attacker = project.ReentrantReceiver.deploy(sender=admin)
    # The attacker may send through both bridges, like any holder.
    attacker.execute(bridges.credit, bridges.credit.setApprovalForAll.encode_input(bridges.home, True), sender=stranger)
    return Scene(attacker, held)


def books_balance(bridges: Bridges, token_id: int) -> bool:
    return bridges.home.locked(token_id) == bridges.mirror.totalSupply(token_id) + bridges.mirror.totalRetired(token_id)


# ------------------------------------------------------------------ mint (remote)


def test_mint_hook__replays_same_message__already_processed(bridges, scene, holder, stranger):
    _, lock = bridges.lock(holder, scene.token_id, 1_000, to=scene.attacker)
    sigs = bridges.sign(lock)
    scene.attacker.arm(
        bridges.remote_gateway, bridges.remote_gateway.deliver.encode_input(lock.as_tuple(), sigs), sender=stranger
    )
    bridges.deliver(lock, stranger, sigs)
    assert scene.attacker.attempts() == 1 and scene.attacker.lastSucceeded() is False
    assert decode_error(bridges.remote_gateway, scene.attacker.lastRevertData()) == (
        "GatewayMessageAlreadyProcessed",
        {"messageId": lock.id},
    )
    assert bridges.mirror.balanceOf(scene.attacker, scene.token_id) == 1_000
    assert books_balance(bridges, scene.token_id)


def test_mint_hook__delivers_another_message__guard_refuses(bridges, scene, holder, stranger):
    _, lock = bridges.lock(holder, scene.token_id, 1_000, to=scene.attacker)
    _, other = bridges.lock(holder, scene.token_id, 2_000, to=scene.attacker)
    inner = bridges.remote_gateway.deliver.encode_input(other.as_tuple(), bridges.sign(other))
    scene.attacker.arm(bridges.remote_gateway, inner, sender=stranger)
    bridges.deliver(lock, stranger)
    assert decode_error(bridges.remote, scene.attacker.lastRevertData()) == ("ReentrancyGuardReentrantCall", {})
    assert not bridges.remote_gateway.isProcessed(other.id)
    # Control: outside the hook the same delivery is valid.
    bridges.deliver(other, stranger)
    assert bridges.mirror.balanceOf(scene.attacker, scene.token_id) == 3_000
    assert books_balance(bridges, scene.token_id)


def test_mint_hook__sends_what_arrives_home__guard_refuses(bridges, scene, holder, stranger):
    _, lock = bridges.lock(holder, scene.token_id, 1_000, to=scene.attacker)
    inner = bridges.remote.send.encode_input(scene.token_id, 1_000, bridges.to_home(holder))
    scene.attacker.arm(bridges.remote, inner, sender=stranger)
    bridges.deliver(lock, stranger)
    assert decode_error(bridges.remote, scene.attacker.lastRevertData()) == ("ReentrancyGuardReentrantCall", {})
    assert bridges.mirror.balanceOf(scene.attacker, scene.token_id) == 1_000
    assert bridges.remote_gateway.outboundNonce() == 0
    assert books_balance(bridges, scene.token_id)


# ------------------------------------------------------------------ release (home)


@pytest.fixture
def burned(bridges, scene, holder, stranger):
    """1,000 units minted to `holder` on the remote side, then burned there for the attacker at home."""
    _, lock = bridges.lock(holder, scene.token_id, 5_000)
    bridges.deliver(lock, stranger)
    _, burn = bridges.burn(holder, scene.token_id, 1_000, to=scene.attacker)
    _, other = bridges.burn(holder, scene.token_id, 2_000, to=scene.attacker)
    return burn, other


def test_release_hook__replays_same_message__already_processed(bridges, scene, burned, stranger):
    burn, _ = burned
    sigs = bridges.sign(burn)
    scene.attacker.arm(
        bridges.home_gateway, bridges.home_gateway.deliver.encode_input(burn.as_tuple(), sigs), sender=stranger
    )
    bridges.deliver(burn, stranger, sigs)
    assert decode_error(bridges.home_gateway, scene.attacker.lastRevertData()) == (
        "GatewayMessageAlreadyProcessed",
        {"messageId": burn.id},
    )
    assert bridges.credit.balanceOf(scene.attacker, scene.token_id) == 1_000
    assert bridges.home.locked(scene.token_id) == 4_000


def test_release_hook__delivers_another_message__guard_refuses(bridges, scene, burned, stranger):
    burn, other = burned
    inner = bridges.home_gateway.deliver.encode_input(other.as_tuple(), bridges.sign(other))
    scene.attacker.arm(bridges.home_gateway, inner, sender=stranger)
    bridges.deliver(burn, stranger)
    assert decode_error(bridges.home, scene.attacker.lastRevertData()) == ("ReentrancyGuardReentrantCall", {})
    assert not bridges.home_gateway.isProcessed(other.id)
    bridges.deliver(other, stranger)
    assert bridges.credit.balanceOf(scene.attacker, scene.token_id) == 3_000
    assert bridges.home.locked(scene.token_id) == 2_000 == bridges.mirror.totalSupply(scene.token_id)


def test_release_hook__sends_what_arrives_back_out__guard_refuses(bridges, scene, burned, holder, stranger):
    burn, _ = burned
    inner = bridges.home.send.encode_input(scene.token_id, 1_000, bridges.to_remote(holder))
    scene.attacker.arm(bridges.home, inner, sender=stranger)
    nonce = bridges.home_gateway.outboundNonce()
    bridges.deliver(burn, stranger)
    assert decode_error(bridges.home, scene.attacker.lastRevertData()) == ("ReentrancyGuardReentrantCall", {})
    assert bridges.home_gateway.outboundNonce() == nonce
    assert bridges.credit.balanceOf(scene.attacker, scene.token_id) == 1_000
    # Outside the hook the attacker may send them again like anyone.
    scene.attacker.execute(bridges.home, inner, sender=stranger)
    assert bridges.home.locked(scene.token_id) == 5_000  # 4,000 after the release, plus the 1,000 sent again
