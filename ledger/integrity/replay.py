"""Checking the log against its hash chain as the read models replay it.

A catch-up applies the log page by page (``projections.catchup``); in the transaction that
applies a page, ``ReplayCheck.page`` makes sure every event of it is the one its chain link
was computed from (recomputing the link), that none was deleted and that none lacks a link,
and refuses the page otherwise, naming the event. A catch-up from position 0 (a rebuild,
the first read of a ledger) starts from the chain's genesis, so it checks every link as it
replays; a later catch-up starts from the stored link of the last event it applied. Either
way the read models never take in an event the chain does not vouch for.

On a large backlog, ``follow`` runs the same check on a connection of its own, a thread
that walks the log ahead of the pages being applied; ``page`` then only waits until the
thread has passed the page. Hashing in Python holds the interpreter while applying a page
mostly runs inside the database, so the two overlap instead of adding up.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from hashlib import sha256
from typing import Any
from uuid import UUID

from ledger.backends import Connection, Cursor, EventStore
from ledger.integrity.encoding import (
    GENESIS,
    LINK_DOMAIN,
    PLACE_ID,
    U64,
    VERSION_TOPIC,
    link_hash,
    originator_hex,
)
from ledger.integrity.errors import ChainBroken, NoChain

PAGE = 10_000
_EVENTS = (
    "SELECT id, originator_id, originator_version, topic, state FROM {table} "
    "WHERE id > ? AND id <= ? ORDER BY id"
)
_PAGE_END = "SELECT max(id) FROM (SELECT id FROM {table} WHERE id > ? ORDER BY id LIMIT ?) AS p"
# by position: the links of a page follow the link of the event before it
_LINKS = (
    "SELECT position, notification_id, hash FROM {table} "
    "WHERE position > ? AND position <= ? ORDER BY position"
)
_LINKS_OF = (
    "SELECT position, notification_id, originator_id, originator_version, hash FROM {table} "
    "WHERE {column} IN ({marks})"
)
_START = (
    "SELECT notification_id, position, hash FROM {table} WHERE notification_id <= ? "
    "ORDER BY notification_id DESC LIMIT 1"
)
_NOT_LINKED = "it has no hash-chain link: it was written outside the ledger"
_ALTERED = "it does not match its hash-chain link: the log was altered outside the ledger"


class ReplayCheck:
    """Follows one catch-up: where the chain stands after the last page it passed."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self._after = -1  # the notification id the chain state below is for
        self._position = 0
        self._previous = GENESIS
        self._follower: _Follower | None = None

    def page(self, cur: Cursor, after: int, last: int) -> None:
        """Check the events (after, last]; raise ChainBroken naming the first that fails."""
        follower = self._follower
        if follower is not None and follower.passed(after, last):
            return
        if after != self._after:
            self._start(cur, after)
        self._check(cur, after, last)

    def follow(self, connect: Callable[[], Connection], start: int) -> None:
        """Check the log from ``start`` on, ahead, on a connection of its own (``stop``)."""
        self.stop()
        self._follower = _Follower(self.store, connect, start)

    def stop(self) -> None:
        if self._follower is not None:
            self._follower.stop()
            self._follower = None

    def vouch(self, cur: Cursor, events: Sequence[Any]) -> None:
        """Check events read out of turn (ahead of their page) each against its own link
        and the stored hash of the link before it; their pages check the chain whole."""
        if not events:
            return
        self._require_chain(cur)
        links = self._links(cur, "notification_id", [int(e[0]) for e in events])
        previous = self._links(cur, "position", [int(link[0]) - 1 for link in links.values()])
        for event in events:
            link = links.get(int(event[0]))
            if link is None:
                raise _broken(event, _NOT_LINKED)
            before = previous.get(int(link[0]) - 1)
            prior = bytes(before[4]) if before is not None else GENESIS
            eid, oid, version, topic, state = event
            try:
                recomputed = link_hash(
                    prior, link[0], eid, originator_hex(oid), version, topic, bytes(state)
                )
            except (TypeError, ValueError, UnicodeError, OverflowError):
                recomputed = b""  # a value of the wrong type (SQLite keeps any): altered
            if recomputed != bytes(link[4]):
                raise _broken(event, _ALTERED)

    def _check(self, cur: Cursor, after: int, last: int) -> None:
        store = self.store
        cur.execute(store.sql(_EVENTS.format(table=store.events_table)), (after, last))
        events: Sequence[Any] = cur.fetchall()
        position, previous = self._position, self._previous
        cur.execute(
            store.sql(_LINKS.format(table=store.chain_table)),
            (position, position + len(events) + 1),
        )
        links: Sequence[Any] = cur.fetchall()
        join, place, version_topic, u64 = b"".join, PLACE_ID.pack, VERSION_TOPIC.pack, U64.pack
        topics: dict[str, bytes] = {}
        for i, event in enumerate(events):
            eid, oid, version, topic, state = event
            link = links[i] if i < len(links) else None
            if link is None or link[1] > eid:
                raise _broken(event, _NOT_LINKED)
            if link[1] != eid:
                raise self._deleted(cur, link)
            position += 1
            hex_id = oid.hex() if type(oid) is bytes and len(oid) == 16 else originator_hex(oid)
            text = topics.get(topic) if type(topic) is str else None
            if text is None and type(topic) is str:
                text = topics[topic] = topic.encode()
            if isinstance(state, memoryview):
                state = bytes(state)
            if text is None or type(state) is not bytes or type(version) is not int:
                raise _broken(event, _ALTERED)  # SQLite keeps any type in any column
            # the bytes of ledger.integrity.encoding.link_hash, written out: a third faster
            recomputed = sha256(
                join(
                    (
                        LINK_DOMAIN, previous, place(position, eid, 32), hex_id.encode(),
                        version_topic(version, len(text)), text, u64(len(state)), state,
                    )
                )
            ).digest()  # fmt: skip
            if recomputed != bytes(link[2]) or link[0] != position:
                raise _broken(event, _ALTERED)
            previous = recomputed
        following = links[len(events)] if len(links) > len(events) else None
        if following is not None and following[1] <= last:
            raise self._deleted(cur, following)  # the page's last events are gone
        self._after, self._position, self._previous = last, position, previous

    def _deleted(self, cur: Cursor, link: Sequence[Any]) -> ChainBroken:
        found = self._links(cur, "position", [int(link[0])]).get(int(link[0]))
        record, version = (_record(found[2]), found[3]) if found else ("?", "?")
        return ChainBroken(
            f"the event at log position {link[1]} (record {record} version {version}) is "
            "missing from the log: it was deleted outside the ledger; nothing from it on was "
            "applied; run `dledger verify`"
        )

    def _links(self, cur: Cursor, column: str, values: list[int]) -> dict[int, Any]:
        """Links by position or by notification id."""
        found: dict[int, Any] = {}
        for start in range(0, len(values), 500):
            chunk = values[start : start + 500]
            statement = _LINKS_OF.format(
                table=self.store.chain_table, column=column, marks=", ".join("?" for _ in chunk)
            )
            cur.execute(self.store.sql(statement), chunk)
            for row in cur.fetchall():
                found[int(row[0] if column == "position" else row[1])] = row
        return found

    def _require_chain(self, cur: Cursor) -> None:
        if not self.store.has_table(cur, self.store.chain_table):
            raise NoChain(
                "this ledger has no hash chain (it was created before tamper evidence "
                "existed): its read models cannot be checked against it"
            )

    def _start(self, cur: Cursor, after: int) -> None:
        self._require_chain(cur)
        cur.execute(self.store.sql(_START.format(table=self.store.chain_table)), (after,))
        row = cur.fetchone()
        self._after = after
        self._position, self._previous = (int(row[1]), bytes(row[2])) if row else (0, GENESIS)


class _Follower:
    """The check, run ahead on its own connection and snapshot of the log."""

    def __init__(self, store: EventStore, connect: Callable[[], Connection], start: int):
        self._check = ReplayCheck(store)
        self._start = start
        self._passed = start  # every event up to here is vouched for
        self._end: int | None = None  # set when the thread has seen the end of its snapshot
        self._error: BaseException | None = None
        self._halt = threading.Event()
        self._changed = threading.Condition()
        self._thread = threading.Thread(
            target=self._run, args=(store, connect), name="dledger-chain", daemon=True
        )
        self._thread.start()

    def passed(self, after: int, last: int) -> bool:
        """Whether the thread vouched for (after, last] (waiting for it until it has, or
        has stopped short of it); raises what it found wrong there."""
        with self._changed:
            while self._passed < last and self._error is None and self._end is None:
                self._changed.wait(0.5)
            if after >= self._start and self._passed >= last:
                return True
            if self._error is not None:
                raise self._error
        return False  # beyond what the thread's snapshot holds: the caller checks it

    def stop(self) -> None:
        self._halt.set()
        self._thread.join()

    def _run(self, store: EventStore, connect: Callable[[], Connection]) -> None:
        conn = None
        try:
            conn = connect()
            with store.snapshot(conn) as cur:
                after = self._start
                page_end = store.sql(_PAGE_END.format(table=store.events_table))
                while not self._halt.is_set():
                    cur.execute(page_end, (after, PAGE))
                    last = cur.fetchone()[0]
                    if last is None:
                        break
                    self._check.page(cur, after, int(last))
                    with self._changed:
                        self._passed = after = int(last)
                        self._changed.notify_all()
        except BaseException as error:  # handed to the applier, which raises it
            with self._changed:
                self._error = error
        finally:
            with self._changed:
                self._end = self._passed
                self._changed.notify_all()
            if conn is not None:
                conn.close()


def _broken(event: Sequence[Any], why: str) -> ChainBroken:
    nid, oid, version = event[0], event[1], event[2]
    return ChainBroken(
        f"the event at log position {nid} (record {_record(originator_hex(oid))} version "
        f"{version}) cannot be read as recorded: {why}; nothing from it on was applied; "
        "run `dledger verify`"
    )


def _record(hex_id: Any) -> str:
    """A record id as users see it (with dashes), or as stored if it is not one."""
    try:
        return str(UUID(hex=str(hex_id)))
    except ValueError:
        return str(hex_id)
