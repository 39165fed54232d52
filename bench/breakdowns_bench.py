"""What breakdowns cost: the same ledger written and caught up with and without them.

    python -m bench.breakdowns_bench [--sizes 100k,1M] [--backends sqlite,postgresql]

For each backend and size: a fresh ledger of the generated history (``bench.generate``)
written and caught up as it is today (no breakdowns), then a fresh one of the same
history with every record broken down by sex, by cause and by origin (six parts a
record), and on the second the ``totals --by admin1`` queries of ``bench.phases`` with and
without ``--breakdown sex``. Each phase runs in its own process (``bench.phases``).
Printed as a Markdown table; the ratios are the same run's, so the machine cancels out.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from bench.run import fresh_target, label, parse_size, phase, rate


def run(backend: str, events: int) -> dict[str, Any]:
    out: dict[str, Any] = {"backend": backend, "events": events}
    for with_parts in (False, True):
        os.environ["DLEDGER_BENCH_BREAKDOWNS"] = "1" if with_parts else "0"
        key = "parts" if with_parts else "plain"
        with fresh_target(backend) as target:
            out[key] = {name: phase(name, target, events) for name in ("write", "catch-up")}
            if with_parts:
                out["queries"] = phase("queries", target, events)
    os.environ.pop("DLEDGER_BENCH_BREAKDOWNS", None)
    return out


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| backend | events | write ev/s plain → with breakdowns | catch-up ev/s plain → "
        "with breakdowns | totals median ms → with --breakdown sex |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        plain, parts, q = r["plain"], r["parts"], r["queries"]
        w0, w1 = rate(plain["write"]), rate(parts["write"])
        c0, c1 = rate(plain["catch-up"]), rate(parts["catch-up"])
        t0, t1 = q["totals"]["median_ms"], q["totals_by_sex"]["median_ms"]
        lines.append(
            f"| {r['backend']} | {label(r['events'])} | {w0:,.0f} → {w1:,.0f} ({w0 / w1:.2f}×) "
            f"| {c0:,.0f} → {c1:,.0f} ({c0 / c1:.2f}×) | {t0:.1f} → {t1:.1f} ({t1 / t0:.2f}×) |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100k")
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    results = [
        run(backend, parse_size(size))
        for size in args.sizes.split(",")
        for backend in args.backends.split(",")
    ]
    print(table(results))


if __name__ == "__main__":
    main()
