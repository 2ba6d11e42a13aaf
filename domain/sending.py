"""What bulk and bounded sends share: the tally of a send, batching an audience,
and the checks on what a program's messages carry."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from dispatchledger.domain.campaign import Campaign
from dispatchledger.domain.canvas import Canvas
from dispatchledger.domain.commands import (
    AnyCommand,
    RunCanvasEntry,
    RunOccurrence,
    SendResult,
    SkippedUser,
)
from dispatchledger.domain.errors import (
    DispatchLedgerError,
    InvalidCommand,
    WrongDeliveryType,
)
from dispatchledger.domain.events import (
    MessageDispatched,
)
from dispatchledger.domain.participation import (
    Decision,
    SkipReason,
    Source,
)
from dispatchledger.domain.values import (
    ApiTriggerDispatch,
    CampaignDefinition,
    CanvasDefinition,
    Channel,
    DeliveryType,
    MessageVariation,
)

MAX_SKIPPED_LISTED = 1000
"""A result lists at most this many skipped users; the counts cover them all."""


@dataclass
class SendTally:
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


def non_empty(items: Iterable[str], error: DispatchLedgerError) -> Iterator[str]:
    """The same items, after checking there is at least one (nothing is written)."""
    iterator = iter(items)
    # A sentinel, not None: a None member is an invalid id to skip and
    # report, not the end of the audience.
    first = next(iterator, _END)
    if first is _END:
        raise error
    return itertools.chain([first], iterator)


def check_audience(command: AnyCommand, audience: object) -> None:
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


def batches(items: Iterable[str], size: int) -> Iterator[list[str]]:
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def carries(variations: Iterable[MessageVariation]) -> bool:
    """Whether any of these messages has a dispatch (in-app has none, D8)."""
    return any(Channel(v.channel).carries_dispatch_id for v in variations)


def shares_call_id(definition: CampaignDefinition) -> bool:
    """Rule D4 per call, for a call that sends something with a dispatch."""
    per_call = definition.api_trigger_dispatch is ApiTriggerDispatch.PER_CALL
    return per_call and carries(definition.variations)


def entry_steps_with_dispatch(definition: CanvasDefinition) -> list[str]:
    """Entry steps some variant enters at whose messages carry a dispatch id."""
    steps: dict[str, None] = {}
    for variant in definition.variants:
        step = definition.step(variant.entry_step_ids[0])
        if step is not None and carries(step.messages):
            steps.setdefault(step.step_id, None)
    return list(steps)


def require_type(
    actual: DeliveryType, needed: DeliveryType, program: Campaign | Canvas
) -> None:
    if actual is not needed:
        kind = "campaign" if isinstance(program, Campaign) else "Canvas"
        raise WrongDeliveryType(kind, program.api_id, actual.value, needed.value)
