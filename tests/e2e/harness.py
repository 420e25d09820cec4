"""The end-to-end harness: a fresh contract and a fresh database behind a real `certreg serve`
process, reached over HTTP only, and the `certreg` CLI run as a subprocess.

Each `RunningRegistry` deploys its own contract (so its anchoring worker and the chain agree from
the first block), admits one issuer as registries did before the authority's statements, and
starts the server with the anchoring worker on 127.0.0.1 at a free port. Its checkpoint-signing
key and key-encryption key are generated here and passed in the environment, so the verifier
pins a key it knows from its own configuration, not from the registry it checks.

Several registries may run at once (the session's shared one and a module's own): each sends
from its own pair of new accounts, so their transactions never race for a nonce.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import datetime as dt
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from anchoring.client import AnchorClient, ChainClient
from anchoring.deploy import deploy_contract
from anchoring.devnode import HardhatNode, dev_account, free_port
from registry.core.note import NoteSigner
from registry.db.engine import sqlite_url
from registry.samples import load_samples
from registry.service import RegistryService
from registry.storage import Storage
from verifier.trust import fingerprint_of

__all__ = [
    "CHAIN_ID",
    "CliResult",
    "RunningRegistry",
    "certreg",
    "eventually",
    "start_registry",
    "submission",
]

CHAIN_ID = 31337
ISSUER_ID = "vn-cb-quatest3"
CERTREG = Path(sys.executable).with_name("certreg")
#: Bounded waits: anchoring takes a poll (0.5 s) and one transaction on an automining node.
ANCHOR_TIMEOUT_S = 30.0
START_TIMEOUT_S = 90.0
CLI_TIMEOUT_S = 120.0

SAMPLES = load_samples()


def submission(
    number: str,
    *,
    template: int = 0,
    valid_from: dt.date | None = None,
    valid_until: dt.date | None = None,
    days_valid: int | None = 3 * 365,
) -> dict[str, Any]:
    """A sample certificate of the demo issuer under a new `number`, with dates relative to
    today (UTC) so that the verdicts do not depend on when the suite runs."""
    bodies = [c for c in SAMPLES["certificates"] if c["issuer_id"] == ISSUER_ID]
    body = {k: v for k, v in bodies[template].items() if k not in ("issuer_id", "valid_until")}
    today = dt.datetime.now(dt.UTC).date()
    start = valid_from or today - dt.timedelta(days=30)
    end = valid_until
    if end is None and days_valid is not None:
        end = start + dt.timedelta(days=days_valid)
    body.update(number=number, issued_on=start.isoformat(), valid_from=start.isoformat())
    if end is not None:
        body["valid_until"] = end.isoformat()
    return body


def eventually(condition: Callable[[], bool], *, timeout_s: float = 10.0) -> None:
    """Poll `condition` until it holds, for at most `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition still false after {timeout_s} s")
        time.sleep(0.1)


def _die_with_parent() -> None:
    """In the child: get SIGTERM if the test process dies, so no server outlives it."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass(frozen=True)
class CliResult:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> dict[str, Any]:
        """The one JSON object a `--json` command prints (its last stdout line)."""
        lines = self.stdout.strip().splitlines()
        assert lines, f"certreg {' '.join(self.args)}: no output; stderr:\n{self.stderr}"
        found: dict[str, Any] = json.loads(lines[-1])
        return found


def certreg(*args: str, env: dict[str, str], cwd: Path) -> CliResult:
    """Run the `certreg` CLI of this virtualenv as a subprocess."""
    done = subprocess.run(
        [str(CERTREG), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=False,
    )
    return CliResult(tuple(args), done.returncode, done.stdout, done.stderr)


def base_env() -> dict[str, str]:
    """This process's environment without its CERTREG_ settings (a `.env` file is read from the
    working directory: each process here runs in a folder of its own)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTREG_")}
    if env.get("PYTHONPATH"):
        # Made absolute: the child runs in another folder, where `PYTHONPATH=.` would name
        # nothing and the installed package (an editable install of another checkout, say)
        # would run instead of this one.
        env["PYTHONPATH"] = os.pathsep.join(
            str(Path(entry).resolve()) for entry in env["PYTHONPATH"].split(os.pathsep) if entry
        )
    return env


@dataclass
class RunningRegistry:
    """A server process and what a client of it knows."""

    url: str
    rpc_url: str
    contract: str
    vkey: str  # pinned from the test's own configuration
    api_key: str
    data_dir: Path
    database_url: str
    kek: bytes
    env: dict[str, str] = field(repr=False)  # the server's, secrets included
    process: subprocess.Popen[bytes]
    log_path: Path
    http: httpx2.Client = field(repr=False)

    # -- HTTP --------------------------------------------------------------------------------------

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def issue(self, body: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post("/v1/certificates", json=body, headers=self.auth)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def change(self, certificate_id: str, action: str, reason: str = "other") -> dict[str, Any]:
        response = self.http.post(
            f"/v1/certificates/{certificate_id}/{action}",
            json={"reason": reason},
            headers=self.auth,
        )
        assert response.status_code == 200, response.text
        changed: dict[str, Any] = response.json()
        return changed

    def proof(self, certificate_id: str) -> dict[str, Any]:
        response = self.http.get(f"/v1/certificates/{certificate_id}/proof")
        assert response.status_code == 200, response.text
        bundle: dict[str, Any] = response.json()
        return bundle

    def wait_anchored(
        self, certificate_id: str, *, seq: int, timeout_s: float = ANCHOR_TIMEOUT_S
    ) -> dict[str, Any]:
        """Poll the proof until it is anchored at a checkpoint covering event `seq`."""
        deadline = time.monotonic() + timeout_s
        while True:
            bundle = self.proof(certificate_id)
            if bundle["status"] == "ANCHORED" and bundle["event"]["seq"] >= seq:
                return bundle
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"event {seq} of {certificate_id}: not anchored after {timeout_s} s; "
                    f"bundle status {bundle['status']}; server log:\n{self.log_tail()}"
                )
            time.sleep(0.1)

    def verify(self, bundle: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post("/v1/verify", json={"bundle": bundle})
        assert response.status_code == 200, response.text
        verdict: dict[str, Any] = response.json()
        return verdict

    # -- the CLI -----------------------------------------------------------------------------------

    @property
    def outsider_home(self) -> Path:
        """The folder a verifier or auditor works in: nothing of the registry's is there."""
        home = self.data_dir.parent / "outsider"
        home.mkdir(exist_ok=True)
        return home

    def outsider_cli(self, *args: str) -> CliResult:
        """`certreg ARGS` as a verifier or auditor runs it: in a folder of its own, without the
        registry's settings (they come from the options only)."""
        return certreg(*args, env=base_env(), cwd=self.outsider_home)

    @property
    def trust_file(self) -> Path:
        """The outsider's trust store, pinned once (`pin`)."""
        return self.outsider_home / "trust.json"

    def pin(self, *options: str) -> Path:
        """`certreg trust add` of this registry with its RPC, pinned only if the registry's key
        is the one of this test's own configuration (`--expect-fingerprint`); `options`: more
        of `trust add`'s (e.g. `--authority-vkey`)."""
        if not self.trust_file.exists():
            result = self.outsider_cli(
                "trust",
                "add",
                self.url,
                "--rpc",
                self.rpc_url,
                "--expect-fingerprint",
                fingerprint_of(self.vkey),
                "--trust-file",
                str(self.trust_file),
                *options,
            )
            assert result.returncode == 0, result.stdout + result.stderr
        return self.trust_file

    def verify_cli(
        self, bundles: Sequence[tuple[dict[str, Any], Sequence[str]]]
    ) -> list[CliResult]:
        """`certreg verify --json` of each (bundle, extra options), run in parallel, with the
        trust store pinned by `pin` (the registry's word is checked against our own key)."""
        trust = self.pin()
        jobs = []
        for i, (bundle, options) in enumerate(bundles):
            path = self.outsider_home / f"bundle-{secrets.token_hex(4)}-{i}.json"
            path.write_text(json.dumps(bundle, ensure_ascii=False), encoding="utf-8")
            jobs.append(("verify", str(path), "--trust-file", str(trust), "--json", *options))
        with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
            futures = [pool.submit(self.outsider_cli, *job) for job in jobs]
            return [f.result() for f in futures]

    # -- the process -------------------------------------------------------------------------------

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def server_errors(self) -> list[str]:
        """The server's log lines at level error (an unhandled exception is one)."""
        errors = []
        for line in self.log_text().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                if "Traceback" in line:
                    errors.append(line)
                continue
            if isinstance(record, dict) and record.get("level") in ("error", "critical"):
                errors.append(line)
        return errors

    def secrets_used(self) -> dict[str, str]:
        """Every secret this registry was given or handed out, by name, in each form it may be
        written in (a 0x-prefixed key also without its prefix; a signer key also as its raw
        base64 part)."""
        found: dict[str, str] = {"issuer API key": self.api_key}
        found["issuer API key secret"] = self.api_key.split("_", 2)[2]  # crk_<id>_<secret>
        for name in (
            "CERTREG_SIGNING_KEY",
            "CERTREG_KEY_ENCRYPTION_KEY",
            "CERTREG_ANCHORER_KEY",
            "CERTREG_ISSUER_ADMIN_KEY",
            "CERTREG_LOG_SIGNER_KEY",
        ):
            value = self.env.get(name)
            if value is None:
                continue
            found[name] = value
            if value.startswith("0x"):
                found[f"{name} without 0x"] = value[2:]
            if name == "CERTREG_SIGNING_KEY":
                # PRIVATE+KEY+<name>+<hash>+<base64>: the base64 may itself hold "+".
                found[f"{name} key material"] = value.split("+", 4)[4]
        return found

    def leaked_secrets(self) -> list[str]:
        """The names of the secrets (`secrets_used`) that appear in the server's log."""
        text = self.log_text()
        return sorted(name for name, value in self.secrets_used().items() if value in text)

    def stop(self, timeout_s: float = 20.0) -> None:
        self.http.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout_s)


class Accounts:
    """Hands out a fresh (anchorer, issuer admin) pair of accounts per registry.

    The node funds only its ten development accounts, so each pair is two new keys that
    `start_registry` funds with `hardhat_setBalance`: no registry ever shares a sending account
    (and a nonce) with another, whatever else runs on the node.
    """

    def pair(self) -> tuple[LocalAccount, LocalAccount]:
        anchorer: LocalAccount = Account.create()
        issuer_admin: LocalAccount = Account.create()
        return anchorer, issuer_admin


def _hex_key(account: LocalAccount) -> str:
    return "0x" + bytes(account.key).hex()


def _fund(w3: Web3, account: LocalAccount, wei: int = 10**21) -> None:
    response = w3.provider.make_request(
        "hardhat_setBalance",  # type: ignore[arg-type]
        [account.address, hex(wei)],
    )
    assert "error" not in response, response


@contextlib.contextmanager
def start_registry(
    node: HardhatNode,
    tmp_path: Path,
    accounts: Accounts,
    *,
    database_url: str | None = None,
    origin: str = "e2e.certreg.test/log",
    extra_env: dict[str, str] | None = None,
    with_worker: bool = True,
    issuer_kinds: list[str] | None = None,
) -> Iterator[RunningRegistry]:
    """Deploy a contract, admit the demo issuer (for its sample kinds, or `issuer_kinds`),
    serve (with the anchoring worker in process, unless `with_worker` is False); stop the server
    on the way out."""
    anchorer, issuer_admin = accounts.pair()
    w3 = Web3(Web3.HTTPProvider(node.url))
    for account in (anchorer, issuer_admin):
        _fund(w3, account)
    admin = ChainClient(w3, dev_account(0), chain_id=CHAIN_ID, poll_interval_s=0.02)
    deployment = deploy_contract(admin, admin=dev_account(0).address)
    roles = AnchorClient(admin, deployment.address)
    roles.grant_role("ANCHORER_ROLE", anchorer.address)
    roles.grant_role("ISSUER_ADMIN_ROLE", issuer_admin.address)
    # The log signer never sends (no funds); a dev chain lets the worker sign in process.
    log_signer: LocalAccount = Account.create()
    roles.grant_role("LOG_SIGNER_ROLE", log_signer.address)

    data_dir = tmp_path / "registry"
    data_dir.mkdir(parents=True)
    signer = NoteSigner(name=origin, private_key=Ed25519PrivateKey.generate())
    kek = secrets.token_bytes(32)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    db_url = database_url or sqlite_url(data_dir / "certreg.db")
    env = base_env() | {
        "CERTREG_DATA_DIR": str(data_dir),
        "CERTREG_DATABASE_URL": db_url,
        "CERTREG_ORIGIN": origin,
        "CERTREG_SIGNING_KEY": signer.skey(),
        "CERTREG_KEY_ENCRYPTION_KEY": base64.b64encode(kek).decode("ascii"),
        "CERTREG_RPC_URL": node.url,
        "CERTREG_CHAIN_ID": str(CHAIN_ID),
        "CERTREG_CONTRACT_ADDRESS": deployment.address,
        "CERTREG_ANCHORER_KEY": _hex_key(anchorer),
        "CERTREG_ISSUER_ADMIN_KEY": _hex_key(issuer_admin),
        "CERTREG_LOG_SIGNER_KEY": _hex_key(log_signer),
        "CERTREG_CHECKPOINT_INTERVAL_S": "0",
        "CERTREG_POLL_INTERVAL_S": "0.05",
        "CERTREG_PUBLIC_BASE_URL": url,
        # The tamper loop and schemathesis send thousands of requests: no rate limit here.
        "CERTREG_RATE_LIMIT_PER_S": "100000",
        "CERTREG_RATE_LIMIT_BURST": "100000",
        "CERTREG_PUBLIC_RATE_LIMIT_PER_S": "100000",
        "CERTREG_PUBLIC_RATE_LIMIT_BURST": "100000",
        "CERTREG_VERIFY_CHAIN_READS_PER_S": "100000",
        "CERTREG_VERIFY_CHAIN_READS_BURST": "100000",
        **(extra_env or {}),
    }

    # A CB admitted the way registries did before the authority's statements (the demo issuer
    # of most tests: a hosted key, its system officer's token). No command does this any more
    # (docs/spec.md §11.7): the registry's own Python API does, as a migration would.
    issuer = next(i for i in SAMPLES["issuers"] if i["id"] == ISSUER_ID)
    with operator_service(db_url, kek) as service:
        api_key = service.add_issuer(
            issuer_id=ISSUER_ID,
            name_vi=issuer["name_vi"],
            name_en=issuer["name_en"],
            accreditation=issuer["accreditation"],
            kinds=issuer["kinds"] if issuer_kinds is None else issuer_kinds,
        ).api_key

    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        worker = ["--with-worker"] if with_worker else []
        process = subprocess.Popen(
            [str(CERTREG), "serve", "--host", "127.0.0.1", "--port", str(port), *worker],
            env=env,
            cwd=data_dir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - only prctl, no locks taken
        )
    registry = RunningRegistry(
        url=url,
        rpc_url=node.url,
        contract=deployment.address,
        vkey=signer.verifier().vkey,
        api_key=api_key,
        data_dir=data_dir,
        database_url=db_url,
        kek=kek,
        env=env,
        process=process,
        log_path=log_path,
        http=httpx2.Client(base_url=url, timeout=30),
    )
    try:
        _wait_ready(registry)
        yield registry
    finally:
        registry.stop()
    # Reached when the test passed: whatever traffic it sent, the server's log (complete now
    # that it stopped) holds none of the secrets it was given or handed out.
    leaked = registry.leaked_secrets()
    assert not leaked, f"the server's log holds secrets: {leaked}"


@contextlib.contextmanager
def operator_service(database_url: str, kek: bytes) -> Iterator[RegistryService]:
    """The registry's service over its database, in this process (migrated), for what only an
    operator with the database does: a CB from before the authority's statements, a key
    rotation of such a CB."""
    storage = Storage(database_url, proof_cache_mb=1)
    try:
        yield RegistryService(sessions=storage.sessions, kek=kek)
    finally:
        storage.close()


def _wait_ready(registry: RunningRegistry) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if registry.process.poll() is not None:
            raise AssertionError(
                f"certreg serve exited with {registry.process.returncode}:\n{registry.log_tail()}"
            )
        with contextlib.suppress(httpx2.TransportError):
            if registry.http.get("/healthz").status_code == 200:
                return
        if time.monotonic() > deadline:
            raise AssertionError(f"certreg serve: not ready in {START_TIMEOUT_S} s")
        time.sleep(0.05)
