"""The gazetteer: every known location, as one event-sourced aggregate.

One aggregate, so a batch of locations registers atomically. Its events carry each new or
changed location whole, so a reader of the log (the locations read model) needs no state
of its own to apply them.

The class lived in ``ledger.locations`` until the read side stopped importing the event
library: events stored before then name it there, and ``register_topic`` sends those
topics here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event
from eventsourcing.utils import register_topic

from ledger.errors import InvalidInput
from ledger.locations import Location, LocationIndex, normalise, validate_location

GAZETTEER_ID = uuid5(NAMESPACE_URL, "https://displacement-ledger/gazetteer")
FORMER_TOPIC = "ledger.locations:Gazetteer"


class Gazetteer(Aggregate):
    """Every known location. One aggregate, so a batch of locations registers atomically."""

    @event("Created")
    def __init__(self, id: UUID = GAZETTEER_ID) -> None:
        self.entries: dict[str, dict[str, Any]] = {}

    @event("LocationsRegistered")
    def _registered(self, locations: list[dict[str, Any]], source: str, actor: str) -> None:
        for data in locations:
            self.entries[data["pcode"]] = data

    def register(self, locations: Iterable[Location], source: str, actor: str) -> list[Location]:
        """Register new locations and new name variants; returns what actually changed."""
        pending: dict[str, Location] = {}
        for loc in locations:
            validate_location(loc)
            known = self.entries.get(loc.pcode) or (
                pending[loc.pcode].as_dict() if loc.pcode in pending else None
            )
            if known is None:
                pending[loc.pcode] = loc
                continue
            merged = self._merge(Location.from_dict(known), loc)
            if merged.as_dict() != known:
                pending[loc.pcode] = merged
        for loc in pending.values():
            if (
                loc.parent is not None
                and loc.parent not in self.entries
                and (loc.parent not in pending)
            ):
                raise InvalidInput(
                    f"location {loc.pcode} ({loc.name}) names parent {loc.parent}, "
                    "which is not a known location"
                )
        if pending:
            self._registered([p.as_dict() for p in pending.values()], source, actor)
        return list(pending.values())

    @staticmethod
    def _merge(known: Location, new: Location) -> Location:
        if new.level != known.level or new.parent != known.parent:
            raise InvalidInput(
                f"location {new.pcode} is already registered as {known.name} "
                f"({known.level_name} under {known.parent}); the new entry says "
                f"{new.level_name} under {new.parent}"
            )
        names = {normalise(known.name)}
        variants = list(known.variants)
        for name in (new.name, *new.variants):
            if normalise(name) not in names | {normalise(v) for v in variants}:
                variants.append(name)
        return Location(known.pcode, known.name, known.level, known.parent, tuple(variants))

    def index(self) -> LocationIndex:
        return LocationIndex(Location.from_dict(d) for d in self.entries.values())


register_topic(FORMER_TOPIC, Gazetteer)
