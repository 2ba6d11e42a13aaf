"""The read side in one object: keep the read models current, rebuild, query."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from dispatchledger.projections.compare import ProjectionReport
from dispatchledger.projections.framework import EventLog, Projection, ProjectionStore
from dispatchledger.projections.queries import DispatchQueries
from dispatchledger.projections.runner import Progress, ProjectionRunner


class ReadModels(DispatchQueries):
    """Projections over one event log and one store, with their queries.

    Queries read what has been projected so far; call :meth:`catch_up` first
    (or run a follower) to see the latest events.
    """

    def __init__(
        self,
        store: ProjectionStore,
        log: EventLog,
        projections: Sequence[Projection],
        batch_size: int = 1000,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(store)
        self.log = log
        self.runner = ProjectionRunner(store, log, projections, batch_size)
        self.runner.ensure_ready()
        self._on_close = on_close

    @property
    def names(self) -> list[str]:
        """The registered projections, in order."""
        return list(self.runner.projections)

    def positions(self) -> dict[str, int]:
        """Each live projection's position in the log."""
        stored = self.store.positions()
        return {name: stored.get(name, 0) for name in self.names}

    def catch_up(
        self, names: Sequence[str] = (), progress: Progress | None = None
    ) -> int:
        """Apply every new event; return how many events were decoded."""
        return self.runner.catch_up(names, progress=progress)

    def follow(self, stopped: Callable[[], bool], wait_seconds: float = 1.0) -> int:
        """Keep catching up as events arrive until ``stopped()`` is true."""
        return self.runner.follow(stopped, wait_seconds)

    def rebuild(
        self,
        names: Sequence[str] = (),
        check_only: bool = False,
        progress: Progress | None = None,
    ) -> list[ProjectionReport]:
        """Rebuild from the log, compare with live, switch unless ``check_only``."""
        return self.runner.rebuild(names, check_only, progress)

    def close(self) -> None:
        """Release the store, the log's listener and what the opener attached."""
        self.store.close()
        if self._on_close is not None:
            self._on_close()
