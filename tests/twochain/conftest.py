"""Two Anvil chains with different chain ids, the home suite and the bridge deployed on them with web3.py.

Each test runs between an `evm_snapshot` and an `evm_revert` of both chains, so tests share one deployment and
see none of each other's state. Tests relay by hand through the `tc` helper (the same functions `relay` uses).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from eth_utils import keccak
from web3 import Web3

from tonne.bridge.deploy import BridgePair, HomeSuite, Side, deploy_bridge_pair, deploy_home_suite, transact
from tonne.bridge.errors import revert_of
from tonne.bridge.messages import interop_address, ordered, sign_digest
from tonne.bridge.watch import Sent, connect, sent_messages
from tonne.core.ids import encode_id
from tonne.core.localchain import plain_anvil

HOME_CHAIN_ID = 7_001
REMOTE_CHAIN_ID = 7_002
VALIDATOR_KEYS = [keccak(text=f"tonne-twochain-validator-{i}") for i in range(7)]
_serial = itertools.count(1)


def address_of(key: bytes) -> str:
    from eth_keys import keys

    return keys.PrivateKey(key).public_key.to_checksum_address()


@dataclass
class TwoChains:
    pair: BridgePair
    suite: HomeSuite
    keys: list[bytes]  # the validators' keys (the first 3 are the set; the rest are outsiders)
    admin: str
    holder: str
    relayer: str
    stranger: str
    pauser: str

    @property
    def home(self) -> Side:
        return self.pair.home

    @property
    def remote(self) -> Side:
        return self.pair.remote

    # ------------------------------------------------------------------ home state

    def issue(self, tonnes: int = 100, to: str | None = None) -> int:
        """A new approved project with one verified batch; ``tonnes`` of it issued to ``to`` (default holder)."""
        w3, reg, admin = self.home.w3, self.suite.registry, self.admin
        external_id = f"TC-{time.time_ns()}-{next(_serial)}"
        project = ("VCS", external_id, "n", "VM0004", "REDD+", b"ID", "r", admin, "ipfs://p", b"\x11" * 32)
        transact(w3, reg.functions.registerProject(project), admin)
        project_id = reg.functions.projectCount().call()
        transact(w3, reg.functions.setProjectStatus(project_id, 2, "validated"), admin)
        transact(w3, reg.functions.setProjectIssuer(project_id, admin, True), admin)
        batch = (1, 10_000, 1_609_459_200, 1_640_995_199, f"ISS-{external_id}", "ipfs://batch")
        transact(w3, reg.functions.addBatch(project_id, batch, 0), admin)
        token_id = encode_id(project_id, 1)
        transact(w3, reg.functions.verifyBatch(token_id), admin)
        transact(w3, self.suite.credit.functions.issue(token_id, to or self.holder, tonnes * 1000, b"\x00" * 32), admin)
        return token_id

    # ------------------------------------------------------------------ sending

    def lock(self, token_id: int, amount: int, to: str | None = None, sender: str | None = None) -> Sent:
        sender = sender or self.holder
        credit = self.home.token
        if not credit.functions.isApprovedForAll(sender, self.home.bridge.address).call():
            transact(self.home.w3, credit.functions.setApprovalForAll(self.home.bridge.address, True), sender)
        receipt = transact(
            self.home.w3,
            self.home.bridge.functions.send(token_id, amount, interop_address(self.remote.chain_id, to or sender)),
            sender,
        )
        return self._sent(self.home, receipt)

    def burn(self, token_id: int, amount: int, to: str | None = None, sender: str | None = None) -> Sent:
        sender = sender or self.holder
        receipt = transact(
            self.remote.w3,
            self.remote.bridge.functions.send(token_id, amount, interop_address(self.home.chain_id, to or sender)),
            sender,
        )
        return self._sent(self.remote, receipt)

    def _sent(self, side: Side, receipt) -> Sent:
        (sent,) = sent_messages(side, receipt["blockNumber"], receipt["blockNumber"])
        return sent

    # ------------------------------------------------------------------ relaying

    def destination(self, sent: Sent) -> Side:
        return self.remote if sent.destination_chain_id == self.remote.chain_id else self.home

    def sign(
        self, sent: Sent, keys: list[bytes] | None = None, *, chain_id: int | None = None, gateway: str | None = None
    ):
        dest = self.destination(sent)
        digest = sent.message.digest(chain_id or dest.chain_id, gateway or dest.gateway.address)
        keys = self.keys[: self.pair.threshold] if keys is None else keys
        return ordered({address_of(k): sign_digest(k, digest) for k in keys})

    def deliver_call(self, sent: Sent, signatures=None, *, message=None, side: Side | None = None):
        side = side or self.destination(sent)
        signatures = self.sign(sent) if signatures is None else signatures
        return side.gateway.functions.deliver((message or sent.message).as_tuple(), signatures)

    def deliver(self, sent: Sent, signatures=None, **kw):
        side = kw.get("side") or self.destination(sent)
        return transact(side.w3, self.deliver_call(sent, signatures, **kw), self.relayer)

    def refused(self, call, side: Side, sender: str | None = None):
        """The custom error ``call`` reverts with on ``side`` (None if it would succeed)."""
        return revert_of(call, sender or self.relayer)


def _snapshot(w3: Web3) -> str:
    return w3.provider.make_request("evm_snapshot", [])["result"]


def _revert(w3: Web3, snap: str) -> None:
    assert w3.provider.make_request("evm_revert", [snap])["result"] is True


@pytest.fixture(scope="session")
def chains() -> Iterator[tuple[Web3, Web3]]:
    with plain_anvil(chain_id=HOME_CHAIN_ID) as (home_url, _), plain_anvil(chain_id=REMOTE_CHAIN_ID) as (remote_url, _):
        yield connect(home_url), connect(remote_url)


@pytest.fixture(scope="session")
def tc(chains) -> TwoChains:
    home_w3, remote_w3 = chains
    accounts = home_w3.eth.accounts
    admin, holder, relayer, stranger, pauser = accounts[:5]
    suite = deploy_home_suite(home_w3, admin)
    validators = [address_of(k) for k in VALIDATOR_KEYS[:3]]
    pair = deploy_bridge_pair(
        home_w3,
        remote_w3,
        suite.credit.address,
        home_admin=admin,
        remote_admin=admin,
        validators=validators,
        threshold=2,
        pauser=(pauser, pauser),
    )
    return TwoChains(pair, suite, VALIDATOR_KEYS, admin, holder, relayer, stranger, pauser)


@pytest.fixture(autouse=True)
def isolated(chains) -> Iterator[None]:
    snaps = [_snapshot(w3) for w3 in chains]
    yield
    for w3, snap in zip(chains, snaps, strict=True):
        _revert(w3, snap)


@pytest.fixture
def held(tc: TwoChains) -> int:
    return tc.issue(100)
