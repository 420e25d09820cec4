"""Proof assembly: a certificate's bundle (DESIGN §7) at the latest anchored checkpoint.

Reads go through two per-process caches: the log's expanded tiles (immutable below an anchored
size) and the anchored status map (`AnchoredMapCache`). Everything in one bundle comes from one
anchored version; a version change mid-read is retried.
"""

import datetime as dt
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from registry.bundle import (
    Bundle,
    BundleAnchor,
    BundleCheckpoint,
    BundleIssuerKey,
    BundleLogInclusion,
    BundleOtherLeaf,
    BundleStatusLeaf,
    BundleStatusProof,
)
from registry.core.encoding import b64, format_timestamp, hex0x
from registry.core.events import Event
from registry.core.log import LogTree, TileKey
from registry.core.statusmap import MapProof, StatusMap, map_key
from registry.db import models
from registry.db.engine import make_session_factory, read_only
from registry.db.mapstore import AnchoredMapCache, CachedMapStore, StaleCacheError
from registry.db.repositories import CheckpointRepository, LogRepository
from registry.db.stores import SqlTileStore

__all__ = ["AnchorInfo", "ProofAssembler"]

_RETRIES = 5


@dataclass(frozen=True)
class AnchorInfo:
    """The chain a verifier checks against (from the registry's settings or deployment)."""

    chain_id: int
    contract: str  # EIP-55


class _SessionTileStore:
    """Reads tiles in short transactions of their own: tiles below an anchored size never
    change, so they need not come from the bundle's transaction."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def read_tile(self, *, level: int, index: int) -> bytes | None:
        with self._sessions() as session:
            return SqlTileStore(session).read_tile(level=level, index=index)

    def write_tiles(self, _tiles: Mapping[TileKey, bytes]) -> None:
        raise TypeError("the proof assembler only reads tiles")


class ProofAssembler:
    """Builds bundles; one instance per process, shared by its threads."""

    def __init__(
        self,
        *,
        engine: Engine,
        map_cache: AnchoredMapCache,
        anchor_info: Callable[[], AnchorInfo],
        checkpoint_interval_s: float,
    ) -> None:
        # Read-only transactions: on SQLite they must not queue behind writers.
        self._sessions = make_session_factory(read_only(engine))
        self._cache = map_cache
        self._anchor_info = anchor_info
        self._interval = checkpoint_interval_s
        self._tree = LogTree(_SessionTileStore(self._sessions))
        self._tree_lock = threading.Lock()

    def bundle(self, certificate_id: str) -> Bundle:
        """The bundle of `certificate_id`: ANCHORED, PENDING or (unknown id) UNKNOWN."""
        for _ in range(_RETRIES):
            try:
                with self._sessions() as session:
                    return self._bundle(session, certificate_id)
            except StaleCacheError:
                continue  # another process anchored meanwhile: read again at the new version
        raise StaleCacheError(f"bundle {certificate_id}: the anchored version kept moving")

    def _log_tree(self, tree_size: int) -> LogTree:
        with self._tree_lock:
            if tree_size > self._tree.tree_size:
                self._tree.advance(tree_size)
        return self._tree

    def _bundle(self, session: Session, certificate_id: str) -> Bundle:
        version = self._cache.sync(session)
        checkpoint = CheckpointRepository(session).get(version) if version >= 0 else None
        certificate = session.get(models.Certificate, certificate_id)
        leaf_row = session.scalars(
            select(models.MapLeaf).where(models.MapLeaf.certificate_id == certificate_id)
        ).one_or_none()
        if leaf_row is not None and leaf_row.version > version:
            raise StaleCacheError(f"map leaf version {leaf_row.version} > {version}")
        if leaf_row is None and certificate is not None:
            return self._pending(session, certificate)
        key = map_key(certificate_id)
        if checkpoint is None:
            return Bundle(
                status="UNKNOWN",
                certificate_id=certificate_id,
                record=None,
                event=None,
                log_inclusion=None,
                status_proof=None,
                checkpoint=None,
                anchor=None,
                issuer_key=None,
            )
        proof = StatusMap(CachedMapStore(session, self._cache)).prove(key)
        if leaf_row is None:
            return Bundle(
                status="UNKNOWN",
                certificate_id=certificate_id,
                record=None,
                event=None,
                log_inclusion=None,
                status_proof=_status_proof(key, None, proof),
                checkpoint=_checkpoint(checkpoint),
                anchor=self._anchor(checkpoint),
                issuer_key=None,
            )
        assert certificate is not None
        entry = LogRepository(session).entry(leaf_row.event_seq)
        assert entry is not None
        event = Event.from_leaf(entry)
        key_row = session.get(models.IssuerKey, event.key_id)
        assert key_row is not None
        tree = self._log_tree(checkpoint.tree_size)
        hashes = tree.inclusion_proof(leaf_index=event.seq, tree_size=checkpoint.tree_size)
        leaf = BundleStatusLeaf(
            certificate_id=leaf_row.certificate_id,
            status=leaf_row.status,  # type: ignore[arg-type]
            record_hash=hex0x(leaf_row.record_hash),
            event_seq=leaf_row.event_seq,
        )
        return Bundle(
            status="ANCHORED",
            certificate_id=certificate_id,
            record=json.loads(certificate.record),
            event=event.to_json(),
            log_inclusion=BundleLogInclusion(
                leaf_index=event.seq,
                tree_size=checkpoint.tree_size,
                hashes=[hex0x(h) for h in hashes],
            ),
            status_proof=_status_proof(key, leaf, proof),
            checkpoint=_checkpoint(checkpoint),
            anchor=self._anchor(checkpoint),
            issuer_key=BundleIssuerKey(
                issuer_id=key_row.issuer_id,
                key_id=hex0x(key_row.key_id),
                public_key=b64(key_row.public_key),
            ),
        )

    def _pending(self, session: Session, certificate: models.Certificate) -> Bundle:
        entry = LogRepository(session).entry(certificate.last_event_seq)
        assert entry is not None
        latest = CheckpointRepository(session).latest()
        waiting_since = LogRepository(session).first_at_or_after(
            0 if latest is None else latest.tree_size
        )
        due = None
        if waiting_since is not None:
            moment = waiting_since.replace(tzinfo=dt.UTC) + dt.timedelta(seconds=self._interval)
            due = format_timestamp(moment)
        return Bundle(
            status="PENDING",
            certificate_id=certificate.id,
            record=json.loads(certificate.record),
            event=Event.from_leaf(entry).to_json(),
            log_inclusion=None,
            status_proof=None,
            checkpoint=None,
            anchor=None,
            issuer_key=None,
            next_checkpoint_due=due,
        )

    def _anchor(self, checkpoint: models.Checkpoint) -> BundleAnchor:
        info = self._anchor_info()
        assert checkpoint.block_number is not None
        return BundleAnchor(
            chain_id=info.chain_id,
            contract=info.contract,
            tx_hash=checkpoint.tx_hash,
            block_number=checkpoint.block_number,
        )


def _checkpoint(row: models.Checkpoint) -> BundleCheckpoint:
    return BundleCheckpoint(
        index=row.index,
        tree_size=row.tree_size,
        log_root=hex0x(row.log_root),
        map_root=hex0x(row.map_root),
        note=row.note,
    )


def _status_proof(key: bytes, leaf: BundleStatusLeaf | None, proof: MapProof) -> BundleStatusProof:
    other = None
    if proof.other_leaf is not None:
        other = BundleOtherLeaf(key=hex0x(proof.other_leaf[0]), value=hex0x(proof.other_leaf[1]))
    return BundleStatusProof(
        key=hex0x(key),
        leaf=leaf,
        bitmap=hex0x(proof.bitmap),
        siblings=[hex0x(s) for s in proof.siblings],
        other_leaf=other,
    )
