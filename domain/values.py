"""Value objects of the dispatch model: definitions of campaigns and Canvases.

They are frozen pydantic models, so the same types validate command input, travel
inside events and come back from storage with their own types (never plain dicts).
"""

from __future__ import annotations

import unicodedata
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    model_validator,
)


def _printable_id(value: str) -> str:
    """Refuse control characters and ids with nothing visible in them.

    Ids are opaque (D1) but they name streams: stream ids join their parts
    with a control character, so one inside an id would let two different
    pairs of ids name the same stream. An id of blanks is a missing id.
    """
    for position, char in enumerate(value):
        if unicodedata.category(char) == "Cc":
            raise ValueError(
                f"control character U+{ord(char):04X} at position {position}"
                " is not allowed in an id"
            )
    if not value.strip():
        raise ValueError("an id must contain a visible character")
    return value


ApiId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200),
    AfterValidator(_printable_id),
]
"""An API id (campaign, Canvas, step, variation): a non-empty opaque string."""

UserId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200),
    AfterValidator(_printable_id),
]

_USER_ID: TypeAdapter[str] = TypeAdapter(UserId)


def is_valid_user_id(value: object) -> bool:
    """Whether ``value`` is a user id a command would accept."""
    try:
        _USER_ID.validate_python(value, strict=True)
    except ValidationError:
        return False
    return True


class Channel(StrEnum):
    EMAIL = "email"
    PUSH = "push"
    SMS = "sms"
    WEBHOOK = "webhook"
    WHATSAPP = "whatsapp"
    CONTENT_CARD = "content_card"
    IN_APP_MESSAGE = "in_app_message"

    @property
    def carries_dispatch_id(self) -> bool:
        """Rule D8: in-app messages have no dispatch."""
        return self is not Channel.IN_APP_MESSAGE


class DeliveryType(StrEnum):
    SCHEDULED = "scheduled"
    ACTION_BASED = "action_based"
    API_TRIGGERED = "api_triggered"


class ApiTriggerDispatch(StrEnum):
    """Policy of rule D4: how the recipients of one API call are identified."""

    PER_RECIPIENT = "per_recipient"
    PER_CALL = "per_call"


class ValueObject(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)


class MessageVariation(ValueObject):
    """One message of a campaign or step for one channel."""

    variation_id: ApiId
    channel: Channel
    name: str = ""
    template: str = ""


class ConversionBehavior(ValueObject):
    """A conversion event that counts for a campaign, within ``window_seconds``."""

    event: str = Field(min_length=1)
    window_seconds: int = Field(gt=0)
    minimum_value: Decimal | None = None


def _unique(ids: list[str], what: str) -> None:
    seen: set[str] = set()
    for item in ids:
        if item in seen:
            raise ValueError(f"{what} {item!r} appears more than once")
        seen.add(item)


class CampaignDefinition(ValueObject):
    campaign_id: ApiId
    name: str = Field(min_length=1)
    delivery_type: DeliveryType
    recurring: bool = False
    variations: tuple[MessageVariation, ...] = Field(min_length=1)
    conversion_behaviors: tuple[ConversionBehavior, ...] = ()
    re_eligibility_seconds: int | None = Field(default=None, ge=0)
    api_trigger_dispatch: ApiTriggerDispatch = ApiTriggerDispatch.PER_RECIPIENT

    @model_validator(mode="after")
    def _check(self) -> CampaignDefinition:
        _unique([v.variation_id for v in self.variations], "variation")
        if self.recurring and self.delivery_type is not DeliveryType.SCHEDULED:
            raise ValueError("only a scheduled campaign can be recurring")
        return self

    def variations_for_user(self, pick: int) -> tuple[MessageVariation, ...]:
        """One variation per channel (D2), chosen by ``pick`` among a channel's."""
        by_channel: dict[Channel, list[MessageVariation]] = {}
        for variation in self.variations:
            by_channel.setdefault(variation.channel, []).append(variation)
        return tuple(options[pick % len(options)] for options in by_channel.values())


class CanvasStep(ValueObject):
    step_id: ApiId
    name: str = ""
    messages: tuple[MessageVariation, ...] = ()
    next_step_ids: tuple[ApiId, ...] = ()


class CanvasVariant(ValueObject):
    variant_id: ApiId
    name: str = ""
    entry_step_ids: tuple[ApiId, ...] = Field(min_length=1)


class CanvasDefinition(ValueObject):
    canvas_id: ApiId
    name: str = Field(min_length=1)
    entry_type: DeliveryType
    recurring: bool = False
    variants: tuple[CanvasVariant, ...] = Field(min_length=1)
    steps: tuple[CanvasStep, ...] = Field(min_length=1)
    re_eligibility_seconds: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _check(self) -> CanvasDefinition:
        step_ids = [s.step_id for s in self.steps]
        _unique(step_ids, "step")
        _unique([v.variant_id for v in self.variants], "variant")
        _unique([m.variation_id for s in self.steps for m in s.messages], "variation")
        known = set(step_ids)
        for step in self.steps:
            for next_id in step.next_step_ids:
                if next_id not in known:
                    raise ValueError(
                        f"step {step.step_id!r} leads to unknown step {next_id!r}"
                    )
        for variant in self.variants:
            for entry_id in variant.entry_step_ids:
                if entry_id not in known:
                    raise ValueError(
                        f"variant {variant.variant_id!r} enters at unknown step"
                        f" {entry_id!r}"
                    )
        if self.recurring and self.entry_type is not DeliveryType.SCHEDULED:
            raise ValueError("only a scheduled-entry Canvas can be recurring")
        return self

    def step(self, step_id: str) -> CanvasStep | None:
        for step in self.steps:
            if step.step_id == step_id:
                return step
        return None

    def variant(self, variant_id: str) -> CanvasVariant | None:
        for variant in self.variants:
            if variant.variant_id == variant_id:
                return variant
        return None


VALUE_OBJECTS: tuple[type[ValueObject], ...] = (
    MessageVariation,
    ConversionBehavior,
    CampaignDefinition,
    CanvasStep,
    CanvasVariant,
    CanvasDefinition,
)
