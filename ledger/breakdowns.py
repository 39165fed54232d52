"""Breakdowns: a record's individuals by sex, age band, cause and origin.

A record's ``breakdowns`` is ``{dimension: {value: individuals}}``. A dimension's parts
add up to at most the record's individuals; the rest is *not disaggregated* (a part that
is not given is unknown, never 0). Values are kept in one canonical spelling so that two
sources saying the same thing compare equal: ``female``/``male``; age bands ``0-4``,
``18-59``, ``60+`` (not overlapping); a cause as published, its spacing tidied; an origin
is a p-code (the application resolves names before the checks here).

The same breakdowns travel as text in three places: ``record --breakdown DIM:VALUE=N``,
and, in exports and plain CSV files, the list cells ``VALUE=N; VALUE=N``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from itertools import pairwise
from typing import Any

from ledger.fields import MAX_COUNT

DIMENSIONS = ("sex", "age", "cause", "origin")
Breakdowns = dict[str, dict[str, int]]

_SEXES = {
    "female": "female", "f": "female", "women": "female", "woman": "female",
    "male": "male", "m": "male", "men": "male", "man": "male",
}  # fmt: skip
_BAND = re.compile(r"^(\d{1,3})\s*[-–_]\s*(\d{1,3})$")
_OPEN_BAND = re.compile(r"^(\d{1,3})\s*(?:\+|plus)$")
_NOT_GIVEN = {"not available", "n/a", "na", "none", "-", "unknown", "not disaggregated"}
_OPTION = re.compile(r"^\s*([A-Za-z]+)\s*:\s*(.+?)\s*=\s*([^=]+?)\s*$")


def not_given(text: str | None) -> bool:
    """A value that says the dimension is not known for these people ("Not available")."""
    return text is None or text.strip().lower() in _NOT_GIVEN or not text.strip()


def dimension_of(text: str) -> str:
    name = text.strip().lower()
    if name not in DIMENSIONS:
        raise ValueError(f"breakdown dimension {text!r} is not one of {', '.join(DIMENSIONS)}")
    return name


def band(lower: int, upper: int | None) -> str:
    return f"{lower}+" if upper is None else f"{lower}-{upper}"


def band_bounds(value: str) -> tuple[int, int | None]:
    """An age band's first and last year (None: open-ended), from its canonical text."""
    if value.endswith("+"):
        return int(value[:-1]), None
    lower, upper = value.split("-")
    return int(lower), int(upper)


def value_of(dimension: str, text: str) -> str:
    """A part's value in its canonical spelling (origin: as given; resolved elsewhere)."""
    raw = " ".join(str(text).split())
    if not raw or not_given(raw):
        raise ValueError(
            f"breakdown {dimension}: {text!r} is not a value; people whose {dimension} is "
            "not known are left out (they are the not disaggregated part)"
        )
    if dimension == "sex":
        sex = _SEXES.get(raw.lower())
        if sex is None:
            raise ValueError(f"breakdown sex: {text!r} is not female or male")
        return sex
    if dimension == "age":
        closed = _BAND.match(raw)
        if closed:
            lower, upper = int(closed[1]), int(closed[2])
            if lower > upper:
                raise ValueError(f"breakdown age: band {text!r} ends before it starts")
            return band(lower, upper)
        open_ended = _OPEN_BAND.match(raw.lower())
        if open_ended:
            return band(int(open_ended[1]), None)
        raise ValueError(f"breakdown age: {text!r} is not an age band such as 0-4, 18-59 or 60+")
    return raw


def _count(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"{where} must be a whole number ≥ 0, got {value!r}")
    text = str(value).strip().replace(",", "")
    if not text.isascii() or not text.isdigit():
        raise ValueError(f"{where} must be a whole number ≥ 0, got {value!r}")
    number = int(text)
    if number > MAX_COUNT:
        raise ValueError(f"{where} must be at most {MAX_COUNT:,}, got {number:,}")
    return number


def _check_bands(values: Iterable[str]) -> None:
    bands = sorted(band_bounds(v) for v in values)
    for (lower, upper), (next_lower, _) in pairwise(bands):
        if upper is None or next_lower <= upper:
            raise ValueError(
                f"breakdown age: bands {band(lower, upper)} and {band(next_lower, _)} overlap"
            )


def checked(raw: Mapping[str, Mapping[str, Any]] | None, individuals: int) -> Breakdowns | None:
    """Breakdowns in canonical form, or ValueError naming the dimension that is wrong.
    Empty dimensions are dropped; no breakdown at all is None."""
    if not raw:
        return None
    if not isinstance(raw, Mapping):
        raise ValueError("breakdowns must map a dimension to its parts")
    out: Breakdowns = {}
    for dimension_text, parts in raw.items():
        dimension = dimension_of(str(dimension_text))
        if not isinstance(parts, Mapping):
            raise ValueError(f"breakdown {dimension}: its parts must map a value to a count")
        kept: dict[str, int] = out.setdefault(dimension, {})
        for value_text, count in parts.items():
            value = value_of(dimension, str(value_text))
            if value in kept:
                raise ValueError(f"breakdown {dimension}: {value} is given twice")
            kept[value] = _count(count, f"breakdown {dimension}:{value}")
        if dimension == "age":
            _check_bands(kept)
        total = sum(kept.values())
        if total > individuals:
            raise ValueError(
                f"breakdown {dimension}: the parts add up to {total:,}, more than the "
                f"record's {individuals:,} individuals"
            )
    ordered = {d: _ordered(d, out[d]) for d in DIMENSIONS if out.get(d)}
    return ordered or None


def _ordered(dimension: str, parts: dict[str, int]) -> dict[str, int]:
    if dimension == "age":
        return dict(sorted(parts.items(), key=lambda kv: band_bounds(kv[0])))
    return dict(sorted(parts.items()))


def within(breakdowns: Breakdowns | None, individuals: int) -> None:
    """ValueError if a dimension's parts add up to more than ``individuals`` (a correction
    of the individuals must leave room for the breakdowns it keeps)."""
    for dimension, parts in (breakdowns or {}).items():
        total = sum(parts.values())
        if total > individuals:
            raise ValueError(
                f"breakdown {dimension}: the parts add up to {total:,}, more than the "
                f"record's {individuals:,} individuals; correct the breakdown too"
            )


def from_options(texts: Iterable[str]) -> dict[str, dict[str, str]]:
    """``DIM:VALUE=N`` options (repeatable) as raw breakdowns (checked by ``checked``)."""
    out: dict[str, dict[str, str]] = {}
    for text in texts:
        found = _OPTION.match(text)
        if not found:
            raise ValueError(
                f"--breakdown {text!r} is not DIM:VALUE=N (for example sex:female=120)"
            )
        dimension = dimension_of(found[1])
        value = value_of(dimension, found[2])
        parts = out.setdefault(dimension, {})
        if value in parts:
            raise ValueError(f"breakdown {dimension}: {value} is given twice")
        parts[value] = found[3]
    return out


def list_cell(parts: Mapping[str, int]) -> str:
    """A dimension's parts as one cell: ``Conflict=120; Natural disaster=30``."""
    return "; ".join(f"{value}={count}" for value, count in parts.items())


def parse_list_cell(dimension: str, text: str) -> dict[str, str]:
    """The parts of a list cell (counts still text, checked by ``checked``)."""
    out: dict[str, str] = {}
    for item in text.split(";"):
        if not item.strip():
            continue
        value, sep, count = item.rpartition("=")
        if not sep or not value.strip():
            raise ValueError(
                f"breakdown {dimension}: {item.strip()!r} is not VALUE=N "
                "(a list such as Conflict=120; Natural disaster=30)"
            )
        key = value_of(dimension, value)
        if key in out:
            raise ValueError(f"breakdown {dimension}: {key} is given twice")
        out[key] = count.strip()
    return out


def stored(value: Any) -> Breakdowns | None:
    """A stored event's breakdowns, checked as the read models need them (ValueError when
    the log holds something the ledger never writes)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError("breakdowns are not an object")
    for dimension, parts in value.items():
        if dimension not in DIMENSIONS or not isinstance(parts, dict):
            raise ValueError(f"breakdown {dimension!r} is not a dimension's parts")
        for part, count in parts.items():
            if not isinstance(part, str) or type(count) is not int or not 0 <= count <= MAX_COUNT:
                raise ValueError(f"breakdown {dimension}:{part!r} is not a count")
    return value
