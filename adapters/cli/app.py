"""The root Typer app and the options every command shares."""

from __future__ import annotations

import logging
import sys

import typer

from dispatchledger.adapters.cli import (
    commands_core,
    commands_currents,
    commands_demo,
    commands_projections,
    commands_render,
)

app = typer.Typer(
    name="dispatchledger",
    help="Mint, record, project and audit message dispatch ids.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for module in (
    commands_core,
    commands_render,
    commands_projections,
    commands_demo,
    commands_currents,
):
    module.register(app)


def main() -> None:
    """Console-script entry point."""
    logging.basicConfig(
        level=logging.INFO if not sys.stderr.isatty() else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    app()
