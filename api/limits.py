"""Request body size limit (ASGI middleware), rate limiting (token buckets, bounded) and the
client address rate limits are keyed by (trusted-proxy aware)."""

import ipaddress
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

from api.problems import BodyTooLargeError, problem_response
from api.settings import ApiSettings

__all__ = [
    "BodyLimitMiddleware",
    "Limits",
    "Network",
    "RateLimiter",
    "client_address",
    "parse_networks",
]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
#: IPv6 clients are keyed by their /64: one subscriber usually holds a whole /64 and could
#: otherwise get a fresh bucket per address
_IPV6_CLIENT_PREFIX = 64

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyLimitMiddleware:
    """413 for a body over `limit` bytes, by Content-Length or counted as it streams in."""

    def __init__(self, app: ASGIApp, *, limit: int, larger: dict[str, int] | None = None) -> None:
        self.app = app
        self.default = limit
        #: paths that take bodies larger than the default (an upload of a spreadsheet)
        self.larger = dict(larger or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.larger.get(scope.get("path", ""), self.default)
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > limit:
                    await self._reject(scope, receive, send, limit)
                    return
        seen = 0
        started = False

        async def counted() -> Message:
            # FastAPI reads the body inside the route and turns this error into an
            # HTTPException caused by it (answered 413 by api.problems); raised anywhere else,
            # it comes back out here.
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLargeError(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, tracking_send)
        except BodyTooLargeError:
            if not started:
                await self._reject(scope, receive, send, limit)

    async def _reject(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = problem_response(
            "payload-too-large",
            413,
            f"request body: got more than {limit} bytes, want at most {limit}",
            instance=scope.get("path"),
        )
        await response(scope, receive, send)


class RateLimiter:
    """A token bucket per key: `rate` tokens a second, up to `burst`; at most `max_keys` buckets.

    Memory is bounded whatever keys callers invent: past `max_keys` the least recently used
    bucket is dropped. A dropped bucket had refilled or nearly (it is the longest idle), and an
    absent bucket is a full one, so this forgets little; flooding it takes `max_keys` distinct
    keys, which is why keys are principals and client addresses, never caller-chosen strings.
    """

    def __init__(
        self,
        *,
        rate: float,
        burst: int,
        max_keys: int = 100_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self._monotonic = monotonic
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """0 if a request may go now (and it is counted), else the seconds until it may."""
        now = self._monotonic()
        with self._lock:
            tokens = self._tokens(key, now)
            if tokens >= 1:
                self._put(key, (tokens - 1, now))
                return 0.0
            self._put(key, (tokens, now))
            return (1 - tokens) / self.rate

    def wait(self, key: str) -> float:
        """The seconds until `key` may go again (0: now), counting nothing."""
        now = self._monotonic()
        with self._lock:
            if key not in self._buckets:
                return 0.0
            tokens = self._tokens(key, now)
            return 0.0 if tokens >= 1 else (1 - tokens) / self.rate

    def _tokens(self, key: str, now: float) -> float:
        tokens, last = self._buckets.get(key, (float(self.burst), now))
        return min(float(self.burst), tokens + (now - last) * self.rate)

    def _put(self, key: str, bucket: tuple[float, float]) -> None:
        self._buckets[key] = bucket
        self._buckets.move_to_end(key)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)

    def __len__(self) -> int:
        return len(self._buckets)

    def charge(self, key: str, amount: float) -> None:
        """Count `amount` tokens spent by `key` after the fact (work whose cost was known only
        once done). The balance may go below zero, down to `-burst`: the key then waits until
        it has paid back, and not longer."""
        if amount <= 0:
            return
        now = self._monotonic()
        with self._lock:
            tokens = max(-float(self.burst), self._tokens(key, now) - amount)
            self._put(key, (tokens, now))


def parse_networks(values: Sequence[str]) -> tuple[Network, ...]:
    """`CERTREG_TRUSTED_PROXIES` entries (addresses or CIDR blocks) as networks."""
    return tuple(ipaddress.ip_network(value.strip(), strict=False) for value in values)


def client_address(peer: str | None, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    """The client a request counts against, as a rate-limit key.

    `peer` is the TCP peer. Only when it is one of the `trusted` proxies is `X-Forwarded-For`
    believed, and then read from the right: each trusted proxy appended the address it saw, so
    the first address from the right that is not a trusted proxy is the client (entries further
    left are whatever the client chose to send). IPv6 clients are keyed by their /64."""
    address = client_ip(peer, forwarded_for, trusted)
    if address is None:
        return "address:unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return f"address:{address.ipv4_mapped}"
        network = ipaddress.IPv6Network((address, _IPV6_CLIENT_PREFIX), strict=False)
        return f"address:{network}"
    return f"address:{address}"


def client_ip(
    peer: str | None, forwarded_for: str | None, trusted: Sequence[Network]
) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The client's own address, by the rule of `client_address` (for the audit trail)."""
    address = _parse(peer)
    if address is None:
        return None
    if forwarded_for and _within(address, trusted):
        for entry in reversed(forwarded_for.split(",")):
            hop = _parse(entry.strip())
            if hop is None:
                break  # a malformed hop: stop at the last proxy we can vouch for
            address = hop
            if not _within(hop, trusted):
                break
    return address


def _parse(text: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not text:
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _within(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, networks: Sequence[Network]
) -> bool:
    return any(address.version == n.version and address in n for n in networks)


class Limits:
    """The app's rate limiters (api/deps.py applies them), built from `ApiSettings`.

    - `issuers`: requests of an authenticated issuer, keyed `issuer:<id>`;
    - `addresses`: everything not authenticated — public pages and routes, and failed
      authentications — keyed by client address;
    - `chain_reads`: the chain reads `POST /v1/verify` makes for a client address.
    """

    def __init__(
        self, settings: ApiSettings, *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.issuers = RateLimiter(
            rate=settings.rate_limit_per_s, burst=settings.rate_limit_burst, monotonic=monotonic
        )
        self.addresses = RateLimiter(
            rate=settings.public_rate_limit_per_s,
            burst=settings.public_rate_limit_burst,
            monotonic=monotonic,
        )
        self.chain_reads = RateLimiter(
            rate=settings.verify_chain_reads_per_s,
            burst=settings.verify_chain_reads_burst,
            monotonic=monotonic,
        )
        self.trusted_proxies = parse_networks(settings.trusted_proxies)

    def client(self, peer: str | None, forwarded_for: str | None) -> str:
        return client_address(peer, forwarded_for, self.trusted_proxies)

    def client_ip(self, peer: str | None, forwarded_for: str | None) -> str | None:
        """The client's address as the audit trail records it (the peer's text if it is not an
        IP address, as with test clients)."""
        address = client_ip(peer, forwarded_for, self.trusted_proxies)
        return str(address) if address is not None else peer
