"""A certification body's side of `certreg`, over the registry's API (`registry.client`):
`keygen`, `signing-key …` and `issue|suspend|reinstate|withdraw|supersede`.

With `--key FILE` (a key the CB keeps, made by `certreg keygen` and approved by the authority)
every change is signed on this machine and the registry only appends it (docs/spec.md §3.1);
without it the registry signs with the CB's hosted key. None of these needs the database.
A failure prints one line `certreg <command>: <what is wrong>` on stderr and exits 2.
"""

import json
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from pydantic import ValidationError

from registry.client import ClientError, KeyHolder, RegistryClient
from registry.core.encoding import b64, hex0x
from registry.core.events import EventType
from registry.records import Submission, submission_adapter

__all__ = ["key_app", "register"]

EXIT_FAILURE = 2

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
ApiOption = Annotated[
    str, typer.Option(envvar="CERTREG_API_URL", help="The registry's API (CERTREG_API_URL).")
]
TokenOption = Annotated[
    str | None,
    typer.Option(
        envvar="CERTREG_TOKEN",
        help="Your API token (CERTREG_TOKEN): a CB officer's to issue and change, a CB "
        "admin's to propose keys.",
        show_default=False,
    ),
]
KeyOption = Annotated[
    Path | None,
    typer.Option(
        "--key",
        help="A signing key the CB keeps (certreg keygen), approved by the authority: sign "
        "here. Without it the registry signs with the CB's hosted key.",
        dir_okay=False,
    ),
]
IssuerOption = Annotated[
    str | None,
    typer.Option("--issuer", help="The CB's id; default: the one your token acts for."),
]
ReasonOption = Annotated[
    str,
    typer.Option(help="A reason code, e.g. surveillance-nonconformity, holder-request, fraud."),
]
NoteOption = Annotated[str | None, typer.Option(help="Free text the log keeps with the reason.")]

key_app = typer.Typer(
    help="A certification body's signing keys: propose one the CB keeps, list them.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def _fail(command: str, message: object) -> NoReturn:
    typer.echo(f"certreg {command}: {message}", err=True)
    raise typer.Exit(EXIT_FAILURE)


def _emit(result: object, *, as_json: bool, lines: list[str]) -> None:
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False))
    else:
        for line in lines:
            typer.echo(line)


def _client(command: str, api: str, token: str | None, key: KeyHolder | None) -> RegistryClient:
    if not token:
        _fail(command, "token: got none, want --token or CERTREG_TOKEN")
    return RegistryClient(api, token=token, key=key)


def _holder(
    command: str, path: Path | None, issuer: str | None, api: str, token: str | None
) -> KeyHolder | None:
    """The held key, for the CB `--issuer` names or the token acts for."""
    from registry.keys import load_key_file  # noqa: PLC0415

    if path is None:
        return None
    try:
        private = load_key_file(path)
    except (OSError, ValueError) as exc:
        _fail(command, f"--key {path}: {exc}")
    if issuer is None:
        try:
            me = _client(command, api, token, None).me()
        except ClientError as exc:
            _fail(command, exc)
        issuer = me.get("issuer_id")
        if not isinstance(issuer, str):
            _fail(command, "--issuer: got none, and the token acts for no CB; want the CB's id")
    return KeyHolder(issuer_id=issuer, private_key=private)


def _submissions(command: str, path: Path) -> list[Submission]:
    """One certificate (an object), several (a list) or a batch (`{"certificates": [...]}`)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        _fail(command, f"{path}: {exc}")
    if isinstance(data, dict) and set(data) == {"certificates"}:
        data = data["certificates"]
    items = data if isinstance(data, list) else [data]
    try:
        return [submission_adapter().validate_python(item) for item in items]
    except ValidationError as exc:
        _fail(command, f"{path}: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}")


def keygen(
    out: Annotated[Path, typer.Option(help="Where to write the private key (mode 0600).")],
    as_json: JsonOption = False,
) -> None:
    """Make a signing key for a CB to keep itself: the private key stays in `--out` and never
    leaves this machine; propose its public half with `certreg signing-key propose`, and tell
    the authority its key id by a channel of your own so it approves exactly this key."""
    from registry.keys import new_key_file  # noqa: PLC0415

    try:
        key = new_key_file(out)
    except OSError as exc:
        _fail("keygen", f"{out}: got {exc.strerror}, want a new file")
    public = key.public_key().public_bytes_raw()
    holder = KeyHolder(issuer_id="-", private_key=key)
    result = {"key_file": str(out), "public_key": b64(public), "key_id": hex0x(holder.key_id)}
    _emit(
        result,
        as_json=as_json,
        lines=[
            f"private key written to {out} (mode 0600): keep it with the CB",
            f"public key: {result['public_key']}",
            f"key id (read it to the authority): {result['key_id']}",
        ],
    )


@key_app.command("propose")
def key_propose(
    key: Annotated[
        Path | None, typer.Option("--key", help="The key file the CB keeps (certreg keygen).")
    ] = None,
    hosted: Annotated[
        bool,
        typer.Option("--hosted", help="Instead, have the registry make a key it keeps for the CB."),
    ] = False,
    issuer: IssuerOption = None,
    api: ApiOption = "http://127.0.0.1:8000",
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Propose a signing key (a CB admin's call): one the CB keeps (--key, with a signature
    proving the CB holds it), or one the registry makes and keeps for it (--hosted). It signs
    nothing until the authority approves it (certreg authority approve-key); then it replaces
    the CB's active key."""
    if (key is None) == (not hosted):
        _fail("signing-key propose", "want one of --key FILE, --hosted")
    try:
        if key is not None:
            holder = _holder("signing-key propose", key, issuer, api, token)
            assert holder is not None
            result = _client("signing-key propose", api, token, None).propose_held_key(holder)
        else:
            client = _client("signing-key propose", api, token, None)
            cb = issuer or client.me().get("issuer_id")
            if not isinstance(cb, str):
                _fail("signing-key propose", "--issuer: got none, and the token acts for no CB")
            result = client.propose_hosted_key(cb)
    except ClientError as exc:
        _fail("signing-key propose", exc)
    _emit(
        result,
        as_json=as_json,
        lines=[
            f"proposed key {result['key_id']} of {result['issuer_id']} (custody "
            f"{result['custody']}); the authority approves it with certreg authority approve-key"
        ],
    )


@key_app.command("list")
def key_list(
    issuer: Annotated[str, typer.Option("--issuer", help="The CB's id.")],
    api: ApiOption = "http://127.0.0.1:8000",
    as_json: JsonOption = False,
) -> None:
    """A CB's keys: proposed, active, retired and revoked, with their custody."""
    try:
        keys = RegistryClient(api, token="").keys(issuer)
    except ClientError as exc:
        _fail("signing-key list", exc)
    _emit(
        {"keys": keys},
        as_json=as_json,
        lines=[
            f"{k['key_id']}  {k['state']:<8}  custody {k['custody']:<6}  approved at "
            f"{k['approved_seq'] if k['approved_seq'] is not None else '-'}"
            for k in keys
        ]
        or [f"{issuer} has no keys"],
    )


def issue(
    file: Annotated[
        Path, typer.Argument(help="A certificate (JSON object), a list, or {certificates: [...]}")
    ],
    key: KeyOption = None,
    issuer: IssuerOption = None,
    api: ApiOption = "http://127.0.0.1:8000",
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Issue certificates, all or none: with --key signed here, in one go."""
    submissions = _submissions("issue", file)
    holder = _holder("issue", key, issuer, api, token)
    try:
        result = _client("issue", api, token, holder).issue(submissions)
    except ClientError as exc:
        _fail("issue", exc)
    _emit(result, as_json=as_json, lines=_certificate_lines(result))


def _change_command(kind: EventType, help_text: str) -> Any:
    def command(
        certificate_id: Annotated[list[str], typer.Argument(help="Certificate ids (0x…).")],
        reason: ReasonOption,
        note: NoteOption = None,
        key: KeyOption = None,
        issuer: IssuerOption = None,
        api: ApiOption = "http://127.0.0.1:8000",
        token: TokenOption = None,
        as_json: JsonOption = False,
    ) -> None:
        holder = _holder(kind.value, key, issuer, api, token)
        try:
            result = _client(kind.value, api, token, holder).change(
                kind, certificate_id, reason=reason, note=note
            )
        except ClientError as exc:
            _fail(kind.value, exc)
        if isinstance(result, list):  # one answer per certificate: signed by the registry
            result = {"certificates": result}
        _emit(result, as_json=as_json, lines=_certificate_lines(result))

    command.__doc__ = help_text
    return command


def supersede(
    certificate_id: Annotated[str, typer.Argument(help="The certificate it replaces (0x…).")],
    file: Annotated[Path, typer.Argument(help="The replacement certificate (JSON object).")],
    reason: ReasonOption = "renewal",
    note: NoteOption = None,
    key: KeyOption = None,
    issuer: IssuerOption = None,
    api: ApiOption = "http://127.0.0.1:8000",
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Issue a new certificate replacing another (e.g. re-issued under a new key)."""
    submissions = _submissions("supersede", file)
    if len(submissions) != 1:
        _fail("supersede", f"{file}: got {len(submissions)} certificates, want one")
    holder = _holder("supersede", key, issuer, api, token)
    try:
        result = _client("supersede", api, token, holder).supersede(
            certificate_id, submissions[0], reason=reason, note=note
        )
    except ClientError as exc:
        _fail("supersede", exc)
    _emit(result, as_json=as_json, lines=_certificate_lines(result))


def _certificate_lines(result: dict[str, Any]) -> list[str]:
    """One line per certificate of an answer: statements, a batch, or one certificate."""
    if "statements" in result:
        return [
            f"{s['certificate']['id']}  {s['certificate']['status']}  log entry {s['seq']}"
            f"{'' if s['created'] else ' (already recorded)'}"
            for s in result["statements"]
        ]
    rows = result.get("certificates", [result])
    return [f"{c['id']}  {c['status']}  log entry {c['last_event_seq']}" for c in rows]


def register(app: typer.Typer) -> None:
    """Add the CB's commands to `certreg`."""
    app.command("keygen")(keygen)
    app.add_typer(key_app, name="signing-key")
    app.command("issue")(issue)
    app.command("supersede")(supersede)
    for kind, text in (
        (EventType.SUSPEND, "Suspend certificates; with --key signed here, all or none."),
        (EventType.REINSTATE, "Reinstate suspended certificates; with --key signed here."),
        (EventType.WITHDRAW, "Withdraw certificates; with --key signed here, all or none."),
    ):
        app.command(kind.value)(_change_command(kind, text))
