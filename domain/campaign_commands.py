"""The ledger's commands that define programs and send campaigns."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, cast

from dispatchledger.domain import ids
from dispatchledger.domain.campaign import Campaign
from dispatchledger.domain.canvas import Canvas
from dispatchledger.domain.commands import (
    ApiTrigger,
    ArchiveProgram,
    ArchiveResult,
    DefineCampaign,
    DefineCanvas,
    DefinitionResult,
    Result,
    RunOccurrence,
    ScheduleApiTrigger,
    ScheduleResult,
    SendResult,
    TriggerCampaign,
)
from dispatchledger.domain.errors import (
    DefinitionConflict,
    EmptyAudience,
)
from dispatchledger.domain.ledger_base import LedgerBase
from dispatchledger.domain.participation import (
    Source,
    send_campaign,
)
from dispatchledger.domain.sending import (
    Pending,
    carries,
    non_empty,
    require_type,
    shares_call_id,
)
from dispatchledger.domain.values import (
    DeliveryType,
)


class CampaignCommands(LedgerBase):
    """Defining and archiving programs; occurrences, triggers and API calls."""

    # -- definitions -------------------------------------------------------------

    def _define_campaign(self, command: DefineCampaign) -> tuple[Result, Pending]:
        definition = command.campaign
        existing = self._get(Campaign, ids.campaign_stream_id(definition.campaign_id))
        if existing is not None:
            existing.ensure_same_definition(definition)
            return self._defined(command, definition.campaign_id, None)
        campaign = Campaign.define(definition, command.at)
        return self._defined(command, definition.campaign_id, campaign)

    def _define_canvas(self, command: DefineCanvas) -> tuple[Result, Pending]:
        definition = command.canvas
        existing = self._get(Canvas, ids.canvas_stream_id(definition.canvas_id))
        if existing is not None:
            existing.ensure_same_definition(definition)
            return self._defined(command, definition.canvas_id, None)
        canvas = Canvas.define(definition, command.at)
        return self._defined(command, definition.canvas_id, canvas)

    def _defined(
        self,
        command: DefineCampaign | DefineCanvas,
        program_id: str,
        created: Campaign | Canvas | None,
    ) -> tuple[Result, Pending]:
        """The result of a definition; a new program is listed in the catalog."""
        kind: Literal["campaign", "canvas"] = (
            "campaign" if isinstance(command, DefineCampaign) else "canvas"
        )
        result = DefinitionResult(
            command=command.command,
            program_kind=kind,
            program_id=program_id,
            created=created is not None,
        )
        if created is None:
            return result, []
        catalog = self._catalog(command.at)
        catalog.list_program(kind, program_id, command.at)
        return result, [created, catalog]

    def _archive(self, command: ArchiveProgram) -> tuple[Result, Pending]:
        # Archiving is idempotent: an archived program archives again as a
        # no-op, so a retried archive does not fail.
        program: Campaign | Canvas
        if command.program_kind == "campaign":
            program = self._campaign(command.program_id, active=False)
        else:
            program = self._canvas(command.program_id, active=False)
        program.archive(command.at)
        result = ArchiveResult(
            command=command.command,
            program_kind=command.program_kind,
            program_id=command.program_id,
        )
        return result, [program]

    # -- campaign sends ----------------------------------------------------------

    def _run_occurrence(
        self, command: RunOccurrence, audience: Iterable[str] | None
    ) -> tuple[Result, Pending]:
        campaign = self._campaign(command.campaign_id)
        require_type(
            campaign.definition.delivery_type, DeliveryType.SCHEDULED, campaign
        )
        recipients = non_empty(
            command.audience if audience is None else audience,
            EmptyAudience("campaign", command.campaign_id, command.occurrence_id),
        )
        pending: Pending = []
        if not campaign.definition.recurring:
            campaign.launch_once(command.occurrence_id, command.at)
            pending.append(campaign)
        transmission = self._start_transmission(
            "campaign",
            command.campaign_id,
            "occurrence",
            command.occurrence_id,
            command.at,
            pending,
            shared=carries(campaign.definition.variations),
            save_now=True,
        )
        source = Source("occurrence", command.occurrence_id, transmission.dispatch_id)
        tally = self._send_in_batches(
            recipients,
            lambda user: ids.recipient_stream_id(command.campaign_id, user),
            lambda user, state: send_campaign(
                campaign.definition,
                state,
                user,
                source,
                command.at,
                self.mint_dispatch_id,
            ),
            pending,
        )
        self._complete(transmission, tally, command.at)
        if transmission.dispatch_id is not None:
            # A resumed occurrence that had no one left to send to still names
            # its one id.
            tally.dispatch_ids.setdefault(transmission.dispatch_id, None)
        result = tally.result(command.command, "campaign", command.campaign_id, source)
        return result, []

    def _trigger(self, command: TriggerCampaign) -> tuple[Result, Pending]:
        campaign = self._campaign(command.campaign_id)
        require_type(
            campaign.definition.delivery_type, DeliveryType.ACTION_BASED, campaign
        )
        trigger_id = command.trigger_id or ids.mint_source_id()
        source = Source("trigger", trigger_id)
        return self._send_bounded(
            command.command,
            "campaign",
            command.campaign_id,
            source,
            [command.user_id],
            lambda user: ids.recipient_stream_id(command.campaign_id, user),
            lambda user, state: send_campaign(
                campaign.definition,
                state,
                user,
                source,
                command.at,
                self.mint_dispatch_id,
            ),
            [],
        )

    def _api_trigger(self, command: ApiTrigger) -> tuple[Result, Pending]:
        campaign = self._campaign(command.campaign_id)
        definition = campaign.definition
        require_type(definition.delivery_type, DeliveryType.API_TRIGGERED, campaign)
        call_id = command.call_id or ids.mint_source_id()
        pending: Pending = []
        transmission = self._start_transmission(
            "campaign",
            command.campaign_id,
            "api_call",
            call_id,
            command.at,
            pending,
            shared=shares_call_id(definition),
        )
        source = Source("api_call", call_id, transmission.dispatch_id)
        result, rest = self._send_bounded(
            command.command,
            "campaign",
            command.campaign_id,
            source,
            command.recipients,
            lambda user: ids.recipient_stream_id(command.campaign_id, user),
            lambda user, state: send_campaign(
                definition, state, user, source, command.at, self.mint_dispatch_id
            ),
            pending,
        )
        if not transmission.completed:
            send = cast(SendResult, result)
            # The result lists at most MAX_SKIPPED_LISTED users; the counts
            # cover them all.
            skipped = sum(send.skipped_counts.values())
            transmission.complete(send.recipients, send.messages, skipped, command.at)
            if not any(obj is transmission for obj in rest):
                rest.append(transmission)
        return result, rest

    def _schedule_api_trigger(
        self, command: ScheduleApiTrigger
    ) -> tuple[Result, Pending]:
        campaign = self._campaign(command.campaign_id)
        definition = campaign.definition
        require_type(definition.delivery_type, DeliveryType.API_TRIGGERED, campaign)
        pending: Pending = []
        transmission = self._start_transmission(
            "campaign",
            command.campaign_id,
            "api_call",
            command.call_id,
            command.at,
            pending,
            shared=shares_call_id(definition),
            send_at=command.send_at,
        )
        if transmission.send_at != command.send_at:
            # The call already exists (scheduled for another time, or sent):
            # its id and time stand; moving it would need an event of its own.
            raise DefinitionConflict("API call", command.call_id)
        result = ScheduleResult(
            command=command.command,
            campaign_id=command.campaign_id,
            call_id=command.call_id,
            dispatch_id=transmission.dispatch_id,
            send_at=command.send_at,
        )
        return result, pending
