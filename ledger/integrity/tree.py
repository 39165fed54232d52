"""The ledger's Merkle tree (RFC 9162) over its hash chain, kept in the database.

Leaf *i* (from 0) is the chain link at position *i* + 1: its leaf hash is
SHA-256(0x00 || the link's 32-byte chain hash), and the chain hash covers the event's
bytes and, through the previous hash, everything before it. So a root over the first *n*
links commits to the first *n* events, and an inclusion proof of one link shows one event.

The table ``dledger_tree(position, height, hash)`` holds every perfect subtree of
2**height leaves with height >= ``LOW``, keyed by the chain position of its last leaf:
the node (p, h) covers positions p - 2**h + 1 … p. Smaller subtrees (at most 15 leaves)
are computed from the chain's own hashes when needed. An append inserts, in the append's
transaction and under its lock, the nodes the new links complete: about one row per
2**(LOW - 1) events, O(log n) work per event, and the rows go in in key order. A root at
any size, and any inclusion or consistency proof, then needs O(log n) stored nodes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ledger.integrity.errors import TreeIncomplete
from ledger.integrity.merkle import (
    EMPTY_ROOT,
    Subtree,
    consistency_proof_from,
    inclusion_proof_from,
    node_hash,
)
from ledger.integrity.ranges import Completed, carry, perfect_subtrees, subtree_hash

if TYPE_CHECKING:
    from ledger.backends import ChainHead, Cursor, EventStore, Link

LOW = 4  # the lowest height stored: subtrees of fewer than 16 leaves come from the chain
BLOCK = 1 << LOW
IN_LIST = 500  # values bound per IN (…) list
PAGE = 20_000  # chain links or nodes read at a time
_PLACEHOLDER = bytes(32)

Range = tuple[int, int]  # leaves [start, end), counting from 0


def leaf_of(chain_hash: bytes) -> bytes:
    """The leaf hash of the link whose chain hash is ``chain_hash``."""
    return hashlib.sha256(b"\x00" + chain_hash).digest()


def _height(width: int) -> int:
    return width.bit_length() - 1


class StoredTree:
    """The tree as stored, read through one cursor: roots and proofs at any size up to
    the chain's head, each asking the database for the nodes it needs in a few batches."""

    def __init__(self, store: EventStore, cur: Cursor) -> None:
        self.store = store
        self.cur = cur

    def perfect(self, ranges: Iterable[Range]) -> dict[Range, bytes]:
        """MTH of each aligned power-of-two range: stored nodes for 16 leaves or more, the
        chain's hashes below that."""
        wanted = set(ranges)
        stored = {(end, _height(end - start)) for start, end in wanted if end - start >= BLOCK}
        small = [r for r in wanted if r[1] - r[0] < BLOCK]
        nodes = self._nodes(stored)
        chain = self._chain_hashes({p for s, e in small for p in range(s + 1, e + 1)})
        found: dict[Range, bytes] = {}
        for start, end in wanted:
            if end - start >= BLOCK:
                key = (end, _height(end - start))
                if key not in nodes:
                    raise TreeIncomplete(
                        f"the Merkle tree has no node for positions {start + 1}–{end}: the "
                        "ledger was not upgraded yet; run `dledger init` to add the tree"
                    )
                found[(start, end)] = nodes[key]
            else:
                found[(start, end)] = _fold(start, end, chain)
        return found

    def subtrees(self, plan: Callable[[Subtree], Any]) -> Any:
        """Run ``plan(subtree)`` twice: once to learn which aligned ranges its subtree
        calls fold, then with their hashes fetched in one batch."""
        wanted: set[Range] = set()

        def record(start: int, end: int) -> bytes:
            wanted.add((start, end))
            return _PLACEHOLDER

        plan(lambda s, e: subtree_hash(s, e, record))
        hashes = self.perfect(wanted)
        return plan(lambda s, e: subtree_hash(s, e, lambda a, b: hashes[(a, b)]))

    def frontier(self, size: int) -> list[bytes]:
        """The hashes of ``perfect_subtrees(0, size)``, largest first."""
        ranges = perfect_subtrees(0, size)
        hashes = self.perfect(ranges)
        return [hashes[r] for r in ranges]

    def root(self, size: int) -> bytes:
        """MTH of the first ``size`` links."""
        return fold_frontier(self.frontier(size))

    def inclusion_proofs(self, size: int, indices: Iterable[int]) -> dict[int, list[bytes]]:
        """PATH(index, D_size) for each leaf index (position - 1)."""
        chosen = sorted(set(indices))
        found: list[tuple[int, list[bytes]]] = self.subtrees(
            lambda sub: [(i, inclusion_proof_from(i, size, sub)) for i in chosen]
        )
        return dict(found)

    def consistency_proof(self, old_size: int, size: int) -> list[bytes]:
        """PROOF(old_size, D_size)."""
        return self.subtrees(  # type: ignore[no-any-return]
            lambda sub: consistency_proof_from(old_size, size, sub)
        )

    def _nodes(self, keys: set[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        out: dict[tuple[int, int], bytes] = {}
        positions = sorted({p for p, _ in keys})
        for chunk in _chunks(positions):
            marks = ", ".join("?" for _ in chunk)
            self.cur.execute(
                self.store.sql(
                    f"SELECT position, height, hash FROM {self.store.tree_table} "
                    f"WHERE position IN ({marks})"
                ),
                chunk,
            )
            for position, height, value in self.cur.fetchall():
                if (int(position), int(height)) in keys:
                    out[(int(position), int(height))] = bytes(value)
        return out

    def _chain_hashes(self, positions: set[int]) -> dict[int, bytes]:
        out: dict[int, bytes] = {}
        for chunk in _chunks(sorted(positions)):
            marks = ", ".join("?" for _ in chunk)
            self.cur.execute(
                self.store.sql(
                    f"SELECT position, hash FROM {self.store.chain_table} "
                    f"WHERE position IN ({marks})"
                ),
                chunk,
            )
            out.update((int(p), bytes(h)) for p, h in self.cur.fetchall())
        missing = positions - out.keys()
        if missing:
            raise TreeIncomplete(f"the chain has no link at position {min(missing)}")
        return out


def _chunks(values: Sequence[int]) -> Iterator[list[int]]:
    for i in range(0, len(values), IN_LIST):
        yield list(values[i : i + IN_LIST])


def _fold(start: int, end: int, chain: dict[int, bytes]) -> bytes:
    """MTH of an aligned power-of-two range of leaves from their chain hashes."""
    level = [leaf_of(chain[p]) for p in range(start + 1, end + 1)]
    while len(level) > 1:
        level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


def fold_frontier(hashes: Sequence[bytes]) -> bytes:
    """The root from a frontier (largest subtree first); EMPTY_ROOT for none."""
    if not hashes:
        return EMPTY_ROOT
    h = hashes[-1]
    for left in reversed(hashes[:-1]):
        h = node_hash(left, h)
    return h


class TreeAppender:
    """Keeps the tree as links are appended: the frontier of the last append is kept, keyed
    by the chain head it was computed at (a chain hash determines every link before it),
    so a writer appending batch after batch reads no node back."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self._last: tuple[int, bytes, tuple[bytes, ...]] | None = None

    def append(self, cur: Cursor, head: ChainHead, links: Sequence[Link]) -> None:
        """Insert the nodes that ``links`` (appended after ``head``) complete."""
        last = self._last
        if last is not None and last[0] == head.position and last[1] == head.hash:
            hashes = list(last[2])
        else:
            hashes = StoredTree(self.store, cur).frontier(head.position)
        size, completed = extend(hashes, head.position, [link[4] for link in links])
        if completed:
            self.store.insert_nodes(cur, completed)
        self._last = (size, links[-1][4], tuple(hashes)) if links else last

    def fill(self, cur: Cursor) -> int:
        """Build the whole tree from the chain (a ledger written before the tree existed);
        the number of links it covers."""
        hashes: list[bytes] = []
        size = 0
        for rows in chain_pages(self.store, cur, PAGE):
            size, completed = extend(hashes, size, [h for _, h in rows])
            if completed:
                self.store.insert_nodes(cur, completed)
        self._last = None
        return size


def extend(
    hashes: list[bytes], size: int, chain_hashes: Sequence[bytes]
) -> tuple[int, list[Completed]]:
    """``ranges.carry`` of the links' leaf hashes, written out for the append path (a
    third of the time): the frontier ``hashes`` of a tree of ``size`` leaves extended in
    place; the new size and the completed nodes of height ``LOW`` or more."""
    sha = hashlib.sha256
    completed: list[Completed] = []
    keep, pop, push = completed.append, hashes.pop, hashes.append
    for chain_hash in chain_hashes:
        h = sha(b"\x00" + chain_hash).digest()
        bits = size
        size += 1
        height = 0
        while bits & 1:
            h = sha(b"\x01" + pop() + h).digest()
            bits >>= 1
            height += 1
            if height >= LOW:
                keep((size, height, h))
        push(h)
    return size, completed


def chain_pages(store: EventStore, cur: Cursor, page: int) -> Iterator[list[tuple[int, bytes]]]:
    """The chain's (position, hash) in position order, a page at a time (each page read in
    full before it is handed out, so the cursor is free for other statements)."""
    after = 0
    while True:
        cur.execute(
            store.sql(
                f"SELECT position, hash FROM {store.chain_table} WHERE position > ? "
                "ORDER BY position LIMIT ?"
            ),
            (after, page),
        )
        rows = [(int(p), bytes(h)) for p, h in cur.fetchall()]
        if not rows:
            return
        yield rows
        after = rows[-1][0]


@dataclass(frozen=True)
class TreeCheck:
    """What re-deriving the tree from the chain found: its size and root, the root at a
    size asked for, and the first stored node that disagrees (or is missing)."""

    size: int
    root: bytes
    root_at: bytes | None
    problem: str | None
    stored: bool  # whether the ledger keeps a tree at all


def check_tree(store: EventStore, cur: Cursor, at: int | None = None) -> TreeCheck:
    """Recompute the tree from the chain's hashes (verified already: positions 1…n) and
    compare every stored node with it, both in (position, height) order; with ``at``, also
    give the root at that size."""
    stored = store.has_table(cur, store.tree_table)
    nodes = _stored_nodes(store, cur) if stored else iter(())
    hashes: list[bytes] = []
    size = 0
    root_at = EMPTY_ROOT if at == 0 else None
    sha = hashlib.sha256
    for rows in chain_pages(store, cur, PAGE):
        leaves = [sha(b"\x00" + h).digest() for _, h in rows]
        cut = at - rows[0][0] + 1 if at is not None and rows[0][0] <= at <= rows[-1][0] else 0
        size, completed = carry(hashes, size, leaves[:cut], LOW)
        if cut:
            root_at = fold_frontier(hashes)
        size, more = carry(hashes, size, leaves[cut:], LOW)
        for node in completed + more:
            problem = _compare(node, next(nodes, None)) if stored else None
            if problem is not None:
                return TreeCheck(size, fold_frontier(hashes), root_at, problem, stored)
    extra = next(nodes, None) if stored else None
    problem = None
    if extra is not None:
        problem = (
            f"the Merkle tree holds a node (position {extra[0]}, height {extra[1]}) beyond "
            f"the chain's head at position {size}: the tree table was altered"
        )
    return TreeCheck(size, fold_frontier(hashes), root_at, problem, stored)


def _compare(expected: Completed, found: Completed | None) -> str | None:
    position, height, value = expected
    span = f"positions {position - (1 << height) + 1}–{position}"
    if found is None or found[:2] > (position, height):
        return (
            f"the Merkle tree lacks its node for {span} (height {height}): the tree table "
            "was altered, or the ledger was not upgraded (`dledger init`)"
        )
    if found[:2] < (position, height):
        return (
            f"the Merkle tree holds a node (position {found[0]}, height {found[1]}) that no "
            "subtree of the chain has: the tree table was altered"
        )
    if found[2] != value:
        return (
            f"the Merkle tree's node for {span} (height {height}) does not match the chain: "
            "the tree table was altered"
        )
    return None


def _stored_nodes(store: EventStore, cur: Cursor) -> Iterator[Completed]:
    """The stored nodes in key order, a page at a time (each page read whole, so the
    cursor is free for the chain's pages in between)."""
    after = (0, 0)
    while True:
        cur.execute(
            store.sql(
                f"SELECT position, height, hash FROM {store.tree_table} "
                "WHERE position > ? OR (position = ? AND height > ?) "
                "ORDER BY position, height LIMIT ?"
            ),
            (after[0], after[0], after[1], PAGE),
        )
        rows = [(int(p), int(h), bytes(v)) for p, h, v in cur.fetchall()]
        if not rows:
            return
        yield from rows
        after = (rows[-1][0], rows[-1][1])
