"""A walk through the whole verifiable core on the sample certificates, in memory.

Issue every sample certificate, suspend, reinstate, withdraw and supersede a few, sign a
checkpoint, then prove and verify one certificate's event and status and a never-issued id's
absence. It needs no database and no chain, so it runs anywhere `registry.core` runs.
"""

import datetime as dt
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from registry.core.canonical import canonical_hash
from registry.core.checkpoint import Checkpoint, sign_checkpoint, verify_checkpoint
from registry.core.encoding import hex0x
from registry.core.events import Event, EventType, issuer_key_id, sign_event, verify_event_signature
from registry.core.log import LogTree
from registry.core.note import NoteSigner
from registry.core.proofs import verify_inclusion
from registry.core.statusmap import StatusMap, map_key, status_leaf_value, verify_map_proof
from registry.samples import load_samples

DEMO_ORIGIN = "certreg.localhost/demo"

_NEXT_STATUS = {
    EventType.ISSUE: "valid",
    EventType.SUSPEND: "suspended",
    EventType.REINSTATE: "valid",
    EventType.WITHDRAW: "withdrawn",
}


@dataclass
class _Registry:
    log: LogTree
    status_map: StatusMap
    keys: dict[str, Ed25519PrivateKey]
    records: dict[str, dict[str, Any]]
    leaves: list[bytes]
    at: dt.datetime

    def append(self, event: Event) -> Event:
        key = self.keys[event.issuer_id]
        signed = sign_event(event, key)
        self.leaves.append(signed.leaf_bytes())
        self.log.append(self.leaves[-1])
        return signed

    def set_status(self, certificate_id: str, status: str, seq: int) -> None:
        record_hash = canonical_hash(self.records[certificate_id])
        self.status_map.update(
            key=map_key(certificate_id),
            value=status_leaf_value(
                certificate_id=certificate_id,
                status=status,
                record_hash=record_hash,
                event_seq=seq,
            ),
        )

    def event(
        self,
        kind: EventType,
        certificate_id: str,
        *,
        reason: str | None = None,
        supersedes: str | None = None,
    ) -> Event:
        record = self.records[certificate_id]
        issuer_id = record["issuer_id"]
        public = self.keys[issuer_id].public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.at += dt.timedelta(minutes=7)
        return Event(
            seq=self.log.tree_size,
            type=kind,
            certificate_id=certificate_id,
            record_hash=canonical_hash(record),
            issuer_id=issuer_id,
            key_id=issuer_key_id(public),
            at=self.at,
            reason=reason,
            supersedes=supersedes,
        )


def run_demo(*, origin: str = DEMO_ORIGIN) -> dict[str, Any]:
    """Run the walk-through; return what it built and checked as one JSON-ready object."""
    samples = load_samples()
    registry = _Registry(
        log=LogTree(),
        status_map=StatusMap(),
        keys={issuer["id"]: Ed25519PrivateKey.generate() for issuer in samples["issuers"]},
        records={},
        leaves=[],
        at=dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC),
    )
    ids: list[str] = []
    for certificate in samples["certificates"]:
        certificate_id = hex0x(secrets.token_bytes(32))
        record: Mapping[str, Any] = {
            **certificate,
            "id": certificate_id,
            "salt": hex0x(secrets.token_bytes(16)),
        }
        registry.records[certificate_id] = dict(record)
        event = registry.append(registry.event(EventType.ISSUE, certificate_id))
        registry.set_status(certificate_id, "valid", event.seq)
        ids.append(certificate_id)

    changes = [
        (EventType.SUSPEND, ids[1], "non-conformity found in surveillance audit"),
        (EventType.REINSTATE, ids[1], "corrective actions verified"),
        (EventType.SUSPEND, ids[2], "tạm đình chỉ theo yêu cầu của tổ chức"),
        (EventType.WITHDRAW, ids[3], "product no longer conforms to QCVN"),
    ]
    for kind, certificate_id, reason in changes:
        event = registry.append(registry.event(kind, certificate_id, reason=reason))
        registry.set_status(certificate_id, _NEXT_STATUS[kind], event.seq)

    # The last sample certificate replaces the fifth: one event, both leaves change.
    old, new = ids[4], ids[-1]
    event = registry.append(registry.event(EventType.SUPERSEDE, new, supersedes=old))
    registry.set_status(old, "superseded", event.seq)
    registry.set_status(new, "valid", event.seq)

    signer = NoteSigner(name=origin, private_key=Ed25519PrivateKey.generate())
    checkpoint = Checkpoint(
        origin=origin,
        tree_size=registry.log.tree_size,
        root_hash=registry.log.root_hash(),
        map_root=registry.status_map.root_hash,
    )
    note = sign_checkpoint(checkpoint, signer)
    opened = verify_checkpoint(note, verifier=signer.verifier(), origin=origin)

    # Prove the withdrawn certificate's withdrawal event and status against the checkpoint.
    subject = ids[3]
    seq = next(
        i
        for i in range(registry.log.tree_size - 1, -1, -1)
        if Event.from_leaf(registry.leaves[i]).certificate_id == subject
    )
    event = Event.from_leaf(registry.leaves[seq])
    issuer_public = (
        registry.keys[event.issuer_id].public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    )
    verify_event_signature(event, issuer_public)
    verify_inclusion(
        leaf_index=seq,
        tree_size=opened.tree_size,
        leaf_hash=event.leaf_hash(),
        proof=registry.log.inclusion_proof(leaf_index=seq, tree_size=opened.tree_size),
        root_hash=opened.root_hash,
    )
    value = status_leaf_value(
        certificate_id=subject,
        status="withdrawn",
        record_hash=canonical_hash(registry.records[subject]),
        event_seq=seq,
    )
    verify_map_proof(
        root_hash=opened.map_root,
        key=map_key(subject),
        value=value,
        proof=registry.status_map.prove(map_key(subject)),
    )
    unknown = hex0x(secrets.token_bytes(32))
    absence = registry.status_map.prove(map_key(unknown))
    verify_map_proof(root_hash=opened.map_root, key=map_key(unknown), value=None, proof=absence)

    return {
        "certificates": len(ids),
        "events": registry.log.tree_size,
        "checkpoint": note,
        "registry_vkey": signer.verifier().vkey,
        "proved": {
            "certificate_id": subject,
            "number": registry.records[subject]["number"],
            "status": "withdrawn",
            "event_seq": seq,
            "checks": ["issuer_signature", "log_inclusion", "status_map_membership"],
        },
        "proved_absent": unknown,
    }
