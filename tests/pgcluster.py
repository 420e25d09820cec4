"""A throwaway PostgreSQL cluster for the test session: `initdb` into a temporary directory,
`pg_ctl start` on a free port of 127.0.0.1 with a socket directory of its own, and at the end
`pg_ctl stop` and the directory deleted. It assumes no running server, only the binaries
(Debian's `postgresql` package, which `make test` installs when it is missing).

PostgreSQL refuses to run as root: as root, `initdb` and `pg_ctl` run as the unprivileged
`postgres` user that Debian's package creates (through `runuser`), in a directory it owns.
"""

import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# Where Debian puts each major version's binaries (they are not on PATH there).
DEBIAN_BIN_GLOB = "/usr/lib/postgresql/*/bin"
RUN_AS = "postgres"
# A throwaway cluster needs no durability: nothing here survives the server.
SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
}
START_ATTEMPTS = 3


class ClusterError(RuntimeError):
    """The throwaway cluster could not be created or started; the message says why."""


def find_bindir() -> Path:
    """The directory of `initdb` and `pg_ctl`: Debian's newest major version, else PATH."""

    def major(path: Path) -> int:
        match = re.fullmatch(r"\d+", path.parent.name)
        return int(match.group()) if match else -1

    for bindir in sorted(Path("/").glob(DEBIAN_BIN_GLOB.lstrip("/")), key=major, reverse=True):
        if (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file():
            return bindir
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).parent
    raise ClusterError(
        "PostgreSQL's initdb and pg_ctl were not found (neither in /usr/lib/postgresql/*/bin "
        "nor on PATH): install Debian's `postgresql` package (`make test` does it)"
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def as_cluster_user() -> tuple[list[str], int | None]:
    """The command prefix that runs PostgreSQL's tools unprivileged, and the uid to own its
    directory (None: this process's own user)."""
    if os.geteuid() != 0:
        return [], None
    try:
        user = pwd.getpwnam(RUN_AS)
    except KeyError:
        raise ClusterError(
            f"running as root, and PostgreSQL refuses to run as root, but there is no "
            f"`{RUN_AS}` user to run it as (Debian's `postgresql` package creates it)"
        ) from None
    runuser = shutil.which("runuser")
    if runuser is None:
        raise ClusterError("running as root, but `runuser` (util-linux) is not installed")
    return [runuser, "-u", RUN_AS, "--"], user.pw_uid


def run_tool(command: list[str], what: str, log: Path | None = None) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        detail = (result.stdout + result.stderr).strip()
        if log is not None and log.exists():
            detail += "\n--- server log ---\n" + log.read_text(errors="replace")[-4000:]
        raise ClusterError(
            f"{what} failed (exit {result.returncode}): {' '.join(command)}\n{detail}"
        )


@contextmanager
def throwaway_cluster() -> Iterator[str]:
    """Start a fresh cluster and yield the URL of its `postgres` database as superuser
    `postgres` (trust authentication, 127.0.0.1 only); stop it and delete it afterwards."""
    bindir = find_bindir()
    prefix, owner = as_cluster_user()
    # Not under pytest's tmp_path: that is private to this user, out of the postgres user's reach.
    root = Path(tempfile.mkdtemp(prefix="certreg-pg-"))
    data, sockets, log = root / "data", root / "sockets", root / "server.log"
    sockets.mkdir()
    if owner is not None:
        for path in (root, sockets):
            os.chown(path, owner, -1)
    pg_ctl = [*prefix, str(bindir / "pg_ctl"), "-D", str(data)]
    started = False
    try:
        run_tool(
            [*prefix, str(bindir / "initdb"), "-D", str(data), "-U", "postgres",
             "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
            "initdb",
        )  # fmt: skip
        settings = {**SETTINGS, "unix_socket_directories": f"'{sockets}'"}
        with (data / "postgresql.conf").open("a") as conf:
            conf.write("\n# certreg's throwaway test cluster\n")
            conf.writelines(f"{name} = {value}\n" for name, value in settings.items())
        # The port is free when chosen but may be taken before the server binds it: try again.
        for attempt in range(1, START_ATTEMPTS + 1):
            port = free_port()
            try:
                run_tool(
                    [*pg_ctl, "-l", str(log), "-w", "-t", "60", "-o", f"-p {port}", "start"],
                    f"pg_ctl start on 127.0.0.1:{port}",
                    log,
                )
            except ClusterError:
                if attempt == START_ATTEMPTS:
                    raise
                continue
            started = True
            break
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        try:
            if started:
                run_tool([*pg_ctl, "-m", "immediate", "-w", "stop"], "pg_ctl stop", log)
        finally:
            shutil.rmtree(root, ignore_errors=True)
