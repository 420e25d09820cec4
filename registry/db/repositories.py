"""Repositories: typed reads and writes over one session. They never commit or roll back."""

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any, Final, cast

from sqlalchemy import Table, func, or_, select, update
from sqlalchemy.orm import Session

from registry.db.models import (
    ApiKey,
    Certificate,
    Checkpoint,
    Event,
    Issuer,
    IssuerKey,
    LogHead,
)
from registry.db.stores import bulk_insert

__all__ = [
    "ApiKeyRepository",
    "CertificateRepository",
    "CheckpointRepository",
    "IssuerRepository",
    "LogRepository",
]

_CERTIFICATES: Final = cast(Table, Certificate.__table__)
_EVENTS: Final = cast(Table, Event.__table__)
_CHUNK = 500  # bound IN (...) lists: SQLite allows 32k parameters, but plans degrade well before
_IDS_CHUNK = 5000  # ids alone: an index-only lookup each


class IssuerRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, issuer_id: str) -> Issuer | None:
        return self.session.get(Issuer, issuer_id)

    def all(self) -> Sequence[Issuer]:
        return self.session.scalars(select(Issuer).order_by(Issuer.id)).all()

    def add(self, issuer: Issuer) -> None:
        self.session.add(issuer)

    def active_key(self, issuer_id: str) -> IssuerKey | None:
        return self.session.scalars(
            select(IssuerKey).where(IssuerKey.issuer_id == issuer_id, IssuerKey.state == "active")
        ).one_or_none()

    def keys(self, issuer_id: str) -> Sequence[IssuerKey]:
        return self.session.scalars(
            select(IssuerKey).where(IssuerKey.issuer_id == issuer_id).order_by(IssuerKey.created_at)
        ).all()

    def key(self, key_id: bytes) -> IssuerKey | None:
        return self.session.get(IssuerKey, key_id)

    def unregistered_keys(self) -> Sequence[IssuerKey]:
        """Approved keys not on chain yet, retired keys whose revocation is not on chain yet,
        and keys the authority revoked (whose revocation may have to move earlier)."""
        return self.session.scalars(
            select(IssuerKey)
            .where(
                or_(
                    IssuerKey.valid_from_block.is_(None) & (IssuerKey.state != "proposed"),
                    (IssuerKey.state == "retired") & IssuerKey.revoked_at_block.is_(None),
                    IssuerKey.state == "revoked",
                )
            )
            .order_by(IssuerKey.created_at)
        ).all()


class ApiKeyRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, key_id: str) -> ApiKey | None:
        return self.session.get(ApiKey, key_id)

    def add(self, api_key: ApiKey) -> None:
        self.session.add(api_key)


class CertificateRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, certificate_id: str, *, for_update: bool = False) -> Certificate | None:
        query = select(Certificate).where(Certificate.id == certificate_id)
        if for_update:
            query = query.with_for_update()
        return self.session.scalars(query).one_or_none()

    def get_many(self, certificate_ids: Iterable[str]) -> dict[str, Certificate]:
        ids = list(dict.fromkeys(certificate_ids))
        found: dict[str, Certificate] = {}
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            for row in self.session.scalars(select(Certificate).where(Certificate.id.in_(chunk))):
                found[row.id] = row
        return found

    def existing(self, certificate_ids: Iterable[str]) -> dict[str, Certificate]:
        """`get_many` for ids that are mostly new: which exist is one light query (ids only),
        and only those are loaded."""
        ids = list(dict.fromkeys(certificate_ids))
        connection = self.session.connection()
        present = [
            certificate_id
            for start in range(0, len(ids), _IDS_CHUNK)
            for certificate_id in connection.execute(
                select(Certificate.id).where(Certificate.id.in_(ids[start : start + _IDS_CHUNK]))
            ).scalars()
        ]
        return self.get_many(present) if present else {}

    def insert_many(self, rows: list[dict[str, Any]]) -> None:
        """Insert new certificates, each row giving every column."""
        # Not the ORM's bulk insert, which splits a batch into one statement per run of rows
        # with the same non-null columns.
        bulk_insert(self.session, _CERTIFICATES, rows)

    def set_status(
        self, certificate_id: str, *, status: str, event_seq: int, now: dt.datetime, **extra: Any
    ) -> None:
        self.session.execute(
            update(Certificate)
            .where(Certificate.id == certificate_id)
            .values(status=status, last_event_seq=event_seq, updated_at=now, **extra)
        )

    def search(
        self,
        *,
        issuer_id: str | None = None,
        number: str | None = None,
        holder: str | None = None,
        tax_code: str | None = None,
        kind: str | None = None,
        status: str | None = None,
        issued_from: dt.date | None = None,
        issued_until: dt.date | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[Sequence[Certificate], int]:
        """Matching certificates, newest first, and how many match in all; `issued_from` and
        `issued_until` bound the day of issue, both included."""
        query = select(Certificate)
        if issuer_id is not None:
            query = query.where(Certificate.issuer_id == issuer_id)
        if number is not None:
            query = query.where(Certificate.number == number)
        if holder is not None:
            query = query.where(Certificate.holder_name.contains(holder, autoescape=True))
        if tax_code is not None:
            query = query.where(Certificate.holder_tax_code == tax_code)
        if kind is not None:
            query = query.where(Certificate.kind == kind)
        if status is not None:
            query = query.where(Certificate.status == status)
        if issued_from is not None:
            query = query.where(Certificate.issued_on >= issued_from)
        if issued_until is not None:
            query = query.where(Certificate.issued_on <= issued_until)
        total = self.session.execute(
            select(func.count()).select_from(query.subquery())
        ).scalar_one()
        rows = self.session.scalars(
            query.order_by(Certificate.last_event_seq.desc()).limit(limit).offset(offset)
        ).all()
        return rows, int(total)


class LogRepository:
    """The log head and the events table."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def lock_head(self) -> int:
        """The log size, locking the head row until the transaction ends (PostgreSQL; SQLite
        transactions already hold the database write lock from BEGIN IMMEDIATE)."""
        return int(
            self.session.execute(
                select(LogHead.tree_size).where(LogHead.id == 1).with_for_update()
            ).scalar_one()
        )

    def tree_size(self) -> int:
        return int(
            self.session.execute(select(LogHead.tree_size).where(LogHead.id == 1)).scalar_one()
        )

    def set_head(self, tree_size: int) -> None:
        self.session.execute(update(LogHead).where(LogHead.id == 1).values(tree_size=tree_size))

    def insert_events(self, rows: list[dict[str, Any]]) -> None:
        """Insert events, each row giving every column."""
        bulk_insert(self.session, _EVENTS, rows)

    def entries(self, start: int, end: int) -> list[bytes]:
        """Leaf bytes of events [start, end), in order."""
        # Core, not the ORM: a checkpoint reads up to hundreds of thousands of them.
        query = select(Event.entry).where(Event.seq >= start, Event.seq < end).order_by(Event.seq)
        return list(self.session.connection().execute(query).scalars())

    def entry(self, seq: int) -> bytes | None:
        return self.session.execute(
            select(Event.entry).where(Event.seq == seq)
        ).scalar_one_or_none()

    def events_of(self, certificate_id: str, *, limit: int) -> list[Event]:
        """The entries about a certificate, oldest first: those naming it, and the one that
        superseded it (which names its replacement); both by an index."""
        naming = select(Event).where(Event.certificate_id == certificate_id)
        replacing = select(Event).where(Event.supersedes == certificate_id)
        found = {
            row.seq: row
            for query in (naming, replacing)
            for row in self.session.scalars(query.order_by(Event.seq).limit(limit))
        }
        return [found[seq] for seq in sorted(found)][:limit]

    def first_at_or_after(self, seq: int) -> dt.datetime | None:
        """When event `seq` was appended (None if there is none yet)."""
        return self.session.execute(select(Event.at).where(Event.seq == seq)).scalar_one_or_none()


class CheckpointRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def latest(self) -> Checkpoint | None:
        return self.session.scalars(
            select(Checkpoint).order_by(Checkpoint.index.desc()).limit(1)
        ).one_or_none()

    def latest_anchored(self) -> Checkpoint | None:
        return self.session.scalars(
            select(Checkpoint)
            .where(Checkpoint.state == "anchored")
            .order_by(Checkpoint.index.desc())
            .limit(1)
        ).one_or_none()

    def get(self, index: int) -> Checkpoint | None:
        return self.session.get(Checkpoint, index)

    def at_or_before(self, *, tree_size: int) -> Checkpoint | None:
        return self.session.scalars(
            select(Checkpoint)
            .where(Checkpoint.tree_size <= tree_size, Checkpoint.state == "anchored")
            .order_by(Checkpoint.index.desc())
            .limit(1)
        ).one_or_none()

    def first_covering(self, *, seq: int) -> Checkpoint | None:
        """The first anchored checkpoint whose log holds entry `seq`."""
        return self.session.scalars(
            select(Checkpoint)
            .where(Checkpoint.tree_size > seq, Checkpoint.state == "anchored")
            .order_by(Checkpoint.index)
            .limit(1)
        ).one_or_none()

    def anchored(self, *, start: int = 0, limit: int = 100) -> Sequence[Checkpoint]:
        return self.session.scalars(
            select(Checkpoint)
            .where(Checkpoint.state == "anchored", Checkpoint.index >= start)
            .order_by(Checkpoint.index)
            .limit(limit)
        ).all()

    def add(self, checkpoint: Checkpoint) -> None:
        self.session.add(checkpoint)
