"""Helpers the command modules share: the database option and error output."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from dispatchledger.adapters.settings import (
    DATABASE_URL,
    DEFAULT_DATABASE_URL,
    Settings,
    sqlite_path,
)
from dispatchledger.domain.errors import DispatchLedgerError, InvalidCommand

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        envvar=DATABASE_URL,
        help=f"Database URL (default {DEFAULT_DATABASE_URL}).",
        show_envvar=True,
    ),
]

err_console = Console(stderr=True)
PIPED_WIDTH = 160
"""Width of tables and trees written to a pipe or file: wide enough that ids are
not cut across lines (a terminal's own width is used on a terminal)."""

out_console = Console(width=None if sys.stdout.isatty() else PIPED_WIDTH)

T = TypeVar("T")


@contextmanager
def reported_errors() -> Iterator[None]:
    """Print the project's errors plainly on stderr and exit with status 2."""
    try:
        yield
    except DispatchLedgerError as error:
        # The message is text, not markup (ids and paths may hold brackets);
        # soft_wrap: a long message (a path, a URL) stays one line that can
        # be grepped or copied, instead of being broken at the console width.
        err_console.print(
            f"[bold red]error:[/] {escape(str(error))}",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(2) from None


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, sort_keys=True, default=str) + "\n")


def run(fn: Callable[[], T]) -> T:
    with reported_errors():
        return fn()


def existing_ledger(db: str | None) -> str | None:
    """``db`` after checking it names a SQLite file that exists.

    Commands that read never create a ledger: a mistyped path would otherwise
    become a new empty file and every answer would be empty.
    """
    settings = Settings.for_url(db)
    if settings.backend == "sqlite":
        path = Path(sqlite_path(settings.url))
        if not path.exists():
            raise InvalidCommand(
                f"no ledger at {path}: nothing has been recorded there (check --db"
                f" or {DATABASE_URL})",
                [{"field": DATABASE_URL, "reason": "no such file"}],
            )
    return db
