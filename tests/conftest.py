"""Shared fixtures: every storage test runs on a SQLite file and on PostgreSQL.

PostgreSQL: one fresh database per test run (``dledger_test_<random>``), emptied before
each test, dropped at the end. Without a server the PostgreSQL cases skip with the reason,
except under CI (``CI=true``), where a missing server is a failure.

The default run (``make test``) holds every SQLite case and the PostgreSQL cases of the
modules whose subject is the storage itself (``BACKEND_MODULES``: SQL, the event store,
the chain and the tree, concurrency, roles); the PostgreSQL cases of the other modules,
whose subject is behaviour the backends share, are marked slow and run with ``make
test-slow`` (CI runs both). Each PostgreSQL case costs its own schema (~0.2 s of DDL).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import pytest

if TYPE_CHECKING:
    from ledger.application import Ledger

PG_ADMIN_URL = os.environ.get(
    "DLEDGER_TEST_PG_ADMIN", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _build_click_command_once() -> None:
    """typer's CliRunner rebuilds the whole click command tree on every invoke (~50 ms);
    the tree never changes within a run, so build it once."""
    import typer.testing

    build = getattr(typer.testing, "_get_command", None)
    if build is None:  # pragma: no cover - a typer without the private helper
        return
    built: dict[int, object] = {}

    def cached(app: object) -> object:
        if id(app) not in built:
            built[id(app)] = build(app)
        return built[id(app)]

    typer.testing._get_command = cached  # type: ignore[attr-defined]


_build_click_command_once()


# modules whose PostgreSQL cases stay in the default run: what they test is the storage
BACKEND_MODULES = frozenset(
    {
        "test_append_only", "test_breakdowns", "test_chain", "test_concurrency_postgres",
        "test_import_paths", "test_read_model_check", "test_recorder_contract",
        "test_replay_check", "test_speed_equivalence", "test_storage", "test_stored_format",
        "test_tree",
    }
)  # fmt: skip


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The PostgreSQL case of a test outside ``BACKEND_MODULES`` is a slow test."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is None or "postgresql" not in callspec.params.values():
            continue
        if item.module is not None and item.module.__name__.rpartition(".")[2] in BACKEND_MODULES:
            continue
        item.add_marker(pytest.mark.slow)


def pytest_configure(config: pytest.Config) -> None:
    """SQLite test files live in memory-backed /dev/shm when there is one: the same SQLite
    code and file semantics, without waiting on the disk for every commit."""
    shm = Path("/dev/shm")
    if config.option.basetemp is None and shm.is_dir() and os.access(shm, os.W_OK):
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        config.option.basetemp = str(shm / f"dledger-pytest-{os.getpid()}-{worker}")


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing_service(reason: str) -> NoReturn:
    """A service a test needs is missing: skip with the reason, or fail under CI=true."""
    if _in_ci():
        pytest.fail(f"CI=true and {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this run; its URL."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"dledger_test_{secrets.token_hex(4)}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:
        admin.dispose()
        reason = f"PostgreSQL not reachable at {make_url(PG_ADMIN_URL).render_as_string()}: "
        reason += str(error).splitlines()[0][:200]
        missing_service(reason)
    # fsync per commit is the server's durability, not the ledger's behaviour: off in tests
    url = (
        make_url(PG_ADMIN_URL)
        .set(database=name)
        .update_query_dict({"options": "-c synchronous_commit=off"})
        .render_as_string(hide_password=False)
    )
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def _empty_postgres(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A ``--db`` target with no ledger in it yet: a SQLite path, or a PostgreSQL URL."""
    if request.param == "sqlite":
        return str(tmp_path / "ledger.db")
    url: str = request.getfixturevalue("pg_database")
    _empty_postgres(url)
    return url


@pytest.fixture
def sqlite_target(tmp_path: Path) -> str:
    return str(tmp_path / "ledger.db")


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():  # pragma: no cover - the checkout always has ../shared
        pytest.skip(f"no shared data at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def ledger(db_target: str) -> Iterator[Ledger]:
    """An initialised ledger (tables created, Mali p-codes registered) on each backend."""
    from ledger.reference import mali_locations
    from ledger.storage import close_ledger, open_ledger

    opened = open_ledger(db_target, actor="tester", create=True)
    opened.register_locations(mali_locations(), source="test seed")
    try:
        yield opened
    finally:
        close_ledger(opened)


@pytest.fixture
def fresh_ledger(
    request: pytest.FixtureRequest, db_target: str, tmp_path: Path
) -> Iterator[Callable[[], Ledger]]:
    """A factory of empty initialised ledgers on the test's backend, for property tests
    (hypothesis runs many examples inside one test; each gets its own store)."""
    from ledger.reference import mali_locations
    from ledger.storage import close_ledger, open_ledger

    opened: list[Ledger] = []
    counter = iter(range(1_000_000))

    def make() -> Ledger:
        for old in opened:
            close_ledger(old)
        opened.clear()
        if db_target.startswith("postgresql"):
            _empty_postgres(db_target)
            target = db_target
        else:
            target = str(tmp_path / f"ledger-{next(counter)}.db")
        new = open_ledger(target, actor="tester", create=True)
        new.register_locations(mali_locations(), source="test seed")
        opened.append(new)
        return new

    yield make
    for old in opened:
        close_ledger(old)
