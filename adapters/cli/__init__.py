"""The ``dispatchledger`` command line: one Typer app, one module per area."""

from dispatchledger.adapters.cli.app import app, main

__all__ = ["app", "main"]
