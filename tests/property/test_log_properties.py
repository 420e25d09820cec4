"""Property tests of the log tree and its proofs against the naive RFC 6962 reference."""

from hypothesis import given, settings
from hypothesis import strategies as st

from registry.core.errors import ProofError
from registry.core.log import LogTree
from registry.core.proofs import verify_consistency, verify_inclusion
from tests import naive_rfc6962 as naive

MAX_LEAVES = 300

distinct_entries = st.lists(
    st.binary(min_size=0, max_size=40), min_size=1, max_size=MAX_LEAVES, unique=True
)


@st.composite
def tree_and_entries(draw: st.DrawFn) -> tuple[LogTree, list[bytes]]:
    data = draw(distinct_entries)
    tree = LogTree(cache_tiles=draw(st.sampled_from([1, 2, 1 << 16])))
    # Append in random batches: batch boundaries must not matter.
    pos = 0
    while pos < len(data):
        step = draw(st.integers(min_value=1, max_value=len(data) - pos))
        tree.append_many(data[pos : pos + step])
        pos += step
    return tree, data


def flip_bit(proof: list[bytes], position: int) -> list[bytes]:
    index, bit = divmod(position % (len(proof) * 256), 256)
    node = bytearray(proof[index])
    node[bit // 8] ^= 1 << (bit % 8)
    return [*proof[:index], bytes(node), *proof[index + 1 :]]


@settings(max_examples=150, deadline=None)
@given(tree_and_entries(), st.data())
def test_roots_match_reference(built: tuple[LogTree, list[bytes]], data: st.DataObject) -> None:
    tree, entries = built
    assert tree.root_hash() == naive.mth(entries)
    size = data.draw(st.integers(min_value=0, max_value=len(entries)))
    assert tree.root_hash(size) == naive.mth(entries[:size])


@settings(max_examples=150, deadline=None)
@given(tree_and_entries(), st.data())
def test_inclusion_proofs(built: tuple[LogTree, list[bytes]], data: st.DataObject) -> None:
    tree, entries = built
    size = data.draw(st.integers(min_value=1, max_value=len(entries)), label="tree_size")
    index = data.draw(st.integers(min_value=0, max_value=size - 1), label="leaf_index")
    proof = tree.inclusion_proof(leaf_index=index, tree_size=size)
    assert proof == naive.path(index, entries[:size])
    root = tree.root_hash(size)
    leaf = tree.leaf_hash(index)

    def verifies(
        *,
        leaf_index: int = index,
        leaf_hash: bytes = leaf,
        nodes: list[bytes] = proof,
        at: bytes = root,
    ) -> bool:
        try:
            verify_inclusion(
                leaf_index=leaf_index,
                tree_size=size,
                leaf_hash=leaf_hash,
                proof=nodes,
                root_hash=at,
            )
        except ProofError:
            return False
        return True

    assert verifies()
    other = data.draw(st.integers(min_value=0, max_value=size - 1), label="other index")
    if other != index:
        assert not verifies(leaf_index=other)
        assert not verifies(leaf_hash=tree.leaf_hash(other))
    if proof:
        flip = data.draw(st.integers(min_value=0), label="bit")
        assert not verifies(nodes=flip_bit(proof, flip))
        assert not verifies(nodes=proof[:-1])
        assert not verifies(nodes=proof[1:])
    assert not verifies(nodes=[*proof, root])
    assert not verifies(nodes=[leaf, *proof])
    assert not verifies(at=flip_bit([root], data.draw(st.integers(min_value=0)))[0])
    assert not verifies(leaf_hash=flip_bit([leaf], data.draw(st.integers(min_value=0)))[0])


@settings(max_examples=150, deadline=None)
@given(tree_and_entries(), st.data())
def test_consistency_proofs(built: tuple[LogTree, list[bytes]], data: st.DataObject) -> None:
    tree, entries = built
    size2 = data.draw(st.integers(min_value=1, max_value=len(entries)), label="size2")
    size1 = data.draw(st.integers(min_value=1, max_value=size2), label="size1")
    proof = tree.consistency_proof(size1=size1, size2=size2)
    assert proof == naive.proof(size1, entries[:size2])
    root1, root2 = tree.root_hash(size1), tree.root_hash(size2)

    def verifies(
        *, first: int = size1, nodes: list[bytes] = proof, old: bytes = root1, new: bytes = root2
    ) -> bool:
        try:
            verify_consistency(size1=first, size2=size2, root1=old, root2=new, proof=nodes)
        except ProofError:
            return False
        return True

    assert verifies()
    if size1 == size2:
        return
    assert not verifies(old=root2, new=root1)
    assert not verifies(old=flip_bit([root1], data.draw(st.integers(min_value=0)))[0])
    assert not verifies(new=flip_bit([root2], data.draw(st.integers(min_value=0)))[0])
    assert not verifies(nodes=flip_bit(proof, data.draw(st.integers(min_value=0))))
    assert not verifies(nodes=proof[:-1])
    assert not verifies(nodes=proof[1:])
    assert not verifies(nodes=[*proof, root2])
    assert not verifies(nodes=[root1, *proof])
    other = data.draw(st.integers(min_value=1, max_value=size2 - 1), label="other size1")
    if other != size1:
        # The same proof and old root claimed for another old size must not pass.
        assert not verifies(first=other)
        assert not verifies(first=other, old=tree.root_hash(other))
