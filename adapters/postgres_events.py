"""PostgreSQL event storage: first-use set-up and the recorder the ledger uses.

``eventsourcing`` creates its tables, types and functions itself
(``CREATE ... IF NOT EXISTS``), but two processes doing that at the same moment can
still collide in the catalogue (a unique violation on ``pg_type``). :func:`first_use`
serialises that step across processes with an advisory lock, after making sure the
schema exists.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg import sql

from dispatchledger.adapters.settings import Settings

logger = logging.getLogger(__name__)

_InsertEvents = Callable[..., Sequence[int] | None]
_insert_events_once = cast(
    _InsertEvents,
    getattr(PostgresApplicationRecorder.insert_events, "__wrapped__"),  # noqa: B009
)


class PostgresLedgerRecorder(PostgresApplicationRecorder):
    """The library's recorder, failing fast when a lock cannot be had.

    The library retries a failed insert ten times, lock timeouts included, so a
    writer would wait ten lock timeouts before hearing of it. This recorder gives
    up on a lock timeout at once and retries only lost connections.
    """

    connection_attempts = 3
    retry_wait_seconds = 0.2

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        for attempt in range(1, self.connection_attempts + 1):
            try:
                return _insert_events_once(self, stored_events, **kwargs)
            except (InterfaceError, OperationalError) as error:
                if attempt == self.connection_attempts or not _worth_retrying(error):
                    raise
                logger.info("insert failed (%s); retrying", type(error).__name__)
                time.sleep(self.retry_wait_seconds)
        raise AssertionError("unreachable")  # pragma: no cover


def _worth_retrying(error: BaseException) -> bool:
    """Only a dropped connection is worth another go; waiting again is not."""
    cause = error.__cause__
    if isinstance(
        cause, psycopg.errors.LockNotAvailable | psycopg.errors.QueryCanceled
    ):
        return False
    return "couldn't get a connection" not in str(error)


def advisory_key(schema: str) -> int:
    """A stable 64-bit lock key for setting up ``schema`` (same in every process)."""
    digest = hashlib.sha256(f"dispatchledger:setup:{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def first_use(settings: Settings) -> Iterator[None]:
    """Hold the set-up lock for the configured schema, creating the schema if new.

    Connecting here first also means a wrong URL fails at once with the driver's
    own reason (refused, unknown role, wrong password) rather than a pool timeout.
    """
    schema = settings.postgres_schema
    args = settings.postgres_connect_args()
    with psycopg.connect(autocommit=True, **args) as conn:  # type: ignore[arg-type]
        conn.execute("SELECT pg_advisory_lock(%s)", (advisory_key(schema),))
        exists = conn.execute(
            "SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)
        ).fetchone()
        if exists is None:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
            logger.info("created schema %s", schema)
        yield
