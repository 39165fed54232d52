"""The README's examples, run in order on a fresh ledger: the docs cannot drift.

Record ids, timestamps and the demo's temporary directory differ from run to run; ids
are matched in order of appearance, the others are masked. Everything else must match.
"""

from __future__ import annotations

import re
import shlex
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app

README = Path(__file__).resolve().parents[1] / "README.md"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
MASKS = [
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)"), "<timestamp>"),
    (re.compile(r"\b[0-9a-f]{64}\b"), "<hash>"),
    (re.compile(r"/\S*?dledger-demo-[^/\s]+/ledger\.db"), "<demo ledger>"),
]


def examples() -> Iterator[tuple[str, str]]:
    """(command, expected terminal output) for every `$ dledger ...` line in the README."""
    blocks = re.findall(r"^```\n(.*?)^```", README.read_text(encoding="utf-8"), re.S | re.M)
    for block in blocks:
        command, output = None, []
        for line in block.splitlines():
            if line.startswith("$ "):
                if command is not None:
                    yield command, "\n".join(output)
                command, output = line[2:], []
            elif command is not None:
                output.append(line)
        if command is not None:
            yield command, "\n".join(output)


def masked(text: str) -> str:
    for pattern, mask in MASKS:
        text = pattern.sub(mask, text)
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def test_the_readme_shows_every_write_command() -> None:
    shown = {shlex.split(command)[1] for command, _ in examples()}
    assert shown >= {"init", "record", "correct", "retract", "history", "locations", "demo"}


def test_the_readme_examples_give_the_output_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    env = {"DLEDGER_DB": None, "DLEDGER_ACTOR": "amina"}
    ids: dict[str, str] = {}  # README id -> id of this run
    for command, expected in examples():
        words = shlex.split(command)
        assert words[0] == "dledger", command
        args = [UUID.sub(lambda m: ids[m.group()], word) for word in words[1:]]
        result = CliRunner().invoke(app, args, env=env)
        for shown, actual in zip(UUID.findall(expected), UUID.findall(result.output), strict=True):
            ids.setdefault(shown, actual)
        expected_now = UUID.sub(lambda m: ids[m.group()], expected)
        assert masked(result.output) == masked(expected_now), command
        assert result.exit_code == (1 if expected.startswith("error:") else 0), command
