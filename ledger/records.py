"""The figure record aggregate: one reported number about one location, and its amendments.

Every change is a new event; the recorded state of each version stays reproducible.
Event fields are primitive (ISO dates as text) so every process decodes them the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.breakdowns import DIMENSIONS, checked, within
from ledger.dates import FigureDate
from ledger.errors import InvalidInput, NothingToChange, RecordRetracted
from ledger.fields import BY_NAME, MAX_COUNT
from ledger.inputs import Correction, NewFigure


class FigureRecord(Aggregate):
    """An assessment (a stock), a registration (a flow in) or a return (a flow out)."""

    class Recorded(Aggregate.Created):
        kind: str
        pcode: str
        date: str
        precision: str
        individuals: int
        households: int | None
        source: dict[str, Any]
        origin: str | None
        cause: str | None
        note: str | None
        actor: str
        import_key: str | None
        breakdowns: dict[str, dict[str, int]] | None
        role: str
        quantifier: str
        conversion: dict[str, Any] | None

    class Corrected(Aggregate.Event):
        changes: dict[str, Any]
        reason: str
        actor: str
        citation: str | None

    class Retracted(Aggregate.Event):
        reason: str
        actor: str
        citation: str | None

    @event(Recorded)
    def __init__(
        self,
        kind: str,
        pcode: str,
        date: str,
        precision: str,
        individuals: int,
        households: int | None,
        source: dict[str, Any],
        origin: str | None,
        cause: str | None,
        note: str | None,
        actor: str,
        import_key: str | None = None,
        breakdowns: dict[str, dict[str, int]] | None = None,
        role: str = "recommended",
        quantifier: str = "exact",
        conversion: dict[str, Any] | None = None,
        id: UUID | None = None,
    ) -> None:
        self.kind = kind
        self.pcode = pcode
        self.date = date
        self.precision = precision
        self.individuals = individuals
        self.households = households
        self.source = source
        self.origin = origin
        self.cause = cause
        self.note = note
        self.actor = actor
        self.import_key = import_key
        self.breakdowns = breakdowns
        self.role = role
        self.quantifier = quantifier
        self.conversion = conversion
        self.retracted: str | None = None

    @classmethod
    def from_input(
        cls, figure: NewFigure, actor: str, record_id: UUID, import_key: str | None = None
    ) -> FigureRecord:
        return cls(
            kind=figure.kind.value,
            pcode=figure.pcode,
            date=figure.date.day.isoformat(),
            precision=figure.date.precision.value,
            individuals=figure.individuals,
            households=figure.households,
            source=figure.source.model_dump(exclude_none=True),
            origin=figure.origin,
            cause=figure.cause,
            note=figure.note,
            actor=actor,
            import_key=import_key,
            breakdowns=figure.breakdowns,
            role=figure.role.value,
            quantifier=figure.quantifier.value,
            conversion=figure.conversion,
            id=record_id,
        )

    @property
    def figure_date(self) -> FigureDate:
        return FigureDate.of(self.date, self.precision)

    def changes_for(self, correction: Correction) -> dict[str, Any]:
        """The fields a correction would change, with their new values (guards included)."""
        if self.retracted is not None:
            raise RecordRetracted(self.id)
        wanted: dict[str, Any] = {}
        if correction.individuals is not None:
            wanted["individuals"] = correction.individuals
        if correction.households_unknown:
            wanted["households"] = None
        elif correction.households is not None:
            wanted["households"] = correction.households
        if correction.date is not None:
            wanted["date"] = correction.date.day.isoformat()
            wanted["precision"] = correction.date.precision.value
        if correction.pcode is not None:
            wanted["pcode"] = correction.pcode
        if correction.quantifier is not None:
            wanted["quantifier"] = correction.quantifier.value
        if correction.breakdowns is not None or correction.breakdown_updates is not None:
            wanted["breakdowns"] = _merged(
                self.breakdowns, correction.breakdowns or {}, correction.breakdown_updates or {}
            )
        changes = {k: v for k, v in wanted.items() if getattr(self, k) != v}
        if not changes:
            raise NothingToChange(f"the correction of record {self.id} changes nothing")
        individuals = changes.get("individuals", self.individuals)
        households = changes.get("households", self.households)
        if households is not None and households > individuals:
            raise InvalidInput(
                f"households ({households}) cannot exceed individuals ({individuals})"
            )
        try:
            within(changes.get("breakdowns", self.breakdowns), individuals)
        except ValueError as error:
            raise InvalidInput(str(error)) from None
        return changes

    def correct(self, correction: Correction, actor: str) -> None:
        self._corrected(
            changes=self.changes_for(correction),
            reason=correction.reason,
            actor=actor,
            citation=correction.citation,
        )

    @event(Corrected)
    def _corrected(
        self, changes: dict[str, Any], reason: str, actor: str, citation: str | None
    ) -> None:
        for name, value in changes.items():
            setattr(self, name, value)

    def convert(
        self, individuals: int, conversion: dict[str, Any], *, reason: str, actor: str
    ) -> None:
        """A households-only figure converted again (a new household size): a correction."""
        if self.retracted is not None:
            raise RecordRetracted(self.id)
        try:
            within(self.breakdowns, individuals)
        except ValueError as error:
            raise InvalidInput(f"record {self.id}: {error}") from None
        changes = {"individuals": individuals, "conversion": conversion}
        changes = {k: v for k, v in changes.items() if getattr(self, k) != v}
        if changes:
            self._corrected(changes=changes, reason=reason, actor=actor, citation=None)

    def retract(self, reason: str, actor: str, citation: str | None = None) -> None:
        if self.retracted is not None:
            raise RecordRetracted(self.id)
        self._retracted(reason=reason, actor=actor, citation=citation)

    @event(Retracted)
    def _retracted(self, reason: str, actor: str, citation: str | None) -> None:
        self.retracted = reason


def _merged(
    current: dict[str, dict[str, int]] | None,
    replaced: dict[str, dict[str, int]],
    updates: dict[str, dict[str, int]],
) -> dict[str, dict[str, int]] | None:
    """The breakdowns after a correction: the dimensions it replaces (an empty one is
    removed), the parts it updates within the others, the rest as they were; canonical."""
    merged = {**(current or {}), **replaced}
    for dimension, parts in updates.items():
        merged[dimension] = {**merged.get(dimension, {}), **parts}
    try:
        return checked({d: merged[d] for d in DIMENSIONS if merged.get(d)}, MAX_COUNT)
    except ValueError as error:  # overlapping age bands, say
        raise InvalidInput(str(error)) from None


@dataclass(frozen=True)
class Change:
    field: str
    old: Any
    new: Any


@dataclass(frozen=True)
class RecordVersion:
    """One version of a record as it stood after one event, with what that event changed."""

    record_id: UUID
    version: int
    action: str  # recorded | corrected | retracted
    recorded_at: datetime
    actor: str
    reason: str | None
    citation: str | None
    changes: tuple[Change, ...]
    kind: str
    pcode: str
    date: str
    precision: str
    individuals: int
    households: int | None
    source: dict[str, Any]
    origin: str | None
    cause: str | None
    note: str | None
    retracted: bool
    breakdowns: dict[str, dict[str, int]] | None = None
    role: str = "recommended"
    quantifier: str = "exact"
    conversion: dict[str, Any] | None = None

    @property
    def figure_date(self) -> FigureDate:
        return FigureDate.of(self.date, self.precision)


_STATE_FIELDS = (
    "kind",
    "pcode",
    "date",
    "precision",
    "individuals",
    "households",
    "source",
    "origin",
    "cause",
    "note",
    "breakdowns",
    "role",
    "quantifier",
    "conversion",
)


def versions_from_events(events: list[Any]) -> list[RecordVersion]:
    """Replay a record's events into the list of its versions (version 1 first)."""
    out: list[RecordVersion] = []
    state: dict[str, Any] = {}
    for ev in events:
        changes: tuple[Change, ...] = ()
        reason = citation = None
        retracted = bool(out and out[-1].retracted)
        if isinstance(ev, FigureRecord.Recorded):
            action = "recorded"
            # (an event stored before a field existed lacks it: ledger.fields)
            state = {name: getattr(ev, name, BY_NAME[name].default) for name in _STATE_FIELDS}
        elif isinstance(ev, FigureRecord.Corrected):
            action = "corrected"
            changes = tuple(Change(k, state.get(k), v) for k, v in ev.changes.items())
            state.update(ev.changes)
            reason, citation = ev.reason, ev.citation
        elif isinstance(ev, FigureRecord.Retracted):
            action = "retracted"
            retracted = True
            reason, citation = ev.reason, ev.citation
        else:  # pragma: no cover - a new event type must be handled here
            raise TypeError(f"unknown figure record event {type(ev).__name__}")
        out.append(
            RecordVersion(
                record_id=ev.originator_id,
                version=ev.originator_version,
                action=action,
                recorded_at=ev.timestamp,
                actor=ev.actor,
                reason=reason,
                citation=citation,
                changes=changes,
                retracted=retracted,
                **state,
            )
        )
    return out
