"""`certreg issuer …` and `certreg anchor --once` end to end: CLI, database, chain."""

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from api.stack import Stack
from tests.integration.conftest import CHAIN_ID, Chain
from tests.integration.registry.conftest import sample_submissions

runner = CliRunner()


@pytest.fixture
def env(chain: Chain, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("CERTREG_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CERTREG_DATABASE_URL", database_url)
    monkeypatch.setenv("CERTREG_RPC_URL", chain.node.url)
    monkeypatch.setenv("CERTREG_CHAIN_ID", str(CHAIN_ID))
    monkeypatch.setenv("CERTREG_CONTRACT_ADDRESS", chain.deployment.address)
    monkeypatch.setenv("CERTREG_ANCHORER_KEY", "0x" + bytes(chain.accounts.anchorer.key).hex())
    # a dev chain: the worker may sign in process (docs/deploy.md §2)
    monkeypatch.setenv("CERTREG_LOG_SIGNER_KEY", "0x" + bytes(chain.accounts.log_signer.key).hex())
    monkeypatch.setenv(
        "CERTREG_ISSUER_ADMIN_KEY", "0x" + bytes(chain.accounts.issuer_admin.key).hex()
    )
    # The registry's own secrets, as an operator makes them: files in CERTREG_DATA_DIR.
    monkeypatch.setenv("CERTREG_DATA_DIR", str(tmp_path / "data"))
    made = runner.invoke(app, ["keys", "init", "--json"])
    assert made.exit_code == 0, made.output
    return tmp_path


def test_anchor_once(chain: Chain, env: Path) -> None:
    """An issuer and its certificates in the database (the registry's Python API: no command
    writes them, docs/spec.md §11.7), anchored by `certreg anchor --once`."""
    stack = Stack()
    try:
        created = stack.service.add_issuer(
            issuer_id="vn-cb-quatest3",
            name_vi="Trung tâm Kỹ thuật 3",
            name_en="Technical Centre 3",
            accreditation="VICAS 901",
            kinds=["regulation-conformity", "calibration"],
        )
        assert stack.service.authenticate(created.api_key) == "vn-cb-quatest3"
        submissions = [s for s in sample_submissions() if s.kind.value == "calibration"]
        stack.service.issue_batch("vn-cb-quatest3", submissions)
    finally:
        stack.close()

    result = runner.invoke(app, ["anchor", "--once", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.splitlines()[-1]) == {"anchored": 1, "failures": 0}
    latest = chain.reader.latest_checkpoint()
    assert latest is not None
    assert latest.tree_size == len(submissions)


def test_keys_init_creates_private_files_once(env: Path) -> None:
    data = env / "data"
    for name in ("registry.skey", "kek.b64"):
        assert (data / name).stat().st_mode & 0o777 == 0o600, name
    assert data.stat().st_mode & 0o777 == 0o700
    before = {name: (data / name).read_bytes() for name in ("registry.skey", "kek.b64")}
    again = runner.invoke(app, ["keys", "init", "--json"])
    assert again.exit_code == 0, again.output
    report = json.loads(again.stdout)
    assert report["created"] == {}
    assert set(report["kept"]) == {"signing_key", "key_encryption_key"}
    # Never overwritten: issuers' keys sealed under the old KEK would be lost.
    assert {name: (data / name).read_bytes() for name in before} == before
    assert report["registry_key"].startswith("certreg.localhost/log+")


def test_anchor_refuses_to_start_without_its_settings(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (env / "data" / "kek.b64").unlink()
    monkeypatch.delenv("CERTREG_CHAIN_ID")
    monkeypatch.delenv("CERTREG_CONTRACT_ADDRESS")
    result = runner.invoke(app, ["anchor", "--once"])
    assert result.exit_code == 1
    message = result.output
    for setting in ("CERTREG_KEY_ENCRYPTION_KEY", "CERTREG_CHAIN_ID", "CERTREG_CONTRACT_ADDRESS"):
        assert setting in message, message
    assert "CERTREG_SIGNING_KEY" not in message  # its file is there
    assert not (env / "data" / "kek.b64").exists()  # nothing generated behind our back
