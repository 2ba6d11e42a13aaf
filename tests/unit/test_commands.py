"""Invalid commands raise the project's typed errors, name the ids, write nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from ledger_builders import AT, campaign, canvas, counting_ledger, max_notification_id

from dispatchledger.domain import (
    CampaignArchived,
    DefinitionConflict,
    DispatchLedger,
    DispatchLedgerError,
    DispatchTagInInApp,
    EmptyAudience,
    IdempotencyKeyReused,
    InvalidCommand,
    MessageVariation,
    OccurrenceNotAllowed,
    StepNotNext,
    UnknownCampaign,
    UnknownCanvas,
    UnknownStep,
    UnknownVariant,
    UserNotInCanvas,
    WrongDeliveryType,
)


@pytest.fixture
def ledger() -> DispatchLedger:
    """Four programs, one of each kind, and u1 at step s1 of the two Canvases."""
    ledger = counting_ledger()
    ledger.define_campaign(campaign("spring", "scheduled"), at=AT)
    ledger.define_campaign(campaign("cart", "action_based"), at=AT)
    ledger.define_campaign(campaign("receipt", "api_triggered"), at=AT)
    ledger.define_canvas(canvas("onboarding", "scheduled"), at=AT)
    ledger.define_canvas(canvas("winback", "action_based"), at=AT)
    ledger.run_occurrence(
        campaign_id="spring", occurrence_id="o1", audience=["u1"], at=AT
    )
    ledger.run_canvas_entry(
        canvas_id="onboarding", entry_run_id="r1", audience=["u1"], at=AT
    )
    ledger.enter_canvas(canvas_id="winback", user_id="u1", trigger_id="t1", at=AT)
    return ledger


Action = Callable[[DispatchLedger], Any]

REFUSED: list[tuple[str, Action, type[DispatchLedgerError], dict[str, str]]] = [
    (
        "unknown campaign",
        lambda led: led.trigger(campaign_id="nope", user_id="u1", at=AT),
        UnknownCampaign,
        {"campaign_id": "nope"},
    ),
    (
        "unknown Canvas",
        lambda led: led.enter_canvas(canvas_id="nope", user_id="u1", at=AT),
        UnknownCanvas,
        {"canvas_id": "nope"},
    ),
    (
        "unknown step",
        lambda led: led.advance(canvas_id="winback", user_id="u1", step_id="s9", at=AT),
        UnknownStep,
        {"canvas_id": "winback", "step_id": "s9"},
    ),
    (
        "unknown variant",
        lambda led: led.enter_canvas(
            canvas_id="winback", user_id="u2", variant_id="v9", at=AT
        ),
        UnknownVariant,
        {"canvas_id": "winback", "variant_id": "v9"},
    ),
    (
        "unknown variant for a user who cannot re-enter",
        lambda led: led.enter_canvas(
            canvas_id="winback", user_id="u1", variant_id="v9", at=AT
        ),
        UnknownVariant,
        {"canvas_id": "winback", "variant_id": "v9"},
    ),
    (
        "step that is not next",
        lambda led: led.advance(canvas_id="winback", user_id="u1", step_id="s3", at=AT),
        StepNotNext,
        {
            "canvas_id": "winback",
            "user_id": "u1",
            "current_step_id": "s1",
            "step_id": "s3",
        },
    ),
    (
        "advance without entering",
        lambda led: led.advance(canvas_id="winback", user_id="u7", step_id="s2", at=AT),
        UserNotInCanvas,
        {"canvas_id": "winback", "user_id": "u7"},
    ),
    (
        "in-app template with the dispatch id tag",
        lambda led: led.define_campaign(
            campaign("banner", "scheduled").model_copy(
                update={
                    "variations": (
                        MessageVariation(
                            variation_id="banner-iam",
                            channel="in_app_message",
                            template="Hi {{campaign.${dispatch_id}}}",
                        ),
                    )
                }
            ),
            at=AT,
        ),
        DispatchTagInInApp,
        {"owner_id": "banner", "variation_id": "banner-iam"},
    ),
    (
        "empty audience",
        lambda led: led.run_occurrence(
            campaign_id="spring", occurrence_id="o2", audience=[], at=AT
        ),
        EmptyAudience,
        {"api_id": "spring", "source_id": "o2"},
    ),
    (
        "empty streamed audience",
        lambda led: led.run_canvas_entry(
            canvas_id="onboarding", entry_run_id="r2", audience=iter(()), at=AT
        ),
        EmptyAudience,
        {"api_id": "onboarding", "source_id": "r2"},
    ),
    (
        "trigger on a scheduled campaign",
        lambda led: led.trigger(campaign_id="spring", user_id="u1", at=AT),
        WrongDeliveryType,
        {"api_id": "spring", "actual": "scheduled", "needed": "action_based"},
    ),
    (
        "API trigger on an action-based campaign",
        lambda led: led.api_trigger(campaign_id="cart", recipients=["u1"], at=AT),
        WrongDeliveryType,
        {"api_id": "cart", "actual": "action_based", "needed": "api_triggered"},
    ),
    (
        "occurrence of an API-triggered campaign",
        lambda led: led.run_occurrence(
            campaign_id="receipt", occurrence_id="o1", audience=["u1"], at=AT
        ),
        WrongDeliveryType,
        {"api_id": "receipt", "actual": "api_triggered", "needed": "scheduled"},
    ),
    (
        "single entry into a scheduled Canvas",
        lambda led: led.enter_canvas(canvas_id="onboarding", user_id="u2", at=AT),
        WrongDeliveryType,
        {"api_id": "onboarding", "actual": "scheduled"},
    ),
    (
        "second occurrence of a one-off campaign",
        lambda led: led.run_occurrence(
            campaign_id="spring", occurrence_id="o2", audience=["u2"], at=AT
        ),
        OccurrenceNotAllowed,
        {"api_id": "spring", "existing": "o1", "requested": "o2"},
    ),
    (
        "second entry run of a one-off Canvas",
        lambda led: led.run_canvas_entry(
            canvas_id="onboarding", entry_run_id="r2", audience=["u2"], at=AT
        ),
        OccurrenceNotAllowed,
        {"api_id": "onboarding", "existing": "r1", "requested": "r2"},
    ),
    (
        "same id, other definition",
        lambda led: led.define_campaign(
            campaign("spring", "scheduled", ["push"]), at=AT
        ),
        DefinitionConflict,
        {"api_id": "spring"},
    ),
]


@pytest.mark.parametrize(
    ("action", "error", "ids"),
    [case[1:] for case in REFUSED],
    ids=[case[0] for case in REFUSED],
)
def test_a_refused_command_names_its_ids_and_writes_nothing(ledger, action, error, ids):
    before = max_notification_id(ledger)

    with pytest.raises(error) as raised:
        action(ledger)

    assert {name: getattr(raised.value, name) for name in ids} == ids
    assert raised.value.to_dict()["code"] == error.code
    assert max_notification_id(ledger) == before


def test_an_archived_campaign_refuses_sends_and_writes_nothing(ledger):
    ledger.archive(program_kind="campaign", program_id="cart", at=AT)
    before = max_notification_id(ledger)

    with pytest.raises(CampaignArchived) as raised:
        ledger.trigger(campaign_id="cart", user_id="u1", at=AT)

    assert (raised.value.kind, raised.value.api_id) == ("campaign", "cart")
    assert max_notification_id(ledger) == before


INVALID: list[tuple[str, dict[str, Any], set[str]]] = [
    (
        "naive datetime",
        {
            "command": "trigger",
            "campaign_id": "cart",
            "user_id": "u1",
            "at": "2025-03-01T09:00:00",
        },
        {"trigger.at"},
    ),
    (
        "empty user id",
        {"command": "trigger", "campaign_id": "cart", "user_id": ""},
        {"trigger.user_id"},
    ),
    (
        "missing fields",
        {"command": "advance", "canvas_id": "winback"},
        {"advance.user_id", "advance.step_id"},
    ),
    (
        "no recipients",
        {"command": "api_trigger", "campaign_id": "receipt", "recipients": []},
        {"api_trigger.recipients"},
    ),
    (
        "an empty recipient",
        {"command": "api_trigger", "campaign_id": "receipt", "recipients": ["u1", ""]},
        {"api_trigger.recipients.1"},
    ),
    (
        "unknown field",
        {"command": "trigger", "campaign_id": "cart", "user_id": "u1", "dispatch": 1},
        {"trigger.dispatch"},
    ),
    (
        "unknown command",
        {"command": "send_everything"},
        {"command"},
    ),
]


@pytest.mark.parametrize(
    ("data", "fields"),
    [case[1:] for case in INVALID],
    ids=[case[0] for case in INVALID],
)
def test_an_invalid_command_names_each_field_and_writes_nothing(ledger, data, fields):
    before = max_notification_id(ledger)

    with pytest.raises(InvalidCommand) as raised:
        ledger.execute(data)

    assert {p["field"] for p in raised.value.problems} == fields
    assert all(field in str(raised.value) for field in fields)
    assert max_notification_id(ledger) == before


def test_typed_conveniences_validate_too(ledger):
    before = max_notification_id(ledger)

    with pytest.raises(InvalidCommand) as raised:
        ledger.trigger(campaign_id="cart", user_id="", at=AT.replace(tzinfo=None))

    assert {p["field"] for p in raised.value.problems} == {"at", "user_id"}
    assert max_notification_id(ledger) == before


def test_an_invalid_definition_names_the_nested_field(ledger):
    data = {
        "command": "define_campaign",
        "campaign": {
            "campaign_id": "c9",
            "name": "C9",
            "delivery_type": "scheduled",
            "variations": [{"variation_id": "x", "channel": "fax"}],
        },
    }

    with pytest.raises(InvalidCommand) as raised:
        ledger.execute(data)

    fields = {p["field"] for p in raised.value.problems}
    assert "define_campaign.campaign.variations.0.channel" in fields


# -- idempotency -----------------------------------------------------------------


def test_repeating_a_keyed_command_returns_the_first_result_and_writes_nothing(
    ledger,
):
    first = ledger.trigger(
        campaign_id="cart", user_id="u2", idempotency_key="k-1", at=AT
    )
    after_first = max_notification_id(ledger)

    again = ledger.trigger(
        campaign_id="cart",
        user_id="u2",
        idempotency_key="k-1",
        at=AT + timedelta(minutes=5),
    )

    assert first.replayed is False
    assert again.replayed is True
    assert again.model_copy(update={"replayed": False}) == first
    assert again.dispatch_by_user == {"u2": first.dispatch_by_user["u2"]}
    assert max_notification_id(ledger) == after_first


def test_a_keyed_bulk_send_replays_from_a_dict_command(ledger):
    command = {
        "command": "api_trigger",
        "campaign_id": "receipt",
        "recipients": ["u1", "u2"],
        "idempotency_key": "call-42",
        "at": "2025-03-01T10:00:00+00:00",
    }
    first = ledger.execute(command)
    after_first = max_notification_id(ledger)

    again = ledger.execute(command)

    assert again.replayed is True
    assert again.model_copy(update={"replayed": False}) == first
    assert max_notification_id(ledger) == after_first


def test_the_same_key_for_another_command_is_refused_and_writes_nothing(ledger):
    ledger.trigger(campaign_id="cart", user_id="u2", idempotency_key="k-1", at=AT)
    before = max_notification_id(ledger)

    with pytest.raises(IdempotencyKeyReused) as raised:
        ledger.trigger(campaign_id="cart", user_id="u3", idempotency_key="k-1", at=AT)

    assert raised.value.key == "k-1"
    assert max_notification_id(ledger) == before


def test_a_refused_keyed_command_does_not_use_up_its_key(ledger):
    with pytest.raises(UnknownCampaign):
        ledger.trigger(campaign_id="nope", user_id="u2", idempotency_key="k-2", at=AT)

    result = ledger.trigger(
        campaign_id="cart", user_id="u2", idempotency_key="k-2", at=AT
    )

    assert result.replayed is False
    assert result.recipients == 1


def test_an_audience_given_to_a_command_that_takes_none_is_refused(
    ledger: DispatchLedger,
) -> None:
    before = max_notification_id(ledger)

    with pytest.raises(InvalidCommand, match="takes no audience"):
        ledger.execute(
            {"command": "trigger", "campaign_id": "cart", "user_id": "u1"},
            audience=["u2"],
        )
    assert max_notification_id(ledger) == before
