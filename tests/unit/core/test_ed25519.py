"""Ed25519 verification through libsodium: the rules of RFC 8032 §5.1.7 the core relies on."""

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nacl.bindings import crypto_core_ed25519_add

from registry.core import ed25519

L = 2**252 + 27742317777372353535851937790883648493  # the group order
MESSAGE = b'{"at":"2026-03-02T09:15:00Z","seq":1}'
# The identity point (y = 1): canonical, but of small order; so is its use as R.
SMALL_ORDER = bytes([1]) + bytes(31)


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes(range(33, 65)))


def test_verifies_what_openssl_signs(key: Ed25519PrivateKey) -> None:
    public = key.public_key().public_bytes_raw()
    assert ed25519.verify(public, key.sign(MESSAGE), MESSAGE)
    assert ed25519.verify(public, key.sign(b""), b"")


def test_rejects_another_message_or_key(key: Ed25519PrivateKey) -> None:
    public = key.public_key().public_bytes_raw()
    signature = key.sign(MESSAGE)
    assert not ed25519.verify(public, signature, MESSAGE + b" ")
    other = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    assert not ed25519.verify(other, signature, MESSAGE)


def test_rejects_non_canonical_s(key: Ed25519PrivateKey) -> None:
    public = key.public_key().public_bytes_raw()
    signature = key.sign(MESSAGE)
    s = int.from_bytes(signature[32:], "little") + L
    assert not ed25519.verify(public, signature[:32] + s.to_bytes(32, "little"), MESSAGE)


def test_rejects_small_order_keys_and_r(key: Ed25519PrivateKey) -> None:
    signature = key.sign(MESSAGE)
    assert not ed25519.verify(SMALL_ORDER, signature, MESSAGE)
    public = key.public_key().public_bytes_raw()
    assert not ed25519.verify(public, SMALL_ORDER + signature[32:], MESSAGE)


@pytest.mark.parametrize(
    ("public", "signature"),
    [
        (bytes(31), bytes(64)),
        (bytes(33), bytes(64)),
        (bytes(32), bytes(63)),
        (bytes(32), bytes(65)),
        (bytearray(32), bytes(64)),
        ("00" * 32, bytes(64)),
    ],
)
def test_wrong_sizes_and_types_are_false_not_errors(public: object, signature: object) -> None:
    assert not ed25519.verify(public, signature, MESSAGE)  # type: ignore[arg-type]


@pytest.mark.parametrize("size", [0, 1, 300, 4096])
def test_signs_the_same_bytes_as_openssl(key: Ed25519PrivateKey, size: int) -> None:
    """Ed25519 is deterministic: libsodium's signature is OpenSSL's, byte for byte."""
    message = bytes(range(256)) * (size // 256) + bytes(size % 256)
    expanded = ed25519.signing_key(key)
    assert expanded.public_key == key.public_key().public_bytes_raw()
    assert ed25519.sign(expanded, message) == key.sign(message)
    assert ed25519.signing_key(key) is expanded  # expanded once


def test_prime_order_points(key: Ed25519PrivateKey) -> None:
    public = key.public_key().public_bytes_raw()
    assert ed25519.is_prime_order_point(public)
    assert ed25519.is_prime_order_point(
        Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    )
    order_2 = b"\xec" + b"\xff" * 30 + b"\x7f"  # (0, -1)
    # libsodium's verify takes a mixed-order key (it refuses only small order): this does not.
    mixed = crypto_core_ed25519_add(public, order_2)
    for bad in (SMALL_ORDER, order_2, mixed, bytes(32), b"\xed" + b"\xff" * 30 + b"\x7f"):
        assert not ed25519.is_prime_order_point(bad)
    for wrong in (public[:31], bytearray(public), public.hex()):
        assert not ed25519.is_prime_order_point(wrong)  # type: ignore[arg-type]
