"""The ledger facade's contract: the same commands give the same results on
in-memory, SQLite and PostgreSQL storage.

Minted ids come from counters, so every expected id below is written from the
order in which the rules mint them.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from dispatchledger.adapters.bootstrap import open_ledger
from dispatchledger.domain.application import DispatchLedger
from dispatchledger.domain.errors import IdempotencyKeyReused, OccurrenceNotAllowed
from dispatchledger.domain.values import (
    ApiTriggerDispatch,
    CampaignDefinition,
    CanvasDefinition,
    CanvasStep,
    CanvasVariant,
    Channel,
    DeliveryType,
    MessageVariation,
)

AT = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def counter(prefix: str) -> Callable[[], str]:
    numbers = itertools.count(1)
    return lambda: f"{prefix}{next(numbers)}"


@pytest.fixture
def ledger(any_url: str) -> Iterator[DispatchLedger]:
    opened = open_ledger(any_url, mint=counter("d"), mint_entry=counter("e"))
    yield opened
    opened.close()


def campaign(
    campaign_id: str,
    delivery: DeliveryType,
    *channels: Channel,
    policy: ApiTriggerDispatch = ApiTriggerDispatch.PER_RECIPIENT,
) -> CampaignDefinition:
    return CampaignDefinition(
        campaign_id=campaign_id,
        name=f"Campaign {campaign_id}",
        delivery_type=delivery,
        variations=tuple(
            MessageVariation(variation_id=f"{campaign_id}-{c.value}", channel=c)
            for c in channels
        ),
        api_trigger_dispatch=policy,
    )


def onboarding_canvas() -> CanvasDefinition:
    return CanvasDefinition(
        canvas_id="onboarding",
        name="Onboarding",
        entry_type=DeliveryType.SCHEDULED,
        variants=(CanvasVariant(variant_id="main", entry_step_ids=("welcome",)),),
        steps=(
            CanvasStep(
                step_id="welcome",
                messages=(
                    MessageVariation(variation_id="welcome-email", channel="email"),
                ),
                next_step_ids=("tips",),
            ),
            CanvasStep(
                step_id="tips",
                messages=(MessageVariation(variation_id="tips-push", channel="push"),),
            ),
        ),
    )


def test_definitions_are_created_once_and_listed(ledger: DispatchLedger) -> None:
    spring = campaign("spring-sale", DeliveryType.SCHEDULED, Channel.EMAIL)

    first = ledger.define_campaign(spring, at=AT)
    again = ledger.define_campaign(spring, at=AT)
    ledger.define_canvas(onboarding_canvas(), at=AT)

    assert (first.created, again.created) == (True, False)
    assert ledger.programs() == [("campaign", "spring-sale"), ("canvas", "onboarding")]
    assert ledger.campaign("spring-sale") == spring


def test_occurrence_shares_one_id_and_runs_once(ledger: DispatchLedger) -> None:
    ledger.define_campaign(
        campaign("spring-sale", DeliveryType.SCHEDULED, Channel.EMAIL, Channel.PUSH),
        at=AT,
    )

    sent = ledger.run_occurrence(
        campaign_id="spring-sale", occurrence_id="2025-03-01", audience=["u1", "u2"]
    )
    repeated = ledger.run_occurrence(
        campaign_id="spring-sale", occurrence_id="2025-03-01", audience=["u1", "u2"]
    )

    assert sent.dispatch_ids == ["d1"]
    assert (sent.recipients, sent.messages) == (2, 4)
    assert repeated.recipients == 0
    assert repeated.skipped_counts == {"already_sent": 2}
    with pytest.raises(OccurrenceNotAllowed):
        ledger.run_occurrence(
            campaign_id="spring-sale", occurrence_id="2025-03-02", audience=["u3"]
        )


def test_triggers_mint_one_id_per_user(ledger: DispatchLedger) -> None:
    ledger.define_campaign(
        campaign("cart", DeliveryType.ACTION_BASED, Channel.EMAIL), at=AT
    )

    ana = ledger.trigger(campaign_id="cart", user_id="ana", trigger_id="t1")
    bo = ledger.trigger(campaign_id="cart", user_id="bo", trigger_id="t2")
    ana_again = ledger.trigger(campaign_id="cart", user_id="ana", trigger_id="t3")

    assert ana.dispatch_by_user == {"ana": "d1"}
    assert bo.dispatch_by_user == {"bo": "d2"}
    assert ana_again.skipped_counts == {"not_re_eligible": 1}


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (ApiTriggerDispatch.PER_RECIPIENT, {"u1": "d1", "u2": "d2"}),
        (ApiTriggerDispatch.PER_CALL, {"u1": "d1", "u2": "d1"}),
    ],
)
def test_api_trigger_follows_its_policy(
    ledger: DispatchLedger, policy: ApiTriggerDispatch, expected: dict[str, str]
) -> None:
    ledger.define_campaign(
        campaign("receipt", DeliveryType.API_TRIGGERED, Channel.EMAIL, policy=policy),
        at=AT,
    )

    sent = ledger.api_trigger(
        campaign_id="receipt", recipients=["u1", "u2"], call_id="call-1"
    )

    assert sent.dispatch_by_user == expected


def test_canvas_entry_and_advance(ledger: DispatchLedger) -> None:
    ledger.define_canvas(onboarding_canvas(), at=AT)

    entered = ledger.run_canvas_entry(
        canvas_id="onboarding", entry_run_id="run-1", audience=["u1", "u2"], at=AT
    )
    advanced = ledger.advance(
        canvas_id="onboarding",
        user_id="u1",
        step_id="tips",
        at=AT + timedelta(days=1),
    )

    assert entered.dispatch_ids == ["d1"]
    assert (entered.recipients, entered.messages) == (2, 2)
    assert advanced.dispatch_by_user == {"u1": "d2"}


def test_idempotency_key_replays_and_refuses_reuse(ledger: DispatchLedger) -> None:
    ledger.define_campaign(
        campaign("cart", DeliveryType.ACTION_BASED, Channel.EMAIL), at=AT
    )

    first = ledger.trigger(
        campaign_id="cart", user_id="ana", trigger_id="t1", idempotency_key="k1"
    )
    replay = ledger.trigger(
        campaign_id="cart", user_id="ana", trigger_id="t1", idempotency_key="k1"
    )

    assert (first.replayed, replay.replayed) == (False, True)
    assert replay.dispatch_by_user == {"ana": "d1"}
    with pytest.raises(IdempotencyKeyReused):
        ledger.trigger(
            campaign_id="cart", user_id="bo", trigger_id="t2", idempotency_key="k1"
        )


def test_user_dispatches_reads_every_program(ledger: DispatchLedger) -> None:
    ledger.define_campaign(
        campaign("spring-sale", DeliveryType.SCHEDULED, Channel.EMAIL, Channel.PUSH),
        at=AT,
    )
    ledger.define_canvas(onboarding_canvas(), at=AT)
    ledger.run_occurrence(
        campaign_id="spring-sale", occurrence_id="o1", audience=["u1"], at=AT
    )
    ledger.run_canvas_entry(
        canvas_id="onboarding",
        entry_run_id="run-1",
        audience=["u1"],
        at=AT + timedelta(hours=1),
    )

    records = ledger.user_dispatches("u1")

    assert [(r.program_id, r.channel, r.dispatch_id) for r in records] == [
        ("spring-sale", "email", "d1"),
        ("spring-sale", "push", "d1"),
        ("onboarding", "email", "d2"),
    ]
    assert records[2].entry_id == "e1"
