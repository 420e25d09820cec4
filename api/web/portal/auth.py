"""Who is signed in to the portal, and the tokens its forms carry.

A portal page authenticates as the JSON API does (`api.deps.authenticated`: a login session's
cookie, or a bearer token), so the rules of `docs/security.md` §8 and the rate limits are the
same. Its forms are plain HTML: a form that changes something carries the session's CSRF token
in a hidden field, which the portal can render because the token is derived from the session's
secret (`registry.accounts.session_csrf_token`). The sign-in and setup forms, sent before there
is a session, carry a token that must match a `SameSite=Strict` cookie set with the form, so
that another site cannot sign a browser in to an account of its choosing (login CSRF).
"""

import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated, Final
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response

from api.deps import SESSION_COOKIE, ActorDep
from registry.accounts import Actor, Principal, Role, session_csrf_token
from registry.errors import ForbiddenError

__all__ = [
    "FORM_COOKIE",
    "PORTAL",
    "Person",
    "PersonDep",
    "form_token_matches",
    "new_form_token",
    "safe_next",
    "set_form_cookie",
    "sign_in_redirect",
    "signed_in",
]

PORTAL: Final = "/portal"
#: the sign-in and setup forms' token, as a cookie (compared with the form's hidden field)
FORM_COOKIE: Final = "certreg_form"
FORM_FIELD: Final = "form_token"
_FORM_COOKIE_SECONDS: Final = 3600


@dataclass(frozen=True)
class Person:
    """Who a portal page is for: the principal, the actor to record, and the CSRF token its
    forms carry ('' for a bearer token, which no form of a browser sends)."""

    principal: Principal
    actor: Actor
    csrf: str

    @property
    def role(self) -> Role:
        return self.principal.role

    @property
    def of_cb(self) -> bool:
        return self.principal.role in (Role.CB_ADMIN, Role.CB_OFFICER)

    @property
    def sees_all(self) -> bool:
        """The authority's admins and auditors read every CB's certificates."""
        return self.principal.role in (Role.AUTHORITY_ADMIN, Role.AUDITOR)


def signed_in(request: Request, acting: ActorDep) -> Person:
    """The person of a portal page. A one-time setup token only sets a password (its page is
    `/portal/setup`), as everywhere else."""
    principal = acting.principal
    assert principal is not None
    if principal.setup_only:
        raise ForbiddenError(
            "portal: got a one-time setup token, want a signed-in account (set the password "
            "first at /portal/setup)"
        )
    cookie = request.cookies.get(SESSION_COOKIE)
    session = principal.credential.startswith("session:") and cookie is not None
    csrf = session_csrf_token(cookie) if session and cookie is not None else ""
    return Person(principal=principal, actor=acting, csrf=csrf)


PersonDep = Annotated[Person, Depends(signed_in)]


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a portal page of this site, never another site's."""
    if (
        target
        and target.startswith(PORTAL)
        and not target.startswith("//")
        and "\\" not in target
        and all(ord(c) > 0x20 for c in target)
    ):
        return target
    return PORTAL


def sign_in_redirect(request: Request) -> Response:
    """Where an unauthenticated portal request goes: the sign-in page, then back (for a GET)."""
    lang = request.query_params.get("lang")
    target = "/portal/login"
    params = []
    if lang in ("vi", "en"):
        params.append(f"lang={lang}")
    if request.method == "GET" and request.url.path != target:
        back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        params.append(f"next={quote(safe_next(back), safe='')}")
    if params:
        target += "?" + "&".join(params)
    return RedirectResponse(target, status_code=303)


def new_form_token() -> str:
    """A fresh token for a sign-in or setup form (`set_form_cookie` sets it with the page)."""
    return secrets.token_urlsafe(24)


def set_form_cookie(response: Response, request: Request, token: str) -> None:
    response.headers["Cache-Control"] = "no-store"  # the page carries the cookie's token
    response.set_cookie(
        FORM_COOKIE,
        token,
        max_age=_FORM_COOKIE_SECONDS,
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="strict",
        path=PORTAL,
    )


def form_token_matches(request: Request, sent: str) -> bool:
    """Whether a sign-in or setup form came from this site's page: its hidden token is the
    cookie's, which a browser sends only with a request from this site."""
    cookie = request.cookies.get(FORM_COOKIE)
    return bool(cookie) and bool(sent) and hmac.compare_digest(cookie or "", sent)
