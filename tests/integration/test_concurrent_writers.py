"""Several processes writing at once lose nothing and duplicate nothing."""

from __future__ import annotations

import multiprocessing
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest
from concurrent_writers import (
    AT,
    CART,
    CART_AGAIN,
    ONBOARDING,
    SPRING_SALE,
    open_at_once,
    run_onboarding,
    run_spring_sale,
    sends,
    trigger_carts,
)
from eventsourcing.persistence import StoredEvent

from dispatchledger.adapters.bootstrap import open_ledger
from dispatchledger.adapters.read_side import open_read_models
from dispatchledger.domain.application import DispatchLedger
from dispatchledger.domain.errors import ConcurrencyConflict
from dispatchledger.domain.storage import StreamReader

SPAWN = multiprocessing.get_context("spawn")
WRITERS = 4


@pytest.fixture(params=["sqlite", "postgres"])
def shared_url(request: pytest.FixtureRequest) -> str:
    """A file or schema that every process of one test writes to."""
    name = "sqlite_url" if request.param == "sqlite" else "fresh_postgres_url"
    return str(request.getfixturevalue(name))


def run_together(work: Callable[..., None], jobs: list[tuple[Any, ...]]) -> None:
    """Start one spawned process per job, released together; all must succeed."""
    barrier = SPAWN.Barrier(len(jobs))
    processes = [SPAWN.Process(target=work, args=(*job, barrier)) for job in jobs]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    assert [p.exitcode for p in processes] == [0] * len(jobs)


def ledger_with(url: str, *definitions: Any) -> DispatchLedger:
    ledger = open_ledger(url)
    for definition in definitions:
        ledger.define_campaign(definition)
    return ledger


@pytest.mark.parametrize("program", ["campaign", "canvas"])
def test_overlapping_audiences_of_one_send_get_one_message_each(
    shared_url: str, program: str
) -> None:
    ledger = open_ledger(shared_url)
    if program == "campaign":
        ledger.define_campaign(SPRING_SALE)
    else:
        ledger.define_canvas(ONBOARDING)
    work = run_spring_sale if program == "campaign" else run_onboarding
    # Writer i sends to u(10i) .. u(10i+29): neighbours overlap by 20 users.
    audiences = [[f"u{n}" for n in range(10 * i, 10 * i + 30)] for i in range(WRITERS)]

    run_together(work, [(shared_url, users) for users in audiences])

    everyone = {f"u{n}" for n in range(10 * (WRITERS - 1) + 30)}
    expected = {
        (user, channel): 1 for user in everyone for channel in ("email", "push")
    }
    assert sends(ledger) == expected
    ledger.close()


def test_distinct_triggers_from_several_processes_are_all_kept(
    shared_url: str,
) -> None:
    ledger = ledger_with(shared_url, CART)
    batches = [[f"w{i}-user{n}" for n in range(25)] for i in range(WRITERS)]

    run_together(trigger_carts, [(shared_url, users) for users in batches])

    expected = {(user, "email"): 1 for users in batches for user in users}
    assert sends(ledger) == expected
    ledger.close()


@pytest.fixture
def unborn_schema_url(postgres_url: str) -> Iterator[str]:
    """A schema nobody has created yet (the ledger must create it)."""
    schema = f"new_{secrets.token_hex(6)}"
    yield f"{postgres_url}?schema={schema}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def test_processes_creating_the_tables_at_once_do_not_collide(
    unborn_schema_url: str,
) -> None:
    run_together(open_at_once, [(unborn_schema_url,)] * 6)

    ledger = ledger_with(unborn_schema_url, CART)
    assert ledger.programs() == [("campaign", "cart")]
    ledger.close()


class RivalBetweenReadAndWrite:
    """Reads like the ledger's own reader, then lets a rival send to the same user.

    Every attempt of the ledger reading through it therefore meets a stream that
    moved on: the conflict is forced, not hoped for.
    """

    def __init__(self, inner: StreamReader, rival: DispatchLedger) -> None:
        self.inner = inner
        self.rival = rival

    def read_streams(self, stream_ids: Sequence[UUID]) -> dict[UUID, list[StoredEvent]]:
        found = self.inner.read_streams(stream_ids)
        self.rival.trigger(campaign_id="cart-again", user_id="ana", at=AT)
        return found


def test_conflicts_are_retried_then_reported(shared_url: str) -> None:
    ledger = ledger_with(shared_url, CART_AGAIN)
    rival = open_ledger(shared_url)
    ledger.max_attempts = 3
    ledger.stream_reader = RivalBetweenReadAndWrite(ledger.stream_reader, rival)

    with pytest.raises(ConcurrencyConflict) as conflict:
        ledger.trigger(campaign_id="cart-again", user_id="ana")

    assert conflict.value.attempts == 3
    assert sends(ledger) == {("ana", "email"): 3}
    rival.close()
    ledger.close()


@pytest.mark.postgres
def test_threads_sharing_one_postgres_ledger_record_every_send_once(
    fresh_postgres_url: str,
) -> None:
    ledger = ledger_with(fresh_postgres_url, CART)
    batches = [[f"t{t}-user{n}" for n in range(25)] for t in range(8)]

    with ThreadPoolExecutor(8) as pool:
        for done in [pool.submit(trigger_each, ledger, users) for users in batches]:
            done.result()

    assert sends(ledger) == {(user, "email"): 1 for users in batches for user in users}
    ledger.close()


def trigger_each(ledger: DispatchLedger, users: list[str]) -> None:
    for user in users:
        ledger.trigger(campaign_id="cart", user_id=user, at=AT)


def test_a_follower_in_its_own_process_ends_equal_to_the_rebuild(
    shared_url: str,
) -> None:
    ledger = ledger_with(shared_url, CART)
    ledger.define_campaign(SPRING_SALE)
    command = str(Path(sys.executable).parent / "dispatchledger")
    follower = subprocess.Popen(
        [command, "project", "--follow", "--interval", "0.05", "--db", shared_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        audiences = [[f"u{n}" for n in range(10 * i, 10 * i + 30)] for i in range(2)]
        carts = [[f"w{i}-user{n}" for n in range(15)] for i in range(2)]
        run_together(run_spring_sale, [(shared_url, users) for users in audiences])
        run_together(trigger_carts, [(shared_url, users) for users in carts])
        models = open_read_models(shared_url, ledger=ledger)
        head = ledger.recorder.max_notification_id()
        deadline = time.monotonic() + 60
        while min(models.positions().values(), default=0) < (head or 0):
            assert time.monotonic() < deadline, "the follower did not catch up"
            time.sleep(0.1)
        follower.send_signal(signal.SIGTERM)
        follower.communicate(timeout=30)

        reports = models.rebuild(check_only=True)
        rows = sum(len(models.by_user(f"u{n}")) for n in range(40))
    finally:
        follower.kill()
    models.close()
    ledger.close()

    assert follower.returncode == 0
    assert all(report.identical for report in reports)
    # Forty spring-sale recipients (u0..u39), email and push each.
    assert rows == 80
