"""The bulk SQLite recorder: consecutive notification ids, all or nothing."""

from __future__ import annotations

from uuid import UUID

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent

from dispatchledger.adapters.bootstrap import open_ledger
from dispatchledger.adapters.sqlite_store import BulkSQLiteApplicationRecorder


def _event(stream: int, version: int) -> StoredEvent:
    return StoredEvent(
        originator_id=UUID(int=stream),
        originator_version=version,
        topic="dispatchledger:Test",
        state=b'{"n":%d}' % version,
    )


def test_a_transaction_gets_consecutive_notification_ids(sqlite_url: str) -> None:
    ledger = open_ledger(sqlite_url)
    try:
        recorder = ledger.recorder
        assert isinstance(recorder, BulkSQLiteApplicationRecorder)
        first = recorder.insert_events([_event(1, 1), _event(2, 1), _event(1, 2)])
        second = recorder.insert_events([_event(3, 1), _event(3, 2)])
        assert first == [1, 2, 3]
        assert second == [4, 5]
        notifications = recorder.select_notifications(start=1, limit=10)
        assert [
            (n.id, n.originator_id, n.originator_version) for n in notifications
        ] == [
            (1, UUID(int=1), 1),
            (2, UUID(int=2), 1),
            (3, UUID(int=1), 2),
            (4, UUID(int=3), 1),
            (5, UUID(int=3), 2),
        ]
    finally:
        ledger.close()


def test_a_conflicting_batch_writes_nothing(sqlite_url: str) -> None:
    ledger = open_ledger(sqlite_url)
    try:
        recorder = ledger.recorder
        recorder.insert_events([_event(1, 1)])
        with pytest.raises(IntegrityError):
            recorder.insert_events([_event(2, 1), _event(1, 1)])
        assert recorder.max_notification_id() == 1
        assert recorder.select_events(UUID(int=2)) == []
    finally:
        ledger.close()


@pytest.mark.parametrize(("level", "code"), [("FULL", 2), ("NORMAL", 1)])
def test_connections_use_the_configured_synchronous_level(
    sqlite_url: str, level: str, code: int
) -> None:
    ledger = open_ledger(sqlite_url, env={"DISPATCHLEDGER_SQLITE_SYNCHRONOUS": level})
    try:
        datastore = ledger.recorder.datastore  # type: ignore[attr-defined]
        with datastore.transaction(commit=False) as cursor:
            cursor.execute("PRAGMA synchronous")
            assert cursor.fetchone()[0] == code
            cursor.execute("PRAGMA journal_mode")
            assert cursor.fetchone()[0] == "wal"
    finally:
        ledger.close()
