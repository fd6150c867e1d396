"""A meter reading, its EIP-712 digest (docs/mrv.md), signing and signature checks, and device ids.

The digest is computed by hand for speed: the domain separator and the type hash are computed once per ``Domain``;
a reading then costs one fixed-width ABI encoding (six 32-byte words) and two keccaks. Signing and recovery call
libsecp256k1 through coincurve directly (no eth_account objects): ``sign`` returns the 65 bytes r||s||v (v 27 or 28)
with a low s, as OpenZeppelin's ECDSA requires; ``signer_matches`` checks a signature against a device's public key
as the contract's ``ECDSA.recover(digest, signature) == key`` would: the same 65 bytes, v 27/28, s at most n/2.
The tests check the digest against eth_account's ``encode_typed_data`` and the signatures against
``Account.sign_typed_data``.

Meter ids: ``device_id(meter_id) = keccak256(utf-8 bytes of the NFC form)``. Two spellings that print the same
(``"É"`` composed, or ``"E"`` + U+0301) are one meter: ids are normalised to Unicode NFC before hashing, so the
device id never depends on how an editor stored the accent. Ids with invisible or control characters (control,
format such as zero-width space or bidi overrides, line/paragraph separators, any whitespace but the plain space,
or leading/trailing spaces) are refused: they would make two ids that print the same hash differently.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import coincurve
from coincurve._libsecp256k1 import ffi, lib
from coincurve.context import GLOBAL_CONTEXT

try:  # safe-pysha3: ~1 us a hash; eth_hash's auto backend costs a hundred times that per call
    from sha3 import keccak_256 as _keccak_256

    def keccak(data: bytes) -> bytes:
        return _keccak_256(data).digest()

except ImportError:  # pragma: no cover - pycryptodome, always installed with eth_hash
    from Crypto.Hash import keccak as _crypto_keccak

    def keccak(data: bytes) -> bytes:
        return _crypto_keccak.new(data=data, digest_bits=256).digest()


DOMAIN_NAME = "Tonne MRV"
DOMAIN_VERSION = "1"
READING_TYPE = "Reading(bytes32 device,uint64 sequence,uint40 start,uint40 end,uint256 value)"
READING_TYPEHASH = keccak(READING_TYPE.encode())
BINDING_TYPE = "DeviceBinding(bytes32 device,uint64 projectId)"
BINDING_TYPEHASH = keccak(BINDING_TYPE.encode())
DOMAIN_TYPEHASH = keccak(b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
HALF_N = SECP256K1_N // 2
UINT40_MAX = (1 << 40) - 1
UINT64_MAX = (1 << 64) - 1
UINT256_MAX = (1 << 256) - 1
MAX_METER_ID_BYTES = 128
_CTX = GLOBAL_CONTEXT.ctx
_INVISIBLE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


class MeterIdError(ValueError):
    """A meter id that cannot name a device; the message says why."""


@dataclass(frozen=True, slots=True)
class Reading:
    """One signed interval of a meter: ``value`` (Wh for a generation meter) measured over [start, end)."""

    device: bytes  # bytes32: keccak256 of the meter id
    sequence: int  # uint64, from 1, one up per reading of the device
    start: int  # uint40, unix seconds, inclusive
    end: int  # uint40, unix seconds, exclusive
    value: int  # uint256, in the device's unit (Wh)

    def encoded(self) -> bytes:
        """abi.encode(device, sequence, start, end, value): five 32-byte words."""
        return encode_fields(self.device, self.sequence, self.start, self.end, self.value)

    def as_tuple(self) -> tuple:
        """The ``Reading`` struct as the contract takes it (``readingIncluded``, ``challenge``)."""
        return (self.device, self.sequence, self.start, self.end, self.value)

    def message(self) -> dict:
        """The EIP-712 message (for eth_account and wallets)."""
        return {
            "device": self.device,
            "sequence": self.sequence,
            "start": self.start,
            "end": self.end,
            "value": self.value,
        }


def encode_fields(device: bytes, sequence: int, start: int, end: int, value: int) -> bytes:
    """The ABI encoding of a reading's five values (each a 32-byte word); values out of their types raise."""
    if len(device) != 32:
        raise ValueError(f"device is {len(device)} bytes, expected 32")
    if not (0 <= sequence <= UINT64_MAX and 0 <= start <= UINT40_MAX and 0 <= end <= UINT40_MAX):
        raise ValueError(f"sequence {sequence}, start {start} or end {end} out of uint64/uint40")
    return (
        device
        + sequence.to_bytes(32, "big")
        + start.to_bytes(32, "big")
        + end.to_bytes(32, "big")
        + (value.to_bytes(32, "big"))
    )


@dataclass(frozen=True)
class Domain:
    """The EIP-712 domain of the readings: the chain and the ``CarbonMRV`` contract that will check them."""

    chain_id: int
    verifying_contract: str  # 0x address

    @property
    def separator(self) -> bytes:
        return _separator(self.chain_id, self.verifying_contract.lower())

    def digest(self, reading: Reading) -> bytes:
        return self.digest_of(reading.device, reading.sequence, reading.start, reading.end, reading.value)

    def digest_of(self, device: bytes, sequence: int, start: int, end: int, value: int) -> bytes:
        """keccak256("\\x19\\x01" || domainSeparator || keccak256(typeHash || abi.encode(fields)))."""
        struct = keccak(READING_TYPEHASH + encode_fields(device, sequence, start, end, value))
        return keccak(b"\x19\x01" + self.separator + struct)

    def binding_digest(self, device: bytes, project_id: int) -> bytes:
        """The EIP-712 digest of ``DeviceBinding(bytes32 device,uint64 projectId)``: what a meter's key signs to
        show that it is the key of ``device`` in project ``project_id`` (CarbonMRV's registerDevice checks it, so
        nobody can register a key it does not hold)."""
        struct = keccak(BINDING_TYPEHASH + device + project_id.to_bytes(32, "big"))
        return keccak(b"\x19\x01" + self.separator + struct)

    def typed_data(self, reading: Reading) -> dict:
        """The full EIP-712 typed data (for eth_account ``encode_typed_data(full_message=...)`` or a wallet)."""
        return {
            "types": {
                "EIP712Domain": [
                    {"name": "name", "type": "string"},
                    {"name": "version", "type": "string"},
                    {"name": "chainId", "type": "uint256"},
                    {"name": "verifyingContract", "type": "address"},
                ],
                "Reading": [
                    {"name": "device", "type": "bytes32"},
                    {"name": "sequence", "type": "uint64"},
                    {"name": "start", "type": "uint40"},
                    {"name": "end", "type": "uint40"},
                    {"name": "value", "type": "uint256"},
                ],
            },
            "primaryType": "Reading",
            "domain": {
                "name": DOMAIN_NAME,
                "version": DOMAIN_VERSION,
                "chainId": self.chain_id,
                "verifyingContract": self.verifying_contract,
            },
            "message": reading.message(),
        }


@lru_cache(maxsize=64)
def _separator(chain_id: int, contract: str) -> bytes:
    address = bytes.fromhex(contract[2:])
    if len(address) != 20:
        raise ValueError(f"verifying contract {contract!r} is not a 20-byte address")
    return keccak(
        DOMAIN_TYPEHASH
        + keccak(DOMAIN_NAME.encode())
        + keccak(DOMAIN_VERSION.encode())
        + chain_id.to_bytes(32, "big")
        + address.rjust(32, b"\x00")
    )


# ---------------------------------------------------------------------------------------------------- keys


def private_key(secret: bytes | int | str) -> coincurve.PrivateKey:
    if isinstance(secret, str):
        secret = bytes.fromhex(secret.removeprefix("0x"))
    if isinstance(secret, int):
        secret = secret.to_bytes(32, "big")
    return coincurve.PrivateKey(secret)


def address_of_public(public: coincurve.PublicKey) -> str:
    """The checksummed Ethereum address of a public key."""
    from eth_utils import to_checksum_address

    return to_checksum_address(keccak(public.format(compressed=False)[1:])[-20:])


def address_of(key: coincurve.PrivateKey) -> str:
    return address_of_public(key.public_key)


def sign_digest(digest: bytes, key: coincurve.PrivateKey) -> bytes:
    """65 bytes r||s||v, v 27 or 28; libsecp256k1 always produces a low s (RFC 6979 nonce: deterministic)."""
    sig = key.sign_recoverable(digest, hasher=None)
    return sig[:64] + bytes([sig[64] + 27])


def sign(domain: Domain, reading: Reading, key: coincurve.PrivateKey) -> bytes:
    return sign_digest(domain.digest(reading), key)


class SignatureError(ValueError):
    """A signature that OpenZeppelin's ECDSA.recover would refuse; the message says why."""


def _check_shape(signature: bytes) -> tuple[bytes, int]:
    if len(signature) != 65:
        raise SignatureError(f"{len(signature)} bytes, expected 65 (r||s||v)")
    v = signature[64]
    if v not in (27, 28):
        raise SignatureError(f"v is {v}, expected 27 or 28")
    s = int.from_bytes(signature[32:64], "big")
    if s > HALF_N:
        raise SignatureError("s is in the upper half of the curve order (a malleable high-s signature)")
    r = int.from_bytes(signature[:32], "big")
    if not (0 < r < SECP256K1_N and s > 0):
        raise SignatureError("r or s is zero or not below the curve order")
    return signature[:64], v - 27


def recover(digest: bytes, signature: bytes) -> str:
    """The address that signed ``digest`` (as ECDSA.recover); SignatureError if the contract would refuse it."""
    compact, recid = _check_shape(signature)
    try:
        public = coincurve.PublicKey.from_signature_and_message(compact + bytes([recid]), digest, hasher=None)
    except Exception as exc:  # noqa: BLE001 - libsecp256k1's "no point for this r"
        raise SignatureError(f"recovers no key ({exc})") from None
    return address_of_public(public)


class AddressMatcher:
    """Checks signatures against one device's key address fast, as ``ECDSA.recover(digest, sig) == address``:
    recovery inside libsecp256k1; the first match caches the public key, and later signatures are compared to it
    inside libsecp256k1 too (no serialisation, no keccak, no Python key objects on the good path)."""

    __slots__ = ("_address", "_public", "_recovered", "_rsig")

    def __init__(self, address: bytes):
        if len(address) != 20:
            raise ValueError(f"an address of {len(address)} bytes, expected 20")
        self._address = address
        self._public = None
        self._recovered = ffi.new("secp256k1_pubkey *")
        self._rsig = ffi.new("secp256k1_ecdsa_recoverable_signature *")

    def matches(self, digest: bytes, signature: bytes) -> bool:
        """Whether ``signature`` (65 bytes r||s||v, v 27/28, low s) recovers to this address."""
        if len(signature) != 65:
            return False
        v = signature[64]
        if v != 27 and v != 28:
            return False
        if int.from_bytes(signature[32:64], "big") > HALF_N:
            return False
        if not lib.secp256k1_ecdsa_recoverable_signature_parse_compact(_CTX, self._rsig, signature[:64], v - 27):
            return False
        if not lib.secp256k1_ecdsa_recover(_CTX, self._recovered, self._rsig, digest):
            return False
        if self._public is not None:
            return lib.secp256k1_ec_pubkey_cmp(_CTX, self._recovered, self._public) == 0
        out = ffi.new("unsigned char[65]")
        size = ffi.new("size_t *", 65)
        lib.secp256k1_ec_pubkey_serialize(_CTX, out, size, self._recovered, lib.SECP256K1_EC_UNCOMPRESSED)
        if keccak(bytes(ffi.buffer(out, 65))[1:])[-20:] != self._address:
            return False
        self._public = ffi.new("secp256k1_pubkey *")
        ffi.memmove(self._public, self._recovered, ffi.sizeof("secp256k1_pubkey"))
        return True


# ---------------------------------------------------------------------------------------------------- meter ids


def normalise_meter_id(meter_id: str) -> str:
    """The NFC form of a meter id; MeterIdError for an empty, too long, or invisible-character id."""
    if not isinstance(meter_id, str):
        raise MeterIdError(f"{meter_id!r} is not text")
    if not meter_id:
        raise MeterIdError("empty")
    if meter_id != meter_id.strip(" "):
        raise MeterIdError(f"{meter_id!r} has leading or trailing spaces")
    for ch in meter_id:
        category = unicodedata.category(ch)
        if category in _INVISIBLE or (ch.isspace() and ch != " "):
            raise MeterIdError(
                f"{meter_id!r} holds U+{ord(ch):04X} ({unicodedata.name(ch, 'unnamed')}): control, invisible or "
                "non-printable characters are refused in meter ids"
            )
    normal = unicodedata.normalize("NFC", meter_id)
    if len(normal.encode()) > MAX_METER_ID_BYTES:
        raise MeterIdError(f"{len(normal.encode())} bytes in UTF-8, at most {MAX_METER_ID_BYTES}")
    return normal


def device_id(meter_id: str) -> bytes:
    """bytes32 device id: keccak256 of the UTF-8 bytes of the meter id's NFC form."""
    return keccak(normalise_meter_id(meter_id).encode())
