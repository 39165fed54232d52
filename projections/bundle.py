"""Audit bundles: a figure's derivation with the stored events behind it, each proved to be
in the log by its Merkle inclusion proof, and the checkpoint they are proved against.

``build_bundle`` explains a figure (``ReadService.explain``) and gathers, from the same
log position: every event of every record version the derivation rests on or mentions
(each record's versions 1 … the one shown, so corrections can be replayed), every event of
the gazetteer (the location hierarchy the figure rule walks), the chain hash before each
event, each event's inclusion proof and the head's, and a version 2 checkpoint at that
position whose ``bundle`` line is the digest of all the rest. ``dledger audit`` checks it
with nothing else (``ledger.integrity.audit``; the format is in
``ledger.integrity.bundle_format`` and docs/integrity.md).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from ledger.backends import Cursor, EventStore
from ledger.chain import statement_at
from ledger.integrity.bundle_format import FORMAT, content_digest, event_entry
from ledger.integrity.checkpoint import CheckpointStatement
from ledger.integrity.encoding import GENESIS, originator_hex
from ledger.integrity.evidence import StoredEvent
from ledger.integrity.tree import StoredTree
from projections.explain import Explanation
from projections.schema import LOCATION_CHANGES
from projections.service import ReadService
from projections.totals import Moment

IN_LIST = 500


@dataclass(frozen=True)
class Bundle:
    explanation: Explanation
    content: dict[str, Any]  # everything but the checkpoint
    checkpoint: CheckpointStatement  # its bundle line is the content's digest; unsigned

    @property
    def events(self) -> int:
        return len(self.content["events"])

    def to_json(self) -> dict[str, Any]:
        return {**self.content, "checkpoint": self.checkpoint.text()}


def build_bundle(
    reader: ReadService, when: Moment, location: str, now: datetime | None = None
) -> Bundle:
    """The bundle of ``location``'s figure as of ``when`` (the checkpoint left unsigned:
    ``ledger.integrity.checkpoint.sign`` its ``checkpoint``)."""
    explanation = reader.explain(when, location)
    store, position = reader.models, explanation.position
    shown: dict[str, int] = {}
    for version in explanation.derivation.versions():
        rid = UUID(version.record_id).hex
        shown[rid] = max(shown.get(rid, 0), version.version)
    with store.snapshot(reader.conn) as cur:
        statement = statement_at(store, cur, position, now)
        size = statement.checkpoint.position
        events = _record_events(store, cur, shown, position) + _gazetteer_events(
            store, cur, position
        )
        events.sort(key=lambda e: e.position)
        previous = _chain_hashes(store, cur, [e.position - 1 for e in events])
        proofs = StoredTree(store, cur).inclusion_proofs(
            size, [e.position - 1 for e in events] + [size - 1]
        )
    content = {
        FORMAT: 1,
        "explain": explanation.to_json(),
        "events": [
            event_entry(e, previous.get(e.position - 1, GENESIS), proofs[e.position - 1])
            for e in events
        ],
        "head_proof": [h.hex() for h in proofs[size - 1]],
    }
    return Bundle(explanation, content, replace(statement, bundle=content_digest(content)))


_EVENTS = (
    "SELECT e.id, e.originator_id, e.originator_version, e.topic, e.state, c.position "
    "FROM {events} AS e JOIN {chain} AS c ON c.notification_id = e.id "
    "WHERE e.originator_id = ? AND e.originator_version <= ? AND e.id <= ? "
    "ORDER BY e.originator_version"
)


def _events_of(
    store: EventStore, cur: Cursor, record_id: UUID, version: int, position: int
) -> list[StoredEvent]:
    cur.execute(
        store.sql(_EVENTS.format(events=store.events_table, chain=store.chain_table)),
        (store.originator_param(record_id), version, position),
    )
    out = []
    for nid, oid, number, topic, state, chain_position in cur.fetchall():
        try:
            text = bytes(state).decode("utf-8")
        except UnicodeDecodeError:
            from ledger.integrity.errors import ChainBroken

            raise ChainBroken(
                f"the event at log position {nid} is not UTF-8 JSON: the log was altered "
                "outside the ledger; run `dledger verify`"
            ) from None
        out.append(
            StoredEvent(
                int(chain_position), int(nid), originator_hex(oid), int(number), topic, text
            )
        )
    return out


def _record_events(
    store: EventStore, cur: Cursor, shown: dict[str, int], position: int
) -> list[StoredEvent]:
    events = []
    for rid, version in shown.items():
        events += _events_of(store, cur, UUID(hex=rid), version, position)
    return events


def _gazetteer_events(store: EventStore, cur: Cursor, position: int) -> list[StoredEvent]:
    """Every event of the gazetteer up to ``position``: found through one location change
    the read models name (its notification id), then by its aggregate's id."""
    cur.execute(
        store.sql(
            f"SELECT e.originator_id FROM {LOCATION_CHANGES.name} AS l JOIN "
            f"{store.events_table} AS e ON e.id = l.position WHERE l.position <= ? LIMIT 1"
        ),
        (position,),
    )
    row = cur.fetchone()
    if row is None:
        return []
    return _events_of(store, cur, store.originator(row[0]), 2**62, position)


def _chain_hashes(store: EventStore, cur: Cursor, positions: list[int]) -> dict[int, bytes]:
    wanted = sorted({p for p in positions if p > 0})
    found: dict[int, bytes] = {}
    for start in range(0, len(wanted), IN_LIST):
        chunk = wanted[start : start + IN_LIST]
        cur.execute(
            store.sql(
                f"SELECT position, hash FROM {store.chain_table} WHERE position IN "
                f"({', '.join('?' for _ in chunk)})"
            ),
            chunk,
        )
        found.update((int(p), bytes(h)) for p, h in cur.fetchall())
    return found
