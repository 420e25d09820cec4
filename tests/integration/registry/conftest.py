import datetime as dt
import secrets
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from registry.records import CertificateSubmission
from registry.samples import admit_sample_issuer, load_samples
from registry.service import RegistryService


class Clock:
    """A settable clock, whole seconds, UTC."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 25, 9, 0, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


SAMPLES = load_samples()


def sample_issuer(issuer_id: str = "vn-cb-quatest3") -> dict[str, Any]:
    return next(i for i in SAMPLES["issuers"] if i["id"] == issuer_id)


def sample_submissions(issuer_id: str = "vn-cb-quatest3") -> list[CertificateSubmission]:
    return [
        CertificateSubmission.model_validate(c)
        for c in SAMPLES["certificates"]
        if c["issuer_id"] == issuer_id
    ]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(sessions: sessionmaker[Session], clock: Clock) -> RegistryService:
    return RegistryService(sessions=sessions, kek=secrets.token_bytes(32), clock=clock)


def admit(service: RegistryService, issuer_id: str = "vn-cb-quatest3") -> str:
    """Admit a sample issuer; return its API key."""
    return admit_sample_issuer(service, issuer_id).api_key
