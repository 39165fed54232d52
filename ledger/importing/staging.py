"""Pass 1's storage: the valid rows wait in a temporary SQLite file (the *staging area*).

Memory does not grow with the file: grouping DTM parts into stocks and choosing BA over
SA is a ``GROUP BY ... ORDER BY`` that SQLite runs on disk.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import msgspec

from ledger.breakdowns import checked
from ledger.importing.identity import record_key

_DECODE = msgspec.json.Decoder().decode


@dataclass(frozen=True)
class Stock:
    """What one record should say: one row, or the summed parts of one DTM stock."""

    key: str
    assessment_type: str
    individuals: int
    households: int | None
    lines: tuple[int, ...]
    figure: dict[str, Any]
    record_id: UUID | None
    import_key: str | None
    breakdowns: dict[str, dict[str, int]] | None = None

    @property
    def rows_text(self) -> str:
        shown = ", ".join(str(n) for n in self.lines[:8])
        more = f" and {len(self.lines) - 8} more" if len(self.lines) > 8 else ""
        return f"row{'s' if len(self.lines) > 1 else ''} {shown}{more}"


def summed(rows: list[dict[str, dict[str, int]]]) -> dict[str, dict[str, int]] | None:
    """A stock's breakdowns: its rows' parts added value by value (each row's are within
    its individuals, so the sums are within the stock's); canonical order."""
    out: dict[str, dict[str, int]] = {}
    for row in rows:
        for dimension, parts in row.items():
            kept = out.setdefault(dimension, {})
            for value, n in parts.items():
                kept[value] = kept.get(value, 0) + n
    if not out:
        return None
    return checked(out, sum(sum(p.values()) for p in out.values()))


class StagingArea:
    """A temporary SQLite file holding the valid rows until they are grouped and written."""

    def __init__(self, directory: Path) -> None:
        self.db = sqlite3.connect(directory / "staging.db")
        self.db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
            "CREATE TABLE parts (key TEXT, atype TEXT, arank INT, line INT, individuals INT,"
            " households INT, cause TEXT, origin TEXT, breakdowns TEXT, payload TEXT, raw TEXT);"
            "CREATE TABLE rejected (line INTEGER PRIMARY KEY);"
            "CREATE TABLE seen (id TEXT PRIMARY KEY);"
        )

    def add(self, parts: list[tuple[Any, ...]]) -> None:
        self.db.executemany("INSERT INTO parts VALUES (?,?,?,?,?,?,?,?,?,?,?)", parts)

    def repeats(self, dtm: bool) -> Iterator[tuple[int, int, tuple[str, ...]]]:
        """Rows that repeat an earlier row's identity: (line, first line, raw cells)."""
        group = "key, atype, coalesce(cause,''), coalesce(origin,'')" if dtm else "key"
        query = (
            "SELECT line, first, raw FROM (SELECT line, raw, MIN(line) OVER (PARTITION BY "
            f"{group}) first FROM parts) WHERE line > first ORDER BY line"
        )
        for line, first, raw in self.db.execute(query):
            yield line, first, () if raw is None else tuple(_DECODE(raw))

    def reject(self, line: int) -> None:
        self.db.execute("INSERT OR IGNORE INTO rejected VALUES (?)", (line,))

    def stocks(self) -> Iterator[tuple[Stock | None, Stock]]:
        """Every stock in key order; BA before SA. Yields (chosen or None, stock)."""
        query = (
            "SELECT key, atype, SUM(individuals), CASE WHEN COUNT(households) = COUNT(*) "
            "THEN SUM(households) END, group_concat(line), MIN(line), payload, "
            "CASE WHEN COUNT(DISTINCT cause) = 1 AND COUNT(cause) = COUNT(*) THEN MIN(cause) END, "
            "json_group_array(json(breakdowns)) FILTER (WHERE breakdowns IS NOT NULL) "
            "FROM parts WHERE line NOT IN (SELECT line FROM rejected) "
            "GROUP BY key, arank, atype ORDER BY key, arank, atype"
        )
        previous: Stock | None = None
        for key, atype, ind, hh, lines, _first, payload, cause, parts in self.db.execute(query):
            figure = _DECODE(payload)
            figure["cause"] = cause
            record_id = figure.pop("record_id")
            explicit_key = figure.pop("import_key")
            stock = Stock(
                key=key,
                assessment_type=atype,
                individuals=int(ind),
                households=None if hh is None else int(hh),
                lines=tuple(sorted(map(int, str(lines).split(",")))),
                figure=figure,
                record_id=None if record_id is None else UUID(record_id),
                import_key=explicit_key or (record_key(key, atype) if record_id is None else None),
                breakdowns=summed(_DECODE(parts)),
            )
            chosen = previous if previous is not None and previous.key == key else None
            if chosen is None:
                previous = stock
            yield chosen, stock

    def mark_seen(self, ids: list[str]) -> None:
        self.db.executemany("INSERT OR IGNORE INTO seen VALUES (?)", [(i,) for i in ids])

    def unseen(self, ids: list[str]) -> set[str]:
        marks = ",".join("?" * len(ids))
        seen = {r[0] for r in self.db.execute(f"SELECT id FROM seen WHERE id IN ({marks})", ids)}
        return set(ids) - seen

    def close(self) -> None:
        self.db.close()
