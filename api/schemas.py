"""Request and response models of the HTTP API (the OpenAPI schema is generated from these)."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from registry.records import AnySubmission

__all__ = [
    "BatchRequest",
    "BatchResponse",
    "CertificateOut",
    "CertificatePage",
    "CheckOut",
    "CheckpointOut",
    "CheckpointPage",
    "ConsistencyOut",
    "EntriesOut",
    "IssueOut",
    "RegistryOut",
    "SupersedeRequest",
    "TransitionRequest",
    "VerdictOut",
    "VerifyRequest",
]

ReasonCode = Literal[
    "surveillance-nonconformity",
    "misuse-of-mark",
    "holder-request",
    "failure-to-pay",
    "fraud",
    "accreditation-withdrawn",
    "corrective-action-completed",
    "error-in-issue",
    "renewal",
    "other",
]


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class CertificateOut(_Out):
    id: str = Field(examples=["0x6b0c8e…"])
    issuer_id: str
    number: str
    kind: str
    status: Literal["valid", "suspended", "withdrawn", "superseded", "expired"]
    record: dict[str, Any]
    record_hash: str
    last_event_seq: int
    supersedes: str | None
    superseded_by: str | None


class IssueOut(CertificateOut):
    created: bool = Field(description="False when the same record was issued before")


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    certificates: list[AnySubmission] = Field(min_length=1)


class BatchResponse(_Out):
    created: int
    certificates: list[IssueOut]


class TransitionRequest(BaseModel):
    """A lifecycle change with its reason code (and an optional note for the log)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reason": "surveillance-nonconformity"}]},
    )

    reason: ReasonCode
    note: str | None = Field(default=None, min_length=1, max_length=300)

    def text(self) -> str:
        return self.reason if self.note is None else f"{self.reason}: {self.note}"


class SupersedeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    certificate: AnySubmission
    reason: ReasonCode = "renewal"
    note: str | None = Field(default=None, min_length=1, max_length=300)


class CertificatePage(_Out):
    total: int
    limit: int
    offset: int
    certificates: list[CertificateOut]


class VerifyRequest(BaseModel):
    """A proof bundle, or a certificate record to check against the registry."""

    model_config = ConfigDict(extra="forbid")

    bundle: dict[str, Any] | None = None
    record: dict[str, Any] | None = None
    current: bool = Field(
        default=True,
        description="Deprecated and ignored: every verdict is for the status now (an older "
        "bundle is refreshed, else STALE)",
    )


class CheckOut(_Out):
    name: str
    status: Literal["passed", "failed", "skipped", "error"]
    code: str
    message: str


class VerdictOut(_Out):
    status: Literal[
        "VALID",
        "SUSPENDED",
        "WITHDRAWN",
        "EXPIRED",
        "SUPERSEDED",
        "UNKNOWN",
        "INVALID",
        "PENDING",
        "UNCONFIRMED",
        "STALE",
    ]
    certificate_id: str | None
    checkpoint_index: int | None = Field(description="the checkpoint the status is proven at")
    tree_size: int | None
    as_of: str | None = Field(description="that checkpoint's block time, when the chain said")
    bundle_checkpoint_index: int | None = Field(
        description="the bundle's own checkpoint, when it was older and the status was refreshed"
    )
    refreshed_from: str | None = Field(description="where the fresh status came from")
    first_anchored_index: int | None = Field(
        description="the checkpoint that first anchored the event; its block judged the key"
    )
    key_custody: Literal["held", "hosted"] | None = Field(
        default=None,
        description="who keeps the signing key's private half, as the authority's approval of "
        "the key states it: set when issuer_key_registered checked that approval",
    )
    key_approval_seq: int | None = Field(
        default=None, description="the log position of the authority's approval of the key"
    )
    status_set_by_authority: bool = Field(
        default=False,
        description="the status is the authority's suspend_certificate or withdraw_certificate "
        "(the certificate's CB could no longer act on it), its signature checked with the "
        "pinned authority key",
    )
    authority_action_seq: int | None = Field(
        default=None,
        description="the log position of the authority's action that set the status, when "
        "certificate_status checked it (signature checked or not)",
    )
    authority_action_reason: str | None = Field(
        default=None, description="the reason the authority's action states"
    )
    authority_action_at: str | None = Field(
        default=None, description="when the authority made it (YYYY-MM-DDTHH:MM:SSZ)"
    )
    transferred_from: str | None = Field(
        default=None,
        description="the CB that issued the certificate (its record's issuer_id), when the "
        "event is another CB's to which the authority transferred it; set only when "
        "issuer_signature checked that transfer with the pinned authority key",
    )
    transfer_seq: int | None = Field(
        default=None,
        description="the log position of the authority's transfer_certificate to the event's CB",
    )
    checks: list[CheckOut]


class CheckpointOut(_Out):
    index: int
    tree_size: int
    log_root: str
    map_root: str
    note: str
    block_number: int | None
    block_timestamp: int | None
    tx_hash: str | None


class CheckpointPage(_Out):
    checkpoints: list[CheckpointOut]


class ConsistencyOut(_Out):
    size1: int
    size2: int
    hashes: list[str]


class EntriesOut(_Out):
    start: int
    end: int
    entries: list[dict[str, Any]] = Field(
        description="Events in log order; canonical JSON of each is the exact log entry"
    )


class SuccessionOut(_Out):
    contract: str
    predecessor: str | None = Field(description="the contract this one succeeds")
    start_index: int | None = Field(
        description="the index of the predecessor's checkpoint this one starts from"
    )


class RegistryOut(_Out):
    origin: str
    vkey: str = Field(description="C2SP verifier key of the checkpoint-signing key")
    chain_id: int
    contract: str
    succession: list[SuccessionOut] | None = Field(
        description="the contracts this registry has anchored in, newest (`contract`) first, "
        "each succeeding the next (docs/spec.md §7.7): a verifier that pinned an older one "
        "follows the line; null while the chain cannot be read"
    )
    authority_key: str | None = Field(
        description="the authority's Ed25519 public key (base64) its statements in the log are "
        "signed with (docs/spec.md §3a); null when none is configured"
    )
    max_merge_delay_s: int
    checkpoint_interval_s: float
    log_size: int
