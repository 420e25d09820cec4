"""RFC 9457 problem details: every error response of the API, with a stable `type`.

| type (urn:certreg:problem:…) | status | when |
|---|---|---|
| `validation` | 422 | the body or parameters do not match the schema |
| `invalid-request` | 400 | well-formed but not acceptable (e.g. a batch above the limit) |
| `unauthorized` | 401 | no good API token or login session; a failed login |
| `forbidden` | 403 | not for this role or body (docs/security.md §8), or no CSRF token |
| `not-found` | 404 | no such certificate, checkpoint or route |
| `method-not-allowed` | 405 | the route exists with other methods |
| `conflict` | 409 | a different record under a certificate number already issued |
| `illegal-transition` | 409 | the certificate's state does not allow the change |
| `payload-too-large` | 413 | the body is larger than `CERTREG_MAX_BODY_BYTES` |
| `unsupported-media-type` | 415 | a body that is not JSON |
| `rate-limited` | 429 | too many requests for this API key (see `Retry-After`) |
| `unavailable` | 503 | the database or chain could not be reached |
| `internal` | 500 | a bug; details are logged, never returned |
"""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from registry.errors import (
    AuthenticationError,
    ConflictError,
    ForbiddenError,
    IllegalTransitionError,
    InvalidRequestError,
    NotFoundError,
    QuotaExceededError,
    RetryLaterError,
    ServiceError,
)

__all__ = [
    "BodyTooLargeError",
    "Problem",
    "ProblemError",
    "install_problem_handlers",
    "problem_response",
    "responses",
]

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("certreg.api")


class Problem(BaseModel):
    """An RFC 9457 problem details object."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None


class ProblemError(Exception):
    """Raise to answer with a problem."""

    def __init__(
        self, kind: str, status: int, detail: str, *, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.kind = kind
        self.status = status
        self.detail = detail
        self.headers = headers or {}


class BodyTooLargeError(Exception):
    """Raised by the body-size limit while a body streams in (see `api.limits`)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body: got more than {limit} bytes, want at most {limit}")
        self.limit = limit


_TITLES = {
    "validation": "Request does not match the schema",
    "invalid-request": "Request not acceptable",
    "unauthorized": "Authentication required",
    "forbidden": "Not allowed for this principal",
    "not-found": "Not found",
    "method-not-allowed": "Method not allowed",
    "conflict": "Conflicting certificate record",
    "illegal-transition": "Illegal lifecycle transition",
    "payload-too-large": "Request body too large",
    "unsupported-media-type": "Unsupported media type",
    "rate-limited": "Too many requests",
    "quota-exceeded": "Daily issuance quota reached",
    "unavailable": "Service temporarily unavailable",
    "internal": "Internal error",
}

_SERVICE_ERRORS: list[tuple[type[ServiceError], str, int]] = [
    (NotFoundError, "not-found", 404),
    (ConflictError, "conflict", 409),
    (IllegalTransitionError, "illegal-transition", 409),
    (ForbiddenError, "forbidden", 403),
    (AuthenticationError, "unauthorized", 401),
    (InvalidRequestError, "invalid-request", 400),
    (QuotaExceededError, "quota-exceeded", 429),
]


def problem_response(
    kind: str,
    status: int,
    detail: str,
    *,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {
        "type": f"urn:certreg:problem:{kind}",
        "title": _TITLES[kind],
        "status": status,
        "detail": detail,
        **({"instance": instance} if instance else {}),
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for the problem statuses a route may answer with."""
    return {
        status: {"model": Problem, "content": {PROBLEM_JSON: {}}, "description": "Problem details"}
        for status in statuses
    }


def _is_json(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


_UNAVAILABLE: list[tuple[type[Exception], int, str]] = [
    (
        RetryLaterError,
        logging.WARNING,
        "the registry changed while this was read (a checkpoint was anchored); retry shortly",
    ),
    (PoolTimeoutError, logging.ERROR, "every database connection is busy; retry shortly"),
    (OperationalError, logging.ERROR, "the database did not answer; retry shortly"),
]


def _unavailable(level: int, detail: str) -> Any:
    async def handler(request: Request, exc: Exception) -> JSONResponse:
        log.log(level, "unavailable (%s): %s", type(exc).__name__, exc)
        return problem_response(
            "unavailable", 503, detail, instance=request.url.path, headers={"Retry-After": "1"}
        )

    return handler


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(
            exc.kind, exc.status, exc.detail, instance=request.url.path, headers=exc.headers
        )

    @app.exception_handler(ServiceError)
    async def _service(request: Request, exc: ServiceError) -> JSONResponse:
        for cls, kind, status in _SERVICE_ERRORS:
            if isinstance(exc, cls):
                headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
                if isinstance(exc, QuotaExceededError):
                    headers = {"Retry-After": str(exc.retry_after_s)}
                return problem_response(
                    kind, status, str(exc), instance=request.url.path, headers=headers
                )
        return problem_response("invalid-request", 400, str(exc), instance=request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        content_type = request.headers.get("content-type")
        if isinstance(exc.body, bytes) and exc.body and not _is_json(content_type):
            # A body FastAPI did not read as JSON, for its media type: left as bytes.
            return problem_response(
                "unsupported-media-type",
                415,
                f"Content-Type: got {content_type or 'none'}, want application/json",
                instance=request.url.path,
            )
        errors = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type")}
            for e in exc.errors()
        ]
        first = errors[0] if errors else {"loc": [], "msg": "invalid"}
        where = ".".join(str(p) for p in first["loc"])
        return problem_response(
            "validation",
            422,
            f"{where}: {first['msg']}" if where else str(first["msg"]),
            instance=request.url.path,
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # FastAPI turns any failure to read a JSON body, other than a JSON syntax error, into a
        # bare 400 "There was an error parsing the body": say what it was instead.
        cause = exc.__cause__
        if isinstance(cause, BodyTooLargeError):
            return problem_response("payload-too-large", 413, str(cause), instance=request.url.path)
        if exc.status_code == 400 and isinstance(cause, RecursionError):
            return problem_response(
                "validation",
                422,
                "body: got JSON nested deeper than the parser follows (about 1,000 levels), "
                "want a shallower document",
                instance=request.url.path,
            )
        if exc.status_code == 400 and isinstance(cause, ValueError):
            # Bytes that do not decode as UTF-8 JSON (a syntax error is already a 422).
            return problem_response(
                "validation",
                422,
                f"body: got bytes that are not UTF-8 JSON, want a JSON object ({cause})",
                instance=request.url.path,
            )
        kind = {404: "not-found", 405: "method-not-allowed", 413: "payload-too-large"}.get(
            exc.status_code, "invalid-request"
        )
        status = exc.status_code if kind != "invalid-request" else 400
        return problem_response(
            kind,
            status,
            str(exc.detail),
            instance=request.url.path,
            headers=dict(exc.headers) if exc.headers else None,
        )

    # Conditions that pass: 503 with Retry-After, what happened logged, never a 500.
    for cls, level, detail in _UNAVAILABLE:
        app.add_exception_handler(cls, _unavailable(level, detail))

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error on %s", request.url.path, exc_info=exc)
        return problem_response(
            "internal", 500, "an internal error occurred", instance=request.url.path
        )
