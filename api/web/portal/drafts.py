"""The portal's drafts and the second person's decision (docs/spec.md §11.12): a CB's drafts,
a draft's page with what it would issue, and its actions — submit for review (the preparer),
approve and issue or reject with a comment (another person of the CB when it requires review),
withdraw — and the CB's setting, which its admins change.

The same service calls as the JSON API's `/v1/drafts` routes (registry/drafts.py), which
decide who may do what; a refusal is shown on the draft's page in plain words. Every change
names the revision the page showed, so a reviewer decides on exactly what they read.
"""

import datetime as dt
import re
from typing import Annotated, Any, Final

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.stack import Stack
from api.web.i18n import translator
from api.web.portal.auth import Person, PersonDep
from api.web.portal.render import language, portal_page
from api.web.present import details, nfc
from registry.accounts import Role
from registry.drafts import STATES, DraftView
from registry.errors import (
    ConflictError,
    ForbiddenError,
    IllegalTransitionError,
    InvalidRequestError,
    NotFoundError,
)
from registry.kinds import TypedModel
from registry.records import build_record, submission_adapter

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

_ID: Final = re.compile(r"[0-9a-f]{16}")
#: what a refusal of the service is shown as, and with which status
_REFUSALS: Final = (
    (ForbiddenError, 403),
    (ConflictError, 409),
    (IllegalTransitionError, 409),
    (InvalidRequestError, 400),
)


def _stack(request: Request) -> Stack:
    stack: Stack = request.app.state.stack
    return stack


def _check_id(draft_id: str) -> None:
    if _ID.fullmatch(draft_id) is None:
        raise NotFoundError(f"draft {draft_id[:40]!r}: got no such id, want 16 hex digits")


@router.get("/portal/drafts", response_class=HTMLResponse)
def drafts_page(request: Request, person: PersonDep) -> Response:
    """The drafts of the person's CB (every CB's for the authority and auditors), newest first,
    by state."""
    lang = language(request)
    t = translator(lang)
    state = request.query_params.get("state", "")
    state = state if state in STATES else ""
    page = _stack(request).service.drafts.list(person.actor, state=state or None, limit=100)
    review = None
    if person.of_cb and person.principal.issuer_id is not None:
        review = (
            _stack(request)
            .service.drafts.settings(person.actor, person.principal.issuer_id)
            .review_required
        )
    return portal_page(
        request,
        "portal/drafts.html",
        person=person,
        title=t("portal.drafts.title"),
        section="drafts",
        context={
            "drafts": page.drafts,
            "total": page.total,
            "states": STATES,
            "state": state,
            "review_required": review,
            "kind_label": lambda kind: t.get(f"kind.{kind}", kind),
        },
    )


def _shown_record(view: DraftView) -> dict[str, Any]:
    """The record the draft would issue, for showing its fields as a certificate's page does
    (fresh salts: the issued record gets its own)."""
    submission = submission_adapter().validate_python(view.submission)
    return build_record(submission, issuer_id=view.issuer_id, supersedes=view.supersedes)


def _draft_page(
    request: Request,
    person: Person,
    draft_id: str,
    *,
    message: str = "",
    status_code: int = 200,
) -> Response:
    lang = language(request)
    t = translator(lang)
    stack = _stack(request)
    view = stack.service.drafts.get(person.actor, draft_id)
    record = _shown_record(view)
    review = stack.service.drafts.settings(person.actor, view.issuer_id).review_required
    me = person.principal.account_id
    own_cb = person.of_cb and person.principal.issuer_id == view.issuer_id
    preparer = me == view.prepared_by
    open_state = view.state in ("draft", "submitted", "rejected")
    may = {
        "submit": own_cb and preparer and view.state in ("draft", "rejected"),
        "approve": own_cb
        and (
            (view.state == "submitted" and not (review and preparer))
            or (not review and view.state in ("draft", "submitted"))
        ),
        "reject": own_cb and view.state == "submitted" and not preparer,
        "withdraw": own_cb and open_state and (preparer or person.role is Role.CB_ADMIN),
    }
    return portal_page(
        request,
        "portal/draft.html",
        person=person,
        title=t("portal.drafts.draft_title", number=nfc(view.number)),
        section="drafts",
        status_code=status_code,
        context={
            "draft": view,
            "shown": details(record, issuer=None, t=t, record_hash=None),
            "review_required": review,
            "preparer": preparer,
            "may": may,
            "message": message,
            "kind_label": t.get(f"kind.{view.kind}", view.kind),
            "typed": isinstance(submission_adapter().validate_python(view.submission), TypedModel),
        },
    )


@router.get("/portal/drafts/{draft_id}", response_class=HTMLResponse)
def draft_page(draft_id: str, request: Request, person: PersonDep) -> Response:
    _check_id(draft_id)
    return _draft_page(request, person, draft_id)


@router.post("/portal/drafts/{draft_id}/{action}", response_class=HTMLResponse)
def draft_action(  # noqa: PLR0917 (FastAPI passes the path, the request and the form by name)
    draft_id: str,
    action: str,
    request: Request,
    person: PersonDep,
    revision: Annotated[int, Form()],
    comment: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """submit, approve, reject or withdraw, at the revision the page showed."""
    _check_id(draft_id)
    if action not in ("submit", "approve", "reject", "withdraw"):
        raise NotFoundError(
            f"draft action {action[:20]!r}: got none such, want submit, approve, reject or withdraw"
        )
    lang = language(request)
    t = translator(lang)
    drafts = _stack(request).service.drafts
    text = nfc(comment.strip()) or None
    try:
        if action == "submit":
            drafts.submit(person.actor, draft_id, revision=revision)
        elif action == "approve":
            _, issued = drafts.approve(person.actor, draft_id, revision=revision, comment=text)
            target = f"/portal/certificates/{issued.certificate.id}?lang={lang}&issued=1"
            return RedirectResponse(target, status_code=303)
        elif action == "reject":
            if text is None:
                return _draft_page(
                    request, person, draft_id, message=t("portal.drafts.comment_needed"),
                    status_code=400,
                )  # fmt: skip
            drafts.reject(person.actor, draft_id, revision=revision, comment=text)
        else:
            drafts.withdraw(person.actor, draft_id, revision=revision)
    except tuple(kind for kind, _ in _REFUSALS) as exc:
        status = next(code for kind, code in _REFUSALS if isinstance(exc, kind))
        return _draft_page(
            request, person, draft_id, message=t("portal.drafts.refused", detail=str(exc)),
            status_code=status,
        )  # fmt: skip
    return RedirectResponse(f"/portal/drafts/{draft_id}?lang={lang}", status_code=303)


# --- the CB's setting ---------------------------------------------------------------------------


@router.get("/portal/settings", response_class=HTMLResponse)
def settings_page(request: Request, person: PersonDep) -> Response:
    return _settings_page(request, person)


def _settings_page(
    request: Request, person: Person, *, message: str = "", status_code: int = 200
) -> Response:
    lang = language(request)
    t = translator(lang)
    current = None
    if person.of_cb and person.principal.issuer_id is not None:
        current = _stack(request).service.drafts.settings(person.actor, person.principal.issuer_id)
    return portal_page(
        request,
        "portal/settings.html",
        person=person,
        title=t("portal.settings.title"),
        section="settings",
        status_code=status_code,
        context={
            "settings": current,
            "may_change": person.role is Role.CB_ADMIN,
            "message": message,
            "saved": request.query_params.get("saved") == "1",
            "updated_at": None
            if current is None or current.updated_at is None
            else current.updated_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        },
    )


@router.post("/portal/settings", response_class=HTMLResponse)
def change_settings(
    request: Request,
    person: PersonDep,
    review_required: Annotated[str, Form()] = "",
) -> Response:
    lang = language(request)
    t = translator(lang)
    issuer_id = person.principal.issuer_id
    if person.role is not Role.CB_ADMIN or issuer_id is None:
        return _settings_page(request, person, message=t("portal.settings.admins"), status_code=403)
    _stack(request).service.drafts.set_settings(
        person.actor, issuer_id, review_required=review_required == "1"
    )
    return RedirectResponse(f"/portal/settings?lang={lang}&saved=1", status_code=303)
