"""The ledger application: use cases over the event store (get → command → save)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError

from ledger.backends import APPLICATION_NAME
from ledger.errors import ConcurrentChange, InvalidInput, LedgerError, RecordNotFound
from ledger.gazetteer import GAZETTEER_ID, Gazetteer
from ledger.households import HOUSEHOLD_SIZES_ID, HouseholdSizes, checked_size, checked_year
from ledger.ids import parse_record_id
from ledger.inputs import (
    Correction,
    NewFigure,
    Retraction,
    parse_figure_date,
    validated,
    validated_households,
)
from ledger.locations import Location, LocationIndex, Resolution
from ledger.records import FigureRecord
from ledger.snapshots import NamedSnapshot, check_name, snapshot_id


@dataclass(frozen=True)
class Written:
    """What a write use case did: the record, its new version, and notes for the user."""

    record_id: UUID
    version: int
    notes: list[str] = field(default_factory=list)


class Ledger(Application[UUID]):
    """Figure records and the location registry, over one event store."""

    name = APPLICATION_NAME  # fixed: the table names derive from it

    def __init__(self, env: dict[str, str] | None = None, actor: str = "unknown") -> None:
        super().__init__(env)
        self.actor = actor
        self._index: LocationIndex | None = None

    # Locations -------------------------------------------------------------------------

    def gazetteer(self) -> Gazetteer:
        try:
            gazetteer: Gazetteer = self.repository.get(GAZETTEER_ID)
        except AggregateNotFoundError:
            gazetteer = Gazetteer()
        return gazetteer

    def locations(self) -> LocationIndex:
        if self._index is None:
            self._index = self.gazetteer().index()
        return self._index

    def register_locations(self, locations: Iterable[Location], source: str) -> list[Location]:
        """Register new locations (and new name variants of known ones) in one event."""
        gazetteer = self.gazetteer()
        changed = gazetteer.register(locations, source=source, actor=self.actor)
        if changed:
            self._save(GAZETTEER_ID, gazetteer)
        self._index = None
        return changed

    def correct_location(self, query: str, reason: str, **changes: Any) -> Location:
        """Correct a location's name, level (a level name) or parent (a p-code or name)."""
        from ledger.locations import level_number

        gazetteer = self.gazetteer()
        pcode = self.resolve(query).location.pcode
        wanted: dict[str, Any] = {}
        if changes.get("name") is not None:
            wanted["name"] = str(changes["name"]).strip()
        if changes.get("level") is not None:
            wanted["level"] = level_number(str(changes["level"]))
        if changes.get("parent") is not None:
            wanted["parent"] = self.resolve(str(changes["parent"])).location.pcode
        if not wanted:
            raise InvalidInput("give --name, --level or --parent to correct")
        corrected = gazetteer.correct(pcode, wanted, reason=reason, actor=self.actor)
        self._save(GAZETTEER_ID, gazetteer)
        self._index = None
        return corrected

    def resolve(self, query: str) -> Resolution:
        return self.locations().resolve(query)

    # Figure records ----------------------------------------------------------------------

    def household_sizes(self) -> HouseholdSizes:
        try:
            sizes: HouseholdSizes = self.repository.get(HOUSEHOLD_SIZES_ID)
        except AggregateNotFoundError:
            sizes = HouseholdSizes()
        return sizes

    def set_household_size(
        self, country: str, year: Any, size: Any, source: str, converted: list[str]
    ) -> list[Written]:
        """Set a country's household size for a year, and correct, in the same
        transaction, the households-only records among ``converted`` (the read side's
        list of them in that country) whose individuals it changes."""
        place = self.resolve(country).location
        if place.level != 0:
            raise InvalidInput(f"{place.name} ({place.pcode}) is not a country")
        sizes = self.household_sizes()
        sizes.set(place.pcode, checked_year(year), checked_size(size), source, self.actor)
        corrected = []
        for rid in converted:
            record = self.get_record(rid)
            was = record.conversion
            if record.retracted is not None or was is None or was["country"] != place.pcode:
                continue
            now = sizes.in_force(place.pcode, int(was["for_year"]))
            conversion = now.conversion(int(was["households"]))
            if conversion == was:
                continue
            record.convert(
                now.individuals(int(was["households"])), conversion,
                reason=f"household size for {place.pcode} {now.year} set to {now.size} "
                f"({now.source})", actor=self.actor,
            )  # fmt: skip
            corrected.append(record)
        self._save(HOUSEHOLD_SIZES_ID, sizes, *corrected)
        return [Written(r.id, r.version) for r in corrected]

    def _households_only(self, values: dict[str, Any], pcode: str) -> dict[str, Any]:
        """A figure given in households only: its individuals from the size in force."""
        if values.get("individuals") not in (None, ""):
            return values
        if values.get("households") in (None, ""):
            raise InvalidInput("give --individuals, or --households (converted by the size)")
        households = validated_households(values["households"])
        index = self.locations()
        country = ([pcode, *index.ancestors(pcode)])[-1]
        when = parse_figure_date(values.get("date"))
        size = self.household_sizes().in_force(country, when.day.year)
        conversion = size.conversion(households)
        return {**values, "individuals": size.individuals(households), "conversion": conversion}

    def record(self, **values: Any) -> Written:
        """Record a new figure; ``location`` and ``origin`` may be p-codes or names."""
        if values.get("individuals") in (None, ""):
            values = self._households_only(values, self.resolve(values["location"]).location.pcode)
        figure, notes = self.validate_figure(**values)
        record = FigureRecord.from_input(figure, self.actor, uuid4())
        self._save(record.id, record)
        return Written(record.id, record.version, notes)

    def validate_figure(
        self,
        *,
        location: str,
        origin: str | None = None,
        breakdowns: dict[str, dict[str, Any]] | None = None,
        **values: Any,
    ) -> tuple[NewFigure, list[str]]:
        resolution = self.resolve(location)
        notes = list(resolution.notes)
        origin_pcode = None
        if origin:
            origin_resolution = self.resolve(origin)
            origin_pcode = origin_resolution.location.pcode
            notes += origin_resolution.notes
        figure = validated(
            NewFigure,
            pcode=resolution.location.pcode,
            origin=origin_pcode,
            breakdowns=self._origins_resolved(breakdowns, notes),
            **values,
        )
        return figure, notes

    def _origins_resolved(
        self, breakdowns: dict[str, dict[str, Any]] | None, notes: list[str]
    ) -> dict[str, dict[str, Any]] | None:
        """The breakdowns with each origin (a p-code or a name) as its p-code."""
        if not breakdowns or not breakdowns.get("origin"):
            return breakdowns
        origins: dict[str, Any] = {}
        for query, count in breakdowns["origin"].items():
            try:
                found = self.resolve(query)
            except LedgerError as error:
                raise InvalidInput(f"breakdown origin: {error}") from None
            notes += found.notes
            pcode = found.location.pcode
            if pcode in origins:
                raise InvalidInput(f"breakdown origin: {pcode} is given twice")
            origins[pcode] = count
        return {**breakdowns, "origin": origins}

    def correct(self, record_id: str | UUID, **values: Any) -> Written:
        """Correct some of individuals, households, date, location; a reason is required."""
        notes: list[str] = []
        location = values.pop("location", None)
        if location is not None:
            resolution = self.resolve(location)
            values["pcode"] = resolution.location.pcode
            notes += resolution.notes
        for name in ("breakdowns", "breakdown_updates"):
            values[name] = self._origins_resolved(values.get(name), notes)
        correction = validated(Correction, **values)
        record = self.get_record(record_id)
        record.correct(correction, self.actor)
        self._save(record.id, record)
        return Written(record.id, record.version, notes)

    def retract(self, record_id: str | UUID, reason: str) -> Written:
        retraction = validated(Retraction, reason=reason)
        record = self.get_record(record_id)
        record.retract(retraction.reason, self.actor)
        self._save(record.id, record)
        return Written(record.id, record.version)

    def get_record(self, record_id: str | UUID) -> FigureRecord:
        rid = parse_record_id(record_id)
        try:
            record: Any = self.repository.get(rid)
        except AggregateNotFoundError:
            raise RecordNotFound(rid) from None
        if not isinstance(record, FigureRecord):
            raise RecordNotFound(rid)
        return record

    # Reviews -----------------------------------------------------------------------------

    def review(
        self, record_ids: list[str], status: str, comment: str | None = None
    ) -> list[Written]:
        """Review the current version of each record (one event each, saved together)."""
        from ledger.inputs import _choice
        from ledger.reviews import Status, review_of

        try:
            chosen = _choice(Status, status, "--status")
        except ValueError as error:
            raise InvalidInput(str(error)) from None
        if not record_ids:
            raise InvalidInput("give the record id(s) to review")
        text = (comment or "").strip() or None
        records = [self.get_record(rid) for rid in dict.fromkeys(record_ids)]
        reviews = [review_of(r.id, r.version, chosen, text, self.actor) for r in records]
        self._save(records[0].id, *reviews)
        return [Written(r.id, r.version) for r in records]

    # Named snapshots ---------------------------------------------------------------------

    def sign_snapshot(self, name: str, **fields: Any) -> NamedSnapshot:
        """Sign off a kept snapshot (once): ``fields`` as ``NamedSnapshot.sign_off`` takes."""
        from eventsourcing.application import AggregateNotFoundError

        from ledger.errors import SnapshotNotFound

        try:
            snapshot: Any = self.repository.get(snapshot_id(check_name(name)))
        except AggregateNotFoundError:
            raise SnapshotNotFound(name) from None
        snapshot.sign_off(**fields)
        self._save(snapshot.id, snapshot)
        return snapshot  # type: ignore[no-any-return]

    def keep_snapshot(self, **fields: Any) -> UUID:
        """Keep a named, frozen result; a name can be used once (the event store enforces it)."""
        name = check_name(fields["name"])
        snapshot = NamedSnapshot(id=snapshot_id(name), actor=self.actor, **fields)
        try:
            self.save(snapshot)
        except IntegrityError:
            raise LedgerError(f"a snapshot named {name!r} already exists") from None
        return snapshot.id

    def _save(self, aggregate_id: UUID, *aggregates: Any) -> None:
        try:
            self.save(*aggregates)
        except IntegrityError:
            raise ConcurrentChange(aggregate_id) from None
