"""SQL storage: SQLAlchemy 2 models, engines, Alembic migrations, repositories and the SQL
implementations of the core's `TileStore` and `MapStore`.

Repositories take a session and never commit: the service that calls them owns the transaction.
"""
