"""`dledger serve` (the web front end) and `dledger report` (a self-contained HTML file)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.app import commands, note, state
from cli.options import AsOf, KnownAt, LocationOption

app = commands()


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[
        str,
        typer.Option("--host", help="Address to listen on (default this machine only)."),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port.")] = 8080,
) -> None:
    """Serve the figures read-only over HTTP: JSON under /api, pages under /.

    Read-only: the server answers GET requests only and records nothing (it brings the
    read models up to date with the log, as every read command does). Every request sees
    the log as it is now, so a correction recorded meanwhile is served at once.

    It listens on 127.0.0.1 (this machine only) unless --host says otherwise: there is
    no authentication, so give --host 0.0.0.0 only on a network you trust. Pages and
    charts load nothing from any other server. /docs describes the API, /openapi.json
    in OpenAPI form. Ctrl+C stops it.
    """
    import socket

    import uvicorn

    from cli.http.api import make_app
    from cli.http.logs import log_config
    from ledger.errors import LedgerError
    from ledger.failures import os_message
    from ledger.targets import safe_target

    st = state(ctx)
    position = st.reader().position  # no ledger, no database: exit 1 now, not per request
    st.close()
    shown_host = f"[{host}]" if ":" in host else host
    try:  # bound here, so that a port in use is one line and exit 1, as any other failure
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        listener = socket.create_server((host, port), family=family)
    except OSError as error:
        raise LedgerError(f"cannot listen on {shown_host}:{port}: {os_message(error)}") from None
    note(
        f"serving {safe_target(st.db)} (log position {position}) read-only at "
        f"http://{shown_host}:{port}/ — Ctrl+C stops"
    )
    config = uvicorn.Config(
        make_app(st.db, debug=st.debug),
        host=host,
        port=port,
        log_config=log_config(st.db, debug=st.debug),
        access_log=False,  # the app logs each request: method, path and status only
        server_header=False,
        proxy_headers=False,
        lifespan="on",
    )
    uvicorn.Server(config).run(sockets=[listener])


@app.command()
def report(
    ctx: typer.Context,
    out: Annotated[
        Path, typer.Option("--out", dir_okay=False, help="The HTML file to write (new).")
    ],
    location: LocationOption = None,
    as_of: AsOf = None,
    known_at: KnownAt = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
) -> None:
    """Write one self-contained HTML situation report (readable offline).

    For each location (every country by default): the headline figure, its breakdown
    one level down as a table and a bar chart, its stock month by month, how the figure
    was derived with its sources, and the chain checkpoint the numbers were computed at.
    Style and charts are inside the file: it opens in any browser without a network and
    prints to PDF from the browser.
    """
    from cli.http.report import situation_report
    from ledger.files import check_output, written
    from projections.service import moment

    check_output(out, force=force)  # refuse before computing anything
    reader = state(ctx).reader()
    text = situation_report(reader, moment(as_of, known_at), location)
    with written(out, force=force) as handle:
        handle.write(text)
    note(f"report written to {out} (log position {reader.position})")
