"""FastAPI dependencies: the process's `Stack`, the authenticated issuer, the rate limits."""

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from api.limits import Limits
from api.problems import ProblemError
from api.settings import ApiSettings
from api.stack import Stack
from registry.errors import AuthenticationError
from verifier.chain import counting_chain_calls

__all__ = [
    "ChainBudget",
    "ChainBudgetDep",
    "IssuerId",
    "StackDep",
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


def authenticated_issuer(
    request: Request,
    stack: StackDep,
    authorization: Annotated[
        str | None, Header(description="`Bearer <issuer API key>`", include_in_schema=False)
    ] = None,
) -> str:
    if authorization is None:
        raise ProblemError(
            "unauthorized",
            401,
            "Authorization: got nothing, want Bearer <API key>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ProblemError(
            "unauthorized",
            401,
            "Authorization: got another scheme, want Bearer <API key>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    limits = _limits(request)
    # Failed attempts count against the client's address, successful ones against the issuer
    # they authenticate: a caller cannot spend someone else's allowance by naming their key id
    # with a wrong secret, nor get fresh buckets by inventing key ids. An address that has used
    # up its allowance is turned away before the database is touched.
    address = _client(request)
    _limited(limits.addresses.wait(address), "requests from this address")
    try:
        issuer_id = stack.service.authenticate(token.strip())
    except AuthenticationError:
        limits.addresses.take(address)
        raise
    _limited(limits.issuers.take(f"issuer:{issuer_id}"), "requests for this issuer")
    return issuer_id


def _limited(wait: float, what: str) -> None:
    if wait > 0:
        raise ProblemError(
            "rate-limited",
            429,
            f"too many {what}; slow down",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},  # whole seconds, never early
        )


IssuerId = Annotated[str, Depends(authenticated_issuer)]


def _authenticates(dependant: Dependant) -> bool:
    return any(d.call is authenticated_issuer or _authenticates(d) for d in dependant.dependencies)


async def limit_clients(request: Request) -> None:
    """Every route's first dependency: a request that will not be authenticated counts against
    its client's address. One that presents credentials to a route that checks them is counted
    there instead (against its issuer, or its address if they fail) — but credentials sent to a
    public route buy nothing: that route ignores them, so the address pays."""
    route = request.scope.get("route")
    if (
        isinstance(route, APIRoute)
        and "authorization" in request.headers
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
