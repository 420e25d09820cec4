"""The benchmarks' PostgreSQL server.

`CERTREG_BENCH_POSTGRES_URL` (an admin URL, e.g. `postgresql+psycopg://postgres@host/postgres`)
names a server to use as it is. Without it the benches run a cluster of their own, so that no
running server is assumed and the figures come from stated settings: created with `initdb` under
`CERTREG_BENCH_DIR` (default `/var/tmp/certreg-bench/pg`), started for the run on a free port of
127.0.0.1 and stopped after it (a server another bench run has running is used as it is). Its
data is kept between runs, so that large databases built through the service (hours at 10M
certificates) are built once. Delete the directory to start again.

Unlike the test suite's throwaway cluster this one is durable (fsync and synchronous commit on,
as in production) and sized for a registry larger than memory: the settings are in SETTINGS and
docs/deploy.md says which matter for proofs.
"""

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.pgcluster import (
    as_cluster_user,
    find_bindir,
    free_port,
    run_tool,
)

BENCH_DIR = Path(os.environ.get("CERTREG_BENCH_DIR", "/var/tmp/certreg-bench/pg"))

# Production-like on this 24 GiB machine: a quarter of memory for shared buffers (the indexes a
# bundle reads stay there), and few checkpoints while building (bulk loads write tens of GB).
SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "max_connections": "50",
    "shared_buffers": "'4GB'",
    "effective_cache_size": "'12GB'",
    "maintenance_work_mem": "'1GB'",
    "work_mem": "'32MB'",
    "max_wal_size": "'16GB'",
    "checkpoint_timeout": "'30min'",
    "wal_compression": "on",
    "random_page_cost": "1.1",
}


def _server_url(port: int) -> str:
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"


@contextmanager
def bench_server() -> Iterator[str]:
    """The admin URL of the server the benches use (see the module's docstring)."""
    given = os.environ.get("CERTREG_BENCH_POSTGRES_URL")
    if given:
        yield given
        return
    bindir = find_bindir()
    prefix, owner = as_cluster_user()
    data, sockets, log = BENCH_DIR / "data", BENCH_DIR / "sockets", BENCH_DIR / "server.log"
    if not (data / "PG_VERSION").exists():
        BENCH_DIR.mkdir(parents=True, exist_ok=True)
        sockets.mkdir(exist_ok=True)
        if owner is not None:
            for path in (BENCH_DIR, sockets):
                os.chown(path, owner, -1)
        run_tool(
            [*prefix, str(bindir / "initdb"), "-D", str(data), "-U", "postgres",
             "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"],
            "initdb",
        )  # fmt: skip
    # The settings are written on every start: a change here applies to a kept cluster too.
    auto = data / "postgresql.auto.conf"
    lines = ["# written by bench/_pg.py on each start"]
    lines += [f"{name} = {value}" for name, value in SETTINGS.items()]
    lines.append(f"unix_socket_directories = '{sockets}'")
    auto.write_text("\n".join(lines) + "\n")
    if owner is not None:
        os.chown(auto, owner, -1)
    pg_ctl = [*prefix, str(bindir / "pg_ctl"), "-D", str(data)]
    status = subprocess.run([*pg_ctl, "status"], capture_output=True, check=False)
    if status.returncode == 0:
        # Another bench run's server (running beside this one, or killed before it could stop
        # it): use it, and leave it to that run. The port is the pid file's fourth line.
        port = int((data / "postmaster.pid").read_text().splitlines()[3])
        yield _server_url(port)
        return
    port = free_port()
    run_tool(
        [*pg_ctl, "-l", str(log), "-w", "-t", "300", "-o", f"-p {port}", "start"],
        f"pg_ctl start on 127.0.0.1:{port}",
        log,
    )
    try:
        yield _server_url(port)
    finally:
        run_tool([*pg_ctl, "-m", "fast", "-w", "-t", "600", "stop"], "pg_ctl stop", log)


def kept_database(admin_url: str, name: str, *, fresh: bool = False) -> tuple[str, bool]:
    """The URL of database `name` on the server of `admin_url`, created if missing (dropped
    first if `fresh`), and whether it existed (and is kept)."""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            existed = bool(
                connection.execute(
                    text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
                ).scalar()
            )
            if existed and fresh:
                connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            if not existed or fresh:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    return url, existed and not fresh
