"""The status map in SQL, as of the latest anchored checkpoint, with a per-process node cache.

`map_nodes` holds exactly the anchored map; each row carries the index of the checkpoint that
wrote it (`version`). A process holds the whole anchored map in memory (loaded on its first
read) and catches up by reading only the rows newer than its copy; proofs then cost no
database reads. A read that straddles another process's anchoring, or that overlaps a catch-up
in another thread, is detected and retried, so every proof comes from one version.

Forming a checkpoint reads the anchored map through the cache and writes into an overlay;
the overlay becomes rows of the new version when that checkpoint is anchored.
"""

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import closing
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from registry.core.governance import IssuerLeaf
from registry.core.lifecycle import StatusLeaf
from registry.core.statusmap import MapNode, MapProof, MapStore, StatusMap
from registry.db.models import Checkpoint, MapIssuerLeaf, MapLeaf
from registry.db.models import MapNode as MapNodeRow
from registry.db.stores import decode_map_node, map_rows, raw_rows, upsert
from registry.errors import RegistryError, RetryLaterError

__all__ = [
    "AnchoredMapCache",
    "MapOverlay",
    "StaleCacheError",
    "VersionedMap",
    "read_issuer_leaves",
    "write_anchored_map",
]


# Ids per IN (...) list: below SQLite's 32,766 and PostgreSQL's 65,535 parameters, and large
# enough that a checkpoint of 100k new certificates takes 20 queries, not 200.
_LEAVES_CHUNK = 5000


class StaleCacheError(RetryLaterError):
    """The cache is older than a row just read: catch up and read again."""


def anchored_version(session: Session | Connection) -> int:
    """Index of the latest anchored checkpoint, -1 before the first."""
    version = session.execute(
        select(func.max(Checkpoint.index)).where(Checkpoint.state == "anchored")
    ).scalar_one_or_none()
    return -1 if version is None else int(version)


class VersionedMap:
    """The catch-up protocol of the anchored map's caches, one version at a time.

    `sync` moves the cache to the anchored version a transaction sees, applying only what
    changed since its own (`_changes`). `generation` is odd while an update applies; a proof that
    sees it change (or starts at another version) read a mix of two versions and must read
    again (`StaleCacheError`).
    """

    def __init__(self) -> None:
        self.version = -1
        self.generation = 0
        self._lock = threading.Lock()

    def sync(self, session: Session | Connection, latest: int | None = None) -> int:
        """Catch up with the anchored version the transaction sees (`latest`, if the caller has
        already read it in this transaction); return it.

        Raises `StaleCacheError` if the transaction sees an older version than the cache holds
        (it began before another thread caught up), or if the database moved on while the rows
        were being read: retry in a new transaction.
        """
        if latest is None:
            latest = anchored_version(session)
        if latest == self.version:
            return latest
        with self._lock:
            if latest > self.version:
                apply = self._changes(session, latest)
                self.generation += 1
                try:
                    apply()
                    self.version = latest
                finally:
                    self.generation += 1
        if latest < self.version:
            raise StaleCacheError(f"transaction sees version {latest} < cached {self.version}")
        return latest

    def _changes(self, session: Session | Connection, latest: int) -> Callable[[], None]:
        """Read what changed after `self.version` up to `latest` (under the lock); return what
        applies it. A row newer than `latest` raises StaleCacheError."""
        raise NotImplementedError

    def _checked(self, version: int, prove: Callable[[], MapProof]) -> MapProof:
        """`prove()` at `version`, refused if the cache is elsewhere or moves meanwhile."""
        generation = self.generation
        if generation & 1 or self.version != version:
            raise StaleCacheError(f"map cache moved from version {version}")
        proof = prove()
        if self.generation != generation:
            raise StaleCacheError(f"map cache moved from version {version} during a proof")
        return proof


class AnchoredMapCache(VersionedMap):
    """The anchored map, in memory, at one version; shared by the threads of a process.

    After `sync` the cache holds every node of the anchored map at `version` and nothing else,
    so a position it does not hold is empty: reads never go to the database.
    """

    def __init__(self) -> None:
        super().__init__()
        self._nodes: dict[int, MapNode] = {}

    def _changes(self, session: Session | Connection, latest: int) -> Callable[[], None]:
        # Every row newer than the cache, with no upper bound: a row of a version above
        # `latest` means this read straddled another anchoring (PostgreSQL's read committed),
        # and applying the rest would leave the cache with a hole.
        changed: dict[int, MapNode] = {}
        query = select(MapNodeRow.position, MapNodeRow.data, MapNodeRow.version).where(
            MapNodeRow.version > self.version
        )
        with closing(raw_rows(session, query)) as rows:
            for position, data, version in rows:
                if version > latest:
                    raise StaleCacheError(f"map node version {version} > anchored {latest}")
                changed[int.from_bytes(position, "big")] = decode_map_node(data)

        def apply() -> None:
            if self._nodes:
                self._nodes.update(changed)
            else:
                self._nodes = changed

        return apply

    def wanted(self, _key: bytes) -> list[int]:
        """Positions to read for a proof: none, the whole map is here (see BoundedMapReader)."""
        return []

    def prove(
        self,
        key: bytes,
        version: int,
        *,
        asked: Sequence[int] = (),
        rows: Iterable[tuple[Any, Any, int]] = (),
    ) -> MapProof:
        """The proof of `key` at `version`, from memory alone; StaleCacheError if the cache
        moved from `version` before or during the proof. (`asked` and `rows`: nothing is
        ever asked, see `wanted`.)"""
        del asked, rows
        return self._checked(version, lambda: StatusMap(self.store()).prove(key))

    def get(self, _session: Session | Connection, position: int) -> MapNode | None:
        """The node at `position` in the map at `version` (None: an empty subtree)."""
        return self._nodes.get(position)

    def store(self) -> MapStore:
        """A read-only `MapStore` over the cached map, for one read at the current generation."""
        return _FrozenStore(self._nodes.get)

    def __len__(self) -> int:
        return len(self._nodes)


class _FrozenStore:
    __slots__ = ("get",)

    def __init__(self, get: Callable[[int], MapNode | None]) -> None:
        self.get = get

    def put(self, _nodes: Mapping[int, MapNode], /) -> None:
        raise RegistryError("the anchored map is read-only: write through a MapOverlay")


class CachedMapStore:
    """`MapStore` reading the anchored map (through the cache) inside one session; read-only."""

    def __init__(self, session: Session | Connection, cache: AnchoredMapCache) -> None:
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
    connection = session.connection()
    for start in range(0, len(ids), _LEAVES_CHUNK):
        rows = connection.execute(
            select(
                MapLeaf.certificate_id, MapLeaf.status, MapLeaf.record_hash, MapLeaf.event_seq
            ).where(MapLeaf.certificate_id.in_(ids[start : start + _LEAVES_CHUNK]))
        )
        for certificate_id, status, record_hash, event_seq in rows:
            found[certificate_id] = StatusLeaf(
                certificate_id=certificate_id,
                status=status,
                record_hash=record_hash,
                event_seq=event_seq,
            )
    return found


def read_issuer_leaves(session: Session, issuer_ids: Iterable[str]) -> dict[str, IssuerLeaf]:
    """The anchored status-map leaves of these CBs (absent ones are left out)."""
    rows = session.execute(
        select(
            MapIssuerLeaf.issuer_id,
            MapIssuerLeaf.status,
            MapIssuerLeaf.admission_seq,
            MapIssuerLeaf.admission_hash,
            MapIssuerLeaf.status_seq,
        ).where(MapIssuerLeaf.issuer_id.in_(list(issuer_ids)))
    )
    return {
        issuer_id: IssuerLeaf(
            issuer_id=issuer_id,
            status=status,
            admission_seq=admission_seq,
            admission_hash=admission_hash,
            status_seq=status_seq,
        )
        for issuer_id, status, admission_seq, admission_hash, status_seq in rows
    }


def write_anchored_map(
    session: Session,
    *,
    nodes: Mapping[int, MapNode],
    leaves: Iterable[StatusLeaf],
    version: int,
    issuer_leaves: Iterable[IssuerLeaf] = (),
) -> None:
    """Make an overlay's nodes and the changed leaves part of the anchored map at `version`.

    Rows go in key order: the positions and keys are hashes, and inserting them sorted touches
    each index page once, in order, instead of all over the index.
    """
    ordered = {position: nodes[position] for position in sorted(nodes)}
    upsert(session, MapNodeRow.__table__, map_rows(ordered, version=version), keys=["position"])  # type: ignore[arg-type]
    rows: list[dict[str, Any]] = [
        {
            "key": leaf.key,
            "certificate_id": leaf.certificate_id,
            "status": leaf.status,
            "record_hash": leaf.record_hash,
            "event_seq": leaf.event_seq,
            "version": version,
        }
        for leaf in leaves
    ]
    rows.sort(key=itemgetter("key"))
    upsert(session, MapLeaf.__table__, rows, keys=["key"])  # type: ignore[arg-type]
    issuer_rows: list[dict[str, Any]] = [
        {
            "key": leaf.key,
            "issuer_id": leaf.issuer_id,
            "status": leaf.status,
            "admission_seq": leaf.admission_seq,
            "admission_hash": leaf.admission_hash,
            "status_seq": leaf.status_seq,
            "version": version,
        }
        for leaf in issuer_leaves
    ]
    if issuer_rows:
        upsert(session, MapIssuerLeaf.__table__, issuer_rows, keys=["key"])  # type: ignore[arg-type]
