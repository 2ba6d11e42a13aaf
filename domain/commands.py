"""Commands and results: the typed input and output of the ledger.

The same models serve the Python API and ``dispatchledger apply`` (one JSON object a
line, told apart by its ``command`` field); ``dispatchledger schema`` prints their
JSON Schema.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

from dispatchledger.domain.values import (
    ApiId,
    CampaignDefinition,
    CanvasDefinition,
    UserId,
)


def _now() -> datetime:
    return datetime.now(UTC)


class Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    idempotency_key: str | None = Field(
        default=None,
        min_length=1,
        description="Repeating a command with the same key returns the first result"
        " and writes nothing.",
    )
    at: AwareDatetime = Field(
        default_factory=_now,
        description="When the command takes effect (timezone-aware); defaults to now.",
    )


class DefineCampaign(Command):
    command: Literal["define_campaign"] = "define_campaign"
    campaign: CampaignDefinition


class DefineCanvas(Command):
    command: Literal["define_canvas"] = "define_canvas"
    canvas: CanvasDefinition


class RunOccurrence(Command):
    """Send one occurrence of a scheduled campaign to its audience (D2)."""

    command: Literal["run_occurrence"] = "run_occurrence"
    campaign_id: ApiId
    occurrence_id: ApiId = Field(
        description="Names the occurrence; repeating it resumes, never re-sends."
    )
    audience: list[str] = Field(
        default_factory=list,
        description="Recipients; the Python API also takes any iterable instead.",
    )


class TriggerCampaign(Command):
    """A user's action triggers an action-based campaign (D3)."""

    command: Literal["trigger"] = "trigger"
    campaign_id: ApiId
    user_id: UserId
    trigger_id: ApiId | None = Field(
        default=None, description="Names this trigger; minted when absent."
    )


class ApiTrigger(Command):
    """A REST call triggers an API-triggered campaign for listed recipients (D4)."""

    command: Literal["api_trigger"] = "api_trigger"
    campaign_id: ApiId
    recipients: list[UserId] = Field(min_length=1)
    call_id: ApiId | None = Field(
        default=None,
        description="Names the call; a call scheduled earlier is sent by its id.",
    )


class ScheduleApiTrigger(Command):
    """Schedule an API-triggered send; its id exists from now on (D9)."""

    command: Literal["schedule_api_trigger"] = "schedule_api_trigger"
    campaign_id: ApiId
    call_id: ApiId
    send_at: AwareDatetime


class RunCanvasEntry(Command):
    """One scheduled entry run of a Canvas: its entrants share an id (D5)."""

    command: Literal["run_canvas_entry"] = "run_canvas_entry"
    canvas_id: ApiId
    entry_run_id: ApiId
    audience: list[str] = Field(default_factory=list)


class EnterCanvas(Command):
    """A user enters an action-based or API-triggered Canvas (D6)."""

    command: Literal["enter_canvas"] = "enter_canvas"
    canvas_id: ApiId
    user_id: UserId
    trigger_id: ApiId | None = None
    variant_id: ApiId | None = None


class AdvanceStep(Command):
    """A user in a Canvas journey moves to one of the current step's next steps."""

    command: Literal["advance"] = "advance"
    canvas_id: ApiId
    user_id: UserId
    step_id: ApiId


class ArchiveProgram(Command):
    command: Literal["archive"] = "archive"
    program_kind: Literal["campaign", "canvas"]
    program_id: ApiId


AnyCommand = Annotated[
    DefineCampaign
    | DefineCanvas
    | RunOccurrence
    | TriggerCampaign
    | ApiTrigger
    | ScheduleApiTrigger
    | RunCanvasEntry
    | EnterCanvas
    | AdvanceStep
    | ArchiveProgram,
    Field(discriminator="command"),
]
COMMAND_ADAPTER: TypeAdapter[AnyCommand] = TypeAdapter(AnyCommand)


class Result(BaseModel):
    model_config = ConfigDict(frozen=True)

    ok: bool = True
    command: str
    replayed: bool = Field(
        default=False, description="True when an idempotency key matched."
    )


class DefinitionResult(Result):
    program_kind: Literal["campaign", "canvas"]
    program_id: str
    created: bool


class SkippedUser(BaseModel):
    model_config = ConfigDict(frozen=True)

    user_id: str
    reason: str


class SendResult(Result):
    """What a send did: the ids it minted or used, and whom it skipped and why."""

    program_kind: Literal["campaign", "canvas"]
    program_id: str
    source_kind: str
    source_id: str
    dispatch_ids: list[str | None] = Field(
        default_factory=list,
        description="Distinct ids the messages carry; null stands for in-app only.",
    )
    dispatch_by_user: dict[str, str | None] = Field(
        default_factory=dict,
        description="For sends with per-user ids (bounded sends only).",
    )
    entry_ids: dict[str, str] = Field(default_factory=dict)
    recipients: int = 0
    messages: int = 0
    skipped: list[SkippedUser] = Field(default_factory=list)
    skipped_counts: dict[str, int] = Field(default_factory=dict)
    skipped_truncated: bool = False


class ScheduleResult(Result):
    campaign_id: str
    call_id: str
    dispatch_id: str | None = Field(
        description="The id all recipients will share (per_call policy); null when"
        " each recipient gets an id of its own at send time."
    )
    send_at: datetime


class ArchiveResult(Result):
    program_kind: str
    program_id: str


class DispatchRecord(BaseModel):
    """One message a user was sent, as recorded in the event store."""

    model_config = ConfigDict(frozen=True)

    program_kind: str
    program_id: str
    user_id: str
    source_kind: str
    source_id: str
    channel: str
    variation_id: str
    dispatch_id: str | None
    entry_id: str | None
    step_id: str | None
    sent_at: datetime


AnyResult = DefinitionResult | SendResult | ScheduleResult | ArchiveResult
