"""Templates as defined: Braze's attribute syntax, syntax errors, L1 and L5 checks."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dispatchledger.domain import (
    Campaign,
    CampaignDefinition,
    Canvas,
    CanvasDefinition,
    CanvasStep,
    CanvasVariant,
    DispatchTagInInApp,
    MessageVariation,
    TemplateError,
)
from dispatchledger.domain.templates import check_variation, parse, translate

AT = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def email(template: str, variation_id: str = "spring_email") -> MessageVariation:
    return MessageVariation(
        variation_id=variation_id,
        channel="email",
        name="Spring email",
        template=template,
    )


def in_app(template: str) -> MessageVariation:
    return MessageVariation(
        variation_id="spring_banner", channel="in_app_message", template=template
    )


def spring_sale(*variations: MessageVariation) -> CampaignDefinition:
    return CampaignDefinition(
        campaign_id="spring_sale",
        name="Spring sale",
        delivery_type="scheduled",
        variations=variations,
    )


def onboarding(*messages: MessageVariation) -> CanvasDefinition:
    return CanvasDefinition(
        canvas_id="onboarding",
        name="Onboarding",
        entry_type="action_based",
        variants=(CanvasVariant(variant_id="control", entry_step_ids=("welcome",)),),
        steps=(CanvasStep(step_id="welcome", name="Welcome", messages=messages),),
    )


def template_error(variation: MessageVariation) -> TemplateError:
    with pytest.raises(TemplateError) as raised:
        check_variation("spring_sale", variation)
    return raised.value


# -- translation of Braze's syntax ------------------------------------------------


def test_translation_keeps_length_and_line_breaks() -> None:
    source = (
        "Hi\n{{campaign.${name}}} and {% if campaign.${ dispatch_id } %}x{% endif %}"
    )

    translated = translate(source)

    assert translated == (
        "Hi\n{{campaign.name   }} and {% if campaign.dispatch_id      %}x{% endif %}"
    )
    assert len(translated) == len(source)


FRAGMENTS = st.sampled_from(
    [
        "{{",
        "}}",
        "}",
        "{%",
        "%}",
        "campaign.",
        "canvas.",
        "${",
        "dispatch_id",
        " name ",
        "\n",
        " | upcase",
        "{% raw %}",
        "{% endraw %}",
        "x",
    ]
)


@given(st.lists(FRAGMENTS, max_size=30).map("".join))
def test_translation_never_moves_a_character_to_another_place(source: str) -> None:
    translated = translate(source)

    assert len(translated) == len(source)
    assert [i for i, c in enumerate(translated) if c == "\n"] == [
        i for i, c in enumerate(source) if c == "\n"
    ]


def test_translation_leaves_raw_blocks_and_plain_text_as_written() -> None:
    source = "campaign.${name} {% raw %}{{campaign.${name}}}{% endraw %}"

    assert translate(source) == source


# -- L1: the attribute syntax in output tags and tag expressions ----------------------


def test_l1_every_campaign_attribute_is_accepted_in_outputs_and_tags() -> None:
    source = (
        "{{campaign.${dispatch_id}}} {{campaign.${api_id}}} {{campaign.${name}}}"
        " {{campaign.${message_name}}} {{campaign.${message_api_id}}}"
        "{% if campaign.${dispatch_id} %}{{ campaign.${name} | upcase }}{% endif %}"
    )

    parsed = check_variation("spring_sale", email(source))

    assert [r.attribute for r in parsed.references] == [
        "dispatch_id",
        "api_id",
        "name",
        "message_name",
        "message_api_id",
        "dispatch_id",
        "name",
    ]


def test_l1_every_canvas_attribute_is_accepted_in_a_canvas_step() -> None:
    source = (
        "{{canvas.${name}}} {{canvas.${api_id}}} {{canvas.${variant_name}}}"
        " {% unless canvas.${variant_api_id} == 'x' %}y{% endunless %}"
    )

    parsed = check_variation("onboarding", email(source), in_canvas=True)

    assert [(r.namespace, r.attribute) for r in parsed.references] == [
        ("canvas", "name"),
        ("canvas", "api_id"),
        ("canvas", "variant_name"),
        ("canvas", "variant_api_id"),
    ]


def test_l1_unknown_campaign_attribute_is_an_error_at_its_place() -> None:
    error = template_error(email("Hello\n  {{ campaign.${nickname} | upcase }}"))

    assert (error.line, error.column) == (2, 6)
    assert "campaign.${nickname}" in error.reason
    assert error.owner_id == "spring_sale"
    assert error.variation_id == "spring_email"


def test_l1_unknown_attribute_inside_a_tag_expression_is_an_error() -> None:
    error = template_error(email("{% if campaign.${send_id} %}x{% endif %}"))

    assert (error.line, error.column) == (1, 7)
    assert "campaign.${send_id}" in error.reason


def test_l1_canvas_attributes_are_refused_in_a_campaign_message() -> None:
    error = template_error(email("{{ canvas.${name} }}"))

    assert (error.line, error.column) == (1, 4)
    assert "Canvas steps" in error.reason


def test_l1_bare_namespace_is_refused() -> None:
    error = template_error(email("{% for item in campaign %}{{ item }}{% endfor %}"))

    assert (error.line, error.column) == (1, 16)


def test_l1_canvas_definition_checks_its_step_templates() -> None:
    with pytest.raises(TemplateError) as raised:
        Canvas.define(onboarding(email("{{ canvas.${owner} }}")), AT)

    assert raised.value.owner_id == "onboarding"
    assert "canvas.${owner}" in raised.value.reason


# -- syntax errors name their line and column ---------------------------------------


@pytest.mark.parametrize(
    ("source", "line", "column"),
    [
        ("Hi\n{{ user.first_name | nope }}", 2, 22),
        ("a\nb {% frobnicate %}", 2, 6),
        ("{{ 'unclosed }}", 1, 4),
        ("Hi\n  {{ user.first_name | }}", 2, 23),
        ("{% if campaign.${name} == %}x{% endif %}", 1, 26),
        ("one\ntwo\n{% if x %}open", 3, 15),
        ("ab\n {{ ${first_name} }}", 2, 5),
        ("{{campaign.${name}}} then {% endfor %}", 1, 30),
    ],
)
def test_syntax_error_reports_line_and_column(
    source: str, line: int, column: int
) -> None:
    error = template_error(email(source))

    assert (error.line, error.column) == (line, column)
    assert f"at line {line}, column {column}" in str(error)


def test_missing_end_tag_says_the_template_ended() -> None:
    error = template_error(email("{% if x %}open"))

    assert error.reason == "expected tag endif, found the end of the template"


def test_campaign_definition_reports_the_syntax_error() -> None:
    with pytest.raises(TemplateError) as raised:
        Campaign.define(spring_sale(email("Hi {{ user.name | }}")), AT)

    assert (raised.value.line, raised.value.column) == (1, 18)


def test_parse_keeps_user_variables_out_of_the_references() -> None:
    parsed = parse("c", "v", "{{ user.first_name | default: 'there' }}")

    assert parsed.references == ()


# -- L5: the dispatch id tag is refused in in-app messages ----------------------------


def test_l5_in_app_template_with_the_dispatch_tag_is_rejected_when_defined() -> None:
    definition = spring_sale(
        email("<a href='https://shop.example/?d={{campaign.${dispatch_id}}}'>"),
        in_app("Sale! ref {{campaign.${dispatch_id}}}"),
    )

    with pytest.raises(DispatchTagInInApp) as raised:
        Campaign.define(definition, AT)

    assert raised.value.owner_id == "spring_sale"
    assert raised.value.variation_id == "spring_banner"


def test_l5_the_tag_inside_a_condition_is_rejected_too() -> None:
    variation = in_app("{% if campaign.${dispatch_id} %}x{% endif %}")

    with pytest.raises(DispatchTagInInApp):
        check_variation("spring_sale", variation)


def test_l5_plain_in_app_template_is_accepted() -> None:
    definition = spring_sale(
        email("{{campaign.${dispatch_id}}}"),
        in_app("Spring sale: {{campaign.${name} | upcase}}"),
    )

    campaign = Campaign.define(definition, AT)

    assert campaign.definition == definition


def test_l5_in_app_step_of_a_canvas_is_rejected() -> None:
    with pytest.raises(DispatchTagInInApp) as raised:
        Canvas.define(onboarding(in_app("{{ campaign.${dispatch_id} }}")), AT)

    assert raised.value.owner_id == "onboarding"


def test_l5_a_raw_block_showing_the_tag_is_not_a_use_of_it() -> None:
    variation = in_app("{% raw %}{{campaign.${dispatch_id}}}{% endraw %}")

    assert check_variation("spring_sale", variation).references == ()


def test_l5_template_revision_is_checked() -> None:
    campaign = Campaign.define(spring_sale(in_app("Plain")), AT)

    with pytest.raises(DispatchTagInInApp):
        campaign.revise_template("spring_banner", "{{campaign.${dispatch_id}}}", AT)

    assert campaign.definition.variations[0].template == "Plain"


def test_template_revision_reports_a_syntax_error() -> None:
    campaign = Campaign.define(spring_sale(email("Plain")), AT)

    with pytest.raises(TemplateError) as raised:
        campaign.revise_template("spring_email", "{% if %}", AT)

    assert (raised.value.line, raised.value.column) == (1, 4)
