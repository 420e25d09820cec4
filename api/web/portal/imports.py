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

from api.settings import ApiSettings
from api.stack import Stack
from api.web.i18n import translator
from api.web.portal.auth import Person, PersonDep
from api.web.portal.render import language, portal_page
from api.web.routes import MAX_LABELS, MAX_PDFS, labels_document, pdfs_document
from registry.accounts import Role
from registry.errors import ConflictError, ForbiddenError, InvalidRequestError, NotFoundError
from registry.fields import CertificateKind
from registry.imports import ImportView
from registry.service import CertificateView
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
            "label_parts": _parts(view.issued + view.existing, MAX_LABELS),
            "zip_parts": _parts(view.issued + view.existing, MAX_PDFS),
        },
    )
    if running:
        # Progress without script: the page asks for itself again every two seconds.
        response.headers["Refresh"] = "2"
    return response


def _parts(count: int, size: int) -> list[tuple[int, int, int]]:
    """(part, first, last) of the certificates of an import, `size` a part."""
    return [(n // size + 1, n + 1, min(n + size, count)) for n in range(0, count, size)]


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
    issuer_id = _acting_officer(import_id, person)
    lang = language(request)
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
    issuer_id = _acting_officer(import_id, person)
    lang = language(request)
    t = translator(lang)
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


def _part(request: Request, ids: list[str], size: int) -> list[str]:
    """The `part`-th slice of `size` of an import's certificates (from 1), or a 404."""
    try:
        part = int(request.query_params.get("part", "1"))
    except ValueError:
        part = 0
    chosen = ids[(part - 1) * size : part * size] if part >= 1 else []
    if not chosen:
        raise NotFoundError(f"part: got {part}, want 1 to {max(1, -(-len(ids) // size))}")
    return chosen


@router.get("/portal/imports/{import_id}/labels.pdf")
def import_labels(import_id: str, request: Request, person: PersonDep) -> Response:
    """Labels with QR codes for the certificates an import issued, 480 (20 sheets) a part."""
    views = _printed(import_id, request, person, MAX_LABELS)
    base = _settings(request).public_base_url
    return Response(
        labels_document(views, base=base),
        media_type="application/pdf",
        headers={
            "Content-Disposition": 'inline; filename="labels.pdf"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/portal/imports/{import_id}/certificates.zip")
def import_pdfs(import_id: str, request: Request, person: PersonDep) -> Response:
    """The printable PDFs of the certificates an import issued, 100 a ZIP."""
    views = _printed(import_id, request, person, MAX_PDFS)
    stack = _stack(request)
    document = pdfs_document(stack, views, base=_settings(request).public_base_url)
    return Response(
        document,
        media_type="application/zip",
        headers={
            "Content-Disposition": 'attachment; filename="certificates.zip"',
            "Cache-Control": "no-store",
        },
    )


def _printed(import_id: str, request: Request, person: Person, size: int) -> list[CertificateView]:
    issuer_id = _acting_officer(import_id, person)
    stack = _stack(request)
    ids = _part(request, stack.service.imports.certificate_ids(issuer_id, import_id), size)
    return [stack.service.get(certificate_id) for certificate_id in ids]


def _settings(request: Request) -> ApiSettings:
    settings: ApiSettings = request.app.state.settings
    return settings


@router.get("/portal/imports/{import_id}/result.csv")
def result(import_id: str, request: Request, person: PersonDep) -> Response:
    issuer_id = _acting_officer(import_id, person)
    name, content = _stack(request).service.imports.result_csv(issuer_id, import_id)
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in name)
    return Response(
        content=content,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{safe}"'},
    )


def _acting_officer(import_id: str, person: Person) -> str:
    """The CB of the officer acting on an import (a well-formed id); 403 for anyone else."""
    _check_id(import_id)
    issuer_id = _officer(person)
    if issuer_id is None:
        raise ForbiddenError(f"import {import_id}: got a {person.role.value}, want a CB officer")
    return issuer_id


def _check_id(import_id: str) -> None:
    if re.fullmatch(_ID, import_id) is None:
        raise NotFoundError(f"import {import_id[:40]!r}: got no such id, want 32 hex digits")
