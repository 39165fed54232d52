"""Readers for two published compilations: IDMC's GIDD country files and HDX HAPI's IDP file.

Both are plain CSV files known by their header (GIDD's may carry an HXL hashtag row as
its second line); both become ``SourceRow``s in the vocabulary of ``ledger.importing.rows``.

**IDMC GIDD** (``iso3, country_name, year, new_displacement, new_displacement_rounded,
total_displacement, total_displacement_rounded``): each line gives up to two figures for a
country and a year, the year-end stock (``total_displacement``: an assessment dated the
year, year precision) and the year's *new displacements* (movements, not people: the
``new_displacement`` kind, never part of a stock). The values IDMC publishes rounded are
kept beside the exact ones (``source.rounded``). The file is the conflict one (HDX tags
its columns ``+conflict``): its figures carry the cause ``Conflict``. GIDD's disaster
file has one line per event and is refused rather than read as country stocks.

**HDX HAPI** (``location_code, admin1_code, admin2_code, admin_level, operation,
assessment_type, population, reporting_round, reference_period_start, ...,
dataset_hdx_id, resource_hdx_id, warning, error``): DTM's figures as HAPI normalises
them; the HDX resource the row came from is its provenance (``source.url``). A row HAPI
flags in its ``error`` column is invalid; its ``warning`` becomes the record's note.

Neither file names every country (HAPI never does, GIDD not for Kosovo or Abyei): a
country the ledger does not know yet is registered under its ISO 3166 name.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from itertools import chain
from pathlib import Path

from ledger.errors import InvalidInput
from ledger.importing.rows import SourceRow, TableReader

GIDD_COLUMNS = ("iso3", "year", "new_displacement", "total_displacement")
HAPI_COLUMNS = (
    "location_code", "admin_level", "population", "reporting_round",
    "reference_period_start", "resource_hdx_id",
)  # fmt: skip
_GIDD_EVENT_COLUMNS = ("event_name", "hazard_type", "hazard_category", "start_date")
GIDD_PUBLISHER = "IDMC"
GIDD_REPORT = "Global Internal Displacement Database (GIDD)"
GIDD_URL = "https://www.internal-displacement.org/database/displacement-data"
GIDD_CAUSE = "Conflict"
HDX_RESOURCE_URL = "https://data.humdata.org/dataset/{dataset}/resource/{resource}"


def header_names(path: Path) -> list[str]:
    """The first line's column names, normalised (empty for a file that is not CSV)."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            first = next(csv.reader(handle), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        return []
    return [c.strip().lower() for c in first]


def is_gidd(names: list[str]) -> bool:
    return all(c in names for c in GIDD_COLUMNS)


def is_hapi(names: list[str]) -> bool:
    return all(c in names for c in HAPI_COLUMNS)


def country_name(iso3: str) -> str:
    """The ISO 3166 name of a country code ('' when the standard has none: XKX, AB9)."""
    import pycountry  # its tables cost ~30 ms to load; only these imports need them

    found = pycountry.countries.get(alpha_3=iso3.strip().upper())
    return "" if found is None else str(getattr(found, "common_name", None) or found.name)


class _Lines:
    """A CSV file's lines as dicts by normalised column name, with their line numbers;
    an HXL hashtag row under the header is skipped (and kept for a rejects file)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.handle = path.open(encoding="utf-8-sig", newline="")
        self.reader = csv.reader(self.handle)
        self.header = next(self.reader, [])
        self.names = [c.strip().lower() for c in self.header]
        self.header_lines = [self.header]
        self.first: list[str] | None = next(self.reader, None)
        if self.first and self.first[0].strip().startswith("#"):
            self.header_lines.append(self.first)
            self.first = None

    def __iter__(self) -> Iterator[tuple[int, dict[str, str], list[str]]]:
        line = len(self.header_lines)
        pending = [self.first] if self.first is not None else []
        try:
            for cells in chain(pending, self.reader):
                line += 1
                if not "".join(cells).strip():
                    continue
                values = {n: (cells[i].strip() if i < len(cells) else "") for i, n in
                          enumerate(self.names)}  # fmt: skip
                yield line, values, cells
        except csv.Error as error:
            raise InvalidInput(
                f"{self.path.name} after line {line}: unreadable ({error}); nothing was written"
            ) from None


def gidd_rows(path: Path) -> TableReader:
    lines = _Lines(path)
    event_columns = [c for c in _GIDD_EVENT_COLUMNS if c in lines.names]
    if event_columns:
        lines.handle.close()
        raise InvalidInput(
            f"{path.name}: an IDMC GIDD disaster file (one line per event: "
            f"{', '.join(event_columns)}) is not a country file; only the conflict "
            "country file (iso3, year, new_displacement, total_displacement) imports"
        )
    columns = {
        "country_code": "iso3",
        "country_name": "country_name",
        "date": "year",
        "individuals": "total_displacement / new_displacement",
        "rounded": "total_displacement_rounded / new_displacement_rounded",
    }

    def rows() -> Iterator[SourceRow]:
        names: dict[str, str] = {}
        for line, v, cells in lines:
            iso3 = v.get("iso3", "").upper()
            if iso3 and iso3 not in names:
                names[iso3] = v.get("country_name") or country_name(iso3)
            common = {
                "country_code": iso3,
                "country_name": names.get(iso3, v.get("country_name", "")),
                "admin_level": "0",
                "date": v.get("year", ""),
                "publisher": GIDD_PUBLISHER,
                "report": GIDD_REPORT,
                "source_url": GIDD_URL,
                "cause": GIDD_CAUSE,
            }
            for kind, column in (("assessment", "total"), ("new_displacement", "new")):
                individuals = v.get(f"{column}_displacement", "")
                if individuals:
                    figure = {
                        **common,
                        "kind": kind,
                        "individuals": individuals,
                        "rounded": v.get(f"{column}_displacement_rounded", ""),
                    }
                    yield SourceRow(line, figure, tuple(cells))

    return TableReader(lines.header_lines, columns, rows(), [lines.handle.close])


def hapi_rows(path: Path) -> TableReader:
    lines = _Lines(path)
    renamed = {
        "location_code": "country_code",
        "admin1_code": "adm1_code",
        "admin1_name": "adm1_name",
        "admin2_code": "adm2_code",
        "admin2_name": "adm2_name",
        "admin_level": "admin_level",
        "operation": "operation",
        "assessment_type": "assessment_type",
        "population": "individuals",
        "reporting_round": "round",
    }
    columns = {field: name for name, field in renamed.items() if name in lines.names}
    columns["date"] = (
        "reference_period_end"
        if "reference_period_end" in lines.names
        else ("reference_period_start")
    )
    columns["source_url"] = "resource_hdx_id"
    columns["invalid"] = "error"

    def rows() -> Iterator[SourceRow]:
        names: dict[str, str] = {}
        for line, v, cells in lines:
            figure = {field: v.get(name, "") for name, field in renamed.items()}
            iso3 = figure["country_code"].upper()
            if iso3 not in names:
                names[iso3] = country_name(iso3)
            figure["country_name"] = names[iso3]
            figure["date"] = v.get("reference_period_end") or v.get("reference_period_start", "")
            resource = v.get("resource_hdx_id", "")
            if resource:
                figure["source_url"] = HDX_RESOURCE_URL.format(
                    dataset=v.get("dataset_hdx_id", "") or "-", resource=resource
                )
            if v.get("warning"):
                figure["note"] = f"HDX HAPI warning: {v['warning']}"
            if v.get("error"):
                figure["invalid"] = f"HDX HAPI flags this row: {v['error']}"
            yield SourceRow(line, figure, tuple(cells))

    return TableReader(lines.header_lines, columns, rows(), [lines.handle.close])
