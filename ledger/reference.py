"""Reference data shipped with the product: the Mali p-code list and its name variants."""

from __future__ import annotations

import csv
import functools
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

from ledger.errors import InvalidInput
from ledger.locations import Location

MALI_PCODES = "ocha_global_pcodes_MLI_adm1_adm2.csv"
MALI_GAZETTEER = "mli_adm1_gazetteer.csv"
COUNTRY_NAMES = {"MLI": "Mali"}


def reference_path(name: str) -> Path:
    return Path(str(resources.files("ledger") / "reference" / name))


def read_pcode_list(path: Path) -> list[Location]:
    """An OCHA-style HXL p-code list (#adm+code, #adm+name, #adm+code+parent, level).

    Countries named only by their code in the list are added with their known name.
    """
    import hxl  # imported here: libhxl costs ~140 ms and only imports need it

    from ledger.importing.rows import check_text

    if not path.is_file():
        raise InvalidInput(f"{path}: no such file" if not path.exists() else f"{path}: is a folder")
    check_text(path)
    try:
        # make_input as a context manager closes the text wrapper libhxl puts on the file
        with path.open("rb") as handle, hxl.input.make_input(handle) as source:
            rows = list(hxl.data(source))
    except (hxl.HXLException, csv.Error, UnicodeError) as error:
        raise InvalidInput(f"{path}: not a readable HXL p-code list ({error})") from None
    if not rows:
        raise InvalidInput(f"{path.name}: the p-code list has no rows")
    locations: dict[str, Location] = {}
    for row in rows:
        line = row.source_row_number + 1
        pcode = (row.get("#adm+code") or "").strip().upper()
        name = (row.get("#adm+name") or "").strip()
        parent = (row.get("#adm+code+parent") or "").strip().upper() or None
        level_text = (row.get("#geo+admin_level") or "").strip()
        if not pcode or not name or not level_text.isdigit():
            raise InvalidInput(
                f"{path.name} line {line}: a p-code list row needs #adm+code, #adm+name "
                "and #geo+admin_level"
            )
        country = (row.get("#country+code") or "").strip().upper()
        if country and country not in locations and parent == country:
            locations[country] = Location(country, COUNTRY_NAMES.get(country, country), 0, None)
        locations[pcode] = Location(pcode, name, int(level_text), parent)
    return list(locations.values())


def _gazetteer_variants() -> Iterator[tuple[str, list[str]]]:
    with reference_path(MALI_GAZETTEER).open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        next(reader)  # the HXL hashtag row
        for row in reader:
            pcode = row["cod_pcode"].strip()
            if not pcode:
                continue  # Taoudénit has no COD p-code: never map it by number
            names = [row["name_fr"], row["name_en"], *row["name_variants"].split("|")]
            yield pcode, [n.strip() for n in names if n.strip()]


def mali_locations() -> list[Location]:
    """Mali's country, 10 regions and 53 cercles, with French/English variants."""
    return list(_mali_locations())


@functools.cache
def _mali_locations() -> tuple[Location, ...]:
    """Parsed once per process: the shipped files do not change (Locations are frozen)."""
    variants = dict(_gazetteer_variants())
    out = []
    for loc in read_pcode_list(reference_path(MALI_PCODES)):
        extra = tuple(v for v in variants.get(loc.pcode, []) if v != loc.name)
        out.append(
            Location(loc.pcode, loc.name, loc.level, loc.parent, tuple(dict.fromkeys(extra)))
        )
    return tuple(out)
