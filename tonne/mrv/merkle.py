"""The Merkle root of a report's readings, compatible with OpenZeppelin's StandardMerkleTree (docs/mrv.md).

- leaf = keccak256(keccak256(abi.encode(device, sequence, start, end, value))) (``leaf_hash``);
- the leaf hashes sorted ascending as bytes; a tree array of 2n-1 nodes with ``tree[len-1-i] = sorted[i]``, and
  for ``i = len-1-n`` down to 0: ``tree[i] = hashPair(tree[2i+1], tree[2i+2])``, hashPair(a, b) =
  keccak256(min(a, b) || max(a, b)); the root is ``tree[0]`` (one leaf: the leaf itself);
- a proof is the siblings from the leaf's node up to the root, as ``getProof`` of @openzeppelin/merkle-tree, and
  verifies as OpenZeppelin's ``MerkleProof.verify(proof, root, leaf)`` (the contract's ``readingIncluded``).

The tree is one list of 32-byte strings: 100,000 leaves build in about a quarter of a second.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tonne.mrv.readings import Reading, keccak


class MerkleError(ValueError):
    """A tree that cannot be built, or a leaf that is not in it."""


def leaf_hash(reading: Reading) -> bytes:
    return keccak(keccak(reading.encoded()))


def leaf_of_encoded(encoded: bytes) -> bytes:
    """The StandardMerkleTree leaf of any abi.encode'd value (double keccak)."""
    return keccak(keccak(encoded))


def hash_pair(a: bytes, b: bytes) -> bytes:
    return keccak(a + b) if a < b else keccak(b + a)


@dataclass(frozen=True)
class MerkleTree:
    """``nodes``: the 2n-1 node array as StandardMerkleTree's ``tree`` (root first)."""

    nodes: tuple[bytes, ...]
    leaf_count: int

    @property
    def root(self) -> bytes:
        return self.nodes[0]

    def index_of(self, leaf: bytes) -> int:
        """The tree index of ``leaf`` (the leaves sit, sorted descending, at the end of the array)."""
        n, nodes = self.leaf_count, self.nodes
        lo, hi = len(nodes) - n, len(nodes)  # descending there: binary search over reversed order
        while lo < hi:
            mid = (lo + hi) // 2
            if nodes[mid] > leaf:
                lo = mid + 1
            else:
                hi = mid
        if lo < len(nodes) and nodes[lo] == leaf:
            return lo
        raise MerkleError(f"leaf 0x{leaf.hex()} is not in the tree")

    def proof(self, leaf: bytes) -> list[bytes]:
        """The sibling hashes from ``leaf`` to the root (@openzeppelin/merkle-tree's ``getProof``)."""
        i = self.index_of(leaf)
        out = []
        while i > 0:
            out.append(self.nodes[i + 1 if i % 2 else i - 1])
            i = (i - 1) // 2
        return out


def build(leaves: Iterable[bytes]) -> MerkleTree:
    """The StandardMerkleTree of the leaf hashes (any order; duplicates kept, as the library keeps them)."""
    ordered = sorted(leaves)
    n = len(ordered)
    if n == 0:
        raise MerkleError("no leaves: a tree needs at least one")
    for leaf in ordered:
        if len(leaf) != 32:
            raise MerkleError(f"a leaf of {len(leaf)} bytes, expected 32")
    size = 2 * n - 1
    nodes: list[bytes] = [b""] * (size - n) + ordered[::-1]  # tree[size-1-i] = ordered[i]
    for i in range(size - n - 1, -1, -1):
        a, b = nodes[2 * i + 1], nodes[2 * i + 2]
        nodes[i] = keccak(a + b) if a < b else keccak(b + a)
    return MerkleTree(tuple(nodes), n)


def tree_of(readings: Sequence[Reading]) -> MerkleTree:
    return build(leaf_hash(r) for r in readings)


def root_of(readings: Sequence[Reading]) -> bytes:
    return tree_of(readings).root


def process_proof(proof: Sequence[bytes], leaf: bytes) -> bytes:
    computed = leaf
    for node in proof:
        computed = hash_pair(computed, node)
    return computed


def verify(proof: Sequence[bytes], root: bytes, leaf: bytes) -> bool:
    """OpenZeppelin MerkleProof.verify."""
    return process_proof(proof, leaf) == root
