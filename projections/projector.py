"""The projection itself: each event of the log becomes read-model rows (no dialect here).

Figure-record events become rows of the bitemporal figure table (a new version supersedes
the one before it at the moment it was recorded), gazetteer events rows of the locations
table (each location with its ancestors), snapshot events rows of the snapshots table.
The events' stored JSON is read here directly, without the event library's mapper: the
states are plain JSON (``ledger.bulk.check_plain_json`` refuses anything else), and
``tests/test_stored_format.py`` fails the day the library stores them differently.

``projections.catchup`` feeds pages of the log through ``Projector.apply`` in one
transaction each; a backend's set-based copy (``copy_recorded``) may take a page's new
records first, and then only the other events come here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from ledger.backends import EVENTS_TABLE, Cursor
from ledger.breakdowns import stored as stored_breakdowns
from ledger.errors import LedgerError
from ledger.fields import BY_NAME, FIGURE_FIELDS, MAX_COUNT
from projections.backends import ReadModels
from projections.schema import (
    DETAILS,
    HOUSEHOLD_SIZES,
    LOCATIONS,
    SNAPSHOTS,
    VERSIONS,
    to_micros,
)

# the topics of the events the read models follow, as the event library names them
# (module:qualified name of the class; tests/test_stored_format.py checks every one)
FIGURE_TOPICS = {
    "ledger.records:FigureRecord.Recorded": "recorded",
    "ledger.records:FigureRecord.Corrected": "corrected",
    "ledger.records:FigureRecord.Retracted": "retracted",
}
REGISTERED_TOPICS = {
    "ledger.gazetteer:Gazetteer.LocationsRegistered",
    "ledger.locations:Gazetteer.LocationsRegistered",  # where the class lived until layout 5
}
CORRECTED_TOPIC = "ledger.gazetteer:Gazetteer.LocationCorrected"
LOCATION_TOPICS = REGISTERED_TOPICS | {CORRECTED_TOPIC}
SNAPSHOT_TOPIC = "ledger.snapshots:NamedSnapshot.Taken"
SIGNED_OFF_TOPIC = "ledger.snapshots:NamedSnapshot.SignedOff"
REVIEW_TOPIC = "ledger.reviews:Review.Given"
SIZE_TOPIC = "ledger.households:HouseholdSizes.SizeSet"

# one stored event: (notification id, originator id as stored, version, topic, state)
Event = tuple[int, Any, int, str, bytes]


class UnreadableEvent(LedgerError):
    """A stored event the read models cannot decode: the log was altered outside the ledger."""

    def __init__(self, position: int, originator: UUID, version: int) -> None:
        super().__init__(
            f"the event at log position {position} (record {originator} version {version}) "
            "cannot be read: the log was altered outside the ledger; run `dledger verify`"
        )


@dataclass(frozen=True)
class Change:
    """One figure-record event as the projection needs it: decoded state, no object."""

    position: int
    record_id: str  # 32 hex digits
    version: int
    action: str  # recorded | corrected | retracted
    at: int  # the event's timestamp, µs since the epoch
    state: dict[str, Any]


def decode(state: bytes | memoryview) -> dict[str, Any]:
    decoded = json.loads(bytes(state))
    if not isinstance(decoded, dict):
        raise ValueError("a stored state is not a JSON object")
    return decoded


def event_time(state: dict[str, Any]) -> int:
    """The event's timestamp (µs), as the library's transcoder stores a datetime."""
    stamp = state.pop("timestamp")
    if "class_version" in state or stamp.get("_type_") != "datetime_iso":
        raise ValueError("an event in a form this version does not read")
    moment = datetime.fromisoformat(stamp["_data_"])
    if moment.tzinfo is None:
        raise ValueError("a timestamp without a time zone")
    return to_micros(moment)


def _count(value: Any, nullable: bool) -> int | None:
    if value is None and nullable:
        return None
    if type(value) is not int or not 0 <= value <= MAX_COUNT:
        raise ValueError(f"{value!r} is not a count")
    return value


def day_of(text: str) -> int:
    return date.fromisoformat(text).toordinal()


class Projector:
    """Applies events to the read models through one backend's cursor."""

    def __init__(self, models: ReadModels, cur: Cursor) -> None:
        self.models = models
        self.cur = cur
        self._ancestry: dict[str, tuple[str, str | None, str | None]] = {}

    def apply(self, events: Sequence[Event]) -> None:
        """Every event of ``events`` (in log order) that a read model follows."""
        self.apply_locations(events)
        self.apply_snapshots(events)
        self.apply_figures(events)
        self.apply_reviews(events)
        self.apply_sizes(events)

    # -- figures ---------------------------------------------------------------------------

    def apply_figures(self, events: Sequence[Event]) -> None:
        changes = [self._change(e) for e in events if e[3] in FIGURE_TOPICS]
        if not changes:
            return
        first_amendments: dict[str, int] = {}
        for c in changes:
            if c.version > 1:
                first_amendments.setdefault(c.record_id, c.version)
        latest = self._previous_rows(first_amendments)
        versions: list[tuple[Any, ...]] = []
        details: list[tuple[Any, ...]] = []
        superseded: list[tuple[int, int]] = []
        for change in changes:
            if change.action == "recorded":
                row = self._recorded_row(change)
            else:
                previous = latest.get(change.record_id)
                if previous is None:
                    raise UnreadableEvent(change.position, UUID(change.record_id), change.version)
                superseded.append((change.at, previous["position"]))
                row = self._amended_row(previous, change)
            latest[change.record_id] = row
            versions.append(tuple(row[c] for c in VERSIONS.names))
            details.append(tuple(row[c] for c in DETAILS.names))
        self.models.insert_rows(self.cur, VERSIONS.name, VERSIONS.names, versions)
        self.models.insert_rows(self.cur, DETAILS.name, DETAILS.names, details)
        if superseded:
            self.cur.executemany(
                self.models.sql(f"UPDATE {VERSIONS.name} SET superseded_at = ? WHERE position = ?"),
                superseded,
            )

    def _change(self, event: Event) -> Change:
        position, originator, version, topic, state = event
        uid = self.models.originator(originator)
        try:
            fields = decode(state)
            at = event_time(fields)
        except (ValueError, KeyError, TypeError, AttributeError):
            raise UnreadableEvent(position, uid, version) from None
        return Change(position, uid.hex, version, FIGURE_TOPICS[topic], at, fields)

    def _recorded_row(self, change: Change) -> dict[str, Any]:
        state = change.state
        try:
            row: dict[str, Any] = {
                "position": change.position, "record_id": change.record_id,
                "version": change.version, "action": "recorded", "retracted": 0,
                "created_at": change.at, "recorded_at": change.at, "superseded_at": None,
                "reason": None, "citation": None, "changes": "[]",
            }  # fmt: skip
            for f in FIGURE_FIELDS:
                # a nullable field may be absent (an event stored before it existed),
                # as the set-based copies read it too
                missing = f.nullable or f.default is not None
                value = state[f.name] if f.name in state or not missing else f.default
                row[f.column] = _column_value(f.name, value)
            row.update(self._ancestors_of(row["pcode"]))
        except (ValueError, KeyError, TypeError):
            raise UnreadableEvent(change.position, UUID(change.record_id), change.version) from None
        return row

    def _amended_row(self, previous: dict[str, Any], change: Change) -> dict[str, Any]:
        state = change.state
        row = dict(previous)
        row.update(
            position=change.position,
            version=change.version,
            recorded_at=change.at,
            superseded_at=None,
            actor=state["actor"],
            reason=state["reason"],
            citation=state["citation"],
        )
        if change.action == "retracted":
            row.update(action="retracted", retracted=1, changes="[]")
            return row
        changes = []
        try:
            for name, value in state["changes"].items():
                column = BY_NAME[name].column
                old = previous[column]
                new = _column_value(name, value)
                if name == "date":
                    old = date.fromordinal(old).isoformat()
                elif BY_NAME[name].kind == "json" and old is not None:
                    old = json.loads(old)
                changes.append({"field": name, "old": old, "new": value})
                row[column] = new
            if "pcode" in state["changes"]:
                row.update(self._ancestors_of(row["pcode"]))
        except (ValueError, KeyError, TypeError, AttributeError):
            raise UnreadableEvent(change.position, UUID(change.record_id), change.version) from None
        row.update(action="corrected", changes=json.dumps(changes, ensure_ascii=False))
        return row

    def _previous_rows(self, first_amendments: dict[str, int]) -> dict[str, dict[str, Any]]:
        """For each record (hex id → the version of its first amendment in the page), the
        row of the version before, found by its log position through the events table's
        own (originator id, version) index (so this works while a bulk load has the
        figure table's record index dropped)."""
        out: dict[str, dict[str, Any]] = {}
        wanted = sorted(first_amendments.items())
        names = [*VERSIONS.names, *(c for c in DETAILS.names if c != "position")]
        columns = ", ".join(
            [f"v.{c}" for c in VERSIONS.names] + [f"d.{c}" for c in DETAILS.names[1:]]
        )
        for chunk in (wanted[i : i + 300] for i in range(0, len(wanted), 300)):
            params: list[Any] = []
            for record_id, version in chunk:
                params += [self.models.originator_param(UUID(record_id)), version - 1]
            pairs = ", ".join("(?, ?)" for _ in chunk)
            self.cur.execute(
                self.models.sql(
                    f"SELECT {columns} FROM (VALUES {pairs}) AS wanted "
                    f"JOIN {EVENTS_TABLE} AS e ON e.originator_id = wanted.column1 "
                    "AND e.originator_version = wanted.column2 "
                    f"JOIN {VERSIONS.name} AS v ON v.position = e.id "
                    f"JOIN {DETAILS.name} AS d ON d.position = e.id"
                ),
                params,
            )
            for found in self.cur.fetchall():
                row = dict(zip(names, found, strict=True))
                out[row["record_id"]] = row
        return out

    def _ancestors_of(self, pcode: str) -> dict[str, Any]:
        found = self._ancestry.get(pcode)
        if found is None:
            self.cur.execute(
                self.models.sql(
                    f"SELECT country, adm1, adm2 FROM {LOCATIONS.name} WHERE pcode = ?"
                ),
                (pcode,),
            )
            row = self.cur.fetchone()
            if row is None:
                raise KeyError(pcode)
            found = self._ancestry[pcode] = (row[0], row[1], row[2])
        return {"country": found[0], "adm1": found[1], "adm2": found[2]}

    # -- locations -------------------------------------------------------------------------

    def apply_locations(self, events: Sequence[Event], *, history: bool = True) -> None:
        """The gazetteer's events (``projections.gazetteer``); ``history`` False applies
        them ahead of their pages (a prefetch's parse needs the locations), without the
        rows of the locations' history, which their pages write."""
        from projections.gazetteer import LocationsProjector

        if any(e[3] in LOCATION_TOPICS for e in events):
            LocationsProjector(self.models, self.cur).apply(events, history=history)
            self._ancestry.clear()

    # -- snapshots -------------------------------------------------------------------------

    def apply_snapshots(self, events: Sequence[Event]) -> None:
        rows = []
        signed = []
        for position, originator, version, topic, state in events:
            if topic not in (SNAPSHOT_TOPIC, SIGNED_OFF_TOPIC):
                continue
            try:
                taken = decode(state)
                at = event_time(taken)
                if topic == SIGNED_OFF_TOPIC:
                    off = {k: taken[k] for k in ("actor", "at", "checkpoint", "statement",
                                                 "signature", "public_key")}  # fmt: skip
                    signed.append((json.dumps(off, ensure_ascii=False), taken["name"]))
                    continue
                rows.append((
                    taken["name"], taken["as_of"], taken["known_at"], int(taken["position"]),
                    taken["location"], taken["by"], taken["actor"], at,
                    json.dumps(taken["result"], ensure_ascii=False), None,
                ))  # fmt: skip
            except (ValueError, KeyError, TypeError, AttributeError):
                raise UnreadableEvent(
                    position, self.models.originator(originator), version
                ) from None
        if rows:
            self.models.insert_rows(self.cur, SNAPSHOTS.name, SNAPSHOTS.names, rows)
        for signed_off, name in signed:  # (after the page's own snapshots)
            self.cur.execute(
                self.models.sql(f"UPDATE {SNAPSHOTS.name} SET signed_off = ? WHERE name = ?"),
                (signed_off, name),
            )

    # -- reviews and household sizes ------------------------------------------------------

    def apply_reviews(self, events: Sequence[Event]) -> None:
        """Reviews, and the approved figure table they keep (``projections.reviews``)."""
        from projections.reviews import ReviewsProjector

        if any(e[3] == REVIEW_TOPIC for e in events):
            ReviewsProjector(self.models, self.cur).apply(events)

    def apply_sizes(self, events: Sequence[Event]) -> None:
        from projections.reviews import sizes_of

        rows = sizes_of(self.models, events)
        if rows:
            self.models.insert_rows(self.cur, HOUSEHOLD_SIZES.name, HOUSEHOLD_SIZES.names, rows)


def _column_value(name: str, value: Any) -> Any:
    """A figure field's stored value as its read-model column holds it (checked)."""
    field = BY_NAME[name]
    if field.kind == "count":
        return _count(value, field.nullable)
    if field.kind == "day":
        return day_of(value)
    if field.kind == "json":
        if value is None and field.nullable:
            return None
        if not isinstance(value, dict):
            raise ValueError(f"{name} is not an object")
        if name == "breakdowns":
            stored_breakdowns(value)
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    if value is None and field.nullable:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name} is not text")
    return value
