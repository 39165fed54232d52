"""The one door every error of the web front end leaves by: a status and one line.

``failure`` says what an error is to a client; ``response`` answers with it, as
``{"error": "<one line>"}`` under ``/api`` and as a page elsewhere. A bad parameter is 400,
something that does not exist 404, a method other than GET 405, anything else 500 with the
line ``ledger.failures.describe`` gives (or "internal error"): never a traceback, never a
database password.
"""

from __future__ import annotations

import logging
import re
from http import HTTPStatus

from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import HTMLResponse, JSONResponse, Response

from cli.render import shown
from ledger.errors import (
    AmbiguousLocation,
    InvalidInput,
    LedgerError,
    RecordNotFound,
    SnapshotNotFound,
    UnknownLocation,
)
from ledger.failures import describe
from ledger.targets import scrub

log = logging.getLogger("dledger.http")

# the ledger's errors a client can cause, by status (any other error is a 500)
STATUSES: tuple[tuple[type[LedgerError], int], ...] = (
    (InvalidInput, 400),
    (AmbiguousLocation, 400),
    (UnknownLocation, 404),
    (RecordNotFound, 404),
    (SnapshotNotFound, 404),
)
INTERNAL = "internal error"


_OPTION = re.compile(r"(?<![\w-])--([a-z][a-z-]*[a-z])\b")


def as_parameters(message: str) -> str:
    """A message of the read service as a client of the server needs it: its command-line
    options (``--as-of``) named as the query parameters they are here (``as_of``)."""
    return _OPTION.sub(lambda found: found.group(1).replace("-", "_"), message)


def failure(error: BaseException, target: str, method: str, path: str) -> tuple[int, str]:
    """The status and the one line naming what went wrong."""
    if isinstance(error, RequestValidationError):
        return 400, _invalid(error)
    if isinstance(error, HTTPException):
        if error.status_code == 404:
            return 404, f"no such page or endpoint: {shown(path)}"
        if error.status_code == 405:
            return 405, f"method {method} not allowed: this server is read-only (GET only)"
        return error.status_code, str(error.detail)
    for kind, status in STATUSES:
        if isinstance(error, kind):
            return status, as_parameters(scrub(str(error), target))
    said = describe(error, target)
    return 500, scrub(said, target) if said else INTERNAL


def _invalid(error: RequestValidationError) -> str:
    problems = list(error.errors())
    if not problems:
        return "invalid request"
    first = problems[0]
    where = [str(part) for part in first.get("loc", ()) if part not in ("query", "path")]
    name = ".".join(where) or "request"
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    if first.get("type") == "missing":
        return f"missing parameter {name}{more}"
    return f"invalid parameter {name}: {str(first.get('msg', 'invalid')).lower()}{more}"


def wants_json(path: str) -> bool:
    return path == "/api" or path.startswith("/api/") or path == "/openapi.json"


def response(
    error: BaseException, target: str, method: str, path: str, *, debug: bool = False
) -> Response:
    """The answer to a request that failed with ``error``."""
    status, message = failure(error, target, method, path)
    if status >= 500:
        log.error(
            "%s %s failed: %s (%s)",
            method,
            shown(path),
            message,
            type(error).__name__,
            exc_info=error if debug else None,
        )
    headers = {"Allow": "GET"} if status == 405 else None
    if wants_json(path):
        return JSONResponse({"error": message}, status_code=status, headers=headers)
    from cli.http.html import render

    reason = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "error"
    try:
        page = render("error.html", title=reason, status=status, reason=reason, message=message)
    except Exception:  # a page that cannot be drawn still says what went wrong
        return Response(message, status_code=status, headers=headers, media_type="text/plain")
    return HTMLResponse(page, status_code=status, headers=headers)
