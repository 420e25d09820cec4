"""The `certreg` command line. Every command accepts `--json` and then prints one JSON object."""

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from anchoring.stack import Stack

app = typer.Typer(
    name="certreg",
    help="A blockchain-anchored certificate registry.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """A blockchain-anchored certificate registry."""


JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]


def emit(result: dict[str, Any], *, as_json: bool, lines: list[str]) -> None:
    """Print `result` as one JSON object, or the human-readable `lines`."""
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False))
    else:
        for line in lines:
            typer.echo(line)


@app.command()
def demo(as_json: JsonOption = False) -> None:
    """Issue the sample certificates in memory, sign a checkpoint, prove and verify one."""
    from registry.demo import run_demo  # noqa: PLC0415 (keep `certreg --help` fast)

    result = run_demo()
    proved = result["proved"]
    emit(
        result,
        as_json=as_json,
        lines=[
            f"issued {result['certificates']} sample certificates as {result['events']} events",
            "signed checkpoint:",
            *("  " + line for line in result["checkpoint"].splitlines()),
            f"registry key: {result['registry_vkey']}",
            f"certificate {proved['number']} ({proved['certificate_id'][:18]}…): "
            f"{proved['status']} at event {proved['event_seq']}; "
            f"verified {', '.join(proved['checks'])}",
            f"never-issued id {result['proved_absent'][:18]}…: absence proved in the status map",
        ],
    )


@app.command()
def deploy(
    admin: Annotated[
        str | None, typer.Option(help="Authority account (DEFAULT_ADMIN_ROLE); default: deployer.")
    ] = None,
    anchorer: Annotated[
        str | None,
        typer.Option(help="Account granted ANCHORER_ROLE; default: CERTREG_ANCHORER_KEY's."),
    ] = None,
    issuer_admin: Annotated[
        str | None, typer.Option(help="Account granted ISSUER_ADMIN_ROLE; default: the admin.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Deployment file; default: CERTREG_DEPLOYMENT_FILE.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Deploy the anchoring contract, grant its roles, write the deployment file."""
    from anchoring.deploy import deploy_from_settings  # noqa: PLC0415 (keep --help fast)
    from anchoring.errors import AnchoringError  # noqa: PLC0415

    try:
        outcome = deploy_from_settings(
            admin=admin, anchorer=anchorer, issuer_admin=issuer_admin, output=out
        )
    except AnchoringError as exc:
        typer.echo(f"certreg deploy: {exc}", err=True)
        raise typer.Exit(1) from exc
    d = outcome.deployment
    emit(
        outcome.to_json(),
        as_json=as_json,
        lines=[
            f"deployed {d.contract_name} at {d.address} on chain {d.chain_id} "
            f"(block {d.block_number}, tx {d.tx_hash})",
            f"admin (DEFAULT_ADMIN_ROLE): {d.admin}",
            *(f"granted {role} to {account}" for role, account in outcome.granted.items()),
            f"wrote {outcome.path}",
        ],
    )


issuer_app = typer.Typer(help="Admit issuers, manage their API keys and signing keys.")
app.add_typer(issuer_app, name="issuer")


def _stack() -> "Stack":
    from anchoring.stack import Stack  # noqa: PLC0415 (keep `certreg --help` fast)

    return Stack()


def _fail(command: str, exc: Exception) -> typer.Exit:
    typer.echo(f"certreg {command}: {exc}", err=True)
    return typer.Exit(1)


@issuer_app.command("add")
def issuer_add(
    issuer_id: Annotated[str, typer.Argument(help="Short id, e.g. vn-cb-quatest3.")],
    name_vi: Annotated[str, typer.Option(help="Name in Vietnamese.")],
    name_en: Annotated[str, typer.Option(help="Name in English.")],
    accreditation: Annotated[str, typer.Option(help="Accreditation or designation number.")],
    kind: Annotated[
        list[str], typer.Option(help="A certificate kind it may issue; repeat for several.")
    ],
    as_json: JsonOption = False,
) -> None:
    """Admit an issuer: create its signing key and print its API key (shown only once)."""
    from registry.errors import RegistryError  # noqa: PLC0415

    stack = _stack()
    try:
        created = stack.service.add_issuer(
            issuer_id=issuer_id,
            name_vi=name_vi,
            name_en=name_en,
            accreditation=accreditation,
            kinds=kind,
        )
    except (RegistryError, ValueError) as exc:
        raise _fail("issuer add", exc) from exc
    finally:
        stack.close()
    result = {
        "issuer_id": created.issuer_id,
        "key_id": "0x" + created.key_id.hex(),
        "api_key": created.api_key,
    }
    emit(
        result,
        as_json=as_json,
        lines=[
            f"admitted {created.issuer_id}; signing key 0x{created.key_id.hex()} "
            "(registered on chain by the anchoring worker)",
            f"API key (shown once): {created.api_key}",
        ],
    )


@issuer_app.command("api-key")
def issuer_api_key(
    issuer_id: str, label: Annotated[str, typer.Option()] = "cli", as_json: JsonOption = False
) -> None:
    """Create another API key for an issuer (shown only once)."""
    from registry.errors import RegistryError  # noqa: PLC0415

    stack = _stack()
    try:
        token = stack.service.create_api_key(issuer_id, label=label)
    except RegistryError as exc:
        raise _fail("issuer api-key", exc) from exc
    finally:
        stack.close()
    emit({"issuer_id": issuer_id, "api_key": token}, as_json=as_json, lines=[token])


@issuer_app.command("rotate-key")
def issuer_rotate_key(issuer_id: str, as_json: JsonOption = False) -> None:
    """Retire an issuer's signing key and create a new one."""
    from registry.errors import RegistryError  # noqa: PLC0415

    stack = _stack()
    try:
        key_id = stack.service.rotate_key(issuer_id)
    except RegistryError as exc:
        raise _fail("issuer rotate-key", exc) from exc
    finally:
        stack.close()
    result = {"issuer_id": issuer_id, "key_id": "0x" + key_id.hex()}
    emit(result, as_json=as_json, lines=[f"new signing key 0x{key_id.hex()} for {issuer_id}"])


@app.command()
def anchor(
    once: Annotated[
        bool, typer.Option("--once", help="Anchor what waits, then exit (instead of running).")
    ] = False,
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve Prometheus metrics on 127.0.0.1:PORT.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Run the anchoring worker: form checkpoints, anchor them, reconcile after crashes."""
    import signal  # noqa: PLC0415
    import threading  # noqa: PLC0415

    from anchoring.errors import AnchoringError  # noqa: PLC0415
    from registry.logs import configure_logging  # noqa: PLC0415

    configure_logging()
    stack = _stack()
    worker = stack.worker
    if metrics_port is not None:
        from prometheus_client import REGISTRY, start_http_server  # noqa: PLC0415

        from anchoring.metrics import RegistryCollector  # noqa: PLC0415

        REGISTRY.register(RegistryCollector(stack.sessions, worker=lambda: worker))
        start_http_server(metrics_port, addr="127.0.0.1")
    try:
        if once:
            worker.run_until_idle(timeout_s=300)
        else:
            stop = threading.Event()
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, lambda *_: stop.set())
            worker.run(stop)
    except AnchoringError as exc:
        raise _fail("anchor", exc) from exc
    finally:
        stack.close()
    emit(
        {"anchored": worker.anchored, "failures": worker.failures},
        as_json=as_json,
        lines=[f"anchored {worker.anchored} checkpoints ({worker.failures} retried errors)"],
    )


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Listen address (CERTREG_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (CERTREG_PORT).")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes (CERTREG_WORKERS).")] = None,
    with_worker: Annotated[
        bool,
        typer.Option("--with-worker", help="Also run the anchoring worker (one holds the lock)."),
    ] = False,
) -> None:
    """Run the HTTP API (and, with --with-worker, the anchoring worker) under uvicorn."""
    import os  # noqa: PLC0415

    import uvicorn  # noqa: PLC0415

    from api.settings import ApiSettings  # noqa: PLC0415
    from registry.logs import configure_logging  # noqa: PLC0415

    # Worker processes read their settings from the environment: pass the options on there.
    for name, value in (("HOST", host), ("PORT", port), ("WORKERS", workers)):
        if value is not None:
            os.environ[f"CERTREG_{name}"] = str(value)
    if with_worker:
        os.environ["CERTREG_RUN_WORKER"] = "true"
    settings = ApiSettings()
    configure_logging()
    _stack().close()  # migrate once, before the workers start
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_config=None,
        access_log=False,
    )


def _print_checks(verdict: dict[str, Any]) -> list[str]:
    marks = {"passed": "✔", "failed": "✘", "skipped": "–", "error": "?"}
    lines = [f"{verdict['status']}  {verdict.get('certificate_id') or ''}".rstrip()]
    for check in verdict["checks"]:
        lines.append(
            f"  {marks[check['status']]} {check['name']:<22} {check['code']:<22} {check['message']}"
        )
    return lines


@app.command()
def verify(
    bundle: Annotated[Path, typer.Argument(help="A proof bundle (JSON file).", exists=True)],
    rpc: Annotated[
        str | None, typer.Option(help="Chain JSON-RPC URL; without it, offline.")
    ] = None,
    contract: Annotated[
        str | None, typer.Option(help="Anchoring contract address (CERTREG_CONTRACT_ADDRESS).")
    ] = None,
    chain_id: Annotated[int | None, typer.Option(help="Chain id (CERTREG_CHAIN_ID).")] = None,
    vkey: Annotated[
        str | None, typer.Option(help="The registry's checkpoint key (C2SP vkey), pinned.")
    ] = None,
    registry: Annotated[
        str | None, typer.Option(help="Fetch vkey/contract/chain id from this registry URL once.")
    ] = None,
    current: Annotated[
        bool, typer.Option("--current", help="Fail unless the bundle's checkpoint is the latest.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Verify a proof bundle against the chain, offline from the registry.

    Exits 0 only when the certificate is VALID, printing each named check."""
    from registry.core.note import NoteVerifier  # noqa: PLC0415
    from registry.core.verify import TrustAnchors  # noqa: PLC0415
    from registry.errors import RegistryError  # noqa: PLC0415

    pinned = _pins(registry)
    vkey = vkey or pinned.get("vkey")
    contract = contract or pinned.get("contract") or os.environ.get("CERTREG_CONTRACT_ADDRESS")
    chain_id = (
        chain_id or pinned.get("chain_id") or int(os.environ.get("CERTREG_CHAIN_ID", "31337"))
    )
    if vkey is None or contract is None:
        raise _fail(
            "verify",
            ValueError(
                "got no registry key or contract: pass --vkey and --contract, or --registry URL"
            ),
        )
    try:
        data = json.loads(bundle.read_text(encoding="utf-8"))
        trust = TrustAnchors(
            registry_key=NoteVerifier.from_vkey(vkey), chain_id=chain_id, contract=contract
        )
    except (ValueError, OSError, RegistryError) as exc:  # a bad --vkey is a NoteError
        raise _fail("verify", exc) from exc
    verdict = _chain_verifier(trust, rpc).verify(data, current=current).to_json()
    emit(verdict, as_json=as_json, lines=_print_checks(verdict))
    if verdict["status"] != "VALID":
        raise typer.Exit(1)


def _pins(registry: str | None) -> dict[str, Any]:
    """What a registry says about itself (fetched once; then pin it in your configuration)."""
    if registry is None:
        return {}
    import httpx2  # noqa: PLC0415

    response = httpx2.get(registry.rstrip("/") + "/v1/registry", timeout=10)
    response.raise_for_status()
    identity: dict[str, Any] = response.json()
    typer.echo(
        f"trusting {registry} for its key {identity['vkey']}; pin it with --vkey next time",
        err=True,
    )
    return identity


def _chain_verifier(trust: Any, rpc: str | None) -> Any:
    from anchoring.verify import ChainVerifier, read_only_client  # noqa: PLC0415

    factory = None
    if rpc is not None:

        def factory() -> Any:
            return read_only_client(rpc_url=rpc, contract=trust.contract, chain_id=trust.chain_id)

    return ChainVerifier(trust=trust, client_factory=factory)


@app.command()
def audit(
    rpc: Annotated[str, typer.Option(help="Chain JSON-RPC URL.")],
    contract: Annotated[str, typer.Option(help="Anchoring contract address.")],
    registry: Annotated[str, typer.Option(help="The registry's base URL.")],
    chain_id: Annotated[int, typer.Option(help="Chain id.")] = 31337,
    vkey: Annotated[str | None, typer.Option(help="Pinned registry key (C2SP vkey).")] = None,
    at: Annotated[
        str | None,
        typer.Option(help="Point in time: a date YYYY-MM-DD (end of day, UTC) or a block."),
    ] = None,
    certificate: Annotated[
        str | None, typer.Option(help="With --at: the certificate whose status then to report.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Check every anchored checkpoint, consistency proof, log entry, map root and signature.

    Exits 0 only when nothing diverges."""
    import datetime as dt  # noqa: PLC0415

    import httpx2  # noqa: PLC0415

    from anchoring.verify import read_only_client  # noqa: PLC0415
    from api.audit import audit as run_audit  # noqa: PLC0415
    from registry.core.note import NoteVerifier  # noqa: PLC0415
    from registry.errors import RegistryError  # noqa: PLC0415

    try:
        pinned = None if vkey is None else NoteVerifier.from_vkey(vkey)
    except RegistryError as exc:
        raise _fail("audit", exc) from exc
    at_block = at_time = None
    if at is not None:
        if at.isdigit():
            at_block = int(at)
        else:
            try:
                day = dt.date.fromisoformat(at)
            except ValueError as exc:
                raise _fail(
                    "audit", ValueError(f"--at: got {at!r}, want YYYY-MM-DD or a block number")
                ) from exc
            at_time = dt.datetime.combine(day, dt.time.max, tzinfo=dt.UTC)
    if vkey is None:
        typer.echo("no --vkey pinned: trusting the registry's own key for its notes", err=True)
    with httpx2.Client(base_url=registry.rstrip("/"), timeout=30) as http:
        report = run_audit(
            client=read_only_client(rpc_url=rpc, contract=contract, chain_id=chain_id),
            http=http,
            vkey=pinned,
            at_block=at_block,
            at_time=at_time,
            certificate_id=certificate,
        )
    result = report.to_json()
    lines = [
        f"{'OK' if report.ok else 'DIVERGES'}: {report.checkpoints} checkpoints, "
        f"{report.events} events, {report.signatures_checked} signatures checked",
        *(f"  ✘ {p}" for p in report.problems),
    ]
    if report.at is not None:
        lines.append(
            f"{report.at.certificate_id} at checkpoint {report.at.checkpoint_index} "
            f"(block {report.at.block_number}): {report.at.status}"
        )
    emit(result, as_json=as_json, lines=lines)
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def dev(
    port: Annotated[int, typer.Option(help="API port.")] = 8000,
    interval: Annotated[float, typer.Option(help="Seconds between checkpoints.")] = 5.0,
) -> None:
    """Run everything locally: Hardhat node, contract, demo issuer, API and anchoring worker."""
    from api.dev import run_dev  # noqa: PLC0415

    run_dev(port=port, checkpoint_interval_s=interval)
