"""The chain client: sending signed transactions, and the typed calls of the anchoring contract.

`ChainClient` owns one account and everything about getting its transactions mined:
- signing locally with eth-account (coincurve makes that ~1.4 ms instead of ~9 ms);
- nonces counted locally — no round trip per transaction — and re-read from the node
  (`pending`) after any error, with one retry when the node said the nonce was wrong;
- fees: EIP-1559 where the latest block has a base fee, else the node's legacy gas price, or a
  fixed legacy price from the settings (0 on free-gas Besu/Quorum networks);
- waiting for the receipt and a configurable number of confirmations;
- turning reverts into the typed errors of `anchoring.errors`, both in the pre-flight gas
  estimate and for a transaction that was mined with status 0 (Hardhat's
  `throwOnTransactionFailures: false`, and every real chain): the call is replayed at the
  block before to recover the revert data.

`AnchorClient` is the contract's API in Python types: bytes for hashes, ints for sizes, EIP-55
strings for addresses, frozen dataclasses for what it returns.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeVar, cast
from urllib.parse import urlsplit

import requests
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress, HexStr
from eth_utils.address import is_address, to_checksum_address
from hexbytes import HexBytes
from pydantic import SecretStr
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import (
    ContractLogicError,
    TransactionNotFound,
    Web3Exception,
    Web3RPCError,
)
from web3.types import BlockIdentifier, Nonce, TxParams, TxReceipt, Wei

from anchoring.artifacts import ContractArtifact, load_artifact
from anchoring.authorisation import AnchorDomain, CheckpointStep
from anchoring.deployment import load_deployment
from anchoring.errors import (
    AnchoringError,
    ArtifactError,
    ChainConnectionError,
    ChainIdMismatchError,
    ConfirmationTimeoutError,
    InvalidArgumentError,
    SettingsError,
    TransactionFailedError,
    TransactionRejectedError,
    decode_revert,
)
from anchoring.models import (
    AnchorResult,
    Checkpoint,
    IssuerKey,
    Predecessor,
    TransactionResult,
    bytes32,
)
from anchoring.settings import AnchoringSettings

__all__ = [
    "AnchorClient",
    "ChainClient",
    "PendingTransaction",
    "RoleName",
    "redact_endpoint",
    "scrub",
    "settings_artifact",
]

RoleName = Literal["DEFAULT_ADMIN_ROLE", "ANCHORER_ROLE", "ISSUER_ADMIN_ROLE", "LOG_SIGNER_ROLE"]

_UINT64_MAX: Final = 2**64 - 1
# What nodes say when the nonce we used is not the one they expect (Hardhat/EDR, Geth, Besu,
# Quorum), lowercased. Only these errors are retried, once, with the nonce re-read.
_NONCE_ERRORS: Final = (
    "nonce too low",
    "nonce too high",
    "nonce_too_low",
    "nonce_too_high",
    "replacement transaction underpriced",
    "expected nonce",
)
# The node already holds this very transaction (same bytes, same hash): it was sent.
_ALREADY_KNOWN: Final = ("already known", "known transaction")

_T = TypeVar("_T")


def _uint64(value: int, *, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= _UINT64_MAX:
        raise InvalidArgumentError(f"{what}: got {value!r}, want an integer in 0..2^64-1")
    return value


def _hex(data: bytes) -> HexStr:
    return HexStr("0x" + bytes(data).hex())


def _revert_data(exc: ContractLogicError) -> bytes:
    """The raw revert data a node attached to an error (a hex string, or inside a dict)."""
    data: object = exc.data
    if isinstance(data, dict):
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x"):
        try:
            return bytes.fromhex(data[2:])
        except ValueError:
            return b""
    return b""


@contextmanager
def _rpc(what: str) -> Iterator[None]:
    """Turn transport failures into `ChainConnectionError` (RPC-level errors pass through).
    The message is scrubbed of the endpoint's credentials: it reaches the logs."""
    try:
        yield
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
        raise ChainConnectionError(
            f"{what}: got no answer from the node ({scrub(str(exc))})"
        ) from exc


# An RPC URL may carry credentials: user:password@ before the host, or an API key in its path
# or query (as hosted nodes issue them). Neither may reach a log or an error message.
_USERINFO: Final = re.compile(r"//[^/@\s]+@")
_REQUESTS_URL: Final = re.compile(r"(with url: )\S+")


def redact_endpoint(url: str) -> str:
    """`url` as logs may show it: scheme, host and port; the rest, if any, as `/…`."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.hostname:
        return "the node"
    port = f":{parts.port}" if parts.port else ""
    rest = "/…" if parts.path.strip("/") or parts.query else ""
    return f"{parts.scheme}://{parts.hostname}{port}{rest}"


def scrub(text: str) -> str:
    """`text` (a transport error's message) without credentials or request paths."""
    return _REQUESTS_URL.sub(r"\1…", _USERINFO.sub("//", text))


def settings_artifact(settings: AnchoringSettings) -> ContractArtifact:
    """The artifact the settings select (`artifact_dir`, else the committed one)."""
    if settings.artifact_dir is None:
        return load_artifact()
    return load_artifact(directory=settings.artifact_dir)


def settings_contract_address(
    settings: AnchoringSettings, *, artifact: ContractArtifact | None = None
) -> str:
    """The contract the settings name: `CERTREG_CONTRACT_ADDRESS`, else the deployment file's
    (checked against the chain id and the artifact's ABI)."""
    if settings.contract_address is not None:
        return settings.contract_address
    return load_deployment(
        settings.deployment_file,
        chain_id=settings.chain_id,
        artifact=artifact or settings_artifact(settings),
    ).address


@dataclass(frozen=True, slots=True)
class PendingTransaction:
    """A transaction the node accepted, not yet known to be mined."""

    tx_hash: HexStr
    nonce: int
    params: TxParams


class ChainClient:
    """Sends one account's transactions and waits for them; see the module docstring."""

    def __init__(
        self,
        w3: Web3,
        account: LocalAccount,
        *,
        chain_id: int,
        confirmations: int = 0,
        receipt_timeout_s: float = 120.0,
        poll_interval_s: float = 0.2,
        gas_price_wei: int | None = None,
        max_priority_fee_wei: int | None = None,
        gas_margin_percent: int = 20,
    ) -> None:
        self.w3 = w3
        self.account = account
        self.chain_id = chain_id
        self.confirmations = confirmations
        self.receipt_timeout_s = receipt_timeout_s
        self.poll_interval_s = poll_interval_s
        self.gas_price_wei = gas_price_wei
        self.max_priority_fee_wei = max_priority_fee_wei
        self.gas_margin_percent = gas_margin_percent
        self._nonce: int | None = None
        # One sender at a time: the local nonce counter is the shared state.
        self._lock = threading.Lock()

    @classmethod
    def connect(cls, settings: AnchoringSettings, *, private_key: str) -> ChainClient:
        """A client for `settings.rpc_url`, after checking that the node's chain id is ours."""
        w3 = Web3(Web3.HTTPProvider(settings.rpc_url, request_kwargs={"timeout": 30}))
        client = cls(
            w3,
            Account.from_key(private_key),
            chain_id=settings.chain_id,
            confirmations=settings.confirmations,
            receipt_timeout_s=settings.receipt_timeout_s,
            poll_interval_s=settings.poll_interval_s,
            gas_price_wei=settings.gas_price_wei,
            max_priority_fee_wei=settings.max_priority_fee_wei,
            gas_margin_percent=settings.gas_margin_percent,
        )
        client.check_chain_id()
        return client

    @property
    def address(self) -> ChecksumAddress:
        return self.account.address

    def check_chain_id(self) -> None:
        """`ChainIdMismatchError` unless the node reports `self.chain_id`."""
        with _rpc(f"eth_chainId at {self._endpoint()}"):
            got = self.w3.eth.chain_id
        if got != self.chain_id:
            raise ChainIdMismatchError(got=got, want=self.chain_id)

    def _endpoint(self) -> str:
        return redact_endpoint(str(getattr(self.w3.provider, "endpoint_uri", "")))

    # -- fees, nonces, gas ---------------------------------------------------------------

    def fee_fields(self) -> TxParams:
        """The fee fields of the next transaction (see the module docstring)."""
        if self.gas_price_wei is not None:
            return {"gasPrice": Wei(self.gas_price_wei)}
        with _rpc("eth_getBlockByNumber"):
            block = self.w3.eth.get_block("latest")
        base_fee = block.get("baseFeePerGas")
        if base_fee is None:
            with _rpc("eth_gasPrice"):
                return {"gasPrice": self.w3.eth.gas_price}
        if self.max_priority_fee_wei is not None:
            tip = self.max_priority_fee_wei
        else:
            with _rpc("eth_maxPriorityFeePerGas"):
                tip = self.w3.eth.max_priority_fee
        # Twice the base fee survives six full blocks of base-fee growth before the
        # transaction stops being includable; what is not used is not paid.
        return {
            "type": 2,
            "maxFeePerGas": Wei(2 * base_fee + tip),
            "maxPriorityFeePerGas": Wei(tip),
        }

    def _next_nonce(self) -> int:
        if self._nonce is None:
            with _rpc("eth_getTransactionCount"):
                self._nonce = self.w3.eth.get_transaction_count(self.address, "pending")
        return self._nonce

    def waiting_transactions(self) -> int:
        """How many of this account's transactions the node holds unmined in its pool."""
        with _rpc("eth_getTransactionCount"):
            pending = self.w3.eth.get_transaction_count(self.address, "pending")
            mined = self.w3.eth.get_transaction_count(self.address, "latest")
        return max(pending - mined, 0)

    def forget_nonce(self) -> None:
        """Re-read the nonce from the node before the next transaction."""
        self._nonce = None

    def estimate_gas(self, *, to: str | None, data: bytes) -> int:
        """The node's gas estimate plus the margin; a revert raises its typed error."""
        params: TxParams = {"from": self.address, "data": HexBytes(data), "value": Wei(0)}
        if to is not None:
            params["to"] = to
        try:
            with _rpc("eth_estimateGas"):
                estimate = self.w3.eth.estimate_gas(params)
        except ContractLogicError as exc:
            raise decode_revert(_revert_data(exc)) from exc
        return estimate * (100 + self.gas_margin_percent) // 100

    # -- sending and waiting ---------------------------------------------------------------

    def send(self, *, to: str | None, data: bytes, gas: int | None = None) -> PendingTransaction:
        """Sign and send a transaction (`to` None: contract creation); do not wait for it.

        The gas estimate runs first, so a transaction that would revert now raises its typed
        error here and is never sent.
        """
        with self._lock:
            limit = gas if gas is not None else self.estimate_gas(to=to, data=data)
            fees = self.fee_fields()
            for attempt in (1, 2):
                nonce = self._next_nonce()
                params: TxParams = {
                    "chainId": self.chain_id,
                    "nonce": Nonce(nonce),
                    "gas": limit,
                    "data": HexBytes(data),
                    "value": Wei(0),
                    **fees,
                }
                if to is not None:
                    params["to"] = to
                signed = self.account.sign_transaction(cast(dict[str, Any], params))
                try:
                    with _rpc("eth_sendRawTransaction"):
                        tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
                except (Web3RPCError, ValueError) as exc:
                    # Whatever happened, the node is the authority on our nonce now.
                    self._nonce = None
                    message = str(exc).lower()
                    if any(word in message for word in _ALREADY_KNOWN):
                        tx_hash = signed.hash
                    elif attempt == 1 and any(word in message for word in _NONCE_ERRORS):
                        continue
                    else:
                        raise TransactionRejectedError(
                            f"eth_sendRawTransaction: got {exc}, want the transaction accepted"
                        ) from exc
                except ChainConnectionError:
                    self._nonce = None
                    raise
                self._nonce = nonce + 1
                params["from"] = self.address
                return PendingTransaction(tx_hash=_hex(tx_hash), nonce=nonce, params=params)
        raise AssertionError("unreachable: the second attempt returns or raises")

    def wait(self, pending: PendingTransaction) -> tuple[TransactionResult, TxReceipt]:
        """Wait for the receipt and `confirmations` blocks on top of it.

        A receipt with status 0 raises the contract's typed error (recovered by replaying the
        call), or `TransactionFailedError`; running out of time raises `ConfirmationTimeoutError`.
        """
        deadline = time.monotonic() + self.receipt_timeout_s
        depth = 0
        while True:
            receipt = self._receipt(pending.tx_hash)
            if receipt is not None:
                if receipt["status"] != 1:
                    raise self._failure(pending, receipt)
                with _rpc("eth_blockNumber"):
                    head = self.w3.eth.block_number
                depth = head - receipt["blockNumber"]
                if depth >= self.confirmations:
                    # Still the same block after the wait? A reorganisation would have moved
                    # or dropped the transaction; then keep waiting on the new one.
                    again = self._receipt(pending.tx_hash)
                    if again is not None and again["blockHash"] == receipt["blockHash"]:
                        return self._result(receipt, depth), receipt
            if time.monotonic() >= deadline:
                # It may still be pending, or dropped: let the node say what our nonce is.
                self.forget_nonce()
                raise ConfirmationTimeoutError(
                    tx_hash=pending.tx_hash,
                    confirmations=max(depth, 0),
                    want=self.confirmations,
                    timeout_s=self.receipt_timeout_s,
                )
            time.sleep(self.poll_interval_s)

    def transact(
        self, *, to: str | None, data: bytes, gas: int | None = None
    ) -> tuple[TransactionResult, TxReceipt]:
        """`send` then `wait`."""
        return self.wait(self.send(to=to, data=data, gas=gas))

    def _receipt(self, tx_hash: HexStr) -> TxReceipt | None:
        try:
            with _rpc("eth_getTransactionReceipt"):
                return self.w3.eth.get_transaction_receipt(tx_hash)
        except TransactionNotFound:
            return None

    @staticmethod
    def _result(receipt: TxReceipt, depth: int) -> TransactionResult:
        return TransactionResult(
            tx_hash=_hex(receipt["transactionHash"]),
            block_number=receipt["blockNumber"],
            block_hash=_hex(receipt["blockHash"]),
            gas_used=receipt["gasUsed"],
            confirmations=depth,
        )

    def _failure(self, pending: PendingTransaction, receipt: TxReceipt) -> AnchoringError:
        """The typed error of a mined, failed transaction, found by replaying it.

        The replay runs on the state before the transaction's block: right unless another
        transaction earlier in the same block changed what it saw, in which case the replay
        may succeed and only `TransactionFailedError` can be said.
        """
        params = pending.params
        replay: TxParams = {"from": self.address, "data": params["data"], "gas": params["gas"]}
        if "to" in params:
            replay["to"] = params["to"]
        block = receipt["blockNumber"]
        try:
            with _rpc("eth_call"):
                self.w3.eth.call(replay, block_identifier=max(block - 1, 0))
        except ContractLogicError as exc:
            return decode_revert(_revert_data(exc), tx_hash=pending.tx_hash)
        return TransactionFailedError(tx_hash=pending.tx_hash, block_number=block)

    def call(self, fn: Callable[[], _T]) -> _T:
        """Run a contract read; a revert raises its typed error."""
        try:
            with _rpc("eth_call"):
                return fn()
        except ContractLogicError as exc:
            raise decode_revert(_revert_data(exc)) from exc


class AnchorClient:
    """The anchoring contract (`CertregAnchor`) at `address`, used by `chain`'s account."""

    def __init__(
        self,
        chain: ChainClient,
        address: str,
        *,
        artifact: ContractArtifact | None = None,
    ) -> None:
        if not is_address(address):
            raise InvalidArgumentError(f"contract address: got {address!r}, want a 0x-hex address")
        self.chain = chain
        self.artifact = artifact or load_artifact()
        self.address = to_checksum_address(address)
        self.contract: Contract = chain.w3.eth.contract(address=self.address, abi=self.artifact.abi)
        self._roles: dict[str, bytes] = {"DEFAULT_ADMIN_ROLE": bytes(32)}

    @classmethod
    def from_settings(
        cls,
        settings: AnchoringSettings | None = None,
        *,
        check_code: bool = True,
        key: SecretStr | None = None,
    ) -> AnchorClient:
        """A client as the settings say: node, chain id, contract (or deployment file), and
        `key` (default: the anchoring key)."""
        settings = settings or AnchoringSettings()
        key = key or settings.anchorer_key
        if key is None:
            raise SettingsError("CERTREG_ANCHORER_KEY: got nothing, want the anchoring key")
        chain = ChainClient.connect(settings, private_key=key.get_secret_value())
        artifact = settings_artifact(settings)
        address = settings_contract_address(settings, artifact=artifact)
        client = cls(chain, address, artifact=artifact)
        if check_code:
            client.check_code()
        return client

    def check_code(self) -> None:
        """`ArtifactError` unless the code at `address` is exactly our compiled contract.

        The contract has no immutables, so its runtime bytecode is the same on every chain:
        this catches a wrong address or a stale artifact before any transaction is sent.
        """
        with _rpc("eth_getCode"):
            code = bytes(self.chain.w3.eth.get_code(self.address))
        want = bytes.fromhex(self.artifact.deployed_bytecode[2:])
        if code != want:
            raise ArtifactError(
                f"code at {self.address}: got {len(code)} bytes that differ from "
                f"{self.artifact.contract_name}, want its {len(want)}-byte runtime bytecode"
            )

    # -- helpers ---------------------------------------------------------------------------

    def _encode(self, name: str, *args: Any) -> bytes:
        return bytes.fromhex(self.contract.encode_abi(name, args=list(args))[2:])

    def _read(self, name: str, *args: Any, block: BlockIdentifier = "latest") -> Any:
        function = getattr(self.contract.functions, name)(*args)
        return self.chain.call(lambda: function.call(block_identifier=block))

    def _transact(self, name: str, *args: Any) -> tuple[TransactionResult, TxReceipt]:
        return self.chain.transact(to=self.address, data=self._encode(name, *args))

    def _event(self, receipt: TxReceipt, name: str) -> dict[str, Any]:
        event = getattr(self.contract.events, name)()
        for log in receipt["logs"]:
            if log["address"] == self.address:
                try:
                    return dict(event.process_log(log)["args"])
                except Web3Exception:  # another event of ours
                    continue
        raise AnchoringError(f"receipt {_hex(receipt['transactionHash'])}: got no {name} event")

    # -- roles -----------------------------------------------------------------------------

    def role(self, name: RoleName) -> bytes:
        """The role's 32-byte id, read from the contract once."""
        if name not in self._roles:
            self._roles[name] = bytes(self._read(name))
        return self._roles[name]

    def has_role(self, name: RoleName, account: str) -> bool:
        return bool(self._read("hasRole", self.role(name), to_checksum_address(account)))

    def grant_role(self, name: RoleName, account: str) -> TransactionResult:
        """Grant a role (the caller must hold its admin role, `DEFAULT_ADMIN_ROLE`)."""
        return self._transact("grantRole", self.role(name), to_checksum_address(account))[0]

    def revoke_role(self, name: RoleName, account: str) -> TransactionResult:
        return self._transact("revokeRole", self.role(name), to_checksum_address(account))[0]

    def renounce_role(self, name: RoleName) -> TransactionResult:
        """Give up a role held by this client's own account."""
        return self._transact("renounceRole", self.role(name), self.chain.address)[0]

    # -- the authority (DEFAULT_ADMIN_ROLE, handed over in two steps) --------------------------

    def default_admin(self) -> ChecksumAddress:
        """The one account holding `DEFAULT_ADMIN_ROLE`."""
        return to_checksum_address(self._read("defaultAdmin"))

    def default_admin_delay(self) -> int:
        """Seconds between beginning and accepting a transfer of the authority."""
        return int(self._read("defaultAdminDelay"))

    def pending_default_admin(self) -> tuple[ChecksumAddress, int]:
        """The account a transfer was begun to and when it may accept (Unix seconds); the zero
        address and 0 when none is pending."""
        account, schedule = self._read("pendingDefaultAdmin")
        return to_checksum_address(account), int(schedule)

    def begin_default_admin_transfer(self, new_admin: str) -> TransactionResult:
        """Step 1, by the authority: name the next one (who accepts after the delay)."""
        return self._transact("beginDefaultAdminTransfer", to_checksum_address(new_admin))[0]

    def cancel_default_admin_transfer(self) -> TransactionResult:
        return self._transact("cancelDefaultAdminTransfer")[0]

    def accept_default_admin_transfer(self) -> TransactionResult:
        """Step 2, by the pending authority, once the delay has passed."""
        return self._transact("acceptDefaultAdminTransfer")[0]

    # -- the log signer's authorisation ----------------------------------------------------------

    def domain(self) -> AnchorDomain:
        """The EIP-712 domain of this contract (the chain id is the one the node reported)."""
        return AnchorDomain(chain_id=self.chain.chain_id, contract=self.address)

    def checkpoint_digest(self, step: CheckpointStep) -> bytes:
        """The contract's own EIP-712 digest of `step` (`checkpointDigest`)."""
        return bytes(
            self._read(
                "checkpointDigest",
                step.previous_tree_size,
                step.previous_log_root,
                step.tree_size,
                step.log_root,
                step.map_root,
            )
        )

    # -- checkpoints -------------------------------------------------------------------------

    def send_anchor(
        self,
        *,
        tree_size: int,
        log_root: bytes,
        map_root: bytes,
        proof: Sequence[bytes],
        authorisation: bytes,
    ) -> PendingTransaction:
        """Send an `anchor` transaction without waiting (see `anchor`)."""
        if not isinstance(authorisation, bytes | bytearray):
            raise InvalidArgumentError(
                f"authorisation: got {type(authorisation).__name__}, want 65 signature bytes"
            )
        data = self._encode(
            "anchor",
            _uint64(tree_size, what="tree size"),
            bytes32(log_root, what="log root"),
            bytes32(map_root, what="map root"),
            [bytes32(h, what=f"consistency proof[{i}]") for i, h in enumerate(proof)],
            bytes(authorisation),
        )
        return self.chain.send(to=self.address, data=data)

    def wait_anchor(self, pending: PendingTransaction) -> AnchorResult:
        """Wait for a sent `anchor` transaction and return the checkpoint it stored."""
        result, receipt = self.chain.wait(pending)
        event = self._event(receipt, "CheckpointAnchored")
        with _rpc("eth_getBlockByNumber"):
            block = self.chain.w3.eth.get_block(result.block_number)
        checkpoint = Checkpoint(
            index=int(event["index"]),
            tree_size=int(event["treeSize"]),
            log_root=bytes(event["logRoot"]),
            map_root=bytes(event["mapRoot"]),
            block_number=result.block_number,
            timestamp=int(block["timestamp"]),
        )
        return AnchorResult(checkpoint=checkpoint, transaction=result)

    def anchor(
        self,
        *,
        tree_size: int,
        log_root: bytes,
        map_root: bytes,
        proof: Sequence[bytes],
        authorisation: bytes,
    ) -> AnchorResult:
        """Anchor a checkpoint extending the latest one and wait until it is confirmed.

        `proof` is the RFC 9162 consistency proof from the latest anchored checkpoint (empty
        for the first); `authorisation` the log signer's signature of the step
        (`anchoring.authorisation`). Raises `UnauthorisedLogSigner` (or an `ECDSA…` error),
        `TreeSizeNotGrowing`, `InvalidConsistencyProof` or `AccessControlUnauthorizedAccount`
        when the contract refuses it.
        """
        return self.wait_anchor(
            self.send_anchor(
                tree_size=tree_size,
                log_root=log_root,
                map_root=map_root,
                proof=proof,
                authorisation=authorisation,
            )
        )

    def checkpoint_count(self, *, block: BlockIdentifier = "latest") -> int:
        return int(self._read("checkpointCount", block=block))

    def checkpoint(self, index: int, *, block: BlockIdentifier = "latest") -> Checkpoint | None:
        """The checkpoint at `index`, or None if there is none (yet)."""
        if index < 0:
            raise InvalidArgumentError(f"checkpoint index: got {index}, want >= 0")
        tree_size, log_root, map_root, block_number, timestamp = self._read(
            "checkpoint", index, block=block
        )
        if tree_size == 0:
            return None
        return Checkpoint(
            index=index,
            tree_size=int(tree_size),
            log_root=bytes(log_root),
            map_root=bytes(map_root),
            block_number=int(block_number),
            timestamp=int(timestamp),
        )

    def latest_checkpoint(self, *, block: BlockIdentifier = "latest") -> Checkpoint | None:
        """The latest checkpoint, or None before the first."""
        index, tree_size, log_root, map_root, block_number, timestamp = self._read(
            "latestCheckpoint", block=block
        )
        if tree_size == 0:
            return None
        return Checkpoint(
            index=int(index),
            tree_size=int(tree_size),
            log_root=bytes(log_root),
            map_root=bytes(map_root),
            block_number=int(block_number),
            timestamp=int(timestamp),
        )

    def predecessor(self) -> Predecessor | None:
        """The contract this one succeeds and the checkpoint it starts from; None for a first
        contract (docs/spec.md §7.7)."""
        contract, index, tree_size, log_root, map_root = self._read("predecessor")
        if tree_size == 0:
            return None
        return Predecessor(
            contract=to_checksum_address(contract),
            index=int(index),
            tree_size=int(tree_size),
            log_root=bytes(log_root),
            map_root=bytes(map_root),
        )

    def anchor_base(self) -> Checkpoint | None:
        """What the next anchor must extend: the latest checkpoint — for a successor that has
        not anchored yet, the one it starts from —, else None (a first contract's first
        anchor)."""
        return self.latest_checkpoint()

    def checkpoints(self, *, start: int = 0, end: int | None = None) -> list[Checkpoint]:
        """Checkpoints `start` to `end` (exclusive; default: all), read at one block."""
        with _rpc("eth_blockNumber"):
            block = self.chain.w3.eth.block_number
        stop = self.checkpoint_count(block=block) if end is None else end
        found = [self.checkpoint(i, block=block) for i in range(start, stop)]
        return [c for c in found if c is not None]

    # -- proofs ------------------------------------------------------------------------------

    def verify_inclusion(
        self,
        *,
        leaf_index: int,
        tree_size: int,
        leaf_hash: bytes,
        proof: Sequence[bytes],
        root: bytes,
    ) -> bool:
        """The contract's `verifyInclusion` (RFC 9162 §2.1.3.2)."""
        return bool(
            self._read(
                "verifyInclusion",
                _uint64(leaf_index, what="leaf index"),
                _uint64(tree_size, what="tree size"),
                bytes32(leaf_hash, what="leaf hash"),
                [bytes32(h, what=f"inclusion proof[{i}]") for i, h in enumerate(proof)],
                bytes32(root, what="root"),
            )
        )

    def verify_consistency(
        self,
        *,
        size1: int,
        size2: int,
        root1: bytes,
        root2: bytes,
        proof: Sequence[bytes],
    ) -> bool:
        """The contract's `verifyConsistency` (RFC 9162 §2.1.4.2)."""
        return bool(
            self._read(
                "verifyConsistency",
                _uint64(size1, what="size1"),
                _uint64(size2, what="size2"),
                bytes32(root1, what="root1"),
                bytes32(root2, what="root2"),
                [bytes32(h, what=f"consistency proof[{i}]") for i, h in enumerate(proof)],
            )
        )

    # -- issuer keys -------------------------------------------------------------------------

    def register_issuer_key(
        self, *, issuer_id: bytes, public_key: bytes, valid_from: int = 0
    ) -> tuple[IssuerKey, TransactionResult]:
        """Register an issuer's Ed25519 key, in force from block `valid_from` (0: now).

        `issuer_id` is the on-chain id (`anchoring.models.issuer_id_hash`).
        """
        result, receipt = self._transact(
            "registerIssuerKey",
            bytes32(issuer_id, what="issuer id"),
            bytes32(public_key, what="Ed25519 public key"),
            _uint64(valid_from, what="valid-from block"),
        )
        event = self._event(receipt, "IssuerKeyRegistered")
        key = IssuerKey(
            issuer_id=bytes(event["issuerId"]),
            key_id=bytes(event["keyId"]),
            public_key=bytes(event["publicKey"]),
            valid_from=int(event["validFrom"]),
            revoked_at=0,
        )
        return key, result

    def revoke_issuer_key(
        self, *, issuer_id: bytes, key_id: bytes, revoked_at: int = 0
    ) -> tuple[int, TransactionResult]:
        """Revoke an issuer key from block `revoked_at` (0: now); returns that block."""
        result, receipt = self._transact(
            "revokeIssuerKey",
            bytes32(issuer_id, what="issuer id"),
            bytes32(key_id, what="key id"),
            _uint64(revoked_at, what="revocation block"),
        )
        return int(self._event(receipt, "IssuerKeyRevoked")["revokedAt"]), result

    def issuer_key(
        self, *, issuer_id: bytes, key_id: bytes, block: BlockIdentifier = "latest"
    ) -> IssuerKey:
        """The key as stored (all zero fields, `registered` False, for an unknown key)."""
        public_key, valid_from, revoked_at = self._read(
            "issuerKey",
            bytes32(issuer_id, what="issuer id"),
            bytes32(key_id, what="key id"),
            block=block,
        )
        return IssuerKey(
            issuer_id=issuer_id,
            key_id=key_id,
            public_key=bytes(public_key),
            valid_from=int(valid_from),
            revoked_at=int(revoked_at),
        )

    def issuer_key_in_force(self, *, issuer_id: bytes, key_id: bytes, block_number: int) -> bool:
        """The contract's `issuerKeyInForce`."""
        return bool(
            self._read(
                "issuerKeyInForce",
                bytes32(issuer_id, what="issuer id"),
                bytes32(key_id, what="key id"),
                _uint64(block_number, what="block number"),
            )
        )
