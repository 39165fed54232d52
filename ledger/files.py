"""Files the ledger writes for a user (exports, rejected rows, checkpoints, reports).

None of them is ever written onto one of the command's own inputs, nor over a file that
exists unless the user says ``--force``; each is written to a temporary file in the same
folder and renamed into place when complete, so a failure (a full disk, an interrupted
command) leaves no half-written file and the user's file, if any, as it was.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from ledger.errors import InvalidInput


def check_output(path: Path, *, force: bool = False, inputs: Sequence[Path] = ()) -> None:
    """Refuse, in one line, a place the file must not be written to."""
    for given in inputs:
        if _same(path, given):
            raise InvalidInput(f"{path}: is also an input of this command; not writing onto it")
    if path.is_dir():
        raise InvalidInput(f"{path}: is a folder, not a file")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InvalidInput(f"{path}: no such folder {parent}")
    if path.exists() and not force:
        raise InvalidInput(f"{path}: already exists; give --force to replace it")


def _same(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


@contextlib.contextmanager
def written(
    path: Path,
    *,
    force: bool = False,
    inputs: Sequence[Path] = (),
    binary: bool = False,
    mode: int = 0o644,
) -> Iterator[IO[Any]]:
    """A handle to write the file's content to; the file appears, whole, when the block
    ends without an error (replacing an existing one only with ``force``)."""
    check_output(path, force=force, inputs=inputs)
    parent = path.parent if str(path.parent) else Path(".")
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=parent)
    try:
        os.fchmod(fd, mode)
        kwargs: dict[str, Any] = {} if binary else {"encoding": "utf-8", "newline": ""}
        with os.fdopen(fd, "wb" if binary else "w", **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        if force:
            os.replace(temporary, path)
        else:
            os.link(temporary, path)  # fails if the file appeared meanwhile: never clobbers
            os.unlink(temporary)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
