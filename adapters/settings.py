"""Configuration: every environment variable the project reads, in one place.

Settings are built once from an explicit mapping (the process environment by
default) and passed on; nothing else in the package reads the environment.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from dispatchledger.domain.errors import InvalidCommand

DATABASE_URL = "DISPATCHLEDGER_DATABASE_URL"
LOCK_TIMEOUT = "DISPATCHLEDGER_LOCK_TIMEOUT"
CONNECT_TIMEOUT = "DISPATCHLEDGER_CONNECT_TIMEOUT"
BATCH_SIZE = "DISPATCHLEDGER_BATCH_SIZE"
SQLITE_SYNCHRONOUS = "DISPATCHLEDGER_SQLITE_SYNCHRONOUS"

DEFAULT_DATABASE_URL = "sqlite:///dispatchledger.db"
DEFAULT_LOCK_TIMEOUT_SECONDS = 5
DEFAULT_CONNECT_TIMEOUT_SECONDS = 5
DEFAULT_BATCH_SIZE = 1000
DEFAULT_SQLITE_SYNCHRONOUS = "FULL"
SQLITE_FACTORY = "dispatchledger.adapters.sqlite_store:LedgerSQLiteFactory"
DEFAULT_POSTGRES_SCHEMA = "public"

_POSTGRES_SCHEMES = ("postgresql", "postgresql+psycopg", "postgres")
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")

VARIABLES: dict[str, str] = {
    DATABASE_URL: "Where events and projections live: sqlite:///FILE (default "
    f"{DEFAULT_DATABASE_URL}), postgresql://USER[:PASSWORD]@HOST[:PORT]/DB"
    "[?schema=NAME], or memory:// (nothing kept).",
    LOCK_TIMEOUT: "Seconds a write waits for a lock before failing with "
    f"DatabaseLocked (default {DEFAULT_LOCK_TIMEOUT_SECONDS}).",
    CONNECT_TIMEOUT: "Seconds to wait for a PostgreSQL connection before failing"
    f" with DatabaseUnavailable (default {DEFAULT_CONNECT_TIMEOUT_SECONDS}).",
    BATCH_SIZE: "Recipients decided and saved per transaction in bulk sends, and "
    f"events projected per transaction (default {DEFAULT_BATCH_SIZE}).",
    SQLITE_SYNCHRONOUS: "How SQLite flushes commits: FULL (default) survives a "
    "power loss; NORMAL survives a crash of the process but may lose the last "
    "commits on a power loss, and writes bulk sends faster.",
}


@dataclass(frozen=True)
class Settings:
    """Where the ledger keeps its data and how long it waits for the database."""

    database_url: str = DEFAULT_DATABASE_URL
    lock_timeout_seconds: int = DEFAULT_LOCK_TIMEOUT_SECONDS
    batch_size: int = DEFAULT_BATCH_SIZE
    connect_timeout_seconds: int = DEFAULT_CONNECT_TIMEOUT_SECONDS
    sqlite_synchronous: str = DEFAULT_SQLITE_SYNCHRONOUS

    @classmethod
    def for_url(cls, url: str | None, env: Mapping[str, str] | None = None) -> Settings:
        """Settings from ``env`` (the process environment by default), with ``url``
        (a ``--db`` option, say) taking the place of the configured URL."""
        settings = cls.from_env(env)
        if url is None:
            return settings
        return dataclasses.replace(settings, database_url=url)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(
            database_url=env.get(DATABASE_URL) or DEFAULT_DATABASE_URL,
            lock_timeout_seconds=_positive_int(
                env, LOCK_TIMEOUT, DEFAULT_LOCK_TIMEOUT_SECONDS
            ),
            batch_size=_positive_int(env, BATCH_SIZE, DEFAULT_BATCH_SIZE),
            connect_timeout_seconds=_positive_int(
                env, CONNECT_TIMEOUT, DEFAULT_CONNECT_TIMEOUT_SECONDS
            ),
            sqlite_synchronous=_synchronous(env),
        )

    @property
    def url(self) -> URL:
        return parse_database_url(self.database_url)

    @property
    def backend(self) -> str:
        """``sqlite``, ``postgresql`` or ``memory``."""
        return backend_of(self.url)

    def redacted_url(self) -> str:
        """The database URL with its password shown as ``***``."""
        if self.backend == "memory":
            return "memory://"
        return self.url.render_as_string(hide_password=True)

    @property
    def secrets(self) -> tuple[str, ...]:
        """Text that must never appear in a message or a log line."""
        password = self.url.password
        return (str(password),) if password else ()

    @property
    def postgres_schema(self) -> str:
        """The schema a PostgreSQL URL names (``?schema=``), else ``public``."""
        schema = self.url.query.get("schema")
        return schema if isinstance(schema, str) else DEFAULT_POSTGRES_SCHEMA

    def postgres_connect_args(self) -> dict[str, str | int]:
        """Keyword arguments for ``psycopg.connect`` to the configured database."""
        url = self.url
        return {
            "host": url.host or "127.0.0.1",
            "port": url.port or 5432,
            "dbname": url.database or "postgres",
            "user": url.username or "postgres",
            "password": url.password or "",
            "connect_timeout": self.connect_timeout_seconds,
        }

    def sqlalchemy_url(self) -> URL:
        """The URL for a SQLAlchemy engine (psycopg 3 driver, no ``schema``)."""
        url = self.url
        if backend_of(url) != "postgresql":
            return url
        return url.set(drivername="postgresql+psycopg").difference_update_query(
            ["schema"]
        )

    def event_store_env(self) -> dict[str, str]:
        """The ``eventsourcing`` environment that selects and configures storage."""
        url = self.url
        backend = backend_of(url)
        if backend == "memory":
            return {"PERSISTENCE_MODULE": "eventsourcing.popo"}
        if backend == "sqlite":
            return {
                "PERSISTENCE_MODULE": SQLITE_FACTORY,
                "SQLITE_DBNAME": sqlite_path(url),
                "SQLITE_LOCK_TIMEOUT": str(self.lock_timeout_seconds),
                "SQLITE_SYNCHRONOUS": self.sqlite_synchronous,
            }
        connect = self.postgres_connect_args()
        return {
            "PERSISTENCE_MODULE": POSTGRES_FACTORY_TOPIC,
            "POSTGRES_DBNAME": str(connect["dbname"]),
            "POSTGRES_HOST": str(connect["host"]),
            "POSTGRES_PORT": str(connect["port"]),
            "POSTGRES_USER": str(connect["user"]),
            "POSTGRES_PASSWORD": str(connect["password"]),
            "POSTGRES_SCHEMA": self.postgres_schema,
            "POSTGRES_LOCK_TIMEOUT": str(self.lock_timeout_seconds),
            "POSTGRES_CONNECT_TIMEOUT": str(self.connect_timeout_seconds),
        }


POSTGRES_FACTORY_TOPIC = "dispatchledger.adapters.postgres_events:PostgresLedgerFactory"
"""The ``eventsourcing`` factory for PostgreSQL: the library's, failing fast."""


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


def _synchronous(env: Mapping[str, str]) -> str:
    raw = env.get(SQLITE_SYNCHRONOUS) or DEFAULT_SQLITE_SYNCHRONOUS
    level = raw.strip().upper()
    if level not in ("FULL", "NORMAL"):
        raise InvalidCommand(
            f"{SQLITE_SYNCHRONOUS} must be FULL or NORMAL, not {raw!r}",
            [{"field": SQLITE_SYNCHRONOUS, "reason": "not FULL or NORMAL"}],
        )
    return level


def parse_database_url(text: str) -> URL:
    """Parse and check a database URL; raise InvalidCommand naming what is wrong."""
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
    if url is not None and url.drivername in _POSTGRES_SCHEMES:
        return _checked_postgres_url(url.set(drivername="postgresql"))
    if url is None or url.drivername != "sqlite":
        raise _bad_url(
            text,
            "use sqlite:///FILE, postgresql://USER@HOST/DB or memory://",
        )
    return url


def _checked_postgres_url(url: URL) -> URL:
    text = url.render_as_string(hide_password=True)
    unknown = sorted(set(url.query) - {"schema"})
    if unknown:
        raise _bad_url(text, f"unknown option {', '.join(unknown)}; only schema")
    schema = url.query.get("schema")
    if schema is not None and (
        not isinstance(schema, str)
        or not _SCHEMA_NAME.fullmatch(schema)
        or schema.startswith("pg_")
    ):
        raise _bad_url(
            text,
            "schema must be one lower-case name of letters, digits and"
            " underscores (at most 63, not starting with pg_)",
        )
    return url


def _bad_url(text: str, reason: str) -> InvalidCommand:
    return InvalidCommand(
        f"unsupported database URL {_redact(text)!r}: {reason}",
        [{"field": DATABASE_URL, "reason": reason}],
    )


def _redact(text: str) -> str:
    try:
        return make_url(text).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


def backend_of(url: URL) -> str:
    """``sqlite``, ``postgresql`` or ``memory`` for a parsed URL."""
    if url.get_backend_name() == "sqlite":
        return "sqlite" if url.database not in (None, "", ":memory:") else "memory"
    return "postgresql"


def sqlite_path(url: URL) -> str:
    database = url.database or ""
    return str(Path(database).expanduser())
