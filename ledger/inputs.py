"""Validated inputs: nothing becomes an event before it passes through these models."""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ledger.breakdowns import Breakdowns, checked, dimension_of
from ledger.dates import FigureDate, Precision, utc_now
from ledger.errors import InvalidInput
from ledger.fields import MAX_COUNT

M = TypeVar("M", bound=BaseModel)


class Kind(StrEnum):
    ASSESSMENT = "assessment"
    REGISTRATION = "registration"
    RETURN = "return"
    # movements in a period (IDMC's new displacements): reported by `flows`, never a stock
    NEW_DISPLACEMENT = "new_displacement"


STOCK_KINDS = (Kind.ASSESSMENT, Kind.REGISTRATION, Kind.RETURN)


class Role(StrEnum):
    RECOMMENDED = "recommended"  # counted
    TRIANGULATION = (
        "triangulation"  # another source's number for the same stock: shown, not counted
    )


class Quantifier(StrEnum):
    EXACT = "exact"
    APPROXIMATELY = "approximately"
    MORE_THAN = "more-than"
    LESS_THAN = "less-than"


def _choice(enum: type[StrEnum], value: Any, what: str) -> Any:
    text = str(value).strip().lower().replace("_", "-")
    try:
        return enum(text)
    except ValueError:
        choices = ", ".join(e.value for e in enum)
        raise ValueError(f"{what} {value!r} is not one of {choices}") from None


FIELD_LABELS = {
    "individuals": "individuals",
    "households": "households",
    "kind": "KIND",
    "date": "date",
    "publisher": "source",
    "reason": "reason",
    "source.published_on": "publication date",
    "published_on": "publication date",
    "source.publisher": "source",
    "breakdowns": "breakdown",
}


# digits, or digits grouped in threes by commas ("38,172"); a comma elsewhere ("1,5") is a
# decimal comma in French-speaking offices, and is refused rather than read as 15
_COUNT = re.compile(r"^[+-]?(?:[0-9]+|[0-9]{1,3}(?:,[0-9]{3})+)$")


def _count(value: Any, what: str) -> int:
    """A whole number from 0 to ``MAX_COUNT`` from an int or its text; anything else is
    refused, naming the field."""
    if isinstance(value, bool):
        raise ValueError(f"{what} must be a whole number ≥ 0, got {value!r}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _COUNT.match(value.strip()) and value.strip().isascii():
        number = int(value.strip().replace(",", ""))
    elif isinstance(value, str) and "," in value and value.replace(",", "").strip().isdigit():
        raise ValueError(
            f"{what} {value.strip()!r} is not a whole number: a comma must group three "
            "digits (38,172); a decimal comma is not a count"
        )
    else:
        raise ValueError(f"{what} must be a whole number ≥ 0, got {value!r}")
    if number < 0:
        raise ValueError(f"{what} must be a whole number ≥ 0, got {number}")
    if number > MAX_COUNT:
        raise ValueError(
            f"{what} must be at most {MAX_COUNT:,} (no real figure is larger), got {number:,}"
        )
    return number


def _households(value: Any) -> int | None:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "unknown")):
        return None
    return _count(value, "households")


def households_within(households: int | None, individuals: int) -> None:
    if households is not None and households > individuals:
        raise ValueError(f"households ({households}) cannot exceed individuals ({individuals})")


def figure_counts(individuals: Any, households: Any) -> tuple[int, int | None]:
    """A figure's individuals and households as ``NewFigure`` checks them (the same
    functions, so the same messages); raises ValueError."""
    number = _count(individuals, "individuals")
    known = _households(households)
    households_within(known, number)
    return number, known


def check_figure_date(value: FigureDate) -> FigureDate:
    """A figure's period must have begun: 2026-11 is accepted during November 2026."""
    start = value.day
    if value.precision is Precision.MONTH:
        start = value.day.replace(day=1)
    elif value.precision is Precision.YEAR:
        start = date(value.day.year, 1, 1)
    if start > utc_now().date():
        raise ValueError(f"date {value} is in the future")
    if value.day.year < 1900:
        raise ValueError(f"date {value} is before 1900")
    return value


def _figure_date(value: Any) -> FigureDate:
    parsed = value if isinstance(value, FigureDate) else FigureDate.parse(str(value))
    return check_figure_date(parsed)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


class Source(BaseModel):
    """Who published a figure, and where."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    publisher: str
    report: str | None = None
    round: str | None = None
    url: str | None = None
    published_on: str | None = None
    # the figure as the source published it, rounded (IDMC publishes 38,172 as 38,000)
    rounded: int | None = None

    @field_validator("rounded", mode="before")
    @classmethod
    def _rounded(cls, value: Any) -> int | None:
        text = _text(value)
        return None if text is None else _count(value, "rounded")

    @field_validator("publisher", mode="before")
    @classmethod
    def _publisher(cls, value: Any) -> str:
        text = _text(value)
        if text is None:
            raise ValueError("source is required (who published the figure)")
        return text

    @field_validator("report", "round", "url", mode="before")
    @classmethod
    def _optional(cls, value: Any) -> str | None:
        return _text(value)

    @field_validator("published_on", mode="before")
    @classmethod
    def _published(cls, value: Any) -> str | None:
        text = _text(value)
        if text is None:
            return None
        try:
            return str(check_figure_date(FigureDate.parse(text, what="publication date")))
        except ValueError as error:  # "date 2999 is in the future", in the option's words
            raise ValueError(f"publication {error}") from None


class NewFigure(BaseModel):
    """One reported number about one location, ready to be recorded."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    kind: Kind
    pcode: str
    date: FigureDate
    individuals: int
    households: int | None = None
    source: Source
    origin: str | None = None
    cause: str | None = None
    note: str | None = None
    breakdowns: Breakdowns | None = None
    role: Role = Role.RECOMMENDED
    quantifier: Quantifier = Quantifier.EXACT
    conversion: dict[str, Any] | None = None  # set by the ledger for a households-only figure

    @field_validator("role", mode="before")
    @classmethod
    def _role(cls, value: Any) -> Role:
        return Role.RECOMMENDED if value is None else _choice(Role, value, "role")

    @field_validator("quantifier", mode="before")
    @classmethod
    def _quantifier(cls, value: Any) -> Quantifier:
        return Quantifier.EXACT if value is None else _choice(Quantifier, value, "quantifier")

    @field_validator("kind", mode="before")
    @classmethod
    def _kind(cls, value: Any) -> Kind:
        try:
            return Kind(str(value).strip().lower())
        except ValueError:
            raise ValueError(
                f"KIND {value!r} is not one of {', '.join(k.value for k in Kind)}"
            ) from None

    @field_validator("date", mode="before")
    @classmethod
    def _date(cls, value: Any) -> FigureDate:
        return _figure_date(value)

    @field_validator("individuals", mode="before")
    @classmethod
    def _individuals(cls, value: Any) -> int:
        return _count(value, "individuals")

    @field_validator("households", mode="before")
    @classmethod
    def _hh(cls, value: Any) -> int | None:
        return _households(value)

    @field_validator("cause", "note", "origin", mode="before")
    @classmethod
    def _optional(cls, value: Any) -> str | None:
        return _text(value)

    @field_validator("breakdowns", mode="before")
    @classmethod
    def _breakdowns(cls, value: Any, info: ValidationInfo) -> Breakdowns | None:
        """Canonical values, each dimension within the individuals (ledger.breakdowns);
        when the individuals are invalid, that is the error reported."""
        individuals = info.data.get("individuals")
        if individuals is None:
            return None
        return checked(value, individuals)

    @model_validator(mode="after")
    def _households_not_above_individuals(self) -> NewFigure:
        households_within(self.households, self.individuals)
        return self


class Correction(BaseModel):
    """New values for some fields of a record, and why. Unset fields keep their value."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    individuals: int | None = None
    households: int | None = None
    households_unknown: bool = False
    date: FigureDate | None = None
    pcode: str | None = None
    # the dimensions a correction sets (replacing what the record had; one given with no
    # parts is removed), and the parts it changes within the others (new values added)
    breakdowns: Breakdowns | None = None
    breakdown_updates: Breakdowns | None = None
    quantifier: Quantifier | None = None
    reason: str
    citation: str | None = None

    @field_validator("quantifier", mode="before")
    @classmethod
    def _quantifier(cls, value: Any) -> Quantifier | None:
        return None if value is None else _choice(Quantifier, value, "quantifier")

    @field_validator("breakdowns", "breakdown_updates", mode="before")
    @classmethod
    def _breakdowns(cls, value: Any) -> Breakdowns | None:
        if value is None:
            return None
        out: Breakdowns = {}
        for dimension, parts in dict(value).items():
            name = dimension_of(str(dimension))
            found = checked({name: parts}, MAX_COUNT) if parts else None
            out[name] = found[name] if found else {}
        return out or None

    @field_validator("individuals", mode="before")
    @classmethod
    def _individuals(cls, value: Any) -> int | None:
        return None if value is None else _count(value, "individuals")

    @field_validator("households", mode="before")
    @classmethod
    def _hh(cls, value: Any) -> int | None:
        return None if value is None else _count(value, "households")

    @field_validator("date", mode="before")
    @classmethod
    def _date(cls, value: Any) -> FigureDate | None:
        return None if value is None else _figure_date(value)

    @field_validator("reason", mode="before")
    @classmethod
    def _reason(cls, value: Any) -> str:
        text = _text(value)
        if text is None:
            raise ValueError("a correction needs a reason")
        return text


class Retraction(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    reason: str

    @field_validator("reason", mode="before")
    @classmethod
    def _reason(cls, value: Any) -> str:
        text = _text(value)
        if text is None:
            raise ValueError("a retraction needs a reason")
        return text


def validated_households(value: Any) -> int:
    """A households count given alone (``record --households N``), checked as ever."""
    try:
        households = _households(value)
    except ValueError as error:
        raise InvalidInput(str(error)) from None
    if households is None:
        raise InvalidInput("households must be a number to convert (not unknown)")
    return households


def parse_figure_date(value: Any) -> FigureDate:
    try:
        return _figure_date(value)
    except ValueError as error:
        raise InvalidInput(str(error)) from None


def one_line(error: ValidationError) -> str:
    """The first problem of a pydantic error, as one line in the user's terms."""
    first = error.errors()[0]
    message = str(first.get("msg", "invalid value"))
    message = message.removeprefix("Value error, ")
    location = ".".join(str(p) for p in first.get("loc", ()))
    label = FIELD_LABELS.get(location, location)
    if (
        location
        and label not in message
        and not any(known in message for known in ("source", "KIND"))
    ):
        message = f"{label}: {message}"
    return message


def validated(model: type[M], **values: Any) -> M:
    """Build a model or raise InvalidInput with a one-line message."""
    try:
        return model(**values)
    except ValidationError as error:
        raise InvalidInput(one_line(error)) from None
