"""Errors of the `anchoring` package, all under one root, `AnchoringError`.

Every custom error of the contract has a typed subclass of `ContractRevert` carrying the error's
arguments as attributes, so that callers can `except TreeSizeNotGrowing as e: e.latest_tree_size`
instead of parsing strings. `decode_revert` turns raw revert data into the right one; a test
checks that every error in the contract's ABI has its class here and the other way round.
Messages follow "what: got X, want Y".
"""

from __future__ import annotations

from typing import Any, ClassVar, Final

from eth_abi.abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

__all__ = [
    "AccessControlBadConfirmation",
    "AccessControlEnforcedDefaultAdminDelay",
    "AccessControlEnforcedDefaultAdminRules",
    "AccessControlInvalidDefaultAdmin",
    "AccessControlUnauthorizedAccount",
    "AnchoringError",
    "ArtifactError",
    "AuthorisationRefusedError",
    "ChainConnectionError",
    "ChainIdMismatchError",
    "CompileError",
    "ConfirmationTimeoutError",
    "ContractRevert",
    "DeploymentError",
    "ECDSAInvalidSignature",
    "ECDSAInvalidSignatureLength",
    "ECDSAInvalidSignatureS",
    "ErrorString",
    "InvalidArgumentError",
    "InvalidConsistencyProof",
    "InvalidPredecessor",
    "IssuerKeyAlreadyRegistered",
    "IssuerKeyAlreadyRevoked",
    "IssuerKeyNotRegistered",
    "Panic",
    "RevokedBeforeValidFrom",
    "SafeCastOverflowedUintDowncast",
    "SettingsError",
    "TransactionFailedError",
    "TransactionRejectedError",
    "TreeSizeNotGrowing",
    "UnauthorisedLogSigner",
    "UnknownRevert",
    "ValidFromInPast",
    "ZeroPublicKey",
    "decode_revert",
    "revert_classes",
]


class AnchoringError(Exception):
    """Base class of every error raised by `anchoring`."""


class SettingsError(AnchoringError, ValueError):
    """The anchoring settings are missing or inconsistent (e.g. no contract address)."""


class InvalidArgumentError(AnchoringError, ValueError):
    """A value given to the client cannot be sent as the contract wants it (e.g. not 32 bytes)."""


class CompileError(AnchoringError):
    """The contracts could not be compiled, or the compiler is not the pinned one."""


class ArtifactError(AnchoringError):
    """A compiled artifact or a deployment file is missing, malformed or does not match."""


class DeploymentError(AnchoringError):
    """Deploying the contract failed."""


class ChainConnectionError(AnchoringError):
    """The chain node could not be reached or answered outside JSON-RPC."""


class ChainIdMismatchError(AnchoringError):
    """The node serves another chain than the settings or the deployment file say."""

    def __init__(self, *, got: int, want: int) -> None:
        super().__init__(f"chain id: got {got} from the node, want {want}")
        self.got = got
        self.want = want


class TransactionRejectedError(AnchoringError):
    """The node refused to accept a transaction (bad nonce, fee, gas limit...)."""


class TransactionFailedError(AnchoringError):
    """A mined transaction has status 0 and its revert reason could not be recovered."""

    def __init__(self, *, tx_hash: str, block_number: int) -> None:
        super().__init__(f"transaction {tx_hash} in block {block_number}: got status 0, want 1")
        self.tx_hash = tx_hash
        self.block_number = block_number


class ConfirmationTimeoutError(AnchoringError):
    """A transaction was not mined, or not confirmed deep enough, in time."""

    def __init__(self, *, tx_hash: str, confirmations: int, want: int, timeout_s: float) -> None:
        super().__init__(
            f"transaction {tx_hash}: got {confirmations} confirmations after {timeout_s:g} s, "
            f"want {want}"
        )
        self.tx_hash = tx_hash
        self.confirmations = confirmations
        self.want = want
        self.timeout_s = timeout_s


class AuthorisationRefusedError(AnchoringError):
    """The log signer refused to authorise a checkpoint, or could not be asked.

    `reason` is a stable word (e.g. `not_growing`, `inconsistent`, `bad_note`, `unavailable`)
    so that the worker can tell "already anchored" from "something is wrong".
    """

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class ContractRevert(AnchoringError):  # noqa: N818 - subclasses carry the Solidity names
    """The contract reverted. Subclasses mirror the contract's custom errors one to one.

    `signature` is the Solidity error signature, `fields` the Python names of its arguments in
    order; `args_` holds the decoded values (`args` is taken by `Exception`).
    """

    signature: ClassVar[str] = ""
    fields: ClassVar[tuple[str, ...]] = ()
    #: set when the revert came from a mined transaction rather than a pre-flight call
    tx_hash: str | None

    def __init__(self, *values: Any, tx_hash: str | None = None) -> None:
        if len(values) != len(self.fields):
            raise TypeError(
                f"{type(self).__name__}: got {len(values)} values, want {len(self.fields)}"
            )
        self.args_ = values
        self.tx_hash = tx_hash
        for name, value in zip(self.fields, values, strict=True):
            setattr(self, name, value)
        shown = ", ".join(
            f"{name}={_show(value)}" for name, value in zip(self.fields, values, strict=True)
        )
        super().__init__(f"contract reverted with {type(self).__name__}({shown}): {self.meaning}")

    @property
    def meaning(self) -> str:
        """One sentence saying what went wrong, in the "got X, want Y" form where it fits."""
        return self.__doc__.splitlines()[0] if self.__doc__ else ""


def _show(value: object) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return str(value)


class InvalidPredecessor(ContractRevert):
    """Predecessor: got no contract with a checkpoint at that index, want the contract this one
    succeeds and one of its checkpoints (zero address and index 0 for a first contract)."""

    signature = "InvalidPredecessor(address,uint256)"
    fields = ("predecessor", "index")
    predecessor: str
    index: int


class UnauthorisedLogSigner(ContractRevert):
    """The anchor's authorisation was not signed by a log signer over this very step."""

    signature = "UnauthorisedLogSigner(address,bytes32)"
    fields = ("signer", "digest")
    signer: str
    digest: bytes

    @property
    def meaning(self) -> str:
        return (
            f"authorisation: got a signature by {self.signer} (over another checkpoint, "
            "previous checkpoint, chain or contract, or by a key without LOG_SIGNER_ROLE), "
            f"want one by a log signer over digest 0x{self.digest.hex()}"
        )


class TreeSizeNotGrowing(ContractRevert):
    """The tree size does not grow."""

    signature = "TreeSizeNotGrowing(uint64,uint64)"
    fields = ("tree_size", "latest_tree_size")
    tree_size: int
    latest_tree_size: int

    @property
    def meaning(self) -> str:
        return f"tree size: got {self.tree_size}, want more than {self.latest_tree_size}"


class InvalidConsistencyProof(ContractRevert):
    """The consistency proof does not show that the new root extends the latest one."""

    signature = "InvalidConsistencyProof(uint64,uint64,uint256)"
    fields = ("from_size", "tree_size", "proof_length")
    from_size: int
    tree_size: int
    proof_length: int

    @property
    def meaning(self) -> str:
        if self.from_size == 0:
            return f"first checkpoint: got a proof of {self.proof_length} hashes, want none"
        return (
            f"consistency proof from size {self.from_size} to {self.tree_size} "
            f"({self.proof_length} hashes): got a proof that does not verify against the "
            "latest anchored root, want one that does"
        )


class ZeroPublicKey(ContractRevert):
    """Public key: got 32 zero bytes, want a real Ed25519 key."""

    signature = "ZeroPublicKey(bytes32)"
    fields = ("issuer_id",)
    issuer_id: bytes


class ValidFromInPast(ContractRevert):
    """A key may not be valid from a block already mined."""

    signature = "ValidFromInPast(uint64,uint64)"
    fields = ("valid_from", "current_block")
    valid_from: int
    current_block: int

    @property
    def meaning(self) -> str:
        return f"valid-from block: got {self.valid_from}, want 0 or >= {self.current_block}"


class IssuerKeyAlreadyRegistered(ContractRevert):
    """Issuer key: got one already registered for this issuer, want a new key."""

    signature = "IssuerKeyAlreadyRegistered(bytes32,bytes32)"
    fields = ("issuer_id", "key_id")
    issuer_id: bytes
    key_id: bytes


class IssuerKeyNotRegistered(ContractRevert):
    """Issuer key: got a key id not registered for this issuer, want a registered one."""

    signature = "IssuerKeyNotRegistered(bytes32,bytes32)"
    fields = ("issuer_id", "key_id")
    issuer_id: bytes
    key_id: bytes


class IssuerKeyAlreadyRevoked(ContractRevert):
    """The issuer key is already revoked no later than the block asked for."""

    signature = "IssuerKeyAlreadyRevoked(bytes32,bytes32,uint64,uint64)"
    fields = ("issuer_id", "key_id", "revoked_at", "requested")
    issuer_id: bytes
    key_id: bytes
    revoked_at: int
    requested: int

    @property
    def meaning(self) -> str:
        return (
            f"revocation block: got {self.requested}, want one before {self.revoked_at}, where "
            "the key is already revoked (a revocation only moves earlier)"
        )


class RevokedBeforeValidFrom(ContractRevert):
    """A key cannot be revoked before it is valid."""

    signature = "RevokedBeforeValidFrom(uint64,uint64)"
    fields = ("revoked_at", "valid_from")
    revoked_at: int
    valid_from: int

    @property
    def meaning(self) -> str:
        return f"revocation block: got {self.revoked_at}, want >= {self.valid_from}"


class AccessControlUnauthorizedAccount(ContractRevert):
    """The sending account lacks the role the function needs (OpenZeppelin AccessControl)."""

    signature = "AccessControlUnauthorizedAccount(address,bytes32)"
    fields = ("account", "needed_role")
    account: str
    needed_role: bytes

    @property
    def meaning(self) -> str:
        return f"role: got account {self.account} without it, want 0x{self.needed_role.hex()}"


class AccessControlBadConfirmation(ContractRevert):
    """renounceRole: got another account than the caller, want the caller itself."""

    signature = "AccessControlBadConfirmation()"
    fields = ()


class AccessControlInvalidDefaultAdmin(ContractRevert):
    """The authority: got the zero address, want an account that can grant roles."""

    signature = "AccessControlInvalidDefaultAdmin(address)"
    fields = ("admin",)
    admin: str


class AccessControlEnforcedDefaultAdminRules(ContractRevert):
    """The authority role: got a direct grant, revoke or early renounce, want the two-step
    transfer (beginDefaultAdminTransfer, then acceptDefaultAdminTransfer after the delay)."""

    signature = "AccessControlEnforcedDefaultAdminRules()"
    fields = ()


class AccessControlEnforcedDefaultAdminDelay(ContractRevert):
    """The authority's transfer or renouncement is not yet due."""

    signature = "AccessControlEnforcedDefaultAdminDelay(uint48)"
    fields = ("schedule",)
    schedule: int

    @property
    def meaning(self) -> str:
        return (
            "authority transfer: got it before its time, want it after "
            f"{self.schedule} (Unix seconds) by the pending admin"
        )


class ECDSAInvalidSignature(ContractRevert):
    """Authorisation: got a signature that recovers no account, want a secp256k1 signature."""

    signature = "ECDSAInvalidSignature()"
    fields = ()


class ECDSAInvalidSignatureLength(ContractRevert):
    """Authorisation: the signature has the wrong length."""

    signature = "ECDSAInvalidSignatureLength(uint256)"
    fields = ("length",)
    length: int

    @property
    def meaning(self) -> str:
        return f"authorisation: got {self.length} bytes, want 65 (r, s, v)"


class ECDSAInvalidSignatureS(ContractRevert):
    """Authorisation: got a malleable signature (high s), want the low-s form."""

    signature = "ECDSAInvalidSignatureS(bytes32)"
    fields = ("s",)
    s: bytes


class SafeCastOverflowedUintDowncast(ContractRevert):
    """A value does not fit the contract's integer type (e.g. an admin delay above 2^48-1)."""

    signature = "SafeCastOverflowedUintDowncast(uint8,uint256)"
    fields = ("bits", "value")
    bits: int
    value: int

    @property
    def meaning(self) -> str:
        return f"value: got {self.value}, want one that fits {self.bits} bits"


class ErrorString(ContractRevert):
    """A `require(..., "reason")` or `revert("reason")` (the contract itself uses none)."""

    signature = "Error(string)"
    fields = ("reason",)
    reason: str


class Panic(ContractRevert):
    """A Solidity panic (assert, overflow, bounds...): the contract should never hit one."""

    signature = "Panic(uint256)"
    fields = ("code",)
    code: int


class UnknownRevert(ContractRevert):
    """A revert whose data matches no known error (or has none)."""

    signature = ""
    fields = ("data",)
    data: bytes


_CUSTOM: Final[tuple[type[ContractRevert], ...]] = (
    InvalidPredecessor,
    UnauthorisedLogSigner,
    TreeSizeNotGrowing,
    InvalidConsistencyProof,
    ZeroPublicKey,
    ValidFromInPast,
    IssuerKeyAlreadyRegistered,
    IssuerKeyNotRegistered,
    IssuerKeyAlreadyRevoked,
    RevokedBeforeValidFrom,
    AccessControlUnauthorizedAccount,
    AccessControlBadConfirmation,
    AccessControlInvalidDefaultAdmin,
    AccessControlEnforcedDefaultAdminRules,
    AccessControlEnforcedDefaultAdminDelay,
    ECDSAInvalidSignature,
    ECDSAInvalidSignatureLength,
    ECDSAInvalidSignatureS,
    SafeCastOverflowedUintDowncast,
)
_BUILTIN: Final[tuple[type[ContractRevert], ...]] = (ErrorString, Panic)


def _selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


def _types(signature: str) -> list[str]:
    inner = signature[signature.index("(") + 1 : -1]
    return inner.split(",") if inner else []


_BY_SELECTOR: Final[dict[bytes, type[ContractRevert]]] = {
    _selector(cls.signature): cls for cls in (*_CUSTOM, *_BUILTIN)
}


def revert_classes() -> dict[str, type[ContractRevert]]:
    """The contract's custom errors by Solidity signature (builtins `Error`/`Panic` excluded)."""
    return {cls.signature: cls for cls in _CUSTOM}


def decode_revert(data: bytes, *, tx_hash: str | None = None) -> ContractRevert:
    """The typed error for raw revert data; `UnknownRevert` when no known error matches."""
    cls = _BY_SELECTOR.get(data[:4])
    if cls is None:
        return UnknownRevert(data, tx_hash=tx_hash)
    types = _types(cls.signature)
    try:
        values = abi_decode(types, data[4:], strict=True)
    except (DecodingError, OverflowError, ValueError):
        return UnknownRevert(data, tx_hash=tx_hash)
    # eth-abi gives addresses in lowercase; everything else in this package is EIP-55.
    shown = [
        to_checksum_address(value) if kind == "address" else value
        for kind, value in zip(types, values, strict=True)
    ]
    return cls(*shown, tx_hash=tx_hash)
