"""The server's log: one line per request (method, path, status: never the query string,
never the client's address), uvicorn's own lines, every line scrubbed of the database's
passwords and shown with control characters escaped (a path cannot forge a log line)."""

from __future__ import annotations

import logging
from typing import Any

from cli.render import shown
from ledger.targets import scrub


class Scrubbed(logging.Filter):
    """Rewrites each record as one safe line; a traceback only with ``debug``."""

    def __init__(self, target: str = "", debug: bool = False) -> None:
        super().__init__()
        self.target = target
        self.debug = debug

    def filter(self, record: logging.LogRecord) -> bool:
        text = scrub(shown(record.getMessage()), self.target)
        if record.exc_info and not self.debug:
            kind = record.exc_info[0].__name__ if record.exc_info[0] else "error"
            text += f" [{kind}]"
            record.exc_info = None
            record.exc_text = None
        record.msg, record.args = text, None
        return True


def log_config(target: str, *, debug: bool = False) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for uvicorn: its access log off (the server logs
    each request itself), everything on stderr through ``Scrubbed``."""
    handler = {
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stderr",
        "formatter": "plain",
        "filters": ["scrubbed"],
    }
    quiet = {"handlers": [], "level": "CRITICAL", "propagate": False}
    loud = {"handlers": ["stderr"], "level": "INFO", "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"scrubbed": {"()": Scrubbed, "target": target, "debug": debug}},
        "formatters": {
            "plain": {
                "format": "%(asctime)s %(levelname)s %(message)s",
                "datefmt": "%Y-%m-%dT%H:%M:%S%z",
            }
        },
        "handlers": {"stderr": handler},
        "loggers": {
            "uvicorn": loud,
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": quiet,
            "dledger.http": loud,
        },
    }
