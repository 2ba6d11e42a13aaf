"""Export: the ledger's dispatches and engagement as Currents-shaped events.

Every send (minted here or imported) and every imported engagement record
becomes one event with Braze's event type, field names and field types. Imported
records keep their event id; a send minted here gets an id derived from its
stream and version, so exporting twice gives identical output.

Formats: ``avro`` (a folder per event type, ``event_type=TYPE/part-00000.avro``
with the schema in the file header), ``json`` (the JSON rendering, nullable values
wrapped, one JSON-lines file per event type in a folder), and one JSON-lines file
for ``http`` (the HTTP connector envelope), ``segment``, ``mixpanel`` and
``amplitude``. Only the identity fields of :mod:`.export_schema` are written;
other fields of an imported record stay in the ledger. In-app messages have no
Send event type in Currents, so minted in-app sends are not exported.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import fastavro
from fastavro.write import Writer

from dispatchledger.adapters.currents.export_schema import (
    EXPORTED_TYPES,
    CurrentsEvent,
    ExportFormat,
    avro_schema,
    schema_fields,
)
from dispatchledger.adapters.currents.log import (
    LINEAGE_TOPICS,
    read_events,
)
from dispatchledger.adapters.currents.shapes import LINE_SHAPES, rendering
from dispatchledger.domain.application import DispatchLedger
from dispatchledger.domain.errors import InvalidCommand
from dispatchledger.domain.events import MessageDispatched
from dispatchledger.domain.ids import derive_id
from dispatchledger.domain.observed import (
    SEND_EVENT_TYPES,
    ConversionObserved,
    EngagementObserved,
    ObservedMessageDispatched,
    minted_event_id,
)


def exported_events(ledger: DispatchLedger) -> Iterator[CurrentsEvent]:
    """Every exportable send, engagement and campaign conversion, in log order."""
    for event in read_events(ledger, (*LINEAGE_TOPICS, ConversionObserved.TOPIC)):
        if isinstance(
            event, ObservedMessageDispatched | EngagementObserved | ConversionObserved
        ):
            if event.event_type in EXPORTED_TYPES:
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
            _export_lines(ledger, LINE_SHAPES[chosen], target, summary)
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
            handle.write(json.dumps(rendering(event)) + "\n")

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
