"""The proof bundle (docs/spec.md §8, format `certreg-bundle/2`): everything a verifier needs to
check one certificate against the chain, offline from the registry; and the status document
(`certreg-status/1`, spec §8.2) that refreshes an older bundle's status.

Pydantic models, because a bundle crosses the edges (API responses, files a verifier uploads);
parsing is strict — unknown fields, wrong types and non-canonical encodings are refused.
"""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from registry.core.verify import BUNDLE_FORMAT, MAX_COUNT, STATUS_FORMAT

__all__ = [
    "BUNDLE_FORMAT",
    "Bundle",
    "BundleAdmission",
    "BundleAnchor",
    "BundleAuthorityAction",
    "BundleCheckpoint",
    "BundleIssuerKey",
    "BundleKeyApproval",
    "BundleLogInclusion",
    "BundleOtherLeaf",
    "BundleStatusLeaf",
    "BundleStatusProof",
    "BundleTransfer",
    "StatusDocument",
]

Hex32 = Annotated[str, StringConstraints(pattern=r"^0x[0-9a-f]{64}$")]
Base64Key = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9+/]{43}=$")]
Address = Annotated[str, StringConstraints(pattern=r"^0x[0-9a-fA-F]{40}$")]
TxHash = Annotated[str, StringConstraints(pattern=r"^0x[0-9a-f]{64}$")]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT, strict=True)]
Timestamp = Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class BundleLogInclusion(_Strict):
    """RFC 9162 inclusion proof of the event in the checkpoint's log."""

    leaf_index: Count
    tree_size: Count
    hashes: list[Hex32]


class BundleStatusLeaf(_Strict):
    """The status-map leaf; the map value is H(canonical(leaf))."""

    certificate_id: str
    status: Literal["valid", "suspended", "withdrawn", "superseded"]
    record_hash: Hex32
    event_seq: Count


class BundleOtherLeaf(_Strict):
    key: Hex32
    value: Hex32


class BundleStatusProof(_Strict):
    """Status-map proof (docs/spec.md §5): membership with `leaf`, or non-membership."""

    key: Hex32
    leaf: BundleStatusLeaf | None
    bitmap: Hex32
    siblings: list[Hex32]
    # Omitted, never null, when the proof does not end in another key's leaf (spec §5.3).
    other_leaf: BundleOtherLeaf | None = Field(default=None, exclude_if=lambda v: v is None)


class BundleCheckpoint(_Strict):
    """The anchored checkpoint the proofs are against, with its signed note."""

    index: Count
    tree_size: Count
    log_root: Hex32
    map_root: Hex32
    note: str


class BundleAnchor(_Strict):
    """Where the checkpoint is on chain."""

    chain_id: Annotated[int, Field(ge=1, strict=True)]
    contract: Address
    tx_hash: TxHash | None
    block_number: Count


class BundleIssuerKey(_Strict):
    """The key the event is signed with (check it against the chain's issuer-key registry)."""

    issuer_id: str
    key_id: Hex32
    public_key: Base64Key


class BundleAdmission(_Strict):
    """The CB's admission the event names (spec §3, §3a): the authority's log entry and its
    inclusion proof in the checkpoint's log."""

    entry: dict[str, Any]
    log_inclusion: BundleLogInclusion


class BundleKeyApproval(_Strict):
    """The authority's approval of the event's key (spec §3a.1 `approve_key`): its log entry,
    which states the key's custody, and its inclusion proof in the checkpoint's log."""

    entry: dict[str, Any]
    log_inclusion: BundleLogInclusion


class BundleAuthorityAction(_Strict):
    """The authority's `suspend_certificate` or `withdraw_certificate` the status leaf points at
    (spec §3a.5), when the certificate's CB could no longer act on it: its log entry and its
    inclusion proof in the checkpoint's log. The bundle's `event` is then the certificate's
    latest event before it."""

    entry: dict[str, Any]
    log_inclusion: BundleLogInclusion


class BundleTransfer(_Strict):
    """The authority's `transfer_certificate` that handed the certificate to the CB whose event
    the bundle carries (spec §3a.5), when that CB is not the record's: the latest such entry
    about the certificate before the event, and its inclusion proof in the checkpoint's log."""

    entry: dict[str, Any]
    log_inclusion: BundleLogInclusion


class Bundle(_Strict):
    """A certificate's proof bundle.

    `status`: `ANCHORED` (all parts present), `PENDING` (issued, not yet covered by an anchored
    checkpoint: `checkpoint`, `log_inclusion`, `status_proof`, `anchor` are null) or `UNKNOWN`
    (no such certificate: `record` and `event` are null and `status_proof` proves the absence
    of its key from the anchored status map).
    """

    format: Literal["certreg-bundle/2"] = BUNDLE_FORMAT
    status: Literal["ANCHORED", "PENDING", "UNKNOWN"]
    certificate_id: str
    record: dict[str, Any] | None
    event: dict[str, Any] | None
    log_inclusion: BundleLogInclusion | None
    status_proof: BundleStatusProof | None
    checkpoint: BundleCheckpoint | None
    anchor: BundleAnchor | None
    issuer_key: BundleIssuerKey | None
    #: the first checkpoint that covered `event` (its key is judged at that block); ANCHORED only
    first_anchored_index: Count | None
    next_checkpoint_due: Timestamp | None = Field(default=None, exclude_if=lambda v: v is None)
    #: present when the event names an admission (spec §9.2 `issuer_accredited`); ANCHORED only
    admission: BundleAdmission | None = Field(default=None, exclude_if=lambda v: v is None)
    #: present when the log approves the event's key before the event (spec §9.2
    #: `issuer_key_registered`); ANCHORED only
    key_approval: BundleKeyApproval | None = Field(default=None, exclude_if=lambda v: v is None)
    #: present when the status leaf points at the authority's action on the certificate (spec
    #: §9.2 `certificate_status`); ANCHORED only
    authority_action: BundleAuthorityAction | None = Field(
        default=None, exclude_if=lambda v: v is None
    )
    #: present when the event's CB is not the record's: the authority transferred the
    #: certificate to it (spec §9.2 `issuer_signature`); ANCHORED only
    transfer: BundleTransfer | None = Field(default=None, exclude_if=lambda v: v is None)


class StatusDocument(_Strict):
    """A certificate's status at the latest anchored checkpoint, without its record: what a
    verifier holding an older bundle fetches to learn the status now. `ANCHORED` carries the
    event that set the status (signed by the issuer) — or, when the authority set it, the
    certificate's latest event and the authority's action (`authority_action`) —, its inclusion
    proof, the status leaf and its map proof (and `transfer`, when the event is the CB's the
    authority transferred the certificate to); `UNKNOWN` a non-membership proof. A mirror may
    serve it: the verifier checks it against the chain, not against who served it."""

    format: Literal["certreg-status/1"] = STATUS_FORMAT
    status: Literal["ANCHORED", "UNKNOWN"]
    certificate_id: str
    event: dict[str, Any] | None
    log_inclusion: BundleLogInclusion | None
    status_proof: BundleStatusProof
    checkpoint: BundleCheckpoint
    anchor: BundleAnchor
    issuer_key: BundleIssuerKey | None
    first_anchored_index: Count | None
    admission: BundleAdmission | None = Field(default=None, exclude_if=lambda v: v is None)
    key_approval: BundleKeyApproval | None = Field(default=None, exclude_if=lambda v: v is None)
    authority_action: BundleAuthorityAction | None = Field(
        default=None, exclude_if=lambda v: v is None
    )
    transfer: BundleTransfer | None = Field(default=None, exclude_if=lambda v: v is None)
