"""Read models of observed data: each dispatch's life, and conversion attribution.

``DispatchLifecycle`` keeps every imported send and engagement record that names
a dispatch (in-app and content-card records never do), so a dispatch's lineage
lists its sends, deliveries, opens, clicks... in lifecycle order.

``ConversionAttribution`` keeps the facts rule A1 needs: each campaign's sends
(minted or imported) per user, its conversions, and its conversion window (from
the campaign's definition or an imported catalog). Results are derived from
those rows when asked, with the stored window or another one: trying another
window reads the same rows again and never changes them.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict

from dispatchledger.domain.campaign import Campaign
from dispatchledger.domain.errors import InvalidCommand
from dispatchledger.domain.events import MessageDispatched
from dispatchledger.domain.ids import journey_stream_id, recipient_stream_id
from dispatchledger.domain.observed import (
    OBSERVED,
    SEND_EVENT_TYPES,
    Basis,
    ConversionObserved,
    EngagementObserved,
    ObservedCatalog,
    ObservedMessageDispatched,
    attribute,
    lifecycle_rank,
    minted_event_id,
)
from dispatchledger.projections.framework import (
    Changes,
    Column,
    ProjectionStore,
    Row,
    Table,
    to_micros,
)
from dispatchledger.projections.read_models import USER_DISPATCHES

DISPATCH_EVENTS = Table(
    "dl_dispatch_events",
    (
        Column("event_type"),
        Column("event_id"),
        Column("dispatch_id"),
        Column("user_id"),
        Column("channel"),
        Column("action"),
        Column("rank", "int"),
        Column("at", "time"),
        Column("program_kind"),
        Column("program_id"),
        Column("log_id", "int"),
    ),
    key=("event_type", "event_id"),
    indexes=(("dispatch_id",),),
)


class DispatchLifecycle:
    """Imported sends and engagement, by the dispatch id they carry."""

    name = "dispatch_lifecycle"
    tables: tuple[Table, ...] = (DISPATCH_EVENTS,)
    topics = frozenset({ObservedMessageDispatched.TOPIC, EngagementObserved.TOPIC})

    def handle(self, event: Any, log_id: int, changes: Changes) -> None:
        if event.dispatch_id is None:
            return
        sent = isinstance(event, ObservedMessageDispatched)
        action = "Send" if sent else event.action
        changes.add(
            DISPATCH_EVENTS,
            {
                "event_type": event.event_type,
                "event_id": event.event_id,
                "dispatch_id": event.dispatch_id,
                "user_id": event.user_id,
                "channel": event.channel,
                "action": action,
                "rank": lifecycle_rank(action),
                "at": to_micros(event.timestamp),
                "program_kind": event.program_kind,
                "program_id": event.program_id,
                "log_id": log_id,
            },
        )


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class LifecycleEvent(_Model):
    """One event in a dispatch's life: a send (minted or imported) or engagement."""

    at: AwareDatetime
    action: str
    channel: str
    user_id: str
    event_type: str
    event_id: str
    observed: bool

    def sort_key(self) -> tuple[Any, ...]:
        """Time, then lifecycle rank, then names: the same order on every run."""
        return (
            self.at,
            lifecycle_rank(self.action),
            self.user_id,
            self.channel,
            self.event_type,
            self.event_id,
        )


def dispatch_lifecycle(
    store: ProjectionStore, dispatch_id: str, limit: int | None = None
) -> list[LifecycleEvent]:
    """The first ``limit`` sends and engagement of a dispatch, in lifecycle order."""
    where = {"dispatch_id": dispatch_id}
    sends = store.select(USER_DISPATCHES, where, ["sent_at", "log_id"], limit=limit)
    observed = store.select(DISPATCH_EVENTS, where, ["at", "rank"], limit=limit)
    # Imported sends are in both tables; the lifecycle table has their Currents ids.
    events = [_minted(row) for row in sends if row["source_kind"] != OBSERVED]
    events += [
        LifecycleEvent(
            at=row["at"],
            action=row["action"],
            channel=row["channel"],
            user_id=row["user_id"],
            event_type=row["event_type"],
            event_id=row["event_id"],
            observed=True,
        )
        for row in observed
    ]
    return sorted(events, key=LifecycleEvent.sort_key)[:limit]


def _minted(row: Row) -> LifecycleEvent:
    stream_of = (
        recipient_stream_id if row["program_kind"] == "campaign" else journey_stream_id
    )
    stream_id = stream_of(row["program_id"], row["user_id"])
    return LifecycleEvent(
        at=row["sent_at"],
        action="Send",
        channel=row["channel"],
        user_id=row["user_id"],
        event_type=SEND_EVENT_TYPES.get(row["channel"], ""),
        event_id=minted_event_id(stream_id, row["version"]),
        observed=False,
    )


ATTRIBUTION_SENDS = Table(
    "dl_attribution_sends",
    (
        Column("campaign_id"),
        Column("user_id"),
        Column("sent_at", "time"),
        Column("dispatch_id"),
        Column("source"),
    ),
    key=("campaign_id", "user_id", "sent_at", "dispatch_id"),
)
ATTRIBUTION_CONVERSIONS = Table(
    "dl_attribution_conversions",
    (
        Column("event_type"),
        Column("event_id"),
        Column("campaign_id"),
        Column("user_id"),
        Column("converted_at", "time"),
        Column("dispatch_id", nullable=True),
    ),
    key=("event_type", "event_id"),
    indexes=(("campaign_id",),),
)
ATTRIBUTION_WINDOWS = Table(
    "dl_attribution_windows",
    (Column("campaign_id"), Column("window_seconds", "int", nullable=True)),
    key=("campaign_id",),
)


class ConversionAttribution:
    """The facts of rule A1 per campaign: sends, conversions and the window."""

    name = "conversion_attribution"
    tables: tuple[Table, ...] = (
        ATTRIBUTION_SENDS,
        ATTRIBUTION_CONVERSIONS,
        ATTRIBUTION_WINDOWS,
    )
    topics = frozenset(
        {
            MessageDispatched.TOPIC,
            ObservedMessageDispatched.TOPIC,
            ConversionObserved.TOPIC,
            Campaign.Defined.TOPIC,
            ObservedCatalog.Loaded.TOPIC,
        }
    )

    def handle(self, event: Any, log_id: int, changes: Changes) -> None:
        if isinstance(event, MessageDispatched):
            self._send(event, changes)
        elif isinstance(event, ConversionObserved):
            self._conversion(event, changes)
        elif isinstance(event, Campaign.Defined):
            windows = [b.window_seconds for b in event.definition.conversion_behaviors]
            self._window(
                event.definition.campaign_id, max(windows, default=None), changes
            )
        elif isinstance(event, ObservedCatalog.Loaded):
            for key, program in sorted(event.programs.items()):
                if key.startswith("campaign:") and program.get("conversion_windows"):
                    window = max(program["conversion_windows"])
                    self._window(key.removeprefix("campaign:"), window, changes)

    @staticmethod
    def _send(event: MessageDispatched, changes: Changes) -> None:
        if event.program_kind != "campaign" or event.dispatch_id is None:
            return
        if isinstance(event, ObservedMessageDispatched):
            send_id = event.record.get("send_id")
            source = f"send {send_id}" if isinstance(send_id, str) else "observed"
        else:
            source = f"{event.source_kind} {event.source_id}"
        changes.add(
            ATTRIBUTION_SENDS,
            {
                "campaign_id": event.program_id,
                "user_id": event.user_id,
                "sent_at": to_micros(event.timestamp),
                "dispatch_id": event.dispatch_id,
                "source": source,
            },
        )

    @staticmethod
    def _conversion(event: ConversionObserved, changes: Changes) -> None:
        if event.program_kind != "campaign":
            return
        changes.add(
            ATTRIBUTION_CONVERSIONS,
            {
                "event_type": event.event_type,
                "event_id": event.event_id,
                "campaign_id": event.program_id,
                "user_id": event.user_id,
                "converted_at": to_micros(event.timestamp),
                "dispatch_id": event.dispatch_id,
            },
        )

    @staticmethod
    def _window(campaign_id: str, window: int | None, changes: Changes) -> None:
        row = {"campaign_id": campaign_id, "window_seconds": window}
        changes.put(ATTRIBUTION_WINDOWS, row)


class ConversionResult(_Model):
    """One conversion and the dispatch it is credited to (if any)."""

    event_id: str
    user_id: str
    converted_at: AwareDatetime
    dispatch_id: str | None
    basis: Basis


class DispatchConversions(_Model):
    """The conversions one dispatch drove, and the sources that sent it."""

    dispatch_id: str
    sources: list[str]
    conversions: list[ConversionResult]


class CampaignAttribution(_Model):
    """A campaign's conversions per dispatch, and those no dispatch drove."""

    campaign_id: str
    window_seconds: int | None
    by_dispatch: list[DispatchConversions]
    unattributed: list[ConversionResult]

    def all_results(self) -> list[ConversionResult]:
        found = [c for d in self.by_dispatch for c in d.conversions]
        return [*found, *self.unattributed]


def campaign_attribution(
    store: ProjectionStore, campaign_id: str, window_seconds: int | None = None
) -> CampaignAttribution:
    """Rule A1 for every conversion of a campaign, with the stored window unless
    ``window_seconds`` is given."""
    if window_seconds is not None and window_seconds <= 0:
        raise InvalidCommand(
            "the conversion window must be a positive number of seconds,"
            f" not {window_seconds}",
            [{"field": "window_seconds", "reason": "not positive"}],
        )
    window = window_seconds
    if window is None:
        stored = store.select(ATTRIBUTION_WINDOWS, {"campaign_id": campaign_id})
        window = stored[0]["window_seconds"] if stored else None
    where = {"campaign_id": campaign_id}
    sends: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    sources: dict[str, set[str]] = defaultdict(set)
    for row in store.select(ATTRIBUTION_SENDS, where):
        sends[row["user_id"]].append((row["sent_at"], row["dispatch_id"]))
        sources[row["dispatch_id"]].add(row["source"])
    grouped: dict[str, list[ConversionResult]] = defaultdict(list)
    unattributed: list[ConversionResult] = []
    rows = store.select(ATTRIBUTION_CONVERSIONS, where, ["converted_at", "event_id"])
    for row in rows:
        credit = attribute(
            row["converted_at"], row["dispatch_id"], sends[row["user_id"]], window
        )
        result = ConversionResult(
            event_id=row["event_id"],
            user_id=row["user_id"],
            converted_at=row["converted_at"],
            dispatch_id=credit.dispatch_id,
            basis=credit.basis,
        )
        target = (
            unattributed if credit.dispatch_id is None else grouped[credit.dispatch_id]
        )
        target.append(result)
    return CampaignAttribution(
        campaign_id=campaign_id,
        window_seconds=window,
        by_dispatch=[
            DispatchConversions(
                dispatch_id=d, sources=sorted(sources.get(d, ())), conversions=found
            )
            for d, found in sorted(grouped.items())
        ],
        unattributed=unattributed,
    )


def observed_projections() -> list[Any]:
    """The read models of observed data, to register beside the dispatch ones."""
    return [DispatchLifecycle(), ConversionAttribution()]
