"""A bulk send interrupted midway resumes when the same command is repeated."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
from ledger_builders import AT, campaign, canvas, counting_ledger, dispatched

from dispatchledger.domain import DispatchLedger

USERS = [f"u{n}" for n in range(1, 9)]


class AudienceLost(Exception):
    """Stands for the process dying while the audience is being read."""


def failing_after(users: list[str], count: int) -> Iterator[str]:
    yield from users[:count]
    raise AudienceLost


@pytest.fixture
def ledger() -> DispatchLedger:
    ledger = counting_ledger()
    ledger.batch_size = 2
    ledger.define_campaign(campaign("spring", "scheduled", ["email", "push"]), at=AT)
    ledger.define_canvas(canvas("onboarding", "scheduled"), at=AT)
    return ledger


def test_a_repeated_occurrence_sends_only_to_users_not_yet_sent(ledger):
    # Two full batches are saved; the third dies half read.
    with pytest.raises(AudienceLost):
        ledger.run_occurrence(
            campaign_id="spring",
            occurrence_id="o1",
            audience=failing_after(USERS, 5),
            at=AT,
        )
    sent_before = Counter(e.user_id for e in dispatched(ledger))

    resumed = ledger.run_occurrence(
        campaign_id="spring", occurrence_id="o1", audience=iter(USERS), at=AT
    )

    assert sent_before == {"u1": 2, "u2": 2, "u3": 2, "u4": 2}
    assert resumed.recipients == 4
    assert resumed.skipped_counts == {"already_sent": 4}
    assert [s.user_id for s in resumed.skipped] == ["u1", "u2", "u3", "u4"]
    assert Counter((e.user_id, e.channel) for e in dispatched(ledger)) == {
        (user, channel): 1 for user in USERS for channel in ("email", "push")
    }
    assert {e.dispatch_id for e in dispatched(ledger)} == {f"{1:024x}"}
    assert resumed.dispatch_ids == [f"{1:024x}"]


def test_the_transmission_completes_once_after_the_resumed_run(ledger):
    with pytest.raises(AudienceLost):
        ledger.run_occurrence(
            campaign_id="spring",
            occurrence_id="o1",
            audience=failing_after(USERS, 5),
            at=AT,
        )
    interrupted = ledger.transmission("campaign", "spring", "o1")

    ledger.run_occurrence(
        campaign_id="spring", occurrence_id="o1", audience=USERS, at=AT
    )
    ledger.run_occurrence(
        campaign_id="spring", occurrence_id="o1", audience=USERS, at=AT
    )

    finished = ledger.transmission("campaign", "spring", "o1")
    assert interrupted is not None
    assert finished is not None
    assert (interrupted.completed, interrupted.dispatch_id) == (False, f"{1:024x}")
    assert (finished.completed, finished.dispatch_id) == (True, f"{1:024x}")
    assert finished.version == 2


def test_a_repeated_canvas_entry_run_enters_only_users_not_yet_entered(ledger):
    with pytest.raises(AudienceLost):
        ledger.run_canvas_entry(
            canvas_id="onboarding",
            entry_run_id="r1",
            audience=failing_after(USERS, 5),
            at=AT,
        )

    resumed = ledger.run_canvas_entry(
        canvas_id="onboarding", entry_run_id="r1", audience=USERS, at=AT
    )

    assert resumed.recipients == 4
    assert resumed.skipped_counts == {"already_sent": 4}
    assert Counter(e.user_id for e in dispatched(ledger)) == dict.fromkeys(USERS, 1)
    assert {e.dispatch_id for e in dispatched(ledger)} == {f"{1:024x}"}


def test_repeating_a_finished_occurrence_names_its_one_id_and_sends_nothing(ledger):
    first = ledger.run_occurrence(
        campaign_id="spring", occurrence_id="o1", audience=USERS, at=AT
    )

    again = ledger.run_occurrence(
        campaign_id="spring", occurrence_id="o1", audience=USERS, at=AT
    )

    assert again.dispatch_ids == first.dispatch_ids
    assert len(first.dispatch_ids) == 1
    assert (again.recipients, again.messages) == (0, 0)
    assert again.skipped_counts == {"already_sent": len(USERS)}
