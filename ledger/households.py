"""Household sizes: how many people a household stands for, by country and year.

Many sources count households. A figure given in households only gets its individuals
from the size in force for its country and year (households × size, rounded half up, as
IDMC's Helix does); a year without a size of its own uses the nearest earlier year, and
says so; no size at all is an error when the figure is recorded, never a silent zero.
The table is itself a log of events: setting a size is an event, and the households-only
records it changes are corrected in the same transaction, so what the ledger said before
stays reproducible with ``--known-at``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from ledger.dates import utc_now
from ledger.errors import InvalidInput, LedgerError

HOUSEHOLD_SIZES_ID: UUID = uuid5(NAMESPACE_URL, "https://displacement-ledger/household-sizes")
MAX_SIZE = Decimal(50)


class NoHouseholdSize(LedgerError):
    def __init__(self, country: str, year: int) -> None:
        super().__init__(
            f"no household size for {country} in or before {year}: give --individuals, or set "
            f"one (dledger household-size set {country} --year {year} --size S --source TEXT)"
        )


@dataclass(frozen=True)
class SizeInForce:
    country: str
    year: int  # the year of the size used
    for_year: int  # the figure's year
    size: str  # decimal text, as given ("5.2")
    source: str

    def individuals(self, households: int) -> int:
        return int((Decimal(households) * Decimal(self.size)).quantize(1, rounding=ROUND_HALF_UP))

    def conversion(self, households: int) -> dict[str, Any]:
        """What a households-only record keeps of it (``explain`` shows it)."""
        return {
            "households": households, "size": self.size, "country": self.country,
            "year": self.year, "for_year": self.for_year, "nearest": self.year != self.for_year,
            "source": self.source,
        }  # fmt: skip


def checked_size(text: str) -> str:
    try:
        size = Decimal(str(text).strip())
    except InvalidOperation:
        raise InvalidInput(f"--size {text!r} is not a number (people per household)") from None
    if not size.is_finite() or size <= 0 or size > MAX_SIZE:
        raise InvalidInput(f"--size must be more than 0 and at most {MAX_SIZE}, got {text}")
    return str(size.normalize()) if size == size.to_integral() else str(size)


def checked_year(text: Any) -> int:
    value = str(text).strip()
    if not value.isdigit() or not 1900 <= int(value) <= utc_now().year:
        raise InvalidInput(f"--year must be a year from 1900 to {utc_now().year}, got {text!r}")
    return int(value)


class HouseholdSizes(Aggregate):
    """Every household size set, by country and year (the last set wins)."""

    @event("Started")
    def __init__(self, id: UUID = HOUSEHOLD_SIZES_ID) -> None:
        self.sizes: dict[str, dict[int, dict[str, str]]] = {}

    class SizeSet(Aggregate.Event):
        country: str
        year: int
        size: str
        source: str
        actor: str

    def set(self, country: str, year: int, size: str, source: str, actor: str) -> None:
        if not source.strip():
            raise InvalidInput("--source is required (who published the household size)")
        self._set(country=country, year=year, size=size, source=source.strip(), actor=actor)

    @event(SizeSet)
    def _set(self, country: str, year: int, size: str, source: str, actor: str) -> None:
        self.sizes.setdefault(country, {})[year] = {"size": size, "source": source}

    def in_force(self, country: str, year: int) -> SizeInForce:
        years = [y for y in self.sizes.get(country, {}) if y <= year]
        if not years:
            raise NoHouseholdSize(country, year)
        used = max(years)
        entry = self.sizes[country][used]
        return SizeInForce(country, used, year, entry["size"], entry["source"])
