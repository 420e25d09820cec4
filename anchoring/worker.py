"""The anchoring worker: a state machine that survives a kill at any instant.

Each checkpoint goes prepared → sent → anchored, each step committed before the next begins:

- **prepare**: when events wait (every N seconds or M events), form and sign the next
  checkpoint and store it `prepared` (with the log tiles it needs);
- **send**: ask the log signer (`anchoring.logsigner`, another process holding another key)
  to authorise the checkpoint, send `anchor(treeSize, logRoot, mapRoot, proof, authorisation)`
  and store `sent` with the tx hash and nonce;
- **confirm**: wait for the receipt and the confirmations, then store `anchored` with the block,
  making the checkpoint's status map the anchored one in the same transaction.

On start, and after any chain error, it **reconciles** with the contract, once the transactions
its accounts still have pending are mined: a checkpoint already on chain is marked anchored; one
that is not is sent again (the contract refuses a second anchor of a size, so a lost transaction
that lands late can never anchor twice); a different root on chain for our size stops the
worker — it never anchors another history. Prepared checkpoints are never re-formed, so one size
has one root forever. Issuer keys are registered on chain before any checkpoint covering their
events, and a retired key is revoked only after every event it signed is anchored.

While the chain node is down the worker retries with exponential backoff; the API keeps
accepting events, and they are anchored in the next checkpoint when the node is back.
"""

import logging
import os
import random
import signal
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from anchoring.client import AnchorClient, PendingTransaction
from anchoring.errors import (
    AnchoringError,
    AuthorisationRefusedError,
    ContractRevert,
    TreeSizeNotGrowing,
)
from anchoring.lock import WorkerLock, WorkerLockHeldError
from anchoring.logsigner import Authoriser
from anchoring.models import issuer_id_hash
from registry.checkpointing import CheckpointBuilder
from registry.clock import SYSTEM_CLOCK, Clock, naive_utc
from registry.db import models
from registry.db.repositories import CheckpointRepository, IssuerRepository
from registry.logs import log_event

__all__ = ["AnchoringWorker", "ForkDetectedError", "WorkerConfig"]

log = logging.getLogger("certreg.anchoring")


class ForkDetectedError(AnchoringError):
    """The chain holds a checkpoint our database does not: never anchor over it."""


@dataclass(frozen=True)
class WorkerConfig:
    checkpoint_interval_s: float = 10.0
    checkpoint_max_events: int = 10_000
    poll_interval_s: float = 0.5
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    #: how often an idle worker asks the contract how many checkpoints it holds (one call)
    watch_interval_s: float = 10.0
    #: how often a standby worker tries the lock: bounds how soon it takes over from a dead one
    lock_retry_s: float = 2.0


def _crash_point(name: str) -> None:
    """Fault injection for the crash tests: `CERTREG_TEST_CRASH_AT=name[,name…]` kills this
    process at those points with probability `CERTREG_TEST_CRASH_PROBABILITY` (default 1)."""
    points = os.environ.get("CERTREG_TEST_CRASH_AT")
    if not points or name not in points.split(","):
        return
    if random.random() < float(os.environ.get("CERTREG_TEST_CRASH_PROBABILITY", "1")):  # noqa: S311
        log_event(log, "test.crash", point=name)
        os.kill(os.getpid(), signal.SIGKILL)


class AnchoringWorker:
    """Anchors checkpoints of one database on one contract; see the module docstring."""

    def __init__(
        self,
        *,
        engine: Engine,
        sessions: sessionmaker[Session],
        builder: CheckpointBuilder,
        client_factory: Callable[[], AnchorClient],
        authoriser_factory: Callable[[], Authoriser],
        config: WorkerConfig,
        key_client_factory: Callable[[], AnchorClient] | None = None,
        on_anchored: Callable[[models.Checkpoint], None] | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._engine = engine
        self._sessions = sessions
        self._builder = builder
        self._client_factory = client_factory
        self._client: AnchorClient | None = None
        # The log signer, asked for each checkpoint's authorisation before it is sent.
        self._authoriser_factory = authoriser_factory
        self._authoriser: Authoriser | None = None
        # Registering issuer keys needs ISSUER_ADMIN_ROLE, which may be another account.
        self._key_client_factory = key_client_factory
        self._key_client: AnchorClient | None = None
        self._config = config
        self._reconciled = False
        self._pending: PendingTransaction | None = None
        self._on_anchored = on_anchored
        self._clock = clock
        self.failures = 0
        self.anchored = 0
        #: checkpoints on chain this registry never made (another holder of the anchoring key)
        self.foreign_checkpoints = 0
        #: the log signer's refusals, by reason (docs/spec.md §7.3)
        self.refusals: Counter[str] = Counter()
        self._watched_at = float("-inf")

    # -- the loop ---------------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Hold the worker lock and anchor until `stop` is set."""
        with WorkerLock(self._engine):
            log_event(log, "worker.started")
            backoff = self._config.backoff_initial_s
            while not stop.is_set():
                try:
                    progressed = self.step()
                    backoff = self._config.backoff_initial_s
                except (AnchoringError, OSError) as exc:
                    if isinstance(exc, ForkDetectedError):
                        raise
                    self.failures += 1
                    self._reconciled = False
                    self._client = None
                    self._key_client = None
                    self._authoriser = None
                    self._pending = None
                    log_event(
                        log,
                        "worker.retry",
                        logging.WARNING,
                        error=f"{type(exc).__name__}: {exc}",
                        backoff_s=backoff,
                    )
                    stop.wait(backoff)
                    backoff = min(backoff * 2, self._config.backoff_max_s)
                    continue
                if not progressed:
                    stop.wait(self._config.poll_interval_s)
            log_event(log, "worker.stopped")

    def run_standby(self, stop: threading.Event) -> None:
        """Anchor while holding the lock; while another worker holds it, stand by and try again
        every `lock_retry_s`, so that a replica takes over when the active worker dies (its
        lock dies with it). Errors other than the lock's end the loop: the caller decides."""
        waiting = False
        while not stop.is_set():
            try:
                self.run(stop)
            except WorkerLockHeldError:
                if not waiting:
                    log_event(log, "worker.standby", retry_s=self._config.lock_retry_s)
                    waiting = True
                stop.wait(self._config.lock_retry_s)
            else:
                waiting = False

    def run_until_idle(self, *, timeout_s: float = 60.0) -> None:
        """Anchor until nothing waits (for tools and tests); errors propagate."""
        deadline = self._clock.monotonic() + timeout_s
        with WorkerLock(self._engine):
            # force: what waits is anchored now. Unforced, events not yet due (younger than the
            # checkpoint interval, or stamped ahead of this host's clock) made this loop spin on
            # the database, without sleeping, until they became due or the timeout ran out.
            while self.step(force=True) or self._has_waiting_events():
                if self._clock.monotonic() > deadline:
                    raise AnchoringError(f"worker: got events still waiting after {timeout_s} s")

    def _has_waiting_events(self) -> bool:
        with self._sessions() as session:
            pending = self._builder.pending(session)
            latest = CheckpointRepository(session).latest()
        return pending.events > 0 or (latest is not None and latest.state != "anchored")

    def client(self) -> AnchorClient:
        if self._client is None:
            self._client = self._client_factory()
        return self._client

    def authoriser(self) -> Authoriser:
        if self._authoriser is None:
            self._authoriser = self._authoriser_factory()
        return self._authoriser

    def key_client(self) -> AnchorClient:
        if self._key_client_factory is None:
            return self.client()
        if self._key_client is None:
            self._key_client = self._key_client_factory()
        return self._key_client

    def step(self, *, force: bool = False) -> bool:
        """Make one unit of progress; return whether anything changed."""
        if not self._reconciled:
            self.reconcile()
            self._reconciled = True
        self._watch()
        progressed = self._sync_issuer_keys()
        with self._sessions() as session:
            checkpoint = CheckpointRepository(session).latest()
            if checkpoint is not None and checkpoint.state == "anchored":
                checkpoint = None
            if checkpoint is None:
                pending = self._builder.pending(session)
                due = pending.events > 0 and (
                    force
                    or self._builder.is_due(
                        pending,
                        interval_s=self._config.checkpoint_interval_s,
                        max_events=self._config.checkpoint_max_events,
                    )
                )
        if checkpoint is None:
            if not due:
                return progressed
            checkpoint = self._builder.prepare()
            if checkpoint is None:
                return progressed
            log_event(
                log,
                "checkpoint.prepared",
                index=checkpoint.index,
                tree_size=checkpoint.tree_size,
                log_root="0x" + checkpoint.log_root.hex(),
                map_root="0x" + checkpoint.map_root.hex(),
            )
            _crash_point("after_prepare")
            self._sync_issuer_keys()  # keys of the new events before their checkpoint
        if checkpoint.state == "prepared":
            self._send(checkpoint)
        self._confirm(checkpoint.index)
        return True

    def _watch(self) -> None:
        """Every `watch_interval_s`, compare the contract's checkpoint count with the
        checkpoints this registry made (sent or about to be): more on chain means someone else
        anchors with the anchoring role — a stolen key. Say so at error level, count it for
        the metrics (`certreg_foreign_checkpoints`), and stop: never anchor over it."""
        now = self._clock.monotonic()
        if now - self._watched_at < self._config.watch_interval_s:
            return
        client = self.client()
        on_chain = client.checkpoint_count()
        self._watched_at = now
        with self._sessions() as session:
            latest = CheckpointRepository(session).latest()
        made = 0 if latest is None else latest.index + 1
        if on_chain <= made:
            return
        self.foreign_checkpoints = on_chain - made
        log_event(
            log,
            "chain.foreign_checkpoint",
            logging.ERROR,
            contract=client.address,
            on_chain=on_chain,
            made=made,
        )
        raise ForkDetectedError(
            f"contract {client.address}: got {on_chain} checkpoints, want at most {made}: "
            "checkpoints this registry never made are on chain (is the anchoring key in other "
            "hands? see docs/deploy.md)"
        )

    # -- the three steps --------------------------------------------------------------------------

    def _send(self, checkpoint: models.Checkpoint) -> None:
        with self._sessions() as session:
            proof = self._builder.consistency_proof(session, checkpoint)
        client = self.client()
        try:
            authorisation = self.authoriser().authorise(note=checkpoint.note, proof=proof)
        except AuthorisationRefusedError as exc:
            self.refusals[exc.reason] += 1
            if exc.reason not in {"not_growing", "unavailable"}:
                # The signer read the chain and checked the note and the proof, and said no: a
                # registry key it does not pin, a log that does not extend what is on chain, a
                # jump past its limit. Retrying will not change that; someone must look.
                log_event(
                    log,
                    "checkpoint.refused",
                    logging.ERROR,
                    index=checkpoint.index,
                    tree_size=checkpoint.tree_size,
                    reason=exc.reason,
                    error=str(exc),
                )
            if exc.reason != "not_growing":
                raise
            # The chain is at or past this size: ours landed unrecorded, or someone else's
            # did. Reconciling tells which (and stops the worker on the latter).
            self._reconciled = False
            self.reconcile()
            self._reconciled = True
            return
        step = authorisation.step
        if (step.tree_size, step.log_root, step.map_root) != (
            checkpoint.tree_size,
            checkpoint.log_root,
            checkpoint.map_root,
        ):
            raise AnchoringError(
                f"log signer: got an authorisation of size {step.tree_size} root "
                f"0x{step.log_root.hex()}, want checkpoint {checkpoint.index}'s size "
                f"{checkpoint.tree_size} root 0x{checkpoint.log_root.hex()}"
            )
        try:
            pending = client.send_anchor(
                tree_size=checkpoint.tree_size,
                log_root=checkpoint.log_root,
                map_root=checkpoint.map_root,
                proof=proof,
                authorisation=authorisation.signature,
            )
        except TreeSizeNotGrowing:
            # Already on chain (a send we did not record): reconciling marks it anchored.
            self._reconciled = False
            self.reconcile()
            self._reconciled = True
            return
        _crash_point("after_send")
        with self._sessions.begin() as session:
            row = session.get(models.Checkpoint, checkpoint.index)
            assert row is not None
            row.state = "sent"
            row.tx_hash = pending.tx_hash
            row.nonce = pending.nonce
            row.sent_at = naive_utc(self._clock.now())
            row.attempts += 1
        self._pending = pending
        log_event(
            log,
            "checkpoint.sent",
            index=checkpoint.index,
            tx_hash=pending.tx_hash,
            nonce=pending.nonce,
            log_signer=authorisation.signer,
        )
        _crash_point("after_record_sent")

    def _confirm(self, index: int) -> None:
        with self._sessions() as session:
            row = session.get(models.Checkpoint, index)
            assert row is not None
            state, tx_hash = row.state, row.tx_hash
        if state != "sent":
            return
        if self._pending is None or self._pending.tx_hash != tx_hash:
            # Sent by an earlier run: the chain tells whether it landed; if not, send again.
            self._reconciled = False
            self.reconcile()
            self._reconciled = True
            return
        try:
            result = self.client().wait_anchor(self._pending)
        except ContractRevert:
            self._pending = None
            self._reconciled = False
            raise
        _crash_point("after_receipt")
        self._finalize(
            index,
            block_number=result.checkpoint.block_number,
            block_timestamp=result.checkpoint.timestamp,
            tx_hash=result.transaction.tx_hash,
        )
        self._pending = None

    def _finalize(
        self, index: int, *, block_number: int, block_timestamp: int, tx_hash: str | None
    ) -> None:
        with self._sessions.begin() as session:
            row = session.get(models.Checkpoint, index)
            assert row is not None
            if row.state == "anchored":
                return
            self._builder.finalize(
                session,
                row,
                block_number=block_number,
                block_timestamp=block_timestamp,
                tx_hash=tx_hash,
            )
            anchored = row
        self.anchored += 1
        log_event(
            log,
            "checkpoint.anchored",
            index=index,
            tree_size=anchored.tree_size,
            block_number=block_number,
            tx_hash=tx_hash,
        )
        if self._on_anchored is not None:
            self._on_anchored(anchored)

    # -- reconciling with the chain ---------------------------------------------------------------

    def reconcile(self) -> None:
        """Make the database agree with the contract (see the module docstring)."""
        client = self.client()
        self._await_pending(client)
        if self._key_client_factory is not None:
            self._await_pending(self.key_client())
        on_chain = client.checkpoint_count()
        self._watched_at = self._clock.monotonic()  # the check below is the watch's too
        with self._sessions() as session:
            checkpoints = CheckpointRepository(session)
            anchored = checkpoints.latest_anchored()
            latest = checkpoints.latest()
            anchored_index = -1 if anchored is None else anchored.index
            known = -1 if latest is None else latest.index
        if on_chain < anchored_index + 1:
            raise ForkDetectedError(
                f"contract {client.address}: got {on_chain} checkpoints, want at least "
                f"{anchored_index + 1} (the database has anchored that many)"
            )
        if on_chain > known + 1:
            raise ForkDetectedError(
                f"contract {client.address}: got {on_chain} checkpoints, want at most "
                f"{known + 1}: another writer anchors on it"
            )
        if anchored is not None:
            self._check_same(client, anchored)
        if latest is None or latest.state == "anchored":
            return
        chain_checkpoint = client.checkpoint(latest.index) if on_chain > latest.index else None
        if chain_checkpoint is None:
            if latest.state == "sent":
                with self._sessions.begin() as session:
                    row = session.get(models.Checkpoint, latest.index)
                    assert row is not None
                    row.state = "prepared"  # lost or failed: send the same checkpoint again
                log_event(log, "checkpoint.resend", index=latest.index, tx_hash=latest.tx_hash)
            return
        self._check_same(client, latest)
        self._finalize(
            latest.index,
            block_number=chain_checkpoint.block_number,
            block_timestamp=chain_checkpoint.timestamp,
            tx_hash=self._anchor_tx(client, latest.index, chain_checkpoint.block_number)
            or latest.tx_hash,
        )
        log_event(log, "checkpoint.reconciled", index=latest.index)

    def _await_pending(self, client: AnchorClient) -> None:
        """Wait until the transactions this account has waiting in the node's pool are mined.

        Found by the fault tests: a run killed after sending an anchor or a key registration
        (or one whose answer was lost) can leave it pending on a chain that mines in blocks.
        Until it is mined the chain cannot say whether the checkpoint or the key is lost, and
        reconcile used to send it again: a second transaction that can only revert (the
        contract takes one anchor per size, one registration per key). `run()` retried past
        the revert, but `certreg anchor --once` failed with it. After `receipt_timeout_s` the
        reconcile goes on as before (a stuck transaction is not ours to fix here).
        """
        chain = client.chain
        deadline = self._clock.monotonic() + chain.receipt_timeout_s
        logged = False
        while True:
            waiting = chain.waiting_transactions()
            if waiting == 0 or self._clock.monotonic() >= deadline:
                return
            if not logged:
                log_event(log, "worker.pending", account=chain.address, transactions=waiting)
                logged = True
            self._clock.sleep(chain.poll_interval_s)

    @staticmethod
    def _check_same(client: AnchorClient, row: models.Checkpoint) -> None:
        chain = client.checkpoint(row.index)
        if chain is None or (chain.tree_size, chain.log_root, chain.map_root) != (
            row.tree_size,
            row.log_root,
            row.map_root,
        ):
            got = (
                "none" if chain is None else f"size {chain.tree_size} root 0x{chain.log_root.hex()}"
            )
            raise ForkDetectedError(
                f"checkpoint {row.index} on chain: got {got}, "
                f"want size {row.tree_size} root 0x{row.log_root.hex()}"
            )

    @staticmethod
    def _anchor_tx(client: AnchorClient, index: int, block_number: int) -> str | None:
        """The hash of the transaction that anchored checkpoint `index`, from its event."""
        event = client.contract.events.CheckpointAnchored()
        try:
            logs = event.get_logs(from_block=block_number, to_block=block_number)
        except Exception:  # a missing tx hash only leaves the bundle's field empty
            return None
        for entry in logs:
            if int(entry["args"]["index"]) == index:
                return "0x" + bytes(entry["transactionHash"]).hex()
        return None

    # -- issuer keys ------------------------------------------------------------------------------

    def _sync_issuer_keys(self) -> bool:
        """Register approved issuer keys; revoke retired ones whose events are all anchored,
        and revoked ones from the block the authority's revocation names (`_revocation_block`)."""
        with self._sessions() as session:
            todo = [
                (
                    k.key_id,
                    k.issuer_id,
                    k.public_key,
                    k.state,
                    k.valid_from_block,
                    k.revoked_at_block,
                    k.revoked_from_seq,
                )
                for k in IssuerRepository(session).unregistered_keys()
            ]
            anchored = CheckpointRepository(session).latest_anchored()
            anchored_size = 0 if anchored is None else anchored.tree_size
        changed = False
        for key_id, issuer_id, public_key, state, valid_from, revoked_at, revoked_from in todo:
            chain_id = issuer_id_hash(issuer_id)
            if valid_from is None:
                client = self.key_client()
                on_chain = client.issuer_key(issuer_id=chain_id, key_id=key_id)
                if on_chain.registered:
                    block = on_chain.valid_from
                else:
                    registered, _ = client.register_issuer_key(
                        issuer_id=chain_id, public_key=public_key
                    )
                    block = registered.valid_from
                self._store_key(key_id, valid_from_block=block)
                log_event(log, "issuer_key.registered", issuer_id=issuer_id, block=block)
                changed = True
            elif state == "revoked":
                assert revoked_from is not None  # set with the state (registry.issuers)
                target = self._revocation_block(revoked_from, valid_from=valid_from)
                if revoked_at is not None and (target is None or revoked_at <= target):
                    continue  # on chain already, from that block or an earlier one
                client = self.key_client()
                on_chain = client.issuer_key(issuer_id=chain_id, key_id=key_id)
                if on_chain.revoked_at and (target is None or on_chain.revoked_at <= target):
                    block = on_chain.revoked_at
                else:
                    block, _ = client.revoke_issuer_key(
                        issuer_id=chain_id, key_id=key_id, revoked_at=target or 0
                    )
                self._store_key(key_id, revoked_at_block=block)
                log_event(
                    log,
                    "issuer_key.revoked",
                    issuer_id=issuer_id,
                    block=block,
                    revoked_from_seq=revoked_from,
                )
                changed = True
            elif (
                state == "retired"
                and revoked_at is None
                and self._all_signed_anchored(key_id, anchored_size)
            ):
                client = self.key_client()
                on_chain = client.issuer_key(issuer_id=chain_id, key_id=key_id)
                if on_chain.revoked_at:
                    block = on_chain.revoked_at
                else:
                    block, _ = client.revoke_issuer_key(issuer_id=chain_id, key_id=key_id)
                self._store_key(key_id, revoked_at_block=block)
                log_event(log, "issuer_key.revoked", issuer_id=issuer_id, block=block)
                changed = True
        return changed

    def _revocation_block(self, revoked_from_seq: int, *, valid_from: int) -> int | None:
        """The block from which the chain must refuse a key the authority revoked from log
        position `revoked_from_seq` (a checkpoint boundary): that of the first anchored
        checkpoint holding that position, so exactly the events it and later checkpoints first
        anchored are refused (docs/spec.md §9.3); None while no anchored checkpoint holds it —
        then from now, before the next checkpoint is anchored."""
        with self._sessions() as session:
            covering = CheckpointRepository(session).first_covering(seq=revoked_from_seq)
            if covering is None or covering.block_number is None:
                return None
            # The contract refuses a revocation before the key's registration.
            return max(covering.block_number, valid_from)

    def _store_key(self, key_id: bytes, **values: int) -> None:
        with self._sessions.begin() as session:
            row = session.get(models.IssuerKey, key_id)
            assert row is not None
            for name, value in values.items():
                setattr(row, name, value)

    def _all_signed_anchored(self, key_id: bytes, anchored_size: int) -> bool:
        with self._sessions() as session:
            row = session.get(models.IssuerKey, key_id)
        # Retiring takes the log head lock: every event the key signed is below `retired_at_seq`.
        return (
            row is not None
            and row.retired_at_seq is not None
            and (row.retired_at_seq <= anchored_size)
        )
