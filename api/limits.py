"""Request body size limit (ASGI middleware) and rate limiting (token buckets, bounded)."""

import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from api.problems import BodyTooLargeError, problem_response

__all__ = ["BodyLimitMiddleware", "RateLimiter"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyLimitMiddleware:
    """413 for a body over `limit` bytes, by Content-Length or counted as it streams in."""

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.limit:
                    await self._reject(scope, receive, send)
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
                if seen > self.limit:
                    raise BodyTooLargeError(self.limit)
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
                await self._reject(scope, receive, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            "payload-too-large",
            413,
            f"request body: got more than {self.limit} bytes, want at most {self.limit}",
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

    def __init__(self, *, rate: float, burst: int, max_keys: int = 100_000) -> None:
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """0 if a request may go now (and it is counted), else the seconds until it may."""
        now = time.monotonic()
        with self._lock:
            tokens = self._tokens(key, now)
            if tokens >= 1:
                self._put(key, (tokens - 1, now))
                return 0.0
            self._put(key, (tokens, now))
            return (1 - tokens) / self.rate

    def wait(self, key: str) -> float:
        """The seconds until `key` may go again (0: now), counting nothing."""
        now = time.monotonic()
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
