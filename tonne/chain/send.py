"""Senders: sign and send one transaction, and wait for its receipt.

``Sender.send`` does both; ``submit`` and ``wait`` do them apart, so that a tool can keep several transactions of
one account in flight (consecutive nonces) and collect their receipts in order. Every failure, whether the node
refused the transaction, it reverted or it was not mined in time, is raised as ``SendFailed``; the tools re-check
the chain after one, since a transaction that looked failed may still have landed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from hexbytes import HexBytes

from tonne.chain.errors import SendFailed


@dataclass(frozen=True)
class Sent:
    """A mined, successful transaction; ``logs`` are its receipt's raw logs (hex strings, as the node sent them)."""

    tx_hash: str
    gas_used: int
    block_number: int = 0
    logs: tuple[dict[str, Any], ...] = field(default=(), repr=False, compare=False)


class Sender(Protocol):
    """Signs and sends a transaction, waits until it is mined; raises ``SendFailed`` unless it succeeded."""

    address: str

    def send(self, to: str, data: bytes) -> Sent: ...


class PipelinedSender(Sender, Protocol):
    """A sender that can also submit without waiting (tracking its own nonces) and wait for a submitted hash;
    ``gas`` given, it is the transaction's gas limit (no estimate is made)."""

    def submit(self, to: str, data: bytes, gas: int | None = None) -> str: ...

    def wait(self, tx_hash: str) -> Sent: ...


class ApeSender:
    """Sends through an ape account (any kind: test, keyfile, hardware wallet): ape fills gas and fees and signs;
    the signed transaction goes out raw and its receipt is polled quickly and read unformatted (ape's own send path
    polls every 0.1 s and formats every log of a 200-order receipt, about half the run time).

    Nonces are tracked here, from the account's pending count, so that ``submit`` can be called again before the
    previous transaction is mined; after a failed submission the count is read from the node again.

    When the caller gives the gas limit, ape prepares one transaction in full (fees, chain id, type) and the next
    ones copy it with their own nonce, data and gas, up to ``REFRESH_TXS`` transactions or ``REFRESH_SECONDS``:
    ape's preparation (config models, fee queries) costs more than the rest of a send together."""

    REFRESH_TXS = 32
    REFRESH_SECONDS = 12.0

    def __init__(self, account: Any, provider: Any, *, timeout: float | None = None) -> None:
        self.account = account
        self.provider = provider
        self.address = str(account.address)
        self.timeout = timeout if timeout is not None else float(provider.network.transaction_acceptance_timeout)
        self._nonce: int | None = None
        self._template: Any = None
        self._template_uses = 0
        self._template_at = 0.0

    def _prepared(self, to: str, data: bytes, gas: int | None) -> Any:
        fresh = (
            gas is None
            or self._template is None
            or self._template_uses >= self.REFRESH_TXS
            or time.monotonic() - self._template_at > self.REFRESH_SECONDS
        )
        if not fresh:
            self._template_uses += 1
            return self._template.model_copy(
                update={"nonce": self._nonce, "data": HexBytes(data), "receiver": to, "gas_limit": gas}
            )
        if gas is None:  # estimated here, not by ape: ape prints a call trace to stdout for every revert
            gas = estimate_gas(self.provider.web3, self.address, to, data)
            fields_gas = None
        else:
            fields_gas = gas
        fields: dict[str, Any] = {"receiver": to, "data": data, "sender": self.address, "nonce": self._nonce}
        fields["gas_limit"] = gas
        txn = self.account.prepare_transaction(self.provider.network.ecosystem.create_transaction(**fields))
        if fields_gas is not None:
            self._template, self._template_uses, self._template_at = txn, 1, time.monotonic()
        return txn

    def submit(self, to: str, data: bytes, gas: int | None = None) -> str:
        try:
            if self._nonce is None:
                self._nonce = int(self.provider.web3.eth.get_transaction_count(self.address, "pending"))
            txn = self._prepared(to, data, gas)
            signed = self.account.sign_transaction(txn)
            if not signed:
                raise SendFailed(f"{self.address} did not sign the transaction")
            tx_hash = hash_text(self.provider.web3.eth.send_raw_transaction(signed.serialize_transaction()))
        except Exception as exc:  # noqa: BLE001 - any failure is re-checked against the chain by the caller
            self._nonce, self._template = None, None
            if isinstance(exc, SendFailed):
                raise
            raise SendFailed(f"{type(exc).__name__}: {exc}") from exc
        self._nonce += 1
        return tx_hash

    def wait(self, tx_hash: str) -> Sent:
        return wait_for_receipt(self.provider.web3, tx_hash, self.timeout)

    def send(self, to: str, data: bytes) -> Sent:
        return self.wait(self.submit(to, data))


GAS_MARGIN = 1.25


def estimate_gas(w3: Any, sender: str, to: str, data: bytes) -> int:
    """``eth_estimateGas`` with a margin, sent raw; a revert raises ``SendFailed`` with the revert data, decoded
    by ``tonne.chain.refusal`` (the custom error's name and arguments)."""
    params = {"from": sender, "to": to, "data": "0x" + bytes(data).hex()}
    response = w3.provider.make_request("eth_estimateGas", [params])
    if "error" in response:
        raise reverted(response["error"], "the gas estimate", "gas estimate failed")
    return int(int(response["result"], 16) * GAS_MARGIN) + 20_000


def reverted(error: dict[str, Any] | None, what: str, fallback: str) -> SendFailed:
    """A node's JSON-RPC error for a call that reverted, as ``SendFailed("<what> reverted: <detail>")`` carrying the
    revert data; the detail is the custom error decoded by ``tonne.chain.refusal`` (name and arguments), else the
    raw data, else the node's message (``fallback`` when it has none)."""
    from tonne.chain.refusal import decode_error, explain

    error = error or {}
    raw = error.get("data")
    if isinstance(raw, dict):
        raw = raw.get("data")
    revert = bytes.fromhex(raw.removeprefix("0x")) if isinstance(raw, str) and raw.startswith("0x") else b""
    failed = SendFailed("", revert)
    if decode_error(revert):
        detail = explain(failed)
    else:
        detail = ("0x" + revert.hex()) if revert else str(error.get("message", fallback))
    failed.args = (f"{what} reverted: {detail}",)
    return failed


POLL_SHARE = 0.15  # a receipt is polled again after this share of the time waited so far (5 ms to 1 s)


def wait_for_receipt(w3: Any, tx_hash: str, timeout: float) -> Sent:
    """Poll for the raw receipt, every 5 ms at first, then after ``POLL_SHARE`` of the time waited so far, at most
    every second: a receipt is seen at most ~15% after it exists (a geometric back-off of 1.5x found a 600 ms
    Anvil block up to 250 ms late); raise ``SendFailed`` if reverted or late."""
    started = time.monotonic()
    deadline = started + timeout
    while True:
        response = w3.provider.make_request("eth_getTransactionReceipt", [tx_hash])
        receipt = response.get("result")
        if receipt:
            if int(receipt["status"], 16) != 1:
                raise SendFailed(f"transaction {tx_hash} reverted")
            return Sent(
                tx_hash=tx_hash,
                gas_used=int(receipt["gasUsed"], 16),
                block_number=int(receipt["blockNumber"], 16),
                logs=tuple(dict(log) for log in receipt.get("logs") or ()),
            )
        now = time.monotonic()
        if now > deadline:
            raise SendFailed(f"transaction {tx_hash} was not mined within {timeout:.0f} s")
        time.sleep(min(1.0, max(0.005, POLL_SHARE * (now - started))))


class Web3Sender:
    """Sends with plain web3.py and a local key (``eth_account`` account): for tests and benchmarks."""

    def __init__(self, w3: Any, account: Any, *, timeout: float = 120.0, gas_margin: float = 1.2) -> None:
        self.w3 = w3
        self.account = account
        self.address = str(account.address)
        self.timeout = timeout
        self.gas_margin = gas_margin
        self.chain_id = int(w3.eth.chain_id)

    def submit(self, to: str, data: bytes, gas: int | None = None) -> str:
        eth = self.w3.eth
        tx: dict[str, Any] = {"from": self.address, "to": to, "data": data, "chainId": self.chain_id}
        try:
            tx["gas"] = gas if gas is not None else int(eth.estimate_gas(tx) * self.gas_margin)
            tx["nonce"] = eth.get_transaction_count(self.address, "pending")
            base = eth.get_block("latest").get("baseFeePerGas", 0)
            tx["maxPriorityFeePerGas"] = 1
            tx["maxFeePerGas"] = 2 * base + 1
            signed = self.account.sign_transaction(tx)
            return hash_text(eth.send_raw_transaction(signed.raw_transaction))
        except Exception as exc:  # noqa: BLE001 - any failure is re-checked against the chain by the caller
            raise SendFailed(f"{type(exc).__name__}: {exc}") from exc

    def wait(self, tx_hash: str) -> Sent:
        return wait_for_receipt(self.w3, tx_hash, self.timeout)

    def send(self, to: str, data: bytes) -> Sent:
        return self.wait(self.submit(to, data))


def hash_text(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    text = str(value)
    return text if text.startswith("0x") else "0x" + text


def ape_abi(contract: Any) -> list[dict[str, Any]]:
    """The JSON ABI of an ape contract instance."""
    return [item.model_dump(mode="json", by_alias=True) for item in contract.contract_type.abi]
