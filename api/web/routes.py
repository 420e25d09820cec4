"""The verifier's web edge: the verification page a QR code opens, the search and upload
pages, QR codes and the printable certificate, and a batch's labels and printable certificates.

Pages (`/verify…`) are server-rendered HTML in Vietnamese or English and need no JavaScript;
their errors are HTML pages too. QR codes and PDFs are part of the JSON API (`/v1/…`): their
errors are RFC 9457 problems like the rest of it.

The verdict a page shows is the one `Stack.verifier` gives, as `certreg verify` would: it trusts
only the registry key, chain id and contract pinned in this server's own settings, reads the
chain itself, and refreshes an older bundle's status from this registry's fresh status proof.
Pages render that `Verdict`; they decide nothing themselves.
"""

import contextlib
import datetime as dt
import functools
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Final

from fastapi import APIRouter, File, Request, Response, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy.exc import OperationalError
from starlette.datastructures import URL

from api.deps import ActorDep, StackDep
from api.problems import responses
from api.routes.certificates import CertificateId, public_bundle
from api.settings import ApiSettings
from api.stack import Stack
from api.web import archive, pdf
from api.web.i18n import Translator, translator
from api.web.pages import CSS_PATH, css_bytes, page_language, render_page
from api.web.present import (
    Details,
    IssuerInfo,
    Outcome,
    check_views,
    checkpoint_view,
    details,
    nfc,
    not_found_verdict,
    outcome_of,
    registered_hash,
    shown_fields,
    verdict_view,
)
from api.web.qr import digest, group_digest, parse_digest, qr_png, qr_svg, verification_url
from registry.accounts import Actor, Role
from registry.core.canonical import json_depth
from registry.core.verify import CheckStatus, Verdict, malformed_verdict
from registry.errors import ForbiddenError, NotFoundError
from registry.records import holder_of, public_record, record_fields
from registry.service import CertificateView

__all__ = [
    "MAX_LABELS",
    "MAX_PDFS",
    "api_router",
    "labels_document",
    "page_router",
    "pdfs_document",
]

log = logging.getLogger("certreg.api.web")

page_router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/v1/certificates", tags=["certificates"])

_ID: Final = re.compile(r"0x[0-9a-f]{64}")
#: nesting an honest bundle never reaches; checked before parsing an uploaded file
_MAX_UPLOAD_DEPTH: Final = 32


class PngResponse(Response):
    media_type = "image/png"


class SvgResponse(Response):
    media_type = "image/svg+xml"


class PdfResponse(Response):
    media_type = "application/pdf"


class ZipResponse(Response):
    media_type = "application/zip"


def _settings(request: Request) -> ApiSettings:
    settings: ApiSettings = request.app.state.settings
    return settings


def _stack(request: Request) -> Stack:
    stack: Stack = request.app.state.stack
    return stack


def _page(handler: Callable[..., Response]) -> Callable[..., Response]:
    """Answer an unexpected failure of a page with an HTML error page, never a stack trace."""

    @functools.wraps(handler)
    def wrapped(*args: Any, **kwargs: Any) -> Response:
        request = kwargs.get("request")
        try:
            return handler(*args, **kwargs)
        except OperationalError:
            if not isinstance(request, Request):
                raise
            log.error("page %s: the database did not answer", request.url.path)
            return error_page(request, 503)
        except Exception:
            log.exception("page %s failed", getattr(getattr(request, "url", None), "path", "?"))
            if not isinstance(request, Request):
                raise
            return error_page(request, 500)

    return wrapped


def error_page(request: Request, status: int) -> HTMLResponse:
    """A friendly page for an HTTP error status on the human pages."""
    lang = page_language(request)
    t = translator(lang)
    key = status if t.has(f"error.{status}.title") else 500 if status >= 500 else 400
    max_size = _settings(request).max_body_bytes
    # The portal's errors lead back to the portal, with words for its people.
    portal = request.url.path == "/portal" or request.url.path.startswith("/portal/")
    back = "/portal" if portal else "/verify"
    text_key = f"portal.error.{key}.text" if portal and t.has(f"portal.error.{key}.text") else None
    response = render_page(
        request,
        "error.html",
        lang=lang,
        title=t(f"error.{key}.title"),
        status_code=status,
        switch_to=URL(back),
        context={
            "heading": t(f"error.{key}.title"),
            "text": t(text_key or f"error.{key}.text", size=_size(max_size, t)),
            "back_href": back,
            "back_label": t("portal.error.back" if portal else "error.back"),
        },
    )
    if status == 503:
        response.headers["Retry-After"] = "5"
    return response


def _size(limit: int, t: Translator) -> str:
    if limit >= 1024 * 1024:
        return t("unit.mb", n=t.number(limit // (1024 * 1024)))
    return t("unit.kb", n=t.number(limit // 1024))


# --- checking a certificate -------------------------------------------------------------------


@dataclass(frozen=True)
class Checked:
    bundle: dict[str, Any]
    verdict: Verdict


def check_live(stack: Stack, certificate_id: str) -> Checked:
    """The certificate's current bundle and its verdict (a checkpoint anchored in between is
    handled by the verifier's refresh)."""
    bundle = public_bundle(stack.assembler.bundle(certificate_id)).model_dump(mode="json")
    return Checked(bundle, stack.verifier.verify(bundle))


def _chain_backs_issuer(verdict: Verdict) -> bool:
    """Whether the chain holds the signing key for the record's issuer (and the signature
    verified with it): only then may a page show the issuer's name and accreditation."""
    return (
        verdict.check("issuer_key_registered").status is CheckStatus.PASSED
        and verdict.check("issuer_signature").status is CheckStatus.PASSED
    )


def _issuer(stack: Stack, issuer_id: object, verdict: Verdict | None = None) -> IssuerInfo | None:
    """The issuer as the registry knows it, and (given the verdict) the custody of its signing
    key as the verdict checked the authority's approval of it."""
    if not isinstance(issuer_id, str) or not issuer_id:
        return None
    row = stack.transparency.issuer(issuer_id)
    if row is None:
        return None
    admission = stack.service.governance.admission(issuer_id)
    return IssuerInfo(
        id=row.id,
        name_vi=row.name_vi,
        name_en=row.name_en,
        accreditation=row.accreditation,
        standing=None if admission is None else admission.status,
        key_custody=None if verdict is None else verdict.key_custody,
        key_approval_seq=None if verdict is None else verdict.key_approval_seq,
    )


def _anchored_at(verdict: Verdict) -> dt.datetime | None:
    """When the checkpoint the verdict rests on was anchored, as the chain said."""
    if verdict.check("checkpoint_anchored").status is not CheckStatus.PASSED:
        return None
    if verdict.as_of is None:
        return None
    return dt.datetime.fromtimestamp(verdict.as_of, tz=dt.UTC)


@dataclass(frozen=True)
class QrCheck:
    match: bool
    message: str


def _qr_check(scanned: str | None, registered: bytes | None, t: Translator) -> QrCheck | None:
    if scanned is None or registered is None:
        return None
    ours = digest(registered)
    parsed = parse_digest(scanned)
    if parsed is None:
        return QrCheck(False, t("qr.malformed"))
    if parsed == ours:
        return QrCheck(True, t("qr.match", digest=group_digest(ours)))
    return QrCheck(
        False, t("qr.mismatch", scanned=group_digest(parsed), registered=group_digest(ours))
    )


def _qr_notice(outcome: Outcome, check: QrCheck | None) -> QrCheck | None:
    """The QR notice to show: a match is not worth saying on a page that says "not genuine"."""
    if check is not None and check.match and outcome is Outcome.INVALID:
        return None
    return check


def _related(bundle: Mapping[str, Any], certificate_id: str) -> tuple[str | None, str | None]:
    """(successor, predecessor) ids named by the bundle's signed event."""
    event = bundle.get("event")
    if not isinstance(event, Mapping):
        return None, None
    named, supersedes = event.get("certificate_id"), event.get("supersedes")
    if not isinstance(named, str) or not isinstance(supersedes, str):
        return None, None
    if supersedes == certificate_id and _ID.fullmatch(named):
        return named, None
    if named == certificate_id and _ID.fullmatch(supersedes):
        return None, supersedes
    return None, None


def _result_page(
    request: Request,
    stack: Stack,
    *,
    lang: str,
    checked: Checked,
    outcome: Outcome,
    live: bool,
    scanned_digest: str | None = None,
    note: str | None = None,
    status_code: int = 200,
    switch_to: URL | None = None,
) -> HTMLResponse:
    t = translator(lang)
    settings = _settings(request)
    bundle, verdict = checked.bundle, checked.verdict
    certificate_id = str(bundle.get("certificate_id", ""))
    record = bundle.get("record")
    registered = registered_hash(bundle) if isinstance(record, Mapping) else None
    shown: Details | None = None
    if outcome is not Outcome.NOT_FOUND and isinstance(record, Mapping):
        backed = _chain_backs_issuer(verdict)
        event = bundle.get("event")
        receiving = None
        if backed and verdict.transferred_from is not None and isinstance(event, Mapping):
            # The event, and the key the verdict checked, are the receiving CB's; the record,
            # and the name shown as its issuer, the CB's that issued it.
            issuer = _issuer(stack, shown_fields(record).get("issuer_id"))
            receiving = _issuer(stack, event.get("issuer_id"), verdict)
        else:
            issuer = (
                _issuer(stack, shown_fields(record).get("issuer_id"), verdict) if backed else None
            )
        shown = details(
            record, issuer=issuer, t=t, record_hash=registered, transferred_to=receiving
        )
    successor, predecessor = _related(bundle, certificate_id)
    if live and shown is not None and predecessor is None and successor is None:
        # A replacement that changed again since (e.g. suspended): its latest event no longer
        # names the certificate it replaced; the registry's record does (only a link is shown).
        with contextlib.suppress(NotFoundError):
            predecessor = stack.service.get(certificate_id).supersedes
    show_checks = (
        outcome is not Outcome.NOT_FOUND
        or verdict.check("certificate_status").status is CheckStatus.PASSED
    )
    links: dict[str, str] = {}
    if live and shown is not None and _ID.fullmatch(certificate_id):
        base = f"/v1/certificates/{certificate_id}"
        links = {
            "pdf": f"{base}/pdf",
            "qr_png": f"{base}/qr.png",
            "qr_svg": f"{base}/qr.svg",
            "bundle": f"{base}/proof",
        }
    title = (
        t("page.certificate", number=shown.number)
        if shown is not None and shown.number
        else t(f"verdict.{outcome.value}.title")
    )
    return render_page(
        request,
        "verify.html",
        lang=lang,
        title=title,
        status_code=status_code,
        switch_to=switch_to,
        context={
            "verdict": verdict_view(outcome, verdict, bundle, shown, t),
            "details": shown,
            "checks": check_views(verdict, bundle, shown, t) if show_checks else [],
            "checkpoint": checkpoint_view(
                bundle,
                explorer_tx_url=settings.block_explorer_tx_url,
                anchored_at=_anchored_at(verdict),
                t=t,
            ),
            "open_checks": outcome in (Outcome.INVALID, Outcome.UNAVAILABLE),
            "qr": _qr_notice(outcome, _qr_check(scanned_digest, registered, t) if live else None),
            "successor": successor,
            "predecessor": predecessor,
            "links": links,
            "note": note,
            "live": live,
        },
    )


# --- pages ------------------------------------------------------------------------------------


@page_router.get(CSS_PATH)
def stylesheet() -> Response:
    return Response(
        css_bytes(),
        media_type="text/css; charset=utf-8",
        headers={"Cache-Control": "public, max-age=31536000, immutable"},
    )


@page_router.get("/verify", response_class=HTMLResponse)
@_page
def search_page(request: Request) -> Response:
    """Type a certificate number (and optionally choose the issuer) instead of scanning."""
    stack = _stack(request)
    lang = page_language(request)
    t = translator(lang)
    params = request.query_params
    number = nfc(params.get("number", "").strip())[:100]
    issuer_id = params.get("issuer", "").strip()[:64] or None
    issuers = [
        IssuerInfo(id=i.id, name_vi=i.name_vi, name_en=i.name_en, accreditation=i.accreditation)
        for i in stack.transparency.issuers()
    ]
    context: dict[str, Any] = {
        "issuers": issuers,
        "number": number,
        "issuer_id": issuer_id,
        "message": None,
        "results": [],
    }
    status_code = 200
    if "number" in params:
        if not number:
            context["message"] = t("search.empty")
            status_code = 400
        else:
            views, total = stack.service.search(issuer_id=issuer_id, number=number, limit=20)
            if total == 0 and number.upper() != number:
                views, total = stack.service.search(
                    issuer_id=issuer_id, number=number.upper(), limit=20
                )
            if total == 1:
                return RedirectResponse(f"/verify/{views[0].id}?lang={lang}", status_code=303)
            if total == 0:
                context["message"] = t("search.not_found", number=number)
                context["not_found"] = True
                status_code = 404
            else:
                by_id = {i.id: i for i in issuers}
                context["results"] = [
                    {
                        "href": f"/verify/{v.id}?lang={lang}",
                        "number": nfc(v.number),
                        "issuer": by_id[v.issuer_id].name(lang)
                        if v.issuer_id in by_id
                        else v.issuer_id,
                        "kind": t.get(f"kind.{v.kind}", v.kind),
                    }
                    for v in views
                ]
                context["message"] = t("search.several", count=t.number(total))
    return render_page(
        request,
        "search.html",
        lang=lang,
        title=t("search.title"),
        status_code=status_code,
        context=context,
    )


@page_router.get("/verify/bundle", response_class=HTMLResponse)
@_page
def upload_page(request: Request) -> HTMLResponse:
    """A form to upload a proof bundle file."""
    return _upload_form(request, page_language(request))


def _upload_form(
    request: Request, lang: str, *, message: str | None = None, status_code: int = 200
) -> HTMLResponse:
    t = translator(lang)
    return render_page(
        request,
        "upload.html",
        lang=lang,
        title=t("upload.title"),
        status_code=status_code,
        switch_to=URL("/verify/bundle"),
        context={
            "message": message,
            "max_size": _size(_settings(request).max_body_bytes, t),
        },
    )


def parse_upload(data: bytes) -> object:
    """An uploaded file as JSON, or ValueError saying why it is not."""
    if json_depth(data) > _MAX_UPLOAD_DEPTH:
        raise ValueError(f"got JSON nested deeper than {_MAX_UPLOAD_DEPTH}, want a bundle")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"got bytes that are not UTF-8 text ({exc.reason})") from None
    try:
        parsed = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise ValueError(f"got text that is not JSON: {exc}") from None
    try:
        # JSON can spell a lone surrogate (\ud800): no hash covers one, and the page that shows
        # the file's text could not be encoded (a 500). At most 32 levels deep: no recursion risk.
        json.dumps(parsed, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(
            "got a lone surrogate (\\ud800-\\udfff), want well-formed Unicode text"
        ) from None
    return parsed


def _no_constant(name: str) -> None:
    raise ValueError(f"got {name}, which is not JSON")


@page_router.post("/verify/bundle", response_class=HTMLResponse)
@_page
def upload_check(
    request: Request, bundle: Annotated[UploadFile | None, File()] = None
) -> HTMLResponse:
    """The verdict on an uploaded proof bundle, checked against the chain like a live one."""
    stack = _stack(request)
    lang = page_language(request)
    t = translator(lang)
    limit = _settings(request).max_body_bytes
    data = bundle.file.read(limit + 1) if bundle is not None else b""
    if bundle is None or not data:
        return _upload_form(request, lang, message=t("upload.missing"), status_code=400)
    switch_to = URL("/verify/bundle")
    try:
        parsed = parse_upload(data)
    except ValueError as exc:
        checked = Checked({}, malformed_verdict(f"the file: {exc}"))
        return _result_page(
            request,
            stack,
            lang=lang,
            checked=checked,
            outcome=Outcome.INVALID,
            live=False,
            note=t("upload.not_bundle"),
            switch_to=switch_to,
        )
    verdict = stack.verifier.verify(parsed)
    uploaded = parsed if isinstance(parsed, dict) else {}
    checked = Checked(uploaded, verdict)
    note = t("upload.checked", name=nfc(bundle.filename or "")[:100])
    if verdict.bundle_checkpoint_index is not None:
        # Genuine but older than the chain's latest checkpoint: the verifier refreshed its
        # status from this registry's fresh proof, or could not (STALE).
        key = "upload.refreshed" if verdict.refreshed_from is not None else "upload.stale"
        note = t(key, index=t.number(verdict.bundle_checkpoint_index))
    outcome = outcome_of(checked.verdict)
    return _result_page(
        request,
        stack,
        lang=lang,
        checked=checked,
        outcome=outcome,
        live=False,
        note=note,
        switch_to=switch_to,
        status_code=503 if outcome is Outcome.UNAVAILABLE else 200,
    )


@page_router.get("/verify/{certificate_id}", response_class=HTMLResponse)
@_page
def verify_page(request: Request, certificate_id: str) -> HTMLResponse:
    """The page a certificate's QR code opens: the verdict, in a second, in the reader's
    language, with the certificate's fields and how it was checked."""
    stack = _stack(request)
    lang = page_language(request)
    certificate_id = certificate_id.lower()
    if not _ID.fullmatch(certificate_id):
        return _not_found(request, lang)
    checked = check_live(stack, certificate_id)
    if checked.bundle.get("status") == "UNKNOWN":
        return _result_page(
            request,
            stack,
            lang=lang,
            checked=checked,
            outcome=Outcome.NOT_FOUND,
            live=True,
            status_code=404,
        )
    outcome = outcome_of(checked.verdict)
    return _result_page(
        request,
        stack,
        lang=lang,
        checked=checked,
        outcome=outcome,
        live=True,
        scanned_digest=request.query_params.get("d"),
        status_code=503 if outcome is Outcome.UNAVAILABLE else 200,
    )


def _not_found(request: Request, lang: str) -> HTMLResponse:
    checked = Checked({}, not_found_verdict())
    return _result_page(
        request,
        _stack(request),
        lang=lang,
        checked=checked,
        outcome=Outcome.NOT_FOUND,
        live=True,
        status_code=404,
    )


# --- QR codes, printable certificates and labels (JSON API) ----------------------------------


def _url_of(stack: Stack, request: Request, certificate_id: str) -> tuple[str, bytes]:
    view = stack.service.get(certificate_id)  # NotFoundError → 404 problem
    url = verification_url(_settings(request).public_base_url, view.id, view.record_hash)
    return url, view.record_hash


_QR_CACHE: Final = {"Cache-Control": "public, max-age=86400"}


@api_router.get(
    "/{certificate_id}/qr.svg",
    response_class=SvgResponse,
    summary="The certificate's QR code (SVG)",
    responses={200: {"content": {"image/svg+xml": {}}}, **responses(404, 422)},
)
def certificate_qr_svg(
    certificate_id: CertificateId, request: Request, stack: StackDep
) -> Response:
    """A QR code of the certificate's public verification page,
    `{public base URL}/verify/{id}?d={first 16 hex digits of the record hash}`."""
    url, _ = _url_of(stack, request, certificate_id)
    return SvgResponse(qr_svg(url, title=url), headers=_QR_CACHE)


@api_router.get(
    "/{certificate_id}/qr.png",
    response_class=PngResponse,
    summary="The certificate's QR code (PNG)",
    responses={200: {"content": {"image/png": {}}}, **responses(404, 422)},
)
def certificate_qr_png(
    certificate_id: CertificateId, request: Request, stack: StackDep
) -> Response:
    """The QR code of `qr.svg` as a PNG, 8 pixels a module."""
    url, _ = _url_of(stack, request, certificate_id)
    return PngResponse(qr_png(url), headers=_QR_CACHE)


#: 20 A4 sheets of 24 labels: a batch's worth, and a bound on one request's work
MAX_LABELS: Final = 480
#: certificates in one ZIP of PDFs: each is about 55 KB and 20 ms of work, so that one request
#: holds at most some 6 MB and a couple of seconds of a worker (split a larger batch)
MAX_PDFS: Final = 100

BatchId = Annotated[str, StringConstraints(pattern=r"^0x[0-9a-f]{64}$")]


class LabelsRequest(BaseModel):
    """The certificates of a batch to print labels of (in this order)."""

    model_config = ConfigDict(extra="forbid")

    certificate_ids: list[BatchId] = Field(min_length=1, max_length=MAX_LABELS)


class PdfsRequest(BaseModel):
    """The certificates of a batch to print, a PDF each (in this order; an id given twice is
    printed once)."""

    model_config = ConfigDict(extra="forbid")

    certificate_ids: list[BatchId] = Field(min_length=1, max_length=MAX_PDFS)


def _printable_batch(
    acting: Actor, stack: Stack, certificate_ids: Iterable[str]
) -> list[CertificateView]:
    """The certificates of a batch to print, in order, once the caller may print them all: a
    CB's people their own CB's certificates, the authority's admins and auditors any (the
    certificates are public; printing a batch is work, so it is not anyone's to ask for). An
    unknown id is a 404, looked for before any 403: whether a certificate exists is public."""
    principal = acting.principal
    assert principal is not None
    if principal.setup_only:
        raise ForbiddenError(
            "printing a batch: got a one-time setup token, want the account's own token or session"
        )
    views = [stack.service.get(certificate_id) for certificate_id in certificate_ids]
    if principal.is_(Role.CB_ADMIN, Role.CB_OFFICER):
        for view in views:
            if view.issuer_id != principal.issuer_id:
                raise ForbiddenError(
                    f"certificate {view.id}: got one of {view.issuer_id}, want one of "
                    f"{principal.issuer_id}, the CB you act for"
                )
    return views


@api_router.post(
    "/labels",
    response_class=PdfResponse,
    summary="Labels with QR codes for a batch of certificates (PDF, A4, 24 a page)",
    responses={200: {"content": {"application/pdf": {}}}, **responses(401, 403, 404, 422, 429)},
)
def certificate_labels(
    body: LabelsRequest, request: Request, acting: ActorDep, stack: StackDep
) -> Response:
    """Each certificate's QR code (its verification page), number, holder, kind and last valid
    day, 3 × 8 to an A4 sheet of 70 × 37 mm labels. A CB's people print their own CB's
    certificates; the authority's admins and auditors any."""
    views = _printable_batch(acting, stack, body.certificate_ids)
    document = labels_document(views, base=_settings(request).public_base_url)
    return PdfResponse(
        document,
        headers={
            "Content-Disposition": 'inline; filename="labels.pdf"',
            "Cache-Control": "no-store",
        },
    )


@api_router.post(
    "/pdfs",
    response_class=ZipResponse,
    summary="The printable certificates of a batch (a ZIP of PDFs and a manifest)",
    responses={200: {"content": {"application/zip": {}}}, **responses(401, 403, 404, 422, 429)},
)
def certificate_pdfs(
    body: PdfsRequest, request: Request, acting: ActorDep, stack: StackDep
) -> Response:
    """A ZIP of each certificate's printable PDF, the same as `GET …/{id}/pdf` gives, named
    after its number (ASCII, made distinct), and `manifest.csv`: each file's name, certificate
    id, issuer, number, status and SHA-256. A CB's people print their own CB's certificates;
    the authority's admins and auditors any."""
    # An id given twice is one file: a PDF each would need two names for the same certificate.
    views = _printable_batch(acting, stack, list(dict.fromkeys(body.certificate_ids)))
    document = pdfs_document(stack, views, base=_settings(request).public_base_url)
    today = stack.clock.now().astimezone(dt.UTC).date()
    return ZipResponse(
        document,
        headers={
            "Content-Disposition": f'attachment; filename="certificates-{today}.zip"',
            "Cache-Control": "no-store",
        },
    )


def labels_document(views: Sequence[CertificateView], *, base: str) -> bytes:
    """One PDF of the certificates' labels (`certificate_labels`, the portal's imports)."""
    return pdf.labels_pdf(
        [
            pdf.Label(
                number=view.number,
                holder=holder_of(record_fields(view.record))[0],
                kind=view.kind,
                valid_until=record_fields(view.record).get("valid_until"),
                url=verification_url(base, view.id, view.record_hash),
            )
            for view in views
        ]
    )


def pdfs_document(stack: Stack, views: Sequence[CertificateView], *, base: str) -> bytes:
    """A ZIP of the certificates' printable PDFs and its manifest (`certificate_pdfs`, the
    portal's imports)."""
    now = stack.clock.now()
    today = now.astimezone(dt.UTC).date()
    issuers = {issuer_id: _issuer(stack, issuer_id) for issuer_id in {v.issuer_id for v in views}}
    return archive.pdfs_zip(
        [
            archive.Printed(
                certificate_id=view.id,
                issuer_id=view.issuer_id,
                number=view.number,
                status=view.status,
                pdf=_printable_pdf(view, issuer=issuers[view.issuer_id], base=base, today=today),
            )
            for view in views
        ],
        at=now,
    )


def _printable_pdf(
    view: CertificateView, *, issuer: IssuerInfo | None, base: str, today: dt.date
) -> bytes:
    """The certificate's PDF, as `certificate_pdf` and `certificate_pdfs` both print it: its
    record's public copy (docs/spec.md §2b), as anyone may print it."""
    return pdf.certificate_pdf(
        record=public_record(view.record),
        status=view.status,
        issuer=issuer,
        url=verification_url(base, view.id, view.record_hash),
        record_hash=view.record_hash,
        today=today,
    )


@api_router.get(
    "/{certificate_id}/pdf",
    response_class=PdfResponse,
    summary="The printable certificate (PDF, Vietnamese and English)",
    responses={200: {"content": {"application/pdf": {}}}, **responses(404, 422)},
)
def certificate_pdf(certificate_id: CertificateId, request: Request, stack: StackDep) -> Response:
    """The certificate as registered, in Vietnamese and English: issuer and accreditation,
    holder, subject, standards, dates, number, its QR code and record digest, and its status
    on the day it is printed."""
    view = stack.service.get(certificate_id)
    document = _printable_pdf(
        view,
        issuer=_issuer(stack, view.issuer_id),
        base=_settings(request).public_base_url,
        today=stack.clock.now().astimezone(dt.UTC).date(),
    )
    filename = re.sub(r"[^A-Za-z0-9._-]", "_", view.number)[:80] or "certificate"
    return PdfResponse(
        document,
        headers={
            "Content-Disposition": f'inline; filename="{filename}.pdf"',
            "Cache-Control": "no-cache",
        },
    )
