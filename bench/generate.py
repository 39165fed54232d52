"""Realistic synthetic ledgers, DTM-like, deterministic for a seed.

A fixed catalogue of countries → admin1 → admin2 (sizes skewed: a few large operations,
many small ones), so the number of locations does not grow with the number of events;
rounds of assessments (mostly admin2, some admin1 and national), registrations and
returns between them, in date order with a recording lag; a few percent of the records
corrected later (individuals, households, date or location) and about one percent
retracted. Everything streams: memory does not grow with the number of events.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

from ledger.bulk import Amendment, Item, NewRecord
from ledger.locations import Location

START = date(2010, 1, 1)
END = date(2026, 6, 30)
RECORDING_START = datetime(2010, 2, 1, tzinfo=UTC)
RECORDING_END = datetime(2026, 10, 31, tzinfo=UTC)
CORRECTED = 0.03
RETRACTED = 0.01
COUNTRY_CODES = ("AAA", "BBB", "CCC", "DDD", "EEE", "FFF", "GGG", "HHH", "JJJ", "KKK", "MMM", "NNN")


@dataclass(frozen=True)
class Catalogue:
    locations: list[Location]
    country_weights: list[float]
    admin1: dict[str, list[str]]  # country -> admin1 codes
    admin2: dict[str, list[str]]  # admin1 -> admin2 codes


def catalogue(seed: int = 7) -> Catalogue:
    """About 12 countries, 190 admin1 and 1,700 admin2 locations."""
    rnd = random.Random(seed)
    locations: list[Location] = []
    admin1: dict[str, list[str]] = {}
    admin2: dict[str, list[str]] = {}
    for rank, code in enumerate(COUNTRY_CODES, start=1):
        locations.append(Location(code, f"Country {code}", 0, None))
        n1 = max(4, int(40 / rank**0.6))
        admin1[code] = []
        for i in range(1, n1 + 1):
            a1 = f"{code}{i:02d}"
            admin1[code].append(a1)
            locations.append(Location(a1, f"Region {a1}", 1, code))
            admin2[a1] = [f"{a1}{j:02d}" for j in range(1, rnd.randint(3, 15) + 1)]
            locations.extend(Location(a2, f"District {a2}", 2, a1) for a2 in admin2[a1])
    weights = [1 / rank**1.1 for rank in range(1, len(COUNTRY_CODES) + 1)]
    return Catalogue(locations, weights, admin1, admin2)


def _uuid(rnd: random.Random) -> UUID:
    return UUID(int=rnd.getrandbits(128), version=4)


class SyntheticClock:
    """Recording times spread over 2010-2026, one tick per event (strictly increasing)."""

    def __init__(self, events: int) -> None:
        self.now = RECORDING_START
        self.step = (RECORDING_END - RECORDING_START) / max(events, 1)

    def __call__(self) -> datetime:
        self.now += self.step
        return self.now


def ledger_items(
    events: int, seed: int = 7, cat: Catalogue | None = None, *, breakdowns: bool = False
) -> Iterator[Item]:
    """``events`` figure-record events: records, then their corrections and retractions
    some thousands of events later. ``breakdowns``: every record broken down by sex, by
    cause and by origin (an admin1 of its country), as DTM rows give them."""
    cat = cat or catalogue()
    rnd = random.Random(seed)
    split = random.Random(seed + 1)
    countries = list(cat.admin1)
    cumulative = list(itertools.accumulate(cat.country_weights))
    admin1 = [cat.admin1[c] for c in countries]
    span = (END - START).days
    pending: list[tuple[int, int, Amendment]] = []
    tie = itertools.count()
    emitted = 0
    while emitted < events:
        if pending and pending[0][0] <= emitted:
            yield heapq.heappop(pending)[2]
            emitted += 1
            continue
        day = min(START + timedelta(days=span * emitted // events + int(rnd.random() * 21)), END)
        which = bisect.bisect(cumulative, rnd.random() * cumulative[-1])
        country, regions = countries[which], admin1[which]
        a1 = regions[int(rnd.random() * len(regions))]
        districts = cat.admin2[a1]
        a2 = districts[int(rnd.random() * len(districts))]
        roll = rnd.random()
        kind = "assessment" if roll < 0.3 else "registration" if roll < 0.85 else "return"
        level_roll = rnd.random()
        if kind == "assessment":
            pcode = a2 if level_roll < 0.85 else a1 if level_roll < 0.97 else country
            individuals = int(rnd.lognormvariate(7.5, 1.2))
            precision = "month" if rnd.random() < 0.5 else "day"
        else:
            pcode = a2 if level_roll < 0.9 else a1
            individuals = int(rnd.lognormvariate(5, 1.1))
            precision = "day"
        if precision == "month":
            day = (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        households = None if rnd.random() < 0.2 else individuals // (4 + int(rnd.random() * 4))
        record_id = _uuid(rnd)
        parts = None
        if breakdowns:  # from a generator of their own: the same history either way
            women = individuals * (40 + int(split.random() * 20)) // 100
            conflict = individuals * (60 + int(split.random() * 40)) // 100
            origin = regions[int(split.random() * len(regions))]
            parts = {
                "sex": {"female": women, "male": individuals - women},
                "cause": {"Conflict": conflict, "Natural disaster": individuals - conflict},
                "origin": {origin: individuals // 2},
            }
        yield NewRecord(
            record_id=record_id,
            kind=kind,
            pcode=pcode,
            date=day.isoformat(),
            precision=precision,
            individuals=individuals,
            households=households,
            source={"publisher": "DTM", "report": f"{country} round {day:%Y-%m}"},
            breakdowns=parts,
        )
        emitted += 1
        amend = rnd.random()
        later = emitted + 50 + int(rnd.random() * 4_950)
        if amend < CORRECTED:
            fix = _correction(rnd, record_id, individuals, pcode, cat, a1)
            heapq.heappush(pending, (later, next(tie), fix))
            if amend < CORRECTED / 6:
                gone = Amendment(record_id, 3, "duplicate of another row")
                heapq.heappush(pending, (later + 1, next(tie), gone))
        elif amend < CORRECTED + RETRACTED:
            gone = Amendment(record_id, 2, "duplicate of another row")
            heapq.heappush(pending, (later, next(tie), gone))


def _correction(
    rnd: random.Random, record_id: UUID, individuals: int, pcode: str, cat: Catalogue, a1: str
) -> Amendment:
    what = rnd.random()
    changes: dict[str, object]
    if what < 0.6:
        changes = {"individuals": max(0, individuals + rnd.randint(-individuals // 3, 500))}
        changes["households"] = None
    elif what < 0.8:
        changes = {"households": None}
    else:
        others = [p for p in cat.admin2[a1] if p != pcode] or [a1]
        changes = {"pcode": rnd.choice(others)}
    return Amendment(record_id, 2, "corrected after field verification", changes)
