"""The portal's own-account page: change the password, turn the second factor (TOTP) on —
scan a QR code, confirm a code — or off (docs/security.md §8). The same service calls as
`PUT /v1/me/password` and `/v1/me/totp…`; a new password ends the account's other sessions."""

from typing import Annotated

import segno
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.stack import Stack
from api.web.i18n import translator
from api.web.portal.auth import Person, PersonDep
from api.web.portal.render import language, portal_page
from registry.errors import (
    AuthenticationError,
    ConflictError,
    ForbiddenError,
    InvalidRequestError,
)

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def _stack(request: Request) -> Stack:
    stack: Stack = request.app.state.stack
    return stack


def _page(
    request: Request,
    person: Person,
    *,
    message: str = "",
    done: str = "",
    enrolment: tuple[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    lang = language(request)
    t = translator(lang)
    view = _stack(request).service.accounts.account(person.principal, person.principal.account_id)
    qr = None
    if enrolment is not None:
        # The otpauth URI as an inline SVG: the secret never leaves this page for a QR service.
        qr = segno.make(enrolment[1], error="m").svg_inline(scale=4, title=t("portal.me.qr_title"))
    return portal_page(
        request,
        "portal/account.html",
        person=person,
        title=t("portal.me.title"),
        section="account",
        status_code=status_code,
        context={
            "account": view,
            "message": message,
            "done": done,
            "secret": None if enrolment is None else enrolment[0],
            "qr": qr,
        },
    )


@router.get("/portal/account", response_class=HTMLResponse)
def account_page(request: Request, person: PersonDep) -> Response:
    t = translator(language(request))
    done = request.query_params.get("done", "")
    return _page(request, person, done=t(f"portal.me.done.{done}") if done in _DONE else "")


_DONE = ("password", "totp_on", "totp_off")


@router.post("/portal/account/password", response_class=HTMLResponse)
def change_password(
    request: Request,
    person: PersonDep,
    current: Annotated[str, Form(max_length=1024)] = "",
    new: Annotated[str, Form(max_length=1024)] = "",
    again: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    lang = language(request)
    t = translator(lang)
    if new != again:
        return _page(request, person, message=t("portal.me.mismatch"), status_code=400)
    try:
        _stack(request).service.accounts.set_password(
            person.principal, current=current or None, new=new, actor=person.actor
        )
    except (InvalidRequestError, AuthenticationError) as exc:
        return _page(request, person, message=str(exc), status_code=400)
    except ForbiddenError as exc:  # the current password is not the account's
        return _page(request, person, message=str(exc), status_code=403)
    return RedirectResponse(f"/portal/account?lang={lang}&done=password", status_code=303)


@router.post("/portal/account/totp", response_class=HTMLResponse)
def begin_totp(request: Request, person: PersonDep) -> Response:
    try:
        enrolment = _stack(request).service.accounts.begin_totp(
            person.principal, actor=person.actor
        )
    except ConflictError as exc:
        return _page(request, person, message=str(exc), status_code=409)
    return _page(request, person, enrolment=(enrolment.secret, enrolment.uri))


@router.post("/portal/account/totp/{change}", response_class=HTMLResponse)
def set_totp(
    change: str,
    request: Request,
    person: PersonDep,
    code: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    lang = language(request)
    accounts = _stack(request).service.accounts
    try:
        if change == "confirm":
            accounts.confirm_totp(person.principal, code=code.strip(), actor=person.actor)
        elif change == "disable":
            accounts.disable_totp(person.principal, code=code.strip(), actor=person.actor)
        else:
            return _page(request, person, message=change[:20], status_code=404)
    except (InvalidRequestError, AuthenticationError, ConflictError) as exc:
        return _page(request, person, message=str(exc), status_code=400)
    except ForbiddenError as exc:  # a code that is not the secret's now
        return _page(request, person, message=str(exc), status_code=403)
    done = "totp_on" if change == "confirm" else "totp_off"
    return RedirectResponse(f"/portal/account?lang={lang}&done={done}", status_code=303)
