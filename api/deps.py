"""FastAPI dependencies: the process's `Stack`, the authenticated issuer, the rate limit."""

from typing import Annotated

from fastapi import Depends, Header, Request

from api.limits import RateLimiter
from api.problems import ProblemError
from api.settings import ApiSettings
from api.stack import Stack

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
    # Rate-limit by the key's public id, before the database is touched.
    wait = limiter.take(token.split("_", 2)[1] if token.count("_") >= 2 else token[:24])
    if wait > 0:
        raise ProblemError(
            "rate-limited",
            429,
            "too many requests for this API key; slow down",
            headers={"Retry-After": str(max(1, round(wait)))},
        )
    return stack.service.authenticate(token.strip())


IssuerId = Annotated[str, Depends(authenticated_issuer)]
