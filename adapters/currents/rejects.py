"""The rejects store: records an import could not understand, kept to be seen.

A table in the ledger's own database (``currents_rejects``) holds the file, the
record's position in it, the reason and the raw text. Importing a file again
replaces that file's rejects with the new run's, so the table always says what
is wrong with each file as it was last read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    insert,
    select,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import StaticPool

from dispatchledger.adapters.errors import ErrorTranslator
from dispatchledger.adapters.settings import Settings

TABLE = "currents_rejects"

T = TypeVar("T")


@dataclass(frozen=True)
class Reject:
    """One record, or one unreadable part of a file, that was not imported."""

    file: str
    position: str
    reason: str
    raw: str
    rejected_at: datetime | None = None


class RejectsStore:
    """Rejected records in a SQL table of the ledger's database."""

    def __init__(
        self,
        engine: Engine,
        schema: str | None = None,
        translate: ErrorTranslator | None = None,
    ) -> None:
        self.engine = engine
        self.translate = translate or ErrorTranslator()
        self.metadata = MetaData(schema=schema)
        self.table = Table(
            TABLE,
            self.metadata,
            Column("id", Integer, primary_key=True, autoincrement=True),
            Column("file", Text, nullable=False, index=True),
            Column("position", String(100), nullable=False),
            Column("reason", Text, nullable=False),
            Column("raw", Text, nullable=False),
            Column("rejected_at", DateTime(timezone=True), nullable=False),
        )
        self._guarded(lambda: self.metadata.create_all(engine))

    def clear(self, file: str) -> None:
        """Forget the rejects of ``file`` (before it is read again)."""

        def write() -> None:
            with self.engine.begin() as conn:
                conn.execute(delete(self.table).where(self.table.c.file == file))

        self._guarded(write)

    def add(self, rejects: Iterable[Reject]) -> None:
        now = datetime.now(UTC)
        rows = [
            {
                "file": r.file,
                "position": r.position,
                "reason": r.reason,
                "raw": r.raw,
                "rejected_at": now,
            }
            for r in rejects
        ]
        if not rows:
            return

        def write() -> None:
            with self.engine.begin() as conn:
                conn.execute(insert(self.table), rows)

        self._guarded(write)

    def list(self, file: str | None = None) -> Sequence[Reject]:
        """Every reject (of one file, if given), by file and position."""
        query = select(self.table).order_by(self.table.c.file, self.table.c.id)
        if file is not None:
            query = query.where(self.table.c.file == file)

        def read() -> list[Reject]:
            with self.engine.connect() as conn:
                return [
                    Reject(row.file, row.position, row.reason, row.raw, row.rejected_at)
                    for row in conn.execute(query)
                ]

        return self._guarded(read)

    def close(self) -> None:
        self.engine.dispose()

    def _guarded(self, action: Callable[[], T]) -> T:
        try:
            return action()
        except SQLAlchemyError as error:
            raise self.translate(error) from error


def open_rejects(settings: Settings) -> RejectsStore:
    """The rejects store in the database ``settings`` name (in memory for memory://)."""
    translate = ErrorTranslator.for_settings(settings)
    if settings.backend == "memory":
        engine = create_engine(
            "sqlite://",
            poolclass=StaticPool,
            connect_args={"check_same_thread": False},
        )
        return RejectsStore(engine, translate=translate)
    if settings.backend == "sqlite":
        return RejectsStore(create_engine(settings.url), translate=translate)
    engine = create_engine(
        settings.sqlalchemy_url(),
        pool_pre_ping=True,
        connect_args={"connect_timeout": settings.connect_timeout_seconds},
    )
    return RejectsStore(engine, settings.postgres_schema, translate)
