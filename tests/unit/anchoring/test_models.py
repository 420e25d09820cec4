"""On-chain ids and the typed values of the client."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from anchoring.errors import InvalidArgumentError
from anchoring.models import IssuerKey, bytes32, issuer_id_hash, key_id


def test_issuer_id_is_sha256_of_utf8() -> None:
    assert issuer_id_hash("vn-quatest-3") == hashlib.sha256(b"vn-quatest-3").digest()
    assert (
        issuer_id_hash("Trung tâm Kỹ thuật 3")
        == hashlib.sha256("Trung tâm Kỹ thuật 3".encode()).digest()
    )
    with pytest.raises(InvalidArgumentError, match="empty"):
        issuer_id_hash("")


def test_key_id_is_sha256_of_the_raw_ed25519_key() -> None:
    raw = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert key_id(raw) == hashlib.sha256(raw).digest()
    with pytest.raises(InvalidArgumentError, match="got 33 bytes, want 32"):
        key_id(raw + b"\x00")


@pytest.mark.parametrize("value", [b"", bytes(31), bytes(33), "00" * 32])
def test_bytes32_never_pads_or_cuts(value: object) -> None:
    with pytest.raises(InvalidArgumentError):
        bytes32(value, what="hash")  # type: ignore[arg-type]
    assert bytes32(bytearray(32), what="hash") == bytes(32)


def test_issuer_key_in_force() -> None:
    key = IssuerKey(
        issuer_id=bytes(32), key_id=bytes(32), public_key=b"\x01" * 32, valid_from=10, revoked_at=20
    )
    assert [b for b in range(25) if key.in_force_at(b)] == list(range(10, 20))
    open_ended = IssuerKey(
        issuer_id=bytes(32), key_id=bytes(32), public_key=b"\x01" * 32, valid_from=10, revoked_at=0
    )
    assert open_ended.in_force_at(2**64 - 1)
    unknown = IssuerKey(
        issuer_id=bytes(32), key_id=bytes(32), public_key=bytes(32), valid_from=0, revoked_at=0
    )
    assert not unknown.registered
    assert not unknown.in_force_at(5)
