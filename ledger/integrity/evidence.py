"""What the stored events of an audit bundle say: each record version and the locations.

An auditor has only the bundle: the events' stored JSON states (as the event library wrote
them, docs/integrity.md) are decoded here directly, without the ledger or its event
library, and folded the way the aggregates fold them: a record's ``Recorded`` event gives
its fields, each ``Corrected`` event's ``changes`` replace some, a ``Retracted`` event
ends it; the gazetteer's events give each location whole (``LocationsRegistered``) or
change some of its fields (``LocationCorrected``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ledger.fields import BY_NAME, FIGURE_FIELDS
from ledger.integrity.errors import AuditFailed

RECORDED = "ledger.records:FigureRecord.Recorded"
CORRECTED = "ledger.records:FigureRecord.Corrected"
RETRACTED = "ledger.records:FigureRecord.Retracted"
RECORD_TOPICS = (RECORDED, CORRECTED, RETRACTED)
GAZETTEER_CREATED = ("ledger.gazetteer:Gazetteer.Created", "ledger.locations:Gazetteer.Created")
GAZETTEER_REGISTERED = (
    "ledger.gazetteer:Gazetteer.LocationsRegistered",
    "ledger.locations:Gazetteer.LocationsRegistered",  # where the class lived until layout 5
)
GAZETTEER_CORRECTED = ("ledger.gazetteer:Gazetteer.LocationCorrected",)
GAZETTEER_TOPICS = GAZETTEER_CREATED + GAZETTEER_REGISTERED + GAZETTEER_CORRECTED


@dataclass(frozen=True)
class StoredEvent:
    """One event as the bundle carries it (and as the events table stores it)."""

    position: int  # in the chain
    notification_id: int
    originator_id: str  # 32 lowercase hex
    originator_version: int
    topic: str
    state: str  # the stored JSON, as UTF-8 text

    def decoded(self) -> dict[str, Any]:
        try:
            value = json.loads(self.state)
        except ValueError:
            raise AuditFailed(f"{self.name} is not JSON") from None
        if not isinstance(value, dict):
            raise AuditFailed(f"{self.name} is not a JSON object")
        return value

    @property
    def name(self) -> str:
        return (
            f"event {self.notification_id} (record {self.originator_id} version "
            f"{self.originator_version})"
        )

    @property
    def time(self) -> datetime:
        """When the event was recorded: its timestamp, as the event library stores it."""
        stamp = self.decoded().get("timestamp")
        try:
            if not isinstance(stamp, dict) or stamp.get("_type_") != "datetime_iso":
                raise ValueError
            moment = datetime.fromisoformat(str(stamp["_data_"]))
        except (ValueError, KeyError):
            raise AuditFailed(f"{self.name} has no readable timestamp") from None
        if moment.tzinfo is None:
            raise AuditFailed(f"{self.name} has a timestamp without a time zone")
        return moment


@dataclass(frozen=True)
class Version:
    """A record as it stood after one of its events."""

    record_id: str  # 32 hex
    version: int
    event: StoredEvent
    fields: dict[str, Any]
    retracted: bool
    created: datetime  # when version 1 was recorded
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # field → (old, new)
    reason: str | None = None
    actor: str | None = None


@dataclass(frozen=True)
class Evidence:
    """Every record version and every location the bundle's events establish."""

    versions: dict[tuple[str, int], Version]
    locations: dict[str, dict[str, Any]]  # p-code → {pcode, name, level, parent, variants}


def fold(events: list[StoredEvent]) -> Evidence:
    """Fold the events (in log order) per aggregate; each record's and the gazetteer's
    versions must run 1, 2, 3… with none missing."""
    by_origin: dict[str, list[StoredEvent]] = {}
    for event in sorted(events, key=lambda e: e.position):
        by_origin.setdefault(event.originator_id, []).append(event)
    versions: dict[tuple[str, int], Version] = {}
    locations: dict[str, dict[str, Any]] = {}
    for origin, stream in by_origin.items():
        for number, event in enumerate(stream, start=1):
            if event.originator_version != number:
                raise AuditFailed(
                    f"record {origin} has version {event.originator_version} but not version "
                    f"{number} in the bundle: an event was left out"
                )
        if stream[0].topic in GAZETTEER_TOPICS:
            _gazetteer(stream, locations)
        else:
            versions.update(_record(origin, stream))
    return Evidence(versions, locations)


def _record(origin: str, stream: list[StoredEvent]) -> dict[tuple[str, int], Version]:
    first = stream[0]
    if first.topic != RECORDED:
        raise AuditFailed(f"{first.name} is a {first.topic!r} event, not a figure record's first")
    state = first.decoded()
    fields = {f.name: state.get(f.name, f.default) for f in FIGURE_FIELDS}
    created = first.time
    out = {
        (origin, 1): Version(origin, 1, first, dict(fields), False, created, actor=_actor(state))
    }
    retracted = False
    for event in stream[1:]:
        state = event.decoded()
        changes: dict[str, tuple[Any, Any]] = {}
        if retracted:
            raise AuditFailed(f"{event.name} follows the record's retraction")
        if event.topic == CORRECTED:
            proposed = state.get("changes")
            if not isinstance(proposed, dict) or not proposed:
                raise AuditFailed(f"{event.name} is a correction without changes")
            for name, value in proposed.items():
                if name not in BY_NAME:
                    raise AuditFailed(f"{event.name} changes {name!r}, which is not a field")
                changes[name] = (fields.get(name), value)
                fields[name] = value
        elif event.topic == RETRACTED:
            retracted = True
        else:
            raise AuditFailed(f"{event.name} is a {event.topic!r} event, not a figure record's")
        out[(origin, event.originator_version)] = Version(
            origin, event.originator_version, event, dict(fields), retracted, created, changes,
            state.get("reason"), _actor(state),
        )  # fmt: skip
    return out


def _actor(state: dict[str, Any]) -> str | None:
    actor = state.get("actor")
    return actor if isinstance(actor, str) else None


def _gazetteer(stream: list[StoredEvent], locations: dict[str, dict[str, Any]]) -> None:
    for event in stream:
        state = event.decoded()
        if event.topic in GAZETTEER_CREATED:
            continue
        if event.topic in GAZETTEER_REGISTERED:
            entries = state.get("locations")
            if not isinstance(entries, list):
                raise AuditFailed(f"{event.name} registers no list of locations")
            for entry in entries:
                if not isinstance(entry, dict) or not isinstance(entry.get("pcode"), str):
                    raise AuditFailed(f"{event.name} registers a location without a p-code")
                locations[entry["pcode"]] = entry
        elif event.topic in GAZETTEER_CORRECTED:
            pcode, changes = state.get("pcode"), state.get("changes")
            if pcode not in locations or not isinstance(changes, dict):
                raise AuditFailed(f"{event.name} corrects a location the bundle does not have")
            locations[str(pcode)] = {**locations[str(pcode)], **changes}
        else:
            raise AuditFailed(f"{event.name} is a {event.topic!r} event, not the gazetteer's")


def level_name(entry: dict[str, Any]) -> str:
    from ledger.locations import LEVELS

    level = entry.get("level")
    if type(level) is not int or not 0 <= level < len(LEVELS):
        raise AuditFailed(f"location {entry.get('pcode')} has no valid level")
    return LEVELS[level]
