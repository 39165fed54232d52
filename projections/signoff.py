"""What changed since a snapshot was signed off: every record change after the sign-off
that reaches the snapshot's figures, field by field, and the figures then and now.

Helix only flags a figure "signed off but changed"; the ledger names the change. A change
reaches the snapshot when it is recorded after the sign-off, its record is at a location
the snapshot covers (its location or below; every location when it has none), and the
version is dated on or before the snapshot's as-of (or was, before a correction moved
its date). The figures are the snapshot's lines recomputed as known now.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from projections.schema import DETAILS, VERSIONS, from_micros, to_micros
from projections.totals import Moment

if TYPE_CHECKING:
    from projections.records import Snapshot
    from projections.service import ReadService

FIGURE_FIELDS = ("individuals", "households", "date", "pcode", "quantifier", "breakdowns")


def since_sign_off(service: ReadService, kept: Snapshot, signed_off: dict[str, Any]) -> Snapshot:
    at = to_micros(datetime.fromisoformat(signed_off["at"]))
    summary = kept.summary
    as_of = date.fromisoformat(summary.as_of)
    covered = _covered(service, summary.location)
    with service._reading() as cur:
        rows = service._rows(
            cur,
            "SELECT v.record_id, v.version, v.action, v.pcode, v.day, v.individuals, "
            "v.recorded_at, d.changes, d.reason, d.actor "
            f"FROM {VERSIONS.name} AS v JOIN {DETAILS.name} AS d ON d.position = v.position "
            "WHERE v.recorded_at > ? ORDER BY v.position",
            (at,),
        )
    changed = []
    for (
        record_id,
        version,
        action,
        pcode,
        day,
        individuals,
        recorded_at,
        changes,
        reason,
        actor,
    ) in rows:
        moved = {c["field"]: c["old"] for c in json.loads(changes)}
        places = {pcode, moved.get("pcode", pcode)}
        days = {date.fromordinal(day)}
        if "date" in moved:
            days.add(date.fromisoformat(moved["date"]))
        if covered is not None and not places & covered:
            continue
        if min(days) > as_of:
            continue
        common = {
            "record_id": str(UUID(record_id)), "version": version, "reason": reason,
            "actor": actor, "recorded_at": from_micros(recorded_at).isoformat(),
        }  # fmt: skip
        if action == "recorded":
            changed.append({**common, "field": "record", "old": None, "new": individuals})
        elif action == "retracted":
            changed.append({**common, "field": "retracted", "old": False, "new": True})
        else:
            changed += [
                {**common, "field": c["field"], "old": c["old"], "new": c["new"]}
                for c in json.loads(changes)
                if c["field"] in FIGURE_FIELDS
            ]
    return replace(
        kept, signed_off=signed_off, changed=tuple(changed),
        figures_changed=tuple(_figures_changed(service, kept, as_of)),
    )  # fmt: skip


def _covered(service: ReadService, location: str | None) -> set[str] | None:
    if location is None:
        return None
    index = service.index
    return {location, *index.descendants(location)}


def _figures_changed(service: ReadService, kept: Snapshot, as_of: date) -> list[dict[str, Any]]:
    """The snapshot's lines whose figure is not, as known now, what it was."""
    from ledger.dates import utc_now

    summary = kept.summary
    now = service.totals(Moment(as_of, utc_now()), summary.location, summary.by)
    current = {
        (t.location.pcode, line.pcode, line.name): line
        for t in now.countries
        for line in (*(t.rows or ()), t.total)
    }
    out = []
    for then in kept.totals:
        for line in (*(then.rows or ()), then.total):
            key = (then.location.pcode, line.pcode, line.name)
            found = current.get(key)
            if found is None or (found.individuals, found.households) != (
                line.individuals, line.households,
            ):  # fmt: skip
                out.append({
                    "country": then.location.pcode,
                    "pcode": key[1], "name": key[2],
                    "then": line.individuals,
                    "now": None if found is None else found.individuals,
                })  # fmt: skip
    return out
