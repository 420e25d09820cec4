"""The registry's database and the caches over it, opened once per process: the engine
(migrated), the session factory, the whole anchored status map for the checkpoint builder, and
the proof caches bounded by `CERTREG_PROOF_CACHE_MB` — the shared log tree's tiles and the
status map's deep nodes (docs/architecture.md, "The service and its storage")."""

from typing import Final

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from registry.assembly import BYTES_PER_TILE, SharedLogTree
from registry.db.engine import make_engine, make_session_factory, reading
from registry.db.mapreader import BYTES_PER_HOT_NODE, BoundedMapReader
from registry.db.mapstore import AnchoredMapCache
from registry.db.migrate import upgrade

__all__ = ["ProofBudget", "Storage"]

_MB: Final = 1024 * 1024


class ProofBudget:
    """How a process's proof memory is shared: half for the log's expanded tiles, 40 % for the
    status map's deep nodes, the rest for the map's top levels and the small caches."""

    def __init__(self, megabytes: int) -> None:
        budget = megabytes * _MB
        self.tiles = max(budget // 2 // BYTES_PER_TILE, 64)
        self.hot_nodes = int(budget * 0.4) // BYTES_PER_HOT_NODE


class Storage:
    """One database and its caches; one per process."""

    def __init__(self, database_url: str, *, proof_cache_mb: int, migrate: bool = True) -> None:
        self.engine: Engine = make_engine(database_url)
        if migrate:
            upgrade(self.engine)
        self.sessions: sessionmaker[Session] = make_session_factory(self.engine)
        #: for reads only: no SQLite write lock (metrics, pages)
        self.reading: sessionmaker[Session] = reading(self.sessions)
        self.budget = ProofBudget(proof_cache_mb)
        #: the whole anchored map, for the checkpoint builder of a worker
        self.map_cache = AnchoredMapCache()
        self.log_tree = SharedLogTree(self.engine, cache_tiles=self.budget.tiles)

    def proof_map(self) -> BoundedMapReader:
        """The anchored map for proofs, in bounded memory."""
        return BoundedMapReader(self.engine, hot_nodes=self.budget.hot_nodes)

    def close(self) -> None:
        self.engine.dispose()
