"""The verifier's thin chain-reading layer: ask the contract what a bundle's checks need.

The decision logic is pure (`registry.core.verify`); this module only turns a `ChainQuery` into
`ChainFacts`. A long-running verifier (the API) keeps what cannot change — anchored checkpoints,
their transactions — and re-reads issuer keys and the latest checkpoint after a few seconds.
"""

import datetime as dt
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

from eth_account import Account
from web3 import Web3
from web3.exceptions import TransactionNotFound, Web3Exception

from anchoring.client import AnchorClient, ChainClient
from anchoring.errors import AnchoringError
from registry.core.verify import (
    ChainCheckpoint,
    ChainFacts,
    ChainIssuerKey,
    ChainQuery,
    TrustAnchors,
    Verdict,
    chain_query,
    verify_bundle,
)

__all__ = ["ChainVerifier", "FactsCache", "fetch_chain_facts", "read_only_client"]

T = TypeVar("T")


def read_only_client(*, rpc_url: str, contract: str, chain_id: int) -> AnchorClient:
    """A client for reads only: its account is a throwaway key that never signs anything."""
    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 15}))
    chain = ChainClient(w3, Account.create(), chain_id=chain_id)
    chain.check_chain_id()
    return AnchorClient(chain, contract)


class FactsCache:
    """What the chain said, kept: anchored checkpoints and anchoring transactions for good (the
    contract never changes them), issuer keys for `key_ttl_s` (a revocation shows within that),
    the latest checkpoint index for `latest_ttl_s`.

    An expired entry is refreshed by one thread at a time; the others answer with the expired
    value meanwhile (so it may be older than its TTL by one RPC round trip). Without that, every
    verification in flight when an entry expired queued its own call at the node: under load the
    p99 latency of `POST /v1/verify` went from 34 ms to 500 ms (docs/benchmarks.md, "HTTP API").
    """

    def __init__(self, *, key_ttl_s: float = 5.0, latest_ttl_s: float = 1.0) -> None:
        self.key_ttl_s = key_ttl_s
        self.latest_ttl_s = latest_ttl_s
        self.checkpoints: dict[int, ChainCheckpoint] = {}
        self.anchoring_tx: set[tuple[str, int]] = set()
        self._timed: dict[object, tuple[float, Any]] = {}  # what -> (fetched at, value)
        self._lock = threading.Lock()
        self._refreshing: set[object] = set()

    def timed(self, what: object, *, ttl_s: float, now: float, fetch: Callable[[], T]) -> T:
        """The value cached for `what` if younger than `ttl_s`, else `fetch()`'s — unless another
        thread is fetching it already, in which case the expired value."""
        with self._lock:
            entry = self._timed.get(what)
            if entry is not None and now - entry[0] < ttl_s:
                return cast(T, entry[1])
            if entry is not None and what in self._refreshing:
                return cast(T, entry[1])
            self._refreshing.add(what)
        try:
            value = fetch()
            with self._lock:
                self._timed[what] = (now, value)
            return value
        finally:
            with self._lock:
                self._refreshing.discard(what)


def fetch_chain_facts(
    client: AnchorClient, query: ChainQuery, *, cache: FactsCache | None = None
) -> ChainFacts:
    """What the contract says about the bundle behind `query` (through `cache` if given)."""
    now = time.monotonic()
    cache = cache or FactsCache(key_ttl_s=0, latest_ttl_s=0)
    latest_index = _latest_index(client, cache, now)

    checkpoint = None
    index = query.checkpoint_index
    if index is not None:
        checkpoint = cache.checkpoints.get(index)
        if checkpoint is None:
            found = client.checkpoint(index)
            if found is not None:
                checkpoint = ChainCheckpoint(
                    tree_size=found.tree_size,
                    log_root=found.log_root,
                    map_root=found.map_root,
                    block_number=found.block_number,
                    timestamp=found.timestamp,
                )
                with cache._lock:
                    cache.checkpoints[index] = checkpoint

    issuer_key = None
    if query.issuer_chain_id is not None and query.key_id is not None:
        issuer_key = _issuer_key(
            client, cache, now, issuer_id=query.issuer_chain_id, key_id=query.key_id
        )

    tx_matches = None
    if query.tx_hash is not None and checkpoint is not None and index is not None:
        tx_matches = (query.tx_hash, index) in cache.anchoring_tx or _anchored_by(
            client, query.tx_hash, index, checkpoint
        )
        if tx_matches:
            with cache._lock:
                cache.anchoring_tx.add((query.tx_hash, index))
    return ChainFacts(
        checkpoint=checkpoint,
        latest_index=latest_index,
        issuer_key=issuer_key,
        anchor_tx_matches=tx_matches,
    )


def _latest_index(client: AnchorClient, cache: FactsCache, now: float) -> int | None:
    def fetch() -> int | None:
        latest = client.latest_checkpoint()
        return None if latest is None else latest.index

    return cache.timed("latest", ttl_s=cache.latest_ttl_s, now=now, fetch=fetch)


def _issuer_key(
    client: AnchorClient, cache: FactsCache, now: float, *, issuer_id: bytes, key_id: bytes
) -> ChainIssuerKey | None:
    def fetch() -> ChainIssuerKey | None:
        key = client.issuer_key(issuer_id=issuer_id, key_id=key_id)
        if not key.registered:
            return None
        return ChainIssuerKey(
            public_key=key.public_key, valid_from=key.valid_from, revoked_at=key.revoked_at
        )

    return cache.timed(("key", issuer_id, key_id), ttl_s=cache.key_ttl_s, now=now, fetch=fetch)


def _anchored_by(
    client: AnchorClient, tx_hash: str, index: int, checkpoint: ChainCheckpoint
) -> bool:
    """Whether transaction `tx_hash` anchored checkpoint `index` of our contract."""
    try:
        receipt = client.chain.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
    except TransactionNotFound:
        return False
    if receipt["status"] != 1 or receipt["blockNumber"] != checkpoint.block_number:
        return False
    event = client.contract.events.CheckpointAnchored()
    for log in receipt["logs"]:
        if log["address"] != client.address:
            continue
        try:
            args = event.process_log(log)["args"]
        except Exception:  # noqa: S112 (another event of the contract)
            continue
        if int(args["index"]) == index and bytes(args["logRoot"]) == checkpoint.log_root:
            return True
    return False


class ChainVerifier:
    """Verifies bundles against one chain and one pinned registry key.

    The chain client is created on first use and again after a failure; when the node cannot be
    reached the verdict says so (`chain_unavailable`) instead of passing without the chain.
    """

    def __init__(
        self,
        *,
        trust: TrustAnchors,
        client_factory: Callable[[], AnchorClient] | None,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.trust = trust
        self._client_factory = client_factory
        self._client: AnchorClient | None = None
        self._clock = clock
        self._cache = FactsCache()

    def verify(self, bundle: object, *, current: bool = False) -> Verdict:
        today = self._clock().astimezone(dt.UTC).date()
        if self._client_factory is None:
            return verify_bundle(
                bundle, trust=self.trust, chain=None, today=today, require_current=current
            )
        try:
            if self._client is None:
                self._client = self._client_factory()
            facts = fetch_chain_facts(self._client, chain_query(bundle), cache=self._cache)
        except (AnchoringError, OSError, Web3Exception) as exc:
            self._client = None
            return verify_bundle(
                bundle,
                trust=self.trust,
                chain=None,
                today=today,
                require_current=current,
                chain_unavailable=f"the chain did not answer: {type(exc).__name__}",
            )
        return verify_bundle(
            bundle, trust=self.trust, chain=facts, today=today, require_current=current
        )
