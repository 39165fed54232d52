"""Turning ledger and projection results into Views (JSON data plus table rows)."""

from __future__ import annotations

from typing import Any

from cli.render import View
from ledger.locations import LocationIndex
from ledger.records import RecordVersion


def location_ref(index: LocationIndex, pcode: str | None) -> dict[str, Any] | None:
    if pcode is None:
        return None
    if pcode not in index:
        return {"pcode": pcode, "name": None, "level": None}
    loc = index.get(pcode)
    return {"pcode": loc.pcode, "name": loc.name, "level": loc.level_name}


def version_data(version: RecordVersion, index: LocationIndex) -> dict[str, Any]:
    return {
        "record_id": str(version.record_id),
        "version": version.version,
        "action": version.action,
        "kind": version.kind,
        "location": location_ref(index, version.pcode),
        "date": str(version.figure_date),
        "individuals": version.individuals,
        "households": version.households,
        "source": version.source,
        "origin": location_ref(index, version.origin),
        "cause": version.cause,
        "note": version.note,
        "retracted": version.retracted,
        "recorded_at": version.recorded_at.isoformat(),
        "actor": version.actor,
        "reason": version.reason,
        "changes": [{"field": c.field, "old": c.old, "new": c.new} for c in version.changes],
    }


def _changes_text(version: RecordVersion) -> str:
    if version.action == "recorded":
        return "recorded"
    if version.action == "retracted":
        return "retracted"
    return "; ".join(f"{c.field} {c.old} → {c.new}" for c in version.changes)


def history_view(versions: list[RecordVersion], index: LocationIndex) -> View:
    first = versions[0]
    rows = [
        (
            v.version,
            v.recorded_at.isoformat(timespec="seconds"),
            v.actor,
            _changes_text(v),
            v.reason,
            str(v.figure_date),
            v.pcode,
            v.individuals,
            v.households,
        )
        for v in versions
    ]
    return View(
        data={"record_id": str(first.record_id), "versions": [version_data(v, index) for v in versions]},
        columns=("version", "recorded at", "actor", "change", "reason", "date", "location",
                 "individuals", "households"),
        rows=rows,
        title=f"{first.kind} {first.record_id} (source: {first.source.get('publisher')})",
    )
