"""Accounts, roles, credentials and the audit trail (docs/security.md §8).

Principals: the authority's admins, each certification body's (CB's) admins and officers, and
auditors. Each person or system acts through an account of its own with credentials of its own:
API tokens (scoped by the account's role and CB when made, expiring, revocable, listed with
their last use) and, for people, a password login (argon2id) with an optional TOTP second
factor, whose sessions carry a CSRF token. Every change a principal makes is appended to the
audit trail in the same transaction as the change.

Who may do what is decided here, not in the routes, by the rules of `docs/security.md` §8:
the authority's admins manage the authority's accounts, auditors and each CB's admins; a CB's
admins manage their own CB's accounts; nobody makes credentials for an account of another
organisation; auditors read everything and change nothing.
"""

import base64
import datetime as dt
import enum
import hashlib
import hmac
import logging
import re
import secrets
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Final
from urllib.parse import quote

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from registry.clock import naive_utc, utc_now
from registry.db import models
from registry.db.engine import reading, without_waiting
from registry.errors import (
    AuthenticationError,
    ConflictError,
    ForbiddenError,
    InvalidRequestError,
    NotFoundError,
)
from registry.keys import KeyEncryptor, new_api_key, parse_api_key, secret_matches

__all__ = [
    "AccountCreated",
    "AccountView",
    "Accounts",
    "Actor",
    "AuditView",
    "LoginResult",
    "Principal",
    "Role",
    "TokenCreated",
    "TokenView",
    "TotpEnrolment",
    "officer_of",
    "record_audit",
    "session_csrf_token",
]


log = logging.getLogger("certreg.accounts")


class Role(enum.StrEnum):
    AUTHORITY_ADMIN = "authority_admin"
    CB_ADMIN = "cb_admin"
    CB_OFFICER = "cb_officer"
    AUDITOR = "auditor"


#: the roles that act for a certification body (and so name one)
CB_ROLES: Final = frozenset({Role.CB_ADMIN, Role.CB_OFFICER})
#: who each role may create accounts for (the CB roles: of its own CB only)
_MAY_CREATE: Final[dict[Role, frozenset[Role]]] = {
    Role.AUTHORITY_ADMIN: frozenset({Role.AUTHORITY_ADMIN, Role.AUDITOR, Role.CB_ADMIN}),
    Role.CB_ADMIN: frozenset({Role.CB_ADMIN, Role.CB_OFFICER}),
}

TOKEN_DAYS_DEFAULT: Final = 90
TOKEN_DAYS_MAX: Final = 365
SETUP_TOKEN_HOURS: Final = 72
#: a token's or session's last use is written at most this often (a write per request would
#: put every authenticated read behind SQLite's write lock)
_LAST_USE_RESOLUTION: Final = dt.timedelta(seconds=60)
_MAX_FAILED_LOGINS: Final = 10
_LOCKOUT: Final = dt.timedelta(minutes=15)
_PASSWORD_MIN: Final = 12
_PASSWORD_MAX: Final = 1024
_LOGIN: Final = re.compile(r"[^\s\x00-\x1f]{3,100}")
_SESSION: Final = re.compile(r"crs_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")
_TOTP_ISSUER: Final = "certreg"


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: an account, through one credential."""

    account_id: str
    role: Role
    issuer_id: str | None
    name: str
    #: `token:<id>`, `session:<id>` or `setup:<id>`
    credential: str
    #: a one-time setup token: it may only set the password or make a first token
    setup_only: bool = False

    def is_(self, *roles: Role) -> bool:
        return self.role in roles


@dataclass(frozen=True)
class Actor:
    """Who made a change, for the audit trail: a principal through the API, or the operator
    at the command line (`principal` None), and from where."""

    principal: Principal | None = None
    address: str | None = None
    user_agent: str | None = None
    via: str = "api"


OPERATOR: Final = Actor(via="cli")


@dataclass(frozen=True)
class AccountView:
    account_id: str
    role: Role
    issuer_id: str | None
    name: str
    login: str | None
    has_password: bool
    totp_enabled: bool
    created_at: dt.datetime
    created_by: str | None
    disabled_at: dt.datetime | None
    disabled_reason: str | None

    @classmethod
    def of(cls, row: models.Account) -> "AccountView":
        return cls(
            account_id=row.id,
            role=Role(row.role),
            issuer_id=row.issuer_id,
            name=row.name,
            login=row.login,
            has_password=row.password_hash is not None,
            totp_enabled=row.totp_enabled,
            created_at=_aware(row.created_at),
            created_by=row.created_by,
            disabled_at=_aware(row.disabled_at),
            disabled_reason=row.disabled_reason,
        )


@dataclass(frozen=True)
class TokenView:
    token_id: str
    account_id: str
    role: Role
    issuer_id: str | None
    purpose: str
    label: str
    created_at: dt.datetime
    expires_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None

    @classmethod
    def of(cls, row: models.ApiKey) -> "TokenView":
        return cls(
            token_id=row.id,
            account_id=row.account_id,
            role=Role(row.role),
            issuer_id=row.issuer_id,
            purpose=row.purpose,
            label=row.label,
            created_at=_aware(row.created_at),
            expires_at=_aware(row.expires_at),
            last_used_at=_aware(row.last_used_at),
            revoked_at=_aware(row.revoked_at),
        )


@dataclass(frozen=True)
class AccountCreated:
    account: AccountView
    setup_token: str  # shown once
    setup_expires_at: dt.datetime


@dataclass(frozen=True)
class TokenCreated:
    token: TokenView
    secret: str  # shown once


@dataclass(frozen=True)
class LoginResult:
    principal: Principal
    cookie: str  # the session cookie's value, shown once
    csrf_token: str  # sent back in X-CSRF-Token with every change
    expires_at: dt.datetime


@dataclass(frozen=True)
class TotpEnrolment:
    secret: str  # base32, for authenticator apps
    uri: str  # otpauth://…, for a QR code


@dataclass(frozen=True)
class AuditView:
    seq: int
    at: dt.datetime
    account_id: str | None
    role: str | None
    actor_issuer_id: str | None
    issuer_id: str | None
    credential: str | None
    action: str
    target: str | None
    detail: dict[str, Any] = field(default_factory=dict)
    address: str | None = None
    user_agent: str | None = None


def _aware(moment: dt.datetime | None) -> Any:
    return None if moment is None else moment.replace(tzinfo=dt.UTC)


def _hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("ascii")).digest()


def _csrf_of(secret: str) -> str:
    """A session's CSRF token: an HMAC of the session's secret. Derived, not drawn, so that a
    page rendered for the session (the portal's forms) can carry it without the server keeping
    it: the server stores only hashes of both, and the token tells nothing of the secret."""
    mac = hmac.new(secret.encode("ascii"), b"certreg-csrf", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def session_csrf_token(cookie: str) -> str:
    """The CSRF token of the session whose cookie is `cookie` (as `login` gave it)."""
    match = _SESSION.fullmatch(cookie)
    if match is None:
        raise AuthenticationError("session: got a malformed cookie, want a new login")
    return _csrf_of(match.group(2))


def normalise_login(login: str) -> str:
    """A login as stored and compared: NFC, case-folded, then NFC again (casefold may
    decompose)."""
    folded = unicodedata.normalize("NFC", unicodedata.normalize("NFC", login).casefold())
    if _LOGIN.fullmatch(folded) is None:
        raise InvalidRequestError(
            f"login: got {login!r:.40}, want 3-100 characters without spaces or controls"
        )
    return folded


def record_audit(
    session: Session,
    actor: Actor,
    action: str,
    *,
    now: dt.datetime,
    target: str | None = None,
    issuer_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one entry to the audit trail, inside the caller's transaction."""
    principal = actor.principal
    session.add(
        models.AuditEntry(
            at=naive_utc(now),
            account_id=principal.account_id if principal else None,
            role=principal.role.value if principal else None,
            actor_issuer_id=principal.issuer_id if principal else None,
            issuer_id=issuer_id,
            credential=principal.credential if principal else actor.via,
            action=action,
            target=target,
            detail=detail or {},
            address=(actor.address or None) and actor.address[:100],
            user_agent=(actor.user_agent or None) and actor.user_agent[:300],
        )
    )


def new_account_row(
    session: Session,
    *,
    role: Role,
    issuer_id: str | None,
    name: str,
    login: str | None,
    now: dt.datetime,
    created_by: str | None,
) -> models.Account:
    row = models.Account(
        id=secrets.token_hex(8),
        role=role.value,
        issuer_id=issuer_id,
        name=name,
        login=login,
        password_hash=None,
        totp_secret=None,
        totp_enabled=False,
        totp_last_step=None,
        failed_logins=0,
        locked_until=None,
        created_at=naive_utc(now),
        created_by=created_by,
        disabled_at=None,
        disabled_reason=None,
    )
    session.add(row)
    session.flush()  # tokens refer to it
    return row


def new_token_row(
    session: Session,
    account: models.Account,
    *,
    label: str,
    now: dt.datetime,
    expires_at: dt.datetime,
    purpose: str = "api",
) -> tuple[models.ApiKey, str]:
    """A token of `account`, with the account's role and CB as its scope; the secret once."""
    secret = new_api_key()
    row = models.ApiKey(
        id=secret.key_id,
        account_id=account.id,
        role=account.role,
        issuer_id=account.issuer_id,
        purpose=purpose,
        secret_hash=secret.secret_hash,
        label=label,
        created_at=naive_utc(now),
        expires_at=naive_utc(expires_at),
        last_used_at=None,
        revoked_at=None,
        revoked_by=None,
    )
    session.add(row)
    return row, secret.token


def system_officer(session: Session, issuer_id: str, *, now: dt.datetime) -> models.Account:
    """The CB's system officer account (no login), made with a CB admitted before the
    authority's statements: the holder of the API keys the operator made for it."""
    row = session.scalars(
        select(models.Account)
        .where(
            models.Account.issuer_id == issuer_id,
            models.Account.role == Role.CB_OFFICER.value,
            models.Account.login.is_(None),
            models.Account.disabled_at.is_(None),
        )
        .order_by(models.Account.created_at, models.Account.id)
        .limit(1)
    ).first()
    if row is not None:
        return row
    return new_account_row(
        session,
        role=Role.CB_OFFICER,
        issuer_id=issuer_id,
        name=f"{issuer_id} (system officer)",
        login=None,
        now=now,
        created_by=None,
    )


def officer_of(principal: Principal) -> str:
    """The CB an officer acts for: certificates are issued and changed by officers only."""
    if principal.role is not Role.CB_OFFICER or principal.issuer_id is None:
        raise ForbiddenError(
            f"certificates: got a {principal.role.value}"
            + (" setup token" if principal.setup_only else "")
            + ", want a CB officer"
        )
    if principal.setup_only:
        raise ForbiddenError("certificates: got a setup token, want an officer's API token")
    return principal.issuer_id


def system_officer_token(
    session: Session, issuer_id: str, *, label: str, now: dt.datetime
) -> tuple[models.ApiKey, str]:
    """A new token of the CB's system officer (the operator's API keys), for the longest a
    token may last; the secret once."""
    return new_token_row(
        session,
        system_officer(session, issuer_id, now=now),
        label=label,
        now=now,
        expires_at=now + dt.timedelta(days=TOKEN_DAYS_MAX),
    )


class Accounts:
    """Accounts, tokens, password logins and the audit trail, over one database."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        kek: bytes,
        clock: Callable[[], dt.datetime] = utc_now,
        session_hours: float = 12.0,
        session_idle_minutes: float = 30.0,
        password_hasher: PasswordHasher | None = None,
    ) -> None:
        self._sessions = sessions
        self._reading = reading(sessions)
        self._touching = without_waiting(sessions)
        self._encryptor = KeyEncryptor(kek)
        self._clock = clock
        self._session_lifetime = dt.timedelta(hours=session_hours)
        self._session_idle = dt.timedelta(minutes=session_idle_minutes)
        # argon2id with RFC 9106's second recommended setting (argon2-cffi's default)
        self._hasher = password_hasher or PasswordHasher()

    @cached_property
    def _dummy_hash(self) -> str:
        """What an unknown login's password is checked against (made on first need: a hash
        costs as much as a login)."""
        return self._hasher.hash(secrets.token_urlsafe(16))

    def _now(self) -> dt.datetime:
        return self._clock().replace(microsecond=0)

    # -- bootstrap and the operator's commands -----------------------------------------------

    def bootstrap_authority(self, *, name: str, login: str | None) -> AccountCreated:
        """The first authority admin (`certreg authority init`), with a one-time setup token;
        refused once an active authority admin exists."""
        now = self._now()
        with self._sessions.begin() as session:
            active = self._active_admins(session)
            if active:
                raise ConflictError(
                    f"authority: got {active} active admin(s) already, want none; an admin "
                    "creates further accounts through the API"
                )
            return self._create(
                session,
                OPERATOR,
                role=Role.AUTHORITY_ADMIN,
                issuer_id=None,
                name=name,
                login=login,
                now=now,
            )

    def create_api_key(self, issuer_id: str, *, label: str) -> str:
        """A token of the CB's system officer account (of a CB admitted before the statements)."""
        now = self._now()
        with self._sessions.begin() as session:
            if session.get(models.Issuer, issuer_id) is None:
                raise NotFoundError(f"issuer {issuer_id}: got an unknown id")
            row, token = system_officer_token(session, issuer_id, label=label, now=now)
            record_audit(
                session,
                OPERATOR,
                "token.create",
                now=now,
                target=f"token:{row.id}",
                issuer_id=issuer_id,
                detail={"account_id": row.account_id, "label": label},
            )
            return token

    def revoke_api_key(self, token_id: str) -> None:
        """Revoke a token by id (the operator's command)."""
        now = self._now()
        with self._sessions.begin() as session:
            row = session.get(models.ApiKey, token_id)
            if row is None:
                raise NotFoundError(f"token {token_id}: got an unknown id")
            self._revoke(session, OPERATOR, row, now)

    # -- accounts -------------------------------------------------------------------------------

    def create_account(
        self,
        principal: Principal,
        *,
        role: Role,
        issuer_id: str | None,
        name: str,
        login: str | None,
        actor: Actor,
    ) -> AccountCreated:
        self._active(principal)
        allowed = _MAY_CREATE.get(principal.role, frozenset())
        if role not in allowed:
            raise ForbiddenError(
                f"account: got role {role.value} from a {principal.role.value}, want one of "
                f"{sorted(r.value for r in allowed) or 'none'}"
            )
        if role in CB_ROLES:
            if issuer_id is None:
                raise InvalidRequestError(
                    f"issuer_id: got none, want the CB a {role.value} acts for"
                )
            if principal.role in CB_ROLES and issuer_id != principal.issuer_id:
                raise ForbiddenError(
                    f"account: got CB {issuer_id}, want your own ({principal.issuer_id})"
                )
        elif issuer_id is not None:
            raise InvalidRequestError(f"issuer_id: got {issuer_id}, want none for a {role.value}")
        now = self._now()
        with self._sessions.begin() as session:
            if issuer_id is not None and session.get(models.Issuer, issuer_id) is None:
                raise NotFoundError(f"issuer {issuer_id}: got an unknown id")
            return self._create(
                session, actor, role=role, issuer_id=issuer_id, name=name, login=login, now=now
            )

    def _create(
        self,
        session: Session,
        actor: Actor,
        *,
        role: Role,
        issuer_id: str | None,
        name: str,
        login: str | None,
        now: dt.datetime,
    ) -> AccountCreated:
        name = unicodedata.normalize("NFC", name).strip()
        if not 1 <= len(name) <= 200:
            raise InvalidRequestError(f"name: got {len(name)} characters, want 1-200")
        stored_login = None if login is None else normalise_login(login)
        if stored_login is not None and session.scalar(
            select(models.Account.id).where(models.Account.login == stored_login)
        ):
            raise ConflictError(f"login {stored_login}: got one that is taken, want another")
        creator = actor.principal.account_id if actor.principal else None
        row = new_account_row(
            session,
            role=role,
            issuer_id=issuer_id,
            name=name,
            login=stored_login,
            now=now,
            created_by=creator,
        )
        setup, token = self._setup_token(session, row, now)
        record_audit(
            session,
            actor,
            "account.create",
            now=now,
            target=f"account:{row.id}",
            issuer_id=issuer_id,
            detail={"role": role.value, "name": name, "login": stored_login},
        )
        return AccountCreated(
            account=AccountView.of(row),
            setup_token=token,
            setup_expires_at=_aware(setup.expires_at),
        )

    def _setup_token(
        self, session: Session, account: models.Account, now: dt.datetime
    ) -> tuple[models.ApiKey, str]:
        return new_token_row(
            session,
            account,
            label="setup",
            now=now,
            expires_at=now + dt.timedelta(hours=SETUP_TOKEN_HOURS),
            purpose="setup",
        )

    def accounts(
        self, principal: Principal, *, issuer_id: str | None = None, role: Role | None = None
    ) -> list[AccountView]:
        """The accounts `principal` may see: all for the authority's admins and auditors, its
        own CB's for a CB admin, its own for anyone else."""
        self._active(principal)
        query = select(models.Account).order_by(models.Account.created_at, models.Account.id)
        if principal.is_(Role.AUTHORITY_ADMIN, Role.AUDITOR):
            pass
        elif principal.is_(Role.CB_ADMIN):
            if issuer_id not in (None, principal.issuer_id):
                raise ForbiddenError(
                    f"accounts: got CB {issuer_id}, want your own ({principal.issuer_id})"
                )
            issuer_id = principal.issuer_id
        else:
            query = query.where(models.Account.id == principal.account_id)
        if issuer_id is not None:
            query = query.where(models.Account.issuer_id == issuer_id)
        if role is not None:
            query = query.where(models.Account.role == role.value)
        with self._reading() as session:
            return [AccountView.of(row) for row in session.scalars(query)]

    def account(self, principal: Principal, account_id: str) -> AccountView:
        self._active(principal)
        with self._reading() as session:
            row = self._visible(session, principal, account_id)
            return AccountView.of(row)

    def disable_account(
        self, principal: Principal, account_id: str, *, reason: str, actor: Actor
    ) -> AccountView:
        """Disable an account: its tokens and sessions stop working at once."""
        self._active(principal)
        now = self._now()
        with self._sessions.begin() as session:
            row = self._managed(session, principal, account_id)
            if row.disabled_at is not None:
                return AccountView.of(row)
            if row.role == Role.AUTHORITY_ADMIN.value and self._active_admins(session) <= 1:
                raise ConflictError(
                    f"account {account_id}: got the last active authority admin, want another "
                    "admin created first"
                )
            row.disabled_at = naive_utc(now)
            row.disabled_reason = reason
            record_audit(
                session,
                actor,
                "account.disable",
                now=now,
                target=f"account:{row.id}",
                issuer_id=row.issuer_id,
                detail={"reason": reason},
            )
            return AccountView.of(row)

    def reset_credentials(
        self, principal: Principal, account_id: str, *, actor: Actor
    ) -> AccountCreated:
        """A new setup token for an account someone manages (a forgotten password or a lost
        second factor): its password and TOTP are cleared, its sessions ended."""
        self._active(principal)
        now = self._now()
        with self._sessions.begin() as session:
            row = self._managed(session, principal, account_id)
            if row.disabled_at is not None:
                raise ConflictError(f"account {account_id}: got a disabled account")
            row.password_hash = None
            row.totp_secret = None
            row.totp_enabled = False
            row.failed_logins = 0
            row.locked_until = None
            for login in session.scalars(
                select(models.LoginSession).where(
                    models.LoginSession.account_id == row.id, models.LoginSession.ended_at.is_(None)
                )
            ):
                login.ended_at = naive_utc(now)
            setup, token = self._setup_token(session, row, now)
            record_audit(
                session,
                actor,
                "account.reset",
                now=now,
                target=f"account:{row.id}",
                issuer_id=row.issuer_id,
            )
            return AccountCreated(
                account=AccountView.of(row),
                setup_token=token,
                setup_expires_at=_aware(setup.expires_at),
            )

    # -- tokens ---------------------------------------------------------------------------------

    def create_token(
        self,
        principal: Principal,
        *,
        account_id: str | None,
        label: str,
        expires_in_days: int,
        actor: Actor,
    ) -> TokenCreated:
        """A token for the principal's own account, or (a CB admin) for an account of its CB;
        nobody makes credentials for another organisation's account."""
        self._active(principal, setup_allowed=True)
        if not 1 <= expires_in_days <= TOKEN_DAYS_MAX:
            raise InvalidRequestError(
                f"expires_in_days: got {expires_in_days}, want 1-{TOKEN_DAYS_MAX}"
            )
        now = self._now()
        with self._sessions.begin() as session:
            target = account_id or principal.account_id
            if target == principal.account_id:
                row = self._account_row(session, target)
            else:
                if principal.setup_only:
                    raise ForbiddenError("token: got a setup token, want it used for its account")
                row = self._managed(session, principal, target)
                if row.issuer_id is None or row.issuer_id != principal.issuer_id:
                    raise ForbiddenError(
                        f"token: got account {target} of another organisation, want your own or "
                        "one of your CB's"
                    )
            if row.disabled_at is not None:
                raise ConflictError(f"account {target}: got a disabled account")
            token_row, secret = new_token_row(
                session,
                row,
                label=label,
                now=now,
                expires_at=now + dt.timedelta(days=expires_in_days),
            )
            self._consume_setup(session, principal, now)
            record_audit(
                session,
                actor,
                "token.create",
                now=now,
                target=f"token:{token_row.id}",
                issuer_id=row.issuer_id,
                detail={"account_id": row.id, "label": label, "days": expires_in_days},
            )
            return TokenCreated(token=TokenView.of(token_row), secret=secret)

    def tokens(self, principal: Principal, *, account_id: str | None = None) -> list[TokenView]:
        """Tokens (never their secrets) of the accounts `principal` may see."""
        visible = {a.account_id for a in self.accounts(principal)}
        if account_id is not None:
            if account_id not in visible:
                raise NotFoundError(f"account {account_id}: got an unknown id")
            visible = {account_id}
        query = (
            select(models.ApiKey)
            .where(models.ApiKey.account_id.in_(visible))
            .order_by(models.ApiKey.created_at, models.ApiKey.id)
        )
        with self._reading() as session:
            return [TokenView.of(row) for row in session.scalars(query)]

    def revoke_token(self, principal: Principal, token_id: str, *, actor: Actor) -> TokenView:
        self._active(principal)
        now = self._now()
        with self._sessions.begin() as session:
            row = session.get(models.ApiKey, token_id)
            if row is None:
                raise NotFoundError(f"token {token_id}: got an unknown id")
            if row.account_id != principal.account_id:
                self._managed(session, principal, row.account_id, hidden=f"token {token_id}")
            self._revoke(session, actor, row, now)
            return TokenView.of(row)

    def _revoke(self, session: Session, actor: Actor, row: models.ApiKey, now: dt.datetime) -> None:
        if row.revoked_at is not None:
            return
        row.revoked_at = naive_utc(now)
        row.revoked_by = actor.principal.account_id if actor.principal else None
        record_audit(
            session,
            actor,
            "token.revoke",
            now=now,
            target=f"token:{row.id}",
            issuer_id=row.issuer_id,
            detail={"account_id": row.account_id},
        )

    # -- authentication -------------------------------------------------------------------------

    def authenticate_token(self, token: str) -> Principal:
        """The principal a bearer token stands for; `AuthenticationError` otherwise."""
        parsed = parse_api_key(token)
        if parsed is None:
            raise AuthenticationError("token: got a malformed token, want crk_<id>_<secret>")
        token_id, secret = parsed
        now = self._now()
        with self._reading() as session:
            row = session.get(models.ApiKey, token_id)
            if row is None or not secret_matches(secret, row.secret_hash):
                raise AuthenticationError("token: got an unknown token, want a registered one")
            if row.revoked_at is not None:
                raise AuthenticationError(f"token {token_id}: got a revoked token")
            if naive_utc(now) >= row.expires_at:
                raise AuthenticationError(
                    f"token {token_id}: got a token that expired at "
                    f"{_aware(row.expires_at).isoformat()}"
                )
            account = session.get(models.Account, row.account_id)
            if account is None or account.disabled_at is not None:
                raise AuthenticationError(f"token {token_id}: got a token of a disabled account")
            if account.role != row.role or account.issuer_id != row.issuer_id:
                # Scope is fixed when a token is made: a changed account does not widen it.
                raise AuthenticationError(f"token {token_id}: got a token of an earlier scope")
            stale = row.last_used_at is None or naive_utc(now) - row.last_used_at >= (
                _LAST_USE_RESOLUTION
            )
            setup = row.purpose == "setup"
            principal = Principal(
                account_id=account.id,
                role=Role(row.role),
                issuer_id=row.issuer_id,
                name=account.name,
                credential=f"{'setup' if setup else 'token'}:{row.id}",
                setup_only=setup,
            )
        if stale:
            self._touch(models.ApiKey, models.ApiKey.last_used_at, token_id, naive_utc(now))
        return principal

    def login(
        self,
        *,
        login: str,
        password: str,
        totp_code: str | None,
        actor: Actor,
    ) -> LoginResult:
        """A password (and, when enabled, TOTP) login: a new session."""
        now = self._now()
        try:
            name = normalise_login(login)
        except InvalidRequestError:
            name = None
        with self._sessions.begin() as session:
            row = (
                session.scalars(select(models.Account).where(models.Account.login == name)).first()
                if name
                else None
            )
            refused = self._check_login(row, password, totp_code, now)
            if refused is not None:
                if row is not None and row.locked_until is None:
                    row.failed_logins += 1
                    if row.failed_logins >= _MAX_FAILED_LOGINS:
                        row.locked_until = naive_utc(now + _LOCKOUT)
                        row.failed_logins = 0
                record_audit(
                    session,
                    actor,
                    "auth.login_failed",
                    now=now,
                    target=f"account:{row.id}" if row else None,
                    issuer_id=row.issuer_id if row else None,
                    detail={"login": (name or login)[:100], "reason": refused},
                )
        if refused is not None or row is None:
            raise AuthenticationError(
                "login: got a wrong login, password or code, want the account's"
                if refused != "locked"
                else "login: got an account locked after repeated failures, want a retry later"
            )
        with self._sessions.begin() as session:
            row = self._account_row(session, row.id)
            row.failed_logins = 0
            row.locked_until = None
            session_id = secrets.token_hex(8)
            secret = secrets.token_urlsafe(32)
            csrf = _csrf_of(secret)
            expires = now + self._session_lifetime
            session.add(
                models.LoginSession(
                    id=session_id,
                    account_id=row.id,
                    secret_hash=_hash(secret),
                    csrf_hash=_hash(csrf),
                    created_at=naive_utc(now),
                    expires_at=naive_utc(expires),
                    last_seen_at=naive_utc(now),
                    address=actor.address,
                    user_agent=(actor.user_agent or None) and actor.user_agent[:300],
                    ended_at=None,
                )
            )
            principal = Principal(
                account_id=row.id,
                role=Role(row.role),
                issuer_id=row.issuer_id,
                name=row.name,
                credential=f"session:{session_id}",
            )
            record_audit(
                session,
                Actor(principal, actor.address, actor.user_agent),
                "auth.login",
                now=now,
                target=f"account:{row.id}",
                issuer_id=row.issuer_id,
                detail={"totp": row.totp_enabled},
            )
        return LoginResult(
            principal=principal,
            cookie=f"crs_{session_id}_{secret}",
            csrf_token=csrf,
            expires_at=_aware(naive_utc(expires)),
        )

    def _check_login(
        self, row: models.Account | None, password: str, totp_code: str | None, now: dt.datetime
    ) -> str | None:
        """Why a login is refused, or None. The password is checked even for an unknown login
        (against a dummy hash), so the answer's timing does not tell which logins exist."""
        stored = row.password_hash if row is not None else None
        try:
            self._hasher.verify(stored or self._dummy_hash, password)
            password_ok = stored is not None
        except (VerificationError, InvalidHashError):
            password_ok = False
        if row is None or row.disabled_at is not None:
            return "unknown_or_disabled"
        if row.locked_until is not None and naive_utc(now) < row.locked_until:
            return "locked"
        row.locked_until = None
        if not password_ok:
            return "password"
        if row.totp_enabled and not self._totp_ok(row, totp_code, now):
            return "totp"
        return None

    def authenticate_session(
        self, cookie: str, *, csrf_token: str | None, changes: bool
    ) -> Principal:
        """The principal of a session cookie; a request that changes something must also carry
        the session's CSRF token (`X-CSRF-Token`)."""
        match = _SESSION.fullmatch(cookie)
        if match is None:
            raise AuthenticationError("session: got a malformed cookie, want a new login")
        session_id, secret = match.groups()
        now = naive_utc(self._now())
        with self._reading() as session:
            row = session.get(models.LoginSession, session_id)
            if row is None or not hmac.compare_digest(_hash(secret), row.secret_hash):
                raise AuthenticationError("session: got an unknown session, want a new login")
            if row.ended_at is not None or now >= row.expires_at:
                raise AuthenticationError("session: got an ended session, want a new login")
            if now - row.last_seen_at >= self._session_idle:
                raise AuthenticationError("session: got a session idle too long, want a new login")
            if changes and (
                csrf_token is None or not hmac.compare_digest(_hash(csrf_token), row.csrf_hash)
            ):
                raise ForbiddenError(
                    "X-CSRF-Token: got none or another session's, want this session's token"
                )
            account = session.get(models.Account, row.account_id)
            if account is None or account.disabled_at is not None:
                raise AuthenticationError("session: got a session of a disabled account")
            principal = Principal(
                account_id=account.id,
                role=Role(account.role),
                issuer_id=account.issuer_id,
                name=account.name,
                credential=f"session:{row.id}",
            )
            stale = now - row.last_seen_at >= _LAST_USE_RESOLUTION
        if stale:
            self._touch(models.LoginSession, models.LoginSession.last_seen_at, session_id, now)
        return principal

    def _touch(self, table: Any, column: Any, row_id: str, now: dt.datetime) -> None:
        """Record a credential's use, best effort: never waiting for another writer (an
        authenticated read must not queue behind issuance); a skipped write is made by a later
        request."""
        try:
            with self._touching.begin() as session:
                session.execute(update(table).where(table.id == row_id).values({column: now}))
        except OperationalError as exc:
            log.debug("last use of %s not recorded now: %s", row_id, exc)

    def logout(self, principal: Principal, *, actor: Actor) -> None:
        self._active(principal)  # a setup token is for its one purpose (else forbidden)
        kind, _, session_id = principal.credential.partition(":")
        if kind != "session":
            raise InvalidRequestError("logout: got a token, want a session (revoke tokens instead)")
        now = self._now()
        with self._sessions.begin() as session:
            row = session.get(models.LoginSession, session_id)
            if row is not None and row.ended_at is None:
                row.ended_at = naive_utc(now)
                record_audit(
                    session,
                    actor,
                    "auth.logout",
                    now=now,
                    target=f"account:{principal.account_id}",
                    issuer_id=principal.issuer_id,
                )

    # -- the principal's own credentials -------------------------------------------------------

    def set_password(
        self, principal: Principal, *, current: str | None, new: str, actor: Actor
    ) -> None:
        """Set the account's password: with the current one, or with a setup token, or when it
        has none yet. A new password ends the account's other sessions."""
        self._active(principal, setup_allowed=True)
        if not _PASSWORD_MIN <= len(new) <= _PASSWORD_MAX:
            raise InvalidRequestError(
                f"password: got {len(new)} characters, want {_PASSWORD_MIN}-{_PASSWORD_MAX}"
            )
        now = self._now()
        with self._sessions.begin() as session:
            row = self._account_row(session, principal.account_id)
            if row.login is None:
                raise InvalidRequestError("password: got a system account, want one with a login")
            if new.casefold() == row.login or new.casefold() == row.name.casefold():
                raise InvalidRequestError("password: got the login or name, want something else")
            if row.password_hash is not None and not principal.setup_only:
                try:
                    self._hasher.verify(row.password_hash, current or "")
                except (VerificationError, InvalidHashError) as exc:
                    raise ForbiddenError(
                        "current_password: got a wrong one, want the account's password"
                    ) from exc
            row.password_hash = self._hasher.hash(new)
            keep = (
                principal.credential.partition(":")[2]
                if principal.credential.startswith("session:")
                else None
            )
            for other in session.scalars(
                select(models.LoginSession).where(
                    models.LoginSession.account_id == row.id, models.LoginSession.ended_at.is_(None)
                )
            ):
                if other.id != keep:
                    other.ended_at = naive_utc(now)
            self._consume_setup(session, principal, now)
            record_audit(
                session,
                actor,
                "account.password",
                now=now,
                target=f"account:{row.id}",
                issuer_id=row.issuer_id,
            )

    def begin_totp(self, principal: Principal, *, actor: Actor) -> TotpEnrolment:
        """A new TOTP secret, pending until a code from it is confirmed."""
        self._active(principal)
        now = self._now()
        secret = pyotp.random_base32()
        with self._sessions.begin() as session:
            row = self._account_row(session, principal.account_id)
            if row.totp_enabled:
                raise ConflictError("totp: got an account with TOTP on, want it turned off first")
            row.totp_secret = self._encryptor.seal_bytes(
                secret.encode("ascii"), context=self._totp_context(row.id)
            )
            record_audit(
                session,
                actor,
                "account.totp_begin",
                now=now,
                target=f"account:{row.id}",
                issuer_id=row.issuer_id,
            )
            label = row.login or row.id
        uri = pyotp.TOTP(secret).provisioning_uri(name=quote(label), issuer_name=_TOTP_ISSUER)
        return TotpEnrolment(secret=secret, uri=uri)

    def confirm_totp(self, principal: Principal, *, code: str, actor: Actor) -> None:
        self._set_totp(principal, code=code, enabled=True, actor=actor)

    def disable_totp(self, principal: Principal, *, code: str, actor: Actor) -> None:
        self._set_totp(principal, code=code, enabled=False, actor=actor)

    def _set_totp(self, principal: Principal, *, code: str, enabled: bool, actor: Actor) -> None:
        self._active(principal)
        now = self._now()
        with self._sessions.begin() as session:
            row = self._account_row(session, principal.account_id)
            if row.totp_secret is None or row.totp_enabled == enabled:
                state = "on" if row.totp_enabled else "off"
                raise ConflictError(
                    f"totp: got an account with TOTP {state}"
                    + (" and none pending" if enabled and row.totp_secret is None else "")
                )
            if not self._totp_ok(row, code, now):
                raise ForbiddenError("totp code: got a wrong or used code, want the current one")
            row.totp_enabled = enabled
            if not enabled:
                row.totp_secret = None
            record_audit(
                session,
                actor,
                "account.totp_on" if enabled else "account.totp_off",
                now=now,
                target=f"account:{row.id}",
                issuer_id=row.issuer_id,
            )

    def _totp_context(self, account_id: str) -> bytes:
        return f"totp:{account_id}".encode("ascii")

    def _totp_ok(self, row: models.Account, code: str | None, now: dt.datetime) -> bool:
        """The code of the current 30-second step or one step either side, each used once."""
        if row.totp_secret is None or code is None or not code.isdigit() or len(code) != 6:
            return False
        secret = self._encryptor.open_bytes(
            row.totp_secret, context=self._totp_context(row.id)
        ).decode("ascii")
        totp = pyotp.TOTP(secret)
        step_now = int(now.timestamp()) // totp.interval
        for step in (step_now - 1, step_now, step_now + 1):
            if hmac.compare_digest(totp.generate_otp(step), code):
                if row.totp_last_step is not None and step <= row.totp_last_step:
                    return False
                row.totp_last_step = step
                return True
        return False

    # -- the audit trail --------------------------------------------------------------------------

    def audit_trail(
        self,
        principal: Principal,
        *,
        after: int = 0,
        limit: int = 100,
        issuer_id: str | None = None,
        account_id: str | None = None,
    ) -> list[AuditView]:
        """Entries after `after`, oldest first: all of them for the authority's admins and
        auditors; a CB admin's own CB's (made by it, or concerning it)."""
        self._active(principal)
        query = (
            select(models.AuditEntry)
            .where(models.AuditEntry.seq > after)
            .order_by(models.AuditEntry.seq)
            .limit(max(1, min(limit, 1000)))
        )
        if principal.is_(Role.CB_ADMIN):
            if issuer_id not in (None, principal.issuer_id):
                raise ForbiddenError(
                    f"audit: got CB {issuer_id}, want your own ({principal.issuer_id})"
                )
            query = query.where(
                (models.AuditEntry.issuer_id == principal.issuer_id)
                | (models.AuditEntry.actor_issuer_id == principal.issuer_id)
            )
        elif not principal.is_(Role.AUTHORITY_ADMIN, Role.AUDITOR):
            raise ForbiddenError(
                f"audit: got a {principal.role.value}, want an auditor, an authority admin or "
                "a CB admin"
            )
        if issuer_id is not None:
            query = query.where(models.AuditEntry.issuer_id == issuer_id)
        if account_id is not None:
            query = query.where(models.AuditEntry.account_id == account_id)
        with self._reading() as session:
            return [
                AuditView(
                    seq=row.seq,
                    at=_aware(row.at),
                    account_id=row.account_id,
                    role=row.role,
                    actor_issuer_id=row.actor_issuer_id,
                    issuer_id=row.issuer_id,
                    credential=row.credential,
                    action=row.action,
                    target=row.target,
                    detail=dict(row.detail),
                    address=row.address,
                    user_agent=row.user_agent,
                )
                for row in session.scalars(query)
            ]

    # -- rules -----------------------------------------------------------------------------------

    @staticmethod
    def _active(principal: Principal, *, setup_allowed: bool = False) -> None:
        if principal.setup_only and not setup_allowed:
            raise ForbiddenError(
                "setup token: got it for another use, want it used to set a password or make a "
                "first token"
            )

    @staticmethod
    def _consume_setup(session: Session, principal: Principal, now: dt.datetime) -> None:
        """A setup token is good once."""
        if principal.setup_only:
            row = session.get(models.ApiKey, principal.credential.partition(":")[2])
            if row is not None and row.revoked_at is None:
                row.revoked_at = naive_utc(now)
                row.revoked_by = principal.account_id

    @staticmethod
    def _account_row(session: Session, account_id: str) -> models.Account:
        row = session.get(models.Account, account_id)
        if row is None:
            raise NotFoundError(f"account {account_id}: got an unknown id")
        return row

    def _visible(self, session: Session, principal: Principal, account_id: str) -> models.Account:
        """An account `principal` may read; another is "not found", so that ids of other CBs'
        accounts cannot be probed."""
        row = session.get(models.Account, account_id)
        if row is not None and (
            row.id == principal.account_id
            or principal.is_(Role.AUTHORITY_ADMIN, Role.AUDITOR)
            or (principal.is_(Role.CB_ADMIN) and row.issuer_id == principal.issuer_id)
        ):
            return row
        raise NotFoundError(f"account {account_id}: got an unknown id")

    def _managed(
        self,
        session: Session,
        principal: Principal,
        account_id: str,
        *,
        hidden: str | None = None,
    ) -> models.Account:
        """An account `principal` manages: one of a role it may create (docs/security.md §8) —
        for an authority admin the authority's admins, auditors and CB admins, not a CB's
        officers (a reset would hand it their setup token); for a CB admin its own CB's admins
        and officers. One it may see but not manage is forbidden; one it may not see, not
        found."""
        try:
            row = self._visible(session, principal, account_id)
        except NotFoundError:
            if hidden is not None:
                raise NotFoundError(f"{hidden}: got an unknown id") from None
            raise
        manages = Role(row.role) in _MAY_CREATE.get(principal.role, frozenset()) and (
            principal.role not in CB_ROLES or row.issuer_id == principal.issuer_id
        )
        if not manages:
            raise ForbiddenError(
                f"account {account_id}: got a {principal.role.value}, want its manager "
                "(an authority admin for the authority's accounts and CB admins, an admin of "
                "its CB for a CB's)"
            )
        return row

    @staticmethod
    def _active_admins(session: Session) -> int:
        return int(
            session.scalar(
                select(func.count())
                .select_from(models.Account)
                .where(
                    models.Account.role == Role.AUTHORITY_ADMIN.value,
                    models.Account.disabled_at.is_(None),
                )
            )
            or 0
        )
