"""Screenshots of the pages for the docs, from the running example:

    python -m bench.screenshots

Loads the demo into a temporary ledger, corrects Gao's registrations (1,164 → 964, as a
recount would), serves it with ``dledger serve`` and has Debian's Chromium (headless,
driven by Playwright; no browser is downloaded) save ``docs/screenshots/country.png``
(Mali as of 2018-02-28 as known before the correction: the revision marked) and
``docs/screenshots/location.png`` (how Mali's 46,136 is derived, the correction shown).
``chromium`` is also what the page tests launch.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.serve_bench import ROOT, served

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
OUT = ROOT / "docs" / "screenshots"


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium, headless, through Playwright (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    driver = sync_playwright().start()
    try:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        driver.stop()


def dledger(db: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "cli", "--db", db, "--actor", "amina", *args],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="dledger-screenshots-"))
    try:
        db = str(folder / "demo.db")
        dledger(db, "demo")
        explained = json.loads(dledger(db, "explain", "Gao", "--as-of", "2018-02-28", "-f", "json"))
        gao = explained["flows"][0]["record_id"]
        time.sleep(0.05)
        before = datetime.now(UTC).isoformat(timespec="milliseconds")
        time.sleep(0.05)
        dledger(
            db,
            "correct",
            gao,
            "--individuals",
            "964",
            "--reason",
            "recount: 200 people were registered twice",
        )
        OUT.mkdir(parents=True, exist_ok=True)
        with served(db) as server, chromium() as browser:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            for name, path in (
                ("country", f"/countries/MLI?as_of=2018-02-28&known_at={before}"),
                ("location", "/locations/MLI?as_of=2018-02-28"),
            ):
                page.goto(server.url + path.replace("+", "%2B"))
                page.wait_for_load_state("networkidle")
                page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
                print(OUT / f"{name}.png")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
