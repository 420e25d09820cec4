"""Database fixtures for every suite: each test gets an empty, migrated database, on SQLite and
on PostgreSQL. PostgreSQL is a throwaway cluster of the session's own (`tests/pgcluster.py`:
initdb into a temporary directory, a free port of 127.0.0.1), started the first time a test
needs it and deleted at the end; no system server is assumed. Set CERTREG_TEST_POSTGRES_URL to
a superuser's URL (e.g. `postgresql+psycopg://postgres@127.0.0.1:5432/postgres`) to use that
server instead. A PostgreSQL that cannot be started or reached fails the tests, with the
reason: it is never skipped silently.
"""

import logging
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from anchoring.pyecc import contain_py_ecc
from registry.db.engine import make_engine, make_session_factory, sqlite_url
from registry.db.migrate import upgrade
from registry.db.models import Base
from tests.pgcluster import ClusterError, throwaway_cluster

POSTGRES_URL_OVERRIDE = os.environ.get("CERTREG_TEST_POSTGRES_URL")

# Properties are about results, not speed: on a loaded machine (CI beside other jobs, a
# benchmark running) Hypothesis's 200 ms deadline failed examples that are merely slow.
settings.register_profile("certreg", deadline=None)
settings.load_profile("certreg")


def pytest_configure(config: pytest.Config) -> None:
    # The test process is an entry point like `certreg`: tests parse hostile JSON in-process
    # after importing the chain libraries (anchoring/pyecc.py says why this matters).
    contain_py_ecc()


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    """A superuser's URL on the session's PostgreSQL server: the throwaway cluster, or
    CERTREG_TEST_POSTGRES_URL's server."""
    if POSTGRES_URL_OVERRIDE:
        yield POSTGRES_URL_OVERRIDE
        return
    failure = None
    try:
        with throwaway_cluster() as url:
            yield url
    except ClusterError as error:
        failure = f"the test suite's PostgreSQL cluster: {error}"
    if failure is not None:  # outside `except`: one message, not a chain of tracebacks
        pytest.fail(failure, pytrace=False)


def create_postgres_database(admin_url: str, prefix: str) -> str:
    """Create an empty database on `admin_url`'s server; return its URL."""
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(admin_url: str, url: str) -> None:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            name = make_url(url).database
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_database(postgres_admin_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated once, dropped at the end."""
    url = create_postgres_database(postgres_admin_url, "certreg_test")
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        drop_postgres_database(postgres_admin_url, url)


def _truncate_postgres(engine: Engine) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables}"))
        connection.execute(text("INSERT INTO log_head (id, tree_size) VALUES (1, 0)"))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty, migrated database: a SQLite file, or the session's PostgreSQL database."""
    if request.param == "sqlite":
        url = sqlite_url(tmp_path / "certreg.db")
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
        return
    url = request.getfixturevalue("postgres_database")
    engine = make_engine(url)
    _truncate_postgres(engine)
    engine.dispose()
    yield url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture(autouse=True)
def _restore_root_logging() -> Iterator[None]:
    """A command run in process (`certreg anchor`, `serve`) configures the root logger to write
    to its own, later closed, stderr: put the root logger back after every test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
