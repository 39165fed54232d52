"""The pages for a person: server-rendered HTML of read-service results, with charts.

Every page is complete without JavaScript; ``/static/charts.js`` only draws the Plotly
figures a page carries inline (``cli.http.charts``). A datetime typed into a page's form
has no time zone: it is taken as UTC, as the form says.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.exceptions import HTTPException
from starlette.responses import HTMLResponse, RedirectResponse, Response

from cli.http import charts, html
from cli.http.api import POSITION, failed
from cli.http.readers import Readers
from ledger.dates import parse_day, parse_instant, utc_now
from ledger.errors import LedgerError
from projections.records import location_ref
from projections.service import ReadService, moment

router = APIRouter(include_in_schema=False)

# what an <input type="datetime-local"> sends: no time zone
_LOCAL = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?$")

Optional = Annotated[str | None, Query()]


def instant(text: str | None) -> str | None:
    """A known-at instant from a page's form or link: empty is None (now); a datetime
    without a time zone is UTC."""
    if text is None or not text.strip():
        return None
    text = text.strip()
    return text + "+00:00" if _LOCAL.match(text) else text


def local_input(moment_: datetime | None) -> str:
    """The value of a datetime-local input for an instant (in UTC, to the millisecond)."""
    if moment_ is None:
        return ""
    return moment_.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:23]


def page(
    request: Request, template: str, build: Callable[[ReadService], dict[str, Any] | Response]
) -> Response:
    """A page from what ``build`` asks this thread's read service (caught up first), or
    the response ``build`` gives instead (a redirect)."""
    readers: Readers = request.app.state.readers
    with readers.reading() as reader:
        try:
            context = build(reader)
        except LedgerError as error:
            return failed(request, error, reader.position)
        position = reader.position
    if isinstance(context, Response):
        return context
    body = html.render(template, position=position, **context)
    return HTMLResponse(body, headers={POSITION: str(position)})


@router.get("/")
def index(request: Request, as_of: Optional = None, known_at: Optional = None) -> Response:
    """Every country with figures, with its total as of a date (as known at an instant)."""
    asked = instant(known_at)

    def build(reader: ReadService) -> dict[str, Any]:
        when = moment(as_of or None, asked)
        return {
            "title": "Countries",
            "when": when,
            "as_of": as_of or None,
            "known_at": asked,
            "report": reader.totals(when),
        }

    return page(request, "index.html", build)


@router.get("/countries/{pcode:path}")
def country(
    request: Request,
    pcode: str,
    as_of: Optional = None,
    known_at: Optional = None,
    start: Annotated[str | None, Query(alias="from")] = None,
) -> Response:
    """A country's totals by admin1 (table and bars) and its stock month by month; with
    ``known_at``, as the ledger knew them then, beside today's, with what was revised."""
    asked = instant(known_at)

    def build(reader: ReadService) -> dict[str, Any] | Response:
        place = reader.location(pcode)
        if place.level != 0:  # a region or a district: the location page
            where = html.query(as_of=as_of, known_at=asked)
            return RedirectResponse(f"/locations/{place.pcode}{where}", status_code=303)
        when = moment(as_of or None, asked)
        pinned = when.known_at.isoformat()  # every question of the page at one instant
        code = place.pcode
        totals = reader.single(reader.totals(when, code, "admin1"), "a country page")
        first = parse_day(start, what="from") if start else charts.series_start(when.as_of)
        end = when.as_of.isoformat()
        series = reader.series(first.isoformat(), end, "month", pinned, code)
        now = series_now = revisions = None
        revised: list[Any] = []
        if asked is not None and when.known_at < utc_now():  # an earlier instant: beside now
            now = reader.single(reader.totals(moment(end), code, "admin1"), "a country page")
            series_now = reader.series(first.isoformat(), end, "month", None, code)
            revisions = reader.revisions(pinned)
            revised = [f for f in revisions.figures if f.pcode == code]
        shown = [f for f in revised if first <= f.as_of <= when.as_of]
        figures = {
            "bars-figure": charts.breakdown_bars(totals),
            "stock-figure": charts.stock_line(
                series,
                known_now=series_now,
                revised=shown,
                known_label=f"as known at {html.stamp(when.known_at)}" if asked else "IDPs",
            ),
        }
        return {
            "title": totals.location.name,
            "when": when,
            "totals": totals,
            "now": now,
            "series": series,
            "revisions": revisions,
            "revised": revised,
            "charts": figures,
            "as_of": as_of or None,
            "known_at": asked,
            "known_at_input": local_input(when.known_at if asked else None),
            "start": first,
            "start_text": start or None,
        }

    return page(request, "country.html", build)


@router.get("/locations")
def search(request: Request, q: Optional = None) -> Response:
    """Locations whose p-code, name or variant matches ``q``."""

    def build(reader: ReadService) -> dict[str, Any]:
        return {"title": "Locations", "q": q or "", "found": reader.locations(q or None)}

    return page(request, "locations.html", build)


@router.get("/locations/{pcode:path}")
def location(
    request: Request, pcode: str, as_of: Optional = None, known_at: Optional = None
) -> Response:
    """How a location's figure was derived: the explain tree, each record linked."""
    asked = instant(known_at)

    def build(reader: ReadService) -> dict[str, Any]:
        when = moment(as_of or None, asked)
        explanation = reader.explain(when, pcode)
        return {
            "title": explanation.derivation.location.name,
            "explanation": explanation,
            "when": when,
            "as_of": as_of or None,
            "known_at": asked,
            "known_at_input": local_input(when.known_at if asked else None),
        }

    return page(request, "location.html", build)


@router.get("/records/{record_id}")
def record(request: Request, record_id: str) -> Response:
    """Every version of a record: who, when, why, what changed."""

    def build(reader: ReadService) -> dict[str, Any]:
        history = reader.history(record_id)
        names = {v.pcode: location_ref(history.index, v.pcode) for v in history.versions}
        return {"title": f"Record {history.record_id}", "history": history, "locations": names}

    return page(request, "record.html", build)


@router.get("/revisions")
def revisions(request: Request, since: Optional = None, until: Optional = None) -> Response:
    """What was recorded in a window of system time (default the last 30 days), and
    every figure it changed."""
    start = instant(since) or (utc_now() - timedelta(days=30)).isoformat()
    end = instant(until)

    def build(reader: ReadService) -> dict[str, Any]:
        found = reader.revisions(start, end)
        return {
            "title": "Revisions",
            "revisions": found,
            "since_input": local_input(parse_instant(start, what="since")),
            "until_input": local_input(parse_instant(end, what="until")) if end else "",
        }

    return page(request, "revisions.html", build)


@router.get("/snapshots")
def snapshots(request: Request) -> Response:
    return page(request, "snapshots.html", lambda r: {"title": "Snapshots", "kept": r.snapshots()})


@router.get("/snapshots/{name}")
def snapshot(request: Request, name: str) -> Response:
    """A kept snapshot's totals as they were computed, with its chain checkpoint."""

    def build(reader: ReadService) -> dict[str, Any]:
        kept = reader.snapshot(name)
        return {
            "title": f"Snapshot {kept.summary.name}",
            "snapshot": kept,
            "checkpoint": kept.result.get("checkpoint"),
        }

    return page(request, "snapshot.html", build)


@router.get("/docs")
def docs(request: Request) -> Response:
    """The API's description as a plain page (Swagger UI would load from a CDN)."""
    spec = request.app.openapi()
    return HTMLResponse(html.render("docs.html", title="API", spec=spec))


@router.get("/static/{name}")
def static(name: str) -> Response:
    """The only files a page loads: the style sheet, the chart script, Plotly."""
    try:
        body = html.asset(name)
    except KeyError:
        raise HTTPException(404) from None
    return Response(
        body, media_type=html.ASSETS[name], headers={"Cache-Control": "public, max-age=86400"}
    )
