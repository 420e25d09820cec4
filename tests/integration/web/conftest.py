"""The web edge in process (Starlette's TestClient), over a real SQLite database and the
session's Hardhat chain: pages, QR codes and PDFs. The pages do not depend on the database
engine, so these tests run on SQLite only (the API suite covers PostgreSQL)."""

import base64
import copy
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from api.stack import Stack
from registry.db.engine import make_engine, sqlite_url
from registry.db.migrate import upgrade
from registry.samples import admit_sample_issuer, load_samples
from tests.integration.api.conftest import UNLIMITED, make_stack
from tests.integration.conftest import Chain

SAMPLES = load_samples()
ISSUER_ID = "vn-cb-quatest3"
BASE_URL = "https://verify.example.vn"
EXPLORER = "https://explorer.example.vn/tx/"


#: the authority whose statements the pages' registry checks
AUTHORITY: Final = Ed25519PrivateKey.generate()


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    url = sqlite_url(tmp_path / "web.db")
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture
def stack(database_url: str, chain: Chain, tmp_path: Path) -> Iterator[Stack]:
    authority = base64.b64encode(AUTHORITY.public_key().public_bytes_raw()).decode()
    built = make_stack(database_url, chain, tmp_path, authority_public_key=authority)
    yield built
    built.close()


@pytest.fixture
def api_settings() -> ApiSettings:
    return ApiSettings(
        public_base_url=BASE_URL + "/",
        block_explorer_tx_url=EXPLORER,
        max_body_bytes=64 * 1024,
        **UNLIMITED,
    )


@pytest.fixture
def client(stack: Stack, api_settings: ApiSettings) -> Iterator[TestClient]:
    with TestClient(create_app(stack, api_settings)) as test_client:
        yield test_client


def admit(stack: Stack, issuer_id: str = ISSUER_ID) -> None:
    """Admit the issuer and let the worker register its key on chain: a PENDING certificate is
    checked against the key the chain holds (docs/spec.md §9)."""
    admit_sample_issuer(stack.service, issuer_id)
    stack.worker.run_until_idle()


def sample(
    number: str,
    *,
    template: int = 0,
    issuer_id: str = ISSUER_ID,
    valid_from: dt.date | None = None,
    valid_until: dt.date | None = None,
    days_valid: int | None = 3 * 365,
) -> dict[str, Any]:
    """A sample certificate of `issuer_id` under `number`, dated relative to today (UTC)."""
    bodies = [c for c in SAMPLES["certificates"] if c["issuer_id"] == issuer_id]
    # A copy all the way down: a test may change the holder of its own.
    body = {
        k: copy.deepcopy(v)
        for k, v in bodies[template].items()
        if k not in ("issuer_id", "valid_until")
    }
    start = valid_from or dt.datetime.now(dt.UTC).date() - dt.timedelta(days=30)
    end = valid_until
    if end is None and days_valid is not None:
        end = start + dt.timedelta(days=days_valid)
    body.update(number=number, issued_on=start.isoformat(), valid_from=start.isoformat())
    if end is not None:
        body["valid_until"] = end.isoformat()
    return body
