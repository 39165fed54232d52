"""The read service's typed results as Views: their JSON, their table rows, their trees."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from cli.render import Bounded, View

if TYPE_CHECKING:
    from ledger.locations import Location
    from projections.explain import Derivation, Explanation, VersionShown
    from projections.flows import Flows
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


def _totals_rows(
    t: Totals,
    country: str | None = None,
    parts: Sequence[str | None] = (),
    quantified: bool = False,
) -> list[tuple[Any, ...]]:
    """One totals object's rows: its breakdown, then the total. ``line`` says what a row
    is: the breakdown level, ``not disaggregated``, or ``total``. ``parts``: the values of
    the breakdown columns (None: the not disaggregated part), after the households."""
    code = country or t.location.pcode
    as_of = t.as_of.isoformat()
    out: list[tuple[Any, ...]] = []
    lines = [(t.by if r.pcode is not None else r.name, r.pcode, r.name, r) for r in t.rows or ()]
    lines.append(("total", t.location.pcode, t.location.name, t.total))
    for what, pcode, name, r in lines:
        found = {p.value: p.individuals for p in r.breakdown.parts} if r.breakdown else {}
        by_part = tuple(found.get(value, 0) for value in parts)
        bound = (r.quantifier,) if quantified else ()
        individuals = Bounded(r.individuals, r.quantifier) if quantified else r.individuals
        out.append(
            (as_of, code, what, pcode, name, individuals, *bound, r.households, *by_part,
             r.partial, "; ".join(r.notes))
        )  # fmt: skip
    return out


def _quantified(report: TotalsReport) -> bool:
    """Whether any line is a bound or approximate (then a quantifier column is shown)."""
    return any(
        line.quantifier != "exact" for t in report.countries for line in (*(t.rows or ()), t.total)
    )


def _breakdown_columns(report: TotalsReport) -> tuple[list[str | None], list[str], list[str]]:
    """With a breakdown: every part value any line has (in the order the lines give them,
    the not disaggregated part last), and their column names and HXL tags."""
    values: dict[str | None, str] = {}
    dimension = None
    for t in report.countries:
        for line in (*(t.rows or ()), t.total):
            if line.breakdown is None:
                continue
            dimension = line.breakdown.dimension
            for part in line.breakdown.parts:
                if part.value is not None:
                    label = part.value if part.name is None else f"{part.name} ({part.value})"
                    values.setdefault(part.value, label)
    if dimension is None:
        return [], [], []
    ordered: list[str | None] = [*values, None]
    names = [f"{dimension}: {values[v]}" if v is not None else "not disaggregated" for v in ordered]
    return ordered, names, [part_tag(dimension, v) for v in ordered]


def part_tag(dimension: str, value: str | None) -> str:
    """The HXL tag of a breakdown column: ``+f``/``+m``, ``+age0_4``/``+age60plus``, and a
    cause or origin as an attribute of its own letters."""
    import re

    if value is None:
        return "#affected+idps+ind+unknown"
    if dimension == "sex":
        return "#affected+idps+ind+" + ("f" if value == "female" else "m")
    if dimension == "age":
        return "#affected+idps+ind+age" + value.replace("-", "_").replace("+", "plus")
    slug = re.sub(r"[^a-z0-9]+", "_", value.lower()).strip("_") or "x"
    return f"#affected+idps+ind+{dimension}+{dimension}_{slug}"


def _same_for_all(rows: list[tuple[Any, ...]]) -> tuple[str, ...]:
    """The as_of column always (the title says it); country when there is only one."""
    countries = {row[1] for row in rows}
    return ("as_of", "country") if len(countries) <= 1 else ("as_of",)


def totals_view(report: TotalsReport) -> View:
    parts, names, tags = _breakdown_columns(report)
    quantified = _quantified(report)
    rows = [
        row for t in report.countries for row in _totals_rows(t, parts=parts, quantified=quantified)
    ]
    bound = ("quantifier",) if quantified else ()
    bound_tag = ("#meta+quantifier",) if quantified else ()
    title, footer = "no figures", []
    if report.countries:
        first = report.countries[0]
        title = f"IDPs as of {first.as_of.isoformat()}, as known at {_stamp(first.known_at)}"
        footer.append(f"log position {first.position}")
    return View(
        data=report.to_json(),
        columns=(*TOTALS_COLUMNS[:6], *bound, TOTALS_COLUMNS[6], *names, *TOTALS_COLUMNS[7:]),
        rows=rows,
        title=title,
        footer=footer,
        hxl=(*TOTALS_HXL[:6], *bound_tag, TOTALS_HXL[6], *tags, *TOTALS_HXL[7:]),
        table_skip=(*_same_for_all(rows), *bound),  # a table marks the number itself
    )


def _stamp(moment: Any) -> str:
    return f"{moment.isoformat()[:19]}Z"


QUANTIFIER_MARKS = Bounded.MARKS


def _version_line(v: VersionShown, role: str) -> str:
    hh = "" if v.households is None else f" ({v.households:,} households)"
    sign = {"registration": "+", "return": "−"}.get(v.kind, "") + QUANTIFIER_MARKS[v.quantifier]
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
        for dimension, parts in (v.breakdowns or {}).items():
            listed = ", ".join(f"{value} {n:,}" for value, n in parts.items())
            node.add(_text(f"by {dimension}: {listed}"))
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
    mark = QUANTIFIER_MARKS[d.quantifier]
    tree = Tree(
        _text(
            f"{loc.name} ({loc.pcode}, {loc.level_name}): {mark}{d.individuals:,} IDPs, {hh}{flag}"
        )
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
    _add_versions(tree, d.triangulation, "triangulation (not counted): ")
    tree.add(_text(f"= {d.arithmetic}"))
    for n in d.notes:
        tree.add(_text(f"note: {n}"))


def explain_view(explanation: Explanation) -> View:
    rows: list[tuple[Any, ...]] = []

    def walk(node: Derivation) -> None:
        parts = [("baseline", node.baseline)] if node.baseline else []
        parts += [("superseded", v) for v in node.superseded]
        parts += [("flow", v) for v in node.flows]
        parts += [("triangulation", v) for v in node.triangulation]
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
