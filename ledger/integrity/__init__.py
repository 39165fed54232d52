"""Tamper evidence: a hash chain over the event log, checkpoints, and verification.

The public entry points are in ``ledger.chain``.
"""
