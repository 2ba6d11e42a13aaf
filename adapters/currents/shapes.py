"""The shapes an exported event is written in, besides Avro.

``rendering`` is Braze's JSON rendering of an Avro record; the others are one JSON
object a line: the HTTP connector envelope and the partner connectors' renamings
(Segment, Mixpanel, Amplitude) of the same fields.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from dispatchledger.adapters.currents.export_schema import (
    USER_FIELDS,
    CurrentsEvent,
    ExportFormat,
    schema_fields,
)


def rendering(event: CurrentsEvent) -> dict[str, Any]:
    """The JSON rendering: a non-null nullable value wrapped in its type name."""
    rendered: dict[str, Any] = {}
    for spec in schema_fields(event.event_type):
        value = event.values.get(spec["name"])
        if isinstance(spec["type"], list) and value is not None:
            value = {"string": value}
        rendered[spec["name"]] = value
    return rendered


def _properties(event: CurrentsEvent) -> dict[str, Any]:
    return {
        k: v
        for k, v in event.values.items()
        if v is not None and k not in ("id", "time", *USER_FIELDS)
    }


def _http(event: CurrentsEvent) -> dict[str, Any]:
    user = {k: event.values[k] for k in USER_FIELDS if event.values.get(k) is not None}
    return {
        "event_type": event.event_type,
        "id": event.event_id,
        "time": event.values["time"],
        "properties": _properties(event),
        "user": user,
    }


def _iso(event: CurrentsEvent) -> str:
    return datetime.fromtimestamp(event.values["time"], UTC).isoformat()


def _segment(event: CurrentsEvent) -> dict[str, Any]:
    return {
        "type": "track",
        "event": event.event_type,
        "messageId": event.event_id,
        "userId": event.values.get("external_user_id"),
        "anonymousId": event.values["user_id"],
        "timestamp": _iso(event),
        "properties": _properties(event),
    }


def _mixpanel(event: CurrentsEvent) -> dict[str, Any]:
    properties = {
        "distinct_id": event.values.get("external_user_id") or event.values["user_id"],
        "$insert_id": event.event_id,
        "time": event.values["time"],
        "braze_user_id": event.values["user_id"],
        **_properties(event),
    }
    return {"event": event.event_type, "properties": properties}


def _amplitude(event: CurrentsEvent) -> dict[str, Any]:
    return {
        "event_type": event.event_type,
        "user_id": event.values.get("external_user_id"),
        "device_id": event.values.get("device_id"),
        "insert_id": event.event_id,
        "time": event.values["time"] * 1000,
        "event_properties": {
            "braze_user_id": event.values["user_id"],
            **_properties(event),
        },
    }


LINE_SHAPES: dict[ExportFormat, Callable[[CurrentsEvent], dict[str, Any]]] = {
    ExportFormat.HTTP: _http,
    ExportFormat.SEGMENT: _segment,
    ExportFormat.MIXPANEL: _mixpanel,
    ExportFormat.AMPLITUDE: _amplitude,
}
