"""The Campaign aggregate: a campaign's definition and lifecycle.

Sends are not recorded here: each recipient has a stream of its own
(:mod:`dispatchledger.domain.recipient`), so this stream never grows with the audience.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate

from dispatchledger.domain.errors import (
    CampaignArchived,
    DefinitionConflict,
    InvalidCommand,
    OccurrenceNotAllowed,
)
from dispatchledger.domain.ids import campaign_stream_id
from dispatchledger.domain.templates import check_variation
from dispatchledger.domain.values import CampaignDefinition


class Campaign(Aggregate):
    TOPIC = "dispatchledger:Campaign"

    class Event(Aggregate.Event):
        TOPIC = "dispatchledger:Campaign.Event"

    class Defined(Aggregate.Created):
        TOPIC = "dispatchledger:Campaign.Defined"
        definition: CampaignDefinition

    class TemplateRevised(Event):
        TOPIC = "dispatchledger:Campaign.TemplateRevised"
        variation_id: str
        template: str

        def apply(self, aggregate: Any) -> None:
            campaign: Campaign = aggregate
            variations = tuple(
                v.model_copy(update={"template": self.template})
                if v.variation_id == self.variation_id
                else v
                for v in campaign.definition.variations
            )
            campaign.definition = campaign.definition.model_copy(
                update={"variations": variations}
            )

    class Archived(Event):
        TOPIC = "dispatchledger:Campaign.Archived"

        def apply(self, aggregate: Any) -> None:
            aggregate.archived = True

    class Launched(Event):
        """A scheduled-once program ran its one occurrence or entry run."""

        TOPIC = "dispatchledger:Campaign.Launched"
        source_id: str

        def apply(self, aggregate: Any) -> None:
            aggregate.launched_as = self.source_id

    def __init__(self, definition: CampaignDefinition) -> None:
        self.definition = definition
        self.archived = False
        self.launched_as: str | None = None

    @classmethod
    def define(cls, definition: CampaignDefinition, at: datetime) -> Campaign:
        for variation in definition.variations:
            check_variation(definition.campaign_id, variation)
        return cls._create(
            cls.Defined,
            id=campaign_stream_id(definition.campaign_id),
            definition=definition,
            timestamp=at,
        )

    @property
    def campaign_id(self) -> str:
        return self.definition.campaign_id

    @property
    def api_id(self) -> str:
        return self.campaign_id

    def ensure_same_definition(self, definition: CampaignDefinition) -> None:
        if definition != self.definition:
            raise DefinitionConflict("campaign", self.campaign_id)

    def ensure_active(self) -> None:
        if self.archived:
            raise CampaignArchived("campaign", self.campaign_id)

    def revise_template(self, variation_id: str, template: str, at: datetime) -> None:
        matches = [
            v for v in self.definition.variations if v.variation_id == variation_id
        ]
        if not matches:
            raise InvalidCommand(
                f"campaign {self.campaign_id!r} has no variation {variation_id!r}",
                [{"field": "variation_id", "value": variation_id}],
            )
        check_variation(
            self.campaign_id, matches[0].model_copy(update={"template": template})
        )
        self.trigger_event(
            self.TemplateRevised,
            variation_id=variation_id,
            template=template,
            timestamp=at,
        )

    def launch_once(self, source_id: str, at: datetime) -> None:
        """Record the one run of a scheduled-once program; refuse a second one."""
        if self.launched_as is None:
            self.trigger_event(self.Launched, source_id=source_id, timestamp=at)
        elif self.launched_as != source_id:
            raise OccurrenceNotAllowed(self.api_id, self.launched_as, source_id)

    def archive(self, at: datetime) -> None:
        if not self.archived:
            self.trigger_event(self.Archived, timestamp=at)
