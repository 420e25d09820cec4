"""The running system's parts, built once from the settings: database (migrated), registry
service, checkpoint builder, proof assembler, and the anchoring worker with its chain clients.

The CLI and the API use this; tests build the parts directly.
"""

import datetime as dt
from collections.abc import Callable
from functools import cached_property

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from anchoring.client import AnchorClient, settings_artifact
from anchoring.deployment import load_deployment
from anchoring.settings import AnchoringSettings
from anchoring.verify import ChainVerifier, read_only_client
from anchoring.worker import AnchoringWorker, WorkerConfig
from registry.assembly import AnchorInfo, ProofAssembler
from registry.checkpointing import CheckpointBuilder
from registry.core.verify import TrustAnchors
from registry.db.engine import make_engine, make_session_factory
from registry.db.mapstore import AnchoredMapCache
from registry.db.migrate import upgrade
from registry.service import RegistryService, utc_now
from registry.settings import RegistrySettings

__all__ = ["Stack"]


class Stack:
    """Lazily built parts; one per process."""

    def __init__(
        self,
        registry: RegistrySettings | None = None,
        chain: AnchoringSettings | None = None,
        *,
        migrate: bool = True,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self.settings = registry or RegistrySettings()
        self.chain_settings = chain or AnchoringSettings()
        self.clock = clock
        self.engine: Engine = make_engine(self.settings.resolved_database_url())
        if migrate:
            upgrade(self.engine)
        self.sessions: sessionmaker[Session] = make_session_factory(self.engine)
        self.map_cache = AnchoredMapCache()

    @cached_property
    def service(self) -> RegistryService:
        return RegistryService(
            sessions=self.sessions,
            kek=self.settings.kek(),
            max_batch_size=self.settings.max_batch_size,
            clock=self.clock,
        )

    @cached_property
    def builder(self) -> CheckpointBuilder:
        return CheckpointBuilder(
            sessions=self.sessions,
            signer=self.settings.checkpoint_signer(),
            map_cache=self.map_cache,
            clock=self.clock,
        )

    @cached_property
    def anchor_info(self) -> AnchorInfo:
        """Chain id and contract address, as configured or from the deployment file."""
        address = self.chain_settings.contract_address
        if address is None:
            address = load_deployment(
                self.chain_settings.deployment_file,
                chain_id=self.chain_settings.chain_id,
                artifact=settings_artifact(self.chain_settings),
            ).address
        return AnchorInfo(chain_id=self.chain_settings.chain_id, contract=address)

    @cached_property
    def assembler(self) -> ProofAssembler:
        return ProofAssembler(
            engine=self.engine,
            map_cache=self.map_cache,
            anchor_info=lambda: self.anchor_info,
            checkpoint_interval_s=self.settings.checkpoint_interval_s,
        )

    def anchor_client(self) -> AnchorClient:
        return AnchorClient.from_settings(self.chain_settings)

    def issuer_admin_client(self) -> AnchorClient:
        return AnchorClient.from_settings(
            self.chain_settings, key=self.chain_settings.issuer_admin_key
        )

    @cached_property
    def worker(self) -> AnchoringWorker:
        return AnchoringWorker(
            engine=self.engine,
            sessions=self.sessions,
            builder=self.builder,
            client_factory=self.anchor_client,
            key_client_factory=self.issuer_admin_client,
            config=WorkerConfig(
                checkpoint_interval_s=self.settings.checkpoint_interval_s,
                checkpoint_max_events=self.settings.checkpoint_max_events,
            ),
        )

    @cached_property
    def trust(self) -> TrustAnchors:
        """What this registry's own verifier pins: its signing key, chain and contract."""
        return TrustAnchors(
            registry_key=self.settings.checkpoint_signer().verifier(),
            chain_id=self.anchor_info.chain_id,
            contract=self.anchor_info.contract,
        )

    @cached_property
    def verifier(self) -> ChainVerifier:
        return ChainVerifier(
            trust=self.trust,
            client_factory=lambda: read_only_client(
                rpc_url=self.chain_settings.rpc_url,
                contract=self.anchor_info.contract,
                chain_id=self.chain_settings.chain_id,
            ),
            clock=self.clock,
        )

    def close(self) -> None:
        self.engine.dispose()
