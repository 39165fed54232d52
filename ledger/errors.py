"""Errors a user can cause, as data. The CLI maps each family to one exit status."""

from __future__ import annotations


class LedgerError(Exception):
    """Any error the user can act on; its message is one line and names the problem."""


class InvalidInput(LedgerError):
    """A value failed validation (a malformed date, a negative count, ...)."""


class RecordNotFound(LedgerError):
    def __init__(self, record_id: object) -> None:
        super().__init__(f"no figure record with id {record_id}")
        self.record_id = record_id


class SnapshotNotFound(LedgerError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no snapshot named {name!r} (see `dledger snapshot list`)")
        self.name = name


class RecordRetracted(LedgerError):
    def __init__(self, record_id: object) -> None:
        super().__init__(f"record {record_id} is retracted and cannot be amended")


class NothingToChange(LedgerError):
    """A correction that would not change any value."""


class UnknownLocation(LedgerError):
    def __init__(self, query: str, suggestions: list[str]) -> None:
        hint = f"; closest: {', '.join(suggestions)}" if suggestions else ""
        super().__init__(f"unknown location {query!r}{hint}")
        self.query = query
        self.suggestions = suggestions


class AmbiguousLocation(LedgerError):
    def __init__(self, query: str, candidates: list[str]) -> None:
        super().__init__(
            f"location {query!r} is ambiguous: {', '.join(candidates)}; "
            "use a p-code or qualify with the parent (Parent/Name)"
        )
        self.query = query
        self.candidates = candidates


class ConcurrentChange(LedgerError):
    def __init__(self, record_id: object) -> None:
        super().__init__(
            f"record {record_id} was changed by another writer at the same time; "
            "nothing was written, look at its history and try again"
        )


class StorageUnavailable(LedgerError):
    """The database cannot be opened or reached. Never carries credentials."""


class LedgerNotInitialised(LedgerError):
    def __init__(self, target: str) -> None:
        super().__init__(f"no ledger at {target}; run `dledger init` first")
