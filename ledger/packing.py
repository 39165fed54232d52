"""Events packed for SQLite's set-based inserts.

Python's ``sqlite3`` releases the GIL only inside each row's step of an ``executemany``,
so a thread that inserts rows while another encodes events hands the GIL back and forth
once per row, and each hand-over can wait for the interpreter's switch interval: the two
threads end up slower together than either alone. One ``INSERT … SELECT … FROM
json_each(?)`` instead binds a batch as three parameters (the originator ids and the
states, each concatenated into one blob, and a JSON array with one ``[version, topic
number, offset, length]`` per event) and runs the whole batch inside one step, with the
GIL released: the insert no longer competes with the encoding, and binding costs a join
and one JSON encode instead of four conversions per row.

Rows come out of the database exactly as sent: ``substr`` of a blob is a blob, byte for
byte (tests/test_storage.py compares every column with what an ``executemany`` stores).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import msgspec

# (originator id as 16 bytes, originator version, topic, state)
EventRow = tuple[bytes, int, str, bytes]

# a bound blob stays well under SQLite's default length limit (1,000,000,000 bytes)
PART_BYTES = 64 * 1024 * 1024
_encode = msgspec.json.Encoder().encode


@dataclass(frozen=True)
class Part:
    """Up to ``PART_BYTES`` of state: the parameters of one set-based INSERT."""

    count: int
    originator_ids: bytes
    states: bytes
    rows: bytes  # JSON: [[version, topic number, offset (1-based), length], ...]
    topics: bytes  # JSON: the topics the numbers refer to


@dataclass(frozen=True)
class PackedRows:
    rows: Sequence[EventRow]
    parts: list[Part]

    def __len__(self) -> int:
        return len(self.rows)


def pack(rows: Sequence[EventRow]) -> PackedRows:
    parts = []
    start = 0
    while start < len(rows):
        topics: dict[str, int] = {}
        meta = []
        offset = 1
        end = start
        while end < len(rows) and (end == start or offset <= PART_BYTES):
            _, version, topic, state = rows[end]
            number = topics.setdefault(topic, len(topics))
            meta.append((version, number, offset, len(state)))
            offset += len(state)
            end += 1
        chunk = rows[start:end]
        parts.append(
            Part(
                count=end - start,
                originator_ids=b"".join(r[0] for r in chunk),
                states=b"".join(r[3] for r in chunk),
                rows=_encode(meta),
                topics=_encode(list(topics)),
            )
        )
        start = end
    return PackedRows(rows, parts)


EVENTS_INSERT = (
    "INSERT INTO {table} (originator_id, originator_version, topic, state) "
    "SELECT substr(?1, 16 * j.key + 1, 16), j.value ->> 0, ?4 ->> (j.value ->> 1), "
    "substr(?2, j.value ->> 2, j.value ->> 3) FROM json_each(?3) AS j"
)
