"""Malformed input: each gives a clear reason and loses no valid record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dispatchledger.adapters import Settings
from dispatchledger.adapters.currents import open_rejects
from dispatchledger.adapters.currents.log import read_events
from dispatchledger.domain.errors import DatabaseUnavailable, InvalidCommand
from dispatchledger.domain.observed import ObservedMessageDispatched

from .helpers import Currents, open_currents, write_avro_like

SEND = "users.messages.email.Send"


def envelope(event_id: str, **changes: object) -> dict[str, object]:
    return {
        "event_type": SEND,
        "id": event_id,
        "time": 2033802504,
        "properties": {"dispatch_id": "d-1", "campaign_id": "c-1"},
        "user": {"user_id": "u1"},
        **changes,
    }


def stored_ids(currents: Currents) -> list[str]:
    return sorted(
        e.event_id
        for e in read_events(currents.ledger, [ObservedMessageDispatched.TOPIC])
        if isinstance(e, ObservedMessageDispatched)
    )


def test_a_truncated_avro_file_keeps_the_records_before_the_damage(
    currents: Currents, samples: Path, tmp_path: Path
) -> None:
    whole = write_avro_like(
        samples,
        SEND,
        tmp_path / "whole" / f"{SEND}.avro",
        [{"id": f"r{n:03}"} for n in range(600)],
    )
    data = whole.read_bytes()
    truncated = tmp_path / "cut" / f"{SEND}.avro"
    truncated.parent.mkdir()
    truncated.write_bytes(data[: len(data) * 3 // 4])

    summary = currents.ingestor.ingest([truncated])

    (reject,) = currents.rejects.list()
    assert "damaged or truncated after record" in reject.reason
    assert summary.rejected == 1
    assert 0 < summary.imported < 600
    assert stored_ids(currents) == [f"r{n:03}" for n in range(summary.imported)]


def test_json_lines_keep_good_lines_around_bad_ones(
    currents: Currents, tmp_path: Path
) -> None:
    path = tmp_path / "batch.jsonl"
    lines = [
        json.dumps(envelope("ok-1")),
        '{"event_type": "users.messages.email.Send", "id": ',
        json.dumps(envelope("bad-time", time="yesterday")),
        json.dumps(envelope("ok-2")),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    summary = currents.ingestor.ingest([path])

    assert stored_ids(currents) == ["ok-1", "ok-2"]
    assert (summary.records, summary.imported, summary.rejected) == (4, 2, 2)
    rejects = currents.rejects.list()
    assert [(r.position, r.reason.split(":")[0]) for r in rejects] == [
        ("line 2", "invalid JSON at column 51"),
        (
            "line 3",
            "time must be whole Unix seconds (an integer), not a string ('yesterday')",
        ),
    ]
    assert rejects[1].raw == lines[2]


def test_an_array_of_envelopes_keeps_the_good_ones(
    currents: Currents, tmp_path: Path
) -> None:
    path = tmp_path / "post.json"
    batch = [envelope("ok-1"), envelope("no-user", user={}), envelope("ok-2")]
    path.write_text(json.dumps(batch, indent=2), encoding="utf-8")

    summary = currents.ingestor.ingest([path])

    assert stored_ids(currents) == ["ok-1", "ok-2"]
    (reject,) = currents.rejects.list()
    assert (reject.position, reject.reason) == ("record 2", "missing user_id")
    assert summary.rejected == 1


def test_an_events_batch_is_read_like_an_array(
    currents: Currents, tmp_path: Path
) -> None:
    path = tmp_path / "post.json"
    path.write_text(json.dumps({"events": [envelope("ok-1"), envelope("ok-2")]}))

    summary = currents.ingestor.ingest([path])

    assert (summary.records, summary.imported) == (2, 2)
    assert stored_ids(currents) == ["ok-1", "ok-2"]


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.json", b"", "empty file: no records"),
        ("blank.jsonl", b"\n  \n", "empty file: no records"),
        (
            "binary.json",
            bytes(range(256)),
            "not text: binary content that is neither Avro nor JSON",
        ),
        (
            "broken.json",
            b'{\n  "id": "x",\n  "time": \n}',
            "invalid JSON at line 4, column 1: Expecting value",
        ),
        (
            "short.avro",
            b"Obj\x01\x00",
            "unreadable Avro header: cannot read header - is it an avro file?",
        ),
    ],
)
def test_unreadable_files_are_rejected_with_a_clear_reason(
    currents: Currents, tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps(envelope("ok-1")) + "\n", encoding="utf-8")

    summary = currents.ingestor.ingest([path, good])

    (reject,) = currents.rejects.list()
    assert (reject.file, reject.reason) == (str(path), reason)
    assert (summary.files, summary.imported, summary.rejected) == (2, 1, 1)
    assert stored_ids(currents) == ["ok-1"]


def test_reingesting_a_file_replaces_its_rejects(
    currents: Currents, tmp_path: Path
) -> None:
    path = tmp_path / "batch.jsonl"
    path.write_text(json.dumps(envelope("x", time=None)) + "\n", encoding="utf-8")
    currents.ingestor.ingest([path])
    path.write_text(json.dumps(envelope("x")) + "\n", encoding="utf-8")

    summary = currents.ingestor.ingest([path])

    assert summary.rejected == 0
    assert currents.rejects.list() == []
    assert stored_ids(currents) == ["x"]


def test_a_missing_path_fails_before_anything_is_read(
    currents: Currents, tmp_path: Path
) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps(envelope("ok-1")) + "\n", encoding="utf-8")

    with pytest.raises(InvalidCommand, match="nope: no such file or folder"):
        currents.ingestor.ingest([good, tmp_path / "nope"])

    assert stored_ids(currents) == []


def test_folders_are_searched_for_record_files_only(
    currents: Currents, tmp_path: Path
) -> None:
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    (nested / "events.jsonl").write_text(json.dumps(envelope("deep")) + "\n")
    (tmp_path / "README.md").write_text("not records")

    summary = currents.ingestor.ingest([tmp_path])

    assert (summary.files, summary.imported, summary.rejected) == (1, 1, 0)


@pytest.mark.parametrize("backend", ["memory", "sqlite", "postgres"])
def test_dedupe_and_rejects_on_every_backend(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = {
        "memory": lambda: "memory://",
        "sqlite": lambda: str(request.getfixturevalue("sqlite_url")),
        "postgres": lambda: str(request.getfixturevalue("fresh_postgres_url")),
    }[backend]()
    opened = open_currents(url)
    path = tmp_path / "batch.jsonl"
    rows = [envelope("a"), envelope("b"), envelope("a"), envelope("c", id=None)]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    try:
        first = opened.ingestor.ingest([path])
        second = opened.ingestor.ingest([path])

        assert (first.imported, first.duplicates, first.rejected) == (2, 1, 1)
        assert (second.imported, second.duplicates, second.rejected) == (0, 3, 1)
        assert stored_ids(opened) == ["a", "b"]
        assert [r.reason for r in opened.rejects.list()] == ["missing id"]
    finally:
        opened.rejects.close()
        opened.ledger.close()


def test_an_unreachable_database_is_a_typed_error() -> None:
    settings = Settings(database_url="postgresql://postgres@127.0.0.1:1/nowhere")

    with pytest.raises(DatabaseUnavailable, match=r"127\.0\.0\.1:1"):
        open_rejects(settings)


class BlindReader:
    """A stream reader that never sees existing streams, as if another import
    stored them between the check and the save."""

    def read_streams(self, stream_ids: object) -> dict[object, object]:
        return {}


def test_a_record_stored_meanwhile_is_a_duplicate_not_a_failure(
    currents: Currents, tmp_path: Path
) -> None:
    path = tmp_path / "batch.jsonl"
    path.write_text("\n".join(json.dumps(envelope(i)) for i in ("a", "b")) + "\n")
    currents.ingestor.ingest([path])
    currents.ledger.stream_reader = BlindReader()  # type: ignore[assignment]

    again = currents.ingestor.ingest([path])

    assert (again.imported, again.duplicates, again.rejected) == (0, 2, 0)
    assert stored_ids(currents) == ["a", "b"]
