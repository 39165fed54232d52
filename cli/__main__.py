"""`python -m cli`: the same as the `dledger` console script."""

from cli.main import run

run()
