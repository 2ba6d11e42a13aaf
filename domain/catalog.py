"""The Catalog aggregate: which campaigns and Canvases are defined.

It lets a user's dispatches be read straight from the event store (one participation
stream per program) without any projection.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate

from dispatchledger.domain.ids import derive_id

CATALOG_ID = derive_id("catalog")


class Catalog(Aggregate):
    TOPIC = "dispatchledger:Catalog"

    class Event(Aggregate.Event):
        TOPIC = "dispatchledger:Catalog.Event"

    class Opened(Aggregate.Created):
        TOPIC = "dispatchledger:Catalog.Opened"

    class Listed(Event):
        TOPIC = "dispatchledger:Catalog.Listed"
        program_kind: str
        program_id: str

        def apply(self, aggregate: Any) -> None:
            aggregate.programs.append((self.program_kind, self.program_id))

    def __init__(self) -> None:
        self.programs: list[tuple[str, str]] = []

    @classmethod
    def open(cls, at: datetime) -> Catalog:
        return cls._create(cls.Opened, id=CATALOG_ID, timestamp=at)

    def list_program(self, program_kind: str, program_id: str, at: datetime) -> None:
        if (program_kind, program_id) not in self.programs:
            self.trigger_event(
                self.Listed,
                program_kind=program_kind,
                program_id=program_id,
                timestamp=at,
            )
