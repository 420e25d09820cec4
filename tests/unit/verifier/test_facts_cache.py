"""FactsCache: what the chain said, kept for a while, and refreshed by one thread at a time.

The client here is a stand-in that counts calls and can be made to block: the cache's timing
and concurrency are the subject, not the chain (tests/e2e verify against a real node). Time is
a manual clock: the TTL boundaries are checked exactly, and nothing sleeps.
"""

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import pytest

from anchoring.client import AnchorClient
from registry.core.verify import ChainQuery
from tests.clock import ManualClock
from verifier.chain import FactsCache, WouldWaitError, fetch_chain_facts, without_waiting

KEY_ID = b"\x01" * 32
ISSUER = b"\x02" * 32


@dataclass
class _Latest:
    index: int


@dataclass
class _Key:
    registered: bool
    public_key: bytes
    valid_from: int
    revoked_at: int


class CountingClient:
    address = "0x5FbDB2315678afecb367f032d93F642f64180aa3"

    def __init__(self) -> None:
        self.latest_index = 3
        self.revoked_at = 0
        self.calls = {"latest": 0, "key": 0}
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()

    def latest_checkpoint(self) -> _Latest:
        self.calls["latest"] += 1
        self.entered.set()
        assert self.gate.wait(10)
        return _Latest(self.latest_index)

    def issuer_key(self, *, issuer_id: bytes, key_id: bytes) -> _Key:
        self.calls["key"] += 1
        return _Key(True, b"\x03" * 32, 1, self.revoked_at)

    def checkpoint(self, index: int) -> None:
        return None

    def check_code(self) -> None:
        pass

    def predecessor(self) -> None:  # a first contract: its line is itself
        return None


def fetch(client: CountingClient, cache: FactsCache) -> Any:
    query = ChainQuery(issuer_keys=frozenset({(ISSUER, KEY_ID)}))
    return fetch_chain_facts(cast(AnchorClient, client), query, cache=cache)


class TestFreshness:
    def test_within_the_ttl_the_chain_is_asked_once(self) -> None:
        client, cache = CountingClient(), FactsCache(key_ttl_s=60, latest_ttl_s=60)
        for _ in range(5):
            facts = fetch(client, cache)
        assert facts.latest_index == 3
        assert facts.issuer_keys[ISSUER, KEY_ID] is not None
        assert client.calls == {"latest": 1, "key": 1}

    def test_after_the_ttl_the_chain_is_asked_again(self) -> None:
        clock = ManualClock()
        client = CountingClient()
        cache = FactsCache(key_ttl_s=5, latest_ttl_s=1, monotonic=clock.monotonic)
        assert fetch(client, cache).latest_index == 3
        client.latest_index, client.revoked_at = 4, 7
        clock.advance(0.999)
        assert fetch(client, cache).latest_index == 3  # younger than its TTL
        clock.advance(1.001)
        facts = fetch(client, cache)
        assert facts.latest_index == 4  # twice its TTL old: fetched while the caller waits
        assert (key := facts.issuer_keys[ISSUER, KEY_ID]) is not None and key.revoked_at == 0
        clock.advance(8)
        facts = fetch(client, cache)  # the key, fetched at 0 s, is 10 s old
        assert (key := facts.issuer_keys[ISSUER, KEY_ID]) is not None and key.revoked_at == 7
        assert client.calls == {"latest": 3, "key": 2}

    def test_just_expired_is_refreshed_behind_the_caller(self) -> None:
        # Between one and two TTLs old: the caller answers at once with the expired value and a
        # refresh runs in the background (here, at once), so the request that meets an expiry
        # never waits for the node.
        clock, client = ManualClock(), CountingClient()
        refreshes: list[object] = []

        def background(job: Callable[[], None]) -> None:
            refreshes.append(job)
            job()

        cache = FactsCache(
            key_ttl_s=5, latest_ttl_s=1, monotonic=clock.monotonic, background=background
        )
        fetch(client, cache)
        client.latest_index, client.revoked_at = 4, 7
        clock.advance(1.5)
        assert fetch(client, cache).latest_index == 3  # expired value, refreshed behind
        assert fetch(client, cache).latest_index == 4
        clock.advance(4)  # the key is 5.5 s old
        key = fetch(client, cache).issuer_keys[ISSUER, KEY_ID]
        assert key is not None and key.revoked_at == 0  # …once more the expired value
        key = fetch(client, cache).issuer_keys[ISSUER, KEY_ID]
        assert key is not None and key.revoked_at == 7
        assert len(refreshes) == 2  # latest at 1.5 s, the key at 5.5 s (latest, 4 s old, waited)
        assert client.calls == {"latest": 3, "key": 2}

    def test_a_failed_background_refresh_keeps_the_expired_value(self) -> None:
        clock, client = ManualClock(), CountingClient()
        cache = FactsCache(
            key_ttl_s=60, latest_ttl_s=1, monotonic=clock.monotonic, background=lambda job: job()
        )
        fetch(client, cache)
        clock.advance(1.5)

        def fail() -> _Latest:
            raise OSError("node down")

        client.latest_checkpoint = fail  # type: ignore[method-assign]
        assert fetch(client, cache).latest_index == 3  # the refresh failed quietly
        client.latest_checkpoint = lambda: _Latest(9)  # type: ignore[method-assign]
        assert fetch(client, cache).latest_index == 3  # this caller's refresh…
        assert fetch(client, cache).latest_index == 9  # …took

    def test_a_cache_with_no_ttl_always_asks(self) -> None:
        client, cache = CountingClient(), FactsCache(key_ttl_s=0, latest_ttl_s=0)
        fetch(client, cache)
        fetch(client, cache)
        assert client.calls == {"latest": 2, "key": 2}


class TestSingleRefresh:
    def test_others_answer_with_the_expired_value_while_one_thread_refreshes(self) -> None:
        clock, client = ManualClock(), CountingClient()
        cache = FactsCache(key_ttl_s=60, latest_ttl_s=1, monotonic=clock.monotonic)
        fetch(client, cache)
        clock.advance(2)  # twice the TTL: refreshed while the caller waits
        client.latest_index = 4
        client.gate.clear()
        client.entered.clear()
        refresher = threading.Thread(target=fetch, args=(client, cache))
        refresher.start()
        assert client.entered.wait(5)
        # The refresh is in flight: these do not queue behind it, and see the old index.
        assert [fetch(client, cache).latest_index for _ in range(3)] == [3, 3, 3]
        assert client.calls["latest"] == 2
        client.gate.set()
        refresher.join(5)
        assert fetch(client, cache).latest_index == 4

    def test_a_failed_refresh_lets_the_next_caller_try(self) -> None:
        clock, client = ManualClock(), CountingClient()
        cache = FactsCache(key_ttl_s=60, latest_ttl_s=1, monotonic=clock.monotonic)
        fetch(client, cache)
        clock.advance(2)  # twice the TTL: refreshed while the caller waits

        def fail() -> _Latest:
            raise OSError("node down")

        client.latest_checkpoint = fail  # type: ignore[method-assign]
        with pytest.raises(OSError, match="node down"):
            fetch(client, cache)
        client.latest_checkpoint = lambda: _Latest(9)  # type: ignore[method-assign]
        assert fetch(client, cache).latest_index == 9


def test_entries_for_keys_anyone_names_are_bounded() -> None:
    # Key ids come from bundles anyone may POST: the cache keeps the most recently used ones.
    cache = FactsCache(key_ttl_s=60, latest_ttl_s=60, max_timed=50)
    fetched: list[int] = []

    def ask(n: int) -> int:
        def fetch() -> int:
            fetched.append(n)
            return n

        return cache.timed(("key", n), ttl_s=60, now=0.0, fetch=fetch)

    for n in range(1_000):
        assert ask(n) == n
    assert len(cache._timed) == 50
    assert ask(999) == 999 and fetched.count(999) == 1  # kept: no second fetch
    assert ask(0) == 0 and fetched.count(0) == 2  # dropped long ago: fetched again


class TestWithoutWaiting:
    """What the API's event loop may do (api/routes/transparency.py): answer from the cache,
    never wait for the node."""

    def test_a_cold_cache_says_it_would_wait_and_asks_nothing(self) -> None:
        client, cache = CountingClient(), FactsCache(key_ttl_s=60, latest_ttl_s=60)
        with pytest.raises(WouldWaitError), without_waiting():
            fetch(client, cache)
        assert client.calls == {"latest": 0, "key": 0}

    def test_a_warm_cache_answers_without_waiting(self) -> None:
        client, cache = CountingClient(), FactsCache(key_ttl_s=60, latest_ttl_s=60)
        fetch(client, cache)
        with without_waiting():
            facts = fetch(client, cache)
        assert facts.latest_index == 3
        assert client.calls == {"latest": 1, "key": 1}

    def test_an_expired_fact_is_refreshed_behind_and_answered_stale(self) -> None:
        clock = ManualClock()
        client = CountingClient()
        ran: list[Callable[[], None]] = []
        cache = FactsCache(
            key_ttl_s=60, latest_ttl_s=1, monotonic=clock.monotonic, background=ran.append
        )
        fetch(client, cache)
        client.latest_index = 4
        clock.advance(1.5)  # expired, younger than two TTLs: refreshed in the background
        with without_waiting():
            assert fetch(client, cache).latest_index == 3
        assert len(ran) == 1
        ran[0]()
        assert fetch(client, cache).latest_index == 4
        clock.advance(10)  # long stale: only a read that waits may answer
        with pytest.raises(WouldWaitError), without_waiting():
            fetch(client, cache)
