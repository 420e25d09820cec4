"""Settings of the registry service, from `CERTREG_*` environment variables or a `.env` file.

Defaults need no set-up: a SQLite file and generated secrets under `data/`. In production set
`CERTREG_DATABASE_URL` (PostgreSQL), `CERTREG_SIGNING_KEY` and `CERTREG_KEY_ENCRYPTION_KEY`
from a secret store; the generated files are for local runs only.
"""

import base64
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from registry.core.note import NoteSigner, is_valid_key_name
from registry.db.engine import sqlite_url

__all__ = ["RegistrySettings"]


def _read_or_create(path: Path, *, content: str) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: two processes starting at once must not write two different secrets.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(content + "\n")
    return path.read_text(encoding="utf-8").strip()


class RegistrySettings(BaseSettings):
    """How the registry stores data, signs checkpoints and paces them."""

    model_config = SettingsConfigDict(
        env_prefix="CERTREG_", env_file=".env", extra="ignore", frozen=True
    )

    #: folder for the SQLite file and generated local secrets (CERTREG_DATA_DIR)
    data_dir: Path = Path("data")
    #: SQLAlchemy URL; unset: sqlite under data_dir (CERTREG_DATABASE_URL)
    database_url: str | None = None
    #: the log's origin line and the checkpoint-signing key's name (CERTREG_ORIGIN)
    origin: str = "certreg.localhost/log"
    #: the checkpoint-signing key as a C2SP signer key string; unset: data_dir/registry.skey
    signing_key: SecretStr | None = None
    #: 32 bytes, base64, that encrypt issuers' private keys; unset: data_dir/kek.b64
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

    def resolved_database_url(self) -> str:
        return self.database_url or sqlite_url(self.data_dir / "certreg.db")

    def checkpoint_signer(self) -> NoteSigner:
        """The registry's checkpoint signer, named by the origin."""
        if not is_valid_key_name(self.origin):
            raise ValueError(f"CERTREG_ORIGIN: got {self.origin!r}, want a key name (no spaces, +)")
        if self.signing_key is not None:
            signer = NoteSigner.from_skey(self.signing_key.get_secret_value())
        else:
            fresh = NoteSigner(name=self.origin, private_key=Ed25519PrivateKey.generate())
            skey = _read_or_create(self.data_dir / "registry.skey", content=fresh.skey())
            signer = NoteSigner.from_skey(skey)
        if signer.name != self.origin:
            raise ValueError(
                f"signing key name: got {signer.name!r}, want the origin {self.origin!r}"
            )
        return signer

    def kek(self) -> bytes:
        """The key-encryption key for issuers' private keys."""
        if self.key_encryption_key is not None:
            text = self.key_encryption_key.get_secret_value()
        else:
            fresh = base64.b64encode(secrets.token_bytes(32)).decode("ascii")
            text = _read_or_create(self.data_dir / "kek.b64", content=fresh)
        key = base64.b64decode(text, validate=True)
        if len(key) != 32:
            raise ValueError(f"key-encryption key: got {len(key)} bytes, want 32 (base64)")
        return key
