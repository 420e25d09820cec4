"""Drafts and the second person's decision (docs/spec.md §11.12; ISO/IEC 17065 §7.6: the
certification decision is taken by a person other than the one who prepared it).

A CB's officer or admin prepares a draft — one submission of either format, checked as issuance
checks it — edits it, and submits it; another person of the same CB approves it, which issues
the certificate through the ordinary issuance path in the same transaction, or rejects it with a
comment, after which the preparer may edit and submit it again. A CB turns the rule on with its
setting `review_required` (its admins'); then the direct issue routes refuse, and the preparer
can never approve their own draft. Without it, the preparer may issue a draft directly.

States: `draft` → `submitted` → `issued` | `rejected`; `rejected` → (edit) `draft` or
(submit) `submitted`; `draft`, `submitted`, `rejected` → `withdrawn` (by the preparer or a CB
admin). Every change names the draft's `revision` it was made against (a reviewer approves
exactly what they read) and is one entry of the audit trail, in the change's transaction.
"""

import datetime as dt
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from registry.accounts import CB_ROLES, Actor, Principal, Role, record_audit
from registry.certificates import Certificates, IssueResult, review_required
from registry.clock import naive_utc, utc_now
from registry.core.canonical import canonical_json
from registry.db import models
from registry.db.engine import reading
from registry.db.repositories import LogRepository
from registry.errors import (
    ConflictError,
    ForbiddenError,
    IllegalTransitionError,
    InvalidRequestError,
    NotFoundError,
)
from registry.fields import clean_text
from registry.records import Submission, submission_adapter

__all__ = [
    "MAX_OPEN_DRAFTS",
    "OPEN_STATES",
    "STATES",
    "DraftPage",
    "DraftView",
    "Drafts",
    "IssuerSettingsView",
]

#: every state a draft may be in, and those in which it is still open
STATES: Final = ("draft", "submitted", "rejected", "issued", "withdrawn")
OPEN_STATES: Final = frozenset({"draft", "submitted", "rejected"})
#: open drafts a CB may have at once: far above a CB's working set (the largest issue some
#: thousands of certificates a month), low enough that a runaway client cannot fill the disk
MAX_OPEN_DRAFTS: Final = 100_000
_COMMENT_MAX: Final = 1000
_REASON_MAX: Final = 400  # the column's width
_PAGE_MAX: Final = 200


@dataclass(frozen=True)
class IssuerSettingsView:
    issuer_id: str
    review_required: bool
    updated_at: dt.datetime | None
    updated_by: str | None


@dataclass(frozen=True)
class DraftView:
    id: str
    issuer_id: str
    state: str
    revision: int
    kind: str
    number: str
    submission: dict[str, Any]
    supersedes: str | None
    reason: str | None
    prepared_by: str
    created_at: dt.datetime
    updated_at: dt.datetime
    submitted_at: dt.datetime | None
    reviewed_by: str | None
    reviewed_at: dt.datetime | None
    comment: str | None
    withdrawn_by: str | None
    withdrawn_at: dt.datetime | None
    certificate_id: str | None

    @classmethod
    def of(cls, row: models.Draft) -> "DraftView":
        return cls(
            id=row.id,
            issuer_id=row.issuer_id,
            state=row.state,
            revision=row.revision,
            kind=row.kind,
            number=row.number,
            submission=json.loads(row.submission),
            supersedes=row.supersedes,
            reason=row.reason,
            prepared_by=row.prepared_by,
            created_at=_aware(row.created_at),
            updated_at=_aware(row.updated_at),
            submitted_at=_aware(row.submitted_at),
            reviewed_by=row.reviewed_by,
            reviewed_at=_aware(row.reviewed_at),
            comment=row.comment,
            withdrawn_by=row.withdrawn_by,
            withdrawn_at=_aware(row.withdrawn_at),
            certificate_id=row.certificate_id,
        )


@dataclass(frozen=True)
class DraftPage:
    total: int
    drafts: list[DraftView]


def _aware(moment: dt.datetime | None) -> Any:
    return None if moment is None else moment.replace(tzinfo=dt.UTC)


def _stored(submission: Submission) -> str:
    """The submission as stored: its JSON, absent members left out, so that reading it back
    with `submission_adapter` gives the same submission."""
    return canonical_json(submission.model_dump(mode="json", exclude_none=True)).decode("utf-8")


def _loaded(row: models.Draft) -> Submission:
    return submission_adapter().validate_python(json.loads(row.submission))


def _acting(actor: Actor) -> Principal:
    if actor.principal is None:
        raise ForbiddenError("drafts: got no principal, want a CB's officer or admin")
    if actor.principal.setup_only:
        raise ForbiddenError(
            "drafts: got a one-time setup token, want the account's own token or session"
        )
    return actor.principal


def _cb_person(principal: Principal, *, what: str) -> str:
    """The CB a CB's officer or admin acts for; anyone else may not change drafts or settings."""
    if principal.role not in CB_ROLES or principal.issuer_id is None:
        raise ForbiddenError(f"{what}: got a {principal.role.value}, want a CB's officer or admin")
    return principal.issuer_id


def _may_read(principal: Principal, issuer_id: str) -> bool:
    """A CB's drafts and settings are read by its own people, the authority's admins and
    auditors (an assessment of the CB reads its decisions)."""
    if principal.is_(Role.AUTHORITY_ADMIN, Role.AUDITOR):
        return True
    return principal.role in CB_ROLES and principal.issuer_id == issuer_id


class Drafts:
    """A CB's settings and its drafts, over one database; drafts are issued by `certificates`."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        certificates: Certificates,
        clock: Callable[[], dt.datetime] = utc_now,
        max_open: int = MAX_OPEN_DRAFTS,
    ) -> None:
        self._sessions = sessions
        self._reading = reading(sessions)
        self._certificates = certificates
        self._clock = clock
        self._max_open = max_open

    def _now(self) -> dt.datetime:
        return self._clock().replace(microsecond=0)

    # -- the CB's settings ------------------------------------------------------------------------

    def settings(self, actor: Actor, issuer_id: str) -> IssuerSettingsView:
        """The CB's settings: for its people, the authority's admins and auditors."""
        principal = _acting(actor)
        if not _may_read(principal, issuer_id):
            raise ForbiddenError(
                f"settings of {issuer_id}: got a {principal.role.value}"
                + (f" of {principal.issuer_id}" if principal.issuer_id else "")
                + ", want that CB's officer or admin, an authority admin or an auditor"
            )
        with self._reading() as session:
            if session.get(models.Issuer, issuer_id) is None:
                raise NotFoundError(f"issuer {issuer_id}: got an unknown id")
            return self._settings_view(session, issuer_id)

    def set_settings(
        self, actor: Actor, issuer_id: str, *, review_required: bool
    ) -> IssuerSettingsView:
        """Set the CB's settings: its admins only. Taken under the log's lock, as issuance
        reads them, so no issuance after this commits sees the old value."""
        principal = _acting(actor)
        if not principal.is_(Role.CB_ADMIN) or principal.issuer_id != issuer_id:
            raise ForbiddenError(
                f"settings of {issuer_id}: got a {principal.role.value}"
                + (f" of {principal.issuer_id}" if principal.issuer_id else "")
                + f", want an admin of {issuer_id}"
            )
        now = self._now()
        with self._sessions.begin() as session:
            LogRepository(session).lock_head()
            row = session.get(models.IssuerSettings, issuer_id)
            before = row is not None and row.review_required
            if row is None:
                row = models.IssuerSettings(issuer_id=issuer_id, review_required=False)
                session.add(row)
            row.review_required = review_required
            row.updated_at = naive_utc(now)
            row.updated_by = principal.account_id
            record_audit(
                session,
                actor,
                "issuer.settings",
                now=now,
                target=f"issuer:{issuer_id}",
                issuer_id=issuer_id,
                detail={"review_required": {"from": before, "to": review_required}},
            )
            session.flush()
            return self._settings_view(session, issuer_id)

    @staticmethod
    def _settings_view(session: Session, issuer_id: str) -> IssuerSettingsView:
        row = session.get(models.IssuerSettings, issuer_id)
        if row is None:
            return IssuerSettingsView(
                issuer_id, review_required=False, updated_at=None, updated_by=None
            )
        return IssuerSettingsView(
            issuer_id=issuer_id,
            review_required=row.review_required,
            updated_at=_aware(row.updated_at),
            updated_by=row.updated_by,
        )

    # -- reads ------------------------------------------------------------------------------------

    def get(self, actor: Actor, draft_id: str) -> DraftView:
        principal = _acting(actor)
        with self._reading() as session:
            return DraftView.of(self._visible(session, principal, draft_id))

    def list(
        self,
        actor: Actor,
        *,
        issuer_id: str | None = None,
        state: str | None = None,
        kind: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> DraftPage:
        """Drafts newest first: a CB's people their own CB's; the authority's admins and
        auditors any CB's (`issuer_id` to choose one)."""
        principal = _acting(actor)
        if principal.role in CB_ROLES:
            if issuer_id not in (None, principal.issuer_id):
                raise ForbiddenError(
                    f"drafts: got CB {issuer_id}, want your own ({principal.issuer_id})"
                )
            issuer_id = principal.issuer_id
        elif not principal.is_(Role.AUTHORITY_ADMIN, Role.AUDITOR):
            raise ForbiddenError(
                f"drafts: got a {principal.role.value}, want a CB's officer or admin, an "
                "authority admin or an auditor"
            )
        if state is not None and state not in STATES:
            raise InvalidRequestError(f"state: got {state!r:.40}, want one of {', '.join(STATES)}")
        conditions = []
        if issuer_id is not None:
            conditions.append(models.Draft.issuer_id == issuer_id)
        if state is not None:
            conditions.append(models.Draft.state == state)
        if kind is not None:
            conditions.append(models.Draft.kind == kind)
        limit = max(1, min(limit, _PAGE_MAX))
        with self._reading() as session:
            total = session.scalar(
                select(func.count()).select_from(models.Draft).where(*conditions)
            )
            rows = session.scalars(
                select(models.Draft)
                .where(*conditions)
                .order_by(models.Draft.created_at.desc(), models.Draft.id)
                .limit(limit)
                .offset(max(0, offset))
            )
            return DraftPage(total=int(total or 0), drafts=[DraftView.of(r) for r in rows])

    # -- the preparer's changes -------------------------------------------------------------------

    def create(
        self,
        actor: Actor,
        submission: Submission,
        *,
        supersedes: str | None = None,
        reason: str | None = None,
    ) -> DraftView:
        """A new draft of the principal's CB, checked as issuance would check it now."""
        principal = _acting(actor)
        issuer_id = _cb_person(principal, what="drafts")
        _check_replacement(supersedes, reason)
        now = self._now()
        with self._sessions.begin() as session:
            # Counted without a lock: concurrent creations may pass the bound by their number,
            # which keeps it what it is for, a bound on what one CB can store.
            open_now = int(
                session.scalar(
                    select(func.count())
                    .select_from(models.Draft)
                    .where(
                        models.Draft.issuer_id == issuer_id,
                        models.Draft.state.in_(sorted(OPEN_STATES)),
                    )
                )
                or 0
            )
            if open_now >= self._max_open:
                raise ConflictError(
                    f"drafts of {issuer_id}: got {open_now} open, want fewer than "
                    f"{self._max_open}; issue or withdraw some first"
                )
            self._certificates.check_draft(
                session, issuer_id, submission, supersedes=supersedes, today=now.date()
            )
            stored = naive_utc(now)
            row = models.Draft(
                id=secrets.token_hex(8),
                issuer_id=issuer_id,
                state="draft",
                revision=1,
                kind=submission.kind.value,
                number=submission.number,
                submission=_stored(submission),
                supersedes=supersedes,
                reason=reason,
                prepared_by=principal.account_id,
                created_at=stored,
                updated_at=stored,
            )
            session.add(row)
            self._audit(session, actor, "draft.create", row, now)
            session.flush()
            return DraftView.of(row)

    def update(
        self,
        actor: Actor,
        draft_id: str,
        submission: Submission,
        *,
        revision: int,
        supersedes: str | None = None,
        reason: str | None = None,
    ) -> DraftView:
        """Replace the draft's submission (the preparer's, while it is a draft or rejected; a
        rejected draft becomes a draft again)."""
        principal = _acting(actor)
        _check_replacement(supersedes, reason)
        now = self._now()
        with self._sessions.begin() as session:
            row = self._changing(session, principal, draft_id, revision=revision)
            self._preparer_only(row, principal, what="edit")
            self._in(row, ("draft", "rejected"), what="edit")
            self._certificates.check_draft(
                session, row.issuer_id, submission, supersedes=supersedes, today=now.date()
            )
            row.kind = submission.kind.value
            row.number = submission.number
            row.submission = _stored(submission)
            row.supersedes = supersedes
            row.reason = reason
            return self._moved(session, actor, row, "draft", action="draft.update", now=now)

    def submit(self, actor: Actor, draft_id: str, *, revision: int) -> DraftView:
        """Hand the draft to a second person for the decision (the preparer's)."""
        principal = _acting(actor)
        now = self._now()
        with self._sessions.begin() as session:
            row = self._changing(session, principal, draft_id, revision=revision)
            self._preparer_only(row, principal, what="submit")
            self._in(row, ("draft", "rejected"), what="submit")
            row.submitted_at = naive_utc(now)
            return self._moved(session, actor, row, "submitted", action="draft.submit", now=now)

    def withdraw(self, actor: Actor, draft_id: str, *, revision: int) -> DraftView:
        """Give the draft up (its preparer, or an admin of its CB: someone who left keeps no
        draft open for ever); final."""
        principal = _acting(actor)
        now = self._now()
        with self._sessions.begin() as session:
            row = self._changing(session, principal, draft_id, revision=revision)
            if principal.account_id != row.prepared_by and not principal.is_(Role.CB_ADMIN):
                raise ForbiddenError(
                    f"draft {row.id}: got a withdrawal by {principal.account_id}, want its "
                    f"preparer ({row.prepared_by}) or an admin of {row.issuer_id}"
                )
            self._in(row, tuple(sorted(OPEN_STATES)), what="withdraw")
            row.withdrawn_by = principal.account_id
            row.withdrawn_at = naive_utc(now)
            return self._moved(session, actor, row, "withdrawn", action="draft.withdraw", now=now)

    # -- the second person's decision -------------------------------------------------------------

    def approve(
        self, actor: Actor, draft_id: str, *, revision: int, comment: str | None = None
    ) -> tuple[DraftView, IssueResult]:
        """Issue the draft's certificate (or replacement) through the ordinary issuance path,
        in one transaction with the draft's change. A submitted draft, by a person of its CB
        other than the preparer when the CB requires review; when it does not, a draft not yet
        submitted too, and by anyone of the CB, the preparer included."""
        principal = _acting(actor)
        comment = _comment(comment, required=False)
        now = self._clock()
        with self._sessions.begin() as session:
            # The log's lock first, as every issuance takes it: the setting read below is then
            # the one in force for this issuance (registry.certificates.review_required).
            seq = LogRepository(session).lock_head()
            row = self._changing(session, principal, draft_id, revision=revision)
            required = review_required(session, row.issuer_id)
            self._in(row, ("submitted",) if required else ("draft", "submitted"), what="approve")
            if required and principal.account_id == row.prepared_by:
                raise ForbiddenError(
                    f"draft {row.id}: got an approval by its preparer, want another person of "
                    f"{row.issuer_id}: the CB requires review (docs/spec.md §11.12)"
                )
            submission = _loaded(row)
            if row.supersedes is None:
                [result] = self._certificates.issue_locked(
                    session, row.issuer_id, [submission], seq=seq, now=now, actor=actor
                )
                if not result.created:
                    raise ConflictError(
                        f"number: got {row.number!r}, already issued as "
                        f"{result.certificate.id}; want a new number for a draft"
                    )
            else:
                result = self._certificates.supersede_locked(
                    session,
                    row.issuer_id,
                    row.supersedes,
                    submission,
                    seq=seq,
                    now=now,
                    reason=row.reason,
                    actor=actor,
                )
            row.certificate_id = result.certificate.id
            row.reviewed_by = principal.account_id
            row.reviewed_at = naive_utc(now)
            row.comment = comment
            view = self._moved(
                session,
                actor,
                row,
                "issued",
                action="draft.approve",
                now=now,
                certificate_id=result.certificate.id,
                seq=result.certificate.last_event_seq,
                review_required=required,
            )
            return view, result

    def reject(self, actor: Actor, draft_id: str, *, revision: int, comment: str) -> DraftView:
        """Send a submitted draft back to its preparer with a comment (a person of its CB other
        than the preparer)."""
        principal = _acting(actor)
        text = _comment(comment, required=True)
        now = self._now()
        with self._sessions.begin() as session:
            row = self._changing(session, principal, draft_id, revision=revision)
            self._in(row, ("submitted",), what="reject")
            if principal.account_id == row.prepared_by:
                raise ForbiddenError(
                    f"draft {row.id}: got a rejection by its preparer, want another person of "
                    f"{row.issuer_id} (the preparer withdraws or edits instead)"
                )
            row.reviewed_by = principal.account_id
            row.reviewed_at = naive_utc(now)
            row.comment = text
            return self._moved(session, actor, row, "rejected", action="draft.reject", now=now)

    # -- helpers ----------------------------------------------------------------------------------

    @staticmethod
    def _visible(session: Session, principal: Principal, draft_id: str) -> models.Draft:
        """A draft `principal` may read; another CB's is "not found", so that its ids cannot
        be probed."""
        row = session.get(models.Draft, draft_id)
        if row is None or not _may_read(principal, row.issuer_id):
            raise NotFoundError(f"draft {draft_id}: got an unknown id")
        return row

    def _changing(
        self, session: Session, principal: Principal, draft_id: str, *, revision: int
    ) -> models.Draft:
        """The draft, locked, for a change by a person of its CB, at the revision the change
        was made against."""
        self._visible(session, principal, draft_id)  # not found before forbidden
        _cb_person(principal, what=f"draft {draft_id}")
        row = session.get(models.Draft, draft_id, with_for_update=True, populate_existing=True)
        assert row is not None  # drafts are never deleted
        if row.revision != revision:
            raise ConflictError(
                f"draft {row.id}: got revision {revision}, want {row.revision}, the current "
                "one: read it again"
            )
        return row

    @staticmethod
    def _preparer_only(row: models.Draft, principal: Principal, *, what: str) -> None:
        if principal.account_id != row.prepared_by:
            raise ForbiddenError(
                f"draft {row.id}: got a request to {what} by {principal.account_id}, want its "
                f"preparer ({row.prepared_by})"
            )

    @staticmethod
    def _in(row: models.Draft, states: tuple[str, ...], *, what: str) -> None:
        if row.state not in states:
            raise IllegalTransitionError(
                f"draft {row.id}: got {what} of a {row.state} draft, want one that is "
                f"{' or '.join(states)}"
            )

    def _moved(
        self,
        session: Session,
        actor: Actor,
        row: models.Draft,
        state: str,
        *,
        action: str,
        now: dt.datetime,
        **detail: Any,
    ) -> DraftView:
        """Move the draft to `state`, a new revision, and record the change."""
        before = row.state
        row.state = state
        row.revision += 1
        row.updated_at = naive_utc(now)
        self._audit(session, actor, action, row, now, **{"from": before}, **detail)
        session.flush()
        return DraftView.of(row)

    @staticmethod
    def _audit(
        session: Session,
        actor: Actor,
        action: str,
        row: models.Draft,
        now: dt.datetime,
        **detail: Any,
    ) -> None:
        record_audit(
            session,
            actor,
            action,
            now=now,
            target=f"draft:{row.id}",
            issuer_id=row.issuer_id,
            detail={
                "state": row.state,
                "revision": row.revision,
                "number": row.number,
                "kind": row.kind,
                **detail,
            },
        )


def _check_replacement(supersedes: str | None, reason: str | None) -> None:
    if supersedes is None and reason is not None:
        raise InvalidRequestError(
            "reason: got one for a new certificate, want it only with supersedes (a replacement)"
        )
    if reason is not None and (not reason or len(reason) > _REASON_MAX or "\x00" in reason):
        raise InvalidRequestError(
            f"reason: got {reason!r:.60}, want 1-{_REASON_MAX} characters without NUL"
        )


def _comment(comment: str | None, *, required: bool) -> str | None:
    try:
        cleaned = clean_text(comment)
    except ValueError as exc:
        raise InvalidRequestError(f"comment: {exc}") from None
    text = cleaned.strip() if isinstance(cleaned, str) else None
    if not text:
        if required:
            raise InvalidRequestError(
                "comment: got none, want what the preparer is to change (a rejection says why)"
            )
        return None
    if len(text) > _COMMENT_MAX:
        raise InvalidRequestError(
            f"comment: got {len(text)} characters, want at most {_COMMENT_MAX}"
        )
    return text
