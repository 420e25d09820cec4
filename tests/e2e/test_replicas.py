"""Replicas on one PostgreSQL: two API processes and two anchoring worker processes
(`certreg serve` ×2, `certreg anchor` ×2). Certificates are issued through both APIs at once;
exactly one worker anchors at a time (the PostgreSQL advisory lock), the other stands by; the
active worker is killed with SIGKILL right after it sent an anchoring transaction, and the other
takes over within `TAKEOVER_BOUND_S`. Afterwards nothing accepted is lost and nothing is
anchored twice. The figures are printed like the fault tests'."""

import datetime as dt
import secrets
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from web3 import Web3

from anchoring.client import AnchorClient, ChainClient
from anchoring.devnode import HardhatNode, dev_account, free_port
from tests.conftest import create_postgres_database, drop_postgres_database
from tests.e2e.harness import (
    CERTREG,
    CHAIN_ID,
    Accounts,
    RunningRegistry,
    _die_with_parent,
    start_registry,
    submission,
)
from tests.integration.anchoring.faults import log_events

pytestmark = pytest.mark.e2e

LOCK_RETRY_S = 0.5
#: a standby worker tries the lock every LOCK_RETRY_S; then it reconciles (the killed worker's
#: sent transaction) and anchors what waits: well under this on the local node
TAKEOVER_BOUND_S = 10.0


@pytest.fixture(scope="module")
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    url = create_postgres_database(postgres_admin_url, "certreg_replicas")
    try:
        yield url
    finally:
        drop_postgres_database(postgres_admin_url, url)


def _spawn(args: list[str], registry: RunningRegistry, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [str(CERTREG), *args],
            env=registry.env,
            cwd=registry.data_dir,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - only prctl, no locks taken
        )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait(condition: Callable[[], bool], *, timeout_s: float, what: str) -> float:
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout_s:
            raise AssertionError(f"{what}: not after {timeout_s} s")
        time.sleep(0.02)
    return time.monotonic() - start


def _events(log: Path, name: str) -> list[dict[str, Any]]:
    return [e for e in log_events(log) if e.get("event") == name]


def _when(event: dict[str, Any]) -> float:
    stamp = str(event["ts"]).replace("Z", "+00:00")
    return dt.datetime.fromisoformat(stamp).timestamp()


class Traffic:
    """Issues batches of certificates through one API until stopped; keeps what was accepted."""

    def __init__(self, url: str, auth: dict[str, str], tag: str) -> None:
        self.http = httpx2.Client(base_url=url, timeout=30, headers=auth)
        self.tag = tag
        self.accepted: dict[int, str] = {}  # seq -> certificate id
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)
        self.http.close()

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            bodies = [
                submission(f"REP-{self.tag}-{n}-{i}-{secrets.token_hex(2)}", template=i % 4)
                for i in range(5)
            ]
            n += 1
            try:
                response = self.http.post("/v1/certificates/batch", json={"certificates": bodies})
            except httpx2.HTTPError as exc:
                self.errors.append(f"{type(exc).__name__}: {exc}")
                continue
            if response.status_code != 201:
                self.errors.append(f"HTTP {response.status_code}: {response.text[:200]}")
                continue
            for created in response.json()["certificates"]:
                self.accepted[created["last_event_seq"]] = created["id"]
            time.sleep(0.05)


def test_two_apis_and_two_workers_on_one_database(
    hardhat: HardhatNode, accounts: Accounts, postgres_url: str, tmp_path: Path
) -> None:
    env = {
        "CERTREG_WORKER_LOCK_RETRY_S": str(LOCK_RETRY_S),
        "CERTREG_CHECKPOINT_INTERVAL_S": "0.3",
        "CERTREG_CHECKPOINT_MAX_EVENTS": "20",
    }
    with start_registry(
        hardhat, tmp_path, accounts, database_url=postgres_url, with_worker=False, extra_env=env
    ) as api1:
        port2 = free_port()
        api2_log, w1_log, w2_log = (tmp_path / f"{n}.log" for n in ("api2", "worker1", "worker2"))
        processes = [_spawn(["serve", "--host", "127.0.0.1", "--port", str(port2)], api1, api2_log)]
        try:
            url2 = f"http://127.0.0.1:{port2}"
            _wait(lambda: _healthy(url2), timeout_s=90, what="the second API")
            processes.append(_spawn(["anchor"], api1, w1_log))
            _wait(lambda: bool(_events(w1_log, "worker.started")), timeout_s=90, what="worker 1")
            processes.append(_spawn(["anchor"], api1, w2_log))
            _wait(lambda: bool(_events(w2_log, "worker.standby")), timeout_s=90, what="worker 2")
            worker1, worker2 = processes[1], processes[2]

            traffic = [Traffic(api1.url, api1.auth, "a"), Traffic(url2, api1.auth, "b")]
            for t in traffic:
                t.start()
            _wait(
                lambda: len(_events(w1_log, "checkpoint.anchored")) >= 3,
                timeout_s=60,
                what="worker 1 anchoring",
            )
            sent = len(_events(w1_log, "checkpoint.sent"))
            _wait(
                lambda: len(_events(w1_log, "checkpoint.sent")) > sent,
                timeout_s=30,
                what="worker 1 sending",
            )
            worker1.send_signal(signal.SIGKILL)  # mid-cycle: right after a transaction was sent
            killed_at = time.time()
            worker1.wait(10)
            _wait(
                lambda: bool(_events(w2_log, "checkpoint.anchored")),
                timeout_s=TAKEOVER_BOUND_S + 20,
                what="worker 2 taking over",
            )
            started = _when(_events(w2_log, "worker.started")[0])
            first_anchor = _when(_events(w2_log, "checkpoint.anchored")[0])
            time.sleep(1.0)  # more traffic, anchored by the new worker
            for t in traffic:
                t.stop()
            accepted = {**traffic[0].accepted, **traffic[1].accepted}
            end = max(accepted) + 1
            _wait(
                lambda: _anchored_size(api1) >= end,
                timeout_s=60,
                what=f"every accepted event anchored (size {end})",
            )
            assert worker2.poll() is None, "the standby worker died"

            figures = _figures(api1, accepted, w1_log, w2_log, killed_at=killed_at)
            figures.update(
                takeover_lock_s=round(started - killed_at, 2),
                takeover_anchor_s=round(first_anchor - killed_at, 2),
                traffic_errors=len(traffic[0].errors) + len(traffic[1].errors),
            )
            print("replicas " + " ".join(f"{k}={v}" for k, v in figures.items()))
            assert traffic[0].accepted and traffic[1].accepted, "both APIs issued"
            assert figures["traffic_errors"] == 0, traffic[0].errors + traffic[1].errors
            assert figures["lost"] == 0
            assert figures["double_anchors"] == 0
            assert figures["overlapping_anchors"] == 0
            assert first_anchor - killed_at < TAKEOVER_BOUND_S, figures
        finally:
            for process in processes:
                _stop(process)
        for log in (api2_log,):
            errors = [e for e in log_events(log) if e.get("level") in ("error", "critical")]
            assert not errors, errors[:5]


def _healthy(url: str) -> bool:
    try:
        return httpx2.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx2.HTTPError:
        return False


def _anchored_size(registry: RunningRegistry) -> int:
    rows = _all_checkpoints(registry)
    return rows[-1]["tree_size"] if rows else 0


def _all_checkpoints(registry: RunningRegistry) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    while True:
        page = registry.http.get(
            "/v1/checkpoints", params={"start": len(rows), "limit": 1000}
        ).json()["checkpoints"]
        rows.extend(page)
        if len(page) < 1000:
            return rows


def _figures(
    registry: RunningRegistry,
    accepted: dict[int, str],
    w1_log: Path,
    w2_log: Path,
    *,
    killed_at: float,
) -> dict[str, Any]:
    """lost: accepted events not in the anchored log at their seq; double_anchors: tree sizes
    anchored at two indices on chain; overlapping_anchors: anchorings by the standby before the
    kill, or by the killed worker after it."""
    size = _anchored_size(registry)
    entries: list[dict[str, Any]] = []
    for start in range(0, size, 1000):
        page = registry.http.get(
            "/v1/log/entries", params={"start": start, "end": min(size, start + 1000)}
        ).json()
        entries.extend(page["entries"])
    lost = sum(
        1
        for seq, certificate_id in accepted.items()
        if seq >= len(entries) or entries[seq]["certificate_id"] != certificate_id
    )
    reader = AnchorClient(
        ChainClient(Web3(Web3.HTTPProvider(registry.rpc_url)), dev_account(3), chain_id=CHAIN_ID),
        registry.contract,
    )
    on_chain = reader.checkpoints()
    sizes = Counter(c.tree_size for c in on_chain)
    double = sum(count - 1 for count in sizes.values())
    stored = _all_checkpoints(registry)
    mismatched = sum(
        1
        for c, row in zip(on_chain, stored, strict=False)
        if (c.tree_size, "0x" + c.log_root.hex()) != (row["tree_size"], row["log_root"])
    )
    w1_anchored = [_when(e) for e in _events(w1_log, "checkpoint.anchored")]
    w2_active = [
        _when(e)
        for e in log_events(w2_log)
        if str(e.get("event", "")).startswith(("checkpoint.", "worker.started"))
    ]
    overlapping = sum(1 for t in w1_anchored if t > killed_at) + sum(
        1 for t in w2_active if t < killed_at
    )
    return {
        "db": "postgresql",
        "apis": 2,
        "workers": 2,
        "accepted": len(accepted),
        "events": size,
        "checkpoints_on_chain": len(on_chain),
        "checkpoints_stored": len(stored),
        "anchored_by_worker1": len(w1_anchored),
        "anchored_by_worker2": len(_events(w2_log, "checkpoint.anchored")),
        "reconciled_by_worker2": len(_events(w2_log, "checkpoint.reconciled")),
        "lost": lost,
        "double_anchors": double + mismatched + abs(len(on_chain) - len(stored)),
        "overlapping_anchors": overlapping,
    }
