"""CASES K10, K12 and K15 on a SQLite file: types survive snapshots and storage,
and ids derived from external ids do not depend on the process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.application import project_aggregate
from ledger_builders import campaign
from pydantic import BaseModel

from dispatchledger.adapters.bootstrap import open_ledger
from dispatchledger.adapters.settings import Settings
from dispatchledger.domain import (
    Campaign,
    CampaignDefinition,
    ConversionBehavior,
    DispatchLedger,
    MessageVariation,
)
from dispatchledger.domain import ids as stream_ids

PLUS_ONE = timezone(timedelta(hours=1))
T0 = datetime(2025, 3, 1, 9, 0, 0, 123456, tzinfo=PLUS_ONE)


class SnapshottingLedger(DispatchLedger):
    """The ledger, snapshotting a Campaign every second event."""

    snapshotting_intervals = {Campaign: 2}


def _definition() -> CampaignDefinition:
    return campaign("spring", "scheduled", ["email", "push"]).model_copy(
        update={
            "conversion_behaviors": (
                ConversionBehavior(
                    event="purchase",
                    window_seconds=259200,
                    minimum_value=Decimal("0.10"),
                ),
                ConversionBehavior(
                    event="upgrade",
                    window_seconds=86400,
                    minimum_value=Decimal("1E+2"),
                ),
            )
        }
    )


def _snapshotting(url: str) -> SnapshottingLedger:
    return SnapshottingLedger(Settings(database_url=url).event_store_env())


def _build_campaign(url: str) -> UUID:
    """Five events: Defined, Launched, two TemplateRevised, Archived."""
    ledger = _snapshotting(url)
    ledger.define_campaign(_definition(), at=T0)
    ledger.run_occurrence(
        campaign_id="spring",
        occurrence_id="o1",
        audience=["u1"],
        at=T0 + timedelta(microseconds=1),
    )
    stream_id = stream_ids.campaign_stream_id("spring")
    for minutes, text in ((1, "Hi {{first_name}}"), (2, "Hello {{first_name}}")):
        aggregate: Campaign = ledger.repository.get(stream_id)
        aggregate.revise_template("spring-email", text, T0 + timedelta(minutes=minutes))
        ledger.save(aggregate)
    ledger.archive(
        program_kind="campaign",
        program_id="spring",
        at=T0 + timedelta(minutes=3, microseconds=7),
    )
    ledger.close()
    return stream_id


def _types(value: Any) -> Any:
    """The value's structure with the type of every leaf, for comparison."""
    if isinstance(value, dict):
        return {k: _types(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return (type(value), [_types(v) for v in value])
    if isinstance(value, BaseModel):
        fields = type(value).model_fields
        return (type(value), {k: _types(getattr(value, k)) for k in fields})
    return type(value)


def test_k10_a_campaign_loaded_through_a_snapshot_equals_its_replay(sqlite_url):
    stream_id = _build_campaign(sqlite_url)
    ledger = _snapshotting(sqlite_url)

    snapshots = list(ledger.snapshots.get(stream_id))
    from_snapshot: Campaign = ledger.repository.get(stream_id)
    replayed: Campaign = project_aggregate(None, ledger.events.get(stream_id))

    assert [s.originator_version for s in snapshots] == [2, 4]
    assert from_snapshot.version == replayed.version == 5
    assert vars(from_snapshot) == vars(replayed)
    assert _types(vars(from_snapshot)) == _types(vars(replayed))
    definition = from_snapshot.definition
    assert type(definition) is CampaignDefinition
    assert all(type(v) is MessageVariation for v in definition.variations)
    assert [b.minimum_value for b in definition.conversion_behaviors] == [
        Decimal("0.10"),
        Decimal("1E+2"),
    ]
    assert [str(b.minimum_value) for b in definition.conversion_behaviors] == [
        "0.10",
        "1E+2",
    ]
    assert definition.variations[0].template == "Hello {{first_name}}"
    assert from_snapshot.created_on == T0
    assert from_snapshot.modified_on == T0 + timedelta(minutes=3, microseconds=7)
    assert type(from_snapshot.created_on) is type(replayed.created_on) is datetime
    assert type(from_snapshot.id) is UUID
    assert (from_snapshot.archived, from_snapshot.launched_as) == (True, "o1")


def test_k15_decimals_uuid_and_datetime_round_trip_through_sqlite(sqlite_url):
    stream_id = _build_campaign(sqlite_url)
    ledger = _snapshotting(sqlite_url)

    defined = next(iter(ledger.events.get(stream_id)))
    first_snapshot = next(iter(ledger.snapshots.get(stream_id)))

    for source in (defined.definition, first_snapshot.state["definition"]):
        minimums = [b.minimum_value for b in source.conversion_behaviors]
        assert minimums == [Decimal("0.10"), Decimal("1E+2")]
        assert all(type(m) is Decimal for m in minimums)
        assert [m.as_tuple() for m in minimums] == [
            Decimal("0.10").as_tuple(),
            Decimal("1E+2").as_tuple(),
        ]
    assert defined.originator_id == stream_id
    assert type(defined.originator_id) is UUID
    assert defined.timestamp == datetime(2025, 3, 1, 8, 0, 0, 123456, tzinfo=UTC)
    assert defined.timestamp.microsecond == 123456
    assert defined.timestamp.utcoffset() is not None


def test_k15_serialising_the_same_event_twice_gives_identical_bytes(sqlite_url):
    stream_id = _build_campaign(sqlite_url)
    ledger = _snapshotting(sqlite_url)
    other = _snapshotting(sqlite_url)
    defined = next(iter(ledger.events.get(stream_id)))

    first = ledger.mapper.to_stored_event(defined)
    second = ledger.mapper.to_stored_event(defined)
    third = other.mapper.to_stored_event(defined)

    assert first.state == second.state == third.state
    assert (first.topic, first.originator_id, first.originator_version) == (
        "dispatchledger:Campaign.Defined",
        stream_id,
        1,
    )
    assert ledger.mapper.to_domain_event(first) == defined


EXTERNAL_IDS = [
    "639a35d192b0df004d06514c",
    "D1234567-89AB-CDEF-0123-456789ABCDEF",
    "d1234567-89ab-cdef-0123-456789abcdef",
]

DERIVE = """
import json, sys
from dispatchledger.domain import ids
names = json.loads(sys.argv[1])
print(json.dumps({
    name: [
        str(ids.campaign_stream_id(name)),
        str(ids.canvas_stream_id(name)),
        str(ids.recipient_stream_id(name, "u1")),
        str(ids.journey_stream_id("c1", name)),
        str(ids.transmission_stream_id("campaign", "c1", name)),
        str(ids.idempotency_stream_id(name)),
        ids.stable_pick(name, "u1") % 1000003,
    ]
    for name in names
}))
"""


def _derive_in_process(seed: str) -> dict[str, list[Any]]:
    output = subprocess.run(
        [sys.executable, "-c", DERIVE, json.dumps(EXTERNAL_IDS)],
        env={**os.environ, "PYTHONHASHSEED": seed},
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output)


def test_k12_stream_ids_from_external_ids_do_not_depend_on_the_hash_seed():
    seed_1 = _derive_in_process("1")
    seed_2 = _derive_in_process("4242")

    assert seed_1 == seed_2
    assert list(seed_1) == EXTERNAL_IDS
    # Byte-exact: the upper- and lower-case UUID-shaped ids are different ids.
    campaign_streams = [seed_1[name][0] for name in EXTERNAL_IDS]
    assert len(set(campaign_streams)) == 3


def test_k12_external_ids_are_recorded_byte_for_byte(sqlite_url):
    ledger = open_ledger(sqlite_url)
    ledger.define_campaign(campaign("receipt", "api_triggered"), at=T0)

    for call_id in EXTERNAL_IDS:
        ledger.api_trigger(
            campaign_id="receipt", recipients=[call_id], call_id=call_id, at=T0
        )

    assert [
        (r.user_id, r.source_id)
        for name in EXTERNAL_IDS
        for r in ledger.user_dispatches(name)
    ] == [(name, name) for name in EXTERNAL_IDS]
