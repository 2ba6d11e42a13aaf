"""Ledger commands shared by the read-model tests: definitions and fixed times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

from dispatchledger.domain.application import DispatchLedger
from dispatchledger.domain.values import CampaignDefinition, CanvasDefinition

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


WEEKLY_NEWS = CampaignDefinition.model_validate(
    {
        "campaign_id": "weekly-news",
        "name": "Weekly news",
        "delivery_type": "scheduled",
        "recurring": True,
        "re_eligibility_seconds": 0,
        "variations": [
            {"variation_id": "news-email", "channel": "email"},
            {"variation_id": "news-push", "channel": "push"},
        ],
    }
)
WELCOME = CampaignDefinition.model_validate(
    {
        "campaign_id": "welcome",
        "name": "Welcome",
        "delivery_type": "action_based",
        "re_eligibility_seconds": 0,
        "variations": [
            {"variation_id": "welcome-email", "channel": "email"},
            {"variation_id": "welcome-banner", "channel": "in_app_message"},
        ],
    }
)
RECEIPT = CampaignDefinition.model_validate(
    {
        "campaign_id": "receipt",
        "name": "Receipt",
        "delivery_type": "api_triggered",
        "re_eligibility_seconds": 0,
        "api_trigger_dispatch": "per_call",
        "variations": [{"variation_id": "receipt-sms", "channel": "sms"}],
    }
)
ONBOARDING = CanvasDefinition.model_validate(
    {
        "canvas_id": "onboarding",
        "name": "Onboarding",
        "entry_type": "scheduled",
        "recurring": True,
        "re_eligibility_seconds": 0,
        "variants": [{"variant_id": "main", "entry_step_ids": ["hello"]}],
        "steps": [
            {
                "step_id": "hello",
                "messages": [{"variation_id": "hello-email", "channel": "email"}],
                "next_step_ids": ["wait"],
            },
            {"step_id": "wait", "next_step_ids": ["tips"]},
            {
                "step_id": "tips",
                "messages": [
                    {"variation_id": "tips-push", "channel": "push"},
                    {"variation_id": "tips-banner", "channel": "in_app_message"},
                ],
                "next_step_ids": ["hello"],
            },
        ],
    }
)


def sequential_ids(prefix: str) -> Minter:
    return Minter(prefix)


class Minter:
    """Deterministic ids: prefix-1, prefix-2, ...; ``minted`` lists them."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.counter = count(1)
        self.minted: list[str] = []

    def __call__(self) -> str:
        value = f"{self.prefix}-{next(self.counter)}"
        self.minted.append(value)
        return value


def define_all(ledger: DispatchLedger) -> None:
    ledger.define_campaign(WEEKLY_NEWS, at=at(0))
    ledger.define_campaign(WELCOME, at=at(0))
    ledger.define_campaign(RECEIPT, at=at(0))
    ledger.define_canvas(ONBOARDING, at=at(0))
