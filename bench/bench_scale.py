"""A registry of national size on PostgreSQL: grow it to 10M certificates, measure on the way.

    python bench/bench_scale.py                      # grow to 10M, measuring at 1M, 3M and 10M
    python bench/bench_scale.py --stages 1000000     # only up to 1M
    python bench/bench_scale.py --report             # print what earlier runs measured

The database is built through the service (`RegistryService.issue_batch` in batches of 10,000;
a checkpoint formed and anchored every CHECKPOINT_EVERY events, as a worker would) and kept on
the bench's PostgreSQL server (`bench/_pg.py`: its own durable cluster under
/var/tmp/certreg-bench/pg unless CERTREG_BENCH_POSTGRES_URL names one). The build is resumable:
stop it at any point and the next run carries on from the log's size; every figure measured is
stored in the database itself (table `bench_scale`) and printed again by later runs.

At each stage (a base of n anchored certificates), once:
- case=scale_build: how the stage was reached — certificates/s over the chunks issued since the
  previous stage, seconds forming and anchoring each 1M checkpoint (the building worker keeps its
  map in memory between checkpoints, as `certreg anchor` does);
- case=scale_proofs: proof assembly in a fresh process as the API builds it
  (`CERTREG_PROOF_CACHE_MB`=256, the bounded map reader): bundles/s after a warm-up pass, the
  process's memory, and the bundle's size as JSON, gzip-compressed JSON and the compact form;
- case=scale_db: database size (total, per certificate) and the largest tables;
- case=scale_step: 100k new certificates issued on top in batches of 1,000 (certificates/s),
  then, in a fresh worker process, the checkpoint of those 100k formed (`prepare`, of which
  map_load_s loads the anchored map the builder keeps in memory), its consistency proof from
  the previous checkpoint, and its anchoring (`finalize`: the map's new rows), with that worker's
  memory. The chain's own part of anchoring does not depend on the registry's size (gas:
  bench_gas.py; latency: bench_api.py) and is not repeated here.
"""

import argparse
import datetime as dt
import gzip
import json
import multiprocessing
import queue
import random
import statistics
import time
from typing import Any

from _common import report
from _pg import bench_server, kept_database
from bench_service import (
    ISSUER,
    PROOF_SAMPLE,
    _memory_process,
    _rss_mb,
    admit,
    anchor,
    issue,
    migrated,
    new_builder,
    new_service,
)
from sqlalchemy import Engine, text

from registry.assembly import AnchorInfo, ProofAssembler, SharedLogTree
from registry.checkpointing import CheckpointBuilder
from registry.compact import encode_bundle
from registry.core.ids import certificate_id_for
from registry.core.note import NoteSigner
from registry.db import models
from registry.db.engine import make_engine, make_session_factory
from registry.db.mapreader import BoundedMapReader
from registry.db.mapstore import AnchoredMapCache
from registry.db.repositories import CheckpointRepository, LogRepository
from registry.storage import ProofBudget

STAGES = (1_000_000, 3_000_000, 10_000_000)
CHECKPOINT_EVERY = 1_000_000
BUILD_BATCH = 10_000
STEP = 100_000
STEP_BATCH = 1_000
DATABASE = "certreg_scale_rev0001"
CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
SIZE_SAMPLE = 200
# Concurrent requests in one API process (its thread pool): while one waits on the database
# another assembles.
PROOF_THREADS = 4


def recorded(engine: Engine) -> dict[str, dict[str, Any]]:
    with engine.begin() as db:
        db.execute(text("CREATE TABLE IF NOT EXISTS bench_scale (key text PRIMARY KEY, line text)"))
        return {k: json.loads(v) for k, v in db.execute(text("SELECT key, line FROM bench_scale"))}


def record(engine: Engine, key: str, case: str, n: int, **metrics: Any) -> None:
    """Print a summary line and keep it in the database (a later run prints it again)."""
    metrics["measured"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%MZ")
    report(case, n, **metrics)
    with engine.begin() as db:
        db.execute(
            text(
                "INSERT INTO bench_scale VALUES (:k, :v) ON CONFLICT (key) DO UPDATE SET line = :v"
            ),
            {"k": key, "v": json.dumps({"case": case, "n": n, **metrics})},
        )


def reprint(lines: dict[str, dict[str, Any]]) -> None:
    for key in sorted(lines, key=lambda k: (lines[k]["n"], k)):
        line = dict(lines[key])
        report(line.pop("case"), line.pop("n"), **line)


def log_size(engine: Engine) -> tuple[int, str | None]:
    """The log's size and the latest checkpoint's state (None before the first)."""
    sessions = make_session_factory(engine)
    with sessions() as session:
        latest = CheckpointRepository(session).latest()
        return LogRepository(session).tree_size(), None if latest is None else latest.state


# -- building -------------------------------------------------------------------------------------


class Builder:
    """Grows the registry through the service, one anchored checkpoint per CHECKPOINT_EVERY."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions = make_session_factory(engine)
        self.service = new_service(self.sessions, max_batch_size=BUILD_BATCH)
        with self.sessions() as session:
            if session.get(models.Issuer, ISSUER) is None:
                admit(self.service)
        self.builder = new_builder(self.sessions)
        self.chunks: list[dict[str, float]] = []

    def checkpoint(self) -> tuple[float, float]:
        """Form and anchor a checkpoint of every waiting event; (prepare s, finalize s)."""
        start = time.perf_counter()
        _, state = log_size(self.engine)
        if state != "prepared":
            assert self.builder.prepare() is not None
        prepared = time.perf_counter()
        anchor(self.builder, self.sessions)
        return prepared - start, time.perf_counter() - prepared

    def grow_to(self, target: int) -> None:
        size, state = log_size(self.engine)
        if state == "prepared":  # an earlier run stopped between forming and anchoring
            self.checkpoint()
        while size < target:
            end = min((size // CHECKPOINT_EVERY + 1) * CHECKPOINT_EVERY, target)
            seconds = issue(self.service, end - size, start=size, batch=BUILD_BATCH)
            prepare_s, finalize_s = self.checkpoint()
            chunk = {
                "from": size,
                "to": end,
                "certs_per_s": (end - size) / seconds,
                "prepare_s": prepare_s,
                "finalize_s": finalize_s,
            }
            self.chunks.append(chunk)
            report("scale_chunk", end, **chunk)
            size = end
        _, state = log_size(self.engine)
        if state != "anchored":
            self.checkpoint()


# -- measuring ------------------------------------------------------------------------------------


def _sizes_process(url: str, n: int, results: Any) -> None:  # pragma: no cover - child process
    """Bundle sizes (JSON, gzip, compact) over SIZE_SAMPLE random anchored certificates."""
    from registry.db.engine import make_engine  # noqa: PLC0415

    engine = make_engine(url)
    budget = ProofBudget(256)
    assembler = ProofAssembler(
        engine=engine,
        map_cache=BoundedMapReader(engine, hot_nodes=budget.hot_nodes),
        anchor_info=lambda: AnchorInfo(chain_id=31337, contract=CONTRACT),
        checkpoint_interval_s=60,
        log_tree=SharedLogTree(engine, cache_tiles=budget.tiles),
    )
    rng = random.Random(n + 11)
    json_sizes, gzip_sizes, compact_sizes = [], [], []
    for _ in range(SIZE_SAMPLE):
        number = f"BENCH-{rng.randrange(n):08d}"
        bundle = assembler.bundle(certificate_id_for(issuer_id=ISSUER, number=number))
        body = bundle.model_dump_json().encode()
        json_sizes.append(len(body))
        gzip_sizes.append(len(gzip.compress(body)))
        compact_sizes.append(len(encode_bundle(json.loads(body))))
    results.put(
        {
            "bundle_bytes": statistics.fmean(json_sizes),
            "bundle_gzip_bytes": statistics.fmean(gzip_sizes),
            "compact_bytes": statistics.fmean(compact_sizes),
            "compact_max_bytes": max(compact_sizes),
        }
    )
    engine.dispose()


def _step_process(url: str, results: Any) -> None:  # pragma: no cover - child process
    """A fresh worker forms and anchors the checkpoint of the events waiting."""
    from registry.db.engine import make_engine  # noqa: PLC0415

    base_rss, _ = _rss_mb()
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    cache = AnchoredMapCache()
    start = time.perf_counter()
    with sessions() as session:
        cache.sync(session)
    map_load_s = time.perf_counter() - start
    loaded_rss, _ = _rss_mb()
    builder = CheckpointBuilder(
        sessions=sessions,
        signer=NoteSigner.from_seed("bench.example/log", bytes(range(32, 64))),
        map_cache=cache,
        clock=lambda: dt.datetime.now(dt.UTC).replace(microsecond=0),
    )
    start = time.perf_counter()
    row = builder.prepare()
    prepare_s = time.perf_counter() - start
    assert row is not None
    start = time.perf_counter()
    with sessions() as session:
        checkpoint = CheckpointRepository(session).get(row.index)
        assert checkpoint is not None
        proof = builder.consistency_proof(session, checkpoint)
    consistency_s = time.perf_counter() - start
    finalize_s = anchor(builder, sessions)
    anon, _ = _rss_mb()
    results.put(
        {
            "map_load_s": map_load_s,
            "prepare_s": prepare_s,
            "events_per_s": STEP / prepare_s,
            "consistency_s": consistency_s,
            "consistency_len": len(proof),
            "finalize_s": finalize_s,
            "map_mb": loaded_rss - base_rss,
            "worker_mb": anon,
        }
    )
    engine.dispose()


def in_child(target: Any, *args: Any) -> Any:
    """What `target(*args, results)` puts on `results`, run in a fresh process."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    child = context.Process(target=target, args=(*args, results))
    child.start()
    while True:
        try:
            figures = results.get(timeout=5)
            break
        except queue.Empty:
            if not child.is_alive():
                raise RuntimeError(f"{target.__name__}: exit code {child.exitcode}") from None
    child.join()
    assert child.exitcode == 0, child.exitcode
    return figures


def rounded(figures: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()}


def _grow_process(url: str, target: int, results: Any) -> None:  # pragma: no cover - child
    """Grow the registry to `target` in a process of its own: the building worker's map (GBs
    at 10M) goes with it, before the measurements start their own processes."""
    engine = make_engine(url)
    builder = Builder(engine)
    builder.grow_to(target)
    results.put(builder.chunks)
    engine.dispose()


def measure(
    engine: Engine, url: str, stage: int, builder: Builder, chunks: list[dict[str, float]]
) -> None:
    size, state = log_size(engine)
    assert state == "anchored", state
    assert size >= stage, (size, stage)
    if chunks:
        record(
            engine,
            f"{stage}:build",
            "scale_build",
            stage,
            certs_per_s=statistics.fmean(c["certs_per_s"] for c in chunks),
            prepare_s=statistics.fmean(c["prepare_s"] for c in chunks),
            finalize_s=statistics.fmean(c["finalize_s"] for c in chunks),
            chunks=len(chunks),
            checkpoint_events=CHECKPOINT_EVERY,
            batch=BUILD_BATCH,
        )
    if f"{stage}:proofs" in recorded(engine):  # an earlier run measured it, then stopped
        measure_step(engine, url, stage, size, builder)
        return
    proofs = in_child(_memory_process, url, size, "bounded", 256, 1)
    threaded = in_child(_memory_process, url, size, "bounded", 256, PROOF_THREADS)
    sizes = in_child(_sizes_process, url, size)
    record(
        engine,
        f"{stage}:proofs",
        "scale_proofs",
        size,
        map="bounded",
        budget_mb=256,
        sample=PROOF_SAMPLE,
        target_per_s=2000,
        **rounded(proofs),
        threads=PROOF_THREADS,
        threaded_per_s=round(threaded["per_s"], 1),
        threaded_anon_mb=round(threaded["anon_mb"], 1),
        **rounded(sizes),
    )
    measure_db(engine, stage, size)
    measure_step(engine, url, stage, size, builder)


def measure_db(engine: Engine, stage: int, size: int) -> None:
    with engine.connect() as db:
        total = int(db.execute(text("SELECT pg_database_size(current_database())")).scalar_one())
        tables = db.execute(
            text(
                "SELECT relname, pg_total_relation_size(oid) FROM pg_class "
                "WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace "
                "ORDER BY 2 DESC LIMIT 5"
            )
        ).all()
    record(
        engine,
        f"{stage}:db",
        "scale_db",
        size,
        db_gb=round(total / 1e9, 2),
        bytes_per_cert=round(total / size),
        **{f"{name}_gb": round(b / 1e9, 2) for name, b in tables},
    )


def measure_step(engine: Engine, url: str, stage: int, size: int, builder: Builder) -> None:
    # A run killed during the step left part of it issued: issue the rest.
    new = STEP - (size - stage)
    issued = issue(builder.service, new, start=size, batch=STEP_BATCH)
    step = in_child(_step_process, url)
    record(
        engine,
        f"{stage}:step",
        "scale_step",
        size,
        new_events=STEP,
        issue_batch=STEP_BATCH,
        certs_per_s=round(new / issued, 1),
        **rounded(step),
    )


def measure_proofs_now(engine: Engine, url: str) -> None:
    with make_session_factory(engine)() as session:
        anchored = CheckpointRepository(session).latest_anchored()
    assert anchored is not None, "nothing anchored yet"
    size = anchored.tree_size
    runs = [("bounded", 1), ("bounded", PROOF_THREADS)]
    if size <= 2_000_000:
        runs += [("full", 1), ("full", PROOF_THREADS)]
    for mode, threads in runs:
        figures = in_child(_memory_process, url, size, mode, 256, threads)
        report(
            "scale_proofs",
            size,
            map=mode,
            threads=threads,
            budget_mb=256 if mode == "bounded" else "none",
            sample=PROOF_SAMPLE,
            target_per_s=2000,
            **rounded(figures),
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--stages",
        type=lambda s: [int(x) for x in s.split(",")],
        default=list(STAGES),
        help="comma-separated registry sizes to measure at (default 1M,3M,10M)",
    )
    parser.add_argument("--report", action="store_true", help="print earlier figures only")
    parser.add_argument(
        "--proofs",
        action="store_true",
        help="measure proof assembly now, at the size built so far (printed, not kept); "
        "with the whole map in memory too up to 2M certificates",
    )
    args = parser.parse_args()
    with bench_server() as admin_url:
        url, _ = kept_database(admin_url, DATABASE)
        if args.proofs:  # reads only: no migration, no table of figures (a build may run)
            engine = make_engine(url)
            measure_proofs_now(engine, url)
            engine.dispose()
            return
        engine = migrated(url)
        done = recorded(engine)
        reprint(done)
        if args.report:
            return
        builder = Builder(engine)
        for stage in sorted(args.stages):
            if f"{stage}:step" in done:
                continue
            chunks: list[dict[str, float]] = in_child(_grow_process, url, stage)
            measure(engine, url, stage, builder, chunks)
        engine.dispose()


if __name__ == "__main__":
    main()
