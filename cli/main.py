"""Entry point: registers every command module on the typer app."""

from __future__ import annotations

from cli import demo, figures, importing, integrity, read, write  # noqa: F401  (registers the commands)
from cli.app import app


def run() -> None:
    app()
