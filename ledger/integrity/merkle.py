"""The Merkle tree of RFC 9162 (Certificate Transparency 2.0), section 2.1, with SHA-256.

Every function that takes ``leaves`` takes leaf *hashes* (``leaf_hash(entry)``), not the
entries themselves, and ``subtree(start, end)`` always means MTH(D[start:end]) over those
leaf hashes. All hashes are 32 bytes.

- ``root`` is MTH (2.1.1); ``inclusion_proof`` is PATH (2.1.3.1) and
  ``consistency_proof`` is PROOF/SUBPROOF (2.1.4.1). They are wrappers around
  ``inclusion_proof_from`` and ``consistency_proof_from``, which ask a callback for the
  subtree hashes they need, so a log kept in a database can answer from stored nodes.
- ``verify_inclusion`` (2.1.3.2) and ``verify_consistency`` (2.1.4.2) follow the RFC's
  verification algorithms step by step and return False, never raise, on bad input.

Aligned subtrees and the compact range of an append-only log (``CompactRange``) are in
``ledger.integrity.ranges``; the tree the ledger keeps in its database, in
``ledger.integrity.tree``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "as_hash",
    "consistency_proof",
    "consistency_proof_from",
    "inclusion_proof",
    "inclusion_proof_from",
    "is_size",
    "leaf_hash",
    "node_hash",
    "root",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
"""Length in bytes of every hash: SHA-256."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""MTH({}) = SHA-256 of the empty string: the root of a tree with no leaves."""

Subtree = Callable[[int, int], bytes]
"""``subtree(start, end)`` returns MTH(D[start:end]) for 0 <= start < end."""


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data): the hash of one log entry (RFC 9162 2.1.1)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right): the hash of an interior node (RFC 9162 2.1.1)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n``, for n >= 2 (RFC 9162 2.1.1)."""
    return 1 << ((n - 1).bit_length() - 1)


def _mth(leaves: Sequence[bytes], start: int, end: int) -> bytes:
    """MTH(D[start:end]) for start < end, by the recursive definition."""
    n = end - start
    if n == 1:
        return bytes(leaves[start])
    k = _split(n)
    return node_hash(_mth(leaves, start, start + k), _mth(leaves, start + k, end))


def root(leaves: Sequence[bytes]) -> bytes:
    """MTH(D_n) of RFC 9162 2.1.1 over leaf hashes; EMPTY_ROOT for no leaves.

    A tree of n > 1 leaves is split at k, the largest power of two smaller than n:
    MTH(D_n) = node_hash(MTH(D[0:k]), MTH(D[k:n])). MTH of one leaf is its leaf hash.
    """
    if not leaves:
        return EMPTY_ROOT
    return _mth(leaves, 0, len(leaves))


def inclusion_proof_from(index: int, size: int, subtree: Subtree) -> list[bytes]:
    """PATH(index, D_size) of RFC 9162 2.1.3.1, asking ``subtree`` for each sibling.

    The path lists the siblings from the leaf up to the root. ``subtree`` is called once
    per element, and only for nodes of the tree of ``size`` leaves: ranges
    [start, start + 2**j) with start a multiple of 2**j, or ranges [start, size) that end
    at the tree's edge. Raises ValueError unless 0 <= index < size.
    """
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is not in a tree of size {size}")
    siblings: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            siblings.append(subtree(start + k, end))
            end = start + k
        else:
            siblings.append(subtree(start, start + k))
            start += k
    siblings.reverse()
    return siblings


def inclusion_proof(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(index, D_n) of RFC 9162 2.1.3.1 for the leaf hashes ``leaves``.

    Raises ValueError unless 0 <= index < len(leaves).
    """
    return inclusion_proof_from(index, len(leaves), lambda s, e: root(leaves[s:e]))


def consistency_proof_from(old_size: int, size: int, subtree: Subtree) -> list[bytes]:
    """PROOF(old_size, D_size) of RFC 9162 2.1.4.1, asking ``subtree`` for each node.

    The proof is SUBPROOF(old_size, D_size, true), smallest subtrees first. It is empty
    when old_size == size (SUBPROOF(m, D_m, true) = {}). ``subtree`` is called once per
    element, for nodes of the tree of ``size`` leaves only (see ``inclusion_proof_from``).
    Raises ValueError unless 0 < old_size <= size: the RFC defines no proof from an
    empty tree.
    """
    if not 0 < old_size <= size:
        raise ValueError(f"no consistency proof from size {old_size} to size {size}")
    nodes: list[bytes] = []
    start, end = 0, size
    old_root_is_known = True  # the `b` flag of SUBPROOF
    while end != old_size:
        k = _split(end - start)
        if old_size <= start + k:
            nodes.append(subtree(start + k, end))
            end = start + k
        else:
            nodes.append(subtree(start, start + k))
            start += k
            old_root_is_known = False
    if not old_root_is_known:
        nodes.append(subtree(start, end))
    nodes.reverse()
    return nodes


def consistency_proof(old_size: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PROOF(old_size, D_n) of RFC 9162 2.1.4.1 for the leaf hashes ``leaves``.

    Raises ValueError unless 0 < old_size <= len(leaves).
    """
    return consistency_proof_from(old_size, len(leaves), lambda s, e: root(leaves[s:e]))


def as_hash(value: object) -> bytes | None:
    """``value`` as bytes if it is a bytes-like object of HASH_SIZE bytes, else None."""
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        if len(data) == HASH_SIZE:
            return data
    return None


def _hash_list(values: object) -> list[bytes] | None:
    """``values`` as a list of hashes, or None if it is not a sequence of hashes."""
    if isinstance(values, bytes | bytearray | memoryview | str) or not isinstance(values, Sequence):
        return None
    hashes: list[bytes] = []
    for value in values:
        data = as_hash(value)
        if data is None:
            return None
        hashes.append(data)
    return hashes


def is_size(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> bool:
    """Whether ``proof`` shows that ``leaf`` (a leaf hash) is at ``index`` in the tree of
    ``size`` leaves whose root is ``root``: the algorithm of RFC 9162 2.1.3.2.

    Returns False, without raising, for an index outside [0, size), a proof of the wrong
    length, any hash that is not 32 bytes, or hashes that do not lead to ``root``.
    """
    leaf_h, root_h, path = as_hash(leaf), as_hash(root), _hash_list(proof)
    if leaf_h is None or root_h is None or path is None:
        return False
    if not (is_size(index) and is_size(size)):
        return False
    # 1. If leaf_index >= tree_size, fail. (A negative index is outside the RFC's uint64.)
    if index < 0 or index >= size:
        return False
    # 2. Set fn to leaf_index and sn to tree_size - 1.
    fn, sn = index, size - 1
    # 3. Set r to hash.
    r = leaf_h
    # 4. For each value p in the inclusion_path array:
    for p in path:
        # a. If sn is 0, stop the iteration and fail.
        if sn == 0:
            return False
        # b. If LSB(fn) is set, or if fn is equal to sn, then:
        if fn & 1 or fn == sn:
            # i. Set r to HASH(0x01 || p || r).
            r = node_hash(p, r)
            # ii. If LSB(fn) is not set, right-shift fn and sn equally until either
            # LSB(fn) is set or fn is 0.
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            # Otherwise: i. Set r to HASH(0x01 || r || p).
            r = node_hash(r, p)
        # c. Finally, right-shift both fn and sn one time.
        fn >>= 1
        sn >>= 1
    # 5. Succeed if sn is 0 and r equals root_hash.
    return sn == 0 and r == root_h


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether ``proof`` shows that the tree of ``old_size`` leaves with root ``old_root``
    is a prefix of the tree of ``new_size`` leaves with root ``new_root``: the algorithm
    of RFC 9162 2.1.4.2 for 0 < old_size < new_size.

    Outside that range: old_size == new_size holds only with an empty proof and equal
    roots; old_size == 0 always fails (the RFC requires 0 < first, and an empty tree has
    no proof), as does old_size > new_size. Returns False, without raising, for any
    malformed input: a proof of the wrong length, a hash that is not 32 bytes, or hashes
    that do not lead to both roots.
    """
    first_hash, second_hash, path = as_hash(old_root), as_hash(new_root), _hash_list(proof)
    if first_hash is None or second_hash is None or path is None:
        return False
    if not (is_size(old_size) and is_size(new_size)):
        return False
    first, second = old_size, new_size
    if first <= 0 or second < first:
        return False
    if first == second:
        return not path and first_hash == second_hash
    # 1. If consistency_path is an empty array, stop and fail.
    if not path:
        return False
    # 2. If first is an exact power of 2, prepend first_hash to consistency_path.
    if first & (first - 1) == 0:
        path.insert(0, first_hash)
    # 3. Set fn to first - 1 and sn to second - 1.
    fn, sn = first - 1, second - 1
    # 4. If LSB(fn) is set, right-shift fn and sn equally until LSB(fn) is not set.
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # 5. Set both fr and sr to the first value in consistency_path.
    fr = sr = path[0]
    # 6. For each subsequent value c in consistency_path:
    for c in path[1:]:
        # a. If sn is 0, stop the iteration and fail.
        if sn == 0:
            return False
        # b. If LSB(fn) is set, or if fn is equal to sn, then:
        if fn & 1 or fn == sn:
            # i. Set fr to HASH(0x01 || c || fr) and sr to HASH(0x01 || c || sr).
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            # ii. If LSB(fn) is not set, right-shift fn and sn equally until either
            # LSB(fn) is set or fn is 0.
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            # Otherwise: i. Set sr to HASH(0x01 || sr || c).
            sr = node_hash(sr, c)
        # c. Finally, right-shift both fn and sn one time.
        fn >>= 1
        sn >>= 1
    # 7. Succeed if fr equals first_hash, sr equals second_hash and sn is 0.
    return fr == first_hash and sr == second_hash and sn == 0
