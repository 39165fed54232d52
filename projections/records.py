"""Records as the read models hold them: every version of one, snapshots, the export."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ledger.breakdowns import list_cell
from ledger.fields import FIGURE_FIELDS, SOURCE_FIELDS
from ledger.locations import Location, LocationIndex
from projections.totals import Totals

CHAIN = ("country", "adm1", "adm2", "adm3")


def location_ref(index: LocationIndex, pcode: str | None) -> dict[str, Any] | None:
    if pcode is None:
        return None
    if pcode not in index:
        return {"pcode": pcode, "name": None, "level": None}
    loc = index.get(pcode)
    return {"pcode": loc.pcode, "name": loc.name, "level": loc.level_name}


@dataclass(frozen=True)
class Version:
    """One version of a record: what it said, what its event changed, who, when, why, and
    until when it was the current version (None: it still is)."""

    record_id: str
    version: int
    action: str  # recorded | corrected | retracted
    kind: str
    pcode: str
    date: str  # as given, with its precision (2017-12)
    individuals: int
    households: int | None
    source: dict[str, Any]
    origin: str | None
    cause: str | None
    note: str | None
    retracted: bool
    recorded_at: datetime
    actor: str
    reason: str | None
    citation: str | None
    changes: tuple[dict[str, Any], ...]
    current_until: datetime | None
    reviews: tuple[dict[str, Any], ...] = ()  # {status, comment, actor, at}, oldest first
    role: str = "recommended"
    quantifier: str = "exact"
    db_user: str | None = None  # the database session user that appended it, if known
    breakdowns: dict[str, dict[str, int]] | None = None
    conversion: dict[str, Any] | None = None

    def to_json(self, index: LocationIndex) -> dict[str, Any]:
        return {
            "record_id": self.record_id,
            "version": self.version,
            "action": self.action,
            "kind": self.kind,
            "location": location_ref(index, self.pcode),
            "date": self.date,
            "individuals": self.individuals,
            "households": self.households,
            "source": self.source,
            "origin": location_ref(index, self.origin),
            "cause": self.cause,
            "note": self.note,
            "retracted": self.retracted,
            "recorded_at": self.recorded_at.isoformat(),
            "actor": self.actor,
            "db_user": self.db_user,
            "reason": self.reason,
            "changes": [dict(c) for c in self.changes],
            "current_until": None if self.current_until is None else self.current_until.isoformat(),
            "role": self.role,
            "quantifier": self.quantifier,
            "breakdowns": self.breakdowns,
            "conversion": self.conversion,
            "reviews": [dict(r) for r in self.reviews],
        }


@dataclass(frozen=True)
class History:
    record_id: str
    versions: tuple[Version, ...]
    index: LocationIndex

    def to_json(self) -> dict[str, Any]:
        return {
            "record_id": self.record_id,
            "versions": [v.to_json(self.index) for v in self.versions],
        }


@dataclass(frozen=True)
class SnapshotSummary:
    name: str
    as_of: str
    known_at: str
    position: int
    location: str | None
    by: str | None
    actor: str
    created_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "as_of": self.as_of,
            "known_at": self.known_at,
            "position": self.position,
            "location": self.location,
            "by": self.by,
            "actor": self.actor,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class Snapshot:
    """A kept snapshot: its totals exactly as they were computed (``result``, the JSON
    contract's totals object, or ``countries`` of them)."""

    summary: SnapshotSummary
    result: dict[str, Any]
    signed_off: dict[str, Any] | None = None
    # with a sign-off: every change recorded after it to a record in the snapshot's scope
    # dated on or before its as-of, and the figures that are not what they were then
    changed: tuple[dict[str, Any], ...] = ()
    figures_changed: tuple[dict[str, Any], ...] = ()

    @property
    def totals(self) -> tuple[Totals, ...]:
        return tuple(Totals.from_json(c) for c in self.result.get("countries", [self.result]))

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {**self.summary.to_json(), "result": self.result}
        data["signed_off"] = self.signed_off
        if self.signed_off is not None:
            data["changed_since_sign_off"] = list(self.changed)
            data["figures_changed_since_sign_off"] = list(self.figures_changed)
        return data


# The export's columns, derived from the figure record's fields: each record's id, import
# key and version, then its fields in order, its location as the chain of p-codes and
# names (so `import` registers locations it does not know) and its source's parts.
def _export_columns() -> tuple[tuple[str, str], ...]:
    columns = [("record_id", "#meta+id"), ("import_key", "#meta+key"), ("version", "#meta+version")]
    for f in FIGURE_FIELDS:
        if f.name == "pcode":
            for level in CHAIN:
                columns += [
                    (f"{level}_code", f"#{level}+code"),
                    (f"{level}_name", f"#{level}+name"),
                ]
            columns.append(("admin_level", "#adm+level"))
        elif f.name == "source":
            columns += [(s.option, s.hxl) for s in SOURCE_FIELDS]
        elif f.hxl is not None and f.name != "import_key":
            columns.append((f.option or f.name, f.hxl))
    return tuple(columns)


EXPORT_COLUMNS = _export_columns()
# the breakdowns (ledger.breakdowns): sex as DTM's two columns, causes and origins as list
# cells ("Conflict=120; Natural disaster=30", an origin as "Name (P-CODE)=N"), then one
# column per age band the ledger holds (export_columns)
BREAKDOWN_COLUMNS = (
    ("females", "#affected+idps+ind+f"),
    ("males", "#affected+idps+ind+m"),
    ("cause_breakdown", "#cause+type+list"),
    ("origin_breakdown", "#adm1+code+origin+list"),
)


def age_column(band: str) -> tuple[str, str]:
    """An age band's export column: ``age_0_4`` / ``#affected+idps+ind+age0_4``."""
    attribute = band.replace("-", "_").replace("+", "plus")
    return f"age_{attribute}", f"#affected+idps+ind+age{attribute}"


def export_columns(bands: Sequence[str]) -> tuple[tuple[str, str], ...]:
    return (*EXPORT_COLUMNS, *BREAKDOWN_COLUMNS, *(age_column(b) for b in bands))


# a cell a spreadsheet would run as a formula begins with one of these (OWASP's list); it
# is exported with a leading apostrophe, and so is a cell that begins with one, so the
# import can undo it exactly (``unescape_cell``)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")


def escape_cell(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def export_row(
    values: dict[str, Any],
    location: Location,
    index: LocationIndex,
    columns: Sequence[tuple[str, str]] = EXPORT_COLUMNS,
) -> list[str]:
    """One record's cells in ``columns`` order (``values``: its fields by name), safe to
    open in a spreadsheet."""
    cells: dict[str, str] = {}
    breakdowns = values.pop("breakdowns", None) or {}
    for name, value in values.items():
        cells[name] = "" if value is None else str(value)
    sexes = breakdowns.get("sex", {})
    for sex, column in (("female", "females"), ("male", "males")):
        cells[column] = "" if sex not in sexes else str(sexes[sex])
    for band, n in breakdowns.get("age", {}).items():
        cells[age_column(band)[0]] = str(n)
    cells["cause_breakdown"] = list_cell(breakdowns.get("cause", {}))
    origins = breakdowns.get("origin", {})
    cells["origin_breakdown"] = list_cell(
        {f"{index.get(p).name} ({p})" if p in index else p: n for p, n in origins.items()}
    )
    source = values["source"]
    for s in SOURCE_FIELDS:
        cells[s.option] = str(source.get(s.name, ""))
    for pcode in [location.pcode, *index.ancestors(location.pcode)]:
        loc = index.get(pcode)
        cells[f"{CHAIN[loc.level]}_code"] = loc.pcode
        cells[f"{CHAIN[loc.level]}_name"] = loc.name
    cells["admin_level"] = str(location.level)
    return [escape_cell(cells.get(name, "")) for name, _ in columns]


def rows_of(results: Sequence[Sequence[Any]], names: Sequence[str]) -> Iterator[dict[str, Any]]:
    for row in results:
        yield dict(zip(names, row, strict=True))


@dataclass(frozen=True)
class LocationChange:
    """One thing done to a location: registered, variants added, or corrected."""

    position: int
    action: str
    changes: dict[str, Any]
    reason: str | None
    source: str | None
    actor: str
    recorded_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "action": self.action,
            "changes": self.changes,
            "reason": self.reason,
            "source": self.source,
            "actor": self.actor,
            "recorded_at": self.recorded_at.isoformat(),
        }


@dataclass(frozen=True)
class LocationHistory:
    location: Location
    changes: tuple[LocationChange, ...]

    def to_json(self) -> dict[str, Any]:
        loc = self.location
        return {
            "location": {"pcode": loc.pcode, "name": loc.name, "level": loc.level_name,
                         "parent": loc.parent},
            "changes": [c.to_json() for c in self.changes],
        }  # fmt: skip
