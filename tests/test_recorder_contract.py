"""The eventsourcing library's own recorder test suites, run against our LedgerRecorder.

``LedgerRecorder`` replaces the library's ORM insert with a Core ``executemany``; these
suites (insert/select, notification order and gaps, concurrent writers, non-interleaving
ids) are the library's definition of a correct application recorder. Run on a SQLite
file and on PostgreSQL. The module is imported, not its class names, so that unittest
does not collect the abstract bases.
"""

from __future__ import annotations

import gc
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from eventsourcing.tests import persistence as contract
from eventsourcing_sqlalchemy.datastore import SQLAlchemyDatastore

from ledger.persistence import LedgerRecorder


class _LedgerRecorderOn:
    """Mixin: a fresh LedgerRecorder on a fresh table of the chosen database."""

    url: str
    datastores: list[SQLAlchemyDatastore]

    def create_recorder(self) -> LedgerRecorder:
        datastore = SQLAlchemyDatastore(url=self.url)
        self.datastores.append(datastore)
        recorder = LedgerRecorder(
            datastore=datastore, events_table_name=f"contract_{secrets.token_hex(4)}_events"
        )
        recorder.create_table()
        return recorder

    def tearDown(self) -> None:
        for datastore in self.datastores:
            if datastore.engine is not None:
                datastore.engine.dispose()
        gc.collect()  # connections the suite's threads dropped are closed now, not at exit


class TestLedgerRecorderOnSQLiteFile(_LedgerRecorderOn, contract.ApplicationRecorderTestCase):
    @pytest.fixture(autouse=True)
    def _database(self, tmp_path: Path) -> None:
        self.url = f"sqlite:///{tmp_path / 'contract.db'}"
        self.datastores = []

    @pytest.mark.slow
    def test_performance(self) -> None:
        super().test_performance()

    @pytest.mark.slow
    def test_concurrent_throughput(self) -> None:
        super().test_concurrent_throughput()

    @pytest.mark.slow
    def test_concurrent_no_conflicts(self, initial_position: int = 0) -> None:
        super().test_concurrent_no_conflicts(initial_position)


class TestLedgerRecorderOnPostgreSQL(_LedgerRecorderOn, contract.ApplicationRecorderTestCase):
    @pytest.fixture(autouse=True)
    def _database(self, pg_database: str) -> None:
        self.url = pg_database
        self.datastores = []

    @pytest.mark.slow
    def test_performance(self) -> None:
        super().test_performance()

    @pytest.mark.slow
    # the library's throughput benchmark drops pooled psycopg connections in its threads
    @pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
    @pytest.mark.filterwarnings("ignore::ResourceWarning")
    def test_concurrent_throughput(self) -> None:
        super().test_concurrent_throughput()

    @pytest.mark.slow
    def test_concurrent_no_conflicts(self, initial_position: int = 0) -> None:
        super().test_concurrent_no_conflicts(initial_position)


class TestNoInterleavingOnSQLiteFile(
    _LedgerRecorderOn, contract.NonInterleavingNotificationIDsBaseCase
):
    insert_num = 200

    @pytest.fixture(autouse=True)
    def _database(self, tmp_path: Path) -> None:
        self.url = f"sqlite:///{tmp_path / 'contract.db'}"
        self.datastores = []


class TestNoInterleavingOnPostgreSQL(
    _LedgerRecorderOn, contract.NonInterleavingNotificationIDsBaseCase
):
    insert_num = 200

    @pytest.fixture(autouse=True)
    def _database(self, pg_database: str) -> Iterator[None]:
        self.url = pg_database
        self.datastores = []
        yield
