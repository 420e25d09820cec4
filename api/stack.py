"""The composition root: the running system's parts, built once from the settings — database
(migrated), registry service, transparency service, checkpoint builder, proof assembler, the
anchoring worker with its chain clients, and the registry's own verifier.

The CLI and the API use this; tests build the parts directly. It is the one module of `api/`
that imports `registry.db` (to build the engine, sessions and caches): routes and commands go
through the services it builds (tests/unit/test_layers.py).
"""

import logging
from functools import cached_property

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from anchoring.client import AnchorClient, settings_contract_address
from anchoring.logsigner import Authoriser, authoriser_from_settings
from anchoring.settings import DEV_CHAIN_IDS, AnchoringSettings
from anchoring.succession import line_from
from anchoring.worker import AnchoringWorker, WorkerConfig
from api.settings import ApiSettings
from registry.assembly import AnchorInfo, NothingAnchoredError, ProofAssembler
from registry.checkpointing import CheckpointBuilder
from registry.clock import SYSTEM_CLOCK, Clock
from registry.core.verify import TrustAnchors
from registry.errors import SettingsError
from registry.imports import ImportRunner
from registry.service import RegistryService
from registry.settings import KEK_FILE, SIGNING_KEY_FILE, RegistrySettings
from registry.storage import Storage
from registry.transparency import TransparencyService
from verifier.chain import CHAIN_ERRORS, ChainReader, read_only_client
from verifier.refresh import RefreshError
from verifier.verify import Verifier

log = logging.getLogger("certreg.api")

__all__ = ["AssemblerStatusSource", "Stack", "missing_settings"]


def missing_settings(
    registry: RegistrySettings,
    chain: AnchoringSettings,
    api: ApiSettings | None = None,
    *,
    worker: bool = False,
) -> list[str]:
    """What a deployment has left unset that only a development run may leave to a default.

    Each default would be wrong somewhere it matters: a secret generated per replica (replicas
    then sign with different keys), Hardhat's chain id, a contract looked up in a file nobody
    wrote, QR codes pointing at 127.0.0.1. `certreg dev` sets `CERTREG_DEV` and is exempt."""
    if registry.dev:
        return []
    missing = []
    if not registry.has_secret("signing_key"):
        missing.append(
            "CERTREG_SIGNING_KEY (the checkpoint-signing key; or run `certreg keys init` for "
            f"{registry.data_dir / SIGNING_KEY_FILE})"
        )
    if not registry.has_secret("key_encryption_key"):
        missing.append(
            "CERTREG_KEY_ENCRYPTION_KEY (seals issuers' keys; or run `certreg keys init` for "
            f"{registry.data_dir / KEK_FILE})"
        )
    if "chain_id" not in chain.model_fields_set:
        missing.append("CERTREG_CHAIN_ID (the chain id your node reports)")
    if chain.contract_address is None and not chain.deployment_file.is_file():
        missing.append(
            "CERTREG_CONTRACT_ADDRESS (the anchoring contract; or the file "
            f"{chain.deployment_file} that `certreg deploy` writes)"
        )
    in_process_signer = chain.chain_id in DEV_CHAIN_IDS and chain.log_signer_key is not None
    if worker and not chain.log_signer_url and not in_process_signer:
        missing.append(
            "CERTREG_LOG_SIGNER_URL (the `certreg log-signer` that authorises each checkpoint)"
        )
    if api is not None and "public_base_url" not in api.model_fields_set:
        missing.append("CERTREG_PUBLIC_BASE_URL (the https:// address QR codes and links use)")
    return missing


class AssemblerStatusSource:
    """Fresh statuses for the registry's own verifier, straight from its proof assembler."""

    name = "this registry"

    def __init__(self, assembler: ProofAssembler) -> None:
        self._assembler = assembler

    def fetch(self, certificate_id: str) -> object:
        try:
            return self._assembler.status_document(certificate_id).model_dump(mode="json")
        except NothingAnchoredError as exc:
            raise RefreshError(str(exc)) from exc


class Stack:
    """Lazily built parts; one per process."""

    def __init__(
        self,
        registry: RegistrySettings | None = None,
        chain: AnchoringSettings | None = None,
        *,
        migrate: bool = True,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.settings = registry or RegistrySettings()
        self.chain_settings = chain or AnchoringSettings()
        self.clock = clock
        self.storage = Storage(
            self.settings.resolved_database_url(),
            proof_cache_mb=self.settings.proof_cache_mb,
            migrate=migrate,
        )
        self.engine: Engine = self.storage.engine
        self.sessions: sessionmaker[Session] = self.storage.sessions
        self._succession: list[dict[str, object]] | None = None

    @cached_property
    def service(self) -> RegistryService:
        return RegistryService(
            sessions=self.sessions,
            kek=self.settings.kek(),
            max_batch_size=self.settings.max_batch_size,
            issuance_quota_per_day=self.settings.issuance_quota_per_day,
            clock=self.clock.now,
            session_hours=self.settings.session_hours,
            session_idle_minutes=self.settings.session_idle_minutes,
            authority_key=self.settings.authority_key(),
        )

    @cached_property
    def import_runner(self) -> ImportRunner:
        """Issues confirmed spreadsheet imports in the background (registry/imports.py)."""
        return ImportRunner(self.service.imports)

    @cached_property
    def builder(self) -> CheckpointBuilder:
        return CheckpointBuilder(
            sessions=self.sessions,
            signer=self.settings.checkpoint_signer(),
            map_cache=self.storage.map_cache,
            clock=self.clock.now,
        )

    @cached_property
    def anchor_info(self) -> AnchorInfo:
        """Chain id and contract address, as configured or from the deployment file."""
        return AnchorInfo(
            chain_id=self.chain_settings.chain_id,
            contract=settings_contract_address(self.chain_settings),
        )

    def succession(self) -> list[dict[str, object]] | None:
        """The line of contracts this registry anchors in, newest first (docs/spec.md §7.7),
        read from the chain once (it never changes for a contract); None while it cannot be
        read."""
        if self._succession is None:
            try:
                client = read_only_client(
                    rpc_url=self.chain_settings.rpc_url,
                    contract=self.anchor_info.contract,
                    chain_id=self.anchor_info.chain_id,
                )
                self._succession = line_from(client).to_json()
            except CHAIN_ERRORS as exc:
                log.warning("succession: the chain could not be read: %s", type(exc).__name__)
                return None
        return self._succession

    @cached_property
    def assembler(self) -> ProofAssembler:
        """Bundles in bounded memory (`CERTREG_PROOF_CACHE_MB`, see `registry.storage`); the
        checkpoint builder of a worker keeps the whole map."""
        return ProofAssembler(
            engine=self.engine,
            map_cache=self.storage.proof_map(),
            anchor_info=lambda: self.anchor_info,
            checkpoint_interval_s=self.settings.checkpoint_interval_s,
            log_tree=self.storage.log_tree,
        )

    @cached_property
    def transparency(self) -> TransparencyService:
        return TransparencyService(sessions=self.sessions, log_tree=self.storage.log_tree)

    def anchor_client(self) -> AnchorClient:
        return AnchorClient.from_settings(self.chain_settings)

    def issuer_admin_client(self) -> AnchorClient:
        return AnchorClient.from_settings(
            self.chain_settings, key=self.chain_settings.issuer_admin_key
        )

    def log_signer(self) -> Authoriser:
        """The log signer the worker asks (CERTREG_LOG_SIGNER_URL; in-process on dev chains)."""
        return authoriser_from_settings(
            self.chain_settings, registry_key=self.settings.checkpoint_signer().verifier()
        )

    @cached_property
    def worker(self) -> AnchoringWorker:
        return AnchoringWorker(
            engine=self.engine,
            sessions=self.sessions,
            builder=self.builder,
            client_factory=self.anchor_client,
            authoriser_factory=self.log_signer,
            key_client_factory=self.issuer_admin_client,
            config=WorkerConfig(
                checkpoint_interval_s=self.settings.checkpoint_interval_s,
                checkpoint_max_events=self.settings.checkpoint_max_events,
                lock_retry_s=self.settings.worker_lock_retry_s,
            ),
            clock=self.clock,
        )

    @cached_property
    def trust(self) -> TrustAnchors:
        """What this registry's own verifier pins: its signing key, chain and contract, and the
        authority's key it checks statements with."""
        return TrustAnchors(
            registry_key=self.settings.checkpoint_signer().verifier(),
            chain_id=self.anchor_info.chain_id,
            contract=self.anchor_info.contract,
            authority_key=self.settings.authority_key(),
        )

    @cached_property
    def verifier(self) -> Verifier:
        """The registry's own verifier (`POST /v1/verify`, the pages): its pinned key, chain and
        contract, the configured node, and fresh statuses from its own assembler."""
        rpc = self.chain_settings.rpc_url
        reader = ChainReader(
            [
                (
                    rpc,
                    lambda: read_only_client(
                        rpc_url=rpc,
                        contract=self.anchor_info.contract,
                        chain_id=self.chain_settings.chain_id,
                    ),
                )
            ],
            monotonic=self.clock.monotonic,
        )
        return Verifier(
            trust=self.trust,
            chain=reader,
            status_source=AssemblerStatusSource(self.assembler),
            clock=self.clock.now,
        )

    def check_settings(self, api: ApiSettings | None = None, *, worker: bool = False) -> None:
        """Refuse to start with a setting missing (`missing_settings`), naming every one;
        `worker`: this process anchors (`certreg anchor`, `serve --with-worker`)."""
        missing = missing_settings(self.settings, self.chain_settings, api, worker=worker)
        if missing:
            raise SettingsError(
                "missing settings: got no "
                + "; no ".join(missing)
                + "; want each set (docs/deploy.md), or `certreg dev` for a local run"
            )

    def close(self) -> None:
        if "import_runner" in self.__dict__:
            self.import_runner.close()
        self.storage.close()
