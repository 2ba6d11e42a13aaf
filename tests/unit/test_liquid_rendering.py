"""Rendering templates with program attributes: the pure part of rules L1 to L4."""

from __future__ import annotations

import pytest
from liquid.exceptions import UndefinedError

from dispatchledger.domain import (
    CampaignDefinition,
    CanvasDefinition,
    CanvasStep,
    CanvasVariant,
    InvalidCommand,
    MessageVariation,
    RenderRequest,
    TemplateError,
)
from dispatchledger.domain.personalization import render_request
from dispatchledger.domain.rendering import (
    campaign_attributes,
    render_template,
    step_attributes,
)
from dispatchledger.domain.templates import (
    ENVIRONMENT,
    PREVIEW_DISPATCH_ID,
    check_variation,
)

DISPATCH = "639a35d192b0df004d06514c"

EMAIL = MessageVariation(
    variation_id="spring_email", channel="email", name="Spring email"
)
SPRING_SALE = CampaignDefinition(
    campaign_id="spring_sale",
    name="Spring sale",
    delivery_type="scheduled",
    variations=(EMAIL,),
)
WELCOME_EMAIL = MessageVariation(
    variation_id="welcome_email", channel="email", name="Welcome email"
)
WELCOME = CanvasStep(step_id="welcome", name="Welcome", messages=(WELCOME_EMAIL,))
TREATMENT = CanvasVariant(
    variant_id="treatment", name="Treatment", entry_step_ids=("welcome",)
)
ONBOARDING = CanvasDefinition(
    canvas_id="onboarding",
    name="Onboarding",
    entry_type="action_based",
    variants=(TREATMENT,),
    steps=(WELCOME,),
)


def render_campaign(
    template: str, dispatch_id: str | None = DISPATCH, **context: object
) -> str:
    variation = EMAIL.model_copy(update={"template": template})
    parsed = check_variation("spring_sale", variation)
    attributes = campaign_attributes(SPRING_SALE, variation, dispatch_id)
    return render_template(parsed, attributes, context)


def render_step(template: str, dispatch_id: str = DISPATCH) -> str:
    variation = WELCOME_EMAIL.model_copy(update={"template": template})
    parsed = check_variation("onboarding", variation, in_canvas=True)
    attributes = step_attributes(ONBOARDING, WELCOME, variation, TREATMENT, dispatch_id)
    return render_template(parsed, attributes, {})


# -- L1 --------------------------------------------------------------------------------


def test_l1_campaign_attributes_render_in_output_tags() -> None:
    text = render_campaign(
        "{{campaign.${dispatch_id}}}|{{campaign.${api_id}}}|{{campaign.${name}}}"
        "|{{campaign.${message_name}}}|{{campaign.${message_api_id}}}"
    )

    assert text == f"{DISPATCH}|spring_sale|Spring sale|Spring email|spring_email"


def test_l1_filters_apply_to_attributes() -> None:
    text = render_campaign(
        "{{ campaign.${name} | upcase }} {{campaign.${dispatch_id}|slice: 0, 6}}"
        " {{ campaign.${name} | replace: ' ', '-' | downcase }}"
    )

    assert text == "SPRING SALE 639a35 spring-sale"


def test_l1_conditionals_test_attributes_in_tag_expressions() -> None:
    template = (
        "{% if campaign.${dispatch_id} %}tracked{% else %}untracked{% endif %}"
        "{% if campaign.${api_id} == 'spring_sale' %} spring{% endif %}"
        "{% unless campaign.${name} contains 'Winter' %} not winter{% endunless %}"
        "{% case campaign.${message_api_id} %}{% when 'spring_email' %} mail"
        "{% endcase %}"
    )

    assert render_campaign(template) == "tracked spring not winter mail"


def test_l1_attributes_in_assign_capture_and_loops() -> None:
    template = (
        "{% assign ref = campaign.${dispatch_id} | prepend: 'd=' %}"
        "{% capture link %}https://shop.example/?{{ ref }}{% endcapture %}"
        "{% assign words = campaign.${name} | split: ' ' %}"
        "{% for word in words %}[{{ word }}]{% endfor %}"
        " {{ link }}"
    )

    assert (
        render_campaign(template)
        == f"[Spring][sale] https://shop.example/?d={DISPATCH}"
    )


def test_l1_caller_variables_keep_liquids_lenient_behaviour() -> None:
    template = "Hi {{ user.first_name | default: 'there' }}{{ user.missing }}!"

    assert render_campaign(template) == "Hi there!"
    assert render_campaign(template, user={"first_name": "Ada"}) == "Hi Ada!"


def test_l1_canvas_attributes_render_in_a_step() -> None:
    text = render_step(
        "{{canvas.${name}}}|{{canvas.${api_id}}}|{{canvas.${variant_name}}}"
        "|{{canvas.${variant_api_id}}}"
    )

    assert text == "Onboarding|onboarding|Treatment|treatment"


def test_l1_missing_attribute_value_is_an_error_not_an_empty_string() -> None:
    with pytest.raises(TemplateError) as raised:
        render_campaign("Ref:\n {{ campaign.${dispatch_id} }}", dispatch_id=None)

    assert (raised.value.line, raised.value.column) == (2, 5)


def test_l1_render_error_names_its_place() -> None:
    with pytest.raises(TemplateError) as raised:
        render_campaign("x\n{{ 10 | divided_by: user.zero }}", user={"zero": 0})

    assert raised.value.line == 2


# -- L2 --------------------------------------------------------------------------------


def test_l2_preview_value_is_the_literal_placeholder() -> None:
    text = render_campaign(
        "https://shop.example/?d={{campaign.${dispatch_id}}}",
        dispatch_id=PREVIEW_DISPATCH_ID,
    )

    assert text == "https://shop.example/?d=dispatch_id_for_unsent_campaign"


# -- L3 --------------------------------------------------------------------------------


def test_l3_recorded_id_renders_byte_for_byte() -> None:
    recorded = "5E8B2D1C-0A4F-4B9E-9C3D-2F1A7B6C5D4E"

    text = render_campaign("[{{campaign.${dispatch_id}}}]", dispatch_id=recorded)

    assert text == "[5E8B2D1C-0A4F-4B9E-9C3D-2F1A7B6C5D4E]"


# -- L4 --------------------------------------------------------------------------------


def test_l4_campaign_attributes_describe_the_canvas_step() -> None:
    text = render_step(
        "{{campaign.${api_id}}}|{{campaign.${name}}}|{{campaign.${message_api_id}}}"
        "|{{campaign.${message_name}}}|{{campaign.${dispatch_id}}}"
    )

    assert text == f"welcome|Welcome|welcome_email|Welcome email|{DISPATCH}"


def test_l4_step_attributes_work_with_filters_and_conditions() -> None:
    text = render_step(
        "{% if campaign.${api_id} == 'welcome' %}{{ campaign.${name} | upcase }}"
        "{% endif %} in {{ canvas.${name} | downcase }}"
    )

    assert text == "WELCOME in onboarding"


# -- requests ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"campaign_id": "spring_sale", "canvas_id": "onboarding", "step_id": "w"},
        {"canvas_id": "onboarding"},
        {"step_id": "welcome"},
        {"campaign_id": "spring_sale", "dispatch_id": DISPATCH},
        {"campaign_id": "spring_sale", "variant_id": "treatment"},
        {"campaign_id": "spring_sale", "context": {"campaign": {"name": "x"}}},
        {"dispatch_id": DISPATCH, "user_id": "u1", "variant_id": "treatment"},
    ],
)
def test_render_request_refuses_what_names_no_single_message(
    fields: dict[str, object],
) -> None:
    with pytest.raises(ValueError, match="validation error"):
        RenderRequest.model_validate(fields)


def test_render_request_recorded_pair_needs_no_program() -> None:
    request = RenderRequest(dispatch_id=DISPATCH, user_id="u1")

    assert request.preview is False
    assert request.campaign_id is None


def test_environment_is_strict_only_for_program_namespaces() -> None:
    lenient = ENVIRONMENT.from_string("[{{ user.nickname }}]")
    strict = ENVIRONMENT.from_string("[{{ campaign.nickname }}]")

    assert lenient.render(user={}) == "[]"
    with pytest.raises(UndefinedError, match=r"campaign\.nickname"):
        strict.render(campaign={"name": "Spring sale"})


def test_render_request_errors_name_each_problem() -> None:
    with pytest.raises(InvalidCommand) as raised:
        render_request({"campaign_id": "spring_sale", "context": {"campaign": 1}})
    with pytest.raises(InvalidCommand) as extra:
        render_request({"campaign": "spring_sale"})

    assert str(raised.value) == (
        "invalid render request: request: context may not set campaign"
    )
    assert extra.value.problems[0]["field"] == "campaign"


def test_render_request_is_given_once() -> None:
    request = RenderRequest(campaign_id="spring_sale")

    with pytest.raises(InvalidCommand, match="not both"):
        render_request({"user_id": "u1"}, request)
    assert render_request({}, request) is request
