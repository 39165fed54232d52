"""Options that several commands share, typed once."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.render import Format

FormatOption = Annotated[
    Format, typer.Option("--format", "-f", help="Output format.", case_sensitive=False)
]
AsOf = Annotated[
    str | None, typer.Option("--as-of", help="Valid date the figures describe (default today).")
]
KnownAt = Annotated[
    str | None,
    typer.Option("--known-at", help="What the ledger held at this instant (default now)."),
]
LocationOption = Annotated[
    str | None, typer.Option("--location", help="P-code or name (default: every country).")
]
ByOption = Annotated[
    str | None, typer.Option("--by", help="Break down by country, admin1 or admin2.")
]
ApprovedOnly = Annotated[
    bool,
    typer.Option(
        "--approved-only", help="Count each record at its latest approved version (see review)."
    ),
]
