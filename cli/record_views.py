"""Views of records and lists: a record's history, revisions, snapshots, locations and
flows (the read service's typed results, as ``cli.views`` renders figures)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from cli.render import Bounded, View
from cli.views import TOTALS_COLUMNS, TOTALS_HXL, _same_for_all, _stamp, _totals_rows

if TYPE_CHECKING:
    from ledger.locations import Location
    from projections.flows import Flows
    from projections.records import (
        History,
        LocationHistory,
        Snapshot,
        SnapshotSummary,
        Version,
    )
    from projections.timeline import Revisions


def revisions_view(revisions: Revisions) -> View:
    rows = [
        (
            f.as_of.isoformat(),
            f.pcode,
            f.name,
            f.old_individuals,
            f.new_individuals,
            f.change,
            ", ".join(f.caused_by),
        )
        for f in revisions.figures
    ]
    footer = [
        f"{e.recorded_at[:19]}Z {e.actor} {e.action} {e.record_id} v{e.version}"
        + (": " + changes_text(e.changes) if e.changes else "")
        + (f" (“{e.reason}”)" if e.reason else "")
        for e in revisions.events
    ]
    return View(
        data=revisions.to_json(),
        columns=("as_of", "pcode", "name", "old", "new", "change", "caused by"),
        rows=rows,
        title=f"figures changed by what was recorded {_stamp(revisions.since)} – "
        f"{_stamp(revisions.until)}",
        footer=footer,
    )


def _change_text(v: Version) -> str:
    if v.action in ("recorded", "retracted"):
        return v.action
    return changes_text(v.changes)


def changes_text(changes: Sequence[dict[str, Any]]) -> str:
    """``individuals 38,172 → 38,200; sex female 20,000 → 20,001``: a breakdown's change
    part by part (``none`` where a part was not given)."""
    out = []
    for c in changes:
        if c["field"] == "conversion":
            old, new = c["old"] or {}, c["new"] or {}
            out.append(
                f"household size {old.get('size')} ({old.get('year')}) → {new.get('size')} "
                f"({new.get('year')}, {new.get('source')})"
            )
            continue
        if c["field"] != "breakdowns":
            out.append(f"{c['field']} {c['old']} → {c['new']}")
            continue
        old, new = c["old"] or {}, c["new"] or {}
        for dimension in dict.fromkeys([*old, *new]):
            before, after = old.get(dimension, {}), new.get(dimension, {})
            for value in dict.fromkeys([*before, *after]):
                if before.get(value) != after.get(value):
                    out.append(
                        f"{dimension} {value} {_count(before.get(value))} → "
                        f"{_count(after.get(value))}"
                    )
    return "; ".join(out)


def _count(n: int | None) -> str:
    return "none" if n is None else f"{n:,}"


def history_view(history: History) -> View:
    first = history.versions[0]
    reviewed = any(v.reviews for v in history.versions)
    columns = ["version", "recorded at", "actor", "change", "reason", "date", "location",
               "individuals", "households"]  # fmt: skip
    hxl = ["#meta+version", "#date+recorded", "#meta+actor", "#meta+change",
           "#description+reason", "#date+reported", "#adm+code", "#affected+idps+ind",
           "#affected+idps+hh"]  # fmt: skip
    if reviewed:  # a column of its own only where some version was reviewed
        columns.append("reviews")
        hxl.append("#meta+review")
    # who really wrote (PostgreSQL's session user), only where it is not the actor declared
    disguised = {v.version: v.db_user for v in history.versions if v.db_user not in (None, v.actor)}
    if disguised:
        columns.append("database user")
        hxl.append("#meta+actor+db")
    rows = [
        (
            v.version,
            v.recorded_at.isoformat(timespec="seconds"),
            v.actor,
            _change_text(v),
            v.reason,
            v.date,
            v.pcode,
            Bounded(v.individuals, v.quantifier) if v.quantifier != "exact" else v.individuals,
            v.households,
            *((_reviews_text(v.reviews),) if reviewed else ()),
            *((disguised.get(v.version),) if disguised else ()),
        )
        for v in history.versions
    ]
    return View(
        data=history.to_json(),
        columns=columns,
        rows=rows,
        hxl=hxl,
        title=f"{first.kind} {first.record_id} (source: {first.source.get('publisher')})",
    )


def _reviews_text(reviews: Sequence[dict[str, Any]]) -> str:
    return "; ".join(
        f"{r['status']} by {r['actor']} {r['at'][:19]}Z"
        + (f" (“{r['comment']}”)" if r["comment"] else "")
        for r in reviews
    )


def snapshot_view(snapshot: Snapshot) -> View:
    s = snapshot.summary
    rows = [row for t in snapshot.totals for row in _totals_rows(t)]
    footer = []
    if snapshot.signed_off is not None:
        off = snapshot.signed_off
        signed = " (signed, Ed25519 key " + off["public_key"] + ")" if off.get("signature") else ""
        footer.append(
            f"signed off by {off['actor']} at {off['at']}{signed}; chain position "
            f"{off['checkpoint']['position']}, hash {off['checkpoint']['head_hash']}"
        )
        footer += [
            f"changed since: {c['record_id']} v{c['version']} {c['field']} {c['old']} → "
            f"{c['new']} ({c['reason'] or 'new'}; {c['actor']}, {c['recorded_at'][:19]}Z)"
            for c in snapshot.changed
        ]
        footer += [
            f"figure {f['name']} ({f['pcode'] or '-'}): {f['then']:,} then, "
            f"{'none' if f['now'] is None else format(f['now'], ',')} now"
            for f in snapshot.figures_changed
        ]
    return View(
        data=snapshot.to_json(),
        columns=TOTALS_COLUMNS,
        hxl=TOTALS_HXL,
        table_skip=_same_for_all(rows),
        rows=rows,
        title=f"snapshot {s.name}: as of {s.as_of}, known at {s.known_at[:19]}Z, "
        f"log position {s.position}",
        footer=footer,
    )


def snapshots_view(kept: list[SnapshotSummary]) -> View:
    columns = ("name", "as_of", "known_at", "position", "location", "by", "actor", "created_at")
    data = [k.to_json() for k in kept]
    return View(data, columns, [tuple(d[c] for c in columns) for d in data])


def locations_view(found: list[Location]) -> View:
    data = [
        {
            "pcode": loc.pcode,
            "name": loc.name,
            "level": loc.level_name,
            "parent": loc.parent,
            "variants": list(loc.variants),
        }
        for loc in found
    ]
    rows = [
        (loc.pcode, loc.name, loc.level_name, loc.parent, ", ".join(loc.variants)) for loc in found
    ]
    return View(data, ("pcode", "name", "level", "parent", "variants"), rows)


def location_history_view(history: LocationHistory) -> View:
    loc = history.location
    rows = [
        (c.position, c.recorded_at.isoformat(timespec="seconds"), c.actor, c.action,
         _location_change(c.action, c.changes), c.reason or c.source)
        for c in history.changes
    ]  # fmt: skip
    return View(
        data=history.to_json(),
        columns=("position", "recorded at", "actor", "action", "what", "why / source"),
        rows=rows,
        title=f"{loc.pcode} {loc.name} ({loc.level_name}, under {loc.parent or 'nothing'})",
    )


def _location_change(action: str, changes: dict[str, Any]) -> str:
    if action == "corrected":
        return "; ".join(f"{k} {old} → {new}" for k, (old, new) in changes.items())
    if action == "variants":
        return "variants " + ", ".join(changes.get("variants", []))
    from ledger.locations import LEVELS

    level = changes.get("level")
    shown = LEVELS[level] if isinstance(level, int) and 0 <= level < len(LEVELS) else level
    return f"{changes.get('name')} ({shown}, under {changes.get('parent') or 'nothing'})"


def flows_view(flows: Flows) -> View:
    """The period's flows: per location with --by, else record by record; the sums by
    kind in the footer."""
    from projections.flows import FLOW_KINDS

    sums = ", ".join(f"{kind.replace('_', ' ')} {flows.total.sums[kind]:,}" for kind in FLOW_KINDS)
    footer = [f"{flows.total.name}: {sums}", "new displacements count movements, not people"]
    title = f"flows {flows.start.isoformat()} – {flows.end.isoformat()}, known at " + _stamp(
        flows.known_at
    )
    if flows.rows is not None:
        return View(
            data=flows.to_json(),
            columns=("pcode", "name", *FLOW_KINDS),
            rows=[(r.pcode, r.name, *(r.sums[k] for k in FLOW_KINDS)) for r in flows.rows],
            title=title,
            footer=footer,
        )
    return View(
        data=flows.to_json(),
        columns=("date", "kind", "pcode", "name", "individuals", "cause", "source", "record"),
        rows=[
            (
                r.date,
                r.kind,
                r.pcode,
                r.name,
                r.individuals,
                r.cause,
                ", ".join(str(r.source[k]) for k in ("publisher", "report") if r.source.get(k)),
                f"{r.record_id} v{r.version}",
            )
            for r in flows.records
        ],
        title=title,
        footer=footer,
    )
