"""Settings of the chain client, from `CERTREG_*` environment variables or a `.env` file.

The same code talks to the local Hardhat node and to a permissioned network (Besu QBFT,
GoQuorum); only these settings differ — see docs/deploy.md for what each must say there.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Final

from eth_account.hdaccount import key_from_seed, seed_from_mnemonic
from eth_utils.address import is_address, to_checksum_address
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = [
    "DEV_CHAIN_IDS",
    "HARDHAT_MNEMONIC",
    "AnchoringSettings",
    "LogSignerSettings",
    "hardhat_key_index",
]

#: chain ids of local development chains (Hardhat, Ganache/Geth dev), where Hardhat's public
#: keys are expected
DEV_CHAIN_IDS: Final = frozenset({31337, 1337})
#: Hardhat's well-known development mnemonic (hardhat.config.js): public test keys that must
#: never hold anything on a real network.
HARDHAT_MNEMONIC: Final = "test test test test test test test test test test test junk"
_HARDHAT_ACCOUNTS: Final = 20  # as many as a Hardhat node funds


@functools.cache
def _hardhat_keys() -> dict[bytes, int]:
    seed = seed_from_mnemonic(HARDHAT_MNEMONIC, "")
    return {
        key_from_seed(seed, f"m/44'/60'/0'/0/{index}"): index for index in range(_HARDHAT_ACCOUNTS)
    }


def _refuse_public_key(name: str, secret: SecretStr | None, *, chain_id: int) -> None:
    # Hardhat's accounts come from a published mnemonic: anyone holds their keys.
    if secret is None or chain_id in DEV_CHAIN_IDS:
        return
    index = hardhat_key_index(secret.get_secret_value())
    if index is not None:
        raise ValueError(
            f"CERTREG_{name.upper()}: got Hardhat's well-known development key "
            f"(account {index}), which anyone can use, on chain {chain_id}; want "
            f"a key of your own (well-known keys only on dev chains "
            f"{', '.join(map(str, sorted(DEV_CHAIN_IDS)))})"
        )


def _check_key_shape(value: SecretStr | None) -> SecretStr | None:
    if value is None:
        return None
    text = value.get_secret_value()
    body = text[2:] if text.startswith("0x") else text
    if len(body) != 64 or any(c not in "0123456789abcdefABCDEF" for c in body):
        # Never echo the value: it is a private key, or meant to be one.
        raise ValueError(f"got {len(text)} characters, want 64 hex digits (0x optional)")
    return value


def hardhat_key_index(key: str) -> int | None:
    """The Hardhat account whose well-known key `key` (0x-hex) is, or None."""
    body = key[2:] if key.startswith("0x") else key
    try:
        raw = bytes.fromhex(body)
    except ValueError:
        return None
    return _hardhat_keys().get(raw)


class AnchoringSettings(BaseSettings):
    """How to reach the chain, which contract to use, and how to send transactions."""

    # extra="ignore": the .env file also holds the other components' CERTREG_ settings.
    # hide_input_in_errors: a refused setting may be a private key; errors must not quote it.
    model_config = SettingsConfigDict(
        env_prefix="CERTREG_",
        env_file=".env",
        extra="ignore",
        frozen=True,
        hide_input_in_errors=True,
    )

    #: JSON-RPC endpoint of the chain node (CERTREG_RPC_URL)
    rpc_url: str = "http://127.0.0.1:8545"
    #: the chain id the node must report; a mismatch is refused, never "fixed" (CERTREG_CHAIN_ID)
    chain_id: int = Field(default=31337, ge=1)
    #: the anchoring contract; unset: read from `deployment_file` (CERTREG_CONTRACT_ADDRESS)
    contract_address: str | None = None
    #: written by `certreg deploy`, read when `contract_address` is unset
    deployment_file: Path = Path("data/deployment.json")
    #: folder of the compiled artifact; unset: the committed one (cancun). A chain on an older
    #: EVM uses a build for it (`python -m anchoring.compile --evm-version ... --out DIR`)
    artifact_dir: Path | None = None
    #: secp256k1 key (0x-hex) of the account holding ANCHORER_ROLE (CERTREG_ANCHORER_KEY)
    anchorer_key: SecretStr | None = None
    #: key of the deploying account, the contract's first admin; unset: `anchorer_key`
    deployer_key: SecretStr | None = None
    #: key of an account holding ISSUER_ADMIN_ROLE, with which the worker registers and revokes
    #: issuers' keys; unset: `anchorer_key` (CERTREG_ISSUER_ADMIN_KEY)
    issuer_admin_key: SecretStr | None = None
    #: blocks mined on top of a transaction's block before it counts as done; 0 suits Hardhat
    #: and QBFT/IBFT (immediate finality), a few for chains that can reorganise
    confirmations: int = Field(default=0, ge=0)
    #: how long to wait for a transaction to be mined and confirmed
    receipt_timeout_s: float = Field(default=120.0, gt=0)
    #: how often to ask the node for receipts and new blocks while waiting
    poll_interval_s: float = Field(default=0.2, gt=0)
    #: where the anchoring worker asks the log signer (`certreg log-signer`, another process
    #: holding LOG_SIGNER_ROLE's key) to authorise each checkpoint, e.g. `http://10.0.0.5:8547`
    #: (CERTREG_LOG_SIGNER_URL). Unset: only a development chain may sign in-process, with
    #: `CERTREG_LOG_SIGNER_KEY` (docs/deploy.md)
    log_signer_url: str | None = None
    #: the log signer's key, to sign in-process: development chains only (chains
    #: 31337, 1337); anywhere else the worker refuses to start with it (CERTREG_LOG_SIGNER_KEY)
    log_signer_key: SecretStr | None = None
    #: how long to wait for the log signer's answer
    log_signer_timeout_s: float = Field(default=30.0, gt=0)
    #: a fixed legacy gas price in wei (0 on free-gas permissioned networks); unset: EIP-1559
    #: fees where the latest block has a base fee, else the node's `eth_gasPrice`
    gas_price_wei: int | None = Field(default=None, ge=0)
    #: EIP-1559 tip in wei; unset: the node's `eth_maxPriorityFeePerGas`
    max_priority_fee_wei: int | None = Field(default=None, ge=0)
    #: extra gas on top of the node's estimate, in percent
    gas_margin_percent: int = Field(default=20, ge=0, le=500)

    @model_validator(mode="after")
    def _no_public_keys_off_dev_chains(self) -> AnchoringSettings:
        for name in ("anchorer_key", "deployer_key", "issuer_admin_key", "log_signer_key"):
            _refuse_public_key(name, getattr(self, name), chain_id=self.chain_id)
        return self

    @field_validator("contract_address")
    @classmethod
    def _checksum(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not is_address(value):
            raise ValueError(f"got {value!r}, want a 20-byte 0x-hex address")
        return to_checksum_address(value)

    @field_validator("anchorer_key", "deployer_key", "issuer_admin_key", "log_signer_key")
    @classmethod
    def _key_shape(cls, value: SecretStr | None) -> SecretStr | None:
        return _check_key_shape(value)


class LogSignerSettings(BaseSettings):
    """The log signer's own settings (`certreg log-signer`): its key, where it listens, whose
    checkpoints it authorises. It reaches the chain with the `AnchoringSettings` of its own
    process (CERTREG_RPC_URL, CERTREG_CHAIN_ID, CERTREG_CONTRACT_ADDRESS …), never the
    worker's keys."""

    model_config = SettingsConfigDict(
        env_prefix="CERTREG_",
        env_file=".env",
        extra="ignore",
        frozen=True,
        hide_input_in_errors=True,
    )

    #: secp256k1 key (0x-hex) of the account holding LOG_SIGNER_ROLE (CERTREG_LOG_SIGNER_KEY).
    #: In production only on the log signer's host, never on the anchoring worker's.
    log_signer_key: SecretStr | None = None
    #: the registry's checkpoint verifier key (`GET /v1/registry` → `vkey`): the signer
    #: authorises only checkpoints signed with it (CERTREG_REGISTRY_VKEY)
    registry_vkey: str | None = None
    #: where `certreg log-signer` listens (CERTREG_LOG_SIGNER_HOST, CERTREG_LOG_SIGNER_PORT)
    log_signer_host: str = "127.0.0.1"
    log_signer_port: int = Field(default=8547, ge=0, le=65535)
    #: the most entries one checkpoint may add: bounds what even a thief of both the sending
    #: and the checkpoint key could anchor (never 2^64 - 1; docs/spec.md §7.3)
    log_signer_max_growth: int = Field(default=100_000_000, ge=1)
    #: the chain the key is used on: Hardhat's well-known keys only on a development chain
    chain_id: int = Field(default=31337, ge=1)

    @model_validator(mode="after")
    def _no_public_keys_off_dev_chains(self) -> LogSignerSettings:
        _refuse_public_key("log_signer_key", self.log_signer_key, chain_id=self.chain_id)
        return self

    @field_validator("log_signer_key")
    @classmethod
    def _key_shape(cls, value: SecretStr | None) -> SecretStr | None:
        return _check_key_shape(value)
