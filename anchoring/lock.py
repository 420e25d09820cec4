"""One active anchoring worker per database: a PostgreSQL advisory lock, or a file lock beside a
SQLite database. Several API replicas may each run a worker; only the lock holder anchors.

Both locks die with their holder (the advisory lock with its connection, the file lock with its
file descriptor), so a killed worker never blocks the next one.
"""

import fcntl
import os
from pathlib import Path
from types import TracebackType

from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url

from anchoring.errors import AnchoringError

__all__ = ["WorkerLock", "WorkerLockHeldError"]

# Any constant both sides agree on: "certreg" in ASCII, as a 64-bit advisory lock key.
_ADVISORY_KEY = int.from_bytes(b"certreg\x00", "big") & 0x7FFF_FFFF_FFFF_FFFF


class WorkerLockHeldError(AnchoringError):
    """Another worker holds the lock."""


class WorkerLock:
    """Context manager: `acquire()` or raise `WorkerLockHeldError`; released on exit."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: Connection | None = None
        self._fd: int | None = None

    def acquire(self) -> None:
        if self._engine.dialect.name == "postgresql":
            connection = self._engine.connect()
            got = connection.execute(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": _ADVISORY_KEY}
            ).scalar_one()
            connection.commit()
            if not got:
                connection.close()
                raise WorkerLockHeldError(
                    "anchoring worker: got the advisory lock taken, want it free"
                )
            self._connection = connection
            return
        database = make_url(str(self._engine.url)).database or ":memory:"
        path = Path(f"{database}.worker.lock")
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(fd)
            raise WorkerLockHeldError(f"anchoring worker: got {path} locked, want it free") from exc
        self._fd = fd

    def release(self) -> None:
        if self._connection is not None:
            self._connection.execute(
                text("SELECT pg_advisory_unlock(:key)"), {"key": _ADVISORY_KEY}
            )
            self._connection.commit()
            self._connection.close()
            self._connection = None
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "WorkerLock":
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
