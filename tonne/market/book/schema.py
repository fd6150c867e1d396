"""Orders and query parameters from JSON, refused field by field.

Every integer comes as a decimal string of the ASCII digits 0-9 (``"1000"``): JSON numbers lose precision above
2^53 in most clients, so they are refused, as are ``"1e3"``, ``"1,5"``, ``"1_000"``, ``" 1"``, ``"-1"``, other
scripts' digits (which Python's ``int()`` would quietly read) and values above the field's Solidity type. Each
refusal is a ``FieldError`` naming the field and quoting the value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from eth_utils import keccak

from tonne.market.orders import BUY, ORDER_FIELDS, SELL, Order, checksum_address

DECIMAL = re.compile(r"[0-9]{1,78}", re.ASCII)
HEX = re.compile(r"0x[0-9a-fA-F]*", re.ASCII)
ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}", re.ASCII)
MAX_SIGNATURE_BYTES = 2048  # an EOA signature is 65 bytes; room for EIP-1271 wallets (multisig, passkeys)
_BITS = {"uint8": 8, "uint16": 16, "uint64": 64, "uint256": 256}


class FieldError(ValueError):
    """A request field that cannot be accepted: ``field`` names it (``order.amount``), the message says why."""

    def __init__(self, field: str, message: str, status: int = 400, code: str = "invalid_field"):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.status = status
        self.code = code


def _quote(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def parse_uint(value: Any, field: str, bits: int = 256) -> int:
    """A decimal string -> int within ``0..2**bits-1``."""
    if isinstance(value, bool) or not isinstance(value, str):
        kind = "a JSON number" if isinstance(value, int | float) and not isinstance(value, bool) else _quote(value)
        raise FieldError(field, f'{kind} is not a decimal string: integers are sent as strings, e.g. "1000"')
    if not DECIMAL.fullmatch(value):
        raise FieldError(
            field,
            f"{_quote(value)} is not a whole number written with the digits 0-9 (no sign, exponent, separators, "
            "spaces or other scripts' digits)",
        )
    number = int(value)
    if number >= 1 << bits:
        raise FieldError(field, f"{value} is above the largest uint{bits} ({(1 << bits) - 1})")
    return number


def parse_address(value: Any, field: str) -> str:
    if not isinstance(value, str) or not ADDRESS.fullmatch(value):
        raise FieldError(field, f"{_quote(value)} is not an address (0x and 40 hex digits)")
    checksummed = checksum_address(value)  # cached: a keccak each, and makers, tokens and exchanges repeat
    digits = value[2:]
    if digits != digits.lower() and digits != digits.upper() and value != checksummed:  # is_checksum_address
        raise FieldError(field, f"{value} has a wrong EIP-55 checksum (mixed case that does not match)")
    return checksummed


def parse_hex(value: Any, field: str, length: int | None = None, maximum: int | None = None) -> bytes:
    if not isinstance(value, str) or not HEX.fullmatch(value) or len(value) % 2:
        raise FieldError(field, f"{_quote(value)} is not hex bytes (0x and an even number of hex digits)")
    data = bytes.fromhex(value[2:])
    if length is not None and len(data) != length:
        raise FieldError(field, f"{_quote(value)} is {len(data)} bytes, expected {length}")
    if maximum is not None and len(data) > maximum:
        raise FieldError(field, f"{len(data)} bytes, at most {maximum}")
    return data


def parse_country(value: Any, field: str) -> bytes:
    """bytes2: ``0x0000`` (any) or an ISO 3166-1 alpha-2 code as two upper-case ASCII letters; the query
    parameters also take the letters (``BR``)."""
    if isinstance(value, str) and re.fullmatch(r"[A-Z]{2}", value, re.ASCII):
        return value.encode()
    data = parse_hex(value, field, 2)
    if data != b"\x00\x00" and not re.fullmatch(rb"[A-Z]{2}", data):
        raise FieldError(field, f"{value} is not an ISO 3166-1 alpha-2 code in upper case (e.g. 0x4252 for BR)")
    return data


def parse_standard(value: Any, field: str) -> bytes:
    """A bytes32 standard hash, or (query parameters) the standard's code, e.g. ``VCS``, hashed."""
    if isinstance(value, str) and not value.startswith("0x") and re.fullmatch(r"[A-Za-z0-9 ._-]{1,32}", value):
        return keccak(text=value)
    return parse_hex(value, field, 32)


@dataclass(frozen=True)
class Submission:
    order: Order
    signature: bytes
    chain_id: int
    exchange: str


def parse_submission(body: Any) -> Submission:
    """``{"order": {...}, "signature": "0x..", "chainId": "..", "exchange": "0x.."}`` -> Submission."""
    if not isinstance(body, dict):
        raise FieldError("body", f"expected a JSON object, got {type(body).__name__}")
    unknown = sorted(set(body) - {"order", "signature", "chainId", "exchange"})
    if unknown:
        raise FieldError(unknown[0], "unknown field (expected order, signature, chainId, exchange)")
    for key in ("order", "signature", "chainId", "exchange"):
        if key not in body:
            raise FieldError(key, "missing")
    raw = body["order"]
    if not isinstance(raw, dict):
        raise FieldError("order", f"expected a JSON object, got {type(raw).__name__}")
    names = {n for n, _, _ in ORDER_FIELDS}
    extra = sorted(set(raw) - names)
    if extra:
        raise FieldError(f"order.{extra[0]}", "unknown order field")
    values: dict[str, Any] = {}
    for name, kind, attr in ORDER_FIELDS:
        field = f"order.{name}"
        if name not in raw:
            raise FieldError(field, "missing")
        value = raw[name]
        if kind == "address":
            values[attr] = parse_address(value, field)
        elif kind == "bytes32":
            values[attr] = parse_hex(value, field, 32)
        elif kind == "bytes2":
            values[attr] = parse_country(value, field)
        else:
            values[attr] = parse_uint(value, field, _BITS[kind])
    if values["side"] not in (SELL, BUY):
        raise FieldError("order.side", f"{values['side']}: 0 (sell) or 1 (buy)")
    try:
        order = Order(**values)
    except ValueError as exc:  # a sell order with criteria: the one rule Order itself enforces beyond the types
        raise FieldError("order", str(exc)) from None
    check_order(order)
    return Submission(
        order=order,
        signature=parse_hex(body["signature"], "signature", maximum=MAX_SIGNATURE_BYTES),
        chain_id=parse_uint(body["chainId"], "chainId"),
        exchange=parse_address(body["exchange"], "exchange"),
    )


def check_order(order: Order) -> None:
    """What no exchange would ever fill, refused before any chain call."""
    if order.side not in (SELL, BUY):
        raise FieldError("order.side", f"{order.side}: 0 (sell) or 1 (buy)")
    if order.side == SELL and order.token_id == 0:
        raise FieldError("order.tokenId", "0: a sell order offers credits of one id")
    if order.amount == 0:
        raise FieldError("order.amount", "0: must be above zero")
    if order.price_per_unit == 0:
        raise FieldError("order.pricePerUnit", "0: must be above zero")
    if order.min_fill > order.amount:
        raise FieldError("order.minFill", f"{order.min_fill} is above the amount {order.amount}")
    if order.vintage_to and order.vintage_to < order.vintage_from:
        raise FieldError("order.vintageTo", f"{order.vintage_to} is before vintageFrom {order.vintage_from}")
    if order.expiry <= order.listed_at:
        raise FieldError("order.expiry", f"{order.expiry} is not after listedAt {order.listed_at}")
    if order.payment_token == "0x" + "00" * 20:
        raise FieldError("order.paymentToken", "the zero address is not a payment token")


def order_to_json(order: Order) -> dict[str, str]:
    """The order's fields as the API shows them (integers as decimal strings, bytes as 0x hex)."""
    out = {}
    for name, kind, attr in ORDER_FIELDS:
        value = getattr(order, attr)
        out[name] = "0x" + value.hex() if isinstance(value, bytes) else value if kind == "address" else str(value)
    return out
