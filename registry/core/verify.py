"""The verifier's decision logic (DESIGN §7): a proof bundle in, a verdict out.

Pure: what the chain says comes in as `ChainFacts`, fetched by a thin layer outside the core
(`anchoring.verify`) for the `ChainQuery` this module derives from the bundle. Without chain
facts the chain checks are `skipped`, shown but not failing.

Every check is named (docs/spec.md §9 lists the codes). A `failed` check means the bundle is
tampered with or forged, and makes the verdict `INVALID`; an `error` check means the verifier
could not establish something (e.g. a newer checkpoint exists and the caller asked for the
current status) and makes it `UNKNOWN`; otherwise the status-map leaf and the validity dates
decide. The bundle is parsed here, strictly, from plain JSON: any malformed part fails the
check that needs it, so every tampered byte shows as a failed check rather than a crash.
"""

import contextlib
import datetime as dt
import enum
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from registry.core.canonical import canonical_hash
from registry.core.checkpoint import Checkpoint, verify_checkpoint
from registry.core.encoding import hex0x, parse_b64, parse_date, parse_hex
from registry.core.errors import CoreError
from registry.core.events import Event, EventType, issuer_chain_id, issuer_key_id
from registry.core.events import verify_event_signature as _verify_event_signature
from registry.core.ids import certificate_id_for
from registry.core.lifecycle import NEXT_STATUS
from registry.core.note import NoteVerifier
from registry.core.proofs import verify_inclusion
from registry.core.statusmap import (
    MapProof,
    map_key,
    status_leaf_value,
    verify_map_proof,
)

__all__ = [
    "BUNDLE_FORMAT",
    "CHECK_NAMES",
    "ChainCheckpoint",
    "ChainFacts",
    "ChainIssuerKey",
    "ChainQuery",
    "Check",
    "CheckStatus",
    "TrustAnchors",
    "Verdict",
    "VerdictStatus",
    "chain_query",
    "verify_bundle",
]

BUNDLE_FORMAT: Final = "certreg-bundle/1"

CHECK_NAMES: Final = (
    "record_integrity",
    "issuer_signature",
    "issuer_key_registered",
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
    PENDING = "PENDING"
    INVALID = "INVALID"
    UNKNOWN = "UNKNOWN"


_FROM_LEAF: Final = {
    "valid": VerdictStatus.VALID,
    "suspended": VerdictStatus.SUSPENDED,
    "withdrawn": VerdictStatus.WITHDRAWN,
    "superseded": VerdictStatus.SUPERSEDED,
}


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
    """The overall status and the named checks, in `CHECK_NAMES` order."""

    status: VerdictStatus
    checks: tuple[Check, ...]
    certificate_id: str | None = None
    checkpoint_index: int | None = None
    tree_size: int | None = None

    def check(self, name: str) -> Check:
        return next(c for c in self.checks if c.name == name)

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "certificate_id": self.certificate_id,
            "checkpoint_index": self.checkpoint_index,
            "tree_size": self.tree_size,
            "checks": [c.to_json() for c in self.checks],
        }


@dataclass(frozen=True)
class TrustAnchors:
    """What the verifier pins from its own configuration, never from the bundle."""

    registry_key: NoteVerifier  # the checkpoint-signing key; its name is the log's origin
    chain_id: int
    contract: str  # 0x address, compared case-insensitively


@dataclass(frozen=True)
class ChainQuery:
    """What the chain must be asked for a bundle (None: not needed, or not derivable)."""

    checkpoint_index: int | None
    issuer_chain_id: bytes | None
    key_id: bytes | None
    tx_hash: str | None


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


@dataclass(frozen=True)
class ChainFacts:
    """What the contract said: the bundle's checkpoint (None: not on chain), the latest index
    (None: no checkpoint at all), the issuer key (None: not registered), and whether the
    anchoring transaction emitted this checkpoint (None: not checked)."""

    checkpoint: ChainCheckpoint | None
    latest_index: int | None
    issuer_key: ChainIssuerKey | None
    anchor_tx_matches: bool | None = None


class _MalformedError(CoreError):
    pass


# --- strict reading of plain JSON -----------------------------------------------------------


def _object(
    value: object, what: str, *, required: set[str], optional: frozenset[str] = frozenset()
) -> dict[str, Any]:
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
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 2**63 - 1:
        raise _MalformedError(f"{what}: got {value!r:.40}, want a non-negative integer")
    return value


def _str(value: object, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise _MalformedError(f"{what}: got {value!r:.40}, want a non-empty string")
    return value


def _hashes(value: object, what: str) -> list[bytes]:
    if not isinstance(value, list):
        raise _MalformedError(f"{what}: got {type(value).__name__}, want a list of hashes")
    return [parse_hex(v, what=f"{what}[{i}]") for i, v in enumerate(value)]


@dataclass(frozen=True)
class _ClaimedCheckpoint:
    tree_size: int
    log_root: bytes
    map_root: bytes


@dataclass
class _Parsed:
    """The bundle's parts, each parsed lazily; a part that does not parse records why."""

    raw: Mapping[str, Any]
    errors: dict[str, str] = field(default_factory=dict)
    cache: dict[str, Any] = field(default_factory=dict)

    def get(self, part: str) -> Any:
        if part in self.cache:
            return self.cache[part]
        if part in self.errors:
            raise _MalformedError(self.errors[part])
        try:
            value = getattr(self, f"_parse_{part}")()
        except (CoreError, ValueError, TypeError, KeyError) as exc:
            self.errors[part] = str(exc) or type(exc).__name__
            raise _MalformedError(self.errors[part]) from exc
        self.cache[part] = value
        return value

    def present(self, part: str) -> bool:
        return self.raw.get(part) is not None

    def _parse_certificate_id(self) -> str:
        return _str(self.raw.get("certificate_id"), "certificate_id")

    def _parse_record(self) -> tuple[dict[str, Any], bytes]:
        record = self.raw.get("record")
        if not isinstance(record, dict):
            raise _MalformedError(f"record: got {type(record).__name__}, want an object")
        return record, canonical_hash(record)

    def _parse_event(self) -> Event:
        return Event.from_json(self.raw.get("event"))

    def _parse_issuer_key(self) -> tuple[str, bytes, bytes]:
        key = _object(
            self.raw.get("issuer_key"), "issuer_key", required={"issuer_id", "key_id", "public_key"}
        )
        return (
            _str(key["issuer_id"], "issuer_key.issuer_id"),
            parse_hex(key["key_id"], what="issuer_key.key_id"),
            parse_b64(key["public_key"], size=32, what="issuer_key.public_key"),
        )

    def _parse_log_inclusion(self) -> tuple[int, int, list[bytes]]:
        proof = _object(
            self.raw.get("log_inclusion"),
            "log_inclusion",
            required={"leaf_index", "tree_size", "hashes"},
        )
        return (
            _int(proof["leaf_index"], "log_inclusion.leaf_index"),
            _int(proof["tree_size"], "log_inclusion.tree_size"),
            _hashes(proof["hashes"], "log_inclusion.hashes"),
        )

    def _parse_checkpoint(self) -> tuple[int, _ClaimedCheckpoint, str]:
        raw = _object(
            self.raw.get("checkpoint"),
            "checkpoint",
            required={"index", "tree_size", "log_root", "map_root", "note"},
        )
        index = _int(raw["index"], "checkpoint.index")
        claimed = (
            _int(raw["tree_size"], "checkpoint.tree_size"),
            parse_hex(raw["log_root"], what="checkpoint.log_root"),
            parse_hex(raw["map_root"], what="checkpoint.map_root"),
        )
        note = _str(raw["note"], "checkpoint.note")
        return index, _ClaimedCheckpoint(*claimed), note

    def _parse_status_proof(self) -> tuple[bytes, dict[str, Any] | None, MapProof]:
        raw = _object(
            self.raw.get("status_proof"),
            "status_proof",
            required={"key", "leaf", "bitmap", "siblings"},
            optional=frozenset({"other_leaf"}),
        )
        leaf = raw["leaf"]
        if leaf is not None:
            leaf = _object(
                leaf,
                "status_proof.leaf",
                required={"certificate_id", "status", "record_hash", "event_seq"},
            )
        proof_json = {"bitmap": raw["bitmap"], "siblings": raw["siblings"]}
        if "other_leaf" in raw:
            if raw["other_leaf"] is None:
                raise _MalformedError(
                    "status_proof.other_leaf: got null, want it omitted or an object"
                )
            proof_json["other_leaf"] = raw["other_leaf"]
        return parse_hex(raw["key"], what="status_proof.key"), leaf, MapProof.from_json(proof_json)

    def _parse_anchor(self) -> tuple[int, str, str | None, int]:
        raw = _object(
            self.raw.get("anchor"),
            "anchor",
            required={"chain_id", "contract", "tx_hash", "block_number"},
        )
        contract = _str(raw["contract"], "anchor.contract")
        parse_hex(contract.lower(), size=20, what="anchor.contract")
        tx_hash = raw["tx_hash"]
        if tx_hash is not None:
            parse_hex(tx_hash, what="anchor.tx_hash")
        return (
            _int(raw["chain_id"], "anchor.chain_id"),
            contract,
            tx_hash,
            _int(raw["block_number"], "anchor.block_number"),
        )


_TOP_REQUIRED: Final = {
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
_TOP_OPTIONAL: Final = {"next_checkpoint_due"}
_BUNDLE_STATES: Final = ("ANCHORED", "PENDING", "UNKNOWN")


def chain_query(bundle: object) -> ChainQuery:
    """What to ask the chain for `bundle`; parts that do not parse are left out."""
    parsed = _Parsed(bundle if isinstance(bundle, Mapping) else {})
    index = tx_hash = None
    issuer = key_id = None
    with contextlib.suppress(_MalformedError):
        index = parsed.get("checkpoint")[0]
    with contextlib.suppress(_MalformedError):
        tx_hash = parsed.get("anchor")[2]
    try:
        issuer_id, key_id, _ = parsed.get("issuer_key")
        issuer = issuer_chain_id(issuer_id)
    except _MalformedError:
        pass
    return ChainQuery(
        checkpoint_index=index, issuer_chain_id=issuer, key_id=key_id, tx_hash=tx_hash
    )


# --- the checks -------------------------------------------------------------------------------


def _passed(name: str, code: str, message: str) -> Check:
    return Check(name, CheckStatus.PASSED, code, message)


def _failed(name: str, code: str, message: str) -> Check:
    return Check(name, CheckStatus.FAILED, code, message)


def _skipped(name: str, code: str, message: str) -> Check:
    return Check(name, CheckStatus.SKIPPED, code, message)


class _Verifier:
    def __init__(
        self,
        bundle: object,
        *,
        trust: TrustAnchors,
        chain: ChainFacts | None,
        today: dt.date,
        require_current: bool,
        chain_unavailable: str | None = None,
    ) -> None:
        self.chain_unavailable = chain_unavailable
        self.bundle = bundle
        self.raw: Mapping[str, Any] = bundle if isinstance(bundle, Mapping) else {}
        self.p = _Parsed(self.raw)
        self.trust = trust
        self.chain = chain
        self.today = today
        self.require_current = require_current
        self.state = self.raw.get("status")

    # record_integrity
    def record_integrity(self) -> Check:
        name = "record_integrity"
        if self.state == "UNKNOWN":
            if self.p.present("record") or self.p.present("event"):
                return _failed(name, "unexpected_record", "an UNKNOWN bundle carries a record")
            return _skipped(name, "no_record", "no certificate was issued under this id")
        try:
            certificate_id = self.p.get("certificate_id")
            record, record_hash = self.p.get("record")
            event = self.p.get("event")
        except _MalformedError as exc:
            return _failed(name, "malformed_record", str(exc))
        if record.get("id") != certificate_id:
            return _failed(
                name,
                "record_id_mismatch",
                f"record.id: got {record.get('id')!r:.80}, want {certificate_id!r:.80}",
            )
        issuer_id, number = record.get("issuer_id"), record.get("number")
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
                _, leaf, _ = self.p.get("status_proof")
            except _MalformedError as exc:
                return _failed(name, "malformed_status_proof", str(exc))
            if leaf is None or leaf.get("record_hash") != hex0x(record_hash):
                return _failed(
                    name,
                    "record_hash_mismatch",
                    f"record hash: got {hex0x(record_hash)}, want the status leaf's "
                    f"{(leaf or {}).get('record_hash')!r:.80}",
                )
        return _passed(
            name, "record_matches", f"the record hashes to {hex0x(record_hash)} as registered"
        )

    # issuer_signature
    def issuer_signature(self) -> Check:
        name = "issuer_signature"
        if self.state == "UNKNOWN":
            return _skipped(name, "no_record", "no event to check")
        try:
            event = self.p.get("event")
        except _MalformedError as exc:
            return _failed(name, "malformed_event", str(exc))
        if not self.p.present("issuer_key"):
            if self.state == "PENDING":
                return _skipped(name, "key_not_provided", "the bundle names no issuer key yet")
            return _failed(name, "malformed_issuer_key", "issuer_key: got null, want the key")
        try:
            issuer_id, key_id, public_key = self.p.get("issuer_key")
            record, _ = self.p.get("record")
        except _MalformedError as exc:
            return _failed(name, "malformed_issuer_key", str(exc))
        if issuer_key_id(public_key) != key_id or event.key_id != key_id:
            return _failed(
                name,
                "key_mismatch",
                f"key id: got event {hex0x(event.key_id)} and key {hex0x(key_id)}, "
                f"want both {hex0x(issuer_key_id(public_key))} (H(public key))",
            )
        if not issuer_id == event.issuer_id == record.get("issuer_id"):
            return _failed(
                name,
                "issuer_mismatch",
                f"issuer: got key {issuer_id!r}, event {event.issuer_id!r}, "
                f"record {record.get('issuer_id')!r}, want one issuer",
            )
        try:
            _verify_event_signature(event, public_key)
        except CoreError as exc:
            return _failed(name, "signature_invalid", str(exc))
        return _passed(name, "signature_valid", f"signed by {issuer_id} with key {hex0x(key_id)}")

    # issuer_key_registered
    def issuer_key_registered(self) -> Check:
        name = "issuer_key_registered"
        if self.state != "ANCHORED":
            return _skipped(name, "not_anchored", "checked once the event is anchored")
        if self.chain is None:
            return _skipped(name, "no_chain_access", "the chain was not consulted")
        try:
            _, _, public_key = self.p.get("issuer_key")
        except _MalformedError as exc:
            return _failed(name, "malformed_issuer_key", str(exc))
        key = self.chain.issuer_key
        if key is None:
            return _failed(name, "key_not_registered", "the contract has no such issuer key")
        if key.public_key != public_key:
            return _failed(name, "key_mismatch", "the contract holds another public key")
        if self.chain.checkpoint is None:
            return _failed(name, "not_on_chain", "the checkpoint is not on chain")
        block = self.chain.checkpoint.block_number
        if not key.valid_from <= block or (key.revoked_at and key.revoked_at <= block):
            return _failed(
                name,
                "key_not_in_force",
                f"key in force from block {key.valid_from} to "
                f"{key.revoked_at or 'now'}, want it in force at block {block}",
            )
        return _passed(
            name,
            "key_in_force",
            f"registered on chain from block {key.valid_from}, in force at {block}",
        )

    # log_inclusion
    def log_inclusion(self) -> Check:
        name = "log_inclusion"
        if self.state != "ANCHORED":
            return _skipped(name, "not_anchored", "no anchored checkpoint covers the event yet")
        try:
            event = self.p.get("event")
            leaf_index, tree_size, hashes = self.p.get("log_inclusion")
            _, checkpoint, _ = self.p.get("checkpoint")
        except _MalformedError as exc:
            return _failed(name, "malformed_proof", str(exc))
        if leaf_index != event.seq or tree_size != checkpoint.tree_size:
            return _failed(
                name,
                "inclusion_mismatch",
                f"inclusion of leaf {leaf_index} in {tree_size}, want leaf {event.seq} "
                f"in the checkpoint's {checkpoint.tree_size}",
            )
        try:
            verify_inclusion(
                leaf_index=leaf_index,
                tree_size=tree_size,
                leaf_hash=event.leaf_hash(),
                proof=hashes,
                root_hash=checkpoint.log_root,
            )
        except CoreError as exc:
            return _failed(name, "inclusion_invalid", str(exc))
        return _passed(name, "included", f"event {event.seq} is in the log of {tree_size} events")

    # checkpoint_anchored
    def checkpoint_anchored(self) -> Check:
        name = "checkpoint_anchored"
        if self.state == "PENDING":
            if self.p.present("checkpoint") or self.p.present("anchor"):
                return _failed(name, "unexpected_checkpoint", "a PENDING bundle names a checkpoint")
            return _skipped(name, "not_anchored", "the next checkpoint will cover this event")
        if self._unknown_before_first_checkpoint():
            return _skipped(name, "no_checkpoint", "the registry has no anchored checkpoint yet")
        try:
            index, claimed, note = self.p.get("checkpoint")
            chain_id, contract, _, block_number = self.p.get("anchor")
        except _MalformedError as exc:
            return _failed(name, "malformed_checkpoint", str(exc))
        try:
            signed = _verified_checkpoint(note, self.trust.registry_key)
        except CoreError as exc:
            return _failed(name, "note_invalid", str(exc))
        if (signed.tree_size, signed.root_hash, signed.map_root) != (
            claimed.tree_size,
            claimed.log_root,
            claimed.map_root,
        ):
            return _failed(name, "checkpoint_mismatch", "the signed note says other roots")
        if chain_id != self.trust.chain_id or contract.lower() != self.trust.contract.lower():
            return _failed(
                name,
                "anchor_mismatch",
                f"anchor: got chain {chain_id} contract {contract}, want chain "
                f"{self.trust.chain_id} contract {self.trust.contract}",
            )
        if self.chain is None:
            return _skipped(
                name,
                "no_chain_access",
                f"checkpoint {index} is signed by the registry; the chain was not consulted",
            )
        on_chain = self.chain.checkpoint
        if on_chain is None:
            return _failed(name, "not_on_chain", f"checkpoint {index} is not on chain")
        if (on_chain.tree_size, on_chain.log_root, on_chain.map_root) != (
            claimed.tree_size,
            claimed.log_root,
            claimed.map_root,
        ):
            return _failed(
                name, "chain_mismatch", f"the chain's checkpoint {index} has other roots"
            )
        if on_chain.block_number != block_number or self.chain.anchor_tx_matches is False:
            return _failed(name, "anchor_tx_mismatch", f"checkpoint {index} was anchored elsewhere")
        latest = self.chain.latest_index
        if latest is not None and latest > index:
            if self.require_current:
                return Check(
                    name,
                    CheckStatus.ERROR,
                    "newer_checkpoint",
                    f"proves checkpoint {index}, but the chain has checkpoint {latest}: "
                    "fetch a fresh bundle for the current status",
                )
            return _passed(
                name,
                "anchored_older",
                f"checkpoint {index} is on chain at block {block_number}; newer ones exist",
            )
        return _passed(
            name,
            "anchored_latest",
            f"checkpoint {index} is the latest on chain (block {block_number})",
        )

    def _unknown_before_first_checkpoint(self) -> bool:
        """An UNKNOWN bundle from a registry with no anchored checkpoint: no proof exists."""
        return self.state == "UNKNOWN" and not any(
            self.p.present(part) for part in ("checkpoint", "anchor", "status_proof")
        )

    # certificate_status
    def certificate_status(self) -> tuple[Check, str | None]:
        name = "certificate_status"
        if self.state == "PENDING":
            if self.p.present("status_proof") or self.p.present("log_inclusion"):
                return _failed(name, "unexpected_proof", "a PENDING bundle carries proofs"), None
            return _skipped(name, "not_anchored", "not yet in the anchored status map"), None
        if self._unknown_before_first_checkpoint():
            return _skipped(name, "no_checkpoint", "nothing is anchored yet to prove against"), None
        try:
            certificate_id = self.p.get("certificate_id")
            key, leaf, proof = self.p.get("status_proof")
            _, checkpoint, _ = self.p.get("checkpoint")
        except _MalformedError as exc:
            return _failed(name, "malformed_status_proof", str(exc)), None
        if key != map_key(certificate_id):
            return _failed(name, "key_mismatch", "status_proof.key is not H(certificate_id)"), None
        if self.state == "UNKNOWN":
            if leaf is not None:
                return _failed(name, "unexpected_leaf", "an UNKNOWN bundle proves a leaf"), None
            try:
                verify_map_proof(root_hash=checkpoint.map_root, key=key, value=None, proof=proof)
            except CoreError as exc:
                return _failed(name, "status_proof_invalid", str(exc)), None
            return _passed(name, "not_issued", "no certificate has this id"), None
        if leaf is None:
            return _failed(name, "malformed_status_proof", "status_proof.leaf: got null"), None
        try:
            event = self.p.get("event")
            value = status_leaf_value(
                certificate_id=leaf["certificate_id"],
                status=leaf["status"],
                record_hash=parse_hex(leaf["record_hash"], what="leaf.record_hash"),
                event_seq=leaf["event_seq"],
            )
        except (CoreError, _MalformedError) as exc:
            return _failed(name, "malformed_status_proof", str(exc)), None
        if leaf["certificate_id"] != certificate_id or leaf["event_seq"] != event.seq:
            return _failed(
                name, "leaf_event_mismatch", "the status leaf names another certificate or event"
            ), None
        expected = _status_after(event, certificate_id)
        if expected is None or expected != leaf["status"]:
            return _failed(
                name,
                "leaf_event_mismatch",
                f"status leaf {leaf['status']!r} does not follow from a {event.type.value} event",
            ), None
        try:
            verify_map_proof(root_hash=checkpoint.map_root, key=key, value=value, proof=proof)
        except CoreError as exc:
            return _failed(name, "status_proof_invalid", str(exc)), None
        status = str(leaf["status"])
        return _passed(
            name, status, f"{status} at checkpoint of {checkpoint.tree_size} events"
        ), status

    # validity_period
    def validity_period(self) -> tuple[Check, str | None]:
        name = "validity_period"
        if self.state == "UNKNOWN":
            return _skipped(name, "no_record", "no record"), None
        try:
            record, _ = self.p.get("record")
            valid_from = parse_date(record.get("valid_from"), what="record.valid_from")
            until_raw = record.get("valid_until")
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

    def run(self) -> Verdict:
        envelope = self._envelope()
        if envelope is not None:
            checks = tuple(_failed(n, "malformed_bundle", envelope) for n in CHECK_NAMES)
            return Verdict(status=VerdictStatus.INVALID, checks=checks)
        status_check, leaf_status = self.certificate_status()
        validity_check, validity = self.validity_period()
        checks = (
            self.record_integrity(),
            self.issuer_signature(),
            self.issuer_key_registered(),
            self.log_inclusion(),
            self.checkpoint_anchored(),
            status_check,
            validity_check,
        )
        if self.chain_unavailable is not None:
            # Chain access was asked for and failed: what it would have checked is unknown.
            checks = tuple(
                Check(c.name, CheckStatus.ERROR, "chain_unavailable", self.chain_unavailable)
                if c.status is CheckStatus.SKIPPED and c.code == "no_chain_access"
                else c
                for c in checks
            )
        index = tree_size = None
        try:
            index, claimed, _ = self.p.get("checkpoint")
            tree_size = claimed.tree_size
        except _MalformedError:
            pass
        return Verdict(
            status=_overall(checks, self.state, leaf_status, validity),
            checks=checks,
            certificate_id=_maybe_str(self.raw.get("certificate_id")),
            checkpoint_index=index,
            tree_size=tree_size,
        )

    def _envelope(self) -> str | None:
        raw = self.raw
        if not isinstance(self.bundle, Mapping):
            return f"bundle: got {type(self.bundle).__name__}, want an object"
        missing = _TOP_REQUIRED - raw.keys()
        unknown = raw.keys() - _TOP_REQUIRED - _TOP_OPTIONAL
        if missing or unknown:
            return f"bundle: got members {sorted(raw)}, want {sorted(_TOP_REQUIRED)}"
        if raw.get("format") != BUNDLE_FORMAT:
            return f"format: got {raw.get('format')!r:.40}, want {BUNDLE_FORMAT!r}"
        if raw.get("status") not in _BUNDLE_STATES:
            return f"status: got {raw.get('status')!r:.40}, want one of {_BUNDLE_STATES}"
        return None


@functools.lru_cache(maxsize=256)
def _verified_checkpoint(note: str, registry_key: NoteVerifier) -> Checkpoint:
    # Many bundles share one checkpoint: its note is verified once (a pure function of both).
    return verify_checkpoint(note, verifier=registry_key)


def _maybe_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _status_after(event: Event, certificate_id: str) -> str | None:
    """The status `event` gives `certificate_id` (docs/spec.md §5.7), None if it names another."""
    if event.certificate_id == certificate_id:
        return NEXT_STATUS[event.type]
    if event.type is EventType.SUPERSEDE and event.supersedes == certificate_id:
        return "superseded"
    return None


def _overall(
    checks: Sequence[Check], state: object, leaf_status: str | None, validity: str | None
) -> VerdictStatus:
    if any(c.status is CheckStatus.FAILED for c in checks):
        return VerdictStatus.INVALID
    if any(c.status is CheckStatus.ERROR for c in checks):
        return VerdictStatus.UNKNOWN
    if state == "PENDING":
        return VerdictStatus.PENDING
    if state == "UNKNOWN" or leaf_status is None:
        return VerdictStatus.UNKNOWN
    status = _FROM_LEAF[leaf_status]
    if status is VerdictStatus.VALID and validity == "expired":
        return VerdictStatus.EXPIRED
    return status


def verify_bundle(
    bundle: object,
    *,
    trust: TrustAnchors,
    chain: ChainFacts | None,
    today: dt.date,
    require_current: bool = False,
    chain_unavailable: str | None = None,
) -> Verdict:
    """The verdict on `bundle` (plain JSON), trusting only `trust` and, if given, the chain.

    `today` is the verifier's date (UTC) for the validity period. With `require_current`, a
    bundle whose checkpoint is not the chain's latest cannot pass: it says how the certificate
    stood then, not now (`checkpoint_anchored` is an `error`, the verdict `UNKNOWN`). Pass
    `chain_unavailable` (a message) with `chain=None` when the chain was asked but did not
    answer: its checks become `error`s and the verdict `UNKNOWN`, never `VALID`.
    """
    return _Verifier(
        bundle,
        trust=trust,
        chain=chain,
        today=today,
        require_current=require_current,
        chain_unavailable=chain_unavailable,
    ).run()
