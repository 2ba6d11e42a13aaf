"""The orjson transcoder reads and writes the library's JSON documents exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    TranscodingNotRegisteredError,
    UUIDAsHex,
)

from dispatchledger.domain.storage import ModelTranscoding
from dispatchledger.domain.transcoder import OrjsonTranscoder
from dispatchledger.domain.values import (
    VALUE_OBJECTS,
    CampaignDefinition,
    ConversionBehavior,
    MessageVariation,
)

STREAM = UUID("12345678-1234-5678-1234-567812345678")
WHEN = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)
CAMPAIGN = CampaignDefinition(
    campaign_id="news",
    name="News é",
    delivery_type="scheduled",
    variations=(MessageVariation(variation_id="v", channel="email"),),
    conversion_behaviors=(
        ConversionBehavior(
            event="purchase", window_seconds=60, minimum_value=Decimal("9.990")
        ),
    ),
)


def _registered(transcoder: JSONTranscoder) -> JSONTranscoder:
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    for model in VALUE_OBJECTS:
        transcoder.register(ModelTranscoding(model))
    return transcoder


FAST = _registered(OrjsonTranscoder())
LIBRARY = _registered(JSONTranscoder())

EVENT_STATE: dict[str, Any] = {
    "timestamp": WHEN,
    "program_kind": "campaign",
    "program_id": "news",
    "user_id": "ünïcode-user",
    "source_kind": "occurrence",
    "source_id": "o1",
    "channel": "email",
    "dispatch_id": None,
    "entry_id": None,
}
NESTED: dict[str, Any] = {
    "_id": STREAM,
    "ids": [STREAM, {"deep": (STREAM, Decimal("1.50"))}],
    "at": datetime(2026, 3, 1, 9, 0, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    "naive": datetime(2026, 3, 1, 9, 0, 0, 1),
    "amount": Decimal("-0.000100"),
    "definition": CAMPAIGN,
    "big": 2**70,
    "flag": True,
}


def test_event_state_is_written_byte_for_byte_as_the_library_writes_it() -> None:
    assert FAST.encode(EVENT_STATE) == LIBRARY.encode(EVENT_STATE)


@pytest.mark.parametrize("state", [EVENT_STATE, NESTED])
def test_each_transcoder_reads_what_the_other_wrote(state: dict[str, Any]) -> None:
    assert FAST.decode(LIBRARY.encode(state)) == LIBRARY.decode(LIBRARY.encode(state))
    assert LIBRARY.decode(FAST.encode(state)) == LIBRARY.decode(LIBRARY.encode(state))


def test_values_come_back_with_their_types() -> None:
    decoded = FAST.decode(FAST.encode(NESTED))
    assert decoded["_id"] == STREAM
    assert type(decoded["_id"]) is UUID
    assert decoded["ids"] == [STREAM, {"deep": [STREAM, Decimal("1.50")]}]
    assert str(decoded["amount"]) == "-0.000100"
    assert decoded["at"].utcoffset() == timedelta(hours=5, minutes=30)
    assert decoded["naive"] == datetime(2026, 3, 1, 9, 0, 0, 1)
    assert decoded["naive"].tzinfo is None
    assert decoded["definition"] == CAMPAIGN
    assert type(decoded["definition"]) is CampaignDefinition
    assert decoded["big"] == 2**70


def test_microseconds_and_zone_survive() -> None:
    decoded = FAST.decode(FAST.encode({"t": WHEN}))
    assert decoded["t"] == WHEN
    assert decoded["t"].microsecond == 123456
    assert decoded["t"].tzinfo is not None


def test_an_unregistered_type_is_refused_as_the_library_refuses_it() -> None:
    with pytest.raises(TranscodingNotRegisteredError):
        FAST.encode({"value": object()})


def test_keys_that_are_not_strings_fall_back_to_the_library_encoder() -> None:
    assert FAST.encode({"m": {1: "one"}}) == LIBRARY.encode({"m": {1: "one"}})
