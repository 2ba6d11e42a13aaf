"""The demo month records what its definitions and calendar imply."""

from __future__ import annotations

from pathlib import Path

from dispatchledger.adapters import open_ledger
from dispatchledger.adapters.demo import DemoMonth
from dispatchledger.adapters.demo.engagement import EngagementPlan


def test_demo_month_on_a_sqlite_file(tmp_path: Path) -> None:
    ledger = open_ledger(f"sqlite:///{tmp_path / 'demo.db'}", env={})

    totals = DemoMonth(ledger, users=100).run()

    digests = [s for s in totals.sends if s.program_id == "weekly-digest"]
    # March 2025 has digest days 1, 8, 15, 22 and 29: five occurrences to all 100
    # members on three channels, each occurrence with one shared id (D2).
    assert len(digests) == 5
    assert all(s.recipients == 100 and s.messages == 300 for s in digests)
    assert all(len(s.dispatch_ids) == 1 for s in digests)
    assert len({s.dispatch_ids[0] for s in digests}) == 5
    flash = [s for s in totals.sends if s.program_id == "flash-sale"]
    # 25 buyers fit one API call per sale day; per_call: one id per call (D4).
    assert [s.recipients for s in flash] == [25, 25]
    assert all(len(s.dispatch_ids) == 1 for s in flash)
    ledger.close()


def test_engagement_counts_add_up_actions_across_channels() -> None:
    plan = EngagementPlan()
    plan.add("users.messages.email.Open", {"id": "a"})
    plan.add("users.messages.email.Open", {"id": "b"})
    plan.add("users.messages.pushnotification.Open", {"id": "c"})
    plan.add("users.messages.email.Click", {"id": "d"})

    assert plan.counts() == {"Click": 1, "Open": 3}
