"""The `certreg` command line. Every command accepts `--json` and then prints one JSON object."""

import json
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
