"""Idempotency keys: what a repeated command is compared on, and how its first
result is kept."""

from __future__ import annotations

import hashlib
from datetime import datetime

from dispatchledger.domain import ids
from dispatchledger.domain.commands import (
    ArchiveResult,
    Command,
    DefinitionResult,
    Result,
    ScheduleResult,
    SendResult,
)
from dispatchledger.domain.events import (
    CommandRecorded,
)


def fingerprint(command: Command) -> str:
    body = command.model_dump_json(exclude={"idempotency_key", "at"})
    return hashlib.sha256(body.encode()).hexdigest()


def record_command(
    key: str, fingerprint: str, result: Result, at: datetime
) -> CommandRecorded:
    return CommandRecorded(
        originator_id=ids.idempotency_stream_id(key),
        originator_version=1,
        timestamp=at,
        key=key,
        fingerprint=fingerprint,
        result_type=type(result).__name__,
        result=result.model_dump_json(),
    )


RESULT_TYPES: dict[str, type[Result]] = {
    cls.__name__: cls
    for cls in (DefinitionResult, SendResult, ScheduleResult, ArchiveResult)
}
