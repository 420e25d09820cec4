"""A walk through the whole verifiable core on the sample certificates, in memory, under the
same rules as the registry and its verifiers.

Issue every sample certificate (ids from `certificate_id_for`, via `build_record`), suspend,
reinstate and withdraw a few, and supersede one with a corrected certificate under a new
number; every status change is `apply_event`'s, so the history is one the spec allows. Then
sign a checkpoint, verify one certificate's proof bundle and a never-issued id's with the
verifier's own decision logic (`verify_bundle`), and replay the whole log from the start to the
same map root, as an auditor would.

It needs no database and no chain. The chain's part is played by `ChainFacts` built here: what
a contract holding this checkpoint (anchored at block `DEMO_BLOCK`) and these issuer keys would
answer a verifier. Without chain facts `verify_bundle` says UNCONFIRMED, by design: a bundle
alone never proves that its checkpoint is anchored or that its issuer key is registered.
"""

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from registry.core.canonical import canonical_hash
from registry.core.checkpoint import Checkpoint, sign_checkpoint
from registry.core.encoding import b64, hex0x
from registry.core.events import Event, EventType, issuer_chain_id, issuer_key_id, sign_event
from registry.core.ids import certificate_id_for
from registry.core.lifecycle import StatusLeaf, apply_event
from registry.core.log import LogTree
from registry.core.note import NoteSigner
from registry.core.statusmap import StatusMap, map_key
from registry.core.verify import (
    ChainCheckpoint,
    ChainFacts,
    ChainIssuerKey,
    TrustAnchors,
    Verdict,
    VerdictStatus,
    chain_query,
    verify_bundle,
)
from registry.records import CertificateSubmission, build_record
from registry.samples import load_samples

__all__ = ["DEMO_BLOCK", "DEMO_CHAIN_ID", "DEMO_CONTRACT", "DEMO_ORIGIN", "run_demo"]

DEMO_ORIGIN: Final = "certreg.localhost/demo"
DEMO_CHAIN_ID: Final = 31337
DEMO_CONTRACT: Final = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
DEMO_BLOCK: Final = 12  # the block the demo's checkpoint is "anchored" in
_KEYS_FROM_BLOCK: Final = 2  # the block the issuer keys are "registered" in


@dataclass
class _Registry:
    """The log, the status leaves (by certificate id) and the issuers' keys."""

    keys: dict[str, Ed25519PrivateKey]
    at: dt.datetime
    log: LogTree = field(default_factory=LogTree)
    entries: list[bytes] = field(default_factory=list)
    leaves: dict[str, StatusLeaf] = field(default_factory=dict)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)

    def key_id(self, issuer_id: str) -> bytes:
        return issuer_key_id(self.keys[issuer_id].public_key().public_bytes_raw())

    def append(
        self,
        kind: EventType,
        certificate_id: str,
        *,
        reason: str | None = None,
        supersedes: str | None = None,
    ) -> Event:
        """Sign the event, apply it to the status leaves (refused if the spec forbids it),
        then append it to the log."""
        record = self.records[certificate_id]
        issuer_id = record["issuer_id"]
        self.at += dt.timedelta(minutes=7)
        event = sign_event(
            Event(
                seq=self.log.tree_size,
                type=kind,
                certificate_id=certificate_id,
                record_hash=canonical_hash(record),
                issuer_id=issuer_id,
                key_id=self.key_id(issuer_id),
                at=self.at,
                reason=reason,
                supersedes=supersedes,
            ),
            self.keys[issuer_id],
        )
        apply_event(self.leaves, event)
        self.entries.append(event.leaf_bytes())
        self.log.append(event.leaf_bytes())
        return event

    def issue(self, certificate: dict[str, Any], **extra: Any) -> str:
        submission = CertificateSubmission.model_validate(certificate)
        record = {**build_record(submission, issuer_id=certificate["issuer_id"]), **extra}
        self.records[record["id"]] = record
        return str(record["id"])


def _status_map(leaves: dict[str, StatusLeaf]) -> StatusMap:
    status_map = StatusMap()
    status_map.update_many([(leaf.key, leaf.value) for leaf in leaves.values()])
    return status_map


def _replay(entries: list[bytes]) -> bytes:
    """The map root from the log alone: `apply_event` over every entry, from the start."""
    leaves: dict[str, StatusLeaf] = {}
    for entry in entries:
        apply_event(leaves, Event.from_leaf(entry))
    return _status_map(leaves).root_hash


def _bundle(
    registry: _Registry, status_map: StatusMap, checkpoint: dict[str, Any], certificate_id: str
) -> dict[str, Any]:
    """The certificate's proof bundle (docs/spec.md §8), as the registry's assembler makes it."""
    key = map_key(certificate_id)
    proof = status_map.prove(key).to_json()
    anchor = {
        "chain_id": DEMO_CHAIN_ID,
        "contract": DEMO_CONTRACT,
        "tx_hash": None,
        "block_number": DEMO_BLOCK,
    }
    leaf = registry.leaves.get(certificate_id)
    if leaf is None:
        return {
            "format": "certreg-bundle/2",
            "status": "UNKNOWN",
            "certificate_id": certificate_id,
            "record": None,
            "event": None,
            "log_inclusion": None,
            "status_proof": {"key": hex0x(key), "leaf": None, **proof},
            "checkpoint": checkpoint,
            "anchor": anchor,
            "issuer_key": None,
            "first_anchored_index": None,
        }
    event = Event.from_leaf(registry.entries[leaf.event_seq])
    public = registry.keys[event.issuer_id].public_key().public_bytes_raw()
    return {
        "format": "certreg-bundle/2",
        "status": "ANCHORED",
        "certificate_id": certificate_id,
        "record": registry.records[certificate_id],
        "event": event.to_json(),
        "log_inclusion": {
            "leaf_index": event.seq,
            "tree_size": checkpoint["tree_size"],
            "hashes": [
                hex0x(h)
                for h in registry.log.inclusion_proof(
                    leaf_index=event.seq, tree_size=checkpoint["tree_size"]
                )
            ],
        },
        "status_proof": {
            "key": hex0x(key),
            "leaf": {
                "certificate_id": leaf.certificate_id,
                "status": leaf.status,
                "record_hash": hex0x(leaf.record_hash),
                "event_seq": leaf.event_seq,
            },
            **proof,
        },
        "checkpoint": checkpoint,
        "anchor": anchor,
        "issuer_key": {
            "issuer_id": event.issuer_id,
            "key_id": hex0x(event.key_id),
            "public_key": b64(public),
        },
        "first_anchored_index": 0,
    }


def _chain_facts(registry: _Registry, checkpoint: Checkpoint, bundle: object) -> ChainFacts:
    """What a contract holding `checkpoint` as its only checkpoint (index 0, at `DEMO_BLOCK`)
    and every issuer key (registered at block 2, none revoked) answers about `bundle`."""
    query = chain_query(bundle)
    on_chain = ChainCheckpoint(
        tree_size=checkpoint.tree_size,
        log_root=checkpoint.root_hash,
        map_root=checkpoint.map_root,
        block_number=DEMO_BLOCK,
        timestamp=int(registry.at.timestamp()),
    )
    keys: dict[tuple[bytes, bytes], ChainIssuerKey | None] = {}
    for ref in query.issuer_keys:
        keys[ref] = None
        for issuer_id, private in registry.keys.items():
            public = private.public_key().public_bytes_raw()
            if ref == (issuer_chain_id(issuer_id), issuer_key_id(public)):
                keys[ref] = ChainIssuerKey(
                    public_key=public, valid_from=_KEYS_FROM_BLOCK, revoked_at=0
                )
    return ChainFacts(
        latest_index=0,
        checkpoints={0: on_chain} if 0 in query.checkpoints else {},
        issuer_keys=keys,
        head_block=DEMO_BLOCK + 1 if query.head_block else None,
    )


def run_demo(*, origin: str = DEMO_ORIGIN) -> dict[str, Any]:
    """Run the walk-through; return what it built and checked as one JSON-ready object."""
    samples = load_samples()
    registry = _Registry(
        keys={issuer["id"]: Ed25519PrivateKey.generate() for issuer in samples["issuers"]},
        at=dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC),
    )
    ids = [registry.issue(certificate) for certificate in samples["certificates"]]
    for certificate_id in ids:
        registry.append(EventType.ISSUE, certificate_id)

    changes = [
        (EventType.SUSPEND, ids[1], "non-conformity found in surveillance audit"),
        (EventType.REINSTATE, ids[1], "corrective actions verified"),
        (EventType.SUSPEND, ids[2], "tạm đình chỉ theo yêu cầu của tổ chức"),
        (EventType.WITHDRAW, ids[3], "product no longer conforms to QCVN"),
    ]
    for kind, certificate_id, reason in changes:
        registry.append(kind, certificate_id, reason=reason)

    # A corrected certificate under a new number replaces the fifth: one event, both leaves
    # change (the replacement is new to the log, as the spec requires of a supersede).
    old = ids[4]
    original = next(
        c
        for c in samples["certificates"]
        if certificate_id_for(issuer_id=c["issuer_id"], number=c["number"]) == old
    )
    replacement = registry.issue({**original, "number": original["number"] + "-R1"}, supersedes=old)
    registry.append(
        EventType.SUPERSEDE, replacement, reason="corrected product model", supersedes=old
    )

    signer = NoteSigner(name=origin, private_key=Ed25519PrivateKey.generate())
    status_map = _status_map(registry.leaves)
    checkpoint = Checkpoint(
        origin=origin,
        tree_size=registry.log.tree_size,
        root_hash=registry.log.root_hash(),
        map_root=status_map.root_hash,
    )
    note = sign_checkpoint(checkpoint, signer)
    bundle_checkpoint = {
        "index": 0,
        "tree_size": checkpoint.tree_size,
        "log_root": hex0x(checkpoint.root_hash),
        "map_root": hex0x(checkpoint.map_root),
        "note": note,
    }
    trust = TrustAnchors(
        registry_key=signer.verifier(), chain_id=DEMO_CHAIN_ID, contract=DEMO_CONTRACT
    )
    today = registry.at.date()

    def verdict_of(certificate_id: str) -> Verdict:
        bundle = _bundle(registry, status_map, bundle_checkpoint, certificate_id)
        facts = _chain_facts(registry, checkpoint, bundle)
        return verify_bundle(bundle, trust=trust, chain=facts, today=today)

    subject = ids[3]  # the withdrawn one
    proved = verdict_of(subject)
    unknown = certificate_id_for(issuer_id=original["issuer_id"], number="never-issued")
    absent = verdict_of(unknown)
    superseded = verdict_of(old)
    for verdict, want in [
        (proved, VerdictStatus.WITHDRAWN),
        (absent, VerdictStatus.UNKNOWN),
        (superseded, VerdictStatus.SUPERSEDED),
    ]:
        if verdict.status is not want:
            raise AssertionError(f"demo verdict: got {verdict.to_json()}, want {want.value}")
    replayed = _replay(registry.entries)
    if replayed != checkpoint.map_root:
        raise AssertionError("demo replay: got another map root than the checkpoint's")

    return {
        "certificates": len(registry.records),
        "events": registry.log.tree_size,
        "checkpoint": note,
        "registry_vkey": signer.verifier().vkey,
        "proved": {
            "certificate_id": subject,
            "number": registry.records[subject]["number"],
            "status": registry.leaves[subject].status,
            "event_seq": registry.leaves[subject].event_seq,
            "verdict": proved.status.value,
            "checks": [c.name for c in proved.checks if c.status.value == "passed"],
        },
        "superseded": {
            "certificate_id": old,
            "by": replacement,
            "verdict": superseded.status.value,
        },
        "proved_absent": unknown,
        "absent_verdict": absent.status.value,
        "replayed_map_root": hex0x(replayed),
        "chain": "simulated: the facts a contract holding this checkpoint would give",
    }
