"""Gas of the bridge's paths, measured on two chains: lock-and-send, delivery with M = 2 of N = 3 and M = 5 of
N = 7 signatures, the return path (burn-and-send, then delivery that releases), and a sync of home rules with
its delivery, an undeliverable lock (its refused delivery, then the return's delivery), and batched delivery
(`deliverBatch`) of 1, 10 and 50 warm-id locks, per delivered message.

Deterministic on a fresh pair of chains; tests/twochain/test_bridge_gas.py pins the figures, `make bench`
records them.
"""

from __future__ import annotations

import time
from typing import Any

from eth_keys import keys as eth_keys
from eth_utils import keccak
from web3 import Web3
from web3.logs import DISCARD

from tonne.bridge.deploy import BridgePair, deploy_bridge_pair, deploy_home_suite, transact
from tonne.bridge.messages import interop_address, ordered, sign_digest
from tonne.bridge.watch import Sent, sent_messages
from tonne.core.ids import encode_id


def validator_keys(n: int, label: str = "gas") -> list[bytes]:
    return [keccak(text=f"tonne-{label}-validator-{i}") for i in range(n)]


def address_of(key: bytes) -> str:
    return eth_keys.PrivateKey(key).public_key.to_checksum_address()


def issue_batch(w3: Web3, suite: Any, admin: str, to: str, tonnes: int, tag: str) -> int:
    """A new approved project, one verified 10,000 t batch, ``tonnes`` issued to ``to``; returns the id."""
    reg = suite.registry
    external_id = f"{tag}-{time.time_ns()}"
    project = ("VCS", external_id, "n", "VM0004", "REDD+", b"ID", "r", admin, "ipfs://p", b"\x11" * 32)
    transact(w3, reg.functions.registerProject(project), admin)
    project_id = reg.functions.projectCount().call()
    transact(w3, reg.functions.setProjectStatus(project_id, 2, "validated"), admin)
    transact(w3, reg.functions.setProjectIssuer(project_id, admin, True), admin)
    batch = (1, 10_000, 1_609_459_200, 1_640_995_199, f"ISS-{external_id}", "ipfs://bafy-batch-metadata")
    transact(w3, reg.functions.addBatch(project_id, batch, 0), admin)
    token_id = encode_id(project_id, 1)
    transact(w3, reg.functions.verifyBatch(token_id), admin)
    transact(w3, suite.credit.functions.issue(token_id, to, tonnes * 1000, b"\x00" * 32), admin)
    return token_id


def bench_pair(
    w3: Web3,
    remote_w3: Web3,
    suite: Any,
    admin: str,
    holder: str,
    keys: list[bytes],
    threshold: int,
    tonnes: int,
    tag: str,
) -> tuple[BridgePair, int]:
    """A bridge pair for the gas and relay measurements (``threshold`` of the validators of ``keys``) and a new
    batch of ``tonnes`` t issued to ``holder``, who approves the home bridge; returns the pair and the batch's id."""
    pair = deploy_bridge_pair(
        w3,
        remote_w3,
        suite.credit.address,
        home_admin=admin,
        remote_admin=admin,
        validators=[address_of(k) for k in keys],
        threshold=threshold,
    )
    token_id = issue_batch(w3, suite, admin, holder, tonnes, tag)
    transact(w3, suite.credit.functions.setApprovalForAll(pair.home.bridge.address, True), holder)
    return pair, token_id


def _send(pair: BridgePair, side_name: str, token_id: int, amount: int, account: str) -> tuple[int, Sent]:
    side = pair.side(side_name)
    other = pair.other(side)
    receipt = transact(
        side.w3, side.bridge.functions.send(token_id, amount, interop_address(other.chain_id, account)), account
    )
    (sent,) = sent_messages(side, receipt["blockNumber"], receipt["blockNumber"])
    return receipt["gasUsed"], sent


def _deliver(pair: BridgePair, sent: Sent, keys: list[bytes], relayer: str) -> int:
    dest = pair.remote if sent.destination_chain_id == pair.remote.chain_id else pair.home
    digest = sent.message.digest(dest.chain_id, dest.gateway.address)
    sigs = ordered({address_of(k): sign_digest(k, digest) for k in keys})
    receipt = transact(dest.w3, dest.gateway.functions.deliver(sent.message.as_tuple(), sigs), relayer)
    return receipt["gasUsed"]


BATCH_SIZES = (1, 10, 50)
BATCH_GAS_PER_MESSAGE = 500_000


def _deliver_batch(pair: BridgePair, sents: list[Sent], keys: list[bytes], relayer: str) -> int:
    """Gas of one ``deliverBatch`` of ``sents`` (all to the same chain), every message delivered."""
    dest = pair.remote if sents[0].destination_chain_id == pair.remote.chain_id else pair.home
    sigs = [
        ordered({address_of(k): sign_digest(k, s.message.digest(dest.chain_id, dest.gateway.address)) for k in keys})
        for s in sents
    ]
    call = dest.gateway.functions.deliverBatch([s.message.as_tuple() for s in sents], sigs, BATCH_GAS_PER_MESSAGE)
    receipt = transact(dest.w3, call, relayer)
    delivered = dest.gateway.events.MessageDelivered().process_receipt(receipt, errors=DISCARD)
    if len(delivered) != len(sents):
        raise RuntimeError(f"batch of {len(sents)} delivered {len(delivered)}")
    return receipt["gasUsed"]


def measure_bridge_gas(home_w3: Web3, remote_w3: Web3) -> dict[str, int]:
    """Deploys a suite and two bridge pairs (2-of-3 and 5-of-7) on the two chains and measures every path."""
    admin, holder, relayer = home_w3.eth.accounts[:3]
    suite = deploy_home_suite(home_w3, admin)
    gas: dict[str, int] = {}
    for m, n in ((2, 3), (5, 7)):
        keys = validator_keys(n, f"gas{m}of{n}")
        pair, token_id = bench_pair(home_w3, remote_w3, suite, admin, holder, keys, m, 100, f"GAS{m}{n}")
        signers = keys[:m]
        first_send, first = _send(pair, "home", token_id, 10_000, holder)
        first_mint = _deliver(pair, first, signers, relayer)
        warm_send, warm = _send(pair, "home", token_id, 10_000, holder)
        warm_mint = _deliver(pair, warm, signers, relayer)
        burn, back = _send(pair, "remote", token_id, 5_000, holder)
        release = _deliver(pair, back, signers, relayer)
        if (m, n) == (2, 3):
            gas["bridge lock-and-send (first of id)"] = first_send
            gas["bridge lock-and-send (warm id)"] = warm_send
            gas["bridge burn-and-send home (return)"] = burn
            # Home rules: one account never sent before (first writes on both sides), then its delivery.
            receipt = transact(home_w3, pair.home.bridge.functions.syncRules(False, [relayer], []), relayer)
            (rules,) = sent_messages(pair.home, receipt["blockNumber"], receipt["blockNumber"])
            gas["bridge sync rules, 1 account"] = receipt["gasUsed"]
            gas["bridge deliver rules, 1 account, M=2/N=3"] = _deliver(pair, rules, signers, relayer)
            # An undeliverable lock (to the mirror itself): the delivery that refuses it and sends a RETURN, then
            # the RETURN's delivery at home, which releases to the sender.
            receipt = transact(
                home_w3,
                pair.home.bridge.functions.send(
                    token_id, 1_000, interop_address(pair.remote.chain_id, pair.remote.token.address)
                ),
                holder,
            )
            (refused,) = sent_messages(pair.home, receipt["blockNumber"], receipt["blockNumber"])
            gas["bridge deliver lock, refused and returned, M=2/N=3"] = _deliver(pair, refused, signers, relayer)
            block = remote_w3.eth.block_number
            (returned,) = sent_messages(pair.remote, block, block)
            gas["bridge deliver return, release to sender, M=2/N=3"] = _deliver(pair, returned, signers, relayer)
            for size in BATCH_SIZES:
                sents = [_send(pair, "home", token_id, 10, holder)[1] for _ in range(size)]
                gas[f"bridge deliverBatch lock, mint warm id, M=2/N=3, per message, batch of {size}"] = (
                    _deliver_batch(pair, sents, signers, relayer) // size
                )
        gas[f"bridge deliver lock, mint first of id, M={m}/N={n}"] = first_mint
        gas[f"bridge deliver lock, mint warm id, M={m}/N={n}"] = warm_mint
        gas[f"bridge deliver burn, release (return), M={m}/N={n}"] = release
    return gas
