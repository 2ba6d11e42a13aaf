"""Runs one part in this process and prints its figures as one JSON line.

``python -m benchmarks.worker PART '{"arg": ...}'``; the runner starts one process
per part, so each peak memory figure is that part's own.
"""

from __future__ import annotations

import json
import sys

from benchmarks import parts

PARTS = {
    "occurrence": parts.occurrence,
    "raw_sqlite_bulk": parts.raw_sqlite_bulk,
    "raw_sqlite_transactions": parts.raw_sqlite_transactions,
    "raw_postgres_copy": parts.raw_postgres_copy,
    "raw_postgres_transactions": parts.raw_postgres_transactions,
    "api_sends": parts.api_sends,
    "step_advances": parts.step_advances,
    "peer": parts.peer,
    "projections": parts.projections,
    "raw_log_copy": parts.raw_log_copy,
    "raw_lookups": parts.raw_lookups,
}


def main() -> None:
    name, arguments = sys.argv[1], json.loads(sys.argv[2])
    figures = PARTS[name](**arguments)
    sys.stdout.write(json.dumps(figures) + "\n")


if __name__ == "__main__":
    main()
