"""Attribution of a campaign's conversions to its dispatches (rule A1).

Conversions are imported (``users.campaigns.Conversion``); sends are the
campaign's messages, minted here or imported. Each conversion is credited by
:func:`~dispatchledger.domain.observed.attribute`; the result groups them by the
dispatch (and so the occurrence, call or trigger) that drove them. The window is
the one asked for, else the catalog's, else the campaign definition's longest
conversion window.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dispatchledger.adapters.currents.catalog import ProgramCatalog
from dispatchledger.adapters.currents.log import DISPATCH_TOPICS, read_events
from dispatchledger.domain.application import DispatchLedger
from dispatchledger.domain.errors import InvalidCommand, UnknownCampaign
from dispatchledger.domain.events import MessageDispatched
from dispatchledger.domain.observed import (
    Basis,
    ConversionObserved,
    ObservedMessageDispatched,
    attribute,
)


@dataclass(frozen=True)
class ConversionResult:
    """One conversion and the dispatch it is credited to (if any)."""

    event_id: str
    user_id: str
    converted_at: datetime
    dispatch_id: str | None
    basis: Basis

    def to_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "user_id": self.user_id,
            "converted_at": self.converted_at.isoformat(),
            "dispatch_id": self.dispatch_id,
            "basis": self.basis.value,
        }


@dataclass(frozen=True)
class DispatchConversions:
    """The conversions one dispatch drove, and the source that sent it."""

    dispatch_id: str
    sources: tuple[str, ...]
    conversions: tuple[ConversionResult, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "dispatch_id": self.dispatch_id,
            "sources": list(self.sources),
            "conversions": [c.to_dict() for c in self.conversions],
        }


@dataclass(frozen=True)
class CampaignAttribution:
    """A campaign's conversions, per dispatch, and those no dispatch drove."""

    campaign_id: str
    window_seconds: int | None
    by_dispatch: tuple[DispatchConversions, ...]
    unattributed: tuple[ConversionResult, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "campaign_id": self.campaign_id,
            "window_seconds": self.window_seconds,
            "by_dispatch": [d.to_dict() for d in self.by_dispatch],
            "unattributed": [c.to_dict() for c in self.unattributed],
        }

    def result_of(self, event_id: str) -> ConversionResult | None:
        """The result for one conversion event id."""
        for result in self.all_results():
            if result.event_id == event_id:
                return result
        return None

    def all_results(self) -> list[ConversionResult]:
        found = [c for d in self.by_dispatch for c in d.conversions]
        return [*found, *self.unattributed]


@dataclass
class _Campaign:
    sends: dict[str, list[tuple[datetime, str]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    sources: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    conversions: list[ConversionObserved] = field(default_factory=list)


def campaign_attribution(
    ledger: DispatchLedger,
    campaign_id: str,
    window_seconds: int | None = None,
    catalog: ProgramCatalog | None = None,
) -> CampaignAttribution:
    """Rule A1 for every conversion of ``campaign_id``."""
    if window_seconds is not None and window_seconds <= 0:
        raise InvalidCommand(
            f"the conversion window must be a positive number of seconds,"
            f" not {window_seconds}"
        )
    window = window_seconds or _window(ledger, campaign_id, catalog)
    seen = _read(ledger, campaign_id)
    grouped: dict[str, list[ConversionResult]] = defaultdict(list)
    unattributed: list[ConversionResult] = []
    for conversion in sorted(seen.conversions, key=lambda c: (c.timestamp, c.event_id)):
        credit = attribute(
            conversion.timestamp,
            conversion.dispatch_id,
            seen.sends.get(conversion.user_id, ()),
            window,
        )
        result = ConversionResult(
            conversion.event_id,
            conversion.user_id,
            conversion.timestamp,
            credit.dispatch_id,
            credit.basis,
        )
        if credit.dispatch_id is None:
            unattributed.append(result)
        else:
            grouped[credit.dispatch_id].append(result)
    by_dispatch = tuple(
        DispatchConversions(d, tuple(sorted(seen.sources.get(d, ()))), tuple(rows))
        for d, rows in sorted(grouped.items())
    )
    return CampaignAttribution(campaign_id, window, by_dispatch, tuple(unattributed))


def _window(
    ledger: DispatchLedger, campaign_id: str, catalog: ProgramCatalog | None
) -> int | None:
    info = catalog.get("campaign", campaign_id) if catalog else None
    if info is not None and info.conversion_window is not None:
        return info.conversion_window
    try:
        behaviors = ledger.campaign(campaign_id).conversion_behaviors
    except UnknownCampaign:
        return None
    return max((b.window_seconds for b in behaviors), default=None)


def _read(ledger: DispatchLedger, campaign_id: str) -> _Campaign:
    seen = _Campaign()
    topics = (*DISPATCH_TOPICS, ConversionObserved.TOPIC)
    for event in read_events(ledger, topics):
        if isinstance(event, ConversionObserved):
            if event.program_kind == "campaign" and event.program_id == campaign_id:
                seen.conversions.append(event)
        elif (
            isinstance(event, MessageDispatched)
            and event.program_kind == "campaign"
            and event.program_id == campaign_id
            and event.dispatch_id is not None
        ):
            seen.sends[event.user_id].append((event.timestamp, event.dispatch_id))
            seen.sources[event.dispatch_id].add(_source_of(event))
    return seen


def _source_of(event: MessageDispatched) -> str:
    if isinstance(event, ObservedMessageDispatched):
        send_id = event.record.get("send_id")
        return f"send {send_id}" if isinstance(send_id, str) else "observed"
    return f"{event.source_kind} {event.source_id}"
