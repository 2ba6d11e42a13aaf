"""The audit: where imported data departs from the dispatch rules, as findings.

Observed data is never rejected for breaking a rule (DOMAIN.md section 5); the
audit reports each departure instead, naming the rule and the records involved:

- ``D3``/``D4``/``D6``/``D7``: a dispatch id shared by several users where the
  catalog's delivery type gives each user an id of their own (``D4`` only under
  the ``per_recipient`` policy);
- ``D10``: one dispatch id on sends of different programs or Canvas steps;
- ``D8``: a dispatch id on an in-app or content-card record (kept verbatim,
  never indexed);
- ``duplicate_delivery``: the same message delivered twice (same user, dispatch
  and channel);
- ``engagement_without_send`` and ``engagement_dispatch_mismatch``: engagement
  with no matching send, or whose dispatch id differs from its send's.

The audit reads the whole log once; it holds one small record per send and per
engagement event in memory.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from dispatchledger.adapters.currents.catalog import ProgramCatalog, ProgramInfo
from dispatchledger.adapters.currents.event_types import WITHOUT_DISPATCH
from dispatchledger.adapters.currents.log import (
    LINEAGE_TOPICS,
    read_events,
)
from dispatchledger.domain.application import DispatchLedger
from dispatchledger.domain.events import MessageDispatched
from dispatchledger.domain.observed import (
    EngagementObserved,
    ObservedMessageDispatched,
    minted_event_id,
)
from dispatchledger.domain.values import ApiTriggerDispatch, DeliveryType

NOT_MATCHED_ACTIONS = frozenset({"Abort"})
"""Engagement that may come without any send (the message was never sent)."""


@dataclass(frozen=True)
class RecordRef:
    """A record a finding names."""

    event_type: str
    event_id: str
    user_id: str
    dispatch_id: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "event_type": self.event_type,
            "event_id": self.event_id,
            "user_id": self.user_id,
            "dispatch_id": self.dispatch_id,
        }


@dataclass(frozen=True)
class Finding:
    """One departure from the rules, with the records that show it."""

    rule: str
    message: str
    records: tuple[RecordRef, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "message": self.message,
            "records": [r.to_dict() for r in self.records],
        }


@dataclass(frozen=True)
class _Send:
    ref: RecordRef
    observed: bool
    channel: str
    program_kind: str
    program_id: str
    variation_id: str
    step_id: str | None


@dataclass(frozen=True)
class _Engagement:
    ref: RecordRef
    channel: str
    action: str
    program_kind: str
    program_id: str
    variation_id: str


@dataclass
class _Log:
    sends: list[_Send] = field(default_factory=list)
    engagement: list[_Engagement] = field(default_factory=list)
    tagged_without_dispatch: list[RecordRef] = field(default_factory=list)


def audit(
    ledger: DispatchLedger,
    catalog: ProgramCatalog,
    api_trigger_dispatch: ApiTriggerDispatch = ApiTriggerDispatch.PER_RECIPIENT,
) -> list[Finding]:
    """Every finding on the data in ``ledger``, read against ``catalog``.

    ``api_trigger_dispatch`` is rule D4's policy for campaigns whose catalog
    entry does not set one.
    """
    log = _read(ledger)
    findings: list[Finding] = []
    by_dispatch: dict[str, list[_Send]] = defaultdict(list)
    for send in log.sends:
        if send.ref.dispatch_id is not None:
            by_dispatch[send.ref.dispatch_id].append(send)
    for dispatch_id, sends in by_dispatch.items():
        observed = [s for s in sends if s.observed]
        if observed:
            findings.extend(
                _rule_findings(dispatch_id, observed, catalog, api_trigger_dispatch)
            )
        findings.extend(_duplicates(dispatch_id, sends))
    findings.extend(
        Finding(
            "D8",
            f"{ref.event_type} record {ref.event_id!r} carries dispatch id"
            f" {ref.dispatch_id!r}; kept in the record, not indexed as a dispatch",
            (ref,),
        )
        for ref in log.tagged_without_dispatch
    )
    findings.extend(_engagement_findings(log))
    return findings


def _read(ledger: DispatchLedger) -> _Log:
    log = _Log()
    for event in read_events(ledger, LINEAGE_TOPICS):
        if isinstance(event, EngagementObserved):
            log.engagement.append(_engagement_of(event))
            _check_tag(log, event.channel, event.event_type, event.event_id, event)
        elif isinstance(event, MessageDispatched):
            send = _send_of(event)
            log.sends.append(send)
            if isinstance(event, ObservedMessageDispatched):
                _check_tag(log, event.channel, event.event_type, event.event_id, event)
    return log


def _check_tag(
    log: _Log,
    channel: str,
    event_type: str,
    event_id: str,
    event: EngagementObserved | ObservedMessageDispatched,
) -> None:
    tag = event.record.get("dispatch_id")
    if channel in WITHOUT_DISPATCH and isinstance(tag, str):
        log.tagged_without_dispatch.append(
            RecordRef(event_type, event_id, event.user_id, tag)
        )


def _engagement_of(event: EngagementObserved) -> _Engagement:
    return _Engagement(
        RecordRef(event.event_type, event.event_id, event.user_id, event.dispatch_id),
        event.channel,
        event.action,
        event.program_kind,
        event.program_id,
        event.variation_id or "",
    )


def _send_of(event: MessageDispatched) -> _Send:
    if isinstance(event, ObservedMessageDispatched):
        ref = RecordRef(
            event.event_type, event.event_id, event.user_id, event.dispatch_id
        )
    else:
        ref = RecordRef(
            "",
            minted_event_id(event.originator_id, event.originator_version),
            event.user_id,
            event.dispatch_id,
        )
    return _Send(
        ref,
        isinstance(event, ObservedMessageDispatched),
        event.channel,
        event.program_kind,
        event.program_id,
        event.variation_id,
        event.step_id,
    )


def _rule_findings(
    dispatch_id: str,
    sends: list[_Send],
    catalog: ProgramCatalog,
    policy: ApiTriggerDispatch,
) -> Iterable[Finding]:
    refs = tuple(s.ref for s in sends)
    programs = sorted({(s.program_kind, s.program_id, s.step_id or "") for s in sends})
    if len(programs) > 1:
        names = ", ".join(_program_name(*program) for program in programs)
        yield Finding(
            "D10",
            f"dispatch {dispatch_id!r} is shared by different transmissions: {names}",
            refs,
        )
    users = sorted({s.ref.user_id for s in sends})
    if len(users) < 2:
        return
    kind, program_id, step_id = programs[0]
    info = catalog.get(kind, program_id)
    rule = _per_user_rule(info, step_id, policy) if info else None
    if rule is not None:
        yield Finding(
            rule,
            f"dispatch {dispatch_id!r} of {kind} {program_id!r}"
            f" ({info.delivery_type.value if info else ''}) is shared by"
            f" {len(users)} users; the rule gives each user an id of their own",
            refs,
        )


def _program_name(kind: str, program_id: str, step_id: str) -> str:
    step = f" step {step_id!r}" if step_id else ""
    return f"{kind} {program_id!r}{step}"


def _per_user_rule(
    info: ProgramInfo, step_id: str, policy: ApiTriggerDispatch
) -> str | None:
    """The rule a shared id breaks for this program and step, if any."""
    delivery = info.delivery_type
    if info.kind == "campaign":
        if delivery is DeliveryType.ACTION_BASED:
            return "D3"
        chosen = info.api_trigger_dispatch or policy
        if (
            delivery is DeliveryType.API_TRIGGERED
            and chosen is ApiTriggerDispatch.PER_RECIPIENT
        ):
            return "D4"
        return None
    if step_id and info.entry_step_ids and step_id not in info.entry_step_ids:
        return "D7"
    if delivery is not DeliveryType.SCHEDULED:
        return "D6"
    return None


def _duplicates(dispatch_id: str, sends: list[_Send]) -> Iterable[Finding]:
    groups: dict[tuple[str, str], list[_Send]] = defaultdict(list)
    for send in sends:
        groups[(send.ref.user_id, send.channel)].append(send)
    for (user_id, channel), same in sorted(groups.items()):
        if len(same) > 1:
            yield Finding(
                "duplicate_delivery",
                f"user {user_id!r} was sent dispatch {dispatch_id!r} on {channel}"
                f" {len(same)} times",
                tuple(s.ref for s in same),
            )


_MessageKey = tuple[str, str, str, str, str]


class _SendIndex:
    """Sends by (user, channel, dispatch) and by the message they sent."""

    def __init__(self, sends: Iterable[_Send]) -> None:
        self.dispatches: set[tuple[str, str, str | None]] = set()
        self.messages: dict[_MessageKey, list[_Send]] = defaultdict(list)
        for send in sends:
            ref = send.ref
            self.dispatches.add((ref.user_id, send.channel, ref.dispatch_id))
            key = (
                ref.user_id,
                send.channel,
                send.program_kind,
                send.program_id,
                send.variation_id,
            )
            self.messages[key].append(send)

    def has_dispatch(self, event: _Engagement) -> bool:
        found = (event.ref.user_id, event.channel, event.ref.dispatch_id)
        return event.ref.dispatch_id is not None and found in self.dispatches

    def sends_of(self, event: _Engagement) -> list[_Send]:
        """The sends of the message this engagement is about, whatever their id."""
        key = (
            event.ref.user_id,
            event.channel,
            event.program_kind,
            event.program_id,
            event.variation_id,
        )
        return self.messages.get(key, [])


def _engagement_findings(log: _Log) -> Iterable[Finding]:
    index = _SendIndex(log.sends)
    for event in log.engagement:
        if event.channel in WITHOUT_DISPATCH or event.action in NOT_MATCHED_ACTIONS:
            continue
        if not index.has_dispatch(event):
            finding = _unmatched(event, index.sends_of(event))
            if finding is not None:
                yield finding


def _unmatched(event: _Engagement, sends: list[_Send]) -> Finding | None:
    ref = event.ref
    name = f"{ref.event_type} {ref.event_id!r} of user {ref.user_id!r}"
    if not sends:
        return Finding(
            "engagement_without_send",
            f"{name} (dispatch {ref.dispatch_id!r}) matches no send",
            (ref,),
        )
    if ref.dispatch_id is None:
        return None
    ids = ", ".join(repr(i) for i in sorted({s.ref.dispatch_id or "" for s in sends}))
    return Finding(
        "engagement_dispatch_mismatch",
        f"{name} carries dispatch {ref.dispatch_id!r}; its send carries {ids}",
        (ref, *(s.ref for s in sends)),
    )
