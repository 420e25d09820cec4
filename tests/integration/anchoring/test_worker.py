"""The anchoring worker against a real Hardhat node and both databases."""

import threading

import pytest
from sqlalchemy import select

from anchoring.client import AnchorClient
from anchoring.errors import ChainConnectionError
from anchoring.lock import WorkerLock, WorkerLockHeldError
from anchoring.metrics import RegistryCollector
from anchoring.models import issuer_id_hash
from anchoring.worker import ForkDetectedError, WorkerConfig
from registry.core.log import LogTree
from registry.db import models
from registry.db.repositories import CheckpointRepository
from registry.db.stores import SqlTileStore
from tests.integration.anchoring.conftest import Stack
from tests.integration.registry.conftest import admit, sample_submissions

ISSUER = "vn-cb-quatest3"


def db_checkpoints(stack: Stack) -> list[models.Checkpoint]:
    with stack.sessions() as session:
        return list(session.scalars(select(models.Checkpoint).order_by(models.Checkpoint.index)))


def assert_db_matches_chain(stack: Stack) -> None:
    rows = db_checkpoints(stack)
    reader = stack.chain.reader
    assert reader.checkpoint_count() == len(rows)
    for row in rows:
        assert row.state == "anchored"
        on_chain = reader.checkpoint(row.index)
        assert on_chain is not None
        assert (on_chain.tree_size, on_chain.log_root, on_chain.map_root) == (
            row.tree_size,
            row.log_root,
            row.map_root,
        )
        assert on_chain.block_number == row.block_number


class TestStep:
    def test_anchors_waiting_events_and_registers_keys_first(self, stack: Stack) -> None:
        admit(stack.service)
        stack.service.issue_batch(ISSUER, sample_submissions()[:5])
        worker = stack.worker()
        worker.run_until_idle()
        [row] = db_checkpoints(stack)
        assert (row.index, row.tree_size, row.state) == (0, 5, "anchored")
        assert row.tx_hash is not None
        assert_db_matches_chain(stack)
        with stack.sessions() as session:
            key = session.scalars(select(models.IssuerKey)).one()
        assert key.valid_from_block is not None
        assert row.block_number is not None
        assert key.valid_from_block <= row.block_number
        on_chain = stack.chain.reader.issuer_key(
            issuer_id=issuer_id_hash(ISSUER), key_id=key.key_id
        )
        assert on_chain.public_key == key.public_key

    def test_later_checkpoints_extend_the_first(self, stack: Stack) -> None:
        admit(stack.service)
        submissions = sample_submissions()
        worker = stack.worker()
        for batch in (submissions[:2], submissions[2:3], submissions[3:]):
            stack.service.issue_batch(ISSUER, batch)
            worker.run_until_idle()
        assert [c.tree_size for c in db_checkpoints(stack)] == [2, 3, len(submissions)]
        assert_db_matches_chain(stack)

    def test_nothing_to_do(self, stack: Stack) -> None:
        worker = stack.worker()
        assert worker.step() is False
        assert stack.chain.reader.checkpoint_count() == 0


class TestReconcile:
    def test_a_send_not_recorded_is_found_on_chain(self, stack: Stack) -> None:
        admit(stack.service)
        stack.service.issue_batch(ISSUER, sample_submissions()[:3])
        worker = stack.worker()
        worker.step()  # first checkpoint: keys registered, anchored
        stack.service.issue(ISSUER, sample_submissions()[3])
        row = stack.builder.prepare()
        assert row is not None
        # The crash window: the transaction went out, the database never heard of it.
        with stack.sessions() as session:
            proof = stack.builder.consistency_proof(session, row)
        stack.chain.anchorer.anchor(
            tree_size=row.tree_size, log_root=row.log_root, map_root=row.map_root, proof=proof
        )
        fresh = stack.worker()
        fresh.run_until_idle()
        assert [c.state for c in db_checkpoints(stack)] == ["anchored", "anchored"]
        assert_db_matches_chain(stack)

    def test_a_lost_transaction_is_sent_again(self, stack: Stack) -> None:
        admit(stack.service)
        stack.service.issue_batch(ISSUER, sample_submissions()[:3])
        row = stack.builder.prepare()
        assert row is not None
        with stack.sessions.begin() as session:
            stored = session.get(models.Checkpoint, row.index)
            assert stored is not None
            stored.state = "sent"
            stored.tx_hash = "0x" + "ee" * 32  # never reached the node
        stack.worker().run_until_idle()
        [anchored] = db_checkpoints(stack)
        assert anchored.state == "anchored"
        assert anchored.tx_hash != "0x" + "ee" * 32
        assert_db_matches_chain(stack)

    def test_a_different_root_on_chain_stops_the_worker(self, stack: Stack) -> None:
        admit(stack.service)
        stack.service.issue_batch(ISSUER, sample_submissions()[:3])
        row = stack.builder.prepare()
        assert row is not None
        stack.chain.anchorer.anchor(
            tree_size=row.tree_size, log_root=b"\x66" * 32, map_root=row.map_root, proof=[]
        )
        with pytest.raises(ForkDetectedError, match="checkpoint 0 on chain"):
            stack.worker().run_until_idle()
        with stack.sessions() as session:
            assert CheckpointRepository(session).latest_anchored() is None

    def test_checkpoints_on_chain_the_database_never_made_stop_the_worker(
        self, stack: Stack
    ) -> None:
        stack.chain.anchorer.anchor(
            tree_size=7, log_root=b"\x01" * 32, map_root=b"\x02" * 32, proof=[]
        )
        with pytest.raises(ForkDetectedError, match="another writer"):
            stack.worker().run_until_idle()

    def test_a_checkpoint_someone_else_anchors_while_running_stops_the_worker(
        self, stack: Stack
    ) -> None:
        # A stolen anchoring key in use: the running worker notices on its next watch (not
        # only at start), logs it at error level, exposes it as a metric, and stops.
        admit(stack.service)
        stack.service.issue_batch(ISSUER, sample_submissions()[:3])
        worker = stack.worker(
            config=WorkerConfig(
                checkpoint_interval_s=0.0, poll_interval_s=0.05, watch_interval_s=0.0
            )
        )
        worker.run_until_idle()
        assert worker.step() is False  # idle, and nothing foreign yet
        [row] = db_checkpoints(stack)
        # The thief extends the public log with a junk entry: consistent, so the contract
        # takes it from the anchoring key.
        with stack.sessions() as session:  # rolled back: the tiles written are not kept
            tree = LogTree(SqlTileStore(session), tree_size=row.tree_size)
            tree.append_many([b"junk"])
            root = tree.root_hash()
            proof = tree.consistency_proof(size1=row.tree_size, size2=row.tree_size + 1)
        stack.chain.anchorer.anchor(
            tree_size=row.tree_size + 1, log_root=root, map_root=b"\x67" * 32, proof=proof
        )
        with pytest.raises(ForkDetectedError, match="never made"):
            worker.step()
        assert worker.foreign_checkpoints == 1
        metrics = {
            m.name: m.samples[0].value
            for m in RegistryCollector(stack.sessions, worker=lambda: worker).collect()
        }
        assert metrics["certreg_foreign_checkpoints"] == 1


class TestChainOutage:
    def test_retries_with_backoff_until_the_node_answers(self, stack: Stack) -> None:
        admit(stack.service)
        stack.service.issue_batch(ISSUER, sample_submissions()[:3])
        calls = {"n": 0}

        def flaky() -> AnchorClient:
            calls["n"] += 1
            if calls["n"] <= 3:
                raise ChainConnectionError("eth_chainId: got connection refused, want an answer")
            return stack.chain.client(stack.chain.accounts.anchorer)

        worker = stack.worker(
            client_factory=flaky,
            config=WorkerConfig(
                checkpoint_interval_s=0.0,
                poll_interval_s=0.05,
                backoff_initial_s=0.01,
                backoff_max_s=0.05,
            ),
        )
        stop = threading.Event()
        thread = threading.Thread(target=worker.run, args=(stop,))
        thread.start()
        try:
            for _ in range(200):
                rows = db_checkpoints(stack)
                if rows and rows[-1].state == "anchored":
                    break
                stop.wait(0.05)
        finally:
            stop.set()
            thread.join(timeout=10)
        assert worker.failures >= 3
        assert [c.state for c in db_checkpoints(stack)] == ["anchored"]
        assert_db_matches_chain(stack)


class TestIssuerKeys:
    def test_a_retired_key_is_revoked_once_its_events_are_anchored(self, stack: Stack) -> None:
        admit(stack.service)
        submissions = sample_submissions()
        stack.service.issue(ISSUER, submissions[0])
        new_key = stack.service.rotate_key(ISSUER)
        stack.service.issue(ISSUER, submissions[1])
        worker = stack.worker()
        worker.run_until_idle()
        worker.step()  # the revocation follows the anchor of the old key's last event
        with stack.sessions() as session:
            keys = {k.key_id: k for k in session.scalars(select(models.IssuerKey))}
        [old_id] = [k for k in keys if k != new_key]
        old = keys[old_id]
        [row] = db_checkpoints(stack)
        assert old.revoked_at_block is not None
        assert row.block_number is not None
        assert old.revoked_at_block > row.block_number  # events signed before stay valid
        reader = stack.chain.reader
        assert reader.issuer_key_in_force(
            issuer_id=issuer_id_hash(ISSUER), key_id=old_id, block_number=row.block_number
        )
        assert keys[new_key].valid_from_block is not None


class TestLock:
    def test_one_worker_at_a_time(self, stack: Stack) -> None:
        with WorkerLock(stack.engine), pytest.raises(WorkerLockHeldError):
            WorkerLock(stack.engine).acquire()
        with WorkerLock(stack.engine):
            pass  # released by the first one's exit
