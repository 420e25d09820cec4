"""The log signer: the one key that can authorise a checkpoint, kept apart from the key that
sends it (docs/spec.md §7.3, docs/deploy.md §2).

`LogSigner` authorises a checkpoint only after checking itself what it signs:

1. the checkpoint note opens with the registry's pinned checkpoint key (C2SP signed note,
   docs/spec.md §6) — so the step is one the registry itself signed;
2. it reads the latest anchored checkpoint from the contract itself (its own node connection,
   after checking the chain id and that the contract's code is ours), and the note's size
   exceeds it by at most `max_growth` entries;
3. the consistency proof verifies (RFC 9162 §2.1.4.2, the core's verifier) from that anchored
   checkpoint to the note's size and root — the first checkpoint needs an empty one;

then signs the EIP-712 step from exactly that anchored checkpoint (`anchoring.authorisation`).
It signs nothing else, so it needs no secret from its callers: whoever asks gets a signature
only for a checkpoint the registry signed that extends what is on chain.

`LogSignerService` serves it over HTTP (`certreg log-signer`): `POST /v1/authorise` with
`{"note": …, "consistency_proof": ["0x…", …]}`, and `GET /v1/health`. `HttpAuthoriser` is the
worker's side; `LogSigner` itself is an authoriser too (in-process, development chains only).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Annotated, Any, Final, Protocol

import requests
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from web3 import Web3

from anchoring.authorisation import AnchorDomain, Authorisation, CheckpointStep, sign_step
from anchoring.client import (
    AnchorClient,
    ChainClient,
    redact_endpoint,
    settings_artifact,
    settings_contract_address,
)
from anchoring.errors import AnchoringError, AuthorisationRefusedError, SettingsError
from anchoring.settings import DEV_CHAIN_IDS, AnchoringSettings, LogSignerSettings
from registry.core.checkpoint import verify_checkpoint
from registry.core.errors import CoreError, ProofError
from registry.core.note import NoteVerifier
from registry.core.proofs import verify_consistency
from registry.logs import log_event

__all__ = [
    "REFUSAL_REASONS",
    "Authoriser",
    "HttpAuthoriser",
    "LogSigner",
    "LogSignerService",
    "authoriser_from_settings",
    "read_only_anchor_client",
]

log = logging.getLogger("certreg.logsigner")

#: a checkpoint note is four short lines and a signature or two; a proof at most 2·64 hashes
_MAX_BODY: Final = 64 * 1024
_MAX_NOTE: Final = 16 * 1024
_MAX_PROOF: Final = 128
#: why a checkpoint was not authorised; a signer's answer naming another reason counts as
#: `unavailable` (the worker's metric has one series per reason, never one per string)
REFUSAL_REASONS: Final = (
    "bad_note",
    "not_growing",
    "too_large",
    "inconsistent",
    "bad_request",
    "unavailable",
)
_Hash32 = Annotated[str, StringConstraints(pattern=r"^0x[0-9a-fA-F]{64}$")]


class Authoriser(Protocol):
    """Whatever gives the worker the log signer's authorisation of a checkpoint."""

    def authorise(self, *, note: str, proof: Sequence[bytes]) -> Authorisation: ...


def read_only_anchor_client(settings: AnchoringSettings) -> AnchorClient:
    """The contract the settings name, for reads (a throwaway account that never signs), after
    checking the node's chain id and the contract's code."""
    w3 = Web3(Web3.HTTPProvider(settings.rpc_url, request_kwargs={"timeout": 15}))
    chain = ChainClient(w3, Account.create(), chain_id=settings.chain_id)
    chain.check_chain_id()
    artifact = settings_artifact(settings)
    address = settings_contract_address(settings, artifact=artifact)
    client = AnchorClient(chain, address, artifact=artifact)
    client.check_code()
    return client


class LogSigner:
    """Checks a checkpoint against the registry's key and the chain, then signs it."""

    def __init__(
        self,
        *,
        account: LocalAccount,
        registry_key: NoteVerifier,
        contract: AnchorClient,
        max_growth: int = 100_000_000,
    ) -> None:
        self.account = account
        self.registry_key = registry_key
        self.contract = contract
        self.max_growth = max_growth
        # One at a time: each authorisation reads the chain, then signs from what it read.
        self._lock = threading.Lock()

    @property
    def address(self) -> str:
        return str(self.account.address)

    @property
    def domain(self) -> AnchorDomain:
        return self.contract.domain()

    def holds_role(self) -> bool:
        """Whether this key holds LOG_SIGNER_ROLE on the contract now."""
        return self.contract.has_role("LOG_SIGNER_ROLE", self.account.address)

    def authorise(self, *, note: str, proof: Sequence[bytes]) -> Authorisation:
        """The authorisation of the checkpoint `note` on top of the latest anchored one, or
        `AuthorisationRefusedError` saying why not (see the module docstring)."""
        try:
            checkpoint = verify_checkpoint(note, verifier=self.registry_key)
        except CoreError as exc:
            raise AuthorisationRefusedError(
                f"checkpoint note: got one that does not open with the registry key "
                f"{self.registry_key.vkey} ({exc}), want a note the registry signed",
                reason="bad_note",
            ) from exc
        with self._lock:
            # The latest checkpoint (a successor that has not anchored yet: its start).
            base = self.contract.anchor_base()
            anchored = 0 if base is None else base.tree_size
            if checkpoint.tree_size <= anchored:
                raise AuthorisationRefusedError(
                    f"tree size: got {checkpoint.tree_size}, want more than {anchored} "
                    "(anchored on chain)",
                    reason="not_growing",
                )
            if checkpoint.tree_size - anchored > self.max_growth:
                raise AuthorisationRefusedError(
                    f"tree size: got {checkpoint.tree_size}, want at most "
                    f"{anchored + self.max_growth} ({self.max_growth} entries beyond the "
                    f"anchored {anchored})",
                    reason="too_large",
                )
            if base is None:
                if proof:
                    raise AuthorisationRefusedError(
                        f"first checkpoint: got a proof of {len(proof)} hashes, want none",
                        reason="inconsistent",
                    )
            else:
                try:
                    verify_consistency(
                        size1=base.tree_size,
                        size2=checkpoint.tree_size,
                        root1=base.log_root,
                        root2=checkpoint.root_hash,
                        proof=list(proof),
                    )
                except ProofError as exc:
                    raise AuthorisationRefusedError(
                        f"consistency proof from the anchored size {base.tree_size} to "
                        f"{checkpoint.tree_size}: got one that does not verify ({exc}), want "
                        "one that does",
                        reason="inconsistent",
                    ) from exc
            step = CheckpointStep.on_top_of(
                base,
                tree_size=checkpoint.tree_size,
                log_root=checkpoint.root_hash,
                map_root=checkpoint.map_root,
            )
            authorisation = sign_step(self.account, self.domain, step)
        log_event(
            log,
            "log_signer.signed",
            previous_tree_size=step.previous_tree_size,
            tree_size=step.tree_size,
            log_root="0x" + step.log_root.hex(),
        )
        return authorisation

    @classmethod
    def from_settings(
        cls,
        settings: LogSignerSettings | None = None,
        chain: AnchoringSettings | None = None,
        *,
        registry_key: NoteVerifier | None = None,
    ) -> LogSigner:
        """The signer the settings describe (`registry_key` overrides CERTREG_REGISTRY_VKEY)."""
        settings = settings or LogSignerSettings()
        chain = chain or AnchoringSettings()
        if settings.log_signer_key is None:
            raise SettingsError("CERTREG_LOG_SIGNER_KEY: got nothing, want the log signer's key")
        if settings.chain_id != chain.chain_id:
            raise SettingsError(
                f"chain id: got {settings.chain_id} for the log signer, want the chain's "
                f"{chain.chain_id}"
            )
        if registry_key is None:
            if settings.registry_vkey is None:
                raise SettingsError(
                    "CERTREG_REGISTRY_VKEY: got nothing, want the registry's checkpoint "
                    "verifier key (GET /v1/registry → vkey)"
                )
            try:
                registry_key = NoteVerifier.from_vkey(settings.registry_vkey)
            except CoreError as exc:
                raise SettingsError(f"CERTREG_REGISTRY_VKEY: {exc}") from exc
        return cls(
            account=Account.from_key(settings.log_signer_key.get_secret_value()),
            registry_key=registry_key,
            contract=read_only_anchor_client(chain),
            max_growth=settings.log_signer_max_growth,
        )


# -- over HTTP ----------------------------------------------------------------------------------


class AuthoriseRequest(BaseModel):
    """`POST /v1/authorise`."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    note: str = Field(max_length=_MAX_NOTE)
    consistency_proof: list[_Hash32] = Field(max_length=_MAX_PROOF)


class AuthoriseResponse(BaseModel):
    """The answer: the signature, its signer, and the step it signs, hex-encoded."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    signature: str = Field(pattern=r"^0x[0-9a-f]{130}$")
    signer: str
    chain_id: int
    contract: str
    previous_tree_size: int
    previous_log_root: _Hash32
    tree_size: int
    log_root: _Hash32
    map_root: _Hash32

    @classmethod
    def of(cls, authorisation: Authorisation, domain: AnchorDomain) -> AuthoriseResponse:
        step = authorisation.step
        return cls(
            signature="0x" + authorisation.signature.hex(),
            signer=authorisation.signer,
            chain_id=domain.chain_id,
            contract=domain.contract,
            previous_tree_size=step.previous_tree_size,
            previous_log_root="0x" + step.previous_log_root.hex(),
            tree_size=step.tree_size,
            log_root="0x" + step.log_root.hex(),
            map_root="0x" + step.map_root.hex(),
        )

    def authorisation(self) -> Authorisation:
        step = CheckpointStep(
            previous_tree_size=self.previous_tree_size,
            previous_log_root=bytes.fromhex(self.previous_log_root[2:]),
            tree_size=self.tree_size,
            log_root=bytes.fromhex(self.log_root[2:]),
            map_root=bytes.fromhex(self.map_root[2:]),
        )
        return Authorisation(
            step=step,
            signature=bytes.fromhex(self.signature[2:]),
            signer=to_checksum_address(self.signer),
        )


def _handler(signer: LogSigner) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "certreg-log-signer"
        sys_version = ""

        def log_message(self, format: str, *args: Any) -> None:  # noqa: ARG002
            return  # requests are logged as events below, not as access-log lines

        def _answer(self, status: HTTPStatus, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path != "/v1/health":
                self._answer(HTTPStatus.NOT_FOUND, {"reason": "not_found"})
                return
            try:
                holds = signer.holds_role()
            except AnchoringError as exc:
                self._answer(
                    HTTPStatus.SERVICE_UNAVAILABLE, {"reason": "chain", "detail": str(exc)}
                )
                return
            domain = signer.domain
            self._answer(
                HTTPStatus.OK,
                {
                    "signer": signer.address,
                    "chain_id": domain.chain_id,
                    "contract": domain.contract,
                    "holds_log_signer_role": holds,
                },
            )

        def do_POST(self) -> None:
            if self.path != "/v1/authorise":
                self._answer(HTTPStatus.NOT_FOUND, {"reason": "not_found"})
                return
            try:
                length = int(self.headers.get("Content-Length", ""))
            except ValueError:
                length = -1
            if not 0 <= length <= _MAX_BODY:
                self._answer(
                    HTTPStatus.BAD_REQUEST,
                    {"reason": "bad_request", "detail": f"body: want 0..{_MAX_BODY} bytes"},
                )
                return
            try:
                request = AuthoriseRequest.model_validate_json(self.rfile.read(length))
            except ValidationError as exc:
                detail = "; ".join(
                    f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()
                )
                self._answer(HTTPStatus.BAD_REQUEST, {"reason": "bad_request", "detail": detail})
                return
            proof = [bytes.fromhex(h[2:]) for h in request.consistency_proof]
            try:
                authorisation = signer.authorise(note=request.note, proof=proof)
            except AuthorisationRefusedError as exc:
                log_event(
                    log, "log_signer.refused", logging.WARNING, reason=exc.reason, error=str(exc)
                )
                self._answer(HTTPStatus.CONFLICT, {"reason": exc.reason, "detail": str(exc)})
                return
            except AnchoringError as exc:
                log_event(log, "log_signer.chain_error", logging.WARNING, error=str(exc))
                self._answer(
                    HTTPStatus.SERVICE_UNAVAILABLE, {"reason": "unavailable", "detail": str(exc)}
                )
                return
            body = AuthoriseResponse.of(authorisation, signer.domain)
            self._answer(HTTPStatus.OK, body.model_dump())

    return Handler


class LogSignerService:
    """`LogSigner` over HTTP on `host:port` (port 0: a free one, see `url`)."""

    def __init__(self, signer: LogSigner, *, host: str = "127.0.0.1", port: int = 8547) -> None:
        self.signer = signer
        self._server = ThreadingHTTPServer((host, port), _handler(signer))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def serve_forever(self) -> None:
        log_event(log, "log_signer.started", url=self.url, signer=self.signer.address)
        self._server.serve_forever(poll_interval=0.2)

    def start(self) -> LogSignerService:
        """Serve in a background thread (tests, `certreg dev`)."""
        self._thread = threading.Thread(target=self.serve_forever, name="log-signer", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> LogSignerService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass(frozen=True)
class HttpAuthoriser:
    """The worker's side: asks `certreg log-signer` at `url`."""

    url: str
    timeout_s: float = 30.0

    def authorise(self, *, note: str, proof: Sequence[bytes]) -> Authorisation:
        body = {"note": note, "consistency_proof": ["0x" + bytes(h).hex() for h in proof]}
        where = redact_endpoint(self.url)
        try:
            response = requests.post(
                self.url.rstrip("/") + "/v1/authorise", json=body, timeout=self.timeout_s
            )
        except requests.RequestException as exc:
            raise AuthorisationRefusedError(
                f"log signer at {where}: got no answer ({type(exc).__name__}), want one",
                reason="unavailable",
            ) from exc
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if response.status_code != HTTPStatus.OK or not isinstance(answer, dict):
            reason = answer.get("reason") if isinstance(answer, dict) else None
            detail = answer.get("detail") if isinstance(answer, dict) else None
            raise AuthorisationRefusedError(
                f"log signer at {where}: got HTTP {response.status_code} "
                f"({detail or 'no detail'}), want an authorisation",
                reason=reason if reason in REFUSAL_REASONS else "unavailable",
            )
        try:
            return AuthoriseResponse.model_validate(answer).authorisation()
        except (ValidationError, ValueError) as exc:
            raise AuthorisationRefusedError(
                f"log signer at {where}: got a malformed answer, want an authorisation",
                reason="unavailable",
            ) from exc


def authoriser_from_settings(
    settings: AnchoringSettings, *, registry_key: NoteVerifier
) -> Authoriser:
    """The worker's authoriser: the log signer at CERTREG_LOG_SIGNER_URL; on a development
    chain only, without a URL, an in-process signer with CERTREG_LOG_SIGNER_KEY.

    Off development chains the log signer's key in the worker's own settings is refused: the
    point of the role is that the anchoring host never holds it (docs/deploy.md §2).
    """
    key = settings.log_signer_key
    if key is not None and settings.chain_id not in DEV_CHAIN_IDS:
        raise SettingsError(
            f"CERTREG_LOG_SIGNER_KEY: got the log signer's key in the anchoring worker's "
            f"settings on chain {settings.chain_id}; want it only in the `certreg log-signer` "
            "process, on another host, and CERTREG_LOG_SIGNER_URL here"
        )
    if settings.log_signer_url:
        return HttpAuthoriser(settings.log_signer_url, timeout_s=settings.log_signer_timeout_s)
    if key is None:
        raise SettingsError(
            "CERTREG_LOG_SIGNER_URL: got nothing, want the address of `certreg log-signer` "
            "(or, on a development chain only, CERTREG_LOG_SIGNER_KEY to sign in-process)"
        )
    return LogSigner(
        account=Account.from_key(key.get_secret_value()),
        registry_key=registry_key,
        contract=read_only_anchor_client(settings),
    )
