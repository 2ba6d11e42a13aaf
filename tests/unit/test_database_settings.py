"""Database URLs: PostgreSQL options, schemas, timeouts and hidden passwords."""

from __future__ import annotations

import pytest

from dispatchledger.adapters.settings import (
    CONNECT_TIMEOUT,
    DATABASE_URL,
    LOCK_TIMEOUT,
    POSTGRES_FACTORY_TOPIC,
    Settings,
)
from dispatchledger.domain.errors import InvalidCommand

PG = "postgresql://shop:hunter2@db.example:6543/ledger"


def test_postgres_url_configures_the_library() -> None:
    settings = Settings.from_env(
        {DATABASE_URL: f"{PG}?schema=dispatch", LOCK_TIMEOUT: "2", CONNECT_TIMEOUT: "3"}
    )

    env = settings.event_store_env()

    assert env["PERSISTENCE_MODULE"] == POSTGRES_FACTORY_TOPIC
    assert (env["POSTGRES_HOST"], env["POSTGRES_PORT"]) == ("db.example", "6543")
    assert (env["POSTGRES_USER"], env["POSTGRES_PASSWORD"]) == ("shop", "hunter2")
    assert (env["POSTGRES_DBNAME"], env["POSTGRES_SCHEMA"]) == ("ledger", "dispatch")
    assert env["POSTGRES_LOCK_TIMEOUT"] == "2"
    assert env["POSTGRES_CONNECT_TIMEOUT"] == "3"


def test_schema_defaults_to_public_and_postgres_scheme_is_accepted() -> None:
    settings = Settings(database_url="postgres://shop@db.example/ledger")

    assert settings.backend == "postgresql"
    assert settings.postgres_schema == "public"


def test_sqlalchemy_url_uses_psycopg_and_drops_schema() -> None:
    settings = Settings(database_url=f"{PG}?schema=dispatch")

    url = settings.sqlalchemy_url()

    assert url.render_as_string(hide_password=False) == (
        "postgresql+psycopg://shop:hunter2@db.example:6543/ledger"
    )


def test_password_is_hidden_and_listed_as_secret() -> None:
    settings = Settings(database_url=PG)

    assert settings.redacted_url() == "postgresql://shop:***@db.example:6543/ledger"
    assert settings.secrets == ("hunter2",)


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("?sslmode=require", "unknown option sslmode"),
        ("?schema=Bad-Name", "schema must be one lower-case name"),
        ("?schema=pg_catalog", "not starting with pg_"),
        ("?schema=a&schema=b", "schema must be one lower-case name"),
    ],
)
def test_bad_postgres_options_are_refused_without_the_password(
    query: str, reason: str
) -> None:
    with pytest.raises(InvalidCommand) as refused:
        Settings(database_url=PG + query).event_store_env()

    assert reason in str(refused.value)
    assert "hunter2" not in str(refused.value)
    assert refused.value.problems[0]["field"] == DATABASE_URL


def test_unsupported_scheme_is_refused_without_the_password() -> None:
    with pytest.raises(InvalidCommand) as refused:
        Settings(database_url="mysql://shop:hunter2@db/ledger").backend  # noqa: B018

    assert "mysql://shop:***@db/ledger" in str(refused.value)


def test_connect_timeout_must_be_positive() -> None:
    with pytest.raises(InvalidCommand, match=CONNECT_TIMEOUT):
        Settings.from_env({CONNECT_TIMEOUT: "0"})
