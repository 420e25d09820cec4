"""Typed errors: one class per custom error of the contract, decoded from raw revert data."""

from __future__ import annotations

import pytest
from eth_abi.abi import encode as abi_encode
from eth_utils.crypto import keccak

from anchoring.artifacts import load_artifact
from anchoring.errors import (
    AccessControlUnauthorizedAccount,
    AnchoringError,
    ContractRevert,
    ECDSAInvalidSignatureLength,
    ErrorString,
    InvalidConsistencyProof,
    IssuerKeyAlreadyRevoked,
    Panic,
    TreeSizeNotGrowing,
    UnauthorisedLogSigner,
    UnknownRevert,
    decode_revert,
    revert_classes,
)


def _abi_errors() -> dict[str, list[str]]:
    errors = {}
    for item in load_artifact().abi:
        if item["type"] == "error":
            types = [i["type"] for i in item["inputs"]]
            errors[f"{item['name']}({','.join(types)})"] = types
    return errors


def _data(signature: str, types: list[str], values: list[object]) -> bytes:
    return keccak(text=signature)[:4] + abi_encode(types, values)


def test_every_abi_error_has_its_class_and_no_more() -> None:
    assert set(revert_classes()) == set(_abi_errors())


def test_class_names_match_solidity_names() -> None:
    for signature, cls in revert_classes().items():
        assert signature.split("(")[0] == cls.__name__
        assert len(cls.fields) == len(_abi_errors()[signature])


SAMPLES: dict[str, object] = {
    "address": "0x" + "ab" * 20,
    "bytes32": b"\x07" * 32,
    "uint8": 255,
    "uint48": 2**48 - 1,
    "uint64": 2**64 - 1,
    "uint256": 2**255,
}


@pytest.mark.parametrize("signature", sorted(_abi_errors()))
def test_round_trip(signature: str) -> None:
    types = _abi_errors()[signature]
    values = [SAMPLES[t] for t in types]
    error = decode_revert(_data(signature, types, values), tx_hash="0xfeed")
    cls = revert_classes()[signature]
    assert type(error) is cls
    assert isinstance(error, ContractRevert)
    assert isinstance(error, AnchoringError)
    assert error.tx_hash == "0xfeed"
    decoded = [v.lower() if isinstance(v, str) else v for v in error.args_]
    assert decoded == values
    for name, value in zip(cls.fields, error.args_, strict=True):
        assert getattr(error, name) == value
    assert cls.__name__ in str(error)


def test_messages_say_got_and_want() -> None:
    error = decode_revert(_data("TreeSizeNotGrowing(uint64,uint64)", ["uint64"] * 2, [3, 7]))
    assert isinstance(error, TreeSizeNotGrowing)
    assert "tree size: got 3, want more than 7" in str(error)
    first = InvalidConsistencyProof(0, 5, 2)
    assert "first checkpoint: got a proof of 2 hashes, want none" in str(first)
    revoked = IssuerKeyAlreadyRevoked(b"\x01" * 32, b"\x02" * 32, 9, 12)
    assert "revocation block: got 12, want one before 9" in str(revoked)
    assert "0x0101" in str(revoked)
    signer = UnauthorisedLogSigner("0x" + "ab" * 20, b"\x05" * 32)
    assert f"got a signature by 0x{'ab' * 20}" in str(signer)
    assert "want one by a log signer over digest 0x0505" in str(signer)
    assert "got 64 bytes, want 65" in str(ECDSAInvalidSignatureLength(64))


def test_addresses_come_back_checksummed() -> None:
    signature = "AccessControlUnauthorizedAccount(address,bytes32)"
    data = _data(signature, ["address", "bytes32"], ["0x" + "ab" * 20, bytes(32)])
    error = decode_revert(data)
    assert isinstance(error, AccessControlUnauthorizedAccount)
    assert error.account == "0xABaBaBaBABabABabAbAbABAbABabababaBaBABaB"


def test_builtin_errors() -> None:
    reason = decode_revert(_data("Error(string)", ["string"], ["nope"]))
    assert isinstance(reason, ErrorString)
    assert reason.reason == "nope"
    panic = decode_revert(_data("Panic(uint256)", ["uint256"], [0x11]))
    assert isinstance(panic, Panic)
    assert panic.code == 0x11


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x12\x34",
        b"\xde\xad\xbe\xef" + bytes(32),
        # A known selector with arguments that do not decode: never a wrongly typed error.
        keccak(text="TreeSizeNotGrowing(uint64,uint64)")[:4] + b"\x01",
        keccak(text="TreeSizeNotGrowing(uint64,uint64)")[:4] + (2**64).to_bytes(32, "big") * 2,
    ],
)
def test_unknown_or_malformed_data(data: bytes) -> None:
    error = decode_revert(data)
    assert isinstance(error, UnknownRevert)
    assert error.data == data


def test_wrong_number_of_values_is_a_programming_error() -> None:
    with pytest.raises(TypeError, match="got 1 values, want 2"):
        TreeSizeNotGrowing(1)
