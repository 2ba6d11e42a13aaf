"""Driver errors become the project's typed errors, with secrets kept out."""

from __future__ import annotations

import errno
import sqlite3

import psycopg
import pytest
from eventsourcing.persistence import OperationalError
from psycopg import errors as pg
from psycopg_pool import PoolTimeout

from dispatchledger.adapters import errors as translation
from dispatchledger.adapters.errors import ErrorTranslator, classify
from dispatchledger.domain.errors import (
    ConcurrencyConflict,
    DatabaseLocked,
    DatabaseUnavailable,
    PersistenceError,
    StorageFull,
)

URL = "postgresql://shop:***@db.example:5432/ledger"


def wrapped(error: Exception) -> OperationalError:
    """The error as ``eventsourcing`` raises it: its own type, the driver's as cause."""
    try:
        raise OperationalError(str(error)) from error
    except OperationalError as library_error:
        return library_error


@pytest.mark.parametrize(
    ("driver_error", "expected"),
    [
        (
            pg.LockNotAvailable("canceling statement due to lock timeout"),
            DatabaseLocked,
        ),
        (pg.DeadlockDetected("deadlock detected"), DatabaseLocked),
        (
            pg.DiskFull('could not extend file "base/1/2": No space left on device'),
            StorageFull,
        ),
        (pg.TooManyConnections("sorry, too many clients already"), DatabaseUnavailable),
        (
            pg.InvalidPassword('password authentication failed for user "shop"'),
            DatabaseUnavailable,
        ),
        (
            pg.InvalidCatalogName('database "ledger" does not exist'),
            DatabaseUnavailable,
        ),
        (pg.AdminShutdown("terminating connection"), DatabaseUnavailable),
        (pg.UndefinedTable('relation "x" does not exist'), PersistenceError),
    ],
)
def test_postgres_errors_are_classified_by_sqlstate(
    driver_error: psycopg.Error, expected: type[PersistenceError]
) -> None:
    assert classify(wrapped(driver_error)) is expected


def test_connection_failures_without_sqlstate_are_unavailable() -> None:
    refused = psycopg.OperationalError(
        'connection failed: connection to server at "127.0.0.1", port 1 failed:'
        " Connection refused"
    )
    no_pool = PoolTimeout("couldn't get a connection after 5.00 sec")
    dropped = psycopg.OperationalError(
        "consuming input failed: server closed the connection unexpectedly"
    )

    assert classify(wrapped(refused)) is DatabaseUnavailable
    assert classify(wrapped(no_pool)) is DatabaseUnavailable
    assert classify(wrapped(dropped)) is DatabaseUnavailable


def test_a_full_sqlite_database_is_storage_full() -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute("PRAGMA max_page_count = 2")
    conn.execute("CREATE TABLE t (x TEXT)")
    with pytest.raises(sqlite3.OperationalError) as full:
        conn.executemany("INSERT INTO t VALUES (?)", [("x" * 4000,)] * 10)
    conn.close()

    assert classify(wrapped(full.value)) is StorageFull


def test_a_locked_sqlite_database_is_locked() -> None:
    busy = sqlite3.OperationalError("database is locked")
    busy.sqlite_errorcode = sqlite3.SQLITE_BUSY  # type: ignore[attr-defined]

    assert classify(wrapped(busy)) is DatabaseLocked


def test_no_space_on_device_is_storage_full() -> None:
    assert classify(OSError(errno.ENOSPC, "No space left on device")) is StorageFull


def test_message_names_the_database_and_hides_secrets() -> None:
    translate = ErrorTranslator(where=URL, secrets=("hunter2",))
    driver_error = pg.InvalidPassword(
        'password authentication failed for user "shop" (tried hunter2)'
    )

    error = translate(wrapped(driver_error))

    assert isinstance(error, DatabaseUnavailable)
    assert str(error) == (
        f"the database cannot be reached ({URL}): password authentication failed"
        ' for user "shop" (tried ***)'
    )


def test_every_storage_failure_kind_is_reachable_and_worded() -> None:
    mapped = (
        set(translation.SQLSTATES.values())
        | set(translation.SQLSTATE_CLASSES.values())
        | set(translation.SQLITE_CODES.values())
        | set(translation.OS_ERRNOS.values())
    )
    kinds = {
        cls
        for cls in PersistenceError.__subclasses__()
        if cls is not ConcurrencyConflict
    }

    assert mapped == kinds
    assert set(translation.LEADS) == kinds | {PersistenceError}
