"""The projection-store contract, run against SQLite, PostgreSQL and memory."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from dispatchledger.adapters.settings import Settings
from dispatchledger.adapters.sqlalchemy_projections import (
    SQLAlchemyProjectionStore,
    projection_engine,
)
from dispatchledger.domain.errors import PersistenceError
from dispatchledger.projections.framework import (
    REBUILD_SUFFIX,
    Changes,
    Column,
    Table,
    to_micros,
)

SENDS = Table(
    "t_sends",
    (
        Column("user_id"),
        Column("seq", "int"),
        Column("dispatch_id", nullable=True),
        Column("sent_at", "time"),
    ),
    key=("user_id", "seq"),
    indexes=(("dispatch_id",),),
)
NOTES = Table("t_notes", (Column("note"),), key=("note",))
SENT = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgres", "memory"])
def store_url(request: pytest.FixtureRequest) -> str:
    if request.param == "memory":
        return "memory://"
    fixture = "sqlite_url" if request.param == "sqlite" else "fresh_postgres_url"
    return str(request.getfixturevalue(fixture))


@pytest.fixture
def store(store_url: str) -> Iterator[SQLAlchemyProjectionStore]:
    opened = SQLAlchemyProjectionStore(
        projection_engine(Settings(database_url=store_url))
    )
    opened.ensure_tables([SENDS, NOTES])
    yield opened
    opened.close()


def send(user: str, seq: int, dispatch_id: str | None = "d1") -> dict[str, Any]:
    return {
        "user_id": user,
        "seq": seq,
        "dispatch_id": dispatch_id,
        "sent_at": to_micros(SENT),
    }


def changes(*ops: tuple[str, dict[str, Any]]) -> Changes:
    batch = Changes([SENDS, NOTES])
    for kind, row in ops:
        table = SENDS if "user_id" in row else NOTES
        (batch.add if kind == "add" else batch.put)(table, row)
    return batch


def test_rows_and_position_are_written_together(
    store: SQLAlchemyProjectionStore,
) -> None:
    store.write({"sends": changes(("add", send("u1", 1)))}, {"sends": 7})

    assert store.positions() == {"sends": 7}
    assert store.select(SENDS, {"user_id": "u1"}) == [
        {"user_id": "u1", "seq": 1, "dispatch_id": "d1", "sent_at": SENT}
    ]


def test_times_read_back_aware_to_the_microsecond(
    store: SQLAlchemyProjectionStore,
) -> None:
    store.write({"sends": changes(("add", send("u1", 1)))}, {"sends": 1})

    (row,) = store.select(SENDS, {"user_id": "u1"})
    assert row["sent_at"].tzinfo is not None
    assert row["sent_at"].utcoffset().total_seconds() == 0
    assert row["sent_at"].microsecond == 123456


def test_a_failure_before_the_position_is_saved_keeps_no_rows(
    store: SQLAlchemyProjectionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(*_: object) -> None:
        raise RuntimeError("process killed before saving the position")

    monkeypatch.setattr(store, "_save_positions", crash)
    with pytest.raises(RuntimeError):
        store.write({"sends": changes(("add", send("u1", 1)))}, {"sends": 1})

    assert store.positions() == {}
    assert store.select(SENDS, {"user_id": "u1"}) == []


def test_add_keeps_the_first_row_and_put_replaces_it(
    store: SQLAlchemyProjectionStore,
) -> None:
    store.write({"n": changes(("add", send("u1", 1, None)))}, {"n": 1})
    store.write({"n": changes(("add", send("u1", 1, "ignored")))}, {"n": 2})
    store.write({"n": changes(("put", send("u1", 1, "d9")))}, {"n": 3})
    store.write(
        {"n": changes(("put", send("u2", 1, "d7")), ("add", send("u2", 1, None)))},
        {"n": 4},
    )

    rows = [store.select(SENDS, {"user_id": u})[0]["dispatch_id"] for u in ("u1", "u2")]
    assert rows == ["d9", "d7"]


def test_rows_come_in_code_point_order_of_the_key(
    store: SQLAlchemyProjectionStore,
) -> None:
    notes = ["b", "Z", "a", "é", "B", "a b", "ab"]
    batch = changes(*(("add", {"note": note}) for note in notes))

    store.write({"n": batch}, {"n": 1})

    assert [row["note"] for row in store.rows(NOTES)] == [
        "B",
        "Z",
        "a",
        "a b",
        "ab",
        "b",
        "é",
    ]


def test_creating_tables_twice_and_concurrently_is_harmless(store_url: str) -> None:
    settings = Settings(database_url=store_url)
    errors: list[BaseException] = []
    if store_url == "memory://":
        pytest.skip("an in-memory database belongs to one store")
    start = threading.Barrier(4)

    def open_store() -> None:
        engine = projection_engine(settings)
        try:
            start.wait(timeout=10)
            other = SQLAlchemyProjectionStore(engine)
            other.ensure_tables([SENDS, NOTES])
            other.ensure_tables([SENDS, NOTES])
        except BaseException as error:  # collected for the assertion below
            errors.append(error)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []


def test_swap_replaces_live_tables_and_moves_the_position(
    store: SQLAlchemyProjectionStore,
) -> None:
    store.write({"sends": changes(("add", send("old", 1)))}, {"sends": 5})
    store.ensure_tables([SENDS], REBUILD_SUFFIX)
    store.write(
        {"sends__rebuild": changes(("add", send("new", 1)))}, {"sends__rebuild": 5}
    )

    switched = store.swap([SENDS], REBUILD_SUFFIX, "sends", 5)

    assert switched
    assert [r["user_id"] for r in store.rows(SENDS)] == ["new"]
    assert store.select(SENDS, {"dispatch_id": "d1"})[0]["user_id"] == "new"
    assert store.positions() == {"sends": 5}


def test_swap_refuses_when_the_live_position_moved(
    store: SQLAlchemyProjectionStore,
) -> None:
    store.write({"sends": changes(("add", send("old", 1)))}, {"sends": 6})
    store.ensure_tables([SENDS], REBUILD_SUFFIX)
    store.write({"sends__rebuild": changes()}, {"sends__rebuild": 5})

    switched = store.swap([SENDS], REBUILD_SUFFIX, "sends", 5)

    assert not switched
    assert [r["user_id"] for r in store.rows(SENDS)] == ["old"]


def test_a_swap_failing_midway_leaves_the_live_tables(
    store: SQLAlchemyProjectionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.write(
        {"p": changes(("add", send("old", 1)), ("add", {"note": "x"}))}, {"p": 2}
    )
    store.ensure_tables([SENDS, NOTES], REBUILD_SUFFIX)
    store.write({"p__rebuild": changes(("add", send("new", 1)))}, {"p__rebuild": 2})
    replace = store._replace
    done: list[str] = []

    def crash_on_second(conn: Any, spec: Table, suffix: str) -> None:
        if done:
            raise RuntimeError("crash between two table swaps")
        replace(conn, spec, suffix)
        done.append(spec.name)

    monkeypatch.setattr(store, "_replace", crash_on_second)
    with pytest.raises(RuntimeError):
        store.swap([SENDS, NOTES], REBUILD_SUFFIX, "p", 2)

    assert done == ["t_sends"]
    assert [r["user_id"] for r in store.rows(SENDS)] == ["old"]
    assert [r["note"] for r in store.rows(NOTES)] == ["x"]
    assert store.positions() == {"p": 2, "p__rebuild": 2}


def test_reset_drops_rebuilt_tables_and_their_position(
    store: SQLAlchemyProjectionStore,
) -> None:
    store.ensure_tables([SENDS], REBUILD_SUFFIX)
    store.write({"s__rebuild": changes(("add", send("u", 1)))}, {"s__rebuild": 3})

    store.reset([SENDS], REBUILD_SUFFIX, "s__rebuild")
    store.ensure_tables([SENDS], REBUILD_SUFFIX)

    assert list(store.rows(SENDS, REBUILD_SUFFIX)) == []
    assert store.positions() == {}


def test_database_errors_become_persistence_errors(
    store: SQLAlchemyProjectionStore,
) -> None:
    unknown = Table("t_never_created", (Column("x"),), key=("x",))

    with pytest.raises(PersistenceError):
        list(store.rows(unknown))


def test_values_are_stored_rows_in_key_order_with_times_as_integers(
    store: SQLAlchemyProjectionStore,
) -> None:
    batch = changes(("add", send("u2", 1)), ("add", send("u1", 2, None)))
    store.write({"sends": batch}, {"sends": 1})

    assert list(store.values(SENDS)) == [
        ("u1", 2, None, to_micros(SENT)),
        ("u2", 1, "d1", to_micros(SENT)),
    ]


def test_a_write_expecting_a_moved_position_writes_nothing(
    store: SQLAlchemyProjectionStore,
) -> None:
    first = store.write({"s": changes(("add", send("u1", 1)))}, {"s": 3}, {"s": 0})

    second = store.write({"s": changes(("add", send("u2", 1)))}, {"s": 3}, {"s": 0})

    assert (first, second) == (True, False)
    assert [r["user_id"] for r in store.rows(SENDS)] == ["u1"]
    assert store.positions() == {"s": 3}


def test_counts_and_limits(store: SQLAlchemyProjectionStore) -> None:
    batch = changes(
        ("add", send("u1", 1, "d1")),
        ("add", send("u1", 2, "d2")),
        ("add", send("u2", 1, "d1")),
    )
    store.write({"s": batch}, {"s": 1})

    assert store.count(SENDS, {}) == {None: 3}
    assert store.count(SENDS, {"user_id": "u1"}, by="dispatch_id") == {"d1": 1, "d2": 1}
    assert store.count(SENDS, {"user_id": "nobody"}) == {None: 0}
    limited = store.select(SENDS, {"dispatch_id": "d1"}, ["user_id"], limit=1)
    assert [r["user_id"] for r in limited] == ["u1"]
