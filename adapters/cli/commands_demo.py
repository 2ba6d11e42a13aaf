"""``dispatchledger demo``: a month of a fictional retailer, end to end."""

from __future__ import annotations

import shlex
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from dispatchledger.adapters.bootstrap import open_ledger
from dispatchledger.adapters.cli.commands_projections import (
    dispatch_tree,
    print_reports,
    progress_bar,
    user_tree,
)
from dispatchledger.adapters.cli.common import err_console, out_console, reported_errors
from dispatchledger.adapters.currents import Ingestor, open_rejects, stored_catalog
from dispatchledger.adapters.currents.audit import audit
from dispatchledger.adapters.demo import DemoMonth
from dispatchledger.adapters.demo.engagement import import_engagement, plan_engagement
from dispatchledger.adapters.demo.summary import DemoSummary, summarize
from dispatchledger.adapters.read_side import open_read_models
from dispatchledger.adapters.settings import Settings
from dispatchledger.domain.application import DispatchLedger
from dispatchledger.domain.errors import InvalidCommand
from dispatchledger.projections.queries import UserLineage
from dispatchledger.projections.service import ReadModels

DEMO_FILE = "dispatchledger-demo.db"
LINEAGE_USER = "member-0000001"
LINEAGE_MESSAGES = 3
SAMPLES = Path("..") / "shared" / "braze-currents-samples"
SAMPLE_DISPATCH = "639a35d192b0df004d06514c"
CONVERTING = ("weekly-digest", "flash-sale", "cart-reminder")


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
    samples: Annotated[
        Path | None,
        typer.Option(
            help=f"Braze Currents samples to import at the end (default: {SAMPLES}"
            " when that folder exists)."
        ),
    ] = None,
) -> None:
    """Record a month of sends and engagement, project, check, and summarise."""
    with reported_errors():
        url = db or _fresh_demo_file()
        ledger = open_ledger(url)
        try:
            _refuse_non_empty(ledger.recorder.max_notification_id(), url)
            identical = _run(ledger, url, users, samples)
        finally:
            ledger.close()
    if not identical:
        raise typer.Exit(1)


def _run(ledger: DispatchLedger, url: str, users: int, samples: Path | None) -> bool:
    month = DemoMonth(ledger, users=users)
    _record_month(month)
    settings = Settings.for_url(url)
    rejects = open_rejects(settings)
    models = open_read_models(url, ledger=ledger)
    try:
        ingestor = Ingestor(ledger, rejects)
        _catch_up(models)
        plan = plan_engagement(models, month.seed)
        import_engagement(ingestor, plan)
        _catch_up(models)
        with progress_bar("checking") as progress:
            reports = models.rebuild(check_only=True, progress=progress)
        out_console.rule("rebuild --check")
        print_reports(reports)
        _print_summary(summarize(models), plan.counts())
        _print_attribution(models)
        _print_lineage(models.user_lineage(LINEAGE_USER), url)
        _sample_data(ledger, ingestor, models, samples)
    finally:
        models.close()
        rejects.close()
    return all(report.identical for report in reports)


def _catch_up(models: ReadModels) -> None:
    with progress_bar("projecting") as progress:
        models.catch_up(progress=progress)


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
    settings = Settings.for_url(url)
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


def _print_summary(summary: DemoSummary, engagement: dict[str, int]) -> None:
    out_console.rule("summary")
    table = Table("source", "sends", "messages", "ids", "shared", "per-user")
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
    out_console.print(
        "engagement imported: "
        + ", ".join(f"{action} {count:,}" for action, count in engagement.items())
    )


def _print_attribution(models: ReadModels) -> None:
    table = Table("campaign", "conversions", "explicit", "inferred", "unattributed")
    for campaign in CONVERTING:
        results = models.attribution(campaign).all_results()
        basis = Counter(result.basis.value for result in results)
        table.add_row(
            campaign,
            f"{len(results):,}",
            f"{basis['explicit']:,}",
            f"{basis['inferred']:,}",
            f"{basis['unattributed']:,}",
        )
    out_console.rule("conversions attributed by rule A1")
    out_console.print(table)


def _sample_data(
    ledger: DispatchLedger,
    ingestor: Ingestor,
    models: ReadModels,
    samples: Path | None,
) -> None:
    folder = samples if samples is not None else SAMPLES
    if not folder.is_dir():
        if samples is not None:
            raise InvalidCommand(f"no samples folder at {folder}")
        out_console.print(f"({SAMPLES} not found: sample import skipped)")
        return
    summary = ingestor.ingest([folder])
    _catch_up(models)
    out_console.rule(f"Braze's sample data ({folder})")
    out_console.print(
        f"files {summary.files}, records {summary.records}, imported"
        f" {summary.imported}, duplicates {summary.duplicates}, rejected"
        f" {summary.rejected}",
        highlight=False,
    )
    out_console.print(dispatch_tree(models.dispatch_lineage(SAMPLE_DISPATCH)))
    findings = audit(ledger, stored_catalog(ledger))
    out_console.rule("audit findings")
    for finding in findings:
        out_console.print(f"[bold]{finding.rule}[/] {finding.message}", soft_wrap=True)
    out_console.print(f"{len(findings)} findings")
