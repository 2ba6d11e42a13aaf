"""Events of observed data: another platform's history, imported as it happened.

Observed records are never decided by the dispatch rules: they are facts that
arrived in an export (Braze Currents). Each imported record has a stream of its
own, named by its event type and event id, so a record delivered twice is stored
once. Sends, Canvas entries and step progressions reuse the card's core events
(subclasses that add the record); engagement, conversions and other activity
have events of their own. ``record`` holds every field of the imported record,
unknown ones included, with nullable wrappers removed; ids in it are verbatim.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, DomainEvent
from eventsourcing.utils import register_topic

from dispatchledger.domain.events import MessageDispatched, StepAdvanced, UserEntered
from dispatchledger.domain.ids import derive_id

OBSERVED = "observed"
"""The ``source_kind`` of every event imported from another platform."""

LIFECYCLE_RANK: dict[str, int] = {
    "Send": 0,
    "Abort": 1,
    "Retry": 1,
    "Deferral": 1,
    "CarrierSend": 1,
    "Delivery": 2,
    "Bounce": 2,
    "SoftBounce": 2,
    "DeliveryFailure": 2,
    "Rejection": 2,
    "Failure": 2,
    "Impression": 3,
    "Open": 3,
    "Read": 3,
    "IosForeground": 3,
    "Click": 4,
    "ShortLinkClick": 4,
    "MarkAsSpam": 5,
    "Unsubscribe": 5,
    "Dismiss": 5,
}
"""Order of a message's events in its life; breaks ties between equal times."""


def lifecycle_rank(action: str) -> int:
    """The rank of a message event's action (``Send``, ``Open``...); unknown last."""
    return LIFECYCLE_RANK.get(action, len(LIFECYCLE_RANK))


SEND_EVENT_TYPES: dict[str, str] = {
    "email": "users.messages.email.Send",
    "push": "users.messages.pushnotification.Send",
    "sms": "users.messages.sms.Send",
    "webhook": "users.messages.webhook.Send",
    "whatsapp": "users.messages.whatsapp.Send",
    "content_card": "users.messages.contentcard.Send",
}
"""The Currents Send event type of each channel (in-app messages have none)."""


def minted_event_id(stream_id: UUID, version: int) -> str:
    """The Currents event id of a send this ledger minted (not imported).

    Derived from its stream and version, so every export gives the same id.
    """
    return str(derive_id("currents-event", str(stream_id), str(version)))


@dataclass(frozen=True)
class ObservedMessageDispatched(MessageDispatched):
    """A send seen in an export; ``dispatch_id`` is the record's, kept verbatim.

    For a content card, the record's dispatch id (if any) stays in ``record``
    only: ``dispatch_id`` is ``None`` (rule D8), so it is never indexed.
    """

    TOPIC = "dispatchledger:ObservedMessageDispatched"
    event_type: str
    event_id: str
    record: dict[str, Any]


@dataclass(frozen=True)
class ObservedUserEntered(UserEntered):
    """A Canvas entry seen in an export."""

    TOPIC = "dispatchledger:ObservedUserEntered"
    event_type: str
    event_id: str
    record: dict[str, Any]


@dataclass(frozen=True)
class ObservedStepAdvanced(StepAdvanced):
    """A step progression seen in an export; ``entry_id`` is its journey."""

    TOPIC = "dispatchledger:ObservedStepAdvanced"
    event_type: str
    event_id: str
    record: dict[str, Any]


@dataclass(frozen=True)
class EngagementObserved(DomainEvent):
    """What happened to a message after its send: delivery, open, click, bounce...

    ``action`` is the last part of the event type (``Open``); ``dispatch_id`` is
    the record's id for channels that carry one, ``None`` for in-app messages and
    content cards (their record keeps whatever it held).
    """

    TOPIC = "dispatchledger:EngagementObserved"
    event_type: str
    event_id: str
    user_id: str
    channel: str
    action: str
    program_kind: str
    program_id: str
    variation_id: str | None
    step_id: str | None
    dispatch_id: str | None
    record: dict[str, Any]


@dataclass(frozen=True)
class ConversionObserved(DomainEvent):
    """A conversion of a campaign or Canvas; ``dispatch_id`` only if it names one."""

    TOPIC = "dispatchledger:ConversionObserved"
    event_type: str
    event_id: str
    user_id: str
    program_kind: str
    program_id: str
    send_id: str | None
    conversion_behavior_index: int | None
    dispatch_id: str | None
    record: dict[str, Any]


@dataclass(frozen=True)
class ActivityObserved(DomainEvent):
    """Any other understood record (control groups, Canvas exits, experiments)."""

    TOPIC = "dispatchledger:ActivityObserved"
    event_type: str
    event_id: str
    user_id: str
    record: dict[str, Any]


class Basis(StrEnum):
    """How a conversion was attributed (rule A1)."""

    EXPLICIT = "explicit"
    INFERRED = "inferred"
    UNATTRIBUTED = "unattributed"


@dataclass(frozen=True)
class Attribution:
    """The dispatch a conversion is credited to, and on what basis."""

    dispatch_id: str | None
    basis: Basis


def attribute(
    converted_at: datetime,
    explicit_dispatch_id: str | None,
    sends: Iterable[tuple[datetime, str]],
    window_seconds: int | None,
) -> Attribution:
    """Rule A1 for one conversion.

    ``sends`` are the (time, dispatch id) of the campaign's messages to the
    converting user. A dispatch id the conversion carries wins; otherwise the most
    recent send at or before the conversion and no older than the window; otherwise
    unattributed (also when no window is known).
    """
    if explicit_dispatch_id is not None:
        return Attribution(explicit_dispatch_id, Basis.EXPLICIT)
    if window_seconds is not None:
        window = timedelta(seconds=window_seconds)
        eligible = [
            (sent_at, dispatch_id)
            for sent_at, dispatch_id in sends
            if sent_at <= converted_at and converted_at - sent_at <= window
        ]
        if eligible:
            # Latest send first; equal times fall back to the id so the
            # choice is the same on every run.
            _, dispatch_id = max(eligible)
            return Attribution(dispatch_id, Basis.INFERRED)
    return Attribution(None, Basis.UNATTRIBUTED)


OBSERVED_CATALOG_ID = derive_id("observed-catalog")


class ObservedCatalog(Aggregate):
    """Delivery types, channels and conversion windows of imported programs.

    Each program is kept as a plain mapping under ``"campaign:ID"`` or
    ``"canvas:ID"``; loading a catalog again replaces the programs it names.
    """

    TOPIC = "dispatchledger:ObservedCatalog"

    class Event(Aggregate.Event):
        TOPIC = "dispatchledger:ObservedCatalog.Event"

    class Opened(Aggregate.Created):
        TOPIC = "dispatchledger:ObservedCatalog.Opened"

    class Loaded(Event):
        TOPIC = "dispatchledger:ObservedCatalog.Loaded"
        programs: dict[str, dict[str, Any]]

        def apply(self, aggregate: Any) -> None:
            aggregate.programs.update(self.programs)

    def __init__(self) -> None:
        self.programs: dict[str, dict[str, Any]] = {}

    @classmethod
    def open(cls, at: datetime) -> ObservedCatalog:
        return cls._create(cls.Opened, id=OBSERVED_CATALOG_ID, timestamp=at)

    def load(self, programs: dict[str, dict[str, Any]], at: datetime) -> None:
        changed = {k: v for k, v in programs.items() if self.programs.get(k) != v}
        if changed:
            self.trigger_event(self.Loaded, programs=changed, timestamp=at)


OBSERVED_EVENTS: tuple[type[DomainEvent], ...] = (
    ObservedMessageDispatched,
    ObservedUserEntered,
    ObservedStepAdvanced,
    EngagementObserved,
    ConversionObserved,
    ActivityObserved,
)
"""Every event an import records, one per imported record."""

for _cls in OBSERVED_EVENTS:
    register_topic(_cls.TOPIC, _cls)  # type: ignore[attr-defined]
