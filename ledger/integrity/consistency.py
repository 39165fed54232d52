"""Consistency between two checkpoints: a later log extends an earlier one, unchanged.

``prove_consistency`` builds, from the ledger's tree, the proof that the log of a new
checkpoint starts with the log of an old one; ``check_consistency`` checks it with no
ledger at all. The document (``Consistency.to_json``, docs/integrity.md) carries both
checkpoints' texts, and:

* ``consistency_proof``: RFC 9162 PROOF(m, D_n) from the old root to the new one (absent
  when the old checkpoint is a version 1 one, without a root, or covers nothing);
* ``old_head_proof`` and ``new_head_proof``: each checkpoint's chain hash is the leaf of
  its last link, so PATH(m - 1, D_n) and PATH(n - 1, D_n) tie both chain hashes to the
  new root (the only proof a version 1 checkpoint allows: the chain hash at m covers every
  event up to m).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ledger.integrity.checkpoint import CheckpointStatement
from ledger.integrity.errors import ConsistencyRefused

if TYPE_CHECKING:
    from ledger.backends import Cursor, EventStore
    from ledger.integrity.tree import StoredTree

FORMAT = "dledger_consistency"


@dataclass(frozen=True)
class Consistency:
    old: CheckpointStatement
    new: CheckpointStatement
    consistency_proof: tuple[bytes, ...] | None
    old_head_proof: tuple[bytes, ...] | None
    new_head_proof: tuple[bytes, ...] | None

    def to_json(self) -> dict[str, Any]:
        def hexes(proof: tuple[bytes, ...] | None) -> list[str] | None:
            return None if proof is None else [h.hex() for h in proof]

        return {
            FORMAT: 1,
            "old": self.old.text(),
            "new": self.new.text(),
            "consistency_proof": hexes(self.consistency_proof),
            "old_head_proof": hexes(self.old_head_proof),
            "new_head_proof": hexes(self.new_head_proof),
        }


def prove_consistency(
    tree: StoredTree,
    cur: Cursor,
    store: EventStore,
    old: CheckpointStatement,
    new: CheckpointStatement,
) -> Consistency:
    """The proof that ``new`` (the log's head now) extends ``old``; refused, naming what
    differs, when the log no longer holds ``old``'s history."""
    m, n = old.checkpoint.position, new.checkpoint.position
    if m > n:
        raise ConsistencyRefused(
            f"the old checkpoint is at position {m}, beyond the log's head at {n}: the log "
            "was truncated after it was taken"
        )
    if m:
        cur.execute(store.sql(f"SELECT hash FROM {store.chain_table} WHERE position = ?"), (m,))
        row = cur.fetchone()
        found = bytes(row[0]).hex() if row else None
        if found != old.checkpoint.head_hash:
            raise ConsistencyRefused(
                f"the history before the old checkpoint was rewritten: the chain hash at "
                f"position {m} is {found or 'missing'}, the old checkpoint says "
                f"{old.checkpoint.head_hash}"
            )
    if old.root is not None and m:
        root = tree.root(m).hex()
        if root != old.root:
            raise ConsistencyRefused(
                f"the history before the old checkpoint was rewritten: the Merkle root of "
                f"the first {m} links is {root}, the old checkpoint says {old.root}"
            )
    heads = tree.inclusion_proofs(n, [i for i in (m - 1, n - 1) if i >= 0]) if n else {}
    proof = None
    if old.root is not None and m:
        proof = tuple(tree.consistency_proof(m, n))
    return Consistency(
        old,
        new,
        proof,
        tuple(heads[m - 1]) if m else None,
        tuple(heads[n - 1]) if n else None,
    )
