"""The ledger application: commands in, events recorded, typed results out.

:class:`DispatchLedger` is an ``eventsourcing`` application. It validates each
command, loads the state the rules need (participation streams in batches), asks the
domain for events, and saves each batch in one transaction. Persistence is chosen by
the environment it is given (see :mod:`dispatchledger.adapters.settings`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar, cast

from eventsourcing.persistence import (
    IntegrityError,
)
from pydantic import ValidationError

from dispatchledger.domain import idempotency, ids
from dispatchledger.domain.campaign import Campaign
from dispatchledger.domain.campaign_commands import CampaignCommands
from dispatchledger.domain.canvas import Canvas
from dispatchledger.domain.canvas_commands import CanvasCommands
from dispatchledger.domain.catalog import CATALOG_ID, Catalog
from dispatchledger.domain.commands import (
    COMMAND_ADAPTER,
    AdvanceStep,
    AnyCommand,
    ApiTrigger,
    ArchiveProgram,
    ArchiveResult,
    Command,
    DefineCampaign,
    DefineCanvas,
    DefinitionResult,
    DispatchRecord,
    EnterCanvas,
    Result,
    RunCanvasEntry,
    RunOccurrence,
    ScheduleApiTrigger,
    ScheduleResult,
    SendResult,
    TriggerCampaign,
)
from dispatchledger.domain.errors import (
    ConcurrencyConflict,
    IdempotencyKeyReused,
    InvalidCommand,
    UnknownCampaign,
    UnknownCanvas,
)
from dispatchledger.domain.events import (
    CommandRecorded,
    MessageDispatched,
    UserEntered,
)
from dispatchledger.domain.personalization import (
    RenderedMessage,
    RenderRequest,
    render_message,
    render_request,
)
from dispatchledger.domain.sending import (
    Pending,
    check_audience,
)
from dispatchledger.domain.storage import (
    storage_errors_translated,
)
from dispatchledger.domain.transmission import Transmission
from dispatchledger.domain.validation import checked_id, invalid_command
from dispatchledger.domain.values import (
    CampaignDefinition,
    CanvasDefinition,
)

_R = TypeVar("_R", bound=Result)
_A = TypeVar("_A", Campaign, Canvas, Transmission, Catalog)
_F = TypeVar("_F", bound=Callable[..., Any])


class DispatchLedger(CampaignCommands, CanvasCommands):
    """Records dispatches by the rules of ``DOMAIN.md`` and reads them back."""

    # -- the one entry point -------------------------------------------------

    @storage_errors_translated
    def execute(
        self,
        command: AnyCommand | dict[str, Any],
        *,
        audience: Iterable[str] | None = None,
    ) -> Result:
        """Validate and run one command; the typed result says what it did.

        ``audience`` replaces the command's own list for bulk sends, so a caller
        can stream any number of recipients without holding them in memory.
        """
        if not isinstance(command, Command):
            # A mapping, or anything else a caller passed: validation names
            # what is wrong with it instead of failing on a missing attribute.
            command = self._validate(command)
        return self._execute(command, audience)

    @staticmethod
    def _validate(data: object) -> AnyCommand:
        try:
            return COMMAND_ADAPTER.validate_python(data)
        except ValidationError as error:
            raise invalid_command(error) from None

    def _execute(self, command: AnyCommand, audience: Iterable[str] | None) -> Result:
        if audience is not None:
            check_audience(command, audience)
        key = command.idempotency_key
        fingerprint = idempotency.fingerprint(command)
        if key is not None:
            replay = self._replay(key, fingerprint)
            if replay is not None:
                return replay
        for _attempt in range(self.max_attempts):
            result, pending = self._handle(command, audience)
            if key is not None:
                pending.append(
                    idempotency.record_command(key, fingerprint, result, command.at)
                )
            try:
                self.save(*pending)
            except IntegrityError:
                if key is not None:
                    replay = self._replay(key, fingerprint)
                    if replay is not None:
                        return replay
                continue
            return result
        raise ConcurrencyConflict(command.command, self.max_attempts)

    def _replay(self, key: str, fingerprint: str) -> Result | None:
        stored: list[Any] = list(self.events.get(ids.idempotency_stream_id(key)))
        if not stored:
            return None
        record = cast(CommandRecorded, stored[0])
        if record.fingerprint != fingerprint:
            raise IdempotencyKeyReused(key)
        result = idempotency.RESULT_TYPES[record.result_type].model_validate_json(
            record.result
        )
        return result.model_copy(update={"replayed": True})

    def _handle(
        self, command: AnyCommand, audience: Iterable[str] | None
    ) -> tuple[Result, Pending]:
        match command:
            case DefineCampaign():
                return self._define_campaign(command)
            case DefineCanvas():
                return self._define_canvas(command)
            case RunOccurrence():
                return self._run_occurrence(command, audience)
            case TriggerCampaign():
                return self._trigger(command)
            case ApiTrigger():
                return self._api_trigger(command)
            case ScheduleApiTrigger():
                return self._schedule_api_trigger(command)
            case RunCanvasEntry():
                return self._run_canvas_entry(command, audience)
            case EnterCanvas():
                return self._enter_canvas(command)
            case AdvanceStep():
                return self._advance(command)
            case ArchiveProgram():
                return self._archive(command)
        raise InvalidCommand(f"unknown command {command!r}")  # pragma: no cover

    # -- typed conveniences for embedding applications -------------------------

    def define_campaign(
        self, campaign: CampaignDefinition, **kw: Any
    ) -> DefinitionResult:
        return self._typed(DefinitionResult, DefineCampaign, campaign=campaign, **kw)

    def define_canvas(self, canvas: CanvasDefinition, **kw: Any) -> DefinitionResult:
        return self._typed(DefinitionResult, DefineCanvas, canvas=canvas, **kw)

    def run_occurrence(
        self, *, audience: Iterable[str] | None = None, **kw: Any
    ) -> SendResult:
        return self._typed(SendResult, RunOccurrence, audience=audience, **kw)

    def trigger(self, **kw: Any) -> SendResult:
        return self._typed(SendResult, TriggerCampaign, **kw)

    def api_trigger(self, **kw: Any) -> SendResult:
        return self._typed(SendResult, ApiTrigger, **kw)

    def schedule_api_trigger(self, **kw: Any) -> ScheduleResult:
        return self._typed(ScheduleResult, ScheduleApiTrigger, **kw)

    def run_canvas_entry(
        self, *, audience: Iterable[str] | None = None, **kw: Any
    ) -> SendResult:
        return self._typed(SendResult, RunCanvasEntry, audience=audience, **kw)

    def enter_canvas(self, **kw: Any) -> SendResult:
        return self._typed(SendResult, EnterCanvas, **kw)

    def advance(self, **kw: Any) -> SendResult:
        return self._typed(SendResult, AdvanceStep, **kw)

    def archive(self, **kw: Any) -> ArchiveResult:
        return self._typed(ArchiveResult, ArchiveProgram, **kw)

    def _typed(
        self,
        result_type: type[_R],
        command_type: type[Command],
        audience: Iterable[str] | None = None,
        **fields: Any,
    ) -> _R:
        try:
            command = command_type.model_validate(fields)
        except ValidationError as error:
            raise invalid_command(error) from None
        result = self.execute(cast(AnyCommand, command), audience=audience)
        return cast(result_type, result)  # type: ignore[valid-type]

    # -- reading back --------------------------------------------------------------

    @storage_errors_translated
    def campaign(self, campaign_id: str) -> CampaignDefinition:
        """The current definition of a campaign."""
        campaign_id = checked_id(campaign_id, "campaign_id")
        found = self._get(Campaign, ids.campaign_stream_id(campaign_id))
        if found is None:
            raise UnknownCampaign(campaign_id)
        return found.definition

    @storage_errors_translated
    def canvas(self, canvas_id: str) -> CanvasDefinition:
        """The current definition of a Canvas."""
        canvas_id = checked_id(canvas_id, "canvas_id")
        found = self._get(Canvas, ids.canvas_stream_id(canvas_id))
        if found is None:
            raise UnknownCanvas(canvas_id)
        return found.definition

    @storage_errors_translated
    def programs(self) -> list[tuple[str, str]]:
        """Every defined (kind, id), in the order they were defined."""
        catalog = self._get(Catalog, CATALOG_ID)
        return list(catalog.programs) if catalog is not None else []

    @storage_errors_translated
    def transmission(
        self, program_kind: str, program_id: str, source_id: str
    ) -> Transmission | None:
        """The transmission a source started, if it did."""
        program_kind = checked_id(program_kind, "program_kind")
        program_id = checked_id(program_id, "program_id")
        source_id = checked_id(source_id, "source_id")
        stream_id = ids.transmission_stream_id(program_kind, program_id, source_id)
        return self._get(Transmission, stream_id)

    @storage_errors_translated
    def user_dispatches(self, user_id: str) -> list[DispatchRecord]:
        """Every message the user was sent, oldest first, read from the streams."""
        user_id = checked_id(user_id, "user_id")
        return self._user_dispatches(user_id)

    def _user_dispatches(self, user_id: str) -> list[DispatchRecord]:
        streams = {
            (
                ids.recipient_stream_id(pid, user_id)
                if kind == "campaign"
                else ids.journey_stream_id(pid, user_id)
            ): kind
            for kind, pid in self.programs()
        }
        stored = self.stream_reader.read_streams(list(streams))
        records: list[DispatchRecord] = []
        for events in stored.values():
            for item in events:
                event = self.mapper.to_domain_event(item)
                if isinstance(event, MessageDispatched):
                    records.append(_record_of(event))
        records.sort(key=lambda r: (r.sent_at, r.program_id, r.channel))
        return records

    @storage_errors_translated
    def journey_variant(
        self, canvas_id: str, user_id: str, entry_id: str
    ) -> str | None:
        """The Canvas variant a user's journey ``entry_id`` entered by."""
        stream_id = ids.journey_stream_id(canvas_id, user_id)
        for item in self.stream_reader.read_streams([stream_id]).get(stream_id, []):
            event = self.mapper.to_domain_event(item)
            if isinstance(event, UserEntered) and event.entry_id == entry_id:
                return event.variant_id
        return None

    @storage_errors_translated
    def render(
        self, request: RenderRequest | None = None, **fields: Any
    ) -> RenderedMessage:
        """Render a message for preview, or as recorded; see :mod:`.personalization`."""
        request = render_request(fields, request)
        return render_message(self, request)


def _record_of(event: MessageDispatched) -> DispatchRecord:
    return DispatchRecord(
        program_kind=event.program_kind,
        program_id=event.program_id,
        user_id=event.user_id,
        source_kind=event.source_kind,
        source_id=event.source_id,
        channel=event.channel,
        variation_id=event.variation_id,
        dispatch_id=event.dispatch_id,
        entry_id=event.entry_id,
        step_id=event.step_id,
        sent_at=event.timestamp,
    )
