"""Start-up checks: outside `certreg dev`, a default that only suits a local run is an error that
names the setting, and secrets are never generated (api/stack.py `missing_settings`,
registry/settings.py)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from anchoring.settings import AnchoringSettings
from api.settings import ApiSettings
from api.stack import missing_settings
from registry.errors import SettingsError
from registry.settings import RegistrySettings, new_kek, new_signing_key

ORIGIN = "startup.test/log"
ADDRESS = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


@pytest.fixture(autouse=True)
def _no_outside_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("CERTREG_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no .env file here


def names(missing: list[str]) -> set[str]:
    return {entry.split(" ", 1)[0] for entry in missing}


def test_every_default_that_matters_is_named(tmp_path: Path) -> None:
    registry = RegistrySettings(data_dir=tmp_path / "data")
    missing = missing_settings(registry, AnchoringSettings(), ApiSettings())
    assert names(missing) == {
        "CERTREG_SIGNING_KEY",
        "CERTREG_KEY_ENCRYPTION_KEY",
        "CERTREG_CHAIN_ID",
        "CERTREG_CONTRACT_ADDRESS",
        "CERTREG_PUBLIC_BASE_URL",
    }
    assert not (tmp_path / "data").exists()  # checking generated nothing


def test_nothing_missing_when_all_are_set(tmp_path: Path) -> None:
    registry = RegistrySettings(
        data_dir=tmp_path / "data",
        origin=ORIGIN,
        signing_key=SecretStr(new_signing_key(ORIGIN)),
        key_encryption_key=SecretStr(new_kek()),
    )
    chain = AnchoringSettings(chain_id=2026, contract_address=ADDRESS)
    api = ApiSettings(public_base_url="https://verify.example.vn")
    assert missing_settings(registry, chain, api) == []


def test_settings_from_the_environment_count_as_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An operator who sets the default value on purpose (chain 31337 behind a proxy, say) has
    # still said it: the check is about being told, not about the value.
    monkeypatch.setenv("CERTREG_CHAIN_ID", "31337")
    monkeypatch.setenv("CERTREG_PUBLIC_BASE_URL", "http://127.0.0.1:8000")
    chain, api = AnchoringSettings(), ApiSettings()
    missing = missing_settings(RegistrySettings(data_dir=tmp_path), chain, api)
    assert "CERTREG_CHAIN_ID" not in names(missing)
    assert "CERTREG_PUBLIC_BASE_URL" not in names(missing)


def test_secret_files_and_a_deployment_file_satisfy_the_check(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "registry.skey").write_text(new_signing_key("certreg.localhost/log"))
    (data / "kek.b64").write_text(new_kek())
    deployment = tmp_path / "deployment.json"
    deployment.write_text("{}")
    chain = AnchoringSettings(chain_id=2026, deployment_file=deployment)
    missing = missing_settings(RegistrySettings(data_dir=data), chain)  # no API: a worker
    assert missing == []


def test_dev_mode_is_exempt_and_generates_private_secrets(tmp_path: Path) -> None:
    registry = RegistrySettings(data_dir=tmp_path / "data", dev=True)
    assert missing_settings(registry, AnchoringSettings(), ApiSettings()) == []
    signer = registry.checkpoint_signer()
    assert registry.kek() == registry.kek()  # generated once, then read
    assert signer.name == registry.origin
    for name in ("registry.skey", "kek.b64"):
        assert (tmp_path / "data" / name).stat().st_mode & 0o777 == 0o600


def test_outside_dev_a_missing_secret_is_an_error_not_a_new_key(tmp_path: Path) -> None:
    registry = RegistrySettings(data_dir=tmp_path / "data")
    with pytest.raises(SettingsError, match="CERTREG_SIGNING_KEY: got nothing"):
        registry.checkpoint_signer()
    with pytest.raises(SettingsError, match="CERTREG_KEY_ENCRYPTION_KEY: got nothing"):
        registry.kek()
    assert not (tmp_path / "data").exists()


def test_settings_errors_never_quote_their_input() -> None:
    secret = "s3cr3t-value-" + "x" * 40
    with pytest.raises(ValidationError) as refused:
        RegistrySettings(checkpoint_interval_s=secret)  # type: ignore[arg-type]
    assert secret not in str(refused.value)
    with pytest.raises(ValidationError) as refused:
        ApiSettings(port=secret)  # type: ignore[arg-type]
    assert secret not in str(refused.value)


def test_a_server_process_refuses_to_start(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient  # noqa: PLC0415

    from api.app import create_app  # noqa: PLC0415

    app = create_app()  # builds its own Stack from the (empty) environment when it starts
    with pytest.raises(SettingsError, match="missing settings") as refused, TestClient(app):
        pass
    assert "CERTREG_PUBLIC_BASE_URL" in str(refused.value)


def test_a_worker_needs_its_log_signer_off_dev_chains(tmp_path: Path) -> None:
    registry = RegistrySettings(
        data_dir=tmp_path,
        signing_key=SecretStr(new_signing_key("certreg.localhost/log")),
        key_encryption_key=SecretStr(new_kek()),
    )
    chain = AnchoringSettings(chain_id=2026, contract_address=ADDRESS)
    assert missing_settings(registry, chain) == []  # an API process without a worker
    assert names(missing_settings(registry, chain, worker=True)) == {"CERTREG_LOG_SIGNER_URL"}
    remote = AnchoringSettings(
        chain_id=2026, contract_address=ADDRESS, log_signer_url="http://signer.internal:8600"
    )
    assert missing_settings(registry, remote, worker=True) == []


def test_only_a_server_process_freezes_what_start_up_built(tmp_path: Path) -> None:
    # In a subprocess: freezing is for the life of a process (api/app.py).
    script = """
import gc
from fastapi.testclient import TestClient
from api.app import create_app
from api.stack import Stack

stack = Stack()
with TestClient(create_app(stack)) as client:  # a stack from the caller (tests, tools)
    assert client.get("/healthz").status_code == 200
    print(gc.get_freeze_count())
stack.close()
with TestClient(create_app()) as client:  # its own stack: a server process
    assert client.get("/healthz").status_code == 200
    print(gc.get_freeze_count())
"""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CERTREG_")},
        "CERTREG_DEV": "true",
        "CERTREG_DATA_DIR": str(tmp_path / "data"),
    }
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert done.returncode == 0, done.stderr
    given, own = (int(line) for line in done.stdout.split())
    assert given == 0
    assert own > 10_000  # the modules, the app, the stack and its caches' containers
