"""Driver and library errors, translated into the project's persistence errors.

``eventsourcing`` wraps each driver error in its own ``PersistenceError`` family and
keeps the driver's error as the cause. :class:`ErrorTranslator` looks through that
chain for what the driver knows (a PostgreSQL SQLSTATE, a SQLite result code, an
operating-system errno) and picks the project's error:

==================  ========================================================
DatabaseLocked      PG 55P03 lock_not_available, 40P01 deadlock; SQLite BUSY,
                    LOCKED ("database is locked")
StorageFull         PG 53100 disk_full; SQLite FULL ("database or disk is
                    full"); OS errors ENOSPC and EDQUOT
DatabaseUnavailable PG classes 08 (connection), 28 (authentication),
                    3D (no such database), 57P (server shutting down),
                    53300 too_many_connections; a refused or timed-out
                    connection; SQLite CANTOPEN, PERM, NOTADB, READONLY
PersistenceError    anything else
==================  ========================================================

Messages name the database by its URL with the password hidden, and any text the
settings call secret is scrubbed from the driver's own message.
"""

from __future__ import annotations

import errno
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy.exc import StatementError

from dispatchledger.adapters.settings import Settings
from dispatchledger.domain.errors import (
    DatabaseLocked,
    DatabaseUnavailable,
    PersistenceError,
    StorageFull,
)

ErrorKind = type[PersistenceError]

SQLSTATES: dict[str, ErrorKind] = {
    "55P03": DatabaseLocked,
    "40P01": DatabaseLocked,
    "53100": StorageFull,
    "53300": DatabaseUnavailable,
}
"""Exact PostgreSQL SQLSTATE codes; checked before :data:`SQLSTATE_CLASSES`."""

SQLSTATE_CLASSES: dict[str, ErrorKind] = {
    "08": DatabaseUnavailable,
    "28": DatabaseUnavailable,
    "3D": DatabaseUnavailable,
    "57P": DatabaseUnavailable,
}
"""Leading characters of PostgreSQL SQLSTATE codes."""

SQLITE_CODES: dict[int, ErrorKind] = {
    sqlite3.SQLITE_BUSY: DatabaseLocked,
    sqlite3.SQLITE_LOCKED: DatabaseLocked,
    sqlite3.SQLITE_FULL: StorageFull,
    sqlite3.SQLITE_CANTOPEN: DatabaseUnavailable,
    sqlite3.SQLITE_PERM: DatabaseUnavailable,
    sqlite3.SQLITE_NOTADB: DatabaseUnavailable,
    sqlite3.SQLITE_READONLY: DatabaseUnavailable,
}
"""Primary SQLite result codes (extended codes are reduced to these)."""

OS_ERRNOS: dict[int, ErrorKind] = {
    errno.ENOSPC: StorageFull,
    errno.EDQUOT: StorageFull,
}

# Connection failures psycopg reports before the server says anything carry no
# SQLSTATE; their wording comes from libpq.
MESSAGE_PATTERNS: tuple[tuple[re.Pattern[str], ErrorKind], ...] = (
    (re.compile(r"database is locked|lock timeout", re.I), DatabaseLocked),
    (re.compile(r"no space left|disk is full|disk full", re.I), StorageFull),
    (
        re.compile(
            r"connection (failed|refused|timeout)|could not connect"
            r"|couldn't get a connection|server closed the connection"
            r"|connection is (closed|lost)|authentication failed"
            r"|role .* does not exist|database .* does not exist",
            re.I,
        ),
        DatabaseUnavailable,
    ),
)

LEADS: dict[ErrorKind, str] = {
    DatabaseLocked: "the database is locked by another writer",
    StorageFull: "the database has no room left",
    DatabaseUnavailable: "the database cannot be reached",
    PersistenceError: "the database failed",
}


def classify(error: BaseException) -> ErrorKind:
    """The project's error type for a library or driver error."""
    for link in _chain(error):
        kind = _by_code(link)
        if kind is not None:
            return kind
    text = " ".join(str(link) for link in _chain(error))
    for pattern, kind in MESSAGE_PATTERNS:
        if pattern.search(text):
            return kind
    return PersistenceError


def _by_code(error: BaseException) -> ErrorKind | None:
    sqlstate = getattr(error, "sqlstate", None)
    if isinstance(sqlstate, str):
        return SQLSTATES.get(sqlstate) or next(
            (k for p, k in SQLSTATE_CLASSES.items() if sqlstate.startswith(p)), None
        )
    code = getattr(error, "sqlite_errorcode", None)
    if isinstance(code, int):
        return SQLITE_CODES.get(code & 0xFF)
    if isinstance(error, OSError) and error.errno is not None:
        return OS_ERRNOS.get(error.errno)
    return None


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    link: BaseException | None = error
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        yield link
        link = link.__cause__ or link.__context__


@dataclass(frozen=True)
class ErrorTranslator:
    """Turns a library or driver error into the project's typed error.

    ``where`` names the database in messages (a URL with its password hidden);
    each of ``secrets`` is replaced by ``***`` wherever the driver's text has it.
    """

    where: str = "the database"
    secrets: tuple[str, ...] = ()

    @classmethod
    def for_settings(cls, settings: Settings) -> ErrorTranslator:
        """A translator naming the configured database, hiding its password."""
        return cls(where=settings.redacted_url(), secrets=settings.secrets)

    def __call__(self, error: BaseException) -> PersistenceError:
        kind = classify(error)
        return kind(f"{LEADS[kind]} ({self.where}): {self.scrub(_detail(error))}")

    def scrub(self, text: str) -> str:
        """The text with every secret replaced by ``***``."""
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text


def _detail(error: BaseException) -> str:
    # SQLAlchemy's text appends the statement and up to ten rows of parameters
    # (user data, kilobytes on one line); the driver's own message says it all.
    if isinstance(error, StatementError) and error.orig is not None:
        error = error.orig
    # libpq messages span lines with tab-indented hints; one line reads better.
    text = " ".join(str(error).split())
    return text or type(error).__name__
