"""Figure dates with their precision, and system-time instants.

A month-precision date (``2017-12``) stands for the last day of that month and a
year-precision date (``2017``) for 31 December: the end of the reporting period.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from ledger.errors import InvalidInput


class Precision(StrEnum):
    DAY = "day"
    MONTH = "month"
    YEAR = "year"


_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_YEAR = re.compile(r"^(\d{4})$")


@dataclass(frozen=True, order=True)
class FigureDate:
    """The date a figure refers to: the day it stands for, and how precisely it was given."""

    day: date
    precision: Precision

    def __str__(self) -> str:
        if self.precision is Precision.YEAR:
            return f"{self.day.year:04d}"
        if self.precision is Precision.MONTH:
            return f"{self.day.year:04d}-{self.day.month:02d}"
        return self.day.isoformat()

    @classmethod
    def parse(cls, text: str, *, what: str = "date") -> FigureDate:
        """Parse ``YYYY-MM-DD``, ``YYYY-MM`` or ``YYYY``; a date-time keeps its day."""
        value = text.strip()
        if "T" in value:
            value = value.split("T", 1)[0]
        try:
            if m := _DAY.match(value):
                return cls(date(int(m[1]), int(m[2]), int(m[3])), Precision.DAY)
            if m := _MONTH.match(value):
                year, month = int(m[1]), int(m[2])
                last = calendar.monthrange(year, month)[1]
                return cls(date(year, month, last), Precision.MONTH)
            if m := _YEAR.match(value):
                return cls(date(int(m[1]), 12, 31), Precision.YEAR)
        except ValueError:
            pass
        raise InvalidInput(f"{what} {text!r} is not a date (use YYYY-MM-DD, YYYY-MM or YYYY)")

    @classmethod
    def of(cls, day: str, precision: str) -> FigureDate:
        """Rebuild from the stored form (ISO day and precision name)."""
        return cls(date.fromisoformat(day), Precision(precision))


def parse_day(text: str, *, what: str = "date") -> date:
    """A plain date argument such as ``--as-of``: month and year mean their last day."""
    return FigureDate.parse(text, what=what).day


def parse_instant(text: str, *, what: str = "--known-at") -> datetime:
    """A system-time instant: ISO 8601 with a time zone, or a date (= end of that day UTC)."""
    value = text.strip()
    try:
        if len(value) <= 10:
            day = parse_day(value, what=what)
            return datetime.combine(day + timedelta(days=1), time(), UTC) - timedelta(
                microseconds=1
            )
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, InvalidInput):
        raise InvalidInput(
            f"{what} {text!r} is not a timestamp (use ISO 8601 with a time zone, or a date)"
        ) from None
    if moment.tzinfo is None:
        raise InvalidInput(f"{what} {text!r} has no time zone (add +00:00 or Z)")
    return moment.astimezone(UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)
