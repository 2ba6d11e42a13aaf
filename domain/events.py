"""The card's three core events, recorded in per-user participation streams.

A participation stream holds one user's history with one campaign or one Canvas;
its id is derived from both (:func:`~dispatchledger.domain.ids.recipient_stream_id`,
:func:`~dispatchledger.domain.ids.journey_stream_id`), so no stream grows with the
size of an audience. Every class has an explicit topic: renaming a class never
breaks a stored event.
"""

from __future__ import annotations

from dataclasses import dataclass

from eventsourcing.domain import DomainEvent
from eventsourcing.utils import register_topic


@dataclass(frozen=True)
class ParticipationEvent(DomainEvent):
    """Base of the events of one user's participation in a campaign or Canvas.

    ``program_kind`` is ``"campaign"`` or ``"canvas"``; ``source_kind`` and
    ``source_id`` name what caused the event: a scheduled ``occurrence``, an
    action ``trigger``, an ``api_call``, a Canvas ``entry_run`` or ``entry``
    (action or API), or a ``step_arrival``.
    """

    program_kind: str
    program_id: str
    user_id: str
    source_kind: str
    source_id: str


@dataclass(frozen=True)
class UserEntered(ParticipationEvent):
    """A user entered a campaign transmission or a Canvas journey.

    ``dispatch_id`` is the id the entry's messages carry (minted before any of
    them is sent, rule D9); ``None`` when none of them carries one. For a Canvas,
    ``entry_id`` names the journey and ``step_id`` the entry step.
    """

    TOPIC = "dispatchledger:UserEntered"
    dispatch_id: str | None
    entry_id: str | None
    variant_id: str | None
    step_id: str | None


@dataclass(frozen=True)
class StepAdvanced(ParticipationEvent):
    """A user in a Canvas journey moved to the next step."""

    TOPIC = "dispatchledger:StepAdvanced"
    entry_id: str
    from_step_id: str
    step_id: str


@dataclass(frozen=True)
class MessageDispatched(ParticipationEvent):
    """A message of one channel was sent to one user.

    ``dispatch_id`` is ``None`` for in-app messages (rule D8), never an empty
    string or a placeholder.
    """

    TOPIC = "dispatchledger:MessageDispatched"
    channel: str
    variation_id: str
    dispatch_id: str | None
    entry_id: str | None
    step_id: str | None


@dataclass(frozen=True)
class CommandRecorded(DomainEvent):
    """The result of a command sent with an idempotency key, kept for repeats."""

    TOPIC = "dispatchledger:CommandRecorded"
    key: str
    fingerprint: str
    result_type: str
    result: str


for _cls in (UserEntered, StepAdvanced, MessageDispatched, CommandRecorded):
    register_topic(_cls.TOPIC, _cls)
