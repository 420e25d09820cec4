"""`certreg deploy` against the session's Hardhat node."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from anchoring.deployment import load_deployment
from api.cli import app
from tests.integration.conftest import CHAIN_ID, Chain


@pytest.fixture
def env(chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("CERTREG_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CERTREG_RPC_URL", chain.node.url)
    monkeypatch.setenv("CERTREG_CHAIN_ID", str(CHAIN_ID))
    monkeypatch.setenv("CERTREG_DEPLOYER_KEY", "0x" + bytes(chain.accounts.admin.key).hex())
    monkeypatch.setenv("CERTREG_ANCHORER_KEY", "0x" + bytes(chain.accounts.anchorer.key).hex())
    return tmp_path


def test_deploy_json(chain: Chain, env: Path) -> None:
    result = CliRunner().invoke(app, ["deploy", "--json"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    deployment = load_deployment(env / "data" / "deployment.json", chain_id=CHAIN_ID)
    assert printed["address"] == deployment.address
    assert printed["granted"] == {
        "ANCHORER_ROLE": chain.accounts.anchorer.address,
        "ISSUER_ADMIN_ROLE": chain.accounts.admin.address,
    }


def test_deploy_text_with_options(chain: Chain, env: Path) -> None:
    out = env / "elsewhere.json"
    issuer_admin = chain.accounts.issuer_admin.address
    result = CliRunner().invoke(app, ["deploy", "--issuer-admin", issuer_admin, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"granted ISSUER_ADMIN_ROLE to {issuer_admin}" in result.stdout
    assert f"wrote {out}" in result.stdout
    assert out.is_file()


def test_deploy_error_is_one_line_and_exit_1(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CERTREG_CHAIN_ID", "1")
    # not one of Hardhat's public keys: those are refused off dev chains before any call
    monkeypatch.setenv("CERTREG_ANCHORER_KEY", "0x" + "5a" * 32)
    monkeypatch.setenv("CERTREG_DEPLOYER_KEY", "0x" + "5b" * 32)
    result = CliRunner().invoke(app, ["deploy"])
    assert result.exit_code == 1
    assert "chain id: got 31337 from the node, want 1" in result.stderr
