"""The figure record's fields, defined once.

A figure record's first event (``FigureRecord.Recorded``) holds these fields, in this
order, as the keys of its stored JSON state. Everything else that names them is derived
from this table: the bulk encoder (``ledger.bulk``), the read models' columns and the
set-based SQL that fills them (``projections.schema``, ``projections.backends``), the
columns the import reads and the export writes (``ledger.importing``).
``tests/test_fields.py`` fails the moment the event class or one of those uses disagrees.

Adding a field is: a line here, the attribute on ``FigureRecord.Recorded`` and
``FigureRecord.__init__`` (same name, same place), and its uses (a validator in
``ledger.inputs``, what the figure rule or a view does with it). A field added after
events were stored gives its ``default`` to the events that lack it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["code", "text", "count", "day", "json"]

# The largest count a figure may hold: a hundred times the world's population, so no real
# figure reaches it, and the sum of nine million such figures still fits the 64-bit
# integers every backend stores and adds (SQLite's sum() fails beyond 2^63 - 1).
MAX_COUNT = 999_999_999_999  # 10^12 - 1


@dataclass(frozen=True)
class Field:
    """One field of a figure record.

    ``name`` is the event attribute and its JSON key; ``kind`` how the read models store
    it (a short ``code``, free ``text``, a ``count``, a ``day``, a ``json`` object);
    ``table`` which read-model table holds it (``versions``, the narrow figure table the
    figure rule scans, or ``details``) under ``column``; ``option`` the plain-CSV column
    and ``record`` option that sets it; ``hxl`` its hashtag in exports; ``amendable``
    whether a correction can change it.
    """

    name: str
    kind: Kind
    nullable: bool
    table: Literal["versions", "details"]
    column: str
    option: str | None = None
    hxl: str | None = None
    amendable: bool = False
    default: Any = None  # what an event stored before the field existed holds


FIGURE_FIELDS: tuple[Field, ...] = (
    Field("kind", "code", False, "versions", "kind", "kind", "#indicator+kind"),
    Field("pcode", "code", False, "versions", "pcode", "location", None, amendable=True),
    Field("date", "day", False, "versions", "day", "date", "#date+reported", amendable=True),
    Field("precision", "code", False, "versions", "precision", amendable=True),
    Field(
        "individuals", "count", False, "versions", "individuals", "individuals",
        "#affected+idps+ind", amendable=True,
    ),
    Field(
        "households", "count", True, "versions", "households", "households",
        "#affected+idps+hh", amendable=True,
    ),
    Field("source", "json", False, "details", "source"),
    # origin, cause and breakdowns sit in the figure table: totals --breakdown reads them
    # with the flows it scans (a join to the detail table per flow row doubled its cost)
    Field("origin", "code", True, "versions", "origin", "origin", "#loc+code+origin"),
    Field("cause", "text", True, "versions", "cause", "cause", "#cause+type"),
    Field("note", "text", True, "details", "note", "note", "#meta+note"),
    Field("actor", "text", False, "details", "actor", None, "#meta+actor"),
    Field("import_key", "text", True, "details", "import_key", "import_key", "#meta+key"),
    # {dimension: {value: individuals}} (ledger.breakdowns); absent from events stored
    # before layout 7, which read as None; exported as several columns (records.py)
    Field("breakdowns", "json", True, "versions", "breakdowns", amendable=True),
    # publishing (layout 9): recommended figures are counted, triangulation ones only
    # shown beside them; a quantifier says whether the number is exact or a bound
    Field("role", "code", False, "versions", "role", "role", "#meta+role",
          default="recommended"),
    Field("quantifier", "code", False, "versions", "quantifier", "quantifier",
          "#meta+quantifier", amendable=True, default="exact"),
    # a households-only figure's conversion: {"households", "size", "year", "source"}
    Field("conversion", "json", True, "details", "conversion", amendable=True),
)  # fmt: skip

BY_NAME = {f.name: f for f in FIGURE_FIELDS}
AMENDABLE = tuple(f.name for f in FIGURE_FIELDS if f.amendable)


@dataclass(frozen=True)
class SourceField:
    """One key of a record's ``source`` object (``ledger.inputs.Source``)."""

    name: str
    option: str  # plain-CSV column / `record` option
    hxl: str


SOURCE_FIELDS: tuple[SourceField, ...] = (
    SourceField("publisher", "source", "#meta+source"),
    SourceField("report", "report", "#meta+report"),
    SourceField("round", "round", "#round+code"),
    SourceField("url", "source_url", "#meta+url"),
    SourceField("published_on", "published_on", "#date+published"),
    SourceField("rounded", "rounded", "#affected+idps+ind+rounded"),
)

# what an amendment event holds besides its ``changes`` (``FigureRecord.Corrected`` and
# ``FigureRecord.Retracted``), and the read-model columns they fill
AMENDMENT_FIELDS = ("reason", "actor", "citation")
