"""The Transmission aggregate: one act of sending that has an identity of its own.

A scheduled occurrence, a Canvas entry run and an API call each start a transmission
before any message is sent (rule D9). When its recipients share one dispatch id, the
id is minted here and every message of the transmission carries it. A Canvas entry
run whose variants enter at different steps sends one message per entry step, so it
holds one id per entry step (``step_dispatch_ids``; rules D5 and D10).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate

from dispatchledger.domain.ids import transmission_stream_id


class Transmission(Aggregate):
    TOPIC = "dispatchledger:Transmission"

    class Event(Aggregate.Event):
        TOPIC = "dispatchledger:Transmission.Event"

    class Started(Aggregate.Created):
        TOPIC = "dispatchledger:Transmission.Started"
        program_kind: str
        program_id: str
        source_kind: str
        source_id: str
        dispatch_id: str | None
        send_at: datetime | None
        step_dispatch_ids: dict[str, str]

    class Completed(Event):
        TOPIC = "dispatchledger:Transmission.Completed"
        recipients: int
        messages: int
        skipped: int

        def apply(self, aggregate: Any) -> None:
            aggregate.completed = True
            aggregate.recipients += self.recipients
            aggregate.messages += self.messages
            aggregate.skipped += self.skipped

    def __init__(
        self,
        program_kind: str,
        program_id: str,
        source_kind: str,
        source_id: str,
        dispatch_id: str | None,
        send_at: datetime | None,
        step_dispatch_ids: dict[str, str],
    ) -> None:
        self.program_kind = program_kind
        self.program_id = program_id
        self.source_kind = source_kind
        self.source_id = source_id
        self.dispatch_id = dispatch_id
        self.send_at = send_at
        self.step_dispatch_ids = step_dispatch_ids
        self.completed = False
        self.recipients = 0
        self.messages = 0
        self.skipped = 0

    @classmethod
    def start(
        cls,
        program_kind: str,
        program_id: str,
        source_kind: str,
        source_id: str,
        dispatch_id: str | None,
        at: datetime,
        send_at: datetime | None = None,
        step_dispatch_ids: dict[str, str] | None = None,
    ) -> Transmission:
        return cls._create(
            cls.Started,
            id=transmission_stream_id(program_kind, program_id, source_id),
            program_kind=program_kind,
            program_id=program_id,
            source_kind=source_kind,
            source_id=source_id,
            dispatch_id=dispatch_id,
            send_at=send_at,
            step_dispatch_ids=dict(step_dispatch_ids or {}),
            timestamp=at,
        )

    def complete(
        self, recipients: int, messages: int, skipped: int, at: datetime
    ) -> None:
        self.trigger_event(
            self.Completed,
            recipients=recipients,
            messages=messages,
            skipped=skipped,
            timestamp=at,
        )
