"""Reading figures: totals, explain, compare, series, revisions."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.app import commands, state
from cli.options import ApprovedOnly, AsOf, ByOption, FormatOption, KnownAt, LocationOption
from cli.render import Format, render

app = commands()


@app.command()
def totals(
    ctx: typer.Context,
    as_of: AsOf = None,
    known_at: KnownAt = None,
    location: LocationOption = None,
    by: ByOption = None,
    breakdown: Annotated[
        str | None,
        typer.Option(
            "--breakdown",
            help="Break each figure down by sex, age, cause or origin (with --by admin1, "
            "origin gives the origin-to-destination table).",
        ),
    ] = None,
    approved_only: ApprovedOnly = False,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """IDPs per location as of a date, as known at an instant."""
    from cli.views import totals_view
    from projections.service import moment

    when = moment(as_of, known_at)
    found = state(ctx).reader().totals(when, location, by, breakdown, approved_only=approved_only)
    render(totals_view(found), fmt)


@app.command()
def explain(
    ctx: typer.Context,
    location: Annotated[str, typer.Argument(help="P-code or name of the location.")],
    as_of: AsOf = None,
    known_at: KnownAt = None,
    fmt: FormatOption = Format.TABLE,
    bundle: Annotated[
        str | None,
        typer.Option(
            "--bundle",
            help="Also write an audit bundle to this new file: the derivation, its events, "
            "their Merkle proofs and a checkpoint (`dledger audit FILE` checks it offline).",
        ),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option("--key", help="Sign the bundle's checkpoint with this Ed25519 private key."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing bundle.")] = False,
    approved_only: ApprovedOnly = False,
) -> None:
    """How a figure was derived: baseline, flows, corrections, arithmetic, sources."""
    from cli.views import explain_view
    from projections.service import moment

    when = moment(as_of, known_at)
    if bundle is None:
        if key is not None:
            raise typer.BadParameter("--key signs a bundle: give --bundle", param_hint="--key")
        explained = state(ctx).reader().explain(when, location, approved_only=approved_only)
        render(explain_view(explained), fmt)
        return
    if approved_only:
        raise typer.BadParameter(
            "a bundle proves the figure from every version in the log; bundles of approved "
            "versions only are not made yet",
            param_hint="--approved-only",
        )
    from cli.integrity import write_bundle

    explanation = write_bundle(state(ctx).reader(), when, location, bundle, key, force=force)
    render(explain_view(explanation), fmt)


@app.command()
def compare(
    ctx: typer.Context,
    a: Annotated[str, typer.Argument(help="A date or a snapshot name.")],
    b: Annotated[str, typer.Argument(help="A date or a snapshot name.")],
    location: LocationOption = None,
    by: ByOption = None,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Two dates or snapshots side by side, in total and per row."""
    from cli.views import compare_view

    render(compare_view(state(ctx).reader().compare(a, b, location, by)), fmt)


@app.command()
def series(
    ctx: typer.Context,
    start: Annotated[str, typer.Option("--from", help="First date.")],
    end: Annotated[str, typer.Option("--to", help="Last date.")],
    every: Annotated[str, typer.Option("--every", help="month, quarter or year.")] = "month",
    known_at: KnownAt = None,
    location: LocationOption = None,
    by: ByOption = None,
    approved_only: ApprovedOnly = False,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """Totals at the end of each month, quarter or year between two dates."""
    from cli.views import series_view

    result = (
        state(ctx)
        .reader()
        .series(start, end, every, known_at, location, by, approved_only=approved_only)
    )
    render(series_view(result), fmt)


@app.command()
def flows(
    ctx: typer.Context,
    start: Annotated[str, typer.Option("--from", help="First day of the period.")],
    end: Annotated[str, typer.Option("--to", help="Last day of the period.")],
    known_at: KnownAt = None,
    location: LocationOption = None,
    by: ByOption = None,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """New displacements (and registrations and returns) in a period, with their sources."""
    from cli.record_views import flows_view

    render(flows_view(state(ctx).reader().flows(start, end, known_at, location, by)), fmt)


@app.command()
def revisions(
    ctx: typer.Context,
    since: Annotated[str, typer.Option("--since", help="Start of the system-time window.")],
    until: Annotated[str | None, typer.Option("--until", help="End (default now).")] = None,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """What corrections and new records recorded in a window changed, figure by figure."""
    from cli.record_views import revisions_view

    render(revisions_view(state(ctx).reader().revisions(since, until)), fmt)
