"""The RFC 9162 Merkle tree: known answers from the Certificate Transparency reference
implementations, then properties of proofs, of the compact range and of proofs built from
stored subtree hashes.

Known-answer sources (RFC 9162 hashes exactly as RFC 6962 does for SHA-256):

- [CT] google/certificate-transparency, cpp/merkletree/merkle_tree_test.cc: kInputs,
  kSHA256EmptyTreeHash, kSHA256Roots, kSHA256Paths, kSHA256Proofs, and the corruptions
  of MerkleVerifierTest::VerifierCheck / VerifierConsistencyCheck.
- [TD-constants] transparency-dev/merkle, testonly/constants.go: LeafInputs, NodeHashes,
  RootHashes, CompactTrees.
- [TD-verify] transparency-dev/merkle, proof/verify_test.go: inclusionProofs,
  consistencyProofs (the same as [CT] plus the proof from size 6 to size 7).
- [TD-proof] transparency-dev/merkle, proof/proof_test.go: TestInclusion and
  TestConsistency, which name proof nodes as (level, index) of NodeHashes.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.integrity.merkle import (
    EMPTY_ROOT,
    consistency_proof,
    consistency_proof_from,
    inclusion_proof,
    inclusion_proof_from,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)
from ledger.integrity.ranges import CompactRange, perfect_subtrees, subtree_hash

FAST = settings(max_examples=30, deadline=None, database=None)


def h(hex_digest: str) -> bytes:
    return bytes.fromhex(hex_digest)


# --- Known answers -----------------------------------------------------------------------

# [CT] kSHA256EmptyTreeHash; [TD-constants] EmptyRootHash.
CT_EMPTY_ROOT = h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")

# [CT] kInputs; [TD-constants] LeafInputs.
CT_INPUTS = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]
CT_LEAVES = [leaf_hash(entry) for entry in CT_INPUTS]

# [CT] kSHA256Roots (roots of the first 1..8 inputs); [TD-constants] RootHashes[1:].
CT_ROOTS = {
    1: h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    2: h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
    3: h("aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"),
    4: h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    5: h("4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4"),
    6: h("76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"),
    7: h("ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"),
    8: h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
}

# [TD-constants] NodeHashes: NODE_HASHES[level][i] is MTH(D[i * 2**level : (i+1) * 2**level])
# of the eight reference leaves.
NODE_HASHES = [
    [
        h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
        h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
        h("0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7"),
        h("07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7"),
        h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        h("4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658"),
        h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
        h("46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1"),
    ],
    [
        h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
        h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
        h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
        h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
    ],
    [
        h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
    ],
    [
        h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
    ],
]

# [TD-constants] CompactTrees: the frontier of each tree size 0..8 as (level, index) nodes.
CT_FRONTIERS = [
    [],
    [(0, 0)],
    [(1, 0)],
    [(1, 0), (0, 2)],
    [(2, 0)],
    [(2, 0), (0, 4)],
    [(2, 0), (1, 2)],
    [(2, 0), (1, 2), (0, 6)],
    [(3, 0)],
]

# [CT] kSHA256Paths as (leaf number, tree size, path). The leaf number is 1-based in the
# source; the entry {0, 0} there is an invalid request and is left out here.
CT_PATHS = [
    (1, 1, []),
    (
        1,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        6,
        8,
        [
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (3, 3, [h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
    (
        2,
        5,
        [
            h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
]

# [CT] kSHA256Proofs, plus (6, 7) from [TD-verify] consistencyProofs: (old size, new size,
# proof).
CT_CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        6,
        8,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (
        2,
        5,
        [
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
    (
        6,
        7,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
]

# [TD-proof] TestInclusion as (tree size, leaf index, proof nodes as (level, index)). The
# cases for size 7, indices 0-3, are left out: their proofs contain MTH(D[4:7]), which is
# not one of NodeHashes (the source marks them as "rehash").
TD_INCLUSION_NODES = [
    (1, 0, []),
    (2, 0, [(0, 1)]),
    (2, 1, [(0, 0)]),
    (3, 1, [(0, 0), (0, 2)]),
    (7, 4, [(0, 5), (0, 6), (2, 0)]),
    (7, 5, [(0, 4), (0, 6), (2, 0)]),
    (7, 6, [(1, 2), (2, 0)]),
    (4, 2, [(0, 3), (1, 0)]),
    (5, 3, [(0, 2), (1, 0), (0, 4)]),
    (6, 3, [(0, 2), (1, 0), (1, 2)]),
    (6, 4, [(0, 5), (2, 0)]),
]

# [TD-proof] TestConsistency as (old size, new size, proof nodes as (level, index)),
# without the "rehash" cases (3 -> 7, 4 -> 7, 1 -> 7).
TD_CONSISTENCY_NODES = [
    (1, 2, [(0, 1)]),
    (1, 4, [(0, 1), (1, 1)]),
    (1, 6, [(0, 1), (1, 1), (1, 2)]),
    (2, 3, [(0, 2)]),
    (2, 8, [(1, 1), (2, 1)]),
    (5, 7, [(0, 4), (0, 5), (0, 6), (2, 0)]),
    (6, 7, [(1, 2), (0, 6), (2, 0)]),
    (7, 8, [(0, 6), (0, 7), (1, 2), (2, 0)]),
    (1, 1, []),
    (2, 2, []),
    (3, 3, []),
    (4, 4, []),
    (5, 5, []),
    (7, 7, []),
    (8, 8, []),
    (2, 4, [(1, 1)]),
    (3, 5, [(0, 2), (0, 3), (1, 0), (0, 4)]),
    (3, 6, [(0, 2), (0, 3), (1, 0), (1, 2)]),
    (4, 6, [(1, 2)]),
]


def nodes(ids: Sequence[tuple[int, int]]) -> list[bytes]:
    return [NODE_HASHES[level][index] for level, index in ids]


def test_leaf_hash_is_sha256_of_0x00_and_the_entry() -> None:
    assert leaf_hash(b"entry") == hashlib.sha256(b"\x00entry").digest()
    assert leaf_hash(b"") == CT_ROOTS[1]


def test_node_hash_is_sha256_of_0x01_and_both_children() -> None:
    left, right = CT_LEAVES[0], CT_LEAVES[1]
    assert node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()
    assert node_hash(left, right) == CT_ROOTS[2]


def test_empty_root_is_sha256_of_the_empty_string() -> None:
    assert EMPTY_ROOT == CT_EMPTY_ROOT


def test_root_of_no_leaves_is_the_empty_root() -> None:
    assert root([]) == CT_EMPTY_ROOT


@pytest.mark.parametrize("size", sorted(CT_ROOTS))
def test_root_of_the_reference_leaves_is_the_published_root(size: int) -> None:
    assert root(CT_LEAVES[:size]) == CT_ROOTS[size]


def test_aligned_subtrees_of_the_reference_leaves_hash_to_the_published_nodes() -> None:
    for level, hashes in enumerate(NODE_HASHES):
        width = 1 << level
        for index, expected in enumerate(hashes):
            assert root(CT_LEAVES[index * width : (index + 1) * width]) == expected


@pytest.mark.parametrize("size", range(len(CT_FRONTIERS)))
def test_compact_range_of_the_reference_leaves_holds_the_published_frontier(
    size: int,
) -> None:
    frontier = CompactRange().extend(CT_LEAVES[:size])
    assert list(frontier.hashes) == nodes(CT_FRONTIERS[size])
    assert frontier.root() == (CT_ROOTS[size] if size else CT_EMPTY_ROOT)


@pytest.mark.parametrize(("number", "size", "path"), CT_PATHS)
def test_inclusion_proof_of_a_reference_leaf_is_the_published_path(
    number: int, size: int, path: list[bytes]
) -> None:
    assert inclusion_proof(number - 1, CT_LEAVES[:size]) == path


@pytest.mark.parametrize(("number", "size", "path"), CT_PATHS)
def test_published_paths_verify(number: int, size: int, path: list[bytes]) -> None:
    assert verify_inclusion(number - 1, size, CT_LEAVES[number - 1], path, CT_ROOTS[size])


@pytest.mark.parametrize(("number", "size", "path"), CT_PATHS)
def test_published_paths_fail_under_the_reference_corruptions(
    number: int, size: int, path: list[bytes]
) -> None:
    index, leaf, good_root = number - 1, CT_LEAVES[number - 1], CT_ROOTS[size]
    probes: list[tuple[int, int, bytes, list[bytes], bytes]] = [
        (index - 1, size, leaf, path, good_root),
        (index + 1, size, leaf, path, good_root),
        (index ^ 2, size, leaf, path, good_root),
        (index, size * 2, leaf, path, good_root),
        (index, size // 2, leaf, path, good_root),
        (index, size, b"WrongLeaf", path, good_root),
        (index, size, leaf_hash(b"WrongLeaf"), path, good_root),
        (index, size, leaf, path, CT_EMPTY_ROOT),
        (index, size, leaf, [*path, b""], good_root),
        (index, size, leaf, [*path, good_root], good_root),
        (index, size, leaf, [b"", *path], good_root),
        (index, size, leaf, [good_root, *path], good_root),
    ]
    for position in range(len(path)):
        wrong = list(path)
        wrong[position] = CT_EMPTY_ROOT
        probes.append((index, size, leaf, wrong, good_root))
    if path:
        probes.append((index, size, leaf, path[:-1], good_root))
    for probe in probes:
        assert not verify_inclusion(*probe), probe


@pytest.mark.parametrize(("size", "index", "ids"), TD_INCLUSION_NODES)
def test_inclusion_proof_names_the_published_nodes(
    size: int, index: int, ids: list[tuple[int, int]]
) -> None:
    assert inclusion_proof(index, CT_LEAVES[:size]) == nodes(ids)


@pytest.mark.parametrize(("old_size", "new_size", "proof"), CT_CONSISTENCY)
def test_consistency_proof_between_reference_sizes_is_the_published_proof(
    old_size: int, new_size: int, proof: list[bytes]
) -> None:
    assert consistency_proof(old_size, CT_LEAVES[:new_size]) == proof


@pytest.mark.parametrize(("old_size", "new_size", "proof"), CT_CONSISTENCY)
def test_published_consistency_proofs_verify(
    old_size: int, new_size: int, proof: list[bytes]
) -> None:
    assert verify_consistency(old_size, new_size, CT_ROOTS[old_size], CT_ROOTS[new_size], proof)


@pytest.mark.parametrize(("old_size", "new_size", "proof"), [p for p in CT_CONSISTENCY if p[2]])
def test_published_consistency_proofs_fail_under_the_reference_corruptions(
    old_size: int, new_size: int, proof: list[bytes]
) -> None:
    old_root, new_root = CT_ROOTS[old_size], CT_ROOTS[new_size]
    probes: list[tuple[int, int, bytes, bytes, list[bytes]]] = [
        (old_size - 1, new_size, old_root, new_root, proof),
        (old_size + 1, new_size, old_root, new_root, proof),
        (old_size ^ 2, new_size, old_root, new_root, proof),
        (old_size, new_size * 2, old_root, new_root, proof),
        (old_size, new_size // 2, old_root, new_root, proof),
        (old_size, new_size, old_root, b"WrongRoot", proof),
        (old_size, new_size, b"WrongRoot", new_root, proof),
        (old_size, new_size, old_root, leaf_hash(b"WrongRoot"), proof),
        (old_size, new_size, leaf_hash(b"WrongRoot"), new_root, proof),
        (old_size, new_size, new_root, old_root, proof),
        (old_size, new_size, old_root, new_root, []),
        (old_size, new_size, old_root, new_root, [*proof, b""]),
        (old_size, new_size, old_root, new_root, [*proof, proof[-1]]),
        (old_size, new_size, old_root, new_root, proof[:-1]),
        (old_size, new_size, old_root, new_root, [b"", *proof]),
        (old_size, new_size, old_root, new_root, [proof[0], *proof]),
        (old_size, new_size, old_root, new_root, [old_root, *proof]),
        (old_size, new_size, old_root, new_root, [new_root, *proof]),
    ]
    for position in range(len(proof)):
        wrong = list(proof)
        wrong[position] = CT_EMPTY_ROOT
        probes.append((old_size, new_size, old_root, new_root, wrong))
    for probe in probes:
        assert not verify_consistency(*probe), probe


@pytest.mark.parametrize(("old_size", "new_size", "ids"), TD_CONSISTENCY_NODES)
def test_consistency_proof_names_the_published_nodes(
    old_size: int, new_size: int, ids: list[tuple[int, int]]
) -> None:
    assert consistency_proof(old_size, CT_LEAVES[:new_size]) == nodes(ids)


# --- Edge cases and malformed input ------------------------------------------------------


@pytest.mark.parametrize(("index", "size"), [(0, 0), (1, 0), (1, 1), (2, 1), (8, 8), (-1, 8)])
def test_inclusion_proof_refuses_an_index_outside_the_tree(index: int, size: int) -> None:
    with pytest.raises(ValueError):
        inclusion_proof(index, CT_LEAVES[:size])


@pytest.mark.parametrize(("old_size", "new_size"), [(0, 0), (0, 5), (6, 5), (-1, 5)])
def test_consistency_proof_refuses_an_empty_or_larger_old_tree(
    old_size: int, new_size: int
) -> None:
    with pytest.raises(ValueError):
        consistency_proof(old_size, CT_LEAVES[:new_size])


def test_consistency_proof_to_the_same_size_is_empty() -> None:
    assert consistency_proof(5, CT_LEAVES[:5]) == []


def test_a_single_leaf_tree_proves_its_leaf_with_an_empty_path() -> None:
    assert verify_inclusion(0, 1, CT_LEAVES[0], [], CT_ROOTS[1])


@pytest.mark.parametrize(("index", "size"), [(0, 0), (1, 0), (1, 1), (2, 1), (-1, 1)])
def test_verify_inclusion_rejects_an_index_outside_the_tree(index: int, size: int) -> None:
    # The same leaf and root prove index 0 of a one-leaf tree.
    assert not verify_inclusion(index, size, CT_LEAVES[0], [], CT_LEAVES[0])


@pytest.mark.parametrize(
    ("leaf", "proof", "claimed_root"),
    [
        (b"", [], b""),
        (b"x", [], b"x"),
        (CT_LEAVES[0][:31], [], CT_LEAVES[0][:31]),
        (CT_LEAVES[0] + b"\x00", [], CT_LEAVES[0] + b"\x00"),
    ],
)
def test_verify_inclusion_rejects_hashes_that_are_not_32_bytes(
    leaf: bytes, proof: list[bytes], claimed_root: bytes
) -> None:
    assert not verify_inclusion(0, 1, leaf, proof, claimed_root)


def test_verify_inclusion_rejects_a_proof_element_that_is_not_32_bytes() -> None:
    path = inclusion_proof(0, CT_LEAVES[:2])
    assert not verify_inclusion(0, 2, CT_LEAVES[0], [path[0][:31]], CT_ROOTS[2])


GARBAGE: list[Any] = [None, "", "00" * 32, 1, 1.5, [None], ["00" * 32], [1], object()]


@pytest.mark.parametrize("garbage", GARBAGE)
def test_verify_inclusion_returns_false_for_garbage_without_raising(garbage: Any) -> None:
    path = CT_PATHS[1][2]
    assert not verify_inclusion(garbage, 8, CT_LEAVES[0], path, CT_ROOTS[8])
    assert not verify_inclusion(0, garbage, CT_LEAVES[0], path, CT_ROOTS[8])
    assert not verify_inclusion(0, 8, garbage, path, CT_ROOTS[8])
    assert not verify_inclusion(0, 8, CT_LEAVES[0], garbage, CT_ROOTS[8])
    assert not verify_inclusion(0, 8, CT_LEAVES[0], path, garbage)


@pytest.mark.parametrize("garbage", GARBAGE)
def test_verify_consistency_returns_false_for_garbage_without_raising(garbage: Any) -> None:
    proof = CT_CONSISTENCY[2][2]
    roots = CT_ROOTS[6], CT_ROOTS[8]
    assert not verify_consistency(garbage, 8, *roots, proof)
    assert not verify_consistency(6, garbage, *roots, proof)
    assert not verify_consistency(6, 8, garbage, roots[1], proof)
    assert not verify_consistency(6, 8, roots[0], garbage, proof)
    assert not verify_consistency(6, 8, *roots, garbage)


def test_verify_accepts_bytes_like_hashes() -> None:
    # Database drivers may hand back bytearray or memoryview for a binary column.
    path: Any = [bytearray(p) for p in CT_PATHS[1][2]]
    leaf: Any = memoryview(CT_LEAVES[0])
    head: Any = bytearray(CT_ROOTS[8])
    assert verify_inclusion(0, 8, leaf, path, head)


def test_equal_sizes_are_consistent_with_an_empty_proof_and_equal_roots() -> None:
    assert verify_consistency(5, 5, CT_ROOTS[5], CT_ROOTS[5], [])


def test_equal_sizes_are_inconsistent_with_different_roots() -> None:
    assert not verify_consistency(5, 5, CT_ROOTS[5], CT_ROOTS[4], [])


def test_equal_sizes_are_inconsistent_with_a_non_empty_proof() -> None:
    assert not verify_consistency(5, 5, CT_ROOTS[5], CT_ROOTS[5], [CT_ROOTS[5]])


@pytest.mark.parametrize("new_size", [0, 1, 8])
def test_consistency_from_an_empty_tree_always_fails(new_size: int) -> None:
    new_root = CT_ROOTS[new_size] if new_size else CT_EMPTY_ROOT
    assert not verify_consistency(0, new_size, CT_EMPTY_ROOT, new_root, [])


def test_consistency_to_a_smaller_tree_fails() -> None:
    assert not verify_consistency(2, 1, CT_ROOTS[2], CT_ROOTS[1], [])
    assert not verify_consistency(2, 1, CT_ROOTS[2], CT_ROOTS[1], [CT_LEAVES[1]])


def test_consistency_between_different_sizes_fails_with_an_empty_proof() -> None:
    assert not verify_consistency(1, 2, CT_ROOTS[1], CT_ROOTS[2], [])


@pytest.mark.parametrize(("old_size", "new_size"), [(1, 2), (1, 8), (2, 3), (2, 8), (4, 5)])
def test_proof_from_a_power_of_two_size_leaves_out_the_old_root(
    old_size: int, new_size: int
) -> None:
    proof = consistency_proof(old_size, CT_LEAVES[:new_size])
    old_root, new_root = CT_ROOTS[old_size], CT_ROOTS[new_size]
    assert old_root not in proof
    assert verify_consistency(old_size, new_size, old_root, new_root, proof)
    # The verifier prepends the old root itself (RFC 9162 2.1.4.2 step 2).
    assert not verify_consistency(old_size, new_size, old_root, new_root, [old_root, *proof])


def test_an_inclusion_proof_alone_does_not_fix_the_tree_size() -> None:
    # The path of leaf 0 in a tree of 3 leaves has the same shape as in a tree of 4, so it
    # verifies for size 4 against the root of size 3: the size must come from the same
    # signed tree head as the root.
    path = inclusion_proof(0, CT_LEAVES[:3])
    assert verify_inclusion(0, 4, CT_LEAVES[0], path, CT_ROOTS[3])
    assert not verify_inclusion(0, 4, CT_LEAVES[0], path, CT_ROOTS[4])


# --- Properties --------------------------------------------------------------------------

MAX_SIZE = 300
LEAVES = [leaf_hash(b"entry %d" % i) for i in range(2 * MAX_SIZE + 2)]


@cache
def tree_root(size: int) -> bytes:
    return root(LEAVES[:size])


def _stored_nodes(leaves: Sequence[bytes]) -> dict[tuple[int, int], bytes]:
    """Every complete aligned subtree hash, built level by level as a log would store
    them: {(start, end): hash}."""
    table = {(i, i + 1): leaf for i, leaf in enumerate(leaves)}
    level, width = list(leaves), 1
    while len(level) > 1:
        level = [node_hash(level[j], level[j + 1]) for j in range(0, len(level) - 1, 2)]
        width *= 2
        table.update({(j * width, (j + 1) * width): node for j, node in enumerate(level)})
    return table


STORED = _stored_nodes(LEAVES)


def stored(start: int, end: int) -> bytes:
    return STORED[(start, end)]


def from_store(
    size: int, asked: list[tuple[int, int]] | None = None
) -> Callable[[int, int], bytes]:
    """A ``subtree`` callback for a tree of ``size`` leaves that reads only stored aligned
    nodes inside the tree, recording the ranges it is asked for."""

    def lookup(start: int, end: int) -> bytes:
        assert end <= size, (start, end, size)
        return STORED[(start, end)]

    def subtree(start: int, end: int) -> bytes:
        if asked is not None:
            asked.append((start, end))
        return subtree_hash(start, end, lookup)

    return subtree


def flip(value: bytes, bit: int) -> bytes:
    altered = bytearray(value)
    altered[bit // 8] ^= 1 << (bit % 8)
    return bytes(altered)


@st.composite
def leaf_in_tree(draw: st.DrawFn, min_size: int = 1) -> tuple[int, int]:
    size = draw(st.integers(min_size, MAX_SIZE), label="size")
    return size, draw(st.integers(0, size - 1), label="index")


@st.composite
def two_sizes(draw: st.DrawFn, strict: bool = True) -> tuple[int, int]:
    new_size = draw(st.integers(2 if strict else 1, MAX_SIZE), label="new_size")
    old_size = draw(st.integers(1, new_size - 1 if strict else new_size), label="old_size")
    return old_size, new_size


@FAST
@given(leaf_in_tree())
def test_every_inclusion_proof_verifies(tree: tuple[int, int]) -> None:
    size, index = tree
    path = inclusion_proof(index, LEAVES[:size])
    assert verify_inclusion(index, size, LEAVES[index], path, tree_root(size))


@FAST
@given(leaf_in_tree(), st.integers(0, 2 * MAX_SIZE + 1))
def test_inclusion_fails_for_another_leaf(tree: tuple[int, int], other: int) -> None:
    size, index = tree
    path = inclusion_proof(index, LEAVES[:size])
    if other != index:
        assert not verify_inclusion(index, size, LEAVES[other], path, tree_root(size))


@FAST
@given(leaf_in_tree(min_size=2), st.sampled_from([-1, 1, 2]))
def test_inclusion_fails_for_a_neighbouring_index(tree: tuple[int, int], change: int) -> None:
    size, index = tree
    other = index ^ 2 if change == 2 else index + change
    path = inclusion_proof(index, LEAVES[:size])
    assert not verify_inclusion(other, size, LEAVES[index], path, tree_root(size))


@FAST
@given(leaf_in_tree(), st.sampled_from(["double", "half"]))
def test_inclusion_fails_for_double_or_half_the_size(tree: tuple[int, int], change: str) -> None:
    size, index = tree
    other = size * 2 if change == "double" else size // 2
    path = inclusion_proof(index, LEAVES[:size])
    assert not verify_inclusion(index, other, LEAVES[index], path, tree_root(size))


@FAST
@given(leaf_in_tree(), st.integers(1, MAX_SIZE))
def test_inclusion_proof_verifies_for_another_size_only_if_it_is_that_sizes_proof(
    tree: tuple[int, int], other: int
) -> None:
    size, index = tree
    path = inclusion_proof(index, LEAVES[:size])
    expected = index < other and inclusion_proof(index, LEAVES[:other]) == path
    assert verify_inclusion(index, other, LEAVES[index], path, tree_root(other)) == expected


@FAST
@given(leaf_in_tree(min_size=2), st.data())
def test_inclusion_fails_for_any_altered_proof_element(
    tree: tuple[int, int], data: st.DataObject
) -> None:
    size, index = tree
    path = inclusion_proof(index, LEAVES[:size])
    position = data.draw(st.integers(0, len(path) - 1), label="position")
    path[position] = flip(path[position], data.draw(st.integers(0, 255), label="bit"))
    assert not verify_inclusion(index, size, LEAVES[index], path, tree_root(size))


@FAST
@given(leaf_in_tree(), st.integers(0, 255))
def test_inclusion_fails_for_an_altered_root(tree: tuple[int, int], bit: int) -> None:
    size, index = tree
    path = inclusion_proof(index, LEAVES[:size])
    assert not verify_inclusion(index, size, LEAVES[index], path, flip(tree_root(size), bit))


@FAST
@given(leaf_in_tree(min_size=2), st.data())
def test_inclusion_fails_when_an_element_is_dropped(
    tree: tuple[int, int], data: st.DataObject
) -> None:
    size, index = tree
    path = inclusion_proof(index, LEAVES[:size])
    del path[data.draw(st.integers(0, len(path) - 1), label="position")]
    assert not verify_inclusion(index, size, LEAVES[index], path, tree_root(size))


@FAST
@given(leaf_in_tree(), st.data())
def test_inclusion_fails_when_an_element_is_added(
    tree: tuple[int, int], data: st.DataObject
) -> None:
    size, index = tree
    path = inclusion_proof(index, LEAVES[:size])
    extra = data.draw(st.sampled_from([tree_root(size), LEAVES[index], *path]), label="extra")
    path.insert(data.draw(st.integers(0, len(path)), label="position"), extra)
    assert not verify_inclusion(index, size, LEAVES[index], path, tree_root(size))


@FAST
@given(two_sizes(strict=False))
def test_every_consistency_proof_verifies(sizes: tuple[int, int]) -> None:
    old_size, new_size = sizes
    proof = consistency_proof(old_size, LEAVES[:new_size])
    assert verify_consistency(old_size, new_size, tree_root(old_size), tree_root(new_size), proof)


@FAST
@given(two_sizes(), st.sampled_from([-1, 1, 2]))
def test_consistency_fails_for_a_neighbouring_old_size(sizes: tuple[int, int], change: int) -> None:
    old_size, new_size = sizes
    other = old_size ^ 2 if change == 2 else old_size + change
    proof = consistency_proof(old_size, LEAVES[:new_size])
    roots = tree_root(old_size), tree_root(new_size)
    assert not verify_consistency(other, new_size, *roots, proof)


@FAST
@given(two_sizes(), st.sampled_from(["double", "half"]))
def test_consistency_fails_for_double_or_half_the_new_size(
    sizes: tuple[int, int], change: str
) -> None:
    old_size, new_size = sizes
    other = new_size * 2 if change == "double" else new_size // 2
    proof = consistency_proof(old_size, LEAVES[:new_size])
    roots = tree_root(old_size), tree_root(new_size)
    assert not verify_consistency(old_size, other, *roots, proof)


@FAST
@given(two_sizes(), two_sizes(strict=False))
def test_consistency_proof_verifies_for_other_sizes_only_if_it_is_their_proof(
    sizes: tuple[int, int], others: tuple[int, int]
) -> None:
    proof = consistency_proof(sizes[0], LEAVES[: sizes[1]])
    old_size, new_size = others
    expected = consistency_proof(old_size, LEAVES[:new_size]) == proof
    roots = tree_root(old_size), tree_root(new_size)
    assert verify_consistency(old_size, new_size, *roots, proof) == expected


@FAST
@given(two_sizes(), st.data())
def test_consistency_fails_for_any_altered_proof_element(
    sizes: tuple[int, int], data: st.DataObject
) -> None:
    old_size, new_size = sizes
    proof = consistency_proof(old_size, LEAVES[:new_size])
    position = data.draw(st.integers(0, len(proof) - 1), label="position")
    proof[position] = flip(proof[position], data.draw(st.integers(0, 255), label="bit"))
    roots = tree_root(old_size), tree_root(new_size)
    assert not verify_consistency(old_size, new_size, *roots, proof)


@FAST
@given(two_sizes(), st.integers(0, 255))
def test_consistency_fails_for_an_altered_old_root(sizes: tuple[int, int], bit: int) -> None:
    old_size, new_size = sizes
    proof = consistency_proof(old_size, LEAVES[:new_size])
    old_root = flip(tree_root(old_size), bit)
    assert not verify_consistency(old_size, new_size, old_root, tree_root(new_size), proof)


@FAST
@given(two_sizes(), st.integers(0, 255))
def test_consistency_fails_for_an_altered_new_root(sizes: tuple[int, int], bit: int) -> None:
    old_size, new_size = sizes
    proof = consistency_proof(old_size, LEAVES[:new_size])
    new_root = flip(tree_root(new_size), bit)
    assert not verify_consistency(old_size, new_size, tree_root(old_size), new_root, proof)


@FAST
@given(two_sizes())
def test_consistency_fails_for_swapped_roots(sizes: tuple[int, int]) -> None:
    old_size, new_size = sizes
    proof = consistency_proof(old_size, LEAVES[:new_size])
    assert not verify_consistency(
        old_size, new_size, tree_root(new_size), tree_root(old_size), proof
    )


@FAST
@given(two_sizes(), st.data())
def test_consistency_fails_when_an_element_is_dropped(
    sizes: tuple[int, int], data: st.DataObject
) -> None:
    old_size, new_size = sizes
    proof = consistency_proof(old_size, LEAVES[:new_size])
    del proof[data.draw(st.integers(0, len(proof) - 1), label="position")]
    roots = tree_root(old_size), tree_root(new_size)
    assert not verify_consistency(old_size, new_size, *roots, proof)


@FAST
@given(two_sizes(), st.data())
def test_consistency_fails_when_an_element_is_added(
    sizes: tuple[int, int], data: st.DataObject
) -> None:
    old_size, new_size = sizes
    proof = consistency_proof(old_size, LEAVES[:new_size])
    roots = tree_root(old_size), tree_root(new_size)
    extra = data.draw(st.sampled_from([*roots, *proof]), label="extra")
    proof.insert(data.draw(st.integers(0, len(proof)), label="position"), extra)
    assert not verify_consistency(old_size, new_size, *roots, proof)


def test_compact_range_root_equals_root_for_every_prefix() -> None:
    frontier = CompactRange()
    assert frontier.root() == EMPTY_ROOT
    for size in range(1, MAX_SIZE + 1):
        frontier = frontier.append(LEAVES[size - 1])
        assert frontier.size == size
        assert frontier.root() == tree_root(size), size


@FAST
@given(st.lists(st.binary(max_size=8), max_size=40))
def test_compact_range_root_equals_root_of_arbitrary_entries(entries: list[bytes]) -> None:
    leaves = [leaf_hash(entry) for entry in entries]
    assert CompactRange().extend(leaves).root() == root(leaves)


@FAST
@given(st.integers(0, MAX_SIZE))
def test_compact_range_holds_the_perfect_subtrees_of_the_prefix(size: int) -> None:
    frontier = CompactRange().extend(LEAVES[:size])
    assert list(frontier.hashes) == [STORED[r] for r in perfect_subtrees(0, size)]


@FAST
@given(st.integers(0, MAX_SIZE), st.integers(0, MAX_SIZE))
def test_extend_equals_appending_one_leaf_at_a_time(start: int, count: int) -> None:
    base = CompactRange().extend(LEAVES[:start])
    one_by_one = base
    for leaf in LEAVES[start : start + count]:
        one_by_one = one_by_one.append(leaf)
    assert base.extend(LEAVES[start : start + count]) == one_by_one


def test_append_returns_a_new_value_and_leaves_the_old_one_unchanged() -> None:
    before = CompactRange().extend(LEAVES[:3])
    after = before.append(LEAVES[3])
    assert (before.size, len(before.hashes), after.size, len(after.hashes)) == (3, 2, 4, 1)
    assert before.root() == tree_root(3)


@FAST
@given(st.integers(0, MAX_SIZE))
def test_compact_range_round_trips_through_bytes(size: int) -> None:
    frontier = CompactRange().extend(LEAVES[:size])
    data = frontier.to_bytes()
    assert len(data) == 32 * size.bit_count()
    restored = CompactRange.from_bytes(size, data)
    assert restored == frontier
    assert restored.root() == tree_root(size)


def test_a_restored_compact_range_keeps_growing_like_the_original() -> None:
    stored = CompactRange().extend(LEAVES[:13]).to_bytes()
    restored = CompactRange.from_bytes(13, stored).extend(LEAVES[13:40])
    assert restored.root() == tree_root(40)


@pytest.mark.parametrize(("size", "length"), [(0, 32), (1, 0), (3, 32), (3, 96), (5, 63)])
def test_compact_range_from_bytes_rejects_the_wrong_length(size: int, length: int) -> None:
    with pytest.raises(ValueError):
        CompactRange.from_bytes(size, bytes(length))


def test_compact_range_rejects_a_hash_count_that_does_not_match_the_size() -> None:
    with pytest.raises(ValueError):
        CompactRange(3, (LEAVES[0],))


def test_compact_range_rejects_a_leaf_that_is_not_32_bytes() -> None:
    with pytest.raises(ValueError):
        CompactRange().append(b"entry")


@FAST
@given(leaf_in_tree())
def test_inclusion_proof_from_stored_nodes_equals_the_list_version(
    tree: tuple[int, int],
) -> None:
    size, index = tree
    from_nodes = inclusion_proof_from(index, size, from_store(size))
    assert from_nodes == inclusion_proof(index, LEAVES[:size])


@FAST
@given(two_sizes(strict=False))
def test_consistency_proof_from_stored_nodes_equals_the_list_version(
    sizes: tuple[int, int],
) -> None:
    old_size, new_size = sizes
    from_nodes = consistency_proof_from(old_size, new_size, from_store(new_size))
    assert from_nodes == consistency_proof(old_size, LEAVES[:new_size])


def test_proofs_ask_only_for_ranges_that_fold_into_their_mth() -> None:
    asked: list[tuple[int, int]] = []
    for size in range(1, 65):
        for index in range(size):
            inclusion_proof_from(index, size, from_store(size, asked))
        for old_size in range(1, size + 1):
            consistency_proof_from(old_size, size, from_store(size, asked))
    for start, end in set(asked):
        largest = 1 << ((end - start).bit_length() - 1)
        assert start % largest == 0, (start, end)
        assert subtree_hash(start, end, stored) == root(LEAVES[start:end])


@FAST
@given(leaf_in_tree())
def test_inclusion_proof_from_asks_once_per_element(tree: tuple[int, int]) -> None:
    size, index = tree
    asked: list[tuple[int, int]] = []
    path = inclusion_proof_from(index, size, from_store(size, asked))
    assert len(asked) == len(path) == len(inclusion_proof(index, LEAVES[:size]))


def test_subtree_hash_refuses_a_range_whose_pieces_do_not_fold_into_its_mth() -> None:
    # [1, 4) splits into [1, 2) and [2, 4); MTH of three leaves splits them 2 + 1.
    assert perfect_subtrees(1, 4) == [(1, 2), (2, 4)]
    assert node_hash(LEAVES[1], STORED[(2, 4)]) != root(LEAVES[1:4])
    with pytest.raises(ValueError):
        subtree_hash(1, 4, stored)


@FAST
@given(st.integers(0, 2 * MAX_SIZE), st.integers(0, 2 * MAX_SIZE))
def test_perfect_subtrees_are_aligned_contiguous_and_maximal(a: int, b: int) -> None:
    start, end = min(a, b), max(a, b)
    ranges = perfect_subtrees(start, end)
    edges = [start] + [e for _, e in ranges]
    assert [s for s, _ in ranges] == edges[:-1]
    assert edges[-1] == end
    assert len(ranges) <= max(end - start, 2 * ((end - start).bit_length() - 1))
    for s, e in ranges:
        width = e - s
        assert width & (width - 1) == 0 and s % width == 0
    for (s1, e1), (s2, e2) in itertools.pairwise(ranges):
        # Two neighbours of equal width never make one aligned range.
        assert not (e1 - s1 == e2 - s2 and s1 % (2 * (e1 - s1)) == 0)


@st.composite
def aligned_range(draw: st.DrawFn) -> tuple[int, int]:
    """[start, end) with start a multiple of the largest power of two <= end - start."""
    level = draw(st.integers(0, 8), label="level")
    length = draw(st.integers(1 << level, (2 << level) - 1), label="length")
    multiple = draw(st.integers(0, (len(LEAVES) - length) >> level), label="multiple")
    start = multiple << level
    return start, start + length


@FAST
@given(aligned_range())
def test_perfect_subtrees_fold_into_mth_when_start_is_aligned(
    range_: tuple[int, int],
) -> None:
    start, end = range_
    assert subtree_hash(start, end, stored) == root(LEAVES[start:end])


def test_perfect_subtrees_of_a_prefix_follow_the_binary_digits_of_its_size() -> None:
    assert perfect_subtrees(0, 13) == [(0, 8), (8, 12), (12, 13)]
    assert perfect_subtrees(0, 0) == []
    assert perfect_subtrees(5, 19) == [(5, 6), (6, 8), (8, 16), (16, 18), (18, 19)]


def test_perfect_subtrees_refuses_a_reversed_range() -> None:
    with pytest.raises(ValueError):
        perfect_subtrees(3, 2)
