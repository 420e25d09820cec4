"""Logs built with the Python core, to feed the contract real roots and proofs."""

from __future__ import annotations

import hashlib

from registry.core.errors import ProofError
from registry.core.log import LogTree
from registry.core.proofs import verify_consistency, verify_inclusion

MAP_ROOT = hashlib.sha256(b"a status-map root").digest()


def entry(i: int, *, history: str = "main") -> bytes:
    """Entry `i` of a named history: two histories agree nowhere."""
    return f"{history} event {i}".encode()


def log_tree(size: int, *, history: str = "main", fork_at: int | None = None) -> LogTree:
    """A log of `size` entries; from index `fork_at` on, entries of another history."""
    tree = LogTree()
    tree.append_many(
        [
            entry(i, history=history if fork_at is None or i < fork_at else "fork")
            for i in range(size)
        ]
    )
    return tree


def core_accepts_consistency(
    *, size1: int, size2: int, root1: bytes, root2: bytes, proof: list[bytes]
) -> bool:
    try:
        verify_consistency(size1=size1, size2=size2, root1=root1, root2=root2, proof=proof)
    except ProofError:
        return False
    return True


def core_accepts_inclusion(
    *, leaf_index: int, tree_size: int, leaf_hash: bytes, proof: list[bytes], root: bytes
) -> bool:
    try:
        verify_inclusion(
            leaf_index=leaf_index,
            tree_size=tree_size,
            leaf_hash=leaf_hash,
            proof=proof,
            root_hash=root,
        )
    except ProofError:
        return False
    return True
