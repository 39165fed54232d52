"""Reads never serve what the log does not say: a rebuild (and any catch-up) checks each
event against its hash-chain link as it replays, and refuses one the chain does not vouch
for, naming it, in one line; nothing of it reaches the read models."""

from __future__ import annotations

import json

import pytest

from ledger.application import Ledger
from ledger.backends import store_for
from ledger.errors import LedgerError
from ledger.integrity.replay import ReplayCheck
from ledger.targets import database_url
from tests.chain_tampering import event_ids, fill, link_of, state_of, target_of
from tests.command_line import dledger
from tests.tampering import tamper


@pytest.fixture
def read(ledger: Ledger) -> str:
    """A filled ledger whose read models are up to date; its target."""
    fill(ledger, records=6)
    target = target_of(ledger)
    assert dledger(target, "totals", "--as-of", "2018-02-28").code == 0
    return target


def _one_line(target: str, *args: str) -> str:
    outcome = dledger(target, *args)
    assert outcome.code == 1, outcome.stdout
    assert outcome.stderr.count("\n") == 1 and outcome.stderr.startswith("error: ")
    return outcome.stderr


def _bump(ledger: Ledger, event: int) -> None:
    """Change an event's number of individuals, keeping its JSON valid."""
    data = json.loads(state_of(ledger, event))
    data["individuals"] = data.get("individuals", 0) + 1000
    tamper(ledger, "UPDATE dledger_events SET state = :s WHERE id = :id",
           s=json.dumps(data, separators=(",", ":")).encode(), id=event)  # fmt: skip


def test_a_rebuild_refuses_an_altered_event_naming_it(ledger: Ledger, read: str) -> None:
    event = event_ids(ledger)[4]
    _bump(ledger, event)
    err = _one_line(read, "rebuild")
    version = link_of(ledger, event)[2]
    assert err.startswith(f"error: the event at log position {event} (record ")
    assert "does not match its hash-chain link" in err and f"version {version})" in err
    assert "run `dledger verify`" in err
    # the read models never serve it: the next read meets it again
    assert "does not match its hash-chain link" in _one_line(
        read, "totals", "--as-of", "2018-02-28"
    )


def test_a_catch_up_refuses_a_new_event_altered_before_it_was_read(
    ledger: Ledger, read: str
) -> None:
    fill(ledger, records=1)
    event = event_ids(ledger)[-1]
    _bump(ledger, event)
    err = _one_line(read, "totals", "--as-of", "2018-02-28")
    assert f"the event at log position {event} " in err


def test_a_deleted_event_is_named_when_replayed(ledger: Ledger, read: str) -> None:
    event = event_ids(ledger)[3]
    tamper(ledger, "DELETE FROM dledger_events WHERE id = :id", id=event)
    err = _one_line(read, "rebuild")
    assert f"the event at log position {event} (record " in err and "was deleted" in err


def test_an_event_written_outside_the_ledger_is_refused(ledger: Ledger, read: str) -> None:
    fill(ledger, records=1)
    event = event_ids(ledger)[-1]
    tamper(ledger, "DELETE FROM dledger_chain WHERE notification_id = :id", id=event)
    err = _one_line(read, "rebuild")
    assert f"the event at log position {event} " in err and "has no hash-chain link" in err


def test_an_intact_log_rebuilds_to_the_same_figures(read: str) -> None:
    asked = ("totals", "--as-of", "2018-02-28", "--known-at", "2100-01-01", "--format", "json")
    before = dledger(read, *asked).stdout
    assert dledger(read, "rebuild").code == 0
    assert dledger(read, *asked).stdout == before


@pytest.mark.parametrize("altered", [False, True])
def test_the_check_run_ahead_on_its_own_connection_agrees(ledger: Ledger, altered: bool) -> None:
    """``follow`` (a large backlog) checks the same pages on a thread of its own."""
    fill(ledger, records=30)
    ids = event_ids(ledger)
    if altered:
        _bump(ledger, ids[20])
    url = database_url(target_of(ledger))
    store = store_for(url)
    check = ReplayCheck(store)
    check.follow(lambda: store.connect(url), 0)
    conn = store.connect(url)
    try:
        with store.snapshot(conn) as cur:
            if altered:
                with pytest.raises(LedgerError, match=f"log position {ids[20]} "):
                    check.page(cur, 0, ids[-1])
            else:
                check.page(cur, 0, ids[10])
                check.page(cur, ids[10], ids[-1])
    finally:
        check.stop()
        conn.close()
