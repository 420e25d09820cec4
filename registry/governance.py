"""The authority's statements, appended to the log (docs/spec.md §3a, §11.10).

The authority signs each statement on its side (`certreg authority …` with its key file); the
registry never holds that key. Here the registry checks what an authority admin submits —
the signature against the authority key it is configured with (`CERTREG_AUTHORITY_PUBLIC_KEY`),
the transition against the CB's state, and that the statement is later than the CB's previous
one (an old signed statement cannot be replayed) — and appends it to the log under the same
lock as certificate events, keeping each CB's admission in `admissions` for issuance to be
checked against.

Statements about keys: `approve_key` makes a key the CB proposed its active one (the worker
then registers it on chain), and states who keeps its private half; `revoke_key` refuses the
key's events from a checkpoint boundary on (the worker revokes it on chain from the block of the
first checkpoint past that boundary) — docs/spec.md §3a.1, §11.11. Statements about a
certificate of a CB suspended or withdrawn (`suspend_certificate`, `withdraw_certificate`)
change that certificate's status in the same transaction (§11.10).
"""

import datetime as dt
import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from registry.accounts import Actor, Principal, Role, record_audit
from registry.clock import naive_utc, utc_now
from registry.core.canonical import canonical_json
from registry.core.encoding import hex0x
from registry.core.errors import CoreError, LifecycleError, SignatureError
from registry.core.governance import (
    CERTIFICATE_ALLOWED_FROM,
    Admission,
    ApproveKey,
    CertificateAction,
    Custody,
    GovernanceState,
    IssuerLeaf,
    KeyApproval,
    NotCovered,
    RevokeKey,
    SignedStatement,
    Statement,
    TransferCertificate,
    admission_covers,
    apply_statement,
    verify_statement,
)
from registry.core.hashing import sha256
from registry.core.lifecycle import TRANSFERABLE
from registry.db import models
from registry.db.engine import reading
from registry.db.repositories import CertificateRepository, LogRepository
from registry.errors import (
    ConflictError,
    ForbiddenError,
    IllegalTransitionError,
    InvalidRequestError,
    NotFoundError,
)
from registry.issuers import Issuers

__all__ = ["AdmissionView", "Appended", "Governance", "check_admission"]

#: how far in the future a statement's `at` may be (the authority's clock may run ahead)
_CLOCK_SKEW: Final = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class Appended:
    """A statement appended: its position and leaf hash, and the CB's leaf after it (the
    leaf a key statement leaves unchanged)."""

    seq: int
    leaf_hash: bytes
    leaf: IssuerLeaf


@dataclass(frozen=True)
class AdmissionView:
    """A CB's admission, for everyone to read."""

    issuer_id: str
    status: str
    admission_seq: int
    status_seq: int
    statement: dict[str, Any]


def _leaf(row: models.Admission) -> IssuerLeaf:
    return IssuerLeaf(
        issuer_id=row.issuer_id,
        status=row.status,
        admission_seq=row.admission_seq,
        admission_hash=row.admission_hash,
        status_seq=row.status_seq,
    )


@functools.lru_cache(maxsize=256)
def _admission_of(statement: str) -> Admission:
    """The admission a CB's row holds (canonical JSON), parsed once per process: every
    certificate of a batch is checked against it (parsing it took ~130 µs each)."""
    admission = Statement.from_json(json.loads(statement))
    assert isinstance(admission, Admission)
    return admission


def check_admission(
    row: models.Admission,
    *,
    kind: str,
    standards: list[str],
    on: dt.date,
    position: int,
) -> None:
    """Refuse a certificate the CB's admission does not cover (403 naming the scope). A CB
    admitted before the authority's statements has no row, and is held to its kinds."""
    if row.status != "admitted":
        raise ForbiddenError(
            f"issuer {row.issuer_id}: got status {row.status} (log entry {row.status_seq}), "
            "want admitted to issue"
        )
    admission = _admission_of(row.statement)
    refused: NotCovered | None = admission_covers(admission, kind=kind, standards=standards, on=on)
    if refused is not None:
        scope = admission.scope
        raise ForbiddenError(
            f"certificates[{position}]: {refused.message}; the admission in force (log entry "
            f"{row.admission_seq}) covers kinds {', '.join(scope.kinds)}, standards "
            f"{', '.join(scope.standards) or 'any'}, from {admission.valid_from.isoformat()} to "
            f"{admission.valid_until.isoformat()} ({refused.code})"
        )


class Governance:
    """The authority's statements: checked, appended, and the CBs' admissions kept."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        issuers: Issuers,
        authority_key: bytes | None,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self._sessions = sessions
        self._reading = reading(sessions)
        self._issuers = issuers
        self._authority_key = authority_key
        self._clock = clock

    @property
    def authority_key(self) -> bytes | None:
        """The authority's raw Ed25519 public key this registry checks statements with."""
        return self._authority_key

    def submit(self, principal: Principal, signed: object, *, actor: Actor) -> Appended:
        """Check a signed statement (`{"statement", "signature"}`) and append it."""
        if principal.role is not Role.AUTHORITY_ADMIN or principal.setup_only:
            raise ForbiddenError(
                f"statements: got a {principal.role.value}, want an authority admin's token"
            )
        checked = self._checked(signed)
        statement = checked.statement
        kind = statement.TYPE
        now = self._clock()
        issuer_id = statement.issuer_id
        with self._sessions.begin() as session:
            log = LogRepository(session)
            seq = log.lock_head()
            row = session.get(models.Admission, issuer_id)
            _check_fresh(row, statement)
            state = GovernanceState()
            if row is not None:
                state.issuers[issuer_id] = _leaf(row)
            if isinstance(statement, ApproveKey | RevokeKey):
                _load_key(session, state, issuer_id, statement.key_id)
            if isinstance(statement, TransferCertificate):
                receiving = session.get(models.Admission, statement.to_issuer_id)
                if receiving is not None:
                    state.issuers[receiving.issuer_id] = _leaf(receiving)
            entry = checked.at_seq(seq)
            try:
                changed = apply_statement(state, entry)
            except LifecycleError as exc:
                raise IllegalTransitionError(str(exc)) from exc
            if isinstance(statement, Admission):
                self._issuers.admit_from_statement(session, statement, now=naive_utc(now))
            elif isinstance(statement, ApproveKey):
                self._issuers.approve_from_statement(session, statement, seq=seq)
            elif isinstance(statement, RevokeKey):
                self._issuers.revoke_from_statement(session, statement)
            elif isinstance(statement, CertificateAction):
                _act_on_certificate(session, statement, seq=seq, now=now)
            elif isinstance(statement, TransferCertificate):
                _transfer_certificate(session, statement, now=now)
            leaf = state.issuers[issuer_id] if changed is None else changed
            log.insert_events(
                [
                    {
                        "seq": seq,
                        "type": kind.value,
                        # a certificate action is found among its certificate's entries
                        "certificate_id": (
                            statement.certificate_id
                            if isinstance(statement, CertificateAction | TransferCertificate)
                            else ""
                        ),
                        "supersedes": None,
                        "issuer_id": issuer_id,
                        "at": naive_utc(now),
                        "entry": entry.leaf_bytes(),
                    }
                ]
            )
            log.set_head(seq + 1)
            _store(session, row, leaf, statement)
            record_audit(
                session,
                actor,
                f"authority.{kind.value}",
                now=now,
                target=(
                    f"certificate:{statement.certificate_id}"
                    if isinstance(statement, CertificateAction | TransferCertificate)
                    else f"issuer:{issuer_id}"
                ),
                issuer_id=issuer_id,
                detail={"seq": seq, "status": leaf.status},
            )
        return Appended(seq=seq, leaf_hash=entry.leaf_hash(), leaf=leaf)

    def _checked(self, signed: object) -> SignedStatement:
        """A signed statement of an accepted type, by the configured authority key, not dated
        in the future."""
        if self._authority_key is None:
            raise ConflictError(
                "authority key: got none configured (CERTREG_AUTHORITY_PUBLIC_KEY), want the "
                "authority's public key to check statements with"
            )
        try:
            checked = SignedStatement.from_json(signed)
            verify_statement(checked, self._authority_key)
        except SignatureError as exc:
            raise ForbiddenError(str(exc)) from exc
        except CoreError as exc:
            raise InvalidRequestError(str(exc)) from exc
        now = self._clock()
        if checked.statement.at > now + _CLOCK_SKEW:
            raise InvalidRequestError(
                f"statement.at: got {checked.statement.at.isoformat()}, want no later than the "
                f"registry's clock ({now.isoformat()}) plus {int(_CLOCK_SKEW.total_seconds())} s"
            )
        return checked

    def admissions(self) -> list[AdmissionView]:
        """Every CB's admission as the authority's statements set it, by id."""
        with self._reading() as session:
            rows = session.scalars(select(models.Admission).order_by(models.Admission.issuer_id))
            return [_view(row) for row in rows]

    def admission(self, issuer_id: str) -> AdmissionView | None:
        with self._reading() as session:
            row = session.get(models.Admission, issuer_id)
            return None if row is None else _view(row)


def _named_certificate(
    session: Session,
    statement: CertificateAction | TransferCertificate,
    allowed: frozenset[str],
) -> models.Certificate:
    """The certificate a statement about one names, locked: known, the statement's CB's (its
    current CB), with the statement's record hash, in one of the `allowed` statuses."""
    row = CertificateRepository(session).get(statement.certificate_id, for_update=True)
    kind = statement.TYPE.value
    if row is None:
        raise NotFoundError(f"{kind}: got certificate {statement.certificate_id}, an unknown id")
    if row.issuer_id != statement.issuer_id:
        raise ConflictError(
            f"{kind}: got certificate {row.id} of {row.issuer_id}, want one of "
            f"{statement.issuer_id} (the statement's CB)"
        )
    if row.record_hash != statement.record_hash:
        raise ConflictError(
            f"{kind}: got record hash {hex0x(statement.record_hash)}, want the certificate's "
            f"{hex0x(row.record_hash)}"
        )
    if row.status not in allowed:
        raise IllegalTransitionError(
            f"{kind}: got a {row.status} certificate {row.id}, want one that is "
            f"{' or '.join(sorted(allowed))}"
        )
    return row


def _act_on_certificate(
    session: Session, statement: CertificateAction, *, seq: int, now: dt.datetime
) -> None:
    """The certificate a `suspend_certificate` or `withdraw_certificate` names, changed as the
    lifecycle says (docs/spec.md §3a.5), inside the caller's transaction."""
    row = _named_certificate(session, statement, CERTIFICATE_ALLOWED_FROM[statement.TYPE])
    CertificateRepository(session).set_status(
        row.id, status=statement.status, event_seq=seq, now=naive_utc(now)
    )


def _transfer_certificate(
    session: Session, statement: TransferCertificate, *, now: dt.datetime
) -> None:
    """The certificate a `transfer_certificate` names handed over, inside the caller's
    transaction, valid or suspended; from now on the receiving CB's officers change it
    (docs/spec.md §11.10). Its record still names the CB that issued it."""
    row = _named_certificate(session, statement, TRANSFERABLE)
    # Its bundle then proves the transfer against an anchored checkpoint; a certificate never
    # anchored would be PENDING, which carries no proof of a transfer (spec §9.2).
    anchored = session.scalar(
        select(models.MapLeaf.key).where(models.MapLeaf.certificate_id == row.id)
    )
    if anchored is None:
        raise ConflictError(
            f"transfer_certificate: got certificate {row.id}, not yet in an anchored "
            "checkpoint; want it anchored first (within the merge delay)"
        )
    row.issuer_id = statement.to_issuer_id
    row.updated_at = naive_utc(now)


def _load_key(session: Session, state: GovernanceState, issuer_id: str, key_id: bytes) -> None:
    """The key's approval as the log set it, for `apply_statement` to judge a key statement."""
    row = session.get(models.IssuerKey, key_id)
    if row is None or row.issuer_id != issuer_id or row.approved_seq is None:
        return
    state.keys[(issuer_id, key_id)] = KeyApproval(
        issuer_id=issuer_id,
        key_id=key_id,
        public_key=row.public_key,
        custody=Custody(row.custody),
        approved_seq=row.approved_seq,
        revoked_from_seq=row.revoked_from_seq,
    )


def _statement_hash(statement: Statement) -> str:
    return hex0x(sha256(statement.signing_bytes()))


def _check_fresh(row: models.Admission | None, statement: Statement) -> None:
    """A CB's statements are appended in order of their `at`, each once: one dated before the
    CB's latest, or the same statement again, is refused (an old signed statement cannot be
    replayed to undo a newer one)."""
    if row is None:
        return
    at = naive_utc(statement.at)
    if at < row.last_at or (at == row.last_at and _statement_hash(statement) in row.last_hashes):
        raise ConflictError(
            f"statement.at: got {statement.at.isoformat()}, want a statement not yet appended "
            f"and dated no earlier than the previous one about {statement.issuer_id} "
            f"({row.last_at.isoformat()}Z): a statement is appended once"
        )


def _store(
    session: Session, row: models.Admission | None, leaf: IssuerLeaf, statement: Statement
) -> None:
    """The CB's admission after `statement`, inside the caller's transaction."""
    if row is None:
        row = models.Admission(issuer_id=leaf.issuer_id, statement="", last_hashes=[])
        session.add(row)
    at = naive_utc(statement.at)
    same_second = row.last_hashes if row.last_at == at else []
    row.status = leaf.status
    row.admission_seq = leaf.admission_seq
    row.admission_hash = leaf.admission_hash
    row.status_seq = leaf.status_seq
    row.last_at = at
    row.last_hashes = [*same_second, _statement_hash(statement)]
    if isinstance(statement, Admission):
        row.statement = canonical_json(statement.to_json()).decode("utf-8")


def _view(row: models.Admission) -> AdmissionView:
    return AdmissionView(
        issuer_id=row.issuer_id,
        status=row.status,
        admission_seq=row.admission_seq,
        status_seq=row.status_seq,
        statement=json.loads(row.statement),
    )
