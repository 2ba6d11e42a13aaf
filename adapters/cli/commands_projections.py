"""Commands of the read side: project, rebuild, dispatches and lineage."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich import box
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from dispatchledger.adapters.cli.common import (
    DbOption,
    err_console,
    existing_ledger,
    out_console,
    print_json,
    reported_errors,
)
from dispatchledger.adapters.read_side import open_read_models
from dispatchledger.domain.errors import InvalidCommand
from dispatchledger.projections.compare import ProjectionReport
from dispatchledger.projections.mermaid import (
    dispatch_lineage_chart,
    user_lineage_chart,
)
from dispatchledger.projections.queries import (
    DispatchLineage,
    UserLineage,
    as_json,
)
from dispatchledger.projections.runner import Progress as ProgressCallback
from dispatchledger.projections.service import ReadModels


class LineageFormat(StrEnum):
    TREE = "tree"
    JSON = "json"
    MERMAID = "mermaid"


class ListFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


def register(app: typer.Typer) -> None:
    app.command("project")(project)
    app.command("rebuild")(rebuild)
    app.command("dispatches")(dispatches)
    app.command("lineage")(lineage)


# -- keeping the read models current ---------------------------------------------


def project(
    db: DbOption = None,
    follow: Annotated[
        bool, typer.Option("--follow", help="Keep following new events until Ctrl-C.")
    ] = False,
    interval: Annotated[
        float,
        typer.Option(
            help="Seconds between polls when following (on PostgreSQL, the longest"
            " wait for a notification).",
            min=0.01,
        ),
    ] = 1.0,
) -> None:
    """Catch the read models up with the event log; print their positions as JSON."""
    with reported_errors(), _read_models(db) as models:
        with progress_bar("projecting") as progress:
            events = models.catch_up(progress=progress)
        if follow:
            events += _follow(models, interval)
        print_json({"events": events, "positions": models.positions()})


def _follow(models: ReadModels, interval: float) -> int:
    """Follow until Ctrl-C or SIGTERM; a batch in progress still commits whole.

    The first signal only asks to stop, so the events projected are counted; a
    second Ctrl-C stops at once (the batch in progress is rolled back).
    """
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        if signum == signal.SIGINT and stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    previous = {
        signum: signal.signal(signum, on_signal)
        for signum in (signal.SIGTERM, signal.SIGINT)
    }
    err_console.print("following new events; Ctrl-C to stop")
    try:
        return models.follow(stop.is_set, interval)
    except KeyboardInterrupt:
        return 0
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        err_console.print("stopped following")


def rebuild(
    names: Annotated[
        list[str] | None,
        typer.Argument(help="Projections to rebuild (default: all)."),
    ] = None,
    db: DbOption = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Compare only; exit 1 on any difference, switch nothing."
        ),
    ] = False,
    as_json_output: Annotated[
        bool, typer.Option("--json", help="Print the report as JSON.")
    ] = False,
) -> None:
    """Rebuild read models from the log into new tables, compare, and switch."""
    with (
        reported_errors(),
        _read_models(db) as models,
        progress_bar("rebuilding") as progress,
    ):
        reports = models.rebuild(names or [], check_only=check, progress=progress)
    if as_json_output:
        print_json(
            {
                "identical": all(r.identical for r in reports),
                "projections": [r.model_dump(mode="json") for r in reports],
            }
        )
    else:
        print_reports(reports)
    if check and not all(r.identical for r in reports):
        raise typer.Exit(1)


def print_reports(reports: list[ProjectionReport]) -> None:
    table = Table("table", "live", "rebuilt", "only live", "only rebuilt", "differing")
    for report in reports:
        for t in report.tables:
            table.add_row(
                t.table,
                str(t.live_rows),
                str(t.rebuilt_rows),
                str(t.only_in_live),
                str(t.only_in_rebuilt),
                str(t.differing),
            )
    out_console.print(table)
    for report in reports:
        for t in report.tables:
            for row in t.only_in_live_examples:
                out_console.print(f"only in live {t.table}: {row}", highlight=False)
            for row in t.only_in_rebuilt_examples:
                out_console.print(f"only in rebuilt {t.table}: {row}", highlight=False)
            for diff in t.differing_examples:
                changed = ", ".join(
                    f"{name} live {value!r} rebuilt {diff.rebuilt[name]!r}"
                    for name, value in diff.live.items()
                    if value != diff.rebuilt[name]
                )
                out_console.print(
                    f"differs in {t.table} {diff.key}: {changed}", highlight=False
                )
        verdict = "identical" if report.identical else "DIFFERENT"
        action = "switched" if report.switched else "not switched"
        out_console.print(
            f"{report.projection}: {verdict} at position {report.position}"
            f" ({report.events} events read; {action})",
            highlight=False,
        )


# -- queries -----------------------------------------------------------------------


def dispatches(
    db: DbOption = None,
    user: Annotated[str | None, typer.Option(help="Every message a user got.")] = None,
    dispatch: Annotated[
        str | None, typer.Option(help="Every message carrying a dispatch id.")
    ] = None,
    canvas: Annotated[str | None, typer.Option(help="With --step.")] = None,
    step: Annotated[
        str | None, typer.Option(help="Every user at a Canvas step and their id.")
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(min=1, help="With --step: at most this many arrivals."),
    ] = None,
    after_user: Annotated[
        str | None,
        typer.Option(help="With --step: start after this user's arrival ..."),
    ] = None,
    after_source: Annotated[
        str | None,
        typer.Option(help="... from this source (the last row of a page)."),
    ] = None,
    output: Annotated[
        ListFormat | None,
        typer.Option("--format", help="table (default on a terminal) or json."),
    ] = None,
) -> None:
    """List dispatches by user, by dispatch id, or by Canvas step.

    A step's arrivals come in (user, source) order; page through a large step
    with --limit, then --after-user and --after-source set to the last row.
    """
    with reported_errors():
        chosen = _exactly_one(
            {
                "--user": user,
                "--dispatch": dispatch,
                "--canvas with --step": canvas or step,
            }
        )
        if chosen == "--canvas with --step" and not (canvas and step):
            raise InvalidCommand(
                "--canvas and --step go together",
                [{"field": "--canvas/--step", "reason": "give both"}],
            )
        with _read_models(db) as models:
            models.catch_up()
            rows: list[Any]
            if user is not None:
                rows = models.by_user(user)
            elif dispatch is not None:
                rows = models.by_dispatch(dispatch)
            else:
                rows = models.by_step(
                    str(canvas),
                    str(step),
                    limit=limit,
                    after=_page_start(after_user, after_source),
                )
    if _format(output, ListFormat.TABLE, ListFormat.JSON) is ListFormat.JSON:
        print_json(as_json(rows))
        return
    _print_rows(as_json(rows))


MESSAGE_COLUMNS = {
    "user_id": "user",
    "program_id": "program",
    "step_id": "step",
    "channel": "channel",
    "dispatch_id": "dispatch id",
    "sent_at": "sent at",
}
ARRIVAL_COLUMNS = {
    "user_id": "user",
    "step_id": "step",
    "entry_id": "journey",
    "dispatch_id": "dispatch id",
    "arrived_at": "arrived at",
}


def _page_start(user: str | None, source: str | None) -> tuple[str, str] | None:
    """The arrival a page starts after, from --after-user and --after-source."""
    if user is None and source is None:
        return None
    if user is None or source is None:
        raise InvalidCommand(
            "--after-user and --after-source go together",
            [{"field": "--after-user/--after-source", "reason": "give both"}],
        )
    return (user, source)


def _print_rows(rows: list[dict[str, Any]]) -> None:
    if not rows:
        out_console.print("no dispatches")
        return
    names = MESSAGE_COLUMNS if "channel" in rows[0] else ARRIVAL_COLUMNS
    columns = list(names)
    table = Table(box=box.SIMPLE)
    for column in columns:
        table.add_column(names[column], overflow="fold")
    for row in rows:
        table.add_row(*("" if row[c] is None else str(row[c]) for c in columns))
    out_console.print(table)


def lineage(
    db: DbOption = None,
    user: Annotated[str | None, typer.Option(help="A user's journeys.")] = None,
    dispatch: Annotated[
        str | None, typer.Option(help="A dispatch id's sources and recipients.")
    ] = None,
    output: Annotated[
        LineageFormat | None,
        typer.Option(
            "--format", help="tree (default on a terminal), json, or mermaid."
        ),
    ] = None,
) -> None:
    """Show lineage: a user's journeys step by step, or where a dispatch came from."""
    with reported_errors():
        _exactly_one({"--user": user, "--dispatch": dispatch})
        with _read_models(db) as models:
            models.catch_up()
            found: UserLineage | DispatchLineage = (
                models.user_lineage(user)
                if user is not None
                else models.dispatch_lineage(str(dispatch))
            )
    chosen = _format(output, LineageFormat.TREE, LineageFormat.JSON)
    if chosen is LineageFormat.JSON:
        print_json(as_json(found))
    elif chosen is LineageFormat.MERMAID:
        sys.stdout.write(
            user_lineage_chart(found)
            if isinstance(found, UserLineage)
            else dispatch_lineage_chart(found)
        )
    elif isinstance(found, UserLineage):
        out_console.print(user_tree(found))
    else:
        out_console.print(dispatch_tree(found))


def user_tree(found: UserLineage) -> Tree:
    tree = Tree(f"user {found.user_id}")
    for journey in found.journeys:
        branch = tree.add(
            f"Canvas {journey.canvas_id} · journey {journey.entry_id}"
            f" · variant {journey.variant_id}"
        )
        for step in journey.steps:
            node = branch.add(
                f"step {step.step_id} ({step.source_kind} {step.source_id})"
                f" at {step.arrived_at.isoformat()}"
            )
            for sent in step.messages:
                node.add(_message_label(sent.channel, sent.dispatch_id))
    for message in found.campaign_messages:
        tree.add(
            f"campaign {message.program_id} · {message.source_kind}"
            f" {message.source_id} · "
            + _message_label(message.channel, message.dispatch_id)
            + f" at {message.sent_at.isoformat()}"
        )
    return tree


def dispatch_tree(found: DispatchLineage) -> Tree:
    tree = Tree(f"dispatch {found.dispatch_id}")
    for chain in found.chains:
        tree.add(" → ".join(f"{link.kind} {link.id}" for link in chain))
    for view in found.transmissions:
        branch = tree.add(
            f"{view.program_kind} {view.program_id} · {view.source_kind}"
            f" {view.source_id} · audience {view.audience_size}"
            f" · per channel "
            + ", ".join(f"{c} {n}" for c, n in view.recipients_per_channel.items())
        )
        for recipient in view.recipients:
            branch.add(f"user {recipient.user_id}: {', '.join(recipient.channels)}")
        if view.recipients_truncated:
            branch.add(f"… more recipients (first {len(view.recipients)} listed)")
    if found.lifecycle:
        life = tree.add("lifecycle")
        for event in found.lifecycle:
            life.add(
                f"{event.at.isoformat()} {event.action} {event.channel}"
                f" user {event.user_id}"
                + (f" ({event.event_type} {event.event_id})" if event.observed else "")
            )
        if found.lifecycle_truncated:
            life.add(f"… more events (first {len(found.lifecycle)} listed)")
    if not found.transmissions and not found.lifecycle:
        tree.add("no such dispatch id has been projected")
    return tree


def _message_label(channel: str, dispatch_id: str | None) -> str:
    return f"{channel} → " + (dispatch_id or "no dispatch id (in-app)")


# -- shared helpers ------------------------------------------------------------------


def _exactly_one(given: dict[str, str | None]) -> str:
    """The one option given, by its label; refuse none or several."""
    chosen = [label for label, value in given.items() if value is not None]
    if len(chosen) != 1:
        options = ", ".join(given)
        raise InvalidCommand(
            f"give exactly one of {options}",
            [{"field": options, "reason": f"{len(chosen)} given"}],
        )
    return chosen[0]


def _format(chosen: Any, on_terminal: Any, otherwise: Any) -> Any:
    if chosen is not None:
        return chosen
    return on_terminal if sys.stdout.isatty() else otherwise


@contextmanager
def _read_models(db: str | None) -> Iterator[ReadModels]:
    models = open_read_models(existing_ledger(db))
    try:
        yield models
    finally:
        models.close()


class _RateColumn(ProgressColumn):
    """Events per second, once known."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.0f}/s")


@contextmanager
def progress_bar(description: str) -> Iterator[ProgressCallback | None]:
    """A Rich progress bar on a terminal; elsewhere the runner logs each batch."""
    if not err_console.is_terminal:
        yield None
        return
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    )
    task = bar.add_task(description, total=None)

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    with bar:
        yield update
