"""Loading artifacts and deployment files: malformed input is refused with a clear error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from anchoring.artifacts import abi_hash, artifact_path, load_artifact
from anchoring.deploy import Deployment, load_deployment
from anchoring.errors import ArtifactError, ChainIdMismatchError, SettingsError

ADDRESS = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


def _deployment(**changes: object) -> Deployment:
    artifact = load_artifact()
    fields: dict[str, object] = {
        "chain_id": 31337,
        "address": ADDRESS,
        "block_number": 1,
        "tx_hash": "0x" + "ab" * 32,
        "contract_name": artifact.contract_name,
        "abi_sha256": artifact.abi_sha256,
        "compiler_version": artifact.compiler.version,
        "admin": "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    }
    fields.update(changes)
    return Deployment.model_validate(fields)


def test_committed_artifact_loads() -> None:
    artifact = load_artifact()
    assert artifact.contract_name == "CertregAnchor"
    names = {item.get("name") for item in artifact.abi}
    assert {"anchor", "checkpointCount", "checkpoint", "issuerKey", "latestCheckpoint"} <= names


def test_abi_hash_ignores_key_order_but_not_content() -> None:
    abi = load_artifact().abi
    shuffled = [dict(reversed(list(item.items()))) for item in abi]
    assert abi_hash(shuffled) == abi_hash(abi)
    assert abi_hash(abi[1:]) != abi_hash(abi)


def test_missing_artifact(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="got no file"):
        load_artifact(directory=tmp_path)


def test_malformed_artifact(tmp_path: Path) -> None:
    data = json.loads(artifact_path().read_text())
    data["bytecode"] = "0xZZ"
    artifact_path(directory=tmp_path).write_text(json.dumps(data))
    with pytest.raises(ArtifactError, match="malformed"):
        load_artifact(directory=tmp_path)


def test_deployment_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "deployment.json"
    deployment = _deployment()
    deployment.save(path)
    assert load_deployment(path, chain_id=31337) == deployment
    assert json.loads(path.read_text())["format"] == "certreg-deployment/1"
    assert not path.with_name("deployment.json.tmp").exists()


def test_deployment_file_checks(tmp_path: Path) -> None:
    path = tmp_path / "deployment.json"
    _deployment().save(path)
    with pytest.raises(ChainIdMismatchError, match="got 31337"):
        load_deployment(path, chain_id=1)
    with pytest.raises(SettingsError, match="certreg deploy"):
        load_deployment(tmp_path / "missing.json", chain_id=31337)
    path.write_text("{}")
    with pytest.raises(ArtifactError, match="malformed"):
        load_deployment(path, chain_id=31337)


@pytest.mark.parametrize(
    "change",
    [
        {"address": ADDRESS.lower()},  # not EIP-55
        {"address": "0x1234"},
        {"tx_hash": "0x1234"},
        {"chain_id": 0},
        {"format": "certreg-deployment/2"},
    ],
)
def test_deployment_fields_are_strict(change: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="validation error"):
        _deployment(**change)
