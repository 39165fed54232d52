"""Scenarios as text: one line per figure, turned into ledger commands.

    mali:   2017-12 assessment MLI 38172 hh=7716 src="DTM Dec 2017"
            2018-01 registration Mopti 2000
    fix:    correct mali individuals=38000 reason="typo"
            retract mali reason="duplicate"

A leading ``name:`` keeps the record id for later lines; ``correct``/``retract`` lines
amend a named record. Returns the names → record ids.
"""

from __future__ import annotations

import shlex
from uuid import UUID

from ledger.application import Ledger


def run(ledger: Ledger, text: str) -> dict[str, UUID]:
    names: dict[str, UUID] = {}
    for raw in text.strip().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name = None
        head = line.split(None, 1)[0]
        if head.endswith(":"):
            name, line = head[:-1], line.split(None, 1)[1]
        words = shlex.split(line)
        options = dict(w.split("=", 1) for w in words if "=" in w)
        plain = [w for w in words if "=" not in w]
        if plain[0] == "correct":
            ledger.correct(names[plain[1]], **options)
            continue
        if plain[0] == "retract":
            ledger.retract(names[plain[1]], reason=options["reason"])
            continue
        date, kind, location, individuals = plain
        written = ledger.record(
            kind=kind,
            location=location,
            date=date,
            individuals=individuals,
            households=options.get("hh"),
            source={"publisher": options.get("src", "test source")},
        )
        if name:
            names[name] = written.record_id
    return names
