"""Storage: eventsourcing-sqlalchemy with a recorder that inserts with SQLAlchemy Core.

The library's recorder adds one ORM object per event; ours sends one ``executemany``
with ``RETURNING`` for the notification ids, in the same transaction and under the same
table lock, so the ordering and optimistic-concurrency guarantees are unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import Notification, StoredEvent
from eventsourcing_sqlalchemy.factory import SQLAlchemyFactory
from eventsourcing_sqlalchemy.recorders import SQLAlchemyApplicationRecorder
from sqlalchemy import insert
from sqlalchemy.orm import Session

from ledger.integrity.links import append_links, chain_table_name, define_chain_table


class LedgerRecorder(SQLAlchemyApplicationRecorder):
    """Application recorder with a bulk insert path and the hash chain (ledger.integrity)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.chain_table = define_chain_table(chain_table_name(self.events_table_name))
        self.tables.append(self.chain_table)  # created with the events table

    def _insert_stored_events(
        self, session: Session, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int]:
        if not stored_events:
            return []
        table = self.events_record_cls.__table__
        self._lock_table(session)
        rows = [
            {
                "originator_id": e.originator_id,
                "originator_version": e.originator_version,
                "topic": e.topic,
                "state": e.state,
            }
            for e in stored_events
        ]
        statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        ids = [row[0] for row in session.execute(statement, rows)]
        self.after_insert(
            session,
            [
                Notification(
                    id=nid,
                    originator_id=e.originator_id,
                    originator_version=e.originator_version,
                    topic=e.topic,
                    state=e.state,
                )
                for nid, e in zip(ids, stored_events, strict=True)
            ],
        )
        self._notify_channel(session)
        return ids

    def after_insert(self, session: Session, notifications: list[Notification]) -> None:
        """Called inside the write transaction with the events just inserted."""
        append_links(session, self.chain_table, notifications)


class LedgerFactory(SQLAlchemyFactory):
    application_recorder_class = LedgerRecorder
