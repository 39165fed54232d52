"""Plotly figures as plain dicts (``{"data": [...], "layout": {...}}``), drawn in the page
by ``static/charts.js`` with ``Plotly.newPlot``. Every number is a read-service result's;
nothing here adds, subtracts or selects figures beyond picking the series to draw."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import date
from typing import Any

from cli.render import shown
from projections.timeline import RevisedFigure, Series
from projections.totals import Totals

# the system's own fonts: nothing is fetched to draw a chart
FONT = (
    'system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Liberation Sans", '
    "Arial, sans-serif"
)
INK, BAR, REST, NOW, REVISED = "#222222", "#3b6ea5", "#9aa5b1", "#7a7a7a", "#c0392b"

Figure = dict[str, Any]
SERIES_MONTHS = 24  # the stock over time: this many month ends, up to the as-of date


def series_start(as_of: date, months: int = SERIES_MONTHS) -> date:
    """The first day of the first of ``months`` months that end with ``as_of``'s month."""
    index = as_of.year * 12 + as_of.month - 1 - (months - 1)
    return date(index // 12, index % 12 + 1, 1)


def label(text: str) -> str:
    """Text for Plotly, which reads a few HTML tags and entities in labels: control
    characters shown escaped, ``<`` ``>`` ``&`` as entities (so a name is never markup)."""
    return html.escape(shown(text), quote=False)


def _layout(**extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "font": {"family": FONT, "size": 13, "color": INK},
        "margin": {"l": 70, "r": 20, "t": 20, "b": 60},
        "height": 340,
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        "separators": ".,",
        "yaxis": {
            "tickformat": ",d",
            "rangemode": "tozero",
            "gridcolor": "#e5e5e5",
            "title": {"text": "IDPs (individuals)"},
        },
        "showlegend": False,
    }
    layout.update(extra)
    return layout


def breakdown_bars(totals: Totals) -> Figure:
    """One bar per row of a breakdown (``--by``), the *not disaggregated* line in grey."""
    rows = totals.rows or ()
    return {
        "data": [
            {
                "type": "bar",
                "x": [label(r.name) for r in rows],
                "y": [r.individuals for r in rows],
                "customdata": [label(r.pcode or "") for r in rows],
                "marker": {"color": [BAR if r.pcode is not None else REST for r in rows]},
                "hovertemplate": "%{x} %{customdata}: %{y:,} IDPs<extra></extra>",
            }
        ],
        "layout": _layout(xaxis={"tickangle": -30, "automargin": True}),
    }


def stock_line(
    series: Series,
    *,
    known_now: Series | None = None,
    revised: Sequence[RevisedFigure] = (),
    known_label: str = "as known now",
) -> Figure:
    """The stock at each period end; with ``known_now``, the same series as the ledger
    knows it today (dashed), and each figure ``revised`` since marked at its date."""
    traces: list[dict[str, Any]] = [_stock_trace(series, known_label, BAR)]
    if known_now is not None:
        now = _stock_trace(known_now, "as known now", NOW)
        now["line"]["dash"] = "dash"
        traces.append(now)
    shapes, notes = [], []
    if revised:
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": "revised since",
                "x": [f.as_of.isoformat() for f in revised],
                "y": [f.new_individuals for f in revised],
                "customdata": [[f.old_individuals, f.new_individuals, f.change] for f in revised],
                "marker": {"symbol": "diamond", "size": 12, "color": REVISED},
                "hovertemplate": "revised %{x}: %{customdata[0]:,} → %{customdata[1]:,} "
                "(%{customdata[2]:+,})<extra></extra>",
            }
        )
        for day in sorted({f.as_of.isoformat() for f in revised}):
            shapes.append(
                {
                    "type": "line",
                    "xref": "x",
                    "yref": "paper",
                    "x0": day,
                    "x1": day,
                    "y0": 0,
                    "y1": 1,
                    "line": {"color": REVISED, "width": 1, "dash": "dot"},
                }
            )
            notes.append(
                {
                    "x": day,
                    "y": 1,
                    "xref": "x",
                    "yref": "paper",
                    "text": "revised",
                    "showarrow": False,
                    "yanchor": "bottom",
                    "font": {"color": REVISED},
                }
            )
    return {
        "data": traces,
        "layout": _layout(
            xaxis={"type": "date", "gridcolor": "#e5e5e5"},
            shapes=shapes,
            annotations=notes,
            showlegend=len(traces) > 1,
            legend={"orientation": "h", "y": -0.2},
            margin={"l": 70, "r": 20, "t": 30, "b": 50},
        ),
    }


def _stock_trace(series: Series, name: str, color: str) -> dict[str, Any]:
    return {
        "type": "scatter",
        "mode": "lines+markers",
        "name": label(name),
        "x": [p.as_of.isoformat() for p in series.points],
        "y": [p.total.individuals for p in series.points],
        "line": {"color": color, "width": 2},
        "marker": {"size": 6, "color": color},
        "hovertemplate": "%{x}: %{y:,} IDPs<extra></extra>",
    }
