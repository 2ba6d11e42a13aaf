"""The composition root: one function wires storage to the ledger."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Mapping

import psycopg
from eventsourcing.persistence import PersistenceError as LibraryPersistenceError

from dispatchledger.adapters.errors import ErrorTranslator
from dispatchledger.adapters.postgres_events import first_use
from dispatchledger.adapters.settings import Settings
from dispatchledger.adapters.stream_readers import stream_reader_for
from dispatchledger.domain.application import DispatchLedger
from dispatchledger.domain.ids import IdMinter, mint_dispatch_id, mint_entry_id

logger = logging.getLogger(__name__)

_STORAGE_ERRORS = (LibraryPersistenceError, psycopg.Error, sqlite3.Error, OSError)


def open_ledger(
    url: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    mint: IdMinter = mint_dispatch_id,
    mint_entry: IdMinter = mint_entry_id,
) -> DispatchLedger:
    """Open the ledger on ``url`` (default: the environment, then a SQLite file).

    Tables are created on first use. Storage failures, here and in every later
    command, raise the project's :class:`~dispatchledger.domain.errors.PersistenceError`
    family with the URL's password hidden.
    """
    settings = Settings.for_url(url, env)
    translate = ErrorTranslator.for_settings(settings)
    try:
        ledger = _construct(settings, mint, mint_entry, translate)
    except _STORAGE_ERRORS as error:
        raise translate(error) from error
    ledger.batch_size = settings.batch_size
    # Bulk sends read a batch of participation streams with one query.
    ledger.stream_reader = stream_reader_for(ledger.recorder)
    logger.debug("ledger open on %s", settings.redacted_url())
    return ledger


def _construct(
    settings: Settings,
    mint: IdMinter,
    mint_entry: IdMinter,
    translate: ErrorTranslator,
) -> DispatchLedger:
    env = settings.event_store_env()

    def construct() -> DispatchLedger:
        return DispatchLedger(
            env,
            mint_dispatch_id=mint,
            mint_entry_id=mint_entry,
            translate_error=translate,
        )

    if settings.backend != "postgresql":
        return construct()
    prefix = DispatchLedger.name.lower()
    with first_use(settings, [f"{prefix}_events", f"{prefix}_snapshots"]) as ready:
        if ready:
            env["CREATE_TABLE"] = "no"
        return construct()
