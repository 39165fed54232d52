"""The situation report: one self-contained HTML file (style, Plotly and the chart script
inlined, nothing loaded from any network), printable to PDF from a browser.

For each location (every country by default): the headline figure, its breakdown one
level down as a table and bars, its stock month by month, the derivation of the figure
with its sources, and the chain checkpoint every number was computed at.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cli.http import charts, html
from ledger.dates import utc_now
from ledger.locations import LEVELS, Location, level_name
from projections.explain import Explanation
from projections.service import ReadService
from projections.timeline import Series
from projections.totals import Moment, Totals


@dataclass(frozen=True)
class Section:
    """One location's part of the report."""

    key: str  # the id its charts are known by in the page
    totals: Totals
    explanation: Explanation
    series: Series
    sources: list[dict[str, Any]]


def situation_report(reader: ReadService, when: Moment, location: str | None = None) -> str:
    """The report's HTML for one location, or for every country with figures."""
    if location is not None:
        places = [reader.location(location)]
    else:
        places = [t.location for t in reader.totals(when).countries]
    sections = [_section(reader, when, place, i) for i, place in enumerate(places, start=1)]
    figures: dict[str, Any] = {}
    for s in sections:
        if s.totals.rows is not None:
            figures[f"{s.key}-bars"] = charts.breakdown_bars(s.totals)
        figures[f"{s.key}-stock"] = charts.stock_line(s.series)
    return html.render(
        "report.html",
        standalone=True,
        title="Situation report",
        when=when,
        sections=sections,
        charts=figures,
        checkpoint=reader.checkpoint(),
        position=reader.position,
        written_at=utc_now(),
    )


def _section(reader: ReadService, when: Moment, place: Location, number: int) -> Section:
    below = level_name(place.level + 1) if place.level + 1 < len(LEVELS) else None
    totals = reader.single(reader.totals(when, place.pcode, below), "a report section")
    explanation = reader.explain(when, place.pcode)
    first = charts.series_start(when.as_of)
    series = reader.series(
        first.isoformat(), when.as_of.isoformat(), "month", when.known_at.isoformat(), place.pcode
    )
    return Section(f"s{number}", totals, explanation, series, sources_of(explanation))


def sources_of(explanation: Explanation) -> list[dict[str, Any]]:
    """The sources the derivation rests on, each once (in the order first cited), with
    the records that cite it."""
    found: dict[str, dict[str, Any]] = {}
    for version in explanation.derivation.versions():
        key = repr(sorted(version.source.items()))
        entry = found.setdefault(key, {"source": version.source, "records": []})
        if version.record_id not in entry["records"]:
            entry["records"].append(version.record_id)
    return list(found.values())
