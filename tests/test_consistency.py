"""``checkpoint --since OLD``: a new checkpoint with the RFC 9162 proof that its log extends
OLD's, checked offline by ``audit``; a ledger whose history before OLD was rewritten cannot
make one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledger.integrity.encoding import GENESIS, link_hash, originator_hex
from ledger.storage import close_ledger, open_ledger
from tests.chain_tampering import sql
from tests.command_line import dledger
from tests.tampering import tamper
from tests.test_bundle import offline


@pytest.fixture
def signed(db_target: str, tmp_path: Path) -> tuple[str, Path, Path]:
    """The demo, a key, and a signed checkpoint taken after it: (target, key, checkpoint)."""
    assert dledger(db_target, "demo").code == 0
    key, old = tmp_path / "k", tmp_path / "after-demo.checkpoint"
    assert dledger(db_target, "keygen", "--out", str(key)).code == 0
    assert dledger(db_target, "checkpoint", "--key", str(key), "--out", str(old)).code == 0
    return db_target, key, old


def _record(target: str) -> None:
    outcome = dledger(target, "record", "registration", "--location", "Gao", "--date", "2018-02",
                      "--individuals", "250", "--source", "DTM")  # fmt: skip
    assert outcome.code == 0, outcome.stderr


def test_a_proof_between_two_checkpoints_audits_offline(signed: tuple[str, Path, Path]) -> None:
    target, key, old = signed
    _record(target)
    proof = old.parent / "proof.json"
    made = dledger(
        target, "checkpoint", "--key", str(key), "--since", str(old), "--out", str(proof)
    )
    assert made.code == 0, made.stderr
    document = json.loads(proof.read_text())
    assert document["old"] == old.read_text() and document["new"].startswith("dledger checkpoint 2")
    outcome = offline("audit", str(proof), "--public-key", f"{key}.pub")
    assert outcome.code == 0, outcome.stderr
    assert outcome.stdout.startswith("consistency holds: the log at position 10 (root ")
    assert "RFC 9162 consistency proof from size 9 to size 10 holds" in outcome.stdout


def test_an_altered_proof_is_refused(signed: tuple[str, Path, Path]) -> None:
    target, key, old = signed
    _record(target)
    _record(target)
    document = json.loads(
        dledger(target, "checkpoint", "--key", str(key), "--since", str(old)).stdout
    )
    document["consistency_proof"][0] = "00" * 32
    altered = old.parent / "altered.json"
    altered.write_text(json.dumps(document))
    outcome = offline("audit", str(altered), "--public-key", f"{key}.pub")
    assert outcome.code == 1 and "the consistency proof does not lead" in outcome.stderr


def test_a_version_1_checkpoint_is_proved_through_its_chain_hash(
    db_target: str, tmp_path: Path
) -> None:
    assert dledger(db_target, "demo").code == 0
    lines = dledger(db_target, "checkpoint").stdout.splitlines()
    v1 = tmp_path / "v1.checkpoint"  # as written before the tree existed
    v1.write_text(f"dledger checkpoint 1\n{lines[1]}\n{lines[2]}\n{lines[4]}\n")
    _record(db_target)
    document = json.loads(dledger(db_target, "checkpoint", "--since", str(v1)).stdout)
    assert document["consistency_proof"] is None and document["old_head_proof"]
    proof = tmp_path / "proof.json"
    proof.write_text(json.dumps(document))
    outcome = offline("audit", str(proof))
    assert outcome.code == 0, outcome.stderr
    assert "the old checkpoint's head (position 9) is a leaf of the new tree" in outcome.stdout


def _rewrite_history(target: str) -> None:
    """What an attacker with the database would do: change an early event, then recompute
    every chain link and the whole Merkle tree after it, so that ``verify`` passes."""
    from ledger.integrity.tree import TreeAppender

    ledger = open_ledger(target)
    try:
        state = bytes(sql(ledger, "SELECT state FROM dledger_events WHERE id = 6")[0][0])
        changed = state.replace(b'"individuals":3000', b'"individuals":4000')
        assert changed != state
        tamper(ledger, "UPDATE dledger_events SET state = :s WHERE id = 6", s=changed)
        rows = sql(ledger, "SELECT c.position, e.id, e.originator_id, e.originator_version, "
                   "e.topic, e.state FROM dledger_chain c JOIN dledger_events e "
                   "ON e.id = c.notification_id ORDER BY c.position")  # fmt: skip
        previous = GENESIS
        for position, nid, oid, version, topic, state in rows:
            previous = link_hash(previous, position, nid, originator_hex(oid), version, topic,
                                 bytes(state))  # fmt: skip
            tamper(ledger, "UPDATE dledger_chain SET hash = :h WHERE position = :p",
                   h=previous, p=position)  # fmt: skip
        tamper(ledger, "DELETE FROM dledger_tree")
        engine = ledger.recorder.datastore.engine  # type: ignore[attr-defined]
        with engine.begin() as connection:
            cur = connection.connection.driver_connection.cursor()
            TreeAppender(ledger.recorder.store).fill(cur)  # type: ignore[attr-defined]
    finally:
        close_ledger(ledger)


def test_a_rewritten_history_cannot_prove_consistency(signed: tuple[str, Path, Path]) -> None:
    target, key, old = signed
    _rewrite_history(target)
    assert dledger(target, "verify", "--log-only").code == 0  # consistent again...
    outcome = dledger(target, "checkpoint", "--key", str(key), "--since", str(old))
    assert outcome.code == 1 and outcome.stderr.count("\n") == 1
    assert outcome.stderr.startswith(
        "error: the history before the old checkpoint was rewritten: the chain hash at "
        "position 9 is "
    )


def test_audit_tells_a_checkpoint_from_a_bundle_by_its_content(
    signed: tuple[str, Path, Path],
) -> None:
    _, key, old = signed
    outcome = offline("audit", str(old), "--public-key", f"{key}.pub")
    assert outcome.code == 0 and outcome.stdout.startswith(
        "checkpoint: log position 9, chain hash "
    )
