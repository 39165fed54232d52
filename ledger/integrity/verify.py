"""Recomputing the chain: streaming, page by page, and naming the first thing that is wrong.

Nothing stored is trusted: each event's digest and each chain hash are recomputed from the
event rows and compared with the links; the stored columns only say what to expect.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, LargeBinary, Table, func, select, type_coerce

from ledger.integrity.checkpoint import Checkpoint
from ledger.integrity.encoding import GENESIS, event_digest, link_hash, originator_hex

PAGE_SIZE = 10_000


@dataclass(frozen=True)
class Problem:
    """The first place where the log and its chain disagree."""

    kind: str  # modified | deleted | inserted | reordered | truncated | link altered | ...
    position: int
    message: str


@dataclass(frozen=True)
class Verification:
    """What ``verify`` found: how far it checked, the recomputed head, and any problem."""

    events_checked: int
    head: Checkpoint
    problem: Problem | None = None
    checkpoint_checked: Checkpoint | None = None

    @property
    def intact(self) -> bool:
        return self.problem is None


@dataclass(frozen=True)
class _Link:
    position: int
    notification_id: int
    originator_id: str
    version: int
    digest: bytes
    hash: bytes
    event: tuple[Any, int, str, bytes] | None  # originator id, version, topic, state


def _record(link: _Link) -> str:
    return f"record {link.originator_id} version {link.version}"


class ChainWalk:
    """One pass over the chain of a ledger's tables, on one connection."""

    def __init__(self, connection: Connection, events: Table, chain: Table) -> None:
        self.connection = connection
        self.events = events
        self.chain = chain
        # SQLite keeps ids as 16 raw bytes: read them as bytes, not as UUID objects (faster)
        self.originator_id: Any = (
            type_coerce(events.c.originator_id, LargeBinary())
            if connection.dialect.name == "sqlite"
            else events.c.originator_id
        )

    def run(self, checkpoint: Checkpoint | None = None) -> Verification:
        c, e = self.chain.c, self.events.c
        last = self.connection.execute(
            select(c.position).order_by(c.position.desc()).limit(1)
        ).first()
        head_position = int(last[0]) if last else 0
        max_event_id = self.connection.execute(select(func.max(e.id))).scalar() or 0
        first_unlinked = self._first_unlinked()

        previous, expected, last_nid, checked = GENESIS, 1, 0, 0
        problem: Problem | None = None
        for link in self._links(head_position):
            problem = self._check(link, previous, expected, last_nid, first_unlinked, max_event_id)
            if problem is not None:
                break
            previous = link_hash(previous, link.position, link.notification_id, link.digest)
            if checkpoint is not None and link.position == checkpoint.position:
                problem = _compare(checkpoint, previous)
                if problem is not None:
                    break
            expected, last_nid, checked = expected + 1, link.notification_id, checked + 1
        if problem is None:
            problem = self._after_head(first_unlinked, head_position, checkpoint, previous)
        head = Checkpoint(position=checked, head_hash=previous.hex())
        return Verification(checked, head, problem, checkpoint if problem is None else None)

    def _check(
        self,
        link: _Link,
        previous: bytes,
        expected: int,
        last_nid: int,
        first_unlinked: tuple[int, str, int] | None,
        max_event_id: int,
    ) -> Problem | None:
        pos = link.position
        if first_unlinked is not None and first_unlinked[0] < link.notification_id:
            return _inserted(first_unlinked, pos)
        if pos != expected:
            return Problem(
                "deleted",
                expected,
                f"positions {expected}–{pos - 1} are missing from the chain: events before "
                f"event {link.notification_id} were deleted together with their links",
            )
        if link.notification_id <= last_nid:
            return Problem(
                "link altered",
                pos,
                f"the chain link at position {pos} was altered: its event id "
                f"{link.notification_id} does not follow {last_nid}",
            )
        if link.event is None:
            if link.notification_id > max_event_id:
                return Problem(
                    "truncated",
                    pos,
                    f"the log was truncated: event {link.notification_id} at position {pos} "
                    f"({_record(link)}) and every later event are missing",
                )
            return Problem(
                "deleted",
                pos,
                f"event {link.notification_id} at position {pos} ({_record(link)}) was deleted",
            )
        oid, version, topic, state = link.event
        digest = event_digest(originator_hex(oid), version, topic, bytes(state))
        recomputed = link_hash(previous, pos, link.notification_id, digest)
        if digest == link.digest:
            if recomputed == link.hash:
                return None
            return Problem(
                "link altered",
                pos,
                f"the chain hash at position {pos} ({_record(link)}) was altered",
            )
        if recomputed == link.hash:
            return Problem(
                "link altered",
                pos,
                f"the event digest at position {pos} ({_record(link)}) was altered",
            )
        moved_from = self._position_of(digest)
        if moved_from is not None and moved_from != pos:
            return Problem(
                "reordered",
                pos,
                f"event {link.notification_id} at position {pos} ({_record(link)}) now holds "
                f"the event recorded at position {moved_from}: events were reordered",
            )
        return Problem(
            "modified",
            pos,
            f"event {link.notification_id} at position {pos} ({_record(link)}) was modified",
        )

    def _after_head(
        self,
        first_unlinked: tuple[int, str, int] | None,
        head_position: int,
        checkpoint: Checkpoint | None,
        previous: bytes,
    ) -> Problem | None:
        if first_unlinked is not None:
            return _inserted(first_unlinked, head_position + 1)
        if checkpoint is None:
            return None
        if checkpoint.position == 0:
            return _compare(checkpoint, GENESIS)
        if checkpoint.position > head_position:
            return Problem(
                "truncated",
                head_position,
                f"the log was truncated: its head is position {head_position}, behind the "
                f"checkpoint's position {checkpoint.position}",
            )
        return None  # pragma: no cover - the walk compared at the checkpoint's position

    def _links(self, head_position: int) -> Iterator[_Link]:
        c, e = self.chain.c, self.events.c
        after = 0
        while True:
            query = (
                select(
                    c.position,
                    c.notification_id,
                    c.originator_id,
                    c.originator_version,
                    c.digest,
                    c.hash,
                    e.id,
                    self.originator_id,
                    e.originator_version,
                    e.topic,
                    e.state,
                )
                .select_from(self.chain.outerjoin(self.events, e.id == c.notification_id))
                .where(c.position > after, c.position <= head_position)
                .order_by(c.position)
                .limit(PAGE_SIZE)
            )
            rows = self.connection.execute(query).all()
            for row in rows:
                yield _Link(
                    row[0],
                    row[1],
                    row[2],
                    row[3],
                    bytes(row[4]),
                    bytes(row[5]),
                    None if row[6] is None else (row[7], row[8], row[9], row[10]),
                )
            if len(rows) < PAGE_SIZE:
                return
            after = rows[-1][0]

    def _first_unlinked(self) -> tuple[int, str, int] | None:
        """The first event with no link (events and links commit together, so none is
        legitimately unlinked in what one statement sees)."""
        c, e = self.chain.c, self.events.c
        row = self.connection.execute(
            select(e.id, self.originator_id, e.originator_version)
            .select_from(self.events.outerjoin(self.chain, c.notification_id == e.id))
            .where(c.notification_id.is_(None))
            .order_by(e.id)
            .limit(1)
        ).first()
        if row is None:
            return None
        return int(row[0]), originator_hex(row[1]), int(row[2])

    def _position_of(self, digest: bytes) -> int | None:
        c = self.chain.c
        found = self.connection.execute(
            select(c.position).where(c.digest == digest).limit(1)
        ).scalar()
        return None if found is None else int(found)


def _inserted(event: tuple[int, str, int], position: int) -> Problem:
    nid, oid, version = event
    return Problem(
        "inserted",
        position,
        f"event {nid} (record {oid} version {version}) is not in the chain: it was inserted "
        f"outside the ledger (or its link removed) before position {position}",
    )


def _compare(checkpoint: Checkpoint, recomputed: bytes) -> Problem | None:
    if recomputed.hex() == checkpoint.head_hash:
        return None
    return Problem(
        "checkpoint mismatch",
        checkpoint.position,
        f"the history up to the checkpoint was rewritten: the hash at position "
        f"{checkpoint.position} is {recomputed.hex()}, the checkpoint says {checkpoint.head_hash}",
    )
