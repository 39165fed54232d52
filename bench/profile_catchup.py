"""Where a rebuild's time goes: the SQL statements it runs, summed by statement.

    python -m bench.profile_catchup TARGET [--top 12]

TARGET is an existing ledger (a SQLite path or an SQLAlchemy URL), for example one left
by ``python -m bench.phases write`` and ``catch-up``. The read model is rebuilt from the
log (as ``dledger rebuild`` does) with a timer around every statement the projection's
connection executes; the statements are grouped by their first 90 characters. What is not
in any statement is Python's share (decoding, building rows, waiting for the GIL).
"""

from __future__ import annotations

import argparse
import time
from collections import Counter, defaultdict
from typing import Any

from projections.service import open_projection


class _Timed:
    """A cursor (or connection) whose statements are timed into ``seconds``/``calls``."""

    def __init__(self, inner: Any, seconds: defaultdict[str, float], calls: Counter[str]):
        self._inner, self._seconds, self._calls = inner, seconds, calls

    def _run(self, method: str, statement: str, *args: Any) -> Any:
        start = time.perf_counter()
        try:
            return getattr(self._inner, method)(statement, *args)
        finally:
            key = " ".join(str(statement).split())[:90]
            self._seconds[key] += time.perf_counter() - start
            self._calls[key] += 1

    def execute(self, statement: str, *args: Any) -> Any:
        return self._run("execute", statement, *args)

    def executemany(self, statement: str, *args: Any) -> Any:
        return self._run("executemany", statement, *args)

    def cursor(self, *args: Any, **kwargs: Any) -> Any:
        return _Timed(self._inner.cursor(*args, **kwargs), self._seconds, self._calls)

    def __enter__(self) -> Any:
        return _Timed(self._inner.__enter__(), self._seconds, self._calls)

    def __exit__(self, *exc: Any) -> Any:
        return self._inner.__exit__(*exc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("target")
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    projection = open_projection(args.target)
    seconds: defaultdict[str, float] = defaultdict(float)
    calls: Counter[str] = Counter()
    raw = projection.conn
    projection.conn = _Timed(raw, seconds, calls)
    start = time.perf_counter()
    projection.rebuild()
    total = time.perf_counter() - start
    raw.close()
    print(f"rebuild {total:.1f} s, of which in SQL statements {sum(seconds.values()):.1f} s")
    for key, spent in sorted(seconds.items(), key=lambda item: -item[1])[: args.top]:
        print(f"{spent:8.2f} s {calls[key]:7,d}×  {key}")


if __name__ == "__main__":
    main()
