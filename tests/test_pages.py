"""The pages of `dledger serve` in a real browser, and `dledger report`'s file.

`dledger serve` runs as a subprocess on a free 127.0.0.1 port against a demo ledger
(``bench.serve_bench.served``); Debian's Chromium, headless, is driven by Playwright
(never a downloaded browser). Without Chromium or Playwright the browser tests skip,
except under CI=true, where they fail.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from bench.screenshots import CHROMIUM
from tests.command_line import dledger
from tests.conftest import missing_service

AS_OF = "2018-02-28"


@dataclass
class Site:
    db: str
    url: str
    server: Any
    gao: str  # the record id of Gao's registrations
    loaded_at: str


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The running example, served by `dledger serve` in a subprocess."""
    from bench.serve_bench import served

    db = str(tmp_path_factory.mktemp("pages") / "demo.db")
    loaded = dledger(db, "demo", "--format", "json")
    assert loaded.code == 0, loaded.stderr
    gao = next(
        r["record_id"]
        for r in json.loads(loaded.stdout)["records"]
        if r["location"]["pcode"] == "ML07"
    )
    time.sleep(0.002)
    loaded_at = datetime.now(UTC).isoformat()
    with served(db) as server:
        yield Site(db, server.url, server, gao, loaded_at)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        missing_service(f"no Chromium at {CHROMIUM}")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing_service("playwright is not installed")
    from bench.screenshots import chromium

    with chromium() as launched:
        yield launched


@dataclass
class Watched:
    """A page, with what it asked for and what its console said."""

    page: Any
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def foreign(self, origin: str) -> list[str]:
        """Requests that did not go to the server itself."""
        return [u for u in self.requests if not u.startswith((origin + "/", "data:", "blob:"))]


@pytest.fixture(scope="module")
def context(browser: Any) -> Iterator[Any]:
    """One browser profile for the module: Plotly is fetched and compiled once (the
    first evaluation of its 4.8 MB bundle takes seconds here; cached, a fraction)."""
    opened = browser.new_context(viewport={"width": 1200, "height": 900})
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def tab(context: Any) -> Iterator[Watched]:
    page = context.new_page()
    watched = Watched(page)
    page.on("request", lambda r: watched.requests.append(r.url))
    page.on("console", lambda m: watched.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: watched.errors.append(str(e)))
    try:
        yield watched
    finally:
        page.close()


def traces(page: Any, selector: str) -> list[dict[str, Any]]:
    """What Plotly drew in a chart: each trace's type, name and number of points."""
    result: list[dict[str, Any]] = page.evaluate(
        """(selector) => (document.querySelector(selector)._fullData || []).map(
               t => ({type: t.type, name: t.name, points: (t.y || []).length}))""",
        selector,
    )
    return result


def cell(page: Any, pcode: str, column: str) -> str:
    text: str = page.locator(f"tr[data-pcode={pcode}] td.{column}").inner_text()
    return text.strip()


def local(moment: str) -> str:
    """An instant as a datetime-local input shows it (UTC, shortest form)."""
    text = datetime.fromisoformat(moment).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:23]
    return re.sub(r"(:00)?\.000$", "", text)


def test_the_country_page_draws_its_figures_offline_and_as_known_at_an_earlier_instant(
    site: Site, tab: Watched
) -> None:
    """46,336 as of 2018-02-28, bars and a line drawn by Plotly, nothing from elsewhere;
    a correction recorded meanwhile is shown at once, and the as-known-at control shows
    Gao's 1,164 as the ledger knew it before the correction and 964 after."""
    page = tab.page
    page.goto(f"{site.url}/countries/MLI?as_of={AS_OF}")
    page.wait_for_selector("#stock .plot-container")
    page.wait_for_selector("#bars .plot-container")
    assert "46,336" in page.locator("#headline").inner_text()
    assert cell(page, "ML07", "individuals") == "1,164"
    bars = traces(page, "#bars")
    assert [b["type"] for b in bars] == ["bar"] and bars[0]["points"] == 11  # 10 regions + rest
    assert page.locator("#bars .bars .point path").count() >= 5  # the regions with figures
    assert [t["points"] for t in traces(page, "#stock")] == [24]  # 24 month ends
    assert page.locator("#stock path.point").count() >= 24
    family = page.evaluate("document.querySelector('#stock')._fullLayout.font.family")
    assert "Open Sans" not in family and "sans-serif" in family

    time.sleep(0.002)
    before = datetime.now(UTC).isoformat(timespec="milliseconds")
    time.sleep(0.002)
    fixed = dledger(site.db, "correct", site.gao, "--individuals", "964", "--reason", "recount")
    assert fixed.code == 0, fixed.stderr
    page.goto(f"{site.url}/countries/MLI?as_of={AS_OF}")
    assert cell(page, "ML07", "individuals") == "964"  # served at once
    assert "46,136" in page.locator("#headline").inner_text()

    page.fill("#known_at", local(before))
    with page.expect_navigation():
        page.click("form.when button[type=submit]")
    page.wait_for_selector("#stock .plot-container")
    assert cell(page, "ML07", "individuals") == "1,164"  # as the ledger knew it then
    assert cell(page, "ML07", "now") == "964"
    assert "46,336" in page.locator("#headline").inner_text()
    drawn = {t["name"]: t["points"] for t in traces(page, "#stock")}
    assert drawn["revised since"] == 1 and drawn["as known now"] == 24
    assert page.locator("#stock .shapelayer path").count() == 1  # the revised date, marked
    assert "2018-01-31" in page.locator("table.revised").inner_text()

    assert tab.errors == []
    assert tab.requests and tab.foreign(site.url) == []


def test_every_page_loads_only_from_the_server_without_console_errors(
    site: Site, tab: Watched
) -> None:
    page = tab.page
    for path, shows in (
        ("/", "Mali"),
        ("/revisions?since=2020-01-01", "What changed"),
        ("/docs", "/api/totals"),
    ):
        reply = page.goto(site.url + path)
        assert reply.status == 200, path
        assert shows in page.content(), path
    tree = page.goto(f"{site.url}/locations/MLI?as_of={AS_OF}")
    assert tree.status == 200
    assert page.locator("ul.tree a.id").count() == 5  # each record links to its history
    page.locator(f"ul.tree a.id[href='/records/{site.gao}']").first.click()
    page.wait_for_url(f"**/records/{site.gao}")
    assert "1,164" in page.locator("table.history").inner_text()
    missing = page.goto(f"{site.url}/locations/Atlantis")
    assert missing.status == 404 and "unknown location" in page.content()
    assert [e for e in tab.errors if "404" not in e] == []
    assert tab.foreign(site.url) == []


def test_request_log_lines_name_only_method_path_and_status(site: Site) -> None:
    import httpx

    httpx.get(f"{site.url}/api/totals", params={"as_of": AS_OF, "password": "hunter2"})
    httpx.get(f"{site.url}/countries/MLI", params={"token": "hunter2"})
    deadline = time.monotonic() + 5
    while "GET /countries/MLI 200" not in site.server.log() and time.monotonic() < deadline:
        time.sleep(0.02)
    log = site.server.log()
    assert "GET /api/totals 200" in log and "GET /countries/MLI 200" in log
    assert "hunter2" not in log and "as_of" not in log
    requests = [line for line in log.splitlines() if " GET " in line]
    assert requests and all(re.fullmatch(r"\S+ INFO GET /\S* \d{3}", r) for r in requests)


class Loads(HTMLParser):
    """Every URL an HTML file would load when opened (links a reader follows excluded)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str, str]] = []
        self.text: list[str] = []
        self.in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.in_style = tag == "style"
        for name, value in attrs:
            loads = name in ("src", "href", "srcset", "poster", "data", "action", "content")
            if value and loads and not (tag == "a" and name == "href"):
                self.urls.append((tag, name, value))

    def handle_data(self, data: str) -> None:
        if self.in_style:
            self.urls += [("style", "url", u) for u in re.findall(r"url\(([^)]*)\)", data)]
            self.urls += [("style", "@import", u) for u in re.findall(r"@import\s+(\S+)", data)]
        self.text.append(data)


def test_the_report_is_one_self_contained_file(tmp_path: Path) -> None:
    db = str(tmp_path / "demo.db")
    assert dledger(db, "demo").code == 0
    out = tmp_path / "sitrep.html"
    done = dledger(db, "report", "--as-of", AS_OF, "--out", str(out))
    assert done.code == 0, done.stderr
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("sitrep")] == ["sitrep.html"]
    text = out.read_text(encoding="utf-8")
    parser = Loads()
    parser.feed(text)
    remote = [u for u in parser.urls if re.match(r"\s*(https?:)?//", u[2], re.I)]
    assert remote == []
    assert "<script src" not in text and '<link rel="stylesheet"' not in text
    assert 'href="https://iom.int/' in text  # the sources' own links are there, as links
    shown = "".join(parser.text)
    assert "46,336" in shown and "38,172 + 3,000 + 1,500 + 1,164 + 2,500 = 46,336" in shown
    assert "@media print" in text and "Plotly" in text
    assert re.search(r"chain head \(SHA-256\)</dt><dd class=\"checkpoint\">[0-9a-f]{64}", text)

    again = dledger(db, "report", "--as-of", AS_OF, "--out", str(out))
    assert again.code == 1 and "already exists; give --force" in again.stderr
    assert out.read_text(encoding="utf-8") == text
    forced = dledger(
        db, "report", "--as-of", "2017-12-31", "--location", "Gao", "--out", str(out), "--force"
    )
    assert forced.code == 0, forced.stderr
    assert "Gao" in out.read_text(encoding="utf-8")


@pytest.mark.slow  # Chromium takes about 2 s to evaluate the inlined Plotly bundle here
def test_the_report_draws_its_charts_from_a_file_without_a_network(
    tmp_path: Path, browser: Any
) -> None:
    db = str(tmp_path / "demo.db")
    assert dledger(db, "demo").code == 0
    out = tmp_path / "sitrep.html"
    assert dledger(db, "report", "--as-of", AS_OF, "--out", str(out)).code == 0
    context = browser.new_context()
    page = context.new_page()
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(out.as_uri())
    page.wait_for_selector("[data-figure='s1-stock'] .plot-container")
    assert page.locator("[data-figure='s1-bars'] .bars .point path").count() >= 5
    assert errors == []
    assert [u for u in requests if not u.startswith(("file:", "data:", "blob:"))] == []
    context.close()
