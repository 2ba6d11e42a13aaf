"""Hostile storage and input files: typed errors that say where, no traceback."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from eventsourcing.persistence import StoredEvent
from typer.testing import CliRunner

from dispatchledger.adapters.bootstrap import open_ledger
from dispatchledger.adapters.cli import app
from dispatchledger.domain import (
    DatabaseUnavailable,
    InvalidCommand,
    PersistenceError,
    ids,
)


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
    assert "the database cannot be reached" in result.stderr
    assert str(database) in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


DEFINE = (
    '{"command": "define_campaign", "at": "2025-03-01T08:00:00Z", "campaign":'
    ' {"campaign_id": "cart", "name": "Cart reminder", "delivery_type":'
    ' "action_based", "variations": [{"variation_id": "cart-email",'
    ' "channel": "email"}]}}'
)
TRIGGER = (
    '{"command": "trigger", "campaign_id": "cart", "user_id": "u1",'
    ' "trigger_id": "t-1", "at": "2025-03-01T10:00:00Z"}'
)


def _apply_bytes(sqlite_url: str, path: Path, content: bytes, via_stdin: bool):
    path.write_bytes(content)
    argument = "-" if via_stdin else str(path)
    result = CliRunner().invoke(
        app,
        ["apply", argument, "--db", sqlite_url],
        input=content if via_stdin else None,
    )
    outputs = [json.loads(line) for line in result.stdout.splitlines()]
    return result, outputs


@pytest.mark.parametrize("via_stdin", [False, True], ids=["file", "stdin"])
def test_a_line_that_is_not_utf8_fails_alone_and_names_its_line(
    sqlite_url, tmp_path: Path, via_stdin: bool
):
    content = (
        DEFINE.encode()
        + b"\n"
        + b'{"command": "trigger", "campaign_id": "\xff\xfe"}\n'
        + TRIGGER.encode()
        + b"\n"
    )

    result, outputs = _apply_bytes(
        sqlite_url, tmp_path / "commands.jsonl", content, via_stdin
    )

    assert result.exit_code == 1
    assert [(o["line"], o["ok"]) for o in outputs] == [
        (1, True),
        (2, False),
        (3, True),
    ]
    assert outputs[1]["error"]["code"] == "invalid_command"
    assert ":2: not UTF-8" in outputs[1]["error"]["message"]
    assert "0xff at byte 40" in outputs[1]["error"]["message"]


def test_a_binary_file_gives_one_error_line_per_line_and_no_traceback(
    sqlite_url, tmp_path: Path
):
    content = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10"

    result, outputs = _apply_bytes(
        sqlite_url, tmp_path / "image.png", content, via_stdin=False
    )

    assert result.exit_code == 1
    assert [o["ok"] for o in outputs] == [False, False, False]
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_json_document_nested_too_deeply_fails_alone(sqlite_url, tmp_path: Path):
    deep = b"[" * 100_000 + b"]" * 100_000
    content = deep + b"\n" + DEFINE.encode() + b"\n"

    result, outputs = _apply_bytes(
        sqlite_url, tmp_path / "deep.jsonl", content, via_stdin=False
    )

    assert result.exit_code == 1
    assert [(o["line"], o["ok"]) for o in outputs] == [(1, False), (2, True)]
    assert "nested too deeply" in outputs[0]["error"]["message"]


def test_a_byte_order_mark_before_the_first_line_is_not_an_error(
    sqlite_url, tmp_path: Path
):
    content = b"\xef\xbb\xbf" + DEFINE.encode() + b"\r\n" + TRIGGER.encode() + b"\r\n"

    result, outputs = _apply_bytes(
        sqlite_url, tmp_path / "windows.jsonl", content, via_stdin=False
    )

    assert result.exit_code == 0
    assert [(o["line"], o["ok"]) for o in outputs] == [(1, True), (2, True)]


def test_an_error_message_is_printed_on_one_line_whatever_its_length(tmp_path):
    commands = tmp_path / "commands.jsonl"
    commands.write_text('{"command": "archive"}\n')
    database = tmp_path / ("a-long-folder-name-" * 6) / "ledger.db"

    result = CliRunner().invoke(
        app, ["apply", str(commands), "--db", f"sqlite:///{database}"]
    )

    first_line = result.stderr.splitlines()[0]
    assert first_line.startswith(
        f"error: the database cannot be reached (sqlite:///{database})"
    )
    assert first_line.endswith("unable to open database file")


@pytest.mark.parametrize("name", ["x[/]y.jsonl", "x[red]y.jsonl"])
def test_brackets_in_an_error_message_are_printed_as_they_are(tmp_path, name):
    missing = tmp_path / name

    result = CliRunner().invoke(app, ["apply", str(missing), "--db", "memory://"])

    assert result.exit_code == 2
    assert f"cannot read {missing}: No such file or directory" in result.stderr


def test_a_number_too_long_to_read_fails_alone(sqlite_url, tmp_path: Path):
    huge = b'{"command": "archive", "program_id": ' + b"9" * 5000 + b"}"
    content = huge + b"\n" + DEFINE.encode() + b"\n"

    result, outputs = _apply_bytes(
        sqlite_url, tmp_path / "huge.jsonl", content, via_stdin=False
    )

    assert result.exit_code == 1
    assert [(o["line"], o["ok"]) for o in outputs] == [(1, False), (2, True)]
    assert "huge.jsonl:1: not JSON" in outputs[0]["error"]["message"]


def _define_cart(ledger) -> None:
    ledger.execute(json.loads(DEFINE))


def test_a_closed_ledger_refuses_commands_and_reads_with_a_typed_error(sqlite_url):
    ledger = open_ledger(sqlite_url)
    _define_cart(ledger)
    ledger.close()

    with pytest.raises(DatabaseUnavailable, match="closed"):
        ledger.trigger(campaign_id="cart", user_id="u1")
    with pytest.raises(DatabaseUnavailable, match="closed"):
        ledger.campaign("cart")


def test_stored_events_of_an_unknown_type_give_a_typed_error_naming_the_type(
    sqlite_url,
):
    ledger = open_ledger(sqlite_url)
    _define_cart(ledger)
    ledger.recorder.insert_events(
        [
            StoredEvent(
                originator_id=ids.campaign_stream_id("cart"),
                originator_version=2,
                topic="another.program:Thing",
                state=b"{}",
            )
        ]
    )
    before = ledger.recorder.max_notification_id()

    with pytest.raises(PersistenceError, match=r"another\.program:Thing"):
        ledger.trigger(campaign_id="cart", user_id="u1")
    with pytest.raises(PersistenceError, match=r"another\.program:Thing"):
        ledger.campaign("cart")
    assert ledger.recorder.max_notification_id() == before
    ledger.close()


def test_a_stored_event_that_cannot_be_decoded_gives_a_typed_error(sqlite_url):
    ledger = open_ledger(sqlite_url)
    _define_cart(ledger)
    ledger.recorder.insert_events(
        [
            StoredEvent(
                originator_id=ids.campaign_stream_id("cart"),
                originator_version=2,
                topic="dispatchledger:Campaign.Archived",
                state=b"{{{",
            )
        ]
    )

    with pytest.raises(PersistenceError, match=r"Campaign\.Archived"):
        ledger.trigger(campaign_id="cart", user_id="u1")
    ledger.close()
