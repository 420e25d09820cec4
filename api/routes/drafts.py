"""Drafts and the second person's decision over HTTP (docs/spec.md §11.12), and a CB's own
settings (`review_required`).

Who may do what is decided by `registry.drafts`; these routes only carry requests to it and
answers back. Plain `def` routes: each reads or writes the database (FastAPI runs them in its
thread pool).
"""

import datetime as dt
from typing import Annotated, Any, Final, Literal, get_args

from fastapi import APIRouter, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.deps import ActorDep, StackDep
from api.problems import responses
from api.routes.certificates import issue_out
from api.schemas import IssueOut, ReasonCode
from registry.drafts import STATES, DraftView, IssuerSettingsView
from registry.fields import Clean, Hex32
from registry.records import AnySubmission, CertificateKind

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["drafts"])

_AUTH: Final = (401, 403, 429)
DraftId = Annotated[
    str, Path(pattern=r"^[0-9a-f]{16}$", description="Draft id: 16 lowercase hex digits")
]
IssuerId = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]{1,62}[a-z0-9]$")]
DraftState = Literal["draft", "submitted", "rejected", "issued", "withdrawn"]
assert set(get_args(DraftState)) == set(STATES)
Revision = Annotated[
    int,
    Field(
        ge=1,
        le=2**31 - 1,
        description="the draft's revision the change was made against (from the last read); "
        "another is a 409 conflict",
    ),
]
Comment = Annotated[
    str, Clean, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)
]
Note = Annotated[str, Clean, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DraftIn(_In):
    """A certificate to prepare (either format, as `POST /v1/certificates` takes it); with
    `supersedes`, a replacement of that certificate, issued with `reason` (and `note`)."""

    certificate: AnySubmission
    supersedes: Hex32 | None = None
    reason: ReasonCode | None = None
    note: Note | None = None

    def reason_text(self) -> str | None:
        """The replacement's reason as the log writes it: the code, then ": " and the note
        (`renewal` by default, as `/supersede`); one given for a new certificate is passed on
        to be refused."""
        if self.supersedes is None and self.reason is None and self.note is None:
            return None
        reason = self.reason or "renewal"
        return reason if self.note is None else f"{reason}: {self.note}"


class DraftUpdateIn(DraftIn):
    revision: Revision


class RevisionIn(_In):
    revision: Revision


class ApproveIn(_In):
    revision: Revision
    comment: Comment | None = None


class RejectIn(_In):
    revision: Revision
    comment: Comment = Field(description="what the preparer is to change")


class DraftOut(BaseModel):
    id: str
    issuer_id: str
    state: DraftState
    revision: int
    kind: str
    number: str
    certificate: dict[str, Any] = Field(description="the submission, as validated")
    supersedes: str | None
    reason: str | None
    prepared_by: str = Field(description="the preparer's account id")
    created_at: dt.datetime
    updated_at: dt.datetime
    submitted_at: dt.datetime | None
    reviewed_by: str | None = Field(description="who took the last decision (approve, reject)")
    reviewed_at: dt.datetime | None
    comment: str | None = Field(description="the last decision's comment")
    withdrawn_by: str | None
    withdrawn_at: dt.datetime | None
    certificate_id: str | None = Field(description="the certificate it became, once issued")


class DraftPageOut(BaseModel):
    total: int
    limit: int
    offset: int
    drafts: list[DraftOut]


class ApprovedOut(BaseModel):
    draft: DraftOut
    certificate: IssueOut


class SettingsIn(_In):
    review_required: bool = Field(
        description="certificates only from drafts another person of the CB approved"
    )


class SettingsOut(BaseModel):
    issuer_id: str
    review_required: bool
    updated_at: dt.datetime | None
    updated_by: str | None


def _draft(view: DraftView) -> DraftOut:
    return DraftOut(
        id=view.id,
        issuer_id=view.issuer_id,
        state=view.state,  # type: ignore[arg-type]
        revision=view.revision,
        kind=view.kind,
        number=view.number,
        certificate=view.submission,
        supersedes=view.supersedes,
        reason=view.reason,
        prepared_by=view.prepared_by,
        created_at=view.created_at,
        updated_at=view.updated_at,
        submitted_at=view.submitted_at,
        reviewed_by=view.reviewed_by,
        reviewed_at=view.reviewed_at,
        comment=view.comment,
        withdrawn_by=view.withdrawn_by,
        withdrawn_at=view.withdrawn_at,
        certificate_id=view.certificate_id,
    )


def _settings(view: IssuerSettingsView) -> SettingsOut:
    return SettingsOut(
        issuer_id=view.issuer_id,
        review_required=view.review_required,
        updated_at=view.updated_at,
        updated_by=view.updated_by,
    )


# -- the CB's settings ----------------------------------------------------------------------------


@router.get(
    "/issuers/{issuer_id}/settings",
    summary="A CB's own settings (its people, authority admins, auditors)",
    responses=responses(*_AUTH, 404, 422),
)
def get_settings(issuer_id: IssuerId, acting: ActorDep, stack: StackDep) -> SettingsOut:
    return _settings(stack.service.drafts.settings(acting, issuer_id))


@router.put(
    "/issuers/{issuer_id}/settings",
    summary="Set a CB's own settings: review_required (that CB's admins)",
    responses=responses(*_AUTH, 413, 415, 422),
)
def put_settings(
    issuer_id: IssuerId, body: SettingsIn, acting: ActorDep, stack: StackDep
) -> SettingsOut:
    return _settings(
        stack.service.drafts.set_settings(acting, issuer_id, review_required=body.review_required)
    )


# -- drafts ---------------------------------------------------------------------------------------


@router.post(
    "/drafts",
    status_code=status.HTTP_201_CREATED,
    summary="Prepare a certificate as a draft (a CB's officer or admin)",
    responses=responses(400, *_AUTH, 404, 409, 413, 415, 422),
)
def create_draft(body: DraftIn, acting: ActorDep, stack: StackDep) -> DraftOut:
    """Checked as issuance checks it now (the CB's kinds and admission, a number not issued,
    the certificate a replacement supersedes); checked again when it is approved."""
    return _draft(
        stack.service.drafts.create(
            acting, body.certificate, supersedes=body.supersedes, reason=body.reason_text()
        )
    )


@router.get(
    "/drafts",
    summary="Drafts, newest first: a CB's people their CB's; authority admins and auditors any",
    responses=responses(*_AUTH, 422),
)
def list_drafts(
    *,
    acting: ActorDep,
    stack: StackDep,
    issuer_id: Annotated[str | None, Query(pattern=r"^[a-z0-9][a-z0-9-]{1,62}[a-z0-9]$")] = None,
    state: DraftState | None = None,
    kind: CertificateKind | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> DraftPageOut:
    page = stack.service.drafts.list(
        acting,
        issuer_id=issuer_id,
        state=state,
        kind=None if kind is None else kind.value,
        limit=limit,
        offset=offset,
    )
    return DraftPageOut(
        total=page.total, limit=limit, offset=offset, drafts=[_draft(v) for v in page.drafts]
    )


@router.get(
    "/drafts/{draft_id}",
    summary="A draft (its CB's people, authority admins, auditors)",
    responses=responses(*_AUTH, 404, 422),
)
def get_draft(draft_id: DraftId, acting: ActorDep, stack: StackDep) -> DraftOut:
    return _draft(stack.service.drafts.get(acting, draft_id))


@router.put(
    "/drafts/{draft_id}",
    summary="Edit a draft (its preparer, while it is a draft or rejected)",
    responses=responses(400, *_AUTH, 404, 409, 413, 415, 422),
)
def update_draft(
    draft_id: DraftId, body: DraftUpdateIn, acting: ActorDep, stack: StackDep
) -> DraftOut:
    return _draft(
        stack.service.drafts.update(
            acting,
            draft_id,
            body.certificate,
            revision=body.revision,
            supersedes=body.supersedes,
            reason=body.reason_text(),
        )
    )


@router.post(
    "/drafts/{draft_id}/submit",
    summary="Submit a draft for another person's decision (its preparer)",
    responses=responses(*_AUTH, 404, 409, 413, 415, 422),
)
def submit_draft(
    draft_id: DraftId, body: RevisionIn, acting: ActorDep, stack: StackDep
) -> DraftOut:
    return _draft(stack.service.drafts.submit(acting, draft_id, revision=body.revision))


@router.post(
    "/drafts/{draft_id}/approve",
    summary="Approve a draft: issue its certificate (another person of the CB when it "
    "requires review)",
    responses=responses(400, *_AUTH, 404, 409, 413, 415, 422),
)
def approve_draft(
    draft_id: DraftId, body: ApproveIn, acting: ActorDep, stack: StackDep
) -> ApprovedOut:
    """Issues through the same path as `POST /v1/certificates` (or `/supersede`), in one
    transaction with the draft's change; the answer carries the certificate, whole."""
    view, result = stack.service.drafts.approve(
        acting, draft_id, revision=body.revision, comment=body.comment
    )
    return ApprovedOut(draft=_draft(view), certificate=issue_out(result))


@router.post(
    "/drafts/{draft_id}/reject",
    summary="Reject a submitted draft with a comment, back to its preparer (another person "
    "of the CB)",
    responses=responses(400, *_AUTH, 404, 409, 413, 415, 422),
)
def reject_draft(draft_id: DraftId, body: RejectIn, acting: ActorDep, stack: StackDep) -> DraftOut:
    return _draft(
        stack.service.drafts.reject(acting, draft_id, revision=body.revision, comment=body.comment)
    )


@router.post(
    "/drafts/{draft_id}/withdraw",
    summary="Withdraw a draft; final (its preparer, or an admin of its CB)",
    responses=responses(*_AUTH, 404, 409, 413, 415, 422),
)
def withdraw_draft(
    draft_id: DraftId, body: RevisionIn, acting: ActorDep, stack: StackDep
) -> DraftOut:
    return _draft(stack.service.drafts.withdraw(acting, draft_id, revision=body.revision))
