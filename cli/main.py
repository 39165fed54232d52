"""Entry point: the root group loads each command's module when that command runs."""

from __future__ import annotations

from cli.app import app


def run() -> None:
    app()
