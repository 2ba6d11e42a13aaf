"""The faster save paths and transcoder record exactly what the library would."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import Recording

from dispatchledger.adapters.bootstrap import open_ledger
from dispatchledger.adapters.settings import Settings
from dispatchledger.domain import ids
from dispatchledger.domain.application import DispatchLedger
from dispatchledger.domain.catalog import Catalog
from dispatchledger.domain.events import MessageDispatched
from dispatchledger.domain.transmission import Transmission
from dispatchledger.domain.values import CampaignDefinition, MessageVariation

AT = datetime(2026, 5, 4, 3, 2, 1, 654321, tzinfo=UTC)


def _message(user: str, version: int) -> MessageDispatched:
    return MessageDispatched(
        originator_id=ids.recipient_stream_id("news", user),
        originator_version=version,
        timestamp=AT,
        program_kind="campaign",
        program_id="news",
        user_id=user,
        source_kind="occurrence",
        source_id="o1",
        channel="email",
        variation_id="news-email",
        dispatch_id="0123456789abcdef01234567",
        entry_id=None,
        step_id=None,
    )


def _objects() -> list[Any]:
    transmission = Transmission.start(
        "campaign", "news", "occurrence", "o1", "0123456789abcdef01234567", AT, None
    )
    transmission.complete(2, 2, 0, AT)
    catalog = Catalog.open(AT)
    catalog.list_program("campaign", "news", AT)
    return [transmission, None, _message("ana", 1), catalog, _message("bo", 1)]


def _log(ledger: DispatchLedger) -> list[tuple[Any, ...]]:
    return [
        (n.id, n.originator_id, n.originator_version, n.topic, n.state)
        for n in ledger.recorder.select_notifications(start=1, limit=100)
    ]


def test_save_records_what_the_library_save_records(sqlite_url: str) -> None:
    ours = open_ledger(sqlite_url)
    library = open_ledger("memory://")
    try:
        recordings = ours.save(*_objects())
        Application.save(library, *_objects())
        assert _log(ours) == _log(library)
        assert [r.notification.id for r in recordings] == [1, 2, 3, 4, 5, 6]
        assert len(_log(ours)) == 6
    finally:
        ours.close()
        library.close()


class _Listening(DispatchLedger):
    """A ledger that listens to what is recorded (the library's hook)."""

    heard: list[int]

    def _notify(self, recordings: list[Recording[Any]]) -> None:
        self.heard.extend(r.notification.id for r in recordings)


def test_a_bulk_send_still_notifies_a_ledger_that_listens(sqlite_url: str) -> None:
    ledger = _Listening(Settings(database_url=sqlite_url).event_store_env())
    ledger.heard = []
    try:
        ledger.define_campaign(
            CampaignDefinition(
                campaign_id="news",
                name="News",
                delivery_type="scheduled",
                variations=(MessageVariation(variation_id="e", channel="email"),),
            ),
            at=AT,
        )
        before = len(ledger.heard)
        ledger.run_occurrence(
            campaign_id="news", occurrence_id="o1", audience=["ana", "bo"], at=AT
        )
        # The campaign launched and the transmission started, two users x
        # (entered + email), the transmission completed.
        assert len(ledger.heard) - before == 7
        assert ledger.heard == list(range(1, len(ledger.heard) + 1))
    finally:
        ledger.close()


def test_a_log_written_by_the_library_transcoder_reads_the_same(
    sqlite_url: str,
) -> None:
    env = Settings(database_url=sqlite_url).event_store_env()
    env["TRANSCODER_TOPIC"] = "eventsourcing.persistence:JSONTranscoder"
    writer = DispatchLedger(env)
    try:
        assert type(writer.mapper.transcoder).__name__ == "JSONTranscoder"
        writer.define_campaign(
            CampaignDefinition(
                campaign_id="news",
                name="News",
                delivery_type="scheduled",
                variations=(MessageVariation(variation_id="e", channel="email"),),
            ),
            at=AT,
        )
        writer.run_occurrence(
            campaign_id="news", occurrence_id="o1", audience=["ana"], at=AT
        )
        written = writer.user_dispatches("ana")
    finally:
        writer.close()
    reader = open_ledger(sqlite_url)
    try:
        assert type(reader.mapper.transcoder).__name__ == "OrjsonTranscoder"
        assert reader.user_dispatches("ana") == written
        assert reader.campaign("news").variations[0].variation_id == "e"
        assert [d.sent_at for d in written] == [AT]
    finally:
        reader.close()
