"""`dledger demo`: load the running example into a fresh store and show its records."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from cli.app import commands, note, state
from cli.options import FormatOption
from cli.render import Format, View, render

app = commands()

if TYPE_CHECKING:
    from uuid import UUID

DEMO_TITLE = "Mali IDP figures, late 2017 to early 2018 (the running example)"


def _explicit_db(ctx: typer.Context) -> bool:
    """Whether the user named the target (--db or DLEDGER_DB) rather than the default."""
    source = ctx.find_root().get_parameter_source("db")
    return source is not None and source.name != "DEFAULT"


def demo_view(ledger: Any, record_ids: list[UUID]) -> View:
    index = ledger.locations()
    data: list[dict[str, Any]] = []
    for record_id in record_ids:
        record = ledger.get_record(record_id)
        data.append(
            {
                "record_id": str(record_id),
                "date": str(record.figure_date),
                "location": {"pcode": record.pcode, "name": index.get(record.pcode).name},
                "kind": record.kind,
                "individuals": record.individuals,
                "households": record.households,
                "source": record.source,
                "illustrative": (record.note or "").startswith("illustrative"),
            }
        )
    rows = [
        (
            d["date"],
            f"{d['location']['name']} ({d['location']['pcode']})",
            d["kind"],
            d["individuals"],
            d["households"],
            d["source"]["publisher"],
            "illustrative*" if d["illustrative"] else "",
        )
        for d in data
    ]
    return View(
        data=data,
        columns=("date", "location", "kind", "individuals", "households", "source", ""),
        rows=rows,
        title=DEMO_TITLE,
        footer=[
            "* the release gives 8,164 registrations in Mopti, Ménaka, Tombouctou and Gao "
            "with no split and no date: this split and month are illustrative (see each "
            "record's note)."
        ],
    )


def _derivation(reader: Any) -> tuple[View, View]:
    """December 2017 against February 2018 by region, and how 46,336 is derived."""
    from cli.views import compare_view, explain_view
    from projections.service import moment

    comparison = compare_view(reader.compare("2017-12-31", "2018-02-28", "MLI", "admin1"))
    return comparison, explain_view(reader.explain(moment("2018-02-28"), "MLI"))


@app.command()
def demo(ctx: typer.Context, fmt: FormatOption = Format.TABLE) -> None:
    """Load the running example into a fresh ledger (a new temporary one unless --db)."""
    import shlex
    import tempfile
    from pathlib import Path

    from ledger.demo import load_demo
    from ledger.reference import mali_locations
    from ledger.storage import open_ledger
    from ledger.targets import safe_target
    from projections.service import ReadService

    st = state(ctx)
    target = st.db
    if not _explicit_db(ctx):
        target = str(Path(tempfile.mkdtemp(prefix="dledger-demo-")) / "ledger.db")
    ledger = st.adopt(open_ledger(target, actor=st.actor, create=True))
    ledger.register_locations(mali_locations(), source="OCHA COD Mali p-codes (shipped)")
    record_ids = load_demo(ledger)
    records = demo_view(ledger, record_ids)
    reader = ReadService.open(target)
    try:
        comparison, explanation = _derivation(reader)
    finally:
        reader.close()
    if fmt is Format.JSON:
        data = {
            "records": records.data,
            "comparison": comparison.data,
            "explanation": explanation.data,
        }
        render(View(data), fmt)
    elif fmt is Format.TABLE:
        for view in (records, comparison, explanation):
            render(view, fmt)
    else:
        render(records, fmt)
    shown = safe_target(target)
    note(f"demo ledger at {shown} ({len(record_ids)} records)")
    note(f"next, try: dledger --db {shlex.quote(shown)} explain Mali --as-of 2018-02-28")
    note(f"      or: dledger --db {shlex.quote(shown)} history {record_ids[1]}")
