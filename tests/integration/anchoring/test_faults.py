"""Fault tests of the anchoring worker (issue 4, item 6; docs/spec.md §12 "no loss"), against the
real Hardhat node and both databases.

- Kill loop: while a thread issues, suspends, reinstates, withdraws and supersedes certificates
  through the service, the worker runs as a real process (`certreg anchor`) and is SIGKILLed over
  and over — by the test at a random (seeded) moment, or by itself at one of its injected crash
  points (after prepare, after send, after recording the send, after the receipt). Then
  `certreg anchor --once` (the real executable) finishes the work.
  The first half runs with a block per transaction, the second with a block a second, so that
  kills also leave transactions pending.
- Chain outage: the worker reaches the node through a TCP proxy (proxy.py) that the test cuts —
  once for a few seconds, with a worker killed and a fresh one started while the node is
  unreachable — then makes it lose the answers to two sends and a receipt request (the node did
  the work, the worker never hears of it), then cuts a few short times; the traffic goes on
  throughout, and the worker must retry and catch up by itself. (The Hardhat node itself is not
  stopped: its chain lives in memory.)

After each, from scratch (tests/integration/anchoring/faults.py): every accepted event is stored
and covered by the latest anchored checkpoint; every checkpoint is anchored once and the database
and the contract agree on each (size, roots, block, transaction); the log root recomputed from the
stored events and the map root from replaying them equal every anchored pair; issuer keys were in
force wherever they are needed. Each test prints one summary line (`faults …`, `chain-outage …`).

Workers are started by a fork server (forkserver.py): a fresh interpreter would spend ~3 s on
imports each time, and the loop starts dozens of them.
"""

import json
import random
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from registry.core.note import NoteSigner
from registry.db import models
from registry.db.repositories import CheckpointRepository
from registry.service import RegistryService
from tests.integration.anchoring.conftest import Stack
from tests.integration.anchoring.faults import (
    CRASH_POINTS,
    ISSUER,
    Figures,
    Traffic,
    check_invariants,
    log_events,
    settled,
    summarize,
    wait_for,
    wait_lock_free,
    worker_env,
)
from tests.integration.anchoring.forkserver import Child, ForkServer
from tests.integration.anchoring.proxy import TcpProxy
from tests.integration.conftest import Chain
from tests.integration.registry.conftest import admit, sample_submissions

SEED = "certreg-faults/1"
KILLED = -signal.SIGKILL
BLOCK_MS = 1000  # the second half of the kill loop mines a block this often: > a restart


@pytest.fixture(scope="module")
def fork_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ForkServer]:
    server = ForkServer(log=tmp_path_factory.mktemp("forkserver") / "server.log")
    try:
        yield server
    finally:
        server.close()


@dataclass
class Rig:
    """One test's registry database, chain, service and worker processes."""

    server: ForkServer
    chain: Chain
    engine: Engine
    sessions: sessionmaker[Session]
    service: RegistryService
    signer: NoteSigner
    env: dict[str, str]
    workdir: Path
    db: str
    since_block: int
    children: list[Child] = field(default_factory=list)

    def spawn(self, name: str, *, seed: int, **env: str) -> Child:
        """Start `certreg anchor` with this test's settings plus `env`."""
        child = self.server.spawn(
            ["anchor"],
            env={**self.env, **env},
            cwd=self.workdir,
            output=self.workdir / f"{name}.log",
            seed=seed,
        )
        self.children.append(child)
        return child

    def log_events(self) -> list[dict[str, object]]:
        return [event for child in self.children for event in log_events(child.output)]

    def check(self, traffic: Traffic) -> Figures:
        return check_invariants(
            sessions=self.sessions,
            reader=self.chain.reader,
            signer=self.signer,
            accepted=traffic.accepted(),
            since_block=self.since_block,
        )


@pytest.fixture
def rig(
    fork_server: ForkServer,
    chain: Chain,
    engine: Engine,
    sessions: sessionmaker[Session],
    tmp_path: Path,
) -> Iterator[Rig]:
    kek = secrets.token_bytes(32)
    signer = NoteSigner(name="faults.test/log", private_key=Ed25519PrivateKey.generate())
    service = RegistryService(sessions=sessions, kek=kek)
    admit(service)
    rig = Rig(
        server=fork_server,
        chain=chain,
        engine=engine,
        sessions=sessions,
        service=service,
        signer=signer,
        env=worker_env(
            chain=chain,
            database_url=engine.url.render_as_string(hide_password=False),
            data_dir=tmp_path / "data",
            rpc_url=chain.node.url,
            kek=kek,
            signer=signer,
        ),
        workdir=tmp_path,
        db=engine.dialect.name,
        since_block=chain.block_number,
    )
    try:
        yield rig
    finally:
        for child in rig.children:
            fork_server.kill(child)
        for child in rig.children:
            fork_server.wait(child, 15)


def report(line: str, capsys: pytest.CaptureFixture[str], request: pytest.FixtureRequest) -> None:
    """Show `line` in `make test`'s output (not captured) and in the test's report properties
    (`record_property` without its warning under JUnit xunit2)."""
    request.node.user_properties.append(("figures", line))
    with capsys.disabled():
        print(f"\n{line}")


def output_tail(child: Child, lines: int = 30) -> str:
    return "\n".join(child.output.read_text(errors="replace").splitlines()[-lines:])


def started(child: Child) -> bool:
    try:
        return "worker.started" in child.output.read_text(errors="replace")
    except FileNotFoundError:
        return False


@dataclass(frozen=True)
class Plan:
    """One worker run of the kill loop: crash points armed (with their probability), or none
    and the test kills it."""

    points: tuple[str, ...] = ()
    probability: float = 1.0


def kill_plans(rng: random.Random) -> list[Plan]:
    # Each crash point armed alone three times (it fires on the first cycle that reaches it),
    # all four at once at 30 % each (whichever fires first; else the test kills), and test kills.
    plans = [Plan((point,)) for point in CRASH_POINTS for _ in range(3)]
    plans += [Plan(CRASH_POINTS, 0.3) for _ in range(6)]
    plans += [Plan() for _ in range(12)]
    rng.shuffle(plans)
    return plans


def test_worker_killed_at_random_points_loses_nothing(
    rig: Rig, capsys: pytest.CaptureFixture[str], request: pytest.FixtureRequest
) -> None:
    began = time.monotonic()
    rng = random.Random(f"{SEED}/kill/{rig.db}")
    server = rig.server
    traffic = Traffic(rig.service, seed=f"{SEED}/traffic/{rig.db}")
    traffic.start()
    fired: Counter[str] = Counter()
    landed: Counter[str] = Counter()  # test kills, by the last thing the worker logged
    test_kills = 0
    try:
        plans = kill_plans(rng)
        for number, plan in enumerate(plans):
            if number == len(plans) // 2:
                # From here on a block every BLOCK_MS instead of one per transaction: a kill
                # can now leave a transaction pending, which the next worker must not take for
                # lost, nor anchor twice.
                rig.chain.rpc("evm_setAutomine", [False])
                rig.chain.rpc("evm_setIntervalMining", [BLOCK_MS])
            wait_lock_free(rig.engine)
            armed = {}
            if plan.points:
                armed = {
                    "CERTREG_TEST_CRASH_AT": ",".join(plan.points),
                    "CERTREG_TEST_CRASH_PROBABILITY": str(plan.probability),
                }
            child = rig.spawn(f"kill-{number:02d}", seed=rng.randrange(2**31), **armed)
            wait_for(
                lambda: started(child) or server.status(child) is not None,  # noqa: B023
                timeout_s=60,
                what=f"run {number}: worker.started",
            )
            if plan.probability == 1.0 and plan.points:
                status = server.wait(child, 30)  # it kills itself at its first cycle
            else:
                # Starting takes ~0.4 s (chain clients, reconcile), then a cycle ~0.1 s.
                status = server.wait(child, rng.uniform(0.1, 1.6))
            if status is None:
                server.kill(child)
                test_kills += 1
                status = server.wait(child, 15)
                last = [e for e in log_events(child.output) if e["logger"] == "certreg.anchoring"]
                landed[str(last[-1]["event"]) if last else "starting"] += 1
            assert status == KILLED, f"run {number} {plan}: exit {status}\n{output_tail(child)}"
            points = [e["point"] for e in log_events(child.output) if e["event"] == "test.crash"]
            assert len(points) <= 1
            if plan.points and plan.probability == 1.0:
                assert points == list(plan.points), f"run {number}: got {points}, want {plan}"
            fired.update(str(point) for point in points)
    finally:
        traffic.stop()

    # Recovery: the real `certreg anchor --once`, as an operator would run it, right away (what
    # the last worker sent may still be pending).
    wait_lock_free(rig.engine)
    certreg = Path(sys.executable).with_name("certreg")
    done = subprocess.run(
        [str(certreg), "anchor", "--once", "--json"],
        env=rig.env,
        cwd=rig.workdir,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert json.loads(done.stdout.splitlines()[-1])["failures"] == 0
    assert settled(rig.sessions)

    figures = rig.check(traffic)
    logged = Counter(str(e["event"]) for e in rig.log_events())
    line = "faults " + summarize(
        figures,
        db=rig.db,
        mining=f"auto+interval({BLOCK_MS}ms)",
        kills=test_kills + sum(fired.values()),
        test_kills=test_kills,
        crash_points="{" + ", ".join(f"{p}: {fired[p]}" for p in CRASH_POINTS) + "}",
        test_kills_after=dict(landed.most_common()),
        key_rotations=traffic.rotations,
        retries=logged["worker.retry"],
        resends=logged["checkpoint.resend"],
        pending_waits=logged["worker.pending"],
        reconciled=logged["checkpoint.reconciled"],
        seconds=f"{time.monotonic() - began:.1f}",
    )
    report(line, capsys, request)
    assert figures.lost == 0, line
    assert figures.double_anchors == 0, line
    assert not figures.problems, "\n".join([line, *figures.problems])
    for point in CRASH_POINTS:
        assert fired[point] >= 3, f"crash point {point} fired {fired[point]} times; {line}"
    assert test_kills >= 12, line
    assert traffic.rotations == 2, line


def test_worker_rides_out_a_chain_outage(
    rig: Rig, capsys: pytest.CaptureFixture[str], request: pytest.FixtureRequest
) -> None:
    began = time.monotonic()
    rng = random.Random(f"{SEED}/outage/{rig.db}")
    server = rig.server
    reader = rig.chain.reader  # straight to the node, around the proxy
    traffic = Traffic(rig.service, seed=f"{SEED}/traffic/{rig.db}", rotate_at=(100,))
    with TcpProxy(("127.0.0.1", rig.chain.node.port)) as proxy:
        via_proxy = {"CERTREG_RPC_URL": proxy.url}
        traffic.start()
        try:
            first = rig.spawn("outage-0", seed=1, **via_proxy)

            def anchored() -> int:
                with rig.sessions() as session:
                    latest = CheckpointRepository(session).latest_anchored()
                return -1 if latest is None else latest.index

            wait_for(lambda: anchored() >= 1, timeout_s=60, what="checkpoints before the outage")

            # The long outage. The worker must notice and back off (worker.retry); a worker
            # killed now and a new one started while the node is unreachable must start,
            # retry and wait.
            def retry_count(child: Child) -> int:
                return sum(1 for e in log_events(child.output) if e["event"] == "worker.retry")

            accepted_before = traffic.count
            proxy.cut()
            cut_at = time.monotonic()
            time.sleep(0.3)  # a request the node had already received is answered by now
            on_chain = reader.checkpoint_count()
            wait_for(
                lambda: retry_count(first) >= 2 and time.monotonic() - cut_at >= 2.0,
                timeout_s=30,
                what="worker.retry while the node is unreachable",
            )
            server.kill(first)
            assert server.wait(first, 15) == KILLED
            wait_lock_free(rig.engine)
            second = rig.spawn("outage-1", seed=2, **via_proxy)
            wait_for(
                lambda: retry_count(second) >= 2,
                timeout_s=30,
                what="worker.retry of a worker started while the node is unreachable",
            )
            outage_s = time.monotonic() - cut_at
            assert reader.checkpoint_count() == on_chain, "the proxy let a transaction through"
            accepted_during = traffic.count - accepted_before
            proxy.restore()
            anchored_at_restore = anchored()
            recovered_s = wait_for(
                lambda: anchored() > anchored_at_restore,
                timeout_s=60,
                what="a checkpoint anchored after the node is back",
            )

            # Lost answers: the node mines the transaction, or has its receipt, and the answer
            # never reaches the worker — which must find out from the chain, not send again.
            proxy.lose_answers(b'"eth_sendRawTransaction"', 2)
            proxy.lose_answers(b'"eth_getTransactionReceipt"', 1)
            wait_for(lambda: proxy.answers_lost == 3, timeout_s=60, what="3 answers lost")

            # Short flaps at random moments, which may cut a request in flight.
            flaps = 3
            for _ in range(flaps):
                time.sleep(rng.uniform(0.2, 0.8))
                proxy.cut()
                time.sleep(rng.uniform(0.1, 0.5))
                proxy.restore()
        finally:
            traffic.stop()
        caught_up_s = wait_for(
            lambda: settled(rig.sessions), timeout_s=120, what="every event anchored after"
        )
        server.kill(second, signal.SIGTERM)
        assert server.wait(second, 30) == 0, output_tail(second)
        refused, dropped, lost_answers = proxy.refused, proxy.dropped, proxy.answers_lost

    figures = rig.check(traffic)
    events = rig.log_events()
    retries = [e for e in events if e["event"] == "worker.retry"]
    errors = Counter(str(e.get("error", "")).split(":", 1)[0] for e in retries)
    line = "chain-outage " + summarize(
        figures,
        db=rig.db,
        outage_s=f"{outage_s:.1f}",
        recovered_s=f"{recovered_s:.1f}",
        answers_lost=lost_answers,
        flaps=flaps,
        accepted_during_outage=accepted_during,
        connections_refused=refused,
        connections_dropped=dropped,
        retries=len(retries),
        retry_errors=dict(errors),
        caught_up_s=f"{caught_up_s:.1f}",
        seconds=f"{time.monotonic() - began:.1f}",
    )
    report(line, capsys, request)
    assert accepted_during > 0, f"the API path must not need the chain; {line}"
    assert figures.lost == 0, line
    assert figures.double_anchors == 0, line
    assert not figures.problems, "\n".join([line, *figures.problems])


@pytest.mark.parametrize("recorded", ["prepared", "sent"])
def test_an_anchor_left_pending_by_a_dead_worker_is_awaited_not_sent_again(
    stack: Stack, recorded: str
) -> None:
    """The kill loop's finding, pinned down in process: a worker died after sending (before or
    after recording it) on a chain that mines in blocks. The next one waits for that
    transaction instead of sending a second anchor, which could only revert — and made
    `certreg anchor --once` fail."""
    admit(stack.service)
    submissions = sample_submissions()
    stack.service.issue_batch(ISSUER, submissions[:3])
    stack.worker().run_until_idle()
    stack.service.issue(ISSUER, submissions[3])
    row = stack.builder.prepare()
    assert row is not None
    chain = stack.chain
    chain.rpc("evm_setAutomine", [False])
    with stack.sessions() as session:
        proof = stack.builder.consistency_proof(session, row)
    sent = chain.anchorer.send_anchor(
        tree_size=row.tree_size, log_root=row.log_root, map_root=row.map_root, proof=proof
    )
    if recorded == "sent":
        with stack.sessions.begin() as session:
            stored = session.get(models.Checkpoint, row.index)
            assert stored is not None
            stored.state, stored.tx_hash, stored.nonce = "sent", sent.tx_hash, sent.nonce
    anchorer = chain.accounts.anchorer.address
    sent_so_far = chain.w3.eth.get_transaction_count(anchorer, "pending")
    chain.rpc("evm_setIntervalMining", [300])

    stack.worker().run_until_idle()

    with stack.sessions() as session:
        latest = CheckpointRepository(session).latest()
    assert latest is not None
    assert (latest.index, latest.state, latest.tx_hash) == (1, "anchored", sent.tx_hash)
    assert chain.w3.eth.get_transaction_count(anchorer, "latest") == sent_so_far
    assert chain.reader.checkpoint_count() == 2
