"""The `dledger` command line: parse, call one function of the ledger or projections, render."""
