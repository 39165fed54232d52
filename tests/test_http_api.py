"""The JSON API of `dledger serve`: the command line's answers over HTTP, on both backends.

Every endpoint is held to the CLI's ``--format json`` for the same question; errors leave
by one door (400 / 404 / 405 / 500, each ``{"error": "<one line>"}``); every request
sees the log as it is now; no password reaches a body, a header or a log line.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

with warnings.catch_warnings():
    # Starlette 1.x prefers httpx2 for its TestClient; the project's dev dependency is httpx
    warnings.filterwarnings("ignore", message=r"Using `httpx` with `starlette\.testclient`")
    from fastapi.testclient import TestClient

from cli.http.api import POSITION, make_app
from cli.http.door import as_parameters, failure
from ledger.errors import AmbiguousLocation
from projections.service import ReadService
from tests.command_line import dledger

TWINS = (
    "Location,Admin Level,P-Code,Name,Parent P-Code,Valid from date\n"
    "#country+code,#geo+admin_level,#adm+code,#adm+name,#adm+code+parent,#date+start\n"
    "MLI,2,ML0190,Twin Town,ML01,2024-01-01\n"
    "MLI,2,ML0290,Twin Town,ML02,2024-01-01\n"
)


@dataclass(frozen=True)
class Demo:
    target: str
    records: dict[str, str]  # admin1 name (or Mali's date) -> record id
    loaded_at: str  # an instant after the demo was loaded, before anything else


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """The running example, a snapshot of it, and two locations of the same name."""
    if request.param == "sqlite":
        target = str(tmp_path_factory.mktemp("api") / "ledger.db")
    else:
        from tests.conftest import _empty_postgres

        target = request.getfixturevalue("pg_database")
        _empty_postgres(target)
    loaded = dledger(target, "demo", "--format", "json")
    assert loaded.code == 0, loaded.stderr
    records = {}
    for r in json.loads(loaded.stdout)["records"]:
        key = r["location"]["name"] if r["location"]["pcode"] != "MLI" else r["date"]
        records.setdefault(key, r["record_id"])
    time.sleep(0.002)
    loaded_at = datetime.now(UTC).isoformat()
    assert dledger(target, "snapshot", "create", "feb", "--as-of", "2018-02-28").code == 0
    twins = tmp_path_factory.mktemp("twins") / "twins.csv"
    twins.write_text(TWINS, encoding="utf-8")
    assert dledger(target, "locations", "import", str(twins)).code == 0
    return Demo(target, records, loaded_at)


@pytest.fixture(scope="module")
def client(demo: Demo) -> Iterator[TestClient]:
    with TestClient(make_app(demo.target)) as http:
        yield http


def cli_json(demo: Demo, *args: str) -> Any:
    done = dledger(demo.target, *args, "--format", "json")
    assert done.code == 0, done.stderr
    return json.loads(done.stdout)


def masked(data: Any) -> Any:
    """The JSON with the instants computed at request time ("now") masked."""
    if isinstance(data, dict):
        return {
            k: "<now>" if k in ("known_at", "until") and isinstance(v, str) else masked(v)
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [masked(v) for v in data]
    return data


def get(client: TestClient, path: str, **params: str) -> Any:
    reply = client.get(path, params=params)
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "application/json"
    assert int(reply.headers[POSITION]) > 0
    return reply.json()


# every endpoint against the command line's answer to the same question, pinned (`known`:
# the instant just after the demo was loaded) or at "now" (masked)
SAME = [
    (
        "/api/totals",
        {"location": "Mali", "by": "admin1", "as_of": "2018-02-28"},
        ["totals", "--location", "Mali", "--by", "admin1", "--as-of", "2018-02-28"],
    ),
    (
        "/api/totals",
        {"as_of": "2018-02-28", "known_at": "{known}"},
        ["totals", "--as-of", "2018-02-28", "--known-at", "{known}"],
    ),
    ("/api/totals", {}, ["totals"]),
    (
        "/api/explain/Mali",
        {"as_of": "2018-02-28", "known_at": "{known}"},
        ["explain", "Mali", "--as-of", "2018-02-28", "--known-at", "{known}"],
    ),
    ("/api/explain/Ménaka", {"as_of": "2018-01"}, ["explain", "Ménaka", "--as-of", "2018-01"]),
    ("/api/explain/Mopti/Mopti", {}, ["explain", "Mopti/Mopti"]),
    (
        "/api/compare",
        {"a": "2017-12-31", "b": "2018-02-28", "location": "Mali", "by": "admin1"},
        ["compare", "2017-12-31", "2018-02-28", "--location", "Mali", "--by", "admin1"],
    ),
    ("/api/compare", {"a": "feb", "b": "2018-03-31"}, ["compare", "feb", "2018-03-31"]),
    (
        "/api/series",
        {"from": "2017-10", "to": "2018-03", "known_at": "{known}"},
        ["series", "--from", "2017-10", "--to", "2018-03", "--known-at", "{known}"],
    ),
    (
        "/api/series",
        {"from": "2017", "to": "2018-12", "every": "quarter", "by": "admin1", "location": "MLI"},
        [
            "series",
            "--from",
            "2017",
            "--to",
            "2018-12",
            "--every",
            "quarter",
            "--by",
            "admin1",
            "--location",
            "MLI",
        ],
    ),
    (
        "/api/revisions",
        {"since": "2020-01-01", "until": "{known}"},
        ["revisions", "--since", "2020-01-01", "--until", "{known}"],
    ),
    ("/api/revisions", {"since": "{known}"}, ["revisions", "--since", "{known}"]),
    ("/api/records/{Gao}/history", {}, ["history", "{Gao}"]),
    ("/api/records/{2017-12}/history", {}, ["history", "{2017-12}"]),
    ("/api/snapshots", {}, ["snapshot", "list"]),
    ("/api/snapshots/feb", {}, ["snapshot", "show", "feb"]),
    ("/api/locations", {"q": "Gao"}, ["locations", "Gao"]),
    ("/api/locations", {}, ["locations"]),
    (
        "/api/flows",
        {"from": "2018-01-01", "to": "2018-02-28", "known_at": "{known}", "by": "admin1"},
        [
            "flows",
            "--from",
            "2018-01-01",
            "--to",
            "2018-02-28",
            "--known-at",
            "{known}",
            "--by",
            "admin1",
        ],
    ),
    (
        "/api/totals",
        {
            "as_of": "2018-02-28",
            "known_at": "{known}",
            "by": "admin1",
            "breakdown": "origin",
            "location": "MLI",
        },
        [
            "totals",
            "--as-of",
            "2018-02-28",
            "--known-at",
            "{known}",
            "--by",
            "admin1",
            "--breakdown",
            "origin",
            "--location",
            "MLI",
        ],
    ),
]


@pytest.mark.parametrize(("path", "params", "args"), SAME, ids=[" ".join(s[2][:2]) for s in SAME])
def test_every_endpoint_answers_what_the_command_line_does(
    client: TestClient, demo: Demo, path: str, params: dict[str, str], args: list[str]
) -> None:
    values = {"known": demo.loaded_at, **demo.records}

    def fill(text: str) -> str:
        for key, value in values.items():
            text = text.replace("{" + key + "}", value)
        return text

    served = get(client, fill(path), **{k: fill(v) for k, v in params.items()})
    said = cli_json(demo, *(fill(a) for a in args))
    assert masked(served) == masked(said)
    if any("{known}" in v for v in params.values()) and "since" not in params:
        assert served == said  # both instants pinned: the very same answer, unmasked


def test_the_checkpoint_is_the_chain_head_the_cli_prints(client: TestClient, demo: Demo) -> None:
    reply = client.get("/api/checkpoint")
    text = dledger(demo.target, "checkpoint").stdout.splitlines()
    head = dict(line.split(" ", 1) for line in text[1:3])
    assert reply.json() == {"position": int(head["position"]), "head_hash": head["hash"]}
    explained = get(client, "/api/explain/Mali")
    assert explained["checkpoint"] == reply.json()
    assert reply.headers[POSITION] == str(explained["position"])


def test_figures_of_the_running_example(client: TestClient, demo: Demo) -> None:
    data = get(
        client,
        "/api/totals",
        location="Mali",
        by="admin1",
        as_of="2018-02-28",
        known_at=demo.loaded_at,
    )
    assert data["total"]["individuals"] == 46336
    rows = {r["name"]: r["individuals"] for r in data["rows"]}
    assert rows["Gao"] == 1164 and rows["Menaka"] == 2500
    assert sum(rows.values()) == 46336


ERRORS = [
    ("/api/explain/Atlantis", {}, 404, ["explain", "Atlantis"]),
    ("/api/explain/Twin Town", {}, 400, ["explain", "Twin Town"]),
    ("/api/totals", {"location": "Atlantis"}, 404, ["totals", "--location", "Atlantis"]),
    ("/api/totals", {"as_of": "last week"}, 400, ["totals", "--as-of", "last week"]),
    ("/api/totals", {"by": "province"}, 400, ["totals", "--by", "province"]),
    (
        "/api/totals",
        {"known_at": "2018-02-28T10:00"},
        400,
        ["totals", "--known-at", "2018-02-28T10:00"],
    ),
    ("/api/records/not-a-record/history", {}, 400, ["history", "not-a-record"]),
    (f"/api/records/{uuid.UUID(int=7)}/history", {}, 404, ["history", str(uuid.UUID(int=7))]),
    ("/api/snapshots/nope", {}, 404, ["snapshot", "show", "nope"]),
    (
        "/api/series",
        {"from": "2018-03", "to": "2017-10"},
        400,
        ["series", "--from", "2018-03", "--to", "2017-10"],
    ),
    ("/api/compare", {"a": "2018", "b": "nope"}, 404, ["compare", "2018", "nope"]),
]


@pytest.mark.parametrize(("path", "params", "status", "args"), ERRORS)
def test_errors_are_one_line_naming_them_with_their_status(
    client: TestClient,
    demo: Demo,
    path: str,
    params: dict[str, str],
    status: int,
    args: list[str],
) -> None:
    reply = client.get(path, params=params)
    assert reply.status_code == status
    said = dledger(demo.target, *args)
    assert said.code == 1
    line = said.stderr.removeprefix("error: ").rstrip("\n")
    assert reply.json() == {"error": as_parameters(line)}  # the CLI's line, in the API's names
    assert "--" not in reply.json()["error"]


def test_a_message_names_query_parameters_not_command_line_options() -> None:
    assert as_parameters("--as-of 'x' is not a date") == "as_of 'x' is not a date"
    assert as_parameters("give --known-at or --by") == "give known_at or by"
    assert as_parameters("run `dledger rebuild`; a-b and x--y stay") == (
        "run `dledger rebuild`; a-b and x--y stay"
    )


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/api/revisions", "missing parameter since"),
        ("/api/series?from=2017", "missing parameter to"),
        ("/api/compare?a=2017", "missing parameter b"),
        (
            "/api/totals?approved_only=perhaps",
            "invalid parameter approved_only: input should "
            "be a valid boolean, unable to interpret input",
        ),
        ("/api/nothing/here", "no such page or endpoint: /api/nothing/here"),
    ],
)
def test_bad_requests_get_the_same_one_line_body(
    client: TestClient, path: str, message: str
) -> None:
    reply = client.get(path)
    assert reply.status_code in (400, 404)
    assert reply.json() == {"error": message}


def test_breakdown_and_approved_only_are_the_cli_s(client: TestClient) -> None:
    sexes = client.get("/api/totals", params={"as_of": "2018-02-28", "breakdown": "sex"})
    assert sexes.status_code == 200, sexes.text
    assert sexes.json()["total"]["breakdown"]["dimension"] == "sex"
    for path in ("/api/totals", "/api/explain/Mali"):
        approved = client.get(path, params={"as_of": "2018-02-28", "approved_only": "true"})
        assert approved.status_code == 200, approved.text
        body = approved.json()
        figure = body.get("total", body)
        assert figure["individuals"] == 0  # nothing in the demo is reviewed yet
    refused = client.get("/api/totals", params={"approved_only": "perhaps"})
    assert refused.status_code == 400


def test_the_door_maps_each_error_family_to_its_status() -> None:
    assert failure(AmbiguousLocation("X", ["A", "B"]), "t", "GET", "/")[0] == 400
    assert failure(KeyError("secret"), "t", "GET", "/") == (500, "internal error")


def test_get_only(client: TestClient) -> None:
    for path in ("/api/totals", "/api/snapshots/feb", "/", "/countries/MLI", "/static/style.css"):
        for method in ("POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"):
            reply = client.request(method, path)
            assert reply.status_code == 405, (method, path)
            assert reply.headers["allow"] == "GET"
            if method == "HEAD":
                continue
            message = f"method {method} not allowed: this server is read-only (GET only)"
            if path.startswith("/api"):
                assert reply.json() == {"error": message}
            else:
                assert message in reply.text
                assert reply.headers["content-type"].startswith("text/html")


def test_a_correction_recorded_while_serving_is_served_at_once(
    client: TestClient, demo: Demo
) -> None:
    def gao(**params: str) -> int:
        data = get(
            client, "/api/totals", location="Mali", by="admin1", as_of="2018-02-28", **params
        )
        return next(int(r["individuals"]) for r in data["rows"] if r["name"] == "Gao")

    assert gao() == 1164
    position = int(client.get("/api/checkpoint").headers[POSITION])
    time.sleep(0.002)
    before = datetime.now(UTC).isoformat()
    time.sleep(0.002)
    fixed = dledger(
        demo.target,
        "correct",
        demo.records["Gao"],
        "--individuals",
        "964",
        "--reason",
        "counted twice",
    )
    assert fixed.code == 0, fixed.stderr
    assert gao() == 964
    assert int(client.get("/api/checkpoint").headers[POSITION]) == position + 1
    assert gao(known_at=before) == 1164
    explained = get(client, "/api/explain/Gao", as_of="2018-02-28", known_at=before)
    assert explained["individuals"] == 1164
    history = get(client, f"/api/records/{demo.records['Gao']}/history")
    assert [v["individuals"] for v in history["versions"]] == [1164, 964]
    revised = get(client, "/api/revisions", since=before)
    assert {(f["pcode"], f["change"]) for f in revised["figures"]} == {
        ("MLI", -200),
        ("ML07", -200),
    }


def test_an_unexpected_failure_is_a_500_without_a_traceback(
    demo: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError(f"boom in {demo.target} at line 12")

    monkeypatch.setattr(ReadService, "explain", broken)
    with TestClient(make_app(demo.target)) as http:
        reply = http.get("/api/explain/Mali")
        page = http.get("/locations/Mali")
        still = http.get("/api/totals")
    assert reply.status_code == 500 and reply.json() == {"error": "internal error"}
    assert page.status_code == 500 and "internal error" in page.text
    assert "Traceback" not in page.text and "boom" not in page.text
    assert still.status_code == 200  # the thread's service was replaced, not lost


SECRET = "s3cr3t-Pw"


def _no_secret(reply: Any) -> None:
    assert SECRET not in reply.text
    assert SECRET not in json.dumps(dict(reply.headers))


def test_no_password_in_any_answer_when_the_database_is_unreachable(
    caplog: pytest.LogCaptureFixture,
) -> None:
    target = f"postgresql+psycopg://amina:{SECRET}@127.0.0.1:9/ledger?password={SECRET}2"
    caplog.set_level(logging.INFO, logger="dledger.http")
    with TestClient(make_app(target)) as http:
        for path in ("/api/totals", "/api/checkpoint", "/countries/MLI", "/"):
            reply = http.get(path, params={"password": SECRET})
            assert reply.status_code == 500
            _no_secret(reply)
        body = http.get("/api/totals").json()
    assert body["error"] and "\n" not in body["error"]
    assert "127.0.0.1" in body["error"] or "database" in body["error"].lower()
    assert caplog.records
    assert all(SECRET not in r.getMessage() for r in caplog.records)


def test_no_password_in_bodies_headers_or_log_lines_with_a_password_in_the_url(
    demo: Demo, caplog: pytest.LogCaptureFixture
) -> None:
    if not demo.target.startswith("postgresql"):
        pytest.skip("a SQLite target holds no password")
    target = f"{demo.target}&password={SECRET}"  # the test server trusts local connections
    caplog.set_level(logging.INFO, logger="dledger.http")
    with TestClient(make_app(target)) as http:
        for path in (
            "/api/totals",
            "/api/explain/Atlantis",
            "/api/nothing",
            "/countries/MLI",
            "/locations/MLI",
            "/revisions",
            "/snapshots/feb",
        ):
            reply = http.get(path, params={"as_of": "2018-02-28", "password": SECRET})
            assert reply.status_code in (200, 404), reply.text
            _no_secret(reply)
    assert all(SECRET not in r.getMessage() for r in caplog.records)


def test_request_log_lines_carry_the_path_and_status_only(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="dledger.http")
    client.get("/api/totals", params={"as_of": "2018-02-28", "password": "hunter2"})
    client.get("/api/explain/Atlantis", params={"token": "hunter2"})
    lines = [r.getMessage() for r in caplog.records if r.name == "dledger.http"]
    assert lines == ["GET /api/totals 200", "GET /api/explain/Atlantis 404"]


def test_the_scrubbing_filter_masks_the_target_password_and_control_characters() -> None:
    from cli.http.logs import Scrubbed

    target = f"postgresql+psycopg://amina:{SECRET}@db/ledger"
    record = logging.LogRecord(
        "x", logging.ERROR, __file__, 1, "failed on %s\n\x1b[2J", (target,), None
    )
    assert Scrubbed(target).filter(record)
    assert record.getMessage() == "failed on postgresql+psycopg://amina:***@db/ledger\\n\\e[2J"


def test_the_openapi_description_lists_every_endpoint(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert set(spec["paths"]) == {
        "/api/totals",
        "/api/explain/{loc}",
        "/api/compare",
        "/api/series",
        "/api/revisions",
        "/api/records/{record_id}/history",
        "/api/snapshots",
        "/api/snapshots/{name}",
        "/api/checkpoint",
        "/api/locations",
        "/api/flows",
    }
    assert all(set(methods) == {"get"} for methods in spec["paths"].values())

    def names(path: str) -> set[str]:
        return {p["name"] for p in spec["paths"][path]["get"]["parameters"]}

    assert names("/api/totals") == {
        "location",
        "as_of",
        "known_at",
        "by",
        "breakdown",
        "approved_only",
    }
    assert names("/api/series") == {
        "from", "to", "every", "known_at", "location", "by", "approved_only"
    }  # fmt: skip
    assert names("/api/explain/{loc}") == {"loc", "as_of", "known_at", "approved_only"}
    assert names("/api/revisions") == {"since", "until"}
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/api/explain/{loc}" in docs.text
    assert "<script" not in docs.text  # no Swagger UI, nothing from a CDN
    assert client.get("/redoc").status_code == 404


def test_static_assets_are_served_locally(client: TestClient) -> None:
    plotly = client.get("/static/plotly.min.js")
    assert plotly.status_code == 200 and plotly.content.startswith(b"/**\n* plotly.js")
    assert client.get("/static/style.css").headers["content-type"].startswith("text/css")
    assert client.get("/static/../pyproject.toml").status_code == 404
    assert client.get("/static/nothing.js").status_code == 404


def test_names_are_escaped_in_pages(client: TestClient, demo: Demo, tmp_path: Path) -> None:
    evil = "<script>alert(1)</script>\x1b[2J"
    listing = tmp_path / "evil.csv"
    listing.write_text(
        TWINS.splitlines()[0] + "\n" + TWINS.splitlines()[1] + "\n"
        f'MLI,2,ML0191,"{evil}",ML01,2024-01-01\n',
        encoding="utf-8",
    )
    assert dledger(demo.target, "locations", "import", str(listing)).code == 0
    page = client.get("/locations", params={"q": "ML0191"})
    assert "<script>alert" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;\\e[2J" in page.text


def test_pages_answer_from_the_same_service(client: TestClient, demo: Demo) -> None:
    page = client.get("/countries/MLI", params={"as_of": "2018-02-28", "known_at": demo.loaded_at})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "46,336" in page.text and int(page.headers[POSITION]) > 0
    assert page.headers["content-security-policy"].startswith("default-src 'self';")
    region = client.get("/countries/Gao", params={"as_of": "2018-02-28"}, follow_redirects=False)
    assert region.status_code == 303
    assert region.headers["location"] == "/locations/ML07?as_of=2018-02-28"
    missing = client.get("/countries/Atlantis")
    assert missing.status_code == 404 and "unknown location" in missing.text
    assert missing.headers[POSITION] == page.headers[POSITION]  # said where it was found


@pytest.mark.parametrize(
    ("path", "shows"),
    [
        ("/?as_of=2018-02-28&known_at={known}", "46,336"),
        (
            "/locations/MLI?as_of=2018-02-28&known_at={known}",
            "38,172 + 3,000 + 1,500 + 1,164 + 2,500 = 46,336",
        ),
        ("/locations/Ménaka?as_of=2018-02-28", "no baseline on or before 2018-02-28"),
        ("/records/{Gao}", "1,164"),
        ("/revisions?since=2020-01-01&until={known}", "What changed"),
        ("/snapshots", "feb"),
        ("/snapshots/feb", "chain head"),
        ("/locations?q=men", "Menaka"),
    ],
)
def test_every_page_shows_its_answer(client: TestClient, demo: Demo, path: str, shows: str) -> None:
    for key, value in {"known": demo.loaded_at, **demo.records}.items():
        path = path.replace("{" + key + "}", value.replace("+", "%2B"))
    page = client.get(path)
    assert page.status_code == 200, page.text
    assert shows in page.text
    assert int(page.headers[POSITION]) > 0


def test_a_ledger_error_says_the_position_it_was_found_at(client: TestClient) -> None:
    reply = client.get("/api/explain/Atlantis")
    assert reply.status_code == 404
    assert reply.headers[POSITION] == client.get("/api/checkpoint").headers[POSITION]


def test_serve_refuses_to_start_without_a_ledger(tmp_path: Path) -> None:
    done = dledger(str(tmp_path / "none.db"), "serve", "--port", "1")
    assert done.code == 1
    assert done.stderr == f"error: no ledger at {tmp_path / 'none.db'}; run `dledger init` first\n"


def test_serve_says_in_one_line_that_its_port_is_taken(demo: Demo) -> None:
    import socket

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        done = dledger(demo.target, "serve", "--port", str(port))
    assert done.code == 1
    assert done.stderr.startswith(
        f"error: cannot listen on 127.0.0.1:{port}: address already in use"
    )
    assert done.stderr.count("\n") == 1
