"""Failures that are not about the user's input, said in one line each.

The operating system's (a missing file, a folder where a file was expected, no
permission, a read-only or full disk, a closed pipe) and the database's (busy, full,
read-only, unreachable, not a ledger) errors reach the user as one line that names what
happened and what was not done, whichever layer raised them: SQLAlchemy and the event
library wrap the driver's errors, so the chain of causes is searched. What the backends'
drivers mean is said by the backends (``EventStore.failure``). Anything else is an
internal error: ``describe`` returns None and the caller says so.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator

from ledger.errors import LedgerError

BROKEN_PIPE = "the output was closed before all of it was written (broken pipe)"
_OS_MESSAGES = {
    errno.ENOENT: "no such file or folder",
    errno.EISDIR: "is a folder, not a file",
    errno.ENOTDIR: "a part of the path is not a folder",
    errno.EACCES: "permission denied",
    errno.EPERM: "not permitted (the file may be immutable)",
    errno.EROFS: "the file system is read-only",
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EEXIST: "already exists",
    errno.ENAMETOOLONG: "the name is too long",
}


def causes(error: BaseException) -> Iterator[BaseException]:
    """The error, then what it wraps: its cause, a wrapped driver error (``orig``), an
    exception given as its first argument, its context."""
    seen: set[int] = set()
    todo = [error]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        wrapped = [getattr(current, "orig", None), current.__cause__, current.__context__]
        wrapped += [a for a in getattr(current, "args", ())[:1] if isinstance(a, BaseException)]
        todo += [w for w in wrapped if isinstance(w, BaseException)]


def os_message(error: OSError) -> str:
    what = _OS_MESSAGES.get(error.errno or 0) or (error.strerror or str(error)).lower()
    name = error.filename if error.filename is not None else None
    return f"{name}: {what}" if name else what


def describe(error: BaseException, target: str | None = None) -> str | None:
    """One line for a failure the user can understand, or None for an internal error."""
    from ledger.backends import store_for
    from ledger.targets import scrub

    store = None
    if target is not None:
        try:
            store = store_for(target)
        except LedgerError:
            store = None
    for cause in causes(error):
        if isinstance(cause, LedgerError):
            return str(cause)
        if isinstance(cause, BrokenPipeError):
            return BROKEN_PIPE
        if store is not None:
            said = store.failure(cause, target or "")
            if said is not None:
                return scrub(said, target or "")
        if isinstance(cause, OSError) and cause.errno:
            return scrub(os_message(cause), target or "")
    return None
