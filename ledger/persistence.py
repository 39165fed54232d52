"""The write side's storage: eventsourcing-sqlalchemy, with every append going through the
event store seam (``ledger.backends``).

The library's recorder adds one ORM object per event; ours hands the batch to the
backend's ``append`` on the session's own driver connection: one set-based INSERT
(SQLite) or one ``COPY`` (PostgreSQL), the hash chain's links in the same transaction and
under the same append lock, so the ordering and optimistic-concurrency guarantees are
the library's (its own recorder test suites run against it:
tests/test_recorder_contract.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing_sqlalchemy.factory import SQLAlchemyFactory
from eventsourcing_sqlalchemy.recorders import SQLAlchemyApplicationRecorder
from sqlalchemy.orm import Session

from ledger.backends import EventRow, EventStore, store_for
from ledger.integrity.links import define_chain_table


class LedgerRecorder(SQLAlchemyApplicationRecorder):
    """Application recorder whose appends go through ``ledger.backends`` (hash chain included)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        engine: Any = self.datastore.engine
        self.store: EventStore = store_for(
            str(engine.url) if engine is not None else "", self.events_table_name
        )
        self.chain_table = define_chain_table(self.store.chain_table)
        self.tables.append(self.chain_table)  # created with the events table

    def _insert_stored_events(
        self, session: Session, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int]:
        rows = [
            (_id_bytes(e.originator_id), e.originator_version, e.topic, e.state)
            for e in stored_events
        ]
        return self.append_rows(session, rows)

    def append_rows(self, session: Session, rows: Sequence[EventRow]) -> list[int]:
        """Append ready-encoded events (and their chain links) in the session's transaction."""
        if not rows:
            return []
        cur = driver_connection(session).cursor()
        try:
            ids = self.store.append(cur, rows)
        except Exception as error:
            if self.store.is_conflict(error):  # a version that exists: another writer's
                raise IntegrityError(str(error)) from error
            raise
        finally:
            cur.close()
        self._notify_channel(session)
        return ids


def driver_connection(session: Session) -> Any:
    """The driver's own connection that the session's transaction runs on."""
    return session.connection().connection.driver_connection


def _id_bytes(originator_id: UUID | str) -> bytes:
    return (originator_id if isinstance(originator_id, UUID) else UUID(originator_id)).bytes


class LedgerFactory(SQLAlchemyFactory):
    application_recorder_class = LedgerRecorder
