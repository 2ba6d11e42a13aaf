"""Read models end to end: exactly-once projecting, restarts and rebuilds."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Collection, Iterator, Sequence
from typing import Any

import pytest
from read_model_scenarios import ONBOARDING, WEEKLY_NEWS, WELCOME, Minter, at

from dispatchledger.adapters import open_ledger
from dispatchledger.adapters.errors import ErrorTranslator
from dispatchledger.adapters.read_side import (
    LedgerEventLog,
    ListenWaiter,
    open_read_models,
)
from dispatchledger.adapters.settings import Settings
from dispatchledger.domain.application import DispatchLedger
from dispatchledger.domain.errors import DatabaseUnavailable, InvalidCommand
from dispatchledger.domain.events import MessageDispatched
from dispatchledger.projections import queries
from dispatchledger.projections.framework import Changes, Column, Table
from dispatchledger.projections.read_models import (
    USER_DISPATCHES,
    DispatchesByUser,
    default_projections,
)
from dispatchledger.projections.service import ReadModels


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest) -> str:
    fixture = "sqlite_url" if request.param == "sqlite" else "fresh_postgres_url"
    return str(request.getfixturevalue(fixture))


@pytest.fixture
def minter() -> Minter:
    return Minter("d")


@pytest.fixture
def ledger(url: str, minter: Minter) -> Iterator[DispatchLedger]:
    opened = open_ledger(url, mint=minter, mint_entry=Minter("e"))
    opened.define_campaign(WEEKLY_NEWS, at=at(0))
    yield opened
    opened.close()


def read_models(url: str, ledger: DispatchLedger, **kw: Any) -> ReadModels:
    return open_read_models(url, ledger=ledger, **kw)


def test_k09_crash_before_the_position_is_saved_then_restart(
    url: str, ledger: DispatchLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger.run_occurrence(
        campaign_id="weekly-news", occurrence_id="w1", audience=["u1", "u2"], at=at(1)
    )
    crashing = read_models(url, ledger)

    def crash(*_: object) -> None:
        raise RuntimeError("killed after writing rows, before saving the position")

    monkeypatch.setattr(crashing.store, "_save_positions", crash)
    with pytest.raises(RuntimeError):
        crashing.catch_up()
    crashing.close()
    restarted = read_models(url, ledger)
    restarted.catch_up()

    view = restarted.transmission("campaign", "weekly-news", "w1")
    assert view is not None
    assert view.audience_size == 2
    assert view.recipients_per_channel == {"email": 2, "push": 2}
    assert len(restarted.by_dispatch("d-1")) == 4
    head = ledger.recorder.max_notification_id()
    assert set(restarted.positions().values()) == {head}
    assert all(r.identical for r in restarted.rebuild(check_only=True))
    restarted.close()


class RedeliveringLog(LedgerEventLog):
    """Hands out every batch again from the start of the log: a duplicate feed."""

    def read(
        self,
        after: int,
        limit: int,
        until: int | None = None,
        topics: Collection[str] = (),
    ) -> Sequence[tuple[int, str, Any]]:
        return super().read(max(0, after - limit), limit * 2, until, topics)


def test_k09_a_redelivered_notification_is_a_no_op(
    url: str, ledger: DispatchLedger
) -> None:
    ledger.run_occurrence(
        campaign_id="weekly-news", occurrence_id="w1", audience=["u1", "u2"], at=at(1)
    )
    models = read_models(url, ledger)
    models.catch_up()
    before = list(models.store.rows(USER_DISPATCHES))
    models.runner.log = RedeliveringLog(ledger, models.log.waiter)
    models.runner.batch_size = 2

    again = models.catch_up()

    assert again == 0
    assert list(models.store.rows(USER_DISPATCHES)) == before
    assert all(r.identical for r in models.rebuild(check_only=True))
    models.close()


def test_k16_restart_after_sixty_of_a_hundred_sends(
    url: str, ledger: DispatchLedger
) -> None:
    ledger.define_campaign(WELCOME, at=at(0))
    for number in range(100):
        ledger.trigger(
            campaign_id="welcome", user_id=f"u{number:03}", trigger_id=f"t{number}"
        )
    first = read_models(url, ledger)
    first.runner.batch_size = 10
    stopped_at: list[int] = []

    def stop_after_sixty_sends(done: int, total: int) -> None:
        sends = len(list(first.store.rows(USER_DISPATCHES))) // 2
        if sends >= 60:
            stopped_at.append(sends)
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        first.catch_up(progress=stop_after_sixty_sends)
    first.close()
    second = read_models(url, ledger)
    second.catch_up()

    assert 60 <= stopped_at[0] < 100
    users = [r["user_id"] for r in second.store.rows(USER_DISPATCHES)]
    assert users == [f"u{n:03}" for n in range(100) for _channel in (1, 2)]
    assert all(r.identical for r in second.rebuild(check_only=True))
    second.close()


MESSAGES_BY_CHANNEL = Table(
    "t_messages_by_channel",
    (Column("channel"), Column("user_id"), Column("version", "int")),
    key=("channel", "user_id", "version"),
)


class MessagesByChannel:
    """A projection added after the fact, as another area would add one."""

    name = "messages_by_channel"
    tables: tuple[Table, ...] = (MESSAGES_BY_CHANNEL,)
    topics = frozenset({MessageDispatched.TOPIC})

    def handle(self, event: Any, log_id: int, changes: Changes) -> None:
        row = {
            "channel": event.channel,
            "user_id": event.user_id,
            "version": event.originator_version,
        }
        changes.add(MESSAGES_BY_CHANNEL, row)


def test_k16_a_new_projection_is_built_from_the_log_without_side_effects(
    url: str, ledger: DispatchLedger, minter: Minter, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger.run_occurrence(
        campaign_id="weekly-news", occurrence_id="w1", audience=["u1", "u2"], at=at(1)
    )
    head = ledger.recorder.max_notification_id()
    minted = list(minter.minted)
    models = read_models(
        url, ledger, projections=[*default_projections(), MessagesByChannel()]
    )
    if url.startswith("sqlite"):
        # Nothing may leave the machine: any socket connection fails the test.
        def refuse(*_: object) -> None:
            raise AssertionError("a rebuild tried to call out")

        monkeypatch.setattr(socket.socket, "connect", refuse)

    (report,) = models.rebuild(["messages_by_channel"])

    assert report.switched
    assert report.tables[0].rebuilt_rows == 4
    assert ledger.recorder.max_notification_id() == head
    assert len(ledger.recorder.select_notifications(None, 10_000)) == head
    assert minter.minted == minted
    channels = [r["channel"] for r in models.store.rows(MESSAGES_BY_CHANNEL)]
    assert channels == ["email", "email", "push", "push"]
    models.close()


class FailingAfter(DispatchesByUser):
    """Dispatches by user that fails on its third message: a rebuild crash."""

    def __init__(self) -> None:
        self.seen = 0

    def handle(self, event: Any, log_id: int, changes: Changes) -> None:
        self.seen += 1
        if self.seen == 3:
            raise RuntimeError("rebuild process killed")
        super().handle(event, log_id, changes)


def test_k16_a_crashed_rebuild_leaves_live_untouched_then_completes(
    url: str, ledger: DispatchLedger
) -> None:
    ledger.run_occurrence(
        campaign_id="weekly-news", occurrence_id="w1", audience=["u1", "u2"], at=at(1)
    )
    live = read_models(url, ledger)
    live.catch_up()
    before = list(live.store.rows(USER_DISPATCHES))
    live.close()
    crashing = read_models(url, ledger, projections=[FailingAfter()])
    crashing.runner.batch_size = 3

    with pytest.raises(RuntimeError):
        crashing.rebuild(["dispatches_by_user"])
    crashing.close()
    restarted = read_models(url, ledger)

    assert list(restarted.store.rows(USER_DISPATCHES)) == before
    assert len(restarted.by_user("u1")) == 2
    (report,) = restarted.rebuild(["dispatches_by_user"])
    assert report.identical
    assert report.switched
    assert list(restarted.store.rows(USER_DISPATCHES)) == before
    assert all(r.identical for r in restarted.rebuild(check_only=True))
    restarted.close()


def test_rebuild_reports_rows_that_differ_from_the_log(
    url: str, ledger: DispatchLedger
) -> None:
    ledger.run_occurrence(
        campaign_id="weekly-news", occurrence_id="w1", audience=["u1"], at=at(1)
    )
    models = read_models(url, ledger)
    models.catch_up()
    tampered = Changes([USER_DISPATCHES])
    row, _push = models.store.rows(USER_DISPATCHES)
    tampered.put(USER_DISPATCHES, {**row, "dispatch_id": "forged", "sent_at": 0})
    models.store.write({"dispatches_by_user": tampered}, {})

    (check,) = models.rebuild(["dispatches_by_user"], check_only=True)
    (fixed,) = models.rebuild(["dispatches_by_user"])

    assert not check.identical
    assert not check.switched
    table = check.tables[0]
    assert (table.only_in_live, table.only_in_rebuilt, table.differing) == (0, 0, 1)
    assert table.differing_examples[0].live["dispatch_id"] == "forged"
    assert table.differing_examples[0].rebuilt["dispatch_id"] == "d-1"
    assert not fixed.identical
    assert fixed.switched
    assert {m.dispatch_id for m in models.by_user("u1")} == {"d-1"}
    models.close()


def test_follow_projects_events_as_they_are_recorded(
    url: str, ledger: DispatchLedger
) -> None:
    models = read_models(url, ledger)
    stop = threading.Event()
    # On PostgreSQL a long poll shows the follower is woken by notifications.
    wait = 30.0 if url.startswith("postgresql") else 0.05
    follower = threading.Thread(target=models.follow, args=(stop.is_set, wait))
    follower.start()
    time.sleep(0.2)

    ledger.run_occurrence(
        campaign_id="weekly-news", occurrence_id="w1", audience=["u1"], at=at(1)
    )
    deadline = time.monotonic() + 10
    while not models.by_user("u1") and time.monotonic() < deadline:
        time.sleep(0.02)
    seen_after = time.monotonic() + 10 - deadline
    stop.set()
    # The follower sees the stop flag when the next event wakes it.
    ledger.run_occurrence(
        campaign_id="weekly-news", occurrence_id="w2", audience=["u2"], at=at(2)
    )
    follower.join(timeout=40)

    assert [m.channel for m in models.by_user("u1")] == ["email", "push"]
    assert seen_after < 5
    assert not follower.is_alive()
    models.close()


@pytest.mark.postgres
def test_k07_a_send_committed_later_with_a_lower_id_is_not_skipped(
    fresh_postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow = open_ledger(fresh_postgres_url)
    slow.define_campaign(WELCOME, at=at(0))
    fast = open_ledger(fresh_postgres_url)
    models = read_models(fresh_postgres_url, fast)
    models.catch_up()
    inserted, release = threading.Event(), threading.Event()
    fetch_ids = slow.recorder._fetch_ids_after_insert_events

    def hold_open(*args: Any, **kw: Any) -> Any:
        inserted.set()
        release.wait(timeout=10)
        return fetch_ids(*args, **kw)

    monkeypatch.setattr(slow.recorder, "_fetch_ids_after_insert_events", hold_open)
    first = threading.Thread(
        target=slow.trigger, kwargs={"campaign_id": "welcome", "user_id": "u1"}
    )
    second = threading.Thread(
        target=fast.trigger, kwargs={"campaign_id": "welcome", "user_id": "u2"}
    )
    first.start()
    assert inserted.wait(timeout=10)
    second.start()
    time.sleep(0.5)
    models.catch_up()
    seen_while_open = {row["user_id"] for row in models.store.rows(USER_DISPATCHES)}
    second_waited = second.is_alive()
    release.set()
    first.join()
    second.join()
    models.catch_up()

    assert seen_while_open == set()
    assert second_waited
    assert {row["user_id"] for row in models.store.rows(USER_DISPATCHES)} == {
        "u1",
        "u2",
    }
    head = fast.recorder.max_notification_id()
    assert set(models.positions().values()) == {head}
    assert all(r.identical for r in models.rebuild(check_only=True))
    models.close()
    slow.close()
    fast.close()


def test_two_projectors_of_one_log_apply_each_event_once(
    url: str, ledger: DispatchLedger
) -> None:
    ledger.define_campaign(WELCOME, at=at(0))
    for number in range(40):
        ledger.trigger(campaign_id="welcome", user_id=f"u{number:02}", at=at(1))
    projectors = [read_models(url, ledger) for _ in range(2)]
    for projector in projectors:
        projector.runner.batch_size = 7
    errors: list[BaseException] = []

    def project(models: ReadModels) -> None:
        try:
            models.catch_up()
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=project, args=(p,)) for p in projectors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    rows = list(projectors[0].store.rows(USER_DISPATCHES))
    assert [r["user_id"] for r in rows] == [f"u{n:02}" for n in range(40) for _ in "ab"]
    head = ledger.recorder.max_notification_id()
    assert set(projectors[0].positions().values()) == {head}
    assert all(r.identical for r in projectors[1].rebuild(check_only=True))
    for projector in projectors:
        projector.close()


def test_each_batch_is_logged_once_with_its_position(
    url: str, ledger: DispatchLedger, caplog: pytest.LogCaptureFixture
) -> None:
    ledger.run_occurrence(
        campaign_id="weekly-news", occurrence_id="w1", audience=["u1", "u2"], at=at(1)
    )
    models = read_models(url, ledger)
    models.runner.batch_size = 3

    with caplog.at_level(logging.INFO, logger="dispatchledger.projections.runner"):
        models.catch_up(["dispatches_by_user"])

    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert lines[0].startswith("projected 3 events (3 row changes)")
    assert lines[1].startswith("projected 1 events (1 row changes)")
    assert lines[1].split(" up to position ")[1].split()[0] == str(
        ledger.recorder.max_notification_id() - 1
    )
    models.close()


def test_queries_refuse_empty_ids(url: str, ledger: DispatchLedger) -> None:
    models = read_models(url, ledger)

    with pytest.raises(InvalidCommand, match="user must be a non-empty string"):
        models.by_user("")
    with pytest.raises(InvalidCommand, match="program kind"):
        models.transmission("journey", "onboarding", "r1")
    models.close()


def test_a_large_transmission_lists_some_recipients_and_counts_all(
    url: str, ledger: DispatchLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queries, "MAX_LISTED", 2)
    ledger.run_occurrence(
        campaign_id="weekly-news",
        occurrence_id="w1",
        audience=["u1", "u2", "u3"],
        at=at(1),
    )
    models = read_models(url, ledger)
    models.catch_up()

    view = models.transmission("campaign", "weekly-news", "w1")
    lineage = models.dispatch_lineage("d-1")

    assert view is not None
    assert view.audience_size == 3
    assert view.recipients_per_channel == {"email": 3, "push": 3}
    assert [r.user_id for r in view.recipients] == ["u1", "u2"]
    assert view.recipients[0].channels == ["email", "push"]
    assert view.recipients_truncated
    assert len(lineage.messages) == 6
    assert not lineage.messages_truncated
    models.close()


def test_a_listener_that_cannot_connect_raises_the_projects_error() -> None:
    settings = Settings(database_url="postgresql://app:sekret@127.0.0.1:1/ledger")
    waiter = ListenWaiter(
        settings.postgres_connect_args(),
        "dispatchledger_events",
        ErrorTranslator.for_settings(settings),
    )

    with pytest.raises(DatabaseUnavailable) as raised:
        waiter.listen()

    assert "sekret" not in str(raised.value)
    assert waiter.connection is None


def test_a_steps_arrivals_come_page_by_page_in_user_order(
    url: str, ledger: DispatchLedger
) -> None:
    ledger.define_canvas(ONBOARDING, at=at(0))
    users = ["u5", "u3", "u1", "u4", "u2"]
    ledger.run_canvas_entry(
        canvas_id="onboarding", entry_run_id="run-1", audience=users, at=at(1)
    )
    models = read_models(url, ledger)
    models.catch_up()
    entry_step = ONBOARDING.variants[0].entry_step_ids[0]

    first = models.by_step("onboarding", entry_step, limit=2)
    last = first[-1]
    second = models.by_step(
        "onboarding", entry_step, limit=2, after=(last.user_id, last.source_id)
    )
    rest = models.by_step(
        "onboarding", entry_step, after=(second[-1].user_id, second[-1].source_id)
    )

    assert [a.user_id for a in first] == ["u1", "u2"]
    assert [a.user_id for a in second] == ["u3", "u4"]
    assert [a.user_id for a in rest] == ["u5"]
    with pytest.raises(InvalidCommand, match="limit"):
        models.by_step("onboarding", entry_step, limit=0)
    models.close()
