"""The Currents event types this importer understands, and what each one means.

A type is one of: a ``send`` (an observed dispatch), ``engagement`` (what happened
to a message after it was sent), a Canvas ``entry`` or ``progression``, a
``conversion``, or other ``activity`` that is kept but not indexed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from dispatchledger.domain.observed import lifecycle_rank


class Kind(StrEnum):
    SEND = "send"
    ENGAGEMENT = "engagement"
    ENTRY = "entry"
    PROGRESSION = "progression"
    CONVERSION = "conversion"
    ACTIVITY = "activity"


CHANNELS: dict[str, str] = {
    "email": "email",
    "pushnotification": "push",
    "sms": "sms",
    "webhook": "webhook",
    "whatsapp": "whatsapp",
    "inappmessage": "in_app_message",
    "contentcard": "content_card",
}
"""Braze's folder name of each message channel, and the project's channel name."""

WITHOUT_DISPATCH = frozenset({"in_app_message", "content_card"})
"""Channels whose records are never indexed by dispatch id, whatever they hold."""

_MESSAGE_ACTIONS: dict[str, tuple[str, ...]] = {
    "email": (
        "Send",
        "Delivery",
        "Open",
        "Click",
        "Bounce",
        "SoftBounce",
        "MarkAsSpam",
        "Unsubscribe",
        "Deferral",
        "Retry",
        "Abort",
    ),
    "pushnotification": ("Send", "Open", "Bounce", "IosForeground", "Retry", "Abort"),
    "sms": (
        "Send",
        "CarrierSend",
        "Delivery",
        "DeliveryFailure",
        "Rejection",
        "ShortLinkClick",
        "InboundReceive",
        "Retry",
        "Abort",
    ),
    "webhook": ("Send", "Failure", "Retry", "Abort"),
    "whatsapp": (
        "Send",
        "Delivery",
        "Read",
        "Click",
        "Failure",
        "InboundReceive",
        "Retry",
        "Abort",
    ),
    "inappmessage": ("Impression", "Click", "Abort"),
    "contentcard": ("Send", "Impression", "Click", "Dismiss", "Abort"),
}


_PROGRAM_TYPES: dict[str, tuple[Kind, str]] = {
    "users.campaigns.Conversion": (Kind.CONVERSION, "campaign"),
    "users.campaigns.EnrollInControl": (Kind.ACTIVITY, "campaign"),
    "users.canvas.Entry": (Kind.ENTRY, "canvas"),
    "users.canvasstep.Progression": (Kind.PROGRESSION, "canvas"),
    "users.canvas.Conversion": (Kind.CONVERSION, "canvas"),
    "users.canvas.experimentstep.Conversion": (Kind.CONVERSION, "canvas"),
    "users.canvas.experimentstep.SplitEntry": (Kind.ACTIVITY, "canvas"),
    "users.canvas.exit.MatchedAudience": (Kind.ACTIVITY, "canvas"),
    "users.canvas.exit.PerformedEvent": (Kind.ACTIVITY, "canvas"),
    "users.canvas.costep.Send": (Kind.ACTIVITY, "canvas"),
}


@dataclass(frozen=True)
class EventType:
    """What one Currents event type is: its kind, channel and lifecycle action."""

    name: str
    kind: Kind
    program_kind: str | None = None
    channel: str | None = None
    action: str | None = None

    @property
    def carries_dispatch(self) -> bool:
        """Whether this type's dispatch id is indexed (never for in-app or cards)."""
        return self.channel is not None and self.channel not in WITHOUT_DISPATCH

    @property
    def rank(self) -> int:
        return lifecycle_rank(self.action or "")


def _message_type(folder: str, action: str) -> EventType:
    name = f"users.messages.{folder}.{action}"
    if action == "Send":
        kind = Kind.SEND
    elif action == "InboundReceive":
        # A reply from the user, not something that happened to a sent message.
        kind = Kind.ACTIVITY
    else:
        kind = Kind.ENGAGEMENT
    return EventType(name, kind, None, CHANNELS[folder], action)


def _all_types() -> dict[str, EventType]:
    found = {
        t.name: t
        for folder, actions in _MESSAGE_ACTIONS.items()
        for t in (_message_type(folder, action) for action in actions)
    }
    for name, (kind, program_kind) in _PROGRAM_TYPES.items():
        found[name] = EventType(name, kind, program_kind)
    return found


EVENT_TYPES: dict[str, EventType] = _all_types()
"""Every understood event type by its Currents name."""

SEND_TYPES: dict[str, str] = {
    t.channel: t.name for t in EVENT_TYPES.values() if t.kind is Kind.SEND and t.channel
}
"""The Send event type of each channel that has one (in-app messages have none)."""


def event_type(name: str) -> EventType | None:
    """The understood event type called ``name``, or ``None``."""
    return EVENT_TYPES.get(name)
