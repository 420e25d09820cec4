"""The read-only transparency service: only what an anchored checkpoint covers is served."""

import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from registry.assembly import SharedLogTree
from registry.checkpointing import CheckpointBuilder
from registry.core.note import NoteSigner
from registry.core.proofs import verify_consistency
from registry.db.mapstore import AnchoredMapCache
from registry.db.repositories import LogRepository
from registry.errors import InvalidRequestError
from registry.service import RegistryService
from registry.transparency import MAX_ENTRIES, TransparencyService
from tests.integration.registry.conftest import (
    Clock,
    admit,
    sample_issuer,
    sample_submissions,
)
from tests.integration.registry.test_checkpointing import ISSUER, anchor


@pytest.fixture
def builder(sessions: sessionmaker[Session], clock: Clock) -> CheckpointBuilder:
    signer = NoteSigner(name="test.example/log", private_key=Ed25519PrivateKey.generate())
    return CheckpointBuilder(
        sessions=sessions, signer=signer, map_cache=AnchoredMapCache(), clock=clock
    )


@pytest.fixture
def transparency(engine: Engine, sessions: sessionmaker[Session]) -> TransparencyService:
    return TransparencyService(sessions=sessions, log_tree=SharedLogTree(engine))


def test_checkpoints_proofs_and_entries_stop_at_the_anchored_size(
    service: RegistryService,
    builder: CheckpointBuilder,
    sessions: sessionmaker[Session],
    transparency: TransparencyService,
) -> None:
    admit(service)
    submissions = sample_submissions()
    service.issue_batch(ISSUER, submissions[:2])
    assert transparency.anchored_size() == 0
    assert transparency.checkpoints() == []
    with pytest.raises(InvalidRequestError, match=r"want 1 <= from <= to <= 0 \(anchored\)"):
        transparency.consistency_proof(size1=1, size2=1)

    assert builder.prepare() is not None
    assert transparency.checkpoint(0) is None  # prepared, not anchored
    anchor(builder, sessions, block=5)
    service.issue_batch(ISSUER, submissions[2:5])
    assert builder.prepare() is not None
    anchor(builder, sessions, block=6)
    service.issue_batch(ISSUER, submissions[5:6])  # appended, not anchored

    first, second = transparency.checkpoints()
    assert (first.index, first.tree_size, second.tree_size) == (0, 2, 5)
    assert transparency.checkpoint(1) == second
    assert transparency.checkpoints(start=1, limit=1) == [second]
    assert transparency.anchored_size() == 5
    assert transparency.log_size() == 6

    proof = transparency.consistency_proof(size1=2, size2=5)
    verify_consistency(size1=2, size2=5, proof=proof, root1=first.log_root, root2=second.log_root)
    with pytest.raises(InvalidRequestError, match="to <= 5"):
        transparency.consistency_proof(size1=2, size2=6)

    entries = transparency.entries(start=0, end=5)
    with sessions() as session:
        stored = LogRepository(session).entries(0, 5)
    assert entries == [json.loads(e) for e in stored]
    for start, end in [(0, 6), (3, 3), (-1, 2)]:
        with pytest.raises(InvalidRequestError, match=f"at most {MAX_ENTRIES} entries"):
            transparency.entries(start=start, end=end)


def test_issuers(service: RegistryService, transparency: TransparencyService) -> None:
    assert transparency.issuers() == []
    admit(service)
    issuer = transparency.issuer(ISSUER)
    assert issuer is not None
    assert issuer.name_vi == sample_issuer()["name_vi"]
    assert transparency.issuers() == [issuer]
    assert transparency.issuer("vn-nobody") is None
