"""Run the benchmarks and print, for each, our figure, its baseline and the ratio.

    python -m benchmarks.run [--users N] [--only NAME ...] [--backend sqlite|postgres]

Every part runs in a fresh process on a fresh database; baselines are measured in
the same run, on the same machine, with rows of the same count and size.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from benchmarks.stores import DEFAULT_POSTGRES_ADMIN_URL, scratch_postgres, sqlite_file

DEFAULT_USERS = 200_000
PEER_USERS = 20_000
MEMORY_TARGET_MB = 300
SEND_SHARE = 10
"""API sends and Canvas advances: one per this many users of the occurrence."""

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Run:
    """What a benchmark needs: the options, a scratch place, and the figures so far."""

    backend: str
    users: int
    synchronous: str
    postgres_admin_url: str
    directory: Path
    results: dict[str, Any] = field(default_factory=dict)

    @contextmanager
    def database(self, name: str) -> Iterator[str]:
        """A fresh database URL on the chosen backend."""
        if self.backend == "sqlite":
            yield f"sqlite:///{sqlite_file(self.directory, name + '.db')}"
        else:
            with scratch_postgres(self.postgres_admin_url) as url:
                yield url

    def part(self, name: str, **arguments: Any) -> dict[str, Any]:
        """Run one part in a process of its own; its figures."""
        completed = subprocess.run(
            [sys.executable, "-m", "benchmarks.worker", name, json.dumps(arguments)],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )
        if completed.returncode != 0:
            raise SystemExit(f"part {name} failed:\n{completed.stderr}")
        figures: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
        return figures


def _rate(count: float, seconds: float) -> str:
    return f"{count / seconds:,.0f}/s"


def _verdict(ratio: float, target: float | None) -> str:
    if target is None:
        return ""
    return f" (target {target:g}: {'met' if ratio >= target else 'MISSED'})"


def occurrence(run: Run) -> None:
    """Benchmarks 1 and 2: a scheduled occurrence to N users on two channels."""
    number = 1 if run.backend == "sqlite" else 2
    print(
        f"[{number}] scheduled occurrence: {run.users:,} users x email + push,"
        f" {run.backend}"
    )
    with run.database("occurrence") as url:
        ours = run.part(
            "occurrence", url=url, count=run.users, synchronous=run.synchronous
        )
    per_stream = round(ours["rows"] / ours["recipients"])
    size = round(ours["state_bytes"])
    with run.database("raw") as url:
        if run.backend == "sqlite":
            path = url.removeprefix("sqlite:///")
            raw = run.part(
                "raw_sqlite_bulk",
                path=path,
                streams=ours["recipients"],
                per_stream=per_stream,
                state_bytes=size,
                synchronous=run.synchronous,
            )
            how = "sqlite3 executemany, one transaction, PK + 1 index"
        else:
            raw = run.part(
                "raw_postgres_copy",
                url=url,
                streams=ours["recipients"],
                per_stream=per_stream,
                state_bytes=size,
            )
            how = "psycopg COPY, one transaction, PK + 1 index"
    ratio = (ours["rows"] / ours["seconds"]) / (raw["rows"] / raw["seconds"])
    print(
        f"    ours:     {ours['rows']:,} events ({ours['messages']:,} messages) in"
        f" {ours['seconds']:.2f} s = {_rate(ours['rows'], ours['seconds'])} events,"
        f" {_rate(ours['messages'], ours['seconds'])} messages;"
        f" peak memory {ours['peak_mb']:.0f} MB"
    )
    print(
        f"    baseline: {how}: {raw['rows']:,} rows of {size} B state in"
        f" {raw['seconds']:.2f} s = {_rate(raw['rows'], raw['seconds'])}"
    )
    target = 0.25 if run.backend == "sqlite" else None
    memory = ""
    if target is not None:
        met = "met" if ours["peak_mb"] < MEMORY_TARGET_MB else "MISSED"
        memory = f"; peak memory (target < {MEMORY_TARGET_MB} MB: {met})"
    print(f"    ratio:    {ratio:.2f} of the raw rate{_verdict(ratio, target)}{memory}")
    run.results[f"occurrence_{run.backend}"] = {
        "ours": ours,
        "raw": raw,
        "ratio": ratio,
    }


def commands(run: Run) -> None:
    """Benchmark 3: API-triggered sends and Canvas step advances, one command each."""
    count = max(1, run.users // SEND_SHARE)
    for part, title in (
        ("api_sends", "API-triggered sends, one recipient each"),
        ("step_advances", "Canvas step advances"),
    ):
        print(f"[3] {count:,} {title}, {run.backend}")
        with run.database(part) as url:
            ours = run.part(part, url=url, count=count, synchronous=run.synchronous)
        with run.database(part + "_raw") as url:
            arguments: dict[str, Any] = {
                "transactions": count,
                "per_transaction": ours["rows_per_command"],
                "state_bytes": round(ours["state_bytes"]),
            }
            if run.backend == "sqlite":
                raw = run.part(
                    "raw_sqlite_transactions",
                    path=url.removeprefix("sqlite:///"),
                    synchronous=run.synchronous,
                    **arguments,
                )
            else:
                raw = run.part("raw_postgres_transactions", url=url, **arguments)
        ratio = (count / ours["seconds"]) / (count / raw["seconds"])
        print(
            f"    ours:     {count:,} commands ({ours['rows']:,} events) in"
            f" {ours['seconds']:.2f} s = {_rate(count, ours['seconds'])} commands,"
            f" {ours['seconds'] / count * 1e3:.2f} ms each"
        )
        print(
            f"    baseline: raw insert of the same {ours['rows_per_command']} rows per"
            f" transaction: {raw['seconds']:.2f} s = {_rate(count, raw['seconds'])}"
        )
        print(f"    ratio:    {ratio:.2f} of the raw rate")
        run.results[f"{part}_{run.backend}"] = {
            "ours": ours,
            "raw": raw,
            "ratio": ratio,
        }


LOOKUPS = 10_000
NOT_LANDED = "not available yet (the projection framework has not landed on main)"


def _projection_figures(run: Run) -> dict[str, Any] | None:
    """Build the projections of benchmarks 1 and 3's log once, for 4 and 5."""
    if importlib.util.find_spec("dispatchledger.adapters.read_side") is None:
        return None
    if "projections" not in run.results:
        sends = max(1, run.users // SEND_SHARE)
        with run.database("projections") as url:
            ours = run.part(
                "projections",
                url=url,
                count=run.users,
                sends=sends,
                lookups=LOOKUPS,
                synchronous=run.synchronous,
            )
            raw = run.part("raw_log_copy", url=url)
            lookups = run.part("raw_lookups", url=url, count=run.users, lookups=LOOKUPS)
        run.results["projections"] = {"ours": ours, "raw": raw, "raw_lookups": lookups}
    figures: dict[str, Any] = run.results["projections"]
    return figures


def rebuild(run: Run) -> None:
    """Benchmark 4: build every projection from the log of benchmarks 1 and 3."""
    figures = _projection_figures(run)
    if figures is None:
        print(f"[4] rebuild projections: {NOT_LANDED}")
        return
    ours, raw = figures["ours"], figures["raw"]
    print(
        f"[4] build every projection from a log of {raw['rows']:,} events,"
        f" {run.backend}"
    )
    ratio = (ours["events"] / ours["seconds"]) / (raw["rows"] / raw["seconds"])
    print(
        f"    ours:     built from an empty store: {ours['events']:,} events in"
        f" {ours['seconds']:.2f} s = {_rate(ours['events'], ours['seconds'])}"
    )
    print(
        f"    rebuild:  into new tables, compared row by row with the live ones and"
        f" switched: {ours['rebuild_seconds']:.2f} s ="
        f" {_rate(ours['events'], ours['rebuild_seconds'])}"
    )
    print(
        f"    baseline: read the log in pages of 1,000 and executemany one row per"
        f" event: {raw['seconds']:.2f} s = {_rate(raw['rows'], raw['seconds'])}"
    )
    target = 0.25 if run.backend == "sqlite" else None
    print(f"    ratio:    {ratio:.2f} of the raw rate{_verdict(ratio, target)}")


def lookups(run: Run) -> None:
    """Benchmark 5: lookups on the projections, p50 and p99."""
    figures = _projection_figures(run)
    if figures is None:
        print(f"[5] projection lookups: {NOT_LANDED}")
        return
    ours = figures["ours"]
    print(f"[5] lookups on the projections, {LOOKUPS:,} random keys, {run.backend}")
    for name, (p50, p99) in ours["lookups"].items():
        rows = ours["rows_per_lookup"][name]
        met = "met" if p99 < 1e-3 else "MISSED"
        target = f" (p99 target < 1 ms: {met})" if run.backend == "sqlite" else ""
        print(
            f"    {name + ':':13} p50 {p50 * 1e3:.3f} ms, p99 {p99 * 1e3:.3f} ms,"
            f" {rows:,} rows each{target}"
        )
    p50, p99 = figures["raw_lookups"]["by_user"]
    print(
        f"    baseline: the by_user SELECT through the bare driver: p50"
        f" {p50 * 1e3:.3f} ms, p99 {p99 * 1e3:.3f} ms"
    )


def peer(run: Run) -> None:
    """Benchmark 6: the same occurrence written the plain eventsourcing way."""
    count = min(PEER_USERS, run.users)
    print(
        f"[6] the plain eventsourcing peer: {count:,} users, one aggregate saved per"
        f" user, {run.backend}, both at the library's default durability"
    )
    with run.database("peer") as url:
        theirs = run.part("peer", url=url, count=count)
    with run.database("peer_ours") as url:
        ours = run.part("occurrence", url=url, count=count, synchronous="FULL")
    ratio = (ours["rows"] / ours["seconds"]) / (theirs["rows"] / theirs["seconds"])
    print(
        f"    ours:     {ours['rows']:,} events in {ours['seconds']:.2f} s ="
        f" {_rate(ours['rows'], ours['seconds'])}"
    )
    print(
        f"    peer:     {theirs['rows']:,} events in {theirs['seconds']:.2f} s ="
        f" {_rate(theirs['rows'], theirs['seconds'])}"
    )
    target = 10.0 if run.backend == "sqlite" else None
    print(f"    ratio:    {ratio:.1f}x the peer{_verdict(ratio, target)}")
    run.results[f"peer_{run.backend}"] = {"ours": ours, "peer": theirs, "ratio": ratio}


BENCHMARKS: dict[str, Callable[[Run], None]] = {
    "occurrence": occurrence,
    "commands": commands,
    "rebuild": rebuild,
    "lookups": lookups,
    "peer": peer,
}


def machine(backend: str, admin_url: str) -> str:
    """nproc, CPU model, Python, SQLite and (when used) PostgreSQL versions."""
    cpu = platform.processor() or "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    parts = [
        f"{os.cpu_count()} cores",
        cpu,
        f"Python {platform.python_version()}",
        f"SQLite {sqlite3.sqlite_version}",
    ]
    if backend == "postgres":
        with psycopg.connect(admin_url) as conn:
            row = conn.execute("SHOW server_version").fetchone()
        parts.append(f"PostgreSQL {row[0] if row else '?'}")
    return ", ".join(parts)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run", description=__doc__
    )
    parser.add_argument(
        "--users",
        type=int,
        default=DEFAULT_USERS,
        help=f"audience of the occurrence (default {DEFAULT_USERS:,});"
        f" API sends and step advances are 1/{SEND_SHARE} of it",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=list(BENCHMARKS),
        help="run only this benchmark (repeatable)",
    )
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument(
        "--synchronous",
        choices=("NORMAL", "FULL"),
        default="NORMAL",
        help="SQLite durability for ours and the raw baselines"
        " (default NORMAL; benchmark 6 always uses FULL)",
    )
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES_ADMIN_URL,
        help="a database to connect to and create scratch ones from",
    )
    parser.add_argument("--json", type=Path, help="also write every figure here")
    arguments = parser.parse_args(argv)
    if arguments.users < 1:
        parser.error("--users must be at least 1")
    return arguments


def main(argv: list[str] | None = None) -> None:
    arguments = parse(argv)
    print(f"machine: {machine(arguments.backend, arguments.postgres_url)}")
    print(f"command: python -m benchmarks.run {' '.join(sys.argv[1:])}".rstrip())
    with tempfile.TemporaryDirectory(prefix="dl-bench-") as directory:
        run = Run(
            backend=arguments.backend,
            users=arguments.users,
            synchronous=arguments.synchronous,
            postgres_admin_url=arguments.postgres_url,
            directory=Path(directory),
        )
        for name in arguments.only or list(BENCHMARKS):
            BENCHMARKS[name](run)
            sys.stdout.flush()
    if arguments.json:
        arguments.json.write_text(json.dumps(run.results, indent=2) + "\n")


if __name__ == "__main__":
    main()
