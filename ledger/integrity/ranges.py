"""Aligned subtrees of an RFC 9162 Merkle tree, and the compact range of an append-only log.

A tree of n leaves is made of the perfect subtrees of ``perfect_subtrees(0, n)``: one per
set bit of n, largest first. Their hashes (the *frontier*, ``CompactRange``) are enough to
append a leaf in O(log n) and to compute the root; every node a proof needs is either one
such aligned power-of-two subtree or a fold of several (``subtree_hash``), which is what
lets the ledger keep its tree as a table of aligned nodes (``ledger.integrity.tree``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ledger.integrity.merkle import EMPTY_ROOT, HASH_SIZE, Subtree, as_hash, is_size, node_hash

# a perfect subtree completed by an append: (its last leaf's number, counting from 1, its
# height, its hash); it covers leaves [end - 2**height, end)
Completed = tuple[int, int, bytes]


def carry(
    hashes: list[bytes], size: int, leaves: Iterable[bytes], keep_from: int | None = None
) -> tuple[int, list[Completed]]:
    """Append leaf hashes to the frontier ``hashes`` of a tree of ``size`` leaves, in
    place, as a binary counter carries; the new size, and (with ``keep_from``) every
    perfect subtree of at least that height that the appends completed, in the order they
    were completed (by last leaf, then height)."""
    completed: list[Completed] = []
    for h in leaves:
        size += 1
        height = 0
        bits = size - 1
        while bits & 1:
            h = node_hash(hashes.pop(), h)
            bits >>= 1
            height += 1
            if keep_from is not None and height >= keep_from:
                completed.append((size, height, h))
        hashes.append(h)
    return size, completed


def perfect_subtrees(start: int, end: int) -> list[tuple[int, int]]:
    """Split [start, end) into maximal aligned power-of-two ranges, left to right.

    Each range is [s, s + 2**j) with s a multiple of 2**j, and no two neighbours could be
    merged into one such range. A range of n >= 2 leaves has at most 2 * floor(log2(n))
    of them. For start == 0 they are the frontier of a tree of ``end`` leaves
    (``CompactRange``).

    Folding their hashes from the right, h = node_hash(h_i, h), gives MTH(D[start:end])
    when ``start`` is a multiple of the largest power of two <= end - start: the ranges
    are then that power of two followed by the binary decomposition of the rest, largest
    first, which is how MTH splits. Every range that ``inclusion_proof_from`` and
    ``consistency_proof_from`` request meets this condition. Other ranges do not in
    general: [1, 4) splits as [1, 2), [2, 4), but MTH splits three leaves as 2 + 1.
    Raises ValueError unless 0 <= start <= end.
    """
    if not 0 <= start <= end:
        raise ValueError(f"not a range: [{start}, {end})")
    ranges: list[tuple[int, int]] = []
    while start < end:
        remaining = end - start
        width = start & -start if start else 1 << (remaining.bit_length() - 1)
        while width > remaining:
            width >>= 1
        ranges.append((start, start + width))
        start += width
    return ranges


def subtree_hash(start: int, end: int, perfect: Subtree) -> bytes:
    """MTH(D[start:end]) from the hashes of the ranges of ``perfect_subtrees(start, end)``.

    ``perfect(s, e)`` is only called for aligned power-of-two ranges, so it can be a
    look-up in a table of stored nodes; ``lambda s, e: subtree_hash(s, e, lookup)`` is
    then a ``subtree`` callback for the proof functions. Raises ValueError if the range
    is empty or ``start`` is not a multiple of the largest power of two <= end - start,
    because folding the ranges would then not give MTH.
    """
    if not 0 <= start < end:
        raise ValueError(f"not a non-empty range: [{start}, {end})")
    largest = 1 << ((end - start).bit_length() - 1)
    if start % largest:
        raise ValueError(
            f"[{start}, {end}): start is not a multiple of {largest}, so the aligned"
            " subtrees do not fold into MTH"
        )
    ranges = perfect_subtrees(start, end)
    h = perfect(*ranges[-1])
    for s, e in reversed(ranges[:-1]):
        h = node_hash(perfect(s, e), h)
    return h


@dataclass(frozen=True)
class CompactRange:
    """The frontier of a tree of ``size`` leaves: MTH of each range in
    ``perfect_subtrees(0, size)``, largest (leftmost) first.

    There is one hash per set bit of ``size``. Appending a leaf merges the equal-sized
    subtrees at the right end, as a binary counter carries, so it costs O(log n) hashes
    and never reads old leaves. Instances are immutable; ``append`` and ``extend``
    return new ones.
    """

    size: int = 0
    hashes: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        if not is_size(self.size) or self.size < 0:
            raise ValueError(f"size must be a non-negative int, not {self.size!r}")
        if len(self.hashes) != self.size.bit_count():
            raise ValueError(
                f"a tree of size {self.size} has {self.size.bit_count()} frontier hashes,"
                f" not {len(self.hashes)}"
            )
        if any(not isinstance(h, bytes) or len(h) != HASH_SIZE for h in self.hashes):
            raise ValueError(f"frontier hashes must be {HASH_SIZE}-byte bytes")

    def append(self, leaf: bytes) -> CompactRange:
        """The frontier after appending one leaf hash."""
        return self.extend((leaf,))

    def extend(self, leaves: Iterable[bytes]) -> CompactRange:
        """The frontier after appending each leaf hash of ``leaves`` in order."""
        checked = []
        for leaf in leaves:
            h = as_hash(leaf)
            if h is None:
                raise ValueError(f"a leaf hash must be {HASH_SIZE} bytes")
            checked.append(h)
        hashes = list(self.hashes)
        size, _ = carry(hashes, self.size, checked)
        return CompactRange(size, tuple(hashes))

    def root(self) -> bytes:
        """MTH of all leaves appended so far; EMPTY_ROOT for size 0."""
        if not self.hashes:
            return EMPTY_ROOT
        h = self.hashes[-1]
        for left in reversed(self.hashes[:-1]):
            h = node_hash(left, h)
        return h

    def to_bytes(self) -> bytes:
        """The frontier hashes concatenated, largest subtree first (32 bytes each)."""
        return b"".join(self.hashes)

    @classmethod
    def from_bytes(cls, size: int, data: bytes) -> CompactRange:
        """The frontier of a tree of ``size`` leaves from ``to_bytes`` output.

        Raises ValueError if ``data`` is not 32 bytes per set bit of ``size``.
        """
        if not is_size(size) or size < 0:
            raise ValueError(f"size must be a non-negative int, not {size!r}")
        data = bytes(data)
        expected = HASH_SIZE * size.bit_count()
        if len(data) != expected:
            raise ValueError(
                f"a tree of size {size} needs {expected} bytes of frontier, not {len(data)}"
            )
        return cls(size, tuple(data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)))
