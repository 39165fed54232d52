"""The canonical encoding of an event and of a chain link (format version 1).

Both are SHA-256 over bytes whose layout is fixed here, independent of the database, the
driver and the Python version (docs/integrity.md gives the same definition):

- the event digest ("leaf") covers what an event says:
  ``b"dledger-event/1\\0" || u32(len(oid)) || oid || i64(version) || u32(len(topic)) ||
  topic || u64(len(state)) || state`` where ``oid`` is the originator id as 32 lowercase
  hex ASCII characters and ``topic`` is UTF-8;
- the link hash covers where it sits in the log:
  ``b"dledger-link/1\\0" || previous hash (32 bytes) || i64(position) ||
  i64(notification id) || event digest (32 bytes)``; the hash before position 1 is 32
  zero bytes.

All integers are big-endian; ``u32``/``u64`` unsigned, ``i64`` signed two's complement.
"""

from __future__ import annotations

from hashlib import sha256
from struct import Struct
from uuid import UUID

GENESIS = bytes(32)
EVENT_DOMAIN = b"dledger-event/1\x00"
LINK_DOMAIN = b"dledger-link/1\x00"

_U32 = Struct(">I")
_I64_U32 = Struct(">qI")
_U64 = Struct(">Q")
_LINK = Struct(">qq")


def originator_hex(value: UUID | str | bytes) -> str:
    """An originator id as 32 lowercase hex characters, however it was stored: a UUID
    (PostgreSQL), 16 raw bytes (SQLite's BINARY(16)) or text."""
    if isinstance(value, bytes):
        return value.hex() if len(value) == 16 else value.hex() + "!"  # "!": cannot match
    if isinstance(value, UUID):
        return value.hex
    if len(value) == 32:
        return value.lower()
    try:
        return UUID(value).hex
    except ValueError:
        return value  # not an id at all: it is encoded as stored, and cannot match


def event_digest(originator: str, version: int, topic: str, state: bytes) -> bytes:
    """SHA-256 of the event's canonical encoding; ``originator`` from ``originator_hex``."""
    oid = originator.encode("utf-8")
    text = topic.encode("utf-8")
    return sha256(
        EVENT_DOMAIN
        + _U32.pack(len(oid))
        + oid
        + _I64_U32.pack(version, len(text))
        + text
        + _U64.pack(len(state))
        + state
    ).digest()


def link_hash(previous: bytes, position: int, notification_id: int, digest: bytes) -> bytes:
    """The chain hash at ``position``, over the previous hash and this event's digest."""
    return sha256(LINK_DOMAIN + previous + _LINK.pack(position, notification_id) + digest).digest()
