"""Row-by-row comparison of live and rebuilt tables, as a typed report."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from dispatchledger.projections.framework import Table, from_micros

EXAMPLES = 5
"""How many rows of each kind of difference a report lists."""


class RowDifference(BaseModel):
    """A key whose row differs, with both versions."""

    model_config = ConfigDict(frozen=True)

    key: dict[str, Any]
    live: dict[str, Any]
    rebuilt: dict[str, Any]


class TableReport(BaseModel):
    """How one live table compares with its rebuild."""

    model_config = ConfigDict(frozen=True)

    table: str
    live_rows: int = 0
    rebuilt_rows: int = 0
    only_in_live: int = 0
    only_in_rebuilt: int = 0
    differing: int = 0
    only_in_live_examples: list[dict[str, Any]] = Field(default_factory=list)
    only_in_rebuilt_examples: list[dict[str, Any]] = Field(default_factory=list)
    differing_examples: list[RowDifference] = Field(default_factory=list)

    @property
    def identical(self) -> bool:
        return not (self.only_in_live or self.only_in_rebuilt or self.differing)


class ProjectionReport(BaseModel):
    """The outcome of rebuilding one projection."""

    model_config = ConfigDict(frozen=True)

    projection: str
    position: int
    events: int
    identical: bool
    switched: bool
    tables: list[TableReport]


def _plain(table: Table, values: Sequence[Any]) -> dict[str, Any]:
    """A stored row as JSON-ready data: named columns, times in ISO 8601."""
    row: dict[str, Any] = {}
    for column, value in zip(table.columns, values, strict=True):
        if column.kind == "time" and value is not None:
            value = from_micros(value).isoformat()
        row[column.name] = value
    return row


class _Tally:
    def __init__(self, table: Table) -> None:
        self.table = table
        self.counts = {"live": 0, "rebuilt": 0, "only_live": 0, "only_rebuilt": 0}
        self.differing = 0
        self.only_live: list[dict[str, Any]] = []
        self.only_rebuilt: list[dict[str, Any]] = []
        self.changed: list[RowDifference] = []

    def only_in(self, side: str, row: Sequence[Any]) -> None:
        self.counts[f"only_{side}"] += 1
        examples = self.only_live if side == "live" else self.only_rebuilt
        if len(examples) < EXAMPLES:
            examples.append(_plain(self.table, row))

    def differ(self, live: Sequence[Any], rebuilt: Sequence[Any]) -> None:
        self.differing += 1
        if len(self.changed) < EXAMPLES:
            before, after = _plain(self.table, live), _plain(self.table, rebuilt)
            key = {name: before[name] for name in self.table.key}
            self.changed.append(RowDifference(key=key, live=before, rebuilt=after))

    def report(self) -> TableReport:
        return TableReport(
            table=self.table.name,
            live_rows=self.counts["live"],
            rebuilt_rows=self.counts["rebuilt"],
            only_in_live=self.counts["only_live"],
            only_in_rebuilt=self.counts["only_rebuilt"],
            differing=self.differing,
            only_in_live_examples=self.only_live,
            only_in_rebuilt_examples=self.only_rebuilt,
            differing_examples=self.changed,
        )


Values = Sequence[Any]


def _counted(rows: Iterable[Values], tally: _Tally, side: str) -> Iterator[Values]:
    for row in rows:
        tally.counts[side] += 1
        yield row


def compare_tables(
    table: Table, live: Iterable[Values], rebuilt: Iterable[Values]
) -> TableReport:
    """Merge two key-ordered streams of stored rows and tally the differences.

    Rows are values in column order, as :meth:`ProjectionStore.values` gives
    them, so times compare as the exact integers stored.
    """
    tally = _Tally(table)
    key = table.key_of_values
    left = _counted(live, tally, "live")
    right = _counted(rebuilt, tally, "rebuilt")
    a, b = next(left, None), next(right, None)
    while a is not None and b is not None:
        ka, kb = key(a), key(b)
        if ka == kb:
            if a != b:
                tally.differ(a, b)
            a, b = next(left, None), next(right, None)
        elif ka < kb:
            tally.only_in("live", a)
            a = next(left, None)
        else:
            tally.only_in("rebuilt", b)
            b = next(right, None)
    for rest, side in ((a, "live"), (b, "rebuilt")):
        if rest is not None:
            tally.only_in(side, rest)
    for row in left:
        tally.only_in("live", row)
    for row in right:
        tally.only_in("rebuilt", row)
    return tally.report()
