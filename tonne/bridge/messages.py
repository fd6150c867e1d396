"""Bridge messages as the contracts see them: ERC-7930 interoperable addresses, the credit payload, message ids
and the EIP-712 attestation digest that validators sign (see contracts/bridge/TonneGateway.sol).

Everything here is computed independently of the contracts, so tests can check the contracts against it.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_abi import decode, encode
from eth_keys import keys
from eth_utils import keccak, to_checksum_address

LOCK = 1
BURN = 2
RULES = 3
RETURN = 4  # a refused LOCK or BURN, carried back to its sender; metadata = abi.encode(bytes32 returned id)
KINDS = {LOCK: "lock", BURN: "burn", RULES: "rules", RETURN: "return"}

# Rule keys (contracts/libraries/BridgeMessages.sol): scope in the top byte.
SCOPE_TOKEN, SCOPE_ACCOUNT, SCOPE_PROJECT = 0, 1, 2
TOKEN_PAUSED, TOKEN_PERMISSIONED = 1, 2
ACCOUNT_ALLOWED, ACCOUNT_FROZEN = 1, 2
PROJECT_RESTRICTED = 1
TOKEN_KEY = SCOPE_TOKEN << 248

ATTESTATION_TYPE = (
    "Attestation(uint256 sourceChainId,address sourceGateway,address sender,address recipient,uint256 nonce,"
    "bytes32 payloadHash)"
)
ATTESTATION_TYPEHASH = keccak(text=ATTESTATION_TYPE)
DOMAIN_TYPEHASH = keccak(text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
GATEWAY_NAME = "TonneGateway"
GATEWAY_VERSION = "1"
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

METADATA_TYPE = "(uint64,uint64,uint64,uint40,uint40,string,string)"
PAYLOAD_TYPES = ["uint8", "uint256", "uint256", "address", "address", "bytes"]
LOCK_TYPES = PAYLOAD_TYPES + ["uint64", "uint8", "uint8"]
RULES_TYPES = ["uint8", "uint64", "uint256[]", "uint8[]"]


def account_key(address: str) -> int:
    return (SCOPE_ACCOUNT << 248) | int(str(address), 16)


def project_key(project_id: int) -> int:
    return (SCOPE_PROJECT << 248) | project_id


def kind_of(payload: bytes) -> int:
    """The kind of a payload: its first ABI word."""
    if len(payload) < 32:
        raise ValueError("payload shorter than one word")
    return int.from_bytes(payload[:32], "big")


# ------------------------------------------------------------------ ERC-7930 interoperable addresses


def evm_chain_reference(chain_id: int) -> bytes:
    """The shortest big-endian bytes of ``chain_id`` (at least one byte), as OpenZeppelin formats it."""
    length = max(1, (chain_id.bit_length() + 7) // 8)
    return chain_id.to_bytes(length, "big")


def interop_address(chain_id: int, address: str | None = None) -> bytes:
    """ERC-7930 v1 EVM interoperable address of ``address`` on ``chain_id`` (chain only when ``address`` is None)."""
    ref = evm_chain_reference(chain_id)
    addr = bytes.fromhex(address[2:]) if address else b""
    return b"\x00\x01\x00\x00" + bytes([len(ref)]) + ref + bytes([len(addr)]) + addr


def parse_interop_address(data: bytes) -> tuple[int, str | None]:
    """(chain id, checksum address or None) of an ERC-7930 v1 EVM interoperable address."""
    if len(data) < 6 or data[:4] != b"\x00\x01\x00\x00":
        raise ValueError(f"not an ERC-7930 v1 EVM address: 0x{data.hex()}")
    ref_len = data[4]
    ref = data[5 : 5 + ref_len]
    addr_len = data[5 + ref_len]
    addr = data[6 + ref_len : 6 + ref_len + addr_len]
    if len(ref) != ref_len or len(addr) != addr_len or addr_len not in (0, 20):
        raise ValueError(f"truncated ERC-7930 address: 0x{data.hex()}")
    return int.from_bytes(ref, "big"), (to_checksum_address(addr) if addr else None)


# ------------------------------------------------------------------ payload


@dataclass(frozen=True)
class BatchMetadata:
    project_id: int
    serial_first: int
    serial_last: int
    vintage_start: int
    vintage_end: int
    standard: str
    uri: str

    def encode(self) -> bytes:
        return encode(
            [METADATA_TYPE],
            [
                (
                    self.project_id,
                    self.serial_first,
                    self.serial_last,
                    self.vintage_start,
                    self.vintage_end,
                    self.standard,
                    self.uri,
                )
            ],
        )

    @classmethod
    def decode(cls, data: bytes) -> BatchMetadata:
        (fields,) = decode([METADATA_TYPE], data)
        return cls(*fields)


@dataclass(frozen=True)
class Transfer:
    """The credit payload of a bridge message. A LOCK also carries the home rules of the token and of the
    recipient, read under ``rule_seq`` (0: none)."""

    kind: int
    token_id: int
    amount: int
    sender: str  # the account that locked or burned
    to: str  # the addressee on the destination chain
    metadata: BatchMetadata | None = None
    rule_seq: int = 0
    token_rules: int = 0
    to_rules: int = 0
    returned: bytes | None = None  # a RETURN: the id of the transfer it returns

    def encode(self) -> bytes:
        if self.kind == RETURN:
            meta = encode(["bytes32"], [self.returned])
        else:
            meta = self.metadata.encode() if self.metadata else b""
        fields = [self.kind, self.token_id, self.amount, self.sender, self.to, meta]
        if self.kind == LOCK:
            return encode(LOCK_TYPES, fields + [self.rule_seq, self.token_rules, self.to_rules])
        return encode(PAYLOAD_TYPES, fields)

    @classmethod
    def decode(cls, payload: bytes) -> Transfer:
        if kind_of(payload) == RULES:
            raise ValueError("a rules payload is not a transfer")
        rules = (0, 0, 0)
        if kind_of(payload) == LOCK:
            kind, token_id, amount, sender, to, meta, *rules = decode(LOCK_TYPES, payload)
        else:
            kind, token_id, amount, sender, to, meta = decode(PAYLOAD_TYPES, payload)
        if kind == RETURN:
            (returned,) = decode(["bytes32"], meta)
            return cls(kind, token_id, amount, to_checksum_address(sender), to_checksum_address(to), returned=returned)
        metadata = BatchMetadata.decode(meta) if meta else None
        return cls(kind, token_id, amount, to_checksum_address(sender), to_checksum_address(to), metadata, *rules)


@dataclass(frozen=True)
class Rules:
    """A RULES payload: the home rules of each key, read under ``seq``."""

    seq: int
    keys: tuple[int, ...]
    flags: tuple[int, ...]

    def encode(self) -> bytes:
        return encode(RULES_TYPES, [RULES, self.seq, list(self.keys), list(self.flags)])

    @classmethod
    def decode(cls, payload: bytes) -> Rules:
        kind, seq, keys, flags = decode(RULES_TYPES, payload)
        if kind != RULES:
            raise ValueError(f"payload kind {kind}, not rules")
        return cls(seq, tuple(keys), tuple(flags))


# ------------------------------------------------------------------ messages and attestations


def message_id(source_chain_id: int, source_gateway: str, nonce: int) -> bytes:
    """The gateway's id of nonce ``nonce`` of ``source_gateway`` on ``source_chain_id``."""
    return keccak(encode(["uint256", "address", "uint256"], [source_chain_id, source_gateway, nonce]))


@dataclass(frozen=True)
class Message:
    """A message as `TonneGateway.deliver` takes it."""

    source_chain_id: int
    source_gateway: str
    sender: str
    recipient: str
    nonce: int
    payload: bytes

    @property
    def id(self) -> bytes:
        return message_id(self.source_chain_id, self.source_gateway, self.nonce)

    def as_tuple(self) -> tuple:
        return (self.source_chain_id, self.source_gateway, self.sender, self.recipient, self.nonce, self.payload)

    def struct_hash(self) -> bytes:
        return keccak(
            encode(
                ["bytes32", "uint256", "address", "address", "address", "uint256", "bytes32"],
                [
                    ATTESTATION_TYPEHASH,
                    self.source_chain_id,
                    self.source_gateway,
                    self.sender,
                    self.recipient,
                    self.nonce,
                    keccak(self.payload),
                ],
            )
        )

    def digest(self, destination_chain_id: int, destination_gateway: str) -> bytes:
        """The EIP-712 digest validators sign for delivery through ``destination_gateway``."""
        return keccak(b"\x19\x01" + domain_separator(destination_chain_id, destination_gateway) + self.struct_hash())


def domain_separator(chain_id: int, gateway: str) -> bytes:
    return keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [DOMAIN_TYPEHASH, keccak(text=GATEWAY_NAME), keccak(text=GATEWAY_VERSION), chain_id, gateway],
        )
    )


def sign_digest(private_key: bytes, digest: bytes) -> bytes:
    """A 65-byte r||s||v (v = 27/28) low-s signature of ``digest``."""
    sig = keys.PrivateKey(private_key).sign_msg_hash(digest)
    return sig.r.to_bytes(32, "big") + sig.s.to_bytes(32, "big") + bytes([sig.v + 27])


def signer_of(digest: bytes, signature: bytes) -> str:
    """The address that made ``signature`` (65 bytes, v = 27/28) over ``digest``."""
    v = signature[64] - 27
    sig = keys.Signature(vrs=(v, int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:64], "big")))
    return sig.recover_public_key_from_msg_hash(digest).to_checksum_address()


def high_s(signature: bytes) -> bytes:
    """The malleated twin of a signature: s -> n - s with v flipped. It recovers the same signer, and
    OpenZeppelin's ECDSA refuses it (InvalidSignatureS)."""
    s = int.from_bytes(signature[32:64], "big")
    v = signature[64]
    return signature[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])


def ordered(signatures: dict[str, bytes]) -> list[bytes]:
    """Signatures keyed by signer, in the strictly increasing signer order `deliver` requires."""
    return [signatures[a] for a in sorted(signatures, key=lambda a: int(a, 16))]
