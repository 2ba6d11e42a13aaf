"""The ledger application: commands in, events recorded, typed results out.

:class:`DispatchLedger` is an ``eventsourcing`` application. It validates each
command, loads the state the rules need (participation streams in batches), asks the
domain for events, and saves each batch in one transaction. Persistence is chosen by
the environment it is given (see :mod:`dispatchledger.adapters.settings`).
"""

from __future__ import annotations

import functools
import hashlib
import itertools
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import DomainEvent, EventSourcingError
from eventsourcing.persistence import (
    ApplicationRecorder,
    ConnectionPoolClosedError,
    IntegrityError,
    JSONTranscoder,
    StoredEvent,
    Transcoding,
)
from eventsourcing.persistence import PersistenceError as LibraryPersistenceError
from eventsourcing.utils import TopicError
from pydantic import TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from dispatchledger.domain import ids
from dispatchledger.domain.campaign import Campaign
from dispatchledger.domain.canvas import Canvas
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
    SkippedUser,
    TriggerCampaign,
)
from dispatchledger.domain.errors import (
    ConcurrencyConflict,
    DatabaseUnavailable,
    DefinitionConflict,
    DispatchLedgerError,
    EmptyAudience,
    IdempotencyKeyReused,
    InvalidCommand,
    PersistenceError,
    UnknownCampaign,
    UnknownCanvas,
    WrongDeliveryType,
)
from dispatchledger.domain.events import (
    CommandRecorded,
    MessageDispatched,
    UserEntered,
)
from dispatchledger.domain.participation import (
    Decision,
    Participation,
    SkipReason,
    Source,
    advance_step,
    enter_canvas,
    fold,
    send_campaign,
)
from dispatchledger.domain.personalization import (
    RenderedMessage,
    RenderRequest,
    render_message,
    render_request,
)
from dispatchledger.domain.transmission import Transmission
from dispatchledger.domain.values import (
    VALUE_OBJECTS,
    ApiId,
    ApiTriggerDispatch,
    CampaignDefinition,
    CanvasDefinition,
    Channel,
    DeliveryType,
    MessageVariation,
    ValueObject,
    is_valid_user_id,
)

MAX_SKIPPED_LISTED = 1000
"""A result lists at most this many skipped users; the counts cover them all."""

_R = TypeVar("_R", bound=Result)
_A = TypeVar("_A", Campaign, Canvas, Transmission, Catalog)
_F = TypeVar("_F", bound=Callable[..., Any])


class StreamReader(Protocol):
    """Reads many streams at once; adapters give faster ones than the default."""

    def read_streams(self, stream_ids: Sequence[UUID]) -> dict[UUID, list[StoredEvent]]:
        """Stored events of each given stream, in version order."""
        ...  # pragma: no cover


@dataclass
class RecorderStreamReader:
    """Reads streams one by one through the library's recorder."""

    recorder: ApplicationRecorder

    def read_streams(self, stream_ids: Sequence[UUID]) -> dict[UUID, list[StoredEvent]]:
        found: dict[UUID, list[StoredEvent]] = {}
        for stream_id in stream_ids:
            stored = list(self.recorder.select_events(stream_id))
            if stored:
                found[stream_id] = stored
        return found


class _ModelTranscoding(Transcoding):
    """Stores a value object as its fields; restores it as the same type."""

    def __init__(self, model: type[ValueObject]) -> None:
        self.type = model
        self.model = model
        self.name = f"dispatchledger:{model.__name__}"

    def encode(self, obj: ValueObject) -> dict[str, Any]:
        return obj.model_dump(mode="python")

    def decode(self, data: dict[str, Any]) -> ValueObject:
        return self.model.model_validate(data)


@dataclass
class _SendTally:
    """Accumulates the outcome of a send across batches, in bounded memory."""

    recipients: int = 0
    messages: int = 0
    dispatch_ids: dict[str | None, None] = field(default_factory=dict)
    by_user: dict[str, str | None] = field(default_factory=dict)
    entry_ids: dict[str, str] = field(default_factory=dict)
    skipped: list[SkippedUser] = field(default_factory=list)
    skipped_counts: Counter[str] = field(default_factory=Counter)
    keep_per_user: bool = False

    def add(self, user_id: str, decision: Decision) -> None:
        if decision.skipped is not None:
            self.skip(user_id, decision.skipped)
            return
        self.recipients += 1
        self.messages += sum(isinstance(e, MessageDispatched) for e in decision.events)
        self.dispatch_ids.setdefault(decision.dispatch_id, None)
        if self.keep_per_user:
            self.by_user[user_id] = decision.dispatch_id
            if decision.entry_id is not None:
                self.entry_ids[user_id] = decision.entry_id

    def skip(self, user_id: str, reason: SkipReason) -> None:
        self.skipped_counts[reason.value] += 1
        if len(self.skipped) < MAX_SKIPPED_LISTED:
            self.skipped.append(SkippedUser(user_id=user_id, reason=reason.value))

    def result(
        self, command: str, kind: str, program_id: str, source: Source
    ) -> SendResult:
        return SendResult(
            command=command,
            program_kind=kind,
            program_id=program_id,
            source_kind=source.kind,
            source_id=source.id,
            dispatch_ids=list(self.dispatch_ids),
            dispatch_by_user=self.by_user,
            entry_ids=self.entry_ids,
            recipients=self.recipients,
            messages=self.messages,
            skipped=self.skipped,
            skipped_counts=dict(self.skipped_counts),
            skipped_truncated=sum(self.skipped_counts.values()) > len(self.skipped),
        )


Pending = list[Any]
"""Aggregates and events a command saves in its final transaction."""


_END: Any = object()


def _non_empty(items: Iterable[str], error: DispatchLedgerError) -> Iterator[str]:
    """The same items, after checking there is at least one (nothing is written)."""
    iterator = iter(items)
    # A sentinel, not None: a None member is an invalid id to skip and
    # report, not the end of the audience.
    first = next(iterator, _END)
    if first is _END:
        raise error
    return itertools.chain([first], iterator)


def _check_audience(command: AnyCommand, audience: object) -> None:
    """Refuse an audience the command cannot take, or one that is not a collection.

    A string is iterable too, but as an audience it would send to each of its
    characters.
    """
    if not isinstance(command, RunOccurrence | RunCanvasEntry):
        raise InvalidCommand(
            f"{command.command} takes no audience; only run_occurrence and"
            " run_canvas_entry send to an audience",
            [{"field": "audience", "reason": "not accepted by this command"}],
        )
    if isinstance(audience, str | bytes | bytearray) or not isinstance(
        audience, Iterable
    ):
        raise InvalidCommand(
            f"{command.command}: the audience must be an iterable of user ids,"
            f" not {type(audience).__name__}",
            [{"field": "audience", "reason": "not an iterable of user ids"}],
        )


def _batches(items: Iterable[str], size: int) -> Iterator[list[str]]:
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


ErrorTranslator = Callable[[Exception], PersistenceError]
"""Turns a storage library's error into the project's typed persistence error.

The adapters give a precise one (see ``dispatchledger.adapters.errors``); without
one, every storage failure is a plain :class:`PersistenceError`.
"""


def plain_persistence_error(error: Exception) -> PersistenceError:
    """The fallback translation: a :class:`PersistenceError` with the library's text."""
    return PersistenceError(f"the database failed: {error}")


def _storage_errors_translated(method: _F) -> _F:
    """Raise the ledger's translation of any storage library error."""

    @functools.wraps(method)
    def wrapper(self: DispatchLedger, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except DispatchLedgerError:
            raise
        except LibraryPersistenceError as error:
            raise self.translate_error(error) from error
        except ConnectionPoolClosedError as error:
            raise DatabaseUnavailable("the ledger is closed; open it again") from error
        except (EventSourcingError, TopicError) as error:
            # Stored events this program cannot read: written by another
            # program or version, or damaged.
            raise PersistenceError(f"stored events cannot be read: {error}") from error

    return cast(_F, wrapper)


class DispatchLedger(Application[UUID]):
    """Records dispatches by the rules of ``DOMAIN.md`` and reads them back."""

    name = "dispatchledger"
    snapshotting_intervals = {Campaign: 50, Canvas: 50}
    batch_size = 1000
    max_attempts = 5

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        mint_dispatch_id: ids.IdMinter = ids.mint_dispatch_id,
        mint_entry_id: ids.IdMinter = ids.mint_entry_id,
        stream_reader: StreamReader | None = None,
        translate_error: ErrorTranslator = plain_persistence_error,
    ) -> None:
        self.translate_error = translate_error
        super().__init__(env)
        self.mint_dispatch_id = mint_dispatch_id
        self.mint_entry_id = mint_entry_id
        self.stream_reader: StreamReader = stream_reader or RecorderStreamReader(
            self.recorder
        )

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        for model in VALUE_OBJECTS:
            transcoder.register(_ModelTranscoding(model))

    # -- the one entry point -------------------------------------------------

    @_storage_errors_translated
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
            _check_audience(command, audience)
        key = command.idempotency_key
        fingerprint = _fingerprint(command)
        if key is not None:
            replay = self._replay(key, fingerprint)
            if replay is not None:
                return replay
        for _attempt in range(self.max_attempts):
            result, pending = self._handle(command, audience)
            if key is not None:
                pending.append(_record_command(key, fingerprint, result, command.at))
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
        result = _RESULT_TYPES[record.result_type].model_validate_json(record.result)
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

    # -- definitions -------------------------------------------------------------

    def _define_campaign(self, command: DefineCampaign) -> tuple[Result, Pending]:
        definition = command.campaign
        existing = self._get(Campaign, ids.campaign_stream_id(definition.campaign_id))
        result = DefinitionResult(
            command=command.command,
            program_kind="campaign",
            program_id=definition.campaign_id,
            created=existing is None,
        )
        if existing is not None:
            existing.ensure_same_definition(definition)
            return result, []
        campaign = Campaign.define(definition, command.at)
        catalog = self._catalog(command.at)
        catalog.list_program("campaign", definition.campaign_id, command.at)
        return result, [campaign, catalog]

    def _define_canvas(self, command: DefineCanvas) -> tuple[Result, Pending]:
        definition = command.canvas
        existing = self._get(Canvas, ids.canvas_stream_id(definition.canvas_id))
        result = DefinitionResult(
            command=command.command,
            program_kind="canvas",
            program_id=definition.canvas_id,
            created=existing is None,
        )
        if existing is not None:
            existing.ensure_same_definition(definition)
            return result, []
        canvas = Canvas.define(definition, command.at)
        catalog = self._catalog(command.at)
        catalog.list_program("canvas", definition.canvas_id, command.at)
        return result, [canvas, catalog]

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
        _require(campaign.definition.delivery_type, DeliveryType.SCHEDULED, campaign)
        recipients = _non_empty(
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
            shared=_carries(campaign.definition.variations),
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
        result = tally.result(command.command, "campaign", command.campaign_id, source)
        return result, []

    def _trigger(self, command: TriggerCampaign) -> tuple[Result, Pending]:
        campaign = self._campaign(command.campaign_id)
        _require(campaign.definition.delivery_type, DeliveryType.ACTION_BASED, campaign)
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
        _require(definition.delivery_type, DeliveryType.API_TRIGGERED, campaign)
        call_id = command.call_id or ids.mint_source_id()
        pending: Pending = []
        transmission = self._start_transmission(
            "campaign",
            command.campaign_id,
            "api_call",
            call_id,
            command.at,
            pending,
            shared=_shares_call_id(definition),
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
        _require(definition.delivery_type, DeliveryType.API_TRIGGERED, campaign)
        pending: Pending = []
        transmission = self._start_transmission(
            "campaign",
            command.campaign_id,
            "api_call",
            command.call_id,
            command.at,
            pending,
            shared=_shares_call_id(definition),
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

    # -- Canvas journeys ---------------------------------------------------------

    def _run_canvas_entry(
        self, command: RunCanvasEntry, audience: Iterable[str] | None
    ) -> tuple[Result, Pending]:
        canvas = self._canvas(command.canvas_id)
        _require(canvas.definition.entry_type, DeliveryType.SCHEDULED, canvas)
        recipients = _non_empty(
            command.audience if audience is None else audience,
            EmptyAudience("Canvas", command.canvas_id, command.entry_run_id),
        )
        pending: Pending = []
        if not canvas.definition.recurring:
            canvas.launch_once(command.entry_run_id, command.at)
            pending.append(canvas)
        transmission = self._start_transmission(
            "canvas",
            command.canvas_id,
            "entry_run",
            command.entry_run_id,
            command.at,
            pending,
            save_now=True,
            step_ids=_entry_steps_with_dispatch(canvas.definition),
        )
        source = Source(
            "entry_run",
            command.entry_run_id,
            transmission.dispatch_id,
            transmission.step_dispatch_ids,
        )
        tally = self._send_in_batches(
            recipients,
            lambda user: ids.journey_stream_id(command.canvas_id, user),
            lambda user, state: enter_canvas(
                canvas.definition,
                state,
                user,
                source,
                command.at,
                self.mint_dispatch_id,
                self.mint_entry_id,
            ),
            pending,
        )
        self._complete(transmission, tally, command.at)
        result = tally.result(command.command, "canvas", command.canvas_id, source)
        return result, []

    def _enter_canvas(self, command: EnterCanvas) -> tuple[Result, Pending]:
        canvas = self._canvas(command.canvas_id)
        entry_type = canvas.definition.entry_type
        if entry_type is DeliveryType.SCHEDULED:
            raise WrongDeliveryType(
                "Canvas",
                canvas.canvas_id,
                entry_type.value,
                "action_based or api_triggered",
            )
        kind = "entry"
        source = Source(kind, command.trigger_id or ids.mint_source_id())
        return self._send_bounded(
            command.command,
            "canvas",
            command.canvas_id,
            source,
            [command.user_id],
            lambda user: ids.journey_stream_id(command.canvas_id, user),
            lambda user, state: enter_canvas(
                canvas.definition,
                state,
                user,
                source,
                command.at,
                self.mint_dispatch_id,
                self.mint_entry_id,
                command.variant_id,
            ),
            [],
        )

    def _advance(self, command: AdvanceStep) -> tuple[Result, Pending]:
        canvas = self._canvas(command.canvas_id)
        canvas.ensure_active()
        stream_id = ids.journey_stream_id(command.canvas_id, command.user_id)
        state = self._load_states([stream_id])[stream_id]
        decision = advance_step(
            canvas.definition,
            state,
            command.user_id,
            command.step_id,
            command.at,
            self.mint_dispatch_id,
        )
        tally = _SendTally(keep_per_user=True)
        tally.add(command.user_id, decision)
        source = Source(decision.events[0].source_kind, decision.events[0].source_id)
        result = tally.result(command.command, "canvas", command.canvas_id, source)
        return result, list(decision.events)

    # -- shared machinery --------------------------------------------------------

    def _start_transmission(
        self,
        kind: str,
        program_id: str,
        source_kind: str,
        source_id: str,
        at: datetime,
        pending: Pending,
        *,
        shared: bool = True,
        send_at: datetime | None = None,
        save_now: bool = False,
        step_ids: Sequence[str] | None = None,
    ) -> Transmission:
        """Mint the transmission's id before anything is sent (D9), or reuse it.

        With ``step_ids`` (a Canvas entry run) each entry step gets an id of its
        own; ``dispatch_id`` is then the id when there is exactly one such step.
        """
        stream_id = ids.transmission_stream_id(kind, program_id, source_id)
        existing = self._get(Transmission, stream_id)
        if existing is not None:
            if save_now:
                # What the command records on its program was saved with it.
                pending.clear()
            return existing
        by_step = {step_id: self.mint_dispatch_id() for step_id in step_ids or ()}
        if step_ids is not None:
            dispatch_id = next(iter(by_step.values())) if len(by_step) == 1 else None
        else:
            dispatch_id = self.mint_dispatch_id() if shared else None
        transmission = Transmission.start(
            kind, program_id, source_kind, source_id, dispatch_id, at, send_at, by_step
        )
        if save_now:
            # A bulk send saves its transmission first, with what the command
            # recorded on its program: the id survives an interruption, and
            # repeating the command resumes the send.
            try:
                self.save(*pending, transmission)
            except IntegrityError:
                return self._started_elsewhere(stream_id, source_id, pending)
            pending.clear()
        else:
            pending.append(transmission)
        return transmission

    def _started_elsewhere(
        self, stream_id: UUID, source_id: str, pending: Pending
    ) -> Transmission:
        """The transmission another writer saved while this one tried to."""
        existing = self._get(Transmission, stream_id)
        if existing is None:
            raise ConcurrencyConflict(f"starting {source_id!r}", 1)
        pending.clear()
        return existing

    def _send_in_batches(
        self,
        users: Iterable[str],
        stream_of: Callable[[str], UUID],
        decide: Callable[[str, Participation], Decision],
        pending: Pending,
    ) -> _SendTally:
        tally = _SendTally()
        if pending:
            self.save(*pending)
            pending.clear()
        for batch in _batches(users, self.batch_size):
            self._save_batch(batch, stream_of, decide, tally, [])
        return tally

    def _complete(
        self, transmission: Transmission, tally: _SendTally, at: datetime
    ) -> None:
        """Record the end of a bulk send, unless it is already recorded.

        It is saved here rather than with the command's result: a conflict
        must not repeat the whole send, whose audience may be a spent iterator.
        """
        if transmission.completed:
            return
        skipped = sum(tally.skipped_counts.values())
        transmission.complete(tally.recipients, tally.messages, skipped, at)
        try:
            self.save(transmission)
        except IntegrityError:
            # The same send, resumed by another process, finished first: every
            # user was still sent once, and its record of the end stands.
            current = self._get(Transmission, transmission.id)
            if current is None or not current.completed:
                raise

    def _send_bounded(
        self,
        command: str,
        kind: str,
        program_id: str,
        source: Source,
        users: Sequence[str],
        stream_of: Callable[[str], UUID],
        decide: Callable[[str, Participation], Decision],
        pending: Pending,
    ) -> tuple[Result, Pending]:
        """Decide a small send; the caller saves its events in one transaction."""
        tally = _SendTally(keep_per_user=True)
        events = self._decide_batch(list(users), stream_of, decide, tally)
        return tally.result(command, kind, program_id, source), [*pending, *events]

    def _save_batch(
        self,
        batch: list[str],
        stream_of: Callable[[str], UUID],
        decide: Callable[[str, Participation], Decision],
        tally: _SendTally,
        extra: Pending,
    ) -> None:
        for _attempt in range(self.max_attempts):
            attempt_tally = _SendTally()
            events = self._decide_batch(batch, stream_of, decide, attempt_tally)
            try:
                self.save(*extra, *events)
            except IntegrityError:
                continue
            tally.recipients += attempt_tally.recipients
            tally.messages += attempt_tally.messages
            tally.dispatch_ids.update(attempt_tally.dispatch_ids)
            tally.skipped_counts.update(attempt_tally.skipped_counts)
            room = MAX_SKIPPED_LISTED - len(tally.skipped)
            tally.skipped.extend(attempt_tally.skipped[:room])
            return
        raise ConcurrencyConflict("a batch of sends", self.max_attempts)

    def _decide_batch(
        self,
        batch: list[str],
        stream_of: Callable[[str], UUID],
        decide: Callable[[str, Participation], Decision],
        tally: _SendTally,
    ) -> list[DomainEvent]:
        valid: list[str] = []
        for user in batch:
            if is_valid_user_id(user):
                valid.append(user)
            else:
                tally.skip(repr(user), SkipReason.INVALID_USER_ID)
        states = self._load_states([stream_of(user) for user in valid])
        events: list[DomainEvent] = []
        for user in valid:
            stream_id = stream_of(user)
            decision = decide(user, states[stream_id])
            tally.add(user, decision)
            for event in decision.events:
                states[stream_id] = states[stream_id].evolve(event)
            events.extend(decision.events)
        return events

    def _load_states(self, stream_ids: Sequence[UUID]) -> dict[UUID, Participation]:
        unique = list(dict.fromkeys(stream_ids))
        stored = self.stream_reader.read_streams(unique)
        to_event = self.mapper.to_domain_event
        return {
            sid: fold(
                sid, (cast(DomainEvent, to_event(s)) for s in stored.get(sid, ()))
            )
            for sid in unique
        }

    def _get(self, cls: type[_A], stream_id: UUID) -> _A | None:
        try:
            aggregate: Any = self.repository.get(stream_id)
        except AggregateNotFoundError:
            return None
        return cast(cls, aggregate)  # type: ignore[valid-type]

    def _campaign(self, campaign_id: str, *, active: bool = True) -> Campaign:
        campaign = self._get(Campaign, ids.campaign_stream_id(campaign_id))
        if campaign is None:
            raise UnknownCampaign(campaign_id)
        if active:
            campaign.ensure_active()
        return campaign

    def _canvas(self, canvas_id: str, *, active: bool = True) -> Canvas:
        canvas = self._get(Canvas, ids.canvas_stream_id(canvas_id))
        if canvas is None:
            raise UnknownCanvas(canvas_id)
        if active:
            canvas.ensure_active()
        return canvas

    def _catalog(self, at: datetime) -> Catalog:
        return self._get(Catalog, CATALOG_ID) or Catalog.open(at)

    # -- reading back --------------------------------------------------------------

    @_storage_errors_translated
    def campaign(self, campaign_id: str) -> CampaignDefinition:
        """The current definition of a campaign."""
        campaign_id = _checked_id(campaign_id, "campaign_id")
        found = self._get(Campaign, ids.campaign_stream_id(campaign_id))
        if found is None:
            raise UnknownCampaign(campaign_id)
        return found.definition

    @_storage_errors_translated
    def canvas(self, canvas_id: str) -> CanvasDefinition:
        """The current definition of a Canvas."""
        canvas_id = _checked_id(canvas_id, "canvas_id")
        found = self._get(Canvas, ids.canvas_stream_id(canvas_id))
        if found is None:
            raise UnknownCanvas(canvas_id)
        return found.definition

    @_storage_errors_translated
    def programs(self) -> list[tuple[str, str]]:
        """Every defined (kind, id), in the order they were defined."""
        catalog = self._get(Catalog, CATALOG_ID)
        return list(catalog.programs) if catalog is not None else []

    @_storage_errors_translated
    def transmission(
        self, program_kind: str, program_id: str, source_id: str
    ) -> Transmission | None:
        """The transmission a source started, if it did."""
        program_kind = _checked_id(program_kind, "program_kind")
        program_id = _checked_id(program_id, "program_id")
        source_id = _checked_id(source_id, "source_id")
        stream_id = ids.transmission_stream_id(program_kind, program_id, source_id)
        return self._get(Transmission, stream_id)

    @_storage_errors_translated
    def user_dispatches(self, user_id: str) -> list[DispatchRecord]:
        """Every message the user was sent, oldest first, read from the streams."""
        user_id = _checked_id(user_id, "user_id")
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

    @_storage_errors_translated
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

    @_storage_errors_translated
    def render(
        self, request: RenderRequest | None = None, **fields: Any
    ) -> RenderedMessage:
        """Render a message for preview, or as recorded; see :mod:`.personalization`."""
        request = render_request(fields, request)
        return render_message(self, request)


_API_ID: TypeAdapter[str] = TypeAdapter(ApiId)


def _checked_id(value: object, field: str) -> str:
    """``value`` if it is an id a command would accept; else name the argument."""
    try:
        return _API_ID.validate_python(value, strict=True)
    except ValidationError as error:
        reason = _reason(error.errors(include_url=False)[0])
        raise InvalidCommand(
            f"{field}: {reason}", [{"field": field, "reason": reason}]
        ) from None


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


def _carries(variations: Iterable[MessageVariation]) -> bool:
    """Whether any of these messages has a dispatch (in-app has none, D8)."""
    return any(Channel(v.channel).carries_dispatch_id for v in variations)


def _shares_call_id(definition: CampaignDefinition) -> bool:
    """Rule D4 per call, for a call that sends something with a dispatch."""
    per_call = definition.api_trigger_dispatch is ApiTriggerDispatch.PER_CALL
    return per_call and _carries(definition.variations)


def _entry_steps_with_dispatch(definition: CanvasDefinition) -> list[str]:
    """Entry steps some variant enters at whose messages carry a dispatch id."""
    steps: dict[str, None] = {}
    for variant in definition.variants:
        step = definition.step(variant.entry_step_ids[0])
        if step is not None and _carries(step.messages):
            steps.setdefault(step.step_id, None)
    return list(steps)


def _require(
    actual: DeliveryType, needed: DeliveryType, program: Campaign | Canvas
) -> None:
    if actual is not needed:
        kind = "campaign" if isinstance(program, Campaign) else "Canvas"
        raise WrongDeliveryType(kind, program.api_id, actual.value, needed.value)


def _fingerprint(command: Command) -> str:
    body = command.model_dump_json(exclude={"idempotency_key", "at"})
    return hashlib.sha256(body.encode()).hexdigest()


def _record_command(
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


_RESULT_TYPES: dict[str, type[Result]] = {
    cls.__name__: cls
    for cls in (DefinitionResult, SendResult, ScheduleResult, ArchiveResult)
}


def _reason(item: ErrorDetails) -> str:
    """The reason of one validation problem, without pydantic's prefix.

    Our own rules raise ValueError, which pydantic reports as
    "Value error, <our words>"; the caller needs only our words.
    """
    if item["type"] == "value_error":
        return str(item.get("ctx", {}).get("error", item["msg"]))
    return item["msg"]


def invalid_command(error: ValidationError) -> InvalidCommand:
    """The project's error for input that failed validation, naming each field."""
    problems = [
        {
            # An error of the whole object (e.g. an unknown command tag) has
            # no location; it concerns the command itself.
            "field": ".".join(str(part) for part in item["loc"]) or "command",
            "reason": _reason(item),
        }
        for item in error.errors(include_url=False)
    ]
    summary = "; ".join(f"{p['field']}: {p['reason']}" for p in problems)
    return InvalidCommand(f"invalid command: {summary}", problems)
