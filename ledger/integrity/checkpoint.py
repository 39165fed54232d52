"""Checkpoints: the chain head as a small, portable, optionally Ed25519-signed text.

Format (docs/integrity.md), UTF-8, one field per line, ``\\n`` line ends::

    dledger checkpoint 1
    position 1234
    hash <64 lowercase hex: the chain hash at that position>
    time 2026-11-27T20:31:45Z
    signature ed25519 <key id: 16 hex> <base64 signature>      (optional)

The signature is over the first four lines exactly as shown, each ending in ``\\n``;
the key id is the first 16 hex digits of SHA-256 of the raw 32-byte public key.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from hashlib import sha256
from typing import Any

from ledger.integrity.errors import InvalidCheckpoint, KeyFileProblem, SignatureRejected

MAGIC = "dledger checkpoint 1"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_TIME = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True)
class Checkpoint:
    """A position in the chain and the chain hash there: what a published number rests on."""

    position: int
    head_hash: str  # 64 lowercase hex

    def as_dict(self) -> dict[str, Any]:
        return {"position": self.position, "head_hash": self.head_hash}


@dataclass(frozen=True)
class CheckpointStatement:
    """A checkpoint as written down: when it was taken and, optionally, who signed it."""

    checkpoint: Checkpoint
    time: datetime
    key_id: str | None = None
    signature: bytes | None = None

    def body(self) -> str:
        """The signed part: the first four lines."""
        return (
            f"{MAGIC}\nposition {self.checkpoint.position}\nhash {self.checkpoint.head_hash}\n"
            f"time {self.time.astimezone(UTC).strftime(_TIME)}\n"
        )

    def text(self) -> str:
        if self.signature is None:
            return self.body()
        encoded = base64.b64encode(self.signature).decode("ascii")
        return f"{self.body()}signature ed25519 {self.key_id} {encoded}\n"


def parse_checkpoint(text: str, source: str = "checkpoint") -> CheckpointStatement:
    lines = [line.strip() for line in text.strip().splitlines()]
    if len(lines) not in (4, 5) or lines[0] != MAGIC:
        raise InvalidCheckpoint(f"{source} is not a dledger checkpoint (expected {MAGIC!r} first)")
    fields: dict[str, str] = {}
    for line, name in zip(lines[1:], ("position", "hash", "time", "signature"), strict=False):
        key, _, value = line.partition(" ")
        if key != name or not value:
            raise InvalidCheckpoint(f"{source}: expected a {name!r} line, found {line[:60]!r}")
        fields[name] = value
    position = fields["position"]
    if not position.isdigit() or not position.isascii():
        raise InvalidCheckpoint(f"{source}: position {position[:30]!r} is not a whole number")
    if not _HEX64.match(fields["hash"]):
        raise InvalidCheckpoint(f"{source}: hash is not 64 lowercase hex digits")
    try:
        time = datetime.strptime(fields["time"], _TIME).replace(tzinfo=UTC)
    except ValueError:
        raise InvalidCheckpoint(f"{source}: time {fields['time'][:40]!r} is not {_TIME}") from None
    statement = CheckpointStatement(Checkpoint(int(position), fields["hash"]), time)
    if "signature" not in fields:
        return statement
    parts = fields["signature"].split(" ")
    if len(parts) != 3 or parts[0] != "ed25519":
        raise InvalidCheckpoint(f"{source}: signature line is not 'ed25519 KEY_ID BASE64'")
    try:
        signature = base64.b64decode(parts[2], validate=True)
    except binascii.Error:
        raise InvalidCheckpoint(f"{source}: signature is not base64") from None
    return replace(statement, key_id=parts[1], signature=signature)


def key_id(public_raw: bytes) -> str:
    return sha256(public_raw).hexdigest()[:16]


def generate_key_pair() -> tuple[bytes, bytes]:
    """A new Ed25519 key pair as (private PKCS#8 PEM, public SubjectPublicKeyInfo PEM)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    private = Ed25519PrivateKey.generate()
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private_pem, public_pem


def sign(
    statement: CheckpointStatement, private_pem: bytes, source: str = "key"
) -> CheckpointStatement:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        private = serialization.load_pem_private_key(private_pem, password=None)
    except (ValueError, TypeError):
        raise KeyFileProblem(f"{source} is not an unencrypted PEM private key") from None
    if not isinstance(private, Ed25519PrivateKey):
        raise KeyFileProblem(f"{source} is not an Ed25519 private key")
    raw = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    signature = private.sign(statement.body().encode("utf-8"))
    return replace(statement, key_id=key_id(raw), signature=signature)


def check_signature(statement: CheckpointStatement, public_pem: bytes, source: str = "key") -> None:
    """Raise SignatureRejected unless ``statement`` was signed by this public key."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        public = serialization.load_pem_public_key(public_pem)
    except (ValueError, TypeError):
        raise KeyFileProblem(f"{source} is not a PEM public key") from None
    if not isinstance(public, Ed25519PublicKey):
        raise KeyFileProblem(f"{source} is not an Ed25519 public key")
    if statement.signature is None:
        raise SignatureRejected("the checkpoint is not signed, but a public key was given")
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    if statement.key_id != key_id(raw):
        raise SignatureRejected(
            f"the checkpoint was signed by key {statement.key_id}, not by {source} "
            f"(key {key_id(raw)})"
        )
    try:
        public.verify(statement.signature, statement.body().encode("utf-8"))
    except InvalidSignature:
        raise SignatureRejected(
            "the checkpoint's signature does not match its contents: it was forged or altered"
        ) from None
