"""One user's participation in a campaign or Canvas: state and decisions.

The rules D2-D8 and D12 are decided here, as pure functions of the definition, the
user's participation state and the source of the send. The application loads states
in batches, asks these functions for events, and saves the events; nothing here does
I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import DomainEvent

from dispatchledger.domain.errors import (
    StepNotNext,
    UnknownStep,
    UnknownVariant,
    UserNotInCanvas,
)
from dispatchledger.domain.events import (
    MessageDispatched,
    ParticipationEvent,
    StepAdvanced,
    UserEntered,
)
from dispatchledger.domain.ids import stable_pick
from dispatchledger.domain.values import (
    CampaignDefinition,
    CanvasDefinition,
    Channel,
    MessageVariation,
)


class SkipReason(StrEnum):
    ALREADY_SENT = "already_sent"
    NOT_RE_ELIGIBLE = "not_re_eligible"
    INVALID_USER_ID = "invalid_user_id"


@dataclass(frozen=True)
class Source:
    """What causes a send: its kind, its id, and the id its messages share.

    ``shared_dispatch_id`` is set when every recipient shares one dispatch
    (D2, D4 per call, D5); otherwise each recipient gets a freshly minted id.
    ``step_dispatch_ids`` gives a Canvas entry run one shared id per entry step,
    since different steps never share an id (D10).
    """

    kind: str
    id: str
    shared_dispatch_id: str | None = None
    step_dispatch_ids: Mapping[str, str] = field(default_factory=dict)

    def shared_for_step(self, step_id: str) -> str | None:
        return self.step_dispatch_ids.get(step_id, self.shared_dispatch_id)


@dataclass(frozen=True)
class Participation:
    """What the rules need to know of one user's past in one program."""

    stream_id: UUID
    version: int = 0
    receipts: int = 0
    last_receipt_at: datetime | None = None
    sources: frozenset[str] = field(default_factory=frozenset)
    entry_id: str | None = None
    step_id: str | None = None

    def evolve(self, event: DomainEvent) -> Participation:
        version = event.originator_version
        if isinstance(event, UserEntered):
            return replace(
                self,
                version=version,
                receipts=self.receipts + 1,
                last_receipt_at=event.timestamp,
                sources=self.sources | {event.source_id},
                entry_id=event.entry_id,
                step_id=event.step_id,
            )
        if isinstance(event, StepAdvanced):
            return replace(self, version=version, step_id=event.step_id)
        return replace(self, version=version)


def fold(stream_id: UUID, events: Iterable[DomainEvent]) -> Participation:
    state = Participation(stream_id)
    for event in events:
        state = state.evolve(event)
    return state


@dataclass(frozen=True)
class Decision:
    """Either the events to record for one user, or why the user is skipped."""

    events: tuple[ParticipationEvent, ...] = ()
    skipped: SkipReason | None = None
    dispatch_id: str | None = None
    entry_id: str | None = None


def is_re_eligible(
    state: Participation, re_eligibility_seconds: int | None, at: datetime
) -> bool:
    """Rule D12: once by default; again after the period since the last receipt."""
    if state.receipts == 0:
        return True
    if re_eligibility_seconds is None or state.last_receipt_at is None:
        return False
    return (at - state.last_receipt_at).total_seconds() >= re_eligibility_seconds


def _skip_reason(
    state: Participation, source: Source, period: int | None, at: datetime
) -> SkipReason | None:
    if source.id in state.sources:
        return SkipReason.ALREADY_SENT
    if not is_re_eligible(state, period, at):
        return SkipReason.NOT_RE_ELIGIBLE
    return None


class _Sequence:
    """Numbers the events of one decision after the state's version."""

    def __init__(self, state: Participation, at: datetime) -> None:
        self.state = state
        self.at = at
        self.events: list[ParticipationEvent] = []

    def next_version(self) -> int:
        return self.state.version + len(self.events) + 1


def _message_events(
    seq: _Sequence,
    base: dict[str, str],
    variations: Iterable[MessageVariation],
    dispatch_id: str | None,
    entry_id: str | None,
    step_id: str | None,
) -> None:
    for variation in variations:
        carries = Channel(variation.channel).carries_dispatch_id
        seq.events.append(
            MessageDispatched(
                originator_id=seq.state.stream_id,
                originator_version=seq.next_version(),
                timestamp=seq.at,
                channel=variation.channel.value,
                variation_id=variation.variation_id,
                dispatch_id=dispatch_id if carries else None,
                entry_id=entry_id,
                step_id=step_id,
                **base,
            )
        )


def _any_carries(variations: Iterable[MessageVariation]) -> bool:
    return any(Channel(v.channel).carries_dispatch_id for v in variations)


def send_campaign(
    definition: CampaignDefinition,
    state: Participation,
    user_id: str,
    source: Source,
    at: datetime,
    mint: Callable[[], str],
) -> Decision:
    """A campaign message to one user: rules D2, D3, D4, D8, D9 and D12."""
    reason = _skip_reason(state, source, definition.re_eligibility_seconds, at)
    if reason is not None:
        return Decision(skipped=reason)
    pick = stable_pick(definition.campaign_id, user_id)
    variations = definition.variations_for_user(pick)
    dispatch_id = None
    if _any_carries(variations):
        dispatch_id = source.shared_dispatch_id or mint()
    base = {
        "program_kind": "campaign",
        "program_id": definition.campaign_id,
        "user_id": user_id,
        "source_kind": source.kind,
        "source_id": source.id,
    }
    seq = _Sequence(state, at)
    seq.events.append(
        UserEntered(
            originator_id=state.stream_id,
            originator_version=seq.next_version(),
            timestamp=at,
            dispatch_id=dispatch_id,
            entry_id=None,
            variant_id=None,
            step_id=None,
            **base,
        )
    )
    _message_events(seq, base, variations, dispatch_id, None, None)
    return Decision(events=tuple(seq.events), dispatch_id=dispatch_id)


def enter_canvas(
    definition: CanvasDefinition,
    state: Participation,
    user_id: str,
    source: Source,
    at: datetime,
    mint: Callable[[], str],
    mint_entry: Callable[[], str],
    variant_id: str | None = None,
) -> Decision:
    """A user enters a Canvas: rules D5, D6, D8, D9 and D12 for the entry step."""
    # A variant the Canvas does not have is a wrong command, whether or not
    # this user may enter now.
    chosen = None if variant_id is None else definition.variant(variant_id)
    if variant_id is not None and chosen is None:
        raise UnknownVariant(definition.canvas_id, variant_id)
    reason = _skip_reason(state, source, definition.re_eligibility_seconds, at)
    if reason is not None:
        return Decision(skipped=reason)
    entry_id = mint_entry()
    if chosen is None:
        pick = stable_pick(definition.canvas_id, user_id, entry_id)
        variant = definition.variants[pick % len(definition.variants)]
    else:
        variant = chosen
    step_id = variant.entry_step_ids[0]
    step = definition.step(step_id)
    if step is None:  # the definition's validator makes this unreachable
        raise UnknownStep(definition.canvas_id, step_id)
    dispatch_id = None
    if _any_carries(step.messages):
        dispatch_id = source.shared_for_step(step_id) or mint()
    base = {
        "program_kind": "canvas",
        "program_id": definition.canvas_id,
        "user_id": user_id,
        "source_kind": source.kind,
        "source_id": source.id,
    }
    seq = _Sequence(state, at)
    seq.events.append(
        UserEntered(
            originator_id=state.stream_id,
            originator_version=seq.next_version(),
            timestamp=at,
            dispatch_id=dispatch_id,
            entry_id=entry_id,
            variant_id=variant.variant_id,
            step_id=step_id,
            **base,
        )
    )
    _message_events(seq, base, step.messages, dispatch_id, entry_id, step_id)
    return Decision(
        events=tuple(seq.events), dispatch_id=dispatch_id, entry_id=entry_id
    )


def advance_step(
    definition: CanvasDefinition,
    state: Participation,
    user_id: str,
    step_id: str,
    at: datetime,
    mint: Callable[[], str],
) -> Decision:
    """A user moves to a next step: rules D7 and D8 (every later step is triggered)."""
    canvas_id = definition.canvas_id
    if state.entry_id is None or state.step_id is None:
        raise UserNotInCanvas(canvas_id, user_id)
    step = definition.step(step_id)
    if step is None:
        raise UnknownStep(canvas_id, step_id)
    current = definition.step(state.step_id)
    if current is None or step_id not in current.next_step_ids:
        raise StepNotNext(canvas_id, user_id, state.step_id, step_id)
    dispatch_id = mint() if _any_carries(step.messages) else None
    source_id = f"{state.entry_id}/{state.version + 1}"
    base = {
        "program_kind": "canvas",
        "program_id": canvas_id,
        "user_id": user_id,
        "source_kind": "step_arrival",
        "source_id": source_id,
    }
    seq = _Sequence(state, at)
    seq.events.append(
        StepAdvanced(
            originator_id=state.stream_id,
            originator_version=seq.next_version(),
            timestamp=at,
            entry_id=state.entry_id,
            from_step_id=state.step_id,
            step_id=step_id,
            **base,
        )
    )
    _message_events(seq, base, step.messages, dispatch_id, state.entry_id, step_id)
    return Decision(
        events=tuple(seq.events), dispatch_id=dispatch_id, entry_id=state.entry_id
    )
