"""Audit bundles: ``explain --bundle`` writes the derivation, the events behind it, their
Merkle proofs and a (signed) checkpoint into one file; ``audit`` checks it with no ledger,
and refuses any altered number, dropped or added record, wrong key or altered proof."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cli.main import app
from ledger.errors import LedgerError
from ledger.integrity.audit import PublicKey, audit
from tests.command_line import Outcome, dledger

AS_OF = "2018-02-28"


def offline(*args: str) -> Outcome:
    """``dledger`` with no --db at all: nothing but the files named."""
    result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Outcome(result.exit_code, result.stdout, result.stderr)


@pytest.fixture
def made(db_target: str, tmp_path: Path) -> tuple[Path, Path, Path]:
    """The demo's national figure bundled with a signed checkpoint: (bundle, public key,
    another public key)."""
    assert dledger(db_target, "demo").code == 0
    key, other = tmp_path / "k", tmp_path / "other"
    assert dledger(db_target, "keygen", "--out", str(key)).code == 0
    assert dledger(db_target, "keygen", "--out", str(other)).code == 0
    bundle = tmp_path / "b.json"
    outcome = dledger(db_target, "explain", "Mali", "--as-of", AS_OF, "--bundle", str(bundle),
                      "--key", str(key), "--format", "json")  # fmt: skip
    assert outcome.code == 0, outcome.stderr
    assert json.loads(outcome.stdout)["individuals"] == 46336  # explain still explains
    assert "audit bundle written to" in outcome.stderr
    return bundle, Path(f"{key}.pub"), Path(f"{other}.pub")


def _audit(bundle: dict[str, Any], key: Path) -> None:
    data = json.dumps(bundle).encode()
    audit(data, "bundle", PublicKey(key.read_bytes(), str(key)))


def test_a_signed_bundle_audits_in_an_empty_folder_with_no_ledger(
    made: tuple[Path, Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle, public, _ = made
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "b.json").write_bytes(bundle.read_bytes())
    (empty / "k.pub").write_bytes(public.read_bytes())
    monkeypatch.chdir(empty)
    outcome = offline("audit", "b.json", "--public-key", "k.pub")
    assert outcome.code == 0, outcome.stderr
    lines = outcome.stdout.splitlines()
    assert lines[0].startswith(f"audit holds: Mali (MLI) on {AS_OF}, as known at ")
    assert lines[0].endswith(": 46,336 individuals, households unknown")
    assert "checked against k.pub" in lines[1]
    assert (
        "figure rule: 1 figure(s) recomputed: 38,172 + 3,000 + 1,500 + 1,164 + 2,500 = 46,336"
        in outcome.stdout
    )
    assert sorted(p.name for p in empty.iterdir()) == ["b.json", "k.pub"]  # no ledger made


def _flow(bundle: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in bundle["explain"]["flows"] if f["location"]["name"] == name)


def _without_gao(bundle: dict[str, Any], events: bool, numbers: bool) -> dict[str, Any]:
    gao = _flow(bundle, "Gao")
    bundle["explain"]["flows"].remove(gao)
    if events:
        rid = UUID(gao["record_id"]).hex
        bundle["events"] = [e for e in bundle["events"] if e["originator_id"] != rid]
    if numbers:
        bundle["explain"]["individuals"] = 45172
        bundle["explain"]["arithmetic"] = "38,172 + 3,000 + 1,500 + 2,500 = 45,172"
    return bundle


def _set_mopti(bundle: dict[str, Any], value: int, *, total: bool = False) -> dict[str, Any]:
    _flow(bundle, "Mopti")["individuals"] = value
    if total:
        bundle["explain"]["individuals"] += value - 3000
    return bundle


def _in_event(bundle: dict[str, Any]) -> dict[str, Any]:
    for event in bundle["events"]:
        event["state"] = event["state"].replace('"individuals":3000', '"individuals":4000')
    return bundle


def _proof(bundle: dict[str, Any]) -> dict[str, Any]:
    proof = bundle["events"][3]["inclusion_proof"]
    proof[0] = ("0" if proof[0][0] != "0" else "1") + proof[0][1:]
    return bundle


@pytest.mark.parametrize(
    "alter, said",
    [
        (lambda b: _set_mopti(b, 4000),
         "says individuals 4,000 in the derivation, but its events say 3,000"),
        (lambda b: _set_mopti(b, 4000, total=True), "says individuals 4,000 in the derivation"),
        (_in_event, "is not in the checkpoint's tree"),
        (lambda b: _without_gao(b, False, False), "add up to 45,172 by the figure rule"),
        (lambda b: _without_gao(b, True, False), "add up to 45,172 by the figure rule"),
        (lambda b: _without_gao(b, True, True),
         "the bundle's content was altered after its checkpoint"),
        (lambda b: _without_gao(b, False, True), "which the derivation does not rest on"),
        (_proof, "its inclusion proof does not lead to the Merkle root"),
        (lambda b: {**b, "head_proof": b["head_proof"][:-1]},
         "is not the last leaf of its Merkle tree"),
    ],
)  # fmt: skip
def test_an_altered_bundle_is_refused_naming_what_does_not_hold(
    made: tuple[Path, Path, Path], alter: Any, said: str
) -> None:
    bundle, public, _ = made
    altered = bundle.parent / "altered.json"
    altered.write_text(json.dumps(alter(json.loads(bundle.read_text()))))
    outcome = offline("audit", str(altered), "--public-key", str(public))
    assert outcome.code == 1 and outcome.stderr.count("\n") == 1
    assert said in outcome.stderr, outcome.stderr


def test_a_bundle_checked_against_another_key_is_refused(made: tuple[Path, Path, Path]) -> None:
    bundle, _, other = made
    outcome = offline("audit", str(bundle), "--public-key", str(other))
    assert outcome.code == 1
    assert outcome.stderr.startswith("error: the checkpoint was signed by key ")


def test_an_unsigned_bundle_holds_but_says_so_and_fails_against_a_key(
    db_target: str, tmp_path: Path, made: tuple[Path, Path, Path]
) -> None:
    _, public, _ = made
    unsigned = tmp_path / "unsigned.json"
    assert (
        dledger(db_target, "explain", "Mali", "--as-of", AS_OF, "--bundle", str(unsigned)).code == 0
    )
    holds = offline("audit", str(unsigned))
    assert holds.code == 0 and "not signed (anyone could have written it)" in holds.stdout
    refused = offline("audit", str(unsigned), "--public-key", str(public))
    assert refused.code == 1 and "not signed, but a public key was given" in refused.stderr


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _leaves(v, (*path, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _leaves(v, (*path, i))]
    return [path]


def _changed(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str):
        return value[:-1] + ("0" if value[-1:] != "0" else "1") if value else "x"
    return 0 if value is None else None


def test_any_single_altered_value_is_refused(made: tuple[Path, Path, Path]) -> None:
    bundle_file, public, _ = made
    bundle = json.loads(bundle_file.read_text())
    _audit(bundle, public)  # the genuine one holds
    paths = _leaves(bundle)

    @settings(
        max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(path=st.sampled_from(paths))
    def refused(path: tuple[Any, ...]) -> None:
        altered = copy.deepcopy(bundle)
        place = altered
        for step in path[:-1]:
            place = place[step]
        place[path[-1]] = _changed(place[path[-1]])
        with pytest.raises(LedgerError):
            _audit(altered, public)

    refused()


def test_any_single_altered_byte_is_refused_or_changes_nothing(
    made: tuple[Path, Path, Path],
) -> None:
    bundle_file, public, _ = made
    data = bundle_file.read_bytes()
    genuine = json.loads(data)

    @settings(
        max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(index=st.integers(0, len(data) - 1), flip=st.integers(1, 255))
    def refused(index: int, flip: int) -> None:
        altered = bytearray(data)
        altered[index] ^= flip
        try:
            same = json.loads(bytes(altered)) == genuine
        except ValueError:
            same = False
        if same:
            return  # whitespace between tokens: the same bundle
        with pytest.raises(LedgerError):
            audit(bytes(altered), "bundle", PublicKey(public.read_bytes(), "k.pub"))

    refused()


def test_an_existing_file_is_kept_unless_forced(
    db_target: str, made: tuple[Path, Path, Path]
) -> None:
    bundle, _, _ = made
    before = bundle.read_bytes()
    outcome = dledger(db_target, "explain", "Mali", "--as-of", AS_OF, "--bundle", str(bundle))
    assert outcome.code == 1 and "already exists; give --force" in outcome.stderr
    assert bundle.read_bytes() == before
    forced = dledger(
        db_target, "explain", "Mali", "--as-of", AS_OF, "--bundle", str(bundle), "--force"
    )
    assert forced.code == 0


def test_a_bad_key_writes_nothing(db_target: str, tmp_path: Path) -> None:
    assert dledger(db_target, "demo").code == 0
    bad = tmp_path / "bad.key"
    bad.write_text("not a key")
    bundle = tmp_path / "b.json"
    outcome = dledger(db_target, "explain", "Mali", "--bundle", str(bundle), "--key", str(bad))
    assert outcome.code == 1 and outcome.stderr.count("\n") == 1
    assert not bundle.exists() and list(tmp_path.glob(".b.json*")) == []


def test_a_key_without_a_bundle_is_a_usage_error(db_target: str, tmp_path: Path) -> None:
    assert dledger(db_target, "explain", "Mali", "--key", str(tmp_path / "k")).code == 2


def test_corrections_and_known_at_are_audited_too(db_target: str, tmp_path: Path) -> None:
    assert dledger(db_target, "init").code == 0
    base = dledger(db_target, "record", "assessment", "--location", "Mali", "--date", "2017-12",
                   "--individuals", "38172", "--households", "7716", "--source", "DTM")  # fmt: skip
    flow = dledger(db_target, "record", "registration", "--location", "Ménaka",
                   "--date", "2018-01", "--individuals", "2500", "--households", "500",
                   "--source", "DTM").stdout.strip()  # fmt: skip
    assert base.code == 0 and flow
    before = datetime.now(UTC).isoformat()
    assert (
        dledger(db_target, "correct", flow, "--individuals", "2600", "--reason", "recount").code
        == 0
    )
    then = tmp_path / "then.json"
    assert dledger(db_target, "explain", "Mali", "--as-of", AS_OF, "--known-at", before,
                   "--bundle", str(then)).code == 0  # fmt: skip
    held = offline("audit", str(then))
    assert held.code == 0 and "40,672 individuals, 8,216 households" in held.stdout
    now = tmp_path / "now.json"
    assert dledger(db_target, "explain", "Mali", "--as-of", AS_OF, "--bundle", str(now)).code == 0
    holds = offline("audit", str(now))
    assert holds.code == 0, holds.stderr
    assert (
        "40,772 individuals, 8,216 households" in holds.stdout and "(1 corrections)" in holds.stdout
    )
    bundle = json.loads(now.read_text())
    bundle["explain"]["flows"][0]["corrections"][0]["old"] = 2400
    altered = tmp_path / "altered.json"
    altered.write_text(json.dumps(bundle))
    refused = offline("audit", str(altered))
    assert (
        refused.code == 1
        and "correction (version 2, field individuals) is not what its events say" in refused.stderr
    )
