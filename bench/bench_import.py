"""Importing a spreadsheet of certificates (docs/spec.md §11.13), through the service.

    python bench/bench_import.py                 # 10,000 rows: XLSX and CSV, SQLite and PostgreSQL
    python bench/bench_import.py --n 2000 --db sqlite --format csv

Case import n=<rows> kind=<kind> format=xlsx|csv db=sqlite|postgresql: a file of n typed
certificates of one kind (the samples of that kind in turn, each under its own number), made
before the clock starts. upload_s: `Imports.upload` — reading the file, mapping its headers,
validating every row against the kind's model, storing the job; run_s: `Imports.run` after
`confirm` — every row issued in chunks of 500 through `issue_batch` (format-2 records: a salt
and a digest per field, one signed event each), progress written after each chunk; seconds:
both, the time from upload to the last certificate issued. Target: under 60 s for 10,000 rows.
file_mb: the file's size.
"""

import argparse
import io
import time
from typing import Any

from _common import report
from _pg import bench_server
from bench_service import admit, migrated, new_service, postgres_database, sqlite_database
from openpyxl import Workbook

from registry.db.engine import make_session_factory
from registry.fields import CertificateKind
from registry.samples import typed_samples
from registry.sheets import cells_of, rows_csv, template_columns

ROWS = 10_000
TARGET_S = 60.0
ISSUER = "bench-cb"


def bodies(kind: str, n: int) -> list[dict[str, Any]]:
    samples = [
        {k: v for k, v in s.items() if k != "issuer_id"}
        for s in typed_samples()
        if s["kind"] == kind
    ]
    out = []
    for i in range(n):
        body = dict(samples[i % len(samples)])
        body["number"] = f"IMPORT-{i:08d}"
        body["valid_until"] = "2030-12-31"
        if kind == "instrument-verification":
            body["verification_mark"] = f"KĐ-{i:07d}"
        out.append(body)
    return out


def xlsx(rows: list[dict[str, Any]], kind: str) -> bytes:
    """The rows in the kind's template (Vietnamese headers), written as a person's file is."""
    columns = template_columns(kind)
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Chứng nhận")
    sheet.append([c.header_vi for c in columns])
    for body in rows:
        cells = cells_of(body, kind)
        sheet.append([cells.get(c.key, "") for c in columns])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def bench_import(n: int, kind: str, file_format: str, db: str, url: str) -> None:
    engine = migrated(url)
    service = new_service(make_session_factory(engine), max_batch_size=1000)
    admit(service)
    rows = bodies(kind, n)
    data = xlsx(rows, kind) if file_format == "xlsx" else rows_csv(rows, kind)
    began = time.perf_counter()
    job = service.imports.upload(
        ISSUER, kind=CertificateKind(kind), filename=f"bench.{file_format}", data=data
    )
    upload_s = time.perf_counter() - began
    assert (job.rows, job.valid, job.error_count) == (n, n, 0), job.errors[:3]
    service.imports.confirm(ISSUER, job.id)
    run_began = time.perf_counter()
    done = service.imports.run(job.id)
    run_s = time.perf_counter() - run_began
    assert (done.state, done.issued) == ("done", n), (done.state, done.message)
    seconds = upload_s + run_s
    report(
        "import",
        n,
        kind=kind,
        format=file_format,
        db=db,
        upload_s=upload_s,
        run_s=run_s,
        seconds=seconds,
        rows_per_s=n / seconds,
        file_mb=len(data) / 1e6,
        target_s=TARGET_S,
    )
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=ROWS)
    parser.add_argument("--kind", default="calibration", choices=[k.value for k in CertificateKind])
    parser.add_argument("--format", default="both", choices=["xlsx", "csv", "both"])
    parser.add_argument("--db", default="both", choices=["sqlite", "postgresql", "both"])
    args = parser.parse_args()
    formats = ("xlsx", "csv") if args.format == "both" else (args.format,)
    databases = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    for db in databases:
        for file_format in formats:
            if db == "sqlite":
                with sqlite_database() as url:
                    bench_import(args.n, args.kind, file_format, db, url)
            else:
                with bench_server() as admin_url, postgres_database(admin_url) as url:
                    bench_import(args.n, args.kind, file_format, db, url)


if __name__ == "__main__":
    main()
