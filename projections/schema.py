"""The read models' tables. All of them can be dropped and rebuilt from the event log.

``dlp_versions`` is the bitemporal figure table: one row per version of every record,
with the valid date it describes (``day``: the proleptic Gregorian ordinal, an integer on
every backend) and the system-time interval during which it was the current version
(``recorded_at`` inclusive, ``superseded_at`` exclusive, NULL = still current). Times are
integer microseconds since the Unix epoch (UTC): exact, portable and cheap to index.
``dlp_details`` holds what a version says beyond its figure (who, why, from where), kept
apart so the table the figure rule scans and indexes stays narrow. ``dlp_locations`` is
the gazetteer as the log says it, each location with its ancestors (so "at X or below"
is an index seek); ``dlp_snapshots`` the named snapshots, their results included.

The figure record's columns come from ``ledger.fields``; the backends give the types
(``projections.backends``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from ledger.fields import FIGURE_FIELDS


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # position | code | text | int | count | day | json
    nullable: bool = True


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    primary_key: str

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


@dataclass(frozen=True)
class Index:
    name: str
    table: str
    columns: tuple[str, ...]
    unique: bool = False


def _field_columns(table: str) -> tuple[Column, ...]:
    return tuple(Column(f.column, f.kind, f.nullable) for f in FIGURE_FIELDS if f.table == table)


POSITIONS = Table(
    "dlp_position", (Column("view", "code", False), Column("position", "count", False)), "view"
)
VERSIONS = Table(
    "dlp_versions",
    (
        # the log position of the event a row comes from: unique and ascending in log
        # order, so a catch-up appends to the table instead of inserting at random keys
        Column("position", "position", False),
        Column("record_id", "code", False),
        Column("version", "int", False),
        Column("action", "code", False),  # recorded | corrected | retracted
        *_field_columns("versions")[:2],  # kind, pcode
        Column("country", "code", False),  # ancestors, for "at X or below X" as a seek
        Column("adm1", "code"),
        Column("adm2", "code"),
        *_field_columns("versions")[2:],  # day, precision, individuals, households
        Column("retracted", "int", False),
        Column("created_at", "count", False),  # when version 1 was recorded
        Column("recorded_at", "count", False),
        Column("superseded_at", "count"),
    ),
    "position",
)
DETAILS = Table(
    "dlp_details",
    (
        Column("position", "position", False),
        *_field_columns("details"),
        Column("reason", "text"),
        Column("citation", "text"),
        Column("changes", "json", False),  # [{field, old, new}, ...]
    ),
    "position",
)
LOCATIONS = Table(
    "dlp_locations",
    (
        Column("pcode", "code", False),
        Column("name", "text", False),
        Column("level", "int", False),
        Column("parent", "code"),
        Column("variants", "json", False),
        Column("country", "code", False),
        Column("adm1", "code"),
        Column("adm2", "code"),
    ),
    "pcode",
)
# what was done to each location, event by event: registered, variants added, corrected
LOCATION_CHANGES = Table(
    "dlp_location_changes",
    (
        Column("position", "count", False),
        Column("pcode", "code", False),
        Column("action", "code", False),  # registered | variants | corrected
        Column("changes", "json", False),  # {field: [old, new]} (registered: the entry)
        Column("reason", "text"),
        Column("source", "text"),
        Column("actor", "text", False),
        Column("at", "count", False),
    ),
    "position, pcode",
)
SNAPSHOTS = Table(
    "dlp_snapshots",
    (
        Column("name", "code", False),
        Column("as_of", "code", False),
        Column("known_at", "code", False),
        Column("position", "count", False),
        Column("location", "code"),
        Column("by_level", "code"),
        Column("actor", "text", False),
        Column("created_at", "count", False),
        Column("result", "json", False),
        # its sign-off: {"actor", "at", "checkpoint", "statement", "signature", "public_key"}
        Column("signed_off", "json"),
    ),
    "name",
)
# every review of a record version (ledger.reviews)
REVIEWS = Table(
    "dlp_reviews",
    (
        Column("position", "position", False),
        Column("record_id", "code", False),
        Column("version", "int", False),
        Column("status", "code", False),
        Column("comment", "text"),
        Column("actor", "text", False),
        Column("at", "count", False),
    ),
    "position",
)
# every household size set (ledger.households), the last set for a year in force
HOUSEHOLD_SIZES = Table(
    "dlp_household_sizes",
    (
        Column("position", "position", False),
        Column("country", "code", False),
        Column("year", "int", False),
        Column("size", "code", False),
        Column("source", "text", False),
        Column("actor", "text", False),
        Column("at", "count", False),
    ),
    "position",
)
# the approved figure table: the figure table's rows as approved, each current (system
# time) from its approval until the record's next approval, or until a later review of
# the same version takes the approval back; --approved-only runs the figure rule on it
APPROVED = Table("dlp_approved", VERSIONS.columns, "position, recorded_at")
TABLES = (
    POSITIONS, VERSIONS, DETAILS, LOCATIONS, LOCATION_CHANGES, SNAPSHOTS, REVIEWS, APPROVED,
    HOUSEHOLD_SIZES,
)  # fmt: skip
VERSION_INDEXES = (
    Index("dlp_versions_record", "dlp_versions", ("record_id", "version"), unique=True),
    Index("dlp_versions_at", "dlp_versions", ("pcode", "kind", "day")),
    Index("dlp_versions_country", "dlp_versions", ("country", "kind", "day")),
    Index("dlp_versions_adm1", "dlp_versions", ("adm1", "kind", "day")),
    Index("dlp_versions_adm2", "dlp_versions", ("adm2", "kind", "day")),
    Index("dlp_versions_recorded", "dlp_versions", ("recorded_at",)),
)
# built with their (small) tables; the approved table is sought like the figure table
REVIEW_INDEXES = (
    Index("dlp_reviews_record", "dlp_reviews", ("record_id", "version")),
    Index("dlp_approved_record", "dlp_approved", ("record_id", "version")),
    *(
        Index(i.name.replace("dlp_versions", "dlp_approved"), "dlp_approved", i.columns)
        for i in VERSION_INDEXES
        if i.name != "dlp_versions_record" and i.name != "dlp_versions_recorded"
    ),
)

VIEW_FIGURES = "figures"
# the read models' layout; a database holding another is dropped and rebuilt from the log
VIEW_SCHEMA = "schema"
# 5: day ordinals, locations, snapshot results; 6: location history; 7: breakdown parts
# (a table of their own, given up); 8: breakdowns, origin and cause in the figure table;
# 9: role, quantifier, households conversion, reviews and sign-offs
SCHEMA_VERSION = 9
# the largest lead, in days, of a version's date over the UTC day it was recorded on: no
# version known at instant K is dated after day(K) + lead, so a query as known at K can
# bound its dates by that (a historical question about a later date then seeks instead
# of scanning every later record); the row is absent while the figure table is empty
VIEW_LEAD = "lead_days"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EPOCH_ORDINAL = 719_163  # date(1970, 1, 1).toordinal()
MICROS_PER_DAY = 86_400_000_000


def to_micros(moment: datetime) -> int:
    delta = moment.astimezone(UTC) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    seconds, rest = divmod(micros, 1_000_000)
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=rest)
