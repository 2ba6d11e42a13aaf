"""The demo month: campaigns and Canvases of "Northwind Outfitters", March 2025.

Everything goes through :class:`~dispatchledger.domain.DispatchLedger` commands, the
same way an embedding application would record its sends. The month is seeded, so two
runs with the same size record the same sends (only the minted ids differ).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from dispatchledger.domain.application import DispatchLedger
from dispatchledger.domain.commands import SendResult
from dispatchledger.domain.values import (
    CampaignDefinition,
    CanvasDefinition,
    CanvasStep,
    CanvasVariant,
    ConversionBehavior,
    MessageVariation,
)

MONTH_START = datetime(2025, 3, 1, tzinfo=UTC)
DAY = timedelta(days=1)
LINK = "https://northwind.example/r?d={{campaign.${dispatch_id}}}"


def _email(variation_id: str, headline: str) -> MessageVariation:
    body = f"<h1>{headline}</h1><a href='{LINK}'>Shop now</a>"
    return MessageVariation(
        variation_id=variation_id, channel="email", name=headline, template=body
    )


def _push(variation_id: str, text: str) -> MessageVariation:
    return MessageVariation(
        variation_id=variation_id, channel="push", name=text, template=text
    )


def _in_app(variation_id: str, text: str) -> MessageVariation:
    return MessageVariation(
        variation_id=variation_id, channel="in_app_message", name=text, template=text
    )


PURCHASE = ConversionBehavior(event="purchase", window_seconds=3 * 86400)

WEEKLY_DIGEST = CampaignDefinition(
    campaign_id="weekly-digest",
    name="Weekly digest",
    delivery_type="scheduled",
    recurring=True,
    variations=(
        _email("digest-email", "This week at Northwind"),
        _push("digest-push", "New arrivals are in"),
        _in_app("digest-in-app", "See what's new this week"),
    ),
    conversion_behaviors=(PURCHASE,),
    re_eligibility_seconds=0,
)
CART_REMINDER = CampaignDefinition(
    campaign_id="cart-reminder",
    name="Abandoned cart reminder",
    delivery_type="action_based",
    variations=(_email("cart-email", "You left something behind"),),
    conversion_behaviors=(PURCHASE,),
    re_eligibility_seconds=2 * 86400,
)
ORDER_SHIPPED = CampaignDefinition(
    campaign_id="order-shipped",
    name="Order shipped (one id per recipient)",
    delivery_type="api_triggered",
    variations=(_email("shipped-email", "Your order is on its way"),),
    re_eligibility_seconds=0,
)
FLASH_SALE = CampaignDefinition(
    campaign_id="flash-sale",
    name="Flash sale (one id per API call)",
    delivery_type="api_triggered",
    api_trigger_dispatch="per_call",
    variations=(_push("flash-push", "Flash sale: 2 hours only"),),
    conversion_behaviors=(PURCHASE,),
    re_eligibility_seconds=0,
)
ONBOARDING = CanvasDefinition(
    canvas_id="onboarding",
    name="New member onboarding",
    entry_type="scheduled",
    recurring=True,
    re_eligibility_seconds=14 * 86400,
    variants=(
        CanvasVariant(variant_id="onboarding-main", entry_step_ids=("welcome",)),
    ),
    steps=(
        CanvasStep(
            step_id="welcome",
            name="Welcome",
            messages=(_email("welcome-email", "Welcome to Northwind"),),
            next_step_ids=("tips",),
        ),
        CanvasStep(
            step_id="tips",
            name="Styling tips",
            messages=(_push("tips-push", "Three ways to wear it"),),
            next_step_ids=("first-order",),
        ),
        CanvasStep(
            step_id="first-order",
            name="First order offer",
            messages=(
                _email("offer-email", "10% off your first order"),
                _in_app("offer-in-app", "Your welcome offer is waiting"),
            ),
        ),
    ),
)
WINBACK = CanvasDefinition(
    canvas_id="winback",
    name="Win-back",
    entry_type="action_based",
    variants=(
        CanvasVariant(
            variant_id="winback-a", name="Discount", entry_step_ids=("miss-you",)
        ),
    ),
    steps=(
        CanvasStep(
            step_id="miss-you",
            name="We miss you",
            messages=(_email("miss-you-email", "We miss you"),),
            next_step_ids=("last-chance",),
        ),
        CanvasStep(
            step_id="last-chance",
            name="Last chance",
            messages=(_push("last-chance-push", "Your discount ends tonight"),),
        ),
    ),
)
CAMPAIGNS = (WEEKLY_DIGEST, CART_REMINDER, ORDER_SHIPPED, FLASH_SALE)
CANVASES = (ONBOARDING, WINBACK)


@dataclass
class ScenarioTotals:
    """What the month recorded, counted from the commands' results."""

    transmissions: int = 0
    messages: int = 0
    skipped: int = 0
    sends: list[SendResult] = field(default_factory=list)

    def add(self, result: SendResult) -> None:
        self.transmissions += 1
        self.messages += result.messages
        self.skipped += sum(result.skipped_counts.values())
        self.sends.append(result)


@dataclass
class DemoMonth:
    """Records the month on ``ledger`` for ``users`` members."""

    ledger: DispatchLedger
    users: int = 2000
    seed: int = 20250301
    on_step: Callable[[str], None] = lambda _: None
    totals: ScenarioTotals = field(default_factory=ScenarioTotals)

    def __post_init__(self) -> None:
        self.random = random.Random(self.seed)

    def user(self, number: int) -> str:
        return f"member-{number:07d}"

    def members(self, count: int | None = None) -> Iterator[str]:
        return (self.user(n) for n in range(1, (count or self.users) + 1))

    def run(self) -> ScenarioTotals:
        self.define()
        for day in range(31):
            self.day(day, MONTH_START + day * DAY)
        return self.totals

    def define(self) -> None:
        for campaign in CAMPAIGNS:
            self.ledger.define_campaign(campaign, at=MONTH_START - DAY)
        for canvas in CANVASES:
            self.ledger.define_canvas(canvas, at=MONTH_START - DAY)

    def day(self, index: int, morning: datetime) -> None:
        self.on_step(morning.date().isoformat())
        if index % 7 == 0:
            self._digest(morning + timedelta(hours=9))
            self._onboarding_run(index, morning + timedelta(hours=10))
        self._onboarding_progress(index, morning + timedelta(hours=11))
        self._cart_reminders(morning + timedelta(hours=13))
        self._shipping(index, morning + timedelta(hours=15))
        if index in (9, 23):
            self._flash_sale(morning + timedelta(hours=18))
        self._winback(index, morning + timedelta(hours=20))

    def _record(self, result: SendResult) -> None:
        self.totals.add(result)

    def _digest(self, at: datetime) -> None:
        occurrence = f"digest-{at.date().isoformat()}"
        self._record(
            self.ledger.run_occurrence(
                campaign_id="weekly-digest",
                occurrence_id=occurrence,
                audience=self.members(),
                at=at,
            )
        )

    def _onboarding_run(self, index: int, at: datetime) -> None:
        # New members join weekly; some early members come back two weeks later.
        cohort = max(self.users // 10, 1)
        start = (index // 7) * cohort
        newcomers = [self.user(n) for n in range(start + 1, start + cohort + 1)]
        returning = (
            [self.user(n) for n in range(1, cohort // 4 + 1)] if index >= 14 else []
        )
        self._record(
            self.ledger.run_canvas_entry(
                canvas_id="onboarding",
                entry_run_id=f"onboarding-{at.date().isoformat()}",
                audience=newcomers + returning,
                at=at,
            )
        )

    def _onboarding_progress(self, index: int, at: datetime) -> None:
        week_day = index % 7
        if week_day not in (2, 4):
            return
        step = "tips" if week_day == 2 else "first-order"
        entered = [r for r in self.totals.sends if r.source_kind == "entry_run"]
        if not entered:
            return
        latest = entered[-1]
        for user in self._entrants(latest):
            if self.random.random() < 0.8:
                self._advance("onboarding", user, step, at)

    def _entrants(self, result: SendResult) -> list[str]:
        cohort = max(self.users // 10, 1)
        run_day = int(result.source_id.rsplit("-", 1)[1])
        start = ((run_day - 1) // 7) * cohort
        users = [self.user(n) for n in range(start + 1, start + cohort + 1)]
        if run_day >= 15:
            users += [self.user(n) for n in range(1, cohort // 4 + 1)]
        return users

    def _advance(self, canvas: str, user: str, step: str, at: datetime) -> None:
        from dispatchledger.domain.errors import DomainRuleViolation

        try:
            result = self.ledger.advance(
                canvas_id=canvas, user_id=user, step_id=step, at=at
            )
        except DomainRuleViolation:
            return  # the member left the journey earlier (skipped a step)
        self._record(result)

    def _cart_reminders(self, at: datetime) -> None:
        for _ in range(max(self.users // 50, 1)):
            user = self.user(self.random.randint(1, self.users))
            minute = timedelta(minutes=self.random.randint(0, 120))
            self._record(
                self.ledger.trigger(
                    campaign_id="cart-reminder", user_id=user, at=at + minute
                )
            )

    def _shipping(self, index: int, at: datetime) -> None:
        batch = [
            self.user(self.random.randint(1, self.users))
            for _ in range(self.random.randint(3, 12))
        ]
        self._record(
            self.ledger.api_trigger(
                campaign_id="order-shipped",
                call_id=f"ship-{index:02d}",
                recipients=list(dict.fromkeys(batch)),
                at=at,
            )
        )

    def _flash_sale(self, at: datetime) -> None:
        buyers = list(self.members(max(self.users // 4, 1)))
        for call, start in enumerate(range(0, len(buyers), 50)):
            self._record(
                self.ledger.api_trigger(
                    campaign_id="flash-sale",
                    call_id=f"flash-{at.date().isoformat()}-{call:03d}",
                    recipients=buyers[start : start + 50],
                    at=at,
                )
            )

    def _winback(self, index: int, at: datetime) -> None:
        if index % 3:
            return
        user = self.user(self.users - index)
        entered = self.ledger.enter_canvas(canvas_id="winback", user_id=user, at=at)
        self._record(entered)
        if entered.recipients:
            self._advance("winback", user, "last-chance", at + DAY)
