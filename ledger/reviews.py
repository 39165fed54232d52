"""Reviews of record versions: approved, changes requested or rejected, with a comment.

A review is an event of its own (one ``Review`` aggregate per review), naming the record
and the version it looked at, so the record's own history of figures is untouched and
the same version can be reviewed again. ``--approved-only`` counts each record at its
latest approved version (``projections``: the approved figure table).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event


class Status(StrEnum):
    APPROVED = "approved"
    CHANGES_REQUESTED = "changes-requested"
    REJECTED = "rejected"


class Review(Aggregate):
    """One review of one version of one figure record."""

    class Given(Aggregate.Created):
        record_id: str
        version: int
        status: str
        comment: str | None
        actor: str

    @event(Given)
    def __init__(
        self, record_id: str, version: int, status: str, comment: str | None, actor: str
    ) -> None:
        self.record_id = record_id
        self.version = version
        self.status = status
        self.comment = comment
        self.actor = actor


def review_of(
    record_id: UUID, version: int, status: Status, comment: str | None, actor: str
) -> Any:
    return Review(
        record_id=str(record_id), version=version, status=status.value, comment=comment,
        actor=actor,
    )  # fmt: skip
