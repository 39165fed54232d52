"""Raw-SQL tampering with a ledger's tables, as an attacker with database access would."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, text

if TYPE_CHECKING:
    from ledger.application import Ledger
    from ledger.chain import Checkpoint, Verification

EVENTS = "dledger_events"
CHAIN = "dledger_chain"


def engine_of(ledger: Ledger) -> Engine:
    engine = ledger.recorder.datastore.engine  # type: ignore[attr-defined]
    assert isinstance(engine, Engine)
    return engine


def sql(ledger: Ledger, statement: str, **params: Any) -> list[Any]:
    with engine_of(ledger).begin() as connection:
        result = connection.execute(text(statement), params)
        return list(result) if result.returns_rows else []


def fill(ledger: Ledger, records: int = 6) -> None:
    """A few figure records, some corrected, so the log has several aggregates."""
    ids = []
    for i in range(records):
        written = ledger.record(
            kind="registration",
            location=["Mopti", "Gao", "Ménaka"][i % 3],
            date="2018-01",
            individuals=str(100 + i),
            source={"publisher": "IOM DTM"},
        )
        ids.append(written.record_id)
    for record_id in ids[::2]:
        ledger.correct(record_id, individuals="7", reason="typo in the report")


def event_ids(ledger: Ledger) -> list[int]:
    return [row[0] for row in sql(ledger, f"SELECT id FROM {EVENTS} ORDER BY id")]


def link_of(ledger: Ledger, event_id: int) -> tuple[int, str, int]:
    """(position, record id hex, version) of the link of ``event_id``."""
    rows = sql(
        ledger,
        f"SELECT position, originator_id, originator_version FROM {CHAIN} "
        "WHERE notification_id = :id",
        id=event_id,
    )
    return rows[0][0], rows[0][1], rows[0][2]


def state_of(ledger: Ledger, event_id: int) -> bytes:
    return bytes(sql(ledger, f"SELECT state FROM {EVENTS} WHERE id = :id", id=event_id)[0][0])


def set_state(ledger: Ledger, event_id: int, state: bytes) -> None:
    from tests.tampering import tamper

    tamper(ledger, f"UPDATE {EVENTS} SET state = :s WHERE id = :id", s=state, id=event_id)


def target_of(ledger: Ledger) -> str:
    """The ``--db`` target the ledger was opened on (password included)."""
    return engine_of(ledger).url.render_as_string(hide_password=False)


def verify(ledger: Ledger, checkpoint: Checkpoint | None = None) -> Verification:
    from ledger.chain import open_log

    log = open_log(target_of(ledger))
    try:
        return log.verify(checkpoint)
    finally:
        log.close()


def head(ledger: Ledger) -> Checkpoint:
    from ledger.chain import open_log

    log = open_log(target_of(ledger))
    try:
        return log.head()
    finally:
        log.close()
