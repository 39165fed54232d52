"""The bulk write and the catch-up of the same generated log, at several commits.

    python -m bench.by_commit REV [REV ...] [--events 1000000]

For each revision, in the order given: a temporary git worktree of it, then that
revision's own ``python -m bench.phases write`` into a fresh SQLite ledger and ``catch-up``
of it, each a process of this interpreter (the same installed libraries for every
revision). One run each, one revision after another: a change smaller than the host's
run-to-run spread (about ±10 %) does not show. Prints a Markdown table; writes nothing
in the checkout. A revision whose bench cannot run a phase gets the error's last line.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def phase(code: Path, name: str, target: Path, events: int) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "bench.phases", name, str(target), str(events)],
        cwd=code, capture_output=True, text=True, check=False,
        env={**os.environ, "PYTHONPATH": str(code)},
    )  # fmt: skip
    if done.returncode != 0:
        return (done.stderr.strip().splitlines() or ["failed"])[-1][:80]
    return f"{json.loads(done.stdout.strip().splitlines()[-1])['seconds']:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("revs", nargs="+")
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    print("| commit | write s | catch-up s |\n|---|---:|---:|")
    for rev in args.revs:
        with tempfile.TemporaryDirectory(prefix="dledger-by-commit-") as tmp:
            code = Path(tmp) / "code"
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-f",
                            str(code), rev], check=True, capture_output=True)  # fmt: skip
            try:
                target = Path(tmp) / "ledger.db"
                write = phase(code, "write", target, args.events)
                catch_up = phase(code, "catch-up", target, args.events)
            finally:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                                str(code)], check=False, capture_output=True)  # fmt: skip
        short = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", rev],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        print(f"| {short} | {write} | {catch_up} |", flush=True)


if __name__ == "__main__":
    main()
