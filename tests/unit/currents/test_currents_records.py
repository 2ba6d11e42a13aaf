"""The normaliser: three shapes of one event give one record; bad records say why."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from dispatchledger.adapters.currents.event_types import SEND_TYPES, Kind, event_type
from dispatchledger.adapters.currents.observe import record_stream_id, to_event
from dispatchledger.adapters.currents.records import RecordRejected, normalise
from dispatchledger.domain.observed import (
    SEND_EVENT_TYPES,
    ActivityObserved,
    EngagementObserved,
    ObservedMessageDispatched,
    ObservedStepAdvanced,
)

SEND = "users.messages.email.Send"


def rendering(**extra: Any) -> dict[str, Any]:
    """An email Send as Braze's JSON rendering writes it (nullables wrapped)."""
    return {
        "id": "evt-1",
        "user_id": "u1",
        "dispatch_id": {"string": "639a35d192b0df004d06514c"},
        "time": 2033802504,
        "timezone": {"string": "America/New_York"},
        "campaign_id": {"string": "camp-1"},
        "send_id": None,
        "email_address": "someone@example.com",
        **extra,
    }


def envelope() -> dict[str, Any]:
    return {
        "event_type": SEND,
        "id": "evt-1",
        "time": 2033802504,
        "properties": {
            "dispatch_id": "639a35d192b0df004d06514c",
            "campaign_id": "camp-1",
            "email_address": "someone@example.com",
        },
        "user": {"user_id": "u1", "timezone": "America/New_York"},
    }


def test_rendering_and_envelope_normalise_to_the_same_record() -> None:
    from_rendering = normalise(rendering(), SEND)

    from_envelope = normalise(envelope())

    assert from_rendering == from_envelope
    assert from_rendering.fields == {
        "id": "evt-1",
        "user_id": "u1",
        "dispatch_id": "639a35d192b0df004d06514c",
        "time": 2033802504,
        "timezone": "America/New_York",
        "campaign_id": "camp-1",
        "email_address": "someone@example.com",
    }


def test_time_is_aware_utc_and_timezone_stays_an_attribute() -> None:
    record = normalise(rendering(), SEND)

    assert record.time == datetime(2034, 6, 13, 9, 8, 24, tzinfo=UTC)
    assert record.time.utcoffset() is not None
    assert record.timezone == "America/New_York"


@pytest.mark.parametrize(
    "dispatch_id",
    [
        "639a35d192b0df004d06514c",
        "D1234567-89AB-CDEF-0123-456789ABCDEF",
        "d1234567-89ab-cdef-0123-456789abcdef",
    ],
)
def test_dispatch_ids_are_kept_byte_for_byte(dispatch_id: str) -> None:
    record = normalise(rendering(dispatch_id={"string": dispatch_id}), SEND)

    event = to_event(record)

    assert isinstance(event, ObservedMessageDispatched)
    assert event.dispatch_id == dispatch_id
    assert type(event.dispatch_id) is str


def test_nested_wrappers_are_removed() -> None:
    data = rendering(media_urls={"array": [{"string": "a"}, None]})

    record = normalise(data, SEND)

    assert record.fields["media_urls"] == ["a", None]


def test_unknown_fields_are_kept() -> None:
    record = normalise(rendering(brand_new_field={"string": "kept"}), SEND)

    assert record.fields["brand_new_field"] == "kept"


def test_null_and_missing_fields_give_the_same_record() -> None:
    with_null = normalise(rendering(dispatch_id=None), SEND)
    missing = rendering()
    del missing["dispatch_id"]

    assert with_null == normalise(missing, SEND)
    assert with_null.dispatch_id is None


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"id": None}, "missing id"),
        ({"user_id": ""}, "user_id must be a non-empty string"),
        ({"time": "2034-06-13"}, "time must be whole Unix seconds"),
        ({"time": True}, "time must be whole Unix seconds"),
        ({"time": 10**20}, "out of range"),
        ({"dispatch_id": 42}, "dispatch_id must be a string"),
        ({"campaign_id": {"int": 7}}, "campaign_id must be a string"),
    ],
)
def test_records_that_cannot_be_understood_say_why(
    change: dict[str, Any], reason: str
) -> None:
    with pytest.raises(RecordRejected, match=reason):
        normalise(rendering(**change), SEND)


def test_an_unknown_event_type_is_rejected() -> None:
    with pytest.raises(RecordRejected, match=r"unknown event type .users\.nope."):
        normalise(rendering(), "users.nope")


def test_a_record_without_any_event_type_is_rejected() -> None:
    with pytest.raises(RecordRejected, match="no event type"):
        normalise(rendering())


def test_a_record_must_be_an_object() -> None:
    with pytest.raises(RecordRejected, match="must be an object, not an array"):
        normalise([1, 2], SEND)


def test_in_app_dispatch_id_stays_in_the_record_but_is_never_indexed() -> None:
    data = {
        "id": "imp-1",
        "user_id": "u1",
        "time": 2033802504,
        "dispatch_id": "639a35d192b0df004d06514c",
    }

    event = to_event(normalise(data, "users.messages.inappmessage.Impression"))

    assert isinstance(event, EngagementObserved)
    assert event.dispatch_id is None
    assert event.record["dispatch_id"] == "639a35d192b0df004d06514c"


def test_progression_becomes_a_step_advance_of_its_journey() -> None:
    data = {
        "id": "p-1",
        "user_id": "u1",
        "time": 2033802504,
        "canvas_id": "cv",
        "canvas_step_id": "s1",
        "next_step_id": "s2",
        "canvas_entry_id": "journey-9",
        "progression_type": "step_completed",
    }

    event = to_event(normalise(data, "users.canvasstep.Progression"))

    assert isinstance(event, ObservedStepAdvanced)
    assert (event.entry_id, event.from_step_id, event.step_id) == (
        "journey-9",
        "s1",
        "s2",
    )


def test_a_progression_out_of_the_canvas_is_kept_as_activity() -> None:
    data = {
        "id": "p-2",
        "user_id": "u1",
        "time": 2033802504,
        "canvas_id": "cv",
        "canvas_step_id": "s2",
        "canvas_entry_id": "journey-9",
        "progression_type": "exit",
    }

    event = to_event(normalise(data, "users.canvasstep.Progression"))

    assert isinstance(event, ActivityObserved)


def test_each_record_has_a_stream_named_by_type_and_id() -> None:
    event = to_event(normalise(rendering(), SEND))

    assert event.originator_id == record_stream_id(SEND, "evt-1")
    assert event.originator_version == 1
    assert record_stream_id(SEND, "evt-1") != record_stream_id(
        "users.messages.email.Open", "evt-1"
    )


@pytest.mark.parametrize(
    ("name", "kind", "channel"),
    [
        ("users.messages.pushnotification.Send", Kind.SEND, "push"),
        ("users.messages.email.Bounce", Kind.ENGAGEMENT, "email"),
        ("users.messages.contentcard.Send", Kind.SEND, "content_card"),
        ("users.campaigns.Conversion", Kind.CONVERSION, None),
        ("users.canvas.Entry", Kind.ENTRY, None),
        ("users.messages.sms.InboundReceive", Kind.ACTIVITY, "sms"),
    ],
)
def test_event_types_are_classified(name: str, kind: Kind, channel: str | None) -> None:
    found = event_type(name)

    assert found is not None
    assert (found.kind, found.channel) == (kind, channel)


def test_each_channel_has_the_send_type_the_domain_names() -> None:
    assert SEND_TYPES == SEND_EVENT_TYPES
    assert set(SEND_EVENT_TYPES) == {
        "email",
        "push",
        "sms",
        "webhook",
        "whatsapp",
        "content_card",
    }
