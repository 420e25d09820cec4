"""Verification of RFC 9162 §2.1.3–2.1.4 inclusion and consistency proofs (pure functions).

The verifier fixes the hash function and the tree shape: a proof is only a list of hashes, and its
length must be exactly what `(leaf_index, tree_size)` or `(size1, size2)` implies.
"""

import hashlib
from collections.abc import Sequence

from registry.core.errors import ConsistencyProofError, InclusionProofError
from registry.core.hashing import RFC6962, LogHasher

__all__ = [
    "consistency_proof_size",
    "inclusion_proof_size",
    "root_from_inclusion_proof",
    "verify_consistency",
    "verify_inclusion",
]


def _decompose(index: int, size: int) -> tuple[int, int]:
    """Split the path of `index` in a tree of `size` leaves into (inner, border) node counts.

    Inner nodes are siblings below the level where the path leaves the tree's right border;
    border nodes are the left siblings above it (one per set bit of `index` there).
    """
    inner = (index ^ (size - 1)).bit_length()
    border = (index >> inner).bit_count()
    return inner, border


def inclusion_proof_size(*, leaf_index: int, tree_size: int) -> int:
    """Number of hashes in the inclusion proof of `leaf_index` in a tree of `tree_size`."""
    if not 0 <= leaf_index < tree_size:
        raise InclusionProofError(f"leaf_index: got {leaf_index}, want 0 <= index < {tree_size}")
    inner, border = _decompose(leaf_index, tree_size)
    return inner + border


def consistency_proof_size(*, size1: int, size2: int) -> int:
    """Number of hashes in the consistency proof between trees of `size1` <= `size2` leaves."""
    if not 0 < size1 <= size2:
        raise ConsistencyProofError(f"sizes: got ({size1}, {size2}), want 0 < size1 <= size2")
    if size1 == size2:
        return 0
    level = (size1 & -size1).bit_length() - 1
    index = (size1 - 1) >> level
    inner, border = _decompose(index, ((size2 - 1) >> level) + 1)
    # The node at `level` covering the end of the old tree is sent unless it is the old root.
    return inner + border + (1 if index else 0)


def _check_hashes(
    proof: Sequence[bytes], size: int, error: type[InclusionProofError | ConsistencyProofError]
) -> None:
    for i, node in enumerate(proof):
        if len(node) != size:
            raise error(f"proof[{i}]: got {len(node)} bytes, want {size}")


def root_from_inclusion_proof(
    *,
    leaf_index: int,
    tree_size: int,
    leaf_hash: bytes,
    proof: Sequence[bytes],
    hasher: LogHasher = RFC6962,
) -> bytes:
    """The root hash that `proof` implies for `leaf_hash` at `leaf_index` in `tree_size`."""
    if not 0 <= leaf_index < tree_size:
        raise InclusionProofError(f"leaf_index: got {leaf_index}, want 0 <= index < {tree_size}")
    if len(leaf_hash) != hasher.size:
        raise InclusionProofError(f"leaf_hash: got {len(leaf_hash)} bytes, want {hasher.size}")
    inner, border = _decompose(leaf_index, tree_size)
    if len(proof) != inner + border:
        raise InclusionProofError(
            f"proof length: got {len(proof)} hashes, want {inner + border} "
            f"for leaf {leaf_index} of {tree_size}"
        )
    _check_hashes(proof, hasher.size, InclusionProofError)
    if hasher is RFC6962:
        return _rfc6962_root(leaf_index, inner, leaf_hash, proof)
    node = leaf_hash
    for level, sibling in enumerate(proof[:inner]):
        if (leaf_index >> level) & 1:
            node = hasher.hash_children(sibling, node)
        else:
            node = hasher.hash_children(node, sibling)
    for sibling in proof[inner:]:
        node = hasher.hash_children(sibling, node)
    return node


def _rfc6962_root(leaf_index: int, inner: int, leaf_hash: bytes, proof: Sequence[bytes]) -> bytes:
    """The loop of `root_from_inclusion_proof` for RFC 6962's hasher, with SHA-256 inline (no
    method call per level: every bundle a verifier checks runs it)."""
    sha = hashlib.sha256
    node = leaf_hash
    for level in range(inner):
        if (leaf_index >> level) & 1:
            node = sha(b"\x01" + proof[level] + node).digest()
        else:
            node = sha(b"\x01" + node + proof[level]).digest()
    for sibling in proof[inner:]:
        node = sha(b"\x01" + sibling + node).digest()
    return node


def verify_inclusion(
    *,
    leaf_index: int,
    tree_size: int,
    leaf_hash: bytes,
    proof: Sequence[bytes],
    root_hash: bytes,
    hasher: LogHasher = RFC6962,
) -> None:
    """Check that `leaf_hash` is leaf `leaf_index` of the tree of `tree_size` with `root_hash`.

    Raises `InclusionProofError` if not.
    """
    if len(root_hash) != hasher.size:
        raise InclusionProofError(f"root_hash: got {len(root_hash)} bytes, want {hasher.size}")
    computed = root_from_inclusion_proof(
        leaf_index=leaf_index,
        tree_size=tree_size,
        leaf_hash=leaf_hash,
        proof=proof,
        hasher=hasher,
    )
    if computed != root_hash:
        raise InclusionProofError(
            f"root: got {computed.hex()} from the proof, want {root_hash.hex()}"
        )


def verify_consistency(
    *,
    size1: int,
    size2: int,
    root1: bytes,
    root2: bytes,
    proof: Sequence[bytes],
    hasher: LogHasher = RFC6962,
) -> None:
    """Check that the tree of `size2` with `root2` extends the tree of `size1` with `root1`.

    RFC 9162 §2.1.4.2. A proof from the empty tree proves nothing and is refused, as is any proof
    whose length differs from what the two sizes imply. Raises `ConsistencyProofError`.
    """
    if size1 <= 0 or size2 < size1:
        raise ConsistencyProofError(f"sizes: got ({size1}, {size2}), want 0 < size1 <= size2")
    if size1 == size2:
        if proof:
            raise ConsistencyProofError(f"proof length: got {len(proof)} hashes, want 0")
        if root1 != root2:
            raise ConsistencyProofError(
                f"root2: got {root2.hex()}, want {root1.hex()} (equal sizes, equal roots)"
            )
        return
    want = consistency_proof_size(size1=size1, size2=size2)
    if len(proof) != want:
        raise ConsistencyProofError(f"proof length: got {len(proof)} hashes, want {want}")
    for name, root in (("root1", root1), ("root2", root2)):
        if len(root) != hasher.size:
            raise ConsistencyProofError(f"{name}: got {len(root)} bytes, want {hasher.size}")
    _check_hashes(proof, hasher.size, ConsistencyProofError)

    fr, sr = _chain_consistency(size1=size1, size2=size2, root1=root1, proof=proof, hasher=hasher)
    if fr != root1:
        raise ConsistencyProofError(f"root1: got {fr.hex()} from the proof, want {root1.hex()}")
    if sr != root2:
        raise ConsistencyProofError(f"root2: got {sr.hex()} from the proof, want {root2.hex()}")


def _chain_consistency(
    *, size1: int, size2: int, root1: bytes, proof: Sequence[bytes], hasher: LogHasher
) -> tuple[bytes, bytes]:
    """RFC 9162 §2.1.4.2 steps 2-6: the (old, new) roots the proof implies."""
    path = list(proof)
    # A power-of-two old tree is itself a node of the new one: the proof omits it.
    if size1 & (size1 - 1) == 0:
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for node in path[1:]:
        if sn == 0:
            raise ConsistencyProofError("proof length: got extra hashes past the new root")
        if fn & 1 or fn == sn:
            fr = hasher.hash_children(node, fr)
            sr = hasher.hash_children(node, sr)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = hasher.hash_children(sr, node)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ConsistencyProofError("proof length: got too few hashes to reach the new root")
    return fr, sr
