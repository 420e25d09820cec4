"""Signing in and out of the portal, and setting a first password with a setup token.

The same service calls as the JSON API's `POST /v1/auth/login`, `POST /v1/auth/logout` and
`PUT /v1/me/password` (api/routes/accounts.py), with the same cookie; only the forms differ.
"""

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import URL

from api.deps import SESSION_COOKIE, StackDep, client_ip
from api.web.i18n import translator
from api.web.portal.auth import (
    FORM_COOKIE,
    PORTAL,
    PersonDep,
    form_token_matches,
    new_form_token,
    safe_next,
    set_form_cookie,
)
from api.web.portal.render import language, portal_page
from registry.accounts import Actor
from registry.errors import AuthenticationError, ForbiddenError, InvalidRequestError

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

_LOGIN = "/portal/login"
_SETUP = "/portal/setup"

Text = Annotated[str, Form(max_length=1024)]


def _login_form(
    request: Request,
    *,
    next_url: str,
    login: str = "",
    error: str | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    t = translator(language(request))
    token = new_form_token()
    response = portal_page(
        request,
        "portal/login.html",
        person=None,
        title=t("portal.login.title"),
        status_code=status_code,
        switch_to=URL(_LOGIN).include_query_params(next=next_url),
        context={
            "form_token": token,
            "next_url": next_url,
            "login": login,
            "error": error,
            "notice": notice,
        },
    )
    set_form_cookie(response, request, token)
    return response


@router.get(_LOGIN, response_class=HTMLResponse)
def login_page(request: Request) -> Response:
    """The sign-in form: login, password, and the code of an authenticator app when the
    account has turned one on."""
    t = translator(language(request))
    done = request.query_params.get("done")
    notice = {"password": t("portal.setup.done"), "logout": t("portal.logout.done")}.get(done or "")
    return _login_form(request, next_url=safe_next(request.query_params.get("next")), notice=notice)


@router.post(_LOGIN, response_class=HTMLResponse)
def login(  # noqa: PLR0917 (the form's fields are the signature)
    request: Request,
    stack: StackDep,
    login: Annotated[str, Form(max_length=200)] = "",
    password: Text = "",
    totp_code: Annotated[str, Form(max_length=10)] = "",
    form_token: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=500)] = PORTAL,
) -> Response:
    lang = language(request)
    t = translator(lang)
    target = safe_next(next)
    if not form_token_matches(request, form_token):
        return _login_form(
            request, next_url=target, login=login, error=t("portal.form.expired"), status_code=400
        )
    if not login or not password:
        return _login_form(
            request,
            next_url=target,
            login=login,
            error=t("portal.login.missing"),
            status_code=400,
        )
    try:
        result = stack.service.accounts.login(
            login=login,
            password=password,
            totp_code=totp_code.strip() or None,
            actor=Actor(address=client_ip(request), user_agent=request.headers.get("user-agent")),
        )
    except AuthenticationError as exc:
        locked = "locked" in str(exc)
        return _login_form(
            request,
            next_url=target,
            login=login,
            error=t("portal.login.locked" if locked else "portal.login.failed"),
            status_code=401,
        )
    separator = "&" if "?" in target else "?"
    response = RedirectResponse(f"{target}{separator}lang={lang}", status_code=303)
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
    response.delete_cookie(FORM_COOKIE, path=PORTAL)
    return response


@router.post("/portal/logout")
def logout(request: Request, person: PersonDep, stack: StackDep) -> Response:
    """End the session (a form post: it carries the CSRF token)."""
    stack.service.accounts.logout(person.principal, actor=person.actor)
    response = RedirectResponse(f"{_LOGIN}?lang={language(request)}&done=logout", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _setup_form(
    request: Request, *, errors: dict[str, str] | None = None, status_code: int = 200
) -> Response:
    t = translator(language(request))
    token = new_form_token()
    response = portal_page(
        request,
        "portal/setup.html",
        person=None,
        title=t("portal.setup.title"),
        status_code=status_code,
        switch_to=URL(_SETUP),
        context={"form_token": token, "errors": errors or {}},
    )
    set_form_cookie(response, request, token)
    return response


@router.get(_SETUP, response_class=HTMLResponse)
def setup_page(request: Request) -> Response:
    """Set a first password with the one-time setup token the account's manager was given."""
    return _setup_form(request)


@router.post(_SETUP, response_class=HTMLResponse)
def setup(  # noqa: PLR0917 (the form's fields are the signature)
    request: Request,
    stack: StackDep,
    setup_token: Annotated[str, Form(max_length=200)] = "",
    new_password: Text = "",
    repeat_password: Text = "",
    form_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    t = translator(language(request))
    if not form_token_matches(request, form_token):
        return _setup_form(request, errors={"form": t("portal.form.expired")}, status_code=400)
    errors: dict[str, Any] = {}
    try:
        principal = stack.service.accounts.authenticate_token(setup_token.strip())
    except AuthenticationError:
        principal = None
    if principal is None or not principal.setup_only:
        errors["setup_token"] = t("portal.setup.bad_token")
    if new_password != repeat_password:
        errors["repeat_password"] = t("portal.setup.mismatch")
    if errors or principal is None:
        return _setup_form(request, errors=errors, status_code=400)
    actor = Actor(principal, client_ip(request), request.headers.get("user-agent"))
    try:
        stack.service.accounts.set_password(principal, current=None, new=new_password, actor=actor)
    except (InvalidRequestError, ForbiddenError) as exc:
        message = str(exc)
        key = (
            "portal.setup.length"
            if "characters" in message
            else "portal.setup.system"
            if "system account" in message
            else "portal.setup.like_login"
        )
        return _setup_form(request, errors={"new_password": t(key)}, status_code=400)
    return RedirectResponse(f"{_LOGIN}?lang={language(request)}&done=password", status_code=303)
