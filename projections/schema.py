"""Read-model tables. All of them can be dropped and rebuilt from the event log.

``dlp_versions`` is the bitemporal figure table: one row per version of every record,
with the valid date it describes and the system-time interval during which it was the
current version (``recorded_at`` inclusive, ``superseded_at`` exclusive, NULL = still
current). Times are integer microseconds since the Unix epoch (UTC): exact, portable and
cheap to index on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Date,
    Index,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    Text,
    select,
)

metadata = MetaData()

positions = Table(
    "dlp_position",
    metadata,
    Column("view", String(32), primary_key=True),
    Column("position", BigInteger, nullable=False),
)

# the log position of the event a row comes from: unique, and ascending in log order, so
# a catch-up appends to the table instead of inserting at random keys (on SQLite an
# INTEGER PRIMARY KEY is the rowid itself)
_POSITION = BigInteger().with_variant(Integer, "sqlite")

# record ids, kinds and p-codes are codes: compared byte by byte, as SQLite's BINARY
# collation does. On PostgreSQL the "C" collation gives the same order whatever the
# database's locale, and lets index builds sort on abbreviated keys (a rebuild at ten
# million events builds its indexes in a fraction of the time a locale collation takes)
_CODE = String(32).with_variant(String(32, collation="C"), "postgresql")
_KIND = String(12).with_variant(String(12, collation="C"), "postgresql")

versions = Table(
    "dlp_versions",
    metadata,
    Column("position", _POSITION, primary_key=True, autoincrement=False),
    Column("record_id", _CODE, nullable=False),
    Column("version", Integer, nullable=False),
    Column("action", String(12), nullable=False),
    Column("kind", _KIND, nullable=False),
    Column("pcode", _CODE, nullable=False),
    # ancestors, for "at X or any location below X" as an index seek
    Column("country", _CODE, nullable=False),
    Column("adm1", _CODE),
    Column("adm2", _CODE),
    Column("day", Date, nullable=False),
    Column("precision", String(5), nullable=False),
    Column("individuals", BigInteger, nullable=False),
    Column("households", BigInteger),
    Column("retracted", Boolean, nullable=False),
    Column("created_at", BigInteger, nullable=False),  # when version 1 was recorded
    Column("recorded_at", BigInteger, nullable=False),
    Column("superseded_at", BigInteger),
    Index("dlp_versions_record", "record_id", "version", unique=True),
    Index("dlp_versions_at", "pcode", "kind", "day"),
    Index("dlp_versions_country", "country", "kind", "day"),
    Index("dlp_versions_adm1", "adm1", "kind", "day"),
    Index("dlp_versions_adm2", "adm2", "kind", "day"),
    Index("dlp_versions_recorded", "recorded_at"),
)

# what a version says beyond its figure: who, why, from where. Kept apart so that the
# figure table the totals scan and index stays narrow; read only for the few rows an
# explanation, a history or a revision shows.
details = Table(
    "dlp_details",
    metadata,
    Column("position", _POSITION, primary_key=True, autoincrement=False),
    Column("actor", Text, nullable=False),
    Column("reason", Text),
    Column("citation", Text),
    Column("changes", Text),  # JSON list of {field, old, new}
    Column("source", Text, nullable=False),  # JSON object, as the event holds it
    Column("origin", String(32)),
    Column("cause", Text),
    Column("note", Text),
)

VERSION_COLUMNS = [*versions.c, *(c for c in details.c if c.key != "position")]
_WITH_DETAILS = versions.join(details, versions.c.position == details.c.position)


def select_versions() -> Select[Any]:
    """Every column of a record version, its details included."""
    return select(*VERSION_COLUMNS).select_from(_WITH_DETAILS)


# each known location with its ancestors, so that the set-based catch-up can fill the
# ancestor columns of ``dlp_versions`` with a join (kept in step with the gazetteer)
ancestry = Table(
    "dlp_locations",
    metadata,
    Column("pcode", _CODE, primary_key=True),
    Column("country", _CODE, nullable=False),
    Column("adm1", _CODE),
    Column("adm2", _CODE),
)

snapshots = Table(
    "dlp_snapshots",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("as_of", Date, nullable=False),
    Column("known_at", Text, nullable=False),
    Column("position", BigInteger, nullable=False),
    Column("location", String(32)),
    Column("by_level", String(8)),
    Column("actor", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

VIEW_FIGURES = "figures"
# the read models' layout; a database holding another is dropped and rebuilt from the log
VIEW_SCHEMA = "schema"
SCHEMA_VERSION = 4  # 4: code columns in the "C" collation on PostgreSQL
# the largest lead, in days, of a version's date over the UTC day it was recorded on: no
# version known at instant K is dated after day(K) + lead, so a query as known at K can
# bound its dates by that (a historical question about a later date then seeks instead
# of scanning every later record); the row is absent while the figure table is empty
VIEW_LEAD = "lead_days"


def read_position(conn: Connection, view: str = VIEW_FIGURES) -> int:
    value = read_position_or_none(conn, view)
    return value if value is not None else 0


def read_position_or_none(conn: Connection, view: str) -> int | None:
    """The number a ``dlp_position`` row holds (a tracking position, the layout version,
    the lead in days), or None when the row is absent."""
    value = conn.execute(select(positions.c.position).where(positions.c.view == view)).scalar()
    return int(value) if value is not None else None


def to_micros(moment: datetime) -> int:
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    seconds, rest = divmod(micros, 1_000_000)
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=rest)
