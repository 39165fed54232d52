"""The locations an import's rows name: resolved against the registry, or collected as new
ones (registered with the import), each row's chain of p-codes checked against what is
known; a DTM row's origin admin1 likewise. Nothing is written here.
"""

from __future__ import annotations

import re

from ledger.errors import InvalidInput, LedgerError
from ledger.locations import LEVELS, Location, LocationIndex, validate_location

CHAIN = ("country", "adm1", "adm2", "adm3")  # the row's location columns, by admin level
_CHAIN_FIELDS = (*(f"{lv}_{part}" for lv in CHAIN for part in ("code", "name")), "admin_level")
NOT_AVAILABLE = {"not available", "n/a", "na", "none", "-"}
_NAMED_CODE = re.compile(r"^(.*\S)\s*\(([A-Za-z0-9]+)\)$")


class Problem(Exception):
    """What is wrong with a row's field (``field``, the canonical name)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def blank(text: str | None) -> str:
    value = (text or "").strip()
    return "" if value.lower() in NOT_AVAILABLE else value


class Places:
    """The registry as an import sees it: known locations, and those the file adds."""

    def __init__(self, index: LocationIndex) -> None:
        self.index = index
        self.new_locations: dict[str, Location] = {}
        self._chains: dict[tuple[str | None, ...], str] = {}  # location columns -> p-code

    def origin(self, query: str, v: dict[str, str], found: dict[str, Location]) -> str:
        """An origin of a list cell: a p-code or a name, or, as exports write them,
        ``Name (P-CODE)``, registered as an admin1 of the row's country if unknown."""
        named = _NAMED_CODE.match(query)
        if named:
            return self.dtm_origin(
                {"origin": named[2], "origin_name": named[1], "country_code":
                 v.get("country_code", "")}, found,
            )  # fmt: skip
        try:
            return self.index.resolve(query).location.pcode
        except LedgerError as error:
            raise Problem("origin_parts", str(error)) from None

    def dtm_origin(self, v: dict[str, str], found: dict[str, Location]) -> str:
        """A DTM row's origin admin1: known, or registered with the row's name for it under
        the row's country."""
        code = blank(v.get("origin")).upper()
        known = self.index.by_pcode.get(code) or self.new_locations.get(code) or found.get(code)
        if known is not None:
            return known.pcode
        country = blank(v.get("country_code")).upper()
        if not country:
            raise Problem("origin", f"origin {code} is not a known location, and the row names "
                           "no country to register it under")  # fmt: skip
        try:
            self._ensure(Location(code, blank(v.get("origin_name")), 1, country), found, code)
        except Problem as problem:
            raise Problem("origin", f"origin {problem.reason} (an origin name column)") from None
        return code

    def location(self, v: dict[str, str], found: dict[str, Location]) -> str:
        if "location" in v:
            if not v["location"]:
                raise Problem("location", "location is empty")
            try:
                return self.index.resolve(v["location"]).location.pcode
            except LedgerError as error:
                raise Problem("location", str(error)) from None
        cache_key = tuple(map(v.get, _CHAIN_FIELDS))
        known = self._chains.get(cache_key)
        if known is not None:
            return known
        pcode = self._chain(v, found)
        if not found:  # every location of the chain is registered or pending: reuse
            self._chains[cache_key] = pcode
        return pcode

    def _chain(self, v: dict[str, str], found: dict[str, Location]) -> str:
        codes = [blank(v.get(f"{lv}_code")).upper() for lv in CHAIN]
        names = [blank(v.get(f"{lv}_name")) for lv in CHAIN]
        level_text = v.get("admin_level", "")
        if level_text:
            if level_text not in ("0", "1", "2", "3"):
                raise Problem("admin_level", "admin level must be 0, 1, 2 or 3")
            level = int(level_text)
        elif any(codes):
            level = max(i for i, c in enumerate(codes) if c)
        else:
            raise Problem("country_code", "the row names no location (no p-code)")
        if not codes[level]:
            raise Problem(f"{CHAIN[level]}_code", f"no p-code for the {LEVELS[level]} row")
        for depth in range(level + 1):
            if codes[depth]:
                parent = codes[depth - 1] if depth else None
                self._ensure(
                    Location(codes[depth], names[depth], depth, parent or None), found, codes[level]
                )
        return codes[level]

    def _ensure(self, loc: Location, found: dict[str, Location], target: str) -> None:
        field = f"{CHAIN[loc.level]}_code"
        known = (
            self.index.by_pcode.get(loc.pcode)
            or self.new_locations.get(loc.pcode)
            or found.get(loc.pcode)
        )
        if known is not None:
            if known.level != loc.level or (loc.parent is not None and known.parent != loc.parent):
                raise Problem(
                    field,
                    (
                        f"p-code {loc.pcode} is known as {known.name}, {LEVELS[known.level]} under "
                        f"{known.parent}; the row says {LEVELS[loc.level]} under {loc.parent}"
                    ),
                )
            return
        if loc.level > 0 and loc.parent is None:
            raise Problem(field, f"new location {loc.pcode} needs its parent's p-code")
        if not loc.name:
            raise Problem(f"{CHAIN[loc.level]}_name", f"new location {loc.pcode} needs a name")
        try:
            validate_location(loc)
        except InvalidInput as error:
            raise Problem(field, str(error)) from None
        found[loc.pcode] = loc
