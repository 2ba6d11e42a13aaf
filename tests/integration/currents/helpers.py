"""Helpers for the Currents tests: an opened ledger and rejects store, and
copies of Braze's sample files with fresh ids."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastavro

from dispatchledger.adapters import Settings, open_ledger
from dispatchledger.adapters.currents import Ingestor, RejectsStore, open_rejects
from dispatchledger.domain.application import DispatchLedger

SHAPES = ("avro", "json", "http")


@dataclass
class Currents:
    ledger: DispatchLedger
    rejects: RejectsStore

    @property
    def ingestor(self) -> Ingestor:
        return Ingestor(self.ledger, self.rejects, batch_size=50)


def open_currents(url: str) -> Currents:
    return Currents(open_ledger(url), open_rejects(Settings(database_url=url)))


def sample_path(samples: Path, shape: str, event_type: str) -> Path:
    """Where the sample of ``event_type`` in ``shape`` lives."""
    if shape == "avro":
        return samples / "Avro" / f"{event_type}.avro"
    if shape == "json":
        return samples / "JSON" / f"{event_type}.json"
    parts = event_type.split(".")
    return samples / "Custom HTTP" / Path(*parts[:-1]) / f"{parts[-1]}.json"


def avro_records(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    with path.open("rb") as handle:
        reader = fastavro.reader(handle)
        return reader.writer_schema, list(reader)


def copy_sample(
    samples: Path, shape: str, event_type: str, out: Path, **changes: Any
) -> Path:
    """A copy of one sample with fields changed (e.g. a fresh ``id``).

    The copy keeps the sample's file name so its event type is still known.
    """
    source = sample_path(samples, shape, event_type)
    target = out / shape / source.relative_to(samples).as_posix().replace("/", "__")
    if shape == "json":
        target = out / shape / source.name
    target.parent.mkdir(parents=True, exist_ok=True)
    if shape == "avro":
        schema, records = avro_records(source)
        with target.open("wb") as handle:
            fastavro.writer(handle, schema, [{**r, **changes} for r in records])
        return target
    data = json.loads(source.read_text(encoding="utf-8"))
    if shape == "http":
        for key, value in changes.items():
            if key in ("id", "time"):
                data[key] = value
            elif key in ("user_id", "external_user_id", "timezone"):
                data["user"][key] = value
            else:
                data["properties"][key] = value
    else:
        for key, value in changes.items():
            wrapped = isinstance(data.get(key), dict)
            data[key] = {"string": value} if wrapped and value is not None else value
    target.write_text(json.dumps(data), encoding="utf-8")
    return target


def write_avro_like(
    samples: Path, event_type: str, target: Path, records: list[dict[str, Any]]
) -> Path:
    """An Avro file with the sample's schema holding ``records`` (sample values
    for every field a record does not set)."""
    schema, (base,) = avro_records(sample_path(samples, "avro", event_type))
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as handle:
        fastavro.writer(handle, schema, [{**base, **r} for r in records])
    return target
