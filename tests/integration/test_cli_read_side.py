"""The read side's commands: project, rebuild, dispatches and lineage."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from read_model_scenarios import Minter, at, define_all
from rich.console import Console
from typer.testing import CliRunner

from dispatchledger.adapters import open_ledger
from dispatchledger.adapters.cli import app, commands_projections
from dispatchledger.adapters.read_side import open_read_models
from dispatchledger.projections.framework import Changes
from dispatchledger.projections.read_models import STEP_DISPATCHES

runner = CliRunner()


@pytest.fixture
def db(sqlite_url: str) -> str:
    """Ana and Ben got the weekly news (d-1); both entered onboarding (d-2, e-1
    and e-2); Ana moved on to the tips step (d-3 by push, and an in-app message)."""
    ledger = open_ledger(sqlite_url, mint=Minter("d"), mint_entry=Minter("e"))
    define_all(ledger)
    ledger.run_occurrence(
        campaign_id="weekly-news", occurrence_id="w1", audience=["ana", "ben"], at=at(1)
    )
    ledger.run_canvas_entry(
        canvas_id="onboarding", entry_run_id="r1", audience=["ana", "ben"], at=at(2)
    )
    ledger.advance(canvas_id="onboarding", user_id="ana", step_id="wait", at=at(3))
    ledger.advance(canvas_id="onboarding", user_id="ana", step_id="tips", at=at(4))
    ledger.close()
    return sqlite_url


def invoke(*args: str) -> Any:
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_project_catches_up_and_prints_positions(db: str) -> None:
    result = invoke("project", "--db", db)

    assert result.exit_code == 0
    output = json.loads(result.stdout)
    assert set(output["positions"].values()) == {output["positions"]["lineage"]}
    assert output["positions"]["lineage"] > 0
    again = json.loads(invoke("project", "--db", db).stdout)
    assert again["events"] == 0
    assert again["positions"] == output["positions"]


def test_dispatches_by_user_as_json(db: str) -> None:
    result = invoke("dispatches", "--db", db, "--user", "ana")

    rows = json.loads(result.stdout)
    assert [(r["channel"], r["dispatch_id"], r["step_id"]) for r in rows] == [
        ("email", "d-1", None),
        ("push", "d-1", None),
        ("email", "d-2", "hello"),
        ("push", "d-3", "tips"),
        ("in_app_message", None, "tips"),
    ]
    assert rows[0]["sent_at"] == "2026-03-01T09:01:00Z"


def test_dispatches_by_dispatch_and_by_step(db: str) -> None:
    shared = json.loads(invoke("dispatches", "--db", db, "--dispatch", "d-2").stdout)
    step = json.loads(
        invoke(
            "dispatches", "--db", db, "--canvas", "onboarding", "--step", "hello"
        ).stdout
    )

    assert [(r["user_id"], r["channel"]) for r in shared] == [
        ("ana", "email"),
        ("ben", "email"),
    ]
    assert [(r["user_id"], r["entry_id"], r["dispatch_id"]) for r in step] == [
        ("ana", "e-1", "d-2"),
        ("ben", "e-2", "d-2"),
    ]


def test_dispatches_as_a_table(db: str) -> None:
    result = invoke("dispatches", "--db", db, "--user", "ben", "--format", "table")

    assert result.stdout.split("\n")[3].split() == [
        "ben",
        "weekly-news",
        "email",
        "d-1",
        "2026-03-01T09:01:00Z",
    ]


def test_dispatches_needs_exactly_one_question(db: str) -> None:
    result = invoke("dispatches", "--db", db, "--user", "ana", "--dispatch", "d-1")

    assert result.exit_code == 2
    assert "exactly one of" in result.stderr


def test_lineage_of_a_user_as_json(db: str) -> None:
    result = invoke("lineage", "--db", db, "--user", "ana", "--format", "json")

    lineage = json.loads(result.stdout)
    (journey,) = lineage["journeys"]
    assert journey["entry_id"] == "e-1"
    assert [(s["step_id"], s["dispatch_id"]) for s in journey["steps"]] == [
        ("hello", "d-2"),
        ("wait", None),
        ("tips", "d-3"),
    ]
    assert [m["dispatch_id"] for m in lineage["campaign_messages"]] == ["d-1", "d-1"]


def test_lineage_of_a_dispatch_as_mermaid(db: str) -> None:
    result = invoke("lineage", "--db", db, "--dispatch", "d-3", "--format", "mermaid")

    assert result.stdout.splitlines() == [
        "flowchart LR",
        '    n0["canvas onboarding"]',
        '    n1["entry_run r1"]',
        "    n0 --> n1",
        '    n2["journey e-1"]',
        "    n1 --> n2",
        '    n3["step tips"]',
        "    n2 --> n3",
        '    n4(["dispatch d-3"])',
        "    n3 --> n4",
        '    n5(["user ana"])',
        "    n4 -->|push| n5",
    ]


def test_lineage_of_a_user_as_mermaid_and_tree(db: str) -> None:
    chart = invoke("lineage", "--db", db, "--user", "ana", "--format", "mermaid")
    tree = invoke("lineage", "--db", db, "--user", "ana", "--format", "tree")

    assert chart.stdout.startswith("flowchart LR\n")
    assert '    n5(["no dispatch id (in-app)"])' not in chart.stdout
    assert "-->|in_app_message|" in chart.stdout
    assert '(["dispatch d-3"])' in chart.stdout
    assert "step tips (step_arrival e-1/4)" in tree.stdout
    assert "in_app_message → no dispatch id (in-app)" in tree.stdout


def test_rebuild_check_passes_then_reports_a_tampered_row(db: str) -> None:
    clean = invoke("rebuild", "--db", db, "--check", "--json")
    models = open_read_models(db)
    tampered = Changes([STEP_DISPATCHES])
    arrivals = models.store.select(STEP_DISPATCHES, {"user_id": "ben"})
    row = {**arrivals[0], "dispatch_id": "forged", "arrived_at": 0}
    tampered.put(STEP_DISPATCHES, row)
    models.store.write({"dispatches_by_step": tampered}, {})
    models.close()

    dirty = invoke("rebuild", "--db", db, "--check", "--json", "dispatches_by_step")
    human = invoke("rebuild", "--db", db, "--check", "dispatches_by_step")
    fixed = invoke("rebuild", "--db", db, "dispatches_by_step")

    assert clean.exit_code == 0
    assert json.loads(clean.stdout)["identical"] is True
    assert dirty.exit_code == 1
    (report,) = json.loads(dirty.stdout)["projections"]
    (table,) = report["tables"]
    assert table["differing"] == 1
    assert table["differing_examples"][0]["live"]["dispatch_id"] == "forged"
    assert "dispatches_by_step: DIFFERENT" in human.stdout
    assert fixed.exit_code == 0
    assert "switched" in fixed.stdout
    assert invoke("rebuild", "--db", db, "--check").exit_code == 0


def test_rebuild_of_an_unknown_projection_is_refused(db: str) -> None:
    result = invoke("rebuild", "--db", db, "attribution")

    assert result.exit_code == 2
    assert "unknown projection 'attribution'" in result.stderr


def test_a_terminal_gets_a_progress_bar_with_rate_and_time_left(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    screen = io.StringIO()
    terminal = Console(file=screen, force_terminal=True, width=100)
    monkeypatch.setattr(commands_projections, "err_console", terminal)

    result = runner.invoke(
        app,
        ["rebuild", "--db", db, "--check", "--json", "lineage"],
        env={"DISPATCHLEDGER_BATCH_SIZE": "2"},
    )

    assert result.exit_code == 0
    drawn = screen.getvalue()
    assert "rebuilding" in drawn
    assert "/s" in drawn
    assert json.loads(result.stdout)["identical"] is True
