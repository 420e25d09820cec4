"""Helpers of the fault tests (test_faults.py): concurrent traffic through the service, the
worker's environment and logs, and the end-state invariants checked from scratch.

The invariants are recomputed from the stored events and the chain alone, never from what the
worker or the checkpoint builder computed: the log root with `LogTree`, the map root by replaying
the log with `apply_event` into a fresh `StatusMap`.
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import json
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from anchoring.client import AnchorClient
from anchoring.lock import WorkerLock, WorkerLockHeldError
from anchoring.models import IssuerKey, issuer_id_hash
from registry.core.checkpoint import verify_checkpoint
from registry.core.events import Event
from registry.core.lifecycle import StatusLeaf, apply_event
from registry.core.log import LogTree
from registry.core.note import NoteSigner
from registry.core.statusmap import StatusMap
from registry.db import models
from registry.db.repositories import CheckpointRepository, LogRepository
from registry.records import CertificateSubmission
from registry.service import RegistryService
from tests.integration.conftest import CHAIN_ID, Chain
from tests.integration.registry.conftest import sample_submissions

__all__ = [
    "CRASH_POINTS",
    "ISSUER",
    "Figures",
    "Traffic",
    "check_invariants",
    "log_events",
    "settled",
    "summarize",
    "wait_for",
    "wait_lock_free",
    "worker_env",
]

ISSUER = "vn-cb-quatest3"
CRASH_POINTS = ("after_prepare", "after_send", "after_record_sent", "after_receipt")


def wait_for(condition: Callable[[], bool], *, timeout_s: float, what: str) -> float:
    """Poll `condition` until true; the seconds it took. AssertionError after `timeout_s`."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout_s:
            raise AssertionError(f"{what}: got nothing after {timeout_s} s")
        time.sleep(0.02)
    return time.monotonic() - start


def wait_lock_free(engine: Engine, *, timeout_s: float = 30.0) -> None:
    """Wait until no worker holds the database's worker lock (a killed one's PostgreSQL
    session ends a moment after the process)."""

    def free() -> bool:
        try:
            with WorkerLock(engine):
                return True
        except WorkerLockHeldError:
            return False

    wait_for(free, timeout_s=timeout_s, what="the worker lock free")


def worker_env(
    *, chain: Chain, database_url: str, data_dir: Path, rpc_url: str, kek: bytes, signer: NoteSigner
) -> dict[str, str]:
    """The environment of a `certreg anchor` process for this test's database and chain."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTREG_")}
    env.update(
        CERTREG_DATABASE_URL=database_url,
        CERTREG_DATA_DIR=str(data_dir),
        CERTREG_RPC_URL=rpc_url,
        CERTREG_CHAIN_ID=str(CHAIN_ID),
        CERTREG_CONTRACT_ADDRESS=chain.deployment.address,
        CERTREG_ANCHORER_KEY="0x" + bytes(chain.accounts.anchorer.key).hex(),
        CERTREG_ISSUER_ADMIN_KEY="0x" + bytes(chain.accounts.issuer_admin.key).hex(),
        # a dev chain: the log signer in the worker's process (test_log_signer.py runs it apart)
        CERTREG_LOG_SIGNER_KEY="0x" + bytes(chain.accounts.log_signer.key).hex(),
        CERTREG_KEY_ENCRYPTION_KEY=base64.b64encode(kek).decode("ascii"),
        CERTREG_SIGNING_KEY=signer.skey(),
        CERTREG_ORIGIN=signer.name,
        # Small checkpoints, often: many anchoring cycles for the kills to land in.
        CERTREG_CHECKPOINT_INTERVAL_S="0.2",
        CERTREG_CHECKPOINT_MAX_EVENTS="8",
        CERTREG_POLL_INTERVAL_S="0.02",
        CERTREG_RECEIPT_TIMEOUT_S="30",
    )
    return env


def log_events(path: Path) -> list[dict[str, Any]]:
    """The JSON log lines of a worker's output (a line cut short by a kill is skipped)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:  # the child has not opened it yet
        return []
    found = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                found.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return found


# -- traffic ------------------------------------------------------------------------------------


class Traffic:
    """Issues, suspends, reinstates, withdraws and supersedes certificates through the service,
    in a thread, as API requests would, and keeps every event it got accepted:
    `accepted[seq] = (event type, certificate id)`. Rotates the issuer's key at `rotate_at`
    operations, so keys are registered and revoked while the worker is being killed."""

    def __init__(
        self,
        service: RegistryService,
        *,
        seed: str,
        rotate_at: tuple[int, ...] = (40, 150),
        pause_s: tuple[float, float] = (0.005, 0.04),
        issuer_id: str = ISSUER,
    ) -> None:
        self._service = service
        self._rng = random.Random(seed)
        self._rotate_at = rotate_at
        self._pause_s = pause_s
        self._issuer = issuer_id
        self._templates = sample_submissions(issuer_id)
        self._status: dict[str, str] = {}
        self._numbers = 0
        self._lock = threading.Lock()
        self._accepted: dict[int, tuple[str, str]] = {}
        self.operations = 0
        self.rotations = 0
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="traffic", daemon=True)

    @property
    def count(self) -> int:
        """Events accepted so far."""
        with self._lock:
            return len(self._accepted)

    def accepted(self) -> dict[int, tuple[str, str]]:
        with self._lock:
            return dict(self._accepted)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop, and re-raise what the service raised, if anything (nothing should)."""
        self._stop.set()
        self._thread.join(timeout=60)
        assert not self._thread.is_alive(), "traffic: got a thread still running after 60 s"
        if self.error is not None:
            raise AssertionError(f"traffic: the service raised {self.error!r}") from self.error

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self._one()
                self.operations += 1
                self._stop.wait(self._rng.uniform(*self._pause_s))
        except BaseException as exc:
            self.error = exc

    def _accept(self, seq: int, kind: str, certificate_id: str) -> None:
        with self._lock:
            assert seq not in self._accepted, f"traffic: got seq {seq} twice"
            self._accepted[seq] = (kind, certificate_id)

    def _submission(self) -> CertificateSubmission:
        self._numbers += 1
        fields = self._rng.choice(self._templates).model_dump(mode="json", exclude_none=True)
        # Valid today whatever today is: suspending an expired certificate is refused.
        today = dt.datetime.now(dt.UTC).date()
        fields.update(
            number=f"FT-{self._numbers:06d}",
            issued_on=str(today - dt.timedelta(days=30)),
            valid_from=str(today - dt.timedelta(days=30)),
            valid_until=str(today + dt.timedelta(days=365)),
        )
        return CertificateSubmission.model_validate(fields)

    def _pick(self, *statuses: str) -> str | None:
        candidates = [cid for cid, status in self._status.items() if status in statuses]
        return self._rng.choice(candidates) if candidates else None

    def _one(self) -> None:
        service, issuer = self._service, self._issuer
        if self.operations in self._rotate_at:
            service.rotate_key(issuer)
            self.rotations += 1
            return
        action = self._rng.choices(list(_ACTIONS), weights=[w for w, _ in _ACTIONS.values()])[0]
        target = self._pick(*_ACTIONS[action][1])
        if target is None:  # nothing in a state the action needs: issue instead
            action = "issue"
        if action == "issue":
            submissions = [self._submission() for _ in range(self._rng.randint(1, 3))]
            for result in service.issue_batch(issuer, submissions):
                assert result.created
                self._accept(result.certificate.last_event_seq, "issue", result.certificate.id)
                self._status[result.certificate.id] = "valid"
            return
        assert target is not None
        if action == "supersede":
            result = service.supersede(issuer, target, self._submission(), reason="renewed")
            self._accept(result.certificate.last_event_seq, "supersede", result.certificate.id)
            self._status[target] = "superseded"
            self._status[result.certificate.id] = "valid"
            return
        change = {
            "suspend": service.suspend,
            "reinstate": service.reinstate,
            "withdraw": service.withdraw,
        }[action]
        view = change(issuer, target, reason=f"fault-test {action}")
        self._accept(view.last_event_seq, action, view.id)
        self._status[view.id] = view.status


# What the traffic does, how often, and to certificates in which states.
_ACTIONS: dict[str, tuple[float, tuple[str, ...]]] = {
    "issue": (0.55, ()),
    "suspend": (0.15, ("valid",)),
    "reinstate": (0.10, ("suspended",)),
    "withdraw": (0.10, ("valid", "suspended")),
    "supersede": (0.10, ("valid", "suspended")),
}


# -- the end state ------------------------------------------------------------------------------


def settled(sessions: sessionmaker[Session]) -> bool:
    """Nothing left for the worker: every event anchored, every key registered, and every
    retired key whose events are all anchored revoked."""
    with sessions() as session:
        size = LogRepository(session).tree_size()
        latest = CheckpointRepository(session).latest()
        if size > 0 and (latest is None or latest.state != "anchored" or latest.tree_size != size):
            return False
        for key in session.scalars(select(models.IssuerKey)):
            if key.valid_from_block is None:
                return False
            retired = key.retired_at_seq is not None and key.retired_at_seq <= size
            if retired and key.revoked_at_block is None:
                return False
    return True


@dataclass
class Figures:
    events: int = 0
    checkpoints: int = 0
    anchors_on_chain: int = 0  # CheckpointAnchored events since the test began
    keys: int = 0
    lost: int = 0  # accepted events not stored as accepted, or not covered by an anchor
    double_anchors: int = 0  # a size or an index anchored more than once
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Stored:
    """The end state as the database has it, read in one session."""

    events: list[Any]  # rows (seq, type, certificate_id, entry) in seq order
    head: int
    checkpoints: list[models.Checkpoint]
    keys: list[models.IssuerKey]
    map_leaves: dict[str, StatusLeaf]

    @classmethod
    def read(cls, sessions: sessionmaker[Session]) -> _Stored:
        with sessions() as session:
            events = session.execute(
                select(
                    models.Event.seq,
                    models.Event.type,
                    models.Event.certificate_id,
                    models.Event.entry,
                ).order_by(models.Event.seq)
            ).all()
            checkpoints = session.scalars(
                select(models.Checkpoint).order_by(models.Checkpoint.index)
            )
            leaves = session.scalars(select(models.MapLeaf))
            return cls(
                events=list(events),
                head=LogRepository(session).tree_size(),
                checkpoints=list(checkpoints),
                keys=list(session.scalars(select(models.IssuerKey))),
                map_leaves={
                    leaf.certificate_id: StatusLeaf(
                        certificate_id=leaf.certificate_id,
                        status=leaf.status,
                        record_hash=leaf.record_hash,
                        event_seq=leaf.event_seq,
                    )
                    for leaf in leaves
                },
            )


class _Checker:
    """Each method checks one invariant of docs/spec.md §12 and records what is wrong."""

    def __init__(self, stored: _Stored, reader: AnchorClient, figures: Figures) -> None:
        self.stored = stored
        self.reader = reader
        self.figures = figures
        self.problem = figures.problems.append
        self.parsed = [Event.from_leaf(e.entry) for e in stored.events]

    def no_loss(self, accepted: Mapping[int, tuple[str, str]]) -> None:
        """Each accepted event is stored as accepted and covered by the latest anchor; the log
        has no gaps and holds nothing no request accepted."""
        events, head = self.stored.events, self.stored.head
        if [e.seq for e in events] != list(range(len(events))) or head != len(events):
            self.problem(f"events: got {len(events)} rows and head {head}, want seq 0..head-1")
        anchored = [r for r in self.stored.checkpoints if r.state == "anchored"]
        covered = anchored[-1].tree_size if anchored else 0
        for seq, want in accepted.items():
            stored = seq < len(events) and (events[seq].type, events[seq].certificate_id) == want
            if not stored or seq >= covered:
                self.figures.lost += 1
        unacknowledged = set(range(len(events))) - set(accepted)
        if unacknowledged:
            self.problem(f"events no request accepted: {sorted(unacknowledged)[:20]}")
        if covered != len(events):
            self.problem(f"latest anchored checkpoint covers {covered}, want all {len(events)}")

    def checkpoints(self, signer: NoteSigner) -> None:
        """Indexes 0, 1, 2 …, all anchored, sizes strictly growing, notes signed as stored."""
        rows = self.stored.checkpoints
        if [r.index for r in rows] != list(range(len(rows))):
            self.problem(f"checkpoint indexes: got {[r.index for r in rows]}, want 0..n-1")
        not_anchored = [(r.index, r.state) for r in rows if r.state != "anchored"]
        if not_anchored:
            self.problem(f"checkpoints not anchored: {not_anchored}")
        sizes = [r.tree_size for r in rows]
        self.figures.double_anchors += sum(1 for a, b in itertools.pairwise(sizes) if b <= a)
        for row in rows:
            try:
                note = verify_checkpoint(row.note, verifier=signer.verifier(), origin=signer.name)
            except Exception as exc:
                self.problem(f"checkpoint {row.index} note: {exc}")
                continue
            if (note.tree_size, note.root_hash, note.map_root) != (
                row.tree_size,
                row.log_root,
                row.map_root,
            ):
                self.problem(f"checkpoint {row.index}: the signed note says another head")

    def chain(self, since_block: int) -> None:
        """The contract holds exactly these checkpoints, each anchored once, by the recorded
        transaction, in the recorded block."""
        rows = self.stored.checkpoints
        on_chain = self.reader.checkpoint_count()
        if on_chain != len(rows):
            self.problem(f"contract checkpointCount: got {on_chain}, want {len(rows)} as the DB")
        logs = self.reader.contract.events.CheckpointAnchored().get_logs(from_block=since_block)
        self.figures.anchors_on_chain = len(logs)
        for name in ("index", "treeSize"):
            counts = Counter(int(entry["args"][name]) for entry in logs)
            self.figures.double_anchors += sum(n - 1 for n in counts.values())
        tx_of = {
            int(entry["args"]["index"]): "0x" + bytes(entry["transactionHash"]).hex()
            for entry in logs
        }
        for row in rows:
            got = self.reader.checkpoint(row.index)
            want = (row.tree_size, row.log_root, row.map_root, row.block_number)
            if got is None or (got.tree_size, got.log_root, got.map_root, got.block_number) != want:
                self.problem(f"checkpoint {row.index}: DB {want} != contract {got}")
            elif got.timestamp != row.block_timestamp:
                self.problem(f"checkpoint {row.index}: block time {row.block_timestamp}, {got}")
            if row.tx_hash != tx_of.get(row.index):
                self.problem(
                    f"checkpoint {row.index}: DB tx {row.tx_hash}, anchored by "
                    f"{tx_of.get(row.index)}"
                )

    def roots(self) -> None:
        """The log root recomputed from the stored events, and the map root from replaying them,
        equal every checkpoint's; the stored anchored map is the replayed one."""
        tree = LogTree()
        status_map = StatusMap()
        leaves: dict[str, StatusLeaf] = {}
        done = 0
        for row in self.stored.checkpoints:
            tree.append_many([e.entry for e in self.stored.events[done : row.tree_size]])
            for event in self.parsed[done : row.tree_size]:
                for leaf in apply_event(leaves, event):
                    status_map.update(key=leaf.key, value=leaf.value)
            done = row.tree_size
            if tree.root_hash() != row.log_root:
                self.problem(f"checkpoint {row.index}: log root differs from the recomputed one")
            if status_map.root_hash != row.map_root:
                self.problem(f"checkpoint {row.index}: map root differs from the replayed one")
        if done == len(self.stored.events) and self.stored.map_leaves != leaves:
            self.problem("map_leaves: the anchored status map differs from the replayed one")

    def issuer_keys(self) -> None:
        """Keys registered and revoked on chain as stored, and in force at the block of every
        checkpoint covering an event they signed."""
        on_chain: dict[bytes, IssuerKey] = {}
        for key in self.stored.keys:
            got = self.reader.issuer_key(issuer_id=issuer_id_hash(key.issuer_id), key_id=key.key_id)
            on_chain[key.key_id] = got
            want = (key.public_key, key.valid_from_block, key.revoked_at_block or 0)
            if (got.public_key, got.valid_from, got.revoked_at) != want:
                self.problem(f"issuer key 0x{key.key_id.hex()[:12]}: DB {want[1:]} != {got}")
        done = 0
        for row in self.stored.checkpoints:
            block = row.block_number
            for event in self.parsed[done : row.tree_size]:
                chain_key = on_chain.get(event.key_id)
                if chain_key is None or block is None or not chain_key.in_force_at(block):
                    self.problem(
                        f"event {event.seq}: key 0x{event.key_id.hex()[:12]} not in force at "
                        f"block {block} of checkpoint {row.index}"
                    )
                    break
            done = row.tree_size


def check_invariants(
    *,
    sessions: sessionmaker[Session],
    reader: AnchorClient,
    signer: NoteSigner,
    accepted: Mapping[int, tuple[str, str]],
    since_block: int,
) -> Figures:
    """Check the end state against the stored events and the contract; collect what is wrong in
    `problems` (the test asserts it is empty, and lost == double_anchors == 0)."""
    stored = _Stored.read(sessions)
    figures = Figures(
        events=len(stored.events), checkpoints=len(stored.checkpoints), keys=len(stored.keys)
    )
    checker = _Checker(stored, reader, figures)
    checker.no_loss(accepted)
    checker.checkpoints(signer)
    checker.chain(since_block)
    checker.roots()
    checker.issuer_keys()
    return figures


def summarize(figures: Figures, **extra: object) -> str:
    """`key=value …` of the figures and `extra`, in that order."""
    items: dict[str, object] = {
        **extra,
        "events": figures.events,
        "checkpoints": figures.checkpoints,
        "anchors_on_chain": figures.anchors_on_chain,
        "issuer_keys": figures.keys,
        "lost": figures.lost,
        "double_anchors": figures.double_anchors,
    }
    return " ".join(f"{name}={value}" for name, value in items.items())
