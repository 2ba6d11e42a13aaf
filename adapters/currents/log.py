"""Reading events back from the ledger's log, filtered by topic, page by page.

Used by the audit, the export and the lineage of observed dispatches: each reads
the notification log in order, decoding only the topics it asks for, so memory
holds one page at a time.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from eventsourcing.domain import DomainEvent
from eventsourcing.persistence import PersistenceError as LibraryPersistenceError

from dispatchledger.domain.application import DispatchLedger
from dispatchledger.domain.events import MessageDispatched
from dispatchledger.domain.observed import (
    SEND_EVENT_TYPES,
    EngagementObserved,
    ObservedMessageDispatched,
    lifecycle_rank,
    minted_event_id,
)

PAGE_SIZE = 1000
DISPATCH_TOPICS = (MessageDispatched.TOPIC, ObservedMessageDispatched.TOPIC)
LINEAGE_TOPICS = (*DISPATCH_TOPICS, EngagementObserved.TOPIC)


def read_events(
    ledger: DispatchLedger, topics: Sequence[str] = (), page_size: int = PAGE_SIZE
) -> Iterator[DomainEvent]:
    """Every event of the given topics (all when none), in the order recorded."""
    start = 1
    while True:
        try:
            page = ledger.recorder.select_notifications(start, page_size, topics=topics)
        except LibraryPersistenceError as error:
            raise ledger.translate_error(error) from error
        for notification in page:
            yield cast(DomainEvent, ledger.mapper.to_domain_event(notification))
        if len(page) < page_size:
            return
        start = page[-1].id + 1


@dataclass(frozen=True)
class LineageEntry:
    """One event in a dispatch's life: its send or an engagement."""

    time: datetime
    action: str
    channel: str
    user_id: str
    event_type: str
    event_id: str
    dispatch_id: str | None

    @property
    def rank(self) -> int:
        return lifecycle_rank(self.action)

    def sort_key(self) -> tuple[Any, ...]:
        """Time, then lifecycle rank, then names: the same order on every run."""
        return (
            self.time,
            self.rank,
            self.user_id,
            self.channel,
            self.event_type,
            self.event_id,
        )


def lineage_entry(event: DomainEvent) -> LineageEntry | None:
    """The lineage entry of a send or an engagement event (else ``None``)."""
    if isinstance(event, ObservedMessageDispatched):
        return LineageEntry(
            event.timestamp,
            "Send",
            event.channel,
            event.user_id,
            event.event_type,
            event.event_id,
            event.dispatch_id,
        )
    if isinstance(event, MessageDispatched):
        return LineageEntry(
            event.timestamp,
            "Send",
            event.channel,
            event.user_id,
            SEND_EVENT_TYPES.get(event.channel, ""),
            minted_event_id(event.originator_id, event.originator_version),
            event.dispatch_id,
        )
    if isinstance(event, EngagementObserved):
        return LineageEntry(
            event.timestamp,
            event.action,
            event.channel,
            event.user_id,
            event.event_type,
            event.event_id,
            event.dispatch_id,
        )
    return None


def observed_lineage(ledger: DispatchLedger, dispatch_id: str) -> list[LineageEntry]:
    """The sends and engagement of one dispatch, in lifecycle order.

    Ids compare exactly (rule D1); in-app and content-card records are never
    found here, whatever dispatch id their raw record holds.
    """
    entries = [
        entry
        for event in read_events(ledger, LINEAGE_TOPICS)
        if (entry := lineage_entry(event)) is not None
        and entry.dispatch_id == dispatch_id
    ]
    return sorted(entries, key=LineageEntry.sort_key)


def dispatch_recipients(ledger: DispatchLedger, dispatch_id: str) -> set[str]:
    """The users sent a message of this dispatch (minted or observed)."""
    return {
        event.user_id
        for event in read_events(ledger, DISPATCH_TOPICS)
        if isinstance(event, MessageDispatched) and event.dispatch_id == dispatch_id
    }
