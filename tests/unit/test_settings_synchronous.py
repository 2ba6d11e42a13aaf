"""DISPATCHLEDGER_SQLITE_SYNCHRONOUS: read, checked, passed on to the store."""

from __future__ import annotations

import pytest

from dispatchledger.adapters.settings import (
    SQLITE_SYNCHRONOUS,
    VARIABLES,
    Settings,
)
from dispatchledger.domain.errors import InvalidCommand


def test_full_by_default_and_passed_to_the_sqlite_store() -> None:
    settings = Settings.from_env({"DISPATCHLEDGER_DATABASE_URL": "sqlite:///x.db"})
    env = settings.event_store_env()
    assert env["SQLITE_SYNCHRONOUS"] == "FULL"
    assert env["PERSISTENCE_MODULE"].endswith("sqlite_store:LedgerSQLiteFactory")


def test_normal_is_accepted_in_any_case() -> None:
    settings = Settings.from_env({SQLITE_SYNCHRONOUS: " normal "})
    assert settings.sqlite_synchronous == "NORMAL"


def test_another_level_is_refused_naming_the_variable() -> None:
    with pytest.raises(InvalidCommand, match="DISPATCHLEDGER_SQLITE_SYNCHRONOUS"):
        Settings.from_env({SQLITE_SYNCHRONOUS: "OFF"})


def test_the_variable_is_documented() -> None:
    assert "power loss" in VARIABLES[SQLITE_SYNCHRONOUS]
