"""Bulk stream readers: the events of many streams in one query.

The ledger decides a bulk send a batch of recipients at a time and needs each
recipient's participation stream first. The library's recorders read one stream per
query; these readers implement the
:class:`~dispatchledger.domain.application.StreamReader` protocol with one query per
batch of stream ids, for the recorders of ``eventsourcing.sqlite`` and
``eventsourcing.postgres``. They return exactly what
:class:`~dispatchledger.domain.application.RecorderStreamReader` returns: the same
streams, the same stored events, in version order.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, StoredEvent
from eventsourcing.postgres import PostgresAggregateRecorder
from eventsourcing.sqlite import SQLiteAggregateRecorder
from psycopg.sql import SQL, Identifier

from dispatchledger.domain.storage import RecorderStreamReader, StreamReader

SQLITE_MAX_IDS = 32766 if sqlite3.sqlite_version_info >= (3, 32, 0) else 999
"""Ids per SQLite query: its bound-parameter limit (999 before 3.32)."""

POSTGRES_MAX_IDS = 10000
"""Ids per PostgreSQL query (one array parameter, kept to a bounded size)."""


def _chunks(items: Sequence[UUID], size: int) -> list[Sequence[UUID]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


@dataclass
class SQLiteStreamReader:
    """Reads many streams of a SQLite event table with one ``IN (...)`` query."""

    recorder: SQLiteAggregateRecorder

    def read_streams(self, stream_ids: Sequence[UUID]) -> dict[UUID, list[StoredEvent]]:
        """Stored events of each given stream that has any, in version order."""
        found: dict[UUID, list[StoredEvent]] = {}
        for chunk in _chunks(stream_ids, SQLITE_MAX_IDS):
            self._read_chunk(chunk, found)
        return _in_given_order(stream_ids, found)

    def _read_chunk(
        self, chunk: Sequence[UUID], found: dict[UUID, list[StoredEvent]]
    ) -> None:
        # Streams are keyed by the caller's own objects, so a stream stored under
        # an upper-case or lower-case hex spelling comes back as asked for.
        by_key = {_sqlite_key(stream_id): stream_id for stream_id in chunk}
        marks = ",".join("?" * len(by_key))
        statement = (
            "SELECT originator_id, originator_version, topic, state"
            f" FROM {self.recorder.events_table_name}"
            f" WHERE originator_id IN ({marks})"
            " ORDER BY originator_id, originator_version"
        )
        with self.recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, list(by_key))
            rows = cursor.fetchall()
        for key, version, topic, state in rows:
            stream_id = by_key[key]
            found.setdefault(stream_id, []).append(
                StoredEvent(
                    originator_id=stream_id,
                    originator_version=version,
                    topic=topic,
                    state=state,
                )
            )


def _in_given_order(
    stream_ids: Sequence[UUID], found: dict[UUID, list[StoredEvent]]
) -> dict[UUID, list[StoredEvent]]:
    """The streams found, in the order they were asked for (as the recorder does)."""
    return {sid: found[sid] for sid in stream_ids if sid in found}


def _sqlite_key(stream_id: UUID | str) -> str:
    return stream_id.hex if isinstance(stream_id, UUID) else stream_id


@dataclass
class PostgresStreamReader:
    """Reads many streams of a PostgreSQL event table with one ``= ANY(%s)`` query."""

    recorder: PostgresAggregateRecorder

    def read_streams(self, stream_ids: Sequence[UUID]) -> dict[UUID, list[StoredEvent]]:
        """Stored events of each given stream that has any, in version order."""
        found: dict[UUID, list[StoredEvent]] = {}
        statement = SQL(
            "SELECT originator_id, originator_version, topic, state"
            " FROM {schema}.{table} WHERE originator_id = ANY(%s)"
            " ORDER BY originator_id, originator_version"
        ).format(
            schema=Identifier(self.recorder.datastore.schema),
            table=Identifier(self.recorder.events_table_name),
        )
        for chunk in _chunks(stream_ids, POSTGRES_MAX_IDS):
            by_key = {stream_id: stream_id for stream_id in chunk}
            with (
                self.recorder.datastore.get_connection() as connection,
                connection.cursor() as cursor,
            ):
                cursor.execute(statement, (list(by_key),), prepare=True)
                rows = cursor.fetchall()
            for row in rows:
                stream_id = by_key[row["originator_id"]]
                found.setdefault(stream_id, []).append(
                    StoredEvent(
                        originator_id=stream_id,
                        originator_version=row["originator_version"],
                        topic=row["topic"],
                        state=bytes(row["state"]),
                    )
                )
        return _in_given_order(stream_ids, found)


def stream_reader_for(recorder: ApplicationRecorder) -> StreamReader:
    """The fastest reader for ``recorder``: a bulk one where there is one."""
    if isinstance(recorder, SQLiteAggregateRecorder):
        return SQLiteStreamReader(recorder)
    if isinstance(recorder, PostgresAggregateRecorder):
        return PostgresStreamReader(recorder)
    return RecorderStreamReader(recorder)
