"""Batched, block-pinned ``eth_call`` reads through one web3 instance, with readable revert errors.

Nothing here knows about issuance or retirement: ``Call`` is one view call, ``ChainView.call_many`` sends many in
JSON-RPC batches, and ``error_names`` turns contract ABIs into the selector map used to name reverts.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import keccak, to_checksum_address

from tonne.chain.errors import PendingTransactionsError

RPC_BATCH_SIZE = 1000

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


@functools.cache
def selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


def _word_bytes32(value: bytes) -> bytes:
    if len(value) != 32:
        raise ValueError(f"bytes32 argument has {len(value)} bytes")
    return bytes(value)


_STATIC_WORDS: dict[str, Callable[[Any], bytes]] = {
    "bytes32": _word_bytes32,
    "uint256": lambda v: int(v).to_bytes(32, "big"),
    "uint64": lambda v: int(v).to_bytes(32, "big"),
    "address": lambda v: bytes.fromhex(str(v)[2:]).rjust(32, b"\x00"),
}


@dataclass(frozen=True)
class Call:
    """One ``eth_call``: ``to``, a function signature, its arguments and the output types to decode."""

    to: str
    signature: str
    args: tuple[Any, ...] = ()
    outputs: tuple[str, ...] = ()
    sender: str | None = None

    def data(self) -> bytes:
        types, static = _input_types(self.signature)
        if static:  # fast path: one 32-byte word per argument
            return selector(self.signature) + b"".join(
                _STATIC_WORDS[t](a) for t, a in zip(types, self.args, strict=True)
            )
        return selector(self.signature) + abi_encode(types, list(self.args))


@dataclass(frozen=True)
class Reverted:
    """A call that reverted; ``data`` is the revert data, ``error`` its decoded name when known."""

    data: bytes
    error: str

    def __bool__(self) -> bool:
        return False


@functools.cache
def _input_types(signature: str) -> tuple[tuple[str, ...], bool]:
    """A signature's input types, and whether each is one static word (``_STATIC_WORDS``); parsed once."""
    types = tuple(split_types(signature[signature.index("(") + 1 : -1]))
    return types, all(t in _STATIC_WORDS for t in types)


def split_types(inputs: str) -> list[str]:
    """``uint256,(address,uint8)[],bytes`` as its top-level types."""
    types, depth, current = [], 0, ""
    for char in inputs:
        if char == "," and depth == 0:
            types.append(current)
            current = ""
            continue
        depth += (char == "(") - (char == ")")
        current += char
    if current:
        types.append(current)
    return types


class ChainView:
    """Reads the chain through one web3 instance with batched JSON-RPC, pinned to one block when asked.

    ``errors`` maps 4-byte error selectors to readable signatures (see ``error_names``), for revert messages.
    """

    def __init__(self, w3: Any, *, errors: dict[bytes, str] | None = None, batch_size: int = RPC_BATCH_SIZE):
        self.w3 = w3
        self.errors = errors or {}
        self.batch_size = batch_size
        self.block: int | str = "latest"

    def pin(self) -> int:
        """Pin later reads to the current block; returns it."""
        self.block = int(self.w3.eth.block_number)
        return self.block

    def unpin(self) -> None:
        self.block = "latest"

    def rpc_many(self, requests: Sequence[tuple[str, list[Any]]]) -> list[dict[str, Any]]:
        """Raw JSON-RPC responses, in order, sent in batches of ``batch_size``."""
        out: list[dict[str, Any]] = []
        provider = self.w3.provider
        for start in range(0, len(requests), self.batch_size):
            part = list(requests[start : start + self.batch_size])
            try:
                responses = provider.make_batch_request(part)
            except NotImplementedError:
                responses = [provider.make_request(method, params) for method, params in part]
            if not isinstance(responses, list):
                raise RuntimeError(f"the node refused a batch of {len(part)} JSON-RPC calls: {responses}")
            out.extend(dict(response) for response in responses)
        return out

    def call_many(self, calls: Sequence[Call]) -> list[Any]:
        """Results of ``calls`` (a single output is unwrapped); a reverted call gives a falsy ``Reverted``."""
        responses = self._eth_calls([(call.to, call.data(), call.sender) for call in calls])
        return [self._decode(call, response) for call, response in zip(calls, responses, strict=True)]

    def estimate_many(self, calls: Sequence[tuple[str, bytes, str | None]]) -> list[int | Reverted]:
        """Gas estimates of ``(to, calldata, sender)`` transactions at the pinned block, in JSON-RPC batches; a call
        that would revert gives a falsy ``Reverted`` (so this doubles as a simulation)."""
        out: list[int | Reverted] = []
        for (_, data, _), response in zip(calls, self._eth_calls(calls, "eth_estimateGas"), strict=True):
            if "error" in response:
                out.append(self._reverted(data[:4].hex(), response))
            else:
                out.append(int(response["result"], 16))
        return out

    def _eth_calls(
        self, calls: Sequence[tuple[str, bytes, str | None]], method: str = "eth_call"
    ) -> list[dict[str, Any]]:
        block = hex(self.block) if isinstance(self.block, int) else self.block
        requests = []
        for to, data, sender in calls:
            tx: dict[str, Any] = {"to": to, "data": "0x" + data.hex()}
            if sender:
                tx["from"] = sender
            requests.append((method, [tx, block]))
        return self.rpc_many(requests)

    def call(self, call: Call) -> Any:
        return self.call_many([call])[0]

    def _reverted(self, what: str, response: dict[str, Any]) -> Reverted:
        error = response["error"] or {}
        data = hex_bytes(error.get("data"))
        if not data and "revert" not in str(error.get("message", "")).lower():
            raise RuntimeError(f"eth_call {what} failed: {error}")
        return Reverted(data, self.error_name(data) or str(error.get("message", "reverted")))

    def _decode(self, call: Call, response: dict[str, Any]) -> Any:
        if "error" in response:
            return self._reverted(call.signature, response)
        result = hex_bytes(response.get("result"))
        if call.outputs in (("bool",), ("uint8",), ("uint64",), ("uint256",)) and len(result) == 32:
            value = int.from_bytes(result, "big")
            return bool(value) if call.outputs == ("bool",) else value
        if call.outputs == ("bytes32",) and len(result) == 32:
            return result
        values = abi_decode(list(call.outputs), result)
        return values[0] if len(values) == 1 else values

    def error_name(self, data: bytes) -> str:
        """Readable form of revert data, e.g. ``CreditOrderReferenceUsed(0x12..)``."""
        if len(data) < 4:
            return ""
        signature = self.errors.get(data[:4])
        if signature is None:
            return "0x" + data.hex()
        inputs = split_types(signature[signature.index("(") + 1 : -1])
        try:
            values = abi_decode(inputs, data[4:]) if inputs else ()
        except Exception:  # noqa: BLE001 - malformed revert data: show the name alone
            return signature
        shown = ", ".join(_show(v) for v in values)
        return f"{signature.split('(')[0]}({shown})"

    def nonces(self, address: str) -> tuple[int, int]:
        """(latest, pending) nonce of ``address``."""
        latest, pending = self.rpc_many(
            [("eth_getTransactionCount", [address, "latest"]), ("eth_getTransactionCount", [address, "pending"])]
        )
        return int(latest["result"], 16), int(pending["result"], 16)

    def wait_settled(self, address: str, timeout: float, log: Callable[[str], None], poll: float = 0.5) -> None:
        """Wait until ``address`` has no pending transaction, so nothing it sent earlier can still land."""
        deadline = time.monotonic() + timeout
        latest, pending = self.nonces(address)
        if pending > latest:
            log(f"waiting for {pending - latest} pending transaction(s) of {address} (nonces {latest}..{pending - 1})")
        while pending > latest:
            if time.monotonic() > deadline:
                raise PendingTransactionsError(
                    f"{address} still has {pending - latest} pending transaction(s) (nonces {latest}..{pending - 1}) "
                    f"after {timeout:.0f} s. Wait for them to be mined, or replace them (same nonce, higher fee), "
                    "then run again: nothing was sent."
                )
            time.sleep(poll)
            latest, pending = self.nonces(address)

    def block_gas_limit(self) -> int:
        return int(self.w3.eth.get_block("latest")["gasLimit"])


def _show(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, str) and _ADDRESS.fullmatch(value):
        return to_checksum_address(value)
    return str(value)


def error_names(*abis: Iterable[dict[str, Any]]) -> dict[bytes, str]:
    """4-byte selector -> signature of every custom error in the given JSON ABIs."""
    names: dict[bytes, str] = {}
    for abi in abis:
        for item in abi:
            if item.get("type") == "error":
                signature = f"{item['name']}({','.join(_abi_type(i) for i in item.get('inputs', []))})"
                names[selector(signature)] = signature
    return names


def _abi_type(item: dict[str, Any]) -> str:
    kind = item["type"]
    if kind.startswith("tuple"):
        return "(" + ",".join(_abi_type(c) for c in item.get("components", [])) + ")" + kind[len("tuple") :]
    return kind


def hex_bytes(value: Any) -> bytes:
    if not value:
        return b""
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    text = str(value)
    return bytes.fromhex(text[2:] if text.startswith("0x") else text)
