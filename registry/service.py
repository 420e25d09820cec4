"""The registry service: one object over issuers, their keys and their certificates.

`RegistryService` is what the API and the CLI call; the work is done in `registry.accounts`
(accounts, roles, tokens, logins, the audit trail), `registry.governance` (the authority's
statements, appended to the log), `registry.issuers` (admission, signing keys and their
rotation), `registry.certificates` (issue,
suspend, reinstate, withdraw, supersede, reads) and `registry.drafts` (a CB's settings, drafts
and the second person's decision), which share one database, one clock and the issuers' opened
signing keys.
"""

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from registry.accounts import Accounts, Actor, officer_of
from registry.certificates import (
    Certificates,
    CertificateView,
    HistoryEntry,
    IssueResult,
    effective_status,
)
from registry.clock import utc_now
from registry.drafts import Drafts
from registry.governance import Governance
from registry.imports import Imports
from registry.issuers import IssuerCreated, Issuers
from registry.records import Submission

__all__ = [
    "CertificateView",
    "HistoryEntry",
    "IssueResult",
    "IssuerCreated",
    "RegistryService",
    "effective_status",
    "utc_now",
]


class RegistryService:
    """Accounts and their credentials, issuers, certificates and their lifecycle, over one
    database."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        kek: bytes,
        max_batch_size: int = 1000,
        issuance_quota_per_day: int | None = None,
        clock: Callable[[], dt.datetime] = utc_now,
        session_hours: float = 12.0,
        session_idle_minutes: float = 30.0,
        authority_key: bytes | None = None,
    ) -> None:
        self._clock = clock
        self.accounts = Accounts(
            sessions=sessions,
            kek=kek,
            clock=clock,
            session_hours=session_hours,
            session_idle_minutes=session_idle_minutes,
        )
        self.issuers = Issuers(sessions=sessions, kek=kek, clock=clock)
        self.governance = Governance(
            sessions=sessions, issuers=self.issuers, authority_key=authority_key, clock=clock
        )
        self.certificates = Certificates(
            sessions=sessions,
            issuers=self.issuers,
            max_batch_size=max_batch_size,
            quota_per_day=issuance_quota_per_day,
            clock=clock,
        )
        self.imports = Imports(sessions=sessions, certificates=self.certificates, clock=clock)
        self.drafts = Drafts(sessions=sessions, certificates=self.certificates, clock=clock)

    # -- issuers and keys (registry.issuers) ------------------------------------------------------

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
        return self.issuers.add_issuer(
            issuer_id=issuer_id,
            name_vi=name_vi,
            name_en=name_en,
            accreditation=accreditation,
            kinds=kinds,
            api_key_label=api_key_label,
        )

    def create_api_key(self, issuer_id: str, *, label: str) -> str:
        """A new token of the issuer's system officer account; returned once, stored hashed."""
        return self.accounts.create_api_key(issuer_id, label=label)

    def revoke_api_key(self, key_id: str) -> None:
        self.accounts.revoke_api_key(key_id)

    def authenticate(self, token: str) -> str:
        """The CB an officer's token acts for; `AuthenticationError` for a token that is not
        good, `ForbiddenError` for one of another role."""
        return officer_of(self.accounts.authenticate_token(token))

    def rotate_key(self, issuer_id: str) -> bytes:
        """Retire the issuer's signing key and make a new one; return the new key id."""
        return self.issuers.rotate_key(issuer_id)

    # -- certificates (registry.certificates) -----------------------------------------------------

    def get(self, certificate_id: str) -> CertificateView:
        return self.certificates.get(certificate_id)

    def find(self, *, issuer_id: str, number: str) -> CertificateView:
        return self.certificates.find(issuer_id=issuer_id, number=number)

    def search(self, **filters: Any) -> tuple[list[CertificateView], int]:
        return self.certificates.search(**filters)

    def history(self, certificate_id: str) -> list[HistoryEntry]:
        return self.certificates.history(certificate_id)

    def issue(
        self, issuer_id: str, submission: Submission, *, actor: Actor | None = None
    ) -> IssueResult:
        """Issue one certificate; the same record again returns the existing one."""
        return self.certificates.issue(issuer_id, submission, actor=actor)

    def issue_batch(
        self,
        issuer_id: str,
        submissions: Sequence[Submission],
        *,
        actor: Actor | None = None,
    ) -> list[IssueResult]:
        """Issue certificates, all or none, one `issue` event each, in the order given."""
        return self.certificates.issue_batch(issuer_id, submissions, actor=actor)

    def suspend(
        self, issuer_id: str, certificate_id: str, *, reason: str, actor: Actor | None = None
    ) -> CertificateView:
        return self.certificates.suspend(issuer_id, certificate_id, reason=reason, actor=actor)

    def reinstate(
        self, issuer_id: str, certificate_id: str, *, reason: str, actor: Actor | None = None
    ) -> CertificateView:
        return self.certificates.reinstate(issuer_id, certificate_id, reason=reason, actor=actor)

    def withdraw(
        self, issuer_id: str, certificate_id: str, *, reason: str, actor: Actor | None = None
    ) -> CertificateView:
        return self.certificates.withdraw(issuer_id, certificate_id, reason=reason, actor=actor)

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
        return self.certificates.supersede(
            issuer_id, certificate_id, submission, reason=reason, actor=actor
        )
