"""Accounts, credentials and the audit trail over HTTP (docs/spec.md §11.9, docs/security.md
§8): password login sessions, the principal's own password and second factor, accounts and
API tokens managed by role, and the audit trail for those who may read it.

Who may do what is decided by `registry.accounts`; these routes only carry requests to it and
answers back. Plain `def` routes: each reads or writes the database (FastAPI runs them in its
thread pool).
"""

import datetime as dt
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from api.deps import SESSION_COOKIE, ActorDep, PrincipalDep, StackDep, client_ip
from api.problems import responses
from registry.accounts import (
    TOKEN_DAYS_DEFAULT,
    TOKEN_DAYS_MAX,
    AccountCreated,
    AccountView,
    Actor,
    AuditView,
    Role,
    TokenView,
)

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["accounts"])

_AUTH = (401, 403, 429)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AccountOut(BaseModel):
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


class TokenOut(BaseModel):
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


class AuditOut(BaseModel):
    seq: int
    at: dt.datetime
    account_id: str | None
    role: str | None
    actor_issuer_id: str | None
    issuer_id: str | None
    credential: str | None
    action: str
    target: str | None
    detail: dict[str, Any]
    address: str | None
    user_agent: str | None


def _account(view: AccountView) -> AccountOut:
    return AccountOut(**asdict(view))


def _token(view: TokenView) -> TokenOut:
    return TokenOut(**asdict(view))


def _audit(view: AuditView) -> AuditOut:
    return AuditOut(**asdict(view))


# -- login sessions -------------------------------------------------------------------------------


class LoginIn(_In):
    login: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1024)
    totp_code: str | None = Field(default=None, max_length=10)


class LoginOut(BaseModel):
    account: AccountOut
    #: send it back as `X-CSRF-Token` with every request that changes something
    csrf_token: str
    expires_at: dt.datetime


class MeOut(BaseModel):
    account: AccountOut
    #: `token:<id>`, `session:<id>` or `setup:<id>`
    credential: str


@router.post(
    "/auth/login",
    summary="Log in with a password (and TOTP code): sets the session cookie",
    responses=responses(401, 422, 429),
)
def login(body: LoginIn, request: Request, response: Response, stack: StackDep) -> LoginOut:
    result = stack.service.accounts.login(
        login=body.login,
        password=body.password,
        totp_code=body.totp_code,
        actor=Actor(address=client_ip(request), user_agent=request.headers.get("user-agent")),
    )
    seconds = int((result.expires_at - dt.datetime.now(dt.UTC)).total_seconds())
    response.set_cookie(
        SESSION_COOKIE,
        result.cookie,
        max_age=max(seconds, 0),
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="strict",
        path="/",
    )
    account = stack.service.accounts.account(result.principal, result.principal.account_id)
    return LoginOut(
        account=_account(account), csrf_token=result.csrf_token, expires_at=result.expires_at
    )


@router.post(
    "/auth/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="End the login session",
    responses=responses(*_AUTH, 400),
)
def logout(acting: ActorDep, response: Response, stack: StackDep) -> None:
    assert acting.principal is not None
    stack.service.accounts.logout(acting.principal, actor=acting)
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.get("/me", summary="Who the credential presented is", responses=responses(*_AUTH))
def me(principal: PrincipalDep, stack: StackDep) -> MeOut:
    view = stack.service.accounts.account(principal, principal.account_id)
    return MeOut(account=_account(view), credential=principal.credential)


class PasswordIn(_In):
    current_password: str | None = Field(default=None, max_length=1024)
    new_password: str = Field(max_length=1024)


@router.put(
    "/me/password",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Set the account's password (a setup token may, once)",
    responses=responses(*_AUTH, 400, 422),
)
def set_password(body: PasswordIn, acting: ActorDep, stack: StackDep) -> None:
    assert acting.principal is not None
    stack.service.accounts.set_password(
        acting.principal, current=body.current_password, new=body.new_password, actor=acting
    )


class TotpOut(BaseModel):
    secret: str
    uri: str


class TotpCodeIn(_In):
    code: str = Field(min_length=1, max_length=10)


@router.post(
    "/me/totp",
    summary="Begin a TOTP second factor: a secret to confirm with a code",
    responses=responses(*_AUTH, 409),
)
def begin_totp(acting: ActorDep, stack: StackDep) -> TotpOut:
    assert acting.principal is not None
    enrolment = stack.service.accounts.begin_totp(acting.principal, actor=acting)
    return TotpOut(secret=enrolment.secret, uri=enrolment.uri)


@router.post(
    "/me/totp/confirm",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Turn TOTP on with a code from the new secret",
    responses=responses(*_AUTH, 409, 422),
)
def confirm_totp(body: TotpCodeIn, acting: ActorDep, stack: StackDep) -> None:
    assert acting.principal is not None
    stack.service.accounts.confirm_totp(acting.principal, code=body.code, actor=acting)


@router.post(
    "/me/totp/disable",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Turn TOTP off with a current code",
    responses=responses(*_AUTH, 409, 422),
)
def disable_totp(body: TotpCodeIn, acting: ActorDep, stack: StackDep) -> None:
    assert acting.principal is not None
    stack.service.accounts.disable_totp(acting.principal, code=body.code, actor=acting)


# -- accounts -------------------------------------------------------------------------------------


class AccountIn(_In):
    role: Role
    issuer_id: str | None = Field(default=None, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    login: str | None = Field(default=None, max_length=100)


class AccountCreatedOut(BaseModel):
    account: AccountOut
    #: shown once: lets the account's holder set a password or make a first token, once
    setup_token: str
    setup_expires_at: dt.datetime


class AccountsOut(BaseModel):
    accounts: list[AccountOut]


class DisableIn(_In):
    reason: str = Field(min_length=1, max_length=500)


def _created(created: AccountCreated) -> AccountCreatedOut:
    return AccountCreatedOut(
        account=_account(created.account),
        setup_token=created.setup_token,
        setup_expires_at=created.setup_expires_at,
    )


@router.post(
    "/accounts",
    status_code=status.HTTP_201_CREATED,
    summary="Create an account (by role: docs/security.md §8)",
    responses=responses(*_AUTH, 400, 404, 409, 422),
)
def create_account(body: AccountIn, acting: ActorDep, stack: StackDep) -> AccountCreatedOut:
    assert acting.principal is not None
    created = stack.service.accounts.create_account(
        acting.principal,
        role=body.role,
        issuer_id=body.issuer_id,
        name=body.name,
        login=body.login,
        actor=acting,
    )
    return _created(created)


@router.get(
    "/accounts", summary="The accounts the caller may see", responses=responses(*_AUTH, 422)
)
def list_accounts(
    principal: PrincipalDep,
    stack: StackDep,
    issuer_id: Annotated[str | None, Query(max_length=64)] = None,
    role: Role | None = None,
) -> AccountsOut:
    views = stack.service.accounts.accounts(principal, issuer_id=issuer_id, role=role)
    return AccountsOut(accounts=[_account(v) for v in views])


@router.get("/accounts/{account_id}", summary="One account", responses=responses(*_AUTH, 404, 422))
def get_account(
    account_id: Annotated[str, Path(max_length=32)], principal: PrincipalDep, stack: StackDep
) -> AccountOut:
    return _account(stack.service.accounts.account(principal, account_id))


@router.post(
    "/accounts/{account_id}/disable",
    summary="Disable an account: its tokens and sessions stop working",
    responses=responses(*_AUTH, 404, 409, 422),
)
def disable_account(
    account_id: Annotated[str, Path(max_length=32)],
    body: DisableIn,
    acting: ActorDep,
    stack: StackDep,
) -> AccountOut:
    assert acting.principal is not None
    view = stack.service.accounts.disable_account(
        acting.principal, account_id, reason=body.reason, actor=acting
    )
    return _account(view)


@router.post(
    "/accounts/{account_id}/reset",
    summary="Clear an account's password and TOTP: a new setup token",
    responses=responses(*_AUTH, 404, 409, 422),
)
def reset_account(
    account_id: Annotated[str, Path(max_length=32)], acting: ActorDep, stack: StackDep
) -> AccountCreatedOut:
    assert acting.principal is not None
    return _created(
        stack.service.accounts.reset_credentials(acting.principal, account_id, actor=acting)
    )


# -- tokens ---------------------------------------------------------------------------------------


class TokenIn(_In):
    label: str = Field(min_length=1, max_length=100)
    expires_in_days: int = Field(default=TOKEN_DAYS_DEFAULT, ge=1, le=TOKEN_DAYS_MAX)
    #: whose token: the caller's own (default), or (a CB admin) an account of its CB
    account_id: str | None = Field(default=None, max_length=32)


class TokenCreatedOut(BaseModel):
    token: TokenOut
    #: shown once: `Authorization: Bearer <secret>`
    secret: str


class TokensOut(BaseModel):
    tokens: list[TokenOut]


@router.post(
    "/tokens",
    status_code=status.HTTP_201_CREATED,
    summary="Make an API token (the secret is shown once)",
    responses=responses(*_AUTH, 400, 404, 409, 422),
)
def create_token(body: TokenIn, acting: ActorDep, stack: StackDep) -> TokenCreatedOut:
    assert acting.principal is not None
    created = stack.service.accounts.create_token(
        acting.principal,
        account_id=body.account_id,
        label=body.label,
        expires_in_days=body.expires_in_days,
        actor=acting,
    )
    return TokenCreatedOut(token=_token(created.token), secret=created.secret)


@router.get(
    "/tokens",
    summary="Tokens the caller may see, with their last use (never their secrets)",
    responses=responses(*_AUTH, 404, 422),
)
def list_tokens(
    principal: PrincipalDep,
    stack: StackDep,
    account_id: Annotated[str | None, Query(max_length=32)] = None,
) -> TokensOut:
    views = stack.service.accounts.tokens(principal, account_id=account_id)
    return TokensOut(tokens=[_token(v) for v in views])


@router.delete(
    "/tokens/{token_id}",
    summary="Revoke a token",
    responses=responses(*_AUTH, 404, 422),
)
def revoke_token(
    token_id: Annotated[str, Path(max_length=32)], acting: ActorDep, stack: StackDep
) -> TokenOut:
    assert acting.principal is not None
    return _token(stack.service.accounts.revoke_token(acting.principal, token_id, actor=acting))


# -- the audit trail ------------------------------------------------------------------------------


class AuditPage(BaseModel):
    entries: list[AuditOut]
    #: pass as `after` for the next page; null when this page is the last
    next_after: int | None


@router.get(
    "/audit",
    summary="The audit trail: who changed what, when, from where",
    responses=responses(*_AUTH, 422),
)
def audit_trail(  # noqa: PLR0917 (FastAPI: the query parameters are the signature)
    principal: PrincipalDep,
    stack: StackDep,
    after: Annotated[int, Query(ge=0, le=2**53 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    issuer_id: Annotated[str | None, Query(max_length=64)] = None,
    account_id: Annotated[str | None, Query(max_length=32)] = None,
) -> AuditPage:
    views = stack.service.accounts.audit_trail(
        principal, after=after, limit=limit, issuer_id=issuer_id, account_id=account_id
    )
    return AuditPage(
        entries=[_audit(v) for v in views],
        next_after=views[-1].seq if len(views) == limit else None,
    )
