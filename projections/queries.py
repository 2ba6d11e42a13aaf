"""Typed queries over the read models: dispatches, transmissions and lineage."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
)

from dispatchledger.domain.errors import InvalidCommand
from dispatchledger.domain.values import ApiId
from dispatchledger.projections.framework import ProjectionStore, Row
from dispatchledger.projections.observed import (
    CampaignAttribution,
    LifecycleEvent,
    campaign_attribution,
    dispatch_lifecycle,
)
from dispatchledger.projections.read_models import (
    JOURNEY_MESSAGES,
    JOURNEY_STEPS,
    STEP_DISPATCHES,
    TRANSMISSION_MESSAGES,
    TRANSMISSION_RECIPIENTS,
    TRANSMISSIONS,
    USER_DISPATCHES,
)

MAX_LISTED = 100
"""A transmission lists at most this many recipients; its counts cover all."""

MAX_MESSAGES = 1000
"""A dispatch's lineage lists at most this many of its messages."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class UserDispatch(_Model):
    """One message a user was sent; ``dispatch_id`` is None for in-app."""

    user_id: str
    program_kind: str
    program_id: str
    source_kind: str
    source_id: str
    entry_id: str | None
    step_id: str | None
    channel: str
    variation_id: str
    dispatch_id: str | None
    sent_at: AwareDatetime


class StepDispatch(_Model):
    """A user's arrival at a Canvas step and the dispatch id it received."""

    canvas_id: str
    step_id: str
    user_id: str
    entry_id: str
    source_kind: str
    source_id: str
    dispatch_id: str | None
    arrived_at: AwareDatetime


class Recipient(_Model):
    user_id: str
    dispatch_id: str | None
    entry_id: str | None
    channels: list[str]


class TransmissionView(_Model):
    """A source of sends, its audience and its recipients per channel."""

    program_kind: str
    program_id: str
    source_kind: str
    source_id: str
    shared_dispatch_id: str | None
    started_at: AwareDatetime
    send_at: AwareDatetime | None
    audience_size: int
    recipients_per_channel: dict[str, int]
    recipients: list[Recipient] = Field(
        description="The recipients (of one dispatch when asked by id), at most"
        f" {MAX_LISTED}."
    )
    recipients_truncated: bool = Field(
        default=False, description="True when more recipients than listed."
    )


class JourneyMessage(_Model):
    channel: str
    variation_id: str
    dispatch_id: str | None
    sent_at: AwareDatetime


class JourneyStep(_Model):
    step_id: str
    from_step_id: str | None
    source_kind: str
    source_id: str
    arrived_at: AwareDatetime
    dispatch_id: str | None
    messages: list[JourneyMessage]


class Journey(_Model):
    """One entry of a user into a Canvas: the path of steps, oldest first."""

    entry_id: str
    canvas_id: str
    user_id: str
    variant_id: str | None
    steps: list[JourneyStep]


class UserLineage(_Model):
    """Everything a user was sent: Canvas journeys and campaign messages."""

    user_id: str
    journeys: list[Journey]
    campaign_messages: list[UserDispatch]


class ChainLink(_Model):
    kind: str
    id: str


class DispatchLineage(_Model):
    """Where one dispatch id came from and who received it."""

    dispatch_id: str
    chains: list[list[ChainLink]]
    transmissions: list[TransmissionView]
    messages: list[UserDispatch] = Field(
        description=f"Messages carrying the id, oldest first, at most {MAX_MESSAGES}."
    )
    messages_truncated: bool = False
    lifecycle: list[LifecycleEvent] = Field(
        default_factory=list,
        description="Sends and engagement (delivery, open, click...) in lifecycle"
        f" order: by time, ties broken by lifecycle rank; at most {MAX_MESSAGES}.",
    )
    lifecycle_truncated: bool = False


_QUERY_ID: TypeAdapter[str] = TypeAdapter(ApiId)


def _one(value: str, field: str) -> str:
    """``value`` if a command could have recorded it as an id, else InvalidCommand.

    Checked here, not left to the database: PostgreSQL refuses NUL in text, so an
    id no command accepts would be "no rows" on SQLite and a failure there.
    """
    if not isinstance(value, str) or not value or len(value) > 200:
        raise InvalidCommand(
            f"{field} must be a non-empty string of at most 200 characters",
            [{"field": field, "reason": "empty or too long"}],
        )
    try:
        return _QUERY_ID.validate_python(value, strict=True)
    except ValidationError as error:
        reason = "; ".join(
            str(problem["ctx"]["error"])
            if "error" in problem.get("ctx", {})
            else problem["msg"]
            for problem in error.errors()
        )
        raise InvalidCommand(
            f"{field} {value!r}: {reason}", [{"field": field, "reason": reason}]
        ) from None


class DispatchQueries:
    """Reads the live read models through a projection store."""

    def __init__(self, store: ProjectionStore) -> None:
        self.store = store

    def by_user(self, user_id: str) -> list[UserDispatch]:
        """Every message the user was sent, oldest first."""
        rows = self.store.select(
            USER_DISPATCHES, {"user_id": _one(user_id, "user")}, ["log_id"]
        )
        return [UserDispatch.model_validate(row) for row in rows]

    def by_dispatch(self, dispatch_id: str) -> list[UserDispatch]:
        """Every message that carries the dispatch id, oldest first."""
        rows = self.store.select(
            USER_DISPATCHES, {"dispatch_id": _one(dispatch_id, "dispatch")}, ["log_id"]
        )
        return [UserDispatch.model_validate(row) for row in rows]

    def by_step(
        self,
        canvas_id: str,
        step_id: str,
        *,
        limit: int | None = None,
        after: tuple[str, str] | None = None,
    ) -> list[StepDispatch]:
        """Arrivals at a Canvas step, with the dispatch id each received.

        Ordered by user, then arrival source. ``limit`` cuts a page; ``after`` set
        to the ``(user_id, source_id)`` of a page's last arrival gives the next
        page (a step of a large Canvas has as many arrivals as its audience).
        """
        where = {
            "canvas_id": _one(canvas_id, "canvas"),
            "step_id": _one(step_id, "step"),
        }
        if limit is not None and (not isinstance(limit, int) or limit < 1):
            raise InvalidCommand(
                f"limit must be a positive whole number, not {limit!r}",
                [{"field": "limit", "reason": "not a positive whole number"}],
            )
        if after is not None:
            after = (_one(after[0], "after user"), _one(after[1], "after source"))
        rows = self.store.select(
            STEP_DISPATCHES, where, ["user_id", "source_id"], limit, after
        )
        return [StepDispatch.model_validate(row) for row in rows]

    def transmission(
        self, program_kind: str, program_id: str, source_id: str
    ) -> TransmissionView | None:
        """A source of sends with its whole audience, or None if unknown."""
        if program_kind not in ("campaign", "canvas"):
            raise InvalidCommand(
                f"program kind must be 'campaign' or 'canvas', not {program_kind!r}",
                [{"field": "program_kind", "reason": "not campaign or canvas"}],
            )
        key = {
            "program_kind": program_kind,
            "program_id": _one(program_id, "program"),
            "source_id": _one(source_id, "source"),
        }
        found = self.store.select(TRANSMISSIONS, key)
        return self._view(found[0], None) if found else None

    def _view(self, source: Row, dispatch_id: str | None) -> TransmissionView:
        key = {k: source[k] for k in ("program_kind", "program_id", "source_id")}
        audience = self.store.count(TRANSMISSION_RECIPIENTS, key)[None]
        per_channel = self.store.count(TRANSMISSION_MESSAGES, key, by="channel")
        where = key if dispatch_id is None else {**key, "dispatch_id": dispatch_id}
        found = self.store.select(
            TRANSMISSION_RECIPIENTS, where, ["user_id"], limit=MAX_LISTED + 1
        )
        return TransmissionView(
            program_kind=source["program_kind"],
            program_id=source["program_id"],
            source_kind=source["source_kind"],
            source_id=source["source_id"],
            shared_dispatch_id=source["dispatch_id"],
            started_at=source["started_at"],
            send_at=source["send_at"],
            audience_size=audience,
            recipients_per_channel=dict(sorted(per_channel.items())),
            recipients=[self._recipient(key, row) for row in found[:MAX_LISTED]],
            recipients_truncated=len(found) > MAX_LISTED,
        )

    def _recipient(self, key: dict[str, Any], row: Row) -> Recipient:
        where = {**key, "user_id": row["user_id"]}
        messages = self.store.select(TRANSMISSION_MESSAGES, where, ["version"])
        return Recipient(
            user_id=row["user_id"],
            dispatch_id=row["dispatch_id"],
            entry_id=row["entry_id"],
            channels=[message["channel"] for message in messages],
        )

    # -- lineage ------------------------------------------------------------

    def user_lineage(self, user_id: str) -> UserLineage:
        """The user's journeys (path and messages) and campaign messages."""
        user_id = _one(user_id, "user")
        steps = self.store.select(JOURNEY_STEPS, {"user_id": user_id}, ["arrived_at"])
        entry_ids = list(dict.fromkeys(row["entry_id"] for row in steps))
        journeys = [self.journey(entry_id) for entry_id in entry_ids]
        campaign = [m for m in self.by_user(user_id) if m.program_kind == "campaign"]
        return UserLineage(
            user_id=user_id,
            journeys=[j for j in journeys if j is not None],
            campaign_messages=campaign,
        )

    def journey(self, entry_id: str) -> Journey | None:
        """One journey's ordered path: entry step, then each step arrived at."""
        where = {"entry_id": entry_id}
        steps = self.store.select(JOURNEY_STEPS, where, ["version"])
        if not steps:
            return None
        messages = self.store.select(JOURNEY_MESSAGES, where, ["version"])
        by_source: dict[str, list[Row]] = defaultdict(list)
        for message in messages:
            by_source[message["source_id"]].append(message)
        return Journey(
            entry_id=entry_id,
            canvas_id=steps[0]["canvas_id"],
            user_id=steps[0]["user_id"],
            variant_id=steps[0]["variant_id"],
            steps=[_step(row, by_source[row["source_id"]]) for row in steps],
        )

    def dispatch_lineage(self, dispatch_id: str) -> DispatchLineage:
        """The source chain of a dispatch id, its transmissions and messages."""
        dispatch_id = _one(dispatch_id, "dispatch")
        sources = self._sources_of(dispatch_id)
        views = [self._view(source, dispatch_id) for source in sources]
        messages = self.store.select(
            USER_DISPATCHES,
            {"dispatch_id": dispatch_id},
            ["log_id"],
            limit=MAX_MESSAGES + 1,
        )
        lifecycle = dispatch_lifecycle(self.store, dispatch_id, MAX_MESSAGES + 1)
        return DispatchLineage(
            dispatch_id=dispatch_id,
            chains=[self._chain(view, dispatch_id) for view in views],
            transmissions=views,
            messages=[UserDispatch.model_validate(m) for m in messages[:MAX_MESSAGES]],
            messages_truncated=len(messages) > MAX_MESSAGES,
            lifecycle=lifecycle[:MAX_MESSAGES],
            lifecycle_truncated=len(lifecycle) > MAX_MESSAGES,
        )

    def attribution(
        self, campaign_id: str, window_seconds: int | None = None
    ) -> CampaignAttribution:
        """Rule A1 for a campaign's conversions (another window reads the same rows)."""
        return campaign_attribution(
            self.store, _one(campaign_id, "campaign"), window_seconds
        )

    def _sources_of(self, dispatch_id: str) -> list[Row]:
        # A dispatch id is minted for one source (shared by its recipients, or
        # one recipient's own), so the first row naming it finds the source.
        where = {"dispatch_id": dispatch_id}
        keys: dict[tuple[str, str, str], None] = {}
        for table in (TRANSMISSIONS, TRANSMISSION_RECIPIENTS):
            for row in self.store.select(table, where, limit=1):
                keys[(row["program_kind"], row["program_id"], row["source_id"])] = None
        found: list[Row] = []
        for kind, program_id, source_id in keys:
            key = {
                "program_kind": kind,
                "program_id": program_id,
                "source_id": source_id,
            }
            found.extend(self.store.select(TRANSMISSIONS, key))
        return found

    def _chain(self, view: TransmissionView, dispatch_id: str) -> list[ChainLink]:
        chain = [ChainLink(kind=view.program_kind, id=view.program_id)]
        if view.source_kind == "step_arrival":
            entry_id = view.recipients[0].entry_id if view.recipients else None
            journey = self.journey(entry_id) if entry_id else None
            if journey is not None:
                entry = journey.steps[0]
                chain.append(ChainLink(kind=entry.source_kind, id=entry.source_id))
                chain.append(ChainLink(kind="journey", id=journey.entry_id))
                step = next(s for s in journey.steps if s.source_id == view.source_id)
                chain.append(ChainLink(kind="step", id=step.step_id))
        else:
            chain.append(ChainLink(kind=view.source_kind, id=view.source_id))
            if view.program_kind == "canvas":
                steps = {r.entry_id for r in view.recipients if r.entry_id}
                step_ids = self._entry_steps(sorted(steps))
                chain.extend(ChainLink(kind="step", id=s) for s in step_ids)
        chain.append(ChainLink(kind="dispatch", id=dispatch_id))
        return chain

    def _entry_steps(self, entry_ids: list[str]) -> list[str]:
        found: dict[str, None] = {}
        for entry_id in entry_ids:
            rows = self.store.select(JOURNEY_STEPS, {"entry_id": entry_id}, ["version"])
            if rows:
                found[rows[0]["step_id"]] = None
        return list(found)


def _step(row: Row, messages: list[Row]) -> JourneyStep:
    carried = [m["dispatch_id"] for m in messages if m["dispatch_id"] is not None]
    return JourneyStep(
        step_id=row["step_id"],
        from_step_id=row["from_step_id"],
        source_kind=row["source_kind"],
        source_id=row["source_id"],
        arrived_at=row["arrived_at"],
        dispatch_id=carried[0] if carried else None,
        messages=[
            JourneyMessage(
                channel=m["channel"],
                variation_id=m["variation_id"],
                dispatch_id=m["dispatch_id"],
                sent_at=m["sent_at"],
            )
            for m in messages
        ],
    )


def as_json(model: BaseModel | list[Any]) -> Any:
    """JSON-ready data of a result or a list of results (times in ISO 8601)."""
    if isinstance(model, list):
        return [item.model_dump(mode="json") for item in model]
    return model.model_dump(mode="json")


__all__ = [
    "ChainLink",
    "DispatchLineage",
    "DispatchQueries",
    "Journey",
    "JourneyMessage",
    "JourneyStep",
    "Recipient",
    "StepDispatch",
    "TransmissionView",
    "UserDispatch",
    "UserLineage",
    "as_json",
]
