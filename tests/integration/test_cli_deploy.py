"""`certreg deploy` against the session's Hardhat node."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from anchoring.client import AnchorClient
from anchoring.deployment import load_deployment
from api.cli import app
from tests.integration.chain_helpers import MAP_ROOT, log_tree
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
    monkeypatch.setenv("CERTREG_LOG_SIGNER_KEY", "0x" + bytes(chain.accounts.log_signer.key).hex())
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
        "LOG_SIGNER_ROLE": chain.accounts.log_signer.address,
    }


def test_deploy_text_with_options(chain: Chain, env: Path) -> None:
    out = env / "elsewhere.json"
    issuer_admin = chain.accounts.issuer_admin.address
    result = CliRunner().invoke(app, ["deploy", "--issuer-admin", issuer_admin, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"granted ISSUER_ADMIN_ROLE to {issuer_admin}" in result.stdout
    assert f"wrote {out}" in result.stdout
    assert out.is_file()


def _production_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chain 1 and one key per role, none of them Hardhat's public ones (refused off dev
    chains before any call)."""
    monkeypatch.setenv("CERTREG_CHAIN_ID", "1")
    monkeypatch.setenv("CERTREG_ANCHORER_KEY", "0x" + "5a" * 32)
    monkeypatch.setenv("CERTREG_DEPLOYER_KEY", "0x" + "5b" * 32)
    monkeypatch.setenv("CERTREG_ISSUER_ADMIN_KEY", "0x" + "5c" * 32)
    monkeypatch.setenv("CERTREG_LOG_SIGNER_KEY", "0x" + "5d" * 32)


def test_deploy_error_is_one_line_and_exit_1(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _production_keys(monkeypatch)
    result = CliRunner().invoke(app, ["deploy"])
    assert result.exit_code == 1
    assert "chain id: got 31337 from the node, want 1" in result.stderr


@pytest.mark.parametrize(
    ("setting", "same_as", "roles"),
    [
        ("CERTREG_LOG_SIGNER_KEY", "5a", "ANCHORER_ROLE and LOG_SIGNER_ROLE"),
        ("CERTREG_ISSUER_ADMIN_KEY", "5a", "ANCHORER_ROLE and ISSUER_ADMIN_ROLE"),
        ("CERTREG_ANCHORER_KEY", "5b", "DEFAULT_ADMIN_ROLE and ANCHORER_ROLE"),
    ],
)
def test_one_key_for_two_roles_is_refused_off_dev_chains(
    env: Path, monkeypatch: pytest.MonkeyPatch, setting: str, same_as: str, roles: str
) -> None:
    _production_keys(monkeypatch)
    monkeypatch.setenv(setting, "0x" + same_as * 32)
    result = CliRunner().invoke(app, ["deploy"])
    assert result.exit_code == 1
    assert f"for both {roles} on chain 1, want a separate account" in result.stderr
    assert "31337" not in result.stderr.split("development chains")[0]  # refused before the node
    assert not (env / "data" / "deployment.json").exists()


def test_a_role_without_an_account_is_refused_off_dev_chains(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _production_keys(monkeypatch)
    monkeypatch.delenv("CERTREG_LOG_SIGNER_KEY")
    result = CliRunner().invoke(app, ["deploy"])
    assert result.exit_code == 1
    assert "LOG_SIGNER_ROLE: got no account, want one of its own" in result.stderr
    # Named by address instead (the key stays on the log signer's host): accepted.
    signer = "0x" + "de" * 20
    result = CliRunner().invoke(app, ["deploy", "--log-signer", signer])
    assert "LOG_SIGNER_ROLE" not in result.stderr
    assert "chain id: got 31337 from the node, want 1" in result.stderr


def test_one_account_for_every_role_on_a_dev_chain(
    chain: Chain, env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "0x" + bytes(chain.accounts.admin.key).hex()
    for name in ("ANCHORER", "LOG_SIGNER", "ISSUER_ADMIN"):
        monkeypatch.setenv(f"CERTREG_{name}_KEY", key)
    result = CliRunner().invoke(app, ["deploy", "--json", "--admin-delay", "0"])
    assert result.exit_code == 0, result.output
    assert set(json.loads(result.stdout)["granted"].values()) == {chain.accounts.admin.address}


def test_deploy_a_successor(chain: Chain, env: Path) -> None:
    chain.anchorer.anchor(
        tree_size=3, log_root=log_tree(3).root_hash(), map_root=MAP_ROOT, proof=[]
    )
    old = chain.deployment.address
    result = CliRunner().invoke(app, ["deploy", "--json", "--predecessor", old])
    assert result.exit_code == 0, result.output
    new = AnchorClient(chain.outsider.chain, json.loads(result.stdout)["address"])
    predecessor = new.predecessor()
    assert predecessor is not None
    assert (predecessor.contract, predecessor.index, predecessor.tree_size) == (old, 0, 3)


def test_a_successor_must_have_the_predecessors_authority_as_admin(chain: Chain, env: Path) -> None:
    chain.anchorer.anchor(
        tree_size=3, log_root=log_tree(3).root_hash(), map_root=MAP_ROOT, proof=[]
    )
    stranger = chain.accounts.spare.address
    result = CliRunner().invoke(
        app, ["deploy", "--predecessor", chain.deployment.address, "--admin", stranger]
    )
    assert result.exit_code == 1
    assert "does not hold DEFAULT_ADMIN_ROLE on the predecessor" in result.stderr


def test_deploy_a_successor_of_an_empty_contract_fails(chain: Chain, env: Path) -> None:
    result = CliRunner().invoke(app, ["deploy", "--predecessor", chain.deployment.address])
    assert result.exit_code == 1
    assert "got no checkpoint, want one to start from" in result.stderr
