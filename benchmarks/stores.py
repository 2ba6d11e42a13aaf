"""Scratch databases for one benchmark run, and the raw figures read back from them."""

from __future__ import annotations

import os
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

DEFAULT_POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"


@contextmanager
def scratch_postgres(admin_url: str) -> Iterator[str]:
    """A database of its own for the run, dropped afterwards; yields its URL."""
    name = f"dl_bench_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield (
            make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        )
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def sqlite_file(directory: Path, name: str) -> Path:
    path = directory / name
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return path


def stored_figures(url: str, table: str) -> tuple[int, float]:
    """Rows in the event table and their mean state size in bytes."""
    query = f"SELECT count(*), coalesce(avg(length(state)), 0) FROM {table}"
    if url.startswith("sqlite"):
        with sqlite3.connect(make_url(url).database or "") as conn:
            count, size = conn.execute(query).fetchone()
    else:
        plain = make_url(url).set(query={}).render_as_string(hide_password=False)
        with psycopg.connect(plain) as conn:
            row = conn.execute(query).fetchone()
            assert row is not None
            count, size = row
    return int(count), float(size)


def postgres_psycopg_url(url: str) -> str:
    """The URL without SQLAlchemy-only parts, for psycopg."""
    return make_url(url).set(query={}).render_as_string(hide_password=False)
