"""A registry of typed (format-2) certificates on PostgreSQL, for the statistics and open-data
benches: built once through the service, then copied for each bench that changes its schema.

    python bench/_typed.py --n 1000000     # build (resumable) the database typed_<n>

The registry is a sector in miniature: 20 certification bodies, the 48 sample certificates of
every kind renumbered (`registry.samples.typed_samples`), holders spread over the 34 provinces
(weighted towards the big cities, as real registries are), issued evenly over 24 months
(2024-12 … 2026-11, the service's clock set to each month in turn) with issue dates of that
month; each month 2 % of its certificates are suspended, half of those reinstated, and 1 %
withdrawn, with the reason codes of the API. A checkpoint is formed and anchored (without a
chain, as bench_service.py's `anchor`) after every month, with that month's last day as its
block time. One CB (bench-cb-07) issues five times its usual volume in the last month, and one
(bench-cb-13) withdraws a burst: the supervisors' flags have something to find.

The build is resumable: the month reached is kept in the table `bench_typed_progress`.

`typed_copy(admin_url, n, name)` gives a bench its own copy (`CREATE DATABASE … TEMPLATE`), to
migrate and change as it likes; the original stays as built. The server is bench/_pg.py's
(its own durable cluster, or CERTREG_BENCH_POSTGRES_URL).
"""

import argparse
import datetime as dt
import random
import re
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _pg import bench_server, kept_database
from bench_service import KEK, SIGNER_SEED
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.engine import make_url

from registry.checkpointing import CheckpointBuilder
from registry.core.note import NoteSigner
from registry.db import models
from registry.db.engine import make_engine, make_session_factory
from registry.db.mapstore import AnchoredMapCache
from registry.db.migrate import upgrade
from registry.db.repositories import CheckpointRepository
from registry.kinds import PROVINCES
from registry.records import CertificateKind, submission_adapter
from registry.samples import typed_samples
from registry.service import RegistryService

MONTHS = 24
FIRST_MONTH = dt.date(2024, 12, 1)
ISSUERS = [f"bench-cb-{i:02d}" for i in range(20)]
BURST_ISSUER = "bench-cb-07"  # five times its volume in the last month
WITHDRAWAL_ISSUER = "bench-cb-13"  # withdraws a burst in the last month
BATCH = 1_000
SUSPEND_REASONS = ("surveillance-nonconformity", "misuse-of-mark", "failure-to-pay")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
WITHDRAW_REASONS = ("surveillance-nonconformity", "fraud", "holder-request", "misuse-of-mark")


def database_name(n: int) -> str:
    return f"typed_{n}"


def _month(index: int) -> dt.date:
    year, month = divmod(FIRST_MONTH.month - 1 + index, 12)
    return dt.date(FIRST_MONTH.year + year, month + 1, 1)


def _month_end(first: dt.date) -> dt.date:
    year, month = divmod(first.month, 12)
    return dt.date(first.year + year, month + 1, 1) - dt.timedelta(days=1)


def _provinces() -> tuple[list[str], list[float]]:
    """The 34 codes, Hà Nội (01) and TP. Hồ Chí Minh (79) weighted as the big centres they are."""
    codes = sorted(PROVINCES)
    weights = [12.0 if code in ("01", "79") else 4.0 if code in ("31", "48", "92") else 1.0
               for code in codes]  # fmt: skip
    return codes, weights


def _counts(n: int) -> list[dict[str, int]]:
    """How many certificates each CB issues each month: n in all."""
    base = [1.0] * len(ISSUERS)
    plan: list[dict[str, float]] = []
    for m in range(MONTHS):
        weights = {issuer: base[i] * (1 + (i % 5) * 0.25) for i, issuer in enumerate(ISSUERS)}
        if m == MONTHS - 1:
            weights[BURST_ISSUER] *= 5
        plan.append(weights)
    total = sum(sum(w.values()) for w in plan)
    counts = [{issuer: int(n * w / total) for issuer, w in month.items()} for month in plan]
    short = n - sum(sum(month.values()) for month in counts)
    counts[0][ISSUERS[0]] += short
    return counts


def _submissions(
    samples: list[dict[str, Any]], *, issuer: str, month: dt.date, start: int, count: int,
    rng: random.Random,
) -> list[Any]:  # fmt: skip
    codes, weights = _provinces()
    out = []
    last_day = _month_end(month).day
    for i in range(start, start + count):
        body = dict(samples[i % len(samples)])
        body["number"] = f"{issuer.upper()}-{i:08d}"
        day = month.replace(day=1 + i % last_day)
        # Every date of the sample moves with its issue date, so their order stays valid.
        shift = day - dt.date.fromisoformat(body["issued_on"])
        for key, value in body.items():
            if isinstance(value, str) and _DATE.fullmatch(value):
                body[key] = (dt.date.fromisoformat(value) + shift).isoformat()
        body["province"] = rng.choices(codes, weights)[0]
        out.append(submission_adapter().validate_python(body))
    return out


def _admit(service: RegistryService, sessions: Any) -> None:
    with sessions() as session:
        existing = set(session.scalars(select(models.Issuer.id)))
    for issuer in ISSUERS:
        if issuer in existing:
            continue
        service.add_issuer(
            issuer_id=issuer,
            name_vi=f"Tổ chức chứng nhận {issuer[-2:]}",
            name_en=f"Certification body {issuer[-2:]}",
            accreditation=f"VICAS {issuer[-2:]}",
            kinds=[kind.value for kind in CertificateKind],
        )


def build(url: str, n: int) -> None:
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as connection:
        connection.execute(
            text("CREATE TABLE IF NOT EXISTS bench_typed_progress (month INTEGER NOT NULL)")
        )
        done = connection.execute(text("SELECT max(month) FROM bench_typed_progress")).scalar()
    first = 0 if done is None else int(done) + 1
    sessions = make_session_factory(engine)
    now = [dt.datetime.combine(_month(first), dt.time(8), dt.UTC)]
    service = RegistryService(sessions=sessions, kek=KEK, clock=lambda: now[0])
    builder = CheckpointBuilder(
        sessions=sessions,
        signer=NoteSigner.from_seed("bench.example/log", SIGNER_SEED),
        map_cache=AnchoredMapCache(),
        clock=lambda: now[0],
    )
    _admit(service, sessions)
    samples = [{k: v for k, v in s.items() if k != "issuer_id"} for s in typed_samples()]
    plan = _counts(n)
    for m in range(first, MONTHS):
        month = _month(m)
        rng = random.Random(m)
        began = time.perf_counter()
        issued: list[tuple[str, str]] = []
        for issuer, count in plan[m].items():
            start = sum(plan[k][issuer] for k in range(m))
            for lo in range(start, start + count, BATCH):
                hi = min(lo + BATCH, start + count)
                day = month + dt.timedelta(days=(lo - start) * 27 // max(count, 1))
                now[0] = dt.datetime.combine(day, dt.time(9), dt.UTC)
                body = _submissions(samples, issuer=issuer, month=month, start=lo,
                                    count=hi - lo, rng=rng)  # fmt: skip
                results = service.issue_batch(issuer, body)
                issued += [(issuer, r.certificate.id) for r in results]
        now[0] = dt.datetime.combine(month.replace(day=28), dt.time(10), dt.UTC)
        rng.shuffle(issued)
        suspend = issued[: len(issued) // 50]
        withdraw = issued[len(issued) // 50 : len(issued) // 50 + len(issued) // 100]
        if m == MONTHS - 1:
            withdraw += [c for c in issued[len(issued) // 2 :] if c[0] == WITHDRAWAL_ISSUER][
                : len(issued) // 200
            ]
        for i, (issuer, certificate_id) in enumerate(suspend):
            service.suspend(issuer, certificate_id, reason=SUSPEND_REASONS[i % 3])
            if i % 2 == 0:
                service.reinstate(issuer, certificate_id, reason="corrective-action-completed")
        for i, (issuer, certificate_id) in enumerate(withdraw):
            service.withdraw(issuer, certificate_id, reason=WITHDRAW_REASONS[i % 4])
        now[0] = dt.datetime.combine(_month_end(month), dt.time(23), dt.UTC)
        builder.prepare()
        with sessions.begin() as session:
            checkpoint = CheckpointRepository(session).latest()
            assert checkpoint is not None
            assert checkpoint.state == "prepared"
            builder.finalize(
                session,
                checkpoint,
                block_number=checkpoint.index + 1,
                block_timestamp=int(now[0].timestamp()),
                tx_hash=None,
            )
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO bench_typed_progress VALUES (:m)"), {"m": m})
        print(
            f"month={month:%Y-%m} issued={len(issued)} suspended={len(suspend)} "
            f"withdrawn={len(withdraw)} seconds={time.perf_counter() - began:.1f}",
            flush=True,
        )
    engine.dispose()


def typed_database(admin_url: str, n: int) -> str:
    """The URL of the typed registry of n certificates, built first if it is not complete."""
    url, _ = kept_database(admin_url, database_name(n))
    if not _complete(url):
        # Only an incomplete registry is migrated: a complete one stays at the schema it was
        # built with, whatever branch's bench asks for it (copies are migrated instead).
        build(url, n)
    return url


def _complete(url: str) -> bool:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table("bench_typed_progress"):
                return False
            done = connection.execute(text("SELECT max(month) FROM bench_typed_progress")).scalar()
    finally:
        engine.dispose()
    return done == MONTHS - 1


def typed_copy(admin_url: str, n: int, name: str, *, fresh: bool = False) -> str:
    """A copy of the typed registry of n certificates named `name` (made if missing, or again if
    `fresh`), for a bench that migrates or changes it."""
    typed_database(admin_url, n)
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            exists = connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ).scalar()
            if exists and fresh:
                connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            if not exists or fresh:
                connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{database_name(n)}"'))
    finally:
        admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    args = parser.parse_args()
    with bench_server() as admin_url:
        url = typed_database(admin_url, args.n)
        print(f"built {url}")


if __name__ == "__main__":
    main()
