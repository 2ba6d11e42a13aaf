"""Row changes, handlers, comparison and charts of the read side (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from dispatchledger.domain.events import MessageDispatched, StepAdvanced, UserEntered
from dispatchledger.projections.compare import compare_tables
from dispatchledger.projections.framework import (
    Changes,
    Column,
    Table,
    from_micros,
    suffix_of,
    to_micros,
)
from dispatchledger.projections.mermaid import user_lineage_chart
from dispatchledger.projections.queries import UserLineage
from dispatchledger.projections.read_models import (
    JOURNEY_STEPS,
    STEP_DISPATCHES,
    TRANSMISSION_RECIPIENTS,
    TRANSMISSIONS,
    DispatchesByStep,
    Lineage,
    RecipientsByTransmission,
)

NOTES = Table("notes", (Column("key"), Column("text")), key=("key",))
AT = datetime(2026, 3, 1, 9, 30, 0, 250001, tzinfo=UTC)
STREAM = uuid4()


def entered(version: int = 1) -> UserEntered:
    return UserEntered(
        originator_id=STREAM,
        originator_version=version,
        timestamp=AT,
        program_kind="canvas",
        program_id="onboarding",
        user_id="ana",
        source_kind="entry_run",
        source_id="run-1",
        dispatch_id=None,
        entry_id="e-1",
        variant_id="main",
        step_id="hello",
    )


def advanced(version: int) -> StepAdvanced:
    return StepAdvanced(
        originator_id=STREAM,
        originator_version=version,
        timestamp=AT,
        program_kind="canvas",
        program_id="onboarding",
        user_id="ana",
        source_kind="step_arrival",
        source_id=f"e-1/{version}",
        entry_id="e-1",
        from_step_id="hello",
        step_id="tips",
    )


def dispatched(
    version: int, channel: str, dispatch_id: str | None
) -> MessageDispatched:
    return MessageDispatched(
        originator_id=STREAM,
        originator_version=version,
        timestamp=AT,
        program_kind="canvas",
        program_id="onboarding",
        user_id="ana",
        source_kind="step_arrival",
        source_id="e-1/2",
        channel=channel,
        variation_id=f"tips-{channel}",
        dispatch_id=dispatch_id,
        entry_id="e-1",
        step_id="tips",
    )


def test_micros_round_trip_to_an_aware_time() -> None:
    assert to_micros(datetime(1970, 1, 1, 0, 0, 1, 5, tzinfo=UTC)) == 1_000_005
    assert from_micros(to_micros(AT)) == AT
    assert from_micros(0).tzinfo is UTC


def test_first_add_wins_last_put_wins_and_a_put_drops_an_add() -> None:
    changes = Changes([NOTES])

    changes.add(NOTES, {"key": "a", "text": "first"})
    changes.add(NOTES, {"key": "a", "text": "second"})
    changes.put(NOTES, {"key": "b", "text": "one"})
    changes.put(NOTES, {"key": "b", "text": "two"})
    changes.add(NOTES, {"key": "b", "text": "ignored"})
    changes.add(NOTES, {"key": "c", "text": "added"})
    changes.put(NOTES, {"key": "c", "text": "put"})

    table = changes.by_table["notes"]
    assert [r["text"] for r in table.adds.values()] == ["first"]
    assert [r["text"] for r in table.puts.values()] == ["two", "put"]
    assert len(changes) == 3


def test_rebuild_positions_write_to_rebuild_tables() -> None:
    assert suffix_of("lineage__rebuild") == "__rebuild"
    assert suffix_of("lineage") == ""


def test_a_step_arrival_gets_the_id_its_carrying_message_puts() -> None:
    changes = Changes(DispatchesByStep.tables)
    projection = DispatchesByStep()

    projection.handle(advanced(2), 10, changes)
    projection.handle(dispatched(3, "push", "d-7"), 11, changes)
    projection.handle(dispatched(4, "in_app_message", None), 12, changes)

    rows = changes.by_table[STEP_DISPATCHES.name]
    assert list(rows.adds.values()) == []
    assert list(rows.puts.values()) == [
        {
            "canvas_id": "onboarding",
            "user_id": "ana",
            "source_id": "e-1/2",
            "step_id": "tips",
            "entry_id": "e-1",
            "source_kind": "step_arrival",
            "dispatch_id": "d-7",
            "arrived_at": to_micros(AT),
        }
    ]


def test_a_source_without_a_transmission_is_added_by_its_first_recipient() -> None:
    changes = Changes(RecipientsByTransmission.tables)

    RecipientsByTransmission().handle(advanced(2), 10, changes)

    (source,) = changes.by_table[TRANSMISSIONS.name].adds.values()
    assert (source["source_kind"], source["source_id"]) == ("step_arrival", "e-1/2")
    assert source["dispatch_id"] is None
    (recipient,) = changes.by_table[TRANSMISSION_RECIPIENTS.name].adds.values()
    assert (recipient["user_id"], recipient["entry_id"]) == ("ana", "e-1")


def test_lineage_keeps_each_arrival_of_a_journey_in_order() -> None:
    changes = Changes(Lineage.tables)
    projection = Lineage()

    projection.handle(entered(1), 1, changes)
    projection.handle(advanced(2), 2, changes)

    steps = list(changes.by_table[JOURNEY_STEPS.name].adds.values())
    assert [(s["version"], s["step_id"], s["from_step_id"]) for s in steps] == [
        (1, "hello", None),
        (2, "tips", "hello"),
    ]
    assert steps[0]["variant_id"] == "main"


def test_comparison_counts_each_kind_of_difference() -> None:
    live = [("a", "same"), ("b", "old"), ("c", "gone"), ("e", "late")]
    rebuilt = [("a", "same"), ("b", "new"), ("d", "fresh")]

    report = compare_tables(NOTES, iter(live), iter(rebuilt))

    assert (report.live_rows, report.rebuilt_rows) == (4, 3)
    assert (report.only_in_live, report.only_in_rebuilt, report.differing) == (2, 1, 1)
    assert report.only_in_live_examples == [
        {"key": "c", "text": "gone"},
        {"key": "e", "text": "late"},
    ]
    assert report.only_in_rebuilt_examples == [{"key": "d", "text": "fresh"}]
    assert report.differing_examples[0].key == {"key": "b"}
    assert report.differing_examples[0].live == {"key": "b", "text": "old"}
    assert not report.identical


def test_comparison_shows_times_of_differing_rows_in_iso_8601() -> None:
    table = Table("sends", (Column("key"), Column("at", "time")), key=("key",))

    report = compare_tables(table, iter([("a", 0)]), iter([("a", 1_000_000)]))

    assert report.differing_examples[0].rebuilt == {
        "key": "a",
        "at": "1970-01-01T00:00:01+00:00",
    }


def test_comparison_of_equal_tables_is_identical() -> None:
    rows = [("a", "x"), ("b", "y")]

    report = compare_tables(NOTES, iter(rows), iter(list(rows)))

    assert report.identical
    assert (report.live_rows, report.rebuilt_rows) == (2, 2)


def test_chart_labels_are_escaped_for_mermaid() -> None:
    lineage = UserLineage(user_id='ana "the" | user', journeys=[], campaign_messages=[])

    chart = user_lineage_chart(lineage)

    assert chart == 'flowchart LR\n    n0(["user ana #quot;the#quot; #124; user"])\n'


def test_the_public_surface_is_curated() -> None:
    import dispatchledger.projections as projections

    exported = {name for name in dir(projections) if not name.startswith("_")}

    assert set(projections.__all__) <= exported
    assert "ReadModels" in projections.__all__
    assert "default_projections" in projections.__all__
