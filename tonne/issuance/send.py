"""Sending a plan: senders that sign and wait for receipts, and the send loop that survives lost races."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from tonne.issuance.chainview import Call, ChainView
from tonne.issuance.checks import Contracts, view_value
from tonne.issuance.errors import IssuanceError, SendFailed
from tonne.issuance.plan import Order, Plan, encode_issue_many


@dataclass(frozen=True)
class Sent:
    """A mined, successful transaction."""

    tx_hash: str
    gas_used: int


class Sender(Protocol):
    """Signs and sends a transaction, waits until it is mined; raises ``SendFailed`` unless it succeeded."""

    address: str

    def send(self, to: str, data: bytes) -> Sent: ...


class ApeSender:
    """Sends through an ape account (any kind: test, keyfile, hardware wallet): ape fills nonce, gas and fees and
    signs; the signed transaction goes out raw and its receipt is polled quickly and read unformatted (ape's own
    send path polls every 0.1 s and formats every log of a 200-order receipt, about half the run time)."""

    def __init__(self, account: Any, provider: Any, *, timeout: float | None = None) -> None:
        self.account = account
        self.provider = provider
        self.address = str(account.address)
        self.timeout = timeout if timeout is not None else float(provider.network.transaction_acceptance_timeout)

    def send(self, to: str, data: bytes) -> Sent:
        try:
            txn = self.provider.network.ecosystem.create_transaction(receiver=to, data=data, sender=self.address)
            txn = self.account.prepare_transaction(txn)
            signed = self.account.sign_transaction(txn)
            if not signed:
                raise SendFailed(f"{self.address} did not sign the transaction")
            tx_hash = _hash_text(self.provider.web3.eth.send_raw_transaction(signed.serialize_transaction()))
        except SendFailed:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure is re-checked against the chain by the caller
            raise SendFailed(f"{type(exc).__name__}: {exc}") from exc
        return wait_for_receipt(self.provider.web3, tx_hash, self.timeout)


def wait_for_receipt(w3: Any, tx_hash: str, timeout: float) -> Sent:
    """Poll for the raw receipt (5 ms at first, backing off to 1 s); raise ``SendFailed`` if reverted or late."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        response = w3.provider.make_request("eth_getTransactionReceipt", [tx_hash])
        receipt = response.get("result")
        if receipt:
            if int(receipt["status"], 16) != 1:
                raise SendFailed(f"transaction {tx_hash} reverted")
            return Sent(tx_hash=tx_hash, gas_used=int(receipt["gasUsed"], 16))
        if time.monotonic() > deadline:
            raise SendFailed(f"transaction {tx_hash} was not mined within {timeout:.0f} s")
        time.sleep(delay)
        delay = min(delay * 1.5, 1.0)


class Web3Sender:
    """Sends with plain web3.py and a local key (``eth_account`` account): for tests and benchmarks."""

    def __init__(self, w3: Any, account: Any, *, timeout: float = 120.0, gas_margin: float = 1.2) -> None:
        self.w3 = w3
        self.account = account
        self.address = str(account.address)
        self.timeout = timeout
        self.gas_margin = gas_margin
        self.chain_id = int(w3.eth.chain_id)

    def send(self, to: str, data: bytes) -> Sent:
        eth = self.w3.eth
        tx: dict[str, Any] = {"from": self.address, "to": to, "data": data, "chainId": self.chain_id}
        try:
            tx["gas"] = int(eth.estimate_gas(tx) * self.gas_margin)
            tx["nonce"] = eth.get_transaction_count(self.address, "pending")
            base = eth.get_block("latest").get("baseFeePerGas", 0)
            tx["maxPriorityFeePerGas"] = 1
            tx["maxFeePerGas"] = 2 * base + 1
            signed = self.account.sign_transaction(tx)
            tx_hash = _hash_text(eth.send_raw_transaction(signed.raw_transaction))
        except Exception as exc:  # noqa: BLE001 - any failure is re-checked against the chain by the caller
            raise SendFailed(f"{type(exc).__name__}: {exc}") from exc
        return wait_for_receipt(self.w3, tx_hash, self.timeout)


def _hash_text(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    text = str(value)
    return text if text.startswith("0x") else "0x" + text


@dataclass
class IssueSummary:
    """What a run did."""

    rows: int = 0
    issued: int = 0  # rows issued by this run
    already_done: int = 0  # rows whose orderRef was used before this run planned
    raced: int = 0  # rows found issued by another transaction while this run was sending
    txs: int = 0
    gas_used: int = 0
    elapsed: float = 0.0
    tx_hashes: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def rows_per_second(self) -> float:
        return self.issued / self.elapsed if self.elapsed > 0 else 0.0

    def describe(self) -> str:
        if self.dry_run:
            return f"dry run: {self.rows - self.already_done} rows would be issued; nothing was sent"
        if self.issued == 0 and self.raced == 0:
            return f"nothing to issue: all {self.rows} rows were already issued on-chain ({self.elapsed:.1f} s)"
        gas_per_row = self.gas_used // self.issued if self.issued else 0
        return (
            f"issued {self.issued} rows now; {self.already_done} were already done before this run"
            + (f"; {self.raced} were issued meanwhile by another transaction" if self.raced else "")
            + f"; {self.txs} transaction(s), {self.gas_used:,} gas ({gas_per_row:,}/row); "
            f"{self.elapsed:.1f} s, {self.rows_per_second:.0f} rows/s"
        )


class Progress(Protocol):
    def update(self, n: int) -> Any: ...


def execute(
    plan: Plan,
    view: ChainView,
    contracts: Contracts,
    sender: Sender,
    *,
    progress: Progress | None = None,
    pending_timeout: float = 180.0,
    log: Callable[[str], None] = lambda _: None,
    started: float | None = None,
) -> IssueSummary:
    """Send the plan's chunks in order. A chunk that fails is re-checked against the chain: rows whose orderRef
    got used meanwhile are dropped and the rest is sent again; a failure with no such row stops the run."""
    summary = IssueSummary(rows=len(plan.rows), already_done=len(plan.done))
    start = time.monotonic() if started is None else started
    for index, orders in enumerate(plan.chunks, 1):
        remaining = list(orders)
        while remaining:
            try:
                sent = sender.send(contracts.credit, encode_issue_many(remaining))
            except SendFailed as exc:
                still = _drop_raced(
                    remaining, exc, index, len(plan.chunks), view, contracts, sender.address, pending_timeout, log
                )
                summary.raced += len(remaining) - len(still)
                if progress is not None:
                    progress.update(len(remaining) - len(still))
                remaining = still
                continue
            summary.txs += 1
            summary.gas_used += sent.gas_used
            summary.issued += len(remaining)
            summary.tx_hashes.append(sent.tx_hash)
            if progress is not None:
                progress.update(len(remaining))
            remaining = []
    summary.elapsed = time.monotonic() - start
    return summary


def _drop_raced(
    remaining: list[Order],
    exc: SendFailed,
    index: int,
    total: int,
    view: ChainView,
    contracts: Contracts,
    address: str,
    pending_timeout: float,
    log: Callable[[str], None],
) -> list[Order]:
    """The orders of a failed chunk whose orderRef is still unused; raises when none got used meanwhile."""
    view.wait_settled(address, pending_timeout, log)
    calls = [Call(contracts.credit, "isOrderReferenceUsed(bytes32)", (o.row.order_ref,), ("bool",)) for o in remaining]
    used = [bool(view_value(result, "isOrderReferenceUsed")) for result in view.call_many(calls)]
    still = [order for order, is_used in zip(remaining, used, strict=True) if not is_used]
    if len(still) == len(remaining):
        lines = f"lines {remaining[0].row.line}..{remaining[-1].row.line}"
        raise IssuanceError(
            f"transaction {index}/{total} ({len(remaining)} orders, {lines}) failed: {exc}. "
            "The transactions before it stand; fix the cause and run again to issue the rest."
        ) from exc
    raced = [o.row.line for o in remaining if o not in still]
    log(
        f"transaction {index}/{total}: {len(raced)} row(s) were issued meanwhile by another transaction "
        f"(lines {', '.join(map(str, raced[:10]))}{', ...' if len(raced) > 10 else ''}); "
        f"sending the other {len(still)}"
    )
    return still
