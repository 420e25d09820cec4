"""The deployment file: where the anchoring contract is, as written by `certreg deploy`.

JSON, default `data/deployment.json`: chain id, address, block and transaction of the
deployment, and the SHA-256 of the ABI it speaks. A client reading it refuses another chain,
and `AnchorClient.check_code` refuses code that is not the committed artifact.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Final, Literal

from eth_typing import ChecksumAddress, HexStr
from eth_utils.address import is_address, to_checksum_address
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from anchoring.artifacts import ContractArtifact, load_artifact
from anchoring.errors import ArtifactError, ChainIdMismatchError, SettingsError

__all__ = ["DEPLOYMENT_FORMAT", "Deployment", "load_deployment"]

DEPLOYMENT_FORMAT: Final = "certreg-deployment/1"


def _eip55(value: str) -> ChecksumAddress:
    if not is_address(value):
        raise ValueError(f"got {value!r}, want a 0x-hex address")
    checksummed = to_checksum_address(value)
    if value != checksummed:
        raise ValueError(f"got {value!r}, want its EIP-55 form {checksummed!r}")
    return checksummed


Address = Annotated[ChecksumAddress, AfterValidator(_eip55)]


class Deployment(BaseModel):
    """Where the anchoring contract is, as written by `certreg deploy`."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    format: Literal["certreg-deployment/1"] = DEPLOYMENT_FORMAT
    chain_id: int = Field(ge=1)
    address: Address
    block_number: int = Field(ge=0)
    tx_hash: HexStr = Field(pattern=r"^0x[0-9a-f]{64}$")
    contract_name: str
    abi_sha256: str = Field(pattern=r"^0x[0-9a-f]{64}$")
    compiler_version: str
    admin: Address

    def save(self, path: Path) -> None:
        """Write the file atomically (a reader never sees half of it)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.model_dump(), indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)


def load_deployment(
    path: Path, *, chain_id: int, artifact: ContractArtifact | None = None
) -> Deployment:
    """Read a deployment file and check it is for `chain_id` and the artifact's ABI."""
    try:
        deployment = Deployment.model_validate_json(path.read_bytes())
    except FileNotFoundError as exc:
        raise SettingsError(
            f"{path}: got no deployment file and no CERTREG_CONTRACT_ADDRESS, "
            "want one of them (run `certreg deploy`)"
        ) from exc
    except ValidationError as exc:
        raise ArtifactError(f"{path}: got a malformed deployment file: {exc}") from exc
    if deployment.chain_id != chain_id:
        raise ChainIdMismatchError(got=deployment.chain_id, want=chain_id)
    artifact = artifact or load_artifact()
    if deployment.abi_sha256 != artifact.abi_sha256:
        raise ArtifactError(
            f"{path}: ABI hash got {deployment.abi_sha256}, want {artifact.abi_sha256} "
            "(the contract was deployed from other sources; redeploy)"
        )
    return deployment
