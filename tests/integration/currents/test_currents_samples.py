"""Braze's own sample files, in their three shapes (case K05)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import fastavro

from dispatchledger.adapters.currents.log import observed_lineage, read_events
from dispatchledger.adapters.currents.readers import read_file
from dispatchledger.adapters.currents.records import NormalisedRecord, normalise
from dispatchledger.domain.observed import ObservedMessageDispatched

from .helpers import Currents, avro_records, copy_sample, sample_path

SEND = "users.messages.email.Send"
DISPATCH = "639a35d192b0df004d06514c"


def normalised(path: Path) -> NormalisedRecord:
    (item,) = list(read_file(path))
    return normalise(item.data, item.event_type_hint)


def test_every_sample_imports_with_nothing_rejected(
    currents: Currents, samples: Path
) -> None:
    summary = currents.ingestor.ingest([samples])

    assert summary.rejected == 0
    assert currents.rejects.list() == []
    # 56 event types, each in three shapes; the samples reuse one event id per
    # type, so the second and third shape of each are duplicates.
    assert (summary.files, summary.records) == (168, 168)
    assert (summary.imported, summary.duplicates) == (56, 112)


def test_the_three_shapes_normalise_to_equal_records(
    samples: Path, tmp_path: Path
) -> None:
    avro = normalised(copy_sample(samples, "avro", SEND, tmp_path, id="a"))
    rendering = normalised(copy_sample(samples, "json", SEND, tmp_path, id="b"))
    http = normalised(copy_sample(samples, "http", SEND, tmp_path, id="c"))

    for record in (avro, rendering, http):
        record.fields.pop("id")
    assert avro.fields == rendering.fields
    # Braze's HTTP sample is not quite the same event: it adds a device_id that
    # the Avro schema of this type lacks, and leaves out from_domain.
    assert http.fields.pop("device_id") == "device_id"
    assert avro.fields.pop("from_domain") == "braze.com"
    assert avro.fields == http.fields
    assert (
        (avro.event_type, avro.user_id, avro.time)
        == (
            rendering.event_type,
            rendering.user_id,
            rendering.time,
        )
        == (http.event_type, http.user_id, http.time)
    )


def test_sample_values_are_kept_as_they_were(samples: Path, tmp_path: Path) -> None:
    record = normalised(copy_sample(samples, "json", SEND, tmp_path, id="b"))

    assert record.dispatch_id == DISPATCH
    assert type(record.dispatch_id) is str
    assert record.user_id == DISPATCH
    assert record.time == datetime(2034, 6, 13, 9, 8, 24, tzinfo=UTC)
    assert record.time.isoformat() == "2034-06-13T09:08:24+00:00"
    assert record.timezone == "America/New_York"
    assert not any(isinstance(v, dict) for v in record.fields.values())


def test_stored_records_hold_no_union_wrappers(
    currents: Currents, samples: Path, tmp_path: Path
) -> None:
    copy_sample(samples, "json", SEND, tmp_path, id="b")

    currents.ingestor.ingest([tmp_path])

    (event,) = list(read_events(currents.ledger, [ObservedMessageDispatched.TOPIC]))
    assert isinstance(event, ObservedMessageDispatched)
    assert event.dispatch_id == DISPATCH
    assert event.record["dispatch_id"] == DISPATCH
    assert event.record["timezone"] == "America/New_York"
    assert not any(isinstance(v, dict) for v in event.record.values())
    assert event.timestamp == datetime(2034, 6, 13, 9, 8, 24, tzinfo=UTC)


def test_lineage_orders_same_time_events_by_lifecycle(
    currents: Currents, samples: Path, tmp_path: Path
) -> None:
    given = [
        ("users.messages.email.Click", "e-click"),
        ("users.messages.pushnotification.Open", "p-open"),
        ("users.messages.email.Open", "e-open"),
        ("users.messages.email.Delivery", "e-delivery"),
        ("users.messages.pushnotification.Send", "p-send"),
        ("users.messages.email.Send", "e-send"),
    ]
    for event_type, event_id in given:
        copy_sample(samples, "avro", event_type, tmp_path, id=event_id)

    currents.ingestor.ingest([tmp_path])
    first = observed_lineage(currents.ledger, DISPATCH)
    second = observed_lineage(currents.ledger, DISPATCH)

    assert [e.event_id for e in first] == [
        "e-send",
        "p-send",
        "e-delivery",
        "e-open",
        "p-open",
        "e-click",
    ]
    assert first == second


def test_one_file_ingested_twice_yields_one_record(
    currents: Currents, samples: Path, tmp_path: Path
) -> None:
    path = copy_sample(samples, "avro", SEND, tmp_path, id="once")

    first = currents.ingestor.ingest([path])
    second = currents.ingestor.ingest([path])

    assert (first.imported, first.duplicates) == (1, 0)
    assert (second.imported, second.duplicates) == (0, 1)
    assert (
        len(list(read_events(currents.ledger, [ObservedMessageDispatched.TOPIC]))) == 1
    )


def test_any_writer_schema_version_is_read(
    currents: Currents, samples: Path, tmp_path: Path
) -> None:
    schema, (record,) = avro_records(sample_path(samples, "avro", SEND))
    older = {
        **schema,
        "fields": [f for f in schema["fields"] if f["name"] != "dispatch_id"],
    }
    without = {k: v for k, v in record.items() if k != "dispatch_id"}
    folder = tmp_path / f"event_type={SEND}"
    folder.mkdir()
    for name, writer_schema, rows in [
        ("present.avro", schema, [{**record, "id": "present"}]),
        ("null.avro", schema, [{**record, "id": "null", "dispatch_id": None}]),
        ("missing.avro", older, [{**without, "id": "missing"}]),
    ]:
        with (folder / name).open("wb") as handle:
            fastavro.writer(handle, writer_schema, rows)

    summary = currents.ingestor.ingest([tmp_path])

    assert (summary.imported, summary.rejected) == (3, 0)
    stored = {
        e.event_id: e.dispatch_id
        for e in read_events(currents.ledger, [ObservedMessageDispatched.TOPIC])
        if isinstance(e, ObservedMessageDispatched)
    }
    assert stored == {"present": DISPATCH, "null": None, "missing": None}
