"""Secrets the registry keeps: issuers' Ed25519 private keys (encrypted at rest with AES-256-GCM
under a key-encryption key from the settings) and issuers' API keys (only a hash is stored)."""

import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from registry.errors import RegistryError

__all__ = [
    "ApiKeySecret",
    "KeyEncryptor",
    "KeyStoreError",
    "api_key_hash",
    "load_key_file",
    "new_api_key",
    "new_key_file",
    "parse_api_key",
]

_NONCE = 12
_API_KEY = re.compile(r"crk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")


class KeyStoreError(RegistryError):
    """A stored private key cannot be decrypted (wrong key-encryption key, or tampered)."""


class KeyEncryptor:
    """AES-256-GCM with the key id as associated data, so a ciphertext moved to another key's
    row does not decrypt."""

    def __init__(self, kek: bytes) -> None:
        if len(kek) != 32:
            raise KeyStoreError(f"key-encryption key: got {len(kek)} bytes, want 32")
        self._aead = AESGCM(kek)

    def seal(self, private_key: Ed25519PrivateKey, *, key_id: bytes) -> bytes:
        nonce = secrets.token_bytes(_NONCE)
        return nonce + self._aead.encrypt(nonce, private_key.private_bytes_raw(), key_id)

    def open(self, sealed: bytes, *, key_id: bytes) -> Ed25519PrivateKey:
        try:
            seed = self._aead.decrypt(sealed[:_NONCE], sealed[_NONCE:], key_id)
        except InvalidTag as exc:
            raise KeyStoreError(
                f"issuer key 0x{key_id.hex()}: got a ciphertext that does not decrypt, "
                "want one sealed under CERTREG_KEY_ENCRYPTION_KEY"
            ) from exc
        return Ed25519PrivateKey.from_private_bytes(seed)

    def seal_bytes(self, data: bytes, *, context: bytes) -> bytes:
        """Another secret (a TOTP secret), bound to `context` (never a 32-byte key id)."""
        nonce = secrets.token_bytes(_NONCE)
        return nonce + self._aead.encrypt(nonce, data, context)

    def open_bytes(self, sealed: bytes, *, context: bytes) -> bytes:
        try:
            return self._aead.decrypt(sealed[:_NONCE], sealed[_NONCE:], context)
        except InvalidTag as exc:
            raise KeyStoreError(
                f"{context.decode(errors='replace')}: got a ciphertext that does not decrypt, "
                "want one sealed under CERTREG_KEY_ENCRYPTION_KEY"
            ) from exc


@dataclass(frozen=True)
class ApiKeySecret:
    """A new API key: `token` is shown once; `key_id` and `secret_hash` are stored."""

    key_id: str
    token: str
    secret_hash: bytes


def api_key_hash(secret: str) -> bytes:
    # The secret is 256 random bits: a plain hash is enough, no password hashing needed.
    return hashlib.sha256(secret.encode("ascii")).digest()


def new_api_key() -> ApiKeySecret:
    """`crk_<16 hex id>_<43 chars of base64url secret>`."""
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return ApiKeySecret(
        key_id=key_id, token=f"crk_{key_id}_{secret}", secret_hash=api_key_hash(secret)
    )


def parse_api_key(token: str) -> tuple[str, str] | None:
    """`(key_id, secret)` of a well-formed token, else None."""
    match = _API_KEY.fullmatch(token)
    return (match.group(1), match.group(2)) if match else None


def secret_matches(secret: str, stored_hash: bytes) -> bool:
    return hmac.compare_digest(api_key_hash(secret), stored_hash)


def new_key_file(path: Path) -> Ed25519PrivateKey:
    """A new Ed25519 key written to `path` as PKCS#8 PEM, readable by its owner only; a file
    already there is never overwritten (`FileExistsError`)."""
    key = Ed25519PrivateKey.generate()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    return key


def load_key_file(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 key `new_key_file` wrote; `ValueError` for a file that holds another."""
    key = load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path}: got a {type(key).__name__}, want an Ed25519 private key")
    return key
