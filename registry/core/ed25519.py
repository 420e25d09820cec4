"""Ed25519 signatures (RFC 8032) through libsodium, via PyNaCl: verification, signing with a
key that `cryptography` holds, and the check that a public key is a prime-order point.

Every issuer signature a verifier checks goes through here, one per bundle: it is the largest
single cost of verifying a bundle. libsodium's `crypto_sign_open` does it in 53-55 µs on the
2-vCPU bench machine against 104-107 µs for OpenSSL through `cryptography` (docs/benchmarks.md,
"Bundle verification and the compact form"). The private keys stay `cryptography` objects (the
service seals and loads them); `signing_key` expands one into libsodium's form once, and `sign`
then takes 26 µs instead of OpenSSL's 42 (docs/benchmarks.md, "Service").

libsodium rejects everything OpenSSL rejects — a non-canonical `S` (`S ≥ L`), a wrong length,
an encoding of `R` other than the one the equation gives — and also a public key that is
non-canonically encoded or of small order, and an `R` of small order (docs/spec.md §3). No key
or signature made by RFC 8032 signing is affected: those are only ever forged on purpose.
"""

import hashlib
from dataclasses import dataclass
from typing import Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nacl.bindings import (
    crypto_core_ed25519_is_valid_point,
    crypto_sign,
    crypto_sign_open,
    crypto_sign_seed_keypair,
)
from nacl.exceptions import BadSignatureError, CryptoError

__all__ = [
    "PUBLIC_KEY_SIZE",
    "SIGNATURE_SIZE",
    "SigningKey",
    "is_prime_order_point",
    "sign",
    "signing_key",
    "verify",
]

PUBLIC_KEY_SIZE: Final = 32
SIGNATURE_SIZE: Final = 64


def verify(public_key: bytes, signature: bytes, message: bytes) -> bool:
    """Whether `signature` is the Ed25519 signature of `message` by the raw `public_key`."""
    # crypto_sign_open reads 32 bytes of key and 64 of signature without checking: check here.
    if (
        type(public_key) is not bytes
        or len(public_key) != PUBLIC_KEY_SIZE
        or type(signature) is not bytes
        or len(signature) != SIGNATURE_SIZE
    ):
        return False
    try:
        crypto_sign_open(signature + message, public_key)
    except (BadSignatureError, CryptoError):
        return False
    return True


def is_prime_order_point(public_key: bytes) -> bool:
    """Whether `public_key` is the canonical encoding of a point of the prime-order subgroup.

    Every key RFC 8032 generates is; a key of small or mixed order, or a non-canonical encoding,
    is made only to forge (docs/spec.md §3), and is never approved (§3a).
    """
    if type(public_key) is not bytes or len(public_key) != PUBLIC_KEY_SIZE:
        return False
    return bool(crypto_core_ed25519_is_valid_point(public_key))


@dataclass(frozen=True, slots=True, repr=False)
class SigningKey:
    """A private key in libsodium's form, with its raw public key and key id (H(public key))."""

    secret: bytes  # seed ‖ public key, as crypto_sign wants it
    public_key: bytes
    key_id: bytes


#: keys expanded so far, by seed: an issuer signs thousands of events with one key
_EXPANDED: dict[bytes, SigningKey] = {}
_EXPANDED_MAX: Final = 4096


def signing_key(private_key: Ed25519PrivateKey) -> SigningKey:
    """`private_key` in libsodium's form (expanded once per key and kept)."""
    seed = private_key.private_bytes_raw()
    found = _EXPANDED.get(seed)
    if found is None:
        public, secret = crypto_sign_seed_keypair(seed)
        found = SigningKey(secret, public, hashlib.sha256(public).digest())
        # Single dict operations are atomic: threads may expand a key twice, never corrupt it.
        if len(_EXPANDED) >= _EXPANDED_MAX:
            _EXPANDED.clear()
        _EXPANDED[seed] = found
    return found


def sign(key: SigningKey, message: bytes) -> bytes:
    """The 64-byte Ed25519 signature of `message` (deterministic, RFC 8032 §5.1.6)."""
    return crypto_sign(message, key.secret)[:SIGNATURE_SIZE]
