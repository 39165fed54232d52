"""The log's tables refuse UPDATE, DELETE (and TRUNCATE) in the database itself; a ledger
written before that is upgraded when opened for writing; on PostgreSQL the ledger works
under a role that may only INSERT and SELECT, and records who wrote each event."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from ledger.application import Ledger
from ledger.integrity import merkle
from ledger.integrity.tree import leaf_of
from ledger.storage import close_ledger, open_ledger
from ledger.targets import database_url
from tests.chain_tampering import fill, sql, target_of, verify
from tests.command_line import dledger
from tests.tampering import PROTECTED, drop_append_only_triggers

STATEMENTS = [
    "UPDATE {table} SET {key} = {key} WHERE {key} = {value}",
    "DELETE FROM {table} WHERE {key} = {value}",
    "DELETE FROM {table}",
]
# a row of each table (SQLite's triggers run per row: a statement that changes none passes)
ROWS = {
    "dledger_events": ("id", 1),
    "dledger_chain": ("position", 1),
    "dledger_tree": ("position", 16),
}


def _refused(target: str, statement: str) -> str:
    engine = create_engine(database_url(target))
    try:
        with pytest.raises(DBAPIError) as caught, engine.begin() as connection:
            connection.execute(text(statement))
    finally:
        engine.dispose()
    return str(caught.value.orig)


@pytest.mark.parametrize("statement", STATEMENTS)
@pytest.mark.parametrize("table", PROTECTED)
def test_the_database_refuses_to_change_the_log(ledger: Ledger, table: str, statement: str) -> None:
    fill(ledger, records=20)  # 32 links: the tree holds nodes
    key, value = ROWS[table]
    message = _refused(target_of(ledger), statement.format(table=table, key=key, value=value))
    assert f"{table} is append-only" in message
    assert verify(ledger).intact


def test_truncate_is_refused_on_postgresql(ledger: Ledger) -> None:
    if engine_name(ledger) != "postgresql":
        pytest.skip("SQLite has no TRUNCATE")
    assert "append-only: TRUNCATE refused" in _refused(target_of(ledger), "TRUNCATE dledger_events")


def engine_name(ledger: Ledger) -> str:
    return str(ledger.recorder.datastore.engine.dialect.name)  # type: ignore[attr-defined]


def _make_old(target: str) -> None:
    """Take the ledger back to how an earlier version left it: no triggers, no tree, no
    db_user column."""
    engine = create_engine(database_url(target))
    with engine.begin() as connection:
        drop_append_only_triggers(connection)
        connection.execute(text("DROP TABLE dledger_tree"))
        connection.execute(text("ALTER TABLE dledger_chain DROP COLUMN db_user"))
    engine.dispose()


def test_a_ledger_written_before_is_upgraded_when_opened_for_writing(db_target: str) -> None:
    old = open_ledger(db_target, create=True)
    from ledger.reference import mali_locations

    old.register_locations(mali_locations(), source="test seed")
    fill(old, records=40)
    close_ledger(old)
    _make_old(db_target)
    upgraded = open_ledger(db_target)
    try:
        links = sql(upgraded, "SELECT hash FROM dledger_chain ORDER BY position")
        leaves = [leaf_of(bytes(h)) for (h,) in links]
        stored = sum(len(leaves) >> height for height in range(4, 64))
        assert len(sql(upgraded, "SELECT * FROM dledger_tree")) == stored > 0
        fill(upgraded, records=3)  # appends extend the filled tree
        result = verify(upgraded)
        assert result.intact and result.tree_stored
        leaves += [leaf_of(bytes(h)) for (h,) in sql(
            upgraded, "SELECT hash FROM dledger_chain WHERE position > :p ORDER BY position",
            p=len(leaves),
        )]  # fmt: skip
        assert result.tree_root == merkle.root(leaves).hex()
        assert "append-only" in _refused(db_target, "DELETE FROM dledger_events")
    finally:
        close_ledger(upgraded)


def test_dropped_triggers_come_back_when_the_ledger_is_next_written(ledger: Ledger) -> None:
    target = target_of(ledger)
    engine = create_engine(database_url(target))
    with engine.begin() as connection:
        assert len(drop_append_only_triggers(connection)) in (3, 6)
    engine.dispose()
    again = open_ledger(target)
    close_ledger(again)
    assert "append-only" in _refused(target, "UPDATE dledger_events SET state = state")


def test_session_users_name_who_wrote_each_event(ledger: Ledger) -> None:
    from ledger.chain import open_log, session_users

    fill(ledger, records=2)
    ids = [n for (n,) in sql(ledger, "SELECT notification_id FROM dledger_chain")]
    log = open_log(target_of(ledger))
    try:
        with log.reading() as cur:
            users = session_users(log.store, cur, ids)
    finally:
        log.close()
    if engine_name(ledger) == "sqlite":
        assert users == {}  # SQLite has no users: the column stays NULL
    else:
        user = sql(ledger, "SELECT session_user")[0][0]
        assert users == dict.fromkeys(ids, user)


def test_roles_are_postgresql_only_and_nothing_is_written(tmp_path: Path) -> None:
    db = str(tmp_path / "ledger.db")
    outcome = dledger(db, "init", "--writer-role", "clerk")
    assert outcome.code == 1 and outcome.stderr.count("\n") == 1
    assert "PostgreSQL" in outcome.stderr
    assert not Path(db).exists()


# -- PostgreSQL roles ---------------------------------------------------------------------


@pytest.fixture
def roles(db_target: str) -> Iterator[tuple[str, str, str]]:
    """A fresh PostgreSQL ledger and the names of a writer and a reader role (dropped at
    the end: roles belong to the whole server)."""
    if not db_target.startswith("postgresql"):
        pytest.skip("database roles are PostgreSQL's")
    tag = secrets.token_hex(3)
    names = (f"dledger_test_writer_{tag}", f"dledger_test_reader_{tag}")
    try:
        yield db_target, *names
    finally:
        engine = create_engine(database_url(db_target), isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            for name in names:
                connection.execute(text(
                    f"DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{name}') "
                    f"THEN EXECUTE 'DROP OWNED BY {name}'; EXECUTE 'DROP ROLE {name}'; END IF; "
                    "END $$"
                ))  # fmt: skip
        engine.dispose()


def _as(target: str, role: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(target).set(username=role, password=None).render_as_string(hide_password=False)


def test_a_writer_role_with_only_insert_and_select_writes(
    roles: tuple[str, str, str], tmp_path: Path
) -> None:
    owner, writer, reader = roles
    made = dledger(owner, "init", "--writer-role", writer, "--reader-role", reader)
    assert made.code == 0, made.stderr
    assert f"created role {writer} (writer" in made.stderr
    as_writer = _as(owner, writer)
    recorded = dledger(as_writer, "record", "registration", "--location", "Gao",
                       "--date", "2018-01", "--individuals", "1164", "--source", "DTM")  # fmt: skip
    assert recorded.code == 0, recorded.stderr
    record_id = recorded.stdout.strip()
    assert dledger(as_writer, "correct", record_id, "--individuals", "1200",
                   "--reason", "typo").code == 0  # fmt: skip
    rows = tmp_path / "rows.csv"
    rows.write_text("kind,location,date,individuals,source\nassessment,Mali,2017-12,38172,DTM\n")
    imported = dledger(as_writer, "import", str(rows))
    assert imported.code == 0, imported.stderr
    totals = dledger(_as(owner, reader), "totals", "--as-of", "2018-02-28", "--format", "json")
    assert totals.code == 0, totals.stderr
    assert '"individuals": 39372' in totals.stdout
    engine = create_engine(database_url(owner))
    with engine.connect() as connection:
        grants = connection.execute(text(
            "SELECT table_name, privilege_type FROM information_schema.role_table_grants "
            "WHERE grantee = :w AND table_name LIKE 'dledger_%'"
        ), {"w": writer}).all()  # fmt: skip
        users = connection.execute(
            text("SELECT DISTINCT db_user FROM dledger_chain WHERE db_user = :w"), {"w": writer}
        ).all()
    engine.dispose()
    assert {p for _, p in grants} == {"SELECT", "INSERT"}
    assert users == [(writer,)]
    assert verify_target(owner)


def test_history_and_explain_name_the_database_user_beside_the_declared_actor(
    roles: tuple[str, str, str],
) -> None:
    owner, writer, reader = roles
    assert dledger(owner, "init", "--writer-role", writer, "--reader-role", reader).code == 0
    recorded = dledger(_as(owner, writer), "--actor", "amadou", "record", "registration",
                       "--location", "Gao", "--date", "2018-01", "--individuals", "1164",
                       "--source", "DTM")  # fmt: skip
    assert recorded.code == 0, recorded.stderr
    record_id = recorded.stdout.strip()
    as_reader = _as(owner, reader)
    shown = dledger(as_reader, "history", record_id, "--format", "csv").stdout.splitlines()
    assert shown[0].endswith(",actor,change,reason,date,location,individuals,households,"
                             "database user")  # fmt: skip
    assert ",amadou,recorded," in shown[1] and shown[1].endswith(f",{writer}")
    history = json.loads(dledger(as_reader, "history", record_id, "--format", "json").stdout)
    assert [(v["actor"], v["db_user"]) for v in history["versions"]] == [("amadou", writer)]
    tree = dledger(as_reader, "explain", "Gao", "--as-of", "2018-01-31")
    assert "(database user" in tree.stdout and writer in tree.stdout, tree.stdout
    explained = dledger(as_reader, "explain", "Gao", "--as-of", "2018-01-31", "--format", "json")
    flows = json.loads(explained.stdout)["flows"]
    assert [(f["actor"], f["db_user"]) for f in flows] == [("amadou", writer)]
    # the owner recording as itself: the two agree and only the actor is shown
    mine = dledger(owner, "--actor", owner_user(owner), "record", "registration",
                   "--location", "Gao", "--date", "2018-02", "--individuals", "5",
                   "--source", "DTM")  # fmt: skip
    assert "database user" not in dledger(owner, "history", mine.stdout.strip()).stdout
    tree = dledger(owner, "explain", "Gao", "--as-of", "2018-02-28")
    flows = json.loads(dledger(owner, "explain", "Gao", "--as-of", "2018-02-28",
                               "--format", "json").stdout)["flows"]  # fmt: skip
    assert [f["db_user"] == f["actor"] for f in flows] == [False, True]
    assert tree.stdout.count("(database user") == 1


def owner_user(target: str) -> str:
    from sqlalchemy.engine import make_url

    return str(make_url(database_url(target)).username)


def verify_target(target: str) -> bool:
    outcome = dledger(target, "verify")
    return outcome.code == 0


@pytest.mark.parametrize(
    "statement, refusal",
    [
        ("UPDATE dledger_events SET state = state", "permission denied"),
        ("DELETE FROM dledger_chain", "permission denied"),
        ("ALTER TABLE dledger_events DISABLE TRIGGER ALL", "must be owner"),
        ("INSERT INTO dledger_chain (position, notification_id, originator_id, "
         "originator_version, hash, db_user) VALUES (999, 999, 'x', 1, '\\x00', 'someone')",
         "permission denied"),
    ],
)  # fmt: skip
def test_the_writer_role_cannot_rewrite_or_disguise(
    roles: tuple[str, str, str], statement: str, refusal: str
) -> None:
    owner, writer, _ = roles
    assert dledger(owner, "init", "--writer-role", writer).code == 0
    message = _refused(_as(owner, writer), statement)
    assert refusal in message


def test_the_reader_role_cannot_append(roles: tuple[str, str, str]) -> None:
    owner, _, reader = roles
    assert dledger(owner, "init", "--reader-role", reader).code == 0
    outcome = dledger(_as(owner, reader), "record", "assessment", "--location", "Mali",
                      "--date", "2017", "--individuals", "1", "--source", "x")  # fmt: skip
    assert outcome.code == 1 and outcome.stderr.count("\n") == 1
    assert "permission denied" in outcome.stderr
    assert head_of(owner) == 2  # the gazetteer created, the p-code list registered


def head_of(target: str) -> int:
    outcome = dledger(target, "checkpoint")
    return int(outcome.stdout.splitlines()[1].split()[1])


def test_a_superuser_cannot_be_made_a_writer(roles: tuple[str, str, str]) -> None:
    owner, _, _ = roles
    outcome = dledger(owner, "init", "--writer-role", "postgres")
    assert outcome.code == 1 and "superuser" in outcome.stderr


def test_no_password_is_ever_shown(
    roles: tuple[str, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    owner, writer, _ = roles
    monkeypatch.setenv("DLEDGER_WRITER_PASSWORD", "s3cr3t-pw")
    outcome = dledger(owner, "init", "--writer-role", writer)
    assert outcome.code == 0, outcome.stderr
    assert "s3cr3t" not in outcome.stdout + outcome.stderr
    assert "with the password given" in outcome.stderr
