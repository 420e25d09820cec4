"""The registry service: issuers, API keys, certificates and their lifecycle.

Every change appends exactly one event, signed with the issuer's key, in the same transaction
as the record change; the log head row serialises appends so `seq` has no gaps. The status map
and the log's tree are derived from the events when a checkpoint is formed
(`registry.checkpointing`), not on this path.
"""

import datetime as dt
import json
import re
import threading
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy.orm import Session, sessionmaker

from registry.core.canonical import canonical_json, normalize
from registry.core.events import Event, EventType, issuer_key_id, sign_event
from registry.core.hashing import sha256
from registry.core.lifecycle import ALLOWED_FROM, NEXT_STATUS, SUPERSEDABLE
from registry.db import models
from registry.db.repositories import (
    ApiKeyRepository,
    CertificateRepository,
    IssuerRepository,
    LogRepository,
)
from registry.errors import (
    AuthenticationError,
    ConflictError,
    ForbiddenError,
    IllegalTransitionError,
    InvalidRequestError,
    NotFoundError,
)
from registry.keys import KeyEncryptor, new_api_key, parse_api_key, secret_matches
from registry.records import (
    CertificateKind,
    CertificateSubmission,
    build_record,
    certificate_id_for,
    same_submission,
)

__all__ = [
    "CertificateView",
    "IssueResult",
    "IssuerCreated",
    "RegistryService",
    "effective_status",
    "utc_now",
]

_ISSUER_ID: Final = re.compile(r"[a-z0-9][a-z0-9-]{1,62}[a-z0-9]")


def utc_now() -> dt.datetime:
    """Now in UTC, whole seconds (the precision of a signed `at`)."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _naive(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


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


@dataclass(frozen=True)
class IssuerCreated:
    issuer_id: str
    key_id: bytes
    public_key: bytes
    api_key: str  # shown once


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


class RegistryService:
    """Issuers, API keys, certificates and their lifecycle, over one database."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        kek: bytes,
        max_batch_size: int = 1000,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self._sessions = sessions
        self._encryptor = KeyEncryptor(kek)
        self._max_batch = max_batch_size
        self._clock = clock
        self._signing_keys: dict[bytes, Ed25519PrivateKey] = {}
        self._keys_lock = threading.Lock()

    # -- issuers and keys -------------------------------------------------------------------------

    def add_issuer(
        self,
        *,
        issuer_id: str,
        name_vi: str,
        name_en: str,
        accreditation: str,
        kinds: Iterable[str],
        api_key_label: str = "initial",
    ) -> IssuerCreated:
        """Admit an issuer: generate its signing key and its first API key."""
        if _ISSUER_ID.fullmatch(issuer_id) is None:
            raise InvalidRequestError(
                f"issuer_id: got {issuer_id!r}, want 3-64 of a-z 0-9 and inner hyphens"
            )
        kind_values = sorted({CertificateKind(kind).value for kind in kinds})
        if not kind_values:
            raise InvalidRequestError("kinds: got none, want at least one certificate kind")
        now = _naive(self._clock())
        with self._sessions.begin() as session:
            issuers = IssuerRepository(session)
            if issuers.get(issuer_id) is not None:
                raise ConflictError(f"issuer {issuer_id}: got a second admission, want one")
            issuers.add(
                models.Issuer(
                    id=issuer_id,
                    name_vi=name_vi,
                    name_en=name_en,
                    accreditation=accreditation,
                    kinds=kind_values,
                    created_at=now,
                )
            )
            session.flush()  # the key and API key rows refer to the issuer row
            key_row = self._new_key(session, issuer_id, now)
            token = self._new_api_key(session, issuer_id, api_key_label, now)
        return IssuerCreated(
            issuer_id=issuer_id,
            key_id=key_row.key_id,
            public_key=key_row.public_key,
            api_key=token,
        )

    def _new_key(self, session: Session, issuer_id: str, now: dt.datetime) -> models.IssuerKey:
        private = Ed25519PrivateKey.generate()
        public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        key_id = issuer_key_id(public)
        row = models.IssuerKey(
            key_id=key_id,
            issuer_id=issuer_id,
            public_key=public,
            private_key_enc=self._encryptor.seal(private, key_id=key_id),
            state="active",
            created_at=now,
            retired_at=None,
            retired_at_seq=None,
            valid_from_block=None,
            revoked_at_block=None,
        )
        session.add(row)
        return row

    def _new_api_key(self, session: Session, issuer_id: str, label: str, now: dt.datetime) -> str:
        secret = new_api_key()
        ApiKeyRepository(session).add(
            models.ApiKey(
                id=secret.key_id,
                issuer_id=issuer_id,
                secret_hash=secret.secret_hash,
                label=label,
                created_at=now,
                revoked_at=None,
            )
        )
        return secret.token

    def create_api_key(self, issuer_id: str, *, label: str) -> str:
        """A new API key for an issuer; the token is returned once and stored hashed."""
        with self._sessions.begin() as session:
            self._issuer(session, issuer_id)
            return self._new_api_key(session, issuer_id, label, _naive(self._clock()))

    def revoke_api_key(self, key_id: str) -> None:
        with self._sessions.begin() as session:
            row = ApiKeyRepository(session).get(key_id)
            if row is None:
                raise NotFoundError(f"API key {key_id}: got an unknown id")
            row.revoked_at = row.revoked_at or _naive(self._clock())

    def authenticate(self, token: str) -> str:
        """The issuer id an API key belongs to; `AuthenticationError` otherwise."""
        parsed = parse_api_key(token)
        if parsed is None:
            raise AuthenticationError("API key: got a malformed token, want crk_<id>_<secret>")
        key_id, secret = parsed
        with self._sessions() as session:
            row = ApiKeyRepository(session).get(key_id)
            if row is None or not secret_matches(secret, row.secret_hash):
                raise AuthenticationError("API key: got an unknown key, want a registered one")
            if row.revoked_at is not None:
                raise AuthenticationError(f"API key {key_id}: got a revoked key")
            return row.issuer_id

    def rotate_key(self, issuer_id: str) -> bytes:
        """Retire the issuer's signing key and make a new one; return the new key id.

        The anchoring worker registers the new key on chain, and revokes the old one once every
        event it signed is anchored, so those events stay valid.
        """
        now = _naive(self._clock())
        with self._sessions.begin() as session:
            # Under the head lock no event can be signed with the old key after this point.
            head = LogRepository(session).lock_head()
            self._issuer(session, issuer_id)
            old = IssuerRepository(session).active_key(issuer_id)
            if old is not None:
                old.state = "retired"
                old.retired_at = now
                old.retired_at_seq = head
            session.flush()
            return self._new_key(session, issuer_id, now).key_id

    # -- certificates -----------------------------------------------------------------------------

    def get(self, certificate_id: str) -> CertificateView:
        with self._sessions() as session:
            row = CertificateRepository(session).get(certificate_id)
            if row is None:
                raise NotFoundError(f"certificate {certificate_id}: got an unknown id")
            return CertificateView.from_row(row, today=self._clock().date())

    def find(self, *, issuer_id: str, number: str) -> CertificateView:
        return self.get(certificate_id_for(issuer_id=issuer_id, number=number))

    def search(self, **filters: Any) -> tuple[list[CertificateView], int]:
        today = self._clock().date()
        with self._sessions() as session:
            rows, total = CertificateRepository(session).search(**filters)
            return [CertificateView.from_row(r, today=today) for r in rows], total

    def issue(self, issuer_id: str, submission: CertificateSubmission) -> IssueResult:
        """Issue one certificate; the same record again returns the existing one."""
        return self.issue_batch(issuer_id, [submission])[0]

    def issue_batch(
        self, issuer_id: str, submissions: Sequence[CertificateSubmission]
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
        naive_now = _naive(now)
        today = now.date()
        with self._sessions.begin() as session:
            seq = LogRepository(session).lock_head()
            issuer = self._issuer(session, issuer_id)
            for position, submission in enumerate(submissions):
                self._check_submission(issuer, submission, position=position)
            pending = self._plan(session, issuer_id, submissions)
            key_row, private = self._signing_key(session, issuer_id)
            certificates: list[dict[str, Any]] = []
            events: list[dict[str, Any]] = []
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
                event = sign_event(
                    Event(
                        seq=seq,
                        type=EventType.ISSUE,
                        certificate_id=item.certificate_id,
                        record_hash=record_hash,
                        issuer_id=issuer_id,
                        key_id=key_row.key_id,
                        at=now,
                    ),
                    private,
                )
                row = self._certificate_row(item.record, record_text, record_hash, seq, naive_now)
                certificates.append(row)
                events.append(self._event_row(event, naive_now))
                views[item.certificate_id] = CertificateView.from_columns(
                    row, json.loads(record_text), today=today
                )
                seq += 1
            CertificateRepository(session).insert_many(certificates)
            LogRepository(session).insert_events(events)
            LogRepository(session).set_head(seq)
        results = []
        seen: set[str] = set()
        for item in pending:
            created = item.record is not None and item.certificate_id not in seen
            seen.add(item.certificate_id)
            results.append(IssueResult(certificate=views[item.certificate_id], created=created))
        return results

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

    def suspend(self, issuer_id: str, certificate_id: str, *, reason: str) -> CertificateView:
        return self._transition(issuer_id, certificate_id, EventType.SUSPEND, reason)

    def reinstate(self, issuer_id: str, certificate_id: str, *, reason: str) -> CertificateView:
        return self._transition(issuer_id, certificate_id, EventType.REINSTATE, reason)

    def withdraw(self, issuer_id: str, certificate_id: str, *, reason: str) -> CertificateView:
        return self._transition(issuer_id, certificate_id, EventType.WITHDRAW, reason)

    def _transition(
        self, issuer_id: str, certificate_id: str, kind: EventType, reason: str
    ) -> CertificateView:
        now = self._clock()
        with self._sessions.begin() as session:
            seq = LogRepository(session).lock_head()
            issuer = self._issuer(session, issuer_id)
            row = self._own_certificate(session, issuer, certificate_id)
            allowed = ALLOWED_FROM[kind]
            assert allowed is not None
            self._check_transition(row, kind, allowed, today=now.date())
            event = self._append(session, row, kind, seq, now, reason=reason)
            CertificateRepository(session).set_status(
                row.id, status=NEXT_STATUS[kind], event_seq=event.seq, now=_naive(now)
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
    ) -> IssueResult:
        """Issue `submission` as a new certificate replacing `certificate_id`: one event."""
        now = self._clock()
        with self._sessions.begin() as session:
            seq = LogRepository(session).lock_head()
            issuer = self._issuer(session, issuer_id)
            old = self._own_certificate(session, issuer, certificate_id)
            self._check_submission(issuer, submission, position=0)
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
            key_row, private = self._signing_key(session, issuer_id)
            event = sign_event(
                Event(
                    seq=seq,
                    type=EventType.SUPERSEDE,
                    certificate_id=new_id,
                    record_hash=record_hash,
                    issuer_id=issuer_id,
                    key_id=key_row.key_id,
                    at=now,
                    reason=reason,
                    supersedes=old.id,
                ),
                private,
            )
            row = self._certificate_row(record, record_text, record_hash, seq, _naive(now))
            row["supersedes"] = old.id
            CertificateRepository(session).insert_many([row])
            LogRepository(session).insert_events([self._event_row(event)])
            LogRepository(session).set_head(seq + 1)
            CertificateRepository(session).set_status(
                old.id, status="superseded", event_seq=seq, now=_naive(now), superseded_by=new_id
            )
            new_row = CertificateRepository(session).get(new_id)
            assert new_row is not None
            return IssueResult(
                certificate=CertificateView.from_row(new_row, today=now.date()), created=True
            )

    # -- helpers ----------------------------------------------------------------------------------

    def _issuer(self, session: Session, issuer_id: str) -> models.Issuer:
        issuer = IssuerRepository(session).get(issuer_id)
        if issuer is None:
            raise NotFoundError(f"issuer {issuer_id}: got an unknown id")
        return issuer

    def _check_submission(
        self, issuer: models.Issuer, submission: CertificateSubmission, *, position: int
    ) -> None:
        if submission.issuer_id is not None and submission.issuer_id != issuer.id:
            raise ForbiddenError(
                f"certificates[{position}].issuer_id: got {submission.issuer_id!r}, "
                f"want the authenticated issuer {issuer.id!r} or nothing"
            )
        if submission.kind.value not in issuer.kinds:
            raise ForbiddenError(
                f"certificates[{position}].kind: got {submission.kind.value!r}, "
                f"want one of the kinds {issuer.id} may issue: {', '.join(issuer.kinds)}"
            )

    def _own_certificate(
        self, session: Session, issuer: models.Issuer, certificate_id: str
    ) -> models.Certificate:
        row = CertificateRepository(session).get(certificate_id, for_update=True)
        if row is None:
            raise NotFoundError(f"certificate {certificate_id}: got an unknown id")
        if row.issuer_id != issuer.id:
            raise ForbiddenError(
                f"certificate {certificate_id}: got issuer {issuer.id}, want its issuer"
            )
        if row.kind not in issuer.kinds:
            raise ForbiddenError(
                f"certificate {certificate_id}: got kind {row.kind!r}, which {issuer.id} "
                "may no longer issue"
            )
        return row

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

    def _append(
        self,
        session: Session,
        row: models.Certificate,
        kind: EventType,
        seq: int,
        now: dt.datetime,
        *,
        reason: str,
    ) -> Event:
        key_row, private = self._signing_key(session, row.issuer_id)
        event = sign_event(
            Event(
                seq=seq,
                type=kind,
                certificate_id=row.id,
                record_hash=row.record_hash,
                issuer_id=row.issuer_id,
                key_id=key_row.key_id,
                at=now,
                reason=reason,
            ),
            private,
        )
        LogRepository(session).insert_events([self._event_row(event)])
        LogRepository(session).set_head(seq + 1)
        return event

    def _signing_key(
        self, session: Session, issuer_id: str
    ) -> tuple[models.IssuerKey, Ed25519PrivateKey]:
        row = IssuerRepository(session).active_key(issuer_id)
        if row is None:
            raise ForbiddenError(f"issuer {issuer_id}: got no active signing key, want one")
        with self._keys_lock:
            private = self._signing_keys.get(row.key_id)
            if private is None:
                private = self._encryptor.open(row.private_key_enc, key_id=row.key_id)
                self._signing_keys[row.key_id] = private
        return row, private

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

    @staticmethod
    def _event_row(event: Event, at: dt.datetime | None = None) -> dict[str, Any]:
        """The events row of a signed event; `at`, if given, is `event.at` as naive UTC."""
        return {
            "seq": event.seq,
            "type": event.type.value,
            "certificate_id": event.certificate_id,
            "supersedes": event.supersedes,
            "issuer_id": event.issuer_id,
            "at": _naive(event.at) if at is None else at,
            "entry": event.leaf_bytes(),
        }
