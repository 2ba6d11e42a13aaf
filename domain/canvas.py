"""The Canvas aggregate: a multi-step journey's definition and lifecycle.

Journeys are recorded per user (:mod:`dispatchledger.domain.journey`); this stream
holds only what defines the Canvas.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate

from dispatchledger.domain.errors import (
    CampaignArchived,
    DefinitionConflict,
    OccurrenceNotAllowed,
)
from dispatchledger.domain.ids import canvas_stream_id
from dispatchledger.domain.templates import check_variation
from dispatchledger.domain.values import CanvasDefinition


class Canvas(Aggregate):
    TOPIC = "dispatchledger:Canvas"

    class Event(Aggregate.Event):
        TOPIC = "dispatchledger:Canvas.Event"

    class Defined(Aggregate.Created):
        TOPIC = "dispatchledger:Canvas.Defined"
        definition: CanvasDefinition

    class Archived(Event):
        TOPIC = "dispatchledger:Canvas.Archived"

        def apply(self, aggregate: Any) -> None:
            aggregate.archived = True

    class Launched(Event):
        """A scheduled-once program ran its one occurrence or entry run."""

        TOPIC = "dispatchledger:Canvas.Launched"
        source_id: str

        def apply(self, aggregate: Any) -> None:
            aggregate.launched_as = self.source_id

    def __init__(self, definition: CanvasDefinition) -> None:
        self.definition = definition
        self.archived = False
        self.launched_as: str | None = None

    @classmethod
    def define(cls, definition: CanvasDefinition, at: datetime) -> Canvas:
        for step in definition.steps:
            for variation in step.messages:
                check_variation(definition.canvas_id, variation, in_canvas=True)
        return cls._create(
            cls.Defined,
            id=canvas_stream_id(definition.canvas_id),
            definition=definition,
            timestamp=at,
        )

    @property
    def canvas_id(self) -> str:
        return self.definition.canvas_id

    @property
    def api_id(self) -> str:
        return self.canvas_id

    def ensure_same_definition(self, definition: CanvasDefinition) -> None:
        if definition != self.definition:
            raise DefinitionConflict("Canvas", self.canvas_id)

    def ensure_active(self) -> None:
        if self.archived:
            raise CampaignArchived("Canvas", self.canvas_id)

    def launch_once(self, source_id: str, at: datetime) -> None:
        """Record the one run of a scheduled-once program; refuse a second one."""
        if self.launched_as is None:
            self.trigger_event(self.Launched, source_id=source_id, timestamp=at)
        elif self.launched_as != source_id:
            raise OccurrenceNotAllowed(self.api_id, self.launched_as, source_id)

    def archive(self, at: datetime) -> None:
        if not self.archived:
            self.trigger_event(self.Archived, timestamp=at)
