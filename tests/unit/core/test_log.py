import gc
import hashlib
import itertools

import pytest

from registry.core.errors import LogTreeError
from registry.core.hashing import RFC6962
from registry.core.log import TILE_WIDTH, LogTree, MemoryTileStore
from registry.core.proofs import verify_consistency, verify_inclusion
from tests import naive_rfc6962 as naive
from tests.rfc6962_vectors import RFC6962_LEAVES

# Roots of the RFC 6962 test tree at sizes 1..8 (transparency-dev/merkle testdata).
RFC6962_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def entries(n: int) -> list[bytes]:
    return [i.to_bytes(4, "big") for i in range(n)]


class TestAppend:
    def test_returns_leaf_indices(self) -> None:
        tree = LogTree()
        assert tree.append(b"a") == 0
        assert tree.append_many([b"b", b"c"]) == 1
        assert tree.append_many(iter([b"d"])) == 3
        assert tree.append_many([]) == 4
        assert tree.tree_size == 4

    def test_one_by_one_equals_batch(self) -> None:
        one, batch = LogTree(), LogTree()
        for entry in entries(1000):
            one.append(entry)
        batch.append_many(entries(1000))
        assert one.root_hash() == batch.root_hash()

    def test_uneven_batches(self) -> None:
        tree = LogTree()
        data = entries(3000)
        cut = [0, 1, 2, 255, 256, 257, 700, 1024, 2999, 3000]
        for lo, hi in itertools.pairwise(cut):
            tree.append_many(data[lo:hi])
        assert tree.root_hash() == naive.mth(data)

    def test_rejects_leaf_hash_of_wrong_length(self) -> None:
        with pytest.raises(LogTreeError, match="want 32 bytes"):
            LogTree().append_leaf_hashes([b"short"])

    def test_append_leaf_hashes(self) -> None:
        tree = LogTree()
        tree.append_leaf_hashes([RFC6962.hash_leaf(e) for e in RFC6962_LEAVES])
        assert tree.root_hash().hex() == RFC6962_ROOTS[-1]


class TestRootHash:
    def test_empty(self) -> None:
        assert LogTree().root_hash() == hashlib.sha256(b"").digest()

    def test_rfc6962_known_roots_at_every_size(self) -> None:
        tree = LogTree()
        tree.append_many(RFC6962_LEAVES)
        assert [tree.root_hash(size).hex() for size in range(1, 9)] == RFC6962_ROOTS

    def test_root_at_a_size_never_changes(self) -> None:
        tree = LogTree()
        tree.append_many(entries(300))
        before = [tree.root_hash(size) for size in range(301)]
        tree.append_many(entries(500))
        assert [tree.root_hash(size) for size in range(301)] == before

    @pytest.mark.parametrize("size", [-1, 11])
    def test_rejects_sizes_out_of_range(self, size: int) -> None:
        tree = LogTree()
        tree.append_many(entries(10))
        with pytest.raises(LogTreeError, match="tree_size"):
            tree.root_hash(size)


class TestLeafHash:
    def test_matches_hasher(self) -> None:
        tree = LogTree()
        tree.append_many(RFC6962_LEAVES)
        assert [tree.leaf_hash(i) for i in range(8)] == RFC6962.hash_leaves(RFC6962_LEAVES)

    @pytest.mark.parametrize("index", [-1, 8])
    def test_rejects_out_of_range(self, index: int) -> None:
        tree = LogTree()
        tree.append_many(RFC6962_LEAVES)
        with pytest.raises(LogTreeError, match="leaf_index"):
            tree.leaf_hash(index)


class TestInclusionProof:
    @pytest.mark.parametrize("size", [1, 2, 3, 7, 8, 255, 256, 257, 513, 1000])
    def test_matches_naive_reference(self, size: int) -> None:
        data = entries(1000)
        tree = LogTree()
        tree.append_many(data)
        for index in {0, 1, size // 2, size - 2, size - 1} & set(range(size)):
            assert tree.inclusion_proof(leaf_index=index, tree_size=size) == naive.path(
                index, data[:size]
            )

    def test_verifies_for_every_leaf(self) -> None:
        tree = LogTree()
        tree.append_many(entries(600))
        root = tree.root_hash()
        for index in range(600):
            verify_inclusion(
                leaf_index=index,
                tree_size=600,
                leaf_hash=tree.leaf_hash(index),
                proof=tree.inclusion_proof(leaf_index=index),
                root_hash=root,
            )

    @pytest.mark.parametrize(("index", "size"), [(-1, 5), (5, 5), (0, 0), (0, 6)])
    def test_rejects_out_of_range(self, index: int, size: int) -> None:
        tree = LogTree()
        tree.append_many(entries(5))
        with pytest.raises(LogTreeError):
            tree.inclusion_proof(leaf_index=index, tree_size=size)


class TestConsistencyProof:
    def test_matches_naive_reference(self) -> None:
        data = entries(700)
        tree = LogTree()
        tree.append_many(data)
        for size2 in (1, 2, 5, 8, 255, 256, 257, 700):
            for size1 in {1, 2, 3, 4, size2 // 2 or 1, size2 - 1 or 1, size2} & set(
                range(1, size2 + 1)
            ):
                got = tree.consistency_proof(size1=size1, size2=size2)
                assert got == naive.proof(size1, data[:size2]), (size1, size2)
                verify_consistency(
                    size1=size1,
                    size2=size2,
                    root1=tree.root_hash(size1),
                    root2=tree.root_hash(size2),
                    proof=got,
                )

    @pytest.mark.parametrize(("size1", "size2"), [(0, 3), (-1, 3), (4, 3), (1, 6)])
    def test_rejects_out_of_range(self, size1: int, size2: int) -> None:
        tree = LogTree()
        tree.append_many(entries(5))
        with pytest.raises(LogTreeError):
            tree.consistency_proof(size1=size1, size2=size2)


class TestTiles:
    def test_layout_follows_tlog_tiles(self) -> None:
        store = MemoryTileStore()
        tree = LogTree(store)
        tree.append_many(entries(TILE_WIDTH * 2 + 3))
        full = store.read_tile(level=0, index=0)
        assert full is not None
        assert len(full) == 32 * 256
        assert full[:32] == RFC6962.hash_leaf(entries(1)[0])
        partial = store.read_tile(level=0, index=2)
        assert partial is not None
        assert len(partial) == 32 * 3
        upper = store.read_tile(level=1, index=0)
        assert upper is not None
        # Level 1 holds the roots of full level-0 tiles, i.e. perfect subtrees of 256 leaves.
        assert upper == tree.root_hash(256) + naive.mth(entries(512)[256:])
        assert store.read_tile(level=2, index=0) is None

    def test_reopened_tree_serves_the_same_proofs(self) -> None:
        store = MemoryTileStore()
        first = LogTree(store)
        first.append_many(entries(5000))
        # A one-tile cache forces every read through the store and tile expansion.
        reopened = LogTree(store, tree_size=5000, cache_tiles=1)
        assert reopened.root_hash() == first.root_hash()
        for index in (0, 255, 256, 4095, 4999):
            assert reopened.inclusion_proof(leaf_index=index) == first.inclusion_proof(
                leaf_index=index
            )
        assert reopened.consistency_proof(size1=1234) == first.consistency_proof(size1=1234)
        reopened.append_many(entries(777))
        first.append_many(entries(777))
        assert reopened.root_hash() == first.root_hash()

    def test_reopened_at_an_older_size_reads_only_that_far(self) -> None:
        store = MemoryTileStore()
        tree = LogTree(store)
        tree.append_many(entries(300))
        old = LogTree(store, tree_size=100)
        assert old.root_hash() == naive.mth(entries(100))

    def test_cached_tiles_are_invisible_to_the_collector(self) -> None:
        # A full collection walks every tracked object: cached tiles must hold none, or each
        # collection in an API process walks a million hashes (docs/benchmarks.md).
        store = MemoryTileStore()
        writer = LogTree(store)
        writer.append_many(entries(3 * TILE_WIDTH + 5))
        reader = LogTree(store, tree_size=3 * TILE_WIDTH + 5)
        for index in (0, 300, 3 * TILE_WIDTH + 4):
            assert reader.inclusion_proof(leaf_index=index) == writer.inclusion_proof(
                leaf_index=index
            )
        # A pass stops tracking a tuple whose items it has already stopped tracking: the rows
        # in the first, the tiles holding them in the second.
        gc.collect()
        gc.collect()
        for tree in (writer, reader):
            cached = list(tree._cache.values())
            assert cached
            assert not any(gc.is_tracked(rows) for rows in cached)
            assert not any(gc.is_tracked(row) for rows in cached for row in rows)

    def test_missing_tile_is_an_error(self) -> None:
        with pytest.raises(LogTreeError, match=r"tile \(0, 0\): got 0 stored hashes"):
            LogTree(MemoryTileStore(), tree_size=10).root_hash()

    def test_store_refuses_rewriting_history(self) -> None:
        store = MemoryTileStore()
        LogTree(store).append_many(entries(10))
        forked = LogTree(store, tree_size=5)
        with pytest.raises(LogTreeError, match="changing stored hashes"):
            forked.append_many([b"fork"] * 5)

    def test_failed_append_leaves_the_tree_as_it_was(self) -> None:
        store = MemoryTileStore()
        LogTree(store).append_many(entries(10))
        forked = LogTree(store, tree_size=5)
        root = forked.root_hash()
        with pytest.raises(LogTreeError):
            forked.append_many([b"fork"] * 5)
        assert forked.tree_size == 5
        assert forked.root_hash() == root

    @pytest.mark.parametrize("data", [b"", b"x" * 31, b"x" * (32 * 257)])
    def test_store_refuses_malformed_tiles(self, data: bytes) -> None:
        with pytest.raises(LogTreeError, match="bytes"):
            MemoryTileStore().write_tiles({(0, 0): data})


class TestAdvance:
    def test_reader_follows_a_writer_through_a_shared_store(self) -> None:
        store = MemoryTileStore()
        writer = LogTree(store)
        writer.append_many(entries(300))
        reader = LogTree(store, tree_size=300)
        assert reader.inclusion_proof(leaf_index=299) == writer.inclusion_proof(leaf_index=299)
        for more in (1, 255, 700):
            writer.append_many(entries(more))
            reader.advance(writer.tree_size)
            assert reader.root_hash() == writer.root_hash()
            last = writer.tree_size - 1
            assert reader.inclusion_proof(leaf_index=last) == writer.inclusion_proof(
                leaf_index=last
            )
            assert reader.inclusion_proof(leaf_index=260) == writer.inclusion_proof(leaf_index=260)

    def test_refuses_to_shrink(self) -> None:
        tree = LogTree()
        tree.append_many(entries(3))
        tree.advance(3)
        with pytest.raises(LogTreeError, match="append-only"):
            tree.advance(2)
