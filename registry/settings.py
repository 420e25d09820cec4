"""Settings of the registry service, from `CERTREG_*` environment variables or a `.env` file.

Secrets are never made up behind the operator's back: the checkpoint-signing key and the
key-encryption key come from `CERTREG_SIGNING_KEY` / `CERTREG_KEY_ENCRYPTION_KEY` (a secret store)
or from the files `certreg keys init` creates in `CERTREG_DATA_DIR` (mode 0600). Only
`certreg dev` (`CERTREG_DEV=true`) generates missing ones, for a local run: replicas that each
generated their own would sign with different keys (docs/deploy.md).
"""

import base64
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from registry.core.encoding import parse_b64
from registry.core.errors import EncodingError
from registry.core.note import NoteSigner, is_valid_key_name
from registry.db.engine import sqlite_url
from registry.errors import SettingsError

__all__ = ["KEK_FILE", "SIGNING_KEY_FILE", "RegistrySettings", "create_secret_file"]

#: where `certreg keys init` (and `certreg dev`) keep the secrets, inside CERTREG_DATA_DIR
SIGNING_KEY_FILE = "registry.skey"
KEK_FILE = "kek.b64"


def create_secret_file(path: Path, *, content: str) -> bool:
    """Write `content` to a new file readable by its owner only; False if it already exists.

    O_EXCL: two processes starting at once must not write two different secrets, and an existing
    secret is never overwritten (issuers' keys sealed under a KEK are lost with it)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(content + "\n")
    return True


def new_signing_key(origin: str) -> str:
    """A fresh checkpoint-signing key for `origin`, as a C2SP signer key string."""
    return NoteSigner(name=origin, private_key=Ed25519PrivateKey.generate()).skey()


def new_kek() -> str:
    """A fresh 32-byte key-encryption key, base64."""
    return base64.b64encode(secrets.token_bytes(32)).decode("ascii")


class RegistrySettings(BaseSettings):
    """How the registry stores data, signs checkpoints and paces them."""

    # hide_input_in_errors: a refused value may be a secret; errors must not quote it.
    model_config = SettingsConfigDict(
        env_prefix="CERTREG_",
        env_file=".env",
        extra="ignore",
        frozen=True,
        hide_input_in_errors=True,
    )

    #: a local development run (`certreg dev` sets it): missing secrets are generated under
    #: data_dir and the start-up checks of docs/deploy.md are skipped (CERTREG_DEV)
    dev: bool = False
    #: folder for the SQLite file and generated local secrets (CERTREG_DATA_DIR)
    data_dir: Path = Path("data")
    #: SQLAlchemy URL; unset: sqlite under data_dir (CERTREG_DATABASE_URL)
    database_url: str | None = None
    #: the log's origin line and the checkpoint-signing key's name (CERTREG_ORIGIN)
    origin: str = "certreg.localhost/log"
    #: the checkpoint-signing key as a C2SP signer key string; unset: the file
    #: data_dir/registry.skey made by `certreg keys init`
    signing_key: SecretStr | None = None
    #: 32 bytes, base64, that encrypt issuers' private keys; unset: the file data_dir/kek.b64 made
    #: by `certreg keys init`
    key_encryption_key: SecretStr | None = None
    #: form a checkpoint at least this often while events wait (CERTREG_CHECKPOINT_INTERVAL_S)
    checkpoint_interval_s: float = Field(default=10.0, ge=0)
    #: …or as soon as this many events wait (CERTREG_CHECKPOINT_MAX_EVENTS)
    checkpoint_max_events: int = Field(default=10_000, ge=1)
    #: how often a standby anchoring worker tries the lock: bounds a takeover after the active
    #: worker dies (CERTREG_WORKER_LOCK_RETRY_S)
    worker_lock_retry_s: float = Field(default=2.0, gt=0)
    #: the longest an accepted event may wait to be anchored, published to verifiers
    max_merge_delay_s: int = Field(default=300, ge=1)
    #: memory for proof serving per process, in MB: log tiles and deep status-map nodes are
    #: cached within it, the rest read from the database (CERTREG_PROOF_CACHE_MB)
    proof_cache_mb: int = Field(default=256, ge=16)
    #: largest batch of certificates one request may issue
    max_batch_size: int = Field(default=1000, ge=1)
    #: most certificates one issuer may issue per UTC day; unset (the default): no quota, so
    #: bulk imports are never refused (CERTREG_ISSUANCE_QUOTA_PER_DAY)
    issuance_quota_per_day: int | None = Field(default=None, ge=1)
    #: a password login's session ends this long after the login (CERTREG_SESSION_HOURS)…
    session_hours: float = Field(default=12.0, gt=0, le=24 * 30)
    #: …or after this long without a request (CERTREG_SESSION_IDLE_MINUTES)
    session_idle_minutes: float = Field(default=30.0, gt=0)
    #: the authority's Ed25519 public key (standard base64 of the raw 32 bytes) that its
    #: statements must be signed with (`certreg authority keygen` prints it); unset, the registry
    #: appends none (CERTREG_AUTHORITY_PUBLIC_KEY)
    authority_public_key: str | None = None

    def resolved_database_url(self) -> str:
        return self.database_url or sqlite_url(self.data_dir / "certreg.db")

    def checkpoint_signer(self) -> NoteSigner:
        """The registry's checkpoint signer, named by the origin."""
        if not is_valid_key_name(self.origin):
            raise ValueError(f"CERTREG_ORIGIN: got {self.origin!r}, want a key name (no spaces, +)")
        if self.signing_key is not None:
            skey = self.signing_key.get_secret_value()
        else:
            skey = self._secret_file(
                SIGNING_KEY_FILE, "CERTREG_SIGNING_KEY", lambda: new_signing_key(self.origin)
            )
        signer = NoteSigner.from_skey(skey)
        if signer.name != self.origin:
            raise ValueError(
                f"signing key name: got {signer.name!r}, want the origin {self.origin!r}"
            )
        return signer

    def authority_key(self) -> bytes | None:
        """The authority's raw public key, or None when none is configured."""
        if self.authority_public_key is None:
            return None
        try:
            key = parse_b64(self.authority_public_key.strip(), size=32, what="key")
        except EncodingError:
            raise SettingsError(
                "CERTREG_AUTHORITY_PUBLIC_KEY: got a value that is not the base64 of 32 bytes, "
                "want the key `certreg authority keygen` printed"
            ) from None
        return key

    def kek(self) -> bytes:
        """The key-encryption key for issuers' private keys."""
        if self.key_encryption_key is not None:
            text = self.key_encryption_key.get_secret_value()
        else:
            text = self._secret_file(KEK_FILE, "CERTREG_KEY_ENCRYPTION_KEY", new_kek)
        key = base64.b64decode(text, validate=True)
        if len(key) != 32:
            raise ValueError(f"key-encryption key: got {len(key)} bytes, want 32 (base64)")
        return key

    def has_secret(self, name: Literal["signing_key", "key_encryption_key"]) -> bool:
        """Whether the secret `name` ("signing_key" or "key_encryption_key") is configured: set,
        or its file present in data_dir."""
        if getattr(self, name) is not None:
            return True
        file = SIGNING_KEY_FILE if name == "signing_key" else KEK_FILE
        return (self.data_dir / file).is_file()

    def _secret_file(self, file: str, setting: str, fresh: Callable[[], str]) -> str:
        path = self.data_dir / file
        if self.dev:
            create_secret_file(path, content=fresh())
        try:
            return path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            raise SettingsError(
                f"{setting}: got nothing (and no {path}), want the secret from your secret store, "
                f"or run `certreg keys init` to create {path}"
            ) from None
