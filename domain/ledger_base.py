"""The ledger's shared machinery: configuration, saving, batches and loading."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar, cast
from uuid import UUID

from eventsourcing.application import (
    AggregateNotFoundError,
    Application,
    ProcessingEvent,
)
from eventsourcing.domain import Aggregate, DomainEvent
from eventsourcing.persistence import (
    IntegrityError,
    JSONTranscoder,
    Recording,
    Transcoder,
)

from dispatchledger.domain import ids
from dispatchledger.domain.campaign import Campaign
from dispatchledger.domain.canvas import Canvas
from dispatchledger.domain.catalog import CATALOG_ID, Catalog
from dispatchledger.domain.commands import (
    Result,
)
from dispatchledger.domain.errors import (
    ConcurrencyConflict,
    UnknownCampaign,
    UnknownCanvas,
)
from dispatchledger.domain.participation import (
    Decision,
    Participation,
    SkipReason,
    Source,
    fold,
)
from dispatchledger.domain.sending import (
    MAX_SKIPPED_LISTED,
    Pending,
    SendTally,
    batches,
)
from dispatchledger.domain.storage import (
    ErrorTranslator,
    ModelTranscoding,
    RecorderStreamReader,
    StreamReader,
    plain_persistence_error,
)
from dispatchledger.domain.transcoder import OrjsonTranscoder
from dispatchledger.domain.transmission import Transmission
from dispatchledger.domain.values import (
    VALUE_OBJECTS,
    is_valid_user_id,
)

_R = TypeVar("_R", bound=Result)
_A = TypeVar("_A", Campaign, Canvas, Transmission, Catalog)
_F = TypeVar("_F", bound=Callable[..., Any])


class LedgerBase(Application[UUID]):
    """What every command of the ledger shares: storage, batches, loading programs."""

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

    def construct_transcoder(self) -> Transcoder:
        """The orjson transcoder, unless the environment names another one."""
        if self.factory.env.get(self.factory.TRANSCODER_TOPIC):
            return super().construct_transcoder()
        transcoder = OrjsonTranscoder()
        self.register_transcodings(transcoder)
        return transcoder

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        for model in VALUE_OBJECTS:
            transcoder.register(ModelTranscoding(model))

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
    ) -> SendTally:
        tally = SendTally()
        if pending:
            self.save(*pending)
            pending.clear()
        for batch in batches(users, self.batch_size):
            self._save_batch(batch, stream_of, decide, tally, [])
        return tally

    def _complete(
        self, transmission: Transmission, tally: SendTally, at: datetime
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
        tally = SendTally(keep_per_user=True)
        events = self._decide_batch(list(users), stream_of, decide, tally)
        return tally.result(command, kind, program_id, source), [*pending, *events]

    def _save_batch(
        self,
        batch: list[str],
        stream_of: Callable[[str], UUID],
        decide: Callable[[str, Participation], Decision],
        tally: SendTally,
        extra: Pending,
    ) -> None:
        for _attempt in range(self.max_attempts):
            attempt_tally = SendTally()
            events = self._decide_batch(batch, stream_of, decide, attempt_tally)
            try:
                if extra:
                    self.save(*extra, *events)
                else:
                    self._record_events(events)
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

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """Save as ``Application.save`` does, telling events from aggregates by class.

        The library checks each object against runtime protocols, which costs
        more than recording a small event; the ledger saves its own aggregates
        and events, recognised here by their base classes. Anything else still
        goes through the library's checks.
        """
        processing_event: ProcessingEvent[UUID] = ProcessingEvent()
        for obj in objs:
            if isinstance(obj, DomainEvent):
                processing_event.events.append(obj)
            elif isinstance(obj, Aggregate):
                processing_event.events.extend(obj.collect_events())
                processing_event.aggregates[obj.id] = obj
            else:
                processing_event.collect_events(obj)
        processing_event.saved_kwargs.update(kwargs)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        self.notify(processing_event.events)
        return recordings

    def _record_events(self, events: list[DomainEvent]) -> None:
        """Record plain events in one transaction, as ``save(*events)`` does.

        ``Application.save`` checks each object against the library's runtime
        protocols to tell events from aggregates, which costs more than encoding
        the event; a batch of a bulk send holds only events, and no aggregate, so
        there is also nothing to cache or to snapshot. The recordings the library
        builds for ``_notify`` (an object per event) are built only when a subclass
        listens there.
        """
        if type(self)._notify is not Application._notify:
            processing_event: ProcessingEvent[UUID] = ProcessingEvent()
            processing_event.events.extend(events)
            self._notify(self._record(processing_event))
            return
        self.recorder.insert_events(list(map(self.mapper.to_stored_event, events)))

    def _decide_batch(
        self,
        batch: list[str],
        stream_of: Callable[[str], UUID],
        decide: Callable[[str, Participation], Decision],
        tally: SendTally,
    ) -> list[DomainEvent]:
        valid: list[str] = []
        for user in batch:
            if is_valid_user_id(user):
                valid.append(user)
            else:
                tally.skip(repr(user), SkipReason.INVALID_USER_ID)
        # Each stream id is derived once (a uuid5 digest per user).
        stream_ids = [stream_of(user) for user in valid]
        states = self._load_states(stream_ids)
        # A user listed twice in a batch is decided on the state the first listing
        # left; when nobody is listed twice, no state is needed after its decision.
        listed_twice = len(states) < len(stream_ids)
        events: list[DomainEvent] = []
        for user, stream_id in zip(valid, stream_ids, strict=True):
            decision = decide(user, states[stream_id])
            tally.add(user, decision)
            if decision.events:
                if listed_twice:
                    states[stream_id] = states[stream_id].after(decision.events)
                events.extend(decision.events)
        return events

    def _load_states(self, stream_ids: Sequence[UUID]) -> dict[UUID, Participation]:
        unique = list(dict.fromkeys(stream_ids))
        stored = self.stream_reader.read_streams(unique)
        to_event = self.mapper.to_domain_event
        return {
            sid: (
                fold(sid, (cast(DomainEvent, to_event(s)) for s in stored[sid]))
                if sid in stored
                else Participation(sid)
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
