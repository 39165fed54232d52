"""Named snapshots: a frozen result (as-of, known-at, log position, rows) kept as an event,
so no rebuild of the read models can lose it and later corrections cannot change it."""

from __future__ import annotations

import re
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from ledger.errors import InvalidInput, LedgerError

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
        self.signed_off: dict[str, Any] | None = None

    class SignedOff(Aggregate.Event):
        """The snapshot made a release: who, when, the chain checkpoint its figures were
        computed at, and an Ed25519 signature of that statement when a key was given."""

        name: str
        actor: str
        at: str
        checkpoint: dict[str, Any]
        statement: str
        signature: str | None
        public_key: str | None

    def sign_off(self, **fields: Any) -> None:
        if self.signed_off is not None:
            raise LedgerError(
                f"snapshot {self.name!r} was signed off already, by {self.signed_off['actor']} "
                f"at {self.signed_off['at']}"
            )
        self._signed_off(name=self.name, **fields)

    @event(SignedOff)
    def _signed_off(
        self,
        name: str,
        actor: str,
        at: str,
        checkpoint: dict[str, Any],
        statement: str,
        signature: str | None,
        public_key: str | None,
    ) -> None:
        self.signed_off = {"actor": actor, "at": at, "checkpoint": checkpoint}
