"""Test-side helpers of the MRV contract tests: readings signed with eth_account's EIP-712 signer (the tooling's
fast signer lives in tonne/mrv/; these are independent of it, so the two check each other), a Merkle tree built
as docs/mrv.md.md says (OpenZeppelin StandardMerkleTree compatible), and an MRV deployment with a device ready to
report.

Test modules import these as `from mrv_support import ...`; tests/unit/mrv/conftest.py holds the fixtures.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from eth_abi import encode as abi_encode
from eth_account import Account
from eth_utils import keccak

from support import Factory
from tonne.mrv.deploy import deploy_mrv

MG_PER_TONNE = 10**9
FACTOR_CODE = b"GRID-ID-2025".ljust(32, b"\x00")
GRID_MG_PER_WH = 450  # 450 g/kWh
COUNTRY = b"ID"  # the support's default project country
T0 = 1_735_689_600  # 2025-01-01 00:00 UTC: every device becomes active here
YEAR_END = 1_767_225_600  # 2026-01-01 00:00 UTC: the default factor's validity ends here
FIVE_MINUTES = 300
CAPACITY_W = 3_000_000  # a 3 MW turbine: at most 250,000 Wh in five minutes
GENERATION, EMISSIONS = 0, 1
NONE, REGISTERED, APPROVED, SUSPENDED, DECOMMISSIONED = range(5)
R_NONE, R_SUBMITTED, R_APPROVED, R_REJECTED = range(4)

READING_TYPES = {
    "Reading": [
        {"name": "device", "type": "bytes32"},
        {"name": "sequence", "type": "uint64"},
        {"name": "start", "type": "uint40"},
        {"name": "end", "type": "uint40"},
        {"name": "value", "type": "uint256"},
    ]
}

DEVICE_BINDING_TYPES = {
    "DeviceBinding": [
        {"name": "device", "type": "bytes32"},
        {"name": "projectId", "type": "uint64"},
    ]
}

_meters = itertools.count(1)
_keys = itertools.count(1)


def device_id(meter_id: str) -> bytes:
    return keccak(meter_id.encode())


def new_key() -> Any:
    """A fresh device key (an eth_account LocalAccount), distinct from every ape test account."""
    return Account.from_key((0xD0 << 248) + next(_keys))


def reading(device: bytes, sequence: int, start: int, end: int, value: int) -> dict:
    return dict(device=bytes(device), sequence=sequence, start=start, end=end, value=value)


def domain(chain_id: int, mrv_address: str) -> dict:
    return {"name": "Tonne MRV", "version": "1", "chainId": chain_id, "verifyingContract": str(mrv_address)}


def sign_reading(key, chain_id: int, mrv_address: str, r: dict) -> bytes:
    """65 bytes r||s||v (v 27/28) over the EIP-712 digest, by eth_account."""
    signed = Account.sign_typed_data(key.key, domain(chain_id, mrv_address), READING_TYPES, r)
    return bytes(signed.signature)


def sign_binding(key, chain_id: int, mrv_address: str, device: bytes, project_id: int) -> bytes:
    """The key's proof of possession for registerDevice: 65 bytes over the EIP-712 digest of
    DeviceBinding(bytes32 device,uint64 projectId), by eth_account."""
    message = {"device": bytes(device), "projectId": project_id}
    signed = Account.sign_typed_data(key.key, domain(chain_id, mrv_address), DEVICE_BINDING_TYPES, message)
    return bytes(signed.signature)


def binding_digest(chain_id: int, mrv_address: str, device: bytes, project_id: int) -> bytes:
    from eth_account.messages import _hash_eip191_message, encode_typed_data

    message = {"device": bytes(device), "projectId": project_id}
    return _hash_eip191_message(encode_typed_data(domain(chain_id, mrv_address), DEVICE_BINDING_TYPES, message))


def registration(mrv, meter_id: str, project_id: int, kind=GENERATION, capacity=CAPACITY_W, active_from=T0, key=None):
    """registerDevice's arguments for `meter_id`, with `key` (a fresh one by default) and its binding signature."""
    from ape import chain

    key = key or new_key()
    signature = sign_binding(key, chain.chain_id, mrv.address, device_id(meter_id), project_id)
    return [meter_id, key.address, project_id, kind, capacity, active_from, signature]


def reading_digest(chain_id: int, mrv_address: str, r: dict) -> bytes:
    from eth_account.messages import _hash_eip191_message, encode_typed_data

    return _hash_eip191_message(encode_typed_data(domain(chain_id, mrv_address), READING_TYPES, r))


def leaf(r: dict) -> bytes:
    """docs/mrv.md's leaf: keccak256(bytes.concat(keccak256(abi.encode(device, sequence, start, end, value))))."""
    inner = keccak(
        abi_encode(
            ["bytes32", "uint64", "uint40", "uint40", "uint256"],
            [r["device"], r["sequence"], r["start"], r["end"], r["value"]],
        )
    )
    return keccak(inner)


def _hash_pair(a: bytes, b: bytes) -> bytes:
    return keccak(min(a, b) + max(a, b))


class MerkleTree:
    """StandardMerkleTree's layout: sorted leaves at the end of a 2n-1 array, parents hashed pairwise (sorted)."""

    def __init__(self, leaves: list[bytes]) -> None:
        assert leaves, "a tree of no leaves"
        ordered = sorted(leaves)
        n = len(ordered)
        tree: list[bytes] = [b""] * (2 * n - 1)
        for i, x in enumerate(ordered):
            tree[len(tree) - 1 - i] = x
        for i in range(len(tree) - 1 - n, -1, -1):
            tree[i] = _hash_pair(tree[2 * i + 1], tree[2 * i + 2])
        self.tree = tree
        self._index = {x: len(tree) - 1 - i for i, x in enumerate(ordered)}

    @property
    def root(self) -> bytes:
        return self.tree[0]

    def proof(self, leaf_hash: bytes) -> list[bytes]:
        i = self._index[leaf_hash]
        path = []
        while i > 0:
            sibling = i - 1 if i % 2 == 0 else i + 1
            path.append(self.tree[sibling])
            i = (i - 1) // 2
        return path


def root_of(readings: list[dict]) -> bytes:
    return MerkleTree([leaf(r) for r in readings]).root


def readings_for(device: bytes, first_sequence: int, start: int, count: int, value: int = 1000) -> list[dict]:
    """`count` five-minute readings of `value` Wh from `start`, sequences from `first_sequence`."""
    return [
        reading(device, first_sequence + i, start + i * FIVE_MINUTES, start + (i + 1) * FIVE_MINUTES, value)
        for i in range(count)
    ]


@dataclass
class Mrv:
    """An MRV deployment on a suite: an Approved project owned by `owner`, factor `factor_id` (450 mg/Wh, ID,
    valid through 2025), and helpers that make devices and reports."""

    chain: Any
    registry: Any
    credit: Any
    mrv: Any
    admin: Any
    registrar: Any
    verifier: Any
    methodologist: Any
    owner: Any
    project_id: int
    factor_id: int
    make: Factory
    keys: dict = field(default_factory=dict)  # deviceId -> key

    @property
    def chain_id(self) -> int:
        return self.chain.chain_id

    def sign(self, r: dict, key=None) -> bytes:
        return sign_reading(key or self.keys[bytes(r["device"])], self.chain_id, self.mrv.address, r)

    def register(self, approve: bool = True, project_id: int | None = None, capacity: int = CAPACITY_W, **kw):
        """A fresh device (registered by the owner, approved by the verifier), active from T0. Returns its id."""
        meter = kw.pop("meter_id", None) or f"WF1-T{next(_meters):04d}"
        key = kw.pop("key", None) or new_key()
        pid = self.project_id if project_id is None else project_id
        sender = kw.pop("sender", self.owner)
        args = registration(
            self.mrv, meter, pid, kw.pop("kind", GENERATION), capacity, kw.pop("active_from", T0), key=key
        )
        receipt = self.mrv.registerDevice(*args, sender=sender)
        did = bytes(receipt.return_value)
        self.keys[did] = key
        if approve:
            self.mrv.approveDevice(did, sender=self.verifier)
        return did

    def submit(self, did: bytes, readings: list[dict], *, factor_id: int | None = None, total=None, root=None, **kw):
        """Submits the report of `readings` (their total and root unless given). Returns the report id."""
        receipt = self.mrv.submitReport(
            did,
            readings[0]["start"],
            readings[-1]["end"],
            readings[0]["sequence"],
            readings[-1]["sequence"],
            sum(r["value"] for r in readings) if total is None else total,
            self.factor_id if factor_id is None else factor_id,
            root_of(readings) if root is None else root,
            sender=kw.pop("sender", self.owner),
        )
        return receipt.return_value

    def next_readings(self, did: bytes, count: int = 12, value: int = 1000) -> list[dict]:
        d = self.mrv.device(did)
        return readings_for(did, d.nextSequence, d.reportedUntil, count, value)

    def last_batch_number(self, project_id: int | None = None) -> int:
        return self.registry.project(self.project_id if project_id is None else project_id).batchCount


def build_mrv(project, chain, suite, admin, registrar, verifier, methodologist, owner) -> Mrv:
    registry, credit = suite.registry, suite.credit
    deployed = deploy_mrv(
        project,
        suite,
        admin,
        roles={"REGISTRAR_ROLE": [registrar], "VERIFIER_ROLE": [verifier], "METHODOLOGY_ROLE": [methodologist]},
    )
    mrv = deployed.mrv
    make = Factory(registry, credit, registrar, verifier, registrar, owner)
    project_id = make.project(authorize_issuer=False)
    factor_id = mrv.publishFactor(
        FACTOR_CODE, COUNTRY, T0, YEAR_END, GRID_MG_PER_WH, sender=methodologist
    ).return_value[0]
    return Mrv(
        chain, registry, credit, mrv, admin, registrar, verifier, methodologist, owner, project_id, factor_id, make
    )
