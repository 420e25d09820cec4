"""Forming checkpoints: extend the log's tiles and the status map with the events since the last
checkpoint, sign the result, and — once the chain has it — make its map the anchored one.

At most one checkpoint is un-anchored at any time, so the status map in the database is always
the anchored one and a new checkpoint's map is an overlay on it (docs/architecture.md).
"""

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from registry.clock import naive_utc
from registry.core.checkpoint import Checkpoint as SignedCheckpoint
from registry.core.checkpoint import sign_checkpoint
from registry.core.errors import LifecycleError
from registry.core.events import Event
from registry.core.governance import (
    ApproveKey,
    AuthorityEntry,
    CertificateAction,
    GovernanceState,
    IssuerLeaf,
    RevokeKey,
    TransferCertificate,
    apply_statement,
    parse_log_entry,
)
from registry.core.lifecycle import StatusLeaf, apply_certificate_action, apply_event
from registry.core.log import LogTree
from registry.core.note import NoteSigner
from registry.core.statusmap import MapNode, StatusMap
from registry.db import models
from registry.db.mapstore import (
    AnchoredMapCache,
    CachedMapStore,
    MapOverlay,
    read_issuer_leaves,
    read_leaves,
    write_anchored_map,
)
from registry.db.repositories import CheckpointRepository, LogRepository
from registry.db.stores import SqlTileStore
from registry.errors import RegistryError

__all__ = ["CheckpointBuilder", "CheckpointError", "MapDelta", "Pending"]


class CheckpointError(RegistryError):
    """The stored log or map does not agree with a checkpoint formed from it."""


@dataclass(frozen=True)
class Pending:
    """What waits for a checkpoint."""

    checkpointed_size: int  # size of the latest checkpoint (any state), 0 before the first
    tree_size: int  # the log's size now
    oldest_at: dt.datetime | None  # when the oldest waiting event was appended (naive UTC)

    @property
    def events(self) -> int:
        return self.tree_size - self.checkpointed_size


@dataclass(frozen=True)
class MapDelta:
    """The status map after some log entries, as an overlay on the anchored map: the
    certificates' leaves and the CBs' leaves they changed (docs/spec.md §5.7)."""

    nodes: dict[int, MapNode]
    leaves: list[StatusLeaf]
    root_hash: bytes
    issuer_leaves: list[IssuerLeaf] = field(default_factory=list)


@dataclass(frozen=True)
class _Prepared:
    """The map delta of the checkpoint this builder prepared last."""

    index: int
    start: int
    end: int
    delta: MapDelta


class CheckpointBuilder:
    """Forms and finalises checkpoints over one database."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        signer: NoteSigner,
        map_cache: AnchoredMapCache,
        clock: Callable[[], dt.datetime],
    ) -> None:
        self._sessions = sessions
        self._signer = signer
        self._cache = map_cache
        self._clock = clock
        self._prepared: _Prepared | None = None

    @property
    def origin(self) -> str:
        return self._signer.name

    def pending(self, session: Session) -> Pending:
        latest = CheckpointRepository(session).latest()
        start = 0 if latest is None else latest.tree_size
        size = LogRepository(session).tree_size()
        oldest = LogRepository(session).first_at_or_after(start) if size > start else None
        return Pending(checkpointed_size=start, tree_size=size, oldest_at=oldest)

    def is_due(self, pending: Pending, *, interval_s: float, max_events: int) -> bool:
        """Whether enough events, or events long enough, wait for a checkpoint."""
        if pending.events <= 0:
            return False
        if pending.events >= max_events or pending.oldest_at is None:
            return True
        waited = naive_utc(self._clock()) - pending.oldest_at
        return waited.total_seconds() >= interval_s

    def map_delta(
        self, session: Session, *, start: int, end: int, entries: Sequence[bytes] | None = None
    ) -> MapDelta:
        """The status map after events [start, end) applied to the anchored map.

        The anchored map must be the map at `start` (the caller checks it is anchored there).
        `entries`: the stored entries [start, end), if the caller has read them already.
        """
        self._cache.sync(session)
        if entries is None:
            entries = LogRepository(session).entries(start, end)
        parsed = [parse_log_entry(entry) for entry in entries]
        if len(parsed) != end - start:
            raise CheckpointError(f"events [{start}, {end}): got {len(parsed)}, want {end - start}")
        # Certificates' leaves (set by their events and by the authority's actions on them) and
        # the CBs' leaves (set by the other statements) are under disjoint keys (spec §3a.4):
        # each is replayed in log order on its own.
        on_certificates = [
            entry
            for entry in parsed
            if isinstance(entry, Event) or isinstance(entry.statement, CertificateAction)
        ]
        statements = [entry for entry in parsed if isinstance(entry, AuthorityEntry)]
        touched: set[str] = set()
        for entry in on_certificates:
            if isinstance(entry, Event):
                touched.add(entry.certificate_id)
                if entry.supersedes is not None:
                    touched.add(entry.supersedes)
            else:
                assert isinstance(entry.statement, CertificateAction)
                touched.add(entry.statement.certificate_id)
        leaves = dict(read_leaves(session, touched))
        changed: dict[str, StatusLeaf] = {}
        for entry in on_certificates:
            try:
                if isinstance(entry, Event):
                    for leaf in apply_event(leaves, entry):
                        changed[leaf.certificate_id] = leaf
                else:
                    leaf = apply_certificate_action(leaves, entry)
                    changed[leaf.certificate_id] = leaf
            except LifecycleError as exc:
                raise CheckpointError(f"log entry {entry.seq}: {exc}") from exc
        issuers = self._issuer_leaves(session, statements)
        overlay = MapOverlay(CachedMapStore(session, self._cache))
        status_map = StatusMap(overlay)
        status_map.update_many(
            [(leaf.key, leaf.value) for leaf in changed.values()]
            + [(leaf.key, leaf.value) for leaf in issuers]
        )
        return MapDelta(
            nodes=dict(overlay.writes),
            leaves=list(changed.values()),
            root_hash=status_map.root_hash,
            issuer_leaves=issuers,
        )

    @staticmethod
    def _issuer_leaves(session: Session, statements: Sequence[AuthorityEntry]) -> list[IssuerLeaf]:
        """The CBs' leaves the authority's entries set, from their anchored leaves."""
        if not statements:
            return []
        state = GovernanceState()
        state.issuers.update(
            read_issuer_leaves(session, {e.statement.issuer_id for e in statements})
        )
        changed: dict[str, IssuerLeaf] = {}
        for entry in statements:
            if isinstance(
                entry.statement, ApproveKey | RevokeKey | CertificateAction | TransferCertificate
            ):
                # Keys are not in the map (the chain registers them, spec §7.5), and an action
                # on a certificate sets the certificate's leaf (`map_delta`): the registry judged
                # each against the CB's keys or certificate when it appended it.
                continue
            try:
                leaf = apply_statement(state, entry)
            except LifecycleError as exc:
                raise CheckpointError(f"log entry {entry.seq}: {exc}") from exc
            if leaf is not None:
                changed[leaf.issuer_id] = leaf
        return list(changed.values())

    def prepare(self) -> models.Checkpoint | None:
        """Form, sign and store the next checkpoint (state `prepared`), if events wait and the
        latest checkpoint is anchored. Returns it, or None if there is nothing to do."""
        with self._sessions.begin() as session:
            checkpoints = CheckpointRepository(session)
            latest = checkpoints.latest()
            if latest is not None and latest.state != "anchored":
                return None
            start = 0 if latest is None else latest.tree_size
            end = LogRepository(session).tree_size()
            if end == start:
                return None
            entries = LogRepository(session).entries(start, end)
            tree = LogTree(SqlTileStore(session), tree_size=start)
            tree.append_many(entries)
            delta = self.map_delta(session, start=start, end=end, entries=entries)
            del entries
            signed = SignedCheckpoint(
                origin=self._signer.name,
                tree_size=end,
                root_hash=tree.root_hash(),
                map_root=delta.root_hash,
            )
            row = models.Checkpoint(
                index=0 if latest is None else latest.index + 1,
                tree_size=end,
                log_root=signed.root_hash,
                map_root=signed.map_root,
                note=sign_checkpoint(signed, self._signer),
                state="prepared",
                created_at=naive_utc(self._clock()),
                attempts=0,
            )
            checkpoints.add(row)
        # Committed: keep the map for `finalize`, which would otherwise compute it again.
        self._prepared = _Prepared(index=row.index, start=start, end=end, delta=delta)
        return row

    def consistency_proof(self, session: Session, checkpoint: models.Checkpoint) -> list[bytes]:
        """The proof that `checkpoint` extends the latest anchored one (empty for the first)."""
        previous = CheckpointRepository(session).latest_anchored()
        if previous is None or previous.tree_size == 0:
            return []
        tree = LogTree(SqlTileStore(session), tree_size=checkpoint.tree_size)
        return tree.consistency_proof(size1=previous.tree_size, size2=checkpoint.tree_size)

    def finalize(
        self,
        session: Session,
        checkpoint: models.Checkpoint,
        *,
        block_number: int,
        block_timestamp: int,
        tx_hash: str | None,
    ) -> None:
        """Mark `checkpoint` anchored and make its status map the anchored one, in `session`."""
        previous = CheckpointRepository(session).latest_anchored()
        start = 0 if previous is None else previous.tree_size
        if previous is not None and previous.index != checkpoint.index - 1:
            raise CheckpointError(
                f"checkpoint {checkpoint.index}: got previous anchored {previous.index}, "
                f"want {checkpoint.index - 1}"
            )
        prepared, self._prepared = self._prepared, None
        if prepared is not None and (prepared.index, prepared.start, prepared.end) == (
            checkpoint.index,
            start,
            checkpoint.tree_size,
        ):
            # The map this builder formed the checkpoint with: a function of the anchored map at
            # `start` and of events [start, end), neither of which can change meanwhile (one
            # unanchored checkpoint at a time, an append-only log). Still checked below.
            delta = prepared.delta
        else:
            delta = self.map_delta(session, start=start, end=checkpoint.tree_size)
        if delta.root_hash != checkpoint.map_root:
            raise CheckpointError(
                f"checkpoint {checkpoint.index} map root: got 0x{delta.root_hash.hex()} "
                f"recomputed, want 0x{checkpoint.map_root.hex()} as signed"
            )
        write_anchored_map(
            session,
            nodes=delta.nodes,
            leaves=delta.leaves,
            version=checkpoint.index,
            issuer_leaves=delta.issuer_leaves,
        )
        checkpoint.state = "anchored"
        checkpoint.block_number = block_number
        checkpoint.block_timestamp = block_timestamp
        checkpoint.tx_hash = tx_hash or checkpoint.tx_hash
        checkpoint.anchored_at = naive_utc(self._clock())
