"""The reference for point-in-time totals: DuckDB over the same facts, in memory.

The figure table's rows are loaded once (not timed); each query then runs the figure rule
for one country and its admin1 regions, expressed in SQL over the three-level hierarchy
of the benchmark catalogue (country → admin1 → admin2), as a full scan.
"""

from __future__ import annotations

import csv
import tempfile
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from projections.schema import VERSIONS

if TYPE_CHECKING:
    from projections.service import ReadService

COLUMNS = (
    "record_id",
    "position",
    "kind",
    "pcode",
    "country",
    "adm1",
    "adm2",
    "day",
    "individuals",
    "retracted",
    "created_at",
    "recorded_at",
    "superseded_at",
)
DAY = COLUMNS.index("day")

# $1 known_at (µs), $2 as_of, $3 country
FIGURE_RULE_SQL = """
WITH f AS (
    SELECT * FROM v
    WHERE country = $3 AND recorded_at <= $1
      AND (superseded_at IS NULL OR superseded_at > $1)
      AND NOT retracted AND day <= $2
),
base AS (
    SELECT pcode, arg_max(individuals, (day, created_at, position)) AS ind, max(day) AS bday
    FROM f WHERE kind = 'assessment' GROUP BY pcode
),
flows AS (
    SELECT pcode, adm1, adm2, day,
           CASE WHEN kind = 'return' THEN -individuals ELSE individuals END AS s
    FROM f WHERE kind <> 'assessment'
),
own AS (SELECT pcode, sum(s) AS s FROM flows GROUP BY pcode),
below2 AS (
    SELECT b.pcode, sum(fl.s) AS s FROM base b JOIN flows fl ON fl.adm2 = b.pcode
    WHERE fl.day > b.bday GROUP BY b.pcode
),
l2 AS (
    SELECT l.pcode, l.parent,
           CASE WHEN b.pcode IS NOT NULL THEN b.ind + coalesce(bw.s, 0)
                ELSE coalesce(o.s, 0) END AS ind
    FROM loc l LEFT JOIN base b USING (pcode) LEFT JOIN below2 bw USING (pcode)
    LEFT JOIN own o USING (pcode)
    WHERE l.level = 2 AND l.country = $3
),
below1 AS (
    SELECT b.pcode, sum(fl.s) AS s FROM base b JOIN flows fl ON fl.adm1 = b.pcode
    WHERE fl.day > b.bday GROUP BY b.pcode
),
kids1 AS (SELECT parent AS pcode, sum(ind) AS s FROM l2 GROUP BY parent),
l1 AS (
    SELECT l.pcode,
           CASE WHEN b.pcode IS NOT NULL THEN b.ind + coalesce(bw.s, 0)
                ELSE coalesce(k.s, 0) + coalesce(o.s, 0) END AS ind
    FROM loc l LEFT JOIN base b USING (pcode) LEFT JOIN below1 bw USING (pcode)
    LEFT JOIN kids1 k USING (pcode) LEFT JOIN own o USING (pcode)
    WHERE l.level = 1 AND l.country = $3
),
below0 AS (
    SELECT sum(fl.s) AS s FROM base b JOIN flows fl ON true
    WHERE b.pcode = $3 AND fl.day > b.bday
),
l0 AS (
    SELECT CASE WHEN b.pcode IS NOT NULL THEN b.ind + coalesce((SELECT s FROM below0), 0)
                ELSE (SELECT coalesce(sum(ind), 0) FROM l1)
                     + coalesce((SELECT s FROM own WHERE pcode = $3), 0) END AS ind
    FROM (SELECT $3 AS pcode) c LEFT JOIN base b USING (pcode)
)
SELECT $3 AS pcode, (SELECT ind FROM l0) AS ind
UNION ALL
SELECT pcode, ind FROM l1
"""


class DuckTotals:
    """DuckDB in memory, holding the figure table's facts and the location hierarchy."""

    def __init__(self, reader: ReadService) -> None:
        import duckdb

        index = reader.index
        self.db = duckdb.connect(":memory:")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "facts.csv"
            with reader.models.streaming(reader.conn) as cur, path.open("w", newline="") as out:
                writer = csv.writer(out)
                writer.writerow(COLUMNS)
                cur.execute(f"SELECT {', '.join(COLUMNS)} FROM {VERSIONS.name}")
                while rows := cur.fetchmany(20_000):
                    for row in rows:
                        row = list(row)
                        row[DAY] = date.fromordinal(row[DAY]).isoformat()
                        writer.writerow(row)
            self.db.execute(
                f"CREATE TABLE v AS SELECT * FROM read_csv('{path}', header=true, "
                "types={'superseded_at': 'BIGINT', 'adm1': 'VARCHAR', 'adm2': 'VARCHAR', "
                "'day': 'DATE', 'retracted': 'BOOLEAN'})"
            )
        rows = [
            (loc.pcode, loc.level, loc.parent, index.country_of(loc.pcode))
            for loc in index.by_pcode.values()
        ]
        self.db.execute(
            "CREATE TABLE loc (pcode VARCHAR, level INT, parent VARCHAR, country VARCHAR)"
        )
        self.db.executemany("INSERT INTO loc VALUES (?, ?, ?, ?)", rows)
        self.rows = int(self.db.execute("SELECT count(*) FROM v").fetchone()[0])  # type: ignore[index]

    def totals(self, known_at: int, as_of: date, country: str) -> dict[str, int]:
        result: list[Any] = self.db.execute(FIGURE_RULE_SQL, [known_at, as_of, country]).fetchall()
        return {pcode: int(ind or 0) for pcode, ind in result}
