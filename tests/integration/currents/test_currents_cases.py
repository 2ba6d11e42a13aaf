"""Cases K01, K03 and K12 on the import side, and the audit's findings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dispatchledger.adapters.currents.audit import Finding, audit
from dispatchledger.adapters.currents.catalog import ProgramCatalog, load_catalog
from dispatchledger.adapters.currents.log import (
    dispatch_recipients,
    observed_lineage,
    read_events,
)
from dispatchledger.domain.errors import InvalidCommand
from dispatchledger.domain.observed import EngagementObserved
from dispatchledger.domain.values import ApiTriggerDispatch

from .helpers import Currents

T0 = 2_000_000_000


def send(
    event_id: str,
    user_id: str,
    dispatch_id: str | None,
    *,
    channel: str = "email",
    campaign_id: str = "api-camp",
    **properties: Any,
) -> dict[str, Any]:
    """A Send record as the HTTP connector posts it."""
    props: dict[str, Any] = {
        "campaign_id": campaign_id,
        "message_variation_id": "var-1",
        **properties,
    }
    if dispatch_id is not None:
        props["dispatch_id"] = dispatch_id
    return {
        "event_type": f"users.messages.{channel}.Send",
        "id": event_id,
        "time": T0,
        "properties": props,
        "user": {"user_id": user_id},
    }


def engagement(
    event_type: str, event_id: str, user_id: str, dispatch_id: str | None, **props: Any
) -> dict[str, Any]:
    record = send(event_id, user_id, dispatch_id, **props)
    record["event_type"] = event_type
    record["time"] = T0 + 60
    return record


def write_catalog(tmp_path: Path, **campaigns: dict[str, Any]) -> Path:
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps({"campaigns": campaigns}), encoding="utf-8")
    return path


def rules(findings: list[Finding]) -> list[str]:
    return sorted(f.rule for f in findings)


def load_empty() -> ProgramCatalog:
    return ProgramCatalog()


API_CAMPAIGN = {
    "name": "Receipts",
    "schedule_type": "api_triggered",
    "messages": {"var-1": {"channel": "email"}},
}


def test_k01_one_dispatch_shared_by_three_api_recipients(
    currents: Currents, tmp_path: Path
) -> None:
    records = [send(f"s{n}", f"u{n}", "shared-dispatch") for n in (1, 2, 3)]
    catalog = load_catalog(write_catalog(tmp_path, **{"api-camp": API_CAMPAIGN}))

    summary = currents.ingestor.ingest_records(records)

    assert (summary.imported, summary.rejected) == (3, 0)
    assert dispatch_recipients(currents.ledger, "shared-dispatch") == {"u1", "u2", "u3"}
    findings = audit(currents.ledger, catalog)
    assert rules(findings) == ["D4"]
    assert sorted(r.user_id for r in findings[0].records) == ["u1", "u2", "u3"]
    assert audit(currents.ledger, catalog, ApiTriggerDispatch.PER_CALL) == []


def test_k01_policy_set_in_the_catalog(currents: Currents, tmp_path: Path) -> None:
    per_call = {**API_CAMPAIGN, "api_trigger_dispatch": "per_call"}
    catalog = load_catalog(write_catalog(tmp_path, **{"api-camp": per_call}))
    currents.ingestor.ingest_records(
        [send(f"s{n}", f"u{n}", "shared-dispatch") for n in (1, 2, 3)]
    )

    findings = audit(currents.ledger, catalog)

    assert findings == []


def test_k03_in_app_impressions_with_and_without_a_dispatch_id(
    currents: Currents,
) -> None:
    hex_id = "5f0c1a2b3c4d5e6f7a8b9c0d"
    base = {"user_id": "u1", "time": T0, "campaign_id": "c-inapp"}
    records = [
        {**base, "id": "imp-1"},
        {**base, "id": "imp-2", "dispatch_id": None},
        {**base, "id": "imp-3", "dispatch_id": {"string": hex_id}},
    ]

    summary = currents.ingestor.ingest_records(
        records, event_type="users.messages.inappmessage.Impression"
    )

    assert (summary.imported, summary.rejected) == (3, 0)
    stored = {
        e.event_id: e
        for e in read_events(currents.ledger, [EngagementObserved.TOPIC])
        if isinstance(e, EngagementObserved)
    }
    assert "dispatch_id" not in stored["imp-1"].record
    assert "dispatch_id" not in stored["imp-2"].record
    assert stored["imp-3"].record["dispatch_id"] == hex_id
    assert all(e.dispatch_id is None for e in stored.values())
    assert observed_lineage(currents.ledger, hex_id) == []
    assert dispatch_recipients(currents.ledger, hex_id) == set()
    assert [f.rule for f in audit(currents.ledger, load_empty())] == ["D8"]


K12_IDS = (
    "639a35d192b0df004d06514c",
    "D1234567-89AB-CDEF-0123-456789ABCDEF",
    "d1234567-89ab-cdef-0123-456789abcdef",
)


def test_k12_external_ids_are_kept_and_compared_exactly(currents: Currents) -> None:
    records = [send(f"s{n}", f"u{n}", d) for n, d in enumerate(K12_IDS)]

    currents.ingestor.ingest_records(records)

    assert [dispatch_recipients(currents.ledger, d) for d in K12_IDS] == [
        {"u0"},
        {"u1"},
        {"u2"},
    ]
    assert [
        e.dispatch_id for d in K12_IDS for e in observed_lineage(currents.ledger, d)
    ] == list(K12_IDS)
    assert (
        dispatch_recipients(currents.ledger, "d1234567-89AB-cdef-0123-456789abcdef")
        == set()
    )


def test_k12_record_streams_are_the_same_in_every_process() -> None:
    code = (
        "from dispatchledger.adapters.currents.observe import record_stream_id;"
        "print(record_stream_id('users.messages.email.Send', 'D1234567-89AB'))"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "12345")
    }

    assert len(outputs) == 1
    assert len(outputs.pop().strip()) == 36


def test_audit_duplicate_delivery(currents: Currents) -> None:
    currents.ingestor.ingest_records(
        [send("s1", "u1", "d-1"), send("s2", "u1", "d-1"), send("s3", "u2", "d-2")]
    )

    findings = audit(currents.ledger, load_empty())

    assert rules(findings) == ["duplicate_delivery"]
    assert [r.event_id for r in findings[0].records] == ["s1", "s2"]


def test_audit_engagement_without_send_and_with_another_dispatch(
    currents: Currents,
) -> None:
    currents.ingestor.ingest_records(
        [
            send("s1", "u1", "d-1"),
            engagement("users.messages.email.Open", "o1", "u1", "d-1"),
            engagement("users.messages.email.Click", "c1", "u1", "d-other"),
            engagement("users.messages.email.Open", "o2", "u9", "d-9"),
            engagement("users.messages.email.Abort", "a1", "u8", "d-8"),
        ]
    )

    findings = audit(currents.ledger, load_empty())

    assert [(f.rule, [r.event_id for r in f.records]) for f in findings] == [
        ("engagement_dispatch_mismatch", ["c1", "s1"]),
        ("engagement_without_send", ["o2"]),
    ]


def test_audit_rules_by_delivery_type(currents: Currents, tmp_path: Path) -> None:
    catalog_path = tmp_path / "catalog.json"
    catalog_path.write_text(
        json.dumps(
            {
                "campaigns": {
                    "triggered": {"schedule_type": "action_based"},
                    "daily": {"schedule_type": "time_based"},
                },
                "canvases": [
                    {
                        "canvas_id": "journey",
                        "schedule_type": "time_based",
                        "variants": [{"id": "v1", "first_step_ids": ["s-entry"]}],
                        "steps": [
                            {"id": "s-entry", "next_step_ids": ["s-later"]},
                            {"id": "s-later"},
                        ],
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    canvas = {"campaign_id": "", "canvas_id": "journey"}
    currents.ingestor.ingest_records(
        [
            send("t1", "u1", "d-trig", campaign_id="triggered"),
            send("t2", "u2", "d-trig", campaign_id="triggered"),
            send("y1", "u1", "d-daily", campaign_id="daily"),
            send("y2", "u2", "d-daily", campaign_id="daily"),
            send("e1", "u1", "d-entry", **canvas, canvas_step_id="s-entry"),
            send("e2", "u2", "d-entry", **canvas, canvas_step_id="s-entry"),
            send("l1", "u1", "d-later", **canvas, canvas_step_id="s-later"),
            send("l2", "u2", "d-later", **canvas, canvas_step_id="s-later"),
            send("x1", "u3", "d-cross", campaign_id="daily"),
            send("x2", "u3", "d-cross", campaign_id="triggered", channel="sms"),
        ]
    )

    findings = audit(currents.ledger, load_catalog(catalog_path))

    assert rules(findings) == ["D10", "D3", "D7"]
    by_rule = {f.rule: [r.event_id for r in f.records] for f in findings}
    assert by_rule == {"D3": ["t1", "t2"], "D7": ["l1", "l2"], "D10": ["x1", "x2"]}


@pytest.mark.parametrize(
    ("catalog", "message"),
    [
        ({"campaigns": {"c": {"schedule_type": "sometimes"}}}, "unknown schedule_type"),
        ({"campaigns": {"c": {}}}, "campaigns.c.schedule_type: Field required"),
        ({"programs": []}, "programs: Extra inputs are not permitted"),
        (
            {
                "campaigns": {
                    "c": {
                        "schedule_type": "api_triggered",
                        "conversion_behaviors": [{"window": 0}],
                    }
                }
            },
            "window: Input should be greater than 0",
        ),
    ],
)
def test_a_bad_catalog_names_the_problem(
    tmp_path: Path, catalog: dict[str, Any], message: str
) -> None:
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(catalog), encoding="utf-8")

    with pytest.raises(InvalidCommand, match=message):
        load_catalog(path)


def test_the_catalog_gives_types_channels_and_windows(tmp_path: Path) -> None:
    path = write_catalog(
        tmp_path,
        promo={
            "schedule_type": "time_based",
            "messages": {
                "v-mail": {"channel": "email"},
                "v-push": {"channel": "android_push"},
            },
            "conversion_behaviors": [
                {"type": "Makes Purchase", "window": 259200},
                {"type": "Starts Session", "window": 86400},
            ],
        },
    )

    info = load_catalog(path).get("campaign", "promo")

    assert info is not None
    assert info.delivery_type.value == "scheduled"
    assert info.channels == {"v-mail": "email", "v-push": "push"}
    assert info.conversion_windows == (259200, 86400)
    assert info.conversion_window == 259200
