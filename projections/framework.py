"""The projection framework: tables, row changes, projections and the store port.

A projection is a name, the tables it owns, and a handler that turns decoded events
into row changes. Row changes are of two kinds, chosen so that applying a log in
batches of any size gives the same rows as applying it event by event:

- ``put``: insert the row, or replace the row with the same key;
- ``add``: insert the row unless a row with the same key exists.

Within one batch the store applies the adds of a table before its puts; a put is
never followed by an add with other values for the same key in the log, so the
result does not depend on where batches begin and end.

The store (a port, implemented in :mod:`dispatchledger.adapters`) writes a batch of
changes and the projections' positions in one transaction, which is what makes
projecting exactly-once.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from operator import itemgetter
from typing import Any, Literal, Protocol

ColumnKind = Literal["text", "int", "time"]
Row = dict[str, Any]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_micros(moment: datetime) -> int:
    """UTC microseconds since the epoch: stored as an integer, compared exactly."""
    return (moment - EPOCH) // timedelta(microseconds=1)


def from_micros(micros: int) -> datetime:
    """The aware UTC datetime of :func:`to_micros`."""
    return EPOCH + timedelta(microseconds=micros)


@dataclass(frozen=True)
class Column:
    """A column: ``time`` columns hold :func:`to_micros` values, read back aware."""

    name: str
    kind: ColumnKind = "text"
    nullable: bool = False


@dataclass(frozen=True)
class Table:
    """A table a projection owns: columns, primary key and secondary indexes."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    indexes: tuple[tuple[str, ...], ...] = ()

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    @cached_property
    def key_of(self) -> Callable[[Mapping[str, Any]], Any]:
        """The key of a row given as a mapping (a value, or a tuple of values)."""
        return itemgetter(*self.key)

    @cached_property
    def key_of_values(self) -> Callable[[Sequence[Any]], Any]:
        """The key of a row given as values in column order."""
        names = self.column_names
        return itemgetter(*(names.index(name) for name in self.key))


@dataclass
class TableChanges:
    """The rows one batch adds and puts into one table, each key once."""

    adds: dict[Any, Row] = field(default_factory=dict)
    puts: dict[Any, Row] = field(default_factory=dict)


class Changes:
    """Row changes collected from a batch of events, grouped by table.

    Keys are deduplicated here so each bulk statement touches a row once: the
    first add of a key wins, the last put of a key wins, and an add whose key is
    also put in the batch is dropped (the put would replace it anyway).
    """

    def __init__(self, tables: Sequence[Table]) -> None:
        self.tables = {table.name: table for table in tables}
        self.by_table: dict[str, TableChanges] = {
            t.name: TableChanges() for t in tables
        }

    def add(self, table: Table, row: Row) -> None:
        key = table.key_of(row)
        changes = self.by_table[table.name]
        if key not in changes.puts:
            changes.adds.setdefault(key, row)

    def put(self, table: Table, row: Row) -> None:
        key = table.key_of(row)
        changes = self.by_table[table.name]
        changes.adds.pop(key, None)
        changes.puts[key] = row

    def __len__(self) -> int:
        return sum(len(c.adds) + len(c.puts) for c in self.by_table.values())


class Projection(Protocol):
    """A read model maintained from the log.

    ``topics`` lists the event topics the handler reads; other events are skipped
    without being decoded. ``handle`` must derive rows from the events alone (no
    clock, no ids, no I/O) so a rebuild equals the live tables.
    """

    name: str
    tables: tuple[Table, ...]
    topics: frozenset[str]

    def handle(self, event: Any, log_id: int, changes: Changes) -> None:
        """Record the row changes of one decoded event."""
        ...  # pragma: no cover


@dataclass(frozen=True)
class LoggedEvent:
    """A decoded event and its position (notification id) in the log."""

    log_id: int
    topic: str
    event: Any


class EventLog(Protocol):
    """The application's notification log, read in order, decoded lazily."""

    def read(
        self,
        after: int,
        limit: int,
        until: int | None = None,
        topics: Collection[str] = (),
    ) -> Sequence[tuple[int, str, Any]]:
        """Up to ``limit`` (id, topic, stored record) with after < id <= until,
        in id order; only of the given topics when any are given."""
        ...  # pragma: no cover

    def decode(self, record: Any) -> Any:
        """The domain event of a stored record."""
        ...  # pragma: no cover

    def head(self) -> int:
        """The highest notification id recorded, 0 when the log is empty."""
        ...  # pragma: no cover

    def listen(self) -> None:
        """Start noticing new events; called before the first catch-up of a
        follower so that no event recorded meanwhile goes unnoticed."""
        ...  # pragma: no cover

    def wait(self, seconds: float) -> None:
        """Return when new events may have arrived, or after ``seconds``."""
        ...  # pragma: no cover


class ProjectionStore(Protocol):
    """Where read-model rows and projection positions live.

    Tables are addressed by their :class:`Table` spec and a ``suffix``: the empty
    suffix names the live tables, a rebuild writes under its own suffix.
    """

    def ensure_tables(self, tables: Sequence[Table], suffix: str = "") -> None:
        """Create the tables if they do not exist (safe when racing)."""
        ...  # pragma: no cover

    def positions(self) -> dict[str, int]:
        """Each projection's position (last notification id applied)."""
        ...  # pragma: no cover

    def write(
        self,
        changes: Mapping[str, Changes],
        positions: Mapping[str, int],
        expected: Mapping[str, int] | None = None,
    ) -> bool:
        """In one transaction, apply the changes and save the positions.

        ``changes`` maps a position name to the changes under that name's suffix
        (see :func:`suffix_of`). With ``expected``, nothing is written and False
        is returned unless each named position still has the expected value
        (0 when absent): two projectors of the same log never both apply a batch.
        """
        ...  # pragma: no cover

    def rows(self, table: Table, suffix: str = "") -> Iterator[Row]:
        """Every row of the table, ordered by its key (code-point order)."""
        ...  # pragma: no cover

    def values(self, table: Table, suffix: str = "") -> Iterator[tuple[Any, ...]]:
        """Every row as stored (values in column order, times as integers),
        ordered by key as :meth:`rows` is: the fast path for comparing tables."""
        ...  # pragma: no cover

    def select(
        self,
        table: Table,
        where: Mapping[str, Any],
        order_by: Sequence[str] = (),
        limit: int | None = None,
        after: Sequence[Any] | None = None,
    ) -> list[Row]:
        """Rows of a live table whose columns equal ``where``; time columns aware.

        ``after`` pages through the rows: only those whose ``order_by`` columns
        come after these values are returned (keyset pagination).
        """
        ...  # pragma: no cover

    def count(
        self, table: Table, where: Mapping[str, Any], by: str | None = None
    ) -> dict[Any, int]:
        """How many rows match ``where``, per value of column ``by`` (or under
        the key None when ``by`` is not given)."""
        ...  # pragma: no cover

    def reset(self, tables: Sequence[Table], suffix: str, position: str) -> None:
        """Drop the tables under ``suffix`` and forget ``position``, in one go."""
        ...  # pragma: no cover

    def swap(
        self, tables: Sequence[Table], suffix: str, name: str, expected: int
    ) -> bool:
        """Replace the live tables of ``name`` by the ``suffix`` ones, atomically.

        In one transaction that blocks writers: if the positions of ``name`` and
        ``name + suffix`` both still equal ``expected``, rename the tables, move the
        position and return True; otherwise change nothing and return False.
        """
        ...  # pragma: no cover

    def close(self) -> None:
        """Release connections."""
        ...  # pragma: no cover


REBUILD_SUFFIX = "__rebuild"


def suffix_of(position_name: str) -> str:
    """The table suffix of a position name: rebuild positions end with it."""
    return REBUILD_SUFFIX if position_name.endswith(REBUILD_SUFFIX) else ""
