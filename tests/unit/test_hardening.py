"""Hostile input through the Python API: typed errors saying where; nothing written."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from ledger_builders import AT, campaign, canvas, counting_ledger, max_notification_id

from dispatchledger.domain import DefinitionConflict, DispatchLedger, InvalidCommand


@pytest.fixture
def ledger() -> DispatchLedger:
    ledger = counting_ledger()
    ledger.define_campaign(campaign("spring", "scheduled", recurring=True), at=AT)
    ledger.define_campaign(campaign("cart", "action_based"), at=AT)
    return ledger


@pytest.mark.parametrize(
    "user_id",
    ["u\x00x", "u\x1fx", "u\nx", "u\x7fx", "u\x85x", " ", "\t", "\u3000"],
    ids=[
        "nul",
        "unit-separator",
        "newline",
        "delete",
        "c1-next-line",
        "space",
        "tab",
        "ideographic-space",
    ],
)
def test_a_user_id_with_control_characters_or_no_visible_character_is_refused(
    ledger, user_id
):
    before = max_notification_id(ledger)

    with pytest.raises(InvalidCommand) as raised:
        ledger.trigger(campaign_id="cart", user_id=user_id, at=AT)

    assert raised.value.problems[0]["field"] == "user_id"
    assert max_notification_id(ledger) == before


def test_a_program_id_with_a_control_character_is_refused_where_it_is_defined(ledger):
    before = max_notification_id(ledger)

    with pytest.raises(InvalidCommand) as raised:
        ledger.execute(
            {
                "command": "define_campaign",
                "campaign": {
                    "campaign_id": "cart\x1fu1",
                    "name": "Cart",
                    "delivery_type": "action_based",
                    "variations": [{"variation_id": "e", "channel": "email"}],
                },
            }
        )

    fields = [p["field"] for p in raised.value.problems]
    assert fields == ["define_campaign.campaign.campaign_id"]
    assert max_notification_id(ledger) == before


def test_ids_that_differ_only_around_a_control_character_cannot_share_a_stream(
    ledger,
):
    # Stream ids join their parts with U+001F: were it allowed inside ids,
    # ("cart", "u1\x1fu2") and ("cart\x1fu1", "u2") would name one stream.
    with pytest.raises(InvalidCommand):
        ledger.trigger(campaign_id="cart\x1fu1", user_id="u2", at=AT)
    with pytest.raises(InvalidCommand):
        ledger.trigger(campaign_id="cart", user_id="u1\x1fu2", at=AT)


def test_audience_members_with_control_characters_are_skipped_as_invalid(ledger):
    sent = ledger.run_occurrence(
        campaign_id="spring",
        occurrence_id="o1",
        audience=["u1", "u\x00x", " ", "u2"],
        at=AT,
    )

    assert sent.recipients == 2
    assert [(s.user_id, s.reason) for s in sent.skipped] == [
        ("'u\\x00x'", "invalid_user_id"),
        ("' '", "invalid_user_id"),
    ]
    assert [m.user_id for m in ledger.user_dispatches("u1")] == ["u1"]


def test_an_audience_that_starts_with_an_invalid_member_still_sends_to_the_rest(
    ledger,
):
    sent = ledger.run_occurrence(
        campaign_id="spring", occurrence_id="o1", audience=[None, "u1"], at=AT
    )

    assert sent.recipients == 1
    assert [(s.user_id, s.reason) for s in sent.skipped] == [
        ("None", "invalid_user_id")
    ]


@pytest.mark.parametrize(
    "audience", ["u1", b"u1", 7, None.__class__], ids=["str", "bytes", "int", "type"]
)
def test_an_audience_that_is_not_a_collection_of_ids_is_refused(ledger, audience):
    before = max_notification_id(ledger)

    with pytest.raises(InvalidCommand) as raised:
        ledger.run_occurrence(
            campaign_id="spring", occurrence_id="o1", audience=audience, at=AT
        )

    assert raised.value.problems[0]["field"] == "audience"
    assert max_notification_id(ledger) == before


@pytest.mark.parametrize(
    "command", [None, "trigger", ["trigger"], 7], ids=["none", "str", "list", "int"]
)
def test_a_command_that_is_neither_a_model_nor_a_mapping_is_refused(ledger, command):
    before = max_notification_id(ledger)

    with pytest.raises(InvalidCommand):
        ledger.execute(command)

    assert max_notification_id(ledger) == before


@pytest.mark.parametrize(
    ("read", "field"),
    [
        (lambda led: led.user_dispatches(None), "user_id"),
        (lambda led: led.user_dispatches("u\x00"), "user_id"),
        (lambda led: led.campaign(7), "campaign_id"),
        (lambda led: led.canvas(None), "canvas_id"),
        (lambda led: led.transmission("campaign", "spring", None), "source_id"),
        (lambda led: led.transmission("campaign", b"spring", "o1"), "program_id"),
        (lambda led: led.transmission(None, "spring", "o1"), "program_kind"),
    ],
    ids=[
        "user-none",
        "user-nul",
        "campaign-int",
        "canvas-none",
        "source",
        "bytes",
        "kind",
    ],
)
def test_a_read_with_an_id_that_is_not_one_is_refused_naming_the_argument(
    ledger, read, field
):
    with pytest.raises(InvalidCommand) as raised:
        read(ledger)

    assert raised.value.problems[0]["field"] == field


def test_scheduling_a_call_again_for_another_time_is_refused_and_keeps_the_first(
    ledger,
):
    ledger.define_campaign(campaign("receipt", "api_triggered"), at=AT)
    first = AT + timedelta(days=1)
    ledger.schedule_api_trigger(
        campaign_id="receipt", call_id="c1", send_at=first, at=AT
    )
    before = max_notification_id(ledger)

    with pytest.raises(DefinitionConflict) as raised:
        ledger.schedule_api_trigger(
            campaign_id="receipt", call_id="c1", send_at=AT + timedelta(days=5), at=AT
        )

    assert (raised.value.kind, raised.value.api_id) == ("API call", "c1")
    assert max_notification_id(ledger) == before
    recorded = ledger.transmission("campaign", "receipt", "c1")
    assert recorded is not None
    assert recorded.send_at == first


def test_scheduling_the_same_call_for_the_same_instant_again_is_accepted(ledger):
    ledger.define_campaign(campaign("receipt", "api_triggered"), at=AT)
    first = ledger.schedule_api_trigger(
        campaign_id="receipt", call_id="c1", send_at=AT + timedelta(days=1), at=AT
    )

    again = ledger.schedule_api_trigger(
        campaign_id="receipt",
        call_id="c1",
        send_at=datetime(2025, 3, 2, 10, 0, tzinfo=timezone(timedelta(hours=1))),
        at=AT,
    )

    assert again.send_at == first.send_at


def test_an_api_call_records_every_skipped_recipient_not_only_those_listed(ledger):
    ledger.define_campaign(campaign("receipt", "api_triggered"), at=AT)
    recipients = [f"u{n}" for n in range(1200)]
    ledger.api_trigger(campaign_id="receipt", call_id="c1", recipients=recipients)

    again = ledger.api_trigger(
        campaign_id="receipt", call_id="c2", recipients=recipients
    )

    assert again.skipped_counts == {"not_re_eligible": 1200}
    recorded = ledger.transmission("campaign", "receipt", "c2")
    assert recorded is not None
    assert recorded.skipped == 1200


@pytest.mark.parametrize("kind", ["campaign", "canvas"])
def test_archiving_an_archived_program_again_succeeds_and_writes_nothing(ledger, kind):
    ledger.define_canvas(canvas("onboarding", "action_based"), at=AT)
    program_id = "cart" if kind == "campaign" else "onboarding"
    ledger.archive(program_kind=kind, program_id=program_id, at=AT)
    before = max_notification_id(ledger)

    again = ledger.archive(program_kind=kind, program_id=program_id, at=AT)

    assert (again.program_kind, again.program_id) == (kind, program_id)
    assert max_notification_id(ledger) == before


def test_a_rule_of_the_definitions_is_reported_in_its_own_words(ledger):
    with pytest.raises(InvalidCommand) as raised:
        ledger.trigger(campaign_id="cart", user_id="u1\x1fx", at=AT)

    assert raised.value.problems == [
        {
            "field": "user_id",
            "reason": "control character U+001F at position 2 is not allowed in an id",
        }
    ]
