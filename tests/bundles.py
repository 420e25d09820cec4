"""Realistic proof bundles built in memory with the core alone (no database, no chain), and a
tiny chain stand-in answering `ChainQuery`s — for the verifier's unit tests."""

import datetime as dt
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from registry.core.canonical import canonical_hash, normalize
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
    ChainQuery,
    TrustAnchors,
    chain_query,
)
from registry.samples import load_samples

ORIGIN = "registry.example/log"
CHAIN_ID = 31337
CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
TODAY = dt.date(2026, 11, 25)


@dataclass
class World:
    """A registry in memory: the log, the map, checkpoints 'on chain', keys."""

    signer: NoteSigner = field(
        default_factory=lambda: NoteSigner(name=ORIGIN, private_key=Ed25519PrivateKey.generate())
    )
    issuer_keys: dict[str, Ed25519PrivateKey] = field(default_factory=dict)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    entries: list[bytes] = field(default_factory=list)
    leaves: dict[str, StatusLeaf] = field(default_factory=dict)
    log: LogTree = field(default_factory=LogTree)
    checkpoints: list[tuple[Checkpoint, str, int, dict[str, StatusLeaf], StatusMap]] = field(
        default_factory=list
    )
    key_blocks: dict[bytes, tuple[int, int]] = field(default_factory=dict)  # valid_from, revoked
    block: int = 10
    at: dt.datetime = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

    @property
    def trust(self) -> TrustAnchors:
        return TrustAnchors(
            registry_key=self.signer.verifier(), chain_id=CHAIN_ID, contract=CONTRACT
        )

    def key(self, issuer_id: str) -> Ed25519PrivateKey:
        if issuer_id not in self.issuer_keys:
            self.issuer_keys[issuer_id] = Ed25519PrivateKey.generate()
            public = self.issuer_keys[issuer_id].public_key().public_bytes_raw()
            self.key_blocks[issuer_key_id(public)] = (1, 0)
        return self.issuer_keys[issuer_id]

    def append(self, kind: EventType, certificate_id: str, **extra: Any) -> Event:
        record = self.records[certificate_id]
        private = self.key(record["issuer_id"])
        self.at += dt.timedelta(minutes=5)
        event = sign_event(
            Event(
                seq=len(self.entries),
                type=kind,
                certificate_id=certificate_id,
                record_hash=canonical_hash(record),
                issuer_id=record["issuer_id"],
                key_id=issuer_key_id(private.public_key().public_bytes_raw()),
                at=self.at,
                **extra,
            ),
            private,
        )
        self.entries.append(event.leaf_bytes())
        self.log.append(event.leaf_bytes())
        apply_event(self.leaves, event)
        return event

    def issue(self, sample: dict[str, Any], **overrides: Any) -> str:
        fields = {**sample, **overrides}
        certificate_id = certificate_id_for(issuer_id=fields["issuer_id"], number=fields["number"])
        record = normalize({**fields, "id": certificate_id, "salt": hex0x(secrets.token_bytes(16))})
        assert isinstance(record, dict)
        self.records[certificate_id] = record
        self.append(EventType.ISSUE, certificate_id)
        return certificate_id

    def supersede(self, old: str, sample: dict[str, Any], **overrides: Any) -> str:
        fields = {**sample, **overrides}
        new = certificate_id_for(issuer_id=fields["issuer_id"], number=fields["number"])
        record = normalize(
            {**fields, "id": new, "salt": hex0x(secrets.token_bytes(16)), "supersedes": old}
        )
        assert isinstance(record, dict)
        self.records[new] = record
        self.append(EventType.SUPERSEDE, new, supersedes=old)
        return new

    def checkpoint(self) -> int:
        status_map = StatusMap()
        status_map.update_many([(leaf.key, leaf.value) for leaf in self.leaves.values()])
        cp = Checkpoint(
            origin=ORIGIN,
            tree_size=self.log.tree_size,
            root_hash=self.log.root_hash(),
            map_root=status_map.root_hash,
        )
        self.block += 3
        self.checkpoints.append(
            (cp, sign_checkpoint(cp, self.signer), self.block, dict(self.leaves), status_map)
        )
        return len(self.checkpoints) - 1

    def bundle(self, certificate_id: str, *, index: int | None = None) -> dict[str, Any]:
        """What the registry's proof assembler returns, at checkpoint `index` (default latest)."""
        index = len(self.checkpoints) - 1 if index is None else index
        cp, note, block, leaves, status_map = self.checkpoints[index]
        key = map_key(certificate_id)
        proof = status_map.prove(key).to_json()
        leaf = leaves.get(certificate_id)
        anchor = {
            "chain_id": CHAIN_ID,
            "contract": CONTRACT,
            "tx_hash": "0x" + (block).to_bytes(32, "big").hex(),
            "block_number": block,
        }
        checkpoint = {
            "index": index,
            "tree_size": cp.tree_size,
            "log_root": hex0x(cp.root_hash),
            "map_root": hex0x(cp.map_root),
            "note": note,
        }
        if leaf is None:
            return {
                "format": "certreg-bundle/1",
                "status": "UNKNOWN",
                "certificate_id": certificate_id,
                "record": None,
                "event": None,
                "log_inclusion": None,
                "status_proof": {"key": hex0x(key), "leaf": None, **proof},
                "checkpoint": checkpoint,
                "anchor": anchor,
                "issuer_key": None,
            }
        event = Event.from_leaf(self.entries[leaf.event_seq])
        public = self.issuer_keys[event.issuer_id].public_key().public_bytes_raw()
        bundle: dict[str, Any] = json.loads(
            json.dumps(
                {
                    "format": "certreg-bundle/1",
                    "status": "ANCHORED",
                    "certificate_id": certificate_id,
                    "record": self.records[certificate_id],
                    "event": event.to_json(),
                    "log_inclusion": {
                        "leaf_index": event.seq,
                        "tree_size": cp.tree_size,
                        "hashes": [
                            hex0x(h)
                            for h in self.log.inclusion_proof(
                                leaf_index=event.seq, tree_size=cp.tree_size
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
                }
            )
        )
        return bundle

    def pending_bundle(self, certificate_id: str) -> dict[str, Any]:
        seq = max(
            i
            for i, entry in enumerate(self.entries)
            if Event.from_leaf(entry).certificate_id == certificate_id
        )
        event = Event.from_leaf(self.entries[seq])
        public = self.issuer_keys[event.issuer_id].public_key().public_bytes_raw()
        return {
            "format": "certreg-bundle/1",
            "status": "PENDING",
            "certificate_id": certificate_id,
            "record": self.records[certificate_id],
            "event": event.to_json(),
            "log_inclusion": None,
            "status_proof": None,
            "checkpoint": None,
            "anchor": None,
            "issuer_key": {
                "issuer_id": event.issuer_id,
                "key_id": hex0x(event.key_id),
                "public_key": b64(public),
            },
            "next_checkpoint_due": "2026-01-01T00:10:00Z",
        }

    def facts(self, query: ChainQuery) -> ChainFacts:
        """What a chain holding our checkpoints and keys would answer."""
        checkpoint = None
        if query.checkpoint_index is not None and query.checkpoint_index < len(self.checkpoints):
            cp, _, block, _, _ = self.checkpoints[query.checkpoint_index]
            checkpoint = ChainCheckpoint(
                tree_size=cp.tree_size,
                log_root=cp.root_hash,
                map_root=cp.map_root,
                block_number=block,
                timestamp=1_700_000_000 + block,
            )
        issuer_key = None
        for issuer_id, private in self.issuer_keys.items():
            public = private.public_key().public_bytes_raw()
            key_id = issuer_key_id(public)
            if query.issuer_chain_id == issuer_chain_id(issuer_id) and query.key_id == key_id:
                valid_from, revoked_at = self.key_blocks[key_id]
                issuer_key = ChainIssuerKey(
                    public_key=public, valid_from=valid_from, revoked_at=revoked_at
                )
        tx_ok = None
        if query.tx_hash is not None and checkpoint is not None:
            tx_ok = query.tx_hash == "0x" + checkpoint.block_number.to_bytes(32, "big").hex()
        return ChainFacts(
            checkpoint=checkpoint,
            latest_index=len(self.checkpoints) - 1 if self.checkpoints else None,
            issuer_key=issuer_key,
            anchor_tx_matches=tx_ok,
        )

    def facts_for(self, bundle: object) -> ChainFacts:
        return self.facts(chain_query(bundle))


def sample(kind: str, n: int = 0) -> dict[str, Any]:
    certificates = [c for c in load_samples()["certificates"] if c["kind"] == kind]
    return dict(certificates[n])
