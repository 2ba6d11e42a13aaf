"""Design checks for scale, run with small numbers.

A bulk send reads its audience lazily, one batch at a time, and no event stream
grows with the size of an audience.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from ledger_builders import AT, campaign, canvas, counting_ledger, max_notification_id

from dispatchledger.domain import DispatchLedger, ids
from dispatchledger.domain.storage import RecorderStreamReader


@dataclass
class CountingAudience:
    """An audience generator that counts how many users were taken from it."""

    size: int
    taken: int = 0

    def __iter__(self) -> Iterator[str]:
        for number in range(self.size):
            self.taken += 1
            yield f"u{number}"


@dataclass
class SpyingReader:
    """Notes, at every batch read, how far the audience and the log had got."""

    inner: RecorderStreamReader
    ledger: DispatchLedger
    audience: CountingAudience
    seen: list[tuple[int, int]] = field(default_factory=list)

    def read_streams(self, stream_ids: Sequence[UUID]) -> dict[UUID, list[StoredEvent]]:
        self.seen.append((self.audience.taken, max_notification_id(self.ledger)))
        return self.inner.read_streams(stream_ids)


def test_an_occurrence_reads_its_audience_one_batch_at_a_time():
    ledger = counting_ledger()
    ledger.batch_size = 10
    ledger.define_campaign(campaign("spring", "scheduled", ["email"]), at=AT)
    audience = CountingAudience(45)
    spy = SpyingReader(RecorderStreamReader(ledger.recorder), ledger, audience)
    ledger.stream_reader = spy
    log_before = max_notification_id(ledger)

    result = ledger.run_occurrence(
        campaign_id="spring", occurrence_id="o1", audience=audience, at=AT
    )

    # Each batch of 10 is read just before it is decided; each earlier batch
    # (a UserEntered and an email per user) is already saved by then.
    taken = [t for t, _ in spy.seen]
    assert taken == [10, 20, 30, 40, 45]
    launched_and_started = log_before + 2
    assert [log for _, log in spy.seen] == [
        launched_and_started + 2 * sent for sent in (0, 10, 20, 30, 40)
    ]
    assert result.recipients == 45


def _stream_lengths(ledger: DispatchLedger) -> Counter[UUID]:
    lengths: Counter[UUID] = Counter()
    start = 1
    while batch := ledger.recorder.select_notifications(start, 1000):
        lengths.update(n.originator_id for n in batch)
        start = batch[-1].id + 1
    return lengths


def _longest_streams(size: int) -> tuple[int, int, int]:
    ledger = counting_ledger()
    ledger.batch_size = 100
    ledger.define_campaign(campaign("spring", "scheduled", ["email", "push"]), at=AT)
    ledger.define_canvas(canvas("onboarding", "scheduled"), at=AT)
    users = (f"u{n}" for n in range(size))
    ledger.run_occurrence(
        campaign_id="spring", occurrence_id="o1", audience=users, at=AT
    )
    ledger.run_canvas_entry(
        canvas_id="onboarding",
        entry_run_id="r1",
        audience=(f"u{n}" for n in range(size)),
        at=AT,
    )
    lengths = _stream_lengths(ledger)
    campaign_stream = ledger.repository.get(ids.campaign_stream_id("spring"))
    transmission = ledger.transmission("campaign", "spring", "o1")
    assert transmission is not None
    return max(lengths.values()), campaign_stream.version, transmission.version


def test_no_stream_grows_with_the_audience():
    small = _longest_streams(10)
    large = _longest_streams(1000)

    # Campaign: Defined, Launched. Transmission: Started, Completed. The longest
    # stream is the Catalog (Opened and two Listed) or a user's participation
    # (UserEntered and two messages): three events whatever the audience.
    assert small == large == (3, 2, 2)
