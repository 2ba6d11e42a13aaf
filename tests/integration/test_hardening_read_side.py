"""Hostile input and odd ids on the read side: typed errors, valid Mermaid."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from dispatchledger.adapters.cli import app
from dispatchledger.adapters.read_side import open_read_models
from dispatchledger.domain.errors import InvalidCommand

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
    result = CliRunner().invoke(
        app, ["dispatches", "--user", "ana\x07", "--db", sqlite_url]
    )

    assert result.exit_code == 2
    assert "user" in result.stderr
    assert "U+0007" in result.stderr
