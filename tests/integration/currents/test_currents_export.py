"""Export: Braze's field names and types, stable ids, and a faithful round trip."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import fastavro
import pytest

from dispatchledger.adapters.currents.export import export
from dispatchledger.adapters.currents.export_schema import ExportFormat
from dispatchledger.adapters.currents.log import observed_lineage, read_events
from dispatchledger.adapters.read_side import open_read_models
from dispatchledger.domain.observed import ConversionObserved
from dispatchledger.domain.values import (
    CampaignDefinition,
    Channel,
    DeliveryType,
    MessageVariation,
)

from .helpers import Currents, avro_records, open_currents, sample_path

AT = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def files_of(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_exported_avro_matches_braze_schemas(
    currents: Currents, samples: Path, tmp_path: Path
) -> None:
    currents.ingestor.ingest([samples / "Avro"])

    summary = export(currents.ledger, "avro", tmp_path / "out")

    # 44 message events and the campaign conversion (Canvas events, EnrollInControl
    # and the campaign-less types are not exported).
    assert summary.events == 45
    assert summary.by_type["users.campaigns.Conversion"] == 1
    for folder in sorted((tmp_path / "out").iterdir()):
        event_type = folder.name.removeprefix("event_type=")
        ours, records = avro_records(folder / "part-00000.avro")
        braze, (original,) = avro_records(sample_path(samples, "avro", event_type))
        braze_types = {f["name"]: f["type"] for f in braze["fields"]}
        for spec in ours["fields"]:
            assert braze_types[spec["name"]] == spec["type"], (event_type, spec)
        (record,) = records
        assert record == {name: original[name] for name in record}


def test_a_re_export_is_identical(
    currents: Currents, samples: Path, tmp_path: Path
) -> None:
    currents.ingestor.ingest([samples / "Avro"])

    for fmt in ExportFormat:
        first = tmp_path / "one" / fmt.value
        second = tmp_path / "two" / fmt.value
        export(currents.ledger, fmt, first)
        export(currents.ledger, fmt, second)

        if first.is_dir():
            assert files_of(first) == files_of(second)
        else:
            assert first.read_bytes() == second.read_bytes()


def projected_lifecycle(
    opened: Currents, url: str, dispatch_id: str
) -> list[tuple[object, ...]]:
    """The read models' lifecycle of a dispatch, minted or imported alike."""
    read_models = open_read_models(url, ledger=opened.ledger)
    try:
        read_models.catch_up()
        lifecycle = read_models.dispatch_lineage(dispatch_id).lifecycle
    finally:
        read_models.close()
    return [e.model_dump(exclude={"observed"}) for e in lifecycle]


def minted_and_observed(currents: Currents) -> str:
    """A scheduled email+push occurrence to u1, u2, and an observed open."""
    ledger = currents.ledger
    ledger.define_campaign(
        CampaignDefinition(
            campaign_id="spring",
            name="Spring sale",
            delivery_type=DeliveryType.SCHEDULED,
            variations=(
                MessageVariation(variation_id="v-mail", channel=Channel.EMAIL),
                MessageVariation(variation_id="v-push", channel=Channel.PUSH),
                MessageVariation(variation_id="v-iam", channel=Channel.IN_APP_MESSAGE),
            ),
        ),
        at=AT,
    )
    result = ledger.run_occurrence(
        campaign_id="spring", occurrence_id="day-1", audience=["u1", "u2"], at=AT
    )
    (dispatch_id,) = [d for d in result.dispatch_ids if d is not None]
    currents.ingestor.ingest_records(
        [
            {
                "id": "open-1",
                "user_id": "u1",
                "time": int(AT.timestamp()) + 300,
                "dispatch_id": dispatch_id,
                "campaign_id": "spring",
                "message_variation_id": "v-mail",
            }
        ],
        event_type="users.messages.email.Open",
    )
    return dispatch_id


@pytest.mark.parametrize("fmt", ["avro", "json", "http"])
def test_export_then_import_gives_back_the_same_lineage(
    currents: Currents, sqlite_url: str, tmp_path: Path, fmt: str
) -> None:
    dispatch_id = minted_and_observed(currents)
    before = observed_lineage(currents.ledger, dispatch_id)
    out = tmp_path / ("out" if fmt != "http" else "out.jsonl")

    export(currents.ledger, fmt, out)
    again_url = f"sqlite:///{tmp_path / 'again.db'}"
    again = open_currents(again_url)
    try:
        summary = again.ingestor.ingest([out])
        after = observed_lineage(again.ledger, dispatch_id)
        projected = (
            projected_lifecycle(currents, sqlite_url, dispatch_id),
            projected_lifecycle(again, again_url, dispatch_id),
        )
    finally:
        again.rejects.close()
        again.ledger.close()

    assert summary.rejected == 0
    assert [(e.action, e.channel, e.user_id) for e in before] == [
        ("Send", "email", "u1"),
        ("Send", "push", "u1"),
        ("Send", "email", "u2"),
        ("Send", "push", "u2"),
        ("Open", "email", "u1"),
    ]
    assert after == before
    assert projected[0] == projected[1]
    assert len(projected[0]) == 5


def test_partner_shapes_rename_the_envelope(currents: Currents, tmp_path: Path) -> None:
    currents.ingestor.ingest_records(
        [
            {
                "event_type": "users.messages.email.Send",
                "id": "evt-9",
                "time": 2_000_000_000,
                "properties": {"dispatch_id": "d-9", "send_id": "s-9"},
                "user": {"user_id": "braze-u", "external_user_id": "ext-u"},
            }
        ]
    )

    for fmt in ("segment", "mixpanel", "amplitude"):
        export(currents.ledger, fmt, tmp_path / f"{fmt}.jsonl")
    segment, mixpanel, amplitude = (
        json.loads((tmp_path / f"{fmt}.jsonl").read_text())
        for fmt in ("segment", "mixpanel", "amplitude")
    )

    assert (segment["userId"], segment["anonymousId"], segment["messageId"]) == (
        "ext-u",
        "braze-u",
        "evt-9",
    )
    assert segment["properties"] == {"dispatch_id": "d-9", "send_id": "s-9"}
    assert (
        mixpanel["properties"]["distinct_id"],
        mixpanel["properties"]["$insert_id"],
    ) == (
        "ext-u",
        "evt-9",
    )
    assert (amplitude["user_id"], amplitude["insert_id"]) == ("ext-u", "evt-9")
    assert amplitude["event_properties"]["dispatch_id"] == "d-9"


def test_minted_in_app_sends_are_not_exported(
    currents: Currents, tmp_path: Path
) -> None:
    minted_and_observed(currents)

    summary = export(currents.ledger, "avro", tmp_path / "out")

    assert summary.by_type == {
        "users.messages.email.Open": 1,
        "users.messages.email.Send": 2,
        "users.messages.pushnotification.Send": 2,
    }
    with (
        tmp_path / "out" / "event_type=users.messages.email.Send" / "part-00000.avro"
    ).open("rb") as handle:
        sends = list(fastavro.reader(handle))
    assert [(s["user_id"], s["campaign_id"], s["time"]) for s in sends] == [
        ("u1", "spring", 1740819600),
        ("u2", "spring", 1740819600),
    ]


@pytest.mark.parametrize("fmt", ["avro", "json", "http"])
def test_campaign_conversions_survive_an_export_and_import(
    currents: Currents, tmp_path: Path, fmt: str
) -> None:
    conversions = [
        {"id": "c1", "user_id": "u1", "time": 1_740_900_000, "campaign_id": "spring"},
        {
            "id": "c2",
            "user_id": "u2",
            "time": 1_740_903_600,
            "campaign_id": "spring",
            "send_id": "s-9",
            "conversion_behavior_index": 1,
        },
    ]
    currents.ingestor.ingest_records(
        conversions, event_type="users.campaigns.Conversion"
    )
    out = tmp_path / ("out" if fmt != "http" else "out.jsonl")

    export(currents.ledger, fmt, out)
    again = open_currents(f"sqlite:///{tmp_path / 'again.db'}")
    try:
        summary = again.ingestor.ingest([out])
        found = [
            (e.event_id, e.user_id, int(e.timestamp.timestamp()), e.program_id)
            for e in read_events(again.ledger, [ConversionObserved.TOPIC])
        ]
        indexes = [
            e.conversion_behavior_index
            for e in read_events(again.ledger, [ConversionObserved.TOPIC])
        ]
    finally:
        again.rejects.close()
        again.ledger.close()

    assert (summary.imported, summary.rejected) == (2, 0)
    assert found == [
        ("c1", "u1", 1_740_900_000, "spring"),
        ("c2", "u2", 1_740_903_600, "spring"),
    ]
    assert indexes == [None, 1]
