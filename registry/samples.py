"""The sample issuers and certificates shipped with the package (demo data, tests, benchmarks)."""

import json
from importlib import resources
from typing import Any


def load_samples() -> dict[str, Any]:
    """`{"issuers": [...], "certificates": [...]}` from `registry/data/sample_certificates.json`."""
    text = resources.files("registry").joinpath("data/sample_certificates.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data
