"""The command line: ingest, rejects, audit and export on a SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from dispatchledger.adapters.cli import app

runner = CliRunner()


def envelope(event_id: str, user_id: str, dispatch_id: str) -> str:
    return json.dumps(
        {
            "event_type": "users.messages.email.Send",
            "id": event_id,
            "time": 2_000_000_000,
            "properties": {"dispatch_id": dispatch_id, "campaign_id": "api-camp"},
            "user": {"user_id": user_id},
        }
    )


def test_ingest_summarises_and_exits_zero_when_nothing_is_rejected(
    sqlite_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "sends.jsonl"
    path.write_text(envelope("s1", "u1", "d") + "\n" + envelope("s1", "u1", "d") + "\n")

    result = runner.invoke(app, ["ingest", str(path), "--db", sqlite_url, "--json"])

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "files": 1,
        "records": 2,
        "imported": 1,
        "duplicates": 1,
        "rejected": 0,
    }


def test_rejected_records_exit_one_and_are_listed(
    sqlite_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "sends.jsonl"
    path.write_text(envelope("s1", "u1", "d") + "\n{oops\n")

    ingested = runner.invoke(app, ["ingest", str(path), "--db", sqlite_url])
    listed = runner.invoke(app, ["rejects", "--db", sqlite_url, "--json"])

    assert ingested.exit_code == 1
    assert "files 1, records 2, imported 1, duplicates 0, rejected 1" in ingested.stdout
    (reject,) = json.loads(listed.stdout)
    assert (reject["file"], reject["position"], reject["raw"]) == (
        str(path),
        "line 2",
        "{oops",
    )
    assert reject["reason"].startswith("invalid JSON at column 2")


def test_audit_with_a_catalog_and_a_policy(sqlite_url: str, tmp_path: Path) -> None:
    path = tmp_path / "sends.jsonl"
    path.write_text("\n".join(envelope(f"s{n}", f"u{n}", "shared") for n in (1, 2, 3)))
    catalog = tmp_path / "catalog.json"
    catalog.write_text(
        json.dumps({"campaigns": {"api-camp": {"schedule_type": "api_triggered"}}})
    )
    runner.invoke(
        app, ["ingest", str(path), "--catalog", str(catalog), "--db", sqlite_url]
    )

    default = runner.invoke(app, ["audit", "--db", sqlite_url, "--json"])
    per_call = runner.invoke(
        app,
        ["audit", "--db", sqlite_url, "--json", "--api-trigger-dispatch", "per_call"],
    )

    assert default.exit_code == 0
    (finding,) = json.loads(default.stdout)["findings"]
    assert finding["rule"] == "D4"
    assert sorted(r["user_id"] for r in finding["records"]) == ["u1", "u2", "u3"]
    assert json.loads(per_call.stdout) == {"findings": []}


def test_export_writes_the_format_asked_for(sqlite_url: str, tmp_path: Path) -> None:
    path = tmp_path / "sends.jsonl"
    path.write_text(envelope("s1", "u1", "d-1") + "\n")
    runner.invoke(app, ["ingest", str(path), "--db", sqlite_url])
    out = tmp_path / "out.jsonl"

    result = runner.invoke(
        app, ["export", "--format", "http", str(out), "--db", sqlite_url]
    )

    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text()) == {
        "event_type": "users.messages.email.Send",
        "id": "s1",
        "time": 2_000_000_000,
        "properties": {"dispatch_id": "d-1", "campaign_id": "api-camp"},
        "user": {"user_id": "u1"},
    }


def test_a_missing_input_is_an_error_naming_it(sqlite_url: str, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["ingest", str(tmp_path / "absent.avro"), "--db", sqlite_url]
    )

    assert result.exit_code == 2
    # Rich wraps long lines; compare the words.
    assert "absent.avro: no such file or folder" in " ".join(result.output.split())
