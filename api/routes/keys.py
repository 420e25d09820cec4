"""Certification bodies' signing keys over HTTP (docs/spec.md §11.11): a CB admin (or an
authority admin) proposes a key — one the registry makes and keeps sealed, or the public half
of one the CB keeps — and the authority's `approve_key` statement makes it the CB's active
key; an officer of a CB that keeps its key submits the statements it signed.

Plain `def` routes: each reads or writes the database (FastAPI runs them in its thread pool).
"""

from typing import Annotated, Any, Final, Literal, get_args

from fastapi import APIRouter, Path, Response, status
from pydantic import BaseModel, ConfigDict, Field

from api.deps import ActorDep, OfficerDep, StackDep
from api.problems import responses
from api.routes.certificates import certificate_out
from api.schemas import CertificateOut, ReasonCode
from registry.certificates import SignedItem
from registry.core.encoding import b64, hex0x, parse_b64
from registry.core.errors import EncodingError
from registry.core.governance import Custody
from registry.errors import InvalidRequestError
from registry.issuers import KeyView

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["keys"])

IssuerId = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]{1,62}[a-z0-9]$")]


class KeyProposal(BaseModel):
    """`hosted`: the registry makes the key and keeps it sealed. `held`: the CB keeps it; send
    the public key and the key's signature over the possession message (§11.11)."""

    model_config = ConfigDict(extra="forbid")

    custody: Literal["hosted", "held"]
    public_key: str | None = Field(default=None, max_length=44, description="base64, 32 bytes")
    proof: str | None = Field(default=None, max_length=88, description="base64, 64 bytes")


class KeyOut(BaseModel):
    issuer_id: str
    key_id: str
    public_key: str = Field(description="raw Ed25519 public key, base64")
    custody: str = Field(description="hosted (the registry keeps it) or held (the CB does)")
    state: str = Field(description="proposed, active, retired or revoked")
    created_at: str
    approved_seq: int | None = Field(description="the log entry of the authority's approve_key")
    revoked_from_seq: int | None = Field(
        description="the first log position the authority's revoke_key refuses it from"
    )
    valid_from_block: int | None = Field(description="registered on chain from this block")
    revoked_at_block: int | None = Field(description="revoked on chain from this block")


class KeysOut(BaseModel):
    keys: list[KeyOut]


class SignedStatementItem(BaseModel):
    """One statement the CB signed (docs/spec.md §3.1) — the event without `seq` and
    `admission_seq`, with `version` 2 and `signature` — and for `issue` and `supersede` the
    record it hashed. Members are checked by the registry's strict parser."""

    model_config = ConfigDict(extra="forbid")

    statement: dict[str, Any]
    record: dict[str, Any] | None = None


class SignedStatementsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    statements: list[SignedStatementItem] = Field(min_length=1)


class StatementOut(BaseModel):
    seq: int = Field(description="the event's position in the log")
    created: bool = Field(description="false: the certificate's last event was this statement")
    certificate: CertificateOut


class StatementsOut(BaseModel):
    created: int
    statements: list[StatementOut]


def key_out(view: KeyView) -> KeyOut:
    return KeyOut(
        issuer_id=view.issuer_id,
        key_id=hex0x(view.key_id),
        public_key=b64(view.public_key),
        custody=view.custody,
        state=view.state,
        created_at=view.created_at.isoformat(timespec="seconds") + "Z",
        approved_seq=view.approved_seq,
        revoked_from_seq=view.revoked_from_seq,
        valid_from_block=view.valid_from_block,
        revoked_at_block=view.revoked_at_block,
    )


_REASON_CODES: Final = frozenset(get_args(ReasonCode))


def _check_reason(reason: object, *, position: int) -> None:
    """A statement's reason is written as the API writes one: a reason code, then optionally
    ": " and a note (api/schemas.py `TransitionRequest.text`), so pages can name it."""
    if reason is None:
        return
    if not isinstance(reason, str):
        raise InvalidRequestError(
            f"statements[{position}].statement.reason: got {type(reason).__name__}, want a string"
        )
    code, _, note = reason.partition(": ")
    if code not in _REASON_CODES or (": " in reason and not 1 <= len(note) <= 300):
        raise InvalidRequestError(
            f"statements[{position}].statement.reason: got {reason!r:.80}, want a reason code "
            f"({', '.join(sorted(_REASON_CODES))}), optionally followed by ': ' and a note of "
            "1-300 characters"
        )


def _b64(value: str | None, *, size: int, what: str) -> bytes | None:
    if value is None:
        return None
    try:
        return parse_b64(value, size=size, what=what)
    except EncodingError as exc:
        raise InvalidRequestError(str(exc)) from exc


@router.get(
    "/issuers/{issuer_id}/keys",
    summary="A CB's signing keys: proposed, active, retired and revoked (public halves only)",
    responses=responses(404, 422),
)
def keys(issuer_id: IssuerId, stack: StackDep) -> KeysOut:
    return KeysOut(keys=[key_out(view) for view in stack.service.issuers.keys(issuer_id)])


@router.post(
    "/issuers/{issuer_id}/keys",
    status_code=status.HTTP_201_CREATED,
    summary="Propose a signing key for the authority to approve (a CB admin's or an authority "
    "admin's call)",
    responses=responses(400, 401, 403, 404, 409, 422, 429),
)
def propose_key(
    issuer_id: IssuerId, body: KeyProposal, acting: ActorDep, stack: StackDep
) -> KeyOut:
    view = stack.service.issuers.propose_key(
        issuer_id,
        custody=Custody(body.custody),
        actor=acting,
        public_key=_b64(body.public_key, size=32, what="public_key"),
        proof=_b64(body.proof, size=64, what="proof"),
    )
    return key_out(view)


@router.post(
    "/certificates/statements",
    status_code=status.HTTP_201_CREATED,
    summary="Append statements the CB signed with the key it keeps, all or none (an officer's "
    "call)",
    responses={
        200: {"model": StatementsOut, "description": "Nothing new (all repeats)"},
        **responses(400, 401, 403, 404, 409, 413, 415, 422, 429),
    },
)
def append_statements(
    body: SignedStatementsIn, officer: OfficerDep, stack: StackDep, response: Response
) -> StatementsOut:
    for position, item in enumerate(body.statements):
        _check_reason(item.statement.get("reason"), position=position)
    results = stack.service.certificates.append_statements(
        officer.issuer_id,
        [SignedItem(statement=item.statement, record=item.record) for item in body.statements],
        actor=officer.actor,
    )
    created = sum(r.created for r in results)
    if not created:
        response.status_code = status.HTTP_200_OK
    return StatementsOut(
        created=created,
        statements=[
            StatementOut(seq=r.seq, created=r.created, certificate=certificate_out(r.certificate))
            for r in results
        ],
    )
