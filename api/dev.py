"""`certreg dev`, what `make run` runs: the whole system on this machine, on 127.0.0.1.

0. The API's port (8000) must be free, and port 8545 free or a node's: otherwise one line says
   which port is taken (say, by another `make run`) and the command exits 1 at once.
1. A Hardhat node on port 8545 — reused if one already answers there (e.g. `make chain` in
   another terminal), otherwise started now and stopped on exit.
2. The contract: reused from `data/deployment.json` if its code is on that chain and of the
   current version, otherwise deployed (Hardhat account 0 is the authority and issuer admin,
   account 1 the anchorer, account 2 the log signer, which signs in the worker's process here
   only: a development chain; docs/deploy.md §2 for production). A fresh chain cannot vouch
   for a database anchored on a chain that is gone, so an old `data/` is then moved aside to
   `data.previous-<time>/` and the registry starts empty.
3. If the registry has no issuer yet, the institution as it works: a demo authority (its key
   in `data/authority.pem`, its first admin's token in `data/demo-authority-token.txt`)
   admits the sample certification body with a signed statement; the body's admin makes an
   officer, whose API key is printed and kept in `data/demo-api-key.txt`, and a second officer
   (a reviewer); the three sign in to the portal with the logins and passwords printed and kept
   in `data/demo-portal-logins.txt`; the body's typed sample certificates are issued.
4. The API with the anchoring worker, one process, on http://127.0.0.1:8000.
"""

import base64
import datetime as dt
import json
import os
import secrets
import shutil
import socket
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from web3 import Web3

from anchoring.devnode import HardhatNode, dev_account, start_hardhat_node

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from api.stack import Stack
    from registry.accounts import Principal, Role

__all__ = ["ensure_port_free", "port_taken", "run_dev"]

DEV_RPC_PORT = 8545
#: where a development run keeps the demo authority's key
AUTHORITY_KEY_FILE = "authority.pem"
DEV_CHAIN_ID = 31337


def _answers(url: str) -> bool:
    try:
        return Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 2})).is_connected()
    except Exception:  # anything short of an answer means no node
        return False


def _has_code(url: str, address: str) -> bool:
    w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 5}))
    return len(w3.eth.get_code(Web3.to_checksum_address(address))) > 0


def _current_abi_sha256() -> str:
    from anchoring.artifacts import load_artifact  # noqa: PLC0415

    return load_artifact().abi_sha256


def _chain_id(url: str) -> int:
    return int(Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 5})).eth.chain_id)


def port_taken(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could not listen on host:port now (another process holds it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As uvicorn and Node do: the TIME_WAIT connections of a server just stopped don't count.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


ANOTHER_RUN = "is another `make run` (or `certreg dev`) running? Stop it first"


def ensure_port_free(port: int, what: str, hint: str = ANOTHER_RUN) -> None:
    """Exit 1 with one line on stderr if 127.0.0.1:port is taken; `what` would have used it."""
    if port_taken(port):
        typer.echo(
            f"certreg dev: port {port} on 127.0.0.1 is already in use, so {what} cannot start "
            f"there: {hint}.",
            err=True,
        )
        raise typer.Exit(code=1)


def run_dev(
    *, port: int = 8000, chain_port: int = DEV_RPC_PORT, checkpoint_interval_s: float = 5.0
) -> None:
    data = Path(os.environ.get("CERTREG_DATA_DIR", "data"))
    rpc = f"http://127.0.0.1:{chain_port}"
    # Before anything else: a second `make run` must not get as far as the API's bind.
    ensure_port_free(port, "the API")
    node: HardhatNode | None = None
    if _answers(rpc):
        typer.echo(f"chain: reusing the node at {rpc}")
    else:
        ensure_port_free(
            chain_port, "the Hardhat node", "something that is not an Ethereum node holds it"
        )
        typer.echo(f"chain: starting a Hardhat node at {rpc}")
        node = start_hardhat_node(port=chain_port, chain_id=DEV_CHAIN_ID)
    try:
        _run(data, rpc, port=port, checkpoint_interval_s=checkpoint_interval_s)
    finally:
        if node is not None:
            node.stop()


def _authority_key(data: Path) -> "Ed25519PrivateKey":
    """The demo authority's key, kept in `data/authority.pem` (a development run plays the
    authority too; in production its key never comes near the registry, docs/deploy.md), and
    the registry told its public half."""
    from registry.keys import load_key_file, new_key_file  # noqa: PLC0415

    path = data / AUTHORITY_KEY_FILE
    if path.exists():
        key = load_key_file(path)
    else:
        data.mkdir(parents=True, exist_ok=True)
        key = new_key_file(path)
    public = base64.b64encode(key.public_key().public_bytes_raw()).decode("ascii")
    os.environ["CERTREG_AUTHORITY_PUBLIC_KEY"] = public
    return key


def _demo_institution(
    stack: "Stack", authority: "Ed25519PrivateKey", portal_file: Path
) -> tuple[str, str, str]:
    """The sample certification body admitted as the authority admits one: its first admin
    (`certreg authority init`), a signed `admit` statement, a hosted key the authority approves,
    the CB's admin and two officers (their portal logins and passwords written to
    `portal_file`), and the CB's typed sample certificates issued.
    Returns the CB's id, the officer's and the authority admin's API tokens."""
    from registry.accounts import OPERATOR, Actor, Role  # noqa: PLC0415
    from registry.core.governance import (  # noqa: PLC0415
        Admit,
        ApproveKey,
        Custody,
        Scope,
        sign_statement,
    )
    from registry.core.hashing import sha256  # noqa: PLC0415
    from registry.records import submission_adapter  # noqa: PLC0415
    from registry.samples import load_samples, typed_samples  # noqa: PLC0415

    accounts = stack.service.accounts
    sample = load_samples()["issuers"][0]
    setup = accounts.bootstrap_authority(name="Demo authority admin", login=None)
    first = accounts.authenticate_token(setup.setup_token)
    made = accounts.create_token(
        first, account_id=None, label="demo", expires_in_days=365, actor=OPERATOR
    )
    admin = accounts.authenticate_token(made.secret)
    today = dt.datetime.now(dt.UTC).replace(microsecond=0)
    admit = Admit(
        issuer_id=sample["id"],
        at=today,
        authority_key_id=sha256(authority.public_key().public_bytes_raw()),
        name_vi=sample["name_vi"],
        name_en=sample["name_en"],
        accreditation_body="BoA",
        accreditation_number=sample["accreditation"],
        scope=Scope(kinds=tuple(sample["kinds"])),
        valid_from=today.date() - dt.timedelta(days=365),
        valid_until=today.date() + dt.timedelta(days=5 * 365),
    )
    stack.service.governance.submit(
        admin, sign_statement(admit, authority).to_json(), actor=OPERATOR
    )
    # Its signing key: one the registry keeps for it (custody hosted), approved by the
    # authority as any key is (a CB may keep its own instead: certreg keygen, docs/spec.md
    # §11.11).
    proposed = stack.service.issuers.propose_key(
        sample["id"], custody=Custody.HOSTED, actor=Actor(principal=admin, via="cli")
    )
    approval = ApproveKey(
        issuer_id=sample["id"],
        at=today,
        authority_key_id=sha256(authority.public_key().public_bytes_raw()),
        key_id=proposed.key_id,
        public_key=proposed.public_key,
        custody=Custody.HOSTED,
    )
    stack.service.governance.submit(
        admin, sign_statement(approval, authority).to_json(), actor=OPERATOR
    )

    logins: list[str] = []

    def person(by: "Principal", role: "Role", name: str, login: str) -> tuple["Principal", str]:
        """An account made by `by`, with a login and a fresh password for the portal (listed
        in `logins`), and the API token its holder makes with its setup token."""
        created = accounts.create_account(
            by, role=role, issuer_id=sample["id"], name=name, login=login, actor=OPERATOR
        )
        holder = accounts.authenticate_token(created.setup_token)
        token = accounts.create_token(
            holder, account_id=None, label="demo", expires_in_days=365, actor=OPERATOR
        )
        own = accounts.authenticate_token(token.secret)
        # The first password, set by the account itself (it has none yet).
        password = secrets.token_urlsafe(12)
        accounts.set_password(own, current=None, new=password, actor=OPERATOR)
        logins.append(f"{login} {password}  ({role.value})")
        return own, token.secret

    cb_admin, _ = person(admin, Role.CB_ADMIN, "Demo CB admin", "demo-admin")
    officer, officer_token = person(cb_admin, Role.CB_OFFICER, "Demo officer", "demo-officer")
    person(cb_admin, Role.CB_OFFICER, "Demo reviewer", "demo-reviewer")
    portal_file.write_text("\n".join(logins) + "\n", encoding="utf-8")
    portal_file.chmod(0o600)
    # Certificates of every kind the CB may issue, typed (docs/spec.md §2c), for the portal's
    # dashboard and the verification pages to show.
    typed = [
        submission_adapter().validate_python({k: v for k, v in body.items() if k != "issuer_id"})
        for body in typed_samples()
        if body["issuer_id"] == sample["id"]
    ]
    stack.service.issue_batch(sample["id"], typed, actor=Actor(principal=officer, via="cli"))
    return sample["id"], officer_token, made.secret


def _run(data: Path, rpc: str, *, port: int, checkpoint_interval_s: float) -> None:
    admin, anchorer, log_signer = dev_account(0), dev_account(1), dev_account(2)
    env = {
        "CERTREG_DEV": "true",  # generate local secrets; skip the production start-up checks
        "CERTREG_DATA_DIR": str(data),
        "CERTREG_RPC_URL": rpc,
        "CERTREG_CHAIN_ID": str(DEV_CHAIN_ID),
        "CERTREG_DEPLOYER_KEY": "0x" + bytes(admin.key).hex(),
        "CERTREG_ANCHORER_KEY": "0x" + bytes(anchorer.key).hex(),
        "CERTREG_ISSUER_ADMIN_KEY": "0x" + bytes(admin.key).hex(),
        "CERTREG_LOG_SIGNER_KEY": "0x" + bytes(log_signer.key).hex(),
        "CERTREG_DEPLOYMENT_FILE": str(data / "deployment.json"),
        "CERTREG_CHECKPOINT_INTERVAL_S": str(checkpoint_interval_s),
        "CERTREG_PORT": str(port),
        "CERTREG_RUN_WORKER": "true",
    }
    for name, value in env.items():
        os.environ.setdefault(name, value)

    chain_id = _chain_id(rpc)
    deployment = data / "deployment.json"
    address = None
    if deployment.exists():
        recorded = json.loads(deployment.read_text(encoding="utf-8"))
        # A contract of an older version (another ABI) cannot take this worker's anchors.
        if recorded.get("abi_sha256") == _current_abi_sha256():
            address = recorded.get("address")
    if address is None or not _has_code(rpc, address):
        if data.exists() and any(data.iterdir()):
            aside = data.with_name(f"{data.name}.previous-{dt.datetime.now():%Y%m%d-%H%M%S}")
            shutil.move(str(data), str(aside))
            typer.echo(
                f"data: the chain or the contract is new, so the old registry was moved to {aside}/"
            )
        from anchoring.deploy import deploy_from_settings  # noqa: PLC0415

        outcome = deploy_from_settings()
        typer.echo(f"contract: deployed at {outcome.deployment.address} on chain id {chain_id}")
    else:
        typer.echo(f"contract: reusing {address} on chain id {chain_id}")

    from api.stack import Stack  # noqa: PLC0415
    from verifier.trust import fingerprint_of  # noqa: PLC0415

    authority = _authority_key(data)
    stack = Stack()
    key_file = data / "demo-api-key.txt"
    authority_file = data / "demo-authority-token.txt"
    portal_file = data / "demo-portal-logins.txt"
    try:
        if not stack.transparency.issuers():
            issuer_id, officer_token, admin_token = _demo_institution(stack, authority, portal_file)
            for path, token in ((key_file, officer_token), (authority_file, admin_token)):
                path.write_text(token + "\n", encoding="utf-8")
                path.chmod(0o600)
            typer.echo(
                f"issuer: the authority admitted the demo issuer {issuer_id} (a statement in "
                "the log), whose admin made an officer"
            )
        identity = stack.trust.registry_key.vkey
    finally:
        stack.close()
    if authority_file.exists():
        typer.echo(
            f"authority admin's API token ({authority_file}): "
            f"{authority_file.read_text(encoding='utf-8').strip()}; the authority's key: "
            f"{data / AUTHORITY_KEY_FILE}"
        )
    if key_file.exists():
        typer.echo(
            f"issuer officer's API key ({key_file}): {key_file.read_text(encoding='utf-8').strip()}"
        )
    if portal_file.exists():
        typer.echo(
            f"portal: http://127.0.0.1:{port}/portal — logins and passwords in {portal_file}: "
            + "; ".join(portal_file.read_text(encoding="utf-8").split("\n")[:3])
        )
    typer.echo(f"registry key: {identity}")
    # What a verifier checks before pinning the registry (`certreg trust add`).
    typer.echo(f"registry key fingerprint: {fingerprint_of(identity)}")
    typer.echo(
        f"API: http://127.0.0.1:{port}  (OpenAPI at /docs, "
        f"anchoring every {checkpoint_interval_s:g} s)"
    )

    import uvicorn  # noqa: PLC0415

    from registry.logs import configure_logging  # noqa: PLC0415

    configure_logging()
    uvicorn.run("api.app:create_app", factory=True, host="127.0.0.1", port=port, log_config=None)
