"""Feeding the figure table from the event log, exactly once.

Each page of notifications is applied in one transaction together with the new tracking
position, and the position moves only if it still holds the value this process read
(a conditional UPDATE): two processes catching up at once cannot both apply a page.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, func, insert, select, update

from ledger.application import Ledger
from ledger.locations import LocationIndex
from ledger.records import FigureRecord
from ledger.snapshots import NamedSnapshot
from projections.schema import (
    VIEW_FIGURES,
    metadata,
    positions,
    snapshots,
    to_micros,
    versions,
)

PAGE_SIZE = 2_000


class ProjectionRace(Exception):
    """Another process moved the tracking position first; the page was rolled back."""


@dataclass(frozen=True)
class CatchUp:
    applied: int
    position: int


def engine_of(ledger: Ledger) -> Engine:
    engine = ledger.recorder.datastore.engine  # type: ignore[attr-defined]
    if not isinstance(engine, Engine):  # pragma: no cover - open_ledger always sets one
        raise TypeError("the ledger has no SQLAlchemy engine")
    return engine


def ensure_tables(engine: Engine) -> None:
    metadata.create_all(engine, checkfirst=True)


def read_position(conn: Connection, view: str = VIEW_FIGURES) -> int:
    value = conn.execute(select(positions.c.position).where(positions.c.view == view)).scalar()
    return int(value) if value is not None else 0


def log_head(ledger: Ledger) -> int:
    return ledger.recorder.max_notification_id() or 0


class FigureProjection:
    """The bitemporal figure table and how it follows the log."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.engine = engine_of(ledger)
        ensure_tables(self.engine)
        self._index: LocationIndex | None = None

    def position(self) -> int:
        with self.engine.connect() as conn:
            return read_position(conn)

    def catch_up(self, progress: Callable[[int], None] | None = None) -> CatchUp:
        """Apply every notification after the tracking position; returns what was done."""
        applied = 0
        while True:
            start = self.position()
            page = self.ledger.recorder.select_notifications(
                start + 1, PAGE_SIZE, inclusive_of_start=True
            )
            if not page:
                return CatchUp(applied, start)
            events = [(n.id, self.ledger.mapper.to_domain_event(n)) for n in page]
            try:
                with self.engine.begin() as conn:
                    self._apply(conn, events)
                    self._advance(conn, start, page[-1].id)
            except ProjectionRace:
                continue
            applied += len(page)
            if progress is not None:
                progress(len(page))

    def rebuild(self, progress: Callable[[int], None] | None = None) -> CatchUp:
        """Drop every read model and replay the whole log.

        Each page commits with its tracking position, so an interrupted rebuild leaves a
        model that is exactly a prefix of the log: the next read (or rebuild) continues
        from there; nothing half-applied is ever visible.
        """
        metadata.drop_all(self.engine, checkfirst=True)
        ensure_tables(self.engine)
        return self.catch_up(progress)

    def checksum(self) -> str:
        """SHA-256 over every row of the figure table in key order (backend-neutral)."""
        digest = hashlib.sha256()
        columns = list(versions.columns)
        with self.engine.connect() as conn:
            rows = conn.execute(select(*columns).order_by(versions.c.record_id, versions.c.version))
            for row in rows:
                digest.update(json.dumps([_plain(v) for v in row], ensure_ascii=False).encode())
                digest.update(b"\n")
        return digest.hexdigest()

    def _advance(self, conn: Connection, old: int, new: int) -> None:
        if (
            old == 0
            and conn.execute(
                select(func.count()).select_from(positions).where(positions.c.view == VIEW_FIGURES)
            ).scalar()
            == 0
        ):
            conn.execute(insert(positions).values(view=VIEW_FIGURES, position=new))
            return
        moved = conn.execute(
            update(positions)
            .where(and_(positions.c.view == VIEW_FIGURES, positions.c.position == old))
            .values(position=new)
        )
        if moved.rowcount != 1:
            raise ProjectionRace(f"tracking position moved from {old} by another process")

    def index(self, pcodes: Iterable[str] = ()) -> LocationIndex:
        if self._index is None or any(p not in self._index for p in pcodes):
            self.ledger._index = None
            self._index = self.ledger.locations()
        return self._index

    def _apply(self, conn: Connection, events: list[tuple[int, Any]]) -> None:
        taken = [e for _, e in events if isinstance(e, NamedSnapshot.Taken)]
        if taken:
            conn.execute(insert(snapshots), [_snapshot_row(e) for e in taken])
        positioned = [(n, e) for n, e in events if isinstance(e, FigureRecord.Event)]
        if not positioned:
            return
        figure_events = [e for _, e in positioned]
        index = self.index(
            [e.pcode for e in figure_events if isinstance(e, FigureRecord.Recorded)]
            + [
                e.changes["pcode"]
                for e in figure_events
                if isinstance(e, FigureRecord.Corrected) and "pcode" in e.changes
            ]
        )
        latest = self._current_rows(
            conn,
            {e.originator_id.hex for e in figure_events if e.originator_version > 1},
        )
        new_rows: list[dict[str, Any]] = []
        superseded: list[dict[str, Any]] = []
        for position, event in positioned:
            rid = event.originator_id.hex
            at = to_micros(event.timestamp)
            if isinstance(event, FigureRecord.Recorded):
                row = _recorded_row(event, at)
            else:
                previous = latest[rid]
                superseded.append({"rid": rid, "ver": previous["version"], "at": at})
                row = _amended_row(previous, event, at)
            row.update(_ancestry(index, row["pcode"]))
            row["position"] = position
            latest[rid] = row
            new_rows.append(row)
        conn.execute(insert(versions), new_rows)
        if superseded:
            conn.execute(
                update(versions)
                .where(
                    and_(
                        versions.c.record_id == bindparam("rid"),
                        versions.c.version == bindparam("ver"),
                    )
                )
                .values(superseded_at=bindparam("at")),
                superseded,
            )

    @staticmethod
    def _current_rows(conn: Connection, record_ids: set[str]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        ids = sorted(record_ids)
        for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
            query = select(versions).where(
                and_(versions.c.record_id.in_(chunk), versions.c.superseded_at.is_(None))
            )
            for row in conn.execute(query).mappings():
                out[row["record_id"]] = dict(row)
        return out


def _snapshot_row(event: Any) -> dict[str, Any]:
    from datetime import date

    return {
        "name": event.name,
        "as_of": date.fromisoformat(event.as_of),
        "known_at": event.known_at,
        "position": event.position,
        "location": event.location,
        "by_level": event.by,
        "actor": event.actor,
        "created_at": to_micros(event.timestamp),
    }


def _plain(value: Any) -> Any:
    if isinstance(value, bool | int | str) or value is None:
        return value
    return str(value)


def _ancestry(index: LocationIndex, pcode: str) -> dict[str, str | None]:
    chain = [pcode, *index.ancestors(pcode)]
    by_level = {index.get(p).level: p for p in chain}
    return {"country": chain[-1], "adm1": by_level.get(1), "adm2": by_level.get(2)}


def _recorded_row(event: Any, at: int) -> dict[str, Any]:
    from datetime import date

    return {
        "record_id": event.originator_id.hex,
        "version": event.originator_version,
        "action": "recorded",
        "kind": event.kind,
        "pcode": event.pcode,
        "day": date.fromisoformat(event.date),
        "precision": event.precision,
        "individuals": event.individuals,
        "households": event.households,
        "retracted": False,
        "created_at": at,
        "recorded_at": at,
        "superseded_at": None,
        "actor": event.actor,
        "reason": None,
        "citation": None,
        "changes": "[]",
        "source": json.dumps(event.source, sort_keys=True, ensure_ascii=False),
        "origin": event.origin,
        "cause": event.cause,
        "note": event.note,
    }


def _amended_row(previous: dict[str, Any], event: Any, at: int) -> dict[str, Any]:
    from datetime import date

    row = dict(previous)
    row.update(
        version=event.originator_version,
        recorded_at=at,
        superseded_at=None,
        actor=event.actor,
        reason=event.reason,
        citation=event.citation,
    )
    if isinstance(event, FigureRecord.Retracted):
        row.update(action="retracted", retracted=True, changes="[]")
        return row
    changes = []
    for name, value in event.changes.items():
        if name == "date":
            changes.append({"field": "date", "old": previous["day"].isoformat(), "new": value})
            row["day"] = date.fromisoformat(value)
        elif name == "precision":
            changes.append({"field": "precision", "old": previous["precision"], "new": value})
            row["precision"] = value
        else:
            changes.append({"field": name, "old": previous[name], "new": value})
            row[name] = value
    row.update(action="corrected", changes=json.dumps(changes, ensure_ascii=False))
    return row
