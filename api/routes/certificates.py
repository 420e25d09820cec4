"""Issuer API (authenticated) and public certificate reads."""

from typing import Annotated

from fastapi import APIRouter, Body, Header, Path, Query, Response, status

from api.deps import ActorDep, OfficerDep, StackDep, may_see_all
from api.problems import ProblemError, responses
from api.routes.links import certificate_links, link
from api.schemas import (
    BatchRequest,
    BatchResponse,
    CertificateOut,
    CertificatePage,
    IssueOut,
    SupersedeRequest,
    TransitionRequest,
)
from registry.assembly import NothingAnchoredError
from registry.bundle import Bundle, StatusDocument
from registry.compact import CBOR_MEDIA_TYPES, encode_bundle
from registry.core.encoding import hex0x
from registry.records import AnySubmission, CertificateKind, public_record
from registry.service import CertificateView, IssueResult

router = APIRouter(prefix="/v1/certificates", tags=["certificates"])

CertificateId = Annotated[
    str,
    Path(
        pattern=r"^0x[0-9a-f]{64}$",
        description="Certificate id: 0x + 64 lowercase hex digits",
        examples=["0x" + "ab" * 32],
    ),
]
AUTH_ERRORS = (401, 403, 429)

#: what an issued (or superseding) certificate's answer leads to (api/routes/links.py)
ISSUED_LINKS = certificate_links("$response.body#/id", "$response.body#/record")


def certificate_out(view: CertificateView, *, public: bool = True) -> CertificateOut:
    """The certificate as the API shows it: its record's public copy (docs/spec.md §2b) unless
    `public` is False (an answer to its own CB)."""
    return CertificateOut(
        id=view.id,
        issuer_id=view.issuer_id,
        number=view.number,
        kind=view.kind,
        status=view.status,  # type: ignore[arg-type]
        record=public_record(view.record) if public else view.record,
        record_hash=hex0x(view.record_hash),
        last_event_seq=view.last_event_seq,
        supersedes=view.supersedes,
        superseded_by=view.superseded_by,
    )


def issue_out(result: IssueResult) -> IssueOut:
    # The CB that issued it gets its whole record back.
    return IssueOut(
        **certificate_out(result.certificate, public=False).model_dump(), created=result.created
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Issue a certificate",
    responses={
        201: {"links": ISSUED_LINKS},
        200: {
            "model": IssueOut,
            "description": "Already issued (same record)",
            "links": ISSUED_LINKS,
        },
        **responses(*AUTH_ERRORS, 409, 413, 415, 422),
    },
)
def issue(
    submission: Annotated[AnySubmission, Body()],
    officer: OfficerDep,
    stack: StackDep,
    response: Response,
) -> IssueOut:
    """Issue one certificate; the same record again returns it with 200 (idempotent), a
    different record under the same number is a 409 conflict."""
    result = stack.service.issue(officer.issuer_id, submission, actor=officer.actor)
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return issue_out(result)


# The first certificate of the batch stands for all of them.
_BATCH_LINKS = certificate_links(
    "$response.body#/certificates/0/id", "$response.body#/certificates/0/record"
)


@router.post(
    "/batch",
    status_code=status.HTTP_201_CREATED,
    summary="Issue many certificates, all or none",
    responses={
        201: {"links": _BATCH_LINKS},
        200: {
            "model": BatchResponse,
            "description": "Nothing new (all repeats)",
            "links": _BATCH_LINKS,
        },
        **responses(400, *AUTH_ERRORS, 409, 413, 415, 422),
    },
)
def issue_batch(
    batch: BatchRequest, officer: OfficerDep, stack: StackDep, response: Response
) -> BatchResponse:
    results = stack.service.issue_batch(officer.issuer_id, batch.certificates, actor=officer.actor)
    created = sum(r.created for r in results)
    if not created:
        response.status_code = status.HTTP_200_OK
    return BatchResponse(created=created, certificates=[issue_out(r) for r in results])


def _transition(name: str, summary: str) -> None:
    @router.post(
        f"/{{certificate_id}}/{name}",
        summary=summary,
        responses={
            200: {"links": certificate_links("$response.body#/id", None)},
            **responses(*AUTH_ERRORS, 404, 409, 413, 415, 422),
        },
        operation_id=f"{name}_certificate",
    )
    def change(
        certificate_id: CertificateId,
        body: TransitionRequest,
        officer: OfficerDep,
        stack: StackDep,
    ) -> CertificateOut:
        action = getattr(stack.service, name)
        return certificate_out(
            action(officer.issuer_id, certificate_id, reason=body.text(), actor=officer.actor)
        )


_transition("suspend", "Suspend a certificate")
_transition("reinstate", "Reinstate a suspended certificate")
_transition("withdraw", "Withdraw (revoke) a certificate; final")


@router.post(
    "/{certificate_id}/supersede",
    status_code=status.HTTP_201_CREATED,
    summary="Issue a replacement that supersedes a certificate",
    responses={201: {"links": ISSUED_LINKS}, **responses(*AUTH_ERRORS, 404, 409, 413, 415, 422)},
)
def supersede(
    certificate_id: CertificateId, body: SupersedeRequest, officer: OfficerDep, stack: StackDep
) -> IssueOut:
    reason = body.reason if body.note is None else f"{body.reason}: {body.note}"
    return issue_out(
        stack.service.supersede(
            officer.issuer_id,
            certificate_id,
            body.certificate,
            reason=reason,
            actor=officer.actor,
        )
    )


@router.get(
    "/{certificate_id}",
    summary="A certificate and its current status",
    responses=responses(404, 422),
)
def get_certificate(certificate_id: CertificateId, stack: StackDep) -> CertificateOut:
    return certificate_out(stack.service.get(certificate_id))


@router.get(
    "/{certificate_id}/proof",
    summary="The proof bundle at the latest anchored checkpoint",
    response_model=Bundle,
    responses={
        200: {
            "description": "The bundle: JSON, or its compact CBOR form (docs/spec.md §8.3)",
            "links": {
                "VerifyBundle": link(
                    "/v1/verify",
                    "post",
                    "verify the bundle against the registry's key and the chain",
                    request_body={"bundle": "$response.body"},
                )
            },
            "content": {
                media: {"schema": {"type": "string", "format": "binary"}}
                for media in CBOR_MEDIA_TYPES
            },
        },
        **responses(422),
    },
)
def get_proof(
    certificate_id: CertificateId,
    stack: StackDep,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    """`ANCHORED` with every proof; `PENDING` (issued, not yet anchored: record, event and when
    the next checkpoint is due); `UNKNOWN` with a status-map non-membership proof for an id that
    was never issued. JSON unless the client asks for the compact form (docs/spec.md §8.3) with
    `Accept: application/vnd.certreg.bundle+cbor` (or `application/cbor`)."""
    # Serialised here: the assembler built (and pydantic validated) the Bundle already; FastAPI
    # would validate the whole return value again (docs/benchmarks.md, "HTTP API").
    bundle = public_bundle(stack.assembler.bundle(certificate_id))
    vary = {"Vary": "Accept"}
    media_type = compact_media_type(accept)
    if media_type is not None:
        content = encode_bundle(bundle.model_dump(mode="json"))
        return Response(content=content, media_type=media_type, headers=vary)
    return Response(content=bundle.model_dump_json(), media_type="application/json", headers=vary)


def public_bundle(bundle: Bundle) -> Bundle:
    """The bundle anyone may have: its record's public copy, which hashes as the whole record
    does (docs/spec.md §2b)."""
    if bundle.record is None:
        return bundle
    return bundle.model_copy(update={"record": public_record(bundle.record)})


@router.get(
    "/{certificate_id}/proof/full",
    summary="The proof bundle with the whole record, restricted fields included",
    response_model=Bundle,
    responses=responses(*AUTH_ERRORS, 404, 422),
)
def get_full_proof(certificate_id: CertificateId, acting: ActorDep, stack: StackDep) -> Response:
    """As `/proof`, with every field of a format-2 record disclosed (docs/spec.md §2b): for
    the CB whose certificate it is, the authority's admins and auditors. JSON only."""
    principal = acting.principal
    assert principal is not None
    bundle = stack.assembler.bundle(certificate_id)
    if bundle.record is None:
        raise ProblemError("not-found", 404, f"certificate {certificate_id}: got none issued")
    may_see_all(principal, stack.service.get(certificate_id).issuer_id, what="record")
    return Response(content=bundle.model_dump_json(), media_type="application/json")


def compact_media_type(accept: str | None) -> str | None:
    """The CBOR media type to answer `accept` with, or None for JSON (the default).

    CBOR when the header names one of `CBOR_MEDIA_TYPES` with a non-zero quality at least that
    of `application/json`; wildcards accept either and leave JSON the default. The answer is
    our own media type unless the client named only `application/cbor`.
    """
    if not accept:
        return None
    quality: dict[str, float] = {}
    for item in accept.split(","):
        media, *params = (part.strip() for part in item.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        media = media.lower()
        quality[media] = max(q, quality.get(media, 0.0))
    best = max(CBOR_MEDIA_TYPES, key=lambda m: quality.get(m, 0.0))
    cbor_q = quality.get(best, 0.0)
    if cbor_q <= 0 or cbor_q < quality.get("application/json", 0.0):
        return None
    return best


@router.get(
    "/{certificate_id}/status-proof",
    summary="The certificate's status at the latest anchored checkpoint, without its record",
    response_model=StatusDocument,
    responses=responses(404, 422),
)
def get_status_proof(certificate_id: CertificateId, stack: StackDep) -> Response:
    """What a verifier holding an older bundle fetches to learn the status now (docs/spec.md
    §8.2): `ANCHORED` with the status leaf and its map proof, the event that set it (signed by
    the issuer) with its inclusion proof, the checkpoint and its anchor; `UNKNOWN` with a
    non-membership proof. It carries no record, so a mirror can serve it; the verifier checks
    it against the chain. 404 before the first anchored checkpoint."""
    try:
        document = stack.assembler.status_document(certificate_id)
    except NothingAnchoredError as exc:
        raise ProblemError("not-found", 404, f"status of {certificate_id}: {exc}") from exc
    return Response(content=document.model_dump_json(), media_type="application/json")


# Search terms reach SQL: PostgreSQL's text cannot hold NUL (a 500 before this pattern).
_NO_NUL = r"^[^\x00]*$"


@router.get(
    "",
    summary="Search certificates",
    responses={
        200: {"links": certificate_links("$response.body#/certificates/0/id", None)},
        **responses(422),
    },
)
def search(
    *,
    stack: StackDep,
    issuer_id: Annotated[str | None, Query(max_length=64, pattern=_NO_NUL)] = None,
    number: Annotated[str | None, Query(max_length=100, pattern=_NO_NUL)] = None,
    holder: Annotated[str | None, Query(min_length=2, max_length=100, pattern=_NO_NUL)] = None,
    tax_code: Annotated[str | None, Query(max_length=100, pattern=_NO_NUL)] = None,
    kind: CertificateKind | None = None,
    status_: Annotated[
        str | None,
        Query(alias="status", pattern="^(valid|suspended|withdrawn|superseded)$"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> CertificatePage:
    views, total = stack.service.search(
        issuer_id=issuer_id,
        number=number,
        holder=holder,
        tax_code=tax_code,
        kind=None if kind is None else kind.value,
        status=status_,
        limit=limit,
        offset=offset,
    )
    return CertificatePage(
        total=total,
        limit=limit,
        offset=offset,
        certificates=[certificate_out(v) for v in views],
    )
