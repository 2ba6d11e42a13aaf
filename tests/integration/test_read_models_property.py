"""For random mixes of commands, the read models hold what the commands imply.

Expected rows are written from the commands and the ids their results report,
while the read models are caught up at random points in small batches; a rebuild
check afterwards must find the live tables identical to a rebuild from the log.
"""

from __future__ import annotations

import secrets
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from read_model_scenarios import at, define_all

from dispatchledger.adapters import open_ledger
from dispatchledger.adapters.read_side import open_read_models
from dispatchledger.domain.application import DispatchLedger
from dispatchledger.projections.service import ReadModels

USERS = ["ana", "ben", "cy", "dee"]
NEXT_STEP = {"hello": "wait", "wait": "tips", "tips": "hello"}
STEP_MESSAGES = {
    "hello": [("email", "hello-email", True)],
    "wait": [],
    "tips": [("push", "tips-push", True), ("in_app_message", "tips-banner", False)],
}

audiences = st.lists(st.sampled_from(USERS), min_size=1, max_size=4, unique=True)
commands = st.lists(
    st.one_of(
        st.tuples(st.just("occurrence"), audiences),
        st.tuples(st.just("trigger"), st.sampled_from(USERS)),
        st.tuples(st.just("api_call"), audiences),
        st.tuples(st.just("entry_run"), audiences),
        st.tuples(st.just("advance"), st.sampled_from(USERS)),
        st.tuples(st.just("catch_up"), st.integers(min_value=1, max_value=7)),
    ),
    min_size=1,
    max_size=14,
)


@dataclass
class Expected:
    """What the read models must hold, built from commands and their results."""

    messages: dict[str, list[tuple[Any, ...]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    arrivals: dict[str, list[tuple[str, str | None]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    journeys: dict[str, list[list[tuple[str, str | None]]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    transmissions: dict[tuple[str, str, str], tuple[Any, ...]] = field(
        default_factory=dict
    )

    def message(self, user: str, *fields: Any) -> None:
        self.messages[user].append(fields)


def run(ledger: DispatchLedger, models: ReadModels, mix: list[Any]) -> Expected:
    expected = Expected()
    for number, (kind, arg) in enumerate(mix, start=1):
        when = at(number)
        if kind == "catch_up":
            models.runner.batch_size = arg
            models.catch_up()
        elif kind == "occurrence":
            result = ledger.run_occurrence(
                campaign_id="weekly-news",
                occurrence_id=f"w{number}",
                audience=arg,
                at=when,
            )
            shared = result.dispatch_ids[0]
            for user in arg:
                for channel in ("email", "push"):
                    expected.message(
                        user, "weekly-news", "occurrence", None, channel,
                        f"news-{channel}", shared, when,
                    )  # fmt: skip
            counts = {"email": len(arg), "push": len(arg)}
            key = ("campaign", "weekly-news", f"w{number}")
            expected.transmissions[key] = (len(arg), counts, shared)
        elif kind == "trigger":
            result = ledger.trigger(
                campaign_id="welcome", user_id=arg, trigger_id=f"t{number}", at=when
            )
            own = result.dispatch_by_user[arg]
            expected.message(
                arg, "welcome", "trigger", None, "email", "welcome-email", own, when
            )
            expected.message(
                arg, "welcome", "trigger", None, "in_app_message",
                "welcome-banner", None, when,
            )  # fmt: skip
            counts = {"email": 1, "in_app_message": 1}
            expected.transmissions[("campaign", "welcome", f"t{number}")] = (
                1,
                counts,
                None,
            )
        elif kind == "api_call":
            result = ledger.api_trigger(
                campaign_id="receipt", recipients=arg, call_id=f"c{number}", at=when
            )
            shared = result.dispatch_ids[0]
            for user in arg:
                expected.message(
                    user,
                    "receipt",
                    "api_call",
                    None,
                    "sms",
                    "receipt-sms",
                    shared,
                    when,
                )
            key = ("campaign", "receipt", f"c{number}")
            expected.transmissions[key] = (len(arg), {"sms": len(arg)}, shared)
        elif kind == "entry_run":
            result = ledger.run_canvas_entry(
                canvas_id="onboarding", entry_run_id=f"r{number}", audience=arg, at=when
            )
            shared = result.dispatch_ids[0]
            for user in arg:
                expected.message(
                    user, "onboarding", "entry_run", "hello", "email", "hello-email",
                    shared, when,
                )  # fmt: skip
                expected.arrivals["hello"].append((user, shared))
                expected.journeys[user].append([("hello", shared)])
            key = ("canvas", "onboarding", f"r{number}")
            expected.transmissions[key] = (len(arg), {"email": len(arg)}, shared)
        elif kind == "advance" and expected.journeys[arg]:
            path = expected.journeys[arg][-1]
            step = NEXT_STEP[path[-1][0]]
            result = ledger.advance(
                canvas_id="onboarding", user_id=arg, step_id=step, at=when
            )
            own = result.dispatch_by_user[arg]
            for channel, variation, carries in STEP_MESSAGES[step]:
                expected.message(
                    arg, "onboarding", "step_arrival", step, channel, variation,
                    own if carries else None, when,
                )  # fmt: skip
            expected.arrivals[step].append((arg, own))
            path.append((step, own))
    return expected


def check(models: ReadModels, expected: Expected) -> None:
    models.catch_up()
    for user in USERS:
        found = [
            (
                m.program_id,
                m.source_kind,
                m.step_id,
                m.channel,
                m.variation_id,
                m.dispatch_id,
                m.sent_at,
            )
            for m in models.by_user(user)
        ]
        assert sorted(found, key=repr) == sorted(expected.messages[user], key=repr)
        journeys = [
            [(s.step_id, s.dispatch_id) for s in journey.steps]
            for journey in models.user_lineage(user).journeys
        ]
        assert journeys == expected.journeys[user]
    for step in NEXT_STEP:
        found_arrivals = [
            (a.user_id, a.dispatch_id) for a in models.by_step("onboarding", step)
        ]
        assert sorted(found_arrivals, key=repr) == sorted(
            expected.arrivals[step], key=repr
        )
    for key, (audience, counts, shared) in expected.transmissions.items():
        view = models.transmission(*key)
        assert view is not None
        assert (view.audience_size, view.recipients_per_channel) == (audience, counts)
        assert view.shared_dispatch_id == shared
    reports = models.rebuild(check_only=True)
    assert [r.identical for r in reports] == [True] * len(reports)


@contextmanager
def sqlite_database() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as folder:
        yield f"sqlite:///{Path(folder) / 'ledger.db'}"


@contextmanager
def postgres_schema(database_url: str) -> Iterator[str]:
    schema = f"p_{secrets.token_hex(6)}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{database_url}?schema={schema}"
    finally:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def exercise(url: str, mix: list[Any]) -> None:
    ledger = open_ledger(url)
    models = open_read_models(url, ledger=ledger)
    try:
        define_all(ledger)
        expected = run(ledger, models, mix)
        check(models, expected)
    finally:
        models.close()
        ledger.close()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(mix=commands)
def test_read_models_equal_what_commands_imply_on_sqlite(mix: list[Any]) -> None:
    with sqlite_database() as url:
        exercise(url, mix)


@pytest.mark.postgres
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(mix=commands)
def test_read_models_equal_what_commands_imply_on_postgres(
    postgres_url: str, mix: list[Any]
) -> None:
    with postgres_schema(postgres_url) as url:
        exercise(url, mix)
