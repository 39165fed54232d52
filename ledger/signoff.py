"""Signing off a snapshot: the statement a release rests on, and its Ed25519 signature.

The statement names the snapshot, what it was computed for (as of, known at), the log
position and the hash chain's head there (what every figure in it rests on), a digest
of the figures it holds, who signed it off and when. With a key, the statement is
signed; ``snapshot show`` gives the statement and the signature, so anyone holding the
public key can check that the release was not altered.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from ledger.integrity.checkpoint import Checkpoint

MAGIC = "dledger sign-off v1"


def statement(
    name: str, as_of: str, known_at: str, checkpoint: Checkpoint, result: Any, actor: str,
    at: datetime,
) -> str:  # fmt: skip
    digest = hashlib.sha256(
        json.dumps(result, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    ).hexdigest()
    return (
        f"{MAGIC}\nsnapshot {name}\nas_of {as_of}\nknown_at {known_at}\n"
        f"position {checkpoint.position}\nhash {checkpoint.head_hash}\nresult sha256 {digest}\n"
        f"actor {actor}\ntime {at.astimezone(UTC).isoformat()}\n"
    )


def signed(text: str, private_pem: bytes, source: str = "key") -> tuple[str, str]:
    """(signature in base64, the signing key's id) for ``text``."""
    from ledger.integrity.checkpoint import sign_text

    signature, signer = sign_text(text, private_pem, source)
    return base64.b64encode(signature).decode("ascii"), signer
