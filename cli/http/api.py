"""The FastAPI application: JSON under /api with the command line's shapes and parameters
(snake case), the pages (``cli.http.pages``), one error door, GET only.

Each endpoint asks its worker thread's read service one question (``answer``), after
bringing it up to date with the log, and returns the result's ``to_json``; the response's
``X-Ledger-Position`` header gives the log position it was computed at.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from importlib import metadata
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cli.http import door
from cli.http.readers import Readers
from cli.render import shown
from ledger.errors import LedgerError
from projections.service import ReadService, moment

POSITION = "X-Ledger-Position"
log = logging.getLogger("dledger.http")

# nothing a page needs comes from elsewhere, and nothing is sent elsewhere
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}
# FastAPI's own OpenTelemetry hooks, off: no span, metric or log leaves the server
NO_TELEMETRY: Any = {
    "tracing": False,
    "metrics": False,
    "logs": False,
    "operation_spans": False,
    "auto_configure": False,
}


class ErrorBody(BaseModel):
    """Every error's body: one line naming what went wrong."""

    error: str


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "A bad parameter."},
    404: {"model": ErrorBody, "description": "No such location, record or snapshot."},
    500: {"model": ErrorBody, "description": "The ledger could not answer."},
}

Location = Annotated[str | None, Query(description="P-code or name (default: every country).")]
AsOf = Annotated[str | None, Query(description="Valid date the figures describe (default today).")]
KnownAt = Annotated[
    str | None,
    Query(
        description="What the ledger held at this instant: ISO 8601 with a time zone, or "
        "a date (= end of that day UTC). Default now."
    ),
]
By = Annotated[str | None, Query(description="Break down by country, admin1 or admin2.")]

api = APIRouter(prefix="/api", responses=ERRORS)


def answer(request: Request, question: Callable[[ReadService], Any]) -> Response:
    """Ask this thread's read service, caught up with the log, and answer with the JSON
    it gives, saying the log position it was computed at."""
    readers: Readers = request.app.state.readers
    with readers.reading() as reader:
        try:
            data = question(reader)
        except LedgerError as error:  # the user's: said at the position it was found at
            return failed(request, error, reader.position)
        return JSONResponse(data, headers={POSITION: str(reader.position)})


def failed(request: Request, error: Exception, position: int | None = None) -> Response:
    """The door's answer to a request that failed (with the log position, if known)."""
    app = request.app
    response = door.response(
        error, app.state.target, request.method, request.url.path, debug=app.state.debug
    )
    if position is not None:
        response.headers[POSITION] = str(position)
    return response


ApprovedOnly = Annotated[
    bool, Query(description="Count each record at its latest approved version.")
]


@api.get("/totals", summary="IDPs per location as of a date, as known at an instant.")
def totals(
    request: Request,
    location: Location = None,
    as_of: AsOf = None,
    known_at: KnownAt = None,
    by: By = None,
    breakdown: Annotated[str | None, Query(description="sex, age, cause or origin.")] = None,
    approved_only: ApprovedOnly = False,
) -> Response:
    """`dledger totals --format json`: one location's totals, or every country's."""

    def question(reader: ReadService) -> Any:
        when = moment(as_of, known_at)
        return reader.totals(
            when, location, by, breakdown=breakdown, approved_only=approved_only
        ).to_json()

    return answer(request, question)


@api.get("/explain/{loc:path}", summary="How a figure was derived.")
def explain(
    request: Request,
    loc: Annotated[str, Path(description="P-code or name of the location.")],
    as_of: AsOf = None,
    known_at: KnownAt = None,
    approved_only: ApprovedOnly = False,
) -> Response:
    """`dledger explain LOC --format json`: baseline, flows, corrections, children, sums."""
    when = moment(as_of, known_at)
    return answer(request, lambda r: r.explain(when, loc, approved_only=approved_only).to_json())


@api.get("/compare", summary="Two dates or snapshots side by side.")
def compare(
    request: Request,
    a: Annotated[str, Query(description="A date or a snapshot name.")],
    b: Annotated[str, Query(description="A date or a snapshot name.")],
    location: Location = None,
    by: By = None,
) -> Response:
    """`dledger compare A B --format json`."""
    return answer(request, lambda r: r.compare(a, b, location, by).to_json())


@api.get("/series", summary="Totals at the end of each month, quarter or year.")
def series(
    request: Request,
    start: Annotated[str, Query(alias="from", description="First date.")],
    end: Annotated[str, Query(alias="to", description="Last date.")],
    every: Annotated[str, Query(description="month, quarter or year.")] = "month",
    known_at: KnownAt = None,
    location: Location = None,
    by: By = None,
    approved_only: ApprovedOnly = False,
) -> Response:
    """`dledger series --from DATE --to DATE --format json`."""
    return answer(
        request,
        lambda r: r.series(
            start, end, every, known_at, location, by, approved_only=approved_only
        ).to_json(),
    )


@api.get("/flows", summary="New displacements (and registrations and returns) in a period.")
def flows(
    request: Request,
    start: Annotated[str, Query(alias="from", description="First day of the period.")],
    end: Annotated[str, Query(alias="to", description="Last day of the period.")],
    known_at: KnownAt = None,
    location: Location = None,
    by: By = None,
) -> Response:
    """`dledger flows --from DATE --to DATE --format json`, with each figure's source."""
    return answer(request, lambda r: r.flows(start, end, known_at, location, by).to_json())


@api.get("/revisions", summary="What was recorded in a window of system time.")
def revisions(
    request: Request,
    since: Annotated[str, Query(description="Start of the system-time window.")],
    until: Annotated[str | None, Query(description="End of the window (default now).")] = None,
) -> Response:
    """`dledger revisions --since TS --format json`: what it changed, figure by figure."""
    return answer(request, lambda r: r.revisions(since, until).to_json())


@api.get("/records/{record_id}/history", summary="Every version of a record.")
def history(request: Request, record_id: str) -> Response:
    """`dledger history RECORD_ID --format json`: what changed, who, when, why."""
    return answer(request, lambda r: r.history(record_id).to_json())


@api.get("/snapshots", summary="Every kept snapshot.")
def snapshots(request: Request) -> Response:
    """`dledger snapshot list --format json`."""
    return answer(request, lambda r: [kept.to_json() for kept in r.snapshots()])


@api.get("/snapshots/{name}", summary="One kept snapshot, as it was computed.")
def snapshot(request: Request, name: str) -> Response:
    """`dledger snapshot show NAME --format json`."""
    return answer(request, lambda r: r.snapshot(name).to_json())


@api.get("/checkpoint", summary="The chain checkpoint the answers are computed at.")
def checkpoint(request: Request) -> Response:
    """The hash chain's position and head hash at the log position being served
    (`dledger checkpoint`'s first lines)."""
    return answer(request, lambda r: r.checkpoint().as_dict())


@api.get("/locations", summary="Known locations, or those matching q.")
def locations(
    request: Request,
    q: Annotated[str | None, Query(description="Part of a p-code, name or variant.")] = None,
) -> Response:
    """`dledger locations [QUERY] --format json`."""
    from cli.record_views import locations_view

    return answer(request, lambda r: locations_view(r.locations(q)).data)


class Guard:
    """Around every request: the security headers, one log line (method, path and
    status; never the query string), and the door for any error nothing else handled."""

    def __init__(self, app: ASGIApp, target: str, debug: bool = False) -> None:
        self.app = app
        self.target = target
        self.debug = debug

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status, started = 500, False

        async def sending(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started, status = True, int(message["status"])
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        method, path = scope["method"], scope["path"]
        shown_path = shown(path)  # a path cannot forge a log line
        try:
            await self.app(scope, receive, sending)
        except Exception as error:
            if started:  # the answer is under way: it can only be cut short
                log.error(
                    "%s %s failed while answering (%s)", method, shown_path, type(error).__name__
                )
                return
            failed = door.response(error, self.target, method, path, debug=self.debug)
            await failed(scope, receive, sending)
        finally:
            log.info("%s %s %s", method, shown_path, status)


def make_app(target: str, *, debug: bool = False, threads: int = 4) -> FastAPI:
    """The web front end of the ledger at ``target``: read-only, GET only. ``threads``
    bounds the worker threads, hence the read services (database connections) open: a few
    hot ones answer more than many cold ones (bench/serve_bench.py on the 1M ledger, 16
    clients: 83 req/s, p99 177 ms, 72 MiB with 4; 65 req/s, 338 ms, 112 MiB with 16)."""
    from cli.http import pages

    readers = Readers(target)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        import anyio.to_thread

        anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        try:
            yield
        finally:
            readers.close()

    async def handler(request: Request, error: Exception) -> Response:
        return failed(request, error)

    app = FastAPI(
        title="displacement-ledger",
        version=metadata.version("displacement-ledger"),
        description="Read-only figures of internally displaced people: every number is "
        "derived from the ledger's events. GET only; JSON shapes as `dledger --format json`.",
        docs_url=None,  # Swagger UI and ReDoc load from a CDN: /docs is a local page instead
        redoc_url=None,
        openapi_url="/openapi.json",
        lifespan=lifespan,
        telemetry=NO_TELEMETRY,
        exception_handlers={HTTPException: handler, RequestValidationError: handler},
    )
    app.state.readers = readers
    app.state.target = target
    app.state.debug = debug
    app.include_router(api)
    app.include_router(pages.router)
    app.add_middleware(Guard, target=target, debug=debug)
    return app
