"""Reads of single records and small tables: a record's history, the export, the
household sizes. Functions of the read service (``projections.service``), which calls them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from typing import TYPE_CHECKING, Any
from uuid import UUID

from ledger.dates import FigureDate, Precision
from ledger.errors import RecordNotFound, SnapshotNotFound
from ledger.ids import parse_record_id
from projections.records import (
    History,
    LocationHistory,
    Snapshot,
    SnapshotSummary,
    Version,
)
from projections.schema import (
    DETAILS,
    HOUSEHOLD_SIZES,
    LOCATION_CHANGES,
    REVIEWS,
    SNAPSHOTS,
    VERSIONS,
    from_micros,
)
from projections.shown import session_users_at

if TYPE_CHECKING:
    from projections.service import ReadService


def history(service: ReadService, record_id: str) -> History:
    from projections.records import History

    rid = parse_record_id(record_id)
    columns = [f"v.{c}" for c in VERSIONS.names] + [f"d.{c}" for c in DETAILS.names[1:]]
    names = [*VERSIONS.names, *DETAILS.names[1:]]
    with service._reading() as cur:
        rows = service._rows(
            cur,
            f"SELECT {', '.join(columns)} FROM {VERSIONS.name} AS v JOIN {DETAILS.name} AS d "
            "ON d.position = v.position WHERE v.record_id = ? ORDER BY v.version",
            (rid.hex,),
        )
        reviews: dict[int, list[dict[str, Any]]] = {}
        for version, status, comment, actor, at in service._rows(
            cur,
            f"SELECT version, status, comment, actor, at FROM {REVIEWS.name} "
            "WHERE record_id = ? ORDER BY position",
            (rid.hex,),
        ):
            reviews.setdefault(int(version), []).append(
                {"status": status, "comment": comment, "actor": actor,
                 "at": from_micros(at).isoformat()}
            )  # fmt: skip
        position = VERSIONS.names.index("position")
        users = session_users_at(service.projection.url, cur, [r[position] for r in rows])
    if not rows:
        raise RecordNotFound(rid)
    versions = []
    for row in rows:
        r = dict(zip(names, row, strict=True))
        versions.append(
            Version(
                record_id=str(rid), version=r["version"], action=r["action"],
                kind=r["kind"], pcode=r["pcode"],
                date=str(FigureDate(date.fromordinal(r["day"]), Precision(r["precision"]))),
                individuals=r["individuals"], households=r["households"],
                source=json.loads(r["source"]), origin=r["origin"], cause=r["cause"],
                note=r["note"], retracted=bool(r["retracted"]),
                recorded_at=from_micros(r["recorded_at"]), actor=r["actor"],
                reason=r["reason"], citation=r["citation"],
                changes=tuple(json.loads(r["changes"])),
                current_until=from_micros(r["superseded_at"]) if r["superseded_at"] else None,
                reviews=tuple(reviews.get(r["version"], ())), role=r["role"],
                quantifier=r["quantifier"], db_user=users.get(r["position"]),
                breakdowns=None if r["breakdowns"] is None else json.loads(r["breakdowns"]),
                conversion=None if r["conversion"] is None else json.loads(r["conversion"]),
            )
        )  # fmt: skip
    return History(str(rid), tuple(versions), service.index)


def export_rows(service: ReadService) -> Iterator[list[str]]:
    """Every current record (not retracted), in the order they were first recorded, as
    the export's cells (``projections.records.EXPORT_COLUMNS``)."""
    from projections.records import export_row

    columns_out = service.export_columns
    fields = ["record_id", "version", "kind", "pcode", "day", "precision",
              "individuals", "households", "origin", "cause", "breakdowns",
              "source", "note", "actor", "import_key"]  # fmt: skip
    columns = ", ".join(f"{'v' if c in VERSIONS.names else 'd'}.{c}" for c in fields)
    with service.models.streaming(service.conn) as cur:
        cur.execute(
            service.models.sql(
                f"SELECT {columns} FROM {VERSIONS.name} AS v JOIN {DETAILS.name} AS d "
                "ON d.position = v.position "
                "WHERE v.superseded_at IS NULL AND v.retracted = 0 "
                f"ORDER BY (SELECT w.position FROM {VERSIONS.name} AS w "
                "WHERE w.record_id = v.record_id AND w.version = 1)"
            )
        )
        while rows := cur.fetchmany(1000):
            for row in rows:
                r = dict(zip(fields, row, strict=True))
                day = FigureDate(date.fromordinal(r.pop("day")), Precision(r.pop("precision")))
                r["date"] = str(day)
                r["record_id"] = str(UUID(r["record_id"]))
                r["source"] = json.loads(r["source"])
                if r["breakdowns"] is not None:
                    r["breakdowns"] = json.loads(r["breakdowns"])
                yield export_row(r, service.index.get(r.pop("pcode")), service.index, columns_out)


def export_columns(service: ReadService) -> tuple[tuple[str, str], ...]:
    """The export's columns: ``projections.records``'s, and a column for each age band
    a record's breakdowns hold."""
    from ledger.breakdowns import band_bounds
    from projections.records import export_columns

    with service._reading() as cur:
        rows = service._rows(
            cur,
            f"SELECT DISTINCT e.key FROM {VERSIONS.name} AS v {service.models.parts_join('age')}",
        )
    return export_columns(sorted((r[0] for r in rows), key=band_bounds))


def household_sizes(service: ReadService, country: str | None = None) -> list[dict[str, Any]]:
    """Every household size set (for one country), in the order they were set."""
    where, params = "", tuple[str, ...]()
    if country is not None:
        where, params = " WHERE country = ?", (service.location(country).pcode,)
    with service._reading() as cur:
        rows = service._rows(
            cur,
            f"SELECT country, year, size, source, actor, at FROM {HOUSEHOLD_SIZES.name}"
            f"{where} ORDER BY country, year, position",
            params,
        )
    return [
        {"country": c, "year": int(y), "size": s, "source": src, "actor": a,
         "set_at": from_micros(at).isoformat()}
        for c, y, s, src, a, at in rows
    ]  # fmt: skip


def converted_records(service: ReadService, country: str) -> list[str]:
    """The current households-only records of a country (what a new size converts)."""
    pcode = service.location(country).pcode
    with service._reading() as cur:
        rows = service._rows(
            cur,
            f"SELECT v.record_id FROM {VERSIONS.name} AS v JOIN {DETAILS.name} AS d "
            "ON d.position = v.position WHERE v.country = ? AND v.superseded_at IS NULL "
            "AND v.retracted = 0 AND d.conversion IS NOT NULL ORDER BY v.position",
            (pcode,),
        )
    return [str(UUID(r[0])) for r in rows]


def location_history(service: ReadService, query: str) -> LocationHistory:
    """What was done to a location, event by event."""
    from projections.records import LocationChange, LocationHistory

    place = service.location(query)
    with service._reading() as cur:
        rows = service._rows(
            cur,
            f"SELECT {', '.join(LOCATION_CHANGES.names)} FROM {LOCATION_CHANGES.name} "
            "WHERE pcode = ? ORDER BY position",
            (place.pcode,),
        )
    return LocationHistory(
        place,
        tuple(
            LocationChange(r[0], r[2], json.loads(r[3]), r[4], r[5], r[6], from_micros(r[7]))
            for r in rows
        ),
    )


def snapshots(service: ReadService) -> list[SnapshotSummary]:
    with service._reading() as cur:
        rows = service._rows(
            cur, f"SELECT {', '.join(SNAPSHOTS.names[:-2])} FROM {SNAPSHOTS.name} "
            "ORDER BY created_at"
        )  # fmt: skip
    return [_summary(row) for row in rows]


def snapshot(service: ReadService, name: str) -> Snapshot:
    from projections.records import Snapshot

    with service._reading() as cur:
        rows = service._rows(
            cur,
            f"SELECT {', '.join(SNAPSHOTS.names)} FROM {SNAPSHOTS.name} WHERE name = ?",
            (name,),
        )
    if not rows:
        raise SnapshotNotFound(name)
    kept = Snapshot(_summary(rows[0][:-2]), json.loads(rows[0][-2]))
    if rows[0][-1] is None:
        return kept
    from projections.signoff import since_sign_off

    return since_sign_off(service, kept, json.loads(rows[0][-1]))


def _summary(row: Any) -> SnapshotSummary:
    from projections.records import SnapshotSummary

    name, as_of, known_at, position, location, by, actor, created_at = row
    return SnapshotSummary(
        name, as_of, known_at, int(position), location, by, actor, from_micros(created_at)
    )
