"""`dispatchledger demo` end to end on a SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from dispatchledger.adapters.cli import app


def test_demo_records_projects_checks_and_summarises(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"

    result = CliRunner().invoke(app, ["demo", "--users", "50", "--db", url])

    assert result.exit_code == 0, result.output
    out = result.stdout
    # Four dispatch read models and two of observed data (lifecycle, attribution).
    assert out.count("identical at position") == 6
    # Five weekly digests to 50 members on email, push and in-app: 750 messages,
    # five ids, each shared by the whole occurrence; the in-app third has none.
    digest = next(line for line in out.splitlines() if "occurrence" in line)
    assert [cell.strip() for cell in digest.split("│")[1:-1]] == [
        "occurrence",
        "5",
        "750",
        "5",
        "5",
        "0",
    ]
    assert "lineage of member-0000001" in out
    assert "Canvas onboarding" in out


def test_demo_refuses_a_database_that_already_holds_events(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    runner = CliRunner()
    assert runner.invoke(app, ["demo", "--users", "10", "--db", url]).exit_code == 0

    again = runner.invoke(app, ["demo", "--users", "10", "--db", url])

    assert again.exit_code == 2
    assert "empty database" in again.stderr


def test_demo_default_file_is_recreated_in_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DISPATCHLEDGER_DATABASE_URL", raising=False)
    runner = CliRunner()

    first = runner.invoke(app, ["demo", "--users", "10"])
    second = runner.invoke(app, ["demo", "--users", "10"])

    assert (first.exit_code, second.exit_code) == (0, 0)
    assert (tmp_path / "dispatchledger-demo.db").exists()


def test_demo_imports_the_sample_exports_and_audits_them(
    tmp_path: Path, samples: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"

    result = CliRunner().invoke(
        app, ["demo", "--users", "10", "--db", url, "--samples", str(samples)]
    )

    assert result.exit_code == 0, result.output
    assert "rejected 0" in result.stdout
    assert "dispatch 639a35d192b0df004d06514c" in result.stdout
    assert "audit findings" in result.stdout


def test_demo_imports_engagement_and_attributes_conversions(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"

    result = CliRunner().invoke(app, ["demo", "--users", "50", "--db", url])

    assert result.exit_code == 0, result.output
    assert "engagement imported: " in result.stdout
    rows = [line for line in result.stdout.splitlines() if "weekly-digest" in line]
    cells = [cell.strip() for cell in rows[0].split("│")[1:-1]]
    conversions, explicit, inferred, unattributed = (int(c) for c in cells[1:])
    assert conversions == explicit + inferred + unattributed
    assert conversions > 0
