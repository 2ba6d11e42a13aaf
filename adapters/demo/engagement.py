"""Engagement and conversions for the demo month, as Currents records.

The month's own sends are read back from the read model; a seeded draw decides
which were delivered, bounced, opened and clicked, and which members bought
something afterwards. The records go through the Currents importer, exactly as a
team would feed the engagement its platform reports.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from dispatchledger.adapters.currents import Ingestor, IngestSummary
from dispatchledger.projections.read_models import USER_DISPATCHES
from dispatchledger.projections.service import ReadModels

EMAIL = "users.messages.email"
PUSH = "users.messages.pushnotification"
CONVERSION = "users.campaigns.Conversion"
CONVERTING = ("weekly-digest", "flash-sale", "cart-reminder")


@dataclass
class EngagementPlan:
    """Records to import, grouped by Currents event type."""

    by_type: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, event_type: str, record: dict[str, Any]) -> None:
        self.by_type.setdefault(event_type, []).append(record)

    def counts(self) -> dict[str, int]:
        """Records per action (``Open`` counts email and push opens together)."""
        totals: Counter[str] = Counter()
        for event_type, records in sorted(self.by_type.items()):
            totals[event_type.rsplit(".", 1)[1]] += len(records)
        return dict(totals)


def plan_engagement(models: ReadModels, seed: int) -> EngagementPlan:
    """Draw engagement for every email and push send, then some purchases."""
    draw = random.Random(seed)
    plan = EngagementPlan()
    for send in _sends(models):
        if send["channel"] == "email":
            _email_life(draw, plan, send)
        elif send["channel"] == "push" and draw.random() < 0.15:
            plan.add(f"{PUSH}.Open", _record(send, "open", minutes=draw.randint(1, 90)))
        if send["program_id"] in CONVERTING and draw.random() < 0.04:
            _purchase(draw, plan, send)
    return plan


def _sends(models: ReadModels) -> Iterator[dict[str, Any]]:
    for row in models.store.rows(USER_DISPATCHES):
        if row["dispatch_id"] is not None and row["source_kind"] != "observed":
            yield row


def _email_life(
    draw: random.Random, plan: EngagementPlan, send: dict[str, Any]
) -> None:
    if draw.random() < 0.03:
        plan.add(f"{EMAIL}.Bounce", _record(send, "bounce", minutes=1))
        return
    plan.add(f"{EMAIL}.Delivery", _record(send, "delivery", minutes=1))
    if draw.random() < 0.35:
        opened = draw.randint(5, 600)
        plan.add(f"{EMAIL}.Open", _record(send, "open", minutes=opened))
        if draw.random() < 0.3:
            clicked = opened + draw.randint(1, 30)
            plan.add(f"{EMAIL}.Click", _record(send, "click", minutes=clicked))


def _purchase(draw: random.Random, plan: EngagementPlan, send: dict[str, Any]) -> None:
    # Most conversions name no dispatch (A1 infers it); a few carry it explicitly.
    hours = draw.choice((2, 20, 50, 100))
    record = _record(send, "purchase", minutes=hours * 60)
    record.pop("dispatch_id")
    if draw.random() < 0.2:
        record["dispatch_id"] = send["dispatch_id"]
    record["conversion_behavior_index"] = 0
    plan.add(CONVERSION, record)


def _record(send: dict[str, Any], action: str, minutes: int) -> dict[str, Any]:
    sent_at: datetime = send["sent_at"]
    at = sent_at + timedelta(minutes=minutes)
    record: dict[str, Any] = {
        "id": f"demo-{action}-{send['log_id']}",
        "user_id": send["user_id"],
        "external_user_id": send["user_id"],
        "time": int(at.timestamp()),
        "dispatch_id": send["dispatch_id"],
    }
    if send["program_kind"] == "campaign":
        record["campaign_id"] = send["program_id"]
        record["message_variation_id"] = send["variation_id"]
    else:
        record["canvas_id"] = send["program_id"]
        record["canvas_step_id"] = send["step_id"]
    return record


def import_engagement(ingestor: Ingestor, plan: EngagementPlan) -> IngestSummary:
    """Import the plan's records through the Currents importer."""
    total = IngestSummary()
    for event_type, records in sorted(plan.by_type.items()):
        total.add(
            ingestor.ingest_records(
                records, source=f"demo {event_type}", event_type=event_type
            )
        )
    return total
