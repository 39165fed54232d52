"""Deterministic record ids: uuid5 of what a row says, never of the file or the figure.

The key is readable text kept on the record (``import_key``) so that a later import can
tell which records came from the same publisher or operation (its *scope*):

    v1|<scope>|<round>|<kind>|<pcode>|<date>|<assessment type>[|<origin>|<cause>]

``scope`` is the DTM operation when the row names one, else the publisher; names are
folded (case, accents, spacing). Origin and cause are part of a plain record's identity;
in DTM files they are parts of one stock and are summed, so they are left out.
"""

from __future__ import annotations

from functools import lru_cache
from uuid import NAMESPACE_URL, UUID, uuid5

from ledger.locations import normalise

IMPORT_NAMESPACE = uuid5(NAMESPACE_URL, "https://displacement-ledger/import")
KEY_VERSION = "v1"


@lru_cache(maxsize=1024)
def scope_of(operation: str | None, publisher: str) -> str:
    if operation:
        return "op:" + normalise(operation)
    return "src:" + normalise(publisher)


def stock_key(
    scope: str,
    round_: str | None,
    kind: str,
    pcode: str,
    date: str,
    extra: tuple[str, ...] = (),
) -> str:
    """The identity of a stock before the assessment type (BA/SA) is chosen."""
    parts = [KEY_VERSION, scope, (round_ or "").strip(), kind, pcode, date]
    if extra:
        parts.extend(normalise(e) for e in extra)
    return "|".join(parts)


def record_key(key: str, assessment_type: str) -> str:
    """Insert the assessment type after the date: the full, unique import key."""
    head = key.split("|")
    return "|".join([*head[:6], assessment_type.strip().upper(), *head[6:]])


def record_id_for(import_key: str) -> UUID:
    return uuid5(IMPORT_NAMESPACE, import_key)


def scope_from_key(import_key: str) -> str | None:
    parts = import_key.split("|")
    return parts[1] if len(parts) > 1 and parts[0] == KEY_VERSION else None
