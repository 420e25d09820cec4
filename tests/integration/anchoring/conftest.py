"""A registry database and an anchoring worker wired to the session's Hardhat chain."""

import secrets
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from anchoring.client import AnchorClient
from anchoring.logsigner import Authoriser, LogSigner
from anchoring.worker import AnchoringWorker, WorkerConfig
from registry.checkpointing import CheckpointBuilder
from registry.core.note import NoteSigner
from registry.db.mapstore import AnchoredMapCache
from registry.service import RegistryService
from tests.integration.conftest import Chain
from tests.integration.registry.conftest import Clock


@dataclass
class Stack:
    engine: Engine
    sessions: sessionmaker[Session]
    service: RegistryService
    builder: CheckpointBuilder
    signer: NoteSigner
    chain: Chain
    clock: Clock

    def log_signer(self) -> LogSigner:
        """The log signer in process, with the session's LOG_SIGNER_ROLE key and this
        registry's checkpoint key (test_log_signer.py runs it as its own service too)."""
        return LogSigner(
            account=self.chain.accounts.log_signer,
            registry_key=self.signer.verifier(),
            contract=self.chain.client(self.chain.accounts.outsider),
        )

    def worker(
        self,
        *,
        client_factory: Callable[[], AnchorClient] | None = None,
        authoriser_factory: Callable[[], Authoriser] | None = None,
        key_client_factory: Callable[[], AnchorClient] | None = None,
        config: WorkerConfig | None = None,
    ) -> AnchoringWorker:
        return AnchoringWorker(
            engine=self.engine,
            sessions=self.sessions,
            builder=self.builder,
            client_factory=client_factory
            or (lambda: self.chain.client(self.chain.accounts.anchorer)),
            authoriser_factory=authoriser_factory or self.log_signer,
            key_client_factory=key_client_factory
            or (lambda: self.chain.client(self.chain.accounts.issuer_admin)),
            config=config or WorkerConfig(checkpoint_interval_s=0.0, poll_interval_s=0.05),
        )


@pytest.fixture
def stack(engine: Engine, sessions: sessionmaker[Session], chain: Chain) -> Stack:
    clock = Clock()
    signer = NoteSigner(name="test.example/log", private_key=Ed25519PrivateKey.generate())
    return Stack(
        engine=engine,
        sessions=sessions,
        service=RegistryService(sessions=sessions, kek=secrets.token_bytes(32), clock=clock),
        builder=CheckpointBuilder(
            sessions=sessions, signer=signer, map_cache=AnchoredMapCache(), clock=clock
        ),
        signer=signer,
        chain=chain,
        clock=clock,
    )
