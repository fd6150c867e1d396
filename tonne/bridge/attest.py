"""A validator: watch both gateways, check each message against chain data, sign it, publish the signature.

One process per validator key. It keeps its own cursor per source chain in the store, so it resumes where it
stopped; signing the same message twice yields the same signature (RFC 6979), so a crash between signing and
saving the cursor costs nothing.

What a validator checks before it signs (and records as a refusal otherwise):
- the message is in the source gateway's logs, in a successful transaction, ``confirmations`` blocks deep;
- it goes to the other chain of this bridge, from this bridge's bridge contract to its counterpart;
- the same transaction has the bridge's own event for that message id with the same id, amount and accounts
  (CreditsLocked at home, CreditsBurned on the remote side): the payload says what the bridge really did;
- a return (either side: a transfer the bridge could not deliver, sent back) has the bridge's own TransferReturned
  for that message id with the same id, amount, accounts and returned message id;
- a rules message (home only) has the home bridge's own RulesSent for that message id, whose sequence, keys and
  flags encode to exactly the payload.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eth_keys import keys
from web3.logs import DISCARD

from tonne.bridge.deploy import BridgePair, Side
from tonne.bridge.logs import EventDecoder
from tonne.bridge.messages import BURN, LOCK, RETURN, RULES, Rules, Transfer, kind_of, sign_digest
from tonne.bridge.store import Store
from tonne.bridge.watch import Sent, check_sent, sent_messages

MAX_BLOCK_RANGE = 2_000


@dataclass
class Signer:
    """Signs 32-byte digests; ``address`` is the validator's address."""

    address: str
    sign: Callable[[bytes], bytes]


def key_signer(private_key: bytes) -> Signer:
    address = keys.PrivateKey(private_key).public_key.to_checksum_address()
    return Signer(address, lambda digest: sign_digest(private_key, digest))


def ape_signer(account: Any) -> Signer:
    """A signer backed by an ape account (keyfile or test account); it signs the raw digest."""

    def sign(digest: bytes) -> bytes:
        sig = account.sign_raw_msghash(digest)
        v = sig.v if sig.v >= 27 else sig.v + 27
        return bytes(sig.r) + bytes(sig.s) + bytes([v])

    return Signer(str(account.address), sign)


def refusal(pair: BridgePair, source: Side, sent: Sent, confirmations: int, receipt: Any = None) -> str | None:
    """Why this validator must not sign ``sent`` (None when it may). ``receipt``: its transaction's receipt, or
    the bridge's logs of that transaction as one (``bridge_receipts``); fetched when not given."""
    destination = pair.other(source)
    message = sent.message
    if sent.destination_chain_id != destination.chain_id:
        return f"goes to chain {sent.destination_chain_id}, not {destination.chain_id}"
    if message.sender != source.bridge.address or message.recipient != destination.bridge.address:
        return f"not from bridge {source.bridge.address} to {destination.bridge.address}"
    receipt = receipt or source.w3.eth.get_transaction_receipt(sent.transaction_hash)
    why = check_sent(source, sent, confirmations, receipt)
    if why:
        return why
    try:
        if source is pair.home and kind_of(message.payload) == RULES:
            return rules_refusal(source, sent, receipt)
        transfer = Transfer.decode(message.payload)
    except Exception as exc:  # noqa: BLE001 - any decoding failure is a refusal, with its reason
        return f"payload does not decode: {exc}"
    expected_kind, event_name = (LOCK, "CreditsLocked") if source is pair.home else (BURN, "CreditsBurned")
    if transfer.kind == RETURN:
        event_name = "TransferReturned"
    elif transfer.kind != expected_kind:
        return f"payload kind {transfer.kind}, expected {expected_kind} or {RETURN}"
    return transfer_refusal(source, sent, receipt, transfer, event_name)


def transfer_refusal(source: Side, sent: Sent, receipt: Any, transfer: Transfer, event_name: str) -> str | None:
    """Why a transfer message must not be signed: the bridge's own ``event_name`` for its id must say the same
    (for a RETURN, TransferReturned, also naming the same returned message)."""
    message = sent.message
    matches = [
        log
        for log in _bridge_events(source, receipt, event_name)
        if bytes(log["args"]["messageId"]) == message.id
        and log["address"] == source.bridge.address
        and log["args"]["id"] == transfer.token_id
        and log["args"]["amount"] == transfer.amount
        and log["args"]["from"] == transfer.sender
        and log["args"]["to"] == transfer.to
        and (transfer.kind != RETURN or bytes(log["args"]["returnedMessageId"]) == transfer.returned)
    ]
    if len(matches) != 1:
        return f"no matching {event_name} event in {sent.transaction_hash}"
    return None


def rules_refusal(source: Side, sent: Sent, receipt: Any) -> str | None:
    """Why a rules message must not be signed: its payload must be what the home bridge's RulesSent says."""
    message = sent.message
    rules = Rules.decode(message.payload)
    matches = [
        log
        for log in _bridge_events(source, receipt, "RulesSent")
        if bytes(log["args"]["messageId"]) == message.id
        and log["address"] == source.bridge.address
        and Rules(log["args"]["seq"], tuple(log["args"]["keys"]), tuple(log["args"]["flags"])).encode()
        == message.payload
    ]
    if len(matches) != 1 or rules.encode() != message.payload:
        return f"no matching RulesSent event in {sent.transaction_hash}"
    return None


def bridge_receipts(pair: BridgePair, source: Side, start: int, end: int) -> dict[str, dict[str, Any]]:
    """The source bridge's events in blocks ``start``..``end``, grouped per transaction into receipt-shaped dicts
    (``events``: decoded logs): one ``eth_getLogs`` for a whole range instead of one receipt per message. What the
    checks read is the same: a node returns logs only of successful transactions in its canonical chain (status
    1), each with its block."""
    names = ["TransferReturned"] + (["CreditsLocked", "RulesSent"] if source is pair.home else ["CreditsBurned"])
    receipts: dict[str, dict[str, Any]] = {}
    for log in EventDecoder(source.bridge, names).get_logs(source.w3, start, end):
        entry = receipts.setdefault(
            log["transactionHash"], {"status": 1, "blockNumber": log["blockNumber"], "events": []}
        )
        entry["events"].append(log)
    return receipts


def _bridge_events(source: Side, receipt: Any, event_name: str) -> list[Any]:
    """``event_name`` logs of the source bridge in ``receipt`` (a real one, or one of ``bridge_receipts``)."""
    if "events" in receipt:
        return [log for log in receipt["events"] if log["event"] == event_name]
    return list(getattr(source.bridge.events, event_name)().process_receipt(receipt, errors=DISCARD))


def attest_once(
    pair: BridgePair,
    signer: Signer,
    store: Store,
    *,
    confirmations: int = 0,
    log: Callable[[str], None] = lambda _: None,
) -> int:
    """Scan both gateways from this validator's cursors to the latest confirmed block; sign what checks out.
    Returns the number of new signatures."""
    signed = 0
    reader = f"attest:{signer.address}"
    for source in (pair.home, pair.remote):
        destination = pair.other(source)
        start = store.cursor(reader, source.chain_id, source.start_block)
        head = source.w3.eth.block_number - confirmations
        while start <= head:
            end = min(head, start + MAX_BLOCK_RANGE - 1)
            sents = sent_messages(source, start, end)
            receipts = bridge_receipts(pair, source, start, end) if sents else {}
            refused: list[tuple[bytes, str]] = []
            accepted: list[tuple[Sent, float, bytes]] = []
            for sent in sents:
                # A transaction without a bridge log has an empty receipt here: refused, as with the real one.
                receipt = receipts.get(
                    sent.transaction_hash, {"status": 1, "blockNumber": sent.block_number, "events": []}
                )
                why = refusal(pair, source, sent, confirmations, receipt)
                if why:
                    refused.append((sent.id, why))
                    log(f"refused message 0x{sent.id.hex()} (nonce {sent.message.nonce}): {why}")
                    continue
                block_time = sent.block_timestamp
                if block_time is None:
                    block_time = source.w3.eth.get_block(sent.block_number)["timestamp"]
                digest = sent.message.digest(destination.chain_id, destination.gateway.address)
                accepted.append((sent, block_time, signer.sign(digest)))
            # One store transaction per range, after the checks and signatures: the range's messages, signatures,
            # refusals and the cursor past it are saved together (and the store is locked for milliseconds).
            with store.transaction():
                for message_id, why in refused:
                    store.add_refusal(message_id, signer.address, why)
                for sent, block_time, signature in accepted:
                    store.add_message(sent.message, destination.chain_id, sent.block_number, block_time)
                    store.add_attestation(sent.id, signer.address, signature)
                store.set_cursor(reader, source.chain_id, end + 1)
            signed += len(accepted)
            start = end + 1
    return signed


def run_attester(
    pair: BridgePair,
    signer: Signer,
    store: Store,
    *,
    confirmations: int = 0,
    poll: float = 0.5,
    once: bool = False,
    log: Callable[[str], None] = print,
) -> None:
    """Attest forever (or once), polling every ``poll`` seconds."""
    if not pair.home.gateway.functions.isValidator(signer.address).call():
        log(f"warning: {signer.address} is not a validator of the home gateway; its signatures will not count")
    while True:
        count = attest_once(pair, signer, store, confirmations=confirmations, log=log)
        if count:
            log(f"{signer.address}: signed {count} message(s)")
        if once:
            return
        time.sleep(poll)
