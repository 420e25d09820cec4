from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, select

from registry.db.engine import make_session_factory
from registry.db.migrate import upgrade
from registry.db.models import Base, LogHead


def test_schema_matches_the_models(engine: Engine) -> None:
    tables = set(inspect(engine).get_table_names()) - {"alembic_version"}
    assert tables == set(Base.metadata.tables)


def test_upgrade_is_idempotent(engine: Engine) -> None:
    upgrade(engine)
    upgrade(engine)
    with make_session_factory(engine)() as session:
        assert session.execute(select(LogHead.tree_size)).scalars().all() == [0]


def test_migrations_create_exactly_the_models(engine: Engine) -> None:
    # A model changed without a migration (or the reverse) shows up as a difference here.
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
