"""Helpers for the bridge's contract tests on ONE chain (ape's test chain).

Both bridges live on the test chain, each linked to the other under a *virtual* chain id: the home bridge sends
to chain REMOTE_CHAIN, the remote bridge's mirror comes from chain HOME_CHAIN. The test plays relayer: it takes
a `MessageSent` from one gateway, relabels it with the virtual source chain, signs it with the validators' keys
and delivers it to the other gateway. Every contract check runs for real; only the transport is the test.
Test modules import these as `from bridge_support import ...`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from ape import chain
from eth_keys import keys as eth_keys
from eth_utils import keccak, to_checksum_address

from tonne.bridge.messages import Message, interop_address, ordered, parse_interop_address, sign_digest

HOME_CHAIN = 777  # what the remote side believes the home chain is
REMOTE_CHAIN = 4242  # what the home side believes the remote chain is
WINDOW = 86_400
LIMIT = 10**9  # units per id per window, both directions, unless a test sets its own
OUT, IN = 0, 1  # ICreditBridge.Direction


_serials = itertools.count(1)


def fresh_range() -> tuple[int, int]:
    """A 1,000 t serial range no other bridge test uses, so that its issuance reference (ISS-first-last) is new
    even where other modules' state persists on the shared session suite."""
    first = 900_000_000 + next(_serials) * 1_000
    return first, first + 999


def validator_keys(n: int) -> list[bytes]:
    """``n`` deterministic validator private keys."""
    return [keccak(text=f"tonne-test-validator-{i}") for i in range(n)]


def address_of(key: bytes) -> str:
    return eth_keys.PrivateKey(key).public_key.to_checksum_address()


@dataclass
class Bridges:
    credit: Any
    registry: Any
    home_gateway: Any
    remote_gateway: Any
    home: Any
    remote: Any
    mirror: Any
    keys: list[bytes]
    chain_id: int  # the real chain id of the test chain (the destination of every delivery)
    sent: list[Any] = field(default_factory=list)

    # ------------------------------------------------------------------ addresses

    def to_remote(self, account) -> bytes:
        return interop_address(REMOTE_CHAIN, str(getattr(account, "address", account)))

    def to_home(self, account) -> bytes:
        return interop_address(HOME_CHAIN, str(getattr(account, "address", account)))

    # ------------------------------------------------------------------ messages

    def outbound(self, receipt, gateway) -> Message:
        """The message a send in ``receipt`` handed to ``gateway``, labelled with its virtual source chain."""
        sent = [
            log for log in receipt.events if log.event_name == "MessageSent" and log.contract_address == gateway.address
        ]
        numbered = [
            log
            for log in receipt.events
            if log.event_name == "MessageNumbered" and log.contract_address == gateway.address
        ]
        assert len(sent) == len(numbered) == 1, f"expected one message in {receipt.txn_hash}"
        log, nonce = sent[0], numbered[0].nonce
        _, sender = parse_interop_address(bytes(log.sender))
        _, recipient = parse_interop_address(bytes(log.recipient))
        source = HOME_CHAIN if gateway.address == self.home_gateway.address else REMOTE_CHAIN
        return Message(source, gateway.address, sender, recipient, nonce, bytes(log.payload))

    def destination_of(self, message: Message):
        return self.remote_gateway if message.source_chain_id == HOME_CHAIN else self.home_gateway

    def sign(self, message: Message, keys: list[bytes] | None = None, gateway=None) -> list[bytes]:
        """Signatures of ``keys`` (default: the first threshold validators) in signer order."""
        gateway = gateway or self.destination_of(message)
        if keys is None:
            keys = self.keys[: gateway.threshold()]
        digest = message.digest(self.chain_id, gateway.address)
        return ordered({address_of(k): sign_digest(k, digest) for k in keys})

    def deliver(self, message: Message, sender, signatures: list[bytes] | None = None, gateway=None):
        gateway = gateway or self.destination_of(message)
        if signatures is None:
            signatures = self.sign(message, gateway=gateway)
        return gateway.deliver(message.as_tuple(), signatures, sender=sender)

    # ------------------------------------------------------------------ round trips

    def lock(self, holder, token_id: int, amount: int, to=None):
        """``holder`` approves the home bridge and sends ``amount`` of ``token_id`` to ``to`` (default: itself)."""
        if not self.credit.isApprovedForAll(holder, self.home):
            self.credit.setApprovalForAll(self.home, True, sender=holder)
        receipt = self.home.send(token_id, amount, self.to_remote(to or holder), sender=holder)
        return receipt, self.outbound(receipt, self.home_gateway)

    def burn(self, holder, token_id: int, amount: int, to=None):
        receipt = self.remote.send(token_id, amount, self.to_home(to or holder), sender=holder)
        return receipt, self.outbound(receipt, self.remote_gateway)


def deploy_bridges(
    project, suite, admin, pauser, *, n_validators=3, threshold=2, limit=LIMIT, window=WINDOW
) -> Bridges:
    """Gateways, bridges and mirror on the test chain, linked under the virtual chain ids."""
    keys = validator_keys(n_validators)
    validators = [address_of(k) for k in keys]
    home_gateway = project.TonneGateway.deploy(validators, threshold, 0, admin, sender=admin)
    remote_gateway = project.TonneGateway.deploy(validators, threshold, 0, admin, sender=admin)
    mirror = project.MirrorCredit.deploy(
        HOME_CHAIN, suite.credit, "https://mirror.invalid/{id}", 0, admin, sender=admin
    )
    home = project.HomeBridge.deploy(suite.credit, window, limit, 0, admin, sender=admin)
    remote = project.RemoteBridge.deploy(mirror, window, limit, 0, admin, sender=admin)
    mirror.bindBridge(remote, sender=admin)
    home.link(home_gateway, interop_address(REMOTE_CHAIN, str(remote.address)), sender=admin)
    remote.link(remote_gateway, interop_address(HOME_CHAIN, str(home.address)), sender=admin)
    for contract in (home, remote, home_gateway, remote_gateway):
        contract.grantRole(contract.PAUSER_ROLE(), pauser, sender=admin)
    return Bridges(
        credit=suite.credit,
        registry=suite.registry,
        home_gateway=home_gateway,
        remote_gateway=remote_gateway,
        home=home,
        remote=remote,
        mirror=mirror,
        keys=keys,
        chain_id=chain.chain_id,
    )


def checksum(account) -> str:
    return to_checksum_address(str(getattr(account, "address", account)))
