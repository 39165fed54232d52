"""The read service's typed results as Views: their JSON, their table rows, their trees."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from cli.render import View

if TYPE_CHECKING:
    from ledger.locations import Location
    from projections.explain import Derivation, Explanation, VersionShown
    from projections.records import (
        History,
        LocationHistory,
        Snapshot,
        SnapshotSummary,
        Version,
    )
    from projections.timeline import Comparison, Revisions, Series
    from projections.totals import Totals, TotalsReport

TOTALS_COLUMNS = (
    "as_of",
    "country",
    "line",
    "pcode",
    "name",
    "individuals",
    "households",
    "partial",
    "notes",
)
TOTALS_HXL = (
    "#date+reported",
    "#country+code",
    "#meta+line",
    "#adm+code",
    "#adm+name",
    "#affected+idps+ind",
    "#affected+idps+hh",
    "#meta+partial",
    "#description",
)


def _totals_rows(t: Totals, country: str | None = None) -> list[tuple[Any, ...]]:
    """One totals object's rows: its breakdown, then the total. ``line`` says what a row
    is: the breakdown level, ``not disaggregated``, or ``total``."""
    code = country or t.location.pcode
    as_of = t.as_of.isoformat()
    out: list[tuple[Any, ...]] = []
    for r in t.rows or ():
        line = t.by if r.pcode is not None else r.name
        out.append(
            (
                as_of,
                code,
                line,
                r.pcode,
                r.name,
                r.individuals,
                r.households,
                r.partial,
                "; ".join(r.notes),
            )
        )
    total = t.total
    out.append(
        (
            as_of,
            code,
            "total",
            t.location.pcode,
            t.location.name,
            total.individuals,
            total.households,
            total.partial,
            "; ".join(total.notes),
        )
    )
    return out


def _same_for_all(rows: list[tuple[Any, ...]]) -> tuple[str, ...]:
    """The as_of column always (the title says it); country when there is only one."""
    countries = {row[1] for row in rows}
    return ("as_of", "country") if len(countries) <= 1 else ("as_of",)


def totals_view(report: TotalsReport) -> View:
    rows = [row for t in report.countries for row in _totals_rows(t)]
    title, footer = "no figures", []
    if report.countries:
        first = report.countries[0]
        title = f"IDPs as of {first.as_of.isoformat()}, as known at {_stamp(first.known_at)}"
        footer.append(f"log position {first.position}")
    return View(
        data=report.to_json(),
        columns=TOTALS_COLUMNS,
        rows=rows,
        title=title,
        footer=footer,
        hxl=TOTALS_HXL,
        table_skip=_same_for_all(rows),
    )


def _stamp(moment: Any) -> str:
    return f"{moment.isoformat()[:19]}Z"


def _version_line(v: VersionShown, role: str) -> str:
    hh = "" if v.households is None else f" ({v.households:,} households)"
    sign = {"registration": "+", "return": "−"}.get(v.kind, "")
    src = str(v.source.get("publisher", ""))
    if v.source.get("report"):
        src += f", {v.source['report']}"
    return (
        f"{role}{sign}{v.individuals:,}{hh} {v.kind} at {v.location_name} ({v.pcode}) "
        f"dated {v.date} — {src} [record {v.record_id} v{v.version}, recorded "
        f"{v.recorded_at[:19]}Z by {v.actor}]"
    )


def _text(line: str) -> Any:
    """A line of a tree: shown as written (no markup), control characters escaped."""
    from rich.text import Text

    from cli.render import shown

    return Text(shown(line))


def _add_versions(branch: Any, versions: Sequence[VersionShown], role: str) -> None:
    for v in versions:
        node = branch.add(_text(_version_line(v, role)))
        for c in v.corrections:
            node.add(
                _text(
                    f"corrected in v{c.version}: {c.field} {c.old} → {c.new} "
                    f"(“{c.reason}”, {c.actor}, {c.recorded_at[:19]}Z)"
                )
            )


def _tree(d: Derivation) -> Any:
    from rich.tree import Tree

    hh = "households unknown" if d.households is None else f"{d.households:,} households"
    flag = " [PARTIAL]" if d.partial else ""
    loc = d.location
    tree = Tree(
        _text(f"{loc.name} ({loc.pcode}, {loc.level_name}): {d.individuals:,} IDPs, {hh}{flag}")
    )
    _fill(tree, d)
    return tree


def _fill(tree: Any, d: Derivation) -> None:
    if d.baseline is not None:
        _add_versions(tree, [d.baseline], "baseline: ")
        _add_versions(tree, d.superseded, "superseded (same date, recorded earlier): ")
    elif d.children:
        children = tree.add(_text("no baseline here: the sum of the locations below"))
        for child in d.children:
            hh = "" if child.households is None else f", {child.households:,} households"
            flag = " [PARTIAL]" if child.partial else ""
            loc = child.location
            _fill(
                children.add(_text(f"{loc.name} ({loc.pcode}): {child.individuals:,}{hh}{flag}")),
                child,
            )
    _add_versions(tree, d.flows, "flow: ")
    tree.add(_text(f"= {d.arithmetic}"))
    for n in d.notes:
        tree.add(_text(f"note: {n}"))


def explain_view(explanation: Explanation) -> View:
    rows: list[tuple[Any, ...]] = []

    def walk(node: Derivation) -> None:
        parts = [("baseline", node.baseline)] if node.baseline else []
        parts += [("superseded", v) for v in node.superseded]
        parts += [("flow", v) for v in node.flows]
        for role, v in parts:
            rows.append(
                (
                    node.location.pcode,
                    role,
                    v.record_id,
                    v.version,
                    v.kind,
                    v.pcode,
                    v.date,
                    v.individuals,
                    v.households,
                    v.source.get("publisher"),
                )
            )
        for child in node.children:
            walk(child)

    walk(explanation.derivation)
    return View(
        data=explanation.to_json(),
        columns=(
            "figure",
            "role",
            "record_id",
            "version",
            "kind",
            "location",
            "date",
            "individuals",
            "households",
            "source",
        ),
        rows=rows,
        renderable=lambda: _tree(explanation.derivation),
        footer=[
            f"as of {explanation.as_of.isoformat()}, known at {_stamp(explanation.known_at)}, "
            f"log position {explanation.position}"
        ],
    )


def compare_view(comparison: Comparison) -> View:
    a, b = comparison.a, comparison.b
    rows: list[tuple[Any, ...]] = [(r.pcode, r.name, r.a, r.b, r.change) for r in comparison.rows]
    place = a.totals.location
    rows.append(
        (
            place.pcode,
            f"{place.name} (total)",
            a.totals.total.individuals,
            b.totals.total.individuals,
            comparison.change_individuals,
        )
    )
    return View(
        data=comparison.to_json(),
        columns=("pcode", "name", f"a: {a.label}", f"b: {b.label}", "change"),
        rows=rows,
        title=f"{place.name}: {a.label} → {b.label}",
        footer=[f"a known at {_stamp(a.totals.known_at)}; b known at {_stamp(b.totals.known_at)}"],
    )


def series_view(series: Series) -> View:
    """The totals of each period end, one after the other (same columns as totals)."""
    country = series.location.pcode if series.location else None
    rows = [row for point in series.points for row in _totals_rows(point, country)]
    return View(
        data=series.to_json(),
        columns=TOTALS_COLUMNS,
        hxl=TOTALS_HXL,
        table_skip=("country",),
        rows=rows,
        title=f"IDPs at the end of each {series.every}, as known at "
        f"{_stamp(series.known_at) if series.points else 'NoneZ'}",
    )


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
        + (
            ": " + "; ".join(f"{c['field']} {c['old']} → {c['new']}" for c in e.changes)
            if e.changes
            else ""
        )
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
    return "; ".join(f"{c['field']} {c['old']} → {c['new']}" for c in v.changes)


def history_view(history: History) -> View:
    first = history.versions[0]
    rows = [
        (
            v.version,
            v.recorded_at.isoformat(timespec="seconds"),
            v.actor,
            _change_text(v),
            v.reason,
            v.date,
            v.pcode,
            v.individuals,
            v.households,
        )
        for v in history.versions
    ]
    return View(
        data=history.to_json(),
        columns=(
            "version",
            "recorded at",
            "actor",
            "change",
            "reason",
            "date",
            "location",
            "individuals",
            "households",
        ),
        rows=rows,
        hxl=(
            "#meta+version",
            "#date+recorded",
            "#meta+actor",
            "#meta+change",
            "#description+reason",
            "#date+reported",
            "#adm+code",
            "#affected+idps+ind",
            "#affected+idps+hh",
        ),
        title=f"{first.kind} {first.record_id} (source: {first.source.get('publisher')})",
    )


def snapshot_view(snapshot: Snapshot) -> View:
    s = snapshot.summary
    rows = [row for t in snapshot.totals for row in _totals_rows(t)]
    return View(
        data=snapshot.to_json(),
        columns=TOTALS_COLUMNS,
        hxl=TOTALS_HXL,
        table_skip=_same_for_all(rows),
        rows=rows,
        title=f"snapshot {s.name}: as of {s.as_of}, known at {s.known_at[:19]}Z, "
        f"log position {s.position}",
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
