"""Hostile input and odd ids on the read side: typed errors, valid Mermaid."""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from read_model_scenarios import at, define_all
from typer.testing import CliRunner

from dispatchledger.adapters import open_ledger
from dispatchledger.adapters.cli import app
from dispatchledger.adapters.errors import ErrorTranslator
from dispatchledger.adapters.read_side import open_read_models
from dispatchledger.domain.errors import InvalidCommand
from dispatchledger.projections.mermaid import (
    dispatch_lineage_chart,
    user_lineage_chart,
)
from dispatchledger.projections.queries import (
    DispatchLineage,
    UserDispatch,
    UserLineage,
)

SENT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgres"])
def read_url(
    request: pytest.FixtureRequest, sqlite_url: str, fresh_postgres_url: str
) -> str:
    return sqlite_url if request.param == "sqlite" else fresh_postgres_url


@pytest.mark.parametrize("bad", ["a\x00b", "line\nbreak", "   "])
def test_a_query_id_no_command_could_record_is_invalid_input_on_every_backend(
    read_url: str, bad: str
) -> None:
    # PostgreSQL refuses NUL in text: without checking first, the same input was
    # "no rows" on SQLite and a database failure on PostgreSQL.
    models = open_read_models(read_url)
    try:
        for query in (
            lambda: models.by_user(bad),
            lambda: models.by_dispatch(bad),
            lambda: models.by_step("onboarding", bad),
            lambda: models.user_lineage(bad),
            lambda: models.dispatch_lineage(bad),
        ):
            with pytest.raises(InvalidCommand):
                query()
    finally:
        models.close()


def test_the_cli_names_the_bad_query_id_and_exits_2(sqlite_url: str) -> None:
    open_ledger(sqlite_url).close()

    result = CliRunner().invoke(
        app, ["dispatches", "--user", "ana\x07", "--db", sqlite_url]
    )

    assert result.exit_code == 2
    assert "user" in result.stderr
    assert "U+0007" in result.stderr


def _campaign_message(
    program_id: str, source_id: str, dispatch_id: str
) -> UserDispatch:
    return UserDispatch(
        user_id="ana",
        program_kind="campaign",
        program_id=program_id,
        source_kind="occurrence",
        source_id=source_id,
        entry_id=None,
        step_id=None,
        channel="email",
        variation_id="v",
        dispatch_id=dispatch_id,
        sent_at=SENT,
    )


def _labels(chart: str) -> list[str]:
    return re.findall(r'\["(.*)"\]', chart)


def test_mermaid_labels_escape_entities_html_and_line_separators() -> None:
    lineage = UserLineage(
        user_id='a#quot;b <i>x</i>\u2028y"[z]',
        journeys=[],
        campaign_messages=[],
    )

    chart = user_lineage_chart(lineage)

    assert chart == (
        "flowchart LR\n"
        '    n0(["user a#35;quot;b #60;i#62;x#60;/i#62;#8232;y#quot;[z]"])\n'
    )


def test_mermaid_keeps_sources_apart_whose_ids_join_to_the_same_text() -> None:
    lineage = UserLineage(
        user_id="ana",
        journeys=[],
        campaign_messages=[
            _campaign_message("a:b", "c", "d1"),
            _campaign_message("a", "b:c", "d2"),
        ],
    )

    labels = _labels(user_lineage_chart(lineage))

    assert "occurrence c" in labels
    assert "occurrence b:c" in labels


def test_the_demo_hint_names_the_database_it_recorded_into(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'elsewhere.db'}"

    result = CliRunner().invoke(app, ["demo", "--users", "10", "--db", url])

    assert result.exit_code == 0, result.output
    assert f"--user member-0000001 --db {url})\n" in result.stdout
    assert "dispatchledger-demo.db" not in result.stdout


def test_a_position_that_is_not_a_notification_id_is_a_typed_error_naming_it(
    sqlite_url: str,
) -> None:
    # SQLite keeps whatever is written into an INTEGER column; an edited
    # position used to surface as a TypeError from deep in the runner.
    open_ledger(sqlite_url).close()
    runner = CliRunner()
    assert runner.invoke(app, ["project", "--db", sqlite_url]).exit_code == 0
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT OR REPLACE INTO dl_projection_positions (name, position)"
                " VALUES ('lineage', 'abc')"
            )
        )
    engine.dispose()

    for command in (["project"], ["rebuild", "--check"], ["lineage", "--user", "a"]):
        result = runner.invoke(app, [*command, "--db", sqlite_url])

        assert result.exit_code == 2, result.output
        assert "dl_projection_positions" in result.stderr
        assert "'lineage'" in result.stderr
        assert "'abc'" in result.stderr


def test_a_position_beyond_the_last_event_is_refused_not_kept(sqlite_url: str) -> None:
    # A live position past the log's last notification made catch-up skip every
    # later event, and rebuild compared at that position, found the rows equal
    # and kept it: the projection would silently miss events for ever.
    ledger = open_ledger(sqlite_url)
    define_all(ledger)
    ledger.run_occurrence(
        campaign_id="weekly-news", occurrence_id="w1", audience=["ana"], at=at(1)
    )
    head = ledger.recorder.max_notification_id()
    ledger.close()
    open_ledger(sqlite_url).close()
    runner = CliRunner()
    assert runner.invoke(app, ["project", "--db", sqlite_url]).exit_code == 0
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE dl_projection_positions SET position = 99999"
                " WHERE name = 'dispatches_by_user'"
            )
        )
    engine.dispose()

    for command in (["project"], ["rebuild", "--check"], ["rebuild"]):
        result = runner.invoke(app, [*command, "--db", sqlite_url])

        assert result.exit_code == 2, result.output
        assert "'dispatches_by_user'" in result.stderr
        assert "99999" in result.stderr
        assert f"last notification {head}" in result.stderr


def test_a_database_error_message_leaves_out_the_statement_and_its_rows() -> None:
    # SQLAlchemy's text carries the SQL and ten parameter rows (user ids, dispatch
    # ids): kilobytes on one line, and user data in an error message.
    failed = sa.exc.OperationalError(
        "INSERT INTO dl_user_dispatches__rebuild (user_id) VALUES (?)",
        [("member-0000001",)],
        sqlite3.OperationalError("no such table: dl_user_dispatches__rebuild"),
    )

    message = str(ErrorTranslator(where="sqlite:///x.db")(failed))

    assert message.endswith(
        "(sqlite:///x.db): no such table: dl_user_dispatches__rebuild"
    )
    assert "member-0000001" not in message
    assert "INSERT" not in message


def test_a_stopped_follower_ends_after_the_batch_in_progress(sqlite_url: str) -> None:
    # SIGTERM sets the stop flag; it was read only between catch-ups, so a
    # follower with a backlog went on to the log's end before stopping.
    ledger = open_ledger(sqlite_url)
    define_all(ledger)
    ledger.run_occurrence(
        campaign_id="weekly-news",
        occurrence_id="w1",
        audience=["ana", "ben", "cy", "dee"],
        at=at(1),
    )
    ledger.close()
    models = open_read_models(sqlite_url, env={"DISPATCHLEDGER_BATCH_SIZE": "2"})
    asked: list[bool] = []

    def stopped() -> bool:
        asked.append(True)
        return len(asked) > 1  # enter the loop, then stop at the first check

    try:
        followed = models.follow(stopped, wait_seconds=0.01)
        rest = models.catch_up()
    finally:
        models.close()

    # One batch of two notifications, then the stop; the next catch-up does the
    # rest (four users got email and push: at least eight events).
    assert 0 < followed <= 2
    assert rest >= 6


def test_ctrl_c_ends_a_follower_with_the_count_of_what_it_projected(
    sqlite_url: str, tmp_path: Path
) -> None:
    # Ctrl-C raised KeyboardInterrupt inside follow(), whose count was lost:
    # the follower printed "events": 0 after projecting events.
    ledger = open_ledger(sqlite_url)
    define_all(ledger)
    command = [str(Path(sys.executable).parent / "dispatchledger")]
    follower = subprocess.Popen(
        [*command, "project", "--follow", "--interval", "0.05", "--db", sqlite_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert follower.stderr is not None
        while "following" not in follower.stderr.readline():
            pass
        ledger.run_occurrence(
            campaign_id="weekly-news", occurrence_id="w1", audience=["ana"], at=at(1)
        )
        models = open_read_models(sqlite_url)
        head = ledger.recorder.max_notification_id()
        while models.positions()["dispatches_by_user"] != head:
            time.sleep(0.05)
        models.close()
        follower.send_signal(signal.SIGINT)
        out, _ = follower.communicate(timeout=10)
    finally:
        follower.kill()
        ledger.close()

    assert follower.returncode == 0
    # Ana got the weekly news by email and by push: two messages decoded.
    assert json.loads(out)["events"] >= 2


def test_a_dispatch_chart_of_truncated_messages_does_not_understate_the_rest() -> None:
    # Only the first messages of a dispatch are listed: the users beyond the 50
    # named among them are a lower bound, not the number of other recipients.
    messages = [
        _campaign_message("weekly-news", "w1", "d1").model_copy(
            update={"user_id": f"user-{n:03d}"}
        )
        for n in range(60)
    ]
    lineage = DispatchLineage(
        dispatch_id="d1",
        chains=[],
        transmissions=[],
        messages=messages,
        messages_truncated=True,
    )

    labels = _labels(dispatch_lineage_chart(lineage))

    assert "at least 10 more recipients" in labels


@pytest.mark.parametrize(
    "command",
    [
        ["dispatches", "--user", "ana"],
        ["lineage", "--user", "ana"],
        ["rebuild", "--check"],
        ["project"],
        ["audit"],
        ["rejects"],
        ["attribution", "--campaign", "c"],
        ["render", "--campaign", "c", "--variation", "v"],
    ],
)
def test_commands_that_read_refuse_a_sqlite_file_that_does_not_exist(
    tmp_path: Path, command: list[str]
) -> None:
    missing = tmp_path / "mistyped.db"

    result = CliRunner().invoke(app, [*command, "--db", f"sqlite:///{missing}"])

    assert result.exit_code == 2
    assert f"no ledger at {missing}" in result.stderr
    assert not missing.exists()
