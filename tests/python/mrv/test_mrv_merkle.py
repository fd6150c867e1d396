"""The Merkle tree equals @openzeppelin/merkle-tree's StandardMerkleTree: a tree the library dumped, a literal
transcription of the spec's algorithm, and proofs that verify as OpenZeppelin's MerkleProof.verify."""

from __future__ import annotations

import time

import pytest
from eth_abi import encode
from hypothesis import given, settings
from hypothesis import strategies as st

from tonne.mrv import merkle
from tonne.mrv.readings import Reading, device_id, keccak

# A tree dumped by @openzeppelin/merkle-tree (StandardMerkleTree.of(values, ["address", "uint256"]).dump()):
# values [0x80d6..0c, i] for i = 0, 1, 2 at treeIndex 4, 3, 2.
OZ_VALUES = [("0x80d628ff4AC2aFf620C3474663F1e559234bbE0c", i) for i in range(3)]
OZ_TREE = [
    "0x0fecce441c7468f17e3fe4a5f211b77a15b27c9ab3d33317df385dfbe5487034",
    "0x636ab2686ee3036244cf3d6b5574e051e4b20a3577b008975dbcca6dde2897d2",
    "0xd90245da324d7908326a3d56a9659741551a4603c397bf4dd373976bd85660e7",
    "0x36fb17c97ec80bb961ff0adff1af4a2a34847ecc40653c162e327117a76e3ec9",
    "0x1867c4ebd455913e429523a5c2d4b3a79f58068b5a25af911956245ed03a659d",
]
OZ_TREE_INDEX = [4, 3, 2]


def test_build__tree_dumped_by_openzeppelin__same_nodes_and_indices():
    leaves = [merkle.leaf_of_encoded(encode(["address", "uint256"], list(v))) for v in OZ_VALUES]
    tree = merkle.build(leaves)
    assert ["0x" + n.hex() for n in tree.nodes] == OZ_TREE
    assert [tree.index_of(leaf) for leaf in leaves] == OZ_TREE_INDEX
    for leaf in leaves:
        assert merkle.verify(tree.proof(leaf), tree.root, leaf)


def _spec_tree(leaves: list[bytes]) -> list[bytes]:
    """docs/mrv.md, word for word: sort ascending; tree[len-1-i] = sorted[i]; for i = len-1-n down to 0:
    tree[i] = hashPair(tree[2i+1], tree[2i+2])."""
    ordered = sorted(leaves)
    n = len(ordered)
    tree = [b""] * (2 * n - 1)
    for i, leaf in enumerate(ordered):
        tree[len(tree) - 1 - i] = leaf
    for i in range(len(tree) - 1 - n, -1, -1):
        a, b = tree[2 * i + 1], tree[2 * i + 2]
        tree[i] = keccak(min(a, b) + max(a, b))
    return tree


def test_leaf_hash__reading__double_keccak_of_abi_encoding():
    reading = Reading(device_id("WF1-T07"), 3, 1700000000, 1700000300, 250000)
    encoded = encode(["bytes32", "uint64", "uint40", "uint40", "uint256"], [reading.device, 3, 1700000000, 1700000300,
                                                                             250000])  # fmt: skip
    assert reading.encoded() == encoded
    assert merkle.leaf_hash(reading) == keccak(keccak(encoded))


@settings(max_examples=80, deadline=None)
@given(st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=70), st.data())
def test_build__any_leaves__spec_tree_and_every_proof_verifies(leaves, data):
    tree = merkle.build(leaves)
    assert list(tree.nodes) == _spec_tree(leaves)
    for leaf in leaves:
        assert merkle.verify(tree.proof(leaf), tree.root, leaf)
    leaf = data.draw(st.sampled_from(leaves))
    bit = data.draw(st.integers(0, 255))
    tampered = (int.from_bytes(leaf, "big") ^ (1 << bit)).to_bytes(32, "big")
    if tampered not in leaves:
        assert not merkle.verify(tree.proof(leaf), tree.root, tampered)
        with pytest.raises(merkle.MerkleError, match="not in the tree"):
            tree.proof(tampered)


def test_build__one_leaf__root_is_the_leaf_and_empty_refused():
    leaf = keccak(b"one")
    tree = merkle.build([leaf])
    assert tree.root == leaf and tree.proof(leaf) == []
    with pytest.raises(merkle.MerkleError, match="no leaves"):
        merkle.build([])


def test_build__100k_leaves__well_under_a_few_seconds():
    leaves = [keccak(i.to_bytes(8, "big")) for i in range(100_000)]
    t = time.perf_counter()
    tree = merkle.build(leaves)
    elapsed = time.perf_counter() - t
    assert elapsed < 3, elapsed
    assert merkle.verify(tree.proof(leaves[77_777]), tree.root, leaves[77_777])
