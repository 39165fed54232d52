"""The audit bundle's format (docs/integrity.md): one JSON object, readable with no ledger.

    {"dledger_bundle": 1,
     "explain": <explain --format json: the derivation>,
     "events": [{"position", "notification_id", "originator_id", "originator_version",
                 "topic", "state", "previous_hash", "inclusion_proof"}, ...],
     "head_proof": [<hex>, ...],
     "checkpoint": "<a version 2 checkpoint text, with a bundle line, maybe signed>"}

``state`` is the event's stored JSON exactly as stored (UTF-8 text); ``previous_hash`` the
chain hash of the link before it, so the link (and the leaf) can be recomputed;
``inclusion_proof`` the RFC 9162 audit path of its leaf (position - 1) in the tree of the
checkpoint's size; ``head_proof`` that of the checkpoint's chain head (its last leaf). The
checkpoint's ``bundle`` line is the SHA-256 of the canonical JSON of everything else
(``content_digest``): keys sorted, no whitespace, UTF-8 (RFC 8785 for these values), so a
signed checkpoint covers the whole bundle.
"""

from __future__ import annotations

import json
import re
from hashlib import sha256
from typing import Any

from ledger.integrity.errors import AuditFailed
from ledger.integrity.evidence import StoredEvent

FORMAT = "dledger_bundle"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_HEX32 = re.compile(r"^[0-9a-f]{32}$")


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def content_digest(content: dict[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of a bundle without its checkpoint."""
    return sha256(canonical({k: v for k, v in content.items() if k != "checkpoint"})).hexdigest()


def event_entry(event: StoredEvent, previous: bytes, proof: list[bytes]) -> dict[str, Any]:
    return {
        "position": event.position,
        "notification_id": event.notification_id,
        "originator_id": event.originator_id,
        "originator_version": event.originator_version,
        "topic": event.topic,
        "state": event.state,
        "previous_hash": previous.hex(),
        "inclusion_proof": [h.hex() for h in proof],
    }


def parse_event(entry: Any, number: int) -> tuple[StoredEvent, bytes, list[bytes]]:
    """An entry of ``events`` (the ``number``-th, from 1) as (event, previous hash, proof)."""
    where = f"the bundle's event #{number}"
    if not isinstance(entry, dict):
        raise AuditFailed(f"{where} is not an object")
    whole = {k: entry.get(k) for k in ("position", "notification_id", "originator_version")}
    text = {k: entry.get(k) for k in ("originator_id", "topic", "state", "previous_hash")}
    for key, value in [*whole.items(), *text.items()]:
        if type(value) is not (int if key in whole else str):
            raise AuditFailed(f"{where} has no valid {key!r}")
    position, nid, version = (int(v or 0) for v in whole.values())
    oid, topic, state, previous = (str(v) for v in text.values())
    if not _HEX32.match(oid):
        raise AuditFailed(f"{where}: originator_id is not 32 lowercase hex digits")
    if position < 1:
        raise AuditFailed(f"{where}: position {position} is not a chain position")
    return (
        StoredEvent(position, nid, oid, version, topic, state),
        hex_hash(previous, f"{where}'s previous_hash"),
        hashes(entry.get("inclusion_proof"), f"{where}'s inclusion_proof"),
    )


def hex_hash(value: Any, what: str) -> bytes:
    if not isinstance(value, str) or not _HEX64.match(value):
        raise AuditFailed(f"{what} is not 64 lowercase hex digits")
    return bytes.fromhex(value)


def hashes(value: Any, what: str) -> list[bytes]:
    if not isinstance(value, list):
        raise AuditFailed(f"{what} is not a list of hashes")
    return [hex_hash(v, what) for v in value]
