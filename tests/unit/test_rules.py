"""One test (or a few) per dispatch identity rule D1-D12 of DOMAIN.md section 2.

Dispatch ids are minted by a counter (0...01, 0...02, ...) unless a test is about
the real minter, so the expected ids are written from the order of the commands.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from ledger_builders import (
    AT,
    campaign,
    canvas,
    counting_ledger,
    dispatched,
    recorded_events,
)

from dispatchledger.adapters.bootstrap import open_ledger
from dispatchledger.domain import (
    CampaignDefinition,
    DispatchLedger,
    MessageDispatched,
    Transmission,
    UserEntered,
)


def hex24(n: int) -> str:
    return f"{n:024x}"


def ids_by_user_channel(ledger: DispatchLedger) -> dict[tuple[str, str], list]:
    found: dict[tuple[str, str], list] = {}
    for event in dispatched(ledger):
        found.setdefault((event.user_id, event.channel), []).append(event.dispatch_id)
    return found


# -- D1 opaque id -------------------------------------------------------------


def test_d01_minted_ids_are_24_lowercase_hex_and_distinct():
    ledger = open_ledger("memory://")
    ledger.define_campaign(campaign("welcome", "action_based"), at=AT)

    results = [
        ledger.trigger(campaign_id="welcome", user_id=f"u{n}", at=AT) for n in range(50)
    ]

    minted = [r.dispatch_by_user[f"u{n}"] for n, r in enumerate(results)]
    assert all(re.fullmatch(r"[0-9a-f]{24}", value) for value in minted)
    assert len(set(minted)) == 50


def test_d01_ids_are_kept_byte_for_byte_never_reformatted():
    uuid_shaped = "D1234567-89AB-CDEF-0123-456789ABCDEF"
    ledger = open_ledger("memory://", mint=lambda: uuid_shaped)
    ledger.define_campaign(campaign("welcome", "action_based"), at=AT)

    result = ledger.trigger(
        campaign_id="welcome", user_id="u1", trigger_id=uuid_shaped.lower(), at=AT
    )

    (record,) = ledger.user_dispatches("u1")
    assert record.dispatch_id == "D1234567-89AB-CDEF-0123-456789ABCDEF"
    assert record.source_id == "d1234567-89ab-cdef-0123-456789abcdef"
    assert result.dispatch_ids == ["D1234567-89AB-CDEF-0123-456789ABCDEF"]


# -- D2 scheduled campaign ----------------------------------------------------


def test_d02_every_recipient_and_channel_of_one_occurrence_share_one_id():
    ledger = counting_ledger()
    definition = CampaignDefinition.model_validate(
        {
            "campaign_id": "spring",
            "name": "Spring sale",
            "delivery_type": "scheduled",
            "variations": [
                {"variation_id": "mail-a", "channel": "email"},
                {"variation_id": "mail-b", "channel": "email"},
                {"variation_id": "push", "channel": "push"},
                {"variation_id": "text", "channel": "sms"},
            ],
        }
    )
    ledger.define_campaign(definition, at=AT)

    result = ledger.run_occurrence(
        campaign_id="spring", occurrence_id="o1", audience=["u1", "u2", "u3"], at=AT
    )

    assert result.dispatch_ids == [hex24(1)]
    assert result.recipients == 3
    assert result.messages == 9
    assert ids_by_user_channel(ledger) == {
        (user, channel): [hex24(1)]
        for user in ("u1", "u2", "u3")
        for channel in ("email", "push", "sms")
    }


def test_d02_each_occurrence_of_a_recurring_campaign_gets_a_new_id():
    ledger = counting_ledger()
    ledger.define_campaign(
        campaign("daily", "scheduled", recurring=True, re_eligibility_seconds=0),
        at=AT,
    )

    first = ledger.run_occurrence(
        campaign_id="daily", occurrence_id="day-1", audience=["u1", "u2"], at=AT
    )
    second = ledger.run_occurrence(
        campaign_id="daily",
        occurrence_id="day-2",
        audience=["u1", "u2"],
        at=AT + timedelta(days=1),
    )

    assert first.dispatch_ids == [hex24(1)]
    assert second.dispatch_ids == [hex24(2)]
    assert [r.dispatch_id for r in ledger.user_dispatches("u1")] == [
        hex24(1),
        hex24(2),
    ]


def test_d02_a_user_listed_twice_gets_one_message_per_channel():
    ledger = counting_ledger()
    ledger.define_campaign(campaign("spring", "scheduled", ["email", "push"]), at=AT)

    result = ledger.run_occurrence(
        campaign_id="spring", occurrence_id="o1", audience=["u1", "u2", "u1"], at=AT
    )

    assert result.recipients == 2
    assert [(s.user_id, s.reason) for s in result.skipped] == [("u1", "already_sent")]
    assert ids_by_user_channel(ledger) == {
        ("u1", "email"): [hex24(1)],
        ("u1", "push"): [hex24(1)],
        ("u2", "email"): [hex24(1)],
        ("u2", "push"): [hex24(1)],
    }


# -- D3 action-based campaign ---------------------------------------------------


def test_d03_each_trigger_is_a_dispatch_for_that_user_alone():
    ledger = counting_ledger()
    ledger.define_campaign(
        campaign("abandoned-cart", "action_based", re_eligibility_seconds=0), at=AT
    )

    u1 = ledger.trigger(
        campaign_id="abandoned-cart", user_id="u1", trigger_id="t1", at=AT
    )
    u2 = ledger.trigger(
        campaign_id="abandoned-cart", user_id="u2", trigger_id="t2", at=AT
    )
    u1_again = ledger.trigger(
        campaign_id="abandoned-cart",
        user_id="u1",
        trigger_id="t3",
        at=AT + timedelta(hours=1),
    )

    assert u1.dispatch_by_user == {"u1": hex24(1)}
    assert u2.dispatch_by_user == {"u2": hex24(2)}
    assert u1_again.dispatch_by_user == {"u1": hex24(3)}
    assert ids_by_user_channel(ledger) == {
        ("u1", "email"): [hex24(1), hex24(3)],
        ("u2", "email"): [hex24(2)],
    }


# -- D4 API-triggered campaign (K01, first half) --------------------------------


def _k01(policy: str | None) -> DispatchLedger:
    ledger = counting_ledger()
    extra = {} if policy is None else {"api_trigger_dispatch": policy}
    ledger.define_campaign(campaign("receipt", "api_triggered", **extra), at=AT)
    ledger.api_trigger(
        campaign_id="receipt", recipients=["u1", "u2", "u3"], call_id="call-1", at=AT
    )
    ledger.api_trigger(
        campaign_id="receipt",
        recipients=["u4"],
        call_id="call-2",
        at=AT + timedelta(minutes=10),
    )
    return ledger


def _ids_of(ledger: DispatchLedger) -> dict[str, str | None]:
    return {e.user_id: e.dispatch_id for e in dispatched(ledger)}


def test_d04_default_policy_gives_each_recipient_of_a_call_its_own_id():
    ledger = _k01(None)

    ids = _ids_of(ledger)

    assert ids == {
        "u1": hex24(1),
        "u2": hex24(2),
        "u3": hex24(3),
        "u4": hex24(4),
    }


def test_d04_per_call_policy_shares_the_call_id_and_never_across_calls():
    ledger = _k01("per_call")

    ids = _ids_of(ledger)

    assert ids == {"u1": hex24(1), "u2": hex24(1), "u3": hex24(1), "u4": hex24(2)}


def test_d04_per_call_result_returns_the_id_the_recipients_share():
    ledger = counting_ledger()
    ledger.define_campaign(
        campaign("receipt", "api_triggered", api_trigger_dispatch="per_call"), at=AT
    )

    result = ledger.api_trigger(
        campaign_id="receipt", recipients=["u1", "u2"], call_id="call-1", at=AT
    )

    assert result.dispatch_ids == [hex24(1)]
    assert result.dispatch_by_user == {"u1": hex24(1), "u2": hex24(1)}


# -- D5 scheduled-entry Canvas, entry step -------------------------------------


def test_d05_entrants_of_one_entry_run_share_an_id_the_next_run_gets_another():
    ledger = counting_ledger()
    ledger.define_canvas(
        canvas("onboarding", "scheduled", recurring=True, re_eligibility_seconds=0),
        at=AT,
    )

    first = ledger.run_canvas_entry(
        canvas_id="onboarding", entry_run_id="r1", audience=["u1", "u2"], at=AT
    )
    second = ledger.run_canvas_entry(
        canvas_id="onboarding",
        entry_run_id="r2",
        audience=["u3", "u1"],
        at=AT + timedelta(days=1),
    )

    assert first.dispatch_ids == [hex24(1)]
    assert second.dispatch_ids == [hex24(2)]
    assert [(e.user_id, e.dispatch_id) for e in dispatched(ledger)] == [
        ("u1", hex24(1)),
        ("u2", hex24(1)),
        ("u3", hex24(2)),
        ("u1", hex24(2)),
    ]


def test_d05_variants_entering_at_different_steps_get_different_ids():
    ledger = counting_ledger()
    definition = canvas("onboarding", "scheduled", [["email"], ["email"]])
    definition = definition.model_copy(
        update={
            "variants": (
                definition.variants[0].model_validate(
                    {"variant_id": "v1", "entry_step_ids": ["s1"]}
                ),
                definition.variants[0].model_validate(
                    {"variant_id": "v2", "entry_step_ids": ["s2"]}
                ),
            )
        }
    )
    ledger.define_canvas(definition, at=AT)
    users = [f"u{n}" for n in range(40)]

    ledger.run_canvas_entry(
        canvas_id="onboarding", entry_run_id="r1", audience=users, at=AT
    )

    by_step: dict[str, set[str | None]] = {}
    for event in dispatched(ledger):
        by_step.setdefault(event.step_id, set()).add(event.dispatch_id)
    assert by_step == {"s1": {hex24(1)}, "s2": {hex24(2)}}
    transmission = ledger.transmission("canvas", "onboarding", "r1")
    assert transmission is not None
    assert transmission.step_dispatch_ids == {"s1": hex24(1), "s2": hex24(2)}


# -- D6 action-based / API-triggered Canvas, entry step --------------------------


@pytest.mark.parametrize("entry_type", ["action_based", "api_triggered"])
def test_d06_triggered_entry_gives_one_id_per_user_per_entry(entry_type):
    ledger = counting_ledger()
    ledger.define_canvas(canvas("winback", entry_type, re_eligibility_seconds=0), at=AT)

    u1 = ledger.enter_canvas(canvas_id="winback", user_id="u1", trigger_id="t1", at=AT)
    u2 = ledger.enter_canvas(canvas_id="winback", user_id="u2", trigger_id="t2", at=AT)
    u1_again = ledger.enter_canvas(
        canvas_id="winback", user_id="u1", trigger_id="t3", at=AT + timedelta(days=1)
    )

    assert u1.dispatch_by_user == {"u1": hex24(1)}
    assert u2.dispatch_by_user == {"u2": hex24(2)}
    assert u1_again.dispatch_by_user == {"u1": hex24(3)}
    assert u1.entry_ids["u1"] != u1_again.entry_ids["u1"]


# -- D7 later Canvas steps ------------------------------------------------------


def test_d07_two_users_advancing_at_the_same_moment_get_different_ids():
    ledger = counting_ledger()
    ledger.define_canvas(canvas("onboarding", "scheduled"), at=AT)
    ledger.run_canvas_entry(
        canvas_id="onboarding", entry_run_id="r1", audience=["u1", "u2"], at=AT
    )
    later = AT + timedelta(days=2)

    u1 = ledger.advance(canvas_id="onboarding", user_id="u1", step_id="s2", at=later)
    u2 = ledger.advance(canvas_id="onboarding", user_id="u2", step_id="s2", at=later)

    assert u1.dispatch_by_user == {"u1": hex24(2)}
    assert u2.dispatch_by_user == {"u2": hex24(3)}


def test_d07_each_arrival_at_a_step_is_its_own_dispatch():
    ledger = counting_ledger()
    ledger.define_canvas(canvas("onboarding", "action_based"), at=AT)
    ledger.enter_canvas(canvas_id="onboarding", user_id="u1", trigger_id="t1", at=AT)

    s2 = ledger.advance(canvas_id="onboarding", user_id="u1", step_id="s2", at=AT)
    s3 = ledger.advance(canvas_id="onboarding", user_id="u1", step_id="s3", at=AT)

    assert [(e.step_id, e.dispatch_id) for e in dispatched(ledger)] == [
        ("s1", hex24(1)),
        ("s2", hex24(2)),
        ("s3", hex24(3)),
    ]
    assert s2.source_kind == s3.source_kind == "step_arrival"


def test_d07_a_user_who_re_enters_gets_new_ids_at_every_step():
    ledger = counting_ledger()
    ledger.define_canvas(
        canvas("onboarding", "action_based", re_eligibility_seconds=0), at=AT
    )
    for journey, start in enumerate((AT, AT + timedelta(days=7)), start=1):
        ledger.enter_canvas(
            canvas_id="onboarding", user_id="u1", trigger_id=f"t{journey}", at=start
        )
        ledger.advance(canvas_id="onboarding", user_id="u1", step_id="s2", at=start)
        ledger.advance(canvas_id="onboarding", user_id="u1", step_id="s3", at=start)

    events = dispatched(ledger)

    assert [(e.step_id, e.dispatch_id) for e in events] == [
        ("s1", hex24(1)),
        ("s2", hex24(2)),
        ("s3", hex24(3)),
        ("s1", hex24(4)),
        ("s2", hex24(5)),
        ("s3", hex24(6)),
    ]
    assert len({e.entry_id for e in events[:3]}) == 1
    assert len({e.entry_id for e in events[3:]}) == 1
    assert events[0].entry_id != events[3].entry_id


# -- D8 in-app messages have no dispatch -------------------------------------------


def test_d08_in_app_carries_none_other_channels_keep_the_shared_id():
    ledger = counting_ledger()
    ledger.define_campaign(
        campaign("spring", "scheduled", ["email", "in_app_message", "push"]), at=AT
    )

    ledger.run_occurrence(
        campaign_id="spring", occurrence_id="o1", audience=["u1", "u2"], at=AT
    )

    assert ids_by_user_channel(ledger) == {
        ("u1", "email"): [hex24(1)],
        ("u1", "in_app_message"): [None],
        ("u1", "push"): [hex24(1)],
        ("u2", "email"): [hex24(1)],
        ("u2", "in_app_message"): [None],
        ("u2", "push"): [hex24(1)],
    }


def test_d08_in_app_only_sends_record_no_dispatch_anywhere():
    ledger = counting_ledger()
    ledger.define_campaign(
        campaign("banner", "action_based", ["in_app_message"]), at=AT
    )

    result = ledger.trigger(campaign_id="banner", user_id="u1", trigger_id="t1", at=AT)

    entered = [e for _, e in recorded_events(ledger) if isinstance(e, UserEntered)]
    assert [e.dispatch_id for e in entered] == [None]
    assert [e.dispatch_id for e in dispatched(ledger)] == [None]
    assert result.dispatch_by_user == {"u1": None}


def test_d08_an_in_app_canvas_step_records_none_and_mints_nothing():
    ledger = counting_ledger()
    ledger.define_canvas(
        canvas("tour", "action_based", [["email"], ["in_app_message"], ["email"]]),
        at=AT,
    )
    ledger.enter_canvas(canvas_id="tour", user_id="u1", trigger_id="t1", at=AT)

    ledger.advance(canvas_id="tour", user_id="u1", step_id="s2", at=AT)
    ledger.advance(canvas_id="tour", user_id="u1", step_id="s3", at=AT)

    assert [(e.step_id, e.dispatch_id) for e in dispatched(ledger)] == [
        ("s1", hex24(1)),
        ("s2", None),
        ("s3", hex24(2)),
    ]


def test_d08_an_in_app_entry_run_shares_no_id_and_mints_none():
    ledger = counting_ledger()
    ledger.define_canvas(
        canvas("tour", "scheduled", [["in_app_message"], ["email"]]), at=AT
    )

    result = ledger.run_canvas_entry(
        canvas_id="tour", entry_run_id="r1", audience=["u1", "u2"], at=AT
    )
    ledger.advance(canvas_id="tour", user_id="u1", step_id="s2", at=AT)

    transmission = ledger.transmission("canvas", "tour", "r1")
    assert transmission is not None
    assert transmission.dispatch_id is None
    assert result.dispatch_ids == [None]
    assert [(e.step_id, e.dispatch_id) for e in dispatched(ledger)] == [
        ("s1", None),
        ("s1", None),
        ("s2", hex24(1)),
    ]


def test_d08_an_in_app_only_occurrence_has_no_dispatch_at_all():
    ledger = counting_ledger()
    ledger.define_campaign(campaign("banner", "scheduled", ["in_app_message"]), at=AT)

    result = ledger.run_occurrence(
        campaign_id="banner", occurrence_id="o1", audience=["u1", "u2"], at=AT
    )

    transmission = ledger.transmission("campaign", "banner", "o1")
    assert transmission is not None
    assert transmission.dispatch_id is None
    assert result.dispatch_ids == [None]


def test_d08_an_in_app_only_api_call_returns_no_id_under_per_call():
    ledger = counting_ledger()
    ledger.define_campaign(
        campaign(
            "banner",
            "api_triggered",
            ["in_app_message"],
            api_trigger_dispatch="per_call",
        ),
        at=AT,
    )

    scheduled = ledger.schedule_api_trigger(
        campaign_id="banner", call_id="later-1", send_at=AT, at=AT
    )
    sent = ledger.api_trigger(
        campaign_id="banner", recipients=["u1", "u2"], call_id="now-1", at=AT
    )

    assert scheduled.dispatch_id is None
    assert sent.dispatch_ids == [None]
    assert [e.dispatch_id for e in dispatched(ledger)] == [None, None]


# -- D9 the id exists before the send ---------------------------------------------


def _started_and_messages(ledger: DispatchLedger):
    events = recorded_events(ledger)
    started = [(n, e) for n, e in events if isinstance(e, Transmission.Started)]
    messages = [(n, e) for n, e in events if isinstance(e, MessageDispatched)]
    return started, messages


def test_d09_occurrence_transmission_is_recorded_before_any_message():
    ledger = counting_ledger()
    ledger.batch_size = 2
    ledger.define_campaign(campaign("spring", "scheduled", ["email", "push"]), at=AT)

    ledger.run_occurrence(
        campaign_id="spring", occurrence_id="o1", audience=["u1", "u2", "u3"], at=AT
    )

    [(started_at, started)], messages = _started_and_messages(ledger)
    assert started.dispatch_id == hex24(1)
    assert len(messages) == 6
    assert all(started_at < n for n, _ in messages)
    assert {e.dispatch_id for _, e in messages} == {hex24(1)}


def test_d09_api_call_transmission_is_recorded_before_its_messages():
    ledger = counting_ledger()
    ledger.define_campaign(
        campaign("receipt", "api_triggered", api_trigger_dispatch="per_call"), at=AT
    )

    ledger.api_trigger(
        campaign_id="receipt", recipients=["u1", "u2"], call_id="call-1", at=AT
    )

    [(started_at, started)], messages = _started_and_messages(ledger)
    assert started.dispatch_id == hex24(1)
    assert all(started_at < n for n, _ in messages)
    assert [e.dispatch_id for _, e in messages] == [hex24(1), hex24(1)]


def test_d09_a_scheduled_api_send_returns_its_id_when_scheduled():
    ledger = counting_ledger()
    ledger.define_campaign(
        campaign("receipt", "api_triggered", api_trigger_dispatch="per_call"), at=AT
    )
    send_at = AT + timedelta(hours=2)

    scheduled = ledger.schedule_api_trigger(
        campaign_id="receipt", call_id="later-1", send_at=send_at, at=AT
    )
    messages_before_send = dispatched(ledger)
    sent = ledger.api_trigger(
        campaign_id="receipt", recipients=["u1", "u2"], call_id="later-1", at=send_at
    )

    assert scheduled.dispatch_id == hex24(1)
    assert messages_before_send == []
    assert sent.dispatch_ids == [hex24(1)]
    assert [e.dispatch_id for e in dispatched(ledger)] == [hex24(1), hex24(1)]


def test_d09_a_scheduled_api_send_under_the_default_policy_has_no_shared_id():
    ledger = counting_ledger()
    ledger.define_campaign(campaign("receipt", "api_triggered"), at=AT)

    scheduled = ledger.schedule_api_trigger(
        campaign_id="receipt", call_id="later-1", send_at=AT, at=AT
    )
    sent = ledger.api_trigger(
        campaign_id="receipt", recipients=["u1", "u2"], call_id="later-1", at=AT
    )

    assert scheduled.dispatch_id is None
    assert sent.dispatch_by_user == {"u1": hex24(1), "u2": hex24(2)}


def test_d09_the_entry_event_carries_the_id_before_its_messages():
    ledger = counting_ledger()
    ledger.define_campaign(campaign("spring", "scheduled", ["email", "push"]), at=AT)

    ledger.run_occurrence(
        campaign_id="spring", occurrence_id="o1", audience=["u1"], at=AT
    )

    kinds = [
        (type(e).__name__, getattr(e, "dispatch_id", None))
        for _, e in recorded_events(ledger)
        if isinstance(e, UserEntered | MessageDispatched)
    ]
    assert kinds == [
        ("UserEntered", hex24(1)),
        ("MessageDispatched", hex24(1)),
        ("MessageDispatched", hex24(1)),
    ]


# -- D10 different transmissions never share an id -------------------------------------


def test_d10_campaigns_occurrences_steps_entries_and_calls_never_share_ids():
    ledger = open_ledger("memory://")
    ledger.define_campaign(
        campaign("daily", "scheduled", recurring=True, re_eligibility_seconds=0),
        at=AT,
    )
    ledger.define_campaign(campaign("weekly", "scheduled", recurring=True), at=AT)
    ledger.define_campaign(
        campaign(
            "receipt",
            "api_triggered",
            api_trigger_dispatch="per_call",
            re_eligibility_seconds=0,
        ),
        at=AT,
    )
    ledger.define_canvas(canvas("onboarding", "scheduled", recurring=True), at=AT)
    users = ["u1", "u2"]

    ledger.run_occurrence(
        campaign_id="daily", occurrence_id="d1", audience=users, at=AT
    )
    ledger.run_occurrence(
        campaign_id="daily", occurrence_id="d2", audience=users, at=AT
    )
    ledger.run_occurrence(
        campaign_id="weekly", occurrence_id="d1", audience=users, at=AT
    )
    ledger.api_trigger(campaign_id="receipt", recipients=users, call_id="c1", at=AT)
    ledger.api_trigger(campaign_id="receipt", recipients=users, call_id="c2", at=AT)
    ledger.run_canvas_entry(
        canvas_id="onboarding", entry_run_id="d1", audience=users, at=AT
    )
    for user in users:
        ledger.advance(canvas_id="onboarding", user_id=user, step_id="s2", at=AT)

    transmissions_of_id: dict[str | None, set[tuple[str, ...]]] = {}
    for event in dispatched(ledger):
        key = (event.program_id, event.source_id, str(event.step_id))
        if event.source_kind == "step_arrival":
            key = (event.program_id, "arrival", event.user_id, str(event.step_id))
        transmissions_of_id.setdefault(event.dispatch_id, set()).add(key)

    assert sorted(transmissions_of_id.values(), key=sorted) == sorted(
        [
            {("daily", "d1", "None")},
            {("daily", "d2", "None")},
            {("weekly", "d1", "None")},
            {("receipt", "c1", "None")},
            {("receipt", "c2", "None")},
            {("onboarding", "d1", "s1")},
            {("onboarding", "arrival", "u1", "s2")},
            {("onboarding", "arrival", "u2", "s2")},
        ],
        key=sorted,
    )


# -- D11 engagement follows the message ------------------------------------------------


def test_d11_each_message_has_one_id_an_engagement_can_follow():
    ledger = counting_ledger()
    ledger.define_campaign(
        campaign(
            "daily",
            "scheduled",
            ["email", "push", "sms"],
            recurring=True,
            re_eligibility_seconds=0,
        ),
        at=AT,
    )
    ledger.run_occurrence(
        campaign_id="daily", occurrence_id="d1", audience=["u1"], at=AT
    )
    ledger.run_occurrence(
        campaign_id="daily",
        occurrence_id="d2",
        audience=["u1"],
        at=AT + timedelta(days=1),
    )

    records = ledger.user_dispatches("u1")

    assert [(r.channel, r.source_id, r.dispatch_id) for r in records] == [
        ("email", "d1", hex24(1)),
        ("push", "d1", hex24(1)),
        ("sms", "d1", hex24(1)),
        ("email", "d2", hex24(2)),
        ("push", "d2", hex24(2)),
        ("sms", "d2", hex24(2)),
    ]


# -- D12 re-eligibility -------------------------------------------------------------


def test_d12_a_user_receives_a_campaign_once_by_default_and_the_skip_is_reported():
    ledger = counting_ledger()
    ledger.define_campaign(campaign("daily", "scheduled", recurring=True), at=AT)
    ledger.run_occurrence(
        campaign_id="daily", occurrence_id="d1", audience=["u1"], at=AT
    )

    second = ledger.run_occurrence(
        campaign_id="daily",
        occurrence_id="d2",
        audience=["u1", "u2"],
        at=AT + timedelta(days=30),
    )

    assert second.recipients == 1
    assert [(s.user_id, s.reason) for s in second.skipped] == [
        ("u1", "not_re_eligible")
    ]
    assert second.skipped_counts == {"not_re_eligible": 1}
    assert [(e.user_id, e.dispatch_id) for e in dispatched(ledger)] == [
        ("u1", hex24(1)),
        ("u2", hex24(2)),
    ]


def test_d12_campaign_period_counts_from_the_last_receipt():
    ledger = counting_ledger()
    ledger.define_campaign(
        campaign("nudge", "action_based", re_eligibility_seconds=3600), at=AT
    )
    minutes = [0, 30, 60, 90, 120]

    results = [
        ledger.trigger(
            campaign_id="nudge",
            user_id="u1",
            trigger_id=f"t{m}",
            at=AT + timedelta(minutes=m),
        )
        for m in minutes
    ]

    assert [r.recipients for r in results] == [1, 0, 1, 0, 1]
    assert [[s.reason for s in r.skipped] for r in results] == [
        [],
        ["not_re_eligible"],
        [],
        ["not_re_eligible"],
        [],
    ]
    assert [e.timestamp for e in dispatched(ledger)] == [
        AT,
        AT + timedelta(minutes=60),
        AT + timedelta(minutes=120),
    ]


def test_d12_canvas_period_counts_from_the_last_entry_not_the_last_step():
    ledger = counting_ledger()
    ledger.define_canvas(
        canvas("winback", "action_based", re_eligibility_seconds=3600), at=AT
    )
    ledger.enter_canvas(canvas_id="winback", user_id="u1", trigger_id="t1", at=AT)
    ledger.advance(
        canvas_id="winback",
        user_id="u1",
        step_id="s2",
        at=AT + timedelta(minutes=50),
    )

    at_60 = ledger.enter_canvas(
        canvas_id="winback",
        user_id="u1",
        trigger_id="t2",
        at=AT + timedelta(minutes=60),
    )
    at_90 = ledger.enter_canvas(
        canvas_id="winback",
        user_id="u1",
        trigger_id="t3",
        at=AT + timedelta(minutes=90),
    )

    assert at_60.recipients == 1
    assert at_90.recipients == 0
    assert [(s.user_id, s.reason) for s in at_90.skipped] == [("u1", "not_re_eligible")]


def test_d12_a_canvas_is_entered_once_by_default_in_bulk_runs_too():
    ledger = counting_ledger()
    ledger.define_canvas(canvas("onboarding", "scheduled", recurring=True), at=AT)
    ledger.run_canvas_entry(
        canvas_id="onboarding", entry_run_id="r1", audience=["u1"], at=AT
    )

    second = ledger.run_canvas_entry(
        canvas_id="onboarding",
        entry_run_id="r2",
        audience=["u1", "u2"],
        at=AT + timedelta(days=1),
    )

    assert second.recipients == 1
    assert second.skipped_counts == {"not_re_eligible": 1}
    assert [(s.user_id, s.reason) for s in second.skipped] == [
        ("u1", "not_re_eligible")
    ]
