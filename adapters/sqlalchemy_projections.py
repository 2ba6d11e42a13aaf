"""The projection store on SQLAlchemy: one code path for SQLite and PostgreSQL.

The engine is built from the settings URL, on the database (and PostgreSQL schema)
of the events.

Rows go in with one bulk ``INSERT .. ON CONFLICT`` per table and batch; times are
stored as UTC microseconds (``BIGINT``) so they compare exactly and read back as
aware datetimes on every backend. On SQLite, transactions are begun explicitly
(``BEGIN IMMEDIATE`` for writes) so table renames are transactional as well.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import StaticPool

from dispatchledger.adapters.errors import ErrorTranslator
from dispatchledger.adapters.settings import Settings, sqlite_path
from dispatchledger.domain.errors import PersistenceError
from dispatchledger.projections.framework import (
    Changes,
    Row,
    Table,
    from_micros,
    suffix_of,
)

logger = logging.getLogger(__name__)

POSITIONS = "dl_projection_positions"
_WRITE = "dispatchledger_write"
_STREAM_CHUNK = 5000


def _already_exists(error: SQLAlchemyError) -> bool:
    text = str(error).lower()
    return "already exists" in text or "duplicate key" in text


class SQLAlchemyProjectionStore:
    """Projection tables and positions in the database of the events."""

    def __init__(
        self,
        engine: Engine,
        translate: Callable[[BaseException], PersistenceError] | None = None,
    ) -> None:
        self.engine = engine
        self.translate = translate or ErrorTranslator()
        self.dialect = engine.dialect.name
        self.metadata = sa.MetaData()
        self._tables: dict[str, sa.Table] = {}
        self._statements: dict[tuple[str, bool], tuple[str, tuple[str, ...]]] = {}
        self.positions_table = sa.Table(
            POSITIONS,
            self.metadata,
            sa.Column("name", sa.Text, primary_key=True),
            sa.Column("position", sa.BigInteger, nullable=False),
        )
        self._create([self.positions_table])

    # -- transactions ------------------------------------------------------------

    @contextmanager
    def _translated(self) -> Iterator[None]:
        """Raise driver and SQLAlchemy errors as the project's persistence errors."""
        try:
            yield
        except SQLAlchemyError as error:
            raise self.translate(error) from error

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._translated(), self.engine.connect() as conn:
            conn.execution_options(**{_WRITE: True})
            with conn.begin():
                yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._translated(), self.engine.connect() as conn:
            yield conn

    # -- tables ------------------------------------------------------------

    def table(self, spec: Table, suffix: str = "") -> sa.Table:
        """The SQLAlchemy table of ``spec`` under ``suffix`` (built once)."""
        name = spec.name + suffix
        found = self._tables.get(name)
        if found is not None:
            return found
        columns = [
            sa.Column(
                column.name,
                sa.Text if column.kind == "text" else sa.BigInteger,
                nullable=column.nullable,
            )
            for column in spec.columns
        ]
        table = sa.Table(
            name,
            self.metadata,
            *columns,
            sa.PrimaryKeyConstraint(*spec.key, name=f"pk_{name}"),
        )
        if not suffix:
            # Secondary indexes belong to live tables only (created with them,
            # in the same transaction); rebuilt tables get theirs when they
            # become live, so filling them stays a plain bulk load.
            for i, names in enumerate(spec.indexes):
                sa.Index(f"ix_{name}_{i}", *(table.c[n] for n in names))
        self._tables[name] = table
        return table

    def ensure_tables(self, tables: Sequence[Table], suffix: str = "") -> None:
        """Create missing tables, with their indexes; safe when racing."""
        self._create([self.table(spec, suffix) for spec in tables])

    def _create(self, tables: list[sa.Table]) -> bool:
        """Create what is missing; True if any table was missing. Safe when racing."""
        for attempt in range(2):
            try:
                with self._read() as conn:
                    inspector = sa.inspect(conn)
                    missing = [t for t in tables if not inspector.has_table(t.name)]
                if not missing:
                    return False
                with self.engine.connect() as conn:
                    conn.execution_options(**{_WRITE: True})
                    with conn.begin():
                        self.metadata.create_all(conn, tables=missing, checkfirst=True)
                logger.info("created tables %s", ", ".join(t.name for t in missing))
                return True
            except SQLAlchemyError as error:
                # Another process created the same table between our check and
                # our CREATE: the second pass finds it.
                if attempt or not _already_exists(error):
                    raise self.translate(error) from error
        return False  # pragma: no cover - the loop returns or raises

    def reset(self, tables: Sequence[Table], suffix: str, position: str) -> None:
        with self._write() as conn:
            for spec in tables:
                conn.execute(sa.text(f'DROP TABLE IF EXISTS "{spec.name}{suffix}"'))
            self._forget(conn, position)

    def _forget(self, conn: Connection, position: str) -> None:
        positions = self.positions_table
        conn.execute(positions.delete().where(positions.c.name == position))

    # -- writing ------------------------------------------------------------

    def positions(self) -> dict[str, int]:
        with self._read() as conn:
            rows = conn.execute(sa.select(self.positions_table)).all()
        for name, position in rows:
            # SQLite keeps any value an INTEGER column is given: a hand-edited
            # position must stop here, named, not as a TypeError in the runner.
            if not isinstance(position, int) or position < 0:
                raise PersistenceError(
                    f"{POSITIONS} in {self._where()} holds {position!r} for"
                    f" {name!r}, which is not a notification id; correct or delete"
                    " that row, then run 'dispatchledger rebuild --check'"
                )
        return dict(rows)

    def _where(self) -> str:
        """The database as error messages name it (its password hidden)."""
        return str(getattr(self.translate, "where", "the database"))

    def write(
        self,
        changes: Mapping[str, Changes],
        positions: Mapping[str, int],
        expected: Mapping[str, int] | None = None,
    ) -> bool:
        with self._write() as conn:
            if expected is not None and not self._still_at(conn, expected):
                return False
            for name, batch in changes.items():
                self._apply(conn, batch, suffix_of(name))
            self._save_positions(conn, positions)
        return True

    def _still_at(self, conn: Connection, expected: Mapping[str, int]) -> bool:
        """Lock the positions and check that no other writer moved them."""
        table = self.positions_table
        insert = (postgresql.insert if self.dialect == "postgresql" else sqlite.insert)(
            table
        )
        # Rows must exist to be locked; position 0 means "nothing applied".
        conn.execute(
            insert.on_conflict_do_nothing(index_elements=["name"]),
            [{"name": name, "position": 0} for name in expected],
        )
        statement = sa.select(table).where(table.c.name.in_(list(expected)))
        if self.dialect == "postgresql":
            statement = statement.with_for_update()
        current: dict[str, int] = dict(conn.execute(statement).all())
        return all(current.get(name, 0) == at for name, at in expected.items())

    def _apply(self, conn: Connection, batch: Changes, suffix: str) -> None:
        for table_name, table_changes in batch.by_table.items():
            spec = batch.tables[table_name]
            for rows, replace in (
                (table_changes.adds, False),
                (table_changes.puts, True),
            ):
                if rows:
                    sql, order = self._bulk_statement(spec, suffix, replace)
                    params: list[Any] = list(rows.values())
                    if order:
                        params = [tuple(map(row.__getitem__, order)) for row in params]
                    conn.exec_driver_sql(sql, params)

    def _bulk_statement(
        self, spec: Table, suffix: str, replace: bool
    ) -> tuple[str, tuple[str, ...]]:
        """The driver's SQL of a bulk add or put, and its parameters' order.

        Compiled once per table: a batch then costs one ``executemany`` with the
        rows as they are (named parameters) or as tuples (positional ones), not
        a statement built per row. The order is empty for named parameters.
        """
        cache_key = (spec.name + suffix, replace)
        found = self._statements.get(cache_key)
        if found is None:
            table = self.table(spec, suffix)
            statement = self._upsert(table, spec, replace)
            compiled = statement.compile(dialect=self.engine.dialect)
            order = tuple(compiled.positiontup or ()) if compiled.positional else ()
            found = (str(compiled), order)
            self._statements[cache_key] = found
        return found

    def _upsert(self, table: sa.Table, spec: Table, replace: bool) -> Any:
        insert = (postgresql.insert if self.dialect == "postgresql" else sqlite.insert)(
            table
        )
        if not replace:
            return insert.on_conflict_do_nothing(index_elements=list(spec.key))
        values = {
            name: insert.excluded[name]
            for name in spec.column_names
            if name not in spec.key
        }
        return insert.on_conflict_do_update(index_elements=list(spec.key), set_=values)

    def _save_positions(self, conn: Connection, positions: Mapping[str, int]) -> None:
        if not positions:
            return
        rows = [{"name": name, "position": at} for name, at in positions.items()]
        conn.execute(self._upsert_position(), rows)

    def _upsert_position(self) -> Any:
        table = self.positions_table
        insert = (postgresql.insert if self.dialect == "postgresql" else sqlite.insert)(
            table
        )
        return insert.on_conflict_do_update(
            index_elements=["name"], set_={"position": insert.excluded.position}
        )

    # -- reading ------------------------------------------------------------

    def rows(self, table: Table, suffix: str = "") -> Iterator[Row]:
        sa_table = self.table(table, suffix)
        order = [self._ordered(sa_table.c[name]) for name in table.key]
        statement = sa.select(sa_table).order_by(*order)
        times = [c.name for c in table.columns if c.kind == "time"]
        with self._read() as conn:
            result = conn.execution_options(yield_per=_STREAM_CHUNK).execute(statement)
            try:
                for row in result.mappings():
                    yield _aware(dict(row), times)
            finally:
                # A reader that stops early must not leave a server cursor open.
                result.close()

    def values(self, table: Table, suffix: str = "") -> Iterator[tuple[Any, ...]]:
        sa_table = self.table(table, suffix)
        order = [self._ordered(sa_table.c[name]) for name in table.key]
        columns = [sa_table.c[name] for name in table.column_names]
        statement = sa.select(*columns).order_by(*order)
        sql = str(statement.compile(dialect=self.engine.dialect))
        driver_error = self.engine.dialect.loaded_dbapi.Error
        # The driver's own cursor: plain tuples, streamed (a server-side cursor
        # on PostgreSQL), with none of the per-row work of result objects.
        with self._read() as conn:
            driver = conn.connection.driver_connection
            assert driver is not None
            named = {"name": "dl_values"} if self.dialect == "postgresql" else {}
            cursor = driver.cursor(**named)
            try:
                cursor.execute(sql)
                while chunk := cursor.fetchmany(_STREAM_CHUNK):
                    yield from chunk
            except driver_error as error:
                raise self.translate(error) from error
            finally:
                cursor.close()

    def _ordered(self, column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        # Keys are compared in code-point order; PostgreSQL's default collation
        # may sort differently, its "C" collation does not.
        if self.dialect == "postgresql" and isinstance(column.type, sa.Text):
            return column.collate("C")
        return column

    def select(
        self,
        table: Table,
        where: Mapping[str, Any],
        order_by: Sequence[str] = (),
        limit: int | None = None,
        after: Sequence[Any] | None = None,
    ) -> list[Row]:
        sa_table = self.table(table)
        statement = sa.select(sa_table).where(*_matching(sa_table, where))
        if after is not None:
            if len(after) != len(order_by):
                raise ValueError("after needs one value per order_by column")
            ordered = [self._ordered(sa_table.c[name]) for name in order_by]
            statement = statement.where(sa.tuple_(*ordered) > sa.tuple_(*after))
        statement = statement.order_by(
            *(self._ordered(sa_table.c[name]) for name in order_by)
        )
        statement = statement.limit(limit)
        times = [c.name for c in table.columns if c.kind == "time"]
        with self._read() as conn:
            return [_aware(dict(r), times) for r in conn.execute(statement).mappings()]

    def count(
        self, table: Table, where: Mapping[str, Any], by: str | None = None
    ) -> dict[Any, int]:
        sa_table = self.table(table)
        matching = _matching(sa_table, where)
        with self._read() as conn:
            if by is None:
                total = (
                    sa.select(sa.func.count()).select_from(sa_table).where(*matching)
                )
                return {None: conn.execute(total).scalar_one()}
            column = sa_table.c[by]
            grouped = sa.select(column, sa.func.count()).where(*matching)
            return dict(conn.execute(grouped.group_by(column)).all())

    # -- switching ------------------------------------------------------------

    def swap(
        self, tables: Sequence[Table], suffix: str, name: str, expected: int
    ) -> bool:
        with self._write() as conn:
            if self.dialect == "postgresql":
                names = ", ".join(
                    f'"{spec.name}{s}"' for spec in tables for s in ("", suffix)
                )
                conn.execute(sa.text(f"LOCK TABLE {names} IN ACCESS EXCLUSIVE MODE"))
            positions = self._positions_in(conn, (name, name + suffix))
            if positions != {name: expected, name + suffix: expected}:
                return False
            for spec in tables:
                self._replace(conn, spec, suffix)
            self._forget(conn, name + suffix)
            self._save_positions(conn, {name: expected})
        return True

    def _positions_in(self, conn: Connection, names: Sequence[str]) -> dict[str, int]:
        positions = self.positions_table
        statement = sa.select(positions).where(positions.c.name.in_(names))
        return dict(conn.execute(statement).all())

    def _replace(self, conn: Connection, spec: Table, suffix: str) -> None:
        live, rebuilt = spec.name, spec.name + suffix
        conn.execute(sa.text(f'DROP TABLE "{live}"'))
        conn.execute(sa.text(f'ALTER TABLE "{rebuilt}" RENAME TO "{live}"'))
        if self.dialect == "postgresql":
            conn.execute(sa.text(f'ALTER INDEX "pk_{rebuilt}" RENAME TO "pk_{live}"'))
        for index in self.table(spec).indexes:
            index.create(conn)

    def close(self) -> None:
        self.engine.dispose()


def _matching(table: sa.Table, where: Mapping[str, Any]) -> list[Any]:
    return [table.c[name] == value for name, value in where.items()]


def _aware(row: Row, times: Sequence[str]) -> Row:
    for name in times:
        value = row[name]
        if value is not None:
            row[name] = from_micros(value)
    return row


def projection_engine(settings: Settings) -> Engine:
    """An engine on the same database (and PostgreSQL schema) as the event store.

    ``memory`` gives a private in-memory SQLite database, kept for the life of
    the engine.
    """
    backend = settings.backend
    if backend == "postgresql":
        return _postgres_engine(settings)
    if backend == "memory":
        engine = sa.create_engine(
            "sqlite://",
            poolclass=StaticPool,
            pool_reset_on_return=None,
            connect_args={"check_same_thread": False},
        )
    else:
        engine = sa.create_engine(
            f"sqlite:///{sqlite_path(settings.url)}",
            connect_args={
                "timeout": settings.lock_timeout_seconds,
                "check_same_thread": False,
            },
        )
    _begin_explicitly(
        engine,
        wal=backend == "sqlite",
        lock_timeout=float(settings.lock_timeout_seconds),
    )
    return engine


def _postgres_engine(settings: Settings) -> Engine:
    connect_args: dict[str, Any] = {
        "connect_timeout": settings.connect_timeout_seconds,
        "options": f"-csearch_path={settings.postgres_schema}",
    }
    return sa.create_engine(
        settings.sqlalchemy_url(), connect_args=connect_args, pool_pre_ping=True
    )


def _use_wal(dbapi_connection: Any, lock_timeout: float) -> None:
    """Put the file in write-ahead-log mode, waiting out other connections.

    Changing the journal mode needs the file to itself, and SQLite reports a
    busy file at once here instead of waiting its busy timeout: connections
    opening a new file together would fail. Once in WAL mode the file stays so,
    and asking is only a read.
    """
    deadline = time.monotonic() + lock_timeout
    while True:
        mode = dbapi_connection.execute("PRAGMA journal_mode").fetchone()[0]
        if str(mode).lower() == "wal":
            return
        try:
            dbapi_connection.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _begin_explicitly(engine: Engine, *, wal: bool, lock_timeout: float = 5.0) -> None:
    """Let SQLAlchemy, not the sqlite3 module, say where transactions begin.

    The sqlite3 module would run DDL outside any transaction; with explicit
    ``BEGIN`` a table swap commits or rolls back as one. Writers begin with
    ``BEGIN IMMEDIATE`` so they queue on the lock instead of failing to upgrade
    a read lock; readers run each statement on its own snapshot.
    """

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        if wal:
            # Projection rows can always be rebuilt from the log, and rows and
            # positions commit together: NORMAL loses at most the last commits
            # on power loss (never on a crashed process), and skips a flush per
            # batch.
            _use_wal(dbapi_connection, lock_timeout)
            dbapi_connection.execute("PRAGMA synchronous=NORMAL")

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        if conn.get_execution_options().get(_WRITE):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
