"""Named snapshots: a frozen result (as-of, known-at, log position, rows) kept as an event,
so no rebuild of the read models can lose it and later corrections cannot change it."""

from __future__ import annotations

import re
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from ledger.errors import InvalidInput

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")


def snapshot_id(name: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"https://displacement-ledger/snapshot/{name}")


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise InvalidInput(
            f"snapshot name {name!r} must start with a letter and use letters, digits, . _ -"
        )
    return name


class NamedSnapshot(Aggregate):
    class Taken(Aggregate.Created):
        name: str
        as_of: str
        known_at: str
        position: int
        location: str | None
        by: str | None
        result: dict[str, Any]
        actor: str

    @event(Taken)
    def __init__(
        self,
        name: str,
        as_of: str,
        known_at: str,
        position: int,
        location: str | None,
        by: str | None,
        result: dict[str, Any],
        actor: str,
        id: UUID,
    ) -> None:
        self.name = name
        self.as_of = as_of
        self.known_at = known_at
        self.position = position
        self.location = location
        self.by = by
        self.result = result
        self.actor = actor
