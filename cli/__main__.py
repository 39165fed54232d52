"""`python -m cli ...` runs dledger (used by tests that need a separate process)."""

from cli.main import run

run()
