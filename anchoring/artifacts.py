"""Compiled contract artifacts: what `anchoring.compile` writes and everything else reads.

The artifacts are committed under `anchoring/compiled/` and shipped with the package, so that
deploying and talking to the contract needs neither Node nor the compiler; a test rebuilds them
from `contracts/` and checks that they match byte for byte (see docs/spec.md §7).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from anchoring.errors import ArtifactError

__all__ = [
    "ARTIFACT_DIR",
    "CONTRACT_NAME",
    "CompilerInfo",
    "ContractArtifact",
    "abi_hash",
    "artifact_path",
    "load_artifact",
]

ARTIFACT_DIR: Final = Path(__file__).resolve().parent / "compiled"
CONTRACT_NAME: Final = "CertregAnchor"

_HEX = r"^0x[0-9a-f]*$"
_HASH = r"^0x[0-9a-f]{64}$"


class CompilerInfo(BaseModel):
    """Which compiler and settings produced an artifact."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    version: str = Field(pattern=r"^\d+\.\d+\.\d+\+commit\.[0-9a-f]{8}$")
    evm_version: str
    optimizer_runs: int = Field(ge=1)


class ContractArtifact(BaseModel):
    """One compiled contract: ABI, creation and runtime bytecode, and what it was built from."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    contract_name: str
    source_name: str
    compiler: CompilerInfo
    #: SHA-256 of each source file given to the compiler, by source unit name
    sources: dict[str, str]
    #: SHA-256 of the whole compiler input (every source and every setting), canonical JSON
    input_sha256: str = Field(pattern=_HASH)
    abi: list[dict[str, Any]]
    bytecode: str = Field(pattern=_HEX, min_length=4)
    deployed_bytecode: str = Field(pattern=_HEX, min_length=4)

    def to_json(self) -> str:
        """The file form: sorted keys, two-space indent, final newline (stable diffs)."""
        return json.dumps(self.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"

    @property
    def abi_sha256(self) -> str:
        """`abi_hash` of this artifact's ABI."""
        return abi_hash(self.abi)


def abi_hash(abi: list[dict[str, Any]]) -> str:
    """0x-hex SHA-256 of the ABI as canonical JSON (sorted keys, no whitespace).

    A deployment file records it, so that a client can tell that the contract at an address
    speaks the ABI it is about to use.
    """
    text = json.dumps(abi, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "0x" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def artifact_path(name: str = CONTRACT_NAME, directory: Path = ARTIFACT_DIR) -> Path:
    """Where the artifact of contract `name` lives."""
    return directory / f"{name}.json"


def load_artifact(name: str = CONTRACT_NAME, directory: Path = ARTIFACT_DIR) -> ContractArtifact:
    """Read and validate an artifact; `ArtifactError` if it is missing or malformed."""
    path = artifact_path(name, directory)
    try:
        return ContractArtifact.model_validate_json(path.read_bytes())
    except FileNotFoundError as exc:
        raise ArtifactError(
            f"{path}: got no file, want the compiled artifact (python -m anchoring.compile)"
        ) from exc
    except ValidationError as exc:
        raise ArtifactError(f"{path}: got a malformed artifact, want a valid one: {exc}") from exc
