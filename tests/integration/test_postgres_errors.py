"""PostgreSQL failures reach the caller as typed errors, never with the password."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

from dispatchledger.adapters.bootstrap import open_ledger
from dispatchledger.adapters.postgres_events import advisory_key
from dispatchledger.adapters.settings import CONNECT_TIMEOUT, LOCK_TIMEOUT, Settings
from dispatchledger.domain.application import DispatchLedger
from dispatchledger.domain.errors import DatabaseLocked, DatabaseUnavailable
from dispatchledger.domain.values import (
    CampaignDefinition,
    DeliveryType,
    MessageVariation,
)

pytestmark = pytest.mark.postgres

PASSWORD = "pw-Zebra-91"
AT = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
CART = CampaignDefinition(
    campaign_id="cart",
    name="Abandoned cart",
    delivery_type=DeliveryType.ACTION_BASED,
    re_eligibility_seconds=0,
    variations=(MessageVariation(variation_id="cart-email", channel="email"),),
)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def with_password(url: str, **changes: object) -> str:
    changed = make_url(url).set(password=PASSWORD, **changes)  # type: ignore[arg-type]
    return changed.render_as_string(hide_password=False)


def assert_no_password(error: BaseException, caplog: pytest.LogCaptureFixture) -> None:
    shown = "".join(traceback.format_exception(error))
    assert PASSWORD not in shown
    assert PASSWORD not in caplog.text


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    for name in ("psycopg", "psycopg.pool", "eventsourcing", "dispatchledger"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def test_connection_refused_is_unavailable_at_once(
    fresh_postgres_url: str, all_logs: pytest.LogCaptureFixture
) -> None:
    url = with_password(fresh_postgres_url, port=closed_port())

    started = time.monotonic()
    with pytest.raises(DatabaseUnavailable) as refused:
        open_ledger(url)

    assert time.monotonic() - started < 2
    assert "Connection refused" in str(refused.value)
    assert "postgres:***@127.0.0.1" in str(refused.value)
    assert_no_password(refused.value, all_logs)


def test_unknown_role_is_unavailable(
    fresh_postgres_url: str, all_logs: pytest.LogCaptureFixture
) -> None:
    url = with_password(fresh_postgres_url, username="no_such_role")

    with pytest.raises(DatabaseUnavailable) as refused:
        open_ledger(url)

    assert 'role "no_such_role" does not exist' in str(refused.value)
    assert_no_password(refused.value, all_logs)


def test_password_stays_out_of_logs_of_a_working_ledger(
    fresh_postgres_url: str, all_logs: pytest.LogCaptureFixture
) -> None:
    ledger = open_ledger(with_password(fresh_postgres_url))
    ledger.define_campaign(CART, at=AT)
    ledger.close()

    assert "postgres:***@127.0.0.1" in all_logs.text
    assert PASSWORD not in all_logs.text


@pytest.fixture
def impatient_ledger(fresh_postgres_url: str) -> Iterator[DispatchLedger]:
    ledger = open_ledger(fresh_postgres_url, env={LOCK_TIMEOUT: "1"})
    ledger.define_campaign(CART, at=AT)
    yield ledger
    ledger.close()


def test_lock_timeout_is_database_locked_and_writes_nothing(
    fresh_postgres_url: str, impatient_ledger: DispatchLedger
) -> None:
    schema = Settings(database_url=fresh_postgres_url).postgres_schema
    events = sql.Identifier(schema, "dispatchledger_events")
    before = impatient_ledger.recorder.max_notification_id()

    with psycopg.connect(fresh_postgres_url.split("?")[0]) as holder:
        holder.execute(sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(events))
        started = time.monotonic()
        with pytest.raises(DatabaseLocked) as locked:
            impatient_ledger.trigger(campaign_id="cart", user_id="ana")
        waited = time.monotonic() - started
        holder.rollback()
    after_failure = impatient_ledger.recorder.max_notification_id()
    retried = impatient_ledger.trigger(campaign_id="cart", user_id="ana")

    assert 0.9 < waited < 2.5
    assert "lock timeout" in str(locked.value)
    assert after_failure == before
    assert retried.recipients == 1


class Relay:
    """A TCP relay to the PostgreSQL server that can be cut, as if it went away."""

    def __init__(self, port: int) -> None:
        self.target = ("127.0.0.1", port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = self.listener.accept()
                server = socket.create_connection(self.target)
                self.sockets += [client, server]
                for a, b in ((client, server), (server, client)):
                    threading.Thread(
                        target=self._pump, args=(a, b), daemon=True
                    ).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)

    def cut(self) -> None:
        # Shutting the listener down (not just closing it) wakes the blocked
        # accept, so that new connections are refused from now on.
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


def test_a_server_gone_mid_session_is_unavailable_within_the_timeout(
    fresh_postgres_url: str, all_logs: pytest.LogCaptureFixture
) -> None:
    relay = Relay(make_url(fresh_postgres_url).port or 5432)
    url = with_password(fresh_postgres_url, port=relay.port)
    ledger = open_ledger(url, env={CONNECT_TIMEOUT: "1"})
    ledger.define_campaign(CART, at=AT)

    relay.cut()
    started = time.monotonic()
    with pytest.raises(DatabaseUnavailable) as gone:
        ledger.trigger(campaign_id="cart", user_id="ana")
    waited = time.monotonic() - started
    ledger.close()

    assert waited < 4
    assert f"postgres:***@127.0.0.1:{relay.port}" in str(gone.value)
    assert_no_password(gone.value, all_logs)


def test_opening_again_does_not_queue_behind_a_writer(
    fresh_postgres_url: str, impatient_ledger: DispatchLedger
) -> None:
    schema = Settings(database_url=fresh_postgres_url).postgres_schema
    events = sql.Identifier(schema, "dispatchledger_events")

    with psycopg.connect(fresh_postgres_url.split("?")[0]) as holder:
        holder.execute(sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(events))
        started = time.monotonic()
        reopened = open_ledger(fresh_postgres_url, env={LOCK_TIMEOUT: "1"})
        waited = time.monotonic() - started
        holder.rollback()

    assert waited < 0.9
    assert reopened.programs() == [("campaign", "cart")]
    reopened.close()


def test_a_set_up_stuck_elsewhere_is_database_locked(fresh_postgres_url: str) -> None:
    schema = Settings(database_url=fresh_postgres_url).postgres_schema

    with psycopg.connect(fresh_postgres_url.split("?")[0], autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", (advisory_key(schema),))
        started = time.monotonic()
        with pytest.raises(DatabaseLocked):
            open_ledger(fresh_postgres_url, env={LOCK_TIMEOUT: "1"})
        waited = time.monotonic() - started

    assert 0.9 < waited < 2.5
