"""Ingest: Currents files in, observed events saved, rejects kept, counts out.

Records are normalised one by one and saved through the ledger in batches, so
memory holds one batch whatever the size of the input. A record whose stream
already exists (same event type and id) is a duplicate and is skipped; a record
that cannot be understood goes to the rejects store with its file, position and
reason, and the rest of the file is still imported.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from uuid import UUID

from eventsourcing.domain import DomainEvent
from eventsourcing.persistence import IntegrityError
from eventsourcing.persistence import PersistenceError as LibraryPersistenceError

from dispatchledger.adapters.currents.observe import to_event
from dispatchledger.adapters.currents.readers import (
    RawItem,
    dump_raw,
    input_files,
    read_file,
)
from dispatchledger.adapters.currents.records import RecordRejected, normalise
from dispatchledger.adapters.currents.rejects import Reject, RejectsStore
from dispatchledger.domain.application import DispatchLedger

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 1000


@dataclass
class IngestSummary:
    """What one import did: ``records`` counts every record read and every
    unreadable part of a file; each is imported, a duplicate, or rejected."""

    files: int = 0
    records: int = 0
    imported: int = 0
    duplicates: int = 0
    rejected: int = 0

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    def add(self, other: IngestSummary) -> None:
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)


Progress = Callable[[IngestSummary, str], None]
"""Called after each batch and file with the running totals and the file's name."""


class Ingestor:
    """Imports Currents records into a ledger, keeping rejects in a store."""

    def __init__(
        self,
        ledger: DispatchLedger,
        rejects: RejectsStore,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        progress: Progress | None = None,
    ) -> None:
        self.ledger = ledger
        self.rejects = rejects
        self.batch_size = batch_size
        self.progress = progress

    def ingest(self, paths: Iterable[str | Path]) -> IngestSummary:
        """Import every record of the files and folders named (recursively)."""
        total = IngestSummary()
        for path in input_files(paths):
            total.files += 1
            self.rejects.clear(str(path))
            self._ingest_items(str(path), read_file(path), total)
        return total

    def ingest_records(
        self,
        records: Iterable[object],
        *,
        source: str = "<records>",
        event_type: str | None = None,
    ) -> IngestSummary:
        """Import records given as Python objects, in any of the three shapes.

        ``event_type`` names the type of records that do not carry one; rejects
        are kept under ``source``, replacing those of an earlier call with the
        same ``source``.
        """
        total = IngestSummary(files=1)
        self.rejects.clear(source)
        items = (
            RawItem(source, f"record {n}", dump_raw(r), r, None, event_type)
            for n, r in enumerate(records, start=1)
        )
        self._ingest_items(source, items, total)
        return total

    def _ingest_items(
        self, file: str, items: Iterator[RawItem], total: IngestSummary
    ) -> None:
        in_file = IngestSummary()
        pending = IngestSummary()
        batch: list[DomainEvent] = []
        rejected: list[Reject] = []
        for item in items:
            event = self._understand(item, pending, rejected)
            if event is not None:
                batch.append(event)
            if len(batch) >= self.batch_size or len(rejected) >= self.batch_size:
                self._flush(batch, rejected, pending, (in_file, total), file)
        self._flush(batch, rejected, pending, (in_file, total), file)
        logger.info(
            "ingested %s: %d records, %d imported, %d duplicates, %d rejected",
            file,
            in_file.records,
            in_file.imported,
            in_file.duplicates,
            in_file.rejected,
        )

    @staticmethod
    def _understand(
        item: RawItem, counts: IngestSummary, rejected: list[Reject]
    ) -> DomainEvent | None:
        counts.records += 1
        if item.error is not None:
            counts.rejected += 1
            rejected.append(Reject(item.file, item.position, item.error, item.raw))
            return None
        try:
            return to_event(normalise(item.data, item.event_type_hint))
        except RecordRejected as error:
            counts.rejected += 1
            rejected.append(Reject(item.file, item.position, error.reason, item.raw))
            return None

    def _flush(
        self,
        batch: list[DomainEvent],
        rejected: list[Reject],
        pending: IngestSummary,
        totals: tuple[IngestSummary, ...],
        file: str,
    ) -> None:
        pending.imported = self._save_new(batch)
        pending.duplicates = len(batch) - pending.imported
        self.rejects.add(rejected)
        for summary in totals:
            summary.add(pending)
        batch.clear()
        rejected.clear()
        for name in ("records", "imported", "duplicates", "rejected"):
            setattr(pending, name, 0)
        if self.progress is not None:
            self.progress(totals[-1], file)

    def _save_new(self, batch: list[DomainEvent]) -> int:
        """Save the events whose streams do not exist yet; return how many."""
        if not batch:
            return 0
        unique: dict[UUID, DomainEvent] = {}
        for event in batch:
            unique.setdefault(event.originator_id, event)
        try:
            existing = self.ledger.stream_reader.read_streams(list(unique))
            new = [e for sid, e in unique.items() if sid not in existing]
            return self._save(new)
        except LibraryPersistenceError as error:
            raise self.ledger.translate_error(error) from error

    def _save(self, events: list[DomainEvent]) -> int:
        if not events:
            return 0
        try:
            self.ledger.save(*events)
        except IntegrityError:
            # Another import stored some of these meanwhile: save one by one.
            return sum(self._save_one(event) for event in events)
        return len(events)

    def _save_one(self, event: DomainEvent) -> int:
        try:
            self.ledger.save(event)
        except IntegrityError:
            return 0
        return 1
