"""``dispatchledger demo``: a month of a fictional retailer, end to end."""

from __future__ import annotations

import dataclasses
import shlex
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from dispatchledger.adapters.bootstrap import open_ledger
from dispatchledger.adapters.cli.commands_projections import (
    print_reports,
    progress_bar,
    user_tree,
)
from dispatchledger.adapters.cli.common import err_console, out_console, reported_errors
from dispatchledger.adapters.demo import DemoMonth
from dispatchledger.adapters.demo.summary import DemoSummary, summarize
from dispatchledger.adapters.read_side import open_read_models
from dispatchledger.adapters.settings import Settings
from dispatchledger.domain.errors import InvalidCommand
from dispatchledger.projections.queries import UserLineage

DEMO_FILE = "dispatchledger-demo.db"
LINEAGE_USER = "member-0000001"
LINEAGE_MESSAGES = 3


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    users: Annotated[
        int, typer.Option(min=10, help="Members of the fictional retailer.")
    ] = 2000,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help=f"An EMPTY database to record into (default: ./{DEMO_FILE},"
            " recreated on every run).",
        ),
    ] = None,
) -> None:
    """Record a month of sends, build the read models, check them, and summarise."""
    with reported_errors():
        url = db or _fresh_demo_file()
        ledger = open_ledger(url)
        try:
            _refuse_non_empty(ledger.recorder.max_notification_id(), url)
            _record_month(DemoMonth(ledger, users=users))
            models = open_read_models(url, ledger=ledger)
            try:
                with progress_bar("projecting") as progress:
                    models.catch_up(progress=progress)
                with progress_bar("checking") as progress:
                    reports = models.rebuild(check_only=True, progress=progress)
                out_console.rule("rebuild --check")
                print_reports(reports)
                _print_summary(summarize(models))
                _print_lineage(models.user_lineage(LINEAGE_USER), url)
            finally:
                models.close()
        finally:
            ledger.close()
    if not all(report.identical for report in reports):
        raise typer.Exit(1)


def _print_lineage(lineage: UserLineage, url: str) -> None:
    """The user's Canvas journeys, the first campaign messages, and how to see
    the rest in the database the demo recorded into."""
    shown = lineage.model_copy(
        update={"campaign_messages": lineage.campaign_messages[:LINEAGE_MESSAGES]}
    )
    hidden = len(lineage.campaign_messages) - LINEAGE_MESSAGES
    out_console.rule(f"lineage of {lineage.user_id}")
    out_console.print(user_tree(shown))
    if hidden > 0:
        out_console.print(
            f"({hidden} more campaign messages: dispatchledger lineage --user"
            f" {lineage.user_id} --db {_shown(url)})",
            # One line, unhighlighted: a command wrapped mid-URL cannot be pasted.
            soft_wrap=True,
            highlight=False,
        )


def _shown(url: str) -> str:
    """``url`` ready to paste into a shell, its password hidden."""
    settings = dataclasses.replace(Settings.from_env(), database_url=url)
    return shlex.quote(settings.redacted_url())


def _fresh_demo_file() -> str:
    for suffix in ("", "-wal", "-shm"):
        Path(DEMO_FILE + suffix).unlink(missing_ok=True)
    return f"sqlite:///{DEMO_FILE}"


def _refuse_non_empty(head: int | None, url: str) -> None:
    if head:
        raise InvalidCommand(
            f"the demo records into an empty database; {url} already holds"
            f" {head} events"
        )


def _record_month(month: DemoMonth) -> None:
    columns = (TextColumn("recording"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task("month", total=31)
        month.on_step = lambda _day: bar.advance(task)
        month.run()


def _print_summary(summary: DemoSummary) -> None:
    out_console.rule("summary")
    table = Table(
        "source",
        "transmissions",
        "messages",
        "dispatch ids",
        "shared ids",
        "per-user ids",
    )
    for kind in summary.kinds:
        table.add_row(
            kind.source_kind,
            f"{kind.transmissions:,}",
            f"{kind.messages:,}",
            f"{kind.dispatch_ids:,}",
            f"{kind.shared_ids:,}",
            f"{kind.per_user_ids:,}",
        )
    table.add_row(
        "all",
        f"{summary.transmissions:,}",
        f"{summary.messages:,}",
        "",
        "",
        "",
        style="bold",
    )
    out_console.print(table)
    out_console.print(
        f"in-app messages recorded without a dispatch id: {summary.in_app_without_id:,}"
    )
