"""The `certreg` command line. Every command accepts `--json` and then prints one JSON object."""

import base64
import datetime as dt
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from api.cli_cb import register as register_cb_commands
from api.cli_trust import trust_app
from registry.core.governance import StatementType

if TYPE_CHECKING:
    from api.stack import Stack
    from registry.core.governance import Statement

# Plain help (no rich markup): flags read as flags, not `<bool>`, and paragraphs wrap.
app = typer.Typer(
    name="certreg",
    help="A blockchain-anchored certificate registry.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)


@app.callback()
def _root() -> None:
    """A blockchain-anchored certificate registry."""
    from anchoring.pyecc import contain_py_ecc  # noqa: PLC0415 (keep `certreg --help` fast)

    # Before any command reads a bundle, a trust file or a registry's answer (see pyecc.py).
    contain_py_ecc()


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
    """Issue the sample certificates in memory, sign a checkpoint, verify bundles, replay."""
    from registry.demo import run_demo  # noqa: PLC0415 (keep `certreg --help` fast)

    result = run_demo()
    proved = result["proved"]
    superseded = result["superseded"]
    emit(
        result,
        as_json=as_json,
        lines=[
            f"issued {result['certificates']} certificates as {result['events']} events "
            "(the samples, one suspended, reinstated, one suspended, one withdrawn, one "
            "superseded by a corrected certificate)",
            "signed checkpoint:",
            *("  " + line for line in result["checkpoint"].splitlines()),
            f"registry key: {result['registry_vkey']}",
            "chain: simulated (the facts a contract holding this checkpoint would give)",
            f"certificate {proved['number']} ({proved['certificate_id'][:18]}…): "
            f"{proved['verdict']} at event {proved['event_seq']}; "
            f"passed {', '.join(proved['checks'])}",
            f"certificate {superseded['certificate_id'][:18]}…: {superseded['verdict']} by "
            f"{superseded['by'][:18]}…",
            f"never-issued id {result['proved_absent'][:18]}…: {result['absent_verdict']}, "
            "absence proved in the status map",
            f"replayed the log from the start: map root {result['replayed_map_root'][:18]}…, "
            "the checkpoint's",
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
        str | None,
        typer.Option(
            help="Account granted ISSUER_ADMIN_ROLE; default: CERTREG_ISSUER_ADMIN_KEY's "
            "(on a dev chain: else the admin)."
        ),
    ] = None,
    log_signer: Annotated[
        str | None,
        typer.Option(
            help="Account granted LOG_SIGNER_ROLE (the `certreg log-signer` key); default: "
            "CERTREG_LOG_SIGNER_KEY's."
        ),
    ] = None,
    admin_delay: Annotated[
        int,
        typer.Option(
            help="Seconds between beginning and accepting a transfer of the authority.", min=0
        ),
    ] = 3 * 24 * 3600,
    predecessor: Annotated[
        str | None,
        typer.Option(
            help="The contract this one succeeds (docs/spec.md §7.7); it starts from that "
            "contract's checkpoint --predecessor-index (default: its latest)."
        ),
    ] = None,
    predecessor_index: Annotated[
        int | None, typer.Option(help="The predecessor's checkpoint to start from.", min=0)
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Deployment file; default: CERTREG_DEPLOYMENT_FILE.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Deploy the anchoring contract, grant its roles, write the deployment file.

    Off a development chain every role needs an account of its own: one account for two roles
    is refused before anything is sent (docs/deploy.md §2)."""
    from anchoring.deploy import deploy_from_settings  # noqa: PLC0415 (keep --help fast)
    from anchoring.errors import AnchoringError  # noqa: PLC0415

    try:
        outcome = deploy_from_settings(
            admin=admin,
            anchorer=anchorer,
            issuer_admin=issuer_admin,
            log_signer=log_signer,
            admin_delay_s=admin_delay,
            predecessor=predecessor,
            predecessor_index=predecessor_index,
            output=out,
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


@app.command("log-signer")
def log_signer_command(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on; default: CERTREG_LOG_SIGNER_HOST.")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port; default: CERTREG_LOG_SIGNER_PORT (8547).")
    ] = None,
) -> None:
    """Run the log signer: authorise checkpoints the registry signed that extend the chain.

    Holds CERTREG_LOG_SIGNER_KEY (LOG_SIGNER_ROLE) and pins CERTREG_REGISTRY_VKEY; reaches the
    chain with CERTREG_RPC_URL, CERTREG_CHAIN_ID and the contract's address. Run it on another
    host than the anchoring worker (docs/deploy.md §2); the worker finds it at
    CERTREG_LOG_SIGNER_URL."""
    from anchoring.errors import AnchoringError  # noqa: PLC0415 (keep --help fast)
    from anchoring.logsigner import LogSigner, LogSignerService  # noqa: PLC0415
    from anchoring.settings import LogSignerSettings  # noqa: PLC0415
    from registry.logs import configure_logging  # noqa: PLC0415

    configure_logging()
    settings = LogSignerSettings()
    try:
        signer = LogSigner.from_settings(settings)
        service = LogSignerService(
            signer,
            host=host or settings.log_signer_host,
            port=settings.log_signer_port if port is None else port,
        )
    except (AnchoringError, OSError) as exc:
        raise _fail("log-signer", exc) from exc
    if not signer.holds_role():
        typer.echo(
            f"certreg log-signer: account {signer.address} does not hold LOG_SIGNER_ROLE on "
            f"{signer.contract.address}; the contract refuses its authorisations until the "
            "authority grants it",
            err=True,
        )
    typer.echo(f"log signer {signer.address} listening on {service.url}", err=True)
    try:
        service.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        service.stop()


app.add_typer(trust_app, name="trust")
register_cb_commands(app)


def _stack() -> "Stack":
    from api.stack import Stack  # noqa: PLC0415 (keep `certreg --help` fast)

    return Stack()


def _fail(command: str, exc: Exception) -> typer.Exit:
    typer.echo(f"certreg {command}: {exc}", err=True)
    return typer.Exit(1)


authority_app = typer.Typer(
    help="The authority's own commands: its first admin account, its key, its statements "
    "(signed here with its key file, then submitted).",
    rich_markup_mode=None,
)
app.add_typer(authority_app, name="authority")


@authority_app.command("init")
def authority_init(
    name: Annotated[str, typer.Option(help="The first authority admin's name.")],
    login: Annotated[
        str | None, typer.Option(help="Login name for the password login (e.g. an e-mail).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Create the first authority admin and print its one-time setup token (shown once, good
    for 72 hours): with it, set a password (`PUT /v1/me/password`) or make an API token
    (`POST /v1/tokens`). Refused once an active authority admin exists; further accounts are
    made through the API by someone with the right role (docs/security.md §8)."""
    from registry.errors import RegistryError  # noqa: PLC0415

    stack = _stack()
    try:
        created = stack.service.accounts.bootstrap_authority(name=name, login=login)
    except (RegistryError, ValueError) as exc:
        raise _fail("authority init", exc) from exc
    finally:
        stack.close()
    result = {
        "account_id": created.account.account_id,
        "role": created.account.role.value,
        "login": created.account.login,
        "setup_token": created.setup_token,
        "setup_expires_at": created.setup_expires_at.isoformat(),
    }
    emit(
        result,
        as_json=as_json,
        lines=[
            f"authority admin {created.account.account_id} ({created.account.name})",
            f"one-time setup token (shown once, until {created.setup_expires_at.isoformat()}): "
            f"{created.setup_token}",
        ],
    )


# -- the authority's statements: signed here, with the authority's key file --------------------

AuthorityKeyOption = Annotated[
    Path, typer.Option("--key", help="The authority's private key file (certreg authority keygen).")
]
IssuerOption = Annotated[str, typer.Option("--issuer", help="The CB's id, e.g. vn-cb-quatest3.")]
OutOption = Annotated[
    Path | None,
    typer.Option(help="Write the signed statement to this file instead of submitting it."),
]
ApiOption = Annotated[
    str,
    typer.Option(envvar="CERTREG_API_URL", help="The registry's API (CERTREG_API_URL)."),
]
TokenOption = Annotated[
    str | None,
    typer.Option(
        envvar="CERTREG_TOKEN",
        help="An authority admin's API token (CERTREG_TOKEN).",
        show_default=False,
    ),
]


@authority_app.command("keygen")
def authority_keygen(
    out: Annotated[Path, typer.Option(help="Where to write the private key (mode 0600).")],
    name: Annotated[
        str, typer.Option(help="The authority's key name in its vkey, e.g. stameq.gov.vn.")
    ] = "authority",
    as_json: JsonOption = False,
) -> None:
    """Make the authority's Ed25519 key: the private key stays in `--out` (never give it to the
    registry); set the printed public key as the registry's CERTREG_AUTHORITY_PUBLIC_KEY and in
    verifiers' trust stores."""
    from registry.core.note import NoteVerifier, is_valid_key_name  # noqa: PLC0415
    from registry.keys import new_key_file  # noqa: PLC0415

    if not is_valid_key_name(name):
        raise _fail("authority keygen", ValueError(f"--name: got {name!r}, want no spaces or +"))
    try:
        key = new_key_file(out)
    except OSError as exc:
        raise _fail(
            "authority keygen", OSError(f"{out}: got {exc.strerror}, want a new file")
        ) from exc
    public = key.public_key().public_bytes_raw()
    result = {
        "key_file": str(out),
        "public_key": base64.b64encode(public).decode("ascii"),
        "key_id": "0x" + hashlib.sha256(public).hexdigest(),
        "vkey": NoteVerifier.for_key(name, public).vkey,
    }
    emit(
        result,
        as_json=as_json,
        lines=[
            f"private key written to {out} (mode 0600): keep it with the authority",
            f"public key (CERTREG_AUTHORITY_PUBLIC_KEY): {result['public_key']}",
            f"key id: {result['key_id']}",
            f"vkey, for verifiers' trust stores (certreg trust add --authority-vkey): "
            f"{result['vkey']}",
        ],
    )


def _sign_and_send(
    command: str,
    build: Callable[[bytes, dt.datetime], "Statement"],
    *,
    key_file: Path,
    out: Path | None,
    api: str,
    token: str | None,
    as_json: bool,
    quiet: bool = False,
) -> dict[str, Any] | None:
    """Build the statement, sign it with the key file, then write it (`--out`) or submit it
    (`quiet`: without printing the answer); the registry's answer, if submitted."""
    from registry.core.governance import sign_statement  # noqa: PLC0415
    from registry.errors import RegistryError  # noqa: PLC0415
    from registry.keys import load_key_file  # noqa: PLC0415

    try:
        key = load_key_file(key_file)
        public = key.public_key().public_bytes_raw()
        at = dt.datetime.now(dt.UTC).replace(microsecond=0)
        signed = sign_statement(build(hashlib.sha256(public).digest(), at), key).to_json()
    except (RegistryError, ValueError, OSError) as exc:
        raise _fail(f"authority {command}", exc) from exc
    if out is not None:
        out.write_text(json.dumps(signed, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        emit({"written": str(out)}, as_json=as_json, lines=[f"signed statement written to {out}"])
        return None
    return _submit(command, signed, api=api, token=token, as_json=as_json, quiet=quiet)


def _submit(
    command: str,
    signed: object,
    *,
    api: str,
    token: str | None,
    as_json: bool,
    quiet: bool = False,
) -> dict[str, Any]:
    import httpx2  # noqa: PLC0415

    if not token:
        raise _fail(
            f"authority {command}",
            ValueError("token: got none, want --token or CERTREG_TOKEN (an authority admin's)"),
        )
    try:
        answer = httpx2.post(
            api.rstrip("/") + "/v1/authority/statements",
            json=signed,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
    except httpx2.HTTPError as exc:
        raise _fail(f"authority {command}", OSError(f"{api}: got {exc}, want an answer")) from exc
    if answer.status_code != 201:
        try:
            detail = answer.json().get("detail", answer.text)
        except ValueError:
            detail = answer.text
        raise _fail(
            f"authority {command}", ValueError(f"registry: got {answer.status_code}: {detail}")
        )
    result: dict[str, Any] = answer.json()
    if quiet:
        return result
    emit(
        result,
        as_json=as_json,
        lines=[
            f"appended at log entry {result['seq']}; {result['leaf']['issuer_id']} is now "
            f"{result['leaf']['status']}"
        ],
    )
    return result


def _admission_options(kind: list[str], standard: list[str] | None) -> dict[str, Any]:
    from registry.core.governance import Scope  # noqa: PLC0415

    return {"scope": Scope(kinds=tuple(kind), standards=tuple(standard or ()))}


@authority_app.command("admit")
def authority_admit(
    key: AuthorityKeyOption,
    issuer: IssuerOption,
    name_vi: Annotated[str, typer.Option(help="Legal name in Vietnamese.")],
    name_en: Annotated[str, typer.Option(help="Legal name in English.")],
    accreditation_body: Annotated[str, typer.Option(help="e.g. BoA.")],
    accreditation_number: Annotated[str, typer.Option(help="e.g. VICAS 902.")],
    kind: Annotated[list[str], typer.Option(help="A certificate kind; repeat for several.")],
    valid_from: Annotated[dt.datetime, typer.Option(formats=["%Y-%m-%d"])],
    valid_until: Annotated[dt.datetime, typer.Option(formats=["%Y-%m-%d"])],
    standard: Annotated[
        list[str] | None,
        typer.Option(help="A standard or regulation it may certify against; none: any."),
    ] = None,
    reason: Annotated[str | None, typer.Option(help="Why (change-scope only).")] = None,
    change_scope: Annotated[
        bool, typer.Option("--change-scope", help="New terms for an admitted CB.")
    ] = False,
    hosted_key: Annotated[
        bool,
        typer.Option(
            "--hosted-key",
            help="Then have the registry make a signing key it keeps for the CB, and approve it "
            "(custody hosted). Without it the CB proposes its own (certreg signing-key propose).",
        ),
    ] = False,
    out: OutOption = None,
    api: ApiOption = "http://127.0.0.1:8000",
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Admit a CB (or, with --change-scope, restate its terms): signed with the authority's key,
    then submitted (or written with --out)."""
    from registry.core.governance import Admit, ChangeScope  # noqa: PLC0415

    def build(key_id: bytes, at: dt.datetime) -> "Statement":
        terms: dict[str, Any] = {
            "issuer_id": issuer,
            "at": at,
            "authority_key_id": key_id,
            "name_vi": name_vi,
            "name_en": name_en,
            "accreditation_body": accreditation_body,
            "accreditation_number": accreditation_number,
            "valid_from": valid_from.date(),
            "valid_until": valid_until.date(),
            **_admission_options(kind, standard),
        }
        if change_scope:
            return ChangeScope(**terms, reason=reason)
        return Admit(**terms)

    if not hosted_key or out is not None:
        _sign_and_send("admit", build, key_file=key, out=out, api=api, token=token, as_json=as_json)
        return
    result = _sign_and_send(
        "admit", build, key_file=key, out=None, api=api, token=token, as_json=True, quiet=True
    )
    assert result is not None
    proposed = _registry_post(
        "admit", api, f"/v1/issuers/{issuer}/keys", token, {"custody": "hosted"}
    )
    _approve("admit", key, issuer, proposed, api=api, token=token)
    emit(
        {**result, "approved": proposed["key_id"], "custody": "hosted"},
        as_json=as_json,
        lines=[
            f"appended at log entry {result['seq']}; {issuer} is now {result['leaf']['status']}",
            f"approved key {proposed['key_id']} of {issuer} (custody hosted)",
        ],
    )


def _status_command(name: str, help_text: str) -> None:
    @authority_app.command(name, help=help_text)
    def command(
        key: AuthorityKeyOption,
        issuer: IssuerOption,
        reason: Annotated[str, typer.Option(help="Why, as the log will say it.")],
        out: OutOption = None,
        api: ApiOption = "http://127.0.0.1:8000",
        token: TokenOption = None,
        as_json: JsonOption = False,
    ) -> None:
        from registry.core import governance  # noqa: PLC0415

        cls = {
            "suspend": governance.SuspendIssuer,
            "reinstate": governance.ReinstateIssuer,
            "withdraw": governance.WithdrawIssuer,
        }[name]

        def build(key_id: bytes, at: dt.datetime) -> "Statement":
            return cls(issuer_id=issuer, at=at, authority_key_id=key_id, reason=reason)

        _sign_and_send(name, build, key_file=key, out=out, api=api, token=token, as_json=as_json)


_status_command("suspend", "Suspend a CB: it may not issue until reinstated.")
_status_command("reinstate", "Reinstate a suspended CB.")
_status_command("withdraw", "Withdraw a CB's admission.")


def _registry_get(command: str, api: str, path: str) -> Any:
    import httpx2  # noqa: PLC0415

    try:
        answer = httpx2.get(api.rstrip("/") + path, timeout=30)
        answer.raise_for_status()
        return answer.json()
    except (httpx2.HTTPError, ValueError) as exc:
        raise _fail(f"authority {command}", OSError(f"{api}{path}: got {exc}")) from exc


def _registry_post(
    command: str, api: str, path: str, token: str | None, body: object
) -> dict[str, Any]:
    import httpx2  # noqa: PLC0415

    try:
        answer = httpx2.post(
            api.rstrip("/") + path,
            json=body,
            headers={"Authorization": f"Bearer {token or ''}"},
            timeout=30,
        )
    except httpx2.HTTPError as exc:
        raise _fail(f"authority {command}", OSError(f"{api}{path}: got {exc}")) from exc
    if answer.status_code >= 400:
        raise _fail(
            f"authority {command}",
            ValueError(f"{path}: got {answer.status_code}: {answer.text[:500]}"),
        )
    result: dict[str, Any] = answer.json()
    return result


def _proposed_key(command: str, api: str, issuer: str, key_id: str) -> dict[str, Any]:
    """The key as the registry lists it for the CB (the authority signs what it read)."""
    for key in _registry_get(command, api, f"/v1/issuers/{issuer}/keys")["keys"]:
        if key["key_id"] == key_id.lower():
            return dict(key)
    raise _fail(
        f"authority {command}", ValueError(f"--key-id: got {key_id}, want a key of {issuer}")
    )


def _approve(
    command: str, key_file: Path, issuer: str, key: dict[str, Any], *, api: str, token: str | None
) -> None:
    from registry.core.encoding import parse_b64, parse_hex  # noqa: PLC0415
    from registry.core.governance import ApproveKey, Custody  # noqa: PLC0415

    def build(authority_key_id: bytes, at: dt.datetime) -> "Statement":
        return ApproveKey(
            issuer_id=issuer,
            at=at,
            authority_key_id=authority_key_id,
            key_id=parse_hex(key["key_id"], what="key_id"),
            public_key=parse_b64(key["public_key"], size=32, what="public_key"),
            custody=Custody(key["custody"]),
        )

    _sign_and_send(
        command, build, key_file=key_file, out=None, api=api, token=token, as_json=True, quiet=True
    )


@authority_app.command("approve-key")
def authority_approve_key(
    key: AuthorityKeyOption,
    issuer: IssuerOption,
    key_id: Annotated[
        str,
        typer.Option(
            help="The key id the CB gave you by a channel of its own (certreg keygen prints it)."
        ),
    ],
    api: ApiOption = "http://127.0.0.1:8000",
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Approve a key the CB proposed, stating its custody (held by the CB, or hosted by the
    registry): it becomes the CB's active key, and is registered on chain."""
    proposed = _proposed_key("approve-key", api, issuer, key_id)
    _approve("approve-key", key, issuer, proposed, api=api, token=token)
    emit(
        {"approved": proposed["key_id"], "custody": proposed["custody"]},
        as_json=as_json,
        lines=[f"approved key {proposed['key_id']} of {issuer} (custody {proposed['custody']})"],
    )


def _certificates_to_act_on(
    command: str, api: str, issuer: str, given: list[str] | None, every: bool, statuses: list[str]
) -> list[dict[str, Any]]:
    """The certificates named (`given`), or with `every` all of the CB's in `statuses`, as the
    registry serves them (their record hash is signed: it must be the one served)."""
    if (given is None or not given) == (not every):
        raise _fail(f"authority {command}", ValueError("want --certificate ID… or --all"))
    if given:
        return [_registry_get(command, api, f"/v1/certificates/{c}") for c in given]
    found: dict[str, dict[str, Any]] = {}
    for status in statuses:
        offset = 0
        while True:
            page = _registry_get(
                command,
                api,
                f"/v1/certificates?issuer_id={issuer}&status={status}&limit=200&offset={offset}",
            )
            rows = page["certificates"]
            found.update((row["id"], row) for row in rows)
            offset += len(rows)
            if not rows or offset >= page["total"]:
                break
    return list(found.values())


def _sign_each(
    command: str,
    targets: list[dict[str, Any]],
    *,
    issuer: str,
    statement: Callable[[dict[str, Any], dict[str, Any]], "Statement"],
    key: Path,
    api: str,
    token: str | None,
) -> list[dict[str, Any]]:
    """One statement about each certificate of `issuer` in `targets` (`statement(target,
    common members)`), signed with the key file and submitted in turn."""
    from registry.core.encoding import parse_hex  # noqa: PLC0415

    done = []
    for target in targets:
        if target["issuer_id"] != issuer:
            raise _fail(
                f"authority {command}",
                ValueError(f"{target['id']}: got a certificate of {target['issuer_id']}"),
            )

        def build(
            authority_key_id: bytes, at: dt.datetime, target: dict[str, Any] = target
        ) -> "Statement":
            return statement(
                target,
                {
                    "issuer_id": issuer,
                    "at": at,
                    "authority_key_id": authority_key_id,
                    "certificate_id": target["id"],
                    "record_hash": parse_hex(target["record_hash"], what="record_hash"),
                },
            )

        answer = _sign_and_send(
            command, build, key_file=key, out=None, api=api, token=token, as_json=True, quiet=True
        )
        assert answer is not None
        done.append({"certificate_id": target["id"], "seq": answer["seq"]})
    return done


CertificateOption = Annotated[
    list[str] | None,
    typer.Option(metavar="ID", help="A certificate of the CB; repeat for several."),
]


def _certificate_command(name: str, help_text: str, kind: "StatementType") -> None:
    @authority_app.command(name, help=help_text)
    def command(
        key: AuthorityKeyOption,
        issuer: IssuerOption,
        reason: Annotated[str, typer.Option(help="Why, as the log will say it.")],
        certificate: CertificateOption = None,
        every: Annotated[
            bool, typer.Option("--all", help="Every certificate of the CB this applies to.")
        ] = False,
        api: ApiOption = "http://127.0.0.1:8000",
        token: TokenOption = None,
        as_json: JsonOption = False,
    ) -> None:
        from registry.core import governance  # noqa: PLC0415

        cls = {
            StatementType.SUSPEND_CERTIFICATE: governance.SuspendCertificate,
            StatementType.WITHDRAW_CERTIFICATE: governance.WithdrawCertificate,
        }[kind]
        statuses = sorted(governance.CERTIFICATE_ALLOWED_FROM[kind])
        done = _sign_each(
            name,
            _certificates_to_act_on(name, api, issuer, certificate, every, statuses),
            issuer=issuer,
            statement=lambda _, common: cls(**common, reason=reason),
            key=key,
            api=api,
            token=token,
        )
        emit(
            {"certificates": done},
            as_json=as_json,
            lines=[f"{d['certificate_id']}: log entry {d['seq']}" for d in done]
            or ["no certificate to act on"],
        )


_certificate_command(
    "suspend-certificate",
    "Suspend certificates of a CB that is suspended or withdrawn (it cannot act on them).",
    StatementType.SUSPEND_CERTIFICATE,
)
_certificate_command(
    "withdraw-certificate",
    "Withdraw certificates of a CB that is suspended or withdrawn, or has ceased to exist.",
    StatementType.WITHDRAW_CERTIFICATE,
)


@authority_app.command("transfer-certificate")
def authority_transfer_certificate(
    key: AuthorityKeyOption,
    issuer: IssuerOption,
    to: Annotated[str, typer.Option("--to", help="The admitted CB that takes them over.")],
    reason: Annotated[str, typer.Option(help="Why, as the log will say it.")],
    certificate: CertificateOption = None,
    every: Annotated[
        bool, typer.Option("--all", help="Every valid or suspended certificate of the CB.")
    ] = False,
    api: ApiOption = "http://127.0.0.1:8000",
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Transfer certificates of a CB to another, admitted CB (as IAF MD 2 allows): from then on
    the receiving CB suspends, reinstates, withdraws or re-issues them."""
    from registry.core.governance import TransferCertificate  # noqa: PLC0415
    from registry.core.lifecycle import TRANSFERABLE  # noqa: PLC0415

    command = "transfer-certificate"
    done = _sign_each(
        command,
        _certificates_to_act_on(command, api, issuer, certificate, every, sorted(TRANSFERABLE)),
        issuer=issuer,
        statement=lambda _, common: TransferCertificate(**common, to_issuer_id=to, reason=reason),
        key=key,
        api=api,
        token=token,
    )
    emit(
        {"certificates": done, "to": to},
        as_json=as_json,
        lines=[f"{d['certificate_id']}: to {to} at log entry {d['seq']}" for d in done]
        or ["no certificate to transfer"],
    )


def _compromise_boundary(api: str, at: dt.datetime) -> int:
    """The size of the last checkpoint anchored at or before `at` (0: none): events after it
    may have been signed by whoever had the key."""
    boundary, start = 0, 0
    while True:
        page = _registry_get("revoke-key", api, f"/v1/checkpoints?start={start}&limit=1000")[
            "checkpoints"
        ]
        for checkpoint in page:
            stamp = checkpoint.get("block_timestamp")
            if stamp is None or stamp > at.timestamp():
                return boundary
            boundary = int(checkpoint["tree_size"])
        if len(page) < 1000:
            return boundary
        start = int(page[-1]["index"]) + 1


@authority_app.command("revoke-key")
def authority_revoke_key(
    key: AuthorityKeyOption,
    issuer: IssuerOption,
    key_id: Annotated[str, typer.Option(help="The CB's key to revoke.")],
    reason: Annotated[str, typer.Option(help="Why, as the log will say it.")],
    compromised_at: Annotated[
        dt.datetime | None,
        typer.Option(
            formats=["%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S%z"],
            help="When the CB says the key was compromised: every certificate event first "
            "anchored after the last checkpoint anchored by then is refused.",
        ),
    ] = None,
    from_seq: Annotated[
        int | None,
        typer.Option(help="Or the log position to refuse events from (a checkpoint's size)."),
    ] = None,
    api: ApiOption = "http://127.0.0.1:8000",
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Revoke a CB's key (e.g. reported compromised): the registry refuses it at once, and its
    worker revokes it on chain from the block of the first checkpoint after the boundary, so
    exactly the certificates anchored after the compromise verify INVALID."""
    from registry.core.encoding import parse_hex  # noqa: PLC0415
    from registry.core.governance import RevokeKey  # noqa: PLC0415

    if (compromised_at is None) == (from_seq is None):
        raise _fail("authority revoke-key", ValueError("want one of --compromised-at, --from-seq"))
    if compromised_at is not None:
        when = (
            compromised_at.replace(tzinfo=dt.UTC)
            if compromised_at.tzinfo is None
            else compromised_at
        )
        from_seq = _compromise_boundary(api, when)
    assert from_seq is not None
    revoked_from = from_seq

    def build(authority_key_id: bytes, at: dt.datetime) -> "Statement":
        return RevokeKey(
            issuer_id=issuer,
            at=at,
            authority_key_id=authority_key_id,
            key_id=parse_hex(key_id.lower(), what="--key-id"),
            revoked_from_seq=revoked_from,
            reason=reason,
        )

    _sign_and_send(
        "revoke-key", build, key_file=key, out=None, api=api, token=token, as_json=True, quiet=True
    )
    emit(
        {"revoked": key_id.lower(), "revoked_from_seq": revoked_from},
        as_json=as_json,
        lines=[f"revoked key {key_id.lower()} of {issuer} from log position {revoked_from}"],
    )


@authority_app.command("adopt")
def authority_adopt(
    key: AuthorityKeyOption,
    accreditation_body: Annotated[
        str, typer.Option(help="The body that accredited them, e.g. BoA (for every CB adopted).")
    ],
    valid_until: Annotated[dt.datetime, typer.Option(formats=["%Y-%m-%d"])],
    valid_from: Annotated[
        dt.datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Default: today (UTC).")
    ] = None,
    api: ApiOption = "http://127.0.0.1:8000",
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Admit, by signed statements, every CB the registry admitted before the authority's
    statements (the former `certreg issuer add`): each with its names, its accreditation number
    and its kinds, any standard within them, from --valid-from to --valid-until, and approve its
    active signing key (custody hosted). Their tokens and certificates stay as they are."""
    import httpx2  # noqa: PLC0415

    from registry.core.governance import Admit, Scope  # noqa: PLC0415

    try:
        answer = httpx2.get(api.rstrip("/") + "/v1/issuers", timeout=30)
        answer.raise_for_status()
        known = answer.json()["issuers"]
    except (httpx2.HTTPError, ValueError, KeyError) as exc:
        raise _fail("authority adopt", OSError(f"{api}/v1/issuers: got {exc}")) from exc
    start = (valid_from or dt.datetime.now(dt.UTC)).date()
    adopted = []
    for issuer in (i for i in known if i["admission"] is None):

        def build(key_id: bytes, at: dt.datetime, issuer: dict[str, Any] = issuer) -> "Statement":
            return Admit(
                issuer_id=issuer["issuer_id"],
                at=at,
                authority_key_id=key_id,
                name_vi=issuer["name_vi"],
                name_en=issuer["name_en"],
                accreditation_body=accreditation_body,
                accreditation_number=issuer["accreditation"],
                scope=Scope(kinds=tuple(issuer["kinds"])),
                valid_from=start,
                valid_until=valid_until.date(),
            )

        _sign_and_send(
            "adopt", build, key_file=key, out=None, api=api, token=token, as_json=True, quiet=True
        )
        # Its keys, made by the registry before the authority approved keys, stay valid: the
        # authority states their custody, so its later certificates carry the approval.
        for signing_key in _registry_get("adopt", api, f"/v1/issuers/{issuer['issuer_id']}/keys")[
            "keys"
        ]:
            if signing_key["state"] == "active" and signing_key["approved_seq"] is None:
                _approve("adopt", key, issuer["issuer_id"], signing_key, api=api, token=token)
        adopted.append(issuer["issuer_id"])
    emit(
        {"adopted": adopted},
        as_json=as_json,
        lines=[f"adopted {', '.join(adopted)}" if adopted else "nothing to adopt"],
    )


@authority_app.command("submit")
def authority_submit(
    statement: Annotated[Path, typer.Argument(help="A signed statement (from --out).")],
    api: ApiOption = "http://127.0.0.1:8000",
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Submit a statement signed earlier (e.g. on an offline machine) to the registry."""
    try:
        signed = json.loads(statement.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise _fail("authority submit", exc) from exc
    _submit("submit", signed, api=api, token=token, as_json=as_json)


keys_app = typer.Typer(help="The registry's own secrets.", rich_markup_mode=None)
app.add_typer(keys_app, name="keys")


@keys_app.command("init")
def keys_init(as_json: JsonOption = False) -> None:
    """Create the checkpoint-signing key and the key-encryption key in CERTREG_DATA_DIR.

    Each file is written readable by its owner only (0600) and never overwritten: an existing
    one is kept. Move them to your secret store and set CERTREG_SIGNING_KEY and
    CERTREG_KEY_ENCRYPTION_KEY, or keep the files where every replica reads the same ones."""
    from registry.settings import (  # noqa: PLC0415
        KEK_FILE,
        SIGNING_KEY_FILE,
        RegistrySettings,
        create_secret_file,
        new_kek,
        new_signing_key,
    )
    from verifier.trust import fingerprint_of  # noqa: PLC0415

    try:
        settings = RegistrySettings()
        files = {
            "signing_key": (settings.data_dir / SIGNING_KEY_FILE, settings.signing_key),
            "key_encryption_key": (settings.data_dir / KEK_FILE, settings.key_encryption_key),
        }
        made = {
            "signing_key": lambda: new_signing_key(settings.origin),
            "key_encryption_key": new_kek,
        }
        created: dict[str, str] = {}
        kept: dict[str, str] = {}
        for name, (path, configured) in files.items():
            if configured is not None:
                kept[name] = f"CERTREG_{name.upper()}"  # the environment wins; no file needed
            elif create_secret_file(path, content=made[name]()):
                created[name] = str(path)
            else:
                kept[name] = str(path)
        vkey = settings.checkpoint_signer().verifier().vkey
        settings.kek()  # a kept file must still be a usable key
    except ValueError as exc:
        raise _fail("keys init", exc) from exc
    result = {
        "created": created,
        "kept": kept,
        "registry_key": vkey,
        "fingerprint": fingerprint_of(vkey),
    }
    emit(
        result,
        as_json=as_json,
        lines=[
            *(f"created {path} (mode 0600)" for path in created.values()),
            *(f"kept {where}" for where in kept.values()),
            f"registry key: {vkey}",
            f"registry key fingerprint: {fingerprint_of(vkey)}",
        ],
    )


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
    """Run the anchoring worker: form checkpoints, anchor them, reconcile after crashes.

    One worker is active per database; another started beside it stands by and takes over
    when the active one stops or dies."""
    import signal  # noqa: PLC0415
    import threading  # noqa: PLC0415

    from anchoring.errors import AnchoringError  # noqa: PLC0415
    from registry.logs import configure_logging  # noqa: PLC0415

    configure_logging()
    stack = _stack()
    try:
        stack.check_settings(worker=True)
    except ValueError as exc:
        stack.close()
        raise _fail("anchor", exc) from exc
    worker = stack.worker
    if metrics_port is not None:
        from prometheus_client import REGISTRY, start_http_server  # noqa: PLC0415

        from anchoring.metrics import RegistryCollector  # noqa: PLC0415

        REGISTRY.register(
            RegistryCollector(stack.storage.reading, worker=lambda: worker, clock=stack.clock.now)
        )
        start_http_server(metrics_port, addr="127.0.0.1")
    try:
        if once:
            worker.run_until_idle(timeout_s=300)
        else:
            stop = threading.Event()
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, lambda *_: stop.set())
            worker.run_standby(stop)
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
    stack = _stack()  # migrates once, before the workers start
    try:
        stack.check_settings(settings, worker=settings.run_worker)
    except ValueError as exc:
        raise _fail("serve", exc) from exc
    finally:
        stack.close()
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_config=None,
        access_log=False,
        # X-Forwarded-For/-Proto believed from CERTREG_TRUSTED_PROXIES only (uvicorn's default
        # trusts 127.0.0.1: any local process could then pick its own client address).
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=",".join(settings.trusted_proxies) or None,
    )


def _print_checks(verdict: dict[str, Any]) -> list[str]:
    marks = {"passed": "✔", "failed": "✘", "skipped": "–", "error": "?"}
    lines = [f"{verdict['status']}  {verdict.get('certificate_id') or ''}".rstrip()]
    if verdict.get("refreshed_from"):
        lines.append(
            f"  the bundle proves checkpoint {verdict['bundle_checkpoint_index']}; the status "
            f"is the one at checkpoint {verdict['checkpoint_index']}, refreshed from "
            f"{verdict['refreshed_from']}"
        )
    for check in verdict["checks"]:
        lines.append(
            f"  {marks[check['status']]} {check['name']:<22} {check['code']:<22} {check['message']}"
        )
    return lines


#: the exit code of a usage, trust-store or input error (docs/spec.md §9.4)
EXIT_USAGE = 2
EXIT_CANNOT_CONFIRM = 3

TrustFileOption = Annotated[
    Path | None,
    typer.Option(
        "--trust-file",
        metavar="FILE",
        help="The trust store (default: CERTREG_TRUST_FILE, else ~/.config/certreg/trust.json).",
    ),
]
OriginOption = Annotated[
    str | None,
    typer.Option(
        metavar="ORIGIN",
        help="Which pinned registry to trust (default: the bundle's origin, or the only one).",
    ),
]
RpcOption = Annotated[
    list[str] | None,
    typer.Option(
        "--rpc",
        metavar="URL",
        help="Chain JSON-RPC URL, instead of the pinned ones; repeat for several (they must "
        "agree).",
    ),
]


def _usage_error(command: str, message: str) -> typer.Exit:
    typer.echo(f"certreg {command}: {message}", err=True)
    return typer.Exit(EXIT_USAGE)


class _UnreadableBundle(str):
    """Why a file that claims to be a bundle (a compact form) cannot be decoded: INVALID."""


def _read_bundle(path: Path) -> Any:
    """The file as a JSON bundle, if it claims to be a certreg bundle; else a usage error (exit
    2). A compact (CBOR) bundle is recognised by its content and decoded to its JSON bundle; one
    that names our format but does not decode is an `_UnreadableBundle` (INVALID, exit 1)."""
    from registry.compact import CompactFormError, claims_compact_bundle, decode_bundle  # noqa: PLC0415
    from registry.core.verify import claims_our_format  # noqa: PLC0415

    if not path.exists():
        raise _usage_error("verify", f"{path}: no such file")
    if path.is_dir():
        raise _usage_error("verify", f"{path}: got a directory, want a proof bundle (.json)")
    try:
        data = path.read_bytes()[: 16 * 1024 * 1024 + 1]
    except OSError as exc:
        raise _usage_error("verify", f"{path}: {exc.strerror or exc}") from exc
    if claims_compact_bundle(data):
        try:
            return decode_bundle(data)
        except CompactFormError as exc:
            return _UnreadableBundle(str(exc))
    try:
        text = data.decode("utf-8-sig")
        bundle = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        kind = "PDF" if data.startswith(b"%PDF") else "text that is not JSON"
        if isinstance(exc, UnicodeDecodeError) and kind != "PDF":
            kind = "a binary file"
        raise _usage_error(
            "verify",
            f"{path}: got {kind}, want a certreg proof bundle (GET /v1/certificates/ID/proof)",
        ) from exc
    if not claims_our_format(bundle):
        raise _usage_error(
            "verify",
            f'{path}: JSON, but not a certreg proof bundle (no "format": "certreg-bundle/…")',
        )
    return bundle


def _bundle_origin(bundle: Any) -> str | None:
    """The origin named by the bundle's checkpoint note (its first line), to pick the entry."""
    checkpoint = bundle.get("checkpoint") if isinstance(bundle, dict) else None
    note = checkpoint.get("note") if isinstance(checkpoint, dict) else None
    return note.split("\n", 1)[0] if isinstance(note, str) and note else None


@app.command()
def verify(
    bundle: Annotated[
        Path,
        typer.Argument(
            metavar="BUNDLE", help="A proof bundle: a JSON file, or its compact form (CBOR)."
        ),
    ],
    rpc: RpcOption = None,
    registry: Annotated[
        str | None,
        typer.Option(
            metavar="URL",
            help="Where to fetch a fresh status for an older bundle (any registry or mirror; "
            "checked against the chain, never trusted). Default: the pinned registry's URL.",
        ),
    ] = None,
    origin: OriginOption = None,
    offline: Annotated[
        bool,
        typer.Option(
            "--offline", help="Do not read the chain: the verdict is UNCONFIRMED at best."
        ),
    ] = False,
    trust_file: TrustFileOption = None,
    vkey: Annotated[
        str | None,
        typer.Option(
            metavar="VKEY",
            help="Pin the registry's key (C2SP vkey) here instead of the trust store.",
        ),
    ] = None,
    contract: Annotated[
        str | None,
        typer.Option(metavar="ADDRESS", help="With --vkey: the anchoring contract address."),
    ] = None,
    chain_id: Annotated[
        int | None, typer.Option(metavar="ID", help="With --vkey: the chain id.")
    ] = None,
    current: Annotated[
        bool, typer.Option("--current", hidden=True, help="Ignored: verdicts are current.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Verify a proof bundle against the chain, with the trust roots you pinned.

    VALID (exit 0) only when every check passed against the chain and the status is the one at
    the chain's latest checkpoint. Exit 1: INVALID, WITHDRAWN, SUSPENDED, EXPIRED, SUPERSEDED,
    UNKNOWN. Exit 3: UNCONFIRMED (no chain), STALE (no fresh status), PENDING. Exit 2: not a
    bundle, or no trust pinned (run `certreg trust add URL --rpc RPC` first)."""
    from registry.core.verify import malformed_verdict  # noqa: PLC0415
    from verifier.errors import TrustError  # noqa: PLC0415
    from verifier.verify import Verifier  # noqa: PLC0415

    del current  # accepted for old scripts; every verdict is for the status now
    data = _read_bundle(bundle)
    try:
        if vkey is not None or contract is not None or chain_id is not None:
            verifier = _flag_pinned_verifier(vkey, contract, chain_id, rpc or [], registry, offline)
        else:
            store = _trust_store(trust_file)
            verifier = Verifier.from_trust_store(
                store,
                origin=origin or _pinned_origin(store, _bundle_origin(data)),
                rpc=rpc or [],
                registry_url=registry,
                offline=offline,
            )
    except TrustError as exc:
        raise _usage_error("verify", str(exc)) from exc
    if isinstance(data, _UnreadableBundle):
        verdict = malformed_verdict(str(data))
    else:
        verdict = verifier.verify(data)
    result = verdict.to_json()
    emit(result, as_json=as_json, lines=_print_checks(result))
    raise typer.Exit(verdict.exit_code)


def _trust_store(path: Path | None) -> Any:
    from verifier.trust import TrustStore  # noqa: PLC0415

    return TrustStore.load(path)


def _pinned_origin(store: Any, origin: str | None) -> str | None:
    """`origin` if the store pins it (so that several entries need no --origin), else None."""
    if origin is None:
        return None
    return origin if store.get(origin) is not None else None


def _flag_pinned_verifier(
    vkey: str | None,
    contract: str | None,
    chain_id: int | None,
    rpc: list[str],
    registry: str | None,
    offline: bool,
) -> Any:
    """Trust pinned on the command line: all of --vkey, --contract and --chain-id."""
    from registry.core.note import NoteVerifier  # noqa: PLC0415
    from registry.core.verify import TrustAnchors  # noqa: PLC0415
    from registry.errors import RegistryError  # noqa: PLC0415
    from verifier.errors import TrustError  # noqa: PLC0415
    from verifier.refresh import HttpStatusSource  # noqa: PLC0415
    from verifier.verify import Verifier  # noqa: PLC0415

    if vkey is None or contract is None or chain_id is None:
        raise TrustError(
            "--vkey, --contract and --chain-id pin trust together: got only some of them "
            "(or use the trust store: certreg trust add URL --rpc RPC)"
        )
    try:
        trust = TrustAnchors(
            registry_key=NoteVerifier.from_vkey(vkey), chain_id=chain_id, contract=contract
        )
    except RegistryError as exc:
        raise TrustError(f"--vkey: {exc}") from exc
    if offline:
        return Verifier.offline(trust)
    source = None if registry is None else HttpStatusSource(registry)
    return Verifier.for_chain(trust, rpc=rpc, status_source=source)


@app.command()
def audit(
    rpc: RpcOption = None,
    registry: Annotated[
        str | None,
        typer.Option(
            metavar="URL", help="The registry to audit (default: the pinned registry's URL)."
        ),
    ] = None,
    origin: Annotated[
        str | None,
        typer.Option(
            metavar="ORIGIN", help="Which pinned registry to audit (default: the only one)."
        ),
    ] = None,
    trust_file: TrustFileOption = None,
    at: Annotated[
        str | None,
        typer.Option(
            metavar="DATE|BLOCK",
            help="Point in time: a date YYYY-MM-DD (end of day, UTC) or a block.",
        ),
    ] = None,
    certificate: Annotated[
        str | None,
        typer.Option(metavar="ID", help="With --at: the certificate whose status then to report."),
    ] = None,
    records: Annotated[
        bool,
        typer.Option(
            "--records",
            help="Also fetch the record of every certificate issued under an admission (one "
            "request each) and report any outside the admission's scope on the day.",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Check every anchored checkpoint, consistency proof, log entry, map root and signature
    of a pinned registry, against the chain.

    Exit 0 when nothing diverges, 1 when something does, 3 when the registry or the chain
    could not be read, 2 when no trust is pinned."""
    import datetime as dt  # noqa: PLC0415

    import httpx2  # noqa: PLC0415

    from verifier.audit import AuditUnavailableError  # noqa: PLC0415
    from verifier.audit import audit as run_audit  # noqa: PLC0415
    from verifier.chain import CHAIN_ERRORS, read_only_client  # noqa: PLC0415
    from verifier.errors import TrustError  # noqa: PLC0415

    try:
        store = _trust_store(trust_file)
        entry = store.select(origin)
    except TrustError as exc:
        raise _usage_error("audit", str(exc)) from exc
    endpoints = rpc or list(entry.rpc)
    url = registry or entry.registry_url
    if not endpoints:
        raise _usage_error(
            "audit",
            f"no RPC endpoint is pinned for {entry.origin}: pass --rpc URL, or run "
            f"'certreg trust add {url or 'URL'} --rpc RPC_URL'",
        )
    if url is None:
        raise _usage_error(
            "audit", f"no registry URL is pinned for {entry.origin}: pass --registry"
        )
    at_block = at_time = None
    if at is not None:
        if at.isdigit():
            at_block = int(at)
        else:
            try:
                day = dt.date.fromisoformat(at)
            except ValueError as exc:
                raise _usage_error(
                    "audit", f"--at: got {at!r}, want YYYY-MM-DD or a block number"
                ) from exc
            at_time = dt.datetime.combine(day, dt.time.max, tzinfo=dt.UTC)
    try:
        client = read_only_client(
            rpc_url=endpoints[0], contract=entry.contract, chain_id=entry.chain_id
        )
        with httpx2.Client(base_url=url.rstrip("/"), timeout=30) as http:
            report = run_audit(
                client=client,
                http=http,
                vkey=entry.note_verifier(),
                at_block=at_block,
                at_time=at_time,
                certificate_id=certificate,
                authority_key=entry.authority_key(),
                records=records,
            )
    except AuditUnavailableError as exc:
        typer.echo(f"certreg audit: {exc}", err=True)
        raise typer.Exit(EXIT_CANNOT_CONFIRM) from exc
    except CHAIN_ERRORS as exc:
        from anchoring.client import redact_endpoint, scrub  # noqa: PLC0415 (fast --help)

        reason = scrub(str(exc).splitlines()[0][:200]) if str(exc) else type(exc).__name__
        where = redact_endpoint(endpoints[0])
        typer.echo(f"certreg audit: the chain at {where} did not answer: {reason}", err=True)
        raise typer.Exit(EXIT_CANNOT_CONFIRM) from exc
    result = report.to_json()
    lines = [
        f"{'OK' if report.ok else 'DIVERGES'}: {report.checkpoints} checkpoints, "
        f"{report.events} entries, {report.signatures_checked} issuer signatures checked; "
        f"{report.statements} authority statements, "
        + (
            f"{report.authority_signatures_checked} signatures checked"
            if entry.authority_vkey is not None
            else "signatures not checked (no authority key pinned)"
        )
        + (f"; {report.scope_checked} records checked against their scope" if records else ""),
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
    port: Annotated[int, typer.Option(metavar="PORT", help="API port.")] = 8000,
    chain_port: Annotated[
        int, typer.Option(metavar="PORT", help="The local chain's JSON-RPC port.")
    ] = 8545,
    interval: Annotated[
        float, typer.Option(metavar="SECONDS", help="Seconds between checkpoints.")
    ] = 5.0,
) -> None:
    """Run everything locally: Hardhat node, contract, demo issuer, API and anchoring worker."""
    from api.dev import run_dev  # noqa: PLC0415

    run_dev(port=port, chain_port=chain_port, checkpoint_interval_s=interval)
