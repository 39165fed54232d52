"""``--db`` targets: a SQLite file path or a database URL, and how one may be shown.

A URL's passwords never reach a message: the user-info password and any query parameter
that carries one (``?password=…``, ``?sslpassword=…``) are replaced by ``***`` wherever a
target is shown, and ``scrub`` removes them from any text that might quote them (a
driver's error message, say).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, unquote_plus, urlsplit

from ledger.backends import is_url

MASK = "***"


def database_url(target: str) -> str:
    """A URL stays a URL; anything else is a SQLite file path (made absolute)."""
    if is_url(target):
        return target
    return f"sqlite:///{Path(target).expanduser().resolve()}"


def _secret(key: str) -> bool:
    return "password" in key.lower() or key.lower() in ("pass", "pwd", "secret", "token")


def safe_target(target: str) -> str:
    """The target as it may be shown to a user: every password replaced by ***, the rest
    exactly as given."""
    if not is_url(target):
        return target
    try:
        parts = urlsplit(target)
    except ValueError:  # an unparsable URL: show only its scheme
        return target.split("://", 1)[0] + "://…"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        if ":" in userinfo:
            netloc = f"{userinfo.split(':', 1)[0]}:{MASK}@{host}"
    pieces = []
    for piece in parts.query.split("&") if parts.query else []:
        key = unquote_plus(piece.split("=", 1)[0])
        pieces.append(f"{piece.split('=', 1)[0]}={MASK}" if _secret(key) else piece)
    shown = f"{parts.scheme}://{netloc}{parts.path}"
    return shown + ("?" + "&".join(pieces) if pieces else "")


def secrets_of(target: str) -> list[str]:
    """Every password the target holds, as written and decoded (longest first)."""
    if not is_url(target):
        return []
    found: set[str] = set()
    try:
        parts = urlsplit(target)
        if parts.password:
            found |= {parts.password, unquote(parts.password)}
        for key, value in parse_qsl(parts.query, keep_blank_values=True):
            if _secret(key) and value:
                found |= {value, quote(value), quote(value, safe="")}
    except ValueError:
        tail = target.split("://", 1)[1]
        found.add(tail)  # cannot tell the parts apart: hide all of it
    return sorted((s for s in found if s), key=len, reverse=True)


def scrub(message: str, target: str) -> str:
    """One line of ``message``, with the target shown safely and its passwords removed."""
    text = " ".join(str(message).split())
    if is_url(target):
        text = text.replace(target, safe_target(target))
        for secret in secrets_of(target):
            text = text.replace(secret, MASK)
    return text[:300]
