"""Engines and sessions for SQLite (the default, a file under the data directory) and PostgreSQL.

SQLite: WAL journal, foreign keys on, and every transaction opened with BEGIN IMMEDIATE so that
writers queue on the database lock instead of failing at commit. PostgreSQL: appends serialise
on the `log_head` row (SELECT … FOR UPDATE), see `registry.db.repositories`.
"""

import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

__all__ = [
    "is_disconnect",
    "is_sqlite",
    "make_engine",
    "make_session_factory",
    "read_only",
    "reading",
    "sqlite_url",
    "without_waiting",
]


_MMAP_SIZE = 2**31
_CACHE_KIB = 64 * 1024
_WAL_CHECKPOINT_PAGES = 10_000
_BUSY_TIMEOUT_MS = 30_000
_WRITER_POLL_S = 0.001
# Where a PostgreSQL engine keeps its reading sibling (`read_only`) and its pool options.
_READER = "_certreg_read_only_engine"
_POOL_OPTIONS = "_certreg_pool_options"


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of a SQLite file."""
    return f"sqlite:///{path}"


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (see "begin" below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        # Performance only (docs/benchmarks.md, "Service"): reads of a database larger than the
        # page cache go through the OS page cache without a syscall per page (SQLite caps the
        # map at 2 GiB); a 64 MiB page cache (allocated as used) holds the pages a batch of
        # inserts dirties at random in the id indexes, instead of spilling them to the WAL
        # mid-transaction; and checkpoints run every 10,000 WAL pages (40 MiB) rather than every
        # 1,000, so a page rewritten by consecutive batches is copied back to the file once.
        cursor.execute(f"PRAGMA mmap_size={_MMAP_SIZE}")
        cursor.execute(f"PRAGMA cache_size=-{_CACHE_KIB}")
        cursor.execute(f"PRAGMA wal_autocheckpoint={_WAL_CHECKPOINT_PAGES}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        # Writers take the lock up front; read-only engines (see `read_only`) begin deferred.
        mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        if mode == "IMMEDIATE":
            _begin_immediate(connection)
        elif mode == "NOWAIT":
            connection.exec_driver_sql("PRAGMA busy_timeout=0")
            try:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            finally:
                connection.exec_driver_sql(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        else:
            connection.exec_driver_sql(f"BEGIN {mode}")


def _begin_immediate(connection: Connection) -> None:
    """BEGIN IMMEDIATE, waiting for another writer in 1 ms steps, for as long as busy_timeout.

    SQLite's own busy handler sleeps ever longer, up to 100 ms at a time; a writer asleep in it
    kept losing the lock to writers that committed and began again meanwhile, and concurrent
    batch issuance had a p99 of over a second (docs/benchmarks.md, "HTTP API").
    """
    deadline = time.monotonic() + _BUSY_TIMEOUT_MS / 1000
    connection.exec_driver_sql("PRAGMA busy_timeout=0")
    try:
        while True:
            try:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
                return
            except OperationalError as exc:
                busy = getattr(exc.orig, "sqlite_errorcode", None) == sqlite3.SQLITE_BUSY
                if not busy or time.monotonic() >= deadline:
                    raise
                time.sleep(_WRITER_POLL_S)
    finally:
        connection.exec_driver_sql(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")


def _private_file(path: Path) -> None:
    """Create a SQLite file (and its folder) readable by its owner only, before SQLite does.

    The file holds issuers' sealed keys and API-key hashes, beside the key-encryption key in a
    local layout: the process umask (often 022) must not decide who can read it. SQLite's WAL and
    shared-memory files take the main file's permissions."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)


def make_engine(url: str, *, echo: bool = False, **pool: Any) -> Engine:
    """An engine for `url`, with the per-backend settings above. Creates a SQLite file's folder.

    `pool`: SQLAlchemy's pool options (`pool_size`, `max_overflow`, `pool_timeout`).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            _private_file(Path(parsed.database))
        engine = create_engine(url, echo=echo, **pool)
        _sqlite_setup(engine)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() in ("", "psycopg2"):
        # psycopg 3 is the driver we install; plain postgresql:// URLs should just work.
        parsed = parsed.set(drivername="postgresql+psycopg")
    engine = create_engine(parsed, echo=echo, pool_pre_ping=True, **pool)
    engine.__dict__[_POOL_OPTIONS] = dict(pool)
    return engine


def read_only(engine: Engine) -> Engine:
    """An engine for reads that need no transaction of their own (proofs, tiles, caches).

    SQLite: the same engine and pool, with transactions begun DEFERRED so that readers never
    queue behind writers. PostgreSQL: a sibling engine over the same URL, made once per engine
    and disposed with it, whose connections stay in autocommit with no pre-ping and no rollback
    when they return to the pool. On the proof path those were three round trips to the server
    for one statement (docs/benchmarks.md, "Proofs in bounded memory"); every reader is one
    statement or checks versions across its statements, and PostgreSQL's default READ COMMITTED
    gives each statement its own snapshot anyway. A connection the server dropped is found by the
    statement that uses it: the pool is then invalidated and callers read again
    (`is_disconnect`).
    """
    if is_sqlite(engine):
        return engine.execution_options(sqlite_begin="DEFERRED")
    sibling: Engine | None = engine.__dict__.get(_READER)
    if sibling is None:
        sibling = create_engine(
            engine.url,
            echo=engine.echo,
            pool_pre_ping=False,
            pool_reset_on_return=None,
            isolation_level="AUTOCOMMIT",
            **engine.__dict__.get(_POOL_OPTIONS, {}),  # sized as the engine's own pool
        )
        engine.__dict__[_READER] = sibling
        event.listen(engine, "engine_disposed", lambda _engine: sibling.dispose())
    return sibling


def without_waiting(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """Sessions for best-effort writes that must never queue behind another writer (a token's
    last use): on SQLite a transaction that cannot take the lock at once fails with
    `OperationalError` instead of waiting; on PostgreSQL the same sessions (such a write touches
    rows no appender locks)."""
    bind = sessions.kw["bind"]
    if not is_sqlite(bind):
        return sessions
    return sessionmaker(bind.execution_options(sqlite_begin="NOWAIT"), expire_on_commit=False)


def is_disconnect(exc: BaseException) -> bool:
    """Whether `exc` is SQLAlchemy's error for a connection the server or network dropped (the
    pool has been invalidated: the next checkout connects afresh)."""
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def reading(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """Sessions for reads only, over `read_only` of the same engine: on SQLite they never take
    the write lock, so a public read does not queue behind issuance."""
    bind = sessions.kw["bind"]
    return sessionmaker(read_only(bind), expire_on_commit=False)
