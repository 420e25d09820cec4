"""Proof assembly: a certificate's bundle (docs/spec.md §8) at the latest anchored checkpoint,
and its status document (spec §8.2).

One query reads what is particular to the certificate — the anchored version, the record, the
status leaf and its event — so all of it comes from one snapshot. The rest comes from
per-process caches of bounded size: the anchored status map (a `ProofMap`: its top levels and an
LRU of deeper nodes, the rest read per proof in one statement), the log's expanded tiles
(immutable below an anchored size; at most `cache_tiles`), anchored checkpoints and issuer keys
(immutable once written). Everything in one bundle comes from one anchored version; a version
change mid-read is retried.
"""

import bisect
import datetime as dt
import json
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, NamedTuple, Protocol

from sqlalchemy import (
    BindParameter,
    CompoundSelect,
    Connection,
    Engine,
    Integer,
    LargeBinary,
    Select,
    String,
    bindparam,
    cast,
    func,
    null,
    select,
    union_all,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from registry.bundle import (
    Bundle,
    BundleAdmission,
    BundleAnchor,
    BundleAuthorityAction,
    BundleCheckpoint,
    BundleIssuerKey,
    BundleKeyApproval,
    BundleLogInclusion,
    BundleOtherLeaf,
    BundleStatusLeaf,
    BundleStatusProof,
    BundleTransfer,
    StatusDocument,
)
from registry.core.encoding import b64, format_timestamp, hex0x
from registry.core.events import Event
from registry.core.governance import (
    ApproveKey,
    AuthorityEntry,
    StatementType,
    parse_log_entry,
)
from registry.core.log import LogTree, TileKey
from registry.core.statusmap import MapProof, map_key
from registry.db import models
from registry.db.engine import is_disconnect, read_only
from registry.db.mapstore import StaleCacheError
from registry.db.repositories import CheckpointRepository, LogRepository
from registry.db.stores import pooled_rows, position_bytes
from registry.records import record_fields

__all__ = [
    "BYTES_PER_TILE",
    "AnchorInfo",
    "NothingAnchoredError",
    "ProofAssembler",
    "ProofMap",
    "SharedLogTree",
]


class ProofMap(Protocol):
    """The anchored status map as proofs need it: the whole map in memory
    (`registry.db.mapstore.AnchoredMapCache`, shared with the checkpoint builder of a worker
    process) or its top levels and a bounded LRU over the database
    (`registry.db.mapreader.BoundedMapReader`, for API processes)."""

    @property
    def version(self) -> int: ...

    def sync(self, session: Session | Connection, latest: int | None = None) -> int: ...

    def wanted(self, key: bytes) -> list[int]: ...

    def prove(
        self,
        key: bytes,
        version: int,
        *,
        asked: Sequence[int] = (),
        rows: Iterable[tuple[Any, Any, int]] = (),
    ) -> MapProof: ...


_RETRIES = 5
#: rough memory of one expanded log tile in the cache: 511 hashes as bytes objects and lists
BYTES_PER_TILE: Final = 40 * 1024
_CHECKPOINTS_KEPT = 16

_ID: BindParameter[str] = bindparam("certificate_id", type_=String())
_ANCHORED = (
    select(func.max(models.Checkpoint.index).label("version"))
    .where(models.Checkpoint.state == "anchored")
    .subquery("anchored")
)
# One row always (the version subquery), with nulls where the certificate, its anchored status
# leaf or that leaf's event is missing.
_BUNDLE_ROW: Final = (
    select(
        _ANCHORED.c.version,
        models.Certificate.record,
        models.Certificate.last_event_seq,
        models.MapLeaf.status,
        models.MapLeaf.record_hash,
        models.MapLeaf.event_seq,
        models.MapLeaf.version.label("leaf_version"),
        models.Event.entry,
    )
    .select_from(_ANCHORED)
    .outerjoin(models.Certificate, models.Certificate.id == _ID)
    .outerjoin(models.MapLeaf, models.MapLeaf.certificate_id == _ID)
    .outerjoin(models.Event, models.Event.seq == models.MapLeaf.event_seq)
)


def _bundle_statement(nodes: int) -> Select[Any] | CompoundSelect[Any]:
    """The bundle's row and, with it, the map nodes at `nodes` positions (`ProofMap.wanted`;
    parameters p0…): one statement, so one round trip and one snapshot for all the database
    gives a bundle. A node comes as a row whose last column, `position`, is set (the bundle's
    row has none there), its version in the first column and its data in `entry`'s."""
    row = _BUNDLE_ROW.add_columns(cast(null(), LargeBinary()).label("position"))
    if not nodes:
        return row
    node = models.MapNode
    empty = [null()] * (len(row.selected_columns) - 3)
    deep = select(node.version, *empty, node.data, node.position).where(
        node.position.in_([bindparam(f"p{i}", type_=LargeBinary()) for i in range(nodes)])
    )
    return union_all(row, deep)


_TILE: Final = select(models.LogTile.data).where(
    models.LogTile.level == bindparam("level", type_=Integer()),
    models.LogTile.index == bindparam("index", type_=Integer()),
)


class NothingAnchoredError(LookupError):
    """No checkpoint is anchored yet: there is no status to prove."""


class _BundleRow(NamedTuple):
    version: int | None
    record: str | None
    last_event_seq: int | None
    status: str | None
    record_hash: bytes | None
    event_seq: int | None
    leaf_version: int | None
    entry: bytes | None


class _RowQuery:
    """A Core select compiled once for the engine's dialect and run on a pooled DBAPI connection.

    A warm bundle needs one statement and nothing else from the database, and on SQLite the
    SQLAlchemy connection and result machinery around it costs three times what the database
    takes to answer. Parameters are strings or integers and the columns need no result
    processing (text, integers, bytes), so the driver's values are used as they are. Driver
    errors are raised as SQLAlchemy's, as from any other statement.
    """

    def __init__(self, engine: Engine, statement: Select[Any] | CompoundSelect[Any]) -> None:
        compiled = statement.compile(dialect=engine.dialect)
        self._engine = engine
        self._sql = str(compiled)
        self._defaults = dict(compiled.params)  # the statement's literals; None where unset
        self._order = compiled.positiontup if compiled.positional else None

    def one(self, **params: str | int | bytes) -> tuple[Any, ...] | None:
        """The first row (None if there is none)."""
        rows = self.rows(**params)
        return rows[0] if rows else None

    def rows(self, **params: str | int | bytes) -> list[tuple[Any, ...]]:
        values = {**self._defaults, **params}
        args: Any = values if self._order is None else tuple(values[k] for k in self._order)
        return pooled_rows(self._engine, self._sql, args)


class _Connection:
    """A SQLAlchemy connection for the reads a cache miss needs, opened on first use."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: Connection | None = None

    def __call__(self) -> Connection:
        if self._connection is None:
            self._connection = self._engine.connect()
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


@dataclass(frozen=True)
class AnchorInfo:
    """The chain a verifier checks against (from the registry's settings or deployment)."""

    chain_id: int
    contract: str  # EIP-55


@dataclass
class _Anchored:
    """An anchored checkpoint, as bundles show it; anchored rows never change."""

    tree_size: int
    checkpoint: BundleCheckpoint
    block_number: int
    tx_hash: str | None
    anchor: tuple[AnchorInfo, BundleAnchor] | None = None  # the anchor, and what it shows


class _TileReader:
    """Reads tiles in statements of their own: tiles below an anchored size never change, so
    they need not come from the bundle's snapshot."""

    def __init__(self, engine: Engine) -> None:
        self._query = _RowQuery(engine, _TILE)

    def read_tile(self, *, level: int, index: int) -> bytes | None:
        row = self._query.one(level=level, index=index)
        return None if row is None else bytes(row[0])

    def write_tiles(self, _tiles: Mapping[TileKey, bytes]) -> None:
        raise TypeError("the proof assembler only reads tiles")


class SharedLogTree:
    """The log's tree over its stored tiles, one per process, shared by its threads (the proof
    assembler's inclusion proofs, the transparency service's consistency proofs): expanded
    tiles stay cached across requests. Only sizes up to an anchored checkpoint's are asked
    for, and tiles below those never change."""

    def __init__(self, engine: Engine, *, cache_tiles: int = 1 << 16) -> None:
        # Read-only transactions: on SQLite they must not queue behind writers. At most
        # `cache_tiles` expanded tiles stay cached (BYTES_PER_TILE each).
        self._tree = LogTree(_TileReader(read_only(engine)), cache_tiles=cache_tiles)
        self._lock = threading.Lock()

    def at(self, tree_size: int) -> LogTree:
        """The tree, grown to at least `tree_size` (proofs name their size explicitly)."""
        with self._lock:
            if tree_size > self._tree.tree_size:
                self._tree.advance(tree_size)
        return self._tree


class ProofAssembler:
    """Builds bundles; one instance per process, shared by its threads."""

    def __init__(
        self,
        *,
        engine: Engine,
        map_cache: ProofMap,
        anchor_info: Callable[[], AnchorInfo],
        checkpoint_interval_s: float,
        log_tree: SharedLogTree | None = None,
    ) -> None:
        # Read-only transactions: on SQLite they must not queue behind writers.
        self._engine = read_only(engine)
        self._cache = map_cache
        self._anchor_info = anchor_info
        self._interval = checkpoint_interval_s
        self._tree = log_tree or SharedLogTree(engine)
        # Anchored checkpoints and issuer keys never change: read once. Lookups are plain dict
        # reads; additions take the lock.
        self._checkpoints: dict[int, _Anchored] = {}
        # tree sizes of anchored checkpoints 0, 1, …: the first one above an event's seq first
        # anchored it (the verifier judges the issuer key at that checkpoint's block)
        self._sizes: list[int] = []
        self._issuer_keys: dict[bytes, BundleIssuerKey] = {}
        self._admissions: dict[int, dict[str, Any]] = {}  # the authority's entries, by seq
        # the approve_key entry of each (issuer id, key id), as (seq, JSON); or (None, size):
        # none in the log's first `size` entries
        self._key_approvals: dict[tuple[str, bytes], tuple[int | None, Any]] = {}
        self._caches_lock = threading.Lock()
        self._queries: dict[int, _RowQuery] = {}  # by the number of map nodes read with the row

    def bundle(self, certificate_id: str) -> Bundle:
        """The bundle of `certificate_id`: ANCHORED, PENDING or (unknown id) UNKNOWN."""
        return self._retrying(certificate_id, anchored_only=False)

    def status_document(self, certificate_id: str) -> StatusDocument:
        """The certificate's status at the latest anchored checkpoint, without its record:
        ANCHORED, or UNKNOWN (not in the anchored map, even if issued since). Raises
        NothingAnchoredError before the first anchored checkpoint."""
        bundle = self._retrying(certificate_id, anchored_only=True)
        if bundle.checkpoint is None or bundle.anchor is None or bundle.status_proof is None:
            raise NothingAnchoredError("no checkpoint is anchored yet")
        return StatusDocument(
            status="ANCHORED" if bundle.status == "ANCHORED" else "UNKNOWN",
            certificate_id=bundle.certificate_id,
            event=bundle.event,
            log_inclusion=bundle.log_inclusion,
            status_proof=bundle.status_proof,
            checkpoint=bundle.checkpoint,
            anchor=bundle.anchor,
            issuer_key=bundle.issuer_key,
            first_anchored_index=bundle.first_anchored_index,
            admission=bundle.admission,
            key_approval=bundle.key_approval,
        )

    def _retrying(self, certificate_id: str, *, anchored_only: bool) -> Bundle:
        dropped: DBAPIError | None = None
        key = map_key(certificate_id)
        # No certificate id holds a NUL, and PostgreSQL's text cannot: such an id (a verifier
        # refreshing a bundle it was handed) is looked up as one that matches nothing, so that it
        # is UNKNOWN, with its non-membership proof, on every database alike.
        lookup = "" if "\x00" in certificate_id else certificate_id
        for _ in range(_RETRIES):
            connection = _Connection(self._engine)
            try:
                asked = self._cache.wanted(key)
                rows = self._query(len(asked)).rows(
                    certificate_id=lookup,
                    **{f"p{i}": position_bytes(p) for i, p in enumerate(asked)},
                )
                heads = [row[:-1] for row in rows if row[-1] is None]
                assert len(heads) == 1  # the version subquery makes one row
                nodes = [(row[-1], row[-2], row[0]) for row in rows if row[-1] is not None]
                return self._bundle(
                    connection,
                    certificate_id,
                    _BundleRow(*heads[0]),
                    key=key,
                    deep=(asked, nodes),
                    anchored_only=anchored_only,
                )
            except StaleCacheError:
                continue  # another process anchored meanwhile: read again at the new version
            except DBAPIError as exc:
                if not is_disconnect(exc):
                    raise
                dropped = exc  # a pooled connection the server dropped (no pre-ping): again
            finally:
                connection.close()
        if dropped is not None:
            raise dropped
        raise StaleCacheError(f"bundle {certificate_id}: the anchored version kept moving")

    def _query(self, nodes: int) -> _RowQuery:
        query = self._queries.get(nodes)
        if query is None:
            query = _RowQuery(self._engine, _bundle_statement(nodes))
            with self._caches_lock:
                self._queries[nodes] = query
        return query

    def _log_tree(self, tree_size: int) -> LogTree:
        return self._tree.at(tree_size)

    def _bundle(
        self,
        connection: _Connection,
        certificate_id: str,
        row: _BundleRow,
        *,
        key: bytes,
        deep: tuple[Sequence[int], list[tuple[Any, Any, int]]],
        anchored_only: bool,
    ) -> Bundle:
        version = -1 if row.version is None else int(row.version)
        if version != self._cache.version:
            self._cache.sync(connection(), version)
        if row.leaf_version is not None and row.leaf_version > version:
            raise StaleCacheError(f"map leaf version {row.leaf_version} > {version}")
        if row.status is None and row.record is not None and not anchored_only:
            assert row.last_event_seq is not None
            return self._pending(connection(), certificate_id, row.last_event_seq)
        if version < 0:
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
                first_anchored_index=None,
            )
        anchored = self._checkpoint(connection, version)
        parsed = None if row.entry is None else parse_log_entry(row.entry)
        # The entry the leaf points at is the certificate's own latest event, or the authority's
        # action on it (spec §3a.1): then the bundle's event is the latest before it.
        action = parsed if isinstance(parsed, AuthorityEntry) else None
        event = (
            self._certificate_event(connection, certificate_id, before=action.seq)
            if action is not None
            else parsed
        )
        assert event is None or isinstance(event, Event)
        issuer_key = None if event is None else self._issuer_key(connection, event.key_id)
        first = None if event is None else self._first_covering(connection, version, event.seq)
        admission_entry = (
            None
            if event is None or event.admission_seq is None
            else self._admission_entry(connection, event.admission_seq)
        )
        approval = (
            None
            if event is None
            else self._key_approval(connection, event, bound=anchored.tree_size)
        )
        record = None if row.record is None else json.loads(row.record)
        # Events of another CB than the record's: the authority transferred it (spec §3a.1).
        transfer = (
            self._transfer_entry(connection, certificate_id, before=event.seq)
            if event is not None
            and record is not None
            and record_fields(record)["issuer_id"] != event.issuer_id
            else None
        )
        # Every read a cache miss needs is done: give the connection back before waiting on the
        # log tree's lock, whose holder may need a pooled connection to read tiles (holding
        # ours there deadlocked a cold server under load until the pool's timeout).
        connection.close()
        proof = self._cache.prove(key, version, asked=deep[0], rows=deep[1])
        if row.status is None:
            return Bundle(
                status="UNKNOWN",
                certificate_id=certificate_id,
                record=None,
                event=None,
                log_inclusion=None,
                status_proof=_status_proof(key, None, proof),
                checkpoint=anchored.checkpoint,
                anchor=self._anchor(anchored),
                issuer_key=None,
                first_anchored_index=None,
            )
        assert row.record is not None
        assert row.record_hash is not None
        assert event is not None
        assert issuer_key is not None
        assert row.event_seq is not None
        tree = self._log_tree(anchored.tree_size)
        leaf = BundleStatusLeaf(
            certificate_id=certificate_id,
            status=row.status,  # type: ignore[arg-type]  # a Literal, checked by pydantic
            record_hash=hex0x(row.record_hash),
            event_seq=row.event_seq,
        )
        return Bundle(
            status="ANCHORED",
            certificate_id=certificate_id,
            record=record,
            event=event.to_json(),
            log_inclusion=_inclusion(tree, event.seq, anchored.tree_size),
            status_proof=_status_proof(key, leaf, proof),
            checkpoint=anchored.checkpoint,
            anchor=self._anchor(anchored),
            issuer_key=issuer_key,
            first_anchored_index=first,
            admission=None
            if admission_entry is None or event.admission_seq is None
            else BundleAdmission(
                entry=admission_entry,
                log_inclusion=_inclusion(tree, event.admission_seq, anchored.tree_size),
            ),
            key_approval=None
            if approval is None
            else BundleKeyApproval(
                entry=approval[1],
                log_inclusion=_inclusion(tree, approval[0], anchored.tree_size),
            ),
            transfer=None
            if transfer is None
            else BundleTransfer(
                entry=transfer[1],
                log_inclusion=_inclusion(tree, transfer[0], anchored.tree_size),
            ),
            authority_action=None
            if action is None
            else BundleAuthorityAction(
                entry=action.to_json(),
                log_inclusion=_inclusion(tree, action.seq, anchored.tree_size),
            ),
        )

    @staticmethod
    def _transfer_entry(
        connection: _Connection, certificate_id: str, *, before: int
    ) -> tuple[int, dict[str, Any]] | None:
        """The authority's latest `transfer_certificate` of the certificate before log position
        `before`: (its seq, its entry as JSON)."""
        e = models.Event
        found = (
            connection()
            .execute(
                select(e.seq, e.entry)
                .where(
                    e.certificate_id == certificate_id,
                    e.type == StatementType.TRANSFER_CERTIFICATE.value,
                    e.seq < before,
                )
                .order_by(e.seq.desc())
                .limit(1)
            )
            .one_or_none()
        )
        return None if found is None else (found.seq, json.loads(bytes(found.entry)))

    @staticmethod
    def _certificate_event(
        connection: Callable[[], Connection], certificate_id: str, *, before: int
    ) -> Event | None:
        """The certificate's latest own event before log position `before` (the authority's
        entries about it skipped)."""
        e = models.Event
        entries = connection().execute(
            select(e.entry)
            .where(e.certificate_id == certificate_id, e.seq < before)
            .order_by(e.seq.desc())
        )
        for (entry,) in entries:
            found = parse_log_entry(bytes(entry))
            if isinstance(found, Event):
                return found
        return None

    def _admission_entry(self, connection: _Connection, seq: int) -> dict[str, Any]:
        """The authority's entry at `seq` as JSON: log entries never change, so kept."""
        found = self._admissions.get(seq)
        if found is None:
            leaf = (
                connection().execute(select(models.Event.entry).where(models.Event.seq == seq))
            ).scalar_one()
            found = json.loads(bytes(leaf))
            with self._caches_lock:
                self._admissions[seq] = found
        return found

    def _key_approval(
        self, connection: _Connection, event: Event, *, bound: int
    ) -> tuple[int, dict[str, Any]] | None:
        """The authority's approve_key entry of the event's key, (seq, JSON), if the log holds
        one before the event (spec §3a.1). A key is approved once per CB and log entries never
        change: a found approval is kept for good, and the absence of one in the log's first
        `bound` entries (the anchored size, beyond the event) until a larger `bound` is asked."""
        slot = (event.issuer_id, event.key_id)
        cached = self._key_approvals.get(slot)
        if cached is None or (cached[0] is None and cached[1] < bound):
            found: tuple[int | None, Any] = (None, bound)
            e = models.Event
            rows = connection().execute(
                select(e.seq, e.entry)
                .where(
                    e.certificate_id == "",  # authority entries (an index's prefix)
                    e.type == "approve_key",
                    e.issuer_id == event.issuer_id,
                    e.seq < bound,
                )
                .order_by(e.seq)
            )
            for row_seq, leaf in rows:
                statement = AuthorityEntry.from_leaf(bytes(leaf)).statement
                if isinstance(statement, ApproveKey) and statement.key_id == event.key_id:
                    found = (row_seq, json.loads(bytes(leaf)))
                    break
            with self._caches_lock:
                self._key_approvals[slot] = found
            cached = found
        approved_at, entry_json = cached
        if approved_at is None or approved_at >= event.seq:
            return None
        return approved_at, entry_json

    def _checkpoint(self, connection: _Connection, version: int) -> _Anchored:
        anchored = self._checkpoints.get(version)
        if anchored is not None:
            return anchored
        c = models.Checkpoint
        row = (
            connection()
            .execute(
                select(
                    c.tree_size, c.log_root, c.map_root, c.note, c.block_number, c.tx_hash
                ).where(c.index == version, c.state == "anchored")
            )
            .one()
        )
        assert row.block_number is not None
        anchored = _Anchored(
            tree_size=row.tree_size,
            checkpoint=BundleCheckpoint(
                index=version,
                tree_size=row.tree_size,
                log_root=hex0x(row.log_root),
                map_root=hex0x(row.map_root),
                note=row.note,
            ),
            block_number=row.block_number,
            tx_hash=row.tx_hash,
        )
        with self._caches_lock:
            if len(self._checkpoints) >= _CHECKPOINTS_KEPT:
                del self._checkpoints[min(self._checkpoints)]
            self._checkpoints[version] = anchored
        return anchored

    def _first_covering(self, connection: _Connection, version: int, seq: int) -> int:
        """The index of the first anchored checkpoint whose tree size exceeds `seq`."""
        if len(self._sizes) <= version:
            c = models.Checkpoint
            rows = (
                connection()
                .execute(
                    select(c.index, c.tree_size)
                    .where(c.state == "anchored", c.index >= len(self._sizes), c.index <= version)
                    .order_by(c.index)
                )
                .all()
            )
            with self._caches_lock:
                for index, tree_size in rows:
                    if index == len(self._sizes):
                        self._sizes.append(tree_size)
        first = bisect.bisect_right(self._sizes, seq)
        assert first <= version, f"event {seq} is not covered by checkpoint {version}"
        return first

    def _issuer_key(self, connection: _Connection, key_id: bytes) -> BundleIssuerKey:
        issuer_key = self._issuer_keys.get(key_id)
        if issuer_key is None:
            row = (
                connection()
                .execute(
                    select(models.IssuerKey.issuer_id, models.IssuerKey.public_key).where(
                        models.IssuerKey.key_id == key_id
                    )
                )
                .one()
            )
            issuer_key = BundleIssuerKey(
                issuer_id=row.issuer_id, key_id=hex0x(key_id), public_key=b64(row.public_key)
            )
            with self._caches_lock:
                self._issuer_keys[key_id] = issuer_key
        return issuer_key

    def _pending(self, connection: Connection, certificate_id: str, last_seq: int) -> Bundle:
        with Session(bind=connection) as session:
            certificate = session.get(models.Certificate, certificate_id)
            assert certificate is not None
            entry = LogRepository(session).entry(last_seq)
            assert entry is not None
            last = parse_log_entry(entry)
            if isinstance(last, AuthorityEntry):  # the authority acted on it: its own before
                found = self._certificate_event(session.connection, certificate_id, before=last.seq)
                assert found is not None
                last = found
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
                event=last.to_json(),
                log_inclusion=None,
                status_proof=None,
                checkpoint=None,
                anchor=None,
                issuer_key=None,
                first_anchored_index=None,
                next_checkpoint_due=due,
            )

    def _anchor(self, anchored: _Anchored) -> BundleAnchor:
        info = self._anchor_info()
        cached = anchored.anchor
        if cached is not None and cached[0] == info:
            return cached[1]
        anchor = BundleAnchor(
            chain_id=info.chain_id,
            contract=info.contract,
            tx_hash=anchored.tx_hash,
            block_number=anchored.block_number,
        )
        anchored.anchor = (info, anchor)
        return anchor


def _inclusion(tree: LogTree, leaf_index: int, tree_size: int) -> BundleLogInclusion:
    """The inclusion proof of entry `leaf_index` in the log of `tree_size` entries."""
    hashes = tree.inclusion_proof(leaf_index=leaf_index, tree_size=tree_size)
    return BundleLogInclusion(
        leaf_index=leaf_index, tree_size=tree_size, hashes=[hex0x(h) for h in hashes]
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
