"""SQLite persistence tuned for bulk writes, on top of ``eventsourcing.sqlite``.

Two differences from the library's SQLite infrastructure, nothing else:

* the application recorder inserts a transaction's events with one ``executemany``
  instead of one ``execute`` per event, and derives their notification ids from the
  rowid of the last one (the transaction holds SQLite's write lock from its first
  insert, so the rowids it is given are consecutive; this is checked, not assumed);
* every connection is opened with a larger page cache, a longer write-ahead log
  between checkpoints, and the ``synchronous`` level the settings give
  (``DISPATCHLEDGER_SQLITE_SYNCHRONOUS``): ``FULL``, the library's level, flushes
  the write-ahead log at every commit and survives a power loss; ``NORMAL`` flushes
  it at checkpoints only, so a committed transaction survives a crash of the
  process but the last ones may be lost if the machine loses power.

The table layout is the library's, so a database written by either is read by both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import ProgrammingError, StoredEvent
from eventsourcing.sqlite import (
    SQLiteApplicationRecorder,
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteCursor,
    SQLiteFactory,
)
from eventsourcing.utils import Environment, EnvType

SYNCHRONOUS_ENV = "SQLITE_SYNCHRONOUS"
"""Key of the ``synchronous`` level in the environment given to the factory."""

SYNCHRONOUS_LEVELS = ("FULL", "NORMAL")

CACHE_KIB = 65536
"""Page cache per connection (SQLite's default is 2 MiB). Stream ids are random, so
each batch of a bulk send writes all over the primary-key index; a cache that holds
more of it saves reading pages back at every batch (about 15% at 200,000 users)."""

WAL_AUTOCHECKPOINT_PAGES = 10000
"""Pages (4 KiB) the write-ahead log grows to before it is copied into the database
(SQLite's default is 1000). Fewer checkpoints write an index page once for several
batches instead of once per batch (about 10% at 200,000 users); the log file can
reach about 40 MiB."""


class BulkSQLiteApplicationRecorder(SQLiteApplicationRecorder):
    """Inserts each transaction's events with one ``executemany``."""

    def _insert_events(
        self,
        c: SQLiteCursor,
        stored_events: Sequence[StoredEvent],
        **_: Any,
    ) -> Sequence[int] | None:
        if not stored_events:
            return []
        c.executemany(
            self.insert_events_statement,
            [
                (
                    _key(s.originator_id),
                    s.originator_version,
                    s.topic,
                    s.state,
                )
                for s in stored_events
            ],
        )
        c.execute("SELECT last_insert_rowid()")
        last = int(c.fetchone()[0])
        first = last - len(stored_events) + 1
        self._check_consecutive(c, stored_events[0], first)
        return list(range(first, last + 1))

    def _check_consecutive(
        self, c: SQLiteCursor, stored: StoredEvent, expected: int
    ) -> None:
        # SQLite gives a new row the largest rowid plus one, so rows inserted under
        # one write lock are numbered consecutively; only a table that reached the
        # largest rowid gets random ones, which would be reported here.
        c.execute(
            f"SELECT rowid FROM {self.events_table_name}"
            " WHERE originator_id=? AND originator_version=?",
            (_key(stored.originator_id), stored.originator_version),
        )
        row = c.fetchone()
        if row is None or int(row[0]) != expected:
            raise ProgrammingError(
                f"notification ids of {self.events_table_name} are not consecutive"
            )


def _key(originator_id: UUID | str) -> str:
    return originator_id.hex if isinstance(originator_id, UUID) else originator_id


class _TunedConnectionPool(SQLiteConnectionPool):
    """Opens each connection with the configured ``synchronous`` level."""

    def __init__(self, *, synchronous: str, **options: Any) -> None:
        self.synchronous = synchronous
        super().__init__(**options)

    def _create_connection(self) -> SQLiteConnection:
        connection = super()._create_connection()
        if not self.is_sqlite_memory_mode:
            with connection.cursor() as cursor:
                for pragma in connection_pragmas(self.synchronous):
                    cursor.execute(pragma)
        return connection


def connection_pragmas(synchronous: str) -> list[str]:
    """The settings each connection is opened with (the benchmarks reuse them)."""
    return [
        f"PRAGMA synchronous={synchronous}",
        f"PRAGMA cache_size=-{CACHE_KIB}",
        f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}",
    ]


class LedgerSQLiteFactory(SQLiteFactory):
    """The library's SQLite factory with bulk inserts and a chosen durability."""

    application_recorder_class = BulkSQLiteApplicationRecorder

    def __init__(self, env: Environment | EnvType | None):
        super().__init__(env)
        level = (self.env.get(SYNCHRONOUS_ENV) or "FULL").upper()
        if level not in SYNCHRONOUS_LEVELS:
            msg = f"{SYNCHRONOUS_ENV} must be one of {SYNCHRONOUS_LEVELS}: {level!r}"
            raise OSError(msg)
        # The library's datastore has opened no connection yet: its pool is
        # replaced by one that sets the level on each connection it opens.
        datastore = self.datastore
        library_pool = datastore.pool
        datastore.pool = _TunedConnectionPool(
            synchronous=level,
            db_name=library_pool.db_name,
            lock_timeout=library_pool.lock_timeout,
        )
        library_pool.close()
