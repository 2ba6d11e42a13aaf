"""Large inputs stream: memory does not grow with the number of records."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

from dispatchledger.adapters.currents import Ingestor, IngestSummary

from .helpers import open_currents


def write_sends(path: Path, count: int) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for n in range(count):
            record = {
                "event_type": "users.messages.email.Send",
                "id": f"evt-{n}",
                "time": 2_000_000_000 + n,
                "properties": {"dispatch_id": f"d-{n % 50}", "campaign_id": "c"},
                "user": {"user_id": f"u{n}"},
            }
            handle.write(json.dumps(record) + "\n")
    return path


def peak_while_ingesting(tmp_path: Path, count: int) -> tuple[int, IngestSummary]:
    source = write_sends(tmp_path / f"sends-{count}.jsonl", count)
    opened = open_currents(f"sqlite:///{tmp_path / f'ledger-{count}.db'}")
    try:
        tracemalloc.start()
        summary = Ingestor(opened.ledger, opened.rejects, batch_size=200).ingest(
            [source]
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        opened.rejects.close()
        opened.ledger.close()
    return peak, summary


def test_memory_stays_flat_as_the_input_grows(tmp_path: Path) -> None:
    small_peak, small = peak_while_ingesting(tmp_path, 1_000)
    large_peak, large = peak_while_ingesting(tmp_path, 6_000)

    assert (small.imported, large.imported) == (1_000, 6_000)
    # Six times the records; the peak is one batch either way.
    assert large_peak < small_peak * 1.5


def test_progress_is_reported_after_each_batch(tmp_path: Path) -> None:
    source = write_sends(tmp_path / "sends.jsonl", 450)
    opened = open_currents(f"sqlite:///{tmp_path / 'ledger.db'}")
    seen: list[tuple[int, int]] = []
    try:
        Ingestor(
            opened.ledger,
            opened.rejects,
            batch_size=200,
            progress=lambda total, _file: seen.append((total.files, total.records)),
        ).ingest([source])
    finally:
        opened.rejects.close()
        opened.ledger.close()

    assert seen == [(1, 200), (1, 400), (1, 450)]
