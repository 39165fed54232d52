"""The import use case: validate and stage every row, then write in one transaction.

Pass 1 reads the file once, validating each row and staging the valid ones on disk; a
file with any invalid row stops here (unless rows may be skipped) and nothing is written.
Pass 2 streams the grouped stocks in batches: one query finds the batch's existing
records, each stock becomes a new record, a correction or nothing, and the batch's events
are inserted in bulk (``ledger.importing.saving``). Every insert joins one database
transaction opened around the whole of pass 2, so a crash or kill anywhere leaves the
ledger as it was.
"""

from __future__ import annotations

import contextlib
import csv
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ledger.application import Ledger
from ledger.errors import InvalidInput
from ledger.files import check_output, written
from ledger.importing.checking import RowChecker, RowError
from ledger.importing.identity import scope_from_key
from ledger.importing.planning import Planned, decide, load_records, missing_records, stock_id
from ledger.importing.rows import FileFormat, TableReader, detect_format, open_rows
from ledger.importing.saving import BulkSaver, Saver
from ledger.importing.staging import StagingArea, Stock

Progress = Callable[[str, int], None]
OnPlan = Callable[[Planned], None]


@dataclass(frozen=True)
class ImportOptions:
    fmt: FileFormat | None = None
    source: str | None = None
    dry_run: bool = False
    skip_invalid: bool = False
    rejects: Path | None = None
    force: bool = False  # replace an existing rejects file
    retract_missing: bool = False
    batch_size: int = 2000


class ImportRefused(InvalidInput):
    """The file has invalid rows; nothing was written. ``errors`` lists every one."""

    def __init__(self, file_name: str, errors: list[RowError]) -> None:
        rows = len({e.row for e in errors})
        super().__init__(f"{file_name}: {rows} invalid row(s); nothing was written")
        self.errors = errors


@dataclass
class ImportReport:
    """What an import did (or would do): counts, and the locations it registered."""

    file: str
    format: str
    dry_run: bool
    rows: int = 0
    rejected: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    locations: list[str] = field(default_factory=list)

    def count(self, action: str) -> int:
        return self.counts.get(action, 0)

    @property
    def writes(self) -> int:
        return sum(self.count(a) for a in ("new", "correct", "retract")) + bool(self.locations)

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "format": self.format,
            "dry_run": self.dry_run,
            "rows": self.rows,
            "rejected": self.rejected,
            **self.counts,
            "locations_registered": self.locations,
        }

    def summary(self) -> str:
        verb = "would write" if self.dry_run else "wrote"
        parts = [
            f"{self.count(a)} {label}"
            for a, label in (
                ("new", "new"),
                ("correct", "corrected"),
                ("unchanged", "unchanged"),
                ("retracted-earlier", "retracted earlier (left alone)"),
                ("superseded", "SA stocks superseded by BA"),
                ("missing", "missing"),
                ("retract", "retracted as missing"),
            )
            if self.count(a)
        ]
        if self.locations:
            parts.append(f"{len(self.locations)} locations registered")
        head = f"{self.file}: {self.rows} rows"
        if self.rejected:
            head += f" ({self.rejected} rejected)"
        if self.writes == 0:
            return f"{head}; nothing to write: the ledger already holds this file" + (
                f" ({', '.join(parts)})" if parts else ""
            )
        return f"{head}; {verb}: {', '.join(parts)}"


def _required(reader: TableReader, file_name: str) -> None:
    columns = reader.columns
    missing = [f for f in ("individuals", "date") if f not in columns]
    if "location" not in columns and not any(f.endswith("_code") for f in columns):
        missing.append("location (a p-code column)")
    if missing:
        raise InvalidInput(f"{file_name}: no column for {', '.join(missing)}")


class _Rejects:
    """The rejected rows, as the file had them, each with its reason (``handle`` None:
    rows are not being skipped)."""

    def __init__(self, handle: IO[str] | None, header: list[list[str]]) -> None:
        self.handle = handle
        if handle is not None:
            self.writer = csv.writer(handle)
            for i, line in enumerate(header):
                self.writer.writerow(
                    [
                        *line,
                        "#meta+reason"
                        if i == len(header) - 1 and line and line[0].startswith("#")
                        else "reason",
                    ]
                )

    def write(self, raw: tuple[str, ...], errors: list[RowError]) -> None:
        if self.handle is not None:
            self.writer.writerow([*raw, "; ".join(str(e) for e in errors)])


def import_file(
    ledger: Ledger,
    path: Path,
    options: ImportOptions,
    *,
    on_plan: OnPlan | None = None,
    progress: Progress | None = None,
    saver: Callable[[Ledger], Saver] = BulkSaver,
) -> ImportReport:
    rejects_path = options.rejects if options.skip_invalid else None
    if rejects_path is not None:  # refused before anything is read
        check_output(rejects_path, force=options.force, inputs=[path])
    fmt = options.fmt or detect_format(path)
    report = ImportReport(file=path.name, format=fmt.value, dry_run=options.dry_run)
    tick = progress or (lambda phase, n: None)
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="dledger-import-"))
        reader = stack.enter_context(open_rows(path, fmt))
        _required(reader, path.name)
        dtm = fmt is FileFormat.DTM_JSON or (
            bool({"assessment_type", "operation"} & set(reader.columns))
            and "record_id" not in reader.columns
        )
        staging = StagingArea(Path(tmp))
        stack.callback(staging.close)
        handle = None
        if rejects_path is not None:  # appears, whole, only if the import completes
            handle = stack.enter_context(written(rejects_path, force=options.force, inputs=[path]))
        rejects = _Rejects(handle, reader.header)
        checker = _stage(reader, staging, rejects, report, options, dtm, ledger, tick)
        _write(ledger, staging, checker, report, options, path.name, on_plan, tick, saver)
    return report


def _stage(
    reader: TableReader,
    staging: StagingArea,
    rejects: _Rejects,
    report: ImportReport,
    options: ImportOptions,
    dtm: bool,
    ledger: Ledger,
    tick: Progress,
) -> RowChecker:
    checker = RowChecker(
        ledger.locations(),
        reader.columns,
        dtm=dtm,
        default_publisher=options.source,
        keep_raw=rejects.handle is not None,
    )
    errors: list[RowError] = []
    buffer: list[tuple[Any, ...]] = []
    for row in reader.rows:
        report.rows += 1
        part, row_errors = checker.check(row)
        if row_errors:
            if not options.skip_invalid:  # skipped rows go to the rejects file, not memory
                errors.extend(row_errors)
            rejects.write(row.raw, row_errors)
            report.rejected += 1
        elif part is not None:
            buffer.append(part)
        if len(buffer) >= options.batch_size:
            staging.add(buffer)
            buffer.clear()
            tick("reading", report.rows)
    staging.add(buffer)
    tick("reading", report.rows)
    if report.rows == 0:
        raise InvalidInput(
            f"{report.file}: the file holds no rows (a header only?); nothing was written"
        )
    what = "reason, origin and assessment type" if dtm else "identity"
    for line, first, raw in staging.repeats(dtm):
        repeat = RowError(
            line, None, None, f"repeats row {first} (same location, round, date, kind, {what})"
        )
        if not options.skip_invalid:
            errors.append(repeat)
        rejects.write(raw, [repeat])
        staging.reject(line)
        report.rejected += 1
    if errors and not options.skip_invalid:
        raise ImportRefused(report.file, sorted(errors, key=lambda e: e.row))
    return checker


def _write(
    ledger: Ledger,
    staging: StagingArea,
    checker: RowChecker,
    report: ImportReport,
    options: ImportOptions,
    file_name: str,
    on_plan: OnPlan | None,
    tick: Progress,
    make_saver: Callable[[Ledger], Saver],
) -> None:
    def planned(item: Planned) -> None:
        report.counts[item.action] = report.counts.get(item.action, 0) + 1
        if on_plan is not None:
            on_plan(item)

    transaction: AbstractContextManager[Any] = nullcontext()
    saver: Saver | None = None
    if not options.dry_run:
        transaction = ledger.recorder.transaction(commit=True)  # type: ignore[attr-defined]
        saver = make_saver(ledger)
    scopes: set[str] = set()
    carried = checker.carried
    with transaction:
        if checker.new_locations:
            report.locations = sorted(checker.new_locations)
            if not options.dry_run:
                ledger.register_locations(
                    checker.new_locations.values(), source=f"import of {file_name}"
                )
        batch: list[Stock] = []
        done = 0
        for chosen, stock in staging.stocks():
            if chosen is not None:
                planned(
                    Planned(
                        "superseded",
                        stock_id(stock),
                        stock.figure["kind"],
                        stock.figure["pcode"],
                        stock.figure["date"],
                        stock.individuals,
                        stock.households,
                        f"{stock.rows_text} ({stock.assessment_type}"
                        f" not used: {chosen.assessment_type} covers it)",
                    )
                )
                continue
            if stock.import_key and (scope := scope_from_key(stock.import_key)):
                scopes.add(scope)
            batch.append(stock)
            if len(batch) >= options.batch_size:
                done += _save_batch(ledger, staging, batch, saver, file_name, planned, carried)
                tick("writing", done)
                batch = []
        done += _save_batch(ledger, staging, batch, saver, file_name, planned, carried)
        tick("writing", done)
        _missing(ledger, staging, scopes, options, saver, file_name, planned)


def _save_batch(
    ledger: Ledger,
    staging: StagingArea,
    batch: list[Stock],
    saver: Saver | None,
    file_name: str,
    planned: OnPlan,
    carried: tuple[str, ...],
) -> int:
    ids = [stock_id(s) for s in batch]
    existing = load_records(ledger, ids)
    for stock, rid in zip(batch, ids, strict=True):
        record = existing.get(rid)
        item, correction = decide(stock, rid, record, file_name, carried)
        planned(item)
        if saver is None:
            continue
        if item.action == "new":
            saver.new(rid, stock)
        elif record is not None and correction is not None:
            saver.correct(record, correction)
    staging.mark_seen([str(i) for i in ids])
    if saver is not None:
        saver.flush()
    return len(batch)


def _missing(
    ledger: Ledger,
    staging: StagingArea,
    scopes: set[str],
    options: ImportOptions,
    saver: Saver | None,
    file_name: str,
    planned: OnPlan,
) -> None:
    before = None if saver is None else saver.first_id
    for record in missing_records(ledger, scopes, staging, before=before):
        item = Planned(
            "retract" if options.retract_missing else "missing",
            record.id,
            record.kind,
            record.pcode,
            str(record.figure_date),
            record.individuals,
            record.households,
            f"absent from {file_name}",
        )
        planned(item)
        if options.retract_missing and saver is not None:
            saver.retract(
                record, f"absent from {file_name}, which revises its source", citation=file_name
            )
    if saver is not None:
        saver.flush()
