"""The locations read model: the gazetteer's events as rows, each location with its
ancestors, and each location's history.

Registrations give each new or changed location whole. A correction changes a location's
name, level or parent: its row and its descendants' ancestor columns follow, and so do the
ancestor columns of every figure at them, so "at X or below X" stays one index seek. (The
hierarchy is not itself bitemporal: a corrected parent applies to figures as known at any
instant. The events keep when it changed; ``locations history`` shows it.)
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from ledger.backends import Cursor
from projections.backends import ReadModels
from projections.projector import (
    CORRECTED_TOPIC,
    REGISTERED_TOPICS,
    Event,
    UnreadableEvent,
    decode,
    event_time,
)
from projections.schema import APPROVED, LOCATION_CHANGES, LOCATIONS, VERSIONS

Chain = tuple[Any, Any, Any]  # country, adm1, adm2


class LocationsProjector:
    def __init__(self, models: ReadModels, cur: Cursor) -> None:
        self.models = models
        self.cur = cur

    def apply(self, events: Sequence[Event], *, history: bool) -> None:
        changed = False
        for position, originator, version, topic, state in events:
            if topic not in REGISTERED_TOPICS and topic != CORRECTED_TOPIC:
                continue
            try:
                data = decode(state)
                at = event_time(data)
                if topic == CORRECTED_TOPIC:
                    rows = self.correct(data["pcode"], data["changes"])
                    action, reason, source = "corrected", data["reason"], None
                else:
                    rows = self.register(data["locations"])
                    action, reason, source = "registered", None, data["source"]
            except (ValueError, KeyError, TypeError, AttributeError):
                raise UnreadableEvent(
                    position, self.models.originator(originator), version
                ) from None
            changed = True
            if history:
                self.models.insert_rows(
                    self.cur,
                    LOCATION_CHANGES.name,
                    LOCATION_CHANGES.names,
                    [
                        (position, pcode, kind if action == "registered" else action,
                         json.dumps(what, ensure_ascii=False), reason, source, data["actor"], at)
                        for pcode, kind, what in rows
                    ],
                )  # fmt: skip
        if changed:
            self.models.after_locations(self.cur)

    def register(self, entries: Iterable[dict[str, Any]]) -> list[tuple[str, str, Any]]:
        """Locations, new or changed, each given whole (parents known or in ``entries``);
        what each registration was: (p-code, registered | variants, what it says)."""
        ordered = sorted(entries, key=lambda e: int(e["level"]))
        if not ordered:
            return []
        codes = [e["pcode"] for e in ordered]
        known = set(self._rows_of(codes))
        chains = self._chains_of({e["parent"] for e in ordered} - set(codes))
        rows, done = [], []
        for entry in ordered:
            pcode, level, parent = entry["pcode"], int(entry["level"]), entry["parent"]
            chain = self._chain(pcode, level, chains.get(parent) if parent else None, parent)
            chains[pcode] = chain
            variants = list(entry.get("variants") or ())
            rows.append((pcode, entry["name"], level, parent, _json(variants), *chain))
            action = "variants" if pcode in known else "registered"
            done.append((pcode, action, {"variants": variants} if pcode in known else entry))
        self._replace(rows)
        return done

    def correct(self, pcode: str, changes: dict[str, Any]) -> list[tuple[str, str, Any]]:
        """A location's new name, level or parent; its descendants and the figures at any
        of them follow."""
        old = self._rows_of([pcode])[pcode]
        entry = dict(zip(LOCATIONS.names, old, strict=True)) | changes
        parent = entry["parent"]
        chains = self._chains_of({parent})
        chain = self._chain(pcode, int(entry["level"]), chains.get(parent), parent)
        self._replace(
            [(pcode, entry["name"], int(entry["level"]), parent, entry["variants"], *chain)]
        )
        moved = {pcode: chain}
        if "parent" in changes or "level" in changes:
            moved |= self._descendants_follow(pcode, chain)
        for code, (country, adm1, adm2) in moved.items():
            for table in (VERSIONS.name, APPROVED.name):
                self.cur.execute(
                    self.models.sql(
                        f"UPDATE {table} SET country = ?, adm1 = ?, adm2 = ? WHERE pcode = ?"
                    ),
                    (country, adm1, adm2, code),
                )
        names = dict(zip(LOCATIONS.names, old, strict=True))
        return [(pcode, "corrected", {k: [names[k], v] for k, v in changes.items()})]

    def _descendants_follow(self, pcode: str, chain: Chain) -> dict[str, Chain]:
        self.cur.execute(f"SELECT pcode, parent, level FROM {LOCATIONS.name}")
        children: dict[str, list[tuple[str, int]]] = {}
        for code, parent, level in self.cur.fetchall():
            children.setdefault(parent, []).append((code, int(level)))
        moved: dict[str, Chain] = {}
        todo = [(pcode, chain)]
        while todo:
            parent, above = todo.pop()
            for code, level in children.get(parent, []):
                moved[code] = self._chain(code, level, above, parent)
                todo.append((code, moved[code]))
        for code, (country, adm1, adm2) in moved.items():
            self.cur.execute(
                self.models.sql(
                    f"UPDATE {LOCATIONS.name} SET country = ?, adm1 = ?, adm2 = ? WHERE pcode = ?"
                ),
                (country, adm1, adm2, code),
            )
        return moved

    @staticmethod
    def _chain(pcode: str, level: int, above: Chain | None, parent: str | None) -> Chain:
        if parent is None:
            return (pcode, None, None)
        if above is None:
            raise KeyError(parent)  # a parent nowhere known
        country, adm1, adm2 = above
        return (country, pcode if level == 1 else adm1, pcode if level == 2 else adm2)

    def _replace(self, rows: list[tuple[Any, ...]]) -> None:
        source, params = self.models.batch([(r[0],) for r in rows], ("text",))
        self.cur.execute(
            self.models.sql(
                f"DELETE FROM {LOCATIONS.name} WHERE pcode IN (SELECT p.c0 FROM {source})"
            ),
            params,
        )
        self.models.insert_rows(self.cur, LOCATIONS.name, LOCATIONS.names, rows)

    def _rows_of(self, pcodes: Sequence[str]) -> dict[str, tuple[Any, ...]]:
        if not pcodes:
            return {}
        source, params = self.models.batch([(p,) for p in pcodes], ("text",))
        columns = ", ".join(f"l.{c}" for c in LOCATIONS.names)
        self.cur.execute(
            self.models.sql(
                f"SELECT {columns} FROM "
                + self.models.seek(source, LOCATIONS.name, "l", "l.pcode = p.c0")
            ),
            params,
        )
        return {r[0]: tuple(r) for r in self.cur.fetchall()}

    def _chains_of(self, pcodes: set[str | None]) -> dict[str, Chain]:
        """The (country, adm1, adm2) of locations the table holds already."""
        found = self._rows_of(sorted(p for p in pcodes if p is not None))
        return {p: (r[5], r[6], r[7]) for p, r in found.items()}


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
