"""What anyone may read about the registry, for verifiers, auditors and the web pages: anchored
checkpoints, consistency proofs between anchored sizes, the log's entries up to the anchored
size, and the admitted issuers.

Read-only. Only what an anchored checkpoint covers is served (a prepared or sent checkpoint,
and events after the anchored size, are not shown: they may still change place until the chain
has them), except the log's head size, which `/v1/registry` reports as it is.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy.orm import Session, sessionmaker

from registry.assembly import SharedLogTree
from registry.db import models
from registry.db.engine import reading
from registry.db.repositories import CheckpointRepository, IssuerRepository, LogRepository
from registry.errors import InvalidRequestError

__all__ = ["MAX_ENTRIES", "AnchoredCheckpoint", "IssuerProfile", "TransparencyService"]

#: the most log entries one call returns
MAX_ENTRIES: Final = 1000


@dataclass(frozen=True)
class AnchoredCheckpoint:
    """An anchored checkpoint and where it is on chain; anchored rows never change."""

    index: int
    tree_size: int
    log_root: bytes
    map_root: bytes
    note: str
    block_number: int | None
    block_timestamp: int | None
    tx_hash: str | None

    @classmethod
    def from_row(cls, row: models.Checkpoint) -> "AnchoredCheckpoint":
        return cls(
            index=row.index,
            tree_size=row.tree_size,
            log_root=row.log_root,
            map_root=row.map_root,
            note=row.note,
            block_number=row.block_number,
            block_timestamp=row.block_timestamp,
            tx_hash=row.tx_hash,
        )


@dataclass(frozen=True)
class IssuerProfile:
    """An admitted issuer as people see it (names and accreditation are not in the records)."""

    id: str
    name_vi: str
    name_en: str
    accreditation: str
    kinds: tuple[str, ...] = ()

    @classmethod
    def from_row(cls, row: models.Issuer) -> "IssuerProfile":
        return cls(
            id=row.id,
            name_vi=row.name_vi,
            name_en=row.name_en,
            accreditation=row.accreditation,
            kinds=tuple(row.kinds),
        )


class TransparencyService:
    """Read-only look-ups over one database; one per process, shared by its threads."""

    def __init__(self, *, sessions: sessionmaker[Session], log_tree: SharedLogTree) -> None:
        self._sessions = sessions
        self._reading = reading(sessions)  # no write lock on SQLite
        self._tree = log_tree

    # -- the log and its checkpoints --------------------------------------------------------------

    def log_size(self) -> int:
        """Events appended so far (anchored or not)."""
        with self._reading() as session:
            return LogRepository(session).tree_size()

    def anchored_size(self) -> int:
        """The tree size of the latest anchored checkpoint (0 before the first)."""
        with self._reading() as session:
            latest = CheckpointRepository(session).latest_anchored()
        return 0 if latest is None else latest.tree_size

    def checkpoints(self, *, start: int = 0, limit: int = 100) -> list[AnchoredCheckpoint]:
        """Anchored checkpoints from index `start`, oldest first, at most `limit`."""
        with self._reading() as session:
            rows = CheckpointRepository(session).anchored(start=start, limit=limit)
            return [AnchoredCheckpoint.from_row(row) for row in rows]

    def checkpoint(self, index: int) -> AnchoredCheckpoint | None:
        """Anchored checkpoint `index`, or None (none, or not anchored yet)."""
        with self._reading() as session:
            row = CheckpointRepository(session).get(index)
            if row is None or row.state != "anchored":
                return None
            return AnchoredCheckpoint.from_row(row)

    def consistency_proof(self, *, size1: int, size2: int) -> list[bytes]:
        """RFC 9162 consistency proof that the tree of `size2` extends `size1`, both within the
        anchored size; `InvalidRequestError` otherwise."""
        anchored = self.anchored_size()
        if not 1 <= size1 <= size2 <= anchored:
            raise InvalidRequestError(
                f"sizes: got from={size1} to={size2}, want 1 <= from <= to <= {anchored} (anchored)"
            )
        return self._tree.at(size2).consistency_proof(size1=size1, size2=size2)

    def entries(self, *, start: int, end: int) -> list[Any]:
        """Log entries [start, end) as JSON (the canonical JSON of each is its leaf), within
        the anchored size and at most `MAX_ENTRIES`; `InvalidRequestError` otherwise."""
        anchored = self.anchored_size()
        if not 0 <= start < end <= anchored or end - start > MAX_ENTRIES:
            raise InvalidRequestError(
                f"range: got [{start}, {end}), want start < end <= {anchored} (anchored) "
                f"and at most {MAX_ENTRIES} entries"
            )
        with self._reading() as session:
            return [json.loads(entry) for entry in LogRepository(session).entries(start, end)]

    # -- issuers ----------------------------------------------------------------------------------

    def issuer(self, issuer_id: str) -> IssuerProfile | None:
        with self._reading() as session:
            row = IssuerRepository(session).get(issuer_id)
            return None if row is None else IssuerProfile.from_row(row)

    def issuers(self) -> Sequence[IssuerProfile]:
        """Every admitted issuer, by id."""
        with self._reading() as session:
            return [IssuerProfile.from_row(row) for row in IssuerRepository(session).all()]
