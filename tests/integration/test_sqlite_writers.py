"""K13: concurrent writers on one SQLite file, and a database another holds locked."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from concurrent_writers import CART, sends

from dispatchledger.adapters.bootstrap import open_ledger
from dispatchledger.adapters.settings import LOCK_TIMEOUT, Settings
from dispatchledger.domain.application import DispatchLedger
from dispatchledger.domain.errors import DatabaseLocked, DatabaseUnavailable

THREADS = 8
USERS_PER_THREAD = 25


@pytest.fixture
def ledger(sqlite_url: str) -> Iterator[DispatchLedger]:
    opened = open_ledger(sqlite_url, env={LOCK_TIMEOUT: "1"})
    opened.define_campaign(CART)
    yield opened
    opened.close()


def trigger_all(ledger: DispatchLedger, users: list[str]) -> None:
    for user in users:
        ledger.trigger(campaign_id="cart", user_id=user)


def test_eight_threads_record_every_send_once(ledger: DispatchLedger) -> None:
    batches = [
        [f"t{t}-user{n}" for n in range(USERS_PER_THREAD)] for t in range(THREADS)
    ]

    with ThreadPoolExecutor(THREADS) as pool:
        for done in [pool.submit(trigger_all, ledger, users) for users in batches]:
            done.result()

    counts = sends(ledger)
    assert sum(counts.values()) == 200
    assert set(counts.values()) == {1}


def test_a_locked_database_fails_fast_writes_nothing_and_recovers(
    ledger: DispatchLedger, sqlite_url: str
) -> None:
    trigger_all(ledger, [f"user{n}" for n in range(200)])
    holder = sqlite3.connect(
        Settings(database_url=sqlite_url).event_store_env()["SQLITE_DBNAME"],
        isolation_level=None,
    )
    holder.execute("BEGIN IMMEDIATE")

    started = time.monotonic()
    with pytest.raises(DatabaseLocked) as locked:
        ledger.trigger(campaign_id="cart", user_id="latecomer")
    waited = time.monotonic() - started
    holder.execute("ROLLBACK")
    holder.close()
    after_failure = sum(sends(ledger).values())
    ledger.trigger(campaign_id="cart", user_id="latecomer")

    assert 0.9 < waited < 2.5
    assert "database is locked" in str(locked.value)
    assert after_failure == 200
    assert sum(sends(ledger).values()) == 201


def test_a_file_in_a_missing_folder_is_unavailable(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'missing' / 'ledger.db'}"

    with pytest.raises(DatabaseUnavailable) as unavailable:
        open_ledger(url)

    assert str(unavailable.value) == (
        f"the database cannot be reached ({url}): unable to open database file"
    )
