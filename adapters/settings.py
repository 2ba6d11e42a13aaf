"""Configuration: every environment variable the project reads, in one place.

Settings are built once from an explicit mapping (the process environment by
default) and passed on; nothing else in the package reads the environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from dispatchledger.domain.errors import InvalidCommand

DATABASE_URL = "DISPATCHLEDGER_DATABASE_URL"
LOCK_TIMEOUT = "DISPATCHLEDGER_LOCK_TIMEOUT"
BATCH_SIZE = "DISPATCHLEDGER_BATCH_SIZE"

DEFAULT_DATABASE_URL = "sqlite:///dispatchledger.db"
DEFAULT_LOCK_TIMEOUT_SECONDS = 5
DEFAULT_BATCH_SIZE = 1000

VARIABLES: dict[str, str] = {
    DATABASE_URL: "Where events and projections live: sqlite:///FILE (default "
    f"{DEFAULT_DATABASE_URL}), postgresql://USER[:PASSWORD]@HOST[:PORT]/DB"
    "[?schema=NAME], or memory:// (nothing kept).",
    LOCK_TIMEOUT: "Seconds a write waits for a lock before failing with "
    f"DatabaseLocked (default {DEFAULT_LOCK_TIMEOUT_SECONDS}).",
    BATCH_SIZE: "Recipients decided and saved per transaction in bulk sends "
    f"(default {DEFAULT_BATCH_SIZE}).",
}


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    lock_timeout_seconds: int = DEFAULT_LOCK_TIMEOUT_SECONDS
    batch_size: int = DEFAULT_BATCH_SIZE

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(
            database_url=env.get(DATABASE_URL) or DEFAULT_DATABASE_URL,
            lock_timeout_seconds=_positive_int(
                env, LOCK_TIMEOUT, DEFAULT_LOCK_TIMEOUT_SECONDS
            ),
            batch_size=_positive_int(env, BATCH_SIZE, DEFAULT_BATCH_SIZE),
        )

    @property
    def url(self) -> URL:
        return parse_database_url(self.database_url)

    @property
    def backend(self) -> str:
        """``sqlite``, ``postgresql`` or ``memory``."""
        return backend_of(self.url)

    def redacted_url(self) -> str:
        return self.url.render_as_string(hide_password=True)

    def event_store_env(self) -> dict[str, str]:
        """The ``eventsourcing`` environment that selects and configures storage."""
        url = self.url
        backend = backend_of(url)
        if backend == "memory":
            return {"PERSISTENCE_MODULE": "eventsourcing.popo"}
        if backend == "sqlite":
            return {
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": sqlite_path(url),
                "SQLITE_LOCK_TIMEOUT": str(self.lock_timeout_seconds),
            }
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": url.database or "postgres",
            "POSTGRES_HOST": url.host or "127.0.0.1",
            "POSTGRES_PORT": str(url.port or 5432),
            "POSTGRES_USER": url.username or "postgres",
            "POSTGRES_PASSWORD": url.password or "",
            "POSTGRES_LOCK_TIMEOUT": str(self.lock_timeout_seconds),
            "POSTGRES_CONNECT_TIMEOUT": "5",
        }
        schema = url.query.get("schema")
        if isinstance(schema, str) and schema:
            env["POSTGRES_SCHEMA"] = schema
        return env


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise InvalidCommand(
            f"{name} must be a positive whole number, not {raw!r}",
            [{"field": name, "reason": "not a positive whole number"}],
        )
    return value


def parse_database_url(text: str) -> URL:
    if not isinstance(text, str):
        raise InvalidCommand(
            f"the database URL must be a string, not {type(text).__name__}",
            [{"field": DATABASE_URL, "reason": "not a string"}],
        )
    if text.startswith("memory:"):
        return make_url("sqlite://")
    try:
        url = make_url(text)
    except ArgumentError:
        url = None
    if url is None or url.get_backend_name() not in ("sqlite", "postgresql"):
        raise InvalidCommand(
            f"unsupported database URL {_redact(text)!r}: use sqlite:///FILE,"
            " postgresql://USER@HOST/DB or memory://",
            [{"field": DATABASE_URL, "reason": "unsupported URL"}],
        )
    return url


def _redact(text: str) -> str:
    try:
        return make_url(text).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


def backend_of(url: URL) -> str:
    if url.get_backend_name() == "sqlite":
        return "sqlite" if url.database not in (None, "", ":memory:") else "memory"
    return "postgresql"


def sqlite_path(url: URL) -> str:
    database = url.database or ""
    return str(Path(database).expanduser())
