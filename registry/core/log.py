"""The append-only log: an RFC 6962 Merkle tree whose nodes are stored in C2SP tlog-tiles.

A tile at level L, index N holds up to 256 consecutive node hashes of tree height 8·L, starting
at node 256·N. Only those rows are stored (`TileStore`); the seven rows in between are derived
from them and kept, with the stored row, in an in-memory cache of *expanded* tiles. Appending
computes every interior node anyway, so the cache is filled as a side effect; a tile read back
from storage costs 255 hashes to expand once. Every proof is then O(log n) list lookups.

Only perfect subtrees (all 2^h leaves present) are ever stored. The hash of a subtree cut by the
tree's right edge (an "ephemeral" node) is folded from perfect ones when a root or proof needs it.
"""

from collections.abc import Iterable, Mapping, Sequence
from typing import Final, Protocol

from registry.core.errors import LogTreeError
from registry.core.hashing import RFC6962, LogHasher

__all__ = ["TILE_HEIGHT", "TILE_WIDTH", "LogTree", "MemoryTileStore", "TileKey", "TileStore"]

TILE_HEIGHT: Final = 8
TILE_WIDTH: Final = 1 << TILE_HEIGHT
_HASH_SIZE: Final = 32

TileKey = tuple[int, int]
"""`(level, index)` of a tile."""

_Rows = Sequence[Sequence[bytes]]
"""An expanded tile: row r holds the tile's nodes at tree height 8·level + r. Cached tiles are
tuples of tuples of bytes, which CPython's collector stops tracking after one pass: a full
collection then never walks the cache (in an API process it held a million hashes, and each
walk stopped every request for over 100 ms, docs/benchmarks.md). Tiles being appended to are
lists until the append ends."""
_Growing = list[list[bytes]]


class TileStore(Protocol):
    """Persistent storage of tiles; each tile is its hashes concatenated (32·width bytes).

    A tile is written again, longer, each time the tree grows into it; once 256 wide it never
    changes. Implementations must refuse a write that alters hashes already stored.
    """

    def read_tile(self, *, level: int, index: int) -> bytes | None:
        """The stored hashes of tile (level, index), or None if there is no such tile."""
        ...

    def write_tiles(self, tiles: Mapping[TileKey, bytes]) -> None:
        """Store these tiles, each replacing a shorter version of itself."""
        ...


class MemoryTileStore:
    """A `TileStore` in a dict, refusing writes that change stored hashes."""

    def __init__(self) -> None:
        self._tiles: dict[TileKey, bytes] = {}

    def read_tile(self, *, level: int, index: int) -> bytes | None:
        return self._tiles.get((level, index))

    def write_tiles(self, tiles: Mapping[TileKey, bytes]) -> None:
        for key, data in tiles.items():
            old = self._tiles.get(key)
            if old is not None and data[: len(old)] != old:
                raise LogTreeError(f"tile {key}: got a write changing stored hashes, want append")
            if len(data) % _HASH_SIZE or not 0 < len(data) <= TILE_WIDTH * _HASH_SIZE:
                raise LogTreeError(
                    f"tile {key}: got {len(data)} bytes, want 32·w for 1 <= w <= 256"
                )
        self._tiles.update(tiles)

    def __len__(self) -> int:
        return len(self._tiles)


def _cache_key(level: int, index: int) -> int:
    return (index << 4) | level


class LogTree:
    """An append-only RFC 6962 tree over a `TileStore`.

    `tree_size` is the number of leaves the store is known to hold (the caller persists it with
    the entries); reads never look past it. Not thread-safe: one writer, as in the service.
    """

    def __init__(
        self,
        store: TileStore | None = None,
        *,
        tree_size: int = 0,
        hasher: LogHasher = RFC6962,
        cache_tiles: int = 1 << 16,
    ) -> None:
        if tree_size < 0:
            raise LogTreeError(f"tree_size: got {tree_size}, want >= 0")
        self._store: TileStore = store if store is not None else MemoryTileStore()
        self._size = tree_size
        self._hasher = hasher
        self._cache: dict[int, _Rows] = {}
        self._cache_limit = max(cache_tiles, 1)
        # Tiles changed by the append in progress; never served stale from the store.
        self._dirty: dict[int, _Growing] = {}
        # Hashes of right-edge ranges: a tree size has only log2(n) of them, and they never
        # change, so proofs at one size share a handful of entries.
        self._ranges: dict[tuple[int, int], bytes] = {}

    @property
    def tree_size(self) -> int:
        """Number of leaves."""
        return self._size

    @property
    def hasher(self) -> LogHasher:
        """The hasher this tree was built with."""
        return self._hasher

    def advance(self, tree_size: int) -> None:
        """Read up to `tree_size` leaves, which another writer has appended to the store.

        The right-edge tiles cached at the old size may have grown, so they are dropped; full
        tiles never change and stay cached.
        """
        if tree_size < self._size:
            raise LogTreeError(f"tree_size: got {tree_size}, want >= {self._size} (append-only)")
        if tree_size == self._size:
            return
        old = self._size
        level = 0
        while old >> (TILE_HEIGHT * level):
            edge = (old >> (TILE_HEIGHT * level)) >> TILE_HEIGHT
            self._cache.pop(_cache_key(level, edge), None)
            level += 1
        self._size = tree_size

    # -- appending ------------------------------------------------------------------------------

    def append(self, entry: bytes) -> int:
        """Append one entry; return its leaf index."""
        return self.append_many((entry,))

    def append_many(self, entries: Iterable[bytes]) -> int:
        """Append entries in order; return the leaf index of the first."""
        batch = entries if isinstance(entries, Sequence) else list(entries)
        return self._append(self._hasher.hash_leaves(batch))

    def append_leaf_hashes(self, leaf_hashes: Sequence[bytes]) -> int:
        """Append leaves by their leaf hashes; return the leaf index of the first."""
        if leaf_hashes and set(map(len, leaf_hashes)) != {self._hasher.size}:
            raise LogTreeError(f"leaf hashes: got a wrong length, want {self._hasher.size} bytes")
        return self._append(leaf_hashes)

    def _append(self, leaf_hashes: Sequence[bytes]) -> int:
        first = self._size
        if not leaf_hashes:
            return first
        hash_pairs = self._hasher.hash_pairs
        nodes = list(leaf_hashes)
        start = first
        height = 0
        try:
            # Level by level: write the new nodes, then pair them (with the old node to their
            # left when they start at an odd index) into the new nodes one level up.
            while nodes:
                self._write_row(height, start, nodes)
                if start & 1:
                    nodes = hash_pairs([self._node(height, start - 1), *nodes])
                    start = (start - 1) >> 1
                else:
                    nodes = hash_pairs(nodes)
                    start >>= 1
                height += 1
            self._store.write_tiles(
                {(key & 15, key >> 4): b"".join(rows[0]) for key, rows in self._dirty.items()}
            )
            for key, rows in self._dirty.items():
                if self._cache.get(key) is rows:
                    self._cache[key] = tuple(map(tuple, rows))
        except BaseException:
            # The cache may hold half an append; drop it so reads go back to the store.
            self._cache.clear()
            self._ranges.clear()
            raise
        finally:
            self._dirty = {}
        self._size = first + len(leaf_hashes)
        return first

    def _write_row(self, height: int, start: int, nodes: list[bytes]) -> None:
        level, row_no = divmod(height, TILE_HEIGHT)
        shift = TILE_HEIGHT - row_no
        width = 1 << shift
        tile_index, pos = start >> shift, start & (width - 1)
        done, total = 0, len(nodes)
        while done < total:
            key = _cache_key(level, tile_index)
            rows = self._dirty.get(key)
            if rows is None:
                if row_no == 0 and pos == 0:
                    rows = [[] for _ in range(TILE_HEIGHT)]
                else:
                    rows = list(map(list, self._tile(level, tile_index)))
                self._dirty[key] = rows
                self._remember(key, rows)
            row = rows[row_no]
            if len(row) != pos:
                raise LogTreeError(
                    f"tile ({level}, {tile_index}) row {row_no}: got {len(row)} hashes, want {pos}"
                )
            take = min(width - pos, total - done)
            row += nodes[done : done + take]
            done += take
            tile_index += 1
            pos = 0

    # -- reading nodes --------------------------------------------------------------------------

    def _remember(self, key: int, rows: _Rows) -> None:
        cache = self._cache
        if key not in cache and len(cache) >= self._cache_limit:
            # Oldest first: cheap, and good enough for the mostly-sequential access we see.
            del cache[next(iter(cache))]
        cache[key] = rows

    def _tile(self, level: int, index: int) -> _Rows:
        key = _cache_key(level, index)
        rows: _Rows | None = self._cache.get(key) or self._dirty.get(key)
        if rows is not None:
            return rows
        # Nodes of tree height 8·level that exist at the current size, and this tile's share.
        count = min((self._size >> (TILE_HEIGHT * level)) - index * TILE_WIDTH, TILE_WIDTH)
        data = self._store.read_tile(level=level, index=index)
        if count <= 0 or data is None or len(data) < count * _HASH_SIZE:
            have = 0 if data is None else len(data) // _HASH_SIZE
            raise LogTreeError(
                f"tile ({level}, {index}): got {have} stored hashes, want {max(count, 1)} "
                f"at tree size {self._size}"
            )
        row = [data[i : i + _HASH_SIZE] for i in range(0, count * _HASH_SIZE, _HASH_SIZE)]
        expanded = [tuple(row)]
        for _ in range(1, TILE_HEIGHT):
            row = self._hasher.hash_pairs(row)
            expanded.append(tuple(row))
        rows = tuple(expanded)
        self._remember(key, rows)
        return rows

    def _node(self, height: int, index: int) -> bytes:
        """Hash of the perfect subtree of 2^height leaves starting at leaf index·2^height."""
        shift = TILE_HEIGHT - (height & 7)
        level = height >> 3
        rows = self._cache.get(((index >> shift) << 4) | level) or self._tile(level, index >> shift)
        return rows[height & 7][index & ((1 << shift) - 1)]

    def _range_hash(self, start: int, end: int) -> bytes:
        """MTH of leaves [start, end), where start is a multiple of a power of two >= end-start.

        Such a range splits into perfect subtrees, one per set bit of its length, largest first;
        RFC 6962 hashes them right to left.
        """
        cached = self._ranges.get((start, end))
        if cached is not None:
            return cached
        parts = []
        pos = start
        length = end - start
        for height in range(length.bit_length() - 1, -1, -1):
            if length >> height & 1:
                parts.append(self._node(height, pos >> height))
                pos += 1 << height
        node = parts.pop()
        hash_children = self._hasher.hash_children
        while parts:
            node = hash_children(parts.pop(), node)
        if len(self._ranges) >= 4096:
            self._ranges.clear()
        self._ranges[start, end] = node
        return node

    def _path(self, index: int, height: int, size: int) -> list[bytes]:
        """Inclusion path of node (height, index) in the tree of `size` leaves, bottom up."""
        inner = (index ^ ((size - 1) >> height)).bit_length()
        node = self._node
        cache = self._cache
        proof = []
        step = 0
        while step < inner:
            # All inner siblings within one tile level sit in the same tile: fetch it once.
            tile_level = (height + step) >> 3
            stop = min(inner, TILE_HEIGHT * (tile_level + 1) - height)
            tile_index = index >> (step + TILE_HEIGHT - ((height + step) & 7))
            rows = cache.get((tile_index << 4) | tile_level) or self._tile(tile_level, tile_index)
            for step_ in range(step, stop):
                sibling = (index >> step_) ^ 1
                level = height + step_
                if (sibling + 1) << level > size:
                    # Only the topmost inner sibling can be cut by the right edge.
                    proof.append(self._range_hash(sibling << level, size))
                else:
                    row_no = level & 7
                    proof.append(rows[row_no][sibling & ((1 << (TILE_HEIGHT - row_no)) - 1)])
            step = stop
        rest = index >> inner
        level = height + inner
        while rest:
            if rest & 1:
                proof.append(node(level, rest - 1))
            rest >>= 1
            level += 1
        return proof

    def _check_size(self, tree_size: int | None) -> int:
        if tree_size is None:
            return self._size
        if not 0 <= tree_size <= self._size:
            raise LogTreeError(f"tree_size: got {tree_size}, want 0 <= size <= {self._size}")
        return tree_size

    # -- public reads ---------------------------------------------------------------------------

    def leaf_hash(self, leaf_index: int) -> bytes:
        """The leaf hash at `leaf_index`."""
        if not 0 <= leaf_index < self._size:
            raise LogTreeError(f"leaf_index: got {leaf_index}, want 0 <= index < {self._size}")
        return self._node(0, leaf_index)

    def root_hash(self, tree_size: int | None = None) -> bytes:
        """The root hash at `tree_size` (default: now). The root at a size never changes."""
        size = self._check_size(tree_size)
        if size == 0:
            return self._hasher.empty_root()
        return self._range_hash(0, size)

    def inclusion_proof(self, *, leaf_index: int, tree_size: int | None = None) -> list[bytes]:
        """RFC 9162 inclusion proof of `leaf_index` in the tree of `tree_size` (default: now)."""
        size = self._check_size(tree_size)
        if not 0 <= leaf_index < size:
            raise LogTreeError(f"leaf_index: got {leaf_index}, want 0 <= index < {size}")
        return self._path(leaf_index, 0, size)

    def consistency_proof(self, *, size1: int, size2: int | None = None) -> list[bytes]:
        """RFC 9162 consistency proof that the tree of `size2` (default: now) extends `size1`."""
        end = self._check_size(size2)
        if not 0 < size1 <= end:
            raise LogTreeError(f"size1: got {size1}, want 0 < size1 <= {end}")
        if size1 == end:
            return []
        # The largest perfect subtree ending at size1; its path to the new root is the proof.
        level = (size1 & -size1).bit_length() - 1
        index = (size1 - 1) >> level
        proof = self._path(index, level, end)
        if index:
            proof.insert(0, self._node(level, index))
        return proof
