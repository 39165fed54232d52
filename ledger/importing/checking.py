"""Pass 1's checks: each source row becomes a staged part (the values a record will hold)
or the ``RowError``s that say what is wrong with it, in the file's own column names.

Locations a row names by its p-code chain are resolved against the registry or collected
as new ones (registered with the import); nothing is written here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import msgspec
from pydantic import ValidationError

from ledger.breakdowns import DIMENSIONS, checked, parse_list_cell
from ledger.errors import LedgerError
from ledger.importing.identity import scope_of, stock_key
from ledger.importing.places import Places, Problem, blank
from ledger.importing.rows import SourceRow
from ledger.inputs import NewFigure, figure_counts
from ledger.locations import Location, LocationIndex

ASSESSMENT_RANK = {"BA": 0, "SA": 1}
DEFAULT_DTM_PUBLISHER = "IOM DTM"
# Rows that say the same apart from their location and counts are validated in full once:
# ``NewFigure``'s checks of each other field depend on that field's text alone, so the
# same text passes the same way (a date that is not in the future stays so). The counts
# of every row are checked by the model's own functions (``figure_counts``), and a row
# that fails them is validated in full, so that its errors read as the model words them.
SHAPES_KEPT = 4096  # distinct row shapes remembered; memory stays bounded
_SOURCE_COLUMNS = {
    "source.publisher": "publisher",
    "source.published_on": "published_on",
    "source.url": "source_url",
    "source.round": "round",
    "source.rounded": "rounded",
}
_ENCODE = msgspec.json.Encoder().encode


@dataclass(frozen=True)
class RowError:
    """One problem with one row: ``row`` is the line in the file (the header is line 1)."""

    row: int
    column: str | None
    value: str | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "value": self.value, "reason": self.reason}

    def __str__(self) -> str:
        where = f", column {self.column}" if self.column else ""
        value = f" ({self.value!r})" if self.value not in (None, "") else ""
        return f"row {self.row}{where}{value}: {self.reason}"


@dataclass(frozen=True)
class _Checked:
    """What ``NewFigure`` made of a row's fields other than its location and counts."""

    kind: str
    date: str
    source: dict[str, Any]
    publisher: str
    round: str | None
    origin: str | None
    cause: str | None
    note: str | None
    role: str
    quantifier: str

    @classmethod
    def of(cls, figure: NewFigure) -> _Checked:
        return cls(
            kind=figure.kind.value,
            date=str(figure.date),
            source=figure.source.model_dump(exclude_none=True),
            publisher=figure.source.publisher,
            round=figure.source.round,
            origin=figure.origin,
            cause=figure.cause,
            note=figure.note,
            role=figure.role.value,
            quantifier=figure.quantifier.value,
        )


def _figure_values(shape: tuple[str | None, ...], pcode: str, v: dict[str, str]) -> dict[str, Any]:
    """The ``NewFigure`` input of a row (``shape`` as ``RowChecker.check`` builds it)."""
    (kind, date, publisher, report, round_, url, published_on, rounded, origin, cause, note,
     role, quantifier) = shape  # fmt: skip
    return {
        "kind": kind,
        "pcode": pcode,
        "date": date,
        "individuals": v.get("individuals", ""),
        "households": v.get("households"),
        "source": {
            "publisher": publisher,
            "report": report,
            "round": round_,
            "url": url,
            "published_on": published_on,
            "rounded": rounded,
        },
        "origin": origin,
        "cause": blank(cause) or None,
        "note": note,
        "role": role or None,
        "quantifier": quantifier or None,
    }


def _number(texts: Any) -> list[int]:
    """The counts among some cells (what is not one is checked, and named, later)."""
    return [int(t) for t in (str(x).strip().replace(",", "") for x in texts) if t.isdigit()]


class RowChecker:
    """Turns a source row into a staged part, resolving or collecting its locations."""

    def __init__(
        self,
        index: LocationIndex,
        columns: dict[str, str],
        *,
        dtm: bool,
        default_publisher: str | None,
        keep_raw: bool = True,
    ) -> None:
        self.index = index
        self.keep_raw = keep_raw  # the original cells, staged for a rejects file
        self.columns = columns
        self.dtm = dtm
        self.default_publisher = default_publisher
        # `#affected+idps` counts the IDPs present: a stock, unless a kind column says otherwise
        self.default_kind = "" if "location" in columns else "assessment"
        self.places = Places(index)
        self._checked: dict[tuple[str | None, ...], _Checked] = {}  # row shape -> its checks

    @property
    def new_locations(self) -> dict[str, Location]:
        """The locations the rows checked so far name and the registry lacks."""
        return self.places.new_locations

    def error(self, row: SourceRow, field: str, reason: str) -> RowError:
        column = self.columns.get(field, field)
        return RowError(row.line, column, row.values.get(field), reason)

    def check(self, row: SourceRow) -> tuple[tuple[Any, ...] | None, list[RowError]]:
        v = row.values
        errors: list[RowError] = []
        if "__extra__" in v:
            errors.append(RowError(row.line, None, v["__extra__"], "more cells than columns"))
        if v.get("invalid"):  # the publisher's own flag (HDX HAPI's error column)
            errors.append(self.error(row, "invalid", v["invalid"]))
        found: dict[str, Location] = {}
        pcode = "ZZZ"
        try:
            pcode = self.places.location(v, found)
        except Problem as problem:
            errors.append(self.error(row, problem.field, problem.reason))
        origin: str | None = None
        if not self.dtm and blank(v.get("origin")):
            try:
                origin = self.index.resolve(v["origin"]).location.pcode
            except LedgerError as error:
                errors.append(self.error(row, "origin", str(error)))
        publisher = v.get("publisher") or self.default_publisher
        if not publisher and self.dtm:
            publisher = DEFAULT_DTM_PUBLISHER
        operation = v.get("operation") or None
        shape = (
            v.get("kind") or self.default_kind,
            v.get("date", ""),
            publisher,
            v.get("report") or operation,
            v.get("round"),
            v.get("source_url"),
            v.get("published_on"),
            v.get("rounded"),
            origin,
            v.get("cause"),
            v.get("note"),
            v.get("role"),
            v.get("quantifier"),
        )
        checked = None if errors else self._checked.get(shape)
        if checked is not None:
            try:
                individuals, households = figure_counts(
                    v.get("individuals", ""), v.get("households")
                )
            except ValueError:
                checked = None  # validated in full below, to report it in the model's words
        if checked is None:
            try:
                figure = NewFigure.model_validate(_figure_values(shape, pcode, v))
            except ValidationError as invalid:
                return None, errors + [self._invalid(row, detail) for detail in invalid.errors()]
            except LedgerError as error:  # FigureDate.parse raises ours from inside a validator
                field = "published_on" if str(error).startswith("publication date") else "date"
                return None, [*errors, self.error(row, field, str(error))]
            if errors:
                return None, errors
            checked = _Checked.of(figure)
            individuals, households = figure.individuals, figure.households
            if len(self._checked) >= SHAPES_KEPT:
                self._checked.clear()
            self._checked[shape] = checked
        record_id = None
        if v.get("record_id"):
            try:
                record_id = UUID(v["record_id"])
            except ValueError:
                return None, [self.error(row, "record_id", "not a record id (a UUID)")]
        breakdowns, part_errors = self._breakdowns(row, individuals, found)
        if part_errors:
            return None, part_errors
        self.places.new_locations.update(found)
        atype = blank(v.get("assessment_type")).upper()
        extra = () if self.dtm else (origin or "", checked.cause or "")
        key = stock_key(
            scope_of(operation, checked.publisher),
            checked.round,
            checked.kind,
            pcode,
            checked.date,
            extra,
        )
        if record_id is not None:
            key = f"id:{record_id}"
        payload = {
            "kind": checked.kind,
            "pcode": pcode,
            "date": checked.date,
            "origin": checked.origin,
            "cause": checked.cause,
            "note": checked.note,
            "role": checked.role,
            "quantifier": checked.quantifier,
            "source": checked.source,
            "record_id": None if record_id is None else str(record_id),
            "import_key": v.get("import_key") or None,
        }
        return (
            key,
            atype,
            ASSESSMENT_RANK.get(atype, 2),
            row.line,
            individuals,
            households,
            blank(v.get("cause")) or None,
            blank(v.get("origin")) or None,
            None if breakdowns is None else _ENCODE(breakdowns),
            _ENCODE(payload),
            _ENCODE(row.raw) if self.keep_raw else None,
        ), []

    @property
    def carried(self) -> tuple[str, ...]:
        """The dimensions this file's columns can break a figure down by (what its stocks
        say of them replaces what an existing record had)."""
        fields = set(self.columns)
        found = {f.split(":", 1)[0] for f in fields if f.startswith(("sex:", "age:"))}
        found |= {f.removesuffix("_parts") for f in fields if f.endswith("_parts")}
        if self.dtm:
            found |= {f for f in ("cause", "origin") if f in fields}
        return tuple(d for d in DIMENSIONS if d in found)

    def _breakdowns(
        self, row: SourceRow, individuals: int, found: dict[str, Location]
    ) -> tuple[dict[str, dict[str, int]] | None, list[RowError]]:
        """A row's breakdowns: its sex and age columns and list cells; a DTM row's reason
        and origin are the parts it is of its stock ("Not available": not disaggregated)."""
        v = row.values
        raw: dict[str, dict[str, Any]] = {}
        where: dict[str, str] = {}
        for key, text in v.items():
            if key.startswith(("sex:", "age:")) and text:
                dimension, value = key.split(":", 1)
                raw.setdefault(dimension, {})[value] = text
                where.setdefault(dimension, key)
        if sum(_number(raw.get("sex", {}).values())) == 0 and individuals:
            raw.pop("sex", None)  # DTM writes 0 and 0 where it has no sex breakdown
        try:
            for dimension in ("cause", "origin"):
                cell = v.get(f"{dimension}_parts")
                if cell:
                    where[dimension] = f"{dimension}_parts"
                    raw[dimension] = parse_list_cell(dimension, cell)
            if self.dtm and blank(v.get("cause")):
                where["cause"] = "cause"
                raw["cause"] = {blank(v.get("cause")): individuals}
            if self.dtm and blank(v.get("origin")):
                where["origin"] = "origin"
                raw["origin"] = {self.places.dtm_origin(v, found): individuals}
            elif "origin" in raw:
                raw["origin"] = {
                    self.places.origin(query, v, found): n for query, n in raw["origin"].items()
                }
            return checked(raw, individuals), []
        except Problem as problem:
            return None, [self.error(row, problem.field, problem.reason)]
        except (ValueError, LedgerError) as error:
            dimension = str(error).removeprefix("breakdown ").split(":")[0].split(" ")[0]
            return None, [self.error(row, where.get(dimension, "breakdown"), str(error))]

    def _invalid(self, row: SourceRow, detail: Any) -> RowError:
        loc = [str(p) for p in detail.get("loc", ())]
        field = _SOURCE_COLUMNS.get(".".join(loc), loc[0] if loc else "row")
        reason = str(detail.get("msg", "invalid")).removeprefix("Value error, ")
        return self.error(row, field, reason)
