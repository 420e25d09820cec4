"""The API in process (Starlette's TestClient), over a real database and the Hardhat chain."""

import base64
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from pydantic import SecretStr

from anchoring.settings import AnchoringSettings
from api.app import create_app
from api.settings import ApiSettings
from api.stack import Stack
from registry.core.note import NoteSigner
from registry.samples import admit_sample_issuer
from registry.settings import RegistrySettings
from tests.integration.conftest import CHAIN_ID, Chain
from tests.integration.registry.conftest import SAMPLES

#: rate limits high enough never to be met by a test's traffic
UNLIMITED: dict[str, Any] = {
    "rate_limit_per_s": 1e6,
    "rate_limit_burst": 1_000_000,
    "public_rate_limit_per_s": 1e6,
    "public_rate_limit_burst": 1_000_000,
    "verify_chain_reads_per_s": 1e6,
    "verify_chain_reads_burst": 1_000_000,
}


def chain_settings(chain: Chain) -> AnchoringSettings:
    return AnchoringSettings(
        rpc_url=chain.node.url,
        chain_id=CHAIN_ID,
        contract_address=chain.deployment.address,
        anchorer_key=SecretStr("0x" + bytes(chain.accounts.anchorer.key).hex()),
        issuer_admin_key=SecretStr("0x" + bytes(chain.accounts.issuer_admin.key).hex()),
        # A dev chain: the worker's log signer may run in process (docs/deploy.md §2).
        log_signer_key=SecretStr("0x" + bytes(chain.accounts.log_signer.key).hex()),
        poll_interval_s=0.02,
    )


def make_stack(database_url: str, chain: Chain, data_dir: Path, **settings: Any) -> Stack:
    """A Stack over `database_url` and the session chain, with test secrets."""
    registry = RegistrySettings(
        data_dir=data_dir,
        database_url=database_url,
        origin="registry.test/log",
        signing_key=SecretStr(
            NoteSigner(name="registry.test/log", private_key=Ed25519PrivateKey.generate()).skey()
        ),
        key_encryption_key=SecretStr(base64.b64encode(secrets.token_bytes(32)).decode()),
        checkpoint_interval_s=0.0,
        **settings,
    )
    return Stack(registry, chain_settings(chain))


@pytest.fixture
def stack(database_url: str, chain: Chain, tmp_path: Path) -> Iterator[Stack]:
    built = make_stack(database_url, chain, tmp_path, max_batch_size=20)
    yield built
    built.close()


@pytest.fixture
def api_settings() -> ApiSettings:
    # Limits out of the way: these tests send many requests from one client in a burst (the
    # limits have tests of their own, in test_hostile_input.py).
    return ApiSettings(max_body_bytes=64 * 1024, **UNLIMITED)


@pytest.fixture
def client(stack: Stack, api_settings: ApiSettings) -> Iterator[TestClient]:
    with TestClient(create_app(stack, api_settings)) as test_client:
        yield test_client


def admit(stack: Stack, issuer_id: str = "vn-cb-quatest3") -> dict[str, str]:
    """Admit a sample issuer and let the worker register its key on chain (a PENDING
    certificate is checked against that key); return its Authorization header."""
    token = admit_sample_issuer(stack.service, issuer_id).api_key
    stack.worker.run_until_idle()
    return {"Authorization": f"Bearer {token}"}


def bodies(issuer_id: str = "vn-cb-quatest3") -> list[dict[str, Any]]:
    return [
        {k: v for k, v in c.items() if k != "issuer_id"}
        for c in SAMPLES["certificates"]
        if c["issuer_id"] == issuer_id
    ]
