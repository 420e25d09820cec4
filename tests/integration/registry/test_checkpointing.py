"""Forming checkpoints from the stored events, and finalising them once anchored."""

import datetime as dt

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session, sessionmaker

from registry.checkpointing import CheckpointBuilder
from registry.core.checkpoint import verify_checkpoint
from registry.core.events import Event
from registry.core.lifecycle import StatusLeaf, apply_event
from registry.core.log import LogTree
from registry.core.note import NoteSigner
from registry.core.proofs import verify_consistency
from registry.core.statusmap import StatusMap, verify_map_proof
from registry.db.mapstore import AnchoredMapCache, CachedMapStore
from registry.db.repositories import CheckpointRepository, LogRepository
from registry.service import RegistryService
from tests.integration.registry.conftest import Clock, admit, sample_submissions

ISSUER = "vn-cb-quatest3"


@pytest.fixture
def signer() -> NoteSigner:
    return NoteSigner(name="test.example/log", private_key=Ed25519PrivateKey.generate())


@pytest.fixture
def builder(sessions: sessionmaker[Session], signer: NoteSigner, clock: Clock) -> CheckpointBuilder:
    return CheckpointBuilder(
        sessions=sessions, signer=signer, map_cache=AnchoredMapCache(), clock=clock
    )


def replay(sessions: sessionmaker[Session], size: int) -> tuple[bytes, bytes]:
    """(log root, map root) recomputed from the first `size` stored events alone."""
    with sessions() as session:
        entries = LogRepository(session).entries(0, size)
    tree = LogTree()
    tree.append_many(entries)
    leaves: dict[str, StatusLeaf] = {}
    for entry in entries:
        apply_event(leaves, Event.from_leaf(entry))
    status_map = StatusMap()
    status_map.update_many([(leaf.key, leaf.value) for leaf in leaves.values()])
    return tree.root_hash(), status_map.root_hash


def anchor(builder: CheckpointBuilder, sessions: sessionmaker[Session], block: int) -> None:
    with sessions.begin() as session:
        checkpoint = CheckpointRepository(session).latest()
        assert checkpoint is not None
        builder.finalize(
            session,
            checkpoint,
            block_number=block,
            block_timestamp=1_700_000_000 + block,
            tx_hash=None,
        )


class TestPrepare:
    def test_nothing_to_do_without_events(self, builder: CheckpointBuilder) -> None:
        assert builder.prepare() is None

    def test_signs_the_roots_of_the_stored_log(
        self,
        service: RegistryService,
        builder: CheckpointBuilder,
        sessions: sessionmaker[Session],
        signer: NoteSigner,
    ) -> None:
        admit(service)
        service.issue_batch(ISSUER, sample_submissions())
        row = builder.prepare()
        assert row is not None
        assert (row.index, row.state) == (0, "prepared")
        signed = verify_checkpoint(row.note, verifier=signer.verifier(), origin="test.example/log")
        assert (signed.tree_size, signed.root_hash, signed.map_root) == (
            row.tree_size,
            row.log_root,
            row.map_root,
        )
        assert (row.log_root, row.map_root) == replay(sessions, row.tree_size)

    def test_one_unanchored_checkpoint_at_a_time(
        self, service: RegistryService, builder: CheckpointBuilder
    ) -> None:
        admit(service)
        first, second = sample_submissions()[:2]
        service.issue(ISSUER, first)
        assert builder.prepare() is not None
        service.issue(ISSUER, second)
        assert builder.prepare() is None


class TestFinalize:
    def test_the_anchored_map_serves_proofs_and_the_next_checkpoint_extends(
        self,
        service: RegistryService,
        builder: CheckpointBuilder,
        sessions: sessionmaker[Session],
        clock: Clock,
    ) -> None:
        admit(service)
        submissions = sample_submissions()
        ids = [r.certificate.id for r in service.issue_batch(ISSUER, submissions[:3])]
        first = builder.prepare()
        assert first is not None
        anchor(builder, sessions, block=10)
        service.suspend(ISSUER, ids[0], reason="audit")
        service.issue_batch(ISSUER, submissions[3:])
        second = builder.prepare()
        assert second is not None
        assert second.index == 1
        with sessions() as session:
            proof = builder.consistency_proof(session, second)
        verify_consistency(
            size1=first.tree_size,
            size2=second.tree_size,
            root1=first.log_root,
            root2=second.log_root,
            proof=proof,
        )
        assert (second.log_root, second.map_root) == replay(sessions, second.tree_size)
        anchor(builder, sessions, block=11)

        cache = AnchoredMapCache()
        with sessions() as session:
            assert cache.sync(session) == 1
            status_map = StatusMap(CachedMapStore(session, cache))
            assert status_map.root_hash == second.map_root
            leaves: dict[str, StatusLeaf] = {}
            for entry in LogRepository(session).entries(0, second.tree_size):
                apply_event(leaves, Event.from_leaf(entry))
            leaf = leaves[ids[0]]
            assert leaf.status == "suspended"
            verify_map_proof(
                root_hash=second.map_root,
                key=leaf.key,
                value=leaf.value,
                proof=status_map.prove(leaf.key),
            )

    def test_is_due_by_count_or_age(
        self,
        service: RegistryService,
        builder: CheckpointBuilder,
        sessions: sessionmaker[Session],
        clock: Clock,
    ) -> None:
        admit(service)
        service.issue(ISSUER, sample_submissions()[0])
        with sessions() as session:
            pending = builder.pending(session)
        assert pending.events == 1
        assert builder.is_due(pending, interval_s=60, max_events=1)
        assert not builder.is_due(pending, interval_s=60, max_events=10)
        clock.advance(seconds=61)
        assert builder.is_due(pending, interval_s=60, max_events=10)
        assert isinstance(pending.oldest_at, dt.datetime)
