"""The portal's certificate pages: the dashboard of a CB's certificates, a certificate's page,
and its lifecycle actions (suspend, reinstate, withdraw) through a confirmation step.

Reads are the public search and reads (`RegistryService.search`, `get`, `history`), scoped to
the person's CB: a CB's people see their own CB's certificates here (another's is "not found"),
the authority's admins and auditors every CB's. Actions call the same service functions as the
JSON API's officer routes (api/routes/certificates.py), with the reason written as the API
writes it (`<code>` or `<code>: <note>`): only a CB officer acts, on its own CB's certificates,
and only while the CB's active signing key is one the registry keeps (`hosted`) — a CB that
keeps its own key signs on its own machine (`certreg suspend … --key`).
"""

import datetime as dt
import math
import re
from dataclasses import dataclass
from typing import Annotated, Final

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import URL

from api.stack import Stack
from api.web.i18n import Translator, translator
from api.web.portal.auth import Person, PersonDep
from api.web.portal.render import language, portal_page
from api.web.present import IssuerInfo, details, nfc
from registry.accounts import Role
from registry.core.events import EventType
from registry.core.governance import Custody
from registry.core.lifecycle import ALLOWED_FROM, SUPERSEDABLE
from registry.errors import ForbiddenError, IllegalTransitionError, NotFoundError
from registry.records import CertificateKind, holder_of, record_fields
from registry.service import CertificateView

__all__ = ["ACTIONS", "DONE", "REASONS", "router"]

router = APIRouter(include_in_schema=False)

PAGE_SIZE: Final = 25
_MAX_PAGE: Final = 1_000_000 // PAGE_SIZE
_ID: Final = re.compile(r"0x[0-9a-f]{64}")
_STATUSES: Final = ("valid", "suspended", "withdrawn", "superseded")
_FIELDS: Final = ("number", "holder", "tax_code")
_NOTE_MAX: Final = 300

#: the portal's lifecycle actions
ACTIONS: Final = {
    "suspend": EventType.SUSPEND,
    "reinstate": EventType.REINSTATE,
    "withdraw": EventType.WITHDRAW,
}
#: the reason codes offered for each action (api/schemas.py `ReasonCode`; docs/spec.md §11.4):
#: the grounds ISO/IEC 17065 §7.11 and ISO/IEC 17021-1 §9.6.5 name for suspending, restoring
#: and withdrawing a certification
REASONS: Final = {
    "suspend": (
        "surveillance-nonconformity",
        "misuse-of-mark",
        "failure-to-pay",
        "holder-request",
        "other",
    ),
    "reinstate": ("corrective-action-completed", "holder-request", "other"),
    "withdraw": (
        "surveillance-nonconformity",
        "misuse-of-mark",
        "fraud",
        "failure-to-pay",
        "holder-request",
        "accreditation-withdrawn",
        "error-in-issue",
        "other",
    ),
}

#: what the issuing pages (api/web/portal/issue.py) say on a certificate's page after them
DONE: Final = ("issued", "exists", "replaced")


# --- the dashboard ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """The dashboard's query, as read (`errors`: field → message)."""

    q: str
    field: str
    kind: str
    status: str
    issued_from: str
    issued_until: str
    issuer: str
    page: int
    errors: dict[str, str]

    def query(self, lang: str, **changes: object) -> str:
        values: dict[str, object] = {
            "q": self.q,
            "field": self.field,
            "kind": self.kind,
            "status": self.status,
            "issued_from": self.issued_from,
            "issued_until": self.issued_until,
            "issuer": self.issuer,
            "page": self.page,
            **changes,
        }
        url = URL("/portal").include_query_params(
            lang=lang, **{k: v for k, v in values.items() if v not in ("", None, 1)}
        )
        return f"{url.path}?{url.query}"


def _date(text: str, name: str, errors: dict[str, str], t: Translator) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        errors[name] = t("portal.filter.bad_date")
        return None


def _filters(request: Request, person: Person) -> Filters:
    params = request.query_params
    errors: dict[str, str] = {}
    field = params.get("field", "number")
    kind = params.get("kind", "")
    status = params.get("status", "")
    try:
        page = int(params.get("page", "1"))
    except ValueError:
        page = 1
    return Filters(
        q=nfc(params.get("q", "").strip())[:100].replace("\x00", ""),
        field=field if field in _FIELDS else "number",
        kind=kind if kind in {k.value for k in CertificateKind} else "",
        status=status if status in _STATUSES else "",
        issued_from=params.get("issued_from", "")[:10],
        issued_until=params.get("issued_until", "")[:10],
        issuer=params.get("issuer", "")[:64] if person.sees_all else "",
        page=min(max(page, 1), _MAX_PAGE),
        errors=errors,
    )


@router.get("/portal", response_class=HTMLResponse)
def dashboard(request: Request, person: PersonDep) -> Response:
    """The certificates of the person's CB (every CB's for the authority and auditors): search
    by number, holder or tax code, filters by kind, status and day of issue, pages of 25."""
    stack: Stack = request.app.state.stack
    lang = language(request)
    t = translator(lang)
    filters = _filters(request, person)
    issued_from = _date(filters.issued_from, "issued_from", filters.errors, t)
    issued_until = _date(filters.issued_until, "issued_until", filters.errors, t)
    if issued_from and issued_until and issued_from > issued_until:
        filters.errors["issued_until"] = t("portal.filter.date_order")
    if filters.field == "holder" and len(filters.q) == 1:
        filters.errors["q"] = t("portal.filter.holder_short")
    issuer_id = person.principal.issuer_id if person.of_cb else (filters.issuer or None)
    rows: list[CertificateView] = []
    total = 0
    if not filters.errors:
        term = {filters.field: filters.q} if filters.q else {}
        rows, total = stack.service.search(
            issuer_id=issuer_id,
            kind=filters.kind or None,
            status=filters.status or None,
            issued_from=issued_from,
            issued_until=issued_until,
            limit=PAGE_SIZE,
            offset=(filters.page - 1) * PAGE_SIZE,
            **term,
        )
    pages = max(1, math.ceil(total / PAGE_SIZE))
    issuers = stack.transparency.issuers()
    names = {i.id: (i.name_vi if lang == "vi" else i.name_en) for i in issuers}
    return portal_page(
        request,
        "portal/dashboard.html",
        person=person,
        title=t("portal.dashboard.title"),
        section="certificates",
        status_code=400 if filters.errors else 200,
        context={
            "filters": filters,
            "fields": _FIELDS,
            "kinds": [k.value for k in CertificateKind],
            "statuses": _STATUSES,
            "issuers": [(i.id, names[i.id]) for i in issuers] if person.sees_all else [],
            "issuer_name": names.get(person.principal.issuer_id or "", ""),
            "may_issue": person.role is Role.CB_OFFICER,
            "rows": [
                {
                    "href": f"/portal/certificates/{v.id}?lang={lang}",
                    "number": nfc(v.number),
                    "holder": nfc(holder_of(record_fields(v.record))[0]),
                    "kind": t.get(f"kind.{v.kind}", v.kind),
                    "status": v.status,
                    "status_label": t.get(f"status.{v.status}", v.status),
                    "issued_on": t.date(record_fields(v.record).get("issued_on")),
                    "issuer": names.get(v.issuer_id, v.issuer_id),
                }
                for v in rows
            ],
            "total": t.number(total),
            "page": filters.page,
            "pages": pages,
            "previous": filters.query(lang, page=filters.page - 1) if filters.page > 1 else None,
            "next": filters.query(lang, page=filters.page + 1) if filters.page < pages else None,
        },
    )


# --- a certificate ------------------------------------------------------------------------------


def visible_certificate(stack: Stack, person: Person, certificate_id: str) -> CertificateView:
    """The certificate if the person's portal shows it: a CB's people see their CB's only
    (another's is "not found", as other CBs' accounts are)."""
    if _ID.fullmatch(certificate_id) is None:
        raise NotFoundError(f"certificate {certificate_id[:80]!r}: got a malformed id")
    view = stack.service.get(certificate_id)
    if person.of_cb and view.issuer_id != person.principal.issuer_id:
        raise NotFoundError(f"certificate {certificate_id}: got an unknown id")
    return view


def _issuer_info(stack: Stack, issuer_id: str) -> IssuerInfo | None:
    row = stack.transparency.issuer(issuer_id)
    if row is None:
        return None
    return IssuerInfo(
        id=row.id, name_vi=row.name_vi, name_en=row.name_en, accreditation=row.accreditation
    )


def active_custody(stack: Stack, issuer_id: str) -> str | None:
    """Who keeps the CB's active signing key (`hosted`, `held`), or None without one."""
    for key in stack.service.issuers.keys(issuer_id):
        if key.state == "active":
            return key.custody
    return None


@dataclass(frozen=True)
class Acting:
    """What the person may do with a certificate from the portal, and why not."""

    actions: tuple[str, ...]
    #: why no action is offered: `role`, `held` (the CB signs with its own key) or ''
    blocked: str


def _acting(stack: Stack, person: Person, view: CertificateView) -> Acting:
    possible = tuple(
        name
        for name, kind in ACTIONS.items()
        if view.status in (ALLOWED_FROM[kind] or ())
        # past its last day only a withdrawal is recorded (docs/spec.md §11.4)
        or (view.status == "expired" and kind is EventType.WITHDRAW)
    )
    if person.role is not Role.CB_OFFICER or person.principal.issuer_id != view.issuer_id:
        return Acting((), "role")
    if not possible:
        return Acting((), "")
    if active_custody(stack, view.issuer_id) == Custody.HELD.value:
        return Acting(possible, "held")
    return Acting(possible, "")


def _reason_text(reason: str | None, t: Translator) -> str:
    if not reason:
        return ""
    code, sep, note = reason.partition(": ")
    label = t.get(f"reason.{code}", "")
    if not label:
        return nfc(reason)
    return f"{label} — {nfc(note)}" if sep else label


def _done_message(done: str, t: Translator) -> str | None:
    if done in ACTIONS:
        return t(f"portal.action.{done}.done")
    return t(f"portal.issue.done.{done}") if done in DONE else None


@router.get("/portal/certificates/{certificate_id}", response_class=HTMLResponse)
def certificate_page(request: Request, certificate_id: str, person: PersonDep) -> Response:
    """The certificate's fields, status and history, its public page, QR code, PDF and proof
    bundle, and the actions the person may take."""
    stack: Stack = request.app.state.stack
    lang = language(request)
    t = translator(lang)
    view = visible_certificate(stack, person, certificate_id)
    shown = details(
        view.record,
        issuer=_issuer_info(stack, view.issuer_id),
        t=t,
        record_hash=view.record_hash,
    )
    history = [
        {
            "seq": t.number(entry.seq),
            "what": t.get(f"portal.event.{entry.type}", entry.type),
            "at": t.moment(entry.at),
            "reason": _reason_text(entry.reason, t),
            "by": t("portal.history.authority") if entry.by_authority else entry.issuer_id,
            "other": entry.certificate_id if entry.certificate_id != view.id else None,
        }
        for entry in stack.service.history(view.id)
    ]
    done = request.query_params.get("done", "")
    base = f"/v1/certificates/{view.id}"
    return portal_page(
        request,
        "portal/certificate.html",
        person=person,
        title=t("page.certificate", number=nfc(view.number)),
        section="certificates",
        context={
            "view": view,
            "details": shown,
            "status_label": t.get(f"status.{view.status}", view.status),
            "history": history,
            "acting": _acting(stack, person, view),
            # a replacement is issued from the same form as a new certificate (issue.py)
            "replaceable": view.status in SUPERSEDABLE
            and person.role is Role.CB_OFFICER
            and person.principal.issuer_id == view.issuer_id,
            "done": _done_message(done, t),
            "links": {
                "verify": f"/verify/{view.id}?lang={lang}",
                "qr_svg": f"{base}/qr.svg",
                "qr_png": f"{base}/qr.png",
                "pdf": f"{base}/pdf",
                "bundle": f"{base}/proof",
            },
        },
    )


# --- lifecycle actions: form → confirmation → done ------------------------------------------------


def _action(name: str) -> EventType:
    kind = ACTIONS.get(name)
    if kind is None:
        raise NotFoundError(
            f"action {name[:40]!r}: got an unknown one, want one of {list(ACTIONS)}"
        )
    return kind


def _actable(
    stack: Stack, person: Person, certificate_id: str, action: str
) -> tuple[CertificateView, Acting]:
    """The certificate and what may be done with it; a person who may not act on it is
    refused (403), as the JSON API refuses anyone but its CB's officers."""
    _action(action)
    view = visible_certificate(stack, person, certificate_id)
    acting = _acting(stack, person, view)
    if acting.blocked == "role":
        raise ForbiddenError(
            f"certificate {view.id}: got a {person.role.value}, want an officer of {view.issuer_id}"
        )
    return view, acting


def _action_page(
    request: Request,
    person: Person,
    view: CertificateView,
    acting: Acting,
    action: str,
    *,
    template: str,
    reason: str = "",
    note: str = "",
    errors: dict[str, str] | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> Response:
    lang = language(request)
    t = translator(lang)
    page = f"/portal/certificates/{view.id}"
    return portal_page(
        request,
        template,
        person=person,
        title=t(f"portal.action.{action}.title", number=nfc(view.number)),
        section="certificates",
        status_code=status_code,
        switch_to=URL(f"{page}/{action}"),
        context={
            "view": view,
            "number": nfc(view.number),
            "holder": nfc(holder_of(record_fields(view.record))[0]),
            "status_label": t.get(f"status.{view.status}", view.status),
            "action": action,
            "reasons": [(code, t(f"reason.{code}")) for code in REASONS[action]],
            "reason": reason,
            "reason_label": t.get(f"reason.{reason}", reason),
            "note": note,
            "errors": errors or {},
            "message": message,
            "acting": acting,
            "allowed": action in acting.actions,
            "certificate_href": f"{page}?lang={lang}",
            "form_action": f"{page}/{action}",
            "cli": (f"certreg {action} {view.id} --reason {REASONS[action][0]} --key <key file>"),
        },
    )


def _check_form(action: str, reason: str, note: str, t: Translator) -> dict[str, str]:
    errors = {}
    if reason not in REASONS[action]:
        errors["reason"] = t("portal.action.reason_missing")
    if len(note) > _NOTE_MAX:
        errors["note"] = t("portal.action.note_long", n=_NOTE_MAX)
    return errors


def _reason(reason: str, note: str) -> str:
    """The reason as the JSON API writes it (api/schemas.py `TransitionRequest.text`)."""
    return reason if not note else f"{reason}: {note}"


Reason = Annotated[str, Form(max_length=100)]
Note = Annotated[str, Form(max_length=2000)]


@router.get("/portal/certificates/{certificate_id}/{action}", response_class=HTMLResponse)
def action_form(request: Request, certificate_id: str, action: str, person: PersonDep) -> Response:
    """Step 1: the reason code and a note."""
    stack: Stack = request.app.state.stack
    view, acting = _actable(stack, person, certificate_id, action)
    return _action_page(request, person, view, acting, action, template="portal/action.html")


@router.post("/portal/certificates/{certificate_id}/{action}/confirm", response_class=HTMLResponse)
def action_confirm(  # noqa: PLR0917 (the form's fields are the signature)
    request: Request,
    certificate_id: str,
    action: str,
    person: PersonDep,
    reason: Reason = "",
    note: Note = "",
) -> Response:
    """Step 2: what will be recorded, to confirm (nothing is changed yet)."""
    stack: Stack = request.app.state.stack
    t = translator(language(request))
    view, acting = _actable(stack, person, certificate_id, action)
    note = nfc(note.strip())
    errors = _check_form(action, reason, note, t)
    template = "portal/action.html" if errors else "portal/confirm.html"
    return _action_page(
        request,
        person,
        view,
        acting,
        action,
        template=template,
        reason=reason,
        note=note,
        errors=errors,
        status_code=400 if errors else 200,
    )


@router.post("/portal/certificates/{certificate_id}/{action}", response_class=HTMLResponse)
def action_do(  # noqa: PLR0917 (the form's fields are the signature)
    request: Request,
    certificate_id: str,
    action: str,
    person: PersonDep,
    reason: Reason = "",
    note: Note = "",
) -> Response:
    """Step 3: the change, signed with the CB's hosted key; then back to the certificate."""
    stack: Stack = request.app.state.stack
    lang = language(request)
    t = translator(lang)
    view, acting = _actable(stack, person, certificate_id, action)
    note = nfc(note.strip())
    errors = _check_form(action, reason, note, t)
    if errors:
        return _action_page(
            request,
            person,
            view,
            acting,
            action,
            template="portal/action.html",
            reason=reason,
            note=note,
            errors=errors,
            status_code=400,
        )
    if acting.blocked == "held":
        return _action_page(
            request, person, view, acting, action, template="portal/action.html", status_code=409
        )
    assert person.principal.issuer_id is not None
    change = getattr(stack.service, action)
    try:
        change(
            person.principal.issuer_id, view.id, reason=_reason(reason, note), actor=person.actor
        )
    except IllegalTransitionError:
        return _action_page(
            request,
            person,
            stack.service.get(view.id),
            acting,
            action,
            template="portal/action.html",
            reason=reason,
            note=note,
            message=t("portal.action.illegal"),
            status_code=409,
        )
    return RedirectResponse(
        f"/portal/certificates/{view.id}?lang={lang}&done={action}", status_code=303
    )
