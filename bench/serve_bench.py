"""`dledger serve` under load, next to the same queries asked in process.

    python -m bench.serve_bench [--events 1000000] [--clients 16] [--seconds 20] [--db TARGET]

Builds the benchmark ledger (``bench.phases`` ``write`` then ``catch-up``, the ledger the
other benchmarks use) in a temporary folder, or reuses ``--db`` when it already holds
one; times ``ReadService.totals`` of the largest country by admin1 and ``explain`` of its
largest region in this process over the moments of ``bench.phases.queries``; then serves
the ledger with ``dledger serve`` in a subprocess on a free 127.0.0.1 port and runs
clients (threads, each on one kept-alive connection of the standard library's
``http.client``, bounded in number and time) against
``/api/totals?location=AAA&by=admin1&as_of=...`` and ``/api/explain/AAA01?as_of=...``:
first one client (latency against the in-process time), then ``--clients`` at once
(throughput, errors, the server's memory at start, middle and end from /proc). Prints a
markdown table; writes nothing else.

``served`` (a ``dledger serve`` subprocess on a free port) is also what the page tests
and ``bench.screenshots`` use.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]


# -- a server in a subprocess ------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        """Everything the server wrote on stderr so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")


@contextmanager
def served(
    target: str, *, timeout: float = 120.0, env: dict[str, str] | None = None
) -> Iterator[Server]:
    """``dledger --db TARGET serve`` on a free 127.0.0.1 port, ready when yielded (it
    answers ``/api/checkpoint``), stopped by SIGINT (then killed) when the block ends."""
    import httpx

    port = free_port()
    folder = Path(tempfile.mkdtemp(prefix="dledger-serve-"))
    log_path = folder / "server.log"
    command = [sys.executable, "-m", "cli", "--db", target, "serve", "--port", str(port)]
    environment = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT
        )
    server = Server(f"http://127.0.0.1:{port}", process, log_path)
    try:
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2) as http:
            while True:
                if process.poll() is not None:
                    raise RuntimeError(
                        f"dledger serve exited ({process.returncode}):\n{server.log()}"
                    )
                try:
                    if http.get(f"{server.url}/api/checkpoint").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"dledger serve not ready after {timeout} s:\n{server.log()}"
                    )
                time.sleep(0.02)
        yield server
    finally:
        _stop(process)
        shutil.rmtree(folder, ignore_errors=True)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def rss_mb(pid: int) -> float:
    """A process's resident memory now (VmRSS), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# -- the ledger and the questions ---------------------------------------------------------


def _phase(name: str, target: str, events: int, out: IO[str]) -> None:
    print(f"bench.phases {name} {events:,} ...", file=out, flush=True)
    subprocess.run(
        [sys.executable, "-m", "bench.phases", name, target, str(events)],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        check=True,
        stdout=subprocess.DEVNULL,
    )


def _has_ledger(target: str) -> bool:
    from ledger.errors import LedgerError
    from projections.service import ReadService

    if "://" not in target and not Path(target).exists():
        return False
    try:
        reader = ReadService.open(target)
    except LedgerError:
        return False
    try:
        return reader.position > 0
    finally:
        reader.close()


@dataclass(frozen=True)
class Question:
    as_of: date
    known_at: datetime | None  # None: now


def questions(count: int = 40, seed: int = 11) -> list[Question]:
    """The moments ``bench.phases.queries`` asks at: dates over 15 years, half of them
    as known at a past instant, half now."""
    from bench.generate import RECORDING_END, RECORDING_START

    rnd = random.Random(seed)
    out = []
    for i in range(count):
        as_of = date(2011, 1, 1) + timedelta(days=rnd.randint(0, 15 * 365))
        past = RECORDING_START + (RECORDING_END - RECORDING_START) * rnd.random()
        out.append(Question(as_of, past if i % 2 else None))
    return out


def in_process(target: str, asked: list[Question], rounds: int = 3) -> dict[str, list[float]]:
    """Milliseconds of ``ReadService.totals`` and ``explain`` for each question."""
    from projections.service import ReadService
    from projections.totals import Moment

    reader = ReadService.open(target)
    try:
        country = reader.index.countries()[0].pcode
        region = reader.index.children[country][0]
        now = datetime.now(UTC)
        samples: dict[str, list[float]] = {"totals": [], "explain": []}
        reader.totals(Moment(asked[0].as_of, now), country, "admin1")  # warm the caches
        for _ in range(rounds):
            for q in asked:
                moment = Moment(q.as_of, q.known_at or datetime.now(UTC))
                start = time.perf_counter()
                reader.totals(moment, country, "admin1")
                samples["totals"].append((time.perf_counter() - start) * 1000)
                start = time.perf_counter()
                reader.explain(moment, region)
                samples["explain"].append((time.perf_counter() - start) * 1000)
        return samples
    finally:
        reader.close()


# -- the clients ----------------------------------------------------------------------------


@dataclass
class Load:
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"totals": [], "explain": []})
    errors: dict[str, int] = field(default_factory=lambda: {"totals": 0, "explain": 0})
    first_error: str | None = None
    seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, ms: float) -> None:
        with self.lock:
            self.latencies[kind].append(ms)

    def fail(self, kind: str, what: str) -> None:
        with self.lock:
            self.errors[kind] += 1
            self.first_error = self.first_error or what


def requests_of(
    asked: list[Question], country: str, region: str
) -> list[tuple[str, str, dict[str, str]]]:
    out = []
    for q in asked:
        params = {"as_of": q.as_of.isoformat()}
        if q.known_at is not None:
            params["known_at"] = q.known_at.isoformat()
        out.append(("totals", "/api/totals", {"location": country, "by": "admin1", **params}))
        out.append(("explain", f"/api/explain/{region}", params))
    return out


def run_clients(
    url: str,
    work: list[tuple[str, str, dict[str, str]]],
    clients: int,
    seconds: float,
    on_half: Any = None,
) -> Load:
    """``clients`` threads, each asking the questions in its own order until ``seconds``
    have passed; ``on_half`` is called once half-way (the memory sample)."""
    import http.client
    from urllib.parse import urlencode, urlsplit

    load = Load()
    start = time.monotonic()
    deadline = start + seconds
    where = urlsplit(url)

    def client(number: int) -> None:
        # the standard library's client on one kept-alive connection: httpx spent ~0.85 ms
        # of its own on each request here (/api/checkpoint p50 2.23 ms against 1.38 ms)
        order = work[:]
        random.Random(number).shuffle(order)
        conn = http.client.HTTPConnection(where.hostname or "127.0.0.1", where.port, timeout=60)
        i = 0
        try:
            while time.monotonic() < deadline:
                kind, path, params = order[i % len(order)]
                i += 1
                began = time.perf_counter()
                try:
                    conn.request("GET", f"{path}?{urlencode(params)}")
                    reply = conn.getresponse()
                    body = reply.read()
                except (OSError, http.client.HTTPException) as error:
                    load.fail(kind, f"{type(error).__name__}: {error}")
                    conn.close()  # the next request connects again
                    continue
                ms = (time.perf_counter() - began) * 1000
                if reply.status != 200:
                    load.fail(kind, f"{reply.status} {body[:200]!r}")
                else:
                    load.add(kind, ms)
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for t in threads:
        t.start()
    if on_half is not None:
        time.sleep(seconds / 2)
        on_half()
    for t in threads:
        t.join(timeout=seconds + 120)
    load.seconds = time.monotonic() - start
    return load


# -- the report ----------------------------------------------------------------------------


def p(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


def table(
    events: int,
    backend: str,
    local: dict[str, list[float]],
    loads: list[tuple[int, Load]],
    memory: dict[str, float],
) -> str:
    lines = [
        f"### dledger serve, {backend}, {events:,} events",
        "",
        "| query | clients | in-process p50 / p99 ms | HTTP p50 / p99 ms | p50 HTTP ÷ in-process "
        "| requests | throughput req/s | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for clients, load in loads:
        for kind in ("totals", "explain"):
            mine, theirs = load.latencies[kind], local[kind]
            ratio = statistics.median(mine) / statistics.median(theirs) if mine else float("nan")
            lines.append(
                f"| {kind} | {clients} | {p(theirs, 0.5):.1f} / {p(theirs, 0.99):.1f} | "
                f"{p(mine, 0.5):.1f} / {p(mine, 0.99):.1f} | {ratio:.2f} | {len(mine):,} | "
                f"{len(mine) / load.seconds:.1f} | {load.errors[kind]} |"
            )
    lines += [
        "",
        "| server RSS, MiB | ready | load start | load middle | load end |",
        "|---|---:|---:|---:|---:|",
        f"| `dledger serve` | {memory['ready']:.0f} | {memory['start']:.0f} | "
        f"{memory['middle']:.0f} | {memory['end']:.0f} |",
    ]
    return "\n".join(lines)


def overhead(url: str, runs: int = 300) -> str:
    """What a request costs beyond its question: p50 ms of a one-row endpoint and of the
    cached OpenAPI document, through ``http.client`` and through httpx, taking turns."""
    import http.client
    from urllib.parse import urlsplit

    import httpx

    where = urlsplit(url)
    conn = http.client.HTTPConnection(where.hostname or "127.0.0.1", where.port, timeout=60)
    lines = ["| path | http.client p50 ms | httpx p50 ms |", "|---|---:|---:|"]
    with httpx.Client(base_url=url, timeout=60) as other:
        for path in ("/api/checkpoint", "/openapi.json"):
            mine: list[float] = []
            theirs: list[float] = []
            for i in range(runs + 50):  # the first 50 of each warm up
                began = time.perf_counter()
                conn.request("GET", path)
                conn.getresponse().read()
                if i >= 50:
                    mine.append((time.perf_counter() - began) * 1000)
                began = time.perf_counter()
                other.get(path)
                if i >= 50:
                    theirs.append((time.perf_counter() - began) * 1000)
            lines.append(
                f"| `{path}` | {statistics.median(mine):.2f} | {statistics.median(theirs):.2f} |"
            )
    conn.close()
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.serve_bench", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--db", help="a ledger to reuse (built there when it has none)")
    args = parser.parse_args(argv)
    if not 1 <= args.clients <= 256 or not 1 <= args.seconds <= 600:
        parser.error("--clients must be 1..256 and --seconds 1..600")
    folder = None
    target = args.db
    if target is None:
        folder = tempfile.mkdtemp(prefix="dledger-serve-bench-")
        target = str(Path(folder) / "bench.db")
    try:
        if not _has_ledger(target):
            _phase("write", target, args.events, sys.stderr)
            _phase("catch-up", target, args.events, sys.stderr)
        asked = questions()
        print("in-process queries ...", file=sys.stderr, flush=True)
        local = in_process(target, asked)
        from projections.service import ReadService

        reader = ReadService.open(target)
        country = reader.index.countries()[0].pcode
        region = reader.index.children[country][0]
        events = reader.position
        reader.close()
        work = requests_of(asked, country, region)
        memory: dict[str, float] = {}
        loads: list[tuple[int, Load]] = []
        with served(target) as server:
            print(f"serving at {server.url} (pid {server.pid}) ...", file=sys.stderr, flush=True)
            memory["ready"] = rss_mb(server.pid)
            fixed = overhead(server.url)
            loads.append((1, run_clients(server.url, work, 1, max(3.0, args.seconds / 4))))
            memory["start"] = rss_mb(server.pid)

            def half() -> None:
                memory["middle"] = rss_mb(server.pid)

            loads.append(
                (args.clients, run_clients(server.url, work, args.clients, args.seconds, half))
            )
            memory["end"] = rss_mb(server.pid)
        for clients, load in loads:
            if load.first_error:
                print(f"{clients} clients, first error: {load.first_error}", file=sys.stderr)
        backend = "postgresql" if target.startswith("postgresql") else "sqlite"
        print(table(events, backend, local, loads, memory))
        print(f"\nwhat a request costs beyond its question (one client, {server.url}):\n")
        print(fixed)
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
