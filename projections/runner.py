"""Catching projections up with the log, following it, and rebuilding them.

Each batch of the log is applied in one store transaction that also saves the
positions, so a crash before the commit leaves both rows and positions as they
were, and a batch is never applied twice: events at or below a projection's
position are skipped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from dispatchledger.domain.errors import InvalidCommand, PersistenceError
from dispatchledger.projections.compare import ProjectionReport, compare_tables
from dispatchledger.projections.framework import (
    REBUILD_SUFFIX,
    Changes,
    EventLog,
    Projection,
    ProjectionStore,
)

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""Called after each batch with (notifications read so far, notifications to read)."""

SWAP_ATTEMPTS = 5


class ProjectionRunner:
    """Applies the log to a set of projections through a store."""

    def __init__(
        self,
        store: ProjectionStore,
        log: EventLog,
        projections: Sequence[Projection],
        batch_size: int = 1000,
    ) -> None:
        self.store = store
        self.log = log
        self.projections = {p.name: p for p in projections}
        self.batch_size = batch_size
        self._ready = False

    def ensure_ready(self) -> None:
        """Create the live tables of every projection (once per runner)."""
        if not self._ready:
            for projection in self.projections.values():
                self.store.ensure_tables(projection.tables)
            self._ready = True

    def select(self, names: Sequence[str] = ()) -> list[Projection]:
        """The named projections (all when none is named), in registry order."""
        unknown = [name for name in names if name not in self.projections]
        if unknown:
            known = ", ".join(self.projections)
            raise InvalidCommand(
                f"unknown projection {unknown[0]!r}; known: {known}",
                [{"field": "names", "reason": f"unknown projection {unknown[0]!r}"}],
            )
        return [p for n, p in self.projections.items() if not names or n in names]

    # -- catching up -------------------------------------------------------------

    def catch_up(
        self,
        names: Sequence[str] = (),
        until: int | None = None,
        progress: Progress | None = None,
    ) -> int:
        """Apply the log to the named projections; return events decoded."""
        self.ensure_ready()
        targets = {p.name: p for p in self.select(names)}
        return self._advance(targets, until, progress)

    def follow(
        self,
        stopped: Callable[[], bool],
        wait_seconds: float = 1.0,
        names: Sequence[str] = (),
    ) -> int:
        """Catch up, then keep catching up as events arrive, until ``stopped()``."""
        self.ensure_ready()
        targets = {p.name: p for p in self.select(names)}
        applied = 0
        self.log.listen()
        while not stopped():
            # Checked after each batch too: a backlog would otherwise hold a
            # stop (SIGTERM) until the log's end.
            applied += self._advance(targets, None, stopped=stopped)
            self.log.wait(wait_seconds)
        return applied

    def _advance(
        self,
        targets: Mapping[str, Projection],
        until: int | None,
        progress: Progress | None = None,
        stopped: Callable[[], bool] | None = None,
    ) -> int:
        positions = self._positions(targets)
        if not positions:
            return 0
        topics = frozenset().union(*(p.topics for p in targets.values()))
        cursor = first = min(positions.values())
        goal = until if until is not None else self.log.head()
        decoded = 0
        while records := self.log.read(cursor, self.batch_size, until, topics):
            if records[-1][0] <= cursor:
                break  # a feed that only repeated what was applied
            started = time.perf_counter()
            changes, count = self._changes(targets, positions, records)
            decoded += count
            last = records[-1][0]
            moved = {name: last for name, at in positions.items() if last > at}
            before = {name: positions[name] for name in moved}
            written = {name: changes[name] for name in moved}
            if not self.store.write(written, moved, before):
                # Another projector applied these events first: go on from the
                # positions it saved.
                logger.info("%s moved meanwhile; re-reading", ",".join(moved))
                positions = self._positions(targets)
                cursor = min(positions.values())
                continue
            cursor = last
            positions.update(moved)
            self._report(targets, records, changes, started, cursor)
            if progress is not None:
                progress(cursor - first, max(goal, cursor) - first)
            if stopped is not None and stopped():
                return decoded  # not read to the goal: nothing to skip
        self._skip_to(goal, positions)
        return decoded

    def _positions(self, targets: Mapping[str, Projection]) -> dict[str, int]:
        stored = self.store.positions()
        positions = {name: stored.get(name, 0) for name in targets}
        ahead = {name: at for name, at in positions.items() if at > 0}
        if ahead:
            self._refuse_beyond(ahead, self.log.head())
        return positions

    @staticmethod
    def _refuse_beyond(positions: Mapping[str, int], head: int) -> None:
        """Positions only ever move to ids read from the log, so one past its
        last notification was edited; kept, it would skip every later event."""
        for name, at in positions.items():
            if at > head:
                raise PersistenceError(
                    f"the position of {name!r} is {at}, beyond the log's last"
                    f" notification {head}; correct or delete its row in the"
                    " positions table, then run 'dispatchledger rebuild --check'"
                )

    def _changes(
        self,
        targets: Mapping[str, Projection],
        positions: Mapping[str, int],
        records: Sequence[tuple[int, str, Any]],
    ) -> tuple[dict[str, Changes], int]:
        """The row changes of a batch per projection; events decoded once each."""
        changes = {name: Changes(p.tables) for name, p in targets.items()}
        decoded = 0
        for log_id, topic, record in records:
            event: Any = None
            for name, projection in targets.items():
                if log_id > positions[name] and topic in projection.topics:
                    if event is None:
                        event = self.log.decode(record)
                        decoded += 1
                    projection.handle(event, log_id, changes[name])
        return changes, decoded

    def _skip_to(self, goal: int, positions: Mapping[str, int]) -> None:
        """Move positions over the events no projection reads, up to ``goal``.

        Nothing the projections read lies between the last event read and the
        head seen at the start, so no batch is needed.
        """
        skipped = {name: goal for name, at in positions.items() if goal > at}
        if skipped:
            before = {name: positions[name] for name in skipped}
            self.store.write({}, skipped, before)

    @staticmethod
    def _report(
        targets: Mapping[str, Projection],
        records: Sequence[Any],
        changes: Mapping[str, Changes],
        started: float,
        cursor: int,
    ) -> None:
        elapsed = time.perf_counter() - started
        rows = sum(len(c) for c in changes.values())
        logger.info(
            "projected %d events (%d row changes) into %s up to position %d in %.3fs",
            len(records),
            rows,
            ",".join(targets),
            cursor,
            elapsed,
        )

    # -- rebuilding ------------------------------------------------------------

    def rebuild(
        self,
        names: Sequence[str] = (),
        check_only: bool = False,
        progress: Progress | None = None,
    ) -> list[ProjectionReport]:
        """Rebuild projections into new tables, compare with live, and switch.

        The live tables keep answering meanwhile. With ``check_only`` nothing is
        switched and the new tables are dropped. Reads only the log and writes
        only projection tables.
        """
        self.ensure_ready()
        return [
            self._rebuild_one(projection, check_only, progress)
            for projection in self.select(names)
        ]

    def _rebuild_one(
        self, projection: Projection, check_only: bool, progress: Progress | None
    ) -> ProjectionReport:
        name, shadow = projection.name, projection.name + REBUILD_SUFFIX
        # A rebuild that crashed earlier left its tables behind: start afresh.
        self.store.reset(projection.tables, REBUILD_SUFFIX, shadow)
        self.store.ensure_tables(projection.tables, REBUILD_SUFFIX)
        events = self._advance({shadow: projection}, self.log.head(), progress)
        try:
            for _attempt in range(SWAP_ATTEMPTS):
                position = self._align(projection)
                report = self._compare(projection, position, events, check_only)
                if check_only:
                    if self.store.positions().get(name, 0) == position:
                        return report
                elif self.store.swap(projection.tables, REBUILD_SUFFIX, name, position):
                    logger.info("switched %s to its rebuild at %d", name, position)
                    return report
                logger.info("%s moved while comparing; comparing again", name)
        finally:
            if check_only:
                self.store.reset(projection.tables, REBUILD_SUFFIX, shadow)
        raise PersistenceError(
            f"projection {name!r} kept moving during {SWAP_ATTEMPTS} comparisons;"
            " stop the follower or retry"
        )

    def _align(self, projection: Projection) -> int:
        """Bring the live and rebuilt tables to the same position; return it."""
        name, shadow = projection.name, projection.name + REBUILD_SUFFIX
        positions = self.store.positions()
        target = max(positions.get(name, 0), positions.get(shadow, 0))
        self._advance({name: projection, shadow: projection}, target)
        return target

    def _compare(
        self, projection: Projection, position: int, events: int, check_only: bool
    ) -> ProjectionReport:
        tables = [
            compare_tables(
                table,
                self.store.values(table),
                self.store.values(table, REBUILD_SUFFIX),
            )
            for table in projection.tables
        ]
        return ProjectionReport(
            projection=projection.name,
            position=position,
            events=events,
            identical=all(t.identical for t in tables),
            switched=not check_only,
            tables=tables,
        )
