"""Transactions are signed locally with eth-account on coincurve's secp256k1."""

from __future__ import annotations

from eth_account import Account
from eth_keys.backends import get_backend
from eth_keys.backends.coincurve import CoinCurveECCBackend


def test_coincurve_backend_is_used() -> None:
    # eth-keys falls back to pure Python (~9 ms a signature) when coincurve is missing.
    assert isinstance(get_backend(), CoinCurveECCBackend)


def test_signs_an_eip1559_transaction() -> None:
    account = Account.from_key("0x" + "4c" * 32)
    signed = account.sign_transaction(
        {
            "type": 2,
            "chainId": 31337,
            "nonce": 0,
            "gas": 100_000,
            "maxFeePerGas": 2,
            "maxPriorityFeePerGas": 1,
            "to": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
            "value": 0,
            "data": b"",
        }
    )
    assert Account.recover_transaction(signed.raw_transaction) == account.address
