"""Certificates and their lifecycle: issue (one or a batch), suspend, reinstate, withdraw,
supersede, and the reads of the stored records.

Every change appends exactly one event, signed with the issuer's active key, in the same
transaction as the record change; the log head row serialises appends so `seq` has no gaps.
`_LogAppend` is the one path by which an event is signed and enters the log. The status map
and the log's tree are derived from the events when a checkpoint is formed
(`registry.checkpointing`), not on this path; the transitions allowed are the core's
(`registry.core.lifecycle`), the same rules an auditor replays the log with.
"""

import datetime as dt
import json
import math
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from registry.accounts import Actor, record_audit
from registry.clock import naive_utc, utc_now
from registry.core.canonical import canonical_json, normalize
from registry.core.encoding import hex0x
from registry.core.errors import CoreError, SignatureError
from registry.core.events import (
    ISSUER_STATEMENT,
    Event,
    EventType,
    sign_event,
    verify_event_signature,
)
from registry.core.governance import parse_log_entry
from registry.core.lifecycle import ALLOWED_FROM, NEXT_STATUS, SUPERSEDABLE
from registry.db import models
from registry.db.engine import reading
from registry.db.repositories import CertificateRepository, LogRepository
from registry.errors import (
    ConflictError,
    ForbiddenError,
    IllegalTransitionError,
    InvalidRequestError,
    NotFoundError,
    QuotaExceededError,
)
from registry.governance import check_admission
from registry.issuers import Issuers, IssuerSigner
from registry.records import (
    Submission,
    build_record,
    certificate_id_for,
    holder_of,
    record_fields,
    record_from_signer,
    same_submission,
    stored_form,
)

__all__ = [
    "CertificateView",
    "Certificates",
    "HistoryEntry",
    "IssueResult",
    "SignedItem",
    "StatementResult",
    "effective_status",
    "review_required",
]


def effective_status(status: str, valid_until: dt.date | None, *, today: dt.date) -> str:
    """The stored lifecycle status, or `expired` for a valid certificate after its last day."""
    if status == "valid" and valid_until is not None and today > valid_until:
        return "expired"
    return status


@dataclass(frozen=True)
class CertificateView:
    """A certificate as the service returns it."""

    id: str
    issuer_id: str
    number: str
    kind: str
    status: str  # effective: expired is derived from valid_until
    record: dict[str, Any]
    record_hash: bytes
    last_event_seq: int
    supersedes: str | None
    superseded_by: str | None

    @classmethod
    def from_row(cls, row: models.Certificate, *, today: dt.date) -> "CertificateView":
        return cls(
            id=row.id,
            issuer_id=row.issuer_id,
            number=row.number,
            kind=row.kind,
            status=effective_status(row.status, row.valid_until, today=today),
            record=json.loads(row.record),
            record_hash=row.record_hash,
            last_event_seq=row.last_event_seq,
            supersedes=row.supersedes,
            superseded_by=row.superseded_by,
        )

    @classmethod
    def from_columns(
        cls, columns: dict[str, Any], record: dict[str, Any], *, today: dt.date
    ) -> "CertificateView":
        """The view of a row about to be inserted (`columns`), its record already parsed."""
        return cls(
            id=columns["id"],
            issuer_id=columns["issuer_id"],
            number=columns["number"],
            kind=columns["kind"],
            status=effective_status(columns["status"], columns["valid_until"], today=today),
            record=record,
            record_hash=columns["record_hash"],
            last_event_seq=columns["last_event_seq"],
            supersedes=columns["supersedes"],
            superseded_by=columns["superseded_by"],
        )


@dataclass(frozen=True)
class HistoryEntry:
    """One log entry about a certificate, as its history lists it."""

    seq: int
    #: the event's type (issue, suspend, …), or the authority's statement's
    type: str
    at: dt.datetime
    #: the CB whose event it is (for the authority's statements, the CB concerned)
    issuer_id: str
    reason: str | None
    by_authority: bool
    #: the certificate the entry names: another one for the supersede that replaced this one
    certificate_id: str


#: the entries a certificate's history shows: a certificate changes a few times in its life
HISTORY_LIMIT: Final = 200


@dataclass(frozen=True)
class SignedItem:
    """A statement an issuer signed (its JSON, `signature` included) and, for `issue` and
    `supersede`, the record it hashed."""

    statement: dict[str, Any]
    record: dict[str, Any] | None = None


@dataclass(frozen=True)
class IssueResult:
    certificate: CertificateView
    created: bool  # False: the same record was already issued (idempotent repeat)


@dataclass
class _Pending:
    """One certificate of a batch being issued."""

    certificate_id: str
    record: dict[str, Any] | None  # None: an idempotent repeat of `existing`
    existing: models.Certificate | None = None


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _nfc_record(record: dict[str, Any]) -> dict[str, Any]:
    # Search columns and the stored text use the same NFC spelling the hash is computed over.
    normalized = normalize(record)
    assert isinstance(normalized, dict)
    return normalized


class _LogAppend:
    """Appends events at the log head, which the caller locked (`LogRepository.lock_head`) at
    the start of its transaction: the one way an event is written. `event` signs one with the
    issuer's hosted key; `statement` appends one the issuer signed itself. `write` inserts them
    and advances the head, in the caller's transaction."""

    def __init__(
        self, session: Session, signer: IssuerSigner | None, *, seq: int, at: dt.datetime
    ) -> None:
        self._session = session
        self._signer = signer
        self.seq = seq  # the next event's
        self._at = at
        self._stored_at = naive_utc(at)
        self._rows: list[dict[str, Any]] = []

    def event(
        self,
        kind: EventType,
        certificate_id: str,
        record_hash: bytes,
        *,
        reason: str | None = None,
        supersedes: str | None = None,
        admission_seq: int | None = None,
    ) -> Event:
        assert self._signer is not None  # a log of statements signs nothing
        event = sign_event(
            Event(
                seq=self.seq,
                type=kind,
                certificate_id=certificate_id,
                record_hash=record_hash,
                issuer_id=self._signer.issuer_id,
                key_id=self._signer.key_id,
                at=self._at,
                reason=reason,
                supersedes=supersedes,
                admission_seq=admission_seq,
            ),
            self._signer.private_key,
        )
        return self._append(event)

    def statement(self, event: Event) -> Event:
        """Append an issuer statement (version 2, docs/spec.md §3.1) made into an event at the
        next position: its `seq` and `admission_seq` are the registry's, the rest its signer's,
        whose signature the caller checked."""
        assert event.seq == self.seq
        assert event.version == ISSUER_STATEMENT
        return self._append(event)

    def _append(self, event: Event) -> Event:
        self._rows.append(
            {
                "seq": event.seq,
                "type": event.type.value,
                "certificate_id": event.certificate_id,
                "supersedes": event.supersedes,
                "issuer_id": event.issuer_id,
                "at": self._stored_at,
                "entry": event.leaf_bytes(),
            }
        )
        self.seq += 1
        return event

    def flush(self) -> None:
        """Insert the events appended so far, so the rest of the transaction reads them."""
        if self._rows:
            LogRepository(self._session).insert_events(self._rows)
            self._rows = []

    def write(self) -> None:
        self.flush()
        LogRepository(self._session).set_head(self.seq)


class _PendingIssues:
    """The new certificates of a request of statements, inserted together (one round trip
    instead of one per certificate) unless a later statement of the request needs them in the
    database first (`flush`)."""

    def __init__(self, session: Session, log: "_LogAppend", known: dict[str, Any]) -> None:
        self._session = session
        self._log = log
        self._known = known  # certificates already issued among those the request names
        self._rows: list[dict[str, Any]] = []
        self._ids: set[str] = set()

    def existing(self, certificate_id: str) -> models.Certificate | None:
        if certificate_id in self._ids:
            self.flush()
            return CertificateRepository(self._session).get(certificate_id)
        found: models.Certificate | None = self._known.get(certificate_id)
        return found

    def add(self, columns: dict[str, Any]) -> None:
        self._rows.append(columns)
        self._ids.add(columns["id"])

    def flush(self) -> None:
        if self._rows:
            CertificateRepository(self._session).insert_many(self._rows)
            self._rows = []
        self._log.flush()


@dataclass(frozen=True)
class StatementResult:
    """One issuer statement of a request: the certificate after it and the event's position."""

    certificate: CertificateView
    seq: int
    created: bool  # False: the certificate's last event was this very statement (a repeat)


#: how far an issuer statement's `at` may be from the registry's clock (docs/spec.md §3.1):
#: long enough for a signer offline for a few minutes, short enough that an old signed statement
#: cannot be replayed to undo a newer one
STATEMENT_PAST: Final = dt.timedelta(minutes=10)
STATEMENT_FUTURE: Final = dt.timedelta(minutes=5)
#: the events that put a certificate in force, and name the CB's admission in force
_IN_FORCE: Final = frozenset({EventType.ISSUE, EventType.SUPERSEDE, EventType.REINSTATE})
_IN_FORCE_TYPES: Final = frozenset(kind.value for kind in _IN_FORCE)


def review_required(session: Session, issuer_id: str) -> bool:
    """Whether the CB issues only from drafts a second person approved (docs/spec.md §11.12);
    read under the log's lock, which a change of the setting takes too, so that every issuance
    after the change sees it."""
    settings = session.get(models.IssuerSettings, issuer_id)
    return settings is not None and settings.review_required


def _refuse_without_review(session: Session, issuer_id: str, *, what: str) -> None:
    if review_required(session, issuer_id):
        raise ForbiddenError(
            f"issuer {issuer_id}: got a direct {what}, want a draft (POST /v1/drafts) that "
            "another person of the CB approves: the CB requires review (docs/spec.md §11.12)"
        )


class Certificates:
    """Certificates and their lifecycle, over one database; events signed with `issuers`' keys."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        issuers: Issuers,
        max_batch_size: int = 1000,
        quota_per_day: int | None = None,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self._sessions = sessions
        self._reading = reading(sessions)  # no write lock on SQLite
        self._issuers = issuers
        self._max_batch = max_batch_size
        self._quota = quota_per_day
        self._clock = clock

    def get(self, certificate_id: str) -> CertificateView:
        with self._reading() as session:
            row = CertificateRepository(session).get(certificate_id)
            if row is None:
                raise NotFoundError(f"certificate {certificate_id}: got an unknown id")
            return CertificateView.from_row(row, today=self._clock().date())

    def find(self, *, issuer_id: str, number: str) -> CertificateView:
        return self.get(certificate_id_for(issuer_id=issuer_id, number=number))

    def history(self, certificate_id: str) -> list[HistoryEntry]:
        """The log entries about a certificate, oldest first (at most `HISTORY_LIMIT`): its
        issue, changes, the authority's statements on it, and the supersede that replaced it."""
        with self._reading() as session:
            rows = LogRepository(session).events_of(certificate_id, limit=HISTORY_LIMIT)
            entries = []
            for row in rows:
                parsed = parse_log_entry(row.entry)
                if isinstance(parsed, Event):
                    reason, by_authority = parsed.reason, False
                else:
                    reason, by_authority = getattr(parsed.statement, "reason", None), True
                entries.append(
                    HistoryEntry(
                        seq=row.seq,
                        type=row.type,
                        at=row.at.replace(tzinfo=dt.UTC),
                        issuer_id=row.issuer_id,
                        reason=reason,
                        by_authority=by_authority,
                        certificate_id=row.certificate_id,
                    )
                )
            return entries

    def search(self, **filters: Any) -> tuple[list[CertificateView], int]:
        # Stored text is NFC (records.py): so are the terms it is compared with.
        for name in ("number", "holder", "tax_code"):
            if isinstance(filters.get(name), str):
                filters[name] = unicodedata.normalize("NFC", filters[name])
        today = self._clock().date()
        with self._reading() as session:
            rows, total = CertificateRepository(session).search(**filters)
            return [CertificateView.from_row(r, today=today) for r in rows], total

    def issue(
        self, issuer_id: str, submission: Submission, *, actor: Actor | None = None
    ) -> IssueResult:
        """Issue one certificate; the same record again returns the existing one."""
        return self.issue_batch(issuer_id, [submission], actor=actor)[0]

    def issue_batch(
        self,
        issuer_id: str,
        submissions: Sequence[Submission],
        *,
        actor: Actor | None = None,
        reviewed: bool = False,
    ) -> list[IssueResult]:
        """Issue certificates, all or none, one `issue` event each, in the order given.

        A submission equal to an already issued record is an idempotent repeat (not appended
        again); a different record under a taken number raises `ConflictError`. `reviewed`: a
        second person decided this issuance already (an import confirmed by another officer
        than its uploader, registry/imports.py), so a CB that requires review lets it through.
        """
        if not submissions:
            raise InvalidRequestError("batch: got no certificates, want at least one")
        if len(submissions) > self._max_batch:
            raise InvalidRequestError(
                f"batch: got {len(submissions)} certificates, want at most {self._max_batch}"
            )
        now = self._clock()
        with self._sessions.begin() as session:
            seq = LogRepository(session).lock_head()
            if not reviewed:
                _refuse_without_review(session, issuer_id, what="issue")
            return self.issue_locked(session, issuer_id, submissions, seq=seq, now=now, actor=actor)

    def issue_locked(
        self,
        session: Session,
        issuer_id: str,
        submissions: Sequence[Submission],
        *,
        seq: int,
        now: dt.datetime,
        actor: Actor | None,
    ) -> list[IssueResult]:
        """`issue_batch`'s work in the caller's transaction, which locked the log head (`seq`,
        `LogRepository.lock_head`) and decided that this issuance may happen: a draft's
        approval (registry.drafts) issues through here."""
        naive_now = naive_utc(now)
        today = now.date()
        issuer = self._issuers.issuer(session, issuer_id)
        admission = session.get(models.Admission, issuer_id)
        for position, submission in enumerate(submissions):
            self._check_submission(
                issuer, submission, position=position, admission=admission, today=today
            )
        pending = self._plan(session, issuer_id, submissions)
        signer = self._issuers.signer(session, issuer_id, approved=admission is not None)
        log = _LogAppend(session, signer, seq=seq, at=now)
        certificates: list[dict[str, Any]] = []
        views: dict[str, CertificateView] = {}
        for item in pending:
            if item.record is None:
                if item.existing is not None:
                    views[item.certificate_id] = CertificateView.from_row(
                        item.existing, today=today
                    )
                continue
            record_text, record_hash = stored_form(item.record)
            event = log.event(
                EventType.ISSUE,
                item.certificate_id,
                record_hash,
                admission_seq=None if admission is None else admission.admission_seq,
            )
            row = self._certificate_row(item.record, record_text, record_hash, event.seq, naive_now)
            certificates.append(row)
            views[item.certificate_id] = CertificateView.from_columns(
                row, json.loads(record_text), today=today
            )
        if self._quota is not None and certificates:
            self._count_issued(session, issuer_id, now, len(certificates))
        CertificateRepository(session).insert_many(certificates)
        log.write()
        if actor is not None and certificates:
            # One entry per request: a batch of 1,000 is one change by one person.
            record_audit(
                session,
                actor,
                "certificate.issue",
                now=now,
                target=f"certificate:{certificates[0]['id']}",
                issuer_id=issuer_id,
                detail={
                    "count": len(certificates),
                    "first_seq": certificates[0]["last_event_seq"],
                    "last_seq": certificates[-1]["last_event_seq"],
                },
            )
        results = []
        seen: set[str] = set()
        for item in pending:
            created = item.record is not None and item.certificate_id not in seen
            seen.add(item.certificate_id)
            results.append(IssueResult(certificate=views[item.certificate_id], created=created))
        return results

    def _count_issued(self, session: Session, issuer_id: str, now: dt.datetime, n: int) -> None:
        """Add `n` to the issuer's count for today (UTC), or refuse the whole batch if that
        exceeds the quota. Runs under the log's lock: replicas count one after another."""
        assert self._quota is not None
        day = now.astimezone(dt.UTC).date()
        row = session.get(models.IssuanceCount, (issuer_id, day))
        before = row.issued if row is not None else 0
        if before + n > self._quota:
            midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
            raise QuotaExceededError(
                f"issuer {issuer_id}: got {n} more certificates after {before} today (UTC), "
                f"want at most {self._quota} a day; none of this request was issued",
                retry_after_s=max(1, math.ceil((midnight - now).total_seconds())),
            )
        if row is None:
            session.add(models.IssuanceCount(issuer_id=issuer_id, day=day, issued=n))
        else:
            row.issued = before + n

    def _plan(
        self, session: Session, issuer_id: str, submissions: Sequence[Submission]
    ) -> list[_Pending]:
        # Every submission's record, whose id names it; a repeat's record (and salt) is dropped.
        records = [build_record(s, issuer_id=issuer_id) for s in submissions]
        ids = [certificate_id_for(issuer_id=issuer_id, number=s.number) for s in submissions]
        existing = CertificateRepository(session).existing(ids)
        planned: dict[str, tuple[Submission, dict[str, Any]]] = {}
        pending = []
        for position, (record, submission, certificate_id) in enumerate(
            zip(records, submissions, ids, strict=True)
        ):
            row = existing.get(certificate_id)
            if row is not None:
                if not same_submission(json.loads(row.record), submission):
                    raise ConflictError(
                        f"certificates[{position}]: got a different record under number "
                        f"{submission.number!r}, want the one issued as {certificate_id}"
                    )
                pending.append(_Pending(certificate_id, None, row))
            elif certificate_id in planned:
                first, _ = planned[certificate_id]
                if canonical_json(first.model_dump(mode="json")) != canonical_json(
                    submission.model_dump(mode="json")
                ):
                    raise ConflictError(
                        f"certificates[{position}]: got number {submission.number!r} twice "
                        "with different records, want one record per number"
                    )
                pending.append(_Pending(certificate_id, None))
            else:
                planned[certificate_id] = (submission, record)
                pending.append(_Pending(certificate_id, record))
        return pending

    def suspend(
        self, issuer_id: str, certificate_id: str, *, reason: str, actor: Actor | None = None
    ) -> CertificateView:
        return self._transition(issuer_id, certificate_id, EventType.SUSPEND, reason, actor)

    def reinstate(
        self, issuer_id: str, certificate_id: str, *, reason: str, actor: Actor | None = None
    ) -> CertificateView:
        return self._transition(issuer_id, certificate_id, EventType.REINSTATE, reason, actor)

    def withdraw(
        self, issuer_id: str, certificate_id: str, *, reason: str, actor: Actor | None = None
    ) -> CertificateView:
        return self._transition(issuer_id, certificate_id, EventType.WITHDRAW, reason, actor)

    def _transition(
        self,
        issuer_id: str,
        certificate_id: str,
        kind: EventType,
        reason: str,
        actor: Actor | None,
    ) -> CertificateView:
        now = self._clock()
        with self._sessions.begin() as session:
            seq = LogRepository(session).lock_head()
            issuer = self._issuers.issuer(session, issuer_id)
            row = self._own_certificate(session, issuer, certificate_id, change=kind)
            # Reinstating puts a certificate back in force, as issuing does (and names the
            # admission in force); suspending and withdrawing stay open to a suspended or
            # withdrawn CB, and name none.
            admission = (
                session.get(models.Admission, row.issuer_id)
                if kind is EventType.REINSTATE
                else None
            )
            if admission is not None and admission.status != "admitted":
                raise ForbiddenError(
                    f"issuer {row.issuer_id}: got status {admission.status} (log entry "
                    f"{admission.status_seq}), want admitted to reinstate"
                )
            if self._repeated(session, row, kind, reason):
                return CertificateView.from_row(row, today=now.date())
            allowed = ALLOWED_FROM[kind]
            assert allowed is not None
            self._check_transition(row, kind, allowed, today=now.date())
            signer = self._issuers.signer(session, row.issuer_id, approved=admission is not None)
            log = _LogAppend(session, signer, seq=seq, at=now)
            event = log.event(
                kind,
                row.id,
                row.record_hash,
                reason=reason,
                admission_seq=None if admission is None else admission.admission_seq,
            )
            log.write()
            if actor is not None:
                record_audit(
                    session,
                    actor,
                    f"certificate.{kind.value}",
                    now=now,
                    target=f"certificate:{row.id}",
                    issuer_id=row.issuer_id,
                    detail={"seq": event.seq, "reason": reason},
                )
            CertificateRepository(session).set_status(
                row.id, status=NEXT_STATUS[kind], event_seq=event.seq, now=naive_utc(now)
            )
            session.refresh(row)
            return CertificateView.from_row(row, today=now.date())

    def supersede(
        self,
        issuer_id: str,
        certificate_id: str,
        submission: Submission,
        *,
        reason: str | None = None,
        actor: Actor | None = None,
    ) -> IssueResult:
        """Issue `submission` as a new certificate replacing `certificate_id`: one event."""
        now = self._clock()
        with self._sessions.begin() as session:
            seq = LogRepository(session).lock_head()
            _refuse_without_review(session, issuer_id, what="supersede")
            return self.supersede_locked(
                session,
                issuer_id,
                certificate_id,
                submission,
                seq=seq,
                now=now,
                reason=reason,
                actor=actor,
            )

    def supersede_locked(
        self,
        session: Session,
        issuer_id: str,
        certificate_id: str,
        submission: Submission,
        *,
        seq: int,
        now: dt.datetime,
        reason: str | None,
        actor: Actor | None,
    ) -> IssueResult:
        """`supersede`'s work in the caller's transaction, which locked the log head (`seq`)
        and decided that this replacement may be issued (a draft's approval)."""
        issuer = self._issuers.issuer(session, issuer_id)
        old = self._own_certificate(session, issuer, certificate_id, change=EventType.SUPERSEDE)
        admission = session.get(models.Admission, issuer_id)
        self._check_submission(
            issuer, submission, position=0, admission=admission, today=now.date()
        )
        new_id = certificate_id_for(issuer_id=issuer_id, number=submission.number)
        if new_id == old.id:
            raise ConflictError(
                f"number: got {submission.number!r}, want a new number for the replacement"
            )
        if CertificateRepository(session).get(new_id) is not None:
            raise ConflictError(
                f"number: got {submission.number!r}, already issued as {new_id}; "
                "want a new certificate to replace the old one"
            )
        self._check_transition(old, EventType.SUPERSEDE, SUPERSEDABLE, today=now.date())
        record = _nfc_record(build_record(submission, issuer_id=issuer_id, supersedes=old.id))
        record_text, record_hash = stored_form(record)
        signer = self._issuers.signer(session, issuer_id, approved=admission is not None)
        log = _LogAppend(session, signer, seq=seq, at=now)
        event = log.event(
            EventType.SUPERSEDE,
            new_id,
            record_hash,
            reason=reason,
            supersedes=old.id,
            admission_seq=None if admission is None else admission.admission_seq,
        )
        row = self._certificate_row(record, record_text, record_hash, event.seq, naive_utc(now))
        row["supersedes"] = old.id
        CertificateRepository(session).insert_many([row])
        log.write()
        CertificateRepository(session).set_status(
            old.id,
            status="superseded",
            event_seq=event.seq,
            now=naive_utc(now),
            superseded_by=new_id,
        )
        if actor is not None:
            record_audit(
                session,
                actor,
                "certificate.supersede",
                now=now,
                target=f"certificate:{new_id}",
                issuer_id=issuer_id,
                detail={"seq": event.seq, "supersedes": old.id, "reason": reason},
            )
        new_row = CertificateRepository(session).get(new_id)
        assert new_row is not None
        return IssueResult(
            certificate=CertificateView.from_row(new_row, today=now.date()), created=True
        )

    def append_statements(
        self, issuer_id: str, items: Sequence[SignedItem], *, actor: Actor | None = None
    ) -> list[StatementResult]:
        """Append statements the CB signed with a key it keeps (docs/spec.md §3.1), all or
        none, in the order given: each checked as the registry's own change of that kind is
        (scope, transitions, ownership), and signed by the CB's active key the authority
        approved, dated within the window around the registry's clock and no earlier than the
        certificate's previous event. The very statement of a certificate's last event again is
        a repeat, answered without appending."""
        if not items:
            raise InvalidRequestError("statements: got none, want at least one")
        if len(items) > self._max_batch:
            raise InvalidRequestError(
                f"statements: got {len(items)}, want at most {self._max_batch}"
            )
        now = self._clock()
        today = now.date()
        with self._sessions.begin() as session:
            seq = LogRepository(session).lock_head()
            issuer = self._issuers.issuer(session, issuer_id)
            admission = session.get(models.Admission, issuer_id)
            key = self._issuers.active_key(session, issuer_id, approved=True)
            log = _LogAppend(session, None, seq=seq, at=now)
            named = [i.statement.get("certificate_id") for i in items]
            known = CertificateRepository(session).existing(c for c in named if isinstance(c, str))
            pending = _PendingIssues(session, log, dict(known))
            results: list[StatementResult] = []
            issued = 0
            for position, item in enumerate(items):
                event = self._signed_event(
                    item, position=position, seq=log.seq, key=key, now=now, admission=admission
                )
                if event.type is not EventType.ISSUE:
                    pending.flush()  # it changes a certificate: the database must hold it
                result = self._apply_statement(
                    session,
                    issuer,
                    event,
                    item,
                    position=position,
                    admission=admission,
                    now=now,
                    pending=pending,
                )
                if result is None:  # a repeat: nothing appended
                    row = CertificateRepository(session).get(event.certificate_id)
                    assert row is not None
                    view = CertificateView.from_row(row, today=today)
                    results.append(
                        StatementResult(certificate=view, seq=row.last_event_seq, created=False)
                    )
                    continue
                log.statement(event)
                issued += event.type in (EventType.ISSUE, EventType.SUPERSEDE)
                results.append(StatementResult(certificate=result, seq=event.seq, created=True))
            if self._quota is not None and issued:
                self._count_issued(session, issuer_id, now, issued)
            pending.flush()
            log.write()
            appended = [r for r in results if r.created]
            if actor is not None and appended:
                record_audit(
                    session,
                    actor,
                    "certificate.statements",
                    now=now,
                    target=f"certificate:{appended[0].certificate.id}",
                    issuer_id=issuer_id,
                    detail={
                        "count": len(appended),
                        "first_seq": appended[0].seq,
                        "last_seq": appended[-1].seq,
                        "key_id": hex0x(key.key_id),
                    },
                )
        return results

    def _signed_event(
        self,
        item: SignedItem,
        *,
        position: int,
        seq: int,
        key: models.IssuerKey,
        now: dt.datetime,
        admission: models.Admission | None,
    ) -> Event:
        """The statement as the event it becomes at `seq`, its signature and date checked."""
        where = f"statements[{position}]"
        try:
            # The admission in force is named by the events that put a certificate in force
            # (the parser refuses it on any other type, so a wrong `type` still fails there).
            in_force = item.statement.get("type") in _IN_FORCE_TYPES
            event = Event.from_statement(
                item.statement,
                seq=seq,
                admission_seq=admission.admission_seq
                if in_force and admission is not None
                else None,
            )
        except CoreError as exc:
            raise InvalidRequestError(f"{where}: {exc}") from exc
        if event.issuer_id != key.issuer_id:
            raise ForbiddenError(
                f"{where}.issuer_id: got {event.issuer_id!r}, want the authenticated issuer "
                f"{key.issuer_id!r}"
            )
        if event.key_id != key.key_id:
            raise ForbiddenError(
                f"{where}.key_id: got {hex0x(event.key_id)}, want {hex0x(key.key_id)}, the "
                f"active key the authority approved for {key.issuer_id}"
            )
        try:
            verify_event_signature(event, key.public_key)
        except SignatureError as exc:
            raise InvalidRequestError(f"{where}: {exc}") from exc
        if not now - STATEMENT_PAST <= event.at <= now + STATEMENT_FUTURE:
            raise InvalidRequestError(
                f"{where}.at: got {event.at.isoformat()}, want within "
                f"{int(STATEMENT_PAST.total_seconds() // 60)} min before and "
                f"{int(STATEMENT_FUTURE.total_seconds() // 60)} min after the registry's clock "
                f"({now.isoformat()}): sign statements when you send them"
            )
        if event.type is not EventType.ISSUE and event.type is not EventType.SUPERSEDE:
            if item.record is not None:
                raise InvalidRequestError(
                    f"{where}.record: got one for a {event.type.value}, want none"
                )
            if event.reason is None:
                raise InvalidRequestError(
                    f"{where}.reason: got none, want the reason for the {event.type.value}"
                )
        return event

    def _apply_statement(
        self,
        session: Session,
        issuer: models.Issuer,
        event: Event,
        item: SignedItem,
        *,
        position: int,
        admission: models.Admission | None,
        now: dt.datetime,
        pending: "_PendingIssues",
    ) -> CertificateView | None:
        """Check `event` against the certificate it changes and change it (the event itself is
        appended by the caller; a new certificate is left to `pending`); None for a repeat of
        the certificate's last event."""
        where = f"statements[{position}]"
        today = now.date()
        repository = CertificateRepository(session)
        kind = event.type
        if kind is EventType.ISSUE or kind is EventType.SUPERSEDE:
            if kind is EventType.ISSUE and event.supersedes is not None:
                raise InvalidRequestError(
                    f"{where}.supersedes: got it on an issue, want a supersede statement to "
                    "replace a certificate"
                )
            try:
                submission, record = record_from_signer(
                    item.record, issuer_id=issuer.id, supersedes=event.supersedes
                )
            except ValueError as exc:
                raise InvalidRequestError(f"{where}: {exc}") from exc
            self._check_submission(
                issuer, submission, position=position, admission=admission, today=today
            )
            record_text, record_hash = stored_form(record)
            record_id = record_fields(record)["id"]
            if record_hash != event.record_hash or record_id != event.certificate_id:
                raise InvalidRequestError(
                    f"{where}: got record {record_id} hashing to {hex0x(record_hash)} and a "
                    f"statement about {event.certificate_id} with record_hash "
                    f"{hex0x(event.record_hash)}, want the statement of this record"
                )
            existing = pending.existing(event.certificate_id)
            if existing is not None:
                if self._same_statement(session, existing, event):
                    return None
                raise ConflictError(
                    f"{where}: got number {submission.number!r}, already issued as "
                    f"{existing.id}; want a new number"
                )
            old = None
            if event.supersedes is not None:
                old = self._own_certificate(
                    session, issuer, event.supersedes, change=EventType.SUPERSEDE
                )
                self._check_transition(old, EventType.SUPERSEDE, SUPERSEDABLE, today=today)
            columns = self._certificate_row(
                record, record_text, record_hash, event.seq, naive_utc(now)
            )
            columns["supersedes"] = event.supersedes
            pending.add(columns)
            if old is not None:
                repository.set_status(
                    old.id,
                    status="superseded",
                    event_seq=event.seq,
                    now=naive_utc(now),
                    superseded_by=event.certificate_id,
                )
            return CertificateView.from_columns(columns, json.loads(record_text), today=today)
        row = self._own_certificate(session, issuer, event.certificate_id, change=kind)
        if event.record_hash != row.record_hash:
            raise InvalidRequestError(
                f"{where}.record_hash: got {hex0x(event.record_hash)}, want the certificate's "
                f"{hex0x(row.record_hash)}"
            )
        if self._same_statement(session, row, event):
            return None
        self._check_in_order(session, row.id, event, where=where)
        if (
            kind is EventType.REINSTATE
            and admission is not None
            and (admission.status != "admitted")
        ):
            raise ForbiddenError(
                f"issuer {row.issuer_id}: got status {admission.status} (log entry "
                f"{admission.status_seq}), want admitted to reinstate"
            )
        allowed = ALLOWED_FROM[kind]
        assert allowed is not None
        self._check_transition(row, kind, allowed, today=today)
        repository.set_status(
            row.id, status=NEXT_STATUS[kind], event_seq=event.seq, now=naive_utc(now)
        )
        session.refresh(row)
        return CertificateView.from_row(row, today=today)

    @staticmethod
    def _check_in_order(session: Session, certificate_id: str, event: Event, *, where: str) -> None:
        """A statement is dated no earlier than the certificate's events before it, and is not
        one of them again (§3.1): an old signed statement cannot be replayed to undo a newer one,
        even within the second of its `at`."""
        signed = event.signing_bytes()
        entries = session.scalars(
            select(models.Event.entry)
            .where(models.Event.certificate_id == certificate_id)
            .order_by(models.Event.seq.desc())
        )
        # Every event of the certificate (a handful): their `at` is the signer's clock, so not
        # ordered by `seq` more closely than the window of §3.1.
        for entry in entries:
            earlier = parse_log_entry(entry)
            if not isinstance(earlier, Event):
                continue  # the authority's action on it: dated by the authority's clock
            if earlier.at > event.at or (
                earlier.version == ISSUER_STATEMENT and earlier.signing_bytes() == signed
            ):
                raise ConflictError(
                    f"{where}.at: got {event.at.isoformat()}, want a statement not appended "
                    f"before and dated no earlier than the certificate's event {earlier.seq} "
                    f"({earlier.at.isoformat()}): a statement is appended in order, once"
                )

    @staticmethod
    def _last_event(session: Session, row: models.Certificate) -> Event | None:
        """The entry that last changed the certificate, if it is a certificate event (None: the
        authority acted on it, docs/spec.md §3a.1)."""
        entry = LogRepository(session).entry(row.last_event_seq)
        assert entry is not None
        last = parse_log_entry(entry)
        return last if isinstance(last, Event) else None

    @classmethod
    def _same_statement(cls, session: Session, row: models.Certificate, event: Event) -> bool:
        """Whether the certificate's last event is `event`'s very statement (a client retrying
        after a lost answer): the same signed bytes and signature."""
        last = cls._last_event(session, row)
        return (
            last is not None
            and last.version == ISSUER_STATEMENT
            and last.certificate_id == event.certificate_id
            and last.signature == event.signature
            and last.signing_bytes() == event.signing_bytes()
        )

    def check_draft(
        self,
        session: Session,
        issuer_id: str,
        submission: Submission,
        *,
        supersedes: str | None,
        today: dt.date,
    ) -> None:
        """What issuance would check of `submission` that can be checked before it is issued
        (a draft, registry.drafts): the caller's CB, its kinds and admission on `today`, a
        number not issued yet, and for a replacement the certificate it replaces (the CB's,
        of a kind it may issue, in a status that may be superseded). The same checks run again
        when the draft is issued."""
        issuer = self._issuers.issuer(session, issuer_id)
        admission = session.get(models.Admission, issuer_id)
        self._check_submission(issuer, submission, position=0, admission=admission, today=today)
        new_id = certificate_id_for(issuer_id=issuer_id, number=submission.number)
        if CertificateRepository(session).get(new_id) is not None:
            raise ConflictError(
                f"number: got {submission.number!r}, already issued as {new_id}; want a new "
                "number for a draft"
            )
        if supersedes is not None:
            old = self._own_certificate(
                session, issuer, supersedes, change=EventType.SUPERSEDE, lock=False
            )
            self._check_transition(old, EventType.SUPERSEDE, SUPERSEDABLE, today=today)

    # -- helpers ----------------------------------------------------------------------------------

    def _check_submission(
        self,
        issuer: models.Issuer,
        submission: Submission,
        *,
        position: int,
        admission: models.Admission | None,
        today: dt.date,
    ) -> None:
        if submission.issuer_id is not None and submission.issuer_id != issuer.id:
            raise ForbiddenError(
                f"certificates[{position}].issuer_id: got {submission.issuer_id!r}, "
                f"want the authenticated issuer {issuer.id!r} or nothing"
            )
        if admission is not None:
            # The authority's admission in force, when its statements admitted the CB (spec
            # §3a): status, kinds, standards and validity on the day of issue (UTC).
            check_admission(
                admission,
                kind=submission.kind.value,
                standards=list(submission.standards or []),
                on=today,
                position=position,
            )
        elif submission.kind.value not in issuer.kinds:
            raise ForbiddenError(
                f"certificates[{position}].kind: got {submission.kind.value!r}, "
                f"want one of the kinds {issuer.id} may issue: {', '.join(issuer.kinds)}"
            )

    def _own_certificate(
        self,
        session: Session,
        issuer: models.Issuer,
        certificate_id: str,
        *,
        change: EventType,
        lock: bool = True,
    ) -> models.Certificate:
        row = CertificateRepository(session).get(certificate_id, for_update=lock)
        if row is None:
            raise NotFoundError(f"certificate {certificate_id}: got an unknown id")
        if row.issuer_id != issuer.id:
            raise ForbiddenError(
                f"certificate {certificate_id}: got issuer {issuer.id}, want its issuer"
            )
        # The issuer of record may always withdraw, even a kind it may no longer issue: a
        # revocation for cause must never be blocked.
        if change is not EventType.WITHDRAW and row.kind not in issuer.kinds:
            raise ForbiddenError(
                f"certificate {certificate_id}: got kind {row.kind!r}, which {issuer.id} "
                "may no longer issue"
            )
        return row

    @staticmethod
    def _repeated(session: Session, row: models.Certificate, kind: EventType, reason: str) -> bool:
        """Whether this change is the certificate's last event again (a client retrying after
        a lost answer): then nothing is appended and the caller answers as the first time. The
        same change with another reason is refused, naming the event already recorded."""
        if row.status != NEXT_STATUS[kind]:
            return False
        last = Certificates._last_event(session, row)
        if last is None or last.type is not kind or last.certificate_id != row.id:
            return False
        if last.reason == unicodedata.normalize("NFC", reason):
            return True
        raise IllegalTransitionError(
            f"certificate {row.id}: got {kind.value} with reason {reason!r}, want the reason "
            f"of event {last.seq}, which already recorded it: {last.reason!r}"
        )

    @staticmethod
    def _check_transition(
        row: models.Certificate, kind: EventType, allowed: frozenset[str], *, today: dt.date
    ) -> None:
        if row.status not in allowed:
            raise IllegalTransitionError(
                f"certificate {row.id}: got {kind.value} of a {row.status} certificate, "
                f"want one that is {' or '.join(sorted(allowed))}"
            )
        # Withdrawal stays possible after expiry: a revocation for cause must always be recorded.
        if (
            kind is not EventType.WITHDRAW
            and effective_status(row.status, row.valid_until, today=today) == "expired"
        ):
            raise IllegalTransitionError(
                f"certificate {row.id}: got {kind.value} of a certificate that expired after "
                f"{row.valid_until}, want one still in its validity period"
            )

    @staticmethod
    def _certificate_row(
        record: dict[str, Any], record_text: str, record_hash: bytes, seq: int, now: dt.datetime
    ) -> dict[str, Any]:
        """The certificates row of a new record; `now` is naive UTC.

        The search columns use the NFC spelling the record is hashed in (`record_text`).
        """
        fields = record_fields(record)
        holder_name, tax_code = holder_of(fields)
        valid_until = fields.get("valid_until")
        return {
            "id": fields["id"],
            "issuer_id": fields["issuer_id"],
            "number": _nfc(fields["number"]),
            "kind": fields["kind"],
            "record": record_text,
            "record_hash": record_hash,
            "status": "valid",
            "issued_on": dt.date.fromisoformat(fields["issued_on"]),
            "valid_from": dt.date.fromisoformat(fields["valid_from"]),
            "valid_until": None if valid_until is None else dt.date.fromisoformat(valid_until),
            "holder_name": _nfc(holder_name),
            "holder_tax_code": None if tax_code is None else _nfc(tax_code),
            "supersedes": None,
            "superseded_by": None,
            "last_event_seq": seq,
            "created_at": now,
            "updated_at": now,
        }
