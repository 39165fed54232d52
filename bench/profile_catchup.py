"""Where a rebuild's time goes: the SQL statements it runs, summed by statement.

    python -m bench.profile_catchup TARGET [--top 12]

TARGET is an existing ledger (a SQLite path or an SQLAlchemy URL), for example one left
by ``python -m bench.phases write`` and ``catch-up``. The read model is rebuilt from the
log (as ``dledger rebuild`` does) with a timer around every statement the projection's
engine executes; the statements are grouped by their first 90 characters. What is not in
any statement is Python's share (decoding, building rows, waiting for the GIL).
"""

from __future__ import annotations

import argparse
import time
from collections import Counter, defaultdict
from typing import Any

from sqlalchemy import event

from ledger.storage import close_ledger, open_ledger
from projections.catchup import FigureProjection


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("target")
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    ledger = open_ledger(args.target, actor="bench")
    projection = FigureProjection(ledger)
    seconds: defaultdict[str, float] = defaultdict(float)
    calls: Counter[str] = Counter()

    def before(conn: Any, *_: Any) -> None:
        conn.info["dledger_bench_t0"] = time.perf_counter()

    def after(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        key = " ".join(statement.split())[:90]
        seconds[key] += time.perf_counter() - conn.info.pop("dledger_bench_t0")
        calls[key] += 1

    event.listen(projection.engine, "before_cursor_execute", before)
    event.listen(projection.engine, "after_cursor_execute", after)
    start = time.perf_counter()
    projection.rebuild()
    total = time.perf_counter() - start
    close_ledger(ledger)
    print(f"rebuild {total:.1f} s, of which in SQL statements {sum(seconds.values()):.1f} s")
    for key, spent in sorted(seconds.items(), key=lambda item: -item[1])[: args.top]:
        print(f"{spent:8.2f} s {calls[key]:7,d}×  {key}")


if __name__ == "__main__":
    main()
