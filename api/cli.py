"""The `certreg` command line. Every command accepts `--json` and then prints one JSON object."""

import json
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
