"""`certreg trust …`: pin the registries a verifier believes (see `verifier.trust`).

Every command takes `--trust-file PATH` (default: `$CERTREG_TRUST_FILE`, else
`$XDG_CONFIG_HOME/certreg/trust.json`) and `--json` (then prints one JSON object on stdout).
A failure prints one line `certreg trust <command>: <what is wrong>` on stderr and exits 2.
"""

import base64
import json
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from pydantic import ValidationError

from registry.core.errors import NoteError
from registry.core.note import NoteVerifier
from verifier.errors import TrustError
from verifier.trust import (
    TrustEntry,
    TrustStore,
    check_url,
    default_trust_path,
    describe_validation_error,
    fetch_identity,
    load_entry_file,
    now_timestamp,
)

__all__ = ["trust_app"]

EXIT_FAILURE = 2

trust_app = typer.Typer(
    help="Pin the registries this verifier trusts: their key, chain and contract "
    "(like SSH's known_hosts). Exit code 0 on success, 2 on any failure.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
TrustFileOption = Annotated[
    Path | None,
    typer.Option(
        "--trust-file",
        help="Trust store to use; default: $CERTREG_TRUST_FILE, else "
        "$XDG_CONFIG_HOME/certreg/trust.json (~/.config/certreg/trust.json).",
        dir_okay=False,
    ),
]
RpcOption = Annotated[
    list[str] | None,
    typer.Option(
        "--rpc",
        metavar="URL",
        help="Chain JSON-RPC endpoint (http or https) to check anchors with; repeat for several. "
        "Prefer nodes not run by the registry itself.",
    ),
]


def _fail(command: str, message: object) -> NoReturn:
    text = " ".join(str(message).split())  # one line, whatever the cause held
    typer.echo(f"certreg trust {command}: {text}", err=True)
    raise typer.Exit(EXIT_FAILURE)


def _stdin_is_tty() -> bool:
    """Whether a person can answer a question (tests replace this)."""
    return sys.stdin.isatty()


def _load(command: str, trust_file: Path | None) -> TrustStore:
    try:
        return TrustStore.load(trust_file if trust_file is not None else default_trust_path())
    except TrustError as exc:
        _fail(command, exc)


def _save(command: str, store: TrustStore) -> None:
    try:
        store.save()
    except TrustError as exc:
        _fail(command, exc)


def _check_rpcs(command: str, rpc: list[str] | None) -> list[str]:
    try:
        return [check_url(url, what="--rpc") for url in rpc or []]
    except ValueError as exc:
        _fail(command, exc)


def _entry_json(entry: TrustEntry) -> dict[str, Any]:
    return {**entry.to_json(), "fingerprint": entry.fingerprint}


def _summary(entry: TrustEntry | None = None, **fields: Any) -> list[str]:
    """The lines describing a registry (an entry, or the fields of one not pinned yet)."""
    values = _entry_json(entry) if entry is not None else fields
    rpc = values.get("rpc") or []
    lines = [
        f"origin:       {values['origin']}",
        f"fingerprint:  {values['fingerprint']}",
        f"vkey:         {values['vkey']}",
        f"chain id:     {values['chain_id']}",
        f"contract:     {values['contract']}",
        f"rpc:          {', '.join(rpc) if rpc else 'none'}",
    ]
    if values.get("registry_url"):
        lines.append(f"registry url: {values['registry_url']}")
    if values.get("authority_vkey"):
        lines.append(f"authority:    {values['authority_vkey']}")
    return lines


def _echo_lines(lines: list[str], *, err: bool = False) -> None:
    for line in lines:
        typer.echo(line, err=err)


def _warn_without_rpc(entry: TrustEntry, url: str) -> None:
    if not entry.rpc:
        typer.echo(
            f"warning: no RPC endpoint for {entry.origin}: verification will answer UNCONFIRMED "
            f"until one is added with 'certreg trust add {url} --rpc https://RPC' "
            "(adding again with the same key merges the RPCs)",
            err=True,
        )


def _ask(as_json: bool) -> bool:
    try:
        return typer.confirm("Pin this registry?", default=False, err=as_json)
    except typer.Abort:  # end of input or Ctrl-C: no
        typer.echo("", err=as_json)
        return False


def _same_fingerprint(expected: str, actual: str) -> bool:
    expected = expected.strip()
    return expected == actual or "SHA256:" + expected == actual


def _check_authority(vkey: str, served: str | None) -> None:
    """The authority key given out of band is the one the registry checks statements with."""
    try:
        key = NoteVerifier.from_vkey(vkey).public_key
    except NoteError as exc:
        raise ValueError(f"--authority-vkey: {exc}") from exc
    given = base64.b64encode(key).decode("ascii")
    if served != given:
        raise ValueError(
            f"authority key: got {served or 'none'} from the registry, want {given} (the key of "
            "--authority-vkey); not pinned"
        )


@trust_app.command("add")
def add(
    url: Annotated[
        str, typer.Argument(help="The registry's base URL, e.g. https://registry.example.")
    ],
    *,
    rpc: RpcOption = None,
    yes: Annotated[
        bool,
        typer.Option(
            "--yes",
            help="Pin without asking. Only after checking the printed fingerprint out of band.",
        ),
    ] = False,
    expect_fingerprint: Annotated[
        str | None,
        typer.Option(
            "--expect-fingerprint",
            metavar="SHA256:…",
            help="Pin only if the registry's key has this fingerprint (obtained out of band); "
            "no question asked.",
        ),
    ] = None,
    authority_vkey: Annotated[
        str | None,
        typer.Option(
            "--authority-vkey",
            metavar="VKEY",
            help="Also pin the accreditation authority's key (its C2SP vkey, obtained out of "
            "band, as `certreg authority keygen --name` prints it); the registry must check "
            "statements with the same key.",
        ),
    ] = None,
    trust_file: TrustFileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Fetch URL/v1/registry, show its key fingerprint, chain and contract, and pin them.

    Adding a pinned origin again with the same key merges the RPCs; another key is refused.
    """
    command = "add"
    rpcs = _check_rpcs(command, rpc)
    store = _load(command, trust_file)
    try:
        identity = fetch_identity(url)
        base = check_url(url, what="registry URL")
        if authority_vkey is not None:
            _check_authority(authority_vkey, identity.authority_key)
        candidate = identity.to_entry(
            rpc=rpcs, registry_url=base, added_at=now_timestamp(), authority_vkey=authority_vkey
        )
    except (TrustError, ValueError) as exc:
        _fail(command, exc)
    pinned = store.get(identity.origin)
    try:
        stored = store.add(candidate)  # in memory only until saved; refuses a conflict now
    except TrustError as exc:
        _fail(command, exc)
    shown = _summary(
        fingerprint=identity.fingerprint, **identity.model_dump(), rpc=rpcs, registry_url=base
    )

    if expect_fingerprint is not None and not _same_fingerprint(
        expect_fingerprint, identity.fingerprint
    ):
        _fail(
            command,
            f"fingerprint of {identity.origin} at {base}: got {identity.fingerprint}, want "
            f"{expect_fingerprint.strip()} (--expect-fingerprint); not pinned",
        )
    if pinned is not None:
        decided = "already pinned: merged"  # the key was trusted before; nothing new to trust
    elif expect_fingerprint is not None:
        decided = "fingerprint matches: pinned"
    elif yes:
        decided = "pinned"
    elif _stdin_is_tty():
        _echo_lines(shown, err=as_json)
        if not _ask(as_json):
            _fail(command, "not pinned: the answer was not yes")
        shown = []  # already on screen
        decided = "pinned"
    else:
        _echo_lines(shown, err=True)
        _fail(
            command,
            f"not pinned: check the fingerprint {identity.fingerprint} out of band, then pass "
            "--yes or --expect-fingerprint (stdin is not a terminal, so nobody can be asked)",
        )

    _save(command, store)
    _warn_without_rpc(stored, base)
    if as_json:
        result = {
            "pinned": True,
            "merged": pinned is not None,
            "trust_file": str(store.path),
            "entry": _entry_json(stored),
        }
        typer.echo(json.dumps(result, ensure_ascii=False))
        return
    _echo_lines(shown if pinned is None else _summary(stored))
    typer.echo(f"{decided} {stored.origin} in {store.path}")


@trust_app.command("import")
def import_(
    file: Annotated[
        Path,
        typer.Argument(
            help="An entry file the authority publishes (format certreg-trust-entry/1).",
            dir_okay=False,
        ),
    ],
    rpc: RpcOption = None,
    trust_file: TrustFileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Pin the registry an authority-published entry file describes (no network access).

    Importing a pinned origin again with the same key merges the RPCs; another key is refused.
    """
    command = "import"
    rpcs = _check_rpcs(command, rpc)
    store = _load(command, trust_file)
    try:
        published = load_entry_file(file)
        entry = published.model_copy(
            update={
                "rpc": list(dict.fromkeys([*published.rpc, *rpcs])),
                "added_at": now_timestamp(),
            }
        )
        # model_copy does not validate: validate the result like any other entry
        entry = TrustEntry.model_validate(entry.to_json())
        merged = store.get(entry.origin) is not None
        stored = store.add(entry)
    except TrustError as exc:
        _fail(command, exc)
    except ValidationError as exc:
        _fail(command, f"trust entry file {file}: {describe_validation_error(exc)}")
    _save(command, store)
    _warn_without_rpc(stored, stored.registry_url or "https://REGISTRY")
    if as_json:
        result = {
            "pinned": True,
            "merged": merged,
            "trust_file": str(store.path),
            "entry": _entry_json(stored),
        }
        typer.echo(json.dumps(result, ensure_ascii=False))
        return
    _echo_lines(_summary(stored))
    typer.echo(
        f"{'already pinned: merged' if merged else 'pinned'} {stored.origin} in {store.path}"
    )


@trust_app.command("list")
def list_(trust_file: TrustFileOption = None, as_json: JsonOption = False) -> None:
    """Show the pinned registries, one line each."""
    store = _load("list", trust_file)
    if as_json:
        result = {
            "trust_file": str(store.path),
            "entries": [_entry_json(entry) for entry in store.entries],
        }
        typer.echo(json.dumps(result, ensure_ascii=False))
        return
    if not store.entries:
        typer.echo(
            f"no registry is trusted yet ({store.path}): "
            "run 'certreg trust add https://REGISTRY --rpc https://RPC'"
        )
        return
    for entry in store.entries:
        count = len(entry.rpc)
        typer.echo(
            f"{entry.origin}  {entry.fingerprint}  chain {entry.chain_id}  {entry.contract}  "
            f"{count} RPC{'' if count == 1 else 's'}  {entry.registry_url or '(no registry url)'}"
        )


@trust_app.command("remove")
def remove(
    origin: Annotated[
        str, typer.Argument(help="The origin to unpin, as `certreg trust list` shows it.")
    ],
    trust_file: TrustFileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Unpin a registry: verification stops trusting its key."""
    command = "remove"
    store = _load(command, trust_file)
    try:
        entry = store.remove(origin)
    except TrustError as exc:
        _fail(command, exc)
    _save(command, store)
    if as_json:
        result = {
            "removed": entry.origin,
            "fingerprint": entry.fingerprint,
            "trust_file": str(store.path),
        }
        typer.echo(json.dumps(result, ensure_ascii=False))
        return
    typer.echo(f"removed {entry.origin} ({entry.fingerprint}) from {store.path}")
