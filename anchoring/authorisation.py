"""The log signer's authorisation of a checkpoint: EIP-712 typed data (docs/spec.md §7.3).

`anchor` takes a checkpoint only with the secp256k1 signature, by an account holding
`LOG_SIGNER_ROLE`, of the typed struct

    Checkpoint(uint64 previousTreeSize, bytes32 previousLogRoot,
               uint64 treeSize, bytes32 logRoot, bytes32 mapRoot)

in the domain `EIP712Domain(string name, string version, uint256 chainId, address
verifyingContract)` = ("CertregAnchor", "2", the chain's id, the contract's address). The
previous size and root are those of the latest anchored checkpoint (0 and 32 zero bytes before
the first: those of the predecessor's checkpoint a successor starts from, else 0 and zeros), so
an authorisation fits exactly one step of one contract on one chain.

Signing and hashing go through eth-account's EIP-712 encoder; nothing here is hand-rolled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Protocol

from eth_account import Account
from eth_account.messages import SignableMessage, _hash_eip191_message, encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils.address import is_address, to_checksum_address

from anchoring.errors import InvalidArgumentError
from anchoring.models import bytes32

__all__ = [
    "EIP712_NAME",
    "EIP712_VERSION",
    "AnchorDomain",
    "Authorisation",
    "Base",
    "CheckpointStep",
    "recover_signer",
    "sign_step",
]

#: The contract's EIP-712 domain name and version (contracts/CertregAnchor.sol); version "2"
#: is the second version of the contract's interface, the first whose `anchor` needs this.
EIP712_NAME: Final = "CertregAnchor"
EIP712_VERSION: Final = "2"
_UINT64_MAX: Final = 2**64 - 1

_TYPES: Final = {
    "EIP712Domain": [
        {"name": "name", "type": "string"},
        {"name": "version", "type": "string"},
        {"name": "chainId", "type": "uint256"},
        {"name": "verifyingContract", "type": "address"},
    ],
    "Checkpoint": [
        {"name": "previousTreeSize", "type": "uint64"},
        {"name": "previousLogRoot", "type": "bytes32"},
        {"name": "treeSize", "type": "uint64"},
        {"name": "logRoot", "type": "bytes32"},
        {"name": "mapRoot", "type": "bytes32"},
    ],
}


class Base(Protocol):
    """What a step extends: the latest checkpoint, or the one a successor starts from."""

    @property
    def tree_size(self) -> int: ...

    @property
    def log_root(self) -> bytes: ...


def _size(value: int, *, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _UINT64_MAX:
        raise InvalidArgumentError(f"{what}: got {value!r}, want an integer in 0..2^64-1")
    return value


@dataclass(frozen=True, slots=True)
class AnchorDomain:
    """Where an authorisation is valid: one contract on one chain."""

    chain_id: int
    contract: ChecksumAddress

    def __post_init__(self) -> None:
        if (
            isinstance(self.chain_id, bool)
            or not isinstance(self.chain_id, int)
            or self.chain_id < 1
        ):
            raise InvalidArgumentError(f"chain id: got {self.chain_id!r}, want an integer >= 1")
        if not is_address(self.contract) or self.contract != to_checksum_address(self.contract):
            raise InvalidArgumentError(
                f"contract: got {self.contract!r}, want an EIP-55 0x-hex address"
            )


@dataclass(frozen=True, slots=True)
class CheckpointStep:
    """One anchoring step: the checkpoint (`tree_size`, `log_root`, `map_root`) on top of the
    latest anchored one (`previous_tree_size`, `previous_log_root`; 0 and zeros at first)."""

    previous_tree_size: int
    previous_log_root: bytes
    tree_size: int
    log_root: bytes
    map_root: bytes

    def __post_init__(self) -> None:
        _size(self.previous_tree_size, what="previous tree size")
        _size(self.tree_size, what="tree size")
        bytes32(self.previous_log_root, what="previous log root")
        bytes32(self.log_root, what="log root")
        bytes32(self.map_root, what="map root")

    @classmethod
    def on_top_of(
        cls, base: Base | None, *, tree_size: int, log_root: bytes, map_root: bytes
    ) -> CheckpointStep:
        """The step from `base`: the latest anchored checkpoint, else a successor's starting
        checkpoint (`AnchorClient.anchor_base`); None for a first contract's first anchor."""
        return cls(
            previous_tree_size=0 if base is None else base.tree_size,
            previous_log_root=bytes(32) if base is None else base.log_root,
            tree_size=tree_size,
            log_root=log_root,
            map_root=map_root,
        )

    def typed_data(self, domain: AnchorDomain) -> dict[str, Any]:
        """The EIP-712 message (as `eth_signTypedData_v4` takes it)."""
        return {
            "types": _TYPES,
            "primaryType": "Checkpoint",
            "domain": {
                "name": EIP712_NAME,
                "version": EIP712_VERSION,
                "chainId": domain.chain_id,
                "verifyingContract": domain.contract,
            },
            "message": {
                "previousTreeSize": self.previous_tree_size,
                "previousLogRoot": self.previous_log_root,
                "treeSize": self.tree_size,
                "logRoot": self.log_root,
                "mapRoot": self.map_root,
            },
        }

    def signable(self, domain: AnchorDomain) -> SignableMessage:
        return encode_typed_data(full_message=self.typed_data(domain))

    def digest(self, domain: AnchorDomain) -> bytes:
        """The 32 bytes that are signed: keccak256(0x19 0x01 ‖ domainSeparator ‖ hashStruct)."""
        return bytes(_hash_eip191_message(self.signable(domain)))


@dataclass(frozen=True, slots=True)
class Authorisation:
    """A log signer's signature of one step, and who signed it."""

    step: CheckpointStep
    signature: bytes  # 65 bytes: r ‖ s ‖ v
    signer: ChecksumAddress


def sign_step(account: LocalAccount, domain: AnchorDomain, step: CheckpointStep) -> Authorisation:
    """Sign `step` for `domain` with the log signer's `account`."""
    signed = account.sign_message(step.signable(domain))
    return Authorisation(step=step, signature=bytes(signed.signature), signer=account.address)


def recover_signer(domain: AnchorDomain, step: CheckpointStep, signature: bytes) -> ChecksumAddress:
    """The account whose key made `signature` over `step` in `domain` (as the contract sees it)."""
    return to_checksum_address(
        Account.recover_message(step.signable(domain), signature=bytes(signature))
    )
