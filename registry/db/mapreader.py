"""The anchored status map for proofs, in bounded memory, whatever the registry's size.

An API process that does not form checkpoints needs the map only to prove keys. It keeps:

- the top `top_depth` levels in memory (at most 2^(top_depth+1) nodes: about 30 MB for the
  default 16), caught up
  like `AnchoredMapCache` by reading only rows newer than its copy;
- deeper nodes in an LRU of at most `hot_nodes` entries (absent positions too);
- anything else read from the database when a proof needs it: the key's path and its siblings
  from the first missing depth down to a little below where proofs end, in one statement.

Consistency is the same as the full cache's: the rows of `map_nodes` are the map of the latest
anchored version, each tagged with the version that wrote it, and positions never empty once
used. A row newer than the version a proof is for means the read straddled an anchoring
(`StaleCacheError`: the caller reads again); a catch-up drops from the LRU every deeper position
the new version changed, so the LRU never serves an older version's node.
"""

from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final

from sqlalchemy import Connection, Engine, LargeBinary, bindparam, select
from sqlalchemy.orm import Session

from registry.core.statusmap import MapNode, MapProof, StatusMap
from registry.db.engine import read_only
from registry.db.mapstore import StaleCacheError, VersionedMap
from registry.db.models import MapNode as MapNodeRow
from registry.db.stores import decode_map_node, pooled_rows, position_bytes
from registry.errors import RegistryError

__all__ = ["BoundedMapReader"]

_TOP_BIT: Final = 1 << 256
#: levels a read looks beyond the average depth where proofs end: a read asks for the levels a
#: proof is likely to need and no more (each absent position is a wasted index probe); the few
#: proofs that go deeper read again
_FETCH_SLACK: Final = 2
#: rough memory of one LRU entry: the int position, the node's bytes, the dict slot
BYTES_PER_HOT_NODE: Final = 300
_ABSENT: Final = object()


class BoundedMapReader(VersionedMap):
    """Proves keys of the anchored map in bounded memory; shared by the threads of a process."""

    def __init__(self, engine: Engine, *, top_depth: int = 16, hot_nodes: int = 200_000) -> None:
        if not 1 <= top_depth <= 24:
            raise ValueError(f"top_depth: got {top_depth}, want 1..24")
        super().__init__()  # its lock also guards the LRU
        self._engine = read_only(engine)
        self.top_depth = top_depth
        self.hot_limit = max(hot_nodes, 0)
        self._top: dict[int, MapNode] = {}
        self._top_limit = position_bytes(1 << (top_depth + 1))  # positions below are the top
        self._hot: OrderedDict[int, object] = OrderedDict()
        self.reads = 0  # database reads for deep nodes (for benchmarks and tests)
        self.leaf_depth = float(top_depth + 6)  # where proofs end, on average: how far reads look
        self._statements: dict[int, tuple[str, list[str], bool]] = {}

    # -- catching up --------------------------------------------------------------------------

    def _changes(self, session: Session | Connection, latest: int) -> Callable[[], None]:
        """The top levels' new rows, and the deep positions the LRU must forget."""
        top: dict[int, MapNode] = {}
        query = select(MapNodeRow.position, MapNodeRow.data, MapNodeRow.version).where(
            MapNodeRow.position < self._top_limit, MapNodeRow.version > self.version
        )
        # A few thousand rows at most: through SQLAlchemy (raw_rows renders literals, and a
        # bytes bound cannot be one).
        for position, data, version in session.execute(query):
            if version > latest:
                raise StaleCacheError(f"map node version {version} > anchored {latest}")
            top[int.from_bytes(position, "big")] = decode_map_node(data)
        changed: list[int] = []
        if self._hot:
            deep = select(MapNodeRow.position).where(
                MapNodeRow.position >= self._top_limit, MapNodeRow.version > self.version
            )
            changed = [int.from_bytes(p, "big") for (p,) in session.execute(deep)]

        def apply() -> None:
            self._top.update(top)
            for stale in changed:
                self._hot.pop(stale, None)

        return apply

    # -- proving ------------------------------------------------------------------------------

    def wanted(self, key: bytes) -> list[int]:
        """The deep positions a proof of `key` is likely to read that the LRU does not hold: the
        key's path and its siblings below the top levels, to a little below where proofs end.
        A caller that reads them with its own statement (the bundle's, in one round trip)
        hands the rows to `prove`."""
        path = int.from_bytes(key, "big") | _TOP_BIT
        last = round(self.leaf_depth) + _FETCH_SLACK
        positions = _path_and_siblings(path, first=self.top_depth + 1, last=last)
        with self._lock:
            return [p for p in positions if p not in self._hot]

    def prove(
        self,
        key: bytes,
        version: int,
        *,
        asked: Sequence[int] = (),
        rows: Iterable[tuple[Any, Any, int]] = (),
    ) -> MapProof:
        """The proof of `key` at `version` (the version the caller synced to).

        `asked`, `rows`: positions the caller has read already in the snapshot of `version`
        (from `wanted`), and the `(position, data, version)` rows found among them; any other
        node the proof needs comes from the top levels, the LRU or a read of its own.
        """
        store = _ProofStore(self, int.from_bytes(key, "big") | _TOP_BIT, version)
        if asked:
            store.prefill(asked, self._decoded(rows, version))
        proof = self._checked(version, lambda: StatusMap(store).prove(key))
        # A moving average of where proofs end (racy, harmless: it only sizes the reads).
        self.leaf_depth += (proof.depth - self.leaf_depth) * 0.02
        return proof

    def _get_deep(self, position: int) -> object:
        with self._lock:
            found = self._hot.get(position)
            if found is not None:
                self._hot.move_to_end(position)
            return found

    def _read(self, positions: list[int], version: int) -> dict[int, MapNode]:
        """The stored nodes among `positions` (one statement); StaleCacheError if any is newer
        than `version`."""
        self.reads += 1
        sql, names, positional = self._statement(len(positions))
        values = dict(zip(names, (position_bytes(p) for p in positions), strict=True))
        args: tuple[bytes, ...] | dict[str, bytes] = (
            tuple(values[n] for n in names) if positional else values
        )
        return self._decoded(pooled_rows(self._engine, sql, args), version)

    @staticmethod
    def _decoded(rows: Iterable[tuple[Any, Any, int]], version: int) -> dict[int, MapNode]:
        """Rows `(position, data, version)` as nodes; StaleCacheError if any is newer than
        `version` (the read straddled an anchoring)."""
        found: dict[int, MapNode] = {}
        for position, data, row_version in rows:
            if row_version > version:
                raise StaleCacheError(f"map node version {row_version} > proof's {version}")
            found[int.from_bytes(bytes(position), "big")] = decode_map_node(bytes(data))
        return found

    def _statement(self, count: int) -> tuple[str, list[str], bool]:
        """`SELECT … WHERE position IN (…count…)`, compiled once per count for the driver."""
        cached = self._statements.get(count)
        if cached is None:
            table = MapNodeRow.__table__
            query = select(table.c.position, table.c.data, table.c.version).where(
                table.c.position.in_(
                    [bindparam(f"p{i}", type_=LargeBinary()) for i in range(count)]
                )
            )
            compiled = query.compile(dialect=self._engine.dialect)
            names = [f"p{i}" for i in range(count)]
            if compiled.positional:
                names = list(compiled.positiontup or ())
            cached = (str(compiled), names, bool(compiled.positional))
            self._statements[count] = cached
        return cached

    def _remember(self, nodes: Mapping[int, object], version: int) -> None:
        if not self.hot_limit:
            return
        with self._lock:
            if self.version != version:
                return  # a catch-up ran meanwhile: these may be an older version's
            hot = self._hot
            hot.update(nodes)  # new positions go to the end; a hit moves its node there
            while len(hot) > self.hot_limit:
                hot.popitem(last=False)

    def __len__(self) -> int:
        return len(self._top) + len(self._hot)


def _path_and_siblings(path: int, *, first: int, last: int) -> list[int]:
    """The positions on `path` (a key with its top bit set) and their siblings, at depths
    `first` to `last` (at most 256)."""
    positions: list[int] = []
    for depth in range(first, min(last, 256) + 1):
        on_path = path >> (256 - depth)
        positions += (on_path, on_path ^ 1)
    return positions


class _ProofStore:
    """`MapStore` for one proof of one key: the top, the LRU, then the database."""

    __slots__ = ("_fetched", "_path", "_reader", "_version")

    def __init__(self, reader: BoundedMapReader, path: int, version: int) -> None:
        self._reader = reader
        self._path = path
        self._version = version
        self._fetched: dict[int, MapNode | None] = {}

    def get(self, position: int, /) -> MapNode | None:
        reader = self._reader
        depth = position.bit_length() - 1
        if depth <= reader.top_depth:
            return reader._top.get(position)
        if position in self._fetched:
            return self._fetched[position]
        found = reader._get_deep(position)
        if found is not None:
            return None if found is _ABSENT else found  # type: ignore[return-value]
        self._fetch_from(depth)
        return self._fetched[position]

    def _fetch_from(self, depth: int) -> None:
        """The key's path and its siblings from `depth` to a little below where proofs end."""
        last = max(round(self._reader.leaf_depth) + _FETCH_SLACK, depth + 1)
        wanted = _path_and_siblings(self._path, first=depth, last=last)
        self.prefill(wanted, self._reader._read(wanted, self._version))

    def prefill(self, wanted: Sequence[int], found: Mapping[int, MapNode]) -> None:
        """`wanted` positions were read: `found` those stored, the rest are empty."""
        nodes: dict[int, object] = {}
        for position in wanted:
            node = found.get(position)
            self._fetched[position] = node
            nodes[position] = _ABSENT if node is None else node
        self._reader._remember(nodes, self._version)

    def put(self, _nodes: Mapping[int, MapNode], /) -> None:
        raise RegistryError("the anchored map is read-only")
