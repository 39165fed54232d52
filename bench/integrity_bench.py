"""Benchmark: what integrity costs (issue 19), each cost against the same work without it,
measured in the same run.

    PYTHONPATH=. python bench/integrity_bench.py write --events 1000000 [--rounds 2]
    PYTHONPATH=. python bench/integrity_bench.py import --rows 100000 [--rounds 2]
    PYTHONPATH=. python bench/integrity_bench.py rebuild --db COPY.db [--rounds 2]
    PYTHONPATH=. python bench/integrity_bench.py upgrade --db COPY.db
    PYTHONPATH=. python bench/integrity_bench.py bundle --db LEDGER [--location P --as-of D]
    PYTHONPATH=. python bench/integrity_bench.py verify --db LEDGER

``write`` is ``bench.phases write`` (the bulk path) into a fresh SQLite ledger, ``import``
``bench/import_bench.py``'s generated DTM file into one; each runs in a child process,
alternately with the Merkle tree kept and with its maintenance replaced by a no-op (the
only difference), ``--rounds`` times each, and reports the median rates and the cost.
``rebuild`` times a rebuild of a copy of a ledger with and without the chain check
(``ledger.integrity.replay``) the same way. ``upgrade`` opens a ledger written before the
tree existed for writing (which fills the tree from the chain) and times it. ``bundle``
builds an audit bundle of a national figure (by default the country and date whose
derivation rests on a few hundred records) and audits it, in process and through the CLI;
``verify`` times the chain walk with the tree check, and the read-model comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _without(kind: str) -> None:
    """Replace what integrity adds to ``kind`` by a no-op, in this (child) process."""
    if kind in ("write", "import"):
        from ledger.integrity.tree import TreeAppender

        TreeAppender.append = lambda self, cur, head, links: None  # type: ignore[method-assign]
    else:
        from ledger.integrity.replay import ReplayCheck

        ReplayCheck.page = lambda self, cur, after, last: None  # type: ignore[method-assign]
        ReplayCheck.vouch = lambda self, cur, events: None  # type: ignore[method-assign]
        ReplayCheck.follow = lambda self, connect, start: None  # type: ignore[method-assign]


def child(kind: str, mode: str, args: list[str]) -> dict[str, Any]:
    if mode == "without":
        _without(kind)
    if kind == "write":
        from bench.phases import write

        target, events = args[0], int(args[1])
        return write(target, events)
    if kind == "import":
        from ledger.importing import ImportOptions, import_file
        from ledger.storage import close_ledger, open_ledger

        ledger = open_ledger(args[1], actor="bench", create=True)
        start = time.perf_counter()
        report = import_file(ledger, Path(args[0]), ImportOptions(batch_size=2000))
        seconds = time.perf_counter() - start
        close_ledger(ledger)
        return {"rows": report.rows, "events": report.count("new"), "seconds": seconds}
    from bench.phases import rebuild

    return rebuild(args[0], 0)


def _run(kind: str, mode: str, *args: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, __file__, "child", kind, mode, *args],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        sys.exit(f"{kind} ({mode}) failed: {done.stderr.strip()[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _compare(kind: str, rounds: int, runs: Any, count: str) -> None:
    seconds: dict[str, list[float]] = {"with": [], "without": []}
    amount = 0
    for _ in range(rounds):
        for mode in ("with", "without"):
            result = runs(mode)
            seconds[mode].append(result["seconds"])
            amount = result[count]
    rate = {m: amount / statistics.median(s) for m, s in seconds.items()}
    for mode in ("with", "without"):
        shown = ", ".join(f"{s:.1f}" for s in seconds[mode])
        print(f"{kind} {mode:<7} {rate[mode]:>10,.0f} {count}/s  (runs: {shown} s)")
    print(f"{kind}: with / without = {rate['with'] / rate['without']:.3f} "
          f"(cost {1 - rate['with'] / rate['without']:.1%})")  # fmt: skip


def main_write(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="dledger-bench-", dir=args.dir) as tmp:

        def runs(mode: str) -> dict[str, Any]:
            target = Path(tmp) / f"{mode}.db"
            for stale in Path(tmp).glob(f"{mode}.db*"):
                stale.unlink()
            return _run("write", mode, str(target), str(args.events))

        _compare("write", args.rounds, runs, "events")


def main_import(args: argparse.Namespace) -> None:
    from bench.import_bench import write_file

    with tempfile.TemporaryDirectory(prefix="dledger-bench-", dir=args.dir) as tmp:
        file = Path(tmp) / "dtm.csv"
        write_file(file, args.rows)

        def runs(mode: str) -> dict[str, Any]:
            target = Path(tmp) / f"{mode}.db"
            for stale in Path(tmp).glob(f"{mode}.db*"):
                stale.unlink()
            return _run("import", mode, str(file), str(target))

        _compare("import", args.rounds, runs, "rows")


def main_rebuild(args: argparse.Namespace) -> None:
    _compare("rebuild", args.rounds, lambda mode: _run("rebuild", mode, args.db), "events")


def main_upgrade(args: argparse.Namespace) -> None:
    from ledger.storage import close_ledger, open_ledger

    start = time.perf_counter()
    close_ledger(open_ledger(args.db))
    print(f"opened for writing (the tree filled from the chain if missing) in "
          f"{time.perf_counter() - start:.1f} s")  # fmt: skip


def _pick(reader: Any, as_of: str | None) -> tuple[str, str]:
    """The country and as-of date (mid-year, or ``as_of`` if given) whose figure rests on
    the number of record versions closest to 300: a national figure of a few hundred."""
    from projections.service import moment

    dates = [as_of] if as_of else [f"{year}-06-30" for year in range(2016, 2027)]
    best: tuple[int, str, str] | None = None
    for day in dates:
        when = moment(day, None)
        for country in reader.index.countries():
            count = sum(1 for _ in reader.explain(when, country.pcode).derivation.versions())
            if best is None or abs(count - 300) < best[0]:
                best = (abs(count - 300), country.pcode, day)
    if best is None:
        sys.exit("the ledger has no country")
    return best[1], best[2]


def main_bundle(args: argparse.Namespace) -> None:
    from ledger.integrity.audit import audit
    from ledger.integrity.checkpoint import generate_key_pair, sign
    from projections.bundle import build_bundle
    from projections.service import ReadService, moment

    reader = ReadService.open(args.db)
    location, day = (args.location, args.as_of) if args.location else _pick(reader, args.as_of)
    when = moment(day, None)
    private, public = generate_key_pair()
    builds, audits, data = [], [], b""
    for _ in range(args.runs):
        start = time.perf_counter()
        made = build_bundle(reader, when, location)
        signed = sign(made.checkpoint, private)
        data = json.dumps({**made.content, "checkpoint": signed.text()}).encode()
        builds.append(time.perf_counter() - start)
        start = time.perf_counter()
        audit(data, "bundle", None)
        audits.append(time.perf_counter() - start)
    reader.close()
    versions = sum(1 for _ in made.explanation.derivation.versions())
    print(f"bundle of {location} as of {when.as_of}: {versions} record versions shown, "
          f"{made.events} events, {len(data) / 1024:.0f} KiB, tree size "
          f"{made.checkpoint.checkpoint.position:,}")  # fmt: skip
    print(f"build (explain + events + proofs + signature), median of {args.runs}: "
          f"{statistics.median(builds) * 1000:.0f} ms")  # fmt: skip
    print(f"audit in process, median of {args.runs}: {statistics.median(audits) * 1000:.0f} ms")
    with tempfile.TemporaryDirectory(prefix="dledger-bench-") as tmp:
        (Path(tmp) / "b.json").write_bytes(data)
        (Path(tmp) / "k.pub").write_bytes(public)
        elapsed = _as_process(tmp, "audit", "b.json", "--public-key", "k.pub")
    print(f"`dledger audit` as a process (startup included): {elapsed * 1000:.0f} ms")
    with tempfile.TemporaryDirectory(prefix="dledger-bench-") as tmp:
        db = str(Path(args.db).resolve())
        elapsed = _as_process(tmp, "--db", db, "explain", location, "--as-of",
                              when.as_of.isoformat(), "--bundle", "b.json")  # fmt: skip
    print(f"`dledger explain --bundle` as a process (startup included): {elapsed * 1000:.0f} ms")


def _as_process(folder: str, *args: str) -> float:
    """Seconds a ``dledger ARGS`` process takes in ``folder``; a failure ends the bench."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", *args], cwd=folder, capture_output=True, text=True,
        check=False, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"dledger {' '.join(args[:3])}… failed: {done.stderr.strip()}")
    return elapsed


def main_verify(args: argparse.Namespace) -> None:
    from ledger.chain import open_log
    from projections.agreement import compare_read_models

    log = open_log(args.db)
    start = time.perf_counter()
    result = log.verify()
    walked = time.perf_counter() - start
    log.close()
    print(f"chain and tree: {result.events_checked:,} events in {walked:.1f} s "
          f"(intact: {result.intact}, tree stored: {result.tree_stored})")  # fmt: skip
    start = time.perf_counter()
    agreement = compare_read_models(args.db)
    elapsed = time.perf_counter() - start
    print(f"read models: scratch rebuild and row-for-row comparison of {agreement.rows:,} rows "
          f"in {elapsed:.1f} s (agree: {agreement.problem is None})")  # fmt: skip


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        print(json.dumps(child(sys.argv[2], sys.argv[3], sys.argv[4:])))
        return
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    sub = parser.add_subparsers(dest="phase", required=True)
    for name, runner in (("write", main_write), ("import", main_import),
                         ("rebuild", main_rebuild), ("upgrade", main_upgrade),
                         ("bundle", main_bundle), ("verify", main_verify)):  # fmt: skip
        phase = sub.add_parser(name)
        phase.set_defaults(run=runner)
        phase.add_argument("--rounds", type=int, default=2)
        phase.add_argument("--events", type=int, default=1_000_000)
        phase.add_argument("--rows", type=int, default=100_000)
        phase.add_argument("--db")
        phase.add_argument("--dir", help="Where fresh ledgers are written (default: temp).")
        phase.add_argument("--location")
        phase.add_argument("--as-of", help="Default: the mid-year nearest 300 versions.")
        phase.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
