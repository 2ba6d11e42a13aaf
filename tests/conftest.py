"""Shared fixtures: database URLs for every backend the contract suites cover.

PostgreSQL tests use a database created for this run and dropped afterwards. Without
a reachable server they skip, saying why; with DISPATCHLEDGER_REQUIRE_POSTGRES=1 (as
in CI) an unreachable server is an error instead.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

TEST_POSTGRES_URL = "DISPATCHLEDGER_TEST_POSTGRES_URL"
REQUIRE_POSTGRES = "DISPATCHLEDGER_REQUIRE_POSTGRES"
_CANDIDATES = (
    "postgresql://postgres@127.0.0.1:5432/test",
    "postgresql://root@127.0.0.1:5432/test",
)
SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SAMPLES = SHARED / "braze-currents-samples"


def _admin_url() -> tuple[str | None, str]:
    import psycopg

    candidates = (
        [os.environ[TEST_POSTGRES_URL]]
        if TEST_POSTGRES_URL in os.environ
        else list(_CANDIDATES)
    )
    reason = "no PostgreSQL URL to try"
    for url in candidates:
        try:
            with psycopg.connect(url, connect_timeout=3, autocommit=True):
                return url, ""
        except psycopg.Error as error:
            reason = (
                f"PostgreSQL not reachable at {url.split('@')[-1]}: {error}".strip()
            )
    return None, reason


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a fresh database for this test session (dropped at the end)."""
    import psycopg
    from sqlalchemy.engine import make_url

    admin, reason = _admin_url()
    if admin is None:
        if os.environ.get(REQUIRE_POSTGRES):
            pytest.fail(f"{REQUIRE_POSTGRES} is set but {reason}")
        pytest.skip(reason)
    name = f"dl_test_{os.getpid()}_{secrets.token_hex(4)}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(admin).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.db'}"


@pytest.fixture
def fresh_postgres_url(postgres_url: str) -> Iterator[str]:
    """A schema of its own in the session database, for one test."""
    import psycopg

    schema = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    yield f"{postgres_url}?schema={schema}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def any_url(request: pytest.FixtureRequest) -> str:
    """Each backend in turn: in-memory, a SQLite file, a PostgreSQL schema."""
    if request.param == "memory":
        return "memory://"
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("fresh_postgres_url"))


@pytest.fixture
def samples() -> Path:
    """Braze's sample Currents files in ../shared; tests using them skip without."""
    if not SAMPLES.is_dir():
        pytest.skip(f"Braze's sample files are not at {SAMPLES}")
    return SAMPLES
