"""Rendering through the ledger: previews and recorded messages (K03, L2 to L5)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from dispatchledger.domain import (
    CampaignDefinition,
    CanvasDefinition,
    CanvasStep,
    CanvasVariant,
    DispatchLedger,
    DispatchTagInInApp,
    InvalidCommand,
    MessageNotRecorded,
    MessageVariation,
    UnknownCampaign,
    UnknownStep,
    UnknownVariant,
)

AT = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
EMAIL_TEMPLATE = (
    'Hi {{ user.first_name | default: "there" }},\n'
    '<a href="https://shop.example/sale?d={{campaign.${dispatch_id}}}">'
    "{{ campaign.${name} | upcase }}</a>"
)
EMAIL = MessageVariation(
    variation_id="spring_email", channel="email", template=EMAIL_TEMPLATE
)
BANNER = MessageVariation(
    variation_id="spring_banner",
    channel="in_app_message",
    template="{{campaign.${name}}} is on",
)
SPRING_SALE = CampaignDefinition(
    campaign_id="spring_sale",
    name="Spring sale",
    delivery_type="scheduled",
    recurring=True,
    re_eligibility_seconds=86400,
    variations=(EMAIL, BANNER),
)
STEP_TEMPLATE = (
    "{{campaign.${api_id}}}/{{campaign.${name}}}/{{campaign.${message_api_id}}}"
    " in {{canvas.${name}}} ({{canvas.${variant_name}}})"
    " d={{campaign.${dispatch_id}}}"
)


def step(step_id: str, name: str, next_ids: tuple[str, ...] = ()) -> CanvasStep:
    message = MessageVariation(
        variation_id=f"{step_id}_email", channel="email", template=STEP_TEMPLATE
    )
    return CanvasStep(
        step_id=step_id, name=name, messages=(message,), next_step_ids=next_ids
    )


ONBOARDING = CanvasDefinition(
    canvas_id="onboarding",
    name="Onboarding",
    entry_type="action_based",
    variants=(
        CanvasVariant(
            variant_id="control", name="Control", entry_step_ids=("welcome",)
        ),
        CanvasVariant(variant_id="bold", name="Bold", entry_step_ids=("welcome",)),
    ),
    steps=(
        step("welcome", "Welcome", ("follow_up",)),
        step("follow_up", "Follow-up"),
    ),
)


def minter(prefix: str) -> Callable[[], str]:
    """Ids written from the test's inputs: the prefix and a counter."""
    counter: Iterator[int] = iter(range(1, 1000))
    return lambda: f"{prefix}{next(counter):04d}"


@pytest.fixture
def ledger() -> Iterator[DispatchLedger]:
    app = DispatchLedger(
        {"PERSISTENCE_MODULE": "eventsourcing.popo"},
        mint_dispatch_id=minter("a1b2c3d4e5f6a7b8c9d0"),
        mint_entry_id=minter("e0e0e0e0e0e0e0e0e0e0"),
    )
    yield app
    app.close()


@pytest.fixture
def spring(ledger: DispatchLedger) -> DispatchLedger:
    ledger.define_campaign(SPRING_SALE, at=AT)
    return ledger


# -- K03, the rendering side ---------------------------------------------------------


def test_k03_in_app_tag_rejected_plain_accepted_and_rendered_ids_match_sends(
    ledger: DispatchLedger,
) -> None:
    tagged = BANNER.model_copy(update={"template": "{{campaign.${dispatch_id}}}"})
    with pytest.raises(DispatchTagInInApp):
        ledger.define_campaign(
            SPRING_SALE.model_copy(update={"variations": (EMAIL, tagged)}), at=AT
        )
    assert ledger.programs() == []
    ledger.define_campaign(SPRING_SALE, at=AT)

    preview = ledger.render(campaign_id="spring_sale", variation_id="spring_email")
    ledger.run_occurrence(
        campaign_id="spring_sale", occurrence_id="2025-03-01", audience=["u1", "u2"]
    )
    rendered = {
        user: ledger.render(dispatch_id="a1b2c3d4e5f6a7b8c9d00001", user_id=user)
        for user in ("u1", "u2")
    }

    assert preview.text == (
        "Hi there,\n<a href="
        '"https://shop.example/sale?d=dispatch_id_for_unsent_campaign">SPRING SALE</a>'
    )
    link = '"https://shop.example/sale?d=a1b2c3d4e5f6a7b8c9d00001"'
    for user in ("u1", "u2"):
        assert link in rendered[user].text
        records = {r.channel: r for r in ledger.user_dispatches(user)}
        assert records["email"].dispatch_id == "a1b2c3d4e5f6a7b8c9d00001"
        assert records["in_app_message"].dispatch_id is None


# -- L2 --------------------------------------------------------------------------------


def test_l2_preview_renders_the_placeholder_and_names_no_dispatch(
    spring: DispatchLedger,
) -> None:
    preview = spring.render(campaign_id="spring_sale", variation_id="spring_email")

    assert "?d=dispatch_id_for_unsent_campaign" in preview.text
    assert preview.preview is True
    assert preview.dispatch_id is None
    assert preview.channel == "email"


def test_l2_preview_stays_a_placeholder_after_sends(spring: DispatchLedger) -> None:
    spring.run_occurrence(
        campaign_id="spring_sale", occurrence_id="2025-03-01", audience=["u1"]
    )

    preview = spring.render(campaign_id="spring_sale", variation_id="spring_email")

    assert "?d=dispatch_id_for_unsent_campaign" in preview.text


# -- L3 --------------------------------------------------------------------------------


def test_l3_rendered_link_carries_the_id_the_recorded_send_carries(
    spring: DispatchLedger,
) -> None:
    spring.run_occurrence(
        campaign_id="spring_sale", occurrence_id="2025-03-01", audience=["u1"], at=AT
    )
    spring.run_occurrence(
        campaign_id="spring_sale",
        occurrence_id="2025-03-02",
        audience=["u1"],
        at=AT + timedelta(days=1),
    )
    first, second = (
        r.dispatch_id for r in spring.user_dispatches("u1") if r.channel == "email"
    )

    rendered = spring.render(
        dispatch_id="a1b2c3d4e5f6a7b8c9d00001",
        user_id="u1",
        context={"user": {"first_name": "Ada"}},
    )

    assert first == "a1b2c3d4e5f6a7b8c9d00001"
    assert second == "a1b2c3d4e5f6a7b8c9d00002"
    assert rendered.text == (
        'Hi Ada,\n<a href="https://shop.example/sale?d=a1b2c3d4e5f6a7b8c9d00001">'
        "SPRING SALE</a>"
    )
    assert rendered.dispatch_id == "a1b2c3d4e5f6a7b8c9d00001"
    assert rendered.preview is False


def test_l3_in_app_message_renders_by_program_variation_and_user(
    spring: DispatchLedger,
) -> None:
    spring.run_occurrence(
        campaign_id="spring_sale", occurrence_id="2025-03-01", audience=["u1"]
    )

    rendered = spring.render(
        campaign_id="spring_sale", variation_id="spring_banner", user_id="u1"
    )

    assert rendered.text == "Spring sale is on"
    assert rendered.dispatch_id is None
    assert rendered.channel == "in_app_message"


def test_l3_an_id_is_matched_exactly_never_by_case(spring: DispatchLedger) -> None:
    spring.run_occurrence(
        campaign_id="spring_sale", occurrence_id="2025-03-01", audience=["u1"]
    )

    with pytest.raises(MessageNotRecorded) as raised:
        spring.render(dispatch_id="A1B2C3D4E5F6A7B8C9D00001", user_id="u1")

    assert raised.value.dispatch_id == "A1B2C3D4E5F6A7B8C9D00001"
    assert raised.value.user_id == "u1"


def test_l3_a_user_who_was_not_sent_the_dispatch_is_refused(
    spring: DispatchLedger,
) -> None:
    spring.run_occurrence(
        campaign_id="spring_sale", occurrence_id="2025-03-01", audience=["u1"]
    )

    with pytest.raises(MessageNotRecorded):
        spring.render(dispatch_id="a1b2c3d4e5f6a7b8c9d00001", user_id="u2")


# -- L4 --------------------------------------------------------------------------------


def test_l4_each_user_renders_the_step_and_their_own_dispatch(
    ledger: DispatchLedger,
) -> None:
    ledger.define_canvas(ONBOARDING, at=AT)
    for user, variant in (("u1", "control"), ("u2", "bold")):
        ledger.enter_canvas(
            canvas_id="onboarding",
            user_id=user,
            variant_id=variant,
            trigger_id=f"signup-{user}",
        )
    for user in ("u1", "u2"):
        ledger.advance(canvas_id="onboarding", user_id=user, step_id="follow_up")
    sent = {
        user: [r.dispatch_id for r in ledger.user_dispatches(user)]
        for user in ("u1", "u2")
    }

    u1 = ledger.render(dispatch_id="a1b2c3d4e5f6a7b8c9d00003", user_id="u1")
    u2 = ledger.render(dispatch_id="a1b2c3d4e5f6a7b8c9d00004", user_id="u2")

    assert sent == {
        "u1": ["a1b2c3d4e5f6a7b8c9d00001", "a1b2c3d4e5f6a7b8c9d00003"],
        "u2": ["a1b2c3d4e5f6a7b8c9d00002", "a1b2c3d4e5f6a7b8c9d00004"],
    }
    assert u1.text == (
        "follow_up/Follow-up/follow_up_email in Onboarding (Control)"
        " d=a1b2c3d4e5f6a7b8c9d00003"
    )
    assert u2.text == (
        "follow_up/Follow-up/follow_up_email in Onboarding (Bold)"
        " d=a1b2c3d4e5f6a7b8c9d00004"
    )
    assert (u1.program_kind, u1.step_id) == ("canvas", "follow_up")


def test_l4_step_preview_names_the_variant_when_the_canvas_has_several(
    ledger: DispatchLedger,
) -> None:
    ledger.define_canvas(ONBOARDING, at=AT)

    with pytest.raises(InvalidCommand, match="variant_id"):
        ledger.render(canvas_id="onboarding", step_id="welcome")
    preview = ledger.render(
        canvas_id="onboarding", step_id="welcome", variant_id="bold"
    )

    assert preview.text == (
        "welcome/Welcome/welcome_email in Onboarding (Bold)"
        " d=dispatch_id_for_unsent_campaign"
    )


def test_l4_recorded_render_can_name_the_canvas_and_step(
    ledger: DispatchLedger,
) -> None:
    ledger.define_canvas(ONBOARDING, at=AT)
    ledger.enter_canvas(
        canvas_id="onboarding", user_id="u1", variant_id="control", trigger_id="signup"
    )

    rendered = ledger.render(canvas_id="onboarding", step_id="welcome", user_id="u1")

    assert rendered.text.endswith("(Control) d=a1b2c3d4e5f6a7b8c9d00001")


# -- L5 --------------------------------------------------------------------------------


def test_l5_in_app_send_records_no_id_and_its_render_needs_none(
    spring: DispatchLedger,
) -> None:
    spring.run_occurrence(
        campaign_id="spring_sale", occurrence_id="2025-03-01", audience=["u1"]
    )
    banner = [
        r for r in spring.user_dispatches("u1") if r.variation_id == "spring_banner"
    ]

    rendered = spring.render(
        campaign_id="spring_sale", variation_id="spring_banner", user_id="u1"
    )

    assert [r.dispatch_id for r in banner] == [None]
    assert "dispatch_id_for_unsent_campaign" not in rendered.text


# -- errors ----------------------------------------------------------------------------


def test_preview_of_several_variations_asks_for_one(spring: DispatchLedger) -> None:
    with pytest.raises(InvalidCommand, match="spring_email, spring_banner"):
        spring.render(campaign_id="spring_sale")


def test_unknown_variation_is_named(spring: DispatchLedger) -> None:
    with pytest.raises(InvalidCommand, match="'autumn_email'"):
        spring.render(campaign_id="spring_sale", variation_id="autumn_email")


def test_unknown_program_step_and_variant_raise_their_errors(
    ledger: DispatchLedger,
) -> None:
    ledger.define_canvas(ONBOARDING, at=AT)

    with pytest.raises(UnknownCampaign):
        ledger.render(campaign_id="winter_sale", user_id="u1")
    with pytest.raises(UnknownStep):
        ledger.render(canvas_id="onboarding", step_id="goodbye")
    with pytest.raises(UnknownVariant):
        ledger.render(canvas_id="onboarding", step_id="welcome", variant_id="x")


def test_ambiguous_recorded_message_asks_for_the_variation(
    spring: DispatchLedger,
) -> None:
    spring.run_occurrence(
        campaign_id="spring_sale", occurrence_id="2025-03-01", audience=["u1"]
    )

    with pytest.raises(InvalidCommand, match="name the variation_id"):
        spring.render(campaign_id="spring_sale", user_id="u1")


def test_invalid_request_is_an_invalid_command(spring: DispatchLedger) -> None:
    with pytest.raises(InvalidCommand, match="only with its user_id"):
        spring.render(campaign_id="spring_sale", dispatch_id="a1b2c3d4e5f6a7b8c9d00001")
