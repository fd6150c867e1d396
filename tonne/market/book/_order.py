"""The EIP-712 Order as the book needs it: fields, struct hash, digest, EOA signature recovery.

INTEGRATION: this is a stand-in for ``tonne.market.orders`` (the contract engineer's Order dataclass and EIP-712
signing), written to the spec of issue 12. When that module lands, replace the body of this file by imports from it
(``Order``, ``ORDER_FIELDS``, ``struct_hash``, ``digest``, ``sign``) and check three things against the contract:
the type string (field names, order and types: ``ORDER_TYPE``), the domain (name "Tonne CreditExchange", version
"1"), and the signature rules of the exchange (65 bytes, v 27/28, low s: OpenZeppelin's ECDSA). Nothing else in the
book computes a hash or recovers a signer.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass, fields
from functools import lru_cache

from eth_abi import encode
from eth_keys import keys
from eth_keys.exceptions import BadSignature
from eth_utils import keccak, to_checksum_address

DOMAIN_NAME = "Tonne CreditExchange"
DOMAIN_VERSION = "1"

# (EIP-712 name, Solidity type, Python attribute), in the struct's order.
ORDER_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("maker", "address", "maker"),
    ("side", "uint8", "side"),
    ("tokenId", "uint256", "token_id"),
    ("projectId", "uint64", "project_id"),
    ("standardHash", "bytes32", "standard_hash"),
    ("vintageFrom", "uint16", "vintage_from"),
    ("vintageTo", "uint16", "vintage_to"),
    ("country", "bytes2", "country"),
    ("amount", "uint256", "amount"),
    ("pricePerUnit", "uint256", "price_per_unit"),
    ("paymentToken", "address", "payment_token"),
    ("minFill", "uint256", "min_fill"),
    ("listedAt", "uint64", "listed_at"),
    ("expiry", "uint64", "expiry"),
    ("taker", "address", "taker"),
    ("nonce", "uint256", "nonce"),
    ("counter", "uint256", "counter"),
)
ORDER_TYPE = "Order(" + ",".join(f"{t} {n}" for n, t, _ in ORDER_FIELDS) + ")"
ORDER_TYPEHASH = keccak(text=ORDER_TYPE)
DOMAIN_TYPEHASH = keccak(text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
_TYPES = ["bytes32", *(t for _, t, _ in ORDER_FIELDS)]
SELL, BUY = 0, 1
ZERO_ADDRESS = "0x" + "00" * 20
ZERO32 = b"\x00" * 32
SECP256K1_HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0


@dataclass(frozen=True)
class Order:
    """An order's fields (addresses checksummed, bytes as bytes, integers as int)."""

    maker: str
    side: int
    token_id: int
    project_id: int
    standard_hash: bytes
    vintage_from: int
    vintage_to: int
    country: bytes
    amount: int
    price_per_unit: int
    payment_token: str
    min_fill: int
    listed_at: int
    expiry: int
    taker: str
    nonce: int
    counter: int

    def as_tuple(self) -> tuple:
        """The ABI tuple, in the struct's field order (the argument of ``fillable`` / ``hashOrder``)."""
        return astuple(self)

    def as_message(self) -> dict:
        """The EIP-712 message (names as in the struct)."""
        return {name: getattr(self, attr) for name, _, attr in ORDER_FIELDS}


assert [f.name for f in fields(Order)] == [a for _, _, a in ORDER_FIELDS]


@lru_cache(maxsize=4096)
def struct_hash(order: Order) -> bytes:
    """``hashStruct(order)``: every field is static, so it is keccak of the type hash and one 32-byte word a field
    (addresses and integers left-padded, ``bytes2`` right-padded: ``abi.encode``), written out here because
    eth_abi's general encoder was a third of the service's time per order (the tests compare both)."""
    words = [ORDER_TYPEHASH]
    for (_, kind, _), value in zip(ORDER_FIELDS, astuple(order), strict=True):
        if kind == "address":
            words.append(bytes(12) + bytes.fromhex(value[2:]))
        elif kind == "bytes32":
            words.append(value)
        elif kind == "bytes2":
            words.append(value + bytes(30))
        else:
            words.append(value.to_bytes(32, "big"))
    return keccak(b"".join(words))


def struct_hash_abi(order: Order) -> bytes:
    """``struct_hash`` through eth_abi (the reference the tests check the fast one against)."""
    return keccak(encode(_TYPES, [ORDER_TYPEHASH, *order.as_tuple()]))


def domain_separator(chain_id: int, exchange: str) -> bytes:
    return keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [DOMAIN_TYPEHASH, keccak(text=DOMAIN_NAME), keccak(text=DOMAIN_VERSION), chain_id, exchange],
        )
    )


def digest(order: Order, chain_id: int, exchange: str, separator: bytes | None = None) -> bytes:
    """The EIP-712 digest that the maker signs."""
    separator = separator if separator is not None else domain_separator(chain_id, exchange)
    return keccak(b"\x19\x01" + separator + struct_hash(order))


def recover_eoa(digest_: bytes, signature: bytes) -> str | None:
    """The signer of ``digest_`` under the exchange's ECDSA rules (65 bytes r, s, v; v 27 or 28; s in the lower
    half), or None when the signature breaks them or recovers nothing."""
    if len(signature) != 65:
        return None
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    v = signature[64]
    if v not in (27, 28) or s > SECP256K1_HALF_N or r == 0 or s == 0:
        return None
    try:
        public = keys.Signature(vrs=(v - 27, r, s)).recover_public_key_from_msg_hash(digest_)
    except (BadSignature, ValueError):
        return None
    return public.to_checksum_address()


def sign(order: Order, private_key: bytes | str, chain_id: int, exchange: str) -> bytes:
    """A maker's 65-byte signature of ``order`` (tools and tests)."""
    key = keys.PrivateKey(bytes.fromhex(private_key[2:]) if isinstance(private_key, str) else private_key)
    signed = key.sign_msg_hash(digest(order, chain_id, exchange))
    return signed.r.to_bytes(32, "big") + signed.s.to_bytes(32, "big") + bytes([signed.v + 27])


def checksum(address: str) -> str:
    return to_checksum_address(address)


def order_hash(order: Order, chain_id: int, exchange: str) -> str:
    """The order's identity in the book and in the exchange's events. CHECK at integration: that ``hashOrder`` and
    the events' ``orderHash`` are the struct hash (as here, Seaport's choice) and not the full domain digest."""
    del chain_id, exchange  # the struct hash does not depend on the domain; the book serves one exchange
    return "0x" + struct_hash(order).hex()
