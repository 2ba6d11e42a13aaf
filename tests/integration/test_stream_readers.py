"""The bulk stream readers return exactly what the library's recorder returns."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import pytest

from dispatchledger.adapters import stream_readers
from dispatchledger.adapters.bootstrap import open_ledger
from dispatchledger.adapters.stream_readers import (
    PostgresStreamReader,
    SQLiteStreamReader,
)
from dispatchledger.domain import ids
from dispatchledger.domain.application import DispatchLedger
from dispatchledger.domain.storage import RecorderStreamReader
from dispatchledger.domain.values import (
    CampaignDefinition,
    CanvasDefinition,
    CanvasStep,
    CanvasVariant,
    MessageVariation,
)

AT = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)
LATER = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)

NEWS = CampaignDefinition(
    campaign_id="news",
    name="News",
    delivery_type="scheduled",
    recurring=True,
    re_eligibility_seconds=0,
    variations=(
        MessageVariation(variation_id="news-email", channel="email"),
        MessageVariation(variation_id="news-push", channel="push"),
    ),
)
JOURNEY = CanvasDefinition(
    canvas_id="journey",
    name="Journey",
    entry_type="scheduled",
    recurring=True,
    variants=(CanvasVariant(variant_id="v1", entry_step_ids=("s1",)),),
    steps=(
        CanvasStep(
            step_id="s1",
            messages=(MessageVariation(variation_id="j-s1", channel="email"),),
            next_step_ids=("s2",),
        ),
        CanvasStep(
            step_id="s2",
            messages=(MessageVariation(variation_id="j-s2", channel="in_app_message"),),
        ),
    ),
)
USERS = ["ana", "bo", "cy", "dee"]


def _recorded_ledger(url: str) -> DispatchLedger:
    """Two occurrences to all users, one to some; a journey advanced for two."""
    ledger = open_ledger(url)
    ledger.define_campaign(NEWS, at=AT)
    ledger.define_canvas(JOURNEY, at=AT)
    ledger.run_occurrence(campaign_id="news", occurrence_id="o1", audience=USERS, at=AT)
    ledger.run_occurrence(
        campaign_id="news", occurrence_id="o2", audience=USERS[:2], at=LATER
    )
    ledger.run_canvas_entry(
        canvas_id="journey", entry_run_id="r1", audience=USERS[1:], at=AT
    )
    for user in ("bo", "cy"):
        ledger.advance(canvas_id="journey", user_id=user, step_id="s2", at=LATER)
    return ledger


def _stream_ids() -> list[UUID]:
    campaign = [ids.recipient_stream_id("news", user) for user in [*USERS, "nobody"]]
    journey = [ids.journey_stream_id("journey", user) for user in [*USERS, "nobody"]]
    return [*campaign, *journey]


def test_bulk_reader_returns_what_the_recorder_returns(any_url: str) -> None:
    ledger = _recorded_ledger(any_url)
    try:
        stream_ids = _stream_ids()
        fast = ledger.stream_reader.read_streams(stream_ids)
        default = RecorderStreamReader(ledger.recorder).read_streams(stream_ids)
        assert fast == default
        assert list(fast) == list(default)
        # Written from the script above: ana 2 occurrences x 3 events, dee 1 x 3,
        # journey: bo entered (2 events) and advanced (2 events), dee entered only.
        lengths = {stream_id: len(events) for stream_id, events in fast.items()}
        assert lengths[ids.recipient_stream_id("news", "ana")] == 6
        assert lengths[ids.recipient_stream_id("news", "dee")] == 3
        assert lengths[ids.journey_stream_id("journey", "bo")] == 4
        assert lengths[ids.journey_stream_id("journey", "dee")] == 2
        assert ids.recipient_stream_id("news", "nobody") not in fast
        assert ids.journey_stream_id("journey", "ana") not in fast
        for stream_id, events in fast.items():
            assert [e.originator_version for e in events] == list(
                range(1, len(events) + 1)
            )
            assert all(e.originator_id == stream_id for e in events)
    finally:
        ledger.close()


def test_open_ledger_chooses_the_bulk_reader_of_its_backend(any_url: str) -> None:
    ledger = open_ledger(any_url)
    try:
        expected = {
            "memory": RecorderStreamReader,
            "sqlite": SQLiteStreamReader,
            "postgresql": PostgresStreamReader,
        }
        backend = "memory" if any_url.startswith("memory") else any_url.split(":")[0]
        assert type(ledger.stream_reader) is expected[backend]
    finally:
        ledger.close()


def test_sqlite_reader_splits_long_id_lists(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stream_readers, "SQLITE_MAX_IDS", 3)
    ledger = _recorded_ledger(sqlite_url)
    try:
        stream_ids = _stream_ids()
        fast = ledger.stream_reader.read_streams(stream_ids)
        assert fast == RecorderStreamReader(ledger.recorder).read_streams(stream_ids)
        assert len(fast) == 7
    finally:
        ledger.close()


def test_a_user_listed_twice_in_one_batch_is_sent_once(any_url: str) -> None:
    ledger = open_ledger(any_url)
    try:
        ledger.define_campaign(NEWS, at=AT)
        result = ledger.run_occurrence(
            campaign_id="news",
            occurrence_id="o1",
            audience=["ana", "bo", "ana", "", "bo"],
            at=AT,
        )
        assert result.recipients == 2
        assert result.messages == 4
        assert result.skipped_counts == {"already_sent": 2, "invalid_user_id": 1}
        assert [s.user_id for s in result.skipped] == ["''", "ana", "bo"]
    finally:
        ledger.close()
