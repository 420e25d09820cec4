"""SQL implementations of the core's storage protocols: log tiles and status-map nodes.

Both write with an upsert: a partial tile is rewritten longer as the log grows, and a map node
is overwritten when its subtree changes. The stores only ever see one session, owned by the
caller, and never commit.
"""

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Table, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from registry.core.errors import LogTreeError
from registry.core.log import TileKey
from registry.core.statusmap import MapNode
from registry.db.models import LogTile
from registry.db.models import MapNode as MapNodeRow

__all__ = [
    "SqlTileStore",
    "decode_map_node",
    "encode_map_node",
    "position_bytes",
    "upsert",
]

_POSITION_BYTES = 33  # a 1 bit above up to 256 key bits


def upsert(session: Session, table: Table, rows: list[dict[str, Any]], *, keys: list[str]) -> None:
    """INSERT … ON CONFLICT (keys) DO UPDATE SET the other columns, on SQLite or PostgreSQL."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table)
    updates = {c: statement.excluded[c] for c in rows[0] if c not in keys}
    session.execute(statement.on_conflict_do_update(index_elements=keys, set_=updates), rows)


class SqlTileStore:
    """`TileStore` over the `log_tiles` table; refuses writes that change stored hashes."""

    def __init__(self, session: Session) -> None:
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
