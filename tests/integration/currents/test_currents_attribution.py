"""Case K04: which occurrence of a recurring campaign drove a conversion (A1)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from typer.testing import CliRunner

from dispatchledger.adapters.cli import app
from dispatchledger.adapters.read_side import open_read_models
from dispatchledger.domain.observed import Basis
from dispatchledger.domain.values import (
    CampaignDefinition,
    Channel,
    ConversionBehavior,
    DeliveryType,
    MessageVariation,
)

from .helpers import Currents

DAY = 86_400


def at(day: int, hour: int) -> datetime:
    """A time in March 2025, UTC."""
    return datetime(2025, 3, day, hour, tzinfo=UTC)


def conversion(
    event_id: str, user_id: str, when: datetime, dispatch_id: str | None = None
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": event_id,
        "user_id": user_id,
        "time": int(when.timestamp()),
        "campaign_id": "daily",
        "conversion_behavior_index": 0,
    }
    if dispatch_id is not None:
        record["dispatch_id"] = dispatch_id
    return record


def k04(currents: Currents) -> tuple[str, str]:
    """Occurrence 1 to u1, u2 mints D1; occurrence 2 to u1 mints D2."""
    ledger = currents.ledger
    ledger.define_campaign(
        CampaignDefinition(
            campaign_id="daily",
            name="Daily deal",
            delivery_type=DeliveryType.SCHEDULED,
            recurring=True,
            re_eligibility_seconds=0,
            variations=(MessageVariation(variation_id="v", channel=Channel.EMAIL),),
            conversion_behaviors=(
                ConversionBehavior(event="purchase", window_seconds=3 * DAY),
            ),
        ),
        at=at(1, 8),
    )
    first = ledger.run_occurrence(
        campaign_id="daily", occurrence_id="day-1", audience=["u1", "u2"], at=at(1, 9)
    )
    second = ledger.run_occurrence(
        campaign_id="daily", occurrence_id="day-2", audience=["u1"], at=at(2, 9)
    )
    (d1,) = first.dispatch_ids
    (d2,) = second.dispatch_ids
    assert d1 is not None
    assert d2 is not None
    currents.ingestor.ingest_records(
        [
            conversion("c-u1-next-hour", "u1", at(2, 10)),
            conversion("c-u2", "u2", at(2, 11)),
            conversion("c-u3-never-sent", "u3", at(2, 12)),
            conversion("c-u1-before", "u1", datetime(2025, 2, 28, 12, tzinfo=UTC)),
            conversion("c-u2-too-late", "u2", at(6, 12)),
            conversion("c-u1-explicit", "u1", at(2, 13), dispatch_id=d1),
        ],
        event_type="users.campaigns.Conversion",
    )
    return d1, d2


def outcomes(currents: Currents, url: str, window: int | None = None) -> dict[str, Any]:
    read_models = open_read_models(url, ledger=currents.ledger)
    try:
        read_models.catch_up()
        result = read_models.attribution("daily", window)
    finally:
        read_models.close()
    return {r.event_id: (r.dispatch_id, r.basis) for r in result.all_results()}


def test_k04_each_conversion_credited_by_rule_a1(
    currents: Currents, sqlite_url: str
) -> None:
    d1, d2 = k04(currents)

    found = outcomes(currents, sqlite_url)

    assert found == {
        "c-u1-next-hour": (d2, Basis.INFERRED),
        "c-u2": (d1, Basis.INFERRED),
        "c-u3-never-sent": (None, Basis.UNATTRIBUTED),
        "c-u1-before": (None, Basis.UNATTRIBUTED),
        "c-u2-too-late": (None, Basis.UNATTRIBUTED),
        "c-u1-explicit": (d1, Basis.EXPLICIT),
    }


def test_k04_a_shorter_window_changes_only_what_it_affects(
    currents: Currents, sqlite_url: str
) -> None:
    d1, d2 = k04(currents)
    three_days = outcomes(currents, sqlite_url)

    one_day = outcomes(currents, sqlite_url, window=DAY)

    changed = {k for k in three_days if three_days[k] != one_day[k]}
    assert changed == {"c-u2"}
    assert one_day["c-u2"] == (None, Basis.UNATTRIBUTED)
    assert one_day["c-u1-next-hour"] == (d2, Basis.INFERRED)
    assert one_day["c-u1-explicit"] == (d1, Basis.EXPLICIT)


def test_k04_conversions_listed_per_dispatch_with_their_occurrence(
    currents: Currents, sqlite_url: str
) -> None:
    d1, d2 = k04(currents)

    result = CliRunner().invoke(
        app, ["attribution", "--campaign", "daily", "--json", "--db", sqlite_url]
    )

    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    assert listed["window_seconds"] == 3 * DAY
    by_dispatch = {
        d["dispatch_id"]: (d["sources"], [c["event_id"] for c in d["conversions"]])
        for d in listed["by_dispatch"]
    }
    assert by_dispatch == {
        d1: (["occurrence day-1"], ["c-u2", "c-u1-explicit"]),
        d2: (["occurrence day-2"], ["c-u1-next-hour"]),
    }
    assert [c["event_id"] for c in listed["unattributed"]] == [
        "c-u1-before",
        "c-u3-never-sent",
        "c-u2-too-late",
    ]


def test_k04_rebuild_check_passes(currents: Currents, sqlite_url: str) -> None:
    k04(currents)
    read_models = open_read_models(sqlite_url, ledger=currents.ledger)
    try:
        read_models.catch_up()

        reports = read_models.rebuild(
            ["conversion_attribution", "dispatch_lifecycle"], check_only=True
        )
    finally:
        read_models.close()

    assert {r.projection: r.identical for r in reports} == {
        "conversion_attribution": True,
        "dispatch_lifecycle": True,
    }


def test_a_window_must_be_positive(currents: Currents, sqlite_url: str) -> None:
    result = CliRunner().invoke(
        app, ["attribution", "--campaign", "daily", "--window", "0", "--db", sqlite_url]
    )

    assert result.exit_code == 2
    assert "window must be a positive number of seconds" in " ".join(
        result.output.split()
    )
