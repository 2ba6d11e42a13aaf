"""Property tests: random mixes of sends checked against rules D2-D10.

Hypothesis draws a sequence of operations over six programs (a recurring
scheduled campaign, an action-based one, two API-triggered ones under each D4
policy, a scheduled-entry Canvas and an action-based Canvas). A small model of
re-eligibility and journeys, written from the rules and not from the code,
predicts who receives what and which messages must share a dispatch id; the
recorded MessageDispatched events must match it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ledger_builders import AT, campaign, canvas, recorded_events

from dispatchledger.adapters.bootstrap import open_ledger
from dispatchledger.domain import DispatchLedger, MessageDispatched, Transmission

USERS = ["u0", "u1", "u2", "u3", "u4"]
SCHEDULED_CHANNELS = ["email", "in_app_message", "push"]
API_CHANNELS = ["email", "sms"]
TRIGGER_CHANNELS = ["email"]
STEP_CHANNELS = [["email", "in_app_message"], ["in_app_message"], ["push"]]
IN_APP = "in_app_message"

users = st.sampled_from(USERS)
audiences = st.lists(users, min_size=1, max_size=6)
operations = st.one_of(
    st.tuples(st.just("occurrence"), audiences),
    st.tuples(st.just("trigger"), users),
    st.tuples(
        st.just("api"), st.sampled_from(["per_recipient", "per_call"]), audiences
    ),
    st.tuples(st.just("entry_run"), audiences),
    st.tuples(st.just("enter"), users),
    st.tuples(st.just("advance"), st.sampled_from(["journey", "winback"]), users),
)


@dataclass
class Model:
    """What the rules say, tracked per program and user."""

    once: dict[str, bool]
    received: Counter[tuple[str, str]] = field(default_factory=Counter)
    step: dict[tuple[str, str], int] = field(default_factory=dict)

    def eligible(self, program: str, user: str) -> bool:
        return not (self.once[program] and self.received[program, user])

    def receive(self, program: str, audience: list[str]) -> list[str]:
        """Recipients in order: each once (D2), if re-eligible (D12)."""
        recipients = []
        for user in dict.fromkeys(audience):
            if self.eligible(program, user):
                self.received[program, user] += 1
                recipients.append(user)
        return recipients


@dataclass
class Expected:
    """One operation's predicted messages and how their ids are grouped."""

    messages: Counter[tuple[str, str]] = field(default_factory=Counter)
    groups: dict[tuple[str, str], str | None] = field(default_factory=dict)
    transmission: tuple[str, str] | None = None
    scheduled_id: str | None = None

    def add(self, user: str, channels: list[str], group: str | None) -> None:
        for channel in channels:
            self.messages[user, channel] += 1
            self.groups[user, channel] = group


def define_programs(ledger: DispatchLedger, once: dict[str, bool]) -> None:
    def period(program: str) -> dict[str, Any]:
        return {} if once[program] else {"re_eligibility_seconds": 0}

    ledger.define_campaign(
        campaign(
            "daily", "scheduled", SCHEDULED_CHANNELS, recurring=True, **period("daily")
        ),
        at=AT,
    )
    ledger.define_campaign(
        campaign("cart", "action_based", TRIGGER_CHANNELS, **period("cart")), at=AT
    )
    for policy in ("per_recipient", "per_call"):
        ledger.define_campaign(
            campaign(
                f"api-{policy}",
                "api_triggered",
                API_CHANNELS,
                api_trigger_dispatch=policy,
                **period(f"api-{policy}"),
            ),
            at=AT,
        )
    ledger.define_canvas(
        canvas(
            "journey", "scheduled", STEP_CHANNELS, recurring=True, **period("journey")
        ),
        at=AT,
    )
    ledger.define_canvas(
        canvas("winback", "action_based", STEP_CHANNELS, **period("winback")), at=AT
    )


def run(ledger: DispatchLedger, model: Model, op: tuple, name: str, at) -> Expected:
    """Send one operation through the ledger; return what the model predicts."""
    expected = Expected()
    kind = op[0]
    if kind == "occurrence":
        ledger.run_occurrence(
            campaign_id="daily", occurrence_id=name, audience=op[1], at=at
        )
        for user in model.receive("daily", op[1]):
            expected.add(user, SCHEDULED_CHANNELS, None)
        expected.transmission = ("daily", name)
    elif kind == "trigger":
        ledger.trigger(campaign_id="cart", user_id=op[1], trigger_id=name, at=at)
        for user in model.receive("cart", [op[1]]):
            expected.add(user, TRIGGER_CHANNELS, user)
    elif kind in ("api", "scheduled_api"):
        policy, audience = op[1], op[2]
        program = f"api-{policy}"
        if kind == "scheduled_api":
            scheduled = ledger.schedule_api_trigger(
                campaign_id=program, call_id=name, send_at=at, at=at
            )
            expected.scheduled_id = scheduled.dispatch_id
        ledger.api_trigger(
            campaign_id=program, recipients=audience, call_id=name, at=at
        )
        for user in model.receive(program, audience):
            expected.add(user, API_CHANNELS, None if policy == "per_call" else user)
        expected.transmission = (program, name)
    elif kind == "entry_run":
        ledger.run_canvas_entry(
            canvas_id="journey", entry_run_id=name, audience=op[1], at=at
        )
        for user in model.receive("journey", op[1]):
            model.step["journey", user] = 0
            expected.add(user, STEP_CHANNELS[0], None)
        expected.transmission = ("journey", name)
    elif kind == "enter":
        ledger.enter_canvas(canvas_id="winback", user_id=op[1], trigger_id=name, at=at)
        for user in model.receive("winback", [op[1]]):
            model.step["winback", user] = 0
            expected.add(user, STEP_CHANNELS[0], user)
    else:
        _, canvas_id, user = op
        current = model.step.get((canvas_id, user))
        if current is None or current + 1 >= len(STEP_CHANNELS):
            return expected
        model.step[canvas_id, user] = current + 1
        ledger.advance(
            canvas_id=canvas_id, user_id=user, step_id=f"s{current + 2}", at=at
        )
        expected.add(user, STEP_CHANNELS[current + 1], user)
    return expected


def check(ledger: DispatchLedger, plan: list[Expected], op_kinds: list[str]) -> None:
    events = recorded_events(ledger)
    messages = [(n, e) for n, e in events if isinstance(e, MessageDispatched)]
    started = {
        (e.program_id, e.source_id): (n, e)
        for n, e in events
        if isinstance(e, Transmission.Started)
    }
    group_ids: dict[tuple[int, str | None], set[str | None]] = {}
    for index, expected in enumerate(plan):
        at = AT + timedelta(minutes=index + 1)
        mine = [(n, e) for n, e in messages if e.timestamp == at]

        # Who got which channel: exactly the model's prediction (D2, D12).
        assert Counter((e.user_id, e.channel) for _, e in mine) == expected.messages

        for _, event in mine:
            # D8: in-app has no dispatch; every other channel has one.
            assert (event.dispatch_id is None) == (event.channel == IN_APP)
            if event.channel != IN_APP:
                group = expected.groups[event.user_id, event.channel]
                group_ids.setdefault((index, group), set()).add(event.dispatch_id)

        # D9: the transmission is recorded before any of its messages.
        if expected.transmission is not None and mine:
            started_at, start = started[expected.transmission]
            assert all(started_at < n for n, _ in mine)
            shared = group_ids.get((index, None))
            if shared is not None:
                assert {start.dispatch_id} == shared

    # D9: a scheduled send returned, when scheduled, the id it then used.
    for index, expected in enumerate(plan):
        if op_kinds[index] != "scheduled_api":
            continue
        shared = group_ids.get((index, None))
        if expected.transmission == ("api-per_call", f"op{index}"):
            assert expected.scheduled_id is not None
            assert shared in (None, {expected.scheduled_id})
        else:
            assert expected.scheduled_id is None

    # D2-D7: each group shares exactly one id; D10: groups never share one.
    assert all(len(ids) == 1 for ids in group_ids.values())
    all_ids = [next(iter(ids)) for ids in group_ids.values()]
    assert len(all_ids) == len(set(all_ids))


def check_user_reads(ledger: DispatchLedger) -> None:
    """Reading a user's dispatches returns exactly what the log recorded."""
    logged = [e for _, e in recorded_events(ledger) if isinstance(e, MessageDispatched)]
    for user in USERS:
        from_log = Counter(
            (e.program_id, e.channel, e.dispatch_id, e.timestamp)
            for e in logged
            if e.user_id == user
        )
        read = Counter(
            (r.program_id, r.channel, r.dispatch_id, r.sent_at)
            for r in ledger.user_dispatches(user)
        )
        assert read == from_log


PROGRAMS = ["daily", "cart", "api-per_recipient", "api-per_call", "journey", "winback"]


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    ops=st.lists(operations, min_size=1, max_size=14),
    once=st.fixed_dictionaries({p: st.booleans() for p in PROGRAMS}),
)
def test_recorded_dispatches_follow_d2_to_d10(ops, once):
    ledger = open_ledger("memory://")
    define_programs(ledger, once)
    model = Model(once=once)

    plan = [
        run(ledger, model, op, f"op{index}", AT + timedelta(minutes=index + 1))
        for index, op in enumerate(ops)
    ]

    check(ledger, plan, [op[0] for op in ops])
    check_user_reads(ledger)
