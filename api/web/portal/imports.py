"""The portal's spreadsheet imports (docs/spec.md §11.13): a CB officer downloads a kind's
template, uploads a file, sees every row checked — errors by row and column, in plain words —
maps columns the registry did not recognise, confirms, and follows the issuing's progress
(the page refreshes itself while it runs: no script needed), then downloads the result file.

The same service calls as the JSON API's `/v1/imports` routes (api/routes/imports.py): only a
CB's officers import, their own CB's files.
"""

import re
from typing import Annotated, Final

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.stack import Stack
from api.web.i18n import translator
from api.web.portal.auth import Person, PersonDep
from api.web.portal.render import language, portal_page
from registry.accounts import Role
from registry.errors import ConflictError, ForbiddenError, InvalidRequestError, NotFoundError
from registry.fields import CertificateKind
from registry.imports import ImportView
from registry.sheets import MAX_ROWS, template_columns

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

_ID: Final = r"[0-9a-f]{32}"
#: the form's name for "this header is not used"
_UNUSED: Final = ""


def _stack(request: Request) -> Stack:
    stack: Stack = request.app.state.stack
    return stack


def _officer(person: Person) -> str | None:
    """The CB a CB officer imports for; None for anyone else (the page says who may)."""
    if person.role is Role.CB_OFFICER and person.principal.issuer_id is not None:
        return person.principal.issuer_id
    return None


def _list_page(
    request: Request, person: Person, *, message: str = "", status_code: int = 200
) -> HTMLResponse:
    lang = language(request)
    t = translator(lang)
    issuer_id = _officer(person)
    jobs: list[ImportView] = []
    if issuer_id is not None:
        jobs, _ = _stack(request).service.imports.search(issuer_id, limit=50)
    return portal_page(
        request,
        "portal/imports.html",
        person=person,
        title=t("portal.import.title"),
        section="imports",
        status_code=status_code,
        context={
            "may_import": issuer_id is not None,
            "kinds": [k.value for k in CertificateKind],
            "jobs": jobs,
            "message": message,
            "max_rows": MAX_ROWS,
        },
    )


@router.get("/portal/imports", response_class=HTMLResponse)
def imports_page(request: Request, person: PersonDep) -> Response:
    """The templates to download, the upload form, and the CB's imports."""
    return _list_page(request, person)


@router.post("/portal/imports", response_class=HTMLResponse)
def upload(
    request: Request,
    person: PersonDep,
    kind: Annotated[str, Form()] = "",
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    lang = language(request)
    t = translator(lang)
    issuer_id = _officer(person)
    if issuer_id is None:
        return _list_page(request, person, message=t("portal.import.officers"), status_code=403)
    if kind not in {k.value for k in CertificateKind}:
        return _list_page(request, person, message=t("portal.import.no_kind"), status_code=400)
    if file is None or not file.filename:
        return _list_page(request, person, message=t("portal.import.no_file"), status_code=400)
    try:
        view = _stack(request).service.imports.upload(
            issuer_id,
            kind=CertificateKind(kind),
            filename=file.filename,
            data=file.file.read(),
            actor=person.actor,
        )
    except InvalidRequestError as exc:
        return _list_page(
            request, person, message=t("portal.import.unreadable", detail=str(exc)), status_code=400
        )
    suffix = "&repeated=1" if view.repeated else ""
    return RedirectResponse(f"/portal/imports/{view.id}?lang={lang}{suffix}", status_code=303)


def _job_page(
    request: Request,
    person: Person,
    import_id: str,
    *,
    message: str = "",
    status_code: int = 200,
) -> Response:
    lang = language(request)
    t = translator(lang)
    issuer_id = _officer(person)
    if issuer_id is None:
        return _list_page(request, person, message=t("portal.import.officers"), status_code=403)
    view = _stack(request).service.imports.get(issuer_id, import_id)
    columns = template_columns(view.kind, groups=max(3, _groups_in(view)))
    running = view.state in ("queued", "running")
    response = portal_page(
        request,
        "portal/import.html",
        person=person,
        title=t("portal.import.job_title", name=view.filename),
        section="imports",
        status_code=status_code,
        context={
            "job": view,
            "columns": [
                (c.key, c.header_vi if lang == "vi" else c.header_en, c.required) for c in columns
            ],
            "message": message,
            "repeated": request.query_params.get("repeated") == "1",
            "running": running,
            "kind_label": t.get(f"kind.{view.kind}", view.kind),
        },
    )
    if running:
        # Progress without script: the page asks for itself again every two seconds.
        response.headers["Refresh"] = "2"
    return response


def _groups_in(view: ImportView) -> int:
    numbers = [
        int(k.split("_")[1])
        for k in view.mapping.values()
        if k.count("_") >= 2 and k.split("_")[1].isdigit()
    ]
    return max(numbers, default=0)


@router.get("/portal/imports/{import_id}", response_class=HTMLResponse)
def job_page(import_id: str, request: Request, person: PersonDep) -> Response:
    """The upload's check — counts, the mapping, the errors — and, once confirmed, progress."""
    _check_id(import_id)
    return _job_page(request, person, import_id)


@router.post("/portal/imports/{import_id}/mapping", response_class=HTMLResponse)
async def remap(import_id: str, request: Request, person: PersonDep) -> Response:
    """The mapping form: one select per header of the file, named `map-<index>`."""
    _check_id(import_id)
    issuer_id = _officer(person)
    lang = language(request)
    t = translator(lang)
    if issuer_id is None:
        return _list_page(request, person, message=t("portal.import.officers"), status_code=403)
    stack = _stack(request)
    form = await request.form()
    view = stack.service.imports.get(issuer_id, import_id)
    mapping = {}
    for index, header in enumerate(view.headers):
        key = form.get(f"map-{index}")
        if isinstance(key, str) and key != _UNUSED:
            mapping[header] = key
    try:
        stack.service.imports.remap(issuer_id, import_id, mapping)
    except (InvalidRequestError, ConflictError) as exc:
        return _job_page(request, person, import_id, message=str(exc), status_code=400)
    return RedirectResponse(f"/portal/imports/{import_id}?lang={lang}", status_code=303)


@router.post("/portal/imports/{import_id}/confirm", response_class=HTMLResponse)
def confirm(
    import_id: str,
    request: Request,
    person: PersonDep,
    skip_invalid: Annotated[str, Form()] = "",
) -> Response:
    _check_id(import_id)
    issuer_id = _officer(person)
    lang = language(request)
    t = translator(lang)
    if issuer_id is None:
        return _list_page(request, person, message=t("portal.import.officers"), status_code=403)
    stack = _stack(request)
    try:
        stack.service.imports.confirm(
            issuer_id, import_id, skip_invalid=skip_invalid == "1", actor=person.actor
        )
    except ConflictError:
        return _job_page(
            request, person, import_id, message=t("portal.import.fix_first"), status_code=409
        )
    except InvalidRequestError as exc:
        return _job_page(request, person, import_id, message=str(exc), status_code=400)
    except ForbiddenError:
        return _job_page(
            request, person, import_id, message=t("portal.import.another"), status_code=403
        )
    stack.import_runner.submit(import_id, actor=person.actor)
    return RedirectResponse(f"/portal/imports/{import_id}?lang={lang}", status_code=303)


@router.get("/portal/imports/{import_id}/result.csv")
def result(import_id: str, request: Request, person: PersonDep) -> Response:
    _check_id(import_id)
    issuer_id = _officer(person)
    if issuer_id is None:
        raise ForbiddenError(f"import {import_id}: got a {person.role.value}, want a CB officer")
    name, content = _stack(request).service.imports.result_csv(issuer_id, import_id)
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in name)
    return Response(
        content=content,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{safe}"'},
    )


def _check_id(import_id: str) -> None:
    if re.fullmatch(_ID, import_id) is None:
        raise NotFoundError(f"import {import_id[:40]!r}: got no such id, want 32 hex digits")
