"""Ed25519 signature verification (RFC 8032 §5.1.7) through libsodium, via PyNaCl.

Every issuer signature a verifier checks goes through here, one per bundle: it is the largest
single cost of verifying a bundle. libsodium's `crypto_sign_open` does it in 53-55 µs on the
2-vCPU bench machine against 104-107 µs for OpenSSL through `cryptography` (docs/benchmarks.md,
"Bundle verification and the compact form"). Signing stays with `cryptography`, which holds
the private keys.

libsodium rejects everything OpenSSL rejects — a non-canonical `S` (`S ≥ L`), a wrong length,
an encoding of `R` other than the one the equation gives — and also a public key that is
non-canonically encoded or of small order, and an `R` of small order (docs/spec.md §3). No key
or signature made by RFC 8032 signing is affected: those are only ever forged on purpose.
"""

from typing import Final

from nacl.bindings import crypto_sign_open
from nacl.exceptions import BadSignatureError, CryptoError

__all__ = ["PUBLIC_KEY_SIZE", "SIGNATURE_SIZE", "verify"]

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
