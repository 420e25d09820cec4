"""The verifier's decision logic (docs/spec.md §9): a proof bundle in, a verdict out.

Pure: what the chain says comes in as `ChainFacts`, read by the `verifier` package for the
`ChainQuery` this module derives from the bundle. `VALID` means exactly what spec §9 says:
every check passed, against the chain, with pinned trust roots, and the status proven is the
certificate's status at the chain's latest checkpoint. So:

- no chain facts → `UNCONFIRMED`, never `VALID`;
- a bundle older than the chain's latest checkpoint → decided from a fresh status document
  (`certreg-status/1`, fetched by the caller from any registry or mirror and checked here
  against the chain exactly like a bundle), else `STALE`;
- the issuer key is judged at the block of the first checkpoint that covered the event;
- a `PENDING` bundle's signature is checked only against a key the chain holds for the issuer
  and that is in force at the chain's head.

Every check is named. A `failed` check means a tampered or forged bundle (`INVALID`). The bundle
is parsed here, strictly, into typed parts; a malformed part fails the check that needs it, so
every tampered byte shows as a failed check rather than a crash.
"""

import datetime as dt
import enum
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final, Generic, TypeVar

from registry.core.canonical import canonical_hash
from registry.core.checkpoint import Checkpoint, verify_checkpoint
from registry.core.disclosure import DisclosureError, is_v2, open_record
from registry.core.encoding import (
    format_timestamp,
    hex0x,
    parse_b64,
    parse_date,
    parse_hashes,
    parse_hex,
)
from registry.core.errors import CoreError
from registry.core.events import Event, EventType, issuer_chain_id, issuer_key_id
from registry.core.events import verify_event_signature as _verify_event_signature
from registry.core.governance import (
    CERTIFICATE_ALLOWED_FROM,
    Admission,
    ApproveKey,
    AuthorityEntry,
    CertificateAction,
    Custody,
    TransferCertificate,
    admission_covers,
    verify_statement,
)
from registry.core.hashing import RFC6962
from registry.core.ids import certificate_id_for
from registry.core.lifecycle import NEXT_STATUS
from registry.core.note import NoteVerifier
from registry.core.proofs import verify_inclusion
from registry.core.statusmap import MapProof, map_key, status_leaf_value, verify_map_proof

__all__ = [
    "BUNDLE_FORMAT",
    "BUNDLE_FORMATS",
    "BUNDLE_FORMAT_V1",
    "CHECK_NAMES",
    "EXIT_USAGE",
    "MAX_COUNT",
    "STATUS_FORMAT",
    "ChainCheckpoint",
    "ChainFacts",
    "ChainIssuerKey",
    "ChainQuery",
    "Check",
    "CheckStatus",
    "ParsedBundle",
    "TrustAnchors",
    "Verdict",
    "VerdictStatus",
    "chain_query",
    "claims_our_format",
    "compose",
    "key_in_force",
    "malformed_verdict",
    "needs_refresh",
    "verify_bundle",
]

BUNDLE_FORMAT_V1: Final = "certreg-bundle/1"
BUNDLE_FORMAT: Final = "certreg-bundle/2"
BUNDLE_FORMATS: Final = (BUNDLE_FORMAT_V1, BUNDLE_FORMAT)
#: a certificate's status at the latest anchored checkpoint, without its record (spec §8.2)
STATUS_FORMAT: Final = "certreg-status/1"
#: the largest count or index on the wire: every JSON number a verifier in any language reads
MAX_COUNT: Final = 2**53 - 1
#: the exit code of a usage, trust-store or input error (spec §9.4)
EXIT_USAGE: Final = 2

CHECK_NAMES: Final = (
    "record_integrity",
    "issuer_signature",
    "issuer_key_registered",
    "issuer_accredited",
    "log_inclusion",
    "checkpoint_anchored",
    "certificate_status",
    "validity_period",
)


class CheckStatus(enum.StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"
    ERROR = "error"


class VerdictStatus(enum.StrEnum):
    VALID = "VALID"
    SUSPENDED = "SUSPENDED"
    WITHDRAWN = "WITHDRAWN"
    EXPIRED = "EXPIRED"
    SUPERSEDED = "SUPERSEDED"
    UNKNOWN = "UNKNOWN"  # proven never issued
    INVALID = "INVALID"
    PENDING = "PENDING"
    UNCONFIRMED = "UNCONFIRMED"  # the chain could not be read
    STALE = "STALE"  # proven only as of an older checkpoint

    @property
    def exit_code(self) -> int:
        """0 VALID; 1 a definite negative; 3 cannot confirm (spec §9.4)."""
        if self is VerdictStatus.VALID:
            return 0
        if self in (VerdictStatus.PENDING, VerdictStatus.UNCONFIRMED, VerdictStatus.STALE):
            return 3
        return 1


_FROM_LEAF: Final = {
    "valid": VerdictStatus.VALID,
    "suspended": VerdictStatus.SUSPENDED,
    "withdrawn": VerdictStatus.WITHDRAWN,
    "superseded": VerdictStatus.SUPERSEDED,
}


def key_in_force(*, valid_from: int, revoked_at: int, block_number: int) -> bool:
    """Whether an issuer key is in force on `block_number`: `validFrom ≤ b < revokedAt`, from
    `validFrom` on while `revokedAt` is 0 (spec §7.5; the contract's `issuerKeyInForce`)."""
    return valid_from <= block_number and (revoked_at == 0 or block_number < revoked_at)


@dataclass(frozen=True)
class Check:
    name: str
    status: CheckStatus
    code: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {
            "name": self.name,
            "status": self.status.value,
            "code": self.code,
            "message": self.message,
        }


@dataclass(frozen=True)
class Verdict:
    """The overall status and the named checks, in `CHECK_NAMES` order.

    `checkpoint_index` is the checkpoint the status is proven at (after a refresh, the fresh
    one; `bundle_checkpoint_index` is then the bundle's own) and `as_of` its block time.
    """

    status: VerdictStatus
    checks: tuple[Check, ...]
    certificate_id: str | None = None
    checkpoint_index: int | None = None
    tree_size: int | None = None
    as_of: int | None = None  # unix time of the checkpoint's block, when the chain said
    bundle_checkpoint_index: int | None = None
    refreshed_from: str | None = None
    first_anchored_index: int | None = None
    #: who keeps the signing key's private half (`held`, `hosted`) and the log position of the
    #: authority's `approve_key` that says so, when `issuer_key_registered` passed with that
    #: approval checked, its signature by the pinned authority key included (spec §9.2)
    key_custody: str | None = None
    key_approval_seq: int | None = None
    #: when `certificate_status` passed on a status the authority set (the bundle's
    #: `authority_action`, spec §9.2): its log position, reason and time (`YYYY-MM-DDTHH:MM:SSZ`);
    #: `status_set_by_authority` only once its signature verified with the pinned authority key
    status_set_by_authority: bool = False
    authority_action_seq: int | None = None
    authority_action_reason: str | None = None
    authority_action_at: str | None = None
    #: when `issuer_signature` passed on an event of another CB than the record's, the
    #: authority's transfer of the certificate to it checked (the bundle's `transfer`, spec
    #: §9.2), its signature by the pinned authority key included: the record's CB (the original
    #: one) and the transfer's log position
    transferred_from: str | None = None
    transfer_seq: int | None = None

    def check(self, name: str) -> Check:
        found = [c for c in self.checks if c.name == name]
        if not found:
            raise KeyError(f"check: got {name!r}, want one of {CHECK_NAMES}")
        return found[0]

    @property
    def exit_code(self) -> int:
        return self.status.exit_code

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "certificate_id": self.certificate_id,
            "checkpoint_index": self.checkpoint_index,
            "tree_size": self.tree_size,
            "as_of": None if self.as_of is None else _utc(self.as_of),
            "bundle_checkpoint_index": self.bundle_checkpoint_index,
            "refreshed_from": self.refreshed_from,
            "first_anchored_index": self.first_anchored_index,
            "key_custody": self.key_custody,
            "key_approval_seq": self.key_approval_seq,
            "status_set_by_authority": self.status_set_by_authority,
            "authority_action_seq": self.authority_action_seq,
            "authority_action_reason": self.authority_action_reason,
            "authority_action_at": self.authority_action_at,
            "transferred_from": self.transferred_from,
            "transfer_seq": self.transfer_seq,
            "checks": [c.to_json() for c in self.checks],
        }


@dataclass(frozen=True)
class TrustAnchors:
    """What the verifier pins from its own trust store, never from the bundle."""

    registry_key: NoteVerifier  # the checkpoint-signing key; its name is the log's origin
    chain_id: int
    contract: str  # 0x address, compared case-insensitively
    #: the accreditation authority's raw Ed25519 key, when pinned: admissions and key
    #: approvals are checked against it (spec §3a.2, §9.2 `issuer_accredited`,
    #: `issuer_key_registered`)
    authority_key: bytes | None = None


@dataclass(frozen=True)
class ChainCheckpoint:
    tree_size: int
    log_root: bytes
    map_root: bytes
    block_number: int
    timestamp: int


@dataclass(frozen=True)
class ChainIssuerKey:
    public_key: bytes
    valid_from: int
    revoked_at: int  # 0 while in force

    def in_force_at(self, block_number: int) -> bool:
        return key_in_force(
            valid_from=self.valid_from, revoked_at=self.revoked_at, block_number=block_number
        )


#: (SHA-256 of the issuer id, key id): how the contract names an issuer key
IssuerKeyRef = tuple[bytes, bytes]


@dataclass(frozen=True)
class ChainQuery:
    """What the chain must be asked for a bundle; parts that do not parse are left out.

    `first_anchoring` is `(event seq, hint)`: with a hint (bundle v2) read checkpoints `hint`
    and `hint - 1`, which `checkpoints` names already; without one (v1) find the first
    checkpoint whose size exceeds `seq` and report it in `ChainFacts.first_anchoring`.
    """

    checkpoints: frozenset[int] = frozenset()
    issuer_keys: frozenset[IssuerKeyRef] = frozenset()
    anchor_tx: tuple[str, int] | None = None
    first_anchoring: tuple[int, int | None] | None = None
    head_block: bool = False
    #: the contract the bundle names: the pinned one, or one on its line of successions
    #: (spec §7.7), which the facts then cover too
    contract: str | None = None


@dataclass(frozen=True)
class ChainFacts:
    """What the contract said: the latest checkpoint index (None: none anchored), the
    checkpoints asked for (absent: not on chain), the issuer keys asked for (None: not
    registered), whether each anchoring transaction emitted its checkpoint, the first
    checkpoint covering an event (searched, for v1 bundles) and the head block."""

    latest_index: int | None
    checkpoints: Mapping[int, ChainCheckpoint] = field(default_factory=dict)
    issuer_keys: Mapping[IssuerKeyRef, ChainIssuerKey | None] = field(default_factory=dict)
    anchor_txs: Mapping[tuple[str, int], bool] = field(default_factory=dict)
    first_anchoring: Mapping[int, int] = field(default_factory=dict)
    head_block: int | None = None
    #: the line of contracts the facts were read from, newest first (spec §7.7): the pinned
    #: contract, its predecessors, and the successors joining it to the bundle's contract
    line: tuple[str, ...] = ()

    def merged(self, other: "ChainFacts") -> "ChainFacts":
        """Both rounds of reads together; the newer latest checkpoint and head win."""
        latest = max(
            (i for i in (self.latest_index, other.latest_index) if i is not None), default=None
        )
        head = max((b for b in (self.head_block, other.head_block) if b is not None), default=None)
        return ChainFacts(
            latest_index=latest,
            checkpoints={**self.checkpoints, **other.checkpoints},
            issuer_keys={**self.issuer_keys, **other.issuer_keys},
            anchor_txs={**self.anchor_txs, **other.anchor_txs},
            first_anchoring={**self.first_anchoring, **other.first_anchoring},
            head_block=head,
            line=max(self.line, other.line, key=len),
        )


class _MalformedError(CoreError):
    pass


# --- strict reading of plain JSON into typed parts -------------------------------------------


_ISSUER_KEY_MEMBERS: Final = frozenset({"issuer_id", "key_id", "public_key"})
_INCLUSION_MEMBERS: Final = frozenset({"leaf_index", "tree_size", "hashes"})
#: `admission`, `key_approval`, `authority_action` and `transfer`: an authority entry and its
#: inclusion proof
_AUTHORITY_MEMBERS: Final = frozenset({"entry", "log_inclusion"})
_CHECKPOINT_MEMBERS: Final = frozenset({"index", "tree_size", "log_root", "map_root", "note"})
_STATUS_PROOF_MEMBERS: Final = frozenset({"key", "leaf", "bitmap", "siblings"})
_LEAF_MEMBERS: Final = frozenset({"certificate_id", "status", "record_hash", "event_seq"})
_ANCHOR_MEMBERS: Final = frozenset({"chain_id", "contract", "tx_hash", "block_number"})


def _object(
    value: object,
    what: str,
    *,
    required: frozenset[str],
    optional: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    if type(value) is dict and value.keys() == required:  # the common case, in one comparison
        return value
    if not isinstance(value, dict):
        raise _MalformedError(f"{what}: got {type(value).__name__}, want an object")
    missing = required - value.keys()
    unknown = value.keys() - required - optional
    if missing or unknown:
        raise _MalformedError(
            f"{what}: got members {sorted(value)}, want {sorted(required)}"
            + (f" and optionally {sorted(optional)}" if optional else "")
        )
    return value


def _int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        raise _MalformedError(f"{what}: got {value!r:.40}, want an integer 0..2^53-1")
    return value


def _str(value: object, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise _MalformedError(f"{what}: got {value!r:.40}, want a non-empty string")
    if not _is_unicode(value):
        # JSON can spell a lone surrogate (\ud800); no hash, key or signature covers one.
        raise _MalformedError(f"{what}: got {value!r:.40}, want valid Unicode text")
    return value


def _is_unicode(value: str) -> bool:
    """Whether `value` has no lone surrogate (is encodable as UTF-8); ASCII, the common case,
    without encoding."""
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _hashes(value: object, what: str) -> tuple[bytes, ...]:
    if not isinstance(value, list):
        raise _MalformedError(f"{what}: got {type(value).__name__}, want a list of hashes")
    return parse_hashes(value, what=what)


@dataclass(frozen=True)
class RecordPart:
    fields: dict[str, Any]
    record_hash: bytes
    #: fields of a format-2 record this copy withholds (spec §2b)
    withheld: int = 0


@dataclass(frozen=True)
class IssuerKeyPart:
    issuer_id: str
    key_id: bytes
    public_key: bytes


@dataclass(frozen=True)
class InclusionPart:
    leaf_index: int
    tree_size: int
    hashes: tuple[bytes, ...]


@dataclass(frozen=True)
class CheckpointPart:
    index: int
    tree_size: int
    log_root: bytes
    map_root: bytes
    note: str


@dataclass(frozen=True)
class LeafPart:
    certificate_id: str
    status: str
    record_hash: bytes
    event_seq: int
    value: bytes  # H(canonical(leaf)), the map value


@dataclass(frozen=True)
class StatusProofPart:
    key: bytes
    leaf: LeafPart | None
    proof: MapProof


@dataclass(frozen=True)
class AnchorPart:
    chain_id: int
    contract: str
    tx_hash: str | None
    block_number: int


T = TypeVar("T")


class _Lazy(Generic[T]):
    """One part of a bundle, parsed on first use; a part that does not parse keeps why."""

    __slots__ = ("_error", "_parse", "_value")

    def __init__(self, parse: Callable[[], T]) -> None:
        self._parse = parse
        self._value: T | None = None
        self._error: str | None = None

    def ok(self) -> bool:
        """Whether the part parses (parsing it if it has not been yet)."""
        try:
            self.get()
        except _MalformedError:
            return False
        return True

    def get(self) -> T:
        if self._value is not None:
            return self._value
        if self._error is not None:
            raise _MalformedError(self._error)
        try:
            self._value = self._parse()
        except (CoreError, ValueError, TypeError, KeyError) as exc:
            self._error = str(exc) or type(exc).__name__
            raise _MalformedError(self._error) from exc
        return self._value


class _Parts:
    """The bundle's parts, typed."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = raw
        self.certificate_id = _Lazy(lambda: _str(raw.get("certificate_id"), "certificate_id"))
        self.record = _Lazy(self._record)
        self.event = _Lazy(lambda: Event.from_json(raw.get("event")))
        # (signing bytes, leaf hash) of the event: its wire form canonicalised once for both
        self.event_bytes = _Lazy(self._event_bytes)
        self.issuer_key = _Lazy(self._issuer_key)
        self.log_inclusion = _Lazy(self._log_inclusion)
        self.checkpoint = _Lazy(self._checkpoint)
        self.status_proof = _Lazy(self._status_proof)
        self.anchor = _Lazy(self._anchor)
        self.first_anchored = _Lazy(self._first_anchored)
        self.admission = _Lazy(lambda: self._authority_entry("admission"))
        self.key_approval = _Lazy(lambda: self._authority_entry("key_approval"))
        self.authority_action = _Lazy(lambda: self._authority_entry("authority_action"))
        self.transfer = _Lazy(lambda: self._authority_entry("transfer"))

    def present(self, part: str) -> bool:
        return self.raw.get(part) is not None

    @property
    def version(self) -> int:
        return 2 if self.raw.get("format") == BUNDLE_FORMAT else 1

    def _record(self) -> RecordPart:
        record = self.raw.get("record")
        if not isinstance(record, dict):
            raise _MalformedError(f"record: got {type(record).__name__}, want an object")
        if is_v2(record):
            try:
                opened = open_record(record)
            except DisclosureError as exc:
                raise _MalformedError(str(exc)) from exc
            return RecordPart(opened.fields, opened.record_hash, opened.withheld)
        return RecordPart(record, canonical_hash(record))

    def _event_bytes(self) -> tuple[bytes, bytes]:
        signing, leaf = self.event.get().signing_and_leaf_bytes()
        return signing, RFC6962.hash_leaf(leaf)

    def _issuer_key(self) -> IssuerKeyPart:
        key = _object(self.raw.get("issuer_key"), "issuer_key", required=_ISSUER_KEY_MEMBERS)
        return IssuerKeyPart(
            _str(key["issuer_id"], "issuer_key.issuer_id"),
            parse_hex(key["key_id"], what="issuer_key.key_id"),
            parse_b64(key["public_key"], size=32, what="issuer_key.public_key"),
        )

    def _log_inclusion(self) -> InclusionPart:
        proof = _object(
            self.raw.get("log_inclusion"),
            "log_inclusion",
            required=_INCLUSION_MEMBERS,
        )
        return InclusionPart(
            _int(proof["leaf_index"], "log_inclusion.leaf_index"),
            _int(proof["tree_size"], "log_inclusion.tree_size"),
            _hashes(proof["hashes"], "log_inclusion.hashes"),
        )

    def _checkpoint(self) -> CheckpointPart:
        raw = _object(
            self.raw.get("checkpoint"),
            "checkpoint",
            required=_CHECKPOINT_MEMBERS,
        )
        return CheckpointPart(
            _int(raw["index"], "checkpoint.index"),
            _int(raw["tree_size"], "checkpoint.tree_size"),
            parse_hex(raw["log_root"], what="checkpoint.log_root"),
            parse_hex(raw["map_root"], what="checkpoint.map_root"),
            _str(raw["note"], "checkpoint.note"),
        )

    def _status_proof(self) -> StatusProofPart:
        raw = _object(
            self.raw.get("status_proof"),
            "status_proof",
            required=_STATUS_PROOF_MEMBERS,
            optional=frozenset({"other_leaf"}),
        )
        leaf = None
        if raw["leaf"] is not None:
            obj = _object(
                raw["leaf"],
                "status_proof.leaf",
                required=_LEAF_MEMBERS,
            )
            certificate_id = _str(obj["certificate_id"], "status_proof.leaf.certificate_id")
            status = _str(obj["status"], "status_proof.leaf.status")
            record_hash = parse_hex(obj["record_hash"], what="status_proof.leaf.record_hash")
            event_seq = _int(obj["event_seq"], "status_proof.leaf.event_seq")
            value = status_leaf_value(
                certificate_id=certificate_id,
                status=status,
                record_hash=record_hash,
                event_seq=event_seq,
            )
            leaf = LeafPart(certificate_id, status, record_hash, event_seq, value)
        proof_json = {"bitmap": raw["bitmap"], "siblings": raw["siblings"]}
        if "other_leaf" in raw:
            if raw["other_leaf"] is None:
                raise _MalformedError(
                    "status_proof.other_leaf: got null, want it omitted or an object"
                )
            proof_json["other_leaf"] = raw["other_leaf"]
        return StatusProofPart(
            parse_hex(raw["key"], what="status_proof.key"), leaf, MapProof.from_json(proof_json)
        )

    def _anchor(self) -> AnchorPart:
        raw = _object(
            self.raw.get("anchor"),
            "anchor",
            required=_ANCHOR_MEMBERS,
        )
        contract = _str(raw["contract"], "anchor.contract")
        parse_hex(contract.lower(), size=20, what="anchor.contract")
        tx_hash = raw["tx_hash"]
        if tx_hash is not None:
            parse_hex(tx_hash, what="anchor.tx_hash")
        return AnchorPart(
            _int(raw["chain_id"], "anchor.chain_id"),
            contract,
            tx_hash,
            _int(raw["block_number"], "anchor.block_number"),
        )

    def _authority_entry(self, member: str) -> tuple[AuthorityEntry, InclusionPart]:
        """`admission`, `key_approval`, `authority_action` or `transfer`: an authority entry
        and its inclusion proof."""
        raw = _object(self.raw.get(member), member, required=_AUTHORITY_MEMBERS)
        proof = _object(
            raw["log_inclusion"], f"{member}.log_inclusion", required=_INCLUSION_MEMBERS
        )
        try:
            entry = AuthorityEntry.from_json(raw["entry"])
        except CoreError as exc:
            raise _MalformedError(f"{member}.entry: {exc}") from exc
        return entry, InclusionPart(
            _int(proof["leaf_index"], f"{member}.log_inclusion.leaf_index"),
            _int(proof["tree_size"], f"{member}.log_inclusion.tree_size"),
            _hashes(proof["hashes"], f"{member}.log_inclusion.hashes"),
        )

    def _first_anchored(self) -> int | None:
        if self.version < 2:
            return None
        value = self.raw.get("first_anchored_index")
        return None if value is None else _int(value, "first_anchored_index")


_COMMON: Final = {
    "format",
    "status",
    "certificate_id",
    "record",
    "event",
    "log_inclusion",
    "status_proof",
    "checkpoint",
    "anchor",
    "issuer_key",
}
_REQUIRED: Final = {
    BUNDLE_FORMAT_V1: frozenset(_COMMON),
    BUNDLE_FORMAT: frozenset(_COMMON | {"first_anchored_index"}),
}
_OPTIONAL: Final = frozenset(
    {"next_checkpoint_due", "admission", "key_approval", "authority_action", "transfer"}
)
#: what a status document (spec §8.2) may carry besides `_STATUS_REQUIRED`
_STATUS_OPTIONAL: Final = frozenset({"admission", "key_approval", "authority_action", "transfer"})
_BUNDLE_STATES: Final = ("ANCHORED", "PENDING", "UNKNOWN")
_STATUS_REQUIRED: Final = frozenset(
    (_COMMON - {"record"}) | {"first_anchored_index"},
)


def claims_our_format(obj: object) -> bool:
    """Whether `obj` says it is a certreg bundle (any version). A file that does not is an
    input error (exit 2); one that does but is malformed is `INVALID` (spec §9.4)."""
    if not isinstance(obj, Mapping):
        return False
    fmt = obj.get("format")
    return isinstance(fmt, str) and fmt.startswith("certreg-bundle/")


def _envelope(bundle: object) -> str | None:
    """Why `bundle` is not a well-formed envelope of a known format, or None."""
    if not isinstance(bundle, Mapping):
        return f"bundle: got {type(bundle).__name__}, want an object"
    fmt = bundle.get("format")
    if not isinstance(fmt, str) or fmt not in _REQUIRED:  # a list or object is unhashable
        return f"format: got {fmt!r:.40}, want one of {BUNDLE_FORMATS}"
    required = _REQUIRED[fmt]
    missing = required - bundle.keys()
    unknown = bundle.keys() - required - _OPTIONAL
    if missing or unknown:
        return f"bundle: got members {sorted(bundle)}, want {sorted(required)}"
    if bundle.get("status") not in _BUNDLE_STATES:
        return f"status: got {bundle.get('status')!r:.40}, want one of {_BUNDLE_STATES}"
    return None


def compose(bundle: Mapping[str, Any], fresh: object) -> dict[str, Any]:
    """The bundle's record with everything else from a fresh status document (spec §8.2): a
    v2 bundle at the fresh checkpoint, checked like any other. Raises CoreError if `fresh` is
    not a status document of the bundle's certificate."""
    if not isinstance(fresh, Mapping) or fresh.get("format") != STATUS_FORMAT:
        raise _MalformedError(
            f"fresh status: got format {getattr(fresh, 'get', lambda _: None)('format')!r:.40}, "
            f"want {STATUS_FORMAT!r}"
        )
    missing = _STATUS_REQUIRED - fresh.keys()
    unknown = fresh.keys() - _STATUS_REQUIRED - _STATUS_OPTIONAL
    if missing or unknown:
        raise _MalformedError(
            f"fresh status: got members {sorted(fresh)}, want {sorted(_STATUS_REQUIRED)}"
        )
    if fresh.get("certificate_id") != bundle.get("certificate_id"):
        raise _MalformedError(
            f"fresh status: got certificate {fresh.get('certificate_id')!r:.80}, "
            f"want {bundle.get('certificate_id')!r:.80}"
        )
    if fresh.get("status") not in ("ANCHORED", "UNKNOWN"):
        raise _MalformedError(
            f"fresh status: got status {fresh.get('status')!r:.20}, want ANCHORED or UNKNOWN"
        )
    composite = {k: v for k, v in fresh.items() if k != "format"}
    composite["format"] = BUNDLE_FORMAT
    composite["record"] = bundle.get("record") if fresh.get("status") == "ANCHORED" else None
    return composite


class ParsedBundle:
    """A bundle whose parts `chain_query`, `needs_refresh` and `verify_bundle` parse once
    between them, instead of once each (the event alone costs some 40 µs). Its JSON must not
    change while it is in use."""

    __slots__ = ("_parts", "raw")

    def __init__(self, raw: object) -> None:
        self.raw = raw
        self._parts: _Parts | None = None

    def parts(self) -> "_Parts":
        assert isinstance(self.raw, Mapping)
        if self._parts is None:
            self._parts = _Parts(self.raw)
        return self._parts


def _unwrap(bundle: object) -> tuple[object, "_Parts | None"]:
    """The plain JSON, and its parts when the caller parsed it already."""
    if isinstance(bundle, ParsedBundle):
        return bundle.raw, bundle.parts() if isinstance(bundle.raw, Mapping) else None
    return bundle, None


def chain_query(bundle: object) -> ChainQuery:
    """What to ask the chain for `bundle` (plain JSON or a `ParsedBundle`), or for a composite
    from `compose`."""
    bundle, parsed = _unwrap(bundle)
    if not isinstance(bundle, Mapping):
        return ChainQuery()
    parts = parsed or _Parts(bundle)
    state = bundle.get("status")
    checkpoints: set[int] = set()
    keys: set[IssuerKeyRef] = set()
    anchor_tx = first = None
    contract = None
    try:
        index = parts.checkpoint.get().index
        checkpoints.add(index)
        anchor = parts.anchor.get()
        if anchor.tx_hash is not None:
            anchor_tx = (anchor.tx_hash, index)
        contract = anchor.contract
    except _MalformedError:
        pass
    try:
        event = parts.event.get()
        keys.add((issuer_chain_id(event.issuer_id), event.key_id))
        if state == "ANCHORED":
            hint = parts.first_anchored.get()
            first = (event.seq, hint)
            if hint is not None:
                checkpoints.update({hint, hint - 1} - {-1})
    except (_MalformedError, CoreError):
        pass
    return ChainQuery(
        checkpoints=frozenset(checkpoints),
        issuer_keys=frozenset(keys),
        anchor_tx=anchor_tx,
        first_anchoring=first,
        head_block=state == "PENDING",
        contract=contract,
    )


def needs_refresh(bundle: object, chain: ChainFacts) -> bool:
    """Whether the bundle's checkpoint is older than the chain's latest: its status is then
    proven only as of then, and a fresh status document must decide (spec §9.2)."""
    bundle, parsed = _unwrap(bundle)
    if _envelope(bundle) is not None:
        return False
    assert isinstance(bundle, Mapping)
    return _older_than_chain(parsed or _Parts(bundle), chain)


def _older_than_chain(parts: "_Parts", chain: ChainFacts) -> bool:
    """`needs_refresh` of a well-formed envelope, from its parts (parsed once per verdict)."""
    state = parts.raw.get("status")
    if chain.latest_index is None or state == "PENDING":
        return False
    try:
        index = parts.checkpoint.get().index
    except _MalformedError:
        return state == "UNKNOWN"  # an UNKNOWN bundle from before any checkpoint
    return index < chain.latest_index


# --- the checks -------------------------------------------------------------------------------


def _passed(name: str, code: str, message: str) -> Check:
    return Check(name, CheckStatus.PASSED, code, message)


def _failed(name: str, code: str, message: str) -> Check:
    return Check(name, CheckStatus.FAILED, code, message)


def _skipped(name: str, code: str, message: str) -> Check:
    return Check(name, CheckStatus.SKIPPED, code, message)


@functools.lru_cache(maxsize=1024)
def _utc(timestamp: int) -> str:
    # Cached: the bundles of one checkpoint share its block time, and strftime is slow.
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


_NO_CHAIN: Final = "no_chain_access"
#: what each custody of an approved key means (spec §3a.1), in check messages
_CUSTODY: Final = {
    Custody.HELD: "the certification body keeps the private key",
    Custody.HOSTED: "the registry keeps the private key, sealed, on the body's behalf",
}


class _Checks:
    """The eight checks of one bundle against one set of chain facts (None: offline)."""

    def __init__(
        self,
        bundle: Mapping[str, Any],
        *,
        trust: TrustAnchors,
        chain: ChainFacts | None,
        today: dt.date,
        parts: "_Parts | None" = None,
    ) -> None:
        self.raw = bundle
        self.p = parts or _Parts(bundle)
        self.trust = trust
        self.chain = chain
        self.today = today
        self.state = bundle.get("status")
        self.leaf_status: str | None = None
        self.first_anchored: int | None = None
        # set by `issuer_key_registered` when the key's approval by the authority checked out
        self.key_custody: str | None = None
        self.key_approval_seq: int | None = None
        # set by `certificate_status` when the status is the authority's (`authority_action`)
        self.authority_action: AuthorityEntry | None = None
        self.authority_action_checked = False
        # set by `issuer_signature` when the authority's transfer of the certificate to the
        # event's CB checked out, its signature by the pinned authority key included
        self.transferred_from: str | None = None
        self.transfer_seq: int | None = None

    def record_integrity(self) -> Check:
        name = "record_integrity"
        if self.state == "UNKNOWN":
            if self.p.present("record") or self.p.present("event"):
                return _failed(name, "unexpected_record", "an UNKNOWN bundle carries a record")
            return _skipped(name, "no_record", "no certificate was issued under this id")
        try:
            certificate_id = self.p.certificate_id.get()
            record = self.p.record.get()
            event = self.p.event.get()
        except _MalformedError as exc:
            return _failed(name, "malformed_record", str(exc))
        fields, record_hash = record.fields, record.record_hash
        if fields.get("id") != certificate_id:
            return _failed(
                name,
                "record_id_mismatch",
                f"record.id: got {fields.get('id')!r:.80}, want {certificate_id!r:.80}",
            )
        issuer_id, number = fields.get("issuer_id"), fields.get("number")
        if not isinstance(issuer_id, str) or not isinstance(number, str):
            return _failed(name, "malformed_record", "record: want string issuer_id and number")
        if certificate_id_for(issuer_id=issuer_id, number=number) != certificate_id:
            return _failed(
                name, "record_id_mismatch", "record.id is not the id of its issuer and number"
            )
        if event.certificate_id == certificate_id and event.record_hash != record_hash:
            return _failed(
                name,
                "record_hash_mismatch",
                f"record hash: got {hex0x(record_hash)}, want the event's "
                f"{hex0x(event.record_hash)}",
            )
        if self.state == "ANCHORED":
            try:
                leaf = self.p.status_proof.get().leaf
            except _MalformedError as exc:
                return _failed(name, "malformed_status_proof", str(exc))
            if leaf is None or leaf.record_hash != record_hash:
                return _failed(
                    name,
                    "record_hash_mismatch",
                    f"record hash: got {hex0x(record_hash)}, want the status leaf's "
                    f"{'none' if leaf is None else hex0x(leaf.record_hash)}",
                )
        withheld = f" ({record.withheld} fields withheld)" if record.withheld else ""
        return _passed(
            name,
            "record_matches",
            f"the record hashes to {hex0x(record_hash)} as registered{withheld}",
        )

    def _chain_key(self, event: Event) -> ChainIssuerKey | None:
        assert self.chain is not None
        return self.chain.issuer_keys.get((issuer_chain_id(event.issuer_id), event.key_id))

    def issuer_signature(self) -> Check:
        name = "issuer_signature"
        if self.state == "UNKNOWN":
            if self.p.present("transfer"):
                return _failed(
                    name,
                    "transfer_mismatch",
                    "an UNKNOWN bundle carries a transfer of a certificate",
                )
            return _skipped(name, "no_record", "no event to check")
        try:
            event = self.p.event.get()
            record = self.p.record.get()
        except _MalformedError as exc:
            return _failed(name, "malformed_event", str(exc))
        original = record.fields.get("issuer_id")
        transfer: tuple[AuthorityEntry, bool] | None = None
        if self.p.present("transfer"):
            if self.state == "PENDING":
                return _failed(
                    name,
                    "unexpected_proof",
                    "a PENDING bundle carries a transfer: only an anchored one can prove it",
                )
            if event.issuer_id == original:
                return _failed(
                    name,
                    "transfer_mismatch",
                    f"transfer: got one, want none: the event's issuer {event.issuer_id!r} is "
                    "the record's",
                )
            if not isinstance(original, str):
                return _failed(
                    name,
                    "issuer_mismatch",
                    f"issuer: got record {original!r:.40}, want a CB the certificate was "
                    "transferred from",
                )
            found = self._transfer(event, record)
            if isinstance(found, Check):
                return found
            transfer = found
        elif event.issuer_id != original:
            return _failed(
                name,
                "issuer_mismatch",
                f"issuer: got event {event.issuer_id!r}, record {original!r}, want one issuer "
                "(or the authority's transfer of the certificate to the event's, which the "
                "bundle does not carry)",
            )
        if self.state == "PENDING":
            # Never a key the bundle carries: only one the chain holds for the issuer.
            if self.chain is None:
                return _skipped(name, _NO_CHAIN, "checked against the issuer's key on chain")
            key = self._chain_key(event)
            if key is None or issuer_key_id(key.public_key) != event.key_id:
                return _failed(
                    name,
                    "key_not_registered",
                    f"the chain holds no key {hex0x(event.key_id)} for {event.issuer_id}",
                )
            public_key, key_id = key.public_key, event.key_id
        else:
            if not self.p.present("issuer_key"):
                return _failed(name, "malformed_issuer_key", "issuer_key: got null, want the key")
            try:
                carried = self.p.issuer_key.get()
            except _MalformedError as exc:
                return _failed(name, "malformed_issuer_key", str(exc))
            if issuer_key_id(carried.public_key) != carried.key_id or event.key_id != (
                carried.key_id
            ):
                return _failed(
                    name,
                    "key_mismatch",
                    f"key id: got event {hex0x(event.key_id)} and key {hex0x(carried.key_id)}, "
                    f"want both {hex0x(issuer_key_id(carried.public_key))} (H(public key))",
                )
            if carried.issuer_id != event.issuer_id:
                return _failed(
                    name,
                    "issuer_mismatch",
                    f"issuer: got key {carried.issuer_id!r}, event {event.issuer_id!r}, "
                    "want one issuer",
                )
            public_key, key_id = carried.public_key, carried.key_id
        try:
            # An unsigned event has no signing bytes here: the call then says why it fails.
            signing = self.p.event_bytes.get()[0] if self.p.event_bytes.ok() else None
            _verify_event_signature(event, public_key, signing_bytes=signing)
        except CoreError as exc:
            return _failed(name, "signature_invalid", str(exc))
        signed = f"signed by {event.issuer_id} with key {hex0x(key_id)}"
        if transfer is None:
            return _passed(name, "signature_valid", signed)
        entry, checked = transfer
        statement = entry.statement
        assert isinstance(statement, TransferCertificate)
        of = "" if statement.issuer_id == original else f"issued by {original}, "
        if not checked:
            return _passed(
                name,
                "signature_valid",
                f"{signed} (the certificate, {of}transferred from {statement.issuer_id} to "
                f"{event.issuer_id} in the log, entry {entry.seq}; the authority's signature on "
                "the transfer was not checked: no authority key is pinned)",
            )
        self.transferred_from, self.transfer_seq = original, entry.seq
        return _passed(
            name,
            "signature_valid",
            f"{signed} (the certificate, {of}transferred from {statement.issuer_id} by the "
            f"authority, log entry {entry.seq})",
        )

    def _transfer(self, event: Event, record: RecordPart) -> tuple[AuthorityEntry, bool] | Check:
        """The authority's `transfer_certificate` that hands the certificate to the event's CB
        (spec §3a.5, §9.2): of the certificate the event acts on — the bundle's, whose record it
        carries —, with that record's hash, to the event's CB, before the event, proved in the
        checkpoint's log and, with the authority's key pinned, signed by it. Only this, the
        latest transfer before the event, is checked: the one before it (A to B, when this one
        is B to C) is the registry's and the audit's to check. (the entry, whether its signature
        was checked)"""
        name = "issuer_signature"
        try:
            entry, proof = self.p.transfer.get()
            checkpoint = self.p.checkpoint.get()
            certificate_id = self.p.certificate_id.get()
        except _MalformedError as exc:
            return _failed(name, "malformed_transfer", str(exc))
        statement = entry.statement
        acts_on = event.certificate_id == certificate_id or (
            event.type is EventType.SUPERSEDE and event.supersedes == certificate_id
        )
        if (
            not isinstance(statement, TransferCertificate)
            or statement.certificate_id != certificate_id
            or statement.record_hash != record.record_hash
            or statement.to_issuer_id != event.issuer_id
            or not acts_on
            or event.type is EventType.ISSUE
            or entry.seq >= event.seq
            or proof.leaf_index != entry.seq
            or proof.tree_size != checkpoint.tree_size
        ):
            to = getattr(statement, "to_issuer_id", None)
            return _failed(
                name,
                "transfer_mismatch",
                f"transfer: got entry {entry.seq} ({statement.TYPE.value} of "
                f"{statement.issuer_id}{'' if to is None else f' to {to}'}) proved as leaf "
                f"{proof.leaf_index} of {proof.tree_size}, want the authority's "
                f"transfer_certificate of {certificate_id} with its record hash to "
                f"{event.issuer_id}, before the {event.type.value} event {event.seq}, proved in "
                f"the checkpoint's {checkpoint.tree_size}",
            )
        if (
            missing := _not_included(name, "transfer_not_included", entry, proof, checkpoint)
        ) is not None:
            return missing
        if self.trust.authority_key is None:
            return entry, False
        try:
            _verified_statement(entry, self.trust.authority_key)
        except CoreError as exc:
            return _failed(name, "authority_signature_invalid", str(exc))
        return entry, True

    def issuer_key_registered(self) -> Check:
        name = "issuer_key_registered"
        if self.state == "UNKNOWN":
            return _skipped(name, "no_record", "no event to check")
        if self.chain is None:
            return _skipped(name, _NO_CHAIN, "the chain was not consulted")
        try:
            event = self.p.event.get()
        except _MalformedError as exc:
            return _failed(name, "malformed_event", str(exc))
        key = self._chain_key(event)
        if key is None:
            return _failed(
                name,
                "key_not_registered",
                f"the contract has no key {hex0x(event.key_id)} for {event.issuer_id}",
            )
        if self.state == "PENDING":
            head = self.chain.head_block
            if head is None or not key.in_force_at(head):
                return _failed(
                    name,
                    "key_not_in_force",
                    f"key in force from block {key.valid_from} to {key.revoked_at or 'now'}, "
                    f"want it in force now (block {head})",
                )
            return _passed(
                name,
                "key_in_force_now",
                f"registered on chain from block {key.valid_from}, in force now (block {head})",
            )
        try:
            carried = self.p.issuer_key.get()
        except _MalformedError as exc:
            return _failed(name, "malformed_issuer_key", str(exc))
        if key.public_key != carried.public_key:
            return _failed(name, "key_mismatch", "the contract holds another public key")
        first = self._first_anchoring(event)
        if isinstance(first, Check):
            return first
        index, block = first
        if not key.in_force_at(block):
            return _failed(
                name,
                "key_not_in_force",
                f"key in force from block {key.valid_from} to {key.revoked_at or 'now'}, want "
                f"it in force at block {block}, when checkpoint {index} first anchored "
                f"event {event.seq}",
            )
        return self._key_approval(
            event,
            carried,
            f"registered on chain from block {key.valid_from}; in force at block {block}, "
            f"when checkpoint {index} first anchored event {event.seq}",
        )

    def _key_approval(self, event: Event, carried: IssuerKeyPart, on_chain: str) -> Check:
        """The authority's approval of the event's key (spec §3a.1 `approve_key`, §9.2): an
        entry of the checkpoint's log before the event, for the event's CB, key id and public
        key, signed by the pinned authority key. Required when the event names an admission or
        is a statement the CB signed itself (version 2); a key registered before the authority
        approved keys has none, and its custody is not stated."""
        name = "issuer_key_registered"
        if not self.p.present("key_approval"):
            version = getattr(event, "version", 1)
            if event.admission_seq is not None or version == 2:
                why = (
                    f"names admission {event.admission_seq}"
                    if event.admission_seq is not None
                    else "is a statement the certification body signed (version 2)"
                )
                return _failed(
                    name,
                    "missing_key_approval",
                    f"key_approval: got none, want the authority's approval of key "
                    f"{hex0x(event.key_id)}: the event {why}",
                )
            return _passed(
                name,
                "key_in_force",
                f"{on_chain}; custody not stated: the key was registered before the authority "
                "approved keys in the log",
            )
        try:
            entry, proof = self.p.key_approval.get()
            checkpoint = self.p.checkpoint.get()
        except _MalformedError as exc:
            return _failed(name, "malformed_key_approval", str(exc))
        statement = entry.statement
        if (
            not isinstance(statement, ApproveKey)
            or statement.issuer_id != event.issuer_id
            or statement.key_id != event.key_id
            or statement.public_key != carried.public_key
            or entry.seq >= event.seq
            or proof.leaf_index != entry.seq
            or proof.tree_size != checkpoint.tree_size
        ):
            return _failed(
                name,
                "key_approval_mismatch",
                f"key_approval: got entry {entry.seq} ({statement.TYPE.value} of "
                f"{statement.issuer_id}) proved as leaf {proof.leaf_index} of "
                f"{proof.tree_size}, want the approve_key of {event.issuer_id}'s key "
                f"{hex0x(event.key_id)} with the bundle's public key, before event {event.seq}, "
                f"proved in the checkpoint's {checkpoint.tree_size}",
            )
        if (
            missing := _not_included(name, "key_approval_not_included", entry, proof, checkpoint)
        ) is not None:
            return missing
        custody = statement.custody.value
        approved = f"{on_chain}; custody {custody}: {_CUSTODY[statement.custody]}"
        if self.trust.authority_key is None:
            return _passed(
                name,
                "key_in_force",
                f"{approved} (approval in the log, entry {entry.seq}; the authority's "
                "signature on it was not checked: no authority key is pinned)",
            )
        try:
            _verified_statement(entry, self.trust.authority_key)
        except CoreError as exc:
            return _failed(name, "authority_signature_invalid", str(exc))
        self.key_custody, self.key_approval_seq = custody, entry.seq
        return _passed(
            name, "key_in_force", f"{approved} (approved by the authority, log entry {entry.seq})"
        )

    def _first_anchoring(self, event: Event) -> tuple[int, int] | Check:
        """(index, block) of the first checkpoint on chain that covered `event`: a v2 bundle's
        hint confirmed by two reads, or (v1) the index the chain layer found."""
        name = "issuer_key_registered"
        assert self.chain is not None
        try:
            hint = self.p.first_anchored.get()
        except _MalformedError as exc:
            return _failed(name, "malformed_first_anchored", str(exc))
        checkpoints = self.chain.checkpoints
        if self.p.version >= 2:
            if hint is None:
                return _failed(
                    name, "malformed_first_anchored", "first_anchored_index: got null, want one"
                )
            candidate: int | None = hint
        else:
            candidate = self.chain.first_anchoring.get(event.seq)
        covering = None if candidate is None else checkpoints.get(candidate)
        before = checkpoints.get(candidate - 1) if candidate else None
        if (
            candidate is None
            or covering is None
            or covering.tree_size <= event.seq
            or (candidate > 0 and (before is None or before.tree_size > event.seq))
        ):
            return _failed(
                name,
                "first_anchoring_mismatch",
                f"first anchoring: got checkpoint {candidate}, want the first checkpoint on "
                f"chain whose size exceeds {event.seq}",
            )
        self.first_anchored = candidate
        return candidate, covering.block_number

    def issuer_accredited(self) -> Check:
        """The admission the event names (spec §3): in the checkpoint's log, the authority's
        (when its key is pinned), of the event's CB, covering the certificate on the day the
        event was appended (§3a.6). Events that name none come from before the authority's
        statements, or from a CB admitted before them."""
        name = "issuer_accredited"
        if self.state == "UNKNOWN":
            return _skipped(name, "no_record", "no certificate was issued under this id")
        try:
            event = self.p.event.get()
        except _MalformedError as exc:
            return _failed(name, "malformed_event", str(exc))
        if event.admission_seq is None:
            if self.p.present("admission"):
                return _failed(name, "unexpected_admission", "the event names no admission")
            return _skipped(
                name, "before_governance", "the event names no admission by the authority"
            )
        if self.state != "ANCHORED":
            return _skipped(name, "not_anchored", "checked once an anchored checkpoint covers it")
        if not self.p.present("admission"):
            return _failed(
                name, "missing_admission", f"the event names admission {event.admission_seq}"
            )
        try:
            entry, proof = self.p.admission.get()
            checkpoint = self.p.checkpoint.get()
            record = self.p.record.get().fields
        except _MalformedError as exc:
            return _failed(name, "malformed_admission", str(exc))
        statement = entry.statement
        if (
            entry.seq != event.admission_seq
            or proof.leaf_index != entry.seq
            or proof.tree_size != checkpoint.tree_size
            or not isinstance(statement, Admission)
            or statement.issuer_id != event.issuer_id
        ):
            return _failed(
                name,
                "admission_mismatch",
                f"admission: got entry {entry.seq} ({statement.TYPE.value} of "
                f"{statement.issuer_id}), want the admit or change_scope of {event.issuer_id} "
                f"at entry {event.admission_seq}",
            )
        if (
            missing := _not_included(name, "admission_not_included", entry, proof, checkpoint)
        ) is not None:
            return missing
        standards = record.get("standards") or []
        kind = record.get("kind")
        if not isinstance(kind, str) or not isinstance(standards, list):
            return _failed(name, "malformed_record", "record: want a kind and a standards list")
        try:
            refused = admission_covers(
                statement, kind=kind, standards=standards, on=event.at.date()
            )
        except CoreError as exc:
            return _failed(name, "malformed_record", str(exc))
        if refused is not None:
            return _failed(name, refused.code, refused.message)
        issued_by = (
            f"{statement.accreditation_body} {statement.accreditation_number} for {kind} when "
            f"issued (admission, log entry {entry.seq})"
        )
        if self.trust.authority_key is None:
            return _skipped(
                name,
                "authority_not_pinned",
                f"{issued_by}; the authority's signature was not checked: no authority key "
                "is pinned",
            )
        try:
            _verified_statement(entry, self.trust.authority_key)
        except CoreError as exc:
            return _failed(name, "authority_signature_invalid", str(exc))
        return _passed(name, "accredited", f"accredited by {issued_by}")

    def log_inclusion(self) -> Check:
        name = "log_inclusion"
        if self.state != "ANCHORED":
            return _skipped(name, "not_anchored", "no anchored checkpoint covers the event yet")
        try:
            event = self.p.event.get()
            proof = self.p.log_inclusion.get()
            checkpoint = self.p.checkpoint.get()
        except _MalformedError as exc:
            return _failed(name, "malformed_proof", str(exc))
        if proof.leaf_index != event.seq or proof.tree_size != checkpoint.tree_size:
            return _failed(
                name,
                "inclusion_mismatch",
                f"inclusion of leaf {proof.leaf_index} in {proof.tree_size}, want leaf "
                f"{event.seq} in the checkpoint's {checkpoint.tree_size}",
            )
        try:
            verify_inclusion(
                leaf_index=proof.leaf_index,
                tree_size=proof.tree_size,
                leaf_hash=(
                    self.p.event_bytes.get()[1] if self.p.event_bytes.ok() else event.leaf_hash()
                ),
                proof=list(proof.hashes),
                root_hash=checkpoint.log_root,
            )
        except CoreError as exc:
            return _failed(name, "inclusion_invalid", str(exc))
        return _passed(
            name, "included", f"event {event.seq} is in the log of {proof.tree_size} events"
        )

    def _no_checkpoint(self) -> bool:
        """An UNKNOWN bundle from a registry with no anchored checkpoint: no proof exists."""
        return self.state == "UNKNOWN" and not any(
            self.p.present(part) for part in ("checkpoint", "anchor", "status_proof")
        )

    def checkpoint_anchored(self) -> Check:
        name = "checkpoint_anchored"
        if self.state == "PENDING":
            if self.p.present("checkpoint") or self.p.present("anchor"):
                return _failed(name, "unexpected_checkpoint", "a PENDING bundle names a checkpoint")
            return _skipped(name, "not_anchored", "the next checkpoint will cover this event")
        if self._no_checkpoint():
            return _skipped(name, "no_checkpoint", "the registry had no anchored checkpoint")
        try:
            checkpoint = self.p.checkpoint.get()
            anchor = self.p.anchor.get()
        except _MalformedError as exc:
            return _failed(name, "malformed_checkpoint", str(exc))
        try:
            signed = _verified_checkpoint(checkpoint.note, self.trust.registry_key)
        except CoreError as exc:
            return _failed(name, "note_invalid", str(exc))
        claimed = (checkpoint.tree_size, checkpoint.log_root, checkpoint.map_root)
        if (signed.tree_size, signed.root_hash, signed.map_root) != claimed:
            return _failed(name, "checkpoint_mismatch", "the signed note says other roots")
        pinned = anchor.contract.lower() == self.trust.contract.lower()
        if anchor.chain_id != self.trust.chain_id or (
            not pinned
            and self.chain is not None
            and anchor.contract.lower() not in {a.lower() for a in self.chain.line}
        ):
            return _failed(
                name,
                "anchor_mismatch",
                f"anchor: got chain {anchor.chain_id} contract {anchor.contract}, want chain "
                f"{self.trust.chain_id} contract {self.trust.contract} or a successor of it",
            )
        index = checkpoint.index
        if self.chain is None:
            also = (
                ""
                if pinned
                else f"; only the chain can say whether {anchor.contract} succeeds the pinned "
                f"{self.trust.contract}"
            )
            return _skipped(
                name,
                _NO_CHAIN,
                f"checkpoint {index} is signed by the registry; the chain was not consulted" + also,
            )
        on_chain = self.chain.checkpoints.get(index)
        if on_chain is None:
            return _failed(name, "not_on_chain", f"checkpoint {index} is not on chain")
        if (on_chain.tree_size, on_chain.log_root, on_chain.map_root) != claimed:
            return _failed(
                name, "chain_mismatch", f"the chain's checkpoint {index} has other roots"
            )
        tx_ok = None
        if anchor.tx_hash is not None:
            tx_ok = self.chain.anchor_txs.get((anchor.tx_hash, index))
        if on_chain.block_number != anchor.block_number or tx_ok is False:
            return _failed(name, "anchor_tx_mismatch", f"checkpoint {index} was anchored elsewhere")
        latest = self.chain.latest_index
        if latest is not None and latest > index:
            return _passed(
                name,
                "anchored_older",
                f"checkpoint {index} is on chain at block {anchor.block_number} "
                f"({_utc(on_chain.timestamp)}); the latest is checkpoint {latest}",
            )
        return _passed(
            name,
            "anchored_latest",
            f"checkpoint {index} is the latest on chain (block {anchor.block_number}, "
            f"{_utc(on_chain.timestamp)})",
        )

    def certificate_status(self) -> Check:
        name = "certificate_status"
        if self.state == "PENDING":
            if any(
                self.p.present(p) for p in ("status_proof", "log_inclusion", "authority_action")
            ):
                return _failed(name, "unexpected_proof", "a PENDING bundle carries proofs")
            return _skipped(name, "not_anchored", "not yet in the anchored status map")
        if self._no_checkpoint():
            return _skipped(name, "no_checkpoint", "nothing is anchored yet to prove against")
        try:
            certificate_id = self.p.certificate_id.get()
            status_proof = self.p.status_proof.get()
            checkpoint = self.p.checkpoint.get()
        except _MalformedError as exc:
            return _failed(name, "malformed_status_proof", str(exc))
        key, leaf, proof = status_proof.key, status_proof.leaf, status_proof.proof
        if key != map_key(certificate_id):
            return _failed(name, "key_mismatch", "status_proof.key is not H(certificate_id)")
        if self.state == "UNKNOWN":
            if leaf is not None:
                return _failed(name, "unexpected_leaf", "an UNKNOWN bundle proves a leaf")
            if self.p.present("authority_action"):
                return _failed(
                    name,
                    "authority_action_mismatch",
                    "an UNKNOWN bundle carries an action of the authority on a certificate",
                )
            try:
                verify_map_proof(root_hash=checkpoint.map_root, key=key, value=None, proof=proof)
            except CoreError as exc:
                return _failed(name, "status_proof_invalid", str(exc))
            return _passed(
                name, "not_issued", f"no certificate has this id at checkpoint {checkpoint.index}"
            )
        if leaf is None:
            return _failed(name, "malformed_status_proof", "status_proof.leaf: got null")
        try:
            event = self.p.event.get()
        except _MalformedError as exc:
            return _failed(name, "malformed_status_proof", str(exc))
        if leaf.certificate_id != certificate_id:
            return _failed(name, "leaf_event_mismatch", "the status leaf names another certificate")
        action = None
        if self.p.present("authority_action"):
            found = self._authority_action(event, leaf, checkpoint)
            if isinstance(found, Check):
                return found
            action = found
        elif leaf.event_seq != event.seq:
            return _failed(
                name,
                "leaf_event_mismatch",
                f"the status leaf names log entry {leaf.event_seq}, want the event's {event.seq} "
                "(or the authority's action on the certificate there, which the bundle does not "
                "carry)",
            )
        else:
            expected = _status_after(event, certificate_id)
            if expected is None or expected != leaf.status:
                return _failed(
                    name,
                    "leaf_event_mismatch",
                    f"status leaf {leaf.status!r:.20} does not follow from a "
                    f"{event.type.value} event",
                )
        try:
            verify_map_proof(root_hash=checkpoint.map_root, key=key, value=leaf.value, proof=proof)
        except CoreError as exc:
            return _failed(name, "status_proof_invalid", str(exc))
        if action is None:
            self.leaf_status = leaf.status
            return _passed(
                name,
                leaf.status,
                f"{leaf.status} at checkpoint {checkpoint.index} (event {event.seq})",
            )
        statement = action.statement
        assert isinstance(statement, CertificateAction)
        by_authority = (
            f"{leaf.status} by the authority at checkpoint {checkpoint.index} (log entry "
            f"{action.seq}): {statement.reason}"
        )
        if self.trust.authority_key is None:
            message = (
                f"{by_authority}; the authority's signature on it was not checked: no authority "
                "key is pinned"
            )
        else:
            try:
                _verified_statement(action, self.trust.authority_key)
            except CoreError as exc:
                return _failed(name, "authority_signature_invalid", str(exc))
            self.authority_action_checked = True
            message = by_authority
        self.leaf_status, self.authority_action = leaf.status, action
        return _passed(name, leaf.status, message)

    def _authority_action(
        self, event: Event, leaf: LeafPart, checkpoint: CheckpointPart
    ) -> AuthorityEntry | Check:
        """The authority's `suspend_certificate` or `withdraw_certificate` the status leaf
        points at (spec §3a.5, §9.2), which the bundle carries because the certificate's CB
        could no longer act on it: of this certificate, its CB and its record, after the event
        the bundle carries (the certificate's latest event before it), proved in the
        checkpoint's log, and giving the leaf's status. Its signature is checked by the caller,
        once the map proof holds."""
        name = "certificate_status"
        try:
            action, proof = self.p.authority_action.get()
        except _MalformedError as exc:
            return _failed(name, "malformed_authority_action", str(exc))
        statement = action.statement
        if (
            not isinstance(statement, CertificateAction)
            or statement.certificate_id != leaf.certificate_id
            or statement.issuer_id != event.issuer_id
            or statement.record_hash != leaf.record_hash
            or leaf.record_hash != event.record_hash
            or event.certificate_id != leaf.certificate_id
            or NEXT_STATUS[event.type] not in CERTIFICATE_ALLOWED_FROM[statement.TYPE]
            or action.seq != leaf.event_seq
            or action.seq <= event.seq
            or proof.leaf_index != action.seq
            or proof.tree_size != checkpoint.tree_size
        ):
            return _failed(
                name,
                "authority_action_mismatch",
                f"authority_action: got entry {action.seq} ({statement.TYPE.value} of "
                f"{statement.issuer_id}) proved as leaf {proof.leaf_index} of {proof.tree_size}, "
                f"want the authority's suspend_certificate or withdraw_certificate of "
                f"{event.issuer_id}'s {leaf.certificate_id} with its record hash, at the status "
                f"leaf's entry {leaf.event_seq}, after the {event.type.value} event "
                f"{event.seq}, proved in the checkpoint's {checkpoint.tree_size}",
            )
        if (
            missing := _not_included(
                name, "authority_action_not_included", action, proof, checkpoint
            )
        ) is not None:
            return missing
        if leaf.status != statement.status:
            return _failed(
                name,
                "leaf_event_mismatch",
                f"status leaf {leaf.status!r:.20} does not follow from the authority's "
                f"{statement.TYPE.value}",
            )
        return action

    def validity_period(self) -> tuple[Check, str | None]:
        name = "validity_period"
        if self.state == "UNKNOWN":
            return _skipped(name, "no_record", "no record"), None
        try:
            record = self.p.record.get().fields
            from_raw: Any = record.get("valid_from")  # parse_date refuses what is not a date
            valid_from = parse_date(from_raw, what="record.valid_from")
            until_raw: Any = record.get("valid_until")
            valid_until = (
                None if until_raw is None else parse_date(until_raw, what="record.valid_until")
            )
        except (_MalformedError, CoreError) as exc:
            return _failed(name, "malformed_dates", str(exc)), None
        if self.today < valid_from:
            return _passed(name, "not_yet_valid", f"in force from {valid_from}"), "not_yet_valid"
        if valid_until is not None and self.today > valid_until:
            return _passed(name, "expired", f"expired after {valid_until}"), "expired"
        if valid_until is None:
            return _passed(name, "no_expiry", f"in force since {valid_from}, no end date"), None
        return _passed(name, "in_period", f"in force {valid_from} to {valid_until}"), None

    def run(self) -> tuple[tuple[Check, ...], VerdictStatus]:
        status_check = self.certificate_status()
        validity_check, validity = self.validity_period()
        checks = (
            self.record_integrity(),
            self.issuer_signature(),
            self.issuer_key_registered(),
            self.issuer_accredited(),
            self.log_inclusion(),
            self.checkpoint_anchored(),
            status_check,
            validity_check,
        )
        return checks, self._overall(checks, validity)

    def _overall(self, checks: tuple[Check, ...], validity: str | None) -> VerdictStatus:
        if any(c.status is CheckStatus.FAILED for c in checks):
            return VerdictStatus.INVALID
        if self.chain is None:
            return VerdictStatus.UNCONFIRMED
        if self.state == "PENDING":
            return VerdictStatus.PENDING
        if self.state == "UNKNOWN" or self.leaf_status is None:
            return VerdictStatus.UNKNOWN
        status = _FROM_LEAF[self.leaf_status]
        if status is VerdictStatus.VALID and validity == "expired":
            return VerdictStatus.EXPIRED
        return status

    def authority_fields(self) -> dict[str, Any]:
        """The verdict's fields on a status the authority set (empty when it did not, or the
        check did not pass)."""
        action = self.authority_action
        if action is None:
            return {}
        statement = action.statement
        assert isinstance(statement, CertificateAction)
        return {
            "status_set_by_authority": self.authority_action_checked,
            "authority_action_seq": action.seq,
            "authority_action_reason": statement.reason,
            "authority_action_at": format_timestamp(statement.at),
        }

    def checkpoint_index(self) -> int | None:
        try:
            return self.p.checkpoint.get().index
        except _MalformedError:
            return None

    def tree_size(self) -> int | None:
        try:
            return self.p.checkpoint.get().tree_size
        except _MalformedError:
            return None

    def as_of(self) -> int | None:
        index = self.checkpoint_index()
        if self.chain is None or index is None:
            return None
        on_chain = self.chain.checkpoints.get(index)
        return None if on_chain is None else on_chain.timestamp


@functools.lru_cache(maxsize=256)
def _verified_checkpoint(note: str, registry_key: NoteVerifier) -> Checkpoint:
    # Many bundles share one checkpoint: its note is verified once (a pure function of both).
    return verify_checkpoint(note, verifier=registry_key)


@functools.lru_cache(maxsize=256)
def _verified_statement(entry: AuthorityEntry, authority_key: bytes) -> None:
    # Every certificate of a CB names the same few admissions: each is verified once.
    verify_statement(entry, authority_key)


def _maybe_str(value: object) -> str | None:
    # Echoed in the verdict, which must encode as UTF-8 JSON: a lone surrogate is no id.
    return value if isinstance(value, str) and _is_unicode(value) else None


def _not_included(
    name: str,
    code: str,
    entry: AuthorityEntry,
    proof: InclusionPart,
    checkpoint: CheckpointPart,
) -> Check | None:
    """A failed check `code` unless the authority's `entry` (an admission, key approval,
    transfer or action a bundle carries) is in the checkpoint's log by `proof`."""
    try:
        verify_inclusion(
            leaf_index=proof.leaf_index,
            tree_size=proof.tree_size,
            leaf_hash=entry.leaf_hash(),
            proof=list(proof.hashes),
            root_hash=checkpoint.log_root,
        )
    except CoreError as exc:
        return _failed(name, code, str(exc))
    return None


def _status_after(event: Event, certificate_id: str) -> str | None:
    """The status `event` gives `certificate_id` (docs/spec.md §5.7), None if it names another."""
    if event.certificate_id == certificate_id:
        return NEXT_STATUS[event.type]
    if event.type is EventType.SUPERSEDE and event.supersedes == certificate_id:
        return "superseded"
    return None


def _malformed(bundle: object, why: str) -> Verdict:
    checks = tuple(_failed(n, "malformed_bundle", why) for n in CHECK_NAMES)
    certificate_id = bundle.get("certificate_id") if isinstance(bundle, Mapping) else None
    return Verdict(
        status=VerdictStatus.INVALID, checks=checks, certificate_id=_maybe_str(certificate_id)
    )


def malformed_verdict(why: str) -> Verdict:
    """The verdict on a file that claims to be a bundle but cannot be read as one at all (a
    damaged compact form, spec §8.3): `INVALID`, every check failed with `malformed_bundle`,
    as for a malformed JSON bundle (spec §9.4: claiming our format and malformed is not an
    input error)."""
    return _malformed(None, why)


def _with_chain_error(checks: tuple[Check, ...], message: str) -> tuple[Check, ...]:
    """Checks the chain would have decided, shown as errors: the chain was asked and failed."""
    return tuple(
        Check(c.name, CheckStatus.ERROR, "chain_unavailable", message)
        if c.status is CheckStatus.SKIPPED and c.code == _NO_CHAIN
        else c
        for c in checks
    )


def _stale(
    checks: tuple[Check, ...], status: VerdictStatus, as_of: str, why: str
) -> tuple[Check, ...]:
    """The status check, shown as proven only as of the bundle's checkpoint."""
    return tuple(
        Check(
            c.name,
            CheckStatus.ERROR,
            "stale",
            f"{status.value.lower()} as of {as_of}, not necessarily now: {why}",
        )
        if c.name == "certificate_status" and c.status is CheckStatus.PASSED
        else c
        for c in checks
    )


def verify_bundle(
    bundle: object,
    *,
    trust: TrustAnchors,
    chain: ChainFacts | None,
    today: dt.date,
    chain_error: str | None = None,
    fresh: object = None,
    fresh_source: str | None = None,
    fresh_error: str | None = None,
) -> Verdict:
    """The verdict on `bundle` (plain JSON or a `ParsedBundle`), trusting only `trust` and the
    chain's `chain`.

    `today` is the verifier's date (UTC) for the validity period. `chain` None: offline, or
    (with `chain_error`) the chain was asked and did not answer — `UNCONFIRMED` either way.
    When the bundle is older than the chain's latest checkpoint (`needs_refresh`), `fresh` is a
    status document fetched from `fresh_source` (or `fresh_error` says why there is none);
    `chain` must then also hold the facts for `chain_query(compose(bundle, fresh))`.
    """
    bundle, parsed = _unwrap(bundle)
    envelope = _envelope(bundle)
    if envelope is not None:
        return _malformed(bundle, envelope)
    assert isinstance(bundle, Mapping)
    own = _Checks(bundle, trust=trust, chain=chain, today=today, parts=parsed)
    checks, status = own.run()
    verdict = Verdict(
        status=status,
        checks=checks,
        certificate_id=_maybe_str(bundle.get("certificate_id")),
        checkpoint_index=own.checkpoint_index(),
        tree_size=own.tree_size(),
        as_of=own.as_of(),
        first_anchored_index=own.first_anchored,
        key_custody=own.key_custody,
        key_approval_seq=own.key_approval_seq,
        transferred_from=own.transferred_from,
        transfer_seq=own.transfer_seq,
        **own.authority_fields(),
    )
    if status is VerdictStatus.INVALID:
        return verdict
    if chain is None:
        if chain_error is not None:
            verdict = replace(verdict, checks=_with_chain_error(checks, chain_error))
        return verdict
    if not _older_than_chain(own.p, chain):
        return verdict
    return _refreshed(
        bundle,
        verdict,
        trust=trust,
        chain=chain,
        today=today,
        fresh=fresh,
        fresh_source=fresh_source,
        fresh_error=fresh_error,
    )


#: the verdict's fields when no status set by the authority was checked
_NO_AUTHORITY_ACTION: Final[dict[str, Any]] = {
    "status_set_by_authority": False,
    "authority_action_seq": None,
    "authority_action_reason": None,
    "authority_action_at": None,
}


def _refreshed(
    bundle: Mapping[str, Any],
    verdict: Verdict,
    *,
    trust: TrustAnchors,
    chain: ChainFacts,
    today: dt.date,
    fresh: object,
    fresh_source: str | None,
    fresh_error: str | None,
) -> Verdict:
    """The verdict of an older bundle: from the fresh status if it verifies, else STALE."""
    why = fresh_error or "no registry or mirror URL to fetch a fresh status from"
    if fresh is not None:
        try:
            composite = compose(bundle, fresh)
        except CoreError as exc:
            why = f"the fresh status from {fresh_source} is unusable: {exc}"
        else:
            checks_now = _Checks(composite, trust=trust, chain=chain, today=today)
            checks, status = checks_now.run()
            index = checks_now.checkpoint_index()
            failed = [c for c in checks if c.status is CheckStatus.FAILED]
            if failed:
                why = (
                    f"the fresh status from {fresh_source} did not verify: "
                    f"{failed[0].name}: {failed[0].message}"
                )
            elif index is None or index != chain.latest_index:
                why = (
                    f"the fresh status from {fresh_source} is at checkpoint {index}, "
                    f"want the latest, {chain.latest_index}"
                )
            elif composite.get("status") == "UNKNOWN" and bundle.get("status") == "ANCHORED":
                why = f"{fresh_source} proves no such certificate, though the bundle does"
            elif composite.get("status") == "ANCHORED" and bundle.get("status") == "UNKNOWN":
                why = "a certificate with this id was issued since: fetch its bundle"
            else:
                return replace(
                    verdict,
                    status=status,
                    checks=checks,
                    checkpoint_index=index,
                    tree_size=checks_now.tree_size(),
                    as_of=checks_now.as_of(),
                    bundle_checkpoint_index=verdict.checkpoint_index,
                    refreshed_from=fresh_source,
                    first_anchored_index=checks_now.first_anchored,
                    key_custody=checks_now.key_custody,
                    key_approval_seq=checks_now.key_approval_seq,
                    transferred_from=checks_now.transferred_from,
                    transfer_seq=checks_now.transfer_seq,
                    **(_NO_AUTHORITY_ACTION | checks_now.authority_fields()),
                )
    as_of = f"checkpoint {verdict.checkpoint_index}"
    if verdict.as_of is not None:
        as_of += f", {_utc(verdict.as_of)}"
    return replace(
        verdict,
        status=VerdictStatus.STALE,
        checks=_stale(verdict.checks, verdict.status, as_of, why),
        bundle_checkpoint_index=verdict.checkpoint_index,
        **_NO_AUTHORITY_ACTION,  # the status check no longer passes: its fields go with it
    )
