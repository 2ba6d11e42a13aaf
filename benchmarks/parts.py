"""The measured parts; each runs in a process of its own (see :mod:`.worker`).

A part returns a dict of figures. Setting up (defining programs, entering users,
generating raw rows' keys) is never inside a clock.
"""

from __future__ import annotations

import os
import random
import sqlite3
import statistics
from collections.abc import Callable, Iterator
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

import psycopg
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from benchmarks.common import (
    AT,
    NEWSLETTER,
    ONBOARDING,
    RECEIPT,
    Clock,
    peak_memory_mb,
    user_id,
    users,
)
from benchmarks.stores import postgres_psycopg_url, stored_figures
from dispatchledger.adapters.bootstrap import open_ledger
from dispatchledger.adapters.settings import Settings
from dispatchledger.adapters.sqlite_store import connection_pragmas
from dispatchledger.domain.application import DispatchLedger

TOPIC = "dispatchledger:MessageDispatched"
Figures = dict[str, Any]


def _ledger_env(synchronous: str) -> dict[str, str]:
    return {"DISPATCHLEDGER_SQLITE_SYNCHRONOUS": synchronous}


def _events_table(ledger: DispatchLedger) -> str:
    table: str = getattr(ledger.recorder, "events_table_name", "stored_events")
    return table


# -- benchmarks 1, 2 and 6 (ours): one scheduled occurrence ----------------------


def occurrence(url: str, count: int, synchronous: str) -> Figures:
    """One occurrence of the newsletter to ``count`` users, streamed."""
    ledger = open_ledger(url, env=_ledger_env(synchronous))
    table = _events_table(ledger)
    ledger.define_campaign(NEWSLETTER, at=AT)
    rows_before, _ = stored_figures(url, table)
    with Clock() as clock:
        result = ledger.run_occurrence(
            campaign_id="newsletter",
            occurrence_id="2026-12-01",
            audience=users(count),
            at=AT,
        )
    peak = peak_memory_mb()
    ledger.close()
    rows_after, state_bytes = stored_figures(url, table)
    return {
        "seconds": clock.seconds,
        "recipients": result.recipients,
        "messages": result.messages,
        "rows": rows_after - rows_before,
        "state_bytes": state_bytes,
        "peak_mb": peak,
    }


# -- the raw baselines ---------------------------------------------------------------


def _raw_rows(streams: int, per_stream: int, state: bytes) -> Iterator[tuple[Any, ...]]:
    # Random keys, as uuid5 stream ids are: the index is written all over, not
    # appended to. Generated before the clock starts.
    keys = [os.urandom(16).hex() for _ in range(streams)]
    return (
        (key, version, TOPIC, state)
        for key in keys
        for version in range(1, per_stream + 1)
    )


def _create_sqlite_table(path: str, synchronous: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    # The same settings as the ledger's own connections.
    for pragma in connection_pragmas(synchronous):
        conn.execute(pragma)
    conn.execute(
        "CREATE TABLE raw_rows (id INTEGER PRIMARY KEY, stream TEXT, version INTEGER,"
        " topic TEXT, state BLOB)"
    )
    conn.execute("CREATE UNIQUE INDEX raw_rows_stream ON raw_rows (stream, version)")
    return conn


_RAW_INSERT = "INSERT INTO raw_rows (stream, version, topic, state) VALUES (?,?,?,?)"


def raw_sqlite_bulk(
    path: str, streams: int, per_stream: int, state_bytes: int, synchronous: str
) -> Figures:
    """``executemany`` of every row in one transaction."""
    conn = _create_sqlite_table(path, synchronous)
    rows = _raw_rows(streams, per_stream, b"x" * state_bytes)
    with Clock() as clock:
        conn.execute("BEGIN")
        conn.executemany(_RAW_INSERT, rows)
        conn.execute("COMMIT")
    conn.close()
    return {"seconds": clock.seconds, "rows": streams * per_stream}


def raw_sqlite_transactions(
    path: str,
    transactions: int,
    per_transaction: int,
    state_bytes: int,
    synchronous: str,
) -> Figures:
    """One ``executemany`` transaction per command, as many rows as it records."""
    conn = _create_sqlite_table(path, synchronous)
    rows = list(_raw_rows(transactions, per_transaction, b"x" * state_bytes))
    with Clock() as clock:
        for start in range(0, len(rows), per_transaction):
            conn.execute("BEGIN")
            conn.executemany(_RAW_INSERT, rows[start : start + per_transaction])
            conn.execute("COMMIT")
    conn.close()
    return {"seconds": clock.seconds, "rows": len(rows)}


def _create_postgres_table(url: str) -> psycopg.Connection[Any]:
    conn = psycopg.connect(postgres_psycopg_url(url), autocommit=True)
    conn.execute("DROP TABLE IF EXISTS raw_rows")
    conn.execute(
        "CREATE TABLE raw_rows (stream uuid NOT NULL, version bigint NOT NULL,"
        " topic text, state bytea, id bigserial, PRIMARY KEY (stream, version))"
    )
    conn.execute("CREATE UNIQUE INDEX raw_rows_id ON raw_rows (id)")
    return conn


def raw_postgres_copy(
    url: str, streams: int, per_stream: int, state_bytes: int
) -> Figures:
    """``COPY`` of every row in one transaction."""
    conn = _create_postgres_table(url)
    rows = _raw_rows(streams, per_stream, b"x" * state_bytes)
    copy_rows = "COPY raw_rows (stream, version, topic, state) FROM STDIN"
    with (
        Clock() as clock,
        conn.transaction(),
        conn.cursor() as cursor,
        cursor.copy(copy_rows) as copy,
    ):
        for row in rows:
            copy.write_row(row)
    conn.execute("DROP TABLE raw_rows")
    conn.close()
    return {"seconds": clock.seconds, "rows": streams * per_stream}


def raw_postgres_transactions(
    url: str, transactions: int, per_transaction: int, state_bytes: int
) -> Figures:
    """One ``executemany`` transaction per command."""
    conn = _create_postgres_table(url)
    rows = list(_raw_rows(transactions, per_transaction, b"x" * state_bytes))
    statement = (
        "INSERT INTO raw_rows (stream, version, topic, state) VALUES (%s,%s,%s,%s)"
    )
    with Clock() as clock:
        for start in range(0, len(rows), per_transaction):
            with conn.transaction(), conn.cursor() as cursor:
                cursor.executemany(statement, rows[start : start + per_transaction])
    conn.execute("DROP TABLE raw_rows")
    conn.close()
    return {"seconds": clock.seconds, "rows": len(rows)}


# -- benchmark 3: one command per send ---------------------------------------------


def api_sends(url: str, count: int, synchronous: str) -> Figures:
    """``count`` API-triggered sends, one recipient each, one command each."""
    ledger = open_ledger(url, env=_ledger_env(synchronous))
    table = _events_table(ledger)
    ledger.define_campaign(RECEIPT, at=AT)
    rows_before, _ = stored_figures(url, table)
    with Clock() as clock:
        for number in range(count):
            ledger.api_trigger(
                campaign_id="receipt", recipients=[user_id(number)], at=AT
            )
    ledger.close()
    rows_after, state_bytes = stored_figures(url, table)
    return _per_command(clock.seconds, count, rows_after - rows_before, state_bytes)


def step_advances(url: str, count: int, synchronous: str) -> Figures:
    """``count`` users enter the Canvas (not timed), then each advances one step."""
    ledger = open_ledger(url, env=_ledger_env(synchronous))
    table = _events_table(ledger)
    ledger.define_canvas(ONBOARDING, at=AT)
    ledger.run_canvas_entry(
        canvas_id="onboarding", entry_run_id="run-1", audience=users(count), at=AT
    )
    rows_before, _ = stored_figures(url, table)
    with Clock() as clock:
        for number in range(count):
            ledger.advance(
                canvas_id="onboarding", user_id=user_id(number), step_id="tips", at=AT
            )
    ledger.close()
    rows_after, state_bytes = stored_figures(url, table)
    return _per_command(clock.seconds, count, rows_after - rows_before, state_bytes)


def _per_command(seconds: float, count: int, rows: int, state_bytes: float) -> Figures:
    return {
        "seconds": seconds,
        "commands": count,
        "rows": rows,
        "rows_per_command": round(rows / count),
        "state_bytes": state_bytes,
    }


# -- benchmark 6: the peer, written the plain eventsourcing way ---------------------


class Recipient(Aggregate):
    """One user's receipt of one campaign, as a plain library aggregate."""

    @staticmethod
    def create_id(campaign_id: str, user: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"{campaign_id}/{user}")

    @event("Entered")
    def __init__(self, campaign_id: str, user: str, source_id: str, dispatch_id: str):
        self.campaign_id = campaign_id
        self.user = user
        self.source_id = source_id
        self.dispatch_id = dispatch_id
        self.channels: list[str] = []

    @event("MessageSent")
    def send(self, channel: str, variation_id: str, dispatch_id: str) -> None:
        self.channels.append(channel)


def peer(url: str, count: int) -> Figures:
    """Each user: a new aggregate, two messages, ``save`` (library defaults)."""
    settings = Settings(database_url=url)
    env = settings.event_store_env()
    if settings.backend == "sqlite":
        # The library's own SQLite persistence, with its defaults.
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": env["SQLITE_DBNAME"],
        }
    app: Application[UUID] = Application(env=env)
    dispatch_id = os.urandom(12).hex()
    with Clock() as clock:
        for user in users(count):
            recipient = Recipient("newsletter", user, "2026-12-01", dispatch_id)
            recipient.send("email", "newsletter-email", dispatch_id)
            recipient.send("push", "newsletter-push", dispatch_id)
            app.save(recipient)
    app.close()
    return {"seconds": clock.seconds, "rows": 3 * count, "messages": 2 * count}


# -- benchmark 5 helper: latencies ------------------------------------------------


def percentiles(samples: list[float]) -> tuple[float, float]:
    """p50 and p99 of ``samples`` (seconds)."""
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return p50, p99


def timed_lookups(
    lookup: Callable[[str], object], keys: list[str], count: int, seed: int = 7
) -> tuple[float, float]:
    rng = random.Random(seed)
    samples = []
    for _ in range(count):
        key = rng.choice(keys)
        with Clock() as clock:
            lookup(key)
        samples.append(clock.seconds)
    return percentiles(samples)


# -- benchmarks 4 and 5: projections built from the log, and looked up ---------------


STEP_PAGE = 100
"""A step's arrivals are read a page at a time: the first 100, by user."""


def projections(
    url: str, count: int, sends: int, lookups: int, synchronous: str
) -> Figures:
    """Record the log of benchmarks 1 and 3, build every projection, look up."""
    from dispatchledger.adapters.read_side import open_read_models

    dispatch_ids = _record_log(url, count, sends, synchronous)
    models = open_read_models(url)
    try:
        with Clock() as clock:
            events = models.catch_up()
        # A rebuild replays the log into new tables, compares them with the live
        # ones row by row, and switches.
        with Clock() as rebuild_clock:
            models.rebuild()
        user_keys = [user_id(number) for number in range(count)]
        steps = [("onboarding", "welcome"), ("onboarding", "tips")]
        timings = {
            "by_user": timed_lookups(models.by_user, user_keys, lookups),
            "by_dispatch": timed_lookups(models.by_dispatch, dispatch_ids, lookups),
            "by_step": timed_lookups(
                lambda key: models.by_step(*key.split("/"), limit=STEP_PAGE),
                [f"{canvas}/{step}" for canvas, step in steps],
                lookups,
            ),
        }
        sizes = {
            "by_user": len(models.by_user(user_keys[0])),
            "by_dispatch": len(models.by_dispatch(dispatch_ids[0])),
            "by_step": len(models.by_step(*steps[1], limit=STEP_PAGE)),
        }
    finally:
        models.close()
    return {
        "seconds": clock.seconds,
        "rebuild_seconds": rebuild_clock.seconds,
        "events": events,
        "lookups": {name: list(pair) for name, pair in timings.items()},
        "rows_per_lookup": sizes,
        "peak_mb": peak_memory_mb(),
    }


def _record_log(url: str, count: int, sends: int, synchronous: str) -> list[str]:
    """The occurrence, the API sends and the Canvas journeys; the sends' ids."""
    ledger = open_ledger(url, env=_ledger_env(synchronous))
    try:
        ledger.define_campaign(NEWSLETTER, at=AT)
        ledger.define_campaign(RECEIPT, at=AT)
        ledger.define_canvas(ONBOARDING, at=AT)
        ledger.run_occurrence(
            campaign_id="newsletter", occurrence_id="o1", audience=users(count), at=AT
        )
        dispatch_ids = [
            str(
                ledger.api_trigger(
                    campaign_id="receipt", recipients=[user_id(number)], at=AT
                ).dispatch_ids[0]
            )
            for number in range(sends)
        ]
        ledger.run_canvas_entry(
            canvas_id="onboarding", entry_run_id="r1", audience=users(sends), at=AT
        )
        for number in range(sends):
            ledger.advance(
                canvas_id="onboarding", user_id=user_id(number), step_id="tips", at=AT
            )
    finally:
        ledger.close()
    return dispatch_ids


def raw_log_copy(url: str, page: int = 1000) -> Figures:
    """Read the whole log in pages; insert one row per event with ``executemany``."""
    if url.startswith("sqlite"):
        return _raw_log_copy_sqlite(url.removeprefix("sqlite:///"), page)
    return _raw_log_copy_postgres(url, page)


def _raw_log_copy_sqlite(path: str, page: int) -> Figures:
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in connection_pragmas("NORMAL"):
        conn.execute(pragma)
    conn.execute(
        "CREATE TABLE raw_copy (log_id INTEGER PRIMARY KEY, stream TEXT,"
        " version INTEGER, topic TEXT)"
    )
    select = (
        "SELECT rowid, originator_id, originator_version, topic FROM stored_events"
        " WHERE rowid > ? ORDER BY rowid LIMIT ?"
    )
    copied, position = 0, 0
    with Clock() as clock:
        while rows := conn.execute(select, (position, page)).fetchall():
            conn.execute("BEGIN")
            conn.executemany("INSERT INTO raw_copy VALUES (?,?,?,?)", rows)
            conn.execute("COMMIT")
            copied, position = copied + len(rows), rows[-1][0]
    conn.close()
    return {"seconds": clock.seconds, "rows": copied}


def _raw_log_copy_postgres(url: str, page: int) -> Figures:
    conn = psycopg.connect(postgres_psycopg_url(url), autocommit=True)
    conn.execute(
        "CREATE TABLE raw_copy (log_id bigint PRIMARY KEY, stream uuid,"
        " version bigint, topic text)"
    )
    select = (
        "SELECT notification_id, originator_id, originator_version, topic"
        " FROM dispatchledger_events WHERE notification_id > %s"
        " ORDER BY notification_id LIMIT %s"
    )
    copied, position = 0, 0
    with Clock() as clock:
        while rows := conn.execute(select, (position, page)).fetchall():
            with conn.transaction(), conn.cursor() as cursor:
                cursor.executemany("INSERT INTO raw_copy VALUES (%s,%s,%s,%s)", rows)
            copied, position = copied + len(rows), rows[-1][0]
    conn.close()
    return {"seconds": clock.seconds, "rows": copied}


def raw_lookups(url: str, count: int, lookups: int) -> Figures:
    """The same user lookup as one SQL statement through the bare driver."""
    statement = "SELECT * FROM dl_user_dispatches WHERE user_id = {}"
    keys = [user_id(number) for number in range(count)]
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        sql = statement.format("?")
        p50, p99 = timed_lookups(
            lambda key: conn.execute(sql, (key,)).fetchall(), keys, lookups
        )
        conn.close()
    else:
        with psycopg.connect(postgres_psycopg_url(url)) as pg:
            sql = statement.format("%s")
            p50, p99 = timed_lookups(
                lambda key: pg.execute(sql, (key,), prepare=True).fetchall(),
                keys,
                lookups,
            )
    return {"by_user": [p50, p99]}
