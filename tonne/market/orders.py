"""Orders of the CreditExchange: the dataclass, its EIP-712 typed data, its hash and its signature.

Pure Python (eth_account / eth_utils): no chain is needed to build, hash or sign an order. The hash equals the
contract's `hashOrder(order)` for the same domain (tests/python/test_market_orders.py checks it on a real chain).

Units and prices are the contract's: `amount`, `min_fill` in token units (1 unit = 1 kg; 1000 per tonne),
`price_per_unit` in the payment token's smallest units per unit, so a fill of `units` costs `units *
price_per_unit` exactly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from enum import IntEnum
from functools import lru_cache
from typing import Any

from eth_abi import encode as abi_encode
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_keys import keys
from eth_keys.exceptions import BadSignature
from eth_utils import keccak, to_checksum_address

DOMAIN_NAME = "Tonne CreditExchange"
DOMAIN_VERSION = "1"
SELL = 0
BUY = 1
ZERO_ADDRESS = "0x" + "00" * 20
ZERO_HASH = b"\x00" * 32

# The EIP-712 type, field for field as ICreditExchange.Order (the order of the fields is the hash's).
ORDER_TYPE: list[dict[str, str]] = [
    {"name": "maker", "type": "address"},
    {"name": "side", "type": "uint8"},
    {"name": "tokenId", "type": "uint256"},
    {"name": "projectId", "type": "uint64"},
    {"name": "standardHash", "type": "bytes32"},
    {"name": "vintageFrom", "type": "uint16"},
    {"name": "vintageTo", "type": "uint16"},
    {"name": "country", "type": "bytes2"},
    {"name": "amount", "type": "uint256"},
    {"name": "pricePerUnit", "type": "uint256"},
    {"name": "paymentToken", "type": "address"},
    {"name": "minFill", "type": "uint256"},
    {"name": "listedAt", "type": "uint64"},
    {"name": "expiry", "type": "uint64"},
    {"name": "taker", "type": "address"},
    {"name": "nonce", "type": "uint256"},
    {"name": "counter", "type": "uint256"},
]
ORDER_TYPE_STRING = "Order(" + ",".join(f"{f['type']} {f['name']}" for f in ORDER_TYPE) + ")"
ORDER_TYPEHASH = keccak(text=ORDER_TYPE_STRING)
SECP256K1_HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0


@lru_cache(maxsize=65536)
def checksum_address(value: str) -> str:
    """`to_checksum_address`, cached: a keccak each, and makers, tokens and exchanges repeat (the order book checks
    the same few addresses on every order). Raises as it does for what is not an address."""
    return to_checksum_address(value)


@lru_cache(maxsize=65536)
def _address_of_public_key(public_key: bytes) -> str:
    """The checksummed address of a 64-byte public key (two keccaks: the address's, then its checksum's)."""
    return checksum_address("0x" + keccak(public_key)[-20:].hex())


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


# (EIP-712 name, Solidity type, Python attribute of `Order`), in the struct's order: what a JSON or SQL codec of
# orders walks (the order book's schema and store).
ORDER_FIELDS: tuple[tuple[str, str, str], ...] = tuple((f["name"], f["type"], _snake(f["name"])) for f in ORDER_TYPE)


class Limit(IntEnum):
    """ICreditExchange.Limit: why `fillable` gives fewer units than remain."""

    NONE = 0
    NOT_YET_LISTED = 1
    EXPIRED = 2
    CANCELLED = 3
    FILLED = 4
    STALE_COUNTER = 5
    BAD_SIGNATURE = 6
    INVALID_ORDER = 7
    CRITERIA_NOT_MET = 8
    PAUSED = 9
    PROJECT_RESTRICTED = 10
    MAKER_FROZEN = 11
    MAKER_NOT_ALLOWED = 12
    MAKER_BALANCE_SHORT = 13
    MAKER_APPROVAL_SHORT = 14
    EXCHANGE_FROZEN = 15  # the exchange itself is frozen on the credit token (every fill reverts)
    EXCHANGE_NOT_ALLOWED = 16  # permissioned token: the exchange is off its allowlist (every fill reverts)


def standard_hash(standard: str) -> bytes:
    """The `standardHash` criterion of a buy order for a registry standard code, e.g. "VCS" (byte for byte)."""
    if not standard:
        raise ValueError("standard: empty; use no standard criterion (a zero standardHash) to accept any")
    return keccak(text=standard)


@dataclass(frozen=True)
class Order:
    """One order, as signed. Field names are Python's; `as_struct` gives the contract's."""

    maker: str
    side: int
    token_id: int
    amount: int
    price_per_unit: int
    payment_token: str
    expiry: int
    project_id: int = 0
    standard_hash: bytes = ZERO_HASH
    vintage_from: int = 0
    vintage_to: int = 0
    country: bytes = b"\x00\x00"
    min_fill: int = 0
    listed_at: int = 0
    taker: str = ZERO_ADDRESS
    nonce: int = 0
    counter: int = 0

    def __post_init__(self) -> None:
        if self.side not in (SELL, BUY):
            raise ValueError(f"side: {self.side!r}; expected 0 (sell) or 1 (buy)")
        for name in ("token_id", "amount", "price_per_unit", "min_fill", "nonce", "counter"):
            _check_uint(name, getattr(self, name), 256)
        for name, bits in (("project_id", 64), ("vintage_from", 16), ("vintage_to", 16), ("listed_at", 64),
                           ("expiry", 64)):  # fmt: skip
            _check_uint(name, getattr(self, name), bits)
        if len(self.standard_hash) != 32:
            raise ValueError(f"standard_hash: {len(self.standard_hash)} bytes; expected 32")
        if len(self.country) != 2:
            raise ValueError(f"country: {self.country!r}; expected 2 bytes (ISO 3166-1 alpha-2) or b'\\x00\\x00'")
        for name in ("maker", "payment_token", "taker"):
            object.__setattr__(self, name, checksum_address(getattr(self, name)))
        if self.side == SELL and self.has_criteria:
            raise ValueError("a sell order offers one token_id: project, standard, vintage and country must be unset")
        if self.token_id and self.has_criteria:
            raise ValueError(
                f"token_id: {self.token_id}; a buy order for one id sets no criterion (the exchange refuses it): "
                "use token_id 0 with the criteria, or the id alone"
            )

    @property
    def has_criteria(self) -> bool:
        return bool(
            self.project_id or self.standard_hash != ZERO_HASH or self.vintage_from or self.vintage_to
            or self.country != b"\x00\x00"
        )  # fmt: skip

    def cost(self, units: int) -> int:
        """What a fill of `units` costs the buyer, in the payment token's smallest units: exact."""
        return units * self.price_per_unit

    def as_struct(self) -> dict[str, Any]:
        """The order as the contract's struct (the EIP-712 message): camelCase names, the type's field order."""
        return {
            "maker": self.maker,
            "side": self.side,
            "tokenId": self.token_id,
            "projectId": self.project_id,
            "standardHash": bytes(self.standard_hash),
            "vintageFrom": self.vintage_from,
            "vintageTo": self.vintage_to,
            "country": bytes(self.country),
            "amount": self.amount,
            "pricePerUnit": self.price_per_unit,
            "paymentToken": self.payment_token,
            "minFill": self.min_fill,
            "listedAt": self.listed_at,
            "expiry": self.expiry,
            "taker": self.taker,
            "nonce": self.nonce,
            "counter": self.counter,
        }

    def as_tuple(self) -> tuple:
        """The order as the positional tuple an ABI encoder takes."""
        return tuple(self.as_struct().values())

    @classmethod
    def from_struct(cls, struct: dict[str, Any]) -> Order:
        """The inverse of `as_struct` (e.g. an order read back from JSON or an event)."""
        names = {f.name: f.name for f in fields(cls)}
        camel = {_camel(n): n for n in names}
        missing = set(camel) - set(struct)
        if missing:
            raise ValueError(f"order: missing fields {sorted(missing)}")
        return cls(**{camel[k]: v for k, v in struct.items() if k in camel})

    def replace(self, **changes: Any) -> Order:
        return Order(**{**asdict(self), **changes})


@dataclass(frozen=True)
class Domain:
    """The exchange's EIP-712 domain: one chain, one deployment."""

    chain_id: int
    verifying_contract: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": DOMAIN_NAME,
            "version": DOMAIN_VERSION,
            "chainId": self.chain_id,
            "verifyingContract": to_checksum_address(self.verifying_contract),
        }


@lru_cache(maxsize=64)
def domain_separator(domain: Domain) -> bytes:
    """The EIP-712 domain separator of `domain`: the contract's `domainSeparator()`."""
    type_hash = keccak(text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
    return keccak(
        abi_encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [
                type_hash,
                keccak(text=DOMAIN_NAME),
                keccak(text=DOMAIN_VERSION),
                domain.chain_id,
                to_checksum_address(domain.verifying_contract),
            ],
        )  # fmt: skip
    )


def typed_data(order: Order, domain: Domain) -> dict[str, Any]:
    """The full EIP-712 typed-data message of `order` (what a wallet's eth_signTypedData_v4 is given)."""
    return {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "Order": ORDER_TYPE,
        },
        "primaryType": "Order",
        "domain": domain.as_dict(),
        "message": order.as_struct(),
    }


def order_hash(order: Order, domain: Domain) -> bytes:
    """The order's EIP-712 digest under `domain`: the contract's `hashOrder(order)`, the `orderHash` of its events,
    and what the maker signs. Every field is static, so `hashStruct` is keccak of the type hash and one 32-byte
    word a field (addresses and integers left-padded, `bytes2` right-padded), written out here: eth_account's
    general typed-data encoder costs a third of the order book's time per order. `typed_data_hash` is that encoder's
    answer, which the tests compare with this one."""
    return keccak(b"\x19\x01" + domain_separator(domain) + struct_hash(order))


@lru_cache(maxsize=4096)
def struct_hash(order: Order) -> bytes:
    """EIP-712 `hashStruct(order)` (the domain-free part of `order_hash`)."""
    return keccak(ORDER_TYPEHASH + abi_words(order))


def abi_words(order: Order) -> bytes:
    """The order's ABI encoding as a static tuple (one 32-byte word a field, in the type's order): the head of any
    call that takes an order, and `hashStruct`'s words after the type hash."""
    words = []
    for _, kind, attr in ORDER_FIELDS:
        value = getattr(order, attr)
        if kind == "address":
            words.append(bytes(12) + bytes.fromhex(value[2:]))
        elif kind == "bytes32":
            words.append(bytes(value))
        elif kind == "bytes2":
            words.append(bytes(value) + bytes(30))
        else:
            words.append(value.to_bytes(32, "big"))
    return b"".join(words)


def typed_data_hash(order: Order, domain: Domain) -> bytes:
    """`order_hash` through eth_account's EIP-712 encoder (the reference the tests check the fast one against)."""
    signable = encode_typed_data(full_message=typed_data(order, domain))
    return keccak(b"\x19" + signable.version + signable.header + signable.body)


def recover_signer(digest: bytes, signature: bytes) -> str | None:
    """The EOA that signed `digest` under the exchange's ECDSA rules (OpenZeppelin's `tryRecover`: 65 bytes r, s,
    v; v 27 or 28; s in the lower half), or None when the signature breaks them or recovers nothing. A contract
    wallet's signature (EIP-1271) is not an EOA's: it recovers None or someone else."""
    if len(signature) != 65:
        return None
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    v = signature[64]
    if v not in (27, 28) or s > SECP256K1_HALF_N or r == 0 or s == 0:
        return None
    try:
        public = keys.Signature(vrs=(v - 27, r, s)).recover_public_key_from_msg_hash(digest)
    except (BadSignature, ValueError):
        return None
    return _address_of_public_key(public.to_bytes())


def sign_order(order: Order, domain: Domain, signer: Any, *, current_counter: int | None = None) -> bytes:
    """The maker's 65-byte signature (r, s, v; low s) of `order`. `signer` is a private key (hex or bytes), an
    eth_account LocalAccount, or an ape test account (anything with a `private_key`).

    `current_counter`: the maker's `counterOf` on the exchange now. When given, an order signed for another
    counter is refused (ValueError): the exchange raises a counter by a quasi-random step, so an order signed for
    any other value is void forever, or, signed ahead, would be a dormant order for no one to use. Clients that
    read the chain pass it; `order_for_counter` builds the order with it."""
    if current_counter is not None and order.counter != current_counter:
        raise ValueError(
            f"counter: {order.counter}; the maker's counter on the exchange is {current_counter}: sign with it"
        )
    key = getattr(signer, "private_key", signer)
    if isinstance(key, str):
        key = bytes.fromhex(key.removeprefix("0x"))
    signed = keys.PrivateKey(bytes(key)).sign_msg_hash(order_hash(order, domain))
    return signed.r.to_bytes(32, "big") + signed.s.to_bytes(32, "big") + bytes([signed.v + 27])


def sign_order_typed_data(order: Order, domain: Domain, signer: Any) -> bytes:
    """`sign_order` through eth_account's typed-data signing (what a wallet's eth_signTypedData_v4 computes)."""
    key = getattr(signer, "private_key", signer)
    signed = Account.sign_typed_data(key, full_message=typed_data(order, domain))
    return bytes(signed.signature)


def order_for_counter(order: Order, exchange: Any) -> Order:
    """`order` with its maker's current counter read from `exchange` (anything with `counterOf(maker)`: an ape or
    web3 contract), the only counter the exchange accepts."""
    counter_of = getattr(exchange, "counterOf", None)
    if counter_of is None:
        raise TypeError("exchange: no counterOf(maker); pass the CreditExchange contract")
    current = counter_of(order.maker)
    current = current.call() if hasattr(current, "call") else current  # web3: a ContractFunction
    return order.replace(counter=int(current))


def _check_uint(name: str, value: Any, bits: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 1 << bits:
        raise ValueError(f"{name}: {value!r}; expected an integer in [0, 2^{bits})")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
