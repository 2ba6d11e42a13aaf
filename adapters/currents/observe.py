"""From a normalised record to the one event that records it in the ledger.

Each record gets a stream of its own, named by its event type and event id
(uuid5, the same in every process), holding one event at version 1: a record
delivered twice names the same stream, so it is stored once.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEvent

from dispatchledger.adapters.currents.event_types import EventType, Kind
from dispatchledger.adapters.currents.records import NormalisedRecord
from dispatchledger.domain.ids import derive_id
from dispatchledger.domain.observed import (
    OBSERVED,
    ActivityObserved,
    ConversionObserved,
    EngagementObserved,
    ObservedMessageDispatched,
    ObservedStepAdvanced,
    ObservedUserEntered,
)


def record_stream_id(event_type: str, event_id: str) -> UUID:
    """The stream of the record with this type and event id."""
    return derive_id("currents", event_type, event_id)


def program_of(record: NormalisedRecord) -> tuple[str, str]:
    """``("canvas", id)`` for a Canvas message, else ``("campaign", id)``.

    The id is empty when the record names neither (Braze leaves both out of
    some records, e.g. messages sent through the API without a campaign).
    """
    canvas_id = record.text("canvas_id")
    if canvas_id:
        return "canvas", canvas_id
    return "campaign", record.text("campaign_id") or ""


def to_event(record: NormalisedRecord) -> DomainEvent:
    """The event that records ``record``."""
    kind = record.type.kind
    base = _base(record)
    if kind is Kind.SEND:
        return _send(record, base)
    if kind is Kind.ENGAGEMENT:
        return _engagement(record, base)
    if kind is Kind.CONVERSION:
        return _conversion(record, base)
    if kind is Kind.ENTRY and record.text("canvas_id"):
        return _entry(record, base)
    if (
        kind is Kind.PROGRESSION
        and record.text("canvas_id")
        and record.text("canvas_entry_id")
        and record.text("canvas_step_id")
        and record.text("next_step_id")
    ):
        return _progression(record, base)
    return ActivityObserved(user_id=record.user_id, **base)


def _base(record: NormalisedRecord) -> dict[str, Any]:
    return {
        "originator_id": record_stream_id(record.event_type, record.event_id),
        "originator_version": 1,
        "timestamp": record.time,
        "event_type": record.event_type,
        "event_id": record.event_id,
        "record": record.fields,
    }


def _indexed_dispatch(record: NormalisedRecord, etype: EventType) -> str | None:
    return record.dispatch_id if etype.carries_dispatch else None


def _variation(record: NormalisedRecord) -> str | None:
    return record.text("message_variation_id") or record.text(
        "canvas_step_message_variation_id"
    )


def _send(record: NormalisedRecord, base: dict[str, Any]) -> DomainEvent:
    etype = record.type
    program_kind, program_id = program_of(record)
    return ObservedMessageDispatched(
        program_kind=program_kind,
        program_id=program_id,
        user_id=record.user_id,
        source_kind=OBSERVED,
        source_id=record.event_id,
        channel=etype.channel or "",
        variation_id=_variation(record) or "",
        dispatch_id=_indexed_dispatch(record, etype),
        entry_id=None,
        step_id=record.text("canvas_step_id"),
        **base,
    )


def _engagement(record: NormalisedRecord, base: dict[str, Any]) -> DomainEvent:
    etype = record.type
    program_kind, program_id = program_of(record)
    return EngagementObserved(
        user_id=record.user_id,
        channel=etype.channel or "",
        action=etype.action or "",
        program_kind=program_kind,
        program_id=program_id,
        variation_id=_variation(record),
        step_id=record.text("canvas_step_id"),
        dispatch_id=_indexed_dispatch(record, etype),
        **base,
    )


def _conversion(record: NormalisedRecord, base: dict[str, Any]) -> DomainEvent:
    program_kind = record.type.program_kind or "campaign"
    id_field = "canvas_id" if program_kind == "canvas" else "campaign_id"
    index = record.fields.get("conversion_behavior_index")
    return ConversionObserved(
        user_id=record.user_id,
        program_kind=program_kind,
        program_id=record.text(id_field) or "",
        send_id=record.text("send_id"),
        conversion_behavior_index=index if isinstance(index, int) else None,
        dispatch_id=record.dispatch_id,
        **base,
    )


def _entry(record: NormalisedRecord, base: dict[str, Any]) -> DomainEvent:
    return ObservedUserEntered(
        program_kind="canvas",
        program_id=record.text("canvas_id") or "",
        user_id=record.user_id,
        source_kind=OBSERVED,
        source_id=record.event_id,
        dispatch_id=None,
        entry_id=record.text("canvas_entry_id"),
        variant_id=record.text("canvas_variation_id"),
        step_id=record.text("canvas_step_id"),
        **base,
    )


def _progression(record: NormalisedRecord, base: dict[str, Any]) -> DomainEvent:
    return ObservedStepAdvanced(
        program_kind="canvas",
        program_id=record.text("canvas_id") or "",
        user_id=record.user_id,
        source_kind=OBSERVED,
        source_id=record.event_id,
        entry_id=record.text("canvas_entry_id") or "",
        from_step_id=record.text("canvas_step_id") or "",
        step_id=record.text("next_step_id") or "",
        **base,
    )
