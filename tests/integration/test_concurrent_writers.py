"""Several processes writing at once lose nothing and duplicate nothing."""

from __future__ import annotations

import multiprocessing
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from concurrent_writers import (
    CART,
    SPRING_SALE,
    open_at_once,
    run_spring_sale,
    sends,
    trigger_carts,
)

from dispatchledger.adapters.bootstrap import open_ledger
from dispatchledger.domain.application import DispatchLedger

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


def test_overlapping_audiences_of_one_occurrence_get_one_message_each(
    shared_url: str,
) -> None:
    ledger = ledger_with(shared_url, SPRING_SALE)
    # Writer i sends to u(10i) .. u(10i+29): neighbours overlap by 20 users.
    audiences = [[f"u{n}" for n in range(10 * i, 10 * i + 30)] for i in range(WRITERS)]

    run_together(run_spring_sale, [(shared_url, users) for users in audiences])

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
