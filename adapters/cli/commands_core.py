"""Commands of the write side: ``apply`` and ``schema``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, BinaryIO

import typer

from dispatchledger.adapters.bootstrap import open_ledger
from dispatchledger.adapters.cli.common import DbOption, err_console, reported_errors
from dispatchledger.domain.commands import COMMAND_ADAPTER
from dispatchledger.domain.errors import DispatchLedgerError, InvalidCommand


def register(app: typer.Typer) -> None:
    app.command("apply")(apply)
    app.command("schema")(schema)


def apply(
    file: Annotated[
        str, typer.Argument(help="JSON lines of commands; '-' reads stdin.")
    ],
    db: DbOption = None,
) -> None:
    """Run commands given as JSON lines; print one JSON result per line.

    A line that fails prints {"ok": false, "line": N, "error": {...}} and writes
    nothing; the other lines still run. Exit status 1 if any line failed.
    """
    failed = 0
    with reported_errors():
        ledger = open_ledger(db)
        try:
            with _open_input(file) as stream:
                for number, line in enumerate(stream, start=1):
                    if not line.strip():
                        continue
                    output = _apply_line(ledger, line, number, file)
                    failed += not output.get("ok", False)
                    sys.stdout.write(json.dumps(output, default=str) + "\n")
                    sys.stdout.flush()
        finally:
            ledger.close()
    if failed:
        err_console.print(f"{failed} command(s) failed; see the error lines")
        raise typer.Exit(1)


def _apply_line(ledger: Any, raw: bytes, number: int, file: str) -> dict[str, Any]:
    try:
        data = _parse_line(raw, number, file)
        result = ledger.execute(data)
    except DispatchLedgerError as error:
        return {"ok": False, "line": number, "error": error.to_dict()}
    output: dict[str, Any] = result.model_dump(mode="json")
    output["line"] = number
    return output


def _decode_line(raw: bytes, number: int, file: str) -> str:
    """The line as text; a line that is not UTF-8 fails alone, naming the byte."""
    try:
        # A byte order mark some editors put before the first line is not data.
        return raw.decode("utf-8-sig" if number == 1 else "utf-8")
    except UnicodeDecodeError as error:
        bad = raw[error.start]
        raise InvalidCommand(
            f"{file}:{number}: not UTF-8: byte 0x{bad:02x} at byte {error.start + 1}"
        ) from None


def _parse_line(raw: bytes, number: int, file: str) -> dict[str, Any]:
    line = _decode_line(raw, number, file)
    try:
        data = json.loads(line)
    except json.JSONDecodeError as error:
        raise InvalidCommand(
            f"{file}:{number}: not JSON: {error.msg} at column {error.colno}"
        ) from None
    except RecursionError:
        raise InvalidCommand(f"{file}:{number}: JSON nested too deeply") from None
    except ValueError as error:
        # The parser's limits, such as an integer too long to convert.
        raise InvalidCommand(f"{file}:{number}: not JSON: {error}") from None
    if not isinstance(data, dict):
        raise InvalidCommand(f"{file}:{number}: a command must be a JSON object")
    return data


class _open_input:  # noqa: N801 - used as a context manager, reads like a function
    """The input as bytes, so each line is decoded (and can fail) on its own."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.handle: BinaryIO | None = None

    def __enter__(self) -> BinaryIO:
        if self.file == "-":
            return sys.stdin.buffer
        try:
            self.handle = Path(self.file).open("rb")
        except OSError as error:
            raise InvalidCommand(f"cannot read {self.file}: {error.strerror}") from None
        return self.handle

    def __exit__(self, *_: object) -> None:
        if self.handle is not None:
            self.handle.close()


def schema() -> None:
    """Print the JSON Schema of the commands ``apply`` accepts."""
    document = COMMAND_ADAPTER.json_schema()
    document["title"] = "dispatchledger command"
    document["description"] = (
        "One command per line for `dispatchledger apply`; the `command` field"
        " selects the kind."
    )
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=True) + "\n")
