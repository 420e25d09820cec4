"""SQLite writers: BEGIN IMMEDIATE waits for another writer, in short steps, up to busy_timeout."""

import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from registry.db import engine as engine_module
from registry.db.engine import make_engine, read_only, sqlite_url


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Engine:
    engine = make_engine(sqlite_url(tmp_path / "writers.db"))
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (writer TEXT NOT NULL)"))
    return engine


def test_a_waiting_writer_begins_once_the_other_commits(sqlite_engine: Engine) -> None:
    holding = threading.Event()
    release = threading.Event()
    waited: list[str] = []

    def first() -> None:
        with sqlite_engine.begin() as connection:
            connection.execute(text("INSERT INTO t VALUES ('first')"))
            holding.set()
            assert release.wait(10)

    def second() -> None:
        with sqlite_engine.begin() as connection:
            waited.append("began")
            connection.execute(text("INSERT INTO t VALUES ('second')"))

    holder = threading.Thread(target=first)
    holder.start()
    assert holding.wait(10)
    waiter = threading.Thread(target=second)
    waiter.start()
    waiter.join(0.3)
    assert waited == []  # still waiting for the write lock: it never got a transaction
    release.set()
    holder.join(10)
    waiter.join(10)
    assert waited == ["began"]
    with sqlite_engine.connect() as connection:
        rows = connection.execute(text("SELECT writer FROM t ORDER BY rowid")).scalars().all()
    assert rows == ["first", "second"]


def test_a_writer_gives_up_after_busy_timeout_and_keeps_its_busy_timeout(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "_BUSY_TIMEOUT_MS", 200)
    with sqlite_engine.begin() as holder:
        holder.execute(text("INSERT INTO t VALUES ('holder')"))
        with sqlite_engine.connect() as waiter:
            with pytest.raises(OperationalError, match="database is locked"):
                waiter.begin()
            waiter.rollback()
            # The wait polled with busy_timeout 0; the connection's own value is back.
            assert waiter.exec_driver_sql("PRAGMA busy_timeout").scalar() == 200


def test_readers_do_not_wait_for_a_writer(sqlite_engine: Engine) -> None:
    with sqlite_engine.begin() as writer:
        writer.execute(text("INSERT INTO t VALUES ('uncommitted')"))
        with read_only(sqlite_engine).begin() as reader:
            assert reader.execute(text("SELECT count(*) FROM t")).scalar() == 0
