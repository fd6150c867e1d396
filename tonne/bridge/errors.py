"""Decoding custom errors of any Tonne contract from raw revert data (web3.py leaves them as hex)."""

from __future__ import annotations

from functools import cache
from typing import Any

from eth_abi import decode
from eth_abi.exceptions import DecodingError
from eth_utils import keccak, to_checksum_address
from web3.exceptions import ContractCustomError, ContractLogicError

from tonne.bridge.deploy import _artifacts
from tonne.chain.refusal import revert_entry


def _type_string(param: dict[str, Any]) -> str:
    if param["type"].startswith("tuple"):
        inner = ",".join(_type_string(c) for c in param["components"])
        return f"({inner}){param['type'][5:]}"
    return param["type"]


@cache
def error_table() -> dict[bytes, tuple[str, list[str], list[str]]]:
    """selector -> (error name, input names, input types), over every compiled contract."""
    table: dict[bytes, tuple[str, list[str], list[str]]] = {}
    for contract in _artifacts().values():
        for item in contract["abi"]:
            if item.get("type") != "error":
                continue
            types = [_type_string(p) for p in item["inputs"]]
            selector = keccak(text=f"{item['name']}({','.join(types)})")[:4]
            table[selector] = (item["name"], [p["name"] for p in item["inputs"]], types)
    return table


def decode_revert(data: bytes | str | None) -> tuple[str, dict[str, Any]] | None:
    """(error name, arguments) of revert ``data``, or None when it is empty, unknown or does not decode (a known
    selector with missing or truncated arguments: revert data may come from anyone's contract)."""
    found = revert_entry(data, error_table())
    if found is None:
        return None
    (name, names, types), arguments = found
    try:
        values = decode(types, arguments)
    except (DecodingError, ValueError, OverflowError):
        return None
    return name, {n: _plain(v, t) for n, v, t in zip(names, values, types, strict=True)}


def describe_revert(data: bytes | str | None, default: str = "refused") -> str:
    """The error name of revert ``data``; for data that does not decode, "undecodable refusal 0x..." (its first
    bytes); ``default`` when there is none. Never raises."""
    decoded = decode_revert(data)
    if decoded is not None:
        return decoded[0]
    if isinstance(data, str):
        data = data.removeprefix("0x")
        return f"undecodable refusal 0x{data[:16]}" if data else default
    if data:
        return f"undecodable refusal 0x{bytes(data[:8]).hex()}"
    return default


def _plain(value: Any, abi_type: str) -> Any:
    if abi_type == "address":
        return to_checksum_address(value)
    return value


def revert_of(call: Any, sender: str) -> tuple[str, dict[str, Any]] | None:
    """What ``call`` (a web3 contract function call) would revert with if ``sender`` sent it now; None if it would
    succeed. Raises for a revert without decodable data."""
    try:
        call.call({"from": sender})
    except ContractCustomError as exc:
        decoded = decode_revert(exc.data if isinstance(exc.data, str) else None)
        if decoded is None:
            raise
        return decoded
    except ContractLogicError:
        raise
    return None
