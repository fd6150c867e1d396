"""Reading messages off a source gateway, checking them against chain data, signing and delivering them.

Shared by `attest` (validators), `relay` (relayer), `bridge-audit` and the two-chain tests, so all of them see
messages the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_utils import to_checksum_address
from web3 import Web3

from tonne.bridge.deploy import BridgePair, Side
from tonne.bridge.logs import EventDecoder
from tonne.bridge.messages import Message, Transfer, message_id, parse_interop_address, sign_digest


@dataclass(frozen=True)
class Sent:
    """A message as its source gateway emitted it, with where it was emitted."""

    message: Message
    destination_chain_id: int
    block_number: int
    transaction_hash: str
    block_timestamp: int | None = None  # from the log, where the node gives it (Anvil does)

    @property
    def id(self) -> bytes:
        return self.message.id


def sent_messages(side: Side, from_block: int, to_block: int | str = "latest") -> list[Sent]:
    """Every message ``side``'s gateway sent in blocks ``from_block``..``to_block``, in nonce order (one
    ``eth_getLogs`` for both of its events, decoded by tonne.bridge.logs)."""
    gateway = side.gateway
    if to_block == "latest":
        to_block = side.w3.eth.block_number
    numbered = []
    sent = {}
    for log in EventDecoder(gateway, ["MessageSent", "MessageNumbered"]).get_logs(side.w3, from_block, to_block):
        if log["event"] == "MessageNumbered":
            numbered.append(log)
        else:
            sent[bytes(log["args"]["sendId"])] = log
    out = []
    for log in numbered:
        send_id = bytes(log["args"]["sendId"])
        body = sent.get(send_id)
        if body is None:  # cannot happen: both events come from the same call
            raise RuntimeError(f"gateway {gateway.address}: MessageNumbered {send_id.hex()} without MessageSent")
        _, sender = parse_interop_address(bytes(body["args"]["sender"]))
        dest_chain, recipient = parse_interop_address(bytes(body["args"]["recipient"]))
        message = Message(
            side.chain_id, gateway.address, sender, recipient, log["args"]["nonce"], bytes(body["args"]["payload"])
        )
        if message.id != send_id:
            raise RuntimeError(f"gateway {gateway.address}: message id {send_id.hex()} does not match its nonce")
        out.append(Sent(message, dest_chain, log["blockNumber"], log["transactionHash"], log["blockTimestamp"]))
    out.sort(key=lambda s: s.message.nonce)
    return out


def check_sent(side: Side, sent: Sent, confirmations: int = 0, receipt: Any = None) -> str | None:
    """Why a validator must NOT attest ``sent`` (None when it may): the message must be in the canonical chain
    with ``confirmations`` blocks on top, in a successful transaction, and its id must match its nonce."""
    w3 = side.w3
    receipt = receipt or w3.eth.get_transaction_receipt(sent.transaction_hash)
    if receipt["status"] != 1:
        return f"transaction {sent.transaction_hash} failed"
    if receipt["blockNumber"] != sent.block_number:
        return f"transaction {sent.transaction_hash} moved to block {receipt['blockNumber']} (reorg)"
    if confirmations and w3.eth.block_number - sent.block_number < confirmations:
        return f"only {w3.eth.block_number - sent.block_number} of {confirmations} confirmations"
    if message_id(side.chain_id, side.gateway.address, sent.message.nonce) != sent.id:
        return "message id does not match"
    return None


def sign(message: Message, key: bytes, destination: Side) -> bytes:
    return sign_digest(key, message.digest(destination.chain_id, destination.gateway.address))


def deliver(destination: Side, message: Message, signatures: list[bytes], sender: str, gas: int | None = None) -> Any:
    """Deliver and return the receipt (status 0 on an on-chain revert when ``gas`` is given)."""
    tx: dict[str, Any] = {"from": sender}
    if gas is not None:
        tx["gas"] = gas
    tx_hash = destination.gateway.functions.deliver(message.as_tuple(), signatures).transact(tx)
    return destination.w3.eth.wait_for_transaction_receipt(tx_hash)


def is_processed(destination: Side, message: Message) -> bool:
    return destination.gateway.functions.isProcessed(message.id).call()


def transfer_of(message: Message) -> Transfer:
    return Transfer.decode(message.payload)


def checksum(address: str) -> str:
    return to_checksum_address(address)


def connect(url: str, timeout: float = 30) -> Web3:
    return Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": timeout}))


def destination_side(pair: BridgePair, sent: Sent) -> Side:
    side = pair.home if sent.destination_chain_id == pair.home.chain_id else pair.remote
    if side.chain_id != sent.destination_chain_id:
        raise RuntimeError(f"message {sent.id.hex()} goes to chain {sent.destination_chain_id}, not bridged here")
    return side
