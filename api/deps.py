"""FastAPI dependencies: the process's `Stack`, the authenticated issuer, the rate limit."""

from typing import Annotated

from fastapi import Depends, Header, Request

from api.limits import RateLimiter
from api.problems import ProblemError
from api.settings import ApiSettings
from api.stack import Stack
from registry.errors import AuthenticationError

__all__ = ["IssuerId", "StackDep", "get_stack"]


def get_stack(request: Request) -> Stack:
    stack: Stack = request.app.state.stack
    return stack


def get_settings(request: Request) -> ApiSettings:
    settings: ApiSettings = request.app.state.settings
    return settings


StackDep = Annotated[Stack, Depends(get_stack)]


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
    limiter: RateLimiter = request.app.state.rate_limiter
    # Failed attempts count against the client's address, successful ones against the issuer
    # they authenticate: a caller cannot spend someone else's allowance by naming their key id
    # with a wrong secret, nor get fresh buckets by inventing key ids. An address that has used
    # up its failures is turned away before the database is touched.
    address = f"address:{request.client.host if request.client else 'unknown'}"
    _limited(limiter.wait(address), "failed authentications from this address")
    try:
        issuer_id = stack.service.authenticate(token.strip())
    except AuthenticationError:
        limiter.take(address)
        raise
    _limited(limiter.take(f"issuer:{issuer_id}"), "requests for this issuer")
    return issuer_id


def _limited(wait: float, what: str) -> None:
    if wait > 0:
        raise ProblemError(
            "rate-limited",
            429,
            f"too many {what}; slow down",
            headers={"Retry-After": str(max(1, round(wait)))},
        )


IssuerId = Annotated[str, Depends(authenticated_issuer)]
