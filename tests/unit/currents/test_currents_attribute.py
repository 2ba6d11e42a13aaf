"""Rule A1 as a pure function: explicit wins, else latest send in the window."""

from __future__ import annotations

from datetime import UTC, datetime

from dispatchledger.domain.observed import Attribution, Basis, attribute

NOON = datetime(2025, 3, 2, 12, tzinfo=UTC)
HOUR = 3600


def test_an_explicit_dispatch_id_wins_even_outside_the_window() -> None:
    sends = [(datetime(2025, 3, 2, 11, tzinfo=UTC), "recent")]

    found = attribute(NOON, "named", sends, window_seconds=60)

    assert found == Attribution("named", Basis.EXPLICIT)


def test_the_latest_send_before_the_conversion_is_credited() -> None:
    sends = [
        (datetime(2025, 3, 1, 9, tzinfo=UTC), "older"),
        (datetime(2025, 3, 2, 9, tzinfo=UTC), "latest"),
        (datetime(2025, 3, 2, 13, tzinfo=UTC), "after"),
    ]

    found = attribute(NOON, None, sends, window_seconds=3 * 24 * HOUR)

    assert found == Attribution("latest", Basis.INFERRED)


def test_the_window_edge_is_included() -> None:
    sends = [(datetime(2025, 3, 2, 11, tzinfo=UTC), "edge")]

    assert attribute(NOON, None, sends, HOUR) == Attribution("edge", Basis.INFERRED)
    assert attribute(NOON, None, sends, HOUR - 1).basis is Basis.UNATTRIBUTED


def test_equal_send_times_choose_the_same_dispatch_every_time() -> None:
    same = datetime(2025, 3, 2, 9, tzinfo=UTC)

    one = attribute(NOON, None, [(same, "b"), (same, "a")], HOUR * 24)
    other = attribute(NOON, None, [(same, "a"), (same, "b")], HOUR * 24)

    assert one == other == Attribution("b", Basis.INFERRED)


def test_without_a_window_nothing_is_inferred() -> None:
    sends = [(datetime(2025, 3, 2, 11, tzinfo=UTC), "x")]

    assert attribute(NOON, None, sends, None) == Attribution(None, Basis.UNATTRIBUTED)
