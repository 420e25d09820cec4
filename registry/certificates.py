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
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from registry.accounts import Actor, record_audit
from registry.clock import naive_utc, utc_now
from registry.core.canonical import canonical_json, normalize
from registry.core.events import Event, EventType, sign_event
from registry.core.hashing import sha256
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
    CertificateSubmission,
    build_record,
    certificate_id_for,
    same_submission,
)

__all__ = ["CertificateView", "Certificates", "IssueResult", "effective_status"]


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
    """Signs events with one issuer's key and appends them at the log head, which the caller
    locked (`LogRepository.lock_head`) at the start of its transaction: the one way an event is
    written. `write` inserts them and advances the head, in the caller's transaction."""

    def __init__(
        self, session: Session, signer: IssuerSigner, *, seq: int, at: dt.datetime
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

    def write(self) -> None:
        log = LogRepository(self._session)
        log.insert_events(self._rows)
        log.set_head(self.seq)


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
        self, issuer_id: str, submission: CertificateSubmission, *, actor: Actor | None = None
    ) -> IssueResult:
        """Issue one certificate; the same record again returns the existing one."""
        return self.issue_batch(issuer_id, [submission], actor=actor)[0]

    def issue_batch(
        self,
        issuer_id: str,
        submissions: Sequence[CertificateSubmission],
        *,
        actor: Actor | None = None,
    ) -> list[IssueResult]:
        """Issue certificates, all or none, one `issue` event each, in the order given.

        A submission equal to an already issued record is an idempotent repeat (not appended
        again); a different record under a taken number raises `ConflictError`.
        """
        if not submissions:
            raise InvalidRequestError("batch: got no certificates, want at least one")
        if len(submissions) > self._max_batch:
            raise InvalidRequestError(
                f"batch: got {len(submissions)} certificates, want at most {self._max_batch}"
            )
        now = self._clock()
        naive_now = naive_utc(now)
        today = now.date()
        with self._sessions.begin() as session:
            seq = LogRepository(session).lock_head()
            issuer = self._issuers.issuer(session, issuer_id)
            admission = session.get(models.Admission, issuer_id)
            for position, submission in enumerate(submissions):
                self._check_submission(
                    issuer, submission, position=position, admission=admission, today=today
                )
            pending = self._plan(session, issuer_id, submissions)
            log = _LogAppend(session, self._issuers.signer(session, issuer_id), seq=seq, at=now)
            certificates: list[dict[str, Any]] = []
            views: dict[str, CertificateView] = {}
            for item in pending:
                if item.record is None:
                    if item.existing is not None:
                        views[item.certificate_id] = CertificateView.from_row(
                            item.existing, today=today
                        )
                    continue
                # canonical_json normalises to NFC: the stored text is exactly what is hashed.
                record_bytes = canonical_json(item.record)
                record_hash = sha256(record_bytes)
                record_text = record_bytes.decode("utf-8")
                event = log.event(
                    EventType.ISSUE,
                    item.certificate_id,
                    record_hash,
                    admission_seq=None if admission is None else admission.admission_seq,
                )
                row = self._certificate_row(
                    item.record, record_text, record_hash, event.seq, naive_now
                )
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
        self, session: Session, issuer_id: str, submissions: Sequence[CertificateSubmission]
    ) -> list[_Pending]:
        # Every submission's record, whose id names it; a repeat's record (and salt) is dropped.
        records = [build_record(s, issuer_id=issuer_id) for s in submissions]
        existing = CertificateRepository(session).existing(r["id"] for r in records)
        planned: dict[str, tuple[CertificateSubmission, dict[str, Any]]] = {}
        pending = []
        for position, (record, submission) in enumerate(zip(records, submissions, strict=True)):
            certificate_id: str = record["id"]
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
            log = _LogAppend(session, self._issuers.signer(session, row.issuer_id), seq=seq, at=now)
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
        submission: CertificateSubmission,
        *,
        reason: str | None = None,
        actor: Actor | None = None,
    ) -> IssueResult:
        """Issue `submission` as a new certificate replacing `certificate_id`: one event."""
        now = self._clock()
        with self._sessions.begin() as session:
            seq = LogRepository(session).lock_head()
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
            record = _nfc_record(
                {**build_record(submission, issuer_id=issuer_id), "supersedes": old.id}
            )
            record_text = canonical_json(record).decode("utf-8")
            record_hash = sha256(record_text.encode("utf-8"))
            log = _LogAppend(session, self._issuers.signer(session, issuer_id), seq=seq, at=now)
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

    # -- helpers ----------------------------------------------------------------------------------

    def _check_submission(
        self,
        issuer: models.Issuer,
        submission: CertificateSubmission,
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
    ) -> models.Certificate:
        row = CertificateRepository(session).get(certificate_id, for_update=True)
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
        entry = LogRepository(session).entry(row.last_event_seq)
        assert entry is not None
        last = Event.from_leaf(entry)
        if last.type is not kind or last.certificate_id != row.id:
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
        holder = record["holder"]
        tax_code = holder.get("tax_code")
        valid_until = record.get("valid_until")
        return {
            "id": record["id"],
            "issuer_id": record["issuer_id"],
            "number": _nfc(record["number"]),
            "kind": record["kind"],
            "record": record_text,
            "record_hash": record_hash,
            "status": "valid",
            "issued_on": dt.date.fromisoformat(record["issued_on"]),
            "valid_from": dt.date.fromisoformat(record["valid_from"]),
            "valid_until": None if valid_until is None else dt.date.fromisoformat(valid_until),
            "holder_name": _nfc(holder["name"]),
            "holder_tax_code": None if tax_code is None else _nfc(tax_code),
            "supersedes": None,
            "superseded_by": None,
            "last_event_seq": seq,
            "created_at": now,
            "updated_at": now,
        }
