"""The typer application: global options, commands loaded when used, and the one place
where errors become a line on stderr and an exit status.

Each command lives in a module of ``cli`` with a typer app of its own; the root group
knows their names and one-line help (``COMMANDS``) and imports a module only to run one
of its commands, so ``dledger --help`` and every command import only what they need.
tests/test_cli_app.py checks the table against the modules.
"""

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
    from projections.service import ReadService

EXIT_DATA_ERROR = 1
EXIT_USAGE = 2

# command name → (module holding it, its help's first line)
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("cli.write", "Create the ledger's tables and register the shipped Mali p-code list."),
    "record": ("cli.write", "Record a figure; prints the new record's id."),
    "correct": (
        "cli.write",
        "Correct a record's values; prints the record id and its new version.",
    ),
    "retract": ("cli.write", "Retract a record: it leaves the totals and stays in history."),
    "review": (
        "cli.write",
        "Review the current version of records; prints each record id and the version reviewed.",
    ),
    "import": (
        "cli.importing",
        "Import figures from a file: all-or-nothing, idempotent, revisions become corrections.",
    ),
    "export": ("cli.importing", "Write the ledger's contents to files."),
    "locations": (
        "cli.read",
        "List or search locations; `locations import FILE` adds a p-code list.",
    ),
    "history": ("cli.read", "Every version of a record: what changed, who, when, why."),
    "household-size": (
        "cli.households",
        "Household sizes by country and year: what converts households to individuals.",
    ),
    "totals": ("cli.figures", "IDPs per location as of a date, as known at an instant."),
    "explain": (
        "cli.figures",
        "How a figure was derived: baseline, flows, corrections, arithmetic, sources.",
    ),
    "compare": ("cli.figures", "Two dates or snapshots side by side, in total and per row."),
    "series": (
        "cli.figures",
        "Totals at the end of each month, quarter or year between two dates.",
    ),
    "flows": (
        "cli.figures",
        "New displacements (and registrations and returns) in a period, with their sources.",
    ),
    "revisions": (
        "cli.figures",
        "What corrections and new records recorded in a window changed, figure by figure.",
    ),
    "snapshot": ("cli.snapshots", "Named, frozen results that later corrections do not change."),
    "rebuild": ("cli.snapshots", "Drop every read model and replay the whole event log."),
    "verify": (
        "cli.integrity",
        "Recompute the event log's hash chain; exit 1 naming the first event that fails.",
    ),
    "checkpoint": (
        "cli.integrity",
        "Print the chain head as a small portable text, optionally signed; keep it elsewhere.",
    ),
    "keygen": (
        "cli.integrity",
        "Write a new Ed25519 key pair for signing checkpoints (private key file + .pub).",
    ),
    "audit": (
        "cli.integrity",
        "Check an audit bundle or a consistency proof offline, without the ledger.",
    ),
    "serve": (
        "cli.http.commands",
        "Serve the figures read-only over HTTP: JSON under /api, pages under /.",
    ),
    "report": (
        "cli.http.commands",
        "Write one self-contained HTML situation report (readable offline).",
    ),
    "demo": (
        "cli.demo",
        "Load the running example into a fresh ledger (a new temporary one unless --db).",
    ),
}


class LedgerCommandGroup(TyperGroup):
    """Loads each command's module on first use, and maps the ledger's errors to one
    stderr line and an exit status, for every command."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            import importlib

            import typer.main

            module = importlib.import_module(COMMANDS[cmd_name][0])
            built = typer.main.get_command(module.app)
            commands = built.commands if isinstance(built, TyperGroup) else {cmd_name: built}
            self.commands.update(commands)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """The command list from ``COMMANDS``, without importing a command module."""
        from typer._click.utils import make_default_short_help

        limit = formatter.width - 6 - max(len(name) for name in COMMANDS)
        rows = [
            (name, make_default_short_help(text, limit)) for name, (_, text) in COMMANDS.items()
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: Any) -> Any:
        """The one door every error of every command leaves by: one line on stderr and
        an exit status (1 for what the data, the ledger, the files or the database say,
        2 for usage), never a traceback unless ``--debug`` asks for it."""
        from cli.render import UnsupportedFormat

        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.exceptions.TyperException):
            raise  # exits, and usage errors, which the command line says itself
        except UnsupportedFormat as error:
            _fail(ctx, str(error), EXIT_USAGE)
        except KeyboardInterrupt:
            typer.echo("interrupted: nothing more was written", err=True)
            ctx.exit(130)
        except Exception as error:
            obj = ctx.obj if isinstance(ctx.obj, State) else None
            if (obj is not None and obj.debug) or _debug_env():
                raise
            from ledger.failures import BROKEN_PIPE, describe

            message = describe(error, obj.db if obj is not None else None)
            if message == BROKEN_PIPE:
                _silence_stdout()
            if message is None:
                message = (
                    f"internal error ({type(error).__name__}); nothing more was written. "
                    "Run again with --debug (or DLEDGER_DEBUG=1) to see where it happened"
                )
            _fail(ctx, message, EXIT_DATA_ERROR)


def _fail(ctx: Any, message: str, status: int) -> None:
    from cli.render import shown

    typer.echo(f"error: {shown(' '.join(message.split()))}", err=True)
    ctx.exit(status)


def _debug_env() -> bool:
    return os.environ.get("DLEDGER_DEBUG", "").lower() in ("1", "true", "yes")


def _silence_stdout() -> None:
    """The reader of stdout has gone (``| head``): what is left to flush goes nowhere, so
    the interpreter does not fail again writing it at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


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


def commands() -> typer.Typer:
    """A command module's own typer app (its commands join the root group when used)."""
    return typer.Typer(rich_markup_mode=None, add_completion=False)


def default_actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@dataclass
class State:
    """Global options, and the ledger opened on first use: the write side (the event
    library's application) for commands that write, the read service for those that read."""

    db: str
    actor: str
    debug: bool = False
    _ledger: Ledger | None = field(default=None, repr=False)
    _reader: ReadService | None = field(default=None, repr=False)

    def ledger(self) -> Ledger:
        if self._ledger is None:
            from ledger.storage import open_ledger

            self._ledger = open_ledger(self.db, actor=self.actor)
        return self._ledger

    def reader(self) -> ReadService:
        if self._reader is None:
            from projections.service import ReadService

            self._reader = ReadService.open(self.db)
        return self._reader

    def adopt(self, ledger: Ledger) -> Ledger:
        """Use a ledger opened elsewhere (init, demo) and close it with the command."""
        self.close()
        self._ledger = ledger
        return ledger

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
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
    debug: Annotated[
        bool,
        typer.Option("--debug", envvar="DLEDGER_DEBUG", help="Show tracebacks (for developers)."),
    ] = False,
) -> None:
    """Record displacement figures as immutable events; query totals as of any date."""
    ctx.obj = State(db=db, actor=actor or default_actor(), debug=debug)
    ctx.call_on_close(ctx.obj.close)


def state(ctx: typer.Context) -> State:
    obj = ctx.find_root().obj
    if not isinstance(obj, State):  # pragma: no cover - the callback always sets it
        raise RuntimeError("CLI state missing")
    return obj


def note(message: str) -> None:
    """A diagnostic for the user: always stderr, so stdout stays machine-readable (each
    line's control characters shown escaped)."""
    from cli.render import shown

    typer.echo("\n".join(shown(line) for line in message.split("\n")), err=True)


def is_terminal() -> bool:
    return sys.stdout.isatty() and os.environ.get("TERM") != "dumb"
