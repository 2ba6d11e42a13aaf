"""The catalog loader: what Braze says of each campaign and Canvas.

A catalog file is JSON: ``{"campaigns": {ID: details}, "canvases": {ID: details}}``
where each ``details`` is shaped like Braze's ``/campaigns/details`` or
``/canvas/details`` response (lists of details that carry ``campaign_id`` or
``canvas_id`` are accepted too). It gives delivery and entry types
(``schedule_type``), channels (``messages`` keyed by variation id), conversion
windows (``conversion_behaviors[].window``, seconds) and, for a Canvas, its entry
steps (``variants[].first_step_ids``) and step graph (``steps[].next_step_ids``).
A campaign may add ``"api_trigger_dispatch": "per_call"`` or ``"per_recipient"``
(rule D4's policy; the audit's default applies when it is absent).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import PersistenceError as LibraryPersistenceError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dispatchledger.domain.application import DispatchLedger
from dispatchledger.domain.errors import InvalidCommand
from dispatchledger.domain.observed import OBSERVED_CATALOG_ID, ObservedCatalog
from dispatchledger.domain.values import ApiTriggerDispatch, DeliveryType

_SCHEDULE_TYPES: dict[str, DeliveryType] = {
    "time_based": DeliveryType.SCHEDULED,
    "scheduled": DeliveryType.SCHEDULED,
    "date": DeliveryType.SCHEDULED,
    "recurring": DeliveryType.SCHEDULED,
    "local_time": DeliveryType.SCHEDULED,
    "intelligent_delivery": DeliveryType.SCHEDULED,
    "action_based": DeliveryType.ACTION_BASED,
    "triggered": DeliveryType.ACTION_BASED,
    "api_triggered": DeliveryType.API_TRIGGERED,
    "api": DeliveryType.API_TRIGGERED,
}


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Message(_Open):
    channel: str = Field(min_length=1)


class _Behavior(_Open):
    window: int = Field(gt=0)


class _Campaign(_Open):
    campaign_id: str | None = None
    name: str = ""
    schedule_type: str
    messages: dict[str, _Message] = {}
    conversion_behaviors: list[_Behavior] = []
    api_trigger_dispatch: ApiTriggerDispatch | None = None


class _Variant(_Open):
    id: str = Field(min_length=1)
    first_step_ids: list[str] = []
    first_step_id: str | None = None


class _Step(_Open):
    id: str = Field(min_length=1)
    name: str = ""
    next_step_ids: list[str] = []
    messages: dict[str, _Message] = {}


class _Canvas(_Open):
    canvas_id: str | None = None
    name: str = ""
    schedule_type: str
    variants: list[_Variant] = []
    steps: list[_Step] = []
    conversion_behaviors: list[_Behavior] = []


class _CatalogFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    campaigns: dict[str, _Campaign] | list[_Campaign] = {}
    canvases: dict[str, _Canvas] | list[_Canvas] = {}


@dataclass(frozen=True)
class ProgramInfo:
    """What the catalog says of one campaign or Canvas."""

    kind: str
    id: str
    delivery_type: DeliveryType
    channels: dict[str, str] = field(default_factory=dict)
    conversion_windows: tuple[int, ...] = ()
    api_trigger_dispatch: ApiTriggerDispatch | None = None
    entry_step_ids: tuple[str, ...] = ()
    next_step_ids: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def conversion_window(self) -> int | None:
        """The longest conversion window, in seconds (``None`` if none is set)."""
        return max(self.conversion_windows, default=None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": self.id,
            "delivery_type": self.delivery_type.value,
            "channels": dict(self.channels),
            "conversion_windows": list(self.conversion_windows),
            "api_trigger_dispatch": (
                self.api_trigger_dispatch.value if self.api_trigger_dispatch else None
            ),
            "entry_step_ids": list(self.entry_step_ids),
            "next_step_ids": {k: list(v) for k, v in self.next_step_ids.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProgramInfo:
        return cls(
            kind=data["kind"],
            id=data["id"],
            delivery_type=DeliveryType(data["delivery_type"]),
            channels=dict(data.get("channels", {})),
            conversion_windows=tuple(data.get("conversion_windows", ())),
            api_trigger_dispatch=(
                ApiTriggerDispatch(data["api_trigger_dispatch"])
                if data.get("api_trigger_dispatch")
                else None
            ),
            entry_step_ids=tuple(data.get("entry_step_ids", ())),
            next_step_ids={
                k: tuple(v) for k, v in data.get("next_step_ids", {}).items()
            },
        )


@dataclass(frozen=True)
class ProgramCatalog:
    """Programs by ``"campaign:ID"`` or ``"canvas:ID"``."""

    programs: dict[str, ProgramInfo] = field(default_factory=dict)

    def get(self, kind: str, program_id: str) -> ProgramInfo | None:
        return self.programs.get(f"{kind}:{program_id}")

    def __len__(self) -> int:
        return len(self.programs)


def channel_name(braze_channel: str) -> str:
    """The project's channel for one of Braze's channel names."""
    lowered = braze_channel.lower()
    for needle, channel in (
        ("push", "push"),
        ("content_card", "content_card"),
        ("in_app", "in_app_message"),
        ("whats", "whatsapp"),
    ):
        if needle in lowered:
            return channel
    return lowered


def load_catalog(path: str | Path) -> ProgramCatalog:
    """Read and check a catalog file; errors name the file and the field."""
    where = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
        data = json.loads(text)
    except OSError as error:
        raise InvalidCommand(f"{where}: cannot read: {error.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidCommand(f"{where}: not a JSON catalog: {error}") from None
    try:
        parsed = _CatalogFile.model_validate(data)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        # Union members show up in the location as type names: leave them out.
        loc = ".".join(str(p) for p in first["loc"] if "[" not in str(p))
        raise InvalidCommand(f"{where}: {loc}: {first['msg']}") from None
    programs: dict[str, ProgramInfo] = {}
    for cid, campaign in _keyed(parsed.campaigns, "campaign_id", where):
        info = _campaign_info(cid, campaign, where)
        programs[f"campaign:{cid}"] = info
    for cid, canvas in _keyed(parsed.canvases, "canvas_id", where):
        programs[f"canvas:{cid}"] = _canvas_info(cid, canvas, where)
    return ProgramCatalog(programs)


def _keyed(
    items: dict[str, Any] | list[Any], id_field: str, where: str
) -> list[tuple[str, Any]]:
    if isinstance(items, dict):
        return list(items.items())
    keyed = []
    for index, item in enumerate(items):
        key = getattr(item, id_field)
        if not key:
            raise InvalidCommand(f"{where}: entry {index} has no {id_field}")
        keyed.append((key, item))
    return keyed


def _delivery_type(value: str, kind: str, program_id: str, where: str) -> DeliveryType:
    found = _SCHEDULE_TYPES.get(value.lower())
    if found is None:
        known = ", ".join(sorted(_SCHEDULE_TYPES))
        raise InvalidCommand(
            f"{where}: {kind} {program_id!r}: unknown schedule_type {value!r}"
            f" (known: {known})"
        )
    return found


def _campaign_info(cid: str, campaign: _Campaign, where: str) -> ProgramInfo:
    return ProgramInfo(
        kind="campaign",
        id=cid,
        delivery_type=_delivery_type(campaign.schedule_type, "campaign", cid, where),
        channels={k: channel_name(m.channel) for k, m in campaign.messages.items()},
        conversion_windows=tuple(b.window for b in campaign.conversion_behaviors),
        api_trigger_dispatch=campaign.api_trigger_dispatch,
    )


def _canvas_info(cid: str, canvas: _Canvas, where: str) -> ProgramInfo:
    entry_steps: list[str] = []
    for variant in canvas.variants:
        firsts = variant.first_step_ids or (
            [variant.first_step_id] if variant.first_step_id else []
        )
        entry_steps.extend(s for s in firsts if s not in entry_steps)
    return ProgramInfo(
        kind="canvas",
        id=cid,
        delivery_type=_delivery_type(canvas.schedule_type, "Canvas", cid, where),
        channels={
            k: channel_name(m.channel)
            for step in canvas.steps
            for k, m in step.messages.items()
        },
        conversion_windows=tuple(b.window for b in canvas.conversion_behaviors),
        entry_step_ids=tuple(entry_steps),
        next_step_ids={s.id: tuple(s.next_step_ids) for s in canvas.steps},
    )


def save_catalog(
    ledger: DispatchLedger, catalog: ProgramCatalog, at: datetime | None = None
) -> None:
    """Keep the catalog in the ledger, replacing the programs it names."""
    when = at or datetime.now(UTC)
    try:
        stored = _stored(ledger) or ObservedCatalog.open(when)
        stored.load({k: v.to_dict() for k, v in catalog.programs.items()}, when)
        ledger.save(stored)
    except LibraryPersistenceError as error:
        raise ledger.translate_error(error) from error


def stored_catalog(ledger: DispatchLedger) -> ProgramCatalog:
    """The catalog kept in the ledger (empty when none was loaded)."""
    try:
        stored = _stored(ledger)
    except LibraryPersistenceError as error:
        raise ledger.translate_error(error) from error
    if stored is None:
        return ProgramCatalog()
    return ProgramCatalog(
        {k: ProgramInfo.from_dict(v) for k, v in stored.programs.items()}
    )


def _stored(ledger: DispatchLedger) -> ObservedCatalog | None:
    try:
        found: ObservedCatalog = ledger.repository.get(OBSERVED_CATALOG_ID)
    except AggregateNotFoundError:
        return None
    return found
