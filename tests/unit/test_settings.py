"""Settings: one URL selects and configures the event store."""

from __future__ import annotations

import pytest

from dispatchledger.adapters.settings import (
    DATABASE_URL,
    DEFAULT_DATABASE_URL,
    LOCK_TIMEOUT,
    POSTGRES_FACTORY_TOPIC,
    VARIABLES,
    Settings,
)
from dispatchledger.domain.errors import InvalidCommand


def test_defaults_to_a_sqlite_file_with_nothing_configured() -> None:
    settings = Settings.from_env({})

    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.event_store_env() == {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": "dispatchledger.db",
        "SQLITE_LOCK_TIMEOUT": "5",
    }


def test_memory_url_selects_the_in_memory_store() -> None:
    settings = Settings.from_env({DATABASE_URL: "memory://"})

    assert settings.backend == "memory"
    assert settings.event_store_env() == {"PERSISTENCE_MODULE": "eventsourcing.popo"}


def test_postgres_url_gives_every_connection_setting_and_the_schema() -> None:
    url = "postgresql://ops:s3cret@db.internal:6543/ledger?schema=marketing"

    env = Settings.from_env({DATABASE_URL: url, LOCK_TIMEOUT: "2"}).event_store_env()

    assert env["PERSISTENCE_MODULE"] == POSTGRES_FACTORY_TOPIC
    assert env["POSTGRES_HOST"] == "db.internal"
    assert env["POSTGRES_PORT"] == "6543"
    assert env["POSTGRES_DBNAME"] == "ledger"
    assert env["POSTGRES_USER"] == "ops"
    assert env["POSTGRES_PASSWORD"] == "s3cret"
    assert env["POSTGRES_SCHEMA"] == "marketing"
    assert env["POSTGRES_LOCK_TIMEOUT"] == "2"


def test_redacted_url_hides_the_password() -> None:
    settings = Settings(database_url="postgresql://ops:s3cret@db/ledger")

    assert "s3cret" not in settings.redacted_url()


def test_unsupported_url_is_refused_without_echoing_the_password() -> None:
    with pytest.raises(InvalidCommand) as caught:
        _ = Settings.from_env({DATABASE_URL: "mysql://ops:s3cret@db/ledger"}).url

    assert "unsupported database URL" in str(caught.value)
    assert "s3cret" not in str(caught.value)


@pytest.mark.parametrize("raw", ["0", "-3", "soon"])
def test_lock_timeout_must_be_a_positive_whole_number(raw: str) -> None:
    with pytest.raises(InvalidCommand, match=LOCK_TIMEOUT):
        Settings.from_env({LOCK_TIMEOUT: raw})


def test_every_variable_is_documented() -> None:
    assert set(VARIABLES) >= {DATABASE_URL, LOCK_TIMEOUT}
    assert all(text.strip() for text in VARIABLES.values())
