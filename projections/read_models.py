"""The read models of dispatches, derived from the ledger's events only.

Each projection keeps rows that any batch split of the log reproduces exactly
(see :mod:`dispatchledger.projections.framework`); none reads a clock or mints an
id. Times are stored as UTC microseconds.
"""

from __future__ import annotations

from typing import Any

from dispatchledger.domain.events import MessageDispatched, StepAdvanced, UserEntered
from dispatchledger.domain.observed import (
    ObservedMessageDispatched,
    ObservedStepAdvanced,
)
from dispatchledger.domain.transmission import Transmission
from dispatchledger.projections.framework import (
    Changes,
    Column,
    Projection,
    Row,
    Table,
    to_micros,
)

ENTERED = UserEntered.TOPIC
ADVANCED = StepAdvanced.TOPIC
DISPATCHED = MessageDispatched.TOPIC
OBSERVED_DISPATCHED = ObservedMessageDispatched.TOPIC
OBSERVED_ADVANCED = ObservedStepAdvanced.TOPIC
STARTED = Transmission.Started.TOPIC


def _text(name: str, *, optional: bool = False) -> Column:
    return Column(name, "text", nullable=optional)


def _int(name: str) -> Column:
    return Column(name, "int")


def _time(name: str, *, optional: bool = False) -> Column:
    return Column(name, "time", nullable=optional)


def _message_row(event: MessageDispatched, log_id: int) -> Row:
    return {
        "program_kind": event.program_kind,
        "program_id": event.program_id,
        "user_id": event.user_id,
        "version": event.originator_version,
        "source_kind": event.source_kind,
        "source_id": event.source_id,
        "entry_id": event.entry_id,
        "step_id": event.step_id,
        "channel": event.channel,
        "variation_id": event.variation_id,
        "dispatch_id": event.dispatch_id,
        "sent_at": to_micros(event.timestamp),
        "log_id": log_id,
    }


USER_DISPATCHES = Table(
    "dl_user_dispatches",
    (
        _text("user_id"),
        _text("program_kind"),
        _text("program_id"),
        _int("version"),
        _text("source_kind"),
        _text("source_id"),
        _text("entry_id", optional=True),
        _text("step_id", optional=True),
        _text("channel"),
        _text("variation_id"),
        _text("dispatch_id", optional=True),
        _time("sent_at"),
        _int("log_id"),
    ),
    # One row per send event, recorded or imported: its position in the log
    # names it. (An imported send is version 1 of a stream of its own, so the
    # user, program and version would not tell two imported sends apart.)
    key=("log_id",),
    indexes=(("user_id",), ("dispatch_id",)),
)


class DispatchesByUser:
    """Every message a user was sent, recorded or imported: one row per message."""

    name = "dispatches_by_user"
    tables: tuple[Table, ...] = (USER_DISPATCHES,)
    topics = frozenset({DISPATCHED, OBSERVED_DISPATCHED})

    def handle(self, event: Any, log_id: int, changes: Changes) -> None:
        changes.add(USER_DISPATCHES, _message_row(event, log_id))


STEP_DISPATCHES = Table(
    "dl_step_dispatches",
    (
        _text("canvas_id"),
        _text("user_id"),
        _text("source_id"),
        _text("step_id"),
        _text("entry_id"),
        _text("source_kind"),
        _text("dispatch_id", optional=True),
        _time("arrived_at"),
    ),
    key=("canvas_id", "user_id", "source_id"),
    # Serves a step's arrivals page by page, in (user, source) order.
    indexes=(("canvas_id", "step_id", "user_id", "source_id"),),
)


class DispatchesByStep:
    """For each Canvas step, every arrival of a user and the dispatch id it got.

    An arrival is keyed by its source (the entry source at the entry step, the
    step arrival afterwards), which its messages carry too: an arrival is added
    with the id its event knows, and a message that carries an id puts it.
    """

    name = "dispatches_by_step"
    tables: tuple[Table, ...] = (STEP_DISPATCHES,)
    topics = frozenset({ENTERED, ADVANCED, DISPATCHED})

    def handle(self, event: Any, log_id: int, changes: Changes) -> None:
        if event.program_kind != "canvas" or event.step_id is None:
            return
        row = {
            "canvas_id": event.program_id,
            "user_id": event.user_id,
            "source_id": event.source_id,
            "step_id": event.step_id,
            "entry_id": event.entry_id,
            "source_kind": event.source_kind,
            "dispatch_id": getattr(event, "dispatch_id", None),
            "arrived_at": to_micros(event.timestamp),
        }
        if isinstance(event, MessageDispatched):
            if event.dispatch_id is not None:
                changes.put(STEP_DISPATCHES, row)
        else:
            changes.add(STEP_DISPATCHES, row)


TRANSMISSIONS = Table(
    "dl_transmissions",
    (
        _text("program_kind"),
        _text("program_id"),
        _text("source_id"),
        _text("source_kind"),
        _text("dispatch_id", optional=True),
        _time("started_at"),
        _time("send_at", optional=True),
    ),
    key=("program_kind", "program_id", "source_id"),
    indexes=(("dispatch_id",),),
)
TRANSMISSION_RECIPIENTS = Table(
    "dl_transmission_recipients",
    (
        _text("program_kind"),
        _text("program_id"),
        _text("source_id"),
        _text("user_id"),
        _text("entry_id", optional=True),
        _text("dispatch_id", optional=True),
        _time("entered_at"),
    ),
    key=("program_kind", "program_id", "source_id", "user_id"),
    indexes=(("dispatch_id",),),
)
TRANSMISSION_MESSAGES = Table(
    "dl_transmission_messages",
    (
        _text("program_kind"),
        _text("program_id"),
        _text("source_id"),
        _text("user_id"),
        _int("version"),
        _text("channel"),
        _text("variation_id"),
        _text("dispatch_id", optional=True),
        _time("sent_at"),
    ),
    key=("program_kind", "program_id", "source_id", "user_id", "version"),
)


class RecipientsByTransmission:
    """Each source of sends, its recipients and their messages per channel.

    A source is a campaign occurrence, an API call, a trigger, a Canvas entry
    run or entry, or a step arrival. ``Transmission.Started`` puts the source
    with its shared dispatch id; the first recipient's event adds a source that
    started no transmission (a trigger, an action entry, a step arrival).
    """

    name = "recipients_by_transmission"
    tables: tuple[Table, ...] = (
        TRANSMISSIONS,
        TRANSMISSION_RECIPIENTS,
        TRANSMISSION_MESSAGES,
    )
    topics = frozenset({STARTED, ENTERED, ADVANCED, DISPATCHED})

    def handle(self, event: Any, log_id: int, changes: Changes) -> None:
        source = {
            "program_kind": event.program_kind,
            "program_id": event.program_id,
            "source_id": event.source_id,
        }
        at = to_micros(event.timestamp)
        if isinstance(event, Transmission.Started):
            changes.put(TRANSMISSIONS, self._source(event, source, at))
        elif isinstance(event, MessageDispatched):
            self._message(event, source, at, changes)
        else:
            changes.add(TRANSMISSIONS, self._source(event, source, at))
            recipient = {
                **source,
                "user_id": event.user_id,
                "entry_id": event.entry_id,
                "dispatch_id": getattr(event, "dispatch_id", None),
                "entered_at": at,
            }
            changes.add(TRANSMISSION_RECIPIENTS, recipient)

    @staticmethod
    def _source(event: Any, source: Row, at: int) -> Row:
        started = isinstance(event, Transmission.Started)
        send_at = event.send_at if started else None
        return {
            **source,
            "source_kind": event.source_kind,
            "dispatch_id": event.dispatch_id if started else None,
            "started_at": at,
            "send_at": None if send_at is None else to_micros(send_at),
        }

    @staticmethod
    def _message(
        event: MessageDispatched, source: Row, at: int, changes: Changes
    ) -> None:
        changes.add(
            TRANSMISSION_MESSAGES,
            {
                **source,
                "user_id": event.user_id,
                "version": event.originator_version,
                "channel": event.channel,
                "variation_id": event.variation_id,
                "dispatch_id": event.dispatch_id,
                "sent_at": at,
            },
        )
        if event.dispatch_id is not None:
            recipient = {
                **source,
                "user_id": event.user_id,
                "entry_id": event.entry_id,
                "dispatch_id": event.dispatch_id,
                "entered_at": at,
            }
            changes.put(TRANSMISSION_RECIPIENTS, recipient)


JOURNEY_STEPS = Table(
    "dl_journey_steps",
    (
        _text("entry_id"),
        _int("version"),
        _text("canvas_id"),
        _text("user_id"),
        _text("step_id"),
        _text("from_step_id", optional=True),
        _text("variant_id", optional=True),
        _text("source_kind"),
        _text("source_id"),
        _time("arrived_at"),
    ),
    key=("entry_id", "version"),
    indexes=(("user_id",),),
)
JOURNEY_MESSAGES = Table(
    "dl_journey_messages",
    (
        _text("entry_id"),
        _int("version"),
        _text("source_id"),
        _text("step_id"),
        _text("channel"),
        _text("variation_id"),
        _text("dispatch_id", optional=True),
        _time("sent_at"),
    ),
    key=("entry_id", "version"),
    indexes=(("dispatch_id",),),
)


class Lineage:
    """Each journey (Canvas entry instance): its path of steps and their messages.

    Imported progressions (Currents ``users.canvasstep.Progression``, whose
    ``canvas_entry_id`` names the journey) join the path too; each is a stream of
    its own, so its position in the log orders it within the journey.
    """

    name = "lineage"
    tables: tuple[Table, ...] = (JOURNEY_STEPS, JOURNEY_MESSAGES)
    topics = frozenset({ENTERED, ADVANCED, DISPATCHED, OBSERVED_ADVANCED})

    def handle(self, event: Any, log_id: int, changes: Changes) -> None:
        if event.program_kind != "canvas" or not event.entry_id:
            return
        observed = isinstance(event, ObservedStepAdvanced)
        base = {
            "entry_id": event.entry_id,
            "version": log_id if observed else event.originator_version,
            "source_id": event.source_id,
            "step_id": event.step_id,
        }
        if isinstance(event, MessageDispatched):
            message = {
                **base,
                "channel": event.channel,
                "variation_id": event.variation_id,
                "dispatch_id": event.dispatch_id,
                "sent_at": to_micros(event.timestamp),
            }
            changes.add(JOURNEY_MESSAGES, message)
            return
        step = {
            **base,
            "canvas_id": event.program_id,
            "user_id": event.user_id,
            "from_step_id": getattr(event, "from_step_id", None),
            "variant_id": getattr(event, "variant_id", None),
            "source_kind": event.source_kind,
            "arrived_at": to_micros(event.timestamp),
        }
        changes.add(JOURNEY_STEPS, step)


def default_projections() -> list[Projection]:
    """The dispatch read models, in the order they are reported."""
    # Imported here: the observed read models read this module's tables.
    from dispatchledger.projections.observed import observed_projections

    return [
        DispatchesByUser(),
        DispatchesByStep(),
        RecipientsByTransmission(),
        Lineage(),
        *observed_projections(),
    ]
