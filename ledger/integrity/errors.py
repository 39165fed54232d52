"""Integrity errors: each a one-line LedgerError naming what is wrong."""

from __future__ import annotations

from ledger.errors import LedgerError


class ChainBroken(LedgerError):
    """The log does not match its hash chain (or a checkpoint); the message names where."""


class NoChain(LedgerError):
    """The ledger has no chain table (created before tamper evidence existed)."""


class InvalidCheckpoint(LedgerError):
    """A checkpoint file that does not follow the documented format."""


class SignatureRejected(LedgerError):
    """A checkpoint signature that is missing, forged, or made with another key."""


class KeyFileProblem(LedgerError):
    """A key file that cannot be read, parsed or written."""


class TreeIncomplete(LedgerError):
    """The Merkle tree lacks a node a root or proof needs (a ledger not upgraded yet)."""


class UpgradeRefused(LedgerError):
    """The ledger's integrity schema is out of date and this database user may not bring
    it up to date (only the owner of its tables can)."""


class ConsistencyRefused(LedgerError):
    """The log cannot prove it extends an earlier checkpoint: its history before it differs."""


class AuditFailed(LedgerError):
    """An audit bundle or a consistency proof that does not hold; the message says what."""
