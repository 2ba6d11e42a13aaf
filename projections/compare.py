"""Row-by-row comparison of live and rebuilt tables, as a typed report."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from dispatchledger.projections.framework import Row, Table

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


def _plain(row: Row) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}


class _Tally:
    def __init__(self, table: Table) -> None:
        self.table = table
        self.counts = {"live": 0, "rebuilt": 0, "only_live": 0, "only_rebuilt": 0}
        self.differing = 0
        self.only_live: list[dict[str, Any]] = []
        self.only_rebuilt: list[dict[str, Any]] = []
        self.changed: list[RowDifference] = []

    def only_in(self, side: str, row: Row) -> None:
        self.counts[f"only_{side}"] += 1
        examples = self.only_live if side == "live" else self.only_rebuilt
        if len(examples) < EXAMPLES:
            examples.append(_plain(row))

    def differ(self, live: Row, rebuilt: Row) -> None:
        self.differing += 1
        if len(self.changed) < EXAMPLES:
            key = {name: live[name] for name in self.table.key}
            self.changed.append(
                RowDifference(key=key, live=_plain(live), rebuilt=_plain(rebuilt))
            )

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


def _counted(rows: Iterable[Row], tally: _Tally, side: str) -> Iterator[Row]:
    for row in rows:
        tally.counts[side] += 1
        yield row


def compare_tables(
    table: Table, live: Iterable[Row], rebuilt: Iterable[Row]
) -> TableReport:
    """Merge two key-ordered row streams and tally the differences."""
    tally = _Tally(table)
    left = _counted(live, tally, "live")
    right = _counted(rebuilt, tally, "rebuilt")
    a, b = next(left, None), next(right, None)
    while a is not None or b is not None:
        if b is None or (a is not None and table.key_of(a) < table.key_of(b)):
            tally.only_in("live", a)  # type: ignore[arg-type]
            a = next(left, None)
        elif a is None or table.key_of(b) < table.key_of(a):
            tally.only_in("rebuilt", b)
            b = next(right, None)
        else:
            if a != b:
                tally.differ(a, b)
            a, b = next(left, None), next(right, None)
    return tally.report()
