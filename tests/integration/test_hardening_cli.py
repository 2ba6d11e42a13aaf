"""Hostile storage and input files: typed errors that say where, no traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dispatchledger.adapters.bootstrap import open_ledger
from dispatchledger.adapters.cli import app
from dispatchledger.domain import DatabaseUnavailable, InvalidCommand


def test_a_sqlite_file_in_a_missing_folder_is_a_typed_error_naming_it(tmp_path):
    path = tmp_path / "no-such-folder" / "ledger.db"

    with pytest.raises(DatabaseUnavailable) as raised:
        open_ledger(f"sqlite:///{path}")

    assert str(path) in str(raised.value)


@pytest.mark.parametrize(
    "content",
    [os.urandom(4096), b"date,user\n2025-03-01,u1\n" * 200],
    ids=["random-bytes", "csv-text"],
)
def test_a_file_that_is_not_a_sqlite_database_is_a_typed_error_naming_it(
    tmp_path: Path, content: bytes
):
    path = tmp_path / "ledger.db"
    path.write_bytes(content)

    with pytest.raises(DatabaseUnavailable) as raised:
        open_ledger(f"sqlite:///{path}")

    assert str(path) in str(raised.value)
    assert path.read_bytes() == content


def test_a_folder_given_as_the_database_is_a_typed_error(tmp_path):
    with pytest.raises(DatabaseUnavailable):
        open_ledger(f"sqlite:///{tmp_path}")


def test_a_database_url_that_is_not_a_string_is_refused():
    with pytest.raises(InvalidCommand) as raised:
        open_ledger(5)  # type: ignore[arg-type]

    assert raised.value.problems[0]["field"] == "DISPATCHLEDGER_DATABASE_URL"


def test_apply_on_an_unopenable_database_says_which_and_exits_2(tmp_path):
    commands = tmp_path / "commands.jsonl"
    commands.write_text('{"command": "archive"}\n')
    database = tmp_path / "no-such-folder" / "ledger.db"

    result = CliRunner().invoke(
        app, ["apply", str(commands), "--db", f"sqlite:///{database}"]
    )

    assert result.exit_code == 2
    assert "cannot open the database" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)
