"""The ``render`` command: a message's Liquid template, previewed or as recorded."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from dispatchledger.adapters.bootstrap import open_ledger
from dispatchledger.adapters.cli.common import (
    DbOption,
    existing_ledger,
    print_json,
    reported_errors,
)
from dispatchledger.domain.errors import InvalidCommand


def register(app: typer.Typer) -> None:
    app.command("render")(render)


def render(
    campaign: Annotated[
        str | None, typer.Option("--campaign", help="Campaign API id.")
    ] = None,
    canvas: Annotated[
        str | None, typer.Option("--canvas", help="Canvas API id.")
    ] = None,
    step: Annotated[
        str | None, typer.Option("--step", help="Canvas step id (with --canvas).")
    ] = None,
    variation: Annotated[
        str | None,
        typer.Option("--variation", help="Message variation id (needed if several)."),
    ] = None,
    variant: Annotated[
        str | None,
        typer.Option("--variant", help="Canvas variant a preview renders for."),
    ] = None,
    dispatch: Annotated[
        str | None,
        typer.Option("--dispatch", help="Recorded dispatch id (with --user)."),
    ] = None,
    user: Annotated[
        str | None,
        typer.Option("--user", help="Render what this user was sent, not a preview."),
    ] = None,
    context: Annotated[
        str | None,
        typer.Option(
            "--context", help='Other template variables as a JSON object: {"user":…}.'
        ),
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print the result with its ids as one JSON line."),
    ] = False,
    db: DbOption = None,
) -> None:
    """Render a message for preview, or as it was sent to a user.

    Without --user the dispatch id renders as dispatch_id_for_unsent_campaign;
    with --dispatch and --user it renders as exactly the id the message carries.
    """
    with reported_errors():
        fields: dict[str, Any] = {
            "campaign_id": campaign,
            "canvas_id": canvas,
            "step_id": step,
            "variation_id": variation,
            "variant_id": variant,
            "dispatch_id": dispatch,
            "user_id": user,
            "context": _context(context),
        }
        ledger = open_ledger(existing_ledger(db))
        try:
            rendered = ledger.render(**fields)
        finally:
            ledger.close()
    if as_json:
        print_json(rendered.model_dump(mode="json"))
        return
    text = rendered.text
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _context(option: str | None) -> dict[str, Any]:
    if option is None:
        return {}
    try:
        value = json.loads(option)
    except json.JSONDecodeError as error:
        raise InvalidCommand(
            f"--context is not JSON: {error.msg} at column {error.colno}",
            [{"field": "context", "reason": error.msg}],
        ) from None
    if not isinstance(value, dict):
        raise InvalidCommand(
            "--context must be a JSON object",
            [{"field": "context", "reason": "not an object"}],
        )
    return value
