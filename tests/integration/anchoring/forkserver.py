"""A fork server for the fault tests: `certreg` commands as real processes, started in milliseconds.

Importing web3, eth-account and SQLAlchemy costs about 3 s per interpreter on the CI machines,
and the kill loop starts the worker dozens of times. This server (`python -m
tests.integration.anchoring.forkserver`) imports the CLI once, then forks one child per request.
Each child takes its own environment, working directory, output file and random seed, and runs
the command exactly as the `certreg` executable does (`api.cli.app`), so a child is a worker
process like any other: it holds its own database connections, lock and chain client, and a
SIGKILL ends it the same way.

The server is the children's parent, so it alone signals and reaps them: a pid it signals cannot
have been reused, because it has not collected that child yet. Protocol, JSON lines — requests on
stdin:

    {"op": "spawn", "argv": [...], "env": {...}, "cwd": "...", "output": "...", "seed": 1}
    {"op": "kill", "pid": 123, "signal": 9}

replies on stdout: `{"ready": true}` once the imports are done, `{"spawned": pid}` for each spawn
(in order), and `{"exited": pid, "status": code}` when a child ends (negative: the signal that
ended it). At the end of stdin the server SIGKILLs the children left, reaps them and exits; each
child also gets SIGKILL if the server dies (PR_SET_PDEATHSIG), so none outlives the test.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import queue
import random
import select
import signal
import subprocess
import sys
import threading
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NoReturn

__all__ = ["Child", "ForkServer"]

REPO_ROOT = Path(__file__).resolve().parents[3]
_PR_SET_PDEATHSIG = 1


# -- the server (runs in its own interpreter) ---------------------------------------------------


def _preload() -> None:
    """Everything `certreg anchor` imports, so that children start with it done."""
    import alembic.command  # noqa: F401, PLC0415
    import psycopg  # noqa: F401, PLC0415
    import sqlalchemy.dialects.postgresql  # noqa: PLC0415
    import sqlalchemy.dialects.sqlite  # noqa: F401, PLC0415

    import anchoring.worker  # noqa: F401, PLC0415
    import registry.db.migrate  # noqa: PLC0415
    import registry.logs  # noqa: F401, PLC0415


def _run_child(request: dict[str, Any], server_pid: int) -> NoReturn:
    """In the forked child: become the requested command, then exit with its status."""
    code = 1
    try:
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != server_pid:  # the server died before prctl took effect
            os._exit(1)
        fd = os.open(request["output"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_DFL)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        random.seed(request["seed"])  # the worker's crash points draw from `random`
        from api.cli import app  # noqa: PLC0415 (preloaded: a dictionary lookup)

        try:
            app(args=request["argv"], prog_name="certreg")
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    except BaseException:
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


def serve() -> None:
    _preload()
    server_pid = os.getpid()
    children: set[int] = set()

    def reply(message: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()

    def reap() -> None:
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            children.discard(pid)
            reply({"exited": pid, "status": os.waitstatus_to_exitcode(status)})

    def handle(request: dict[str, Any]) -> None:
        if request["op"] == "spawn":
            pid = os.fork()
            if pid == 0:
                _run_child(request, server_pid)
            children.add(pid)
            reply({"spawned": pid})
        elif request["op"] == "kill":
            if request["pid"] in children:  # not reaped: the pid is still that child's
                os.kill(request["pid"], request.get("signal", signal.SIGKILL))
        else:
            raise ValueError(f"fork server request: got op {request['op']!r}, want spawn or kill")

    reply({"ready": True})
    stdin = sys.stdin.fileno()
    pending = b""
    while True:
        readable, _, _ = select.select([stdin], [], [], 0.01)
        reap()
        if not readable:
            continue
        chunk = os.read(stdin, 1 << 16)
        if not chunk:
            break
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            handle(json.loads(line))
    for pid in children:
        os.kill(pid, signal.SIGKILL)
    for pid in list(children):
        status = os.waitpid(pid, 0)[1]
        reply({"exited": pid, "status": os.waitstatus_to_exitcode(status)})


# -- the client (in the test process) -----------------------------------------------------------


@dataclass(frozen=True)
class Child:
    pid: int
    output: Path


class ForkServer:
    """Starts the server and talks to it; `close()` ends every child and the server."""

    def __init__(self, *, log: Path, ready_timeout_s: float = 120.0) -> None:
        self._log: IO[bytes] = log.open("wb")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.anchoring.forkserver"],
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            bufsize=1,
        )
        self._spawned: queue.Queue[int] = queue.Queue()
        self._exits: dict[int, int] = {}
        self._changed = threading.Condition()
        self._ready = threading.Event()
        self._send_lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, name="forkserver-reader", daemon=True)
        self._reader.start()
        if not self._ready.wait(ready_timeout_s):
            self.close()
            raise RuntimeError(f"fork server: got no ready line in {ready_timeout_s} s, see {log}")

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            message = json.loads(line)
            if "ready" in message:
                self._ready.set()
            elif "spawned" in message:
                self._spawned.put(message["spawned"])
            elif "exited" in message:
                with self._changed:
                    self._exits[message["exited"]] = message["status"]
                    self._changed.notify_all()
        with self._changed:  # the server is gone: nobody waits for it any more
            self._changed.notify_all()

    def _send(self, request: dict[str, Any]) -> None:
        assert self._process.stdin is not None
        with self._send_lock:
            self._process.stdin.write(json.dumps(request) + "\n")
            self._process.stdin.flush()

    def spawn(
        self, argv: list[str], *, env: dict[str, str], cwd: Path, output: Path, seed: int
    ) -> Child:
        """Run `certreg ARGV…` in a new child; its stdout and stderr go to `output`."""
        with self._send_lock:
            assert self._process.stdin is not None
            request = {
                "op": "spawn",
                "argv": argv,
                "env": env,
                "cwd": str(cwd),
                "output": str(output),
                "seed": seed,
            }
            self._process.stdin.write(json.dumps(request) + "\n")
            self._process.stdin.flush()
            pid = self._spawned.get(timeout=30)
        return Child(pid=pid, output=output)

    def kill(self, child: Child, signum: int = signal.SIGKILL) -> None:
        """Signal `child` unless it has already ended (the server checks, race-free)."""
        if self.status(child) is None:
            self._send({"op": "kill", "pid": child.pid, "signal": int(signum)})

    def status(self, child: Child) -> int | None:
        """The child's exit status (negative: killed by that signal), None while it runs."""
        with self._changed:
            return self._exits.get(child.pid)

    def wait(self, child: Child, timeout_s: float) -> int | None:
        """Wait until `child` ends; its status, or None if it still runs after `timeout_s`."""
        with self._changed:
            self._changed.wait_for(
                lambda: child.pid in self._exits or self._process.poll() is not None,
                timeout=timeout_s,
            )
            return self._exits.get(child.pid)

    def close(self) -> None:
        """End every child (SIGKILL) and the server."""
        if self._process.stdin is not None:
            with contextlib.suppress(OSError):
                self._process.stdin.close()
        try:
            self._process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._process.kill()  # its children die with it (PR_SET_PDEATHSIG)
            self._process.wait(timeout=15)
        self._reader.join(timeout=5)
        if self._process.stdout is not None:
            self._process.stdout.close()
        self._log.close()


if __name__ == "__main__":
    serve()
