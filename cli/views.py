"""The read service's typed results as Views: their JSON, their table rows, their trees."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from cli.render import Bounded, View, who

if TYPE_CHECKING:
    from projections.explain import Derivation, Explanation, VersionShown
    from projections.timeline import Comparison, Series
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
        f"{v.recorded_at[:19]}Z by {who(v.actor, v.db_user)}]"
    )


def _text(line: str) -> Any:
    """A line of a tree: shown as written (no markup), control characters escaped."""
    from rich.text import Text

    from cli.render import shown

    return Text(shown(line))


def _add_versions(branch: Any, versions: Sequence[VersionShown], role: str) -> None:
    for v in versions:
        node = branch.add(_text(_version_line(v, role)))
        if v.conversion is not None:
            node.add(_text(conversion_text(v.conversion, v.individuals)))
        for r in v.reviews:
            comment = f": “{r['comment']}”" if r["comment"] else ""
            node.add(_text(f"review: {r['status']} by {r['actor']} at {r['at'][:19]}Z{comment}"))
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


def conversion_text(c: dict[str, Any], individuals: int) -> str:
    """``100 households × 5.2 = 520 individuals (household size for MLI 2017, source)``."""
    nearest = f"; the nearest earlier year to {c['for_year']}" if c.get("nearest") else ""
    return (
        f"{c['households']:,} households × {c['size']} = {individuals:,} individuals "
        f"(household size for {c['country']} {c['year']}, {c['source']}{nearest})"
    )
