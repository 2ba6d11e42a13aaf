"""Which message a render request names, and rendering it (rules L2 and L3).

A render names a message by its program (campaign, or Canvas and step) and variation,
or by a recorded ``(dispatch_id, user_id)`` pair. A preview renders the dispatch id as
``dispatch_id_for_unsent_campaign`` (L2); a recorded message renders exactly the id it
was recorded with (L3). Definitions and records are read through a
:class:`MessageSource` (the ledger); the rendering itself is
:mod:`dispatchledger.domain.rendering`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from dispatchledger.domain.commands import DispatchRecord
from dispatchledger.domain.errors import (
    InvalidCommand,
    MessageNotRecorded,
    UnknownStep,
    UnknownVariant,
)
from dispatchledger.domain.rendering import (
    campaign_attributes,
    render_template,
    step_attributes,
)
from dispatchledger.domain.templates import (
    NAMESPACES,
    PREVIEW_DISPATCH_ID,
    MessageTemplate,
    check_variation,
)
from dispatchledger.domain.values import (
    ApiId,
    CampaignDefinition,
    CanvasDefinition,
    CanvasVariant,
    MessageVariation,
    UserId,
)


class RenderRequest(BaseModel):
    """Which message to render, and the caller's own template variables.

    Without ``user_id`` it is a preview of a defined message. With ``user_id`` it
    renders a recorded message: the one carrying ``dispatch_id``, or, for a message
    without a dispatch id (in-app), the latest one of the named program and variation.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    campaign_id: ApiId | None = None
    canvas_id: ApiId | None = None
    step_id: ApiId | None = None
    variant_id: ApiId | None = Field(
        default=None, description="The Canvas variant a preview renders for."
    )
    variation_id: ApiId | None = None
    dispatch_id: str | None = Field(default=None, min_length=1)
    user_id: UserId | None = None
    context: dict[str, Any] = Field(
        default_factory=dict,
        description="Other template variables, e.g. {'user': {'first_name': 'Ada'}}.",
    )

    @model_validator(mode="after")
    def _check(self) -> RenderRequest:
        if self.campaign_id is not None and self.canvas_id is not None:
            raise ValueError("name a campaign or a Canvas, not both")
        if self.step_id is not None and self.canvas_id is None:
            raise ValueError("a step is named only with its Canvas")
        if self.dispatch_id is not None and self.user_id is None:
            raise ValueError("a dispatch id names a message only with its user_id")
        if self.user_id is None:
            self._check_preview()
        elif self.variant_id is not None:
            raise ValueError("variant_id is for previews; a journey has its own")
        reserved = sorted(NAMESPACES.intersection(self.context))
        if reserved:
            raise ValueError(f"context may not set {', '.join(reserved)}")
        return self

    def _check_preview(self) -> None:
        if self.campaign_id is None and self.canvas_id is None:
            raise ValueError("name a campaign or a Canvas to preview")
        if self.canvas_id is not None and self.step_id is None:
            raise ValueError("name the step of the Canvas to preview")
        if self.variant_id is not None and self.canvas_id is None:
            raise ValueError("variant_id is for Canvas previews")

    @property
    def preview(self) -> bool:
        return self.user_id is None


def render_request(
    fields: Mapping[str, Any], request: RenderRequest | None = None
) -> RenderRequest:
    """The request given, or one validated from ``fields``; never both.

    :class:`InvalidCommand` names each field that is wrong.
    """
    if request is not None:
        if fields:
            raise InvalidCommand(
                "give a RenderRequest or its fields, not both",
                [{"field": name, "reason": "given twice"} for name in fields],
            )
        return request
    try:
        return RenderRequest.model_validate(fields)
    except ValidationError as error:
        problems = [
            {
                "field": ".".join(str(part) for part in item["loc"]) or "request",
                "reason": item["msg"].removeprefix("Value error, "),
            }
            for item in error.errors(include_url=False)
        ]
        summary = "; ".join(f"{p['field']}: {p['reason']}" for p in problems)
        raise InvalidCommand(f"invalid render request: {summary}", problems) from None


class RenderedMessage(BaseModel):
    """A rendered message and what it was rendered as.

    ``dispatch_id`` is the recorded id the text was rendered with; ``None`` for a
    preview and for messages without a dispatch (in-app, rule D8).
    """

    model_config = ConfigDict(frozen=True)

    program_kind: str
    program_id: str
    step_id: str | None
    variation_id: str
    channel: str
    user_id: str | None
    dispatch_id: str | None
    preview: bool
    text: str


class MessageSource(Protocol):
    """What rendering reads: definitions and the messages a user was sent."""

    def campaign(self, campaign_id: str) -> CampaignDefinition: ...

    def canvas(self, canvas_id: str) -> CanvasDefinition: ...

    def user_dispatches(self, user_id: str) -> list[DispatchRecord]: ...

    def journey_variant(
        self, canvas_id: str, user_id: str, entry_id: str
    ) -> str | None: ...


@dataclass(frozen=True)
class _Target:
    """The message to render, once a request is resolved."""

    kind: str
    program_id: str
    step_id: str | None
    variation_id: str | None
    record: DispatchRecord | None


def render_message(source: MessageSource, request: RenderRequest) -> RenderedMessage:
    """Render the message ``request`` names, as previewed or as recorded."""
    _check_program(source, request)
    target = _target(source, request)
    if target.kind == "canvas":
        return _render_step(source, request, target)
    return _render_campaign(source, request, target)


def _check_program(source: MessageSource, request: RenderRequest) -> None:
    """Raise the program's own error before looking for what it sent."""
    if request.campaign_id is not None:
        source.campaign(request.campaign_id)
    if request.canvas_id is not None:
        definition = source.canvas(request.canvas_id)
        if request.step_id is not None and definition.step(request.step_id) is None:
            raise UnknownStep(request.canvas_id, request.step_id)


def _target(source: MessageSource, request: RenderRequest) -> _Target:
    if request.user_id is not None:
        record = find_record(source, request, request.user_id)
        return _Target(
            record.program_kind,
            record.program_id,
            record.step_id,
            record.variation_id,
            record,
        )
    if request.canvas_id is not None:
        return _Target(
            "canvas", request.canvas_id, request.step_id, request.variation_id, None
        )
    # The request's validator makes a preview name its campaign or its Canvas.
    campaign_id = request.campaign_id or ""
    return _Target("campaign", campaign_id, None, request.variation_id, None)


def find_record(
    source: MessageSource, request: RenderRequest, user_id: str
) -> DispatchRecord:
    """The recorded message a request names (the latest when several match)."""
    found = [r for r in source.user_dispatches(user_id) if _wanted(r, request)]
    program_id = request.campaign_id or request.canvas_id
    if not found:
        raise MessageNotRecorded(user_id, request.dispatch_id, program_id)
    variations = sorted({(r.program_id, r.variation_id) for r in found})
    if len(variations) > 1:
        listed = ", ".join(f"{p}/{v}" for p, v in variations)
        raise InvalidCommand(
            f"several messages to user {user_id!r} match ({listed});"
            " name the variation_id",
            [{"field": "variation_id", "reason": "needed to choose one message"}],
        )
    return found[-1]


def _wanted(record: DispatchRecord, request: RenderRequest) -> bool:
    wanted = {
        "dispatch_id": request.dispatch_id,
        "step_id": request.step_id,
        "variation_id": request.variation_id,
    }
    if request.campaign_id is not None:
        wanted |= {"program_kind": "campaign", "program_id": request.campaign_id}
    if request.canvas_id is not None:
        wanted |= {"program_kind": "canvas", "program_id": request.canvas_id}
    return all(
        getattr(record, name) == value
        for name, value in wanted.items()
        if value is not None
    )


def _render_campaign(
    source: MessageSource, request: RenderRequest, target: _Target
) -> RenderedMessage:
    definition = source.campaign(target.program_id)
    owner = f"campaign {target.program_id!r}"
    variation = _variation(definition.variations, target.variation_id, owner)
    template = check_variation(target.program_id, variation)
    dispatch_id = _dispatch_value(target.record)
    attributes = campaign_attributes(definition, variation, dispatch_id)
    text = render_template(template, attributes, request.context)
    return _rendered(request, target, None, variation, text)


def _render_step(
    source: MessageSource, request: RenderRequest, target: _Target
) -> RenderedMessage:
    definition = source.canvas(target.program_id)
    step = definition.step(target.step_id or "")
    if step is None:
        raise UnknownStep(target.program_id, str(target.step_id))
    owner = f"Canvas {target.program_id!r} step {step.step_id!r}"
    variation = _variation(step.messages, target.variation_id, owner)
    template = check_variation(target.program_id, variation, in_canvas=True)
    variant = _variant(source, request, target, definition, template)
    dispatch_id = _dispatch_value(target.record)
    attributes = step_attributes(definition, step, variation, variant, dispatch_id)
    text = render_template(template, attributes, request.context)
    return _rendered(request, target, step.step_id, variation, text)


def _dispatch_value(record: DispatchRecord | None) -> str | None:
    """L2 before any send; L3 after: exactly the recorded id (none in-app, D8)."""
    if record is None:
        return PREVIEW_DISPATCH_ID
    return record.dispatch_id


def _variation(
    variations: Sequence[MessageVariation], variation_id: str | None, owner: str
) -> MessageVariation:
    if variation_id is None and len(variations) == 1:
        return variations[0]
    known = ", ".join(v.variation_id for v in variations) or "none"
    if variation_id is None:
        raise InvalidCommand(
            f"{owner} has several variations ({known}); name the variation_id",
            [{"field": "variation_id", "reason": "needed to choose one message"}],
        )
    for variation in variations:
        if variation.variation_id == variation_id:
            return variation
    raise InvalidCommand(
        f"{owner} has no variation {variation_id!r} (it has {known})",
        [{"field": "variation_id", "value": variation_id}],
    )


def _variant(
    source: MessageSource,
    request: RenderRequest,
    target: _Target,
    definition: CanvasDefinition,
    template: MessageTemplate,
) -> CanvasVariant | None:
    """The journey's variant, the preview's, or the only one; else ``None``."""
    variant_id = request.variant_id
    record = target.record
    if record is not None and record.entry_id is not None:
        variant_id = source.journey_variant(
            definition.canvas_id, record.user_id, record.entry_id
        )
    if variant_id is None and len(definition.variants) == 1:
        variant_id = definition.variants[0].variant_id
    if variant_id is not None:
        variant = definition.variant(variant_id)
        if variant is None:
            raise UnknownVariant(definition.canvas_id, variant_id)
        return variant
    if any(template.uses("canvas", name) for name in _VARIANT_ATTRIBUTES):
        raise InvalidCommand(
            f"Canvas {definition.canvas_id!r} has several variants; name the"
            " variant_id to render canvas.${variant_name} or canvas.${variant_api_id}",
            [{"field": "variant_id", "reason": "needed for the variant attributes"}],
        )
    return None


_VARIANT_ATTRIBUTES = ("variant_name", "variant_api_id")


def _rendered(
    request: RenderRequest,
    target: _Target,
    step_id: str | None,
    variation: MessageVariation,
    text: str,
) -> RenderedMessage:
    return RenderedMessage(
        program_kind=target.kind,
        program_id=target.program_id,
        step_id=step_id,
        variation_id=variation.variation_id,
        channel=variation.channel.value,
        user_id=request.user_id,
        dispatch_id=target.record.dispatch_id if target.record else None,
        preview=target.record is None,
        text=text,
    )
