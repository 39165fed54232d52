"""The read models of reviews: every review, and the approved figure table they keep.

An approval makes the reviewed version the record's approved one, from the review's time
(the approved figure table then holds a copy of that version's row, current until the
record's next approval); another status given to the approved version takes the approval
back (the record is not counted by ``--approved-only`` until approved again). The figure
rule runs on the approved table unchanged. Household sizes' rows are read here too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from ledger.backends import Cursor
from projections.backends import ReadModels
from projections.projector import (
    REVIEW_TOPIC,
    SIZE_TOPIC,
    Event,
    UnreadableEvent,
    decode,
    event_time,
)
from projections.schema import APPROVED, REVIEWS, VERSIONS


class ReviewsProjector:
    """Applies review events: their rows, and the approved figure table."""

    def __init__(self, models: ReadModels, cur: Cursor) -> None:
        self.models = models
        self.cur = cur

    def apply(self, events: Sequence[Event]) -> None:
        """Each review, and what it does to the approved figure table: an approval makes
        the reviewed version the record's approved one (from the review's time); another
        status of the approved version takes the approval back."""
        for position, originator, version, topic, state in events:
            if topic != REVIEW_TOPIC:
                continue
            try:
                given = decode(state)
                at = event_time(given)
                record = UUID(given["record_id"]).hex
                reviewed, status = int(given["version"]), str(given["status"])
                row = (position, record, reviewed, status, given["comment"], given["actor"], at)
            except (ValueError, KeyError, TypeError, AttributeError):
                raise UnreadableEvent(
                    position, self.models.originator(originator), version
                ) from None
            self.models.insert_rows(self.cur, REVIEWS.name, REVIEWS.names, [row])
            self._approve(record, reviewed, status, at)

    def _approve(self, record: str, version: int, status: str, at: int) -> None:
        sql = self.models.sql
        self.cur.execute(
            sql(f"SELECT position, version, recorded_at FROM {APPROVED.name} "
                "WHERE record_id = ? AND superseded_at IS NULL"),
            (record,),
        )  # fmt: skip
        current = self.cur.fetchone()
        if current is not None and (int(current[1]) == version) == (status == "approved"):
            return  # approved again, or another status of a version not approved
        if current is not None and (status == "approved" or int(current[1]) == version):
            self.cur.execute(
                sql(f"UPDATE {APPROVED.name} SET superseded_at = ? "
                    "WHERE position = ? AND recorded_at = ?"),
                (at, current[0], current[2]),
            )  # fmt: skip
        if status == "approved":
            taken = {"recorded_at": "?", "superseded_at": "NULL"}
            columns = ", ".join(taken.get(c, c) for c in VERSIONS.names)
            self.cur.execute(
                sql(f"INSERT INTO {APPROVED.name} ({', '.join(VERSIONS.names)}) "
                    f"SELECT {columns} FROM {VERSIONS.name} WHERE record_id = ? AND version = ?"),
                (at, record, version),
            )  # fmt: skip


def sizes_of(models: ReadModels, events: Sequence[Event]) -> list[tuple[Any, ...]]:
    """The household-size rows of the sizes set in ``events``."""
    rows = []
    for position, originator, version, topic, state in events:
        if topic != SIZE_TOPIC:
            continue
        try:
            given = decode(state)
            at = event_time(given)
            rows.append((position, given["country"], int(given["year"]), str(given["size"]),
                         given["source"], given["actor"], at))  # fmt: skip
        except (ValueError, KeyError, TypeError, AttributeError):
            raise UnreadableEvent(position, models.originator(originator), version) from None
    return rows
