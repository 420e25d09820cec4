"""Proof bundles assembled from the database, checked with the core's verifiers."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, QueuePool
from sqlalchemy.orm import Session, sessionmaker

from registry.assembly import AnchorInfo, ProofAssembler
from registry.bundle import Bundle
from registry.checkpointing import CheckpointBuilder
from registry.core.canonical import canonical_hash
from registry.core.checkpoint import verify_checkpoint
from registry.core.encoding import parse_b64, parse_hex
from registry.core.events import Event, verify_event_signature
from registry.core.note import NoteSigner
from registry.core.proofs import verify_inclusion
from registry.core.statusmap import MapProof, status_leaf_value, verify_map_proof
from registry.db.engine import make_engine, read_only
from registry.db.mapreader import BoundedMapReader
from registry.db.mapstore import AnchoredMapCache
from registry.service import RegistryService
from tests.integration.registry.conftest import admit, sample_submissions
from tests.integration.registry.test_checkpointing import ISSUER, anchor

CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


@pytest.fixture
def assembler(engine: Engine) -> ProofAssembler:
    return ProofAssembler(
        engine=engine,
        map_cache=AnchoredMapCache(),
        anchor_info=lambda: AnchorInfo(chain_id=31337, contract=CONTRACT),
        checkpoint_interval_s=10,
    )


def check_anchored(bundle: Bundle, signer: NoteSigner) -> str:
    """Verify every part of an ANCHORED bundle with the core; return the proven status."""
    assert bundle.status == "ANCHORED"
    assert bundle.record is not None and bundle.event is not None
    assert bundle.checkpoint is not None and bundle.log_inclusion is not None
    assert bundle.status_proof is not None and bundle.status_proof.leaf is not None
    assert bundle.issuer_key is not None and bundle.anchor is not None
    checkpoint = verify_checkpoint(bundle.checkpoint.note, verifier=signer.verifier())
    assert checkpoint.root_hash == parse_hex(bundle.checkpoint.log_root)
    event = Event.from_json(bundle.event)
    verify_event_signature(event, parse_b64(bundle.issuer_key.public_key, size=32))
    verify_inclusion(
        leaf_index=bundle.log_inclusion.leaf_index,
        tree_size=checkpoint.tree_size,
        leaf_hash=event.leaf_hash(),
        proof=[parse_hex(h) for h in bundle.log_inclusion.hashes],
        root_hash=checkpoint.root_hash,
    )
    leaf = bundle.status_proof.leaf
    assert parse_hex(leaf.record_hash) == canonical_hash(bundle.record)
    assert leaf.event_seq == event.seq
    verify_map_proof(
        root_hash=checkpoint.map_root,
        key=parse_hex(bundle.status_proof.key),
        value=status_leaf_value(
            certificate_id=leaf.certificate_id,
            status=leaf.status,
            record_hash=parse_hex(leaf.record_hash),
            event_seq=leaf.event_seq,
        ),
        proof=MapProof.from_json(
            bundle.status_proof.model_dump(
                include={"bitmap", "siblings", "other_leaf"}, exclude_none=True
            )
        ),
    )
    assert bundle.anchor.contract == CONTRACT
    return leaf.status


@pytest.fixture
def signer() -> NoteSigner:
    return NoteSigner(name="test.example/log", private_key=Ed25519PrivateKey.generate())


def test_bundles_through_the_lifecycle(
    service: RegistryService,
    sessions: sessionmaker[Session],
    assembler: ProofAssembler,
    signer: NoteSigner,
    clock: object,
) -> None:
    builder = CheckpointBuilder(
        sessions=sessions, signer=signer, map_cache=AnchoredMapCache(), clock=service._clock
    )
    admit(service)
    submissions = sample_submissions()
    ids = [r.certificate.id for r in service.issue_batch(ISSUER, submissions[:4])]
    current = [cid for cid in ids if service.get(cid).status == "valid"]

    unknown = "0x" + "ab" * 32
    assert assembler.bundle(unknown).status == "UNKNOWN"
    pending = assembler.bundle(ids[0])
    assert pending.status == "PENDING"
    assert pending.checkpoint is None and pending.status_proof is None
    assert pending.record is not None and pending.event is not None
    assert pending.next_checkpoint_due is not None

    assert builder.prepare() is not None
    assert assembler.bundle(ids[0]).status == "PENDING"  # prepared is not anchored
    anchor(builder, sessions, block=5)
    assert check_anchored(assembler.bundle(current[0]), signer) == "valid"

    service.withdraw(ISSUER, current[0], reason="fraud")
    # Until the next anchor, the bundle still proves the anchored (older) state.
    assert check_anchored(assembler.bundle(current[0]), signer) == "valid"
    assert builder.prepare() is not None
    anchor(builder, sessions, block=6)
    withdrawn = assembler.bundle(current[0])
    assert check_anchored(withdrawn, signer) == "withdrawn"
    assert withdrawn.checkpoint is not None and withdrawn.checkpoint.index == 1

    absent = assembler.bundle(unknown)
    assert absent.status == "UNKNOWN"
    assert absent.status_proof is not None and absent.checkpoint is not None
    verify_map_proof(
        root_hash=parse_hex(absent.checkpoint.map_root),
        key=parse_hex(absent.status_proof.key),
        value=None,
        proof=MapProof.from_json(
            absent.status_proof.model_dump(
                include={"bitmap", "siblings", "other_leaf"}, exclude_none=True
            )
        ),
    )
    assert len(withdrawn.model_dump_json()) < 3000


def issued_and_anchored(
    service: RegistryService, sessions: sessionmaker[Session], signer: NoteSigner
) -> list[str]:
    """The sample issuer's certificates, issued and anchored in one checkpoint; their ids."""
    builder = CheckpointBuilder(
        sessions=sessions, signer=signer, map_cache=AnchoredMapCache(), clock=service._clock
    )
    admit(service)
    ids = [r.certificate.id for r in service.issue_batch(ISSUER, sample_submissions())]
    assert builder.prepare() is not None
    anchor(builder, sessions, block=5)
    return ids


def test_a_cold_assembler_under_concurrent_load_does_not_exhaust_the_pool(
    database_url: str,
    service: RegistryService,
    sessions: sessionmaker[Session],
    signer: NoteSigner,
) -> None:
    # A cold assembler's first bundles all miss the checkpoint cache and read it on a pooled
    # connection, then wait for the log tree's lock while its holder reads tiles on another.
    # Holding the first connection while waiting deadlocked the pool (seen under wrk as 500s
    # after the pool's 30 s timeout); here a pool of two and more threads than that.
    ids = issued_and_anchored(service, sessions, signer)

    small = make_engine(database_url, pool_size=2, max_overflow=0, pool_timeout=5)
    try:
        cold = ProofAssembler(
            engine=small,
            map_cache=AnchoredMapCache(),
            anchor_info=lambda: AnchorInfo(chain_id=31337, contract=CONTRACT),
            checkpoint_interval_s=10,
        )
        start = threading.Barrier(8)

        def fetch(certificate_id: str) -> str:
            start.wait()
            return cold.bundle(certificate_id).status

        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(fetch, [ids[i % len(ids)] for i in range(8)]))
        assert statuses == ["ANCHORED"] * 8
    finally:
        small.dispose()


def test_bounded_bundles_are_the_whole_maps_and_read_their_nodes_with_the_row(
    engine: Engine,
    service: RegistryService,
    sessions: sessionmaker[Session],
    signer: NoteSigner,
) -> None:
    # An API process proves from its top levels, an LRU and the nodes read in the bundle's own
    # statement (`ProofMap.wanted`); what it serves must be what the whole map in memory gives.
    ids = issued_and_anchored(service, sessions, signer)
    never_issued = ["0x" + "ab" * 32]
    for hot_nodes in (0, 100_000):
        reader = BoundedMapReader(engine, top_depth=1, hot_nodes=hot_nodes)
        bounded = ProofAssembler(
            engine=engine,
            map_cache=reader,
            anchor_info=lambda: AnchorInfo(chain_id=31337, contract=CONTRACT),
            checkpoint_interval_s=10,
        )
        full = ProofAssembler(
            engine=engine,
            map_cache=AnchoredMapCache(),
            anchor_info=lambda: AnchorInfo(chain_id=31337, contract=CONTRACT),
            checkpoint_interval_s=10,
        )
        for certificate_id in ids + never_issued:
            assert bounded.bundle(certificate_id) == full.bundle(certificate_id)
        for certificate_id in ids:
            check_anchored(bounded.bundle(certificate_id), signer)
        # Below depth 1 every node came with the bundle's row, bar proofs deeper than the
        # reader's running estimate of where proofs end (it starts too deep here: never).
        assert reader.reads == 0, hot_nodes


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite has no server
def test_a_connection_the_server_dropped_is_read_again(
    database_url: str,
    engine: Engine,
    service: RegistryService,
    sessions: sessionmaker[Session],
    signer: NoteSigner,
) -> None:
    # Proof reads run without a pre-ping (registry.db.engine.read_only): a pooled connection
    # PostgreSQL has terminated is found by the statement using it, then thrown away and the
    # statement run on a fresh one, and the caller sees nothing.
    ids = issued_and_anchored(service, sessions, signer)
    small = make_engine(database_url, pool_size=2, max_overflow=0, pool_timeout=5)
    try:
        reader = BoundedMapReader(small, top_depth=1, hot_nodes=0)
        proofs = ProofAssembler(
            engine=small,
            map_cache=reader,
            anchor_info=lambda: AnchorInfo(chain_id=31337, contract=CONTRACT),
            checkpoint_interval_s=10,
        )
        assert check_anchored(proofs.bundle(ids[0]), signer) == "valid"
        pooled = read_only(small)
        assert pooled is not small and pooled is read_only(small)  # one sibling per engine
        with pooled.connect() as connection:
            pids = [connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()]
        with engine.connect() as admin:  # the test's own engine: another pool
            for pid in pids:
                admin.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
        for certificate_id in ids:
            assert check_anchored(proofs.bundle(certificate_id), signer) == "valid"
        assert reader.reads == 0
        siblings_pool = pooled.pool
        assert isinstance(siblings_pool, QueuePool)
        assert siblings_pool.checkedin() > 0
    finally:
        small.dispose()
    assert siblings_pool.checkedin() == 0  # closed with its engine
