"""The bounded map reader proves exactly what the whole map in memory proves, at every anchored
version, with the top levels, the LRU and the database each doing part of the work."""

import secrets

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from registry.checkpointing import CheckpointBuilder
from registry.core.statusmap import map_key
from registry.db.mapreader import BoundedMapReader
from registry.db.mapstore import AnchoredMapCache, StaleCacheError, anchored_version
from registry.service import RegistryService
from tests.integration.registry.conftest import admit, sample_submissions
from tests.integration.registry.test_checkpointing import ISSUER, anchor, builder, signer

__all__ = ["builder", "signer"]  # fixtures shared with test_checkpointing


def keys(ids: list[str]) -> list[bytes]:
    # issued ids, and ids never issued (non-membership proofs)
    return [map_key(i) for i in ids] + [secrets.token_bytes(32) for _ in range(10)]


def same_proofs(engine: Engine, reader: BoundedMapReader, ids: list[str]) -> None:
    full = AnchoredMapCache()
    with engine.connect() as connection:
        version = anchored_version(connection)
        full.sync(connection, version)
        reader.sync(connection, version)
    for key in keys(ids):
        assert reader.prove(key, version) == full.prove(key, version)


@pytest.mark.parametrize("hot_nodes", [0, 8, 100_000], ids=["no-lru", "tiny-lru", "big-lru"])
def test_the_same_proofs_as_the_whole_map_at_every_version(
    engine: Engine,
    sessions: sessionmaker[Session],
    service: RegistryService,
    builder: CheckpointBuilder,
    hot_nodes: int,
) -> None:
    admit(service)
    reader = BoundedMapReader(engine, top_depth=2, hot_nodes=hot_nodes)
    submissions = sample_submissions()
    ids: list[str] = []
    for round_ in range(3):
        for n, submission in enumerate(submissions):
            fields = submission.model_dump(mode="json", exclude_none=True)
            fields["number"] = f"{fields['number']}-M{round_}-{n}"
            created = service.issue(ISSUER, type(submission).model_validate(fields))
            ids.append(created.certificate.id)
        if round_ == 1:
            service.withdraw(ISSUER, ids[0], reason="fraud")  # a deep node changes
        assert builder.prepare() is not None
        anchor(builder, sessions, block=10 + round_)
        same_proofs(engine, reader, ids)
    assert reader.reads > 0  # below depth 2, the database answered
    assert len(reader) <= (2**3) + hot_nodes


def test_a_proof_across_an_anchoring_is_refused(
    engine: Engine,
    sessions: sessionmaker[Session],
    service: RegistryService,
    builder: CheckpointBuilder,
) -> None:
    """A reader still at version v that meets rows of v+1 says so instead of mixing them."""
    admit(service)
    ids = [service.issue(ISSUER, s).certificate.id for s in sample_submissions()]
    assert builder.prepare() is not None
    anchor(builder, sessions, block=10)
    reader = BoundedMapReader(engine, top_depth=1, hot_nodes=0)
    with engine.connect() as connection:
        reader.sync(connection, 0)
    service.withdraw(ISSUER, ids[0], reason="fraud")
    assert builder.prepare() is not None
    anchor(builder, sessions, block=11)

    def prove_all() -> None:
        for key in keys(ids):
            reader.prove(key, 0)

    with pytest.raises(StaleCacheError):
        prove_all()
