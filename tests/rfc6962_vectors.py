"""Loading the RFC 6962 proof vectors of transparency-dev/merkle (tests/vectors/rfc6962)."""

import base64
import json
from pathlib import Path
from typing import Any

VECTORS = Path(__file__).parent / "vectors" / "rfc6962"

# The leaves of the RFC 6962 test tree the vectors were made from (transparency-dev/merkle).
RFC6962_LEAVES: tuple[bytes, ...] = (
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    bytes(range(0x60, 0x70)),
)


def load(kind: str) -> list[tuple[str, dict[str, Any]]]:
    """Every vector of `kind` ("inclusion" or "consistency") as (relative name, decoded case)."""
    cases = []
    for file in sorted((VECTORS / kind).rglob("*.json")):
        case = json.loads(file.read_text(encoding="utf-8"))
        for key in ("root", "root1", "root2", "leafHash"):
            if key in case:
                case[key] = base64.b64decode(case[key])
        case["proof"] = [base64.b64decode(node) for node in case.get("proof") or []]
        cases.append((str(file.relative_to(VECTORS / kind)), case))
    return cases
