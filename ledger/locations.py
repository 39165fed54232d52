"""Locations: p-coded places, their hierarchy, and how users' names resolve to them.

The registry itself is event-sourced reference data (``ledger.gazetteer``); this module is
what both sides need of it, with no storage in it: the write side resolves names against
the gazetteer's state, the read side against the locations read model. Nothing ever
creates a location from a name.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ledger.errors import AmbiguousLocation, InvalidInput, UnknownLocation

LEVELS = ("country", "admin1", "admin2", "admin3")
_PCODE = re.compile(r"^[A-Z]{2,3}[A-Z0-9]*$")


def level_name(level: int) -> str:
    return LEVELS[level]


def level_number(name: str) -> int:
    try:
        return LEVELS.index(name.strip().lower())
    except ValueError:
        raise InvalidInput(f"level {name!r} is not one of {', '.join(LEVELS)}") from None


def normalise(name: str) -> str:
    """Fold accents, case, punctuation and spacing so that Ménaka == menaka == MENAKA."""
    decomposed = unicodedata.normalize("NFKD", name)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^0-9a-z]+", " ", bare.casefold()).split())


@dataclass(frozen=True)
class Location:
    pcode: str
    name: str
    level: int
    parent: str | None
    variants: tuple[str, ...] = ()

    @property
    def level_name(self) -> str:
        return level_name(self.level)

    def as_dict(self) -> dict[str, Any]:
        return {
            "pcode": self.pcode,
            "name": self.name,
            "level": self.level,
            "parent": self.parent,
            "variants": list(self.variants),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Location:
        return cls(
            pcode=data["pcode"],
            name=data["name"],
            level=int(data["level"]),
            parent=data["parent"],
            variants=tuple(data.get("variants") or ()),
        )


def validate_location(loc: Location) -> None:
    if not _PCODE.match(loc.pcode):
        raise InvalidInput(f"p-code {loc.pcode!r} is not a p-code (letters then digits)")
    if not loc.name.strip():
        raise InvalidInput(f"location {loc.pcode} has no name")
    if not 0 <= loc.level < len(LEVELS):
        raise InvalidInput(f"location {loc.pcode} has admin level {loc.level}, not 0-3")
    if (loc.level == 0) != (loc.parent is None):
        raise InvalidInput(f"location {loc.pcode}: only a country has no parent")


@dataclass
class Resolution:
    """A resolved location, with what the user should know about how it was chosen."""

    location: Location
    notes: list[str] = field(default_factory=list)


class LocationIndex:
    """Name resolution over a set of locations (accent- and case-insensitive)."""

    def __init__(self, locations: Iterable[Location]) -> None:
        self.by_pcode: dict[str, Location] = {loc.pcode: loc for loc in locations}
        self.children: dict[str | None, list[str]] = defaultdict(list)
        self._ordered = sorted(self.by_pcode.values(), key=lambda x: (x.level, x.pcode))
        for loc in self._ordered:
            self.children[loc.parent].append(loc.pcode)
        self._names: dict[str, list[Location]] | None = None

    @property
    def _by_name(self) -> dict[str, list[Location]]:
        """Normalised name or variant → locations (built on the first name looked up:
        a command given p-codes never pays for it)."""
        if self._names is None:
            names: dict[str, list[Location]] = defaultdict(list)
            for loc in self._ordered:
                for name in {normalise(n) for n in (loc.name, *loc.variants)}:
                    names[name].append(loc)
            self._names = names
        return self._names

    def __len__(self) -> int:
        return len(self.by_pcode)

    def __contains__(self, pcode: object) -> bool:
        return pcode in self.by_pcode

    def get(self, pcode: str) -> Location:
        return self.by_pcode[pcode]

    def countries(self) -> list[Location]:
        return [self.by_pcode[p] for p in self.children[None]]

    def ancestors(self, pcode: str) -> list[str]:
        """The chain of parents from the location up to its country (excluding itself)."""
        chain: list[str] = []
        parent = self.by_pcode[pcode].parent
        while parent is not None:
            chain.append(parent)
            parent = self.by_pcode[parent].parent
        return chain

    def country_of(self, pcode: str) -> str:
        chain = [pcode, *self.ancestors(pcode)]
        return chain[-1]

    def descendants(self, pcode: str) -> list[str]:
        out: list[str] = []
        stack = list(reversed(self.children.get(pcode, [])))
        while stack:
            current = stack.pop()
            out.append(current)
            stack.extend(reversed(self.children.get(current, [])))
        return out

    def label(self, loc: Location) -> str:
        if loc.parent is None:
            return f"{loc.pcode} {loc.name} ({loc.level_name})"
        parent = self.by_pcode[loc.parent]
        return f"{loc.pcode} {parent.name}/{loc.name} ({loc.level_name})"

    def resolve(self, query: str) -> Resolution:
        """A p-code, a name or variant, or ``Parent/Name``; ambiguity and misses are errors."""
        text = query.strip()
        if not text:
            raise InvalidInput("location is empty")
        if text.upper() in self.by_pcode:
            return Resolution(self.by_pcode[text.upper()])
        if "/" in text:
            return self._resolve_qualified(text)
        matches = self._by_name.get(normalise(text), [])
        if not matches:
            raise UnknownLocation(text, self._closest(text))
        broadest = min(m.level for m in matches)
        chosen = [m for m in matches if m.level == broadest]
        if len(chosen) > 1:
            raise AmbiguousLocation(text, [self.label(m) for m in chosen])
        others = [self.label(m) for m in matches if m.level != broadest]
        notes = []
        if others:
            notes.append(
                f"{text!r} taken as {self.label(chosen[0])}; it also names " + ", ".join(others)
            )
        return Resolution(chosen[0], notes)

    def _resolve_qualified(self, text: str) -> Resolution:
        *parents, name = [part.strip() for part in text.split("/")]
        parent = self.resolve("/".join(parents)).location
        under = {p for p in self.descendants(parent.pcode)}
        matches = [m for m in self._by_name.get(normalise(name), []) if m.pcode in under]
        if not matches:
            raise UnknownLocation(text, self._closest(name))
        shallowest = min(m.level for m in matches)
        chosen = [m for m in matches if m.level == shallowest]
        if len(chosen) > 1:
            raise AmbiguousLocation(text, [self.label(m) for m in chosen])
        return Resolution(chosen[0])

    def _closest(self, text: str) -> list[str]:
        import difflib

        names = difflib.get_close_matches(normalise(text), list(self._by_name), n=3, cutoff=0.6)
        out: list[str] = []
        for name in names:
            out.extend(self.label(loc) for loc in self._by_name[name])
        return out[:5]

    def search(self, query: str | None) -> list[Location]:
        """Locations whose p-code, name or variant contains the query (all when None)."""
        if not query:
            return sorted(self.by_pcode.values(), key=lambda x: x.pcode)
        if "/" in query:  # Parent/Name names one location (or none)
            try:
                return [self.resolve(query).location]
            except (UnknownLocation, AmbiguousLocation):
                return []
        needle = normalise(query)
        found = [
            loc
            for loc in self.by_pcode.values()
            if needle in normalise(loc.pcode)
            or any(needle in normalise(n) for n in (loc.name, *loc.variants))
        ]
        return sorted(found, key=lambda x: x.pcode)
