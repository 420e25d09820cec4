"""The chain client against a real node: nonces, fees, receipts and confirmations, mined reverts,
deployment files and settings."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from web3 import Web3

from anchoring.artifacts import load_artifact
from anchoring.client import AnchorClient, ChainClient
from anchoring.compile import main as compile_main
from anchoring.deploy import Deployment, deploy_from_settings, load_deployment
from anchoring.errors import (
    ArtifactError,
    ChainConnectionError,
    ChainIdMismatchError,
    ConfirmationTimeoutError,
    InvalidConsistencyProof,
    SettingsError,
    TransactionFailedError,
    TransactionRejectedError,
    TreeSizeNotGrowing,
)
from anchoring.settings import AnchoringSettings
from tests.integration.chain_helpers import MAP_ROOT, log_tree
from tests.integration.conftest import CHAIN_ID, Chain, SigningAnchorClient, authorise


def _anchor_data(client: SigningAnchorClient, size: int, proof: list[bytes] | None = None) -> bytes:
    """`anchor`'s calldata for the log of `size` entries, authorised by the log signer."""
    log = log_tree(size)
    signature = authorise(
        client, client.log_signer, tree_size=size, log_root=log.root_hash(size), map_root=MAP_ROOT
    )
    return client._encode("anchor", size, log.root_hash(size), MAP_ROOT, proof or [], signature)


def _key(chain: Chain, name: str) -> SecretStr:
    return SecretStr("0x" + bytes(getattr(chain.accounts, name).key).hex())


class TestNonces:
    def test_counted_locally(self, chain: Chain, monkeypatch: pytest.MonkeyPatch) -> None:
        calls: list[Any] = []
        original = chain.w3.eth.get_transaction_count

        def counting(*args: Any, **kwargs: Any) -> Any:
            calls.append(args)
            return original(*args, **kwargs)

        monkeypatch.setattr(chain.w3.eth, "get_transaction_count", counting)
        start = original(chain.accounts.issuer_admin.address)
        for i in range(3):
            chain.issuer_admin.register_issuer_key(
                issuer_id=Web3.keccak(text="issuer"), public_key=Web3.keccak(text=f"key {i}")
            )
        assert len(calls) == 1
        assert original(chain.accounts.issuer_admin.address) == start + 3

    def test_recovered_after_another_sender_used_the_account(self, chain: Chain) -> None:
        first = chain.anchorer
        first.anchor(tree_size=1, log_root=log_tree(1).root_hash(), map_root=MAP_ROOT, proof=[])
        # A second process with the same key (say, a restarted worker) sends meanwhile: the
        # first one's counter is stale, the node answers "nonce too low", the client re-reads.
        other = chain.client(chain.accounts.anchorer)
        log = log_tree(5)
        other.anchor(
            tree_size=2,
            log_root=log.root_hash(2),
            map_root=MAP_ROOT,
            proof=log.consistency_proof(size1=1, size2=2),
        )
        count = chain.w3.eth.get_transaction_count(chain.accounts.anchorer.address)
        assert first.chain._nonce == count - 1  # stale
        result = first.anchor(
            tree_size=5,
            log_root=log.root_hash(5),
            map_root=MAP_ROOT,
            proof=log.consistency_proof(size1=2, size2=5),
        )
        assert result.checkpoint.index == 2
        assert first.chain._nonce == count + 1

    def test_recovered_after_a_rejected_transaction(self, chain: Chain) -> None:
        client = chain.anchorer
        with pytest.raises(TransactionRejectedError, match="eth_sendRawTransaction"):
            # Below the 21,000 intrinsic gas of any transaction: the node refuses it.
            client.chain.send(to=client.address, data=_anchor_data(client, 1), gas=20_000)
        assert client.chain._nonce is None
        assert client.anchor(
            tree_size=1, log_root=log_tree(1).root_hash(), map_root=MAP_ROOT, proof=[]
        )

    def test_rewound_chain_is_recovered(self, chain: Chain) -> None:
        # After a reorganisation (here: evm_revert) the node's nonce is lower than ours: "nonce
        # too high" is recovered like "too low".
        client = chain.anchorer
        snapshot = chain.rpc("evm_snapshot")
        client.anchor(tree_size=1, log_root=log_tree(1).root_hash(), map_root=MAP_ROOT, proof=[])
        chain.rpc("evm_revert", [snapshot])
        assert client.chain._nonce == chain.w3.eth.get_transaction_count(client.chain.address) + 1
        assert client.anchor(
            tree_size=1, log_root=log_tree(1).root_hash(), map_root=MAP_ROOT, proof=[]
        )

    def test_resending_the_same_transaction_is_not_an_error(self, chain: Chain) -> None:
        # As after a lost answer: the same nonce, hence the very same signed bytes, again.
        chain.rpc("evm_setAutomine", [False])
        client = chain.issuer_admin
        data = client._encode(
            "registerIssuerKey", Web3.keccak(text="issuer"), Web3.keccak(text="key"), 0
        )
        first = client.chain.send(to=client.address, data=data, gas=200_000)
        client.chain._nonce = first.nonce
        again = client.chain.send(to=client.address, data=data, gas=200_000)
        assert again.tx_hash == first.tx_hash
        assert client.chain._nonce == first.nonce + 1
        chain.mine()
        assert client.chain.wait(again)[0].tx_hash == first.tx_hash


class TestMinedReverts:
    def test_status_zero_is_decoded_to_the_custom_error(self, chain: Chain) -> None:
        client = chain.anchorer
        client.anchor(tree_size=3, log_root=log_tree(3).root_hash(), map_root=MAP_ROOT, proof=[])
        # A fixed gas limit skips the pre-flight estimate: the revert happens on chain and comes
        # back as a receipt with status 0 (throwOnTransactionFailures: false).
        pending = client.chain.send(
            to=client.address, data=_anchor_data(client, 5, [bytes(32)]), gas=300_000
        )
        with pytest.raises(InvalidConsistencyProof) as caught:
            client.chain.wait(pending)
        assert caught.value.tx_hash == pending.tx_hash
        assert caught.value.args_ == (3, 5, 1)
        assert chain.w3.eth.get_transaction_receipt(pending.tx_hash)["status"] == 0

    def test_race_in_one_block(self, chain: Chain) -> None:
        # Two anchorers send the same checkpoint; both pass the estimate, one block holds both.
        chain.admin.grant_role("ANCHORER_ROLE", chain.accounts.outsider.address)
        chain.rpc("evm_setAutomine", [False])
        log = log_tree(3)
        args: dict[str, Any] = {
            "tree_size": 3,
            "log_root": log.root_hash(),
            "map_root": MAP_ROOT,
            "proof": [],
        }
        first = chain.anchorer.send_anchor(**args)
        second = chain.outsider.send_anchor(**args)
        chain.mine()
        assert chain.anchorer.wait_anchor(first).checkpoint.index == 0
        # Replayed on the block before, the loser would have succeeded: only the failure can be
        # reported, with its hash and block.
        with pytest.raises(TransactionFailedError) as caught:
            chain.outsider.wait_anchor(second)
        assert caught.value.tx_hash == second.tx_hash

    def test_race_across_blocks_is_decoded(self, chain: Chain) -> None:
        chain.admin.grant_role("ANCHORER_ROLE", chain.accounts.outsider.address)
        log = log_tree(3)
        args: dict[str, Any] = {
            "tree_size": 3,
            "log_root": log.root_hash(),
            "map_root": MAP_ROOT,
            "proof": [],
        }
        chain.anchorer.anchor(**args)
        # Authorised on top of 3 (the signature binds the step): the size rule is what refuses.
        data = _anchor_data(chain.outsider, 3)
        pending = chain.outsider.chain.send(to=chain.outsider.address, data=data, gas=200_000)
        with pytest.raises(TreeSizeNotGrowing):
            chain.outsider.chain.wait(pending)


class TestConfirmations:
    def test_waits_for_blocks_on_top(self, chain: Chain) -> None:
        client = chain.client(chain.accounts.anchorer, confirmations=3)
        chain.rpc("evm_setIntervalMining", [50])
        result = client.anchor(
            tree_size=1, log_root=log_tree(1).root_hash(), map_root=MAP_ROOT, proof=[]
        )
        assert result.transaction.confirmations >= 3
        assert chain.block_number >= result.transaction.block_number + 3

    def test_times_out(self, chain: Chain) -> None:
        client = chain.client(chain.accounts.anchorer, confirmations=5, receipt_timeout_s=0.3)
        with pytest.raises(ConfirmationTimeoutError) as caught:
            client.anchor(
                tree_size=1, log_root=log_tree(1).root_hash(), map_root=MAP_ROOT, proof=[]
            )
        assert (caught.value.confirmations, caught.value.want) == (0, 5)
        assert client.chain._nonce is None

    def test_waits_for_the_block_with_interval_mining(self, chain: Chain) -> None:
        # Automine off, a block every 100 ms: the receipt is polled until the block comes.
        chain.rpc("evm_setAutomine", [False])
        chain.rpc("evm_setIntervalMining", [100])
        result = chain.anchorer.anchor(
            tree_size=1, log_root=log_tree(1).root_hash(), map_root=MAP_ROOT, proof=[]
        )
        assert result.checkpoint.block_number == result.transaction.block_number

    def test_concurrent_senders_share_one_counter(self, chain: Chain) -> None:
        # Threads sending through one ChainClient never reuse a nonce.
        client = chain.issuer_admin
        errors: list[BaseException] = []

        def register(i: int) -> None:
            try:
                client.register_issuer_key(
                    issuer_id=Web3.keccak(text=f"issuer {i}"),
                    public_key=Web3.keccak(text=f"key {i}"),
                )
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=register, args=(i,)) for i in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []


class TestFees:
    def test_eip1559_where_the_chain_has_a_base_fee(self, chain: Chain) -> None:
        result = chain.anchorer.anchor(
            tree_size=1, log_root=log_tree(1).root_hash(), map_root=MAP_ROOT, proof=[]
        )
        tx = chain.w3.eth.get_transaction(result.transaction.tx_hash)
        block = chain.w3.eth.get_block(result.transaction.block_number)
        assert tx["type"] == 2
        assert tx["maxFeePerGas"] >= 2 * block["baseFeePerGas"]

    def test_zero_gas_price_on_a_free_gas_chain(self, chain: Chain) -> None:
        # Besu/Quorum style: no fees. The legacy transaction pays nothing at all.
        chain.rpc("hardhat_setNextBlockBaseFeePerGas", ["0x0"])
        client = chain.client(chain.accounts.anchorer, gas_price_wei=0)
        address = chain.accounts.anchorer.address
        before = chain.w3.eth.get_balance(address)
        result = client.anchor(
            tree_size=1, log_root=log_tree(1).root_hash(), map_root=MAP_ROOT, proof=[]
        )
        tx = chain.w3.eth.get_transaction(result.transaction.tx_hash)
        assert (tx["type"], tx["gasPrice"]) == (0, 0)
        assert chain.w3.eth.get_balance(address) == before

    def test_legacy_gas_price_without_a_base_fee(
        self, chain: Chain, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # A pre-London chain: blocks carry no base fee, so the node's gas price is used.
        block = dict(chain.w3.eth.get_block("latest"))
        del block["baseFeePerGas"]
        monkeypatch.setattr(chain.w3.eth, "get_block", lambda *_: block)
        assert chain.anchorer.chain.fee_fields() == {"gasPrice": chain.w3.eth.gas_price}

    def test_fixed_tip(self, chain: Chain) -> None:
        client = chain.client(chain.accounts.anchorer, max_priority_fee_wei=7)
        fees = client.chain.fee_fields()
        assert fees["maxPriorityFeePerGas"] == 7


class TestContractCheck:
    def test_refuses_an_account_without_code(self, chain: Chain) -> None:
        client = AnchorClient(chain.anchorer.chain, chain.accounts.outsider.address)
        with pytest.raises(ArtifactError, match="got 0 bytes"):
            client.check_code()

    def test_accepts_the_deployed_contract(self, chain: Chain) -> None:
        chain.outsider.check_code()


class TestSettingsAndDeploymentFile:
    def _settings(self, chain: Chain, tmp_path: Path, **extra: Any) -> AnchoringSettings:
        return AnchoringSettings(
            rpc_url=chain.node.url,
            chain_id=CHAIN_ID,
            deployment_file=tmp_path / "deployment.json",
            deployer_key=_key(chain, "admin"),
            anchorer_key=_key(chain, "anchorer"),
            log_signer_key=_key(chain, "log_signer"),
            poll_interval_s=0.02,
            **extra,
        )

    def test_deploy_then_anchor_from_settings(self, chain: Chain, tmp_path: Path) -> None:
        settings = self._settings(chain, tmp_path)
        outcome = deploy_from_settings(settings)
        deployment = outcome.deployment
        assert Deployment.model_validate_json(settings.deployment_file.read_text()) == deployment
        assert outcome.path == settings.deployment_file
        assert outcome.granted == {
            "ANCHORER_ROLE": chain.accounts.anchorer.address,
            "ISSUER_ADMIN_ROLE": chain.accounts.admin.address,
            "LOG_SIGNER_ROLE": chain.accounts.log_signer.address,
        }
        assert deployment.admin == chain.accounts.admin.address
        client = AnchorClient.from_settings(settings)
        assert client.address == deployment.address
        assert client.has_role("ANCHORER_ROLE", chain.accounts.anchorer.address)
        assert client.has_role("ISSUER_ADMIN_ROLE", chain.accounts.admin.address)
        assert client.has_role("LOG_SIGNER_ROLE", chain.accounts.log_signer.address)
        root = log_tree(1).root_hash()
        signature = authorise(
            client, chain.accounts.log_signer, tree_size=1, log_root=root, map_root=MAP_ROOT
        )
        assert client.anchor(
            tree_size=1, log_root=root, map_root=MAP_ROOT, proof=[], authorisation=signature
        )

    def test_deploy_for_another_admin_grants_nothing(self, chain: Chain, tmp_path: Path) -> None:
        settings = self._settings(chain, tmp_path)
        outcome = deploy_from_settings(settings, admin=chain.accounts.outsider.address)
        assert outcome.granted == {}
        client = AnchorClient(chain.admin.chain, outcome.deployment.address)
        assert client.has_role("DEFAULT_ADMIN_ROLE", chain.accounts.outsider.address)
        assert not client.has_role("ANCHORER_ROLE", chain.accounts.anchorer.address)

    def test_contract_address_setting_wins(self, chain: Chain, tmp_path: Path) -> None:
        settings = self._settings(chain, tmp_path, contract_address=chain.deployment.address)
        assert AnchorClient.from_settings(settings).address == chain.deployment.address

    def test_no_deployment_file(self, chain: Chain, tmp_path: Path) -> None:
        with pytest.raises(SettingsError, match="certreg deploy"):
            AnchorClient.from_settings(self._settings(chain, tmp_path))

    def test_no_anchorer_key(self, chain: Chain, tmp_path: Path) -> None:
        settings = self._settings(chain, tmp_path).model_copy(update={"anchorer_key": None})
        with pytest.raises(SettingsError, match="CERTREG_ANCHORER_KEY"):
            AnchorClient.from_settings(settings)

    def test_wrong_chain_id(self, chain: Chain, tmp_path: Path) -> None:
        settings = self._settings(chain, tmp_path).model_copy(update={"chain_id": 1})
        with pytest.raises(ChainIdMismatchError) as caught:
            AnchorClient.from_settings(settings)
        assert (caught.value.got, caught.value.want) == (CHAIN_ID, 1)

    def test_deployment_file_of_another_chain(self, chain: Chain, tmp_path: Path) -> None:
        path = tmp_path / "deployment.json"
        chain.deployment.model_copy(update={"chain_id": 1337}).save(path)
        with pytest.raises(ChainIdMismatchError):
            load_deployment(path, chain_id=CHAIN_ID)

    def test_deployment_file_of_another_abi(self, chain: Chain, tmp_path: Path) -> None:
        path = tmp_path / "deployment.json"
        chain.deployment.model_copy(update={"abi_sha256": "0x" + "ab" * 32}).save(path)
        with pytest.raises(ArtifactError, match="redeploy"):
            load_deployment(path, chain_id=CHAIN_ID)

    def test_node_down(self, tmp_path: Path) -> None:
        settings = AnchoringSettings(
            rpc_url="http://127.0.0.1:9",
            anchorer_key=SecretStr("0x" + "11" * 32),
            deployment_file=tmp_path / "none.json",
        )
        with pytest.raises(ChainConnectionError, match="eth_chainId"):
            AnchorClient.from_settings(settings)

    def test_connect_checks_chain_id(self, chain: Chain, tmp_path: Path) -> None:
        settings = self._settings(chain, tmp_path).model_copy(update={"chain_id": 5})
        with pytest.raises(ChainIdMismatchError):
            ChainClient.connect(settings, private_key="0x" + "11" * 32)


def _opcodes(runtime_hex: str) -> set[int]:
    """The opcodes of runtime code, skipping PUSH data and the trailing CBOR metadata."""
    code = bytes.fromhex(runtime_hex[2:])
    code = code[: -(int.from_bytes(code[-2:], "big") + 2)]
    found, i = set(), 0
    while i < len(code):
        op = code[i]
        found.add(op)
        i += 1 + (op - 0x5F if 0x60 <= op <= 0x7F else 0)
    return found


class TestOlderEvm:
    """A chain without Shanghai (GoQuorum) gets the same sources built for its EVM."""

    def test_london_build_deploys_and_anchors(
        self, chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        out = tmp_path / "london"
        assert compile_main(["--evm-version", "london", "--out", str(out)]) == 0
        london = load_artifact(directory=out)
        push0 = 0x5F
        assert push0 not in _opcodes(london.deployed_bytecode)
        assert push0 in _opcodes(load_artifact().deployed_bytecode)
        assert london.compiler.evm_version == "london"
        assert london.abi_sha256 == load_artifact().abi_sha256
        settings = AnchoringSettings(
            rpc_url=chain.node.url,
            deployment_file=tmp_path / "deployment.json",
            artifact_dir=out,
            deployer_key=_key(chain, "admin"),
            anchorer_key=_key(chain, "anchorer"),
            log_signer_key=_key(chain, "log_signer"),
            gas_price_wei=2_000_000_000,
        )
        deployment = deploy_from_settings(settings).deployment
        client = AnchorClient.from_settings(settings)
        assert client.address == deployment.address
        log = log_tree(9)
        signer = chain.accounts.log_signer
        client.anchor(
            tree_size=4,
            log_root=log.root_hash(4),
            map_root=MAP_ROOT,
            proof=[],
            authorisation=authorise(
                client, signer, tree_size=4, log_root=log.root_hash(4), map_root=MAP_ROOT
            ),
        )
        result = client.anchor(
            tree_size=9,
            log_root=log.root_hash(9),
            map_root=MAP_ROOT,
            proof=log.consistency_proof(size1=4, size2=9),
            authorisation=authorise(
                client, signer, tree_size=9, log_root=log.root_hash(9), map_root=MAP_ROOT
            ),
        )
        assert result.checkpoint.index == 1
        # The committed (cancun) artifact is not this code: check_code tells them apart.
        with pytest.raises(ArtifactError):
            AnchorClient(client.chain, deployment.address).check_code()
