"""The authority's statements over HTTP (docs/spec.md §11.10): an authority admin submits a
statement the authority signed on its side; everyone may read each CB's admission.

Plain `def` routes: each reads or writes the database (FastAPI runs them in its thread pool).
"""

from typing import Annotated, Any

from fastapi import APIRouter, Path, status
from pydantic import BaseModel, ConfigDict, Field

from api.deps import ActorDep, StackDep
from api.problems import responses
from registry.core.encoding import hex0x
from registry.errors import NotFoundError
from registry.governance import AdmissionView

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["authority"])


class SignedStatementIn(BaseModel):
    """A statement and the authority's signature over it (docs/spec.md §3a.2); its members
    are checked by the registry's strict parser, not by this schema."""

    model_config = ConfigDict(extra="forbid")

    statement: dict[str, Any]
    signature: str = Field(max_length=100)


class AppendedOut(BaseModel):
    seq: int = Field(description="the statement's position in the log")
    leaf_hash: str = Field(description="RFC 6962 leaf hash of the log entry")
    leaf: dict[str, Any] = Field(description="the CB's status-map leaf after it (§3a.4)")


class AdmissionOut(BaseModel):
    issuer_id: str
    status: str = Field(description="admitted, suspended or withdrawn")
    admission_seq: int = Field(description="the log entry of the admission in force")
    status_seq: int = Field(description="the log entry that last set the status")
    statement: dict[str, Any] = Field(description="the admission in force: admit or change_scope")


class AdmissionsOut(BaseModel):
    admissions: list[AdmissionOut]


class IssuerOut(BaseModel):
    issuer_id: str
    name_vi: str
    name_en: str
    accreditation: str
    kinds: list[str] = Field(description="the kinds it may issue")
    admission: AdmissionOut | None = Field(
        description="its admission by the authority's statements; null for a CB admitted "
        "before them (by the operator's former `certreg issuer add`)"
    )


class IssuersOut(BaseModel):
    issuers: list[IssuerOut]


def _admission(view: AdmissionView) -> AdmissionOut:
    return AdmissionOut(
        issuer_id=view.issuer_id,
        status=view.status,
        admission_seq=view.admission_seq,
        status_seq=view.status_seq,
        statement=view.statement,
    )


@router.post(
    "/authority/statements",
    status_code=status.HTTP_201_CREATED,
    summary="Append a statement the authority signed (an authority admin's call)",
    responses=responses(400, 401, 403, 409, 422, 429),
)
def submit_statement(body: SignedStatementIn, acting: ActorDep, stack: StackDep) -> AppendedOut:
    assert acting.principal is not None
    appended = stack.service.governance.submit(acting.principal, body.model_dump(), actor=acting)
    return AppendedOut(
        seq=appended.seq, leaf_hash=hex0x(appended.leaf_hash), leaf=appended.leaf.to_json()
    )


@router.get(
    "/admissions",
    summary="Every CB's admission, as the authority's statements in the log set it",
)
def admissions(stack: StackDep) -> AdmissionsOut:
    return AdmissionsOut(admissions=[_admission(v) for v in stack.service.governance.admissions()])


@router.get(
    "/issuers",
    summary="Every CB the registry knows, with its admission by the authority, if any",
)
def issuers(stack: StackDep) -> IssuersOut:
    admitted = {view.issuer_id: view for view in stack.service.governance.admissions()}
    return IssuersOut(
        issuers=[
            IssuerOut(
                issuer_id=profile.id,
                name_vi=profile.name_vi,
                name_en=profile.name_en,
                accreditation=profile.accreditation,
                kinds=list(profile.kinds),
                admission=None if (view := admitted.get(profile.id)) is None else _admission(view),
            )
            for profile in stack.transparency.issuers()
        ]
    )


@router.get(
    "/admissions/{issuer_id}",
    summary="One CB's admission",
    responses=responses(404, 422),
)
def admission(
    issuer_id: Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]{1,62}[a-z0-9]$")],
    stack: StackDep,
) -> AdmissionOut:
    view = stack.service.governance.admission(issuer_id)
    if view is None:
        raise NotFoundError(f"admission of {issuer_id}: got none, want a CB the authority admitted")
    return _admission(view)
