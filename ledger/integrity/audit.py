"""Checking an audit bundle, a consistency proof or a checkpoint offline: nothing but the
file (and, for signatures, a public key) is read; no ledger, no database.

A bundle (``ledger.integrity.bundle_format``) holds when, in this order: its checkpoint
parses and (with a public key) was signed by that key; the checkpoint's chain head is the
last leaf of its Merkle tree; the derivation was computed at the checkpoint's position;
every event's recomputed chain link is a leaf of that tree (its inclusion proof leads to
the root); the events, decoded, say what the derivation says and the figure follows from
them by the figure rule (``ledger.integrity.rederive``); every event is one the derivation
rests on; and the bundle's content is what its checkpoint's ``bundle`` line says. The
first check that fails is named, in one line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from ledger.integrity.bundle_format import FORMAT, content_digest, hashes, parse_event
from ledger.integrity.checkpoint import CheckpointStatement, check_signature, parse_checkpoint
from ledger.integrity.consistency import FORMAT as CONSISTENCY
from ledger.integrity.encoding import link_hash
from ledger.integrity.errors import AuditFailed
from ledger.integrity.evidence import StoredEvent, fold
from ledger.integrity.merkle import EMPTY_ROOT, verify_consistency, verify_inclusion
from ledger.integrity.rederive import Rule
from ledger.integrity.tree import leaf_of


@dataclass(frozen=True)
class PublicKey:
    pem: bytes
    source: str  # the file it came from, for messages


@dataclass(frozen=True)
class AuditReport:
    """What held: a headline and one line per thing checked."""

    kind: str  # bundle | consistency | checkpoint
    headline: str
    checked: tuple[str, ...]
    figure: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "holds": True,
            "kind": self.kind,
            "headline": self.headline,
            "checked": list(self.checked),
            "figure": self.figure,
        }


def audit(data: bytes, source: str, key: PublicKey | None) -> AuditReport:
    """Audit a file's bytes, whichever kind of file it is (found from its content)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise AuditFailed(f"{source} is not UTF-8 text") from None
    if text.lstrip().startswith("dledger checkpoint"):
        return audit_checkpoint(parse_checkpoint(text, source), key)
    try:
        document = json.loads(text)
    except ValueError as error:
        raise AuditFailed(
            f"{source} is not an audit bundle, a consistency proof or a checkpoint "
            f"(not JSON: {error})"
        ) from None
    if isinstance(document, dict) and FORMAT in document:
        return audit_bundle(document, key)
    if isinstance(document, dict) and CONSISTENCY in document:
        return audit_consistency(document, key)
    raise AuditFailed(
        f"{source} is JSON but neither an audit bundle ({FORMAT!r}) nor a consistency proof "
        f"({CONSISTENCY!r})"
    )


def _signed(statement: CheckpointStatement, key: PublicKey | None, what: str) -> str:
    """Check the signature (with a key) and say what was checked."""
    if key is not None:
        check_signature(statement, key.pem, source=key.source)
        return (
            f"signature: {what} signed with Ed25519 key {statement.key_id}, checked against "
            f"{key.source}"
        )
    if statement.signature is not None:
        return (
            f"signature: {what} signed with key {statement.key_id}, NOT checked (give --public-key)"
        )
    return f"signature: {what} not signed (anyone could have written it)"


def _checkpoint_of(text: Any, what: str) -> CheckpointStatement:
    if not isinstance(text, str):
        raise AuditFailed(f"{what} is not a checkpoint text")
    statement = parse_checkpoint(text, what)
    if statement.root is None:
        raise AuditFailed(f"{what} is a version 1 checkpoint, without a Merkle root")
    return statement


def audit_checkpoint(statement: CheckpointStatement, key: PublicKey | None) -> AuditReport:
    cp = statement.checkpoint
    lines = [_signed(statement, key, "the checkpoint is")]
    if statement.root is not None:
        lines.append(f"tree: {cp.position} leaves, root {statement.root}")
    return AuditReport(
        "checkpoint",
        f"checkpoint: log position {cp.position}, chain hash {cp.head_hash}",
        tuple(lines),
    )


def audit_consistency(document: dict[str, Any], key: PublicKey | None) -> AuditReport:
    if document.get(CONSISTENCY) != 1:
        raise AuditFailed(f"a consistency proof of another format ({document.get(CONSISTENCY)!r})")
    old = parse_checkpoint(_text(document.get("old"), "the old checkpoint"), "the old checkpoint")
    new = _checkpoint_of(document.get("new"), "the new checkpoint")
    lines = [_signed(new, key, "the new checkpoint is")]
    if key is not None and old.signature is not None:
        lines.append(_signed(old, key, "the old checkpoint is"))
    m, n = old.checkpoint.position, new.checkpoint.position
    root = bytes.fromhex(new.root or "")
    if m > n:
        raise AuditFailed(f"the old checkpoint (position {m}) is beyond the new one ({n})")
    if n and not verify_inclusion(
        n - 1, n, leaf_of(bytes.fromhex(new.checkpoint.head_hash)),
        hashes(document.get("new_head_proof"), "new_head_proof"), root,
    ):  # fmt: skip
        raise AuditFailed("the new checkpoint's chain head is not the last leaf of its tree")
    if m and not verify_inclusion(
        m - 1, n, leaf_of(bytes.fromhex(old.checkpoint.head_hash)),
        hashes(document.get("old_head_proof"), "old_head_proof"), root,
    ):  # fmt: skip
        raise AuditFailed(
            f"the old checkpoint's chain hash is not the new tree's leaf at position {m}: the "
            "log's history up to the old checkpoint was rewritten (or the proof altered)"
        )
    lines.append(f"chain: the old checkpoint's head (position {m}) is a leaf of the new tree")
    if old.root is not None:
        old_root = bytes.fromhex(old.root)
        if m == 0:
            holds = old_root == EMPTY_ROOT
        else:
            proof = hashes(document.get("consistency_proof"), "consistency_proof")
            holds = verify_consistency(m, n, old_root, root, proof)
        if not holds:
            raise AuditFailed(
                f"the consistency proof does not lead from the old root (size {m}) to the new "
                f"one (size {n}): the log's first {m} events were rewritten, or the proof altered"
            )
        lines.append(f"tree: RFC 9162 consistency proof from size {m} to size {n} holds")
    return AuditReport(
        "consistency",
        f"consistency holds: the log at position {n} (root {new.root}) extends the log at "
        f"position {m}{'' if old.root is None else f' (root {old.root})'} unchanged",
        tuple(lines),
    )


def audit_bundle(bundle: dict[str, Any], key: PublicKey | None) -> AuditReport:
    if bundle.get(FORMAT) != 1:
        raise AuditFailed(f"an audit bundle of another format ({bundle.get(FORMAT)!r})")
    statement = _checkpoint_of(bundle.get("checkpoint"), "the bundle's checkpoint")
    lines = [_signed(statement, key, "the bundle's checkpoint is")]
    size, root = statement.checkpoint.position, bytes.fromhex(statement.root or "")
    head = bytes.fromhex(statement.checkpoint.head_hash)
    if size < 1 or not verify_inclusion(
        size - 1, size, leaf_of(head), hashes(bundle.get("head_proof"), "head_proof"), root
    ):
        raise AuditFailed(
            "the checkpoint's chain head is not the last leaf of its Merkle tree: the "
            "checkpoint or the bundle's head proof was altered"
        )
    explain = bundle.get("explain")
    if not isinstance(explain, dict):
        raise AuditFailed("the bundle has no derivation ('explain')")
    if explain.get("checkpoint") != statement.checkpoint.as_dict():
        raise AuditFailed(
            f"the derivation was computed at {explain.get('checkpoint')!r}, not at the "
            f"checkpoint's log position {size} (chain hash {statement.checkpoint.head_hash})"
        )
    lines.append(
        f"checkpoint: log position {size}, chain hash {statement.checkpoint.head_hash}, "
        f"Merkle root {statement.root} (the chain head is its last leaf)"
    )
    events = _included(bundle.get("events"), size, root)
    lines.append(f"events: {len(events)} stored events, each a leaf of that tree (RFC 9162 "
                 "inclusion proofs)")  # fmt: skip
    evidence = fold(events)
    rule = Rule(evidence, _day(explain.get("as_of")), _moment(explain.get("known_at")))
    figure = rule.figure(explain, "")
    _all_used(evidence.versions.keys(), figure.versions)
    corrections = sum(1 for v in evidence.versions.values() if v.changes)
    lines.append(
        f"records: {len(figure.versions)} record versions ({corrections} corrections) and "
        f"{len(evidence.locations)} locations decoded from the events say what the "
        "derivation says"
    )
    lines.append(f"figure rule: {figure.figures} figure(s) recomputed: {explain.get('arithmetic')}")
    digest = content_digest(bundle)
    if digest != statement.bundle:
        raise AuditFailed(
            f"the bundle's content was altered after its checkpoint was taken: its SHA-256 is "
            f"{digest}, the checkpoint says {statement.bundle}"
        )
    lines.append(f"content: SHA-256 {digest} is the checkpoint's bundle line")
    place = explain.get("location") or {}
    households = (
        "households unknown" if figure.households is None else f"{figure.households:,} households"
    )
    partial = " (partial)" if figure.partial else ""
    return AuditReport(
        "bundle",
        f"audit holds: {place.get('name')} ({place.get('pcode')}) on {explain.get('as_of')}, "
        f"as known at {explain.get('known_at')}: {figure.individuals:,} individuals, "
        f"{households}{partial}",
        tuple(lines),
        {
            "location": place,
            "as_of": explain.get("as_of"),
            "known_at": explain.get("known_at"),
            "individuals": figure.individuals,
            "households": figure.households,
            "partial": figure.partial,
        },
    )


def _included(entries: Any, size: int, root: bytes) -> list[StoredEvent]:
    if not isinstance(entries, list):
        raise AuditFailed("the bundle's events are not a list")
    events: list[StoredEvent] = []
    seen: set[int] = set()
    for number, entry in enumerate(entries, start=1):
        event, previous, proof = parse_event(entry, number)
        if event.position in seen:
            raise AuditFailed(f"the bundle holds two events at position {event.position}")
        seen.add(event.position)
        link = link_hash(
            previous, event.position, event.notification_id, event.originator_id,
            event.originator_version, event.topic, event.state.encode("utf-8"),
        )  # fmt: skip
        if event.position > size or not verify_inclusion(
            event.position - 1, size, leaf_of(link), proof, root
        ):
            raise AuditFailed(
                f"{event.name} at position {event.position} is not in the checkpoint's tree: "
                "its inclusion proof does not lead to the Merkle root (the event, its proof "
                "or the root was altered)"
            )
        events.append(event)
    return events


def _all_used(held: Any, shown: frozenset[tuple[str, int]]) -> None:
    """Every record version the events establish is, or leads up to, one that is shown."""
    latest: dict[str, int] = {}
    for rid, version in shown:
        latest[rid] = max(latest.get(rid, 0), version)
    for rid, version in sorted(held):
        if version > latest.get(rid, 0):
            what = f"version {version} of record" if rid in latest else "record"
            raise AuditFailed(
                f"the bundle holds {what} {rid}, which the derivation does not rest on (a "
                "record was added to the bundle, or dropped from the derivation)"
            )


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise AuditFailed(f"{what} is not a checkpoint text")
    return value


def _day(value: Any) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise AuditFailed(f"the derivation's as_of {value!r} is not a date") from None


def _moment(value: Any) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise AuditFailed(f"the derivation's known_at {value!r} is not an instant")
    return moment
