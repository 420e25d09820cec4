"""FastAPI dependencies: the process's `Stack`, the authenticated principal, the rate limits."""

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Final

from fastapi import Depends, Header, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from api.limits import Limits
from api.problems import ProblemError
from api.settings import ApiSettings
from api.stack import Stack
from registry.accounts import Actor, Principal, Role, officer_of
from registry.errors import AuthenticationError, ForbiddenError
from verifier.chain import counting_chain_calls

__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "ActorDep",
    "ChainBudget",
    "ChainBudgetDep",
    "Officer",
    "OfficerDep",
    "PrincipalDep",
    "StackDep",
    "client_ip",
    "form_csrf_token",
    "get_stack",
    "limit_clients",
]


# The dependencies that only read memory are `async def`: FastAPI runs a plain `def` dependency
# in the thread pool, a hand-off between threads per dependency per request that cost more than
# the work itself (docs/benchmarks.md, "Tail latency"). Those that touch the database stay
# plain functions, off the event loop.


async def get_stack(request: Request) -> Stack:
    stack: Stack = request.app.state.stack
    return stack


async def get_settings(request: Request) -> ApiSettings:
    settings: ApiSettings = request.app.state.settings
    return settings


StackDep = Annotated[Stack, Depends(get_stack)]


def _limits(request: Request) -> Limits:
    limits: Limits = request.app.state.limits
    return limits


def _client(request: Request) -> str:
    return _limits(request).client(
        request.client.host if request.client else None, request.headers.get("x-forwarded-for")
    )


SESSION_COOKIE: Final = "certreg_session"
CSRF_HEADER: Final = "X-CSRF-Token"
#: the form field a plain HTML form (the portal's) carries the CSRF token in
CSRF_FIELD: Final = "csrf_token"
_SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
_FORM_MEDIA: Final = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


async def form_csrf_token(request: Request) -> str | None:
    """The CSRF token a form post carries in its `csrf_token` field: a page without script
    cannot set a header. Read only from a form body (parsed once: the route reads the same)."""
    if request.method in _SAFE_METHODS:
        return None
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media not in _FORM_MEDIA:
        return None
    value = (await request.form()).get(CSRF_FIELD)
    return value if isinstance(value, str) else None


def authenticated(
    request: Request,
    stack: StackDep,
    csrf_field: Annotated[str | None, Depends(form_csrf_token)],
    authorization: Annotated[
        str | None, Header(description="`Bearer <API token>`", include_in_schema=False)
    ] = None,
) -> Principal:
    """The principal of a bearer token or of a login session's cookie (docs/security.md §8);
    a session's request that changes something must carry its CSRF token, in `X-CSRF-Token`
    or (a form post) in the `csrf_token` field. The cookie is `SameSite=Strict` as well."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if authorization is None and cookie is None:
        raise ProblemError(
            "unauthorized",
            401,
            "Authorization: got nothing, want Bearer <API token> or a login session",
            headers={"WWW-Authenticate": "Bearer"},
        )
    limits = _limits(request)
    # Failed attempts count against the client's address, successful ones against the account
    # (an officer's against its CB) they authenticate: a caller cannot spend someone else's
    # allowance by naming their token id with a wrong secret, nor get fresh buckets by
    # inventing token ids. An address that has used up its allowance is turned away before the
    # database is touched.
    address = _client(request)
    _limited(limits.addresses.wait(address), "requests from this address")
    try:
        if authorization is not None:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token:
                raise ProblemError(
                    "unauthorized",
                    401,
                    "Authorization: got another scheme, want Bearer <API token>",
                    headers={"WWW-Authenticate": "Bearer"},
                )
            principal = stack.service.accounts.authenticate_token(token.strip())
        else:
            assert cookie is not None
            principal = stack.service.accounts.authenticate_session(
                cookie,
                csrf_token=request.headers.get(CSRF_HEADER) or csrf_field,
                changes=request.method not in _SAFE_METHODS,
            )
    except (AuthenticationError, ProblemError):
        limits.addresses.take(address)
        raise
    if principal.role is Role.CB_OFFICER:  # officers share their CB's allowance
        _limited(limits.issuers.take(f"issuer:{principal.issuer_id}"), "requests for this issuer")
    else:
        _limited(
            limits.issuers.take(f"account:{principal.account_id}"), "requests for this account"
        )
    return principal


PrincipalDep = Annotated[Principal, Depends(authenticated)]


def client_ip(request: Request) -> str | None:
    """The client's address for the audit trail (behind trusted proxies, the one they saw)."""
    return _limits(request).client_ip(
        request.client.host if request.client else None, request.headers.get("x-forwarded-for")
    )


def actor(request: Request, principal: PrincipalDep) -> Actor:
    """Who acts, and from where, for the audit trail."""
    return Actor(
        principal=principal,
        address=client_ip(request),
        user_agent=request.headers.get("user-agent"),
    )


ActorDep = Annotated[Actor, Depends(actor)]


@dataclass(frozen=True)
class Officer:
    """A CB officer acting: the CB its certificates belong to, and the actor to record."""

    issuer_id: str
    actor: Actor


def officer(acting: ActorDep) -> Officer:
    assert acting.principal is not None
    return Officer(issuer_id=officer_of(acting.principal), actor=acting)


OfficerDep = Annotated[Officer, Depends(officer)]


def _limited(wait: float, what: str) -> None:
    if wait > 0:
        raise ProblemError(
            "rate-limited",
            429,
            f"too many {what}; slow down",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},  # whole seconds, never early
        )


def _authenticates(dependant: Dependant) -> bool:
    return any(d.call is authenticated or _authenticates(d) for d in dependant.dependencies)


async def limit_clients(request: Request) -> None:
    """Every route's first dependency: a request that will not be authenticated counts against
    its client's address. One that presents credentials to a route that checks them is counted
    there instead (against its issuer, or its address if they fail) — but credentials sent to a
    public route buy nothing: that route ignores them, so the address pays."""
    route = request.scope.get("route")
    if (
        isinstance(route, APIRoute)
        and ("authorization" in request.headers or SESSION_COOKIE in request.cookies)
        and _authenticates(route.dependant)
    ):
        return
    limits = _limits(request)
    _limited(limits.addresses.take(_client(request)), "requests from this address")


class ChainBudget:
    """A client's allowance of chain reads, for `POST /v1/verify`: the route runs its work in
    `spending()`, which charges the client for the reads made (cache hits are free)."""

    def __init__(self, limits: Limits, client: str) -> None:
        self._limits = limits
        self._client = client

    @contextmanager
    def spending(self) -> Iterator[None]:
        # Counted in the route's own thread: a context variable set by a dependency would not
        # be seen there (FastAPI runs each in a thread of its own).
        with counting_chain_calls() as calls:
            try:
                yield
            finally:
                self._limits.chain_reads.charge(self._client, calls.count)


async def chain_budget(request: Request) -> ChainBudget:
    """Refuse a client that has used up its chain reads (429), else its budget."""
    limits = _limits(request)
    client = _client(request)
    _limited(limits.chain_reads.wait(client), "chain look-ups from this address")
    return ChainBudget(limits, client)


ChainBudgetDep = Annotated[ChainBudget, Depends(chain_budget)]


def may_see_all(principal: Principal, issuer_id: str, *, what: str) -> None:
    """Whether `principal` may see a certificate of `issuer_id` whole (restricted fields,
    docs/spec.md §2b): its own CB's people, the authority's admins and auditors; never a
    one-time setup token. Raises ForbiddenError otherwise."""
    if principal.setup_only:
        raise ForbiddenError(
            f"{what}: got a one-time setup token, want the account's own token or session"
        )
    if principal.is_(Role.CB_ADMIN, Role.CB_OFFICER) and principal.issuer_id != issuer_id:
        raise ForbiddenError(
            f"{what}: got a certificate of {issuer_id}, want one of {principal.issuer_id}, the "
            "CB you act for"
        )
