"""Checkpoints: the chain head (and the Merkle tree's root) as a small, portable,
optionally Ed25519-signed text.

Format (docs/integrity.md), UTF-8, one field per line, ``\\n`` line ends. Version 2::

    dledger checkpoint 2
    position 1234
    hash <64 lowercase hex: the chain hash at that position>
    tree 1234 <64 lowercase hex: the Merkle root over the first 1234 links>
    time 2026-11-27T20:31:45Z
    bundle <64 lowercase hex: SHA-256 of an audit bundle's content>   (only in bundles)
    signature ed25519 <key id: 16 hex> <base64 signature>             (optional)

Version 1 (written before the tree existed, still read) has no ``tree`` and no ``bundle``
line. The signature is over every line before it exactly as shown, each ending in
``\\n``; the key id is the first 16 hex digits of SHA-256 of the raw 32-byte public key.
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

MAGIC = "dledger checkpoint"
VERSIONS = {"1": ("position", "hash", "time"), "2": ("position", "hash", "tree", "time")}
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
    """A checkpoint as written down: when it was taken, the Merkle root of the log up to it
    (None in a version 1 checkpoint), what bundle it was taken for, and, optionally, who
    signed it."""

    checkpoint: Checkpoint
    time: datetime
    key_id: str | None = None
    signature: bytes | None = None
    root: str | None = None  # 64 lowercase hex: MTH of the first ``position`` links
    bundle: str | None = None  # 64 lowercase hex: SHA-256 of a bundle's content

    @property
    def version(self) -> int:
        return 1 if self.root is None else 2

    def body(self) -> str:
        """The signed part: every line but the signature."""
        position = self.checkpoint.position
        lines = [f"{MAGIC} {self.version}", f"position {position}"]
        lines.append(f"hash {self.checkpoint.head_hash}")
        if self.root is not None:
            lines.append(f"tree {position} {self.root}")
        lines.append(f"time {self.time.astimezone(UTC).strftime(_TIME)}")
        if self.bundle is not None:
            lines.append(f"bundle {self.bundle}")
        return "".join(f"{line}\n" for line in lines)

    def text(self) -> str:
        if self.signature is None:
            return self.body()
        encoded = base64.b64encode(self.signature).decode("ascii")
        return f"{self.body()}signature ed25519 {self.key_id} {encoded}\n"


def parse_checkpoint(text: str, source: str = "checkpoint") -> CheckpointStatement:
    lines = [line.strip() for line in text.strip().splitlines()]
    version = lines[0].removeprefix(f"{MAGIC} ") if lines else ""
    if not lines or not lines[0].startswith(f"{MAGIC} ") or version not in VERSIONS:
        raise InvalidCheckpoint(
            f"{source} is not a dledger checkpoint (expected '{MAGIC} 1' or '{MAGIC} 2' first)"
        )
    required = VERSIONS[version]
    optional = ("bundle", "signature") if version == "2" else ("signature",)
    fields: dict[str, str] = {}
    rest = list(lines[1:])
    for name in required:
        line = rest.pop(0) if rest else ""
        key, _, value = line.partition(" ")
        if key != name or not value:
            raise InvalidCheckpoint(f"{source}: expected a {name!r} line, found {line[:60]!r}")
        fields[name] = value
    for name in optional:
        if rest and rest[0].partition(" ")[0] == name and rest[0].partition(" ")[2]:
            fields[name] = rest.pop(0).partition(" ")[2]
    if rest:
        raise InvalidCheckpoint(f"{source}: unexpected line {rest[0][:60]!r}")
    position = _whole(fields["position"], source)
    if not _HEX64.match(fields["hash"]):
        raise InvalidCheckpoint(f"{source}: hash is not 64 lowercase hex digits")
    try:
        time = datetime.strptime(fields["time"], _TIME).replace(tzinfo=UTC)
    except ValueError:
        raise InvalidCheckpoint(f"{source}: time {fields['time'][:40]!r} is not {_TIME}") from None
    statement = CheckpointStatement(Checkpoint(position, fields["hash"]), time)
    if "tree" in fields:
        size, _, root = fields["tree"].partition(" ")
        if _whole(size, source) != position:
            raise InvalidCheckpoint(f"{source}: the tree's size {size[:30]!r} is not its position")
        if not _HEX64.match(root):
            raise InvalidCheckpoint(f"{source}: the tree's root is not 64 lowercase hex digits")
        statement = replace(statement, root=root)
    if "bundle" in fields:
        if not _HEX64.match(fields["bundle"]):
            raise InvalidCheckpoint(f"{source}: bundle is not 64 lowercase hex digits")
        statement = replace(statement, bundle=fields["bundle"])
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


def _whole(text: str, source: str) -> int:
    if not text.isdigit() or not text.isascii():
        raise InvalidCheckpoint(f"{source}: position {text[:30]!r} is not a whole number")
    return int(text)


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
    signature, signer = sign_text(statement.body(), private_pem, source)
    return replace(statement, key_id=signer, signature=signature)


def sign_text(text: str, private_pem: bytes, source: str = "key") -> tuple[bytes, str]:
    """The Ed25519 signature of ``text`` (UTF-8) with the private key in ``private_pem``,
    and the signing key's id; a file that is not such a key is a ``KeyFileProblem``."""
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
    return private.sign(text.encode("utf-8")), key_id(raw)


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
