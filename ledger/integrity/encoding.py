"""The canonical encoding of a chain link (format version 1).

Each link's hash is SHA-256 over bytes whose layout is fixed here, independent of the
database, the driver and the Python version (docs/integrity.md gives the same definition):

    b"dledger-link/1\\0"                       15 bytes, the domain and version
    previous hash                              32 bytes; 32 zero bytes before position 1
    i64 position                               1, 2, 3, ... in commit order
    i64 notification id                        the event's id in the events table
    u32 length || originator id                32 lowercase hex digits, ASCII
    i64 originator version
    u32 length || topic                        UTF-8
    u64 length || state                        the stored state bytes, as stored

All integers are big-endian; ``u32``/``u64`` unsigned, ``i64`` signed two's complement.
"""

from __future__ import annotations

from hashlib import sha256
from struct import Struct
from uuid import UUID

GENESIS = bytes(32)
LINK_DOMAIN = b"dledger-link/1\x00"

PLACE_ID = Struct(">qqI")  # position, notification id, len(originator id)
VERSION_TOPIC = Struct(">qI")  # version, len(topic)
U64 = Struct(">Q")


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


def link_hash(
    previous: bytes,
    position: int,
    notification_id: int,
    originator: str,
    version: int,
    topic: str,
    state: bytes,
) -> bytes:
    """The chain hash at ``position``; ``originator`` as given by ``originator_hex``."""
    oid = originator.encode("utf-8")
    text = topic.encode("utf-8")
    return sha256(
        b"".join(
            (
                LINK_DOMAIN,
                previous,
                PLACE_ID.pack(position, notification_id, len(oid)),
                oid,
                VERSION_TOPIC.pack(version, len(text)),
                text,
                U64.pack(len(state)),
                state,
            )
        )
    ).digest()
