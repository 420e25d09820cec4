"""The sample issuers and certificates shipped with the package (demo data, tests, benchmarks)."""

import json
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from registry.service import IssuerCreated, RegistryService


def load_samples() -> dict[str, Any]:
    """`{"issuers": [...], "certificates": [...]}` from `registry/data/sample_certificates.json`."""
    text = resources.files("registry").joinpath("data/sample_certificates.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def admit_sample_issuer(
    service: "RegistryService", issuer_id: str | None = None
) -> "IssuerCreated":
    """Admit one of the sample issuers (default: the first, a certification body)."""
    issuers = load_samples()["issuers"]
    issuer = issuers[0] if issuer_id is None else next(i for i in issuers if i["id"] == issuer_id)
    return service.add_issuer(
        issuer_id=issuer["id"],
        name_vi=issuer["name_vi"],
        name_en=issuer["name_en"],
        accreditation=issuer["accreditation"],
        kinds=issuer["kinds"],
    )
