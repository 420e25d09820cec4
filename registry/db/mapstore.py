"""The status map in SQL, as of the latest anchored checkpoint, with a per-process node cache.

`map_nodes` holds exactly the anchored map; each row carries the index of the checkpoint that
wrote it (`version`). A process caches nodes (and known-empty positions) for one version and
catches up by reading only newer rows. A row newer than the cache means another process
anchored meanwhile: the reader catches up and reads again, so every proof comes from one
version.

Forming a checkpoint reads the anchored map through the cache and writes into an overlay;
the overlay becomes rows of the new version when that checkpoint is anchored.
"""

import threading
from collections.abc import Iterable, Mapping

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry.core.lifecycle import StatusLeaf
from registry.core.statusmap import MapNode
from registry.db.models import Checkpoint, MapLeaf
from registry.db.models import MapNode as MapNodeRow
from registry.db.stores import decode_map_node, map_rows, position_bytes, upsert
from registry.errors import RegistryError

__all__ = ["AnchoredMapCache", "MapOverlay", "StaleCacheError", "write_anchored_map"]

_ABSENT = object()


class StaleCacheError(RegistryError):
    """The cache is older than a row just read: catch up and read again."""


def anchored_version(session: Session) -> int:
    """Index of the latest anchored checkpoint, -1 before the first."""
    version = session.execute(
        select(func.max(Checkpoint.index)).where(Checkpoint.state == "anchored")
    ).scalar_one_or_none()
    return -1 if version is None else int(version)


class AnchoredMapCache:
    """Anchored map nodes cached for one version; shared by the threads of a process."""

    def __init__(self) -> None:
        self.version = -1
        self._nodes: dict[int, object] = {}
        self._lock = threading.Lock()

    def sync(self, session: Session) -> int:
        """Catch up with the database's anchored version; return it.

        Raises `StaleCacheError` if the session sees an older version than the cache holds (a
        transaction begun before another thread caught up): retry in a new transaction.
        """
        latest = anchored_version(session)
        if latest < self.version:
            raise StaleCacheError(f"session sees version {latest} < cached {self.version}")
        if latest == self.version:
            return latest
        with self._lock:
            if latest > self.version:
                changed = session.execute(
                    select(MapNodeRow.position, MapNodeRow.data).where(
                        MapNodeRow.version > self.version, MapNodeRow.version <= latest
                    )
                )
                for position, data in changed:
                    self._nodes[int.from_bytes(position, "big")] = decode_map_node(data)
                self.version = latest
        return latest

    def get(self, session: Session, position: int) -> MapNode | None:
        node = self._nodes.get(position, _ABSENT)
        if node is not _ABSENT:
            return node  # type: ignore[return-value]
        row = session.execute(
            select(MapNodeRow.data, MapNodeRow.version).where(
                MapNodeRow.position == position_bytes(position)
            )
        ).one_or_none()
        if row is not None and row.version > self.version:
            raise StaleCacheError(f"map node version {row.version} > cached {self.version}")
        found = None if row is None else decode_map_node(row.data)
        self._nodes[position] = found
        return found

    def __len__(self) -> int:
        return len(self._nodes)


class CachedMapStore:
    """`MapStore` reading the anchored map (through the cache) inside one session; read-only."""

    def __init__(self, session: Session, cache: AnchoredMapCache) -> None:
        self._session = session
        self._cache = cache

    def get(self, position: int, /) -> MapNode | None:
        return self._cache.get(self._session, position)

    def put(self, _nodes: Mapping[int, MapNode], /) -> None:
        raise RegistryError("the anchored map is read-only: write through a MapOverlay")


class MapOverlay:
    """`MapStore` that reads the anchored map and keeps its writes in memory."""

    def __init__(self, base: CachedMapStore) -> None:
        self._base = base
        self.writes: dict[int, MapNode] = {}

    def get(self, position: int, /) -> MapNode | None:
        node = self.writes.get(position)
        return node if node is not None else self._base.get(position)

    def put(self, nodes: Mapping[int, MapNode], /) -> None:
        self.writes.update(nodes)


def read_leaves(session: Session, certificate_ids: Iterable[str]) -> dict[str, StatusLeaf]:
    """The anchored status leaves of these certificates (absent ones are left out)."""
    ids = list(dict.fromkeys(certificate_ids))
    found: dict[str, StatusLeaf] = {}
    for start in range(0, len(ids), 500):
        rows = session.execute(
            select(
                MapLeaf.certificate_id, MapLeaf.status, MapLeaf.record_hash, MapLeaf.event_seq
            ).where(MapLeaf.certificate_id.in_(ids[start : start + 500]))
        )
        for certificate_id, status, record_hash, event_seq in rows:
            found[certificate_id] = StatusLeaf(
                certificate_id=certificate_id,
                status=status,
                record_hash=record_hash,
                event_seq=event_seq,
            )
    return found


def write_anchored_map(
    session: Session,
    *,
    nodes: Mapping[int, MapNode],
    leaves: Iterable[StatusLeaf],
    version: int,
) -> None:
    """Make an overlay's nodes and the changed leaves part of the anchored map at `version`."""
    upsert(session, MapNodeRow.__table__, map_rows(nodes, version=version), keys=["position"])  # type: ignore[arg-type]
    upsert(
        session,
        MapLeaf.__table__,  # type: ignore[arg-type]
        [
            {
                "key": leaf.key,
                "certificate_id": leaf.certificate_id,
                "status": leaf.status,
                "record_hash": leaf.record_hash,
                "event_seq": leaf.event_seq,
                "version": version,
            }
            for leaf in leaves
        ],
        keys=["key"],
    )
