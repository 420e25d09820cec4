"""SQL implementations of the core's storage protocols: log tiles and status-map nodes.

Both write with an upsert: a partial tile is rewritten longer as the log grows, and a map node
is overwritten when its subtree changes. The stores only ever see one session, owned by the
caller, and never commit.
"""

import functools
from collections.abc import Callable, Generator, Iterable, Mapping
from operator import itemgetter
from typing import Any, cast

import psycopg
from sqlalchemy import ClauseElement, Connection, Dialect, Engine, Table, insert, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from registry.core.errors import LogTreeError
from registry.core.log import TileKey
from registry.core.statusmap import MapNode
from registry.db.models import LogTile
from registry.db.models import MapNode as MapNodeRow

__all__ = [
    "SqlTileStore",
    "bulk_insert",
    "dbapi_error",
    "decode_map_node",
    "encode_map_node",
    "pooled_rows",
    "position_bytes",
    "raw_rows",
    "upsert",
]

_POSITION_BYTES = 33  # a 1 bit above up to 256 key bits


def upsert(
    session: Session | Connection, table: Table, rows: list[dict[str, Any]], *, keys: list[str]
) -> None:
    """INSERT … ON CONFLICT (keys) DO UPDATE SET the other columns, on SQLite or PostgreSQL.

    Every row has the same columns, with values the driver takes as they are (bytes, str, int,
    None), as map nodes, map leaves and tiles do.
    """
    if not rows:
        return
    connection = _connection(session)
    columns = tuple(rows[0])
    if connection.dialect.name == "sqlite":
        # Hundreds of thousands of rows when a checkpoint is anchored: SQL compiled once, and
        # the rows handed to the driver as they are (SQLAlchemy's per-row parameter processing
        # took longer than SQLite does to store them).
        sql, order = _sqlite_upsert(table, columns, tuple(keys))
        connection.exec_driver_sql(sql, [tuple(row[c] for c in order) for row in rows])
        return
    statement = postgresql.insert(table)
    updates = {c: statement.excluded[c] for c in columns if c not in keys}
    connection.execute(statement.on_conflict_do_update(index_elements=keys, set_=updates), rows)


@functools.cache
def _sqlite_upsert(
    table: Table, columns: tuple[str, ...], keys: tuple[str, ...]
) -> tuple[str, tuple[str, ...]]:
    """The SQL of the upsert on SQLite, and the order its parameters take the columns in."""
    statement = sqlite.insert(table)
    updates = {c: statement.excluded[c] for c in columns if c not in keys}
    compiled = statement.on_conflict_do_update(index_elements=list(keys), set_=updates).compile(
        dialect=sqlite.dialect(), column_keys=list(columns)
    )
    assert compiled.positiontup is not None
    return str(compiled), tuple(compiled.positiontup)


def bulk_insert(session: Session | Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """INSERT `rows`, which all have the same columns.

    On SQLite, the SQL is compiled once and each value put through its column type's bind
    processor (dates become SQLAlchemy's SQLite text format) once per distinct value: issuing
    a batch of certificates spent more time in SQLAlchemy's per-row parameter handling than in
    SQLite. On PostgreSQL (psycopg), COPY. Elsewhere, SQLAlchemy's own executemany.
    """
    if not rows:
        return
    connection = _connection(session)
    dialect = connection.dialect
    if dialect.name == "postgresql" and dialect.driver == "psycopg":
        _copy_rows(connection, table, rows)
        return
    if dialect.name != "sqlite":
        connection.execute(insert(table), rows)
        return
    sql, order = _sqlite_insert(table, tuple(rows[0]))
    values_of = itemgetter(*order) if len(order) > 1 else lambda row: (row[order[0]],)
    converters: list[tuple[int, Callable[[Any], Any], dict[Any, Any]]] = []
    for index, name in enumerate(order):
        process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            converters.append((index, process, {}))
    params = []
    for row in rows:
        values = list(values_of(row))
        for index, convert, seen in converters:
            value = values[index]
            if value is not None:
                converted = seen.get(value, _UNSEEN)
                if converted is _UNSEEN:
                    converted = seen[value] = convert(value)
                values[index] = converted
        params.append(tuple(values))
    connection.exec_driver_sql(sql, params)


_UNSEEN = object()


def _copy_rows(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """PostgreSQL: COPY … FROM STDIN, which psycopg feeds row by row in C, several times faster
    than an executemany of INSERTs. psycopg adapts dates, datetimes and bytes itself."""
    columns = tuple(rows[0])
    quote = connection.dialect.identifier_preparer.quote
    sql = f"COPY {quote(table.name)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
    dbapi_connection = cast(psycopg.Connection[Any], connection.connection.dbapi_connection)
    values_of = itemgetter(*columns) if len(columns) > 1 else lambda row: (row[columns[0]],)
    try:
        with dbapi_connection.cursor() as cursor, cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(values_of(row))
    except psycopg.Error as exc:
        raise dbapi_error(connection.dialect, exc, sql, None) from exc


@functools.cache
def _sqlite_insert(table: Table, columns: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    compiled = insert(table).compile(dialect=sqlite.dialect(), column_keys=list(columns))
    assert compiled.positiontup is not None
    return str(compiled), tuple(compiled.positiontup)


def raw_rows(
    session: Session | Connection, statement: ClauseElement, *, batch: int = 10_000
) -> Generator[tuple[Any, ...]]:
    """The rows of a select, straight from the DBAPI cursor, in the session's transaction.

    For reads of millions of rows whose columns need no result processing (bytes, str, int):
    the first read of the anchored map loads every node, and SQLAlchemy's result rows would
    double its time. Parameters are rendered into the SQL as literals, so they must be plain
    numbers or strings. Driver errors are raised as SQLAlchemy's.
    """
    connection = _connection(session)
    dialect = connection.dialect
    sql = str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    cursor = connection.connection.cursor()
    try:
        try:
            cursor.execute(sql)
            while chunk := cursor.fetchmany(batch):
                yield from chunk
        except dialect.loaded_dbapi.Error as exc:
            raise dbapi_error(dialect, exc, sql, None) from exc
    finally:
        cursor.close()


def dbapi_error(
    dialect: Dialect, exc: Exception, statement: str, params: Any, *, invalidated: bool = False
) -> Exception:
    """The SQLAlchemy exception (OperationalError, IntegrityError, …) for a driver's error, as
    SQLAlchemy raises it around its own statements: callers catch those."""
    return DBAPIError.instance(
        statement,
        params,
        exc,
        dialect.loaded_dbapi.Error,
        dialect=dialect,
        connection_invalidated=invalidated,
    )


def pooled_rows(engine: Engine, sql: str, args: Any) -> list[tuple[Any, ...]]:
    """The rows of one compiled statement, run on a pooled DBAPI connection.

    For the hot reads of proofs, where SQLAlchemy's connection and result machinery costs more
    than the database's answer. A pooled connection the server has dropped is thrown away and
    the statement run on another (the engines these run on do not ping connections at
    checkout: `registry.db.engine.read_only`); at most as many times as the pool may hold
    connections, then the error is raised. Driver errors are raised as SQLAlchemy's.
    """
    dialect = engine.dialect
    attempts = _pool_capacity(engine) + 1
    for attempt in range(attempts):
        connection = engine.raw_connection()
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(sql, args)
                return [tuple(row) for row in cursor.fetchall()]
            except dialect.loaded_dbapi.Error as exc:
                dropped = dialect.is_disconnect(exc, connection.dbapi_connection, cursor)
                if dropped:
                    connection.invalidate(exc)  # not back into the pool
                    if attempt + 1 < attempts:
                        continue
                raise dbapi_error(dialect, exc, sql, args, invalidated=dropped) from exc
            finally:
                cursor.close()
        finally:
            connection.close()  # back to the pool (an invalidated one is discarded)
    raise AssertionError("unreachable")  # pragma: no cover


def _pool_capacity(engine: Engine) -> int:
    pool = engine.pool
    size = getattr(pool, "size", None)
    overflow = getattr(pool, "_max_overflow", 0)
    return (size() if callable(size) else 1) + max(int(overflow), 0)


def _connection(session: Session | Connection) -> Connection:
    return session.connection() if isinstance(session, Session) else session


class SqlTileStore:
    """`TileStore` over the `log_tiles` table; refuses writes that change stored hashes."""

    def __init__(self, session: Session | Connection) -> None:
        self._session = session

    def read_tile(self, *, level: int, index: int) -> bytes | None:
        return self._session.execute(
            select(LogTile.data).where(LogTile.level == level, LogTile.index == index)
        ).scalar_one_or_none()

    def write_tiles(self, tiles: Mapping[TileKey, bytes]) -> None:
        if not tiles:
            return
        keys = list(tiles)
        query = select(LogTile.level, LogTile.index, LogTile.data).where(
            tuple_(LogTile.level, LogTile.index).in_(keys)
        )
        stored = {(level, index): data for level, index, data in self._session.execute(query)}
        for key, data in tiles.items():
            old = stored.get(key)
            if old is not None and data[: len(old)] != old:
                raise LogTreeError(f"tile {key}: got a write changing stored hashes, want append")
        upsert(
            self._session,
            LogTile.__table__,  # type: ignore[arg-type]
            [{"level": lv, "index": ix, "data": tiles[lv, ix]} for lv, ix in keys],
            keys=["level", "index"],
        )


def position_bytes(position: int) -> bytes:
    return position.to_bytes(_POSITION_BYTES, "big")


def encode_map_node(node: MapNode) -> bytes:
    """An internal node is its 32-byte hash; a leaf is key ‖ value (64 bytes)."""
    return node if isinstance(node, bytes) else node[0] + node[1]


def decode_map_node(data: bytes) -> MapNode:
    return data if len(data) == 32 else (data[:32], data[32:])


def map_rows(nodes: Mapping[int, MapNode], *, version: int) -> list[dict[str, Any]]:
    return [
        {"position": position_bytes(p), "data": encode_map_node(n), "version": version}
        for p, n in nodes.items()
    ]


def read_map_nodes(session: Session, positions: Iterable[int]) -> dict[int, MapNode]:
    wanted = [position_bytes(p) for p in positions]
    found: dict[int, MapNode] = {}
    for chunk_start in range(0, len(wanted), 500):
        chunk = wanted[chunk_start : chunk_start + 500]
        for position, data in session.execute(
            select(MapNodeRow.position, MapNodeRow.data).where(MapNodeRow.position.in_(chunk))
        ):
            found[int.from_bytes(position, "big")] = decode_map_node(data)
    return found
