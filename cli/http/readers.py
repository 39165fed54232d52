"""One read service per worker thread, brought up to date at the start of every request.

A ``ReadService`` is not thread-safe and the server answers requests on a pool of worker
threads, so each thread opens its own (on its first request) and keeps it in a
``threading.local``. ``reading`` refreshes it first, so every request sees the log as it
is now: a correction recorded by the command line while the server runs is served at once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from ledger.errors import LedgerError
from projections.service import ReadService


class Readers:
    """The read services of one server's worker threads, all on one ledger."""

    def __init__(self, target: str) -> None:
        self.target = target
        self._local = threading.local()
        self._lock = threading.Lock()
        self._opened: list[ReadService] = []
        self._generation = 0  # moves on when the services are closed: threads open anew

    @contextmanager
    def reading(self) -> Iterator[ReadService]:
        """This thread's service, caught up with the log. A failure that is not the
        user's (the database went away, say) drops the service: the next request on this
        thread opens a new one."""
        service: ReadService | None = getattr(self._local, "service", None)
        if getattr(self._local, "generation", None) != self._generation:
            service = None
        try:
            if service is None:
                service = self._open()  # opening catches up
            else:
                service.refresh()
            yield service
        except LedgerError:
            raise
        except BaseException:
            self._discard()
            raise

    def _open(self) -> ReadService:
        service = ReadService.open(self.target)
        self._local.service, self._local.generation = service, self._generation
        with self._lock:
            self._opened.append(service)
        return service

    def _discard(self) -> None:
        service = getattr(self._local, "service", None)
        self._local.service = None
        if service is not None:
            with self._lock, suppress(ValueError):
                self._opened.remove(service)
            with suppress(Exception):
                service.close()

    def close(self) -> None:
        """Close every thread's service (the server is stopping)."""
        with self._lock:
            opened, self._opened = self._opened, []
            self._generation += 1
        for service in opened:
            with suppress(Exception):
                service.close()
