"""ChainReader: several RPC endpoints must agree on every fact a verdict uses; a failing one
makes the verdict UNCONFIRMED. The endpoints here are stand-ins answering from a World (the
chain itself is exercised in tests/integration and tests/e2e)."""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import pytest

from anchoring.client import AnchorClient
from registry.core.verify import ChainQuery, VerdictStatus, chain_query
from tests.bundles import CONTRACT, TODAY, World, sample
from verifier.chain import ChainReader, ChainUnavailableError
from verifier.verify import Verifier


@dataclass
class _Checkpoint:
    index: int
    tree_size: int
    log_root: bytes
    map_root: bytes
    block_number: int
    timestamp: int


@dataclass
class _Key:
    public_key: bytes
    valid_from: int
    revoked_at: int

    @property
    def registered(self) -> bool:
        return self.public_key != bytes(32)


class WorldNode:
    """Answers the AnchorClient reads the verifier makes, from `world` (optionally lying)."""

    def __init__(self, world: World, *, map_root: bytes | None = None) -> None:
        self.world = world
        self.map_root = map_root
        self.chain = self
        self.w3 = self
        self.eth = self
        self.address = CONTRACT

    def check_code(self) -> None:
        """The world's contract carries our code."""

    def predecessor(self) -> None:
        """A first contract."""
        return

    @property
    def block_number(self) -> int:
        return self.world.block + 1

    def checkpoint(self, index: int) -> _Checkpoint | None:
        if not 0 <= index < len(self.world.checkpoints):
            return None
        c = self.world.chain_checkpoint(index)
        return _Checkpoint(
            index,
            c.tree_size,
            c.log_root,
            self.map_root or c.map_root,
            c.block_number,
            c.timestamp,
        )

    def latest_checkpoint(self) -> _Checkpoint | None:
        return self.checkpoint(len(self.world.checkpoints) - 1)

    def issuer_key(self, *, issuer_id: bytes, key_id: bytes) -> _Key:
        facts = self.world.facts(ChainQuery(issuer_keys=frozenset({(issuer_id, key_id)})))
        key = facts.issuer_keys[issuer_id, key_id]
        if key is None:
            return _Key(bytes(32), 0, 0)
        return _Key(key.public_key, key.valid_from, key.revoked_at)


def _factory(node: Any) -> Callable[[], AnchorClient]:
    return lambda: cast(AnchorClient, node)


def reader(*nodes: Any) -> ChainReader:
    return ChainReader([(f"http://node-{i}", _factory(n)) for i, n in enumerate(nodes)])


@pytest.fixture
def world() -> World:
    w = World()
    w.issue(sample("inspection"))
    w.checkpoint()
    return w


def verifier(world: World, chain: ChainReader) -> Verifier:
    return Verifier(
        trust=world.trust,
        chain=chain,
        status_source=None,
        clock=lambda: dt.datetime(TODAY.year, TODAY.month, TODAY.day, tzinfo=dt.UTC),
    )


def receiptless_bundle(world: World) -> dict[str, Any]:
    bundle = world.bundle(next(iter(world.records)))
    bundle["anchor"]["tx_hash"] = None  # the stand-in has no receipts
    return bundle


def test_two_endpoints_that_agree_give_valid(world: World) -> None:
    verdict = verifier(world, reader(WorldNode(world), WorldNode(world))).verify(
        receiptless_bundle(world)
    )
    assert verdict.status is VerdictStatus.VALID, verdict.to_json()


def test_two_endpoints_that_disagree_are_not_valid(world: World) -> None:
    liar = WorldNode(world, map_root=b"\x07" * 32)
    chain = reader(WorldNode(world), liar)
    with pytest.raises(ChainUnavailableError, match="disagree on checkpoints"):
        chain.facts(chain_query(receiptless_bundle(world)))
    verdict = verifier(world, chain).verify(receiptless_bundle(world))
    assert verdict.status is VerdictStatus.UNCONFIRMED
    message = verdict.check("checkpoint_anchored").message
    assert "http://node-0" in message and "http://node-1" in message


def test_an_endpoint_that_fails_makes_it_unconfirmed(world: World) -> None:
    def down() -> AnchorClient:
        raise OSError("connection refused")

    chain = ChainReader([("http://up", lambda: cast(AnchorClient, WorldNode(world))),
                         ("http://down", down)])  # fmt: skip
    verdict = verifier(world, chain).verify(receiptless_bundle(world))
    assert verdict.status is VerdictStatus.UNCONFIRMED
    assert "http://down" in verdict.check("issuer_key_registered").message
