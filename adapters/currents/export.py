"""Export: the ledger's dispatches and engagement as Currents-shaped events.

Every send (minted here or imported) and every imported engagement record
becomes one event with Braze's event type, field names and field types. Imported
records keep their event id; a send minted here gets an id derived from its
stream and version, so exporting twice gives identical output.

Formats: ``avro`` (a folder per event type, ``event_type=TYPE/part-00000.avro``
with the schema in the file header), ``json`` (the JSON rendering, nullable values
wrapped, one JSON-lines file per event type in a folder), and one JSON-lines file
for ``http`` (the HTTP connector envelope), ``segment``, ``mixpanel`` and
``amplitude``. Only the identity fields below are written; other fields of an
imported record stay in the ledger. In-app messages have no Send event type in
Currents, so minted in-app sends are not exported.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

import fastavro
from fastavro.write import Writer

from dispatchledger.adapters.currents.log import (
    LINEAGE_TOPICS,
    read_events,
)
from dispatchledger.domain.application import DispatchLedger
from dispatchledger.domain.errors import InvalidCommand
from dispatchledger.domain.events import MessageDispatched
from dispatchledger.domain.ids import derive_id
from dispatchledger.domain.observed import (
    SEND_EVENT_TYPES,
    EngagementObserved,
    ObservedMessageDispatched,
    minted_event_id,
)


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

_USER_FIELDS = ("user_id", "external_user_id", "device_id", "timezone")
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


def exported_events(ledger: DispatchLedger) -> Iterator[CurrentsEvent]:
    """Every exportable send and engagement, in the order they were recorded."""
    for event in read_events(ledger, LINEAGE_TOPICS):
        if isinstance(event, ObservedMessageDispatched | EngagementObserved):
            if event.event_type in ABSENT:
                yield _from_record(event.event_type, event.event_id, event.record)
        elif isinstance(event, MessageDispatched):
            found = _from_minted(event)
            if found is not None:
                yield found


def _from_record(
    event_type: str, event_id: str, record: dict[str, Any]
) -> CurrentsEvent:
    values = {f["name"]: record.get(f["name"]) for f in schema_fields(event_type)}
    values["id"] = event_id
    return CurrentsEvent(event_type, values)


def _from_minted(event: MessageDispatched) -> CurrentsEvent | None:
    event_type = SEND_EVENT_TYPES.get(event.channel)
    if event_type is None:
        return None
    campaign = event.program_kind == "campaign"
    record = {
        "user_id": event.user_id,
        "time": int(event.timestamp.timestamp()),
        "dispatch_id": event.dispatch_id,
        "campaign_id": event.program_id if campaign else None,
        "canvas_id": None if campaign else event.program_id,
        "message_variation_id": event.variation_id or None,
        "canvas_step_id": event.step_id,
    }
    return _from_record(
        event_type,
        minted_event_id(event.originator_id, event.originator_version),
        record,
    )


@dataclass
class ExportSummary:
    events: int = 0
    by_type: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"events": self.events, "by_type": dict(sorted(self.by_type.items()))}


def export(
    ledger: DispatchLedger, fmt: ExportFormat | str, out: str | Path
) -> ExportSummary:
    """Write every exportable event to ``out`` (a folder for avro and json)."""
    try:
        chosen = ExportFormat(fmt)
    except ValueError:
        known = ", ".join(f.value for f in ExportFormat)
        raise InvalidCommand(
            f"unknown export format {fmt!r} (known: {known})"
        ) from None
    target = Path(out)
    summary = ExportSummary()
    try:
        if chosen in (ExportFormat.AVRO, ExportFormat.JSON):
            _export_folder(ledger, chosen, target, summary)
        else:
            _export_lines(ledger, _LINE_SHAPES[chosen], target, summary)
    except OSError as error:
        raise InvalidCommand(f"cannot write {target}: {error.strerror}") from None
    return summary


def _count(summary: ExportSummary, event: CurrentsEvent) -> None:
    summary.events += 1
    summary.by_type[event.event_type] = summary.by_type.get(event.event_type, 0) + 1


class _FolderWriter:
    """One open file per event type under a folder; closes them all."""

    def __init__(self, root: Path, fmt: ExportFormat) -> None:
        self.root = root
        self.fmt = fmt
        self.files: dict[str, IO[Any]] = {}
        self.avro: dict[str, Writer] = {}

    def write(self, event: CurrentsEvent) -> None:
        if self.fmt is ExportFormat.AVRO:
            self._avro_writer(event.event_type).write(event.values)
        else:
            handle = self._open(event.event_type, f"{event.event_type}.jsonl", "w")
            handle.write(json.dumps(_wrapped(event)) + "\n")

    def _open(self, event_type: str, name: str, mode: str) -> IO[Any]:
        if event_type not in self.files:
            folder = self.root
            if self.fmt is ExportFormat.AVRO:
                folder = self.root / f"event_type={event_type}"
            folder.mkdir(parents=True, exist_ok=True)
            encoding = None if "b" in mode else "utf-8"
            self.files[event_type] = (folder / name).open(mode, encoding=encoding)
        return self.files[event_type]

    def _avro_writer(self, event_type: str) -> Writer:
        if event_type not in self.avro:
            handle = self._open(event_type, "part-00000.avro", "wb")
            schema = fastavro.parse_schema(avro_schema(event_type))
            # A fixed sync marker makes a re-export byte for byte identical.
            marker = derive_id("avro-sync", event_type).bytes
            self.avro[event_type] = Writer(handle, schema, sync_marker=marker)
        return self.avro[event_type]

    def close(self) -> None:
        for writer in self.avro.values():
            writer.flush()
        for handle in self.files.values():
            handle.close()


def _export_folder(
    ledger: DispatchLedger, fmt: ExportFormat, root: Path, summary: ExportSummary
) -> None:
    if root.exists() and not root.is_dir():
        raise InvalidCommand(f"{root} exists and is not a folder")
    writer = _FolderWriter(root, fmt)
    try:
        for event in exported_events(ledger):
            writer.write(event)
            _count(summary, event)
    finally:
        writer.close()


def _export_lines(
    ledger: DispatchLedger,
    shape: Callable[[CurrentsEvent], dict[str, Any]],
    target: Path,
    summary: ExportSummary,
) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", encoding="utf-8") as handle:
        for event in exported_events(ledger):
            handle.write(json.dumps(shape(event)) + "\n")
            _count(summary, event)


def _wrapped(event: CurrentsEvent) -> dict[str, Any]:
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
        if v is not None and k not in ("id", "time", *_USER_FIELDS)
    }


def _http(event: CurrentsEvent) -> dict[str, Any]:
    user = {k: event.values[k] for k in _USER_FIELDS if event.values.get(k) is not None}
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


_LINE_SHAPES: dict[ExportFormat, Callable[[CurrentsEvent], dict[str, Any]]] = {
    ExportFormat.HTTP: _http,
    ExportFormat.SEGMENT: _segment,
    ExportFormat.MIXPANEL: _mixpanel,
    ExportFormat.AMPLITUDE: _amplitude,
}
