"""RFC 6962 / RFC 9162 hashing behind a small hasher interface.

The tree code asks the hasher for whole batches (`hash_leaves`, `hash_pairs`) so that the hot
loops run as comprehensions over `hashlib` with no per-hash method call.
"""

import hashlib
from collections.abc import Sequence
from typing import Final, Protocol

__all__ = ["RFC6962", "LogHasher", "RFC6962Hasher", "sha256"]

_sha256 = hashlib.sha256


def sha256(data: bytes) -> bytes:
    """SHA-256 digest of `data`."""
    return _sha256(data).digest()


class LogHasher(Protocol):
    """How a log tree hashes: the verifier, not the proof, fixes this."""

    @property
    def size(self) -> int:
        """Digest size in bytes."""
        ...

    def empty_root(self) -> bytes:
        """Root hash of the tree with no leaves."""
        ...

    def hash_leaf(self, entry: bytes) -> bytes:
        """Leaf hash of one log entry."""
        ...

    def hash_children(self, left: bytes, right: bytes) -> bytes:
        """Hash of an interior node from its two children."""
        ...

    def hash_leaves(self, entries: Sequence[bytes]) -> list[bytes]:
        """`[hash_leaf(e) for e in entries]`."""
        ...

    def hash_pairs(self, hashes: Sequence[bytes]) -> list[bytes]:
        """`[hash_children(h[0], h[1]), hash_children(h[2], h[3]), ...]`; an odd last is dropped."""
        ...


class RFC6962Hasher:
    """SHA-256 with leaf = H(0x00 ‖ entry) and node = H(0x01 ‖ left ‖ right)."""

    LEAF_PREFIX: Final = b"\x00"
    NODE_PREFIX: Final = b"\x01"

    @property
    def size(self) -> int:
        return 32

    def empty_root(self) -> bytes:
        return _sha256(b"").digest()

    def hash_leaf(self, entry: bytes) -> bytes:
        return _sha256(b"\x00" + entry).digest()

    def hash_children(self, left: bytes, right: bytes) -> bytes:
        return _sha256(b"\x01" + left + right).digest()

    def hash_leaves(self, entries: Sequence[bytes]) -> list[bytes]:
        sha = _sha256
        return [sha(b"\x00" + entry).digest() for entry in entries]

    def hash_pairs(self, hashes: Sequence[bytes]) -> list[bytes]:
        sha = _sha256
        pairs = iter(hashes)
        return [
            sha(b"\x01" + left + right).digest() for left, right in zip(pairs, pairs, strict=False)
        ]


RFC6962: Final = RFC6962Hasher()
