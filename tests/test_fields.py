"""One event schema: every use of the figure record's fields agrees with ``ledger.fields``.

The event class, the aggregate, the bulk encoder's items, the read models' columns and the
SQL that fills them, the import's columns and the export's are checked here against the
one table, so adding a field is a change in one place plus its uses, and a use that is
forgotten fails this file.
"""

from __future__ import annotations

import dataclasses
import inspect

from ledger.bulk import NewRecord
from ledger.fields import FIGURE_FIELDS, SOURCE_FIELDS
from ledger.importing.hxl import hxl_field
from ledger.importing.rows import PLAIN_COLUMNS
from ledger.inputs import NewFigure, Source
from ledger.records import FigureRecord
from projections.backends import postgresql, sqlite
from projections.records import EXPORT_COLUMNS
from projections.schema import DETAILS, VERSIONS

NAMES = [f.name for f in FIGURE_FIELDS]


def test_the_recorded_event_holds_the_fields_in_order() -> None:
    inherited = {f.name for f in dataclasses.fields(FigureRecord.Created)}
    own = [f.name for f in dataclasses.fields(FigureRecord.Recorded) if f.name not in inherited]
    assert own == NAMES


def test_the_aggregate_takes_the_fields_in_order() -> None:
    parameters = list(inspect.signature(FigureRecord.__init__).parameters)
    assert parameters[1:-1] == NAMES and parameters[-1] == "id"


def test_the_bulk_items_are_the_fields_but_the_writer_s_actor() -> None:
    given = [f.name for f in dataclasses.fields(NewRecord)]
    assert given == ["record_id", *(n for n in NAMES if n != "actor")]


def test_every_field_has_its_read_model_column() -> None:
    for f in FIGURE_FIELDS:
        table = VERSIONS if f.table == "versions" else DETAILS
        assert f.column in table.names, f.name


def test_the_set_based_copies_read_every_field() -> None:
    statements = {
        "sqlite": sqlite.fill_statement("t"),
        "postgresql": postgresql._COPY,
    }
    for backend, statement in statements.items():
        for f in FIGURE_FIELDS:
            assert f"'$.{f.name}'" in statement or f'"{f.name}"' in statement, (backend, f.name)


def test_the_validated_input_covers_every_field_a_user_gives() -> None:
    given = {"pcode", *NewFigure.model_fields} - {"source"}
    assert {n for n in NAMES if n not in ("actor", "import_key", "precision", "source")} <= given
    assert list(Source.model_fields) == [s.name for s in SOURCE_FIELDS]


def test_the_plain_import_reads_every_field_s_option() -> None:
    options = [f.option for f in FIGURE_FIELDS if f.option] + [s.option for s in SOURCE_FIELDS]
    missing = [o for o in options if o not in PLAIN_COLUMNS]
    assert not missing


def test_the_hxl_import_reads_every_exported_hashtag_back() -> None:
    for name, tag in EXPORT_COLUMNS:
        if name in ("version", "actor"):
            continue  # shown for the reader: an import records its own versions and actor
        hashtag, *attributes = tag.split("+")
        assert hxl_field(hashtag, frozenset(attributes)) is not None, (name, tag)


def test_the_export_writes_every_field_that_has_a_hashtag() -> None:
    tags = {tag for _, tag in EXPORT_COLUMNS}
    for f in FIGURE_FIELDS:
        if f.hxl is not None:
            assert f.hxl in tags, f.name
    for s in SOURCE_FIELDS:
        assert s.hxl in tags, s.name
