"""Work the concurrency tests run in separate processes (spawned, so importable).

Each function opens its own ledger, waits at the barrier so that every process
writes at the same moment, and closes the ledger when done.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Protocol

from dispatchledger.adapters.bootstrap import open_ledger
from dispatchledger.domain.application import DispatchLedger
from dispatchledger.domain.events import MessageDispatched
from dispatchledger.domain.values import (
    CampaignDefinition,
    CanvasDefinition,
    CanvasStep,
    CanvasVariant,
    DeliveryType,
    MessageVariation,
)

AT = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)

SPRING_SALE = CampaignDefinition(
    campaign_id="spring-sale",
    name="Spring sale",
    delivery_type=DeliveryType.SCHEDULED,
    variations=(
        MessageVariation(variation_id="sale-email", channel="email"),
        MessageVariation(variation_id="sale-push", channel="push"),
    ),
)
CART = CampaignDefinition(
    campaign_id="cart",
    name="Abandoned cart",
    delivery_type=DeliveryType.ACTION_BASED,
    variations=(MessageVariation(variation_id="cart-email", channel="email"),),
)

ONBOARDING = CanvasDefinition(
    canvas_id="onboarding",
    name="Onboarding",
    entry_type=DeliveryType.SCHEDULED,
    variants=(CanvasVariant(variant_id="main", entry_step_ids=("welcome",)),),
    steps=(
        CanvasStep(
            step_id="welcome",
            messages=(
                MessageVariation(variation_id="welcome-email", channel="email"),
                MessageVariation(variation_id="welcome-push", channel="push"),
            ),
        ),
    ),
)
CART_AGAIN = CART.model_copy(
    update={"campaign_id": "cart-again", "re_eligibility_seconds": 0}
)
"""A cart campaign a user may receive again at once."""


class Barrier(Protocol):
    def wait(self, timeout: float | None = None) -> int: ...


def open_at_once(url: str, barrier: Barrier) -> None:
    """Open the ledger (creating its tables) at the same moment as the others."""
    barrier.wait(30)
    open_ledger(url).close()


def run_spring_sale(url: str, users: list[str], barrier: Barrier) -> None:
    """Run the one occurrence of the spring sale for ``users``."""
    ledger = open_ledger(url)
    barrier.wait(30)
    ledger.run_occurrence(
        campaign_id="spring-sale", occurrence_id="launch", audience=users, at=AT
    )
    ledger.close()


def run_onboarding(url: str, users: list[str], barrier: Barrier) -> None:
    """Run the one entry of the onboarding Canvas for ``users``."""
    ledger = open_ledger(url)
    barrier.wait(30)
    ledger.run_canvas_entry(
        canvas_id="onboarding", entry_run_id="launch", audience=users, at=AT
    )
    ledger.close()


def trigger_carts(url: str, users: list[str], barrier: Barrier) -> None:
    """Trigger the cart campaign once for each of ``users``."""
    ledger = open_ledger(url)
    barrier.wait(30)
    for user in users:
        ledger.trigger(campaign_id="cart", user_id=user, at=AT)
    ledger.close()


def sends(ledger: DispatchLedger) -> Counter[tuple[str, str]]:
    """How many messages were recorded per (user, channel)."""
    notifications = ledger.recorder.select_notifications(
        start=1, limit=1_000_000, topics=[MessageDispatched.TOPIC]
    )
    counts: Counter[tuple[str, str]] = Counter()
    for notification in notifications:
        event = ledger.mapper.to_domain_event(notification)
        assert isinstance(event, MessageDispatched)
        counts[(event.user_id, event.channel)] += 1
    return counts
