"""A bulk occurrence killed midway on a SQLite file resumes when repeated."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from ledger_builders import AT, campaign, dispatched

from dispatchledger.adapters.bootstrap import open_ledger
from dispatchledger.domain.storage import RecorderStreamReader

USERS = [f"u{n}" for n in range(1, 9)]

# Sends to u1..u8 in batches of 2, and stops for good when asked for u6: two
# batches are saved and the third is half read when the process is killed.
SENDER = """
import pathlib, sys, time
from datetime import datetime
from dispatchledger.adapters.bootstrap import open_ledger
from dispatchledger.domain.storage import RecorderStreamReader

url, flag, at = sys.argv[1], pathlib.Path(sys.argv[2]), sys.argv[3]
ledger = open_ledger(url, env={"DISPATCHLEDGER_BATCH_SIZE": "2"})

def audience():
    for n in range(1, 9):
        if n == 6:
            flag.write_text("half way")
            time.sleep(120)
        yield f"u{n}"

ledger.run_occurrence(
    campaign_id="spring",
    occurrence_id="o1",
    audience=audience(),
    at=datetime.fromisoformat(at),
    idempotency_key="spring-o1",
)
"""


def _kill_midway(url: str, tmp_path: Path) -> None:
    flag = tmp_path / "half-way"
    process = subprocess.Popen(
        [sys.executable, "-c", SENDER, url, str(flag), AT.isoformat()],
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    try:
        deadline = time.monotonic() + 30
        while not flag.exists():
            assert process.poll() is None, "the sender ended before the crash point"
            assert time.monotonic() < deadline, "the sender never got half way"
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()


def test_a_killed_occurrence_resumes_without_sending_twice(sqlite_url, tmp_path):
    ledger = open_ledger(sqlite_url)
    ledger.define_campaign(campaign("spring", "scheduled", ["email", "push"]), at=AT)
    ledger.close()

    _kill_midway(sqlite_url, tmp_path)
    ledger = open_ledger(sqlite_url)
    before = Counter(e.user_id for e in dispatched(ledger))
    interrupted = ledger.transmission("campaign", "spring", "o1")
    resumed = ledger.run_occurrence(
        campaign_id="spring",
        occurrence_id="o1",
        audience=iter(USERS),
        at=AT,
        idempotency_key="spring-o1",
    )

    assert before == {"u1": 2, "u2": 2, "u3": 2, "u4": 2}
    assert interrupted is not None
    assert not interrupted.completed
    assert resumed.replayed is False
    assert resumed.recipients == 4
    assert resumed.skipped_counts == {"already_sent": 4}
    assert Counter((e.user_id, e.channel) for e in dispatched(ledger)) == {
        (user, channel): 1 for user in USERS for channel in ("email", "push")
    }
    assert {e.dispatch_id for e in dispatched(ledger)} == {interrupted.dispatch_id}
    assert resumed.dispatch_ids == [interrupted.dispatch_id]


def test_after_resuming_the_key_replays_the_resumed_result(sqlite_url, tmp_path):
    ledger = open_ledger(sqlite_url)
    ledger.define_campaign(campaign("spring", "scheduled", ["email", "push"]), at=AT)
    ledger.close()
    _kill_midway(sqlite_url, tmp_path)
    ledger = open_ledger(sqlite_url)
    resumed = ledger.run_occurrence(
        campaign_id="spring",
        occurrence_id="o1",
        audience=USERS,
        at=AT,
        idempotency_key="spring-o1",
    )
    ledger.close()
    reopened = open_ledger(sqlite_url)
    events_before = len(dispatched(reopened))

    again = reopened.run_occurrence(
        campaign_id="spring",
        occurrence_id="o1",
        audience=USERS,
        at=AT,
        idempotency_key="spring-o1",
    )

    assert again.replayed is True
    assert again.model_copy(update={"replayed": False}) == resumed
    assert len(dispatched(reopened)) == events_before == 16


class _ResumedElsewhere:
    """Before the third batch is read, another process resumes the same send."""

    def __init__(self, ledger, other, users):
        self.inner = RecorderStreamReader(ledger.recorder)
        self.other = other
        self.users = users
        self.reads = 0

    def read_streams(self, stream_ids):
        self.reads += 1
        if self.reads == 3:
            self.other.run_occurrence(
                campaign_id="spring", occurrence_id="o1", audience=self.users, at=AT
            )
        return self.inner.read_streams(stream_ids)


def test_two_processes_finishing_one_occurrence_send_each_user_once(sqlite_url):
    ledger = open_ledger(sqlite_url)
    other = open_ledger(sqlite_url)
    ledger.define_campaign(campaign("spring", "scheduled"), at=AT)
    ledger.batch_size = 2
    users = [f"u{n}" for n in range(1, 7)]
    ledger.stream_reader = _ResumedElsewhere(ledger, other, users)

    result = ledger.run_occurrence(
        campaign_id="spring", occurrence_id="o1", audience=iter(users), at=AT
    )

    transmission = ledger.transmission("campaign", "spring", "o1")
    assert transmission is not None
    assert (transmission.completed, transmission.version) == (True, 2)
    assert result.recipients == 4
    assert result.skipped_counts == {"already_sent": 2}
    assert Counter(e.user_id for e in dispatched(ledger)) == dict.fromkeys(users, 1)
