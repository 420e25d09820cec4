"""Service benchmarks: issuing through the service, forming checkpoints, assembling proof bundles.

    python bench/bench_service.py                        # every case at its default sizes
    python bench/bench_service.py --n 20000              # every case at one size
    python bench/bench_service.py --case proof_assembly  # one case (issue_batch,
                                                         # checkpoint_prepare, proof_assembly)

Cases:
- issue_batch n=<certificates> db=sqlite|postgresql: `RegistryService.issue_batch` in batches of
  1,000 distinct certificates (the 48 sample certificates, renumbered), certificates/s over all
  n. Parsing request bodies into `CertificateSubmission` models is the API's work and happens
  before the clock starts; it is reported on its own as parse_per_s.
- issue_statements n=<certificates> db=sqlite|postgresql: a CB that keeps its own key (docs/spec.md
  §3.1): records built and statements signed on the CB's side (`registry.client.KeyHolder`,
  timed apart as sign_per_s), then `Certificates.append_statements` in batches of 1,000 —
  each statement's signature, record and scope checked, then appended — certificates/s over all
  n. The CB is admitted by the authority's statements and its key approved first.
- checkpoint_prepare n=<new events>: `CheckpointBuilder.prepare()` over n new issue events on top
  of the anchored log issue_batch left on SQLite (the 10k checkpoint on 100k anchored events,
  then the 100k checkpoint on the 110k after it). sql_s is the time spent in the functions that
  talk to the database (reading events and anchored leaves, loading the map cache, writing
  tiles, commit); core_s = seconds - sql_s is parsing events, hashing the log and the map,
  signing. finalize_s: anchoring it, which writes the map's new rows (the builder that formed
  the checkpoint reuses its map; another process would recompute it from the events).
- proof_assembly n=<certificates>: `ProofAssembler.bundle` for random anchored certificates of a
  database holding n, sequential in one process. cold: a fresh assembler and cache (the first
  bundle loads the whole anchored map, first_bundle_s; log tiles load as bundles need them);
  warm: other random certificates after a warm-up pass that has every log tile cached. The
  SQLite database is built through the service (batches of 10,000, one checkpoint) and kept
  under /tmp/certreg-bench/ keyed by n and the schema revision; setup_s says how long that took
  (issue_s + prepare_s + finalize_s). bundle_bytes: the JSON of the last warm bundle, as the API
  sends it, and gzip-compressed.
- proof_assembly_parallel n=<certificates>: the warm case in 2 processes at once (the API runs 2
  uvicorn workers), bundles/s of both together.
- proof_memory n=<certificates> map=full|bounded: what an API process holds. Each mode runs in a
  fresh process: the assembler as the API builds it (bounded: `CERTREG_PROOF_CACHE_MB`, default
  256, split as `api/stack.py` does; full: the whole map in memory and every tile cached), a
  warm-up pass of PROOF_SAMPLE random bundles, then a timed pass of PROOF_SAMPLE others, by
  one thread and by --threads at once (the API's thread pool: one waits on the database while
  another assembles); per_s, the process's own resident memory after both passes (anon_mb:
  heap, caches, SQLite's page caches) and its growth over the process before the assembler
  (growth_mb), and apart from it the database file SQLite has mapped (file_mapped_mb: OS page
  cache, reclaimable).
  db_reads: the bounded map's database reads in the timed pass. --db sqlite|postgresql|both;
  the PostgreSQL database is built once on the benches' server and kept
  (certreg_bench_proofs_<n>_rev<schema>).

PostgreSQL: the benches' own cluster (bench/_pg.py: kept under /var/tmp/certreg-bench/pg, started
for the run), or CERTREG_BENCH_POSTGRES_URL's server; issue_batch uses a database of its own,
created for the run and dropped after.
"""

import argparse
import datetime as dt
import functools
import gzip
import json
import multiprocessing
import os
import random
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from _common import report
from _pg import bench_server, kept_database
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from registry import checkpointing
from registry.accounts import Actor, Principal, Role
from registry.assembly import AnchorInfo, ProofAssembler, SharedLogTree
from registry.certificates import SignedItem
from registry.checkpointing import CheckpointBuilder
from registry.client import KeyHolder
from registry.core.canonical import canonical_json
from registry.core.events import EventType
from registry.core.governance import Admit, ApproveKey, Custody, Scope, sign_statement
from registry.core.hashing import sha256
from registry.core.ids import certificate_id_for
from registry.core.note import NoteSigner
from registry.db.engine import make_engine, make_session_factory, sqlite_url
from registry.db.mapstore import AnchoredMapCache
from registry.db.migrate import upgrade
from registry.db.repositories import CheckpointRepository, LogRepository
from registry.db.stores import SqlTileStore
from registry.records import CertificateKind, CertificateSubmission, build_record
from registry.samples import load_samples
from registry.service import RegistryService

ISSUE_SIZE = 100_000
CHECKPOINT_SIZES = (10_000, 100_000)
PROOF_SIZE = 1_000_000
BATCH = 1_000
SETUP_BATCH = 10_000
PROOF_SAMPLE = 20_000  # bundles per pass
ISSUER = "bench-cb"
SCHEMA_REVISION = "0001"
CACHE_DIR = Path("/tmp/certreg-bench")
CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
KEK = bytes(range(32))  # the bench's own key-encryption key: cached databases stay usable
SIGNER_SEED = bytes(range(32, 64))

_SAMPLES = [
    {k: v for k, v in c.items() if k != "issuer_id"} for c in load_samples()["certificates"]
]


def submissions(start: int, stop: int, prefix: str = "BENCH") -> list[CertificateSubmission]:
    """Certificates start..stop-1: the samples in turn, each under its own number."""
    out = []
    for i in range(start, stop):
        body = dict(_SAMPLES[i % len(_SAMPLES)])
        body["number"] = f"{prefix}-{i:08d}"
        out.append(CertificateSubmission.model_validate(body))
    return out


def new_service(sessions: sessionmaker[Session], **options: Any) -> RegistryService:
    return RegistryService(sessions=sessions, kek=KEK, **options)


def admit(service: RegistryService) -> None:
    service.add_issuer(
        issuer_id=ISSUER,
        name_vi="Tổ chức chứng nhận thử nghiệm hiệu năng",
        name_en="Benchmark certification body",
        accreditation="VICAS 000",
        kinds=[kind.value for kind in CertificateKind],
    )


def new_builder(sessions: sessionmaker[Session]) -> CheckpointBuilder:
    return CheckpointBuilder(
        sessions=sessions,
        signer=NoteSigner.from_seed("bench.example/log", SIGNER_SEED),
        map_cache=AnchoredMapCache(),
        clock=lambda: dt.datetime.now(dt.UTC).replace(microsecond=0),
    )


def anchor(builder: CheckpointBuilder, sessions: sessionmaker[Session]) -> float:
    """Finalise the latest (prepared) checkpoint as tests do, without a chain; seconds taken."""
    start = time.perf_counter()
    with sessions.begin() as session:
        checkpoint = CheckpointRepository(session).latest()
        assert checkpoint is not None
        assert checkpoint.state == "prepared"
        block = checkpoint.index + 1
        builder.finalize(
            session, checkpoint, block_number=block, block_timestamp=1_760_000_000, tx_hash=None
        )
    return time.perf_counter() - start


@contextmanager
def sqlite_database() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="certreg-bench-") as folder:
        yield sqlite_url(Path(folder) / "certreg.db")


@contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    name = f"certreg_bench_{os.getpid()}_{secrets.token_hex(4)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def migrated(url: str) -> Engine:
    engine = make_engine(url)
    upgrade(engine)
    return engine


# -- issue_batch ----------------------------------------------------------------------------------


def issue(service: RegistryService, n: int, *, start: int = 0, batch: int = BATCH) -> float:
    """Issue certificates start..start+n-1 in batches; seconds spent inside issue_batch."""
    elapsed = 0.0
    for lo in range(start, start + n, batch):
        body = submissions(lo, min(lo + batch, start + n))
        began = time.perf_counter()
        results = service.issue_batch(ISSUER, body)
        elapsed += time.perf_counter() - began
        assert all(r.created for r in results)
    return elapsed


def bench_issue(n: int, db: str, url: str) -> Engine:
    engine = migrated(url)
    service = new_service(make_session_factory(engine))
    admit(service)
    parse_start = time.perf_counter()
    submissions(0, min(n, 10_000))
    parse_per_s = min(n, 10_000) / (time.perf_counter() - parse_start)
    seconds = issue(service, n)
    report(
        "issue_batch",
        n,
        db=db,
        batch=BATCH,
        certs_per_s=n / seconds,
        seconds=seconds,
        parse_per_s=parse_per_s,
        target=5000,
    )
    return engine


# -- issue_statements -----------------------------------------------------------------------------


def bench_statements(n: int, db: str, url: str) -> None:
    authority = Ed25519PrivateKey.generate()
    engine = migrated(url)
    service = new_service(
        make_session_factory(engine), authority_key=authority.public_key().public_bytes_raw()
    )
    admin = Principal("b" * 16, Role.AUTHORITY_ADMIN, None, "bench", "token:bench")
    common: dict[str, Any] = {
        "issuer_id": ISSUER,
        "authority_key_id": sha256(authority.public_key().public_bytes_raw()),
    }
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    admission = Admit(
        **common,
        at=now - dt.timedelta(seconds=2),
        name_vi="Tổ chức chứng nhận thử nghiệm hiệu năng",
        name_en="Benchmark certification body",
        accreditation_body="BoA",
        accreditation_number="VICAS 000",
        scope=Scope(kinds=tuple(sorted(kind.value for kind in CertificateKind))),
        valid_from=dt.date(2020, 1, 1),
        valid_until=dt.date(2099, 12, 31),
    )
    service.governance.submit(admin, sign_statement(admission, authority).to_json(), actor=Actor())
    holder = KeyHolder(issuer_id=ISSUER, private_key=Ed25519PrivateKey.generate())
    service.issuers.propose_key(
        ISSUER,
        custody=Custody.HELD,
        actor=Actor(),
        public_key=holder.public_key,
        proof=holder.possession_proof(),
    )
    approval = ApproveKey(
        **common,
        at=now - dt.timedelta(seconds=1),
        key_id=holder.key_id,
        public_key=holder.public_key,
        custody=Custody.HELD,
    )
    service.governance.submit(admin, sign_statement(approval, authority).to_json(), actor=Actor())
    signing = appending = 0.0
    for lo in range(0, n, BATCH):
        began = time.perf_counter()
        at = dt.datetime.now(dt.UTC).replace(microsecond=0)
        items = []
        for submission in submissions(lo, min(lo + BATCH, n), prefix="HELD"):
            record = build_record(submission, issuer_id=ISSUER)
            statement = holder.sign(
                EventType.ISSUE,
                certificate_id=record["id"],
                record_hash=sha256(canonical_json(record)),
                at=at,
            )
            items.append(SignedItem(statement=statement, record=record))
        signing += time.perf_counter() - began
        began = time.perf_counter()
        results = service.certificates.append_statements(ISSUER, items)
        appending += time.perf_counter() - began
        assert all(r.created for r in results)
    report(
        "issue_statements",
        n,
        db=db,
        batch=BATCH,
        certs_per_s=n / appending,
        seconds=appending,
        sign_per_s=n / signing,
    )
    engine.dispose()


# -- checkpoint_prepare ---------------------------------------------------------------------------


class SqlStopwatch:
    """Wall time inside the functions that talk to the database while prepare() runs."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._depth = 0

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            if self._depth:
                return fn(*args, **kwargs)
            self._depth += 1
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start
                self._depth -= 1

        return timed

    @contextmanager
    def watching(self) -> Iterator[None]:
        targets: list[tuple[Any, str]] = [
            (LogRepository, "entries"),
            (LogRepository, "tree_size"),
            (CheckpointRepository, "latest"),
            (SqlTileStore, "read_tile"),
            (SqlTileStore, "write_tiles"),
            (AnchoredMapCache, "sync"),
            (checkpointing, "read_leaves"),
            (Session, "flush"),
            (Session, "commit"),
        ]
        saved = [(owner, name, getattr(owner, name)) for owner, name in targets]
        for owner, name, fn in saved:
            setattr(owner, name, self.wrap(fn))
        try:
            yield
        finally:
            for owner, name, fn in saved:
                setattr(owner, name, fn)


def bench_checkpoints(sizes: list[int], engine: Engine, base: int) -> None:
    """Checkpoints of each size in turn on top of the `base` certificates already issued."""
    sessions = make_session_factory(engine)
    service = new_service(sessions)
    builder = new_builder(sessions)
    assert builder.prepare() is not None
    anchor(builder, sessions)
    issued = base
    for size in sizes:
        issue(service, size, start=issued)
        issued += size
        builder = new_builder(sessions)  # a fresh worker process: empty caches
        stopwatch = SqlStopwatch()
        start = time.perf_counter()
        with stopwatch.watching():
            row = builder.prepare()
        seconds = time.perf_counter() - start
        assert row is not None
        assert row.tree_size == issued
        finalize = anchor(builder, sessions)
        report(
            "checkpoint_prepare",
            size,
            db="sqlite",
            log_before=issued - size,
            seconds=seconds,
            sql_s=stopwatch.seconds,
            core_s=seconds - stopwatch.seconds,
            events_per_s=size / seconds,
            finalize_s=finalize,
        )


# -- proof_assembly -------------------------------------------------------------------------------


def build_proofs(url: str, n: int) -> tuple[Engine, dict[str, float]]:
    """Issue n certificates through the service into the empty database at `url`, in one
    checkpoint, and anchor it; (engine, setup seconds: total, issuing, forming, anchoring)."""
    start = time.perf_counter()
    engine = migrated(url)
    sessions = make_session_factory(engine)
    service = new_service(sessions, max_batch_size=SETUP_BATCH)
    admit(service)
    issue(service, n, batch=SETUP_BATCH)
    issued = time.perf_counter()
    builder = new_builder(sessions)
    assert builder.prepare() is not None
    prepared = time.perf_counter()
    anchor(builder, sessions)
    done = time.perf_counter()
    return engine, {
        "setup_s": done - start,
        "issue_s": issued - start,
        "prepare_s": prepared - issued,
        "finalize_s": done - prepared,
    }


def proof_database(n: int) -> tuple[Path, dict[str, float]]:
    """A SQLite file of n anchored certificates, built once and cached; (path, setup seconds:
    total, issuing, forming the checkpoint, anchoring it)."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    path = CACHE_DIR / f"service-proofs-{n}-rev{SCHEMA_REVISION}.db"
    stamp = path.with_suffix(".setup.json")
    if path.exists() and stamp.exists():
        return path, json.loads(stamp.read_text())
    building = path.with_suffix(".building")
    for leftover in CACHE_DIR.glob(building.name + "*"):
        leftover.unlink()
    engine, setup = build_proofs(sqlite_url(building), n)
    engine.dispose()  # checkpoints the WAL into the file
    shutil.move(building, path)
    stamp.write_text(json.dumps(setup))
    return path, setup


def new_assembler(engine: Engine) -> ProofAssembler:
    return ProofAssembler(
        engine=engine,
        map_cache=AnchoredMapCache(),
        anchor_info=lambda: AnchorInfo(chain_id=31337, contract=CONTRACT),
        checkpoint_interval_s=60,
    )


def warm_up(assembler: ProofAssembler, n: int) -> None:
    """One certificate per 256 (certificate i's event is leaf i), so every log tile is in the
    tile cache, as in a process that has been serving a while; the first bundle loaded the map."""
    for i in range(0, n, 256):
        assembler.bundle(certificate_id_for(issuer_id=ISSUER, number=f"BENCH-{i:08d}"))


def bench_proofs(n: int) -> None:
    path, setup = proof_database(n)
    engine = make_engine(sqlite_url(path))
    rng = random.Random(n)
    sample = min(n, PROOF_SAMPLE)
    cold_ids = [certificate_id_for(issuer_id=ISSUER, number=f"BENCH-{rng.randrange(n):08d}")]
    cold_ids += [
        certificate_id_for(issuer_id=ISSUER, number=f"BENCH-{rng.randrange(n):08d}")
        for _ in range(sample - 1)
    ]
    warm_ids = [
        certificate_id_for(issuer_id=ISSUER, number=f"BENCH-{rng.randrange(n):08d}")
        for _ in range(sample)
    ]
    assembler = new_assembler(engine)
    start = time.perf_counter()
    first = assembler.bundle(cold_ids[0])
    first_s = time.perf_counter() - start
    assert first.status == "ANCHORED"
    for certificate_id in cold_ids[1:]:
        assembler.bundle(certificate_id)
    cold = time.perf_counter() - start
    warm_up(assembler, n)
    start = time.perf_counter()
    for certificate_id in warm_ids:
        bundle = assembler.bundle(certificate_id)
    warm = time.perf_counter() - start
    assert bundle.status == "ANCHORED"
    body = bundle.model_dump_json().encode()  # as GET /v1/certificates/{id}/proof sends it
    report(
        "proof_assembly",
        n,
        db="sqlite",
        warm_per_s=sample / warm,
        cold_per_s=sample / cold,
        first_bundle_s=first_s,
        sample=sample,
        target=5000,
        bundle_bytes=len(body),
        bundle_gzip_bytes=len(gzip.compress(body)),
        **{k: round(v, 1) for k, v in setup.items()},
    )
    engine.dispose()


def _assembly_process(
    path: Path, n: int, ids: list[str], ready: Any, results: Any
) -> None:  # pragma: no cover - runs in a child process
    engine = make_engine(sqlite_url(path))
    assembler = new_assembler(engine)
    warm_up(assembler, n)
    ready.wait()
    start = time.perf_counter()
    for certificate_id in ids:
        assert assembler.bundle(certificate_id).status == "ANCHORED"
    results.put((start, time.perf_counter()))
    engine.dispose()


def bench_proofs_parallel(n: int, processes: int) -> None:
    """Warm bundles/s of `processes` processes at once, as the API's uvicorn workers serve them:
    each holds its own caches; SQLite readers do not block one another in WAL mode."""
    path, _ = proof_database(n)
    rng = random.Random(n + processes)
    context = multiprocessing.get_context("spawn")
    ready = context.Barrier(processes)
    results = context.Queue()
    per_process = PROOF_SAMPLE
    children = [
        context.Process(
            target=_assembly_process,
            args=(
                path,
                n,
                [
                    certificate_id_for(issuer_id=ISSUER, number=f"BENCH-{rng.randrange(n):08d}")
                    for _ in range(per_process)
                ],
                ready,
                results,
            ),
        )
        for _ in range(processes)
    ]
    for child in children:
        child.start()
    spans = [results.get(timeout=3600) for _ in children]
    for child in children:
        child.join()
        assert child.exitcode == 0, child.exitcode
    elapsed = max(end for _, end in spans) - min(start for start, _ in spans)
    report(
        "proof_assembly_parallel",
        n,
        db="sqlite",
        processes=processes,
        warm_per_s=per_process * processes / elapsed,
        sample=per_process * processes,
        target=5000,
    )


def postgres_proof_database(admin_url: str, n: int) -> tuple[str, dict[str, float]]:
    """A PostgreSQL database of n anchored certificates on the benches' server (`admin_url`),
    built once and kept (named by n and the schema revision; drop it to rebuild)."""
    name = f"certreg_bench_proofs_{n}_rev{SCHEMA_REVISION}"
    url, existed = kept_database(admin_url, name)
    if existed:
        probe = create_engine(url)
        try:
            with probe.connect() as db:
                stamp = db.execute(text("SELECT setup FROM bench_setup")).scalar()
            return url, json.loads(str(stamp))
        except Exception:  # a half-built database (no stamp): build it again
            url, _ = kept_database(admin_url, name, fresh=True)
        finally:
            probe.dispose()
    engine, setup = build_proofs(url, n)
    with engine.begin() as db:
        db.execute(text("CREATE TABLE bench_setup (setup text)"))
        db.execute(text("INSERT INTO bench_setup VALUES (:s)"), {"s": json.dumps(setup)})
    engine.dispose()
    return url, setup


def _rss_mb() -> tuple[float, float]:
    """(anonymous, file-backed) resident memory of this process in MB, from /proc. Anonymous is
    the process's own (Python heap, caches, SQLite page caches); file-backed is mostly the
    database file mapped by SQLite's mmap: OS page cache, which the kernel reclaims at will.
    (ru_maxrss would carry the parent's peak across the spawn's exec.)"""
    status = Path("/proc/self/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines())
    return (
        int(fields["RssAnon"].split()[0]) / 1024,
        int(fields["RssFile"].split()[0]) / 1024,
    )


def _memory_process(  # noqa: PLR0917  (a child process: positional arguments)
    url: str, n: int, mode: str, budget_mb: int, threads: int, results: Any
) -> None:
    # pragma: no cover - runs in a child process
    from registry.db.mapreader import BoundedMapReader  # noqa: PLC0415
    from registry.storage import ProofBudget  # noqa: PLC0415

    base_rss, _ = _rss_mb()
    engine = make_engine(url)
    proof_map: Any
    if mode == "bounded":  # as registry.storage.Storage builds it for an API process
        budget = ProofBudget(budget_mb)
        proof_map, tiles = BoundedMapReader(engine, hot_nodes=budget.hot_nodes), budget.tiles
    else:
        proof_map, tiles = AnchoredMapCache(), 1 << 16
    assembler = ProofAssembler(
        engine=engine,
        map_cache=proof_map,
        anchor_info=lambda: AnchorInfo(chain_id=31337, contract=CONTRACT),
        checkpoint_interval_s=60,
        log_tree=SharedLogTree(engine, cache_tiles=tiles),
    )
    rng = random.Random(n + 7)

    def ids() -> list[str]:
        return [
            certificate_id_for(issuer_id=ISSUER, number=f"BENCH-{rng.randrange(n):08d}")
            for _ in range(PROOF_SAMPLE)
        ]

    for certificate_id in ids():
        assembler.bundle(certificate_id)
    reads = getattr(proof_map, "reads", 0)
    timed = ids()

    def serve(chunk: list[str]) -> None:
        for certificate_id in chunk:
            assert assembler.bundle(certificate_id).status == "ANCHORED"

    start = time.perf_counter()
    if threads == 1:
        serve(timed)
    else:  # as the API's thread pool serves concurrent requests: one assembler, shared
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(serve, [timed[i::threads] for i in range(threads)]))
    elapsed = time.perf_counter() - start
    anon, mapped = _rss_mb()
    results.put(
        {
            "per_s": len(timed) / elapsed,
            "anon_mb": anon,
            "growth_mb": anon - base_rss,
            "file_mapped_mb": mapped,
            "db_reads": getattr(proof_map, "reads", 0) - reads,
        }
    )
    engine.dispose()


def bench_proof_memory(n: int, budget_mb: int, db: str, admin_url: str, threads: list[int]) -> None:
    if db == "postgresql":
        url, _ = postgres_proof_database(admin_url, n)
    else:
        url = sqlite_url(proof_database(n)[0])
    context = multiprocessing.get_context("spawn")
    for mode, count in [(mode, count) for mode in ("bounded", "full") for count in threads]:
        results = context.Queue()
        child = context.Process(
            target=_memory_process, args=(url, n, mode, budget_mb, count, results)
        )
        child.start()
        figures = results.get(timeout=3600)
        child.join()
        assert child.exitcode == 0, child.exitcode
        report(
            "proof_memory",
            n,
            db=db,
            map=mode,
            threads=count,
            budget_mb=budget_mb if mode == "bounded" else "none",
            sample=PROOF_SAMPLE,
            target_per_s=2000,
            **{k: round(v, 1) if isinstance(v, float) else v for k, v in figures.items()},
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, help="run every case at this size only")
    parser.add_argument(
        "--case",
        choices=[
            "issue_batch",
            "issue_statements",
            "checkpoint_prepare",
            "proof_assembly",
            "proof_memory",
        ],
        help="one case",
    )
    parser.add_argument(
        "--budget-mb", type=int, default=256, help="proof_memory: CERTREG_PROOF_CACHE_MB"
    )
    parser.add_argument(
        "--threads",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[1, 4],
        help="proof_memory: threads assembling at once in the one process (default 1,4: "
        "sequential, and as the API's thread pool serves concurrent requests)",
    )
    parser.add_argument(
        "--db",
        choices=["sqlite", "postgresql", "both"],
        default="both",
        help="proof_memory: which database",
    )
    args = parser.parse_args()
    cases = (
        [args.case]
        if args.case
        else ["issue_batch", "issue_statements", "checkpoint_prepare", "proof_assembly"]
    )
    issue_n = args.n or ISSUE_SIZE
    if "issue_batch" in cases or "checkpoint_prepare" in cases:
        with sqlite_database() as url:
            if "issue_batch" in cases:
                engine = bench_issue(issue_n, "sqlite", url)
            else:
                engine = migrated(url)
                admit(new_service(make_session_factory(engine)))
                issue(new_service(make_session_factory(engine)), issue_n)
            if "checkpoint_prepare" in cases:
                sizes = [args.n] if args.n else list(CHECKPOINT_SIZES)
                bench_checkpoints(sizes, engine, base=issue_n)
            engine.dispose()
        if "issue_batch" in cases:
            with bench_server() as admin_url, postgres_database(admin_url) as url:
                bench_issue(issue_n, "postgresql", url).dispose()
    if "issue_statements" in cases:
        with sqlite_database() as url:
            bench_statements(issue_n, "sqlite", url)
        with bench_server() as admin_url, postgres_database(admin_url) as url:
            bench_statements(issue_n, "postgresql", url)
    if "proof_assembly" in cases:
        bench_proofs(args.n or PROOF_SIZE)
        bench_proofs_parallel(args.n or PROOF_SIZE, processes=2)
    if "proof_memory" in cases or args.case is None:
        for db in ("sqlite", "postgresql") if args.db == "both" else (args.db,):
            with bench_server() as admin_url:
                bench_proof_memory(
                    args.n or PROOF_SIZE, args.budget_mb, db, admin_url, args.threads
                )


if __name__ == "__main__":
    main()
