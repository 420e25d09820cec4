"""Realistic proof bundles built in memory with the core alone (no database, no chain), and a
tiny chain stand-in answering `ChainQuery`s — for the verifier's unit tests."""

import datetime as dt
import json
import random
import secrets
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from registry.core.canonical import canonical_hash, normalize
from registry.core.checkpoint import Checkpoint, sign_checkpoint
from registry.core.encoding import b64, hex0x
from registry.core.events import Event, EventType, issuer_chain_id, issuer_key_id, sign_event
from registry.core.governance import (
    KINDS,
    Admit,
    ApproveKey,
    AuthorityEntry,
    CertificateAction,
    Custody,
    GovernanceState,
    IssuerLeaf,
    ReinstateIssuer,
    RevokeKey,
    Scope,
    SignedStatement,
    Statement,
    SuspendCertificate,
    SuspendIssuer,
    TransferCertificate,
    WithdrawCertificate,
    WithdrawIssuer,
    apply_statement,
    parse_log_entry,
    sign_statement,
)
from registry.core.ids import certificate_id_for
from registry.core.lifecycle import (
    StatusLeaf,
    apply_certificate_action,
    apply_event,
    check_transfer,
)
from registry.core.log import LogTree
from registry.core.note import NoteSigner
from registry.core.statusmap import StatusMap, map_key
from registry.core.verify import (
    ChainCheckpoint,
    ChainFacts,
    ChainIssuerKey,
    ChainQuery,
    TrustAnchors,
    Verdict,
    chain_query,
    compose,
    needs_refresh,
    verify_bundle,
)
from registry.samples import load_samples

ORIGIN = "registry.example/log"
CHAIN_ID = 31337
#: the events that put a certificate in force: they name the CB's admission (spec §3)
_IN_FORCE = frozenset({EventType.ISSUE, EventType.SUPERSEDE, EventType.REINSTATE})
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
    retired: list[Ed25519PrivateKey] = field(default_factory=list)
    block: int = 10
    at: dt.datetime = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    # Status-map leaves that are no certificate's (see `fill`).
    filler: list[tuple[bytes, bytes]] = field(default_factory=list)
    # The accreditation authority: its key, whether verifiers pin it, and what its statements
    # in the log have set (the CBs' leaves, the keys it approved).
    authority: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    pin_authority: bool = True
    governance: GovernanceState = field(default_factory=GovernanceState)
    # The CB each transferred certificate's events are now signed by (the authority's latest
    # `transfer_certificate` of it); a certificate not in it is its record's CB's.
    holders: dict[str, str] = field(default_factory=dict)

    @property
    def trust(self) -> TrustAnchors:
        return TrustAnchors(
            registry_key=self.signer.verifier(),
            chain_id=CHAIN_ID,
            contract=CONTRACT,
            authority_key=self.authority_public if self.pin_authority else None,
        )

    @property
    def authority_public(self) -> bytes:
        return self.authority.public_key().public_bytes_raw()

    def state(
        self, statement: Statement, *, forged_by: Ed25519PrivateKey | None = None
    ) -> AuthorityEntry:
        """Append the authority's signed `statement` to the log (spec §3a.2); `forged_by`: a
        key that is not the authority's signs it instead (a registry forging a statement)."""
        if forged_by is None:
            signed = sign_statement(statement, self.authority)
        else:
            signed = SignedStatement(
                statement=statement, signature=forged_by.sign(statement.signing_bytes())
            )
        entry = signed.at_seq(len(self.entries))
        apply_statement(self.governance, entry)
        if isinstance(statement, CertificateAction):
            apply_certificate_action(self.leaves, entry)
        if isinstance(statement, TransferCertificate):
            check_transfer(self.leaves, entry)
            self.holders[statement.certificate_id] = statement.to_issuer_id
        self.entries.append(entry.leaf_bytes())
        self.log.append(entry.leaf_bytes())
        return entry

    def _common(self, issuer_id: str) -> dict[str, Any]:
        self.at += dt.timedelta(minutes=1)
        return {
            "issuer_id": issuer_id,
            "at": self.at,
            "authority_key_id": issuer_key_id(self.authority_public),
        }

    def admit(self, issuer_id: str) -> AuthorityEntry:
        """The authority admits `issuer_id` for every kind and standard, 2020 to 2099: its
        events that put a certificate in force name this admission from now on."""
        return self.state(
            Admit(
                **self._common(issuer_id),
                name_vi="Tổ chức chứng nhận",
                name_en="Certification body",
                accreditation_body="BoA",
                accreditation_number="VICAS 001",
                scope=Scope(kinds=tuple(sorted(KINDS))),
                valid_from=dt.date(2020, 1, 1),
                valid_until=dt.date(2099, 12, 31),
            )
        )

    def approve_key(
        self,
        issuer_id: str,
        custody: Custody = Custody.HELD,
        *,
        forged_by: Ed25519PrivateKey | None = None,
    ) -> AuthorityEntry:
        """The authority approves `issuer_id`'s current signing key (spec §3a.1)."""
        public = self.key(issuer_id).public_key().public_bytes_raw()
        return self.state(
            ApproveKey(
                **self._common(issuer_id),
                key_id=issuer_key_id(public),
                public_key=public,
                custody=custody,
            ),
            forged_by=forged_by,
        )

    def suspend_issuer(
        self, issuer_id: str, reason: str = "Tạm đình chỉ chỉ định"
    ) -> AuthorityEntry:
        return self.state(SuspendIssuer(**self._common(issuer_id), reason=reason))

    def reinstate_issuer(self, issuer_id: str, reason: str = "Đã khắc phục") -> AuthorityEntry:
        return self.state(ReinstateIssuer(**self._common(issuer_id), reason=reason))

    def withdraw_issuer(
        self, issuer_id: str, reason: str = "Thu hồi quyết định chỉ định"
    ) -> AuthorityEntry:
        return self.state(WithdrawIssuer(**self._common(issuer_id), reason=reason))

    def act_on_certificate(
        self,
        certificate_id: str,
        action: type[CertificateAction],
        reason: str,
        *,
        forged_by: Ed25519PrivateKey | None = None,
        issuer_id: str | None = None,
    ) -> AuthorityEntry:
        """The authority's `suspend_certificate` (`action` SuspendCertificate) or
        `withdraw_certificate` of a certificate whose CB it suspended or withdrew first (spec
        §3a.5): the certificate's leaf then points at this entry. `issuer_id`: stated of
        another CB than the certificate's (a forgery the lifecycle does not see)."""
        record = self.records[certificate_id]
        return self.state(
            action(
                **self._common(issuer_id or record["issuer_id"]),
                certificate_id=certificate_id,
                record_hash=canonical_hash(record),
                reason=reason,
            ),
            forged_by=forged_by,
        )

    def suspend_certificate(
        self, certificate_id: str, reason: str = "Tạm đình chỉ do tổ chức bị đình chỉ", **kw: Any
    ) -> AuthorityEntry:
        return self.act_on_certificate(certificate_id, SuspendCertificate, reason, **kw)

    def withdraw_certificate(
        self, certificate_id: str, reason: str = "Thu hồi do tổ chức bị thu hồi chỉ định", **kw: Any
    ) -> AuthorityEntry:
        return self.act_on_certificate(certificate_id, WithdrawCertificate, reason, **kw)

    def transfer_certificate(
        self,
        certificate_id: str,
        to_issuer_id: str,
        reason: str = "Chuyển giao chứng nhận theo IAF MD 2",
        *,
        forged_by: Ed25519PrivateKey | None = None,
        record_hash: bytes | None = None,
    ) -> AuthorityEntry:
        """The authority hands `certificate_id` over from the CB that now acts on it (its
        record's, or the one a transfer before handed it to) to `to_issuer_id`, which must be
        admitted: the certificate's events are that CB's from now on (`append`). `record_hash`:
        another than the record's (a forgery the lifecycle refuses, so not applied to it)."""
        statement = TransferCertificate(
            **self._common(self.holder(certificate_id)),
            certificate_id=certificate_id,
            record_hash=record_hash or canonical_hash(self.records[certificate_id]),
            to_issuer_id=to_issuer_id,
            reason=reason,
        )
        if record_hash is None:
            return self.state(statement, forged_by=forged_by)
        signed = sign_statement(statement, self.authority)
        entry = signed.at_seq(len(self.entries))
        self.entries.append(entry.leaf_bytes())
        self.log.append(entry.leaf_bytes())
        return entry

    def holder(self, certificate_id: str) -> str:
        """The CB whose events act on `certificate_id` now: the one the latest transfer handed
        it to, else its record's."""
        return self.holders.get(certificate_id) or str(self.records[certificate_id]["issuer_id"])

    def revoke_key(self, issuer_id: str, revoked_from_seq: int) -> AuthorityEntry:
        public = self.key(issuer_id).public_key().public_bytes_raw()
        return self.state(
            RevokeKey(
                **self._common(issuer_id),
                key_id=issuer_key_id(public),
                revoked_from_seq=revoked_from_seq,
            )
        )

    def authority_json(self, seq: int) -> dict[str, Any]:
        """The authority entry at `seq`, as JSON."""
        entry = parse_log_entry(self.entries[seq])
        assert isinstance(entry, AuthorityEntry)
        return entry.to_json()

    def key(self, issuer_id: str) -> Ed25519PrivateKey:
        if issuer_id not in self.issuer_keys:
            self.issuer_keys[issuer_id] = Ed25519PrivateKey.generate()
            public = self.issuer_keys[issuer_id].public_key().public_bytes_raw()
            self.key_blocks[issuer_key_id(public)] = (1, 0)
        return self.issuer_keys[issuer_id]

    def rotate(self, issuer_id: str, *, revoked_at: int | None = None) -> None:
        """A new signing key for `issuer_id` from the next block; the old one is revoked then
        (a routine rotation), or at `revoked_at` (a compromise found later)."""
        old = self.key(issuer_id)
        old_id = issuer_key_id(old.public_key().public_bytes_raw())
        self.block += 1
        valid_from, _ = self.key_blocks[old_id]
        self.key_blocks[old_id] = (valid_from, self.block if revoked_at is None else revoked_at)
        self.retired.append(old)
        new = Ed25519PrivateKey.generate()
        self.issuer_keys[issuer_id] = new
        self.key_blocks[issuer_key_id(new.public_key().public_bytes_raw())] = (self.block, 0)

    def public_key(self, key_id: bytes) -> bytes:
        for private in (*self.issuer_keys.values(), *self.retired):
            public = private.public_key().public_bytes_raw()
            if issuer_key_id(public) == key_id:
                return public
        raise KeyError(key_id.hex())

    def append(
        self, kind: EventType, certificate_id: str, *, by: str | None = None, **extra: Any
    ) -> Event:
        """Append `kind` of `certificate_id`, signed by the CB that now acts on it (`holder`: the
        record's, or the one the authority transferred it to), or by `by` (e.g. a CB it was not
        transferred to)."""
        record = self.records[certificate_id]
        issuer_id = by or self.holder(certificate_id)
        private = self.key(issuer_id)
        self.at += dt.timedelta(minutes=5)
        admitted = self.governance.issuers.get(issuer_id)
        if admitted is not None and kind in _IN_FORCE:
            extra.setdefault("admission_seq", admitted.admission_seq)
        event = sign_event(
            Event(
                seq=len(self.entries),
                type=kind,
                certificate_id=certificate_id,
                record_hash=canonical_hash(record),
                issuer_id=issuer_id,
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

    def fill(self, count: int, rng: random.Random) -> None:
        """`count` more log leaves and status-map leaves that are no certificate's (random
        hashes): a world the size of a large registry, to measure proofs at that size without
        issuing every certificate. Only `issue`, `append`, `checkpoint` and `bundle` work on a
        filled world (the filler entries are not events)."""
        leaves = rng.randbytes(32 * count)
        self.log.append_leaf_hashes([leaves[i : i + 32] for i in range(0, len(leaves), 32)])
        self.entries.extend([b""] * count)
        pairs = rng.randbytes(64 * count)
        self.filler.extend(
            (pairs[i : i + 32], pairs[i + 32 : i + 64]) for i in range(0, len(pairs), 64)
        )

    def checkpoint(self) -> int:
        status_map = StatusMap()
        issuers: list[IssuerLeaf] = list(self.governance.issuers.values())
        status_map.update_many(
            [(leaf.key, leaf.value) for leaf in self.leaves.values()]
            + [(leaf.key, leaf.value) for leaf in issuers]
            + self.filler
        )
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
        action = None
        entry = parse_log_entry(self.entries[leaf.event_seq])
        if isinstance(entry, AuthorityEntry):
            # The authority set the status: the bundle proves its entry, and the certificate's
            # latest event before it.
            action = entry.seq
            event = max(
                (e for e in self.events() if e.certificate_id == certificate_id and e.seq < action),
                key=lambda e: e.seq,
            )
        else:
            event = entry
        public = self.public_key(event.key_id)
        bundle: dict[str, Any] = json.loads(
            json.dumps(
                {
                    "format": "certreg-bundle/2",
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
                    "first_anchored_index": self.first_covering(event.seq),
                }
            )
        )
        if event.admission_seq is not None:
            bundle["admission"] = self.authority_member(event.admission_seq, cp.tree_size)
        approval = self.governance.keys.get((event.issuer_id, event.key_id))
        if approval is not None and approval.approved_seq < event.seq:
            bundle["key_approval"] = self.authority_member(approval.approved_seq, cp.tree_size)
        if action is not None:
            bundle["authority_action"] = self.authority_member(action, cp.tree_size)
        if event.issuer_id != self.records[certificate_id]["issuer_id"]:
            transfer = self.latest_transfer(certificate_id, before=event.seq)
            if transfer is not None:
                bundle["transfer"] = self.authority_member(transfer, cp.tree_size)
        return bundle

    def latest_transfer(self, certificate_id: str, *, before: int) -> int | None:
        """The seq of the authority's latest `transfer_certificate` of `certificate_id` before
        log position `before`: what the registry puts in a bundle whose event is another CB's
        than the record's (spec §8 `transfer`)."""
        found = None
        for raw in self.entries[:before]:
            entry = parse_log_entry(raw) if raw else None
            if (
                isinstance(entry, AuthorityEntry)
                and isinstance(entry.statement, TransferCertificate)
                and entry.statement.certificate_id == certificate_id
            ):
                found = entry.seq
        return found

    def authority_member(self, seq: int, tree_size: int) -> dict[str, Any]:
        """`{entry, log_inclusion}` of the authority entry at `seq` (spec §8)."""
        return {
            "entry": self.authority_json(seq),
            "log_inclusion": {
                "leaf_index": seq,
                "tree_size": tree_size,
                "hashes": [
                    hex0x(h) for h in self.log.inclusion_proof(leaf_index=seq, tree_size=tree_size)
                ],
            },
        }

    def events(self) -> list[Event]:
        """The certificate events of the log (authority entries left out)."""
        parsed = [parse_log_entry(entry) for entry in self.entries]
        return [e for e in parsed if isinstance(e, Event)]

    def pending_bundle(self, certificate_id: str) -> dict[str, Any]:
        event = max(
            (e for e in self.events() if e.certificate_id == certificate_id), key=lambda e: e.seq
        )
        public = self.public_key(event.key_id)
        return {
            "format": "certreg-bundle/2",
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
            "first_anchored_index": None,
            "next_checkpoint_due": "2026-01-01T00:10:00Z",
        }

    def chain_checkpoint(self, index: int) -> ChainCheckpoint:
        cp, _, block, _, _ = self.checkpoints[index]
        return ChainCheckpoint(
            tree_size=cp.tree_size,
            log_root=cp.root_hash,
            map_root=cp.map_root,
            block_number=block,
            timestamp=1_700_000_000 + block,
        )

    def first_covering(self, seq: int) -> int:
        return next(i for i, c in enumerate(self.checkpoints) if c[0].tree_size > seq)

    def facts(self, query: ChainQuery) -> ChainFacts:
        """What a chain holding our checkpoints and keys would answer."""
        wanted = set(query.checkpoints)
        first = {}
        if query.first_anchoring is not None and query.first_anchoring[1] is None:
            seq = query.first_anchoring[0]
            if any(c[0].tree_size > seq for c in self.checkpoints):
                first[seq] = self.first_covering(seq)
                wanted |= {first[seq], first[seq] - 1} - {-1}
        checkpoints = {
            i: self.chain_checkpoint(i) for i in wanted if 0 <= i < len(self.checkpoints)
        }
        keys: dict[tuple[bytes, bytes], ChainIssuerKey | None] = {}
        for ref in query.issuer_keys:
            keys[ref] = None
            for issuer_id, private in [*self.issuer_keys.items(), *self._retired_by_issuer()]:
                public = private.public_key().public_bytes_raw()
                key_id = issuer_key_id(public)
                if ref == (issuer_chain_id(issuer_id), key_id):
                    valid_from, revoked_at = self.key_blocks[key_id]
                    keys[ref] = ChainIssuerKey(
                        public_key=public, valid_from=valid_from, revoked_at=revoked_at
                    )
        txs = {}
        if query.anchor_tx is not None and query.anchor_tx[1] in checkpoints:
            tx_hash, index = query.anchor_tx
            txs[query.anchor_tx] = (
                tx_hash == "0x" + checkpoints[index].block_number.to_bytes(32, "big").hex()
            )
        return ChainFacts(
            latest_index=len(self.checkpoints) - 1 if self.checkpoints else None,
            checkpoints=checkpoints,
            issuer_keys=keys,
            anchor_txs=txs,
            first_anchoring=first,
            head_block=self.block + 1 if query.head_block else None,
        )

    def _retired_by_issuer(self) -> list[tuple[str, Ed25519PrivateKey]]:
        if not self.retired:
            return []
        by_key = {issuer_key_id(p.public_key().public_bytes_raw()): p for p in self.retired}
        out = []
        for event in self.events():
            if event.key_id in by_key:
                out.append((event.issuer_id, by_key.pop(event.key_id)))
        return out

    def facts_for(self, bundle: object) -> ChainFacts:
        return self.facts(chain_query(bundle))

    def status_document(self, certificate_id: str) -> dict[str, Any]:
        """What `GET /v1/certificates/{id}/status-proof` answers, at the latest checkpoint."""
        bundle = self.bundle(certificate_id)
        document = {k: v for k, v in bundle.items() if k != "record"}
        document["format"] = "certreg-status/1"
        return document

    def verify(self, bundle: object, *, fresh: bool = True, today: dt.date = TODAY) -> Verdict:
        """The verdict with this chain, refreshing an older bundle from this registry."""
        facts = self.facts_for(bundle)
        document = None
        if fresh and needs_refresh(bundle, facts) and isinstance(bundle, dict):
            document = self.status_document(bundle["certificate_id"])
            facts = facts.merged(self.facts_for(compose(bundle, document)))
        return verify_bundle(
            bundle,
            trust=self.trust,
            chain=facts,
            today=today,
            fresh=document,
            fresh_source="registry.example" if document is not None else None,
        )


def sample(kind: str, n: int = 0) -> dict[str, Any]:
    certificates = [c for c in load_samples()["certificates"] if c["kind"] == kind]
    return dict(certificates[n])
