"""Whole-process benchmark: what a user waits for, `dledger` against a DuckDB process.

    python -m bench.cli_bench [--rows 148500] [--runs 15] [--code CHECKOUT]

Generates a DTM-style HXL CSV (one country XAA, 30 regions x 30 districts, monthly rounds,
three displacement-reason rows per district and round, baseline assessments), imports it
into a fresh SQLite ledger with `dledger import`, reads it once (the catch-up), and then
times, as separate processes taking turns (one run of each per round), medians of
``--runs``:

* ``dledger totals --location XAA --by admin1 --format json`` (as of the last round);
* the reference: a Python process that imports DuckDB, reads the raw CSV twice (once for
  the regions, once for the national total) and computes the same figures by the same
  rule (per district the latest round on or before the date, its reason rows summed,
  districts summed per region);
* ``dledger --help`` against ``python -c "import typer"``.

Both processes' figures are compared, row by row: a mismatch fails the run. Prints one
JSON object (the numbers docs/benchmarks.md quotes) after a readable summary. ``--code``
runs another checkout's ``dledger`` (``python -m cli`` on its path) against the same
references, for a before-and-after in one run.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# the DTM API file columns and their HXL tags, as bench/import_bench.py writes them
from bench.import_bench import HEADER, REASONS, TAGS

ROOT = Path(__file__).resolve().parents[1]
COUNTRY = "XAA"
REGIONS = 30
DISTRICTS = 30

# the reference: the same figure rule over the raw rows. $1 is the as-of date.
DUCKDB_SCRIPT = """
import duckdb, json, sys
path, as_of = sys.argv[1], sys.argv[2]
read = (
    "SELECT admin1Pcode AS adm1, admin2Pcode AS adm2, CAST(numPresentIdpInd AS BIGINT) AS n, "
    "CAST(substr(reportingDate, 1, 10) AS DATE) AS day, assessmentType AS atype "
    f"FROM read_csv('{path}', header=true, all_varchar=true) "
    "WHERE NOT starts_with(admin2Pcode, '#')"  # the HXL hashtag row
)
latest = (
    f"WITH r AS ({read}), d AS (SELECT * FROM r WHERE day <= DATE '{as_of}'), "
    "last AS (SELECT adm2, max(day) AS day FROM d GROUP BY adm2), "
    "stock AS (SELECT d.adm1, d.adm2, sum(d.n) AS n FROM d JOIN last USING (adm2, day) "
    "WHERE d.atype = 'BA' GROUP BY d.adm1, d.adm2) "
)
con = duckdb.connect()
rows = con.execute(latest + "SELECT adm1, sum(n) FROM stock GROUP BY adm1 ORDER BY adm1").fetchall()
total = con.execute(latest + "SELECT sum(n) FROM stock").fetchone()[0]
print(json.dumps({"total": int(total), "rows": {a: int(n) for a, n in rows}}))
"""


def generated_rows(count: int) -> Iterator[list[str]]:
    """``count`` rows, round after round (monthly from 2010), each round every district."""
    n = 0
    round_ = 0
    while True:
        round_ += 1
        year, month = 2010 + (round_ - 1) // 12, (round_ - 1) % 12 + 1
        for region in range(1, REGIONS + 1):
            for district in range(1, DISTRICTS + 1):
                for reason in REASONS:
                    if n == count:
                        return
                    n += 1
                    adm1 = f"{COUNTRY}{region:02d}"
                    adm2 = f"{adm1}{district:02d}"
                    yield [
                        "Bench operation",
                        "Country XAA",
                        COUNTRY,
                        f"Region {region}",
                        adm1,
                        f"District {region}-{district}",
                        adm2,
                        "2",
                        str((n * 7919) % 5000),
                        f"{year}-{month:02d}-28T00:00:00",
                        str(round_),
                        reason,
                        "BA",
                    ]


def last_date(count: int) -> str:
    rounds = -(-count // (REGIONS * DISTRICTS * len(REASONS)))
    year, month = 2010 + (rounds - 1) // 12, (rounds - 1) % 12 + 1
    return f"{year}-{month:02d}-28"


def write_file(path: Path, count: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerow(TAGS)
        writer.writerows(generated_rows(count))


def run(command: list[str], env: dict[str, str]) -> str:
    # run from a neutral directory: `python -m` puts the current one first on the path
    done = subprocess.run(
        command, capture_output=True, text=True, env=env, check=False, cwd=tempfile.gettempdir()
    )
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:4])}… failed:\n{done.stderr[-2000:]}")
    return done.stdout


def timed(
    commands: dict[str, list[str]], env: dict[str, str], runs: int
) -> dict[str, tuple[float, str]]:
    """For each command, the median wall-clock seconds of ``runs`` runs (after one
    warm-up each) and its last output. The commands take turns, one run each per round,
    so a change in the host's speed during the run reaches every command alike."""
    outs = {name: run(command, env) for name, command in commands.items()}
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            start = time.perf_counter()
            outs[name] = run(command, env)
            samples[name].append(time.perf_counter() - start)
    return {name: (statistics.median(samples[name]), outs[name]) for name in commands}


CODE: Path | None = None  # another checkout to measure (--code)


def dledger(*args: str) -> list[str]:
    script = shutil.which("dledger", path=str(Path(sys.executable).parent))
    if script is None or CODE is not None:
        return [sys.executable, "-m", "cli", *args]
    return [script, *args]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=148_500)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--code", type=Path, help="measure the dledger of this checkout")
    args = parser.parse_args()
    global CODE
    CODE = args.code
    env = dict(os.environ, PYTHONPATH=str(args.code or ROOT))
    env.pop("DLEDGER_DB", None)
    with tempfile.TemporaryDirectory(prefix="dledger-cli-bench-") as tmp:
        csv_path, db = Path(tmp) / "dtm_xaa.csv", str(Path(tmp) / "ledger.db")
        write_file(csv_path, args.rows)
        as_of = last_date(args.rows)
        run(dledger("--db", db, "init"), env)
        start = time.perf_counter()
        run(dledger("--db", db, "import", str(csv_path)), env)
        import_s = time.perf_counter() - start
        totals = dledger(
            "--db", db, "totals", "--location", COUNTRY, "--by", "admin1", "--as-of", as_of,
            "--format", "json",
        )  # fmt: skip
        start = time.perf_counter()
        run(totals, env)
        first_read_s = time.perf_counter() - start
        found = timed(
            {
                "totals": totals,
                "duckdb": [sys.executable, "-c", DUCKDB_SCRIPT, str(csv_path), as_of],
                "help": dledger("--help"),
                "typer": [sys.executable, "-c", "import typer"],
                "pass": [sys.executable, "-c", "pass"],
            },
            env,
            args.runs,
        )
        (ledger_s, out), (duck_s, duck_out) = found["totals"], found["duckdb"]
        help_s, typer_s, pass_s = (found[name][0] for name in ("help", "typer", "pass"))
    ours = json.loads(out)
    theirs = json.loads(duck_out)
    mine = {r["pcode"]: r["individuals"] for r in ours["rows"] if r["pcode"] is not None}
    if ours["total"]["individuals"] != theirs["total"] or mine != theirs["rows"]:
        raise SystemExit(f"dledger and DuckDB disagree:\n{mine}\n{theirs}")
    result: dict[str, Any] = {
        "rows": args.rows,
        "as_of": as_of,
        "import_s": round(import_s, 2),
        "first_read_s": round(first_read_s, 3),
        "totals_s": round(ledger_s, 3),
        "duckdb_s": round(duck_s, 3),
        "totals_vs_duckdb": round(ledger_s / duck_s, 2),
        "help_s": round(help_s, 3),
        "import_typer_s": round(typer_s, 3),
        "help_vs_typer": round(help_s / typer_s, 2),
        "python_pass_s": round(pass_s, 3),
        "runs": args.runs,
        "code": str(args.code or ROOT),
    }
    print(
        f"{args.rows:,} DTM rows ({len(mine)} regions): import {import_s:.1f} s, first read "
        f"{first_read_s:.2f} s\n"
        f"dledger totals --by admin1 --format json: {ledger_s * 1000:.0f} ms; "
        f"DuckDB process: {duck_s * 1000:.0f} ms; ratio {ledger_s / duck_s:.2f}\n"
        f"dledger --help: {help_s * 1000:.0f} ms; python -c 'import typer': "
        f"{typer_s * 1000:.0f} ms; ratio {help_s / typer_s:.2f} "
        f"(python -c pass: {pass_s * 1000:.0f} ms)"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
