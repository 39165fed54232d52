"""Record ids as users type them."""

from __future__ import annotations

from uuid import UUID

from ledger.errors import InvalidInput


def parse_record_id(text: str | UUID) -> UUID:
    """A record id (a UUID), or a one-line error naming what was given."""
    if isinstance(text, UUID):
        return text
    try:
        return UUID(text.strip())
    except (ValueError, AttributeError):
        raise InvalidInput(f"{text!r} is not a record id (a UUID)") from None
