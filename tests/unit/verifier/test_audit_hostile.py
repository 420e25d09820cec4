"""The auditor treats every answer of the registry as hostile: wrong statuses, shapes and counts
are named findings, never a crash. The registry is an in-memory World served through a mock
transport, the chain a stand-in holding the World's checkpoints (the real pair is in
tests/e2e/test_audit.py)."""

from collections.abc import Callable
from typing import Any, cast

import httpx2
import pytest

from anchoring.client import AnchorClient
from anchoring.models import Checkpoint, IssuerKey
from registry.core.events import Event
from registry.core.governance import parse_log_entry
from registry.core.verify import ChainQuery
from tests.bundles import World, sample
from verifier.audit import AuditUnavailableError, audit


class Chain:
    def __init__(self, world: World) -> None:
        self.world = world
        self.address = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
        self.foreign: list[Checkpoint] = []  # anchored by someone else, after the world's

    def check_code(self) -> None:
        """Our contract's code."""

    def predecessor(self) -> None:  # a first contract
        return None

    @property
    def chain(self) -> "Chain":  # `client.chain.w3.eth.block_number`
        return self

    w3 = eth = chain

    @property
    def block_number(self) -> int:
        return self.world.block

    def checkpoint_count(self, *, block: int) -> int:
        return len(self.world.checkpoints) + len(self.foreign)

    def checkpoint(self, i: int, *, block: int) -> Checkpoint | None:
        if i >= len(self.world.checkpoints):
            extra = i - len(self.world.checkpoints)
            return self.foreign[extra] if extra < len(self.foreign) else None
        c = self.world.chain_checkpoint(i)
        return Checkpoint(i, c.tree_size, c.log_root, c.map_root, c.block_number, c.timestamp)

    def issuer_key(self, *, issuer_id: bytes, key_id: bytes) -> IssuerKey:
        facts = self.world.facts(ChainQuery(issuer_keys=frozenset({(issuer_id, key_id)})))
        key = facts.issuer_keys[issuer_id, key_id]
        if key is None:
            return IssuerKey(issuer_id, key_id, bytes(32), 0, 0)
        return IssuerKey(issuer_id, key_id, key.public_key, key.valid_from, key.revoked_at)


Handler = Callable[[httpx2.Request], httpx2.Response | None]


def registry(world: World, override: Handler | None = None) -> httpx2.Client:
    """The World's registry over HTTP; `override` may answer a request its own way."""

    def handle(request: httpx2.Request) -> httpx2.Response:
        if override is not None:
            answer = override(request)
            if answer is not None:
                return answer
        path, params = request.url.path, request.url.params
        if path == "/v1/registry":
            return httpx2.Response(
                200,
                json={"vkey": world.signer.verifier().vkey, "contract": Chain(world).address},
            )
        if path == "/v1/checkpoints":
            rows = [
                {"index": i, "note": note} for i, (_, note, _, _, _) in enumerate(world.checkpoints)
            ]
            return httpx2.Response(200, json={"checkpoints": rows})
        if path == "/v1/log/entries":
            start, end = int(params["start"]), int(params["end"])
            entries = [parse_log_entry(e).to_json() for e in world.entries[start:end]]
            return httpx2.Response(200, json={"entries": entries})
        if path == "/v1/log/consistency":
            size1, size2 = int(params["from"]), int(params["to"])
            hashes = world.log.consistency_proof(size1=size1, size2=size2)
            return httpx2.Response(200, json={"hashes": ["0x" + h.hex() for h in hashes]})
        return httpx2.Response(404)

    return httpx2.Client(base_url="http://registry.test", transport=httpx2.MockTransport(handle))


@pytest.fixture
def world() -> World:
    w = World()
    w.issue(sample("inspection"))
    w.issue(sample("calibration"))
    w.checkpoint()
    w.issue(sample("test-report"))
    w.checkpoint()
    return w


def run(world: World, override: Handler | None = None) -> Any:
    return audit(
        client=cast(AnchorClient, Chain(world)),
        http=registry(world, override),
        vkey=world.signer.verifier(),
    )


def test_an_honest_registry_passes(world: World) -> None:
    report = run(world)
    assert report.ok, report.problems
    assert report.events == report.signatures_checked == 3


def test_more_entries_than_anchored_is_a_finding(world: World) -> None:
    def extra(request: httpx2.Request) -> httpx2.Response | None:
        if request.url.path != "/v1/log/entries":
            return None
        entries = [Event.from_leaf(e).to_json() for e in world.entries]
        return httpx2.Response(200, json={"entries": [*entries, entries[0]]})

    report = run(world, extra)
    assert not report.ok
    assert any("got 4 entries, want 3" in p for p in report.problems), report.problems


@pytest.mark.parametrize(
    ("path", "response", "finding"),
    [
        ("/v1/registry", httpx2.Response(500), "GET /v1/registry: got HTTP 500"),
        ("/v1/registry", httpx2.Response(200, text="<html>"), "not JSON"),
        ("/v1/checkpoints", httpx2.Response(200, json={"x": 1}), "no list of checkpoints"),
        ("/v1/log/entries", httpx2.Response(503), "got HTTP 503"),
        ("/v1/log/entries", httpx2.Response(200, json=[1, 2]), "no list of entries"),
        ("/v1/log/consistency", httpx2.Response(200, json={"hashes": "x"}), "no consistency"),
        ("/v1/log/consistency", httpx2.Response(200, json={"hashes": ["zz"]}), "checkpoints 0->1"),
    ],
)
def test_a_broken_answer_is_a_named_finding(
    world: World, path: str, response: httpx2.Response, finding: str
) -> None:
    report = run(world, lambda r: response if r.url.path == path else None)
    assert not report.ok
    assert any(finding in p for p in report.problems), report.problems


def test_an_unreachable_registry_is_no_audit(world: World) -> None:
    def down(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("connection refused", request=request)

    with pytest.raises(AuditUnavailableError, match="could not reach"):
        run(world, down)


def test_a_checkpoint_on_chain_the_registry_never_made_is_a_finding(world: World) -> None:
    # A stolen anchoring key in use: the chain holds a checkpoint the registry does not list.
    chain = Chain(world)
    last = chain.checkpoint(len(world.checkpoints) - 1, block=world.block)
    assert last is not None
    foreign = Checkpoint(
        last.index + 1, last.tree_size + 1, b"\x66" * 32, b"\x67" * 32, last.block_number + 1, 0
    )
    chain.foreign.append(foreign)
    report = audit(
        client=cast(AnchorClient, chain), http=registry(world), vkey=world.signer.verifier()
    )
    assert not report.ok
    assert any(
        f"checkpoint {foreign.index}: on chain, but the registry does not list it" in p
        for p in report.problems
    ), report.problems
