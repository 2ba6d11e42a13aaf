"""The composition root: one function wires storage to the ledger."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping

from eventsourcing.persistence import PersistenceError as LibraryPersistenceError

from dispatchledger.adapters.settings import Settings
from dispatchledger.domain.application import (
    DispatchLedger,
    translate_persistence_error,
)
from dispatchledger.domain.errors import DatabaseUnavailable, PersistenceError
from dispatchledger.domain.ids import IdMinter, mint_dispatch_id, mint_entry_id


def open_ledger(
    url: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    mint: IdMinter = mint_dispatch_id,
    mint_entry: IdMinter = mint_entry_id,
) -> DispatchLedger:
    """Open the ledger on ``url`` (default: the environment, then a SQLite file).

    Raises :class:`DatabaseUnavailable` (or ``DatabaseLocked``) naming the
    database when its storage cannot be opened.
    """
    settings = Settings.from_env(env)
    if url is not None:
        settings = Settings(
            database_url=url,
            lock_timeout_seconds=settings.lock_timeout_seconds,
            batch_size=settings.batch_size,
        )
    env_of_store = settings.event_store_env()
    try:
        ledger = DispatchLedger(
            env_of_store, mint_dispatch_id=mint, mint_entry_id=mint_entry
        )
    except (LibraryPersistenceError, sqlite3.Error) as error:
        # The library lets some sqlite3 errors through unwrapped (a file
        # that is not a database fails while the connection is set up).
        raise _open_failure(settings, error) from error
    ledger.batch_size = settings.batch_size
    return ledger


def _open_failure(settings: Settings, error: Exception) -> PersistenceError:
    translated = translate_persistence_error(error)
    kind = type(translated)
    if kind is PersistenceError:
        kind = DatabaseUnavailable
    return kind(f"cannot open the database {settings.redacted_url()}: {error}")
