"""PostgreSQL event storage: first-use set-up and the recorders the ledger uses.

``eventsourcing`` creates its tables, types and functions itself
(``CREATE ... IF NOT EXISTS``), but two processes doing that at the same moment can
still collide in the catalogue (a unique violation on ``pg_type``). :func:`first_use`
serialises that step across processes with an advisory lock, after making sure the
schema exists. :class:`PostgresLedgerFactory` is the library's factory with
recorders that report timeouts at once instead of retrying them.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast

import psycopg
from eventsourcing.persistence import (
    InterfaceError,
    Notification,
    OperationalError,
    StoredEvent,
)
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresDatastore,
    PostgresFactory,
)
from psycopg import sql
from psycopg_pool import PoolTimeout

from dispatchledger.adapters.settings import Settings

logger = logging.getLogger(__name__)

_Method = Callable[..., Any]


def _unretried(cls: type[PostgresAggregateRecorder], name: str) -> _Method:
    """The library's method without its own retry loop."""
    method = getattr(cls, name)
    return cast(_Method, getattr(method, "__wrapped__", method))


class _FailFast:
    """Retries only a connection that broke; gives up at once on timeouts.

    The library retries a failed call ten times, lock and connection timeouts
    included, so a writer would wait ten lock timeouts (or ten connection
    timeouts when the server is down) before hearing of it.
    """

    connection_attempts = 3
    retry_wait_seconds = 0.2
    datastore: PostgresDatastore

    def _attempt(self, method: _Method, *args: Any, **kwargs: Any) -> Any:
        for attempt in range(1, self.connection_attempts + 1):
            try:
                return method(self, *args, **kwargs)
            except (InterfaceError, OperationalError) as error:
                if attempt == self.connection_attempts or not _worth_retrying(error):
                    raise
                logger.info("%s failed (%s); retrying", method.__name__, error)
                # The other pooled connections most likely broke too: drop them
                # all now rather than meeting them one attempt at a time.
                self.datastore.pool.check()
                time.sleep(self.retry_wait_seconds)
        raise AssertionError("unreachable")  # pragma: no cover


class PostgresLedgerSnapshotRecorder(_FailFast, PostgresAggregateRecorder):
    """The library's snapshot recorder, failing fast (see :class:`_FailFast`)."""

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        method = _unretried(PostgresAggregateRecorder, "insert_events")
        return cast(
            Sequence[int] | None, self._attempt(method, stored_events, **kwargs)
        )

    def select_events(self, *args: Any, **kwargs: Any) -> Sequence[StoredEvent]:
        method = _unretried(PostgresAggregateRecorder, "select_events")
        return cast(Sequence[StoredEvent], self._attempt(method, *args, **kwargs))


class PostgresLedgerRecorder(_FailFast, PostgresApplicationRecorder):
    """The library's event recorder, failing fast (see :class:`_FailFast`)."""

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        method = _unretried(PostgresApplicationRecorder, "insert_events")
        return cast(
            Sequence[int] | None, self._attempt(method, stored_events, **kwargs)
        )

    def select_events(self, *args: Any, **kwargs: Any) -> Sequence[StoredEvent]:
        method = _unretried(PostgresApplicationRecorder, "select_events")
        return cast(Sequence[StoredEvent], self._attempt(method, *args, **kwargs))

    def select_notifications(self, *args: Any, **kwargs: Any) -> Sequence[Notification]:
        method = _unretried(PostgresApplicationRecorder, "select_notifications")
        return cast(Sequence[Notification], self._attempt(method, *args, **kwargs))

    def max_notification_id(self) -> int | None:
        method = _unretried(PostgresApplicationRecorder, "max_notification_id")
        return cast(int | None, self._attempt(method))


class PostgresLedgerFactory(PostgresFactory):
    """The library's PostgreSQL factory, building the recorders above."""

    aggregate_recorder_class = PostgresLedgerSnapshotRecorder
    application_recorder_class = PostgresLedgerRecorder


_WAITED_IN_VAIN = (
    psycopg.errors.LockNotAvailable,
    psycopg.errors.QueryCanceled,
    PoolTimeout,
)


def _worth_retrying(error: BaseException) -> bool:
    """Only a dropped connection is worth another go; waiting again is not."""
    return not isinstance(error.__cause__, _WAITED_IN_VAIN)


def advisory_key(schema: str) -> int:
    """A stable 64-bit lock key for setting up ``schema`` (same in every process)."""
    digest = hashlib.sha256(f"dispatchledger:setup:{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def first_use(settings: Settings, tables: Sequence[str]) -> Iterator[bool]:
    """Hold the set-up lock for the configured schema, creating the schema if new.

    Yields whether every one of ``tables`` exists already: then the library need
    not run its ``CREATE`` statements, which would queue behind any writer's
    table lock. Connecting here first also means a wrong URL fails at once with
    the driver's own reason (refused, unknown role) rather than a pool timeout.
    """
    schema = settings.postgres_schema
    args = settings.postgres_connect_args()
    with psycopg.connect(autocommit=True, **args) as conn:  # type: ignore[arg-type]
        # Waiting for the lock is bounded like any other lock wait.
        timeout = sql.Literal(f"{settings.lock_timeout_seconds}s")
        conn.execute(sql.SQL("SET lock_timeout = {}").format(timeout))
        conn.execute("SELECT pg_advisory_lock(%s)", (advisory_key(schema),))
        exists = conn.execute(
            "SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)
        ).fetchone()
        if exists is None:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
            logger.info("created schema %s", schema)
        found = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = %s"
            " AND tablename = ANY(%s)",
            (schema, list(tables)),
        ).fetchone()
        yield found is not None and found[0] == len(tables)
