"""``dispatchledger render`` and recorded rendering on every backend."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dispatchledger.adapters.bootstrap import open_ledger
from dispatchledger.adapters.cli import app
from dispatchledger.domain import CampaignDefinition

SPRING_SALE = {
    "campaign_id": "spring_sale",
    "name": "Spring sale",
    "delivery_type": "scheduled",
    "variations": [
        {
            "variation_id": "spring_email",
            "channel": "email",
            "template": "Hi {{ user.first_name | default: 'there' }}: "
            "https://shop.example/sale?d={{campaign.${dispatch_id}}}",
        },
        {
            "variation_id": "spring_banner",
            "channel": "in_app_message",
            "template": "{{campaign.${name} | upcase}}",
        },
    ],
}


def apply(runner: CliRunner, db: str, tmp_path: Path, *commands: object) -> list[dict]:
    lines = tmp_path / "commands.jsonl"
    lines.write_text("".join(json.dumps(c) + "\n" for c in commands))
    result = runner.invoke(app, ["apply", str(lines), "--db", db])
    return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_render_previews_then_renders_the_recorded_send(
    runner: CliRunner, sqlite_url: str, tmp_path: Path
) -> None:
    results = apply(
        runner,
        sqlite_url,
        tmp_path,
        {"command": "define_campaign", "campaign": SPRING_SALE},
        {
            "command": "run_occurrence",
            "campaign_id": "spring_sale",
            "occurrence_id": "2025-03-01",
            "audience": ["u1", "u2"],
        },
    )
    (dispatch_id,) = results[1]["dispatch_ids"]
    email = ["render", "--campaign", "spring_sale", "--variation", "spring_email"]

    preview = runner.invoke(app, [*email, "--db", sqlite_url])
    sent = runner.invoke(
        app,
        [
            *["render", "--dispatch", dispatch_id, "--user", "u2", "--db", sqlite_url],
            *["--context", '{"user": {"first_name": "Ada"}}', "--json"],
        ],
    )

    assert preview.exit_code == 0
    assert preview.stdout == (
        "Hi there: https://shop.example/sale?d=dispatch_id_for_unsent_campaign\n"
    )
    assert sent.exit_code == 0
    output = json.loads(sent.stdout)
    assert output["text"] == f"Hi Ada: https://shop.example/sale?d={dispatch_id}"
    assert output["dispatch_id"] == dispatch_id
    assert output["user_id"] == "u2"


def test_define_reports_template_error_with_line_and_column(
    runner: CliRunner, sqlite_url: str, tmp_path: Path
) -> None:
    broken = {
        **SPRING_SALE,
        "variations": [
            {
                "variation_id": "spring_email",
                "channel": "email",
                "template": "Hi\n{{ campaign.${nickname} }}",
            }
        ],
    }

    (result,) = apply(
        runner, sqlite_url, tmp_path, {"command": "define_campaign", "campaign": broken}
    )

    assert result["ok"] is False
    assert result["error"]["code"] == "template_error"
    assert (result["error"]["line"], result["error"]["column"]) == (2, 4)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--campaign", "winter_sale"], "'winter_sale' is not defined"),
        (["--campaign", "spring_sale"], "name the variation_id"),
        (["--dispatch", "0000", "--user", "u1"], "no message to user 'u1'"),
        (["--campaign", "spring_sale", "--context", "{"], "--context is not JSON"),
        (["--campaign", "spring_sale", "--context", "[]"], "a JSON object"),
        (["--dispatch", "0000"], "only with its user_id"),
    ],
)
def test_render_errors_exit_with_status_2(
    runner: CliRunner,
    sqlite_url: str,
    tmp_path: Path,
    arguments: list[str],
    message: str,
) -> None:
    apply(
        runner,
        sqlite_url,
        tmp_path,
        {"command": "define_campaign", "campaign": SPRING_SALE},
    )

    result = runner.invoke(app, ["render", *arguments, "--db", sqlite_url])

    assert result.exit_code == 2
    assert message in " ".join(result.stderr.split())


def test_l3_recorded_render_on_every_backend(any_url: str) -> None:
    ledger = open_ledger(any_url, mint=lambda: "0123456789abcdef01234567")
    try:
        ledger.define_campaign(CampaignDefinition.model_validate(SPRING_SALE))
        ledger.run_occurrence(
            campaign_id="spring_sale", occurrence_id="2025-03-01", audience=["u1"]
        )

        email = ledger.render(dispatch_id="0123456789abcdef01234567", user_id="u1")
        banner = ledger.render(
            campaign_id="spring_sale", variation_id="spring_banner", user_id="u1"
        )
    finally:
        ledger.close()

    assert (
        email.text == "Hi there: https://shop.example/sale?d=0123456789abcdef01234567"
    )
    assert (banner.text, banner.dispatch_id) == ("SPRING SALE", None)
