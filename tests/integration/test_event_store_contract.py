"""The event store port's contract, the same on in-memory, SQLite and PostgreSQL.

The port is the ``eventsourcing`` application recorder that :func:`open_ledger`
configures from the URL, and the stream reader the ledger loads states with.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError, StoredEvent

from dispatchledger.adapters.bootstrap import open_ledger
from dispatchledger.domain.application import DispatchLedger
from dispatchledger.domain.ids import campaign_stream_id
from dispatchledger.domain.storage import RecorderStreamReader
from dispatchledger.domain.values import (
    CampaignDefinition,
    ConversionBehavior,
    DeliveryType,
    MessageVariation,
)

PARIS_MORNING = datetime(
    2025, 3, 1, 9, 0, 0, 123456, tzinfo=timezone(timedelta(hours=1))
)
ORDER_ID = UUID("6f1c2a4e-8b3d-4e5f-9a6b-7c8d9e0f1a2b")


@pytest.fixture
def ledger(any_url: str) -> Iterator[DispatchLedger]:
    opened = open_ledger(any_url)
    yield opened
    opened.close()


def stored(stream: UUID, version: int, body: bytes = b"{}") -> StoredEvent:
    return StoredEvent(
        originator_id=stream,
        originator_version=version,
        topic="contract:Noted",
        state=body,
    )


def test_a_new_store_is_empty(ledger: DispatchLedger) -> None:
    assert ledger.recorder.max_notification_id() is None
    assert list(ledger.recorder.select_events(uuid4())) == []


def test_events_come_back_per_stream_in_version_order(ledger: DispatchLedger) -> None:
    first, second = uuid4(), uuid4()

    ledger.recorder.insert_events([stored(first, 1, b"a"), stored(second, 1, b"x")])
    ledger.recorder.insert_events([stored(first, 2, b"b")])

    assert [e.state for e in ledger.recorder.select_events(first)] == [b"a", b"b"]
    assert [e.state for e in ledger.recorder.select_events(second)] == [b"x"]


def test_a_taken_version_is_refused_and_the_whole_batch_kept_out(
    ledger: DispatchLedger,
) -> None:
    taken, fresh = uuid4(), uuid4()
    ledger.recorder.insert_events([stored(taken, 1)])

    with pytest.raises(IntegrityError):
        ledger.recorder.insert_events([stored(fresh, 1), stored(taken, 1)])

    assert list(ledger.recorder.select_events(fresh)) == []
    assert ledger.recorder.max_notification_id() == 1


def test_notifications_number_events_in_commit_order(ledger: DispatchLedger) -> None:
    first, second = uuid4(), uuid4()
    ledger.recorder.insert_events([stored(first, 1), stored(second, 1)])
    ledger.recorder.insert_events([stored(first, 2)])

    notifications = ledger.recorder.select_notifications(start=1, limit=10)

    assert [(n.id, n.originator_id, n.originator_version) for n in notifications] == [
        (1, first, 1),
        (2, second, 1),
        (3, first, 2),
    ]


def test_stream_reader_reads_many_streams_and_omits_empty_ones(
    ledger: DispatchLedger,
) -> None:
    first, second, empty = uuid4(), uuid4(), uuid4()
    ledger.recorder.insert_events(
        [stored(first, 1, b"a"), stored(first, 2, b"b"), stored(second, 1, b"x")]
    )

    found = RecorderStreamReader(ledger.recorder).read_streams([first, empty, second])

    assert {k: [e.state for e in v] for k, v in found.items()} == {
        first: [b"a", b"b"],
        second: [b"x"],
    }


class Voucher(Aggregate):
    """A voucher with the value types K15 cares about."""

    @event("Issued")
    def __init__(self, amount: Decimal, ceiling: Decimal, order: UUID, due: datetime):
        self.amount = amount
        self.ceiling = ceiling
        self.order = order
        self.due = due


def test_values_round_trip_through_events_and_snapshots(
    ledger: DispatchLedger,
) -> None:
    voucher = Voucher(Decimal("0.10"), Decimal("1E+2"), ORDER_ID, PARIS_MORNING)
    ledger.save(voucher)
    ledger.take_snapshot(voucher.id)

    replayed: Voucher | None = None
    for item in ledger.events.get(voucher.id):
        replayed = item.mutate(replayed)
    from_snapshot = ledger.repository.get(voucher.id)

    assert next(iter(ledger.snapshots.get(voucher.id))).originator_version == 1
    for loaded in (replayed, from_snapshot):
        assert isinstance(loaded, Voucher)
        assert (str(loaded.amount), str(loaded.ceiling)) == ("0.10", "1E+2")
        assert isinstance(loaded.amount, Decimal)
        assert loaded.order == ORDER_ID
        assert isinstance(loaded.order, UUID)
        assert loaded.due == datetime(2025, 3, 1, 8, 0, 0, 123456, tzinfo=UTC)
        assert loaded.due.utcoffset() == timedelta(hours=1)
        assert loaded.due.microsecond == 123456


def test_stored_bytes_are_what_serialising_again_gives(ledger: DispatchLedger) -> None:
    voucher = Voucher(Decimal("0.10"), Decimal("1E+2"), ORDER_ID, PARIS_MORNING)
    ledger.save(voucher)

    (row,) = ledger.recorder.select_events(voucher.id)
    again = ledger.mapper.to_stored_event(ledger.mapper.to_domain_event(row))

    assert again.state == row.state
    assert b'"_data_":"0.10"' in row.state
    assert b'"_data_":"2025-03-01T09:00:00.123456+01:00"' in row.state


def test_campaign_decimals_survive_a_snapshot(ledger: DispatchLedger) -> None:
    definition = CampaignDefinition(
        campaign_id="spring-sale",
        name="Spring sale",
        delivery_type=DeliveryType.SCHEDULED,
        variations=(MessageVariation(variation_id="sale-email", channel="email"),),
        conversion_behaviors=(
            ConversionBehavior(
                event="purchase", window_seconds=3600, minimum_value=Decimal("0.10")
            ),
            ConversionBehavior(
                event="upgrade", window_seconds=3600, minimum_value=Decimal("1E+2")
            ),
        ),
    )
    ledger.define_campaign(definition)
    ledger.take_snapshot(campaign_stream_id("spring-sale"))

    minimums = [
        b.minimum_value for b in ledger.campaign("spring-sale").conversion_behaviors
    ]

    assert len(list(ledger.snapshots.get(campaign_stream_id("spring-sale")))) == 1
    assert [str(m) for m in minimums] == ["0.10", "1E+2"]
    assert all(isinstance(m, Decimal) for m in minimums)
