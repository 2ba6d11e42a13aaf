"""Readers: files and folders in, one item per record out, whatever the shape.

The shape is detected per file from its content, never its name: an Avro object
container (``Obj\\x01``), JSON lines, or one JSON document (an object, an array,
or ``{"events": [...]}``). Avro files and JSON lines are streamed; a single JSON
document is read whole. A part that cannot be read becomes an item with an
``error``; the readable records around it are still given.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastavro

from dispatchledger.domain.errors import InvalidCommand

logger = logging.getLogger(__name__)

AVRO_MAGIC = b"Obj\x01"
SUFFIXES = frozenset({".avro", ".json", ".jsonl", ".ndjson"})
"""Files a folder is searched for; a file named on the command line is read anyway."""
MAX_RAW_CHARS = 1_000_000
"""A rejected part keeps at most this much of its text."""
_AVRO_ERRORS = (EOFError, ValueError, TypeError, KeyError, IndexError, OSError)


@dataclass(frozen=True)
class RawItem:
    """One record as read (``data``), or one unreadable part (``error``)."""

    file: str
    position: str
    raw: str
    data: object = None
    error: str | None = None
    event_type_hint: str | None = None


def input_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """The files named, and the record files found under the folders named.

    Every path is checked first, so a mistyped one fails before anything is read.
    """
    checked = [Path(p) for p in paths]
    for path in checked:
        if not path.exists():
            raise InvalidCommand(f"{path}: no such file or folder")
    for path in checked:
        if path.is_dir():
            yield from sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and p.suffix.lower() in SUFFIXES
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        else:
            yield path


def read_file(path: Path) -> Iterator[RawItem]:
    """Every record of one file, in order."""
    name = str(path)
    try:
        with path.open("rb") as handle:
            head = handle.read(len(AVRO_MAGIC))
    except OSError as error:
        yield RawItem(name, "file", "", error=f"cannot read: {error.strerror}")
        return
    if head == AVRO_MAGIC:
        yield from _read_avro(path)
    else:
        yield from _read_json(path)


def type_hint(path: Path, schema_name: str | None = None) -> str | None:
    """The event type a file's location names (``event_type=...`` folder, file
    name), or else its Avro schema name."""
    for part in reversed(path.parts):
        if part.startswith("event_type="):
            return part.removeprefix("event_type=")
    stem = path.name
    for suffix in SUFFIXES:
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
    if stem.startswith("users."):
        return stem
    if schema_name and "users." in schema_name:
        return schema_name[schema_name.index("users.") :]
    return None


def _read_avro(path: Path) -> Iterator[RawItem]:
    name = str(path)
    with path.open("rb") as handle:
        try:
            reader = fastavro.reader(handle)
        except _AVRO_ERRORS as error:
            yield RawItem(name, "header", "", error=f"unreadable Avro header: {error}")
            return
        schema = reader.writer_schema
        hint = type_hint(path, schema.get("name") if isinstance(schema, dict) else None)
        count = 0
        records = iter(reader)
        while True:
            try:
                record = next(records)
            except StopIteration:
                return
            except _AVRO_ERRORS as error:
                yield RawItem(
                    name,
                    f"record {count + 1}",
                    "",
                    error=f"Avro data damaged or truncated after record {count}:"
                    f" {error}",
                )
                return
            count += 1
            yield RawItem(name, f"record {count}", dump_raw(record), record, None, hint)


def _read_json(path: Path) -> Iterator[RawItem]:
    name = str(path)
    hint = type_hint(path)
    try:
        with path.open(encoding="utf-8") as handle:
            first = _first_line(handle)
            if first is None:
                yield RawItem(name, "file", "", error="empty file: no records")
                return
            if _parses(first):
                handle.seek(0)
                yield from _json_lines(name, handle, hint)
                return
            handle.seek(0)
            text = handle.read()
    except UnicodeDecodeError:
        yield RawItem(
            name,
            "file",
            "",
            error="not text: binary content that is neither Avro nor JSON",
        )
        return
    yield from _json_document(name, text, hint)


def _first_line(handle: Iterable[str]) -> str | None:
    for line in handle:
        if line.strip():
            if "\x00" in line:
                raise UnicodeDecodeError("utf-8", b"\x00", 0, 1, "NUL byte")
            return line
    return None


def _parses(line: str) -> bool:
    try:
        json.loads(line)
    except json.JSONDecodeError:
        return False
    return True


def _json_lines(name: str, lines: Iterable[str], hint: str | None) -> Iterator[RawItem]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"line {number}"
        line = line.rstrip("\r\n")
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            reason = f"invalid JSON at column {error.colno}: {error.msg}"
            yield RawItem(name, where, line, error=reason)
            continue
        yield from _values(name, where, value, hint)


def _json_document(name: str, text: str, hint: str | None) -> Iterator[RawItem]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        reason = (
            f"invalid JSON at line {error.lineno}, column {error.colno}: {error.msg}"
        )
        yield RawItem(name, f"line {error.lineno}", text[:MAX_RAW_CHARS], error=reason)
        return
    yield from _values(name, "record", value, hint)


def _values(name: str, where: str, value: Any, hint: str | None) -> Iterator[RawItem]:
    """The records of one JSON value: an object, an array, or an events batch."""
    if isinstance(value, dict) and isinstance(value.get("events"), list):
        value = value["events"]
    if isinstance(value, list):
        for index, item in enumerate(value, start=1):
            position = f"{where} {index}" if where == "record" else f"{where}[{index}]"
            yield RawItem(name, position, dump_raw(item), item, None, hint)
        return
    position = "record 1" if where == "record" else where
    yield RawItem(name, position, dump_raw(value), value, None, hint)


def dump_raw(value: object) -> str:
    """The text a rejected record is kept as: its JSON, cut at MAX_RAW_CHARS."""
    return json.dumps(value, default=str, ensure_ascii=False)[:MAX_RAW_CHARS]
