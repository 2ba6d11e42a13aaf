"""Observed data in the read models: lineage with engagement, rebuild checks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dispatchledger.adapters.read_side import open_read_models
from dispatchledger.projections.service import ReadModels

from .helpers import Currents, copy_sample, open_currents

DISPATCH = "639a35d192b0df004d06514c"


@pytest.fixture
def read_models(currents: Currents, sqlite_url: str) -> Iterator[ReadModels]:
    opened = open_read_models(sqlite_url, ledger=currents.ledger)
    yield opened
    opened.close()


def test_k05_lineage_lists_engagement_in_lifecycle_order(
    currents: Currents, read_models: ReadModels, samples: Path, tmp_path: Path
) -> None:
    for event_type, event_id in [
        ("users.messages.email.Click", "e-click"),
        ("users.messages.pushnotification.Open", "p-open"),
        ("users.messages.email.Open", "e-open"),
        ("users.messages.email.Delivery", "e-delivery"),
        ("users.messages.pushnotification.Send", "p-send"),
        ("users.messages.email.Send", "e-send"),
    ]:
        copy_sample(samples, "avro", event_type, tmp_path, id=event_id)
    currents.ingestor.ingest([tmp_path])

    read_models.catch_up()
    lineage = read_models.dispatch_lineage(DISPATCH)

    assert [(e.action, e.event_id) for e in lineage.lifecycle] == [
        ("Send", "e-send"),
        ("Send", "p-send"),
        ("Delivery", "e-delivery"),
        ("Open", "e-open"),
        ("Open", "p-open"),
        ("Click", "e-click"),
    ]
    assert read_models.dispatch_lineage(DISPATCH) == lineage


def test_k01_and_k03_in_the_read_models(
    currents: Currents, read_models: ReadModels
) -> None:
    base = {"time": 2_000_000_000, "campaign_id": "api-camp"}
    currents.ingestor.ingest_records(
        [
            {**base, "id": f"s{n}", "user_id": f"u{n}", "dispatch_id": "shared"}
            for n in (1, 2, 3)
        ],
        event_type="users.messages.email.Send",
    )
    currents.ingestor.ingest_records(
        [
            {
                **base,
                "id": "imp",
                "user_id": "u1",
                "dispatch_id": "5f0c1a2b3c4d5e6f7a8b9c0d",
            }
        ],
        source="in-app",
        event_type="users.messages.inappmessage.Impression",
    )

    read_models.catch_up()

    shared = read_models.dispatch_lineage("shared").lifecycle
    assert {e.user_id for e in shared} == {"u1", "u2", "u3"}
    assert [m.user_id for m in read_models.by_dispatch("shared")] == ["u1", "u2", "u3"]
    assert read_models.by_dispatch("5f0c1a2b3c4d5e6f7a8b9c0d") == []
    hidden = read_models.dispatch_lineage("5f0c1a2b3c4d5e6f7a8b9c0d")
    assert (hidden.lifecycle, hidden.messages, hidden.transmissions) == ([], [], [])
    reports = read_models.rebuild(check_only=True)
    assert all(r.identical for r in reports)


def test_rebuild_check_passes_with_every_sample_imported(
    currents: Currents, read_models: ReadModels, samples: Path
) -> None:
    currents.ingestor.ingest([samples])
    read_models.catch_up()

    reports = read_models.rebuild(check_only=True)

    assert {r.projection for r in reports} >= {
        "dispatch_lifecycle",
        "conversion_attribution",
    }
    assert all(r.identical for r in reports)


def test_observed_read_models_on_postgres(fresh_postgres_url: str) -> None:
    opened = open_currents(fresh_postgres_url)
    read_models = open_read_models(fresh_postgres_url, ledger=opened.ledger)
    base = {"time": 2_000_000_000, "campaign_id": "api-camp"}
    try:
        opened.ingestor.ingest_records(
            [
                {**base, "id": "s1", "user_id": "u1", "dispatch_id": "shared"},
                {**base, "id": "s2", "user_id": "u2", "dispatch_id": "shared"},
            ],
            event_type="users.messages.email.Send",
        )
        opened.ingestor.ingest_records(
            [{**base, "id": "c1", "user_id": "u1", "time": 2_000_000_060}],
            source="conversions",
            event_type="users.campaigns.Conversion",
        )
        read_models.catch_up()

        lifecycle = read_models.dispatch_lineage("shared").lifecycle
        credited = read_models.attribution("api-camp", window_seconds=3600)
        reports = read_models.rebuild(check_only=True)
    finally:
        read_models.close()
        opened.rejects.close()
        opened.ledger.close()

    assert [(e.action, e.user_id) for e in lifecycle] == [
        ("Send", "u1"),
        ("Send", "u2"),
    ]
    assert [
        (c.event_id, c.dispatch_id, c.basis.value) for c in credited.all_results()
    ] == [("c1", "shared", "inferred")]
    assert all(r.identical for r in reports)


def test_k12_imported_sends_are_found_by_user_and_by_exact_dispatch_id(
    currents: Currents, read_models: ReadModels
) -> None:
    ids = [
        "639a35d192b0df004d06514c",
        "D1234567-89AB-CDEF-0123-456789ABCDEF",
        "d1234567-89ab-cdef-0123-456789abcdef",
    ]
    base = {"time": 2_000_000_000, "campaign_id": "c", "user_id": "u1"}
    currents.ingestor.ingest_records(
        [{**base, "id": f"s{n}", "dispatch_id": d} for n, d in enumerate(ids)],
        event_type="users.messages.email.Send",
    )

    read_models.catch_up()

    assert [m.dispatch_id for m in read_models.by_user("u1")] == ids
    for dispatch_id in ids:
        found = read_models.by_dispatch(dispatch_id)
        assert [(m.user_id, m.dispatch_id, m.source_kind) for m in found] == [
            ("u1", dispatch_id, "observed")
        ]
    assert read_models.by_dispatch("D1234567-89ab-cdef-0123-456789abcdef") == []


def test_imported_progressions_form_the_journey_they_name(
    currents: Currents, read_models: ReadModels
) -> None:
    base = {"canvas_id": "welcome-canvas", "user_id": "u1"}
    steps = [
        ("p1", "entry", "tips", 2_000_000_000),
        ("p2", "tips", "offer", 2_000_086_400),
    ]
    currents.ingestor.ingest_records(
        [
            {
                **base,
                "id": event_id,
                "time": time,
                "canvas_entry_id": "journey-1",
                "canvas_step_id": from_step,
                "next_step_id": to_step,
                "progression_type": "step",
            }
            for event_id, from_step, to_step, time in steps
        ],
        event_type="users.canvasstep.Progression",
    )

    read_models.catch_up()

    (journey,) = read_models.user_lineage("u1").journeys
    assert journey.entry_id == "journey-1"
    assert journey.canvas_id == "welcome-canvas"
    assert [(s.from_step_id, s.step_id) for s in journey.steps] == [
        ("entry", "tips"),
        ("tips", "offer"),
    ]
    assert all(r.identical for r in read_models.rebuild(check_only=True))
