"""What an exported event holds: Braze's event types, field names and Avro types.

Only identity fields are exported (ids, names, user attributes, time). Each event
type has the fields Braze's writer schema gives it (``ABSENT`` lists those it
lacks), with Braze's Avro types; tests compare them with Braze's sample files.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class ExportFormat(StrEnum):
    AVRO = "avro"
    JSON = "json"
    HTTP = "http"
    SEGMENT = "segment"
    MIXPANEL = "mixpanel"
    AMPLITUDE = "amplitude"


_OPTIONAL = ["null", "string"]
FIELDS: tuple[tuple[str, Any], ...] = (
    ("id", "string"),
    ("user_id", "string"),
    ("external_user_id", _OPTIONAL),
    ("device_id", _OPTIONAL),
    ("time", "int"),
    ("timezone", _OPTIONAL),
    ("dispatch_id", _OPTIONAL),
    ("app_group_id", _OPTIONAL),
    ("send_id", _OPTIONAL),
    ("campaign_id", _OPTIONAL),
    ("campaign_name", _OPTIONAL),
    ("message_variation_id", _OPTIONAL),
    ("message_variation_name", _OPTIONAL),
    ("canvas_id", _OPTIONAL),
    ("canvas_name", _OPTIONAL),
    ("canvas_variation_id", _OPTIONAL),
    ("canvas_variation_name", _OPTIONAL),
    ("canvas_step_id", _OPTIONAL),
    ("canvas_step_name", _OPTIONAL),
    ("canvas_step_message_variation_id", _OPTIONAL),
)
"""The identity fields exported, with their Avro types in Braze's schemas."""

USER_FIELDS = ("user_id", "external_user_id", "device_id", "timezone")
_NO_DEVICE_STEP = frozenset({"device_id", "canvas_step_message_variation_id"})
_NO_DISPATCH_STEP = frozenset({"dispatch_id", "canvas_step_message_variation_id"})
_NO_DEVICE = frozenset({"device_id"})
_NONE: frozenset[str] = frozenset()

ABSENT: dict[str, frozenset[str]] = {
    "users.messages.email.Send": _NO_DEVICE_STEP,
    "users.messages.email.Delivery": _NO_DEVICE_STEP,
    "users.messages.email.Open": _NO_DEVICE_STEP,
    "users.messages.email.Click": _NO_DEVICE_STEP,
    "users.messages.email.Bounce": _NO_DEVICE_STEP,
    "users.messages.email.SoftBounce": _NO_DEVICE_STEP,
    "users.messages.email.MarkAsSpam": _NO_DEVICE_STEP,
    "users.messages.email.Unsubscribe": _NO_DEVICE_STEP,
    "users.messages.email.Deferral": _NO_DEVICE,
    "users.messages.email.Retry": _NONE,
    "users.messages.email.Abort": _NONE,
    "users.messages.pushnotification.Send": frozenset(
        {"canvas_step_message_variation_id"}
    ),
    "users.messages.pushnotification.Bounce": frozenset(
        {"canvas_step_message_variation_id"}
    ),
    "users.messages.pushnotification.IosForeground": frozenset(
        {"canvas_step_message_variation_id"}
    ),
    "users.messages.pushnotification.Open": _NONE,
    "users.messages.pushnotification.Retry": _NONE,
    "users.messages.pushnotification.Abort": _NONE,
    "users.messages.sms.Send": _NO_DEVICE_STEP,
    "users.messages.sms.CarrierSend": _NO_DEVICE_STEP,
    "users.messages.sms.Delivery": _NO_DEVICE_STEP,
    "users.messages.sms.DeliveryFailure": _NO_DEVICE_STEP,
    "users.messages.sms.Rejection": _NO_DEVICE_STEP,
    "users.messages.sms.ShortLinkClick": frozenset(
        {"device_id", "dispatch_id", "canvas_step_message_variation_id", "send_id"}
    ),
    "users.messages.sms.Retry": frozenset(
        {"device_id", "timezone", "dispatch_id", "send_id"}
    ),
    "users.messages.sms.Abort": frozenset(
        {"device_id", "timezone", "dispatch_id", "send_id"}
    ),
    "users.messages.webhook.Send": _NO_DEVICE_STEP,
    "users.messages.webhook.Failure": frozenset({"device_id", "timezone"}),
    "users.messages.webhook.Retry": _NONE,
    "users.messages.webhook.Abort": _NONE,
    "users.messages.whatsapp.Send": frozenset({"canvas_variation_name"}),
    "users.messages.whatsapp.Delivery": _NONE,
    "users.messages.whatsapp.Read": _NONE,
    "users.messages.whatsapp.Failure": _NONE,
    "users.messages.whatsapp.Click": frozenset({"dispatch_id", "send_id"}),
    "users.messages.whatsapp.Retry": frozenset({"send_id"}),
    "users.messages.whatsapp.Abort": frozenset({"send_id"}),
    "users.messages.inappmessage.Impression": _NO_DISPATCH_STEP,
    "users.messages.inappmessage.Click": _NO_DISPATCH_STEP,
    "users.messages.inappmessage.Abort": _NONE,
    "users.messages.contentcard.Send": _NO_DISPATCH_STEP,
    "users.messages.contentcard.Impression": _NO_DISPATCH_STEP,
    "users.messages.contentcard.Click": _NO_DISPATCH_STEP,
    "users.messages.contentcard.Dismiss": _NO_DISPATCH_STEP,
    "users.messages.contentcard.Abort": _NONE,
}
"""Identity fields that Braze's schema of each exported event type does not have."""

CONVERSION = "users.campaigns.Conversion"
CONVERSION_FIELDS: tuple[tuple[str, Any], ...] = (
    ("id", "string"),
    ("user_id", "string"),
    ("external_user_id", _OPTIONAL),
    ("time", "int"),
    ("timezone", _OPTIONAL),
    ("campaign_id", "string"),
    ("campaign_name", _OPTIONAL),
    ("message_variation_id", _OPTIONAL),
    ("message_variation_name", _OPTIONAL),
    ("send_id", _OPTIONAL),
    ("conversion_behavior_index", ["null", "int"]),
    ("conversion_behavior", _OPTIONAL),
    ("app_group_id", _OPTIONAL),
)
"""A campaign conversion's fields: its own set, not the message events' one."""

EXPORTED_TYPES = frozenset({*ABSENT, CONVERSION})
"""Every event type the export writes."""

LONG_TIME = frozenset(
    f"users.messages.whatsapp.{action}"
    for action in ("Send", "Delivery", "Read", "Failure", "Abort")
)
"""Event types whose ``time`` is an Avro ``long`` rather than an ``int``."""


@dataclass(frozen=True)
class CurrentsEvent:
    """One exported event: its type and the values of its schema's fields."""

    event_type: str
    values: dict[str, Any]

    @property
    def event_id(self) -> str:
        return str(self.values["id"])


def schema_fields(event_type: str) -> list[dict[str, Any]]:
    """The Avro fields of an exported event type, Braze's names and types."""
    if event_type == CONVERSION:
        return [{"name": name, "type": kind} for name, kind in CONVERSION_FIELDS]
    absent = ABSENT.get(event_type, _NONE)
    fields = []
    for name, avro_type in FIELDS:
        if name in absent:
            continue
        if name == "time" and event_type in LONG_TIME:
            avro_type = "long"
        fields.append({"name": name, "type": avro_type})
    return fields


def avro_schema(event_type: str) -> dict[str, Any]:
    return {
        "type": "record",
        "name": f"dispatchledger.export.{event_type}",
        "fields": schema_fields(event_type),
    }
