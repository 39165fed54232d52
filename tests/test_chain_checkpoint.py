"""The checkpoint text format and its Ed25519 signature: round trip, forgery, wrong key."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from ledger.integrity.checkpoint import (
    Checkpoint,
    CheckpointStatement,
    check_signature,
    generate_key_pair,
    parse_checkpoint,
    sign,
)
from ledger.integrity.errors import InvalidCheckpoint, KeyFileProblem, SignatureRejected

TAKEN = CheckpointStatement(
    Checkpoint(1234, "ab" * 32), datetime(2026, 11, 27, 20, 31, 45, tzinfo=UTC)
)


def test_an_unsigned_checkpoint_is_four_documented_lines() -> None:
    assert TAKEN.text() == (
        "dledger checkpoint 1\nposition 1234\nhash " + "ab" * 32 + "\ntime 2026-11-27T20:31:45Z\n"
    )
    assert parse_checkpoint(TAKEN.text()) == TAKEN


def test_a_signed_checkpoint_round_trips_and_verifies() -> None:
    private, public = generate_key_pair()
    signed = sign(TAKEN, private)
    lines = signed.text().splitlines()
    assert len(lines) == 5 and lines[4].startswith(f"signature ed25519 {signed.key_id} ")
    parsed = parse_checkpoint(signed.text())
    assert parsed == signed
    check_signature(parsed, public)  # does not raise


@pytest.mark.parametrize(
    "field, value",
    [("position", "1235"), ("hash", "cd" * 32), ("time", "2026-11-28T00:00:00Z")],
)
def test_a_forged_field_under_a_genuine_signature_is_rejected(field: str, value: str) -> None:
    private, public = generate_key_pair()
    text = sign(TAKEN, private).text()
    original = {"position": "1234", "hash": "ab" * 32, "time": "2026-11-27T20:31:45Z"}[field]
    forged = parse_checkpoint(text.replace(f"{field} {original}", f"{field} {value}"))
    with pytest.raises(SignatureRejected, match="forged or altered"):
        check_signature(forged, public)


def test_a_checkpoint_signed_with_another_key_is_rejected() -> None:
    mine, _ = generate_key_pair()
    _, theirs = generate_key_pair()
    with pytest.raises(SignatureRejected, match=r"was signed by key [0-9a-f]{16}, not by"):
        check_signature(sign(TAKEN, mine), theirs)


def test_a_signature_relabelled_with_the_right_key_id_is_still_rejected() -> None:
    mine, _ = generate_key_pair()
    _, theirs_public = generate_key_pair()
    other = sign(TAKEN, generate_key_pair()[0])
    forged = replace(sign(TAKEN, mine), key_id=other.key_id)
    with pytest.raises(SignatureRejected):
        check_signature(forged, theirs_public)


def test_an_unsigned_checkpoint_is_rejected_when_a_key_is_given() -> None:
    _, public = generate_key_pair()
    with pytest.raises(SignatureRejected, match="not signed"):
        check_signature(TAKEN, public)


@pytest.mark.parametrize(
    "text, reason",
    [
        ("hello\n", "is not a dledger checkpoint"),
        (
            "dledger checkpoint 1\nposition x\nhash " + "ab" * 32 + "\ntime 2026-11-27T20:31:45Z\n",
            "is not a whole number",
        ),
        (
            "dledger checkpoint 1\nposition 1\nhash AB\ntime 2026-11-27T20:31:45Z\n",
            "64 lowercase hex",
        ),
        ("dledger checkpoint 1\nposition 1\nhash " + "ab" * 32 + "\ntime yesterday\n", "is not"),
        (TAKEN.text() + "signature rsa x y\n", "signature line"),
        (TAKEN.text() + "signature ed25519 abcd !!!\n", "not base64"),
    ],
)
def test_a_malformed_checkpoint_is_named(text: str, reason: str) -> None:
    with pytest.raises(InvalidCheckpoint, match=reason):
        parse_checkpoint(text, source="cp.txt")


def test_a_key_file_that_is_not_a_key_is_named() -> None:
    with pytest.raises(KeyFileProblem, match="not an unencrypted PEM private key"):
        sign(TAKEN, b"not a key", source="k")
    with pytest.raises(KeyFileProblem, match="not a PEM public key"):
        check_signature(TAKEN, b"not a key", source="k.pub")
