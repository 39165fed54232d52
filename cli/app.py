"""The typer application, its global options, and the one place errors become exit codes."""

from __future__ import annotations

import getpass
import os
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

if TYPE_CHECKING:
    from ledger.application import Ledger

EXIT_DATA_ERROR = 1
EXIT_USAGE = 2


class LedgerCommandGroup(TyperGroup):
    """Maps the ledger's errors to one stderr line and exit status 1, for every command."""

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        from cli.render import UnsupportedFormat
        from ledger.errors import LedgerError

        try:
            return super().invoke(ctx)
        except UnsupportedFormat as error:
            typer.echo(f"error: {error}", err=True)
            ctx.exit(EXIT_USAGE)
        except LedgerError as error:
            typer.echo(f"error: {error}", err=True)
            ctx.exit(EXIT_DATA_ERROR)
        except KeyboardInterrupt:
            typer.echo("interrupted: nothing more was written", err=True)
            ctx.exit(130)


app = typer.Typer(
    cls=LedgerCommandGroup,
    name="dledger",
    help="An event-sourced ledger of internal displacement figures.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: Rich help rendering alone costs ~0.3 s per --help
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def default_actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@dataclass
class State:
    """Global options, and the ledger opened on first use (so --help stays instant)."""

    db: str
    actor: str
    _ledger: Ledger | None = field(default=None, repr=False)

    def ledger(self) -> Ledger:
        if self._ledger is None:
            from ledger.storage import open_ledger

            self._ledger = open_ledger(self.db, actor=self.actor)
        return self._ledger

    def adopt(self, ledger: Ledger) -> Ledger:
        """Use a ledger opened elsewhere (init, demo) and close it with the command."""
        self.close()
        self._ledger = ledger
        return ledger

    def close(self) -> None:
        if self._ledger is not None:
            from ledger.storage import close_ledger

            close_ledger(self._ledger)
            self._ledger = None


@app.callback()
def main(
    ctx: typer.Context,
    db: Annotated[
        str,
        typer.Option(
            "--db",
            envvar="DLEDGER_DB",
            help="SQLite file path or SQLAlchemy URL (postgresql+psycopg://user@host/db).",
            show_envvar=True,
        ),
    ] = "ledger.db",
    actor: Annotated[
        str | None,
        typer.Option(
            "--actor", envvar="DLEDGER_ACTOR", help="Who is recording (default: OS user)."
        ),
    ] = None,
) -> None:
    """Record displacement figures as immutable events; query totals as of any date."""
    ctx.obj = State(db=db, actor=actor or default_actor())
    ctx.call_on_close(ctx.obj.close)


def state(ctx: typer.Context) -> State:
    obj = ctx.find_root().obj
    if not isinstance(obj, State):  # pragma: no cover - the callback always sets it
        raise RuntimeError("CLI state missing")
    return obj


def note(message: str) -> None:
    """A diagnostic for the user: always stderr, so stdout stays machine-readable."""
    typer.echo(message, err=True)


def is_terminal() -> bool:
    return sys.stdout.isatty() and os.environ.get("TERM") != "dumb"
