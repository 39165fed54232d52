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


def history_view(
    versions: list[RecordVersion],
    index: LocationIndex,
    current_until: dict[int, str | None] | None = None,
) -> View:
    """Versions from the events; ``current_until`` (from the figure table) says until when
    each version was the current one (None: it still is)."""
    first = versions[0]
    until = current_until or {}
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
        data={
            "record_id": str(first.record_id),
            "versions": [
                version_data(v, index) | {"current_until": until.get(v.version)} for v in versions
            ],
        },
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


def totals_view(results: list[Any]) -> View:
    """One country: the contract's single object; several: ``countries``."""
    dicts = [t.as_dict() for t in results]
    data: Any = (
        dicts[0]
        if len(dicts) == 1
        else {
            "as_of": dicts[0]["as_of"] if dicts else None,
            "known_at": dicts[0]["known_at"] if dicts else None,
            "countries": dicts,
        }
    )
    rows = [row for d in dicts for row in _totals_rows(d)]
    title, footer = "no figures", []
    if dicts:
        title = f"IDPs as of {dicts[0]['as_of']}, as known at {dicts[0]['known_at'][:19]}Z"
        footer.append(f"log position {dicts[0]['position']}")
    return View(
        data=data,
        columns=TOTALS_COLUMNS,
        rows=rows,
        title=title,
        footer=footer,
        hxl=TOTALS_HXL,
        table_skip=_same_for_all(rows),
    )


def _same_for_all(rows: list[tuple[Any, ...]]) -> tuple[str, ...]:
    """The as_of column always (the title says it); country when there is only one."""
    countries = {row[1] for row in rows}
    return ("as_of", "country") if len(countries) <= 1 else ("as_of",)


def _version_line(v: dict[str, Any], role: str) -> str:
    hh = "" if v["households"] is None else f" ({v['households']:,} households)"
    sign = {"registration": "+", "return": "−"}.get(v["kind"], "")
    src = v["source"].get("publisher", "")
    if v["source"].get("report"):
        src += f", {v['source']['report']}"
    return (
        f"{role}{sign}{v['individuals']:,}{hh} {v['kind']} at {v['location']['name']} "
        f"({v['location']['pcode']}) dated {v['date']} — {src} "
        f"[record {v['record_id']} v{v['version']}, recorded {v['recorded_at'][:19]}Z "
        f"by {v['actor']}]"
    )


def _add_versions(branch: Any, versions: list[dict[str, Any]], role: str) -> None:
    from rich.text import Text

    for v in versions:
        node = branch.add(Text(_version_line(v, role)))
        for c in v["corrections"]:
            node.add(
                Text(
                    f"corrected in v{c['version']}: {c['field']} {c['old']} → {c['new']} "
                    f"(“{c['reason']}”, {c['actor']}, {c['recorded_at'][:19]}Z)"
                )
            )


def _tree(data: dict[str, Any]) -> Any:
    from rich.tree import Tree

    hh = (
        "households unknown" if data["households"] is None else f"{data['households']:,} households"
    )
    flag = " [PARTIAL]" if data["partial"] else ""
    loc = data["location"]
    tree = Tree(
        f"{loc['name']} ({loc['pcode']}, {loc['level']}): {data['individuals']:,} IDPs, {hh}{flag}"
    )
    _fill(tree, data)
    return tree


def _fill(tree: Any, data: dict[str, Any]) -> None:
    if data["baseline"] is not None:
        _add_versions(tree, [data["baseline"]], "baseline: ")
        _add_versions(tree, data["superseded"], "superseded (same date, recorded earlier): ")
    elif data["children"]:
        children = tree.add("no baseline here: the sum of the locations below")
        for child in data["children"]:
            loc = child["location"]
            hh = "" if child["households"] is None else f", {child['households']:,} households"
            flag = " [PARTIAL]" if child["partial"] else ""
            _fill(
                children.add(f"{loc['name']} ({loc['pcode']}): {child['individuals']:,}{hh}{flag}"),
                child,
            )
    _add_versions(tree, data["flows"], "flow: ")
    tree.add(f"= {data['arithmetic']}")
    for n in data["notes"]:
        tree.add(f"note: {n}")


def explain_view(explanation: Any) -> View:
    data = explanation.as_dict()
    rows: list[tuple[Any, ...]] = []

    def walk(node: dict[str, Any]) -> None:
        parts = [("baseline", node["baseline"])] if node["baseline"] else []
        parts += [("superseded", v) for v in node["superseded"]]
        parts += [("flow", v) for v in node["flows"]]
        for role, v in parts:
            rows.append(
                (
                    node["location"]["pcode"],
                    role,
                    v["record_id"],
                    v["version"],
                    v["kind"],
                    v["location"]["pcode"],
                    v["date"],
                    v["individuals"],
                    v["households"],
                    v["source"].get("publisher"),
                )
            )
        for child in node["children"]:
            walk(child)

    walk(data)
    return View(
        data=data,
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
        renderable=lambda: _tree(data),
        footer=[
            f"as of {data['as_of']}, known at {data['known_at'][:19]}Z, "
            f"log position {data['position']}"
        ],
    )


def _totals_rows(d: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Rows of one totals object (the contract's JSON shape): breakdown, then the total.
    ``line`` says what a row is: the breakdown level, ``not disaggregated``, or ``total``."""
    out: list[tuple[Any, ...]] = []
    country = d["location"]["pcode"]
    for r in d.get("rows", []):
        line = d.get("by") if r["pcode"] is not None else r["name"]
        out.append(
            (
                d["as_of"],
                country,
                line,
                r["pcode"],
                r["name"],
                r["individuals"],
                r["households"],
                r["partial"],
                "; ".join(r["notes"]),
            )
        )
    t = d["total"]
    loc = d["location"]
    out.append(
        (
            d["as_of"],
            country,
            "total",
            loc["pcode"],
            loc["name"],
            t["individuals"],
            t["households"],
            t["partial"],
            "; ".join(t["notes"]),
        )
    )
    return out


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


def snapshot_view(kept: dict[str, Any]) -> View:
    result = kept["result"]
    rows: list[tuple[Any, ...]] = []
    for d in result.get("countries", [result]):
        rows += _totals_rows(d)
    return View(
        data=kept,
        columns=TOTALS_COLUMNS,
        hxl=TOTALS_HXL,
        table_skip=_same_for_all(rows),
        rows=rows,
        title=(
            f"snapshot {kept['name']}: as of {kept['as_of']}, known at "
            f"{kept['known_at'][:19]}Z, log position {kept['position']}"
        ),
    )


def compare_view(comparison: Any) -> View:
    data = comparison.as_dict()
    a, b = data["a"], data["b"]
    rows = [(r["pcode"], r["name"], r["a"], r["b"], r["change"]) for r in data["rows"]]
    rows.append(
        (
            a["location"]["pcode"],
            f"{a['location']['name']} (total)",
            a["total"]["individuals"],
            b["total"]["individuals"],
            data["change"]["individuals"],
        )
    )
    label_a, label_b = _side_label(a), _side_label(b)
    return View(
        data=data,
        columns=("pcode", "name", f"a: {label_a}", f"b: {label_b}", "change"),
        rows=rows,
        title=f"{a['location']['name']}: {label_a} → {label_b}",
        footer=[f"a known at {a['known_at'][:19]}Z; b known at {b['known_at'][:19]}Z"],
    )


def _side_label(side: dict[str, Any]) -> str:
    if "snapshot" in side:
        return f"{side['snapshot']} ({side['as_of']})"
    return str(side["as_of"])


def series_view(result: Any) -> View:
    """The totals of each period end, one after the other (same columns as totals)."""
    data = result.as_dict()
    rows = [
        row
        for point in data["points"]
        for row in _totals_rows(dict(point, location=data["location"]))
    ]
    return View(
        data=data,
        columns=TOTALS_COLUMNS,
        hxl=TOTALS_HXL,
        table_skip=("country",),
        rows=rows,
        title=f"IDPs at the end of each {data['every']}, as known at {str(data['known_at'])[:19]}Z",
    )


def revisions_view(result: Any) -> View:
    data = result.as_dict()
    rows = [
        (
            f["as_of"],
            f["pcode"],
            f["name"],
            f["old"]["individuals"],
            f["new"]["individuals"],
            f["change"],
            ", ".join(f["caused_by"]),
        )
        for f in data["figures"]
    ]
    footer = [
        f"{e['recorded_at'][:19]}Z {e['actor']} {e['action']} {e['record_id']} v{e['version']}"
        + (
            ": " + "; ".join(f"{c['field']} {c['old']} → {c['new']}" for c in e["changes"])
            if e["changes"]
            else ""
        )
        + (f" (“{e['reason']}”)" if e["reason"] else "")
        for e in data["events"]
    ]
    return View(
        data=data,
        columns=("as_of", "pcode", "name", "old", "new", "change", "caused by"),
        rows=rows,
        title=f"figures changed by what was recorded {data['since'][:19]}Z – {data['until'][:19]}Z",
        footer=footer,
    )
