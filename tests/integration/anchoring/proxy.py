"""A TCP proxy the fault tests put between the worker and the chain node, to make the node
unreachable for a while without stopping it (its chain lives in memory and would be lost).

`cut()` resets every open connection and resets each new one as soon as it is accepted, which
the worker's HTTP client sees as the node going away; `restore()` forwards again.
`lose_answers(marker, n)` forwards the next `n` requests containing `marker` (a JSON-RPC method
name) to the node but resets the connection instead of passing on the answer: the node did the
work — mined the transaction — and the worker never hears of it.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from types import TracebackType

__all__ = ["TcpProxy"]


def _reset(sock: socket.socket) -> None:
    """Close with a TCP RST (linger 0), as a host that dropped the connection would."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


class _Pair:
    """One proxied connection: the client's socket and ours to the target."""

    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client = client
        self.upstream = upstream
        self._lock = threading.Lock()
        self._closed = False
        self.lose_answer = False  # the request in flight is one whose answer gets lost

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        # shutdown() wakes the pump threads blocked in recv(); close() alone would not.
        _reset(self.client)
        _reset(self.upstream)


class TcpProxy:
    """Forwards 127.0.0.1:`port` to `target`; a context manager that stops it on exit."""

    def __init__(self, target: tuple[str, int]) -> None:
        self._target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._cut = False
        self._pairs: set[_Pair] = set()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self.accepted = 0  # connections forwarded
        self.refused = 0  # connections reset on arrival while cut
        self.dropped = 0  # open connections reset by cut()
        self.answers_lost = 0  # answers not passed on (lose_answers)
        self._lose: dict[bytes, int] = {}
        self._acceptor = threading.Thread(target=self._accept_loop, name="proxy-accept")
        self._acceptor.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cut(self) -> None:
        """From now until `restore()`, the target is unreachable through the proxy."""
        with self._lock:
            self._cut = True
            pairs = list(self._pairs)
            self._pairs.clear()
            self.dropped += len(pairs)
        for pair in pairs:
            pair.close()

    def restore(self) -> None:
        with self._lock:
            self._cut = False

    def lose_answers(self, marker: bytes, count: int = 1) -> None:
        """Lose the answers to the next `count` requests that contain `marker`."""
        with self._lock:
            self._lose[marker] = self._lose.get(marker, 0) + count

    def close(self) -> None:
        self._stopping.set()
        self._acceptor.join(timeout=5)
        self._listener.close()
        with self._lock:
            pairs = list(self._pairs)
            self._pairs.clear()
        for pair in pairs:
            pair.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                cut = self._cut
            if cut:
                with self._lock:
                    self.refused += 1
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(self._target, timeout=5)
            except OSError:
                _reset(client)
                continue
            client.settimeout(None)
            upstream.settimeout(None)
            pair = _Pair(client, upstream)
            with self._lock:
                if self._cut:  # cut while we were connecting
                    self.refused += 1
                    cut = True
                else:
                    self._pairs.add(pair)
                    self.accepted += 1
            if cut:
                pair.close()
                continue
            self._threads = [t for t in self._threads if t.is_alive()]
            for source, sink, to_target in ((client, upstream, True), (upstream, client, False)):
                thread = threading.Thread(
                    target=self._pump,
                    args=(pair, source, sink, to_target),
                    name="proxy-pump",
                    daemon=True,
                )
                thread.start()
                self._threads.append(thread)

    def _pump(
        self, pair: _Pair, source: socket.socket, sink: socket.socket, to_target: bool
    ) -> None:
        try:
            while data := source.recv(1 << 16):
                if to_target:
                    self._mark(pair, data)
                elif pair.lose_answer:
                    with self._lock:
                        self.answers_lost += 1
                    return  # `finally` resets both ends: the client gets no answer
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._pairs.discard(pair)
            pair.close()

    def _mark(self, pair: _Pair, request: bytes) -> None:
        with self._lock:
            for marker, count in self._lose.items():
                if count > 0 and marker in request:
                    self._lose[marker] = count - 1
                    pair.lose_answer = True
                    return
