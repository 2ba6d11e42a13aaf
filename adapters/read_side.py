"""Opening the read side: the ledger's notification log, waiting on it, wiring.

Why reading ``id > position`` never skips an event: on PostgreSQL the ledger's
recorder locks the events table (EXCLUSIVE mode) for each insert until it commits,
so notification ids are committed in increasing order. Once a reader has seen id
N, no transaction can later commit an id below N (ids of rolled-back inserts stay
gaps for ever and are never seen). On SQLite one writer at a time gives the same
guarantee.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Mapping, Sequence
from typing import Any, Protocol

import psycopg
from eventsourcing.persistence import PersistenceError as LibraryPersistenceError
from psycopg import sql

from dispatchledger.adapters.bootstrap import open_ledger
from dispatchledger.adapters.errors import ErrorTranslator
from dispatchledger.adapters.settings import Settings
from dispatchledger.adapters.sqlalchemy_projections import (
    SQLAlchemyProjectionStore,
    projection_engine,
)
from dispatchledger.domain.application import DispatchLedger
from dispatchledger.projections.framework import Projection
from dispatchledger.projections.read_models import default_projections
from dispatchledger.projections.service import ReadModels

logger = logging.getLogger(__name__)


class Waiter(Protocol):
    """Blocks until new events may exist, or for at most ``seconds``."""

    def listen(self) -> None: ...

    def wait(self, seconds: float) -> None: ...

    def close(self) -> None: ...


class PollingWaiter:
    """Waits by sleeping: used on SQLite and in memory."""

    def listen(self) -> None:
        """Nothing to set up: every wait is a poll."""

    def wait(self, seconds: float) -> None:
        time.sleep(seconds)

    def close(self) -> None:
        """Nothing to release."""


class ListenWaiter:
    """Waits for the NOTIFY the PostgreSQL recorder sends on every insert."""

    def __init__(
        self,
        connect_args: Mapping[str, Any],
        channel: str,
        translate: ErrorTranslator,
    ) -> None:
        self.connect_args = dict(connect_args)
        self.channel = channel
        self.translate = translate
        self.connection: psycopg.Connection[Any] | None = None

    def listen(self) -> None:
        self._connected()

    def _connected(self) -> psycopg.Connection[Any]:
        if self.connection is None:
            try:
                self.connection = psycopg.connect(autocommit=True, **self.connect_args)
                listen = sql.SQL("LISTEN {}").format(sql.Identifier(self.channel))
                self.connection.execute(listen)
            except psycopg.Error as error:
                self.close()
                raise self.translate(error) from error
        return self.connection

    def wait(self, seconds: float) -> None:
        try:
            for _ in self._connected().notifies(timeout=seconds, stop_after=1):
                logger.debug("woken by a notification on %s", self.channel)
        except psycopg.Error as error:
            # A dropped connection is opened again on the next wait.
            self.close()
            raise self.translate(error) from error

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


class LedgerEventLog:
    """Reads the ledger's notifications in batches and decodes them on demand."""

    def __init__(self, ledger: DispatchLedger, waiter: Waiter) -> None:
        self.ledger = ledger
        self.waiter = waiter

    def read(
        self,
        after: int,
        limit: int,
        until: int | None = None,
        topics: Collection[str] = (),
    ) -> Sequence[tuple[int, str, Any]]:
        if until is not None and until <= after:
            return []
        try:
            notifications = self.ledger.recorder.select_notifications(
                start=after,
                limit=limit,
                stop=until,
                topics=sorted(topics),
                inclusive_of_start=False,
            )
        except LibraryPersistenceError as error:
            raise self.ledger.translate_error(error) from error
        return [(n.id, n.topic, n) for n in notifications]

    def decode(self, record: Any) -> Any:
        return self.ledger.mapper.to_domain_event(record)

    def head(self) -> int:
        try:
            return self.ledger.recorder.max_notification_id() or 0
        except LibraryPersistenceError as error:
            raise self.ledger.translate_error(error) from error

    def listen(self) -> None:
        self.waiter.listen()

    def wait(self, seconds: float) -> None:
        self.waiter.wait(seconds)

    def close(self) -> None:
        self.waiter.close()


def open_read_models(
    url: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    ledger: DispatchLedger | None = None,
    projections: Sequence[Projection] | None = None,
) -> ReadModels:
    """Open the read models on ``url`` (the ledger's database).

    ``ledger`` reuses an open ledger (needed for ``memory://``, whose events live
    in that ledger only); ``projections`` replaces the default set, e.g. to add
    one.
    """
    settings = Settings.for_url(url, env)
    owned = ledger is None
    source = (
        ledger if ledger is not None else open_ledger(settings.database_url, env=env)
    )
    waiter = _waiter(settings, source)
    log = LedgerEventLog(source, waiter)

    def close() -> None:
        waiter.close()
        if owned:
            source.close()

    return ReadModels(
        SQLAlchemyProjectionStore(
            projection_engine(settings), ErrorTranslator.for_settings(settings)
        ),
        log,
        default_projections() if projections is None else projections,
        settings.batch_size,
        on_close=close,
    )


def _waiter(settings: Settings, ledger: DispatchLedger) -> Waiter:
    if settings.backend != "postgresql":
        return PollingWaiter()
    channel = getattr(ledger.recorder, "channel_name", "")
    if not channel:
        return PollingWaiter()
    translate = ErrorTranslator.for_settings(settings)
    return ListenWaiter(settings.postgres_connect_args(), channel, translate)


__all__ = ["LedgerEventLog", "ListenWaiter", "PollingWaiter", "open_read_models"]
