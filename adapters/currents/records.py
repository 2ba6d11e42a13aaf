"""The normaliser: one record, whatever shape it came in, becomes one typed record.

Three shapes carry the same event: a decoded Avro record (unions already
resolved), its JSON rendering (nullable values wrapped in ``{"string": ...}``) and
the HTTP connector's envelope (``{event_type, id, time, properties, user}``).
Each is flattened to one mapping of fields, wrappers removed and nulls dropped
(a field that is null and a field that is missing mean the same), so the three
shapes of one event give equal records. Ids are kept byte for byte (rule D1).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dispatchledger.adapters.currents.event_types import EventType, event_type

_AVRO_TYPES = frozenset(
    {
        "null",
        "boolean",
        "int",
        "long",
        "float",
        "double",
        "bytes",
        "string",
        "array",
        "map",
    }
)
_ENVELOPE_KEYS = frozenset({"properties", "user"})
_USER_KEYS = ("user_id", "external_user_id", "device_id", "timezone")
_TEXT_FIELDS = (
    "dispatch_id",
    "external_user_id",
    "device_id",
    "timezone",
    "app_group_id",
    "campaign_id",
    "message_variation_id",
    "canvas_id",
    "canvas_variation_id",
    "canvas_step_id",
    "canvas_step_message_variation_id",
    "canvas_entry_id",
    "next_step_id",
    "send_id",
    "channel",
    "campaign_name",
    "message_variation_name",
    "canvas_name",
    "canvas_variation_name",
    "canvas_step_name",
)


class RecordRejected(Exception):
    """A record that cannot be understood; ``reason`` says why, for the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class NormalisedRecord:
    """One imported event: its type, identity, time and every field it holds.

    ``fields`` keeps all fields of the record (unknown ones too) except the event
    type, with nulls dropped and ``time`` as the integer seconds it arrived as.
    """

    event_type: str
    event_id: str
    user_id: str
    time: datetime
    fields: dict[str, Any]

    @property
    def type(self) -> EventType:
        found = event_type(self.event_type)
        if found is None:  # normalise() only builds records of known types
            raise RecordRejected(f"unknown event type {self.event_type!r}")
        return found

    def text(self, name: str) -> str | None:
        """A text field, or ``None`` when the record does not hold it."""
        value = self.fields.get(name)
        return value if isinstance(value, str) else None

    @property
    def dispatch_id(self) -> str | None:
        return self.text("dispatch_id")

    @property
    def timezone(self) -> str | None:
        """The user's IANA zone: an attribute of the user, never applied to time."""
        return self.text("timezone")


def normalise(data: object, event_type_hint: str | None = None) -> NormalisedRecord:
    """The record ``data`` holds; ``event_type_hint`` names its type when the
    record does not (Avro files and the JSON rendering name it by file or folder).

    Raises :class:`RecordRejected` naming the first problem found.
    """
    if not isinstance(data, Mapping):
        raise RecordRejected(f"a record must be an object, not {_kind(data)}")
    flat = _flatten(data) if _is_envelope(data) else _unwrap_record(data)
    name = flat.pop("event_type", None) or event_type_hint
    if not isinstance(name, str) or not name:
        raise RecordRejected("no event type: not in the record, file or folder name")
    if event_type(name) is None:
        raise RecordRejected(f"unknown event type {name!r}")
    fields = {k: v for k, v in flat.items() if v is not None}
    return NormalisedRecord(
        event_type=name,
        event_id=_required_text(fields, "id"),
        user_id=_required_text(fields, "user_id"),
        time=_time(fields),
        fields=_checked(fields),
    )


def _is_envelope(data: Mapping[str, Any]) -> bool:
    return "event_type" in data and bool(_ENVELOPE_KEYS & data.keys())


def _flatten(envelope: Mapping[str, Any]) -> dict[str, Any]:
    properties = envelope.get("properties") or {}
    user = envelope.get("user") or {}
    for part, value in (("properties", properties), ("user", user)):
        if not isinstance(value, Mapping):
            raise RecordRejected(f"{part} must be an object, not {_kind(value)}")
    flat: dict[str, Any] = {k: _json_value(v) for k, v in properties.items()}
    for key in _USER_KEYS:
        if key in user:
            flat[key] = _json_value(user[key])
    flat.update({k: _json_value(user[k]) for k in user if k not in _USER_KEYS})
    for key, value in envelope.items():
        if key not in _ENVELOPE_KEYS:
            flat[key] = _json_value(value)
    return flat


def _unwrap_record(data: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k): _unwrap(v) for k, v in data.items()}


def _unwrap(value: Any) -> Any:
    """The value without the JSON rendering's one-key union wrappers."""
    if isinstance(value, Mapping):
        if len(value) == 1:
            (key, inner), *_ = value.items()
            if key in _AVRO_TYPES:
                return _unwrap(inner)
        return {str(k): _unwrap(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_unwrap(v) for v in value]
    return _json_value(value)


def _json_value(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, Mapping):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    return value


def _required_text(fields: Mapping[str, Any], name: str) -> str:
    value = fields.get(name)
    if value is None:
        raise RecordRejected(f"missing {name}")
    if not isinstance(value, str) or not value:
        raise RecordRejected(f"{name} must be a non-empty string, not {_kind(value)}")
    return value


def _time(fields: Mapping[str, Any]) -> datetime:
    value = fields.get("time")
    if value is None:
        raise RecordRejected("missing time")
    if isinstance(value, bool) or not isinstance(value, int):
        raise RecordRejected(
            f"time must be whole Unix seconds (an integer), not {_kind(value)}"
        )
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise RecordRejected(f"time {value} is out of range") from None


def _checked(fields: dict[str, Any]) -> dict[str, Any]:
    for name in _TEXT_FIELDS:
        value = fields.get(name)
        if value is not None and not isinstance(value, str):
            raise RecordRejected(f"{name} must be a string, not {_kind(value)}")
    index = fields.get("conversion_behavior_index")
    if index is not None and (isinstance(index, bool) or not isinstance(index, int)):
        raise RecordRejected(
            f"conversion_behavior_index must be an integer, not {_kind(index)}"
        )
    return fields


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({value})"
    if isinstance(value, int | float):
        return f"a number ({value!r})"
    if isinstance(value, str):
        return f"a string ({value[:40]!r})"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "an array"
    return type(value).__name__
