"""``dispatchledger apply`` and ``dispatchledger schema`` on a SQLite file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from dispatchledger.adapters.bootstrap import open_ledger
from dispatchledger.adapters.cli import app
from dispatchledger.domain import COMMAND_ADAPTER

DEFINE = {
    "command": "define_campaign",
    "at": "2025-03-01T09:00:00+00:00",
    "campaign": {
        "campaign_id": "spring",
        "name": "Spring sale",
        "delivery_type": "scheduled",
        "variations": [{"variation_id": "spring-email", "channel": "email"}],
    },
}
RUN = {
    "command": "run_occurrence",
    "campaign_id": "spring",
    "occurrence_id": "o1",
    "audience": ["u1", "u2"],
    "at": "2025-03-01T09:00:00+00:00",
    "idempotency_key": "spring-o1",
}
UNKNOWN = {"command": "trigger", "campaign_id": "nope", "user_id": "u1"}
WRONG_TYPE = {"command": "trigger", "campaign_id": "spring", "user_id": "u1"}
NAIVE = {**RUN, "occurrence_id": "o2", "at": "2025-03-02T09:00:00"}


def _lines(*commands: Any) -> str:
    return "".join(
        (c if isinstance(c, str) else json.dumps(c)) + "\n" for c in commands
    )


def _apply(db: str, argument: str, stdin: str | None = None):
    result = CliRunner().invoke(app, ["apply", argument, "--db", db], input=stdin)
    outputs = [json.loads(line) for line in result.stdout.splitlines()]
    return result, outputs


def _events(db: str) -> int:
    ledger = open_ledger(db)
    try:
        return ledger.recorder.max_notification_id() or 0
    finally:
        ledger.close()


def test_apply_prints_one_result_per_line_and_reports_failed_lines(
    sqlite_url, tmp_path: Path
):
    commands = tmp_path / "commands.jsonl"
    commands.write_text(
        _lines(DEFINE, RUN, UNKNOWN, "", "{not json", WRONG_TYPE, NAIVE),
        encoding="utf-8",
    )

    result, outputs = _apply(sqlite_url, str(commands))

    assert result.exit_code == 1
    assert [(o["line"], o["ok"]) for o in outputs] == [
        (1, True),
        (2, True),
        (3, False),
        (5, False),
        (6, False),
        (7, False),
    ]
    assert [o["error"]["code"] for o in outputs if not o["ok"]] == [
        "unknown_campaign",
        "invalid_command",
        "wrong_delivery_type",
        "invalid_command",
    ]
    assert outputs[2]["error"]["campaign_id"] == "nope"
    assert f"{commands}:5" in outputs[3]["error"]["message"]
    assert outputs[5]["error"]["problems"][0]["field"] == "run_occurrence.at"
    assert outputs[1]["recipients"] == 2
    assert len(outputs[1]["dispatch_ids"]) == 1
    # Catalog opened, campaign defined and listed (3); the occurrence: launched,
    # started, two users entered and sent an email, completed, command kept (8).
    assert _events(sqlite_url) == 11


def test_apply_reads_stdin_and_exits_0_when_every_line_succeeds(sqlite_url):
    result, outputs = _apply(sqlite_url, "-", stdin=_lines(DEFINE, RUN))

    assert result.exit_code == 0
    assert [(o["line"], o["ok"], o["command"]) for o in outputs] == [
        (1, True, "define_campaign"),
        (2, True, "run_occurrence"),
    ]


def test_applying_the_same_keyed_file_again_replays_and_writes_nothing(
    sqlite_url, tmp_path: Path
):
    commands = tmp_path / "commands.jsonl"
    commands.write_text(_lines(DEFINE, RUN), encoding="utf-8")
    _, first = _apply(sqlite_url, str(commands))
    events_after_first = _events(sqlite_url)

    result, again = _apply(sqlite_url, str(commands))

    assert result.exit_code == 0
    assert again[0]["created"] is False
    assert again[1]["replayed"] is True
    assert again[1]["dispatch_ids"] == first[1]["dispatch_ids"]
    assert _events(sqlite_url) == events_after_first


def test_apply_reports_a_missing_file_without_a_traceback(sqlite_url, tmp_path):
    result = CliRunner().invoke(
        app, ["apply", str(tmp_path / "absent.jsonl"), "--db", sqlite_url]
    )

    assert result.exit_code == 2
    assert "absent.jsonl" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_schema_lists_every_command_and_describes_a_sample():
    result = CliRunner().invoke(app, ["schema"])

    schema = json.loads(result.stdout)
    assert result.exit_code == 0
    mapping = schema["discriminator"]["mapping"]
    assert schema["discriminator"]["propertyName"] == "command"
    assert set(mapping) == {
        "define_campaign",
        "define_canvas",
        "run_occurrence",
        "trigger",
        "api_trigger",
        "schedule_api_trigger",
        "run_canvas_entry",
        "enter_canvas",
        "advance",
        "archive",
    }
    assert sorted(ref["$ref"] for ref in schema["oneOf"]) == sorted(mapping.values())
    run = schema["$defs"][mapping["run_occurrence"].rsplit("/", 1)[-1]]
    assert set(RUN) <= set(run["properties"])
    assert set(run["required"]) == {"campaign_id", "occurrence_id"}
    assert run["additionalProperties"] is False
    assert COMMAND_ADAPTER.validate_python(RUN).command == "run_occurrence"
