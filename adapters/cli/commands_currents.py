"""Commands for Braze Currents data: ingest, rejects, audit, export, attribution."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from dispatchledger.adapters.bootstrap import open_ledger
from dispatchledger.adapters.cli.common import (
    DbOption,
    err_console,
    existing_ledger,
    out_console,
    print_json,
    reported_errors,
)
from dispatchledger.adapters.currents.audit import audit as run_audit
from dispatchledger.adapters.currents.catalog import (
    load_catalog,
    save_catalog,
    stored_catalog,
)
from dispatchledger.adapters.currents.export import export
from dispatchledger.adapters.currents.export_schema import ExportFormat
from dispatchledger.adapters.currents.ingest import (
    Ingestor,
    IngestSummary,
)
from dispatchledger.adapters.currents.ingest import (
    Progress as Tick,
)
from dispatchledger.adapters.currents.readers import input_files
from dispatchledger.adapters.currents.rejects import RejectsStore, open_rejects
from dispatchledger.adapters.read_side import open_read_models
from dispatchledger.adapters.settings import Settings
from dispatchledger.domain.application import DispatchLedger
from dispatchledger.domain.values import ApiTriggerDispatch

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)
    app.command("rejects")(rejects)
    app.command("audit")(audit)
    app.command("export")(export_command)
    app.command("attribution")(attribution)


@contextmanager
def _opened(
    db: str | None, *, create: bool = False
) -> Iterator[tuple[DispatchLedger, RejectsStore]]:
    """The ledger and rejects store; only ``create`` may start a new SQLite file."""
    if not create:
        existing_ledger(db)
    settings = Settings.for_url(db)
    ledger = open_ledger(db)
    store = open_rejects(settings)
    try:
        yield ledger, store
    finally:
        store.close()
        ledger.close()


def ingest(
    paths: Annotated[
        list[str], typer.Argument(help="Files or folders (searched recursively).")
    ],
    catalog: Annotated[
        str | None,
        typer.Option("--catalog", help="JSON of campaign and Canvas details to keep."),
    ] = None,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Import Braze Currents files: Avro, the JSON rendering or HTTP envelopes.

    Exit status 1 when any record was rejected (see `dispatchledger rejects`).
    """
    with reported_errors(), _opened(db, create=True) as (ledger, store):
        # Check the catalog and every path before writing anything.
        programs = load_catalog(catalog) if catalog is not None else None
        files = list(input_files(paths))
        if programs is not None:
            save_catalog(ledger, programs)
        with _progress() as tick:
            summary = Ingestor(ledger, store, progress=tick).ingest(files)
    _print_summary(summary, as_json)
    if summary.rejected:
        raise typer.Exit(1)


@contextmanager
def _progress() -> Iterator[Tick | None]:
    """A live line on a terminal (files, records, rate); nothing otherwise."""
    if not err_console.is_terminal:
        yield None
        return
    started = time.monotonic()
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task("reading", total=None)

        def tick(total: IngestSummary, file: str) -> None:
            rate = total.records / max(time.monotonic() - started, 1e-6)
            bar.update(
                task,
                description=f"{total.files} files, {total.records} records"
                f" ({rate:,.0f}/s) {file[-50:]}",
            )

        yield tick


def _print_summary(summary: IngestSummary, as_json: bool) -> None:
    if as_json:
        print_json(summary.to_dict())
        return
    out_console.print(
        f"files {summary.files}, records {summary.records},"
        f" imported {summary.imported}, duplicates {summary.duplicates},"
        f" rejected {summary.rejected}",
        highlight=False,
        soft_wrap=True,
    )
    if summary.rejected:
        err_console.print("some records were rejected: see `dispatchledger rejects`")


def rejects(
    file: Annotated[
        str | None, typer.Option("--file", help="Only the rejects of this file.")
    ] = None,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """List the records imports could not understand, with file, position, reason."""
    with reported_errors(), _opened(db) as (_ledger, store):
        found = store.list(file)
    if as_json:
        print_json(
            [
                {
                    "file": r.file,
                    "position": r.position,
                    "reason": r.reason,
                    "raw": r.raw,
                    "rejected_at": r.rejected_at,
                }
                for r in found
            ]
        )
        return
    for r in found:
        out_console.print(
            f"{r.file}  {r.position}: {r.reason}", highlight=False, soft_wrap=True
        )
    out_console.print(f"{len(found)} rejected", highlight=False, soft_wrap=True)


def audit(
    catalog: Annotated[
        str | None,
        typer.Option(
            "--catalog", help="Use this catalog file instead of the kept one."
        ),
    ] = None,
    api_trigger_dispatch: Annotated[
        ApiTriggerDispatch,
        typer.Option(
            "--api-trigger-dispatch",
            help="Rule D4's policy for campaigns whose catalog entry sets none.",
        ),
    ] = ApiTriggerDispatch.PER_RECIPIENT,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Report where imported data departs from the rules (findings, never errors)."""
    with reported_errors(), _opened(db) as (ledger, _store):
        programs = load_catalog(catalog) if catalog else stored_catalog(ledger)
        findings = run_audit(ledger, programs, api_trigger_dispatch)
    if as_json:
        print_json({"findings": [f.to_dict() for f in findings]})
        return
    for finding in findings:
        out_console.print(
            f"[bold]{finding.rule}[/] {finding.message}",
            highlight=False,
            soft_wrap=True,
        )
        for ref in finding.records:
            out_console.print(
                f"    {ref.event_type or 'minted send'} {ref.event_id}"
                f" user {ref.user_id} dispatch {ref.dispatch_id}",
                highlight=False,
                soft_wrap=True,
            )
    out_console.print(f"{len(findings)} findings", highlight=False, soft_wrap=True)


def export_command(
    out: Annotated[str, typer.Argument(help="Folder (avro, json) or file (others).")],
    fmt: Annotated[ExportFormat, typer.Option("--format", help="Output shape.")] = (
        ExportFormat.AVRO
    ),
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Write dispatches and engagement as Currents-shaped events."""
    with reported_errors(), _opened(db) as (ledger, _store):
        summary = export(ledger, fmt, out)
    if as_json:
        print_json(summary.to_dict())
        return
    for event_type, count in sorted(summary.by_type.items()):
        out_console.print(f"{count:>8}  {event_type}", highlight=False, soft_wrap=True)
    out_console.print(
        f"{summary.events} events written to {out}", highlight=False, soft_wrap=True
    )


def attribution(
    campaign: Annotated[str, typer.Option("--campaign", help="Campaign API id.")],
    window: Annotated[
        int | None,
        typer.Option(
            "--window",
            help="Conversion window in seconds (default: the catalog's, else the"
            " campaign definition's).",
        ),
    ] = None,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """List a campaign's conversions per dispatch (rule A1): which send drove them.

    The read models are brought up to date first; another ``--window`` reads the
    same projected sends and conversions again: nothing stored changes.
    """
    with reported_errors(), _opened(db) as (ledger, _store):
        read_models = open_read_models(db, ledger=ledger)
        try:
            read_models.catch_up()
            result = read_models.attribution(campaign, window)
        finally:
            read_models.close()
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
    out_console.print(
        f"campaign {campaign}, "
        + (
            f"window {result.window_seconds} s"
            if result.window_seconds is not None
            else "no conversion window known (no catalog or definition gives one)"
        ),
        highlight=False,
    )
    for group in result.by_dispatch:
        sources = ", ".join(group.sources) or "unknown source"
        out_console.print(f"dispatch {group.dispatch_id} ({sources})", highlight=False)
        for c in group.conversions:
            out_console.print(
                f"    {c.converted_at.isoformat()}  {c.user_id}  {c.basis.value}"
                f"  {c.event_id}",
                highlight=False,
            )
    out_console.print("unattributed", highlight=False)
    for c in result.unattributed:
        out_console.print(
            f"    {c.converted_at.isoformat()}  {c.user_id}  {c.event_id}",
            highlight=False,
        )
