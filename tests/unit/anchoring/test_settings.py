"""Settings come from CERTREG_* variables and are checked at load."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from anchoring.devnode import dev_account
from anchoring.settings import (
    DEV_CHAIN_IDS,
    AnchoringSettings,
    LogSignerSettings,
    hardhat_key_index,
)

KEY = "0x" + "4c" * 32


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # No .env of the developer's and no CERTREG_ variables of the shell leak in.
    monkeypatch.chdir(tmp_path)
    for name in list(__import__("os").environ):
        if name.startswith("CERTREG_"):
            monkeypatch.delenv(name)


def test_defaults_suit_the_local_hardhat_node() -> None:
    settings = AnchoringSettings()
    assert settings.rpc_url == "http://127.0.0.1:8545"
    assert settings.chain_id == 31337
    assert settings.confirmations == 0
    assert settings.contract_address is None
    assert settings.gas_price_wei is None


def test_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CERTREG_RPC_URL", "http://besu:8545")
    monkeypatch.setenv("CERTREG_CHAIN_ID", "1337")
    monkeypatch.setenv("CERTREG_CONTRACT_ADDRESS", "0x5fbdb2315678afecb367f032d93f642f64180aa3")
    monkeypatch.setenv("CERTREG_GAS_PRICE_WEI", "0")
    monkeypatch.setenv("CERTREG_ANCHORER_KEY", KEY)
    settings = AnchoringSettings()
    assert settings.rpc_url == "http://besu:8545"
    assert settings.chain_id == 1337
    assert settings.contract_address == "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    assert settings.gas_price_wei == 0
    assert settings.anchorer_key is not None
    assert settings.anchorer_key.get_secret_value() == KEY
    assert KEY not in repr(settings)


def test_from_dotenv_with_other_components_settings(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "CERTREG_DATABASE_URL=sqlite:///x.db\nCERTREG_CONFIRMATIONS=2\n", encoding="utf-8"
    )
    assert AnchoringSettings().confirmations == 2


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CERTREG_CONTRACT_ADDRESS", "0x1234"),
        ("CERTREG_CHAIN_ID", "0"),
        ("CERTREG_CONFIRMATIONS", "-1"),
        ("CERTREG_GAS_PRICE_WEI", "-5"),
        ("CERTREG_ANCHORER_KEY", "0x1234"),
        ("CERTREG_DEPLOYER_KEY", "zz" * 32),
    ],
)
def test_rejects(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        AnchoringSettings()


def test_a_bad_key_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "0x" + "ab" * 31
    monkeypatch.setenv("CERTREG_ANCHORER_KEY", secret)
    with pytest.raises(ValidationError) as caught:
        AnchoringSettings()
    assert secret not in str(caught.value)
    assert "want 64 hex digits" in str(caught.value)


@pytest.mark.parametrize(
    "setting", ["anchorer_key", "deployer_key", "issuer_admin_key", "log_signer_key"]
)
def test_hardhat_keys_are_refused_off_dev_chains(setting: str) -> None:
    # Derived from Hardhat's published mnemonic: anyone can sign with them.
    well_known = "0x" + bytes(dev_account(3).key).hex()
    for chain_id in DEV_CHAIN_IDS:
        AnchoringSettings.model_validate(
            {"chain_id": chain_id, setting: well_known}
        )  # fine on a dev chain
    with pytest.raises(ValidationError, match=r"well-known development key \(account 3\)") as info:
        AnchoringSettings.model_validate({"chain_id": 1_337_000, setting: well_known})
    shown = str(info.value)  # the key itself is never echoed, not even in part
    assert not any(well_known[i : i + 12] in shown for i in range(2, len(well_known) - 12)), shown
    own = "0x" + "5a" * 32
    assert (
        AnchoringSettings.model_validate({"chain_id": 1_337_000, setting: own}).chain_id
        == 1_337_000
    )
    assert hardhat_key_index(own) is None
    assert hardhat_key_index(well_known) == 3


def test_the_log_signers_own_settings_refuse_hardhat_keys_off_dev_chains() -> None:
    well_known = "0x" + bytes(dev_account(4).key).hex()
    assert LogSignerSettings.model_validate({"log_signer_key": well_known}).chain_id == 31337
    with pytest.raises(ValidationError, match=r"CERTREG_LOG_SIGNER_KEY: got Hardhat's") as info:
        LogSignerSettings.model_validate({"chain_id": 7, "log_signer_key": well_known})
    assert well_known[2:14] not in str(info.value)
    with pytest.raises(ValidationError, match="want 64 hex digits"):
        LogSignerSettings.model_validate({"log_signer_key": "0x1234"})
