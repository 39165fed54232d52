"""Figure dates keep their precision and stand for the end of their period."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from ledger.dates import FigureDate, Precision, parse_day, parse_instant
from ledger.errors import InvalidInput


@pytest.mark.parametrize(
    ("text", "day", "precision", "shown"),
    [
        ("2017-12-15", date(2017, 12, 15), Precision.DAY, "2017-12-15"),
        ("2017-12", date(2017, 12, 31), Precision.MONTH, "2017-12"),
        ("2016-02", date(2016, 2, 29), Precision.MONTH, "2016-02"),
        ("2017", date(2017, 12, 31), Precision.YEAR, "2017"),
        (" 2018-01-31T00:00:00 ", date(2018, 1, 31), Precision.DAY, "2018-01-31"),
    ],
)
def test_a_date_stands_for_the_end_of_its_period_and_keeps_its_precision(
    text: str, day: date, precision: Precision, shown: str
) -> None:
    parsed = FigureDate.parse(text)
    assert (parsed.day, parsed.precision, str(parsed)) == (day, precision, shown)


def test_the_stored_form_rebuilds_the_same_date() -> None:
    parsed = FigureDate.parse("2017-12")
    assert FigureDate.of(parsed.day.isoformat(), parsed.precision.value) == parsed


@pytest.mark.parametrize("text", ["2018-13", "2017-02-30", "17-12", "Dec 2017", "", "2017/12"])
def test_a_malformed_date_is_refused_naming_the_value(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        FigureDate.parse(text, what="--date")
    assert str(caught.value) == (f"--date {text!r} is not a date (use YYYY-MM-DD, YYYY-MM or YYYY)")


def test_a_plain_date_argument_means_the_last_day_of_its_period() -> None:
    assert parse_day("2018-02") == date(2018, 2, 28)


def test_a_known_at_date_means_the_end_of_that_day_utc() -> None:
    assert parse_instant("2018-01-15") == datetime(2018, 1, 15, 23, 59, 59, 999999, UTC)


def test_a_known_at_timestamp_is_converted_to_utc() -> None:
    assert parse_instant("2018-01-15T12:00:00+02:00") == datetime(2018, 1, 15, 10, 0, tzinfo=UTC)


def test_a_known_at_timestamp_without_time_zone_is_refused() -> None:
    with pytest.raises(InvalidInput, match="has no time zone"):
        parse_instant("2018-01-15T12:00:00")
