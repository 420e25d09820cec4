"""The verifier's chain reads: turn the core's `ChainQuery` into `ChainFacts`, from one or more
RPC endpoints that must agree.

A long-running verifier (the API) keeps what the contract never changes — anchored checkpoints,
their anchoring transactions, where an event was first anchored — and re-reads issuer keys, the
latest checkpoint and the head block after a few seconds.
"""

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar, cast

from eth_account import Account
from requests.exceptions import RequestException
from web3 import Web3
from web3.exceptions import TransactionNotFound, Web3Exception

from anchoring.client import AnchorClient, ChainClient
from anchoring.errors import AnchoringError
from anchoring.succession import Line, line_from, line_through
from registry.core.verify import (
    ChainCheckpoint,
    ChainFacts,
    ChainIssuerKey,
    ChainQuery,
    IssuerKeyRef,
)
from verifier.errors import VerifierError

__all__ = [
    "ChainCalls",
    "ChainReader",
    "ChainUnavailableError",
    "FactsCache",
    "WouldWaitError",
    "counting_chain_calls",
    "fetch_chain_facts",
    "read_only_client",
    "waiting_allowed",
    "without_waiting",
]

T = TypeVar("T")

log = logging.getLogger("certreg.verifier")

#: where version-1 bundles' events were first anchored, remembered per event up to this many
_FIRST_ANCHORINGS_KEPT = 65_536

#: contracts named by bundles and found on no line through the pinned one, remembered (§7.7)
_LINES_KEPT = 256


#: how long a transaction found not to anchor a checkpoint is remembered as such: the answer
#: cannot change once the checkpoint is on chain (its transaction is mined), but a node that
#: lagged behind may have missed the receipt
_NOT_ANCHORING_TTL_S = 600.0


def _in_a_thread(job: Callable[[], None]) -> None:
    threading.Thread(target=job, name="chain-facts-refresh", daemon=True).start()


class ChainCalls:
    """The RPC calls made within one `counting_chain_calls` block (cache hits are free): what
    the API charges the client whose request caused them."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0


_COUNTING: ContextVar[ChainCalls | None] = ContextVar("certreg_chain_calls", default=None)
_NO_WAITING: ContextVar[bool] = ContextVar("certreg_no_waiting", default=False)


class WouldWaitError(VerifierError):
    """Raised inside `without_waiting()` where the verifier would read the chain or fetch a
    fresh status: the caller goes the slow way, in a thread."""


@contextmanager
def without_waiting() -> Iterator[None]:
    """Within the block, verify only from what is cached: any read that would wait (a chain
    call, a fresh status) raises `WouldWaitError` instead. Background refreshes of expired
    facts still start (they run in their own threads). For the API's event loop."""
    token = _NO_WAITING.set(True)
    try:
        yield
    finally:
        _NO_WAITING.reset(token)


def waiting_allowed() -> None:
    """`WouldWaitError` inside `without_waiting()`; nothing otherwise."""
    if _NO_WAITING.get():
        raise WouldWaitError("a read would wait")


@contextmanager
def counting_chain_calls() -> Iterator[ChainCalls]:
    """Count the chain reads this thread makes inside the block."""
    calls = ChainCalls()
    token = _COUNTING.set(calls)
    try:
        yield calls
    finally:
        _COUNTING.reset(token)


def _calling() -> None:
    waiting_allowed()
    calls = _COUNTING.get()
    if calls is not None:
        calls.count += 1


class ChainUnavailableError(VerifierError):
    """The chain could not be read, or the RPC endpoints disagree: the verdict is UNCONFIRMED."""


def read_only_client(*, rpc_url: str, contract: str, chain_id: int) -> AnchorClient:
    """A client for reads only (its account is a throwaway key that never signs), after checking
    that the node is on `chain_id` and that `contract` holds our contract's code."""
    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 15}))
    chain = ChainClient(w3, Account.create(), chain_id=chain_id)
    chain.check_chain_id()
    client = AnchorClient(chain, contract)
    client.check_code()
    return client


class FactsCache:
    """What one endpoint said, kept: anchored checkpoints, anchoring transactions and first
    anchorings for good (the contract never changes them), issuer keys for `key_ttl_s` (a
    revocation shows within that), the latest checkpoint and head block for `latest_ttl_s`.

    An expired entry is refreshed by one thread at a time, and in the background while it is
    younger than twice its TTL: the caller, and every other meanwhile, answers with the expired
    value (so a fact may be older than its TTL by one RPC round trip). Without that, the request
    that met an expiry waited for the node: under load, with the node answering in hundreds of
    milliseconds, those requests — about one in a hundred at 1,000 verifications/s, since two
    entries expire every second — made the p99 latency of `POST /v1/verify` (docs/benchmarks.md,
    "HTTP API"). An entry older than twice its TTL (nobody asked for a while) is fetched while
    the caller waits: a long-stale key is never the answer. A TTL of 0 always fetches.
    """

    def __init__(
        self,
        *,
        key_ttl_s: float = 5.0,
        latest_ttl_s: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
        max_timed: int = 10_000,
        background: Callable[[Callable[[], None]], None] | None = None,
    ) -> None:
        self.key_ttl_s = key_ttl_s
        self.monotonic = monotonic  # the clock the TTLs are measured on
        self.latest_ttl_s = latest_ttl_s
        self.checkpoints: dict[int, ChainCheckpoint] = {}
        self.anchoring_tx: set[tuple[str, int]] = set()
        self.first_anchoring: dict[int, int] = {}
        #: the newest known line of successions through each pinned contract (lower case),
        #: and contracts bundles named that are on none
        self._lines: dict[str, Line] = {}
        self._not_joined: set[str] = set()
        # what -> (fetched at, value), least recently used first: at most `max_timed` entries,
        # since `what` includes key ids taken from bundles anyone may send.
        self._timed: OrderedDict[object, tuple[float, Any]] = OrderedDict()
        self.max_timed = max_timed
        self._lock = threading.Lock()
        self._refreshing: set[object] = set()
        #: runs a refresh off the caller's thread (tests pass one that runs it at once)
        self._background = background or _in_a_thread

    def timed(self, what: object, *, ttl_s: float, now: float, fetch: Callable[[], T]) -> T:
        """The value cached for `what` if younger than `ttl_s`; else, if younger than twice
        that, the expired value while one refresh runs in the background (or is running);
        else `fetch()`'s, unless another thread is fetching it already (the expired value)."""
        with self._lock:
            entry = self._timed.get(what)
            if entry is not None:
                age = now - entry[0]
                if age < ttl_s:
                    self._timed.move_to_end(what)
                    return cast(T, entry[1])
                if what in self._refreshing:
                    return cast(T, entry[1])
            self._refreshing.add(what)
        if entry is not None and now - entry[0] < 2 * ttl_s:
            self._background(lambda: self._refresh(what, now, fetch))  # outside the lock
            return cast(T, entry[1])
        try:
            _calling()
            value = fetch()
            self._store(what, now, value)
            return value
        finally:
            with self._lock:
                self._refreshing.discard(what)

    def _refresh(self, what: object, now: float, fetch: Callable[[], Any]) -> None:
        try:
            self._store(what, now, fetch())
        except Exception:
            log.debug("background refresh of %r failed", what, exc_info=True)
        finally:
            with self._lock:
                self._refreshing.discard(what)

    def _store(self, what: object, now: float, value: Any) -> None:
        with self._lock:
            self._timed[what] = (now, value)
            self._timed.move_to_end(what)
            while len(self._timed) > self.max_timed:
                self._timed.popitem(last=False)

    def line(self, pinned: AnchorClient, named: str | None) -> Line:
        """The pinned contract's line of successions (spec §7.7), the newest this cache knows:
        joined, once a bundle named a successor of the pinned contract, to that successor, which
        from then on answers the latest checkpoint for every bundle. A bundle naming a contract
        that is not on the line gets the pinned line (the core then refuses its anchor); such
        names are remembered, at most `_LINES_KEPT`, since anyone may send them."""
        pinned_key = pinned.address.lower()
        with self._lock:
            known = self._lines.get(pinned_key)
            refused = named is not None and named.lower() in self._not_joined
        if known is None:
            known = line_from(pinned, on_read=_calling)
            with self._lock:
                self._lines.setdefault(pinned_key, known)
        if named is None or refused or known.contains(named):
            return known
        joined = line_through(known, named, on_read=_calling)
        with self._lock:
            if joined is None:
                if len(self._not_joined) >= _LINES_KEPT:
                    self._not_joined.clear()
                self._not_joined.add(named.lower())
            else:
                self._lines[pinned_key] = joined
        return joined or known

    def keep(self, index: int, checkpoint: ChainCheckpoint) -> None:
        with self._lock:
            self.checkpoints[index] = checkpoint


def _checkpoint(line: Line, cache: FactsCache, index: int) -> ChainCheckpoint | None:
    checkpoint = cache.checkpoints.get(index)
    if checkpoint is None:
        _calling()
        found = line.holder(index).checkpoint(index)
        if found is None:
            return None
        checkpoint = ChainCheckpoint(
            tree_size=found.tree_size,
            log_root=found.log_root,
            map_root=found.map_root,
            block_number=found.block_number,
            timestamp=found.timestamp,
        )
        cache.keep(index, checkpoint)
    return checkpoint


def _first_covering(line: Line, cache: FactsCache, seq: int, latest: int | None) -> int | None:
    """The first checkpoint whose size exceeds `seq` (binary search: O(log n) reads, each kept
    for good), for bundles that carry no first-anchoring hint."""
    if seq in cache.first_anchoring:
        return cache.first_anchoring[seq]
    if latest is None:
        return None
    lo, hi = 0, latest
    while lo < hi:
        mid = (lo + hi) // 2
        found = _checkpoint(line, cache, mid)
        if found is not None and found.tree_size > seq:
            hi = mid
        else:
            lo = mid + 1
    found = _checkpoint(line, cache, lo)
    if found is None or found.tree_size <= seq:
        return None
    with cache._lock:
        # Keyed by event: bounded, since a long-running verifier meets ever more of them.
        if len(cache.first_anchoring) >= _FIRST_ANCHORINGS_KEPT:
            cache.first_anchoring.clear()
        cache.first_anchoring[seq] = lo
    return lo


def fetch_chain_facts(
    client: AnchorClient, query: ChainQuery, *, cache: FactsCache | None = None
) -> ChainFacts:
    """What the contract behind `client` (the pinned one) says about `query`, through `cache`
    if given: with its line of successions (spec §7.7), joined to the bundle's contract when
    that one succeeds it — the newest answers the latest checkpoint and the keys, the contract
    holding each index its checkpoint."""
    cache = cache or FactsCache(key_ttl_s=0, latest_ttl_s=0)
    line = cache.line(client, query.contract)
    newest = line.newest
    now = cache.monotonic()
    latest = cache.timed(
        ("latest", newest.address), ttl_s=cache.latest_ttl_s, now=now, fetch=lambda: _latest(newest)
    )
    wanted = set(query.checkpoints)
    first: dict[int, int] = {}
    if query.first_anchoring is not None and query.first_anchoring[1] is None:
        seq = query.first_anchoring[0]
        found = _first_covering(line, cache, seq, latest)
        if found is not None:
            first[seq] = found
            wanted.update({found, found - 1} - {-1})
    checkpoints = {}
    for index in sorted(wanted):
        checkpoint = _checkpoint(line, cache, index)
        if checkpoint is not None:
            checkpoints[index] = checkpoint
    keys = {
        ref: cache.timed(
            ("key", newest.address, *ref),
            ttl_s=cache.key_ttl_s,
            now=now,
            fetch=lambda ref=ref: _issuer_key(newest, ref),  # type: ignore[misc]
        )
        for ref in query.issuer_keys
    }
    txs = {}
    if query.anchor_tx is not None and query.anchor_tx[1] in checkpoints:
        tx_hash, index = query.anchor_tx
        checkpoint = checkpoints[index]
        # A "no" is remembered too (bounded, in the timed cache): otherwise every made-up
        # transaction hash sent to POST /v1/verify would cost a receipt lookup at the node.
        anchoring = line.anchored_in(index)
        matches = query.anchor_tx in cache.anchoring_tx or cache.timed(
            ("tx", tx_hash, index),
            ttl_s=_NOT_ANCHORING_TTL_S,
            now=now,
            fetch=lambda: _anchored_by(anchoring, tx_hash, index, checkpoint),
        )
        if matches:
            with cache._lock:
                cache.anchoring_tx.add(query.anchor_tx)
        txs[query.anchor_tx] = matches
    head = None
    if query.head_block:
        head = cache.timed(
            "head",
            ttl_s=cache.latest_ttl_s,
            now=now,
            fetch=lambda: int(newest.chain.w3.eth.block_number),
        )
    return ChainFacts(
        latest_index=latest,
        checkpoints=checkpoints,
        issuer_keys=keys,
        anchor_txs=txs,
        first_anchoring=first,
        head_block=head,
        line=line.addresses,
    )


def _latest(client: AnchorClient) -> int | None:
    latest = client.latest_checkpoint()
    return None if latest is None else latest.index


def _issuer_key(client: AnchorClient, ref: IssuerKeyRef) -> ChainIssuerKey | None:
    key = client.issuer_key(issuer_id=ref[0], key_id=ref[1])
    if not key.registered:
        return None
    return ChainIssuerKey(
        public_key=key.public_key, valid_from=key.valid_from, revoked_at=key.revoked_at
    )


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


#: what a failed chain read raises: the node's errors, our client's, and the transport's
CHAIN_ERRORS: tuple[type[Exception], ...] = (
    AnchoringError,
    OSError,
    RequestException,
    Web3Exception,
)


class _Endpoint:
    """One RPC endpoint: its client, made on first use and again after a failure."""

    def __init__(
        self, url: str, factory: Callable[[], AnchorClient], monotonic: Callable[[], float]
    ) -> None:
        self.url = url
        self._factory = factory
        self._client: AnchorClient | None = None
        self.cache = FactsCache(monotonic=monotonic)

    def facts(self, query: ChainQuery) -> ChainFacts:
        try:
            if self._client is None:
                waiting_allowed()  # making a client asks the node its chain id and our code
                self._client = self._factory()
            return fetch_chain_facts(self._client, query, cache=self.cache)
        except CHAIN_ERRORS as exc:
            self._client = None
            raise ChainUnavailableError(f"{self.url}: {_reason(exc)}") from exc


def _reason(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


class ChainReader:
    """Reads facts from every configured endpoint; they must agree on everything a verdict
    uses (the head block, which moves, excepted: the lowest is taken). An RPC node run by the
    registry itself is no independent witness: pin endpoints run by others."""

    def __init__(
        self,
        endpoints: Sequence[tuple[str, Callable[[], AnchorClient]]],
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not endpoints:
            raise ValueError("endpoints: got none, want at least one RPC endpoint")
        self._endpoints = [_Endpoint(url, factory, monotonic) for url, factory in endpoints]

    @classmethod
    def for_urls(cls, urls: Sequence[str], *, contract: str, chain_id: int) -> "ChainReader":
        return cls(
            [
                (
                    url,
                    lambda url=url: read_only_client(  # type: ignore[misc]
                        rpc_url=url, contract=contract, chain_id=chain_id
                    ),
                )
                for url in urls
            ]
        )

    @property
    def urls(self) -> list[str]:
        return [e.url for e in self._endpoints]

    def facts(self, query: ChainQuery) -> ChainFacts:
        """Raises ChainUnavailableError if an endpoint fails or two disagree."""
        answers = [(e.url, e.facts(query)) for e in self._endpoints]
        first_url, first = answers[0]
        heads = [f.head_block for _, f in answers if f.head_block is not None]
        for url, other in answers[1:]:
            difference = _difference(first, other)
            if difference is not None:
                raise ChainUnavailableError(
                    f"the RPC endpoints disagree on {difference}: {first_url} and {url}"
                )
        if heads:
            first = ChainFacts(
                latest_index=first.latest_index,
                checkpoints=first.checkpoints,
                issuer_keys=first.issuer_keys,
                anchor_txs=first.anchor_txs,
                first_anchoring=first.first_anchoring,
                head_block=min(heads),
                line=first.line,
            )
        return first


def _difference(a: ChainFacts, b: ChainFacts) -> str | None:
    for what in (
        "latest_index",
        "checkpoints",
        "issuer_keys",
        "anchor_txs",
        "first_anchoring",
        "line",
    ):
        if getattr(a, what) != getattr(b, what):
            return what.replace("_", " ")
    return None
