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

from ledger.errors import InvalidInput, NothingToChange
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

    @event("LocationCorrected")
    def _corrected(self, pcode: str, changes: dict[str, Any], reason: str, actor: str) -> None:
        self.entries[pcode] = {**self.entries[pcode], **changes}

    def correct(self, pcode: str, changes: dict[str, Any], reason: str, actor: str) -> Location:
        """Correct a registered location's name, level or parent, with a reason; the
        hierarchy must stay a tree of ever narrower levels."""
        if pcode not in self.entries:
            raise InvalidInput(f"no location with p-code {pcode!r}")
        if not reason.strip():
            raise InvalidInput("a correction of a location needs a reason")
        known = self.entries[pcode]
        wanted = {k: v for k, v in changes.items() if v is not None and known.get(k) != v}
        if not wanted:
            raise NothingToChange(f"the correction of location {pcode} changes nothing")
        corrected = Location.from_dict({**known, **wanted})
        validate_location(corrected)
        entries = {p: Location.from_dict(d) for p, d in self.entries.items()}
        entries[pcode] = corrected
        check_hierarchy(entries, [pcode, *(p for p, e in entries.items() if e.parent == pcode)])
        self._corrected(pcode=pcode, changes=wanted, reason=reason.strip(), actor=actor)
        return corrected

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
        if pending:
            entries = {p: Location.from_dict(d) for p, d in self.entries.items()} | pending
            check_hierarchy(entries, list(pending))
            self._registered([p.as_dict() for p in pending.values()], source, actor)
        return list(pending.values())

    @staticmethod
    def _merge(known: Location, new: Location) -> Location:
        if new.level != known.level or new.parent != known.parent:
            raise InvalidInput(
                f"location {new.pcode} is already registered as {known.name} "
                f"({known.level_name} under {known.parent}); the new entry says "
                f"{new.level_name} under {new.parent} (`dledger locations correct` changes it)"
            )
        names = {normalise(known.name)}
        variants = list(known.variants)
        for name in (new.name, *new.variants):
            if normalise(name) not in names | {normalise(v) for v in variants}:
                variants.append(name)
        return Location(known.pcode, known.name, known.level, known.parent, tuple(variants))

    def index(self) -> LocationIndex:
        return LocationIndex(Location.from_dict(d) for d in self.entries.values())


def check_hierarchy(entries: dict[str, Location], changed: list[str]) -> None:
    """Every changed location's parent is known and at a broader level, so the parents
    form a tree: a chain of parents that comes back on itself is named."""
    for pcode in changed:
        loc = entries[pcode]
        chain = [pcode]
        parent = loc.parent
        while parent is not None:
            if parent in chain:
                names = " → ".join([*chain[chain.index(parent) :], parent])
                raise InvalidInput(f"locations {names} form a cycle: each is another's parent")
            if parent not in entries:
                raise InvalidInput(
                    f"location {chain[-1]} ({entries[chain[-1]].name}) names parent {parent}, "
                    "which is not a known location"
                )
            chain.append(parent)
            parent = entries[parent].parent
        if loc.parent is not None and entries[loc.parent].level >= loc.level:
            above = entries[loc.parent]
            raise InvalidInput(
                f"location {pcode} ({loc.level_name}) cannot be under {above.pcode} "
                f"({above.level_name}): a parent must be at a broader level"
            )


register_topic(FORMER_TOPIC, Gazetteer)
