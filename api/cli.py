"""The `certreg` command line. Every command accepts `--json` and then prints one JSON object."""

import json
from pathlib import Path
from typing import Annotated, Any

import typer

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
