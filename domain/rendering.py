"""Rendering a message template with its program's attributes (rules L1 to L4).

Pure functions: the attribute values of a campaign's message or of a Canvas step's
message (in a step, ``campaign.*`` describes the step, rule L4), and the rendering of
a parsed template with them and the caller's own variables.
:mod:`dispatchledger.domain.personalization` decides which message and which dispatch
id a render request means.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from liquid.exceptions import LiquidError

from dispatchledger.domain.errors import TemplateError
from dispatchledger.domain.templates import MessageTemplate
from dispatchledger.domain.values import (
    CampaignDefinition,
    CanvasDefinition,
    CanvasStep,
    CanvasVariant,
    MessageVariation,
)

Attributes = Mapping[str, Mapping[str, str]]
"""Attribute values by namespace: ``{"campaign": {"dispatch_id": ...}, ...}``."""


def render_template(
    template: MessageTemplate, attributes: Attributes, context: Mapping[str, Any]
) -> str:
    """Render a parsed template with program attributes and the caller's variables.

    An attribute the template uses but ``attributes`` lacks raises
    :class:`TemplateError` at the place it is used, never renders as nothing.
    """
    for reference in template.references:
        known = attributes.get(reference.namespace, {})
        if reference.attribute not in known:
            raise TemplateError(
                template.owner_id,
                template.variation_id,
                f"{reference.braze_syntax} has no value in this message",
                reference.line,
                reference.column,
            )
    try:
        return template.bound.render(**{**context, **attributes})
    except LiquidError as error:
        raise template.error(error) from None


def campaign_attributes(
    definition: CampaignDefinition,
    variation: MessageVariation,
    dispatch_id: str | None,
) -> Attributes:
    """Rule L1 for a campaign's message; no ``dispatch_id`` when it has none."""
    campaign = _message(variation, dispatch_id)
    campaign |= {"api_id": definition.campaign_id, "name": definition.name}
    return {"campaign": campaign}


def step_attributes(
    definition: CanvasDefinition,
    step: CanvasStep,
    variation: MessageVariation,
    variant: CanvasVariant | None,
    dispatch_id: str | None,
) -> Attributes:
    """Rules L1 and L4 for a Canvas step's message: ``campaign.*`` is the step."""
    campaign = _message(variation, dispatch_id)
    campaign |= {"api_id": step.step_id, "name": step.name}
    canvas = {"name": definition.name, "api_id": definition.canvas_id}
    if variant is not None:
        canvas |= {"variant_name": variant.name, "variant_api_id": variant.variant_id}
    return {"campaign": campaign, "canvas": canvas}


def _message(variation: MessageVariation, dispatch_id: str | None) -> dict[str, str]:
    message = {
        "message_name": variation.name,
        "message_api_id": variation.variation_id,
    }
    if dispatch_id is not None:
        message["dispatch_id"] = dispatch_id
    return message
