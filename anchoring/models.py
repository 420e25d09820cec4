"""Typed values read from or sent to the anchoring contract, and the on-chain ids
(docs/spec.md §7.2).

Hashes are raw `bytes` (32 long) inside Python; hex appears only at the edges (JSON, logs).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from eth_typing import HexStr

from anchoring.errors import InvalidArgumentError
from registry.core.events import issuer_chain_id
from registry.core.verify import key_in_force

__all__ = [
    "AnchorResult",
    "Checkpoint",
    "IssuerKey",
    "Predecessor",
    "TransactionResult",
    "bytes32",
    "issuer_id_hash",
    "key_id",
]


def bytes32(value: bytes | bytearray, *, what: str) -> bytes:
    """`value` itself if it is exactly 32 bytes (a Solidity `bytes32`); else `InvalidArgumentError`.

    Values are never padded or cut: a 31-byte hash is an error, not a shorter hash.
    """
    if not isinstance(value, bytes | bytearray):
        raise InvalidArgumentError(f"{what}: got {type(value).__name__}, want 32 bytes")
    if len(value) != 32:
        raise InvalidArgumentError(f"{what}: got {len(value)} bytes, want 32")
    return bytes(value)


def issuer_id_hash(issuer_id: str) -> bytes:
    """The on-chain id of an issuer: SHA-256 of its id's UTF-8 bytes (docs/spec.md §7.2)."""
    if not issuer_id:
        raise InvalidArgumentError("issuer id: got an empty string, want the issuer's id")
    return issuer_chain_id(issuer_id)  # one definition, in the core


def key_id(public_key: bytes) -> bytes:
    """The id of an Ed25519 key: SHA-256 of the raw 32-byte public key (docs/spec.md §3, §7.2)."""
    return hashlib.sha256(bytes32(public_key, what="Ed25519 public key")).digest()


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """One anchored checkpoint, as the contract stores it."""

    index: int
    tree_size: int
    log_root: bytes
    map_root: bytes
    block_number: int
    timestamp: int


@dataclass(frozen=True, slots=True)
class Predecessor:
    """The contract a successor succeeds, and the checkpoint of it the successor starts from
    (docs/spec.md §7.7): the successor's first anchor extends (`tree_size`, `log_root`)."""

    contract: str
    index: int
    tree_size: int
    log_root: bytes
    map_root: bytes


@dataclass(frozen=True, slots=True)
class IssuerKey:
    """One issuer key as the contract stores it; `registered` is False for an unknown key."""

    issuer_id: bytes
    key_id: bytes
    public_key: bytes
    valid_from: int
    revoked_at: int

    @property
    def registered(self) -> bool:
        return self.public_key != bytes(32)

    def in_force_at(self, block_number: int) -> bool:
        """Whether the key is in force on `block_number` (the contract's `issuerKeyInForce`)."""
        return self.registered and key_in_force(
            valid_from=self.valid_from, revoked_at=self.revoked_at, block_number=block_number
        )


@dataclass(frozen=True, slots=True)
class TransactionResult:
    """A mined, successful, sufficiently confirmed transaction."""

    tx_hash: HexStr
    block_number: int
    block_hash: HexStr
    gas_used: int
    confirmations: int


@dataclass(frozen=True, slots=True)
class AnchorResult:
    """An anchored checkpoint and the transaction that anchored it."""

    checkpoint: Checkpoint
    transaction: TransactionResult
