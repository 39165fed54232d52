"""The command table the root group lists, and what each kind of command imports."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import typer.main
from typer.core import TyperGroup

from cli.app import COMMANDS

ROOT = Path(__file__).resolve().parents[1]
# what the write side needs and a read command must never load
WRITE_SIDE = ("sqlalchemy", "eventsourcing", "pydantic", "eventsourcing_sqlalchemy")


def test_every_listed_command_is_in_its_module_with_that_help() -> None:
    for name, (module_name, text) in COMMANDS.items():
        built = typer.main.get_command(importlib.import_module(module_name).app)
        commands = built.commands if isinstance(built, TyperGroup) else {name: built}
        assert name in commands, name
        help_text = commands[name].help or ""
        assert help_text.split("\n")[0].strip() == text, name


def test_every_command_of_the_modules_is_listed() -> None:
    for module_name in {m for m, _ in COMMANDS.values()}:
        built = typer.main.get_command(importlib.import_module(module_name).app)
        commands = built.commands if isinstance(built, TyperGroup) else {}
        assert set(commands) <= set(COMMANDS), module_name


def _modules_after(*args: str, cwd: Path) -> set[str]:
    """The modules a whole ``dledger`` process had imported when it ended."""
    script = (
        "import atexit, json, sys\n"
        "atexit.register(lambda: print('MODULES ' + json.dumps(sorted(sys.modules)), "
        "file=sys.stderr))\n"
        "from cli.main import run\n"
        f"sys.argv = ['dledger', *{list(args)!r}]\n"
        "run()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    line = next(x for x in done.stderr.splitlines() if x.startswith("MODULES "))
    assert done.returncode == 0, done.stderr
    return set(json.loads(line.removeprefix("MODULES ")))


def test_help_imports_no_command_module(tmp_path: Path) -> None:
    loaded = _modules_after("--help", cwd=tmp_path)
    assert not {m for m in loaded if m.startswith(("cli.", "projections", "ledger"))} - {
        "cli.app", "cli.main"
    }  # fmt: skip


def test_a_read_command_loads_nothing_of_the_write_side(tmp_path: Path, sqlite_target: str) -> None:
    from tests.command_line import dledger

    assert dledger(sqlite_target, "demo").code == 0
    for args in (
        ("totals", "--by", "admin1", "--as-of", "2018-02-28", "--format", "json"),
        ("explain", "Mali", "--as-of", "2018-02-28", "--format", "json"),
        ("locations", "Gao", "--format", "json"),
        ("verify",),
    ):
        loaded = _modules_after("--db", sqlite_target, *args, cwd=tmp_path)
        heavy = {m for m in loaded if m.split(".")[0] in WRITE_SIDE}
        assert not heavy, (args, sorted(heavy)[:5])
