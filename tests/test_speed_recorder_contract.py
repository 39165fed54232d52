"""The library's own application-recorder suite against ``LedgerRecorder`` (whose SQLite
insert path skips SQLAlchemy's per-row RETURNING), on a SQLite file and on PostgreSQL.

The suite's concurrency and throughput tests write about 100,000 events each: they run
with ``make test-slow`` (``-m slow``).
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path
from typing import Any, ClassVar

import eventsourcing.tests.persistence as contract
import pytest

from ledger.storage import close_ledger, open_ledger
from tests.conftest import PG_ADMIN_URL


class _LedgerRecorderContract(contract.ApplicationRecorderTestCase[Any]):
    __test__ = False  # the shared part; the subclasses below are the tests
    target: str

    def create_recorder(self) -> Any:
        self.ledger = open_ledger(self.target, actor="contract", create=True)
        return self.ledger.recorder

    def tearDown(self) -> None:
        if hasattr(self, "ledger"):
            close_ledger(self.ledger)
        super().tearDown()

    @pytest.mark.slow
    def test_concurrent_no_conflicts(self, initial_position: int = 0) -> None:
        super().test_concurrent_no_conflicts(initial_position)

    @pytest.mark.slow
    def test_concurrent_throughput(self) -> None:
        super().test_concurrent_throughput()

    @pytest.mark.slow
    def test_performance(self) -> None:
        super().test_performance()


class TestLedgerRecorderOnSQLite(_LedgerRecorderContract):
    __test__ = True

    def setUp(self) -> None:
        self.folder = tempfile.TemporaryDirectory()
        self.target = str(Path(self.folder.name) / "contract.db")
        super().setUp()

    def tearDown(self) -> None:
        super().tearDown()
        self.folder.cleanup()


@pytest.mark.postgres
class TestLedgerRecorderOnPostgreSQL(_LedgerRecorderContract):
    __test__ = True
    admin: ClassVar[Any]
    name: ClassVar[str]

    @classmethod
    def setUpClass(cls) -> None:
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        cls.admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        cls.name = f"dledger_contract_{secrets.token_hex(4)}"
        try:
            with cls.admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{cls.name}"'))
        except Exception as error:
            cls.admin.dispose()
            if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
                raise
            raise pytest.skip.Exception(f"PostgreSQL not reachable: {error}") from None
        cls.target = make_url(PG_ADMIN_URL).set(database=cls.name).render_as_string(False)
        super().setUpClass()

    @classmethod
    def tearDownClass(cls) -> None:
        from sqlalchemy import text

        with cls.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{cls.name}" WITH (FORCE)'))
        cls.admin.dispose()
        super().tearDownClass()

    def setUp(self) -> None:
        from tests.conftest import _empty_postgres

        _empty_postgres(self.target)
        super().setUp()
