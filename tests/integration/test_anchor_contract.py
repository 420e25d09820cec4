"""The anchoring contract on a real Hardhat node: one test group per external function, every
role check and every revert with its exact custom error and arguments."""

from __future__ import annotations

import hashlib
import itertools

import pytest
from eth_abi.abi import encode as abi_encode
from web3 import Web3

from anchoring.artifacts import load_artifact
from anchoring.client import AnchorClient, ChainClient
from anchoring.deploy import deploy_contract
from anchoring.errors import (
    AccessControlBadConfirmation,
    AccessControlInvalidDefaultAdmin,
    AccessControlUnauthorizedAccount,
    InvalidArgumentError,
    InvalidConsistencyProof,
    IssuerKeyAlreadyRegistered,
    IssuerKeyAlreadyRevoked,
    IssuerKeyNotRegistered,
    RevokedBeforeValidFrom,
    TreeSizeNotGrowing,
    ValidFromInPast,
    ZeroPublicKey,
)
from anchoring.models import AnchorResult, issuer_id_hash, key_id
from registry.core.log import LogTree
from tests.integration.chain_helpers import MAP_ROOT, core_accepts_consistency, log_tree
from tests.integration.conftest import CHAIN_ID, Chain, SigningAnchorClient

ANCHORER_ROLE = Web3.keccak(text="ANCHORER_ROLE")
ISSUER_ADMIN_ROLE = Web3.keccak(text="ISSUER_ADMIN_ROLE")
LOG_SIGNER_ROLE = Web3.keccak(text="LOG_SIGNER_ROLE")
DEFAULT_ADMIN_ROLE = bytes(32)
ISSUER = issuer_id_hash("vn-quatest-3")
OTHER_ISSUER = issuer_id_hash("vn-vinacontrol")
PUBLIC_KEY = hashlib.sha256(b"an Ed25519 public key stand-in").digest()
OTHER_KEY = hashlib.sha256(b"another Ed25519 public key stand-in").digest()


def anchor_tree(
    client: SigningAnchorClient, size: int, *, from_size: int | None = None
) -> AnchorResult:
    """Anchor the log of `size` entries with the proof from `from_size` (None: no proof)."""
    log = log_tree(size)
    proof = [] if from_size is None else log.consistency_proof(size1=from_size, size2=size)
    return client.anchor(
        tree_size=size, log_root=log.root_hash(size), map_root=MAP_ROOT, proof=proof
    )


class TestConstructor:
    def test_grants_default_admin_to_admin_only(self, chain: Chain) -> None:
        admin = chain.accounts.admin.address
        assert chain.admin.has_role("DEFAULT_ADMIN_ROLE", admin)
        for account in (chain.accounts.anchorer, chain.accounts.outsider):
            assert not chain.admin.has_role("DEFAULT_ADMIN_ROLE", account.address)

    def test_admin_other_than_deployer(self, chain: Chain) -> None:
        deployer = chain.admin.chain
        deployment = deploy_contract(deployer, admin=chain.accounts.outsider.address)
        contract = AnchorClient(deployer, deployment.address)
        assert contract.has_role("DEFAULT_ADMIN_ROLE", chain.accounts.outsider.address)
        assert not contract.has_role("DEFAULT_ADMIN_ROLE", chain.accounts.admin.address)
        assert deployment.admin == chain.accounts.outsider.address

    def test_zero_admin_reverts(self, chain: Chain) -> None:
        with pytest.raises(AccessControlInvalidDefaultAdmin) as caught:
            deploy_contract(chain.admin.chain, admin="0x" + "00" * 20)
        assert caught.value.admin == "0x" + "00" * 20

    def test_admin_delay(self, chain: Chain) -> None:
        deployer = chain.admin.chain
        deployment = deploy_contract(deployer, admin=deployer.address, admin_delay_s=12345)
        contract = AnchorClient(deployer, deployment.address)
        assert contract.default_admin_delay() == 12345
        assert chain.admin.default_admin_delay() == 3 * 24 * 3600  # the default

    def test_starts_with_no_checkpoint(self, chain: Chain) -> None:
        assert chain.outsider.checkpoint_count() == 0
        assert chain.outsider.latest_checkpoint() is None

    def test_deployment_record(self, chain: Chain) -> None:
        d = chain.deployment
        assert d.chain_id == CHAIN_ID
        assert d.abi_sha256 == chain.admin.artifact.abi_sha256
        receipt = chain.w3.eth.get_transaction_receipt(d.tx_hash)
        assert receipt["contractAddress"] == d.address
        assert receipt["blockNumber"] == d.block_number
        chain.outsider.check_code()


class TestRoleConstants:
    def test_anchorer_role(self, chain: Chain) -> None:
        assert chain.outsider.role("ANCHORER_ROLE") == ANCHORER_ROLE

    def test_issuer_admin_role(self, chain: Chain) -> None:
        assert chain.outsider.role("ISSUER_ADMIN_ROLE") == ISSUER_ADMIN_ROLE

    def test_log_signer_role(self, chain: Chain) -> None:
        assert chain.outsider.role("LOG_SIGNER_ROLE") == LOG_SIGNER_ROLE


class TestAccessControl:
    """OpenZeppelin's functions, as configured here: the authority administers both roles."""

    def test_every_role_is_administered_by_the_authority(self, chain: Chain) -> None:
        for role in (ANCHORER_ROLE, ISSUER_ADMIN_ROLE, LOG_SIGNER_ROLE):
            assert bytes(chain.outsider.contract.functions.getRoleAdmin(role).call()) == bytes(32)

    def test_grant_role(self, chain: Chain) -> None:
        outsider = chain.accounts.outsider.address
        assert not chain.admin.has_role("ANCHORER_ROLE", outsider)
        chain.admin.grant_role("ANCHORER_ROLE", outsider)
        assert chain.admin.has_role("ANCHORER_ROLE", outsider)
        anchor_tree(chain.outsider, 3)

    def test_grant_role_needs_admin(self, chain: Chain) -> None:
        with pytest.raises(AccessControlUnauthorizedAccount) as caught:
            chain.anchorer.grant_role("ANCHORER_ROLE", chain.accounts.outsider.address)
        assert caught.value.account == chain.accounts.anchorer.address
        assert caught.value.needed_role == DEFAULT_ADMIN_ROLE

    def test_revoke_role(self, chain: Chain) -> None:
        chain.admin.revoke_role("ANCHORER_ROLE", chain.accounts.anchorer.address)
        with pytest.raises(AccessControlUnauthorizedAccount):
            anchor_tree(chain.anchorer, 3)

    def test_revoke_role_needs_admin(self, chain: Chain) -> None:
        with pytest.raises(AccessControlUnauthorizedAccount) as caught:
            chain.issuer_admin.revoke_role("ANCHORER_ROLE", chain.accounts.anchorer.address)
        assert caught.value.needed_role == DEFAULT_ADMIN_ROLE

    def test_renounce_role(self, chain: Chain) -> None:
        chain.anchorer.renounce_role("ANCHORER_ROLE")
        assert not chain.admin.has_role("ANCHORER_ROLE", chain.accounts.anchorer.address)

    def test_renounce_for_another_account_reverts(self, chain: Chain) -> None:
        contract = chain.outsider
        data = contract._encode("renounceRole", ANCHORER_ROLE, chain.accounts.anchorer.address)
        with pytest.raises(AccessControlBadConfirmation):
            contract.chain.transact(to=contract.address, data=data)

    def test_supports_access_control_interface(self, chain: Chain) -> None:
        functions = chain.outsider.contract.functions
        assert functions.supportsInterface(bytes.fromhex("7965db0b")).call()  # IAccessControl
        assert functions.supportsInterface(bytes.fromhex("01ffc9a7")).call()  # IERC165
        assert not functions.supportsInterface(bytes.fromhex("ffffffff")).call()


class TestAnchor:
    def test_first_checkpoint_needs_no_proof(self, chain: Chain) -> None:
        log = log_tree(5)
        result = chain.anchorer.anchor(
            tree_size=5, log_root=log.root_hash(), map_root=MAP_ROOT, proof=[]
        )
        block = chain.w3.eth.get_block(result.transaction.block_number)
        c = result.checkpoint
        assert (c.index, c.tree_size, c.log_root, c.map_root) == (0, 5, log.root_hash(), MAP_ROOT)
        assert (c.block_number, c.timestamp) == (block["number"], block["timestamp"])
        assert chain.outsider.checkpoint(0) == c

    def test_first_checkpoint_with_a_proof_reverts(self, chain: Chain) -> None:
        log = log_tree(5)
        with pytest.raises(InvalidConsistencyProof) as caught:
            chain.anchorer.anchor(
                tree_size=5, log_root=log.root_hash(), map_root=MAP_ROOT, proof=[log.leaf_hash(0)]
            )
        assert caught.value.args_ == (0, 5, 1)

    def test_first_checkpoint_of_an_empty_log_reverts(self, chain: Chain) -> None:
        with pytest.raises(TreeSizeNotGrowing) as caught:
            chain.anchorer.anchor(
                tree_size=0, log_root=log_tree(0).root_hash(), map_root=MAP_ROOT, proof=[]
            )
        assert (caught.value.tree_size, caught.value.latest_tree_size) == (0, 0)

    @pytest.mark.parametrize(("size1", "size2"), [(1, 2), (4, 9), (7, 12), (6, 8), (13, 1000)])
    def test_extension_with_a_consistency_proof(self, chain: Chain, size1: int, size2: int) -> None:
        anchor_tree(chain.anchorer, size1)
        result = anchor_tree(chain.anchorer, size2, from_size=size1)
        assert result.checkpoint.index == 1
        assert result.checkpoint.tree_size == size2
        assert chain.outsider.latest_checkpoint() == result.checkpoint

    def test_chain_of_checkpoints(self, chain: Chain) -> None:
        sizes = [1, 2, 3, 8, 9, 31, 64, 100]
        anchor_tree(chain.anchorer, sizes[0])
        for previous, size in itertools.pairwise(sizes):
            anchor_tree(chain.anchorer, size, from_size=previous)
        stored = chain.outsider.checkpoints()
        assert [c.tree_size for c in stored] == sizes
        assert [c.index for c in stored] == list(range(len(sizes)))
        assert all(c.log_root == log_tree(c.tree_size).root_hash() for c in stored)

    @pytest.mark.parametrize("size", [7, 6])
    def test_same_or_smaller_size_reverts(self, chain: Chain, size: int) -> None:
        anchor_tree(chain.anchorer, 7)
        with pytest.raises(TreeSizeNotGrowing) as caught:
            anchor_tree(chain.anchorer, size)
        assert (caught.value.tree_size, caught.value.latest_tree_size) == (size, 7)

    @pytest.mark.parametrize("who", ["outsider", "issuer_admin", "admin"])
    def test_needs_anchorer_role(self, chain: Chain, who: str) -> None:
        client: SigningAnchorClient = getattr(chain, who)
        with pytest.raises(AccessControlUnauthorizedAccount) as caught:
            anchor_tree(client, 3)
        assert caught.value.account == client.chain.address
        assert caught.value.needed_role == ANCHORER_ROLE

    def test_forked_history_from_a_size_that_is_not_a_power_of_two(self, chain: Chain) -> None:
        # The registry anchored 7 entries, then rewrote entry 6 and grew the log to 12. The fork's
        # proof from 7 to 12 is internally consistent — the core accepts it against the fork's own
        # old root — so only the comparison with the anchored root can catch it.
        anchor_tree(chain.anchorer, 7)
        fork = log_tree(12, fork_at=6)
        proof = fork.consistency_proof(size1=7, size2=12)
        assert core_accepts_consistency(
            size1=7, size2=12, root1=fork.root_hash(7), root2=fork.root_hash(12), proof=proof
        )
        with pytest.raises(InvalidConsistencyProof) as caught:
            chain.anchorer.anchor(
                tree_size=12, log_root=fork.root_hash(12), map_root=MAP_ROOT, proof=proof
            )
        assert caught.value.args_ == (7, 12, len(proof))

    def test_forked_history_from_a_power_of_two(self, chain: Chain) -> None:
        anchor_tree(chain.anchorer, 8)
        fork = log_tree(13, fork_at=3)
        proof = fork.consistency_proof(size1=8, size2=13)
        with pytest.raises(InvalidConsistencyProof):
            chain.anchorer.anchor(
                tree_size=13, log_root=fork.root_hash(13), map_root=MAP_ROOT, proof=proof
            )

    def test_extra_trailing_proof_element_reverts(self, chain: Chain) -> None:
        anchor_tree(chain.anchorer, 7)
        log = log_tree(12)
        proof = [*log.consistency_proof(size1=7, size2=12), log.root_hash(12)]
        with pytest.raises(InvalidConsistencyProof) as caught:
            chain.anchorer.anchor(
                tree_size=12, log_root=log.root_hash(12), map_root=MAP_ROOT, proof=proof
            )
        assert caught.value.proof_length == len(proof)

    def test_truncated_proof_reverts(self, chain: Chain) -> None:
        anchor_tree(chain.anchorer, 7)
        log = log_tree(12)
        proof = log.consistency_proof(size1=7, size2=12)[:-1]
        with pytest.raises(InvalidConsistencyProof):
            chain.anchorer.anchor(
                tree_size=12, log_root=log.root_hash(12), map_root=MAP_ROOT, proof=proof
            )

    def test_empty_proof_for_an_extension_reverts(self, chain: Chain) -> None:
        anchor_tree(chain.anchorer, 7)
        log = log_tree(12)
        with pytest.raises(InvalidConsistencyProof) as caught:
            chain.anchorer.anchor(
                tree_size=12, log_root=log.root_hash(12), map_root=MAP_ROOT, proof=[]
            )
        assert caught.value.args_ == (7, 12, 0)

    @pytest.mark.parametrize("claimed", [8, 17, 24])
    def test_valid_proof_with_a_wrong_claimed_size_reverts(
        self, chain: Chain, claimed: int
    ) -> None:
        # The proof from 7 to 12 fits every size from 9 to 16 (see the next test); outside that
        # range the path has another shape and the proof cannot verify.
        anchor_tree(chain.anchorer, 7)
        log = log_tree(12)
        proof = log.consistency_proof(size1=7, size2=12)
        with pytest.raises(InvalidConsistencyProof) as caught:
            chain.anchorer.anchor(
                tree_size=claimed, log_root=log.root_hash(12), map_root=MAP_ROOT, proof=proof
            )
        assert caught.value.args_ == (7, claimed, len(proof))

    def test_wrong_root_with_a_valid_proof_reverts(self, chain: Chain) -> None:
        anchor_tree(chain.anchorer, 7)
        log = log_tree(12)
        proof = log.consistency_proof(size1=7, size2=12)
        with pytest.raises(InvalidConsistencyProof):
            chain.anchorer.anchor(
                tree_size=12, log_root=log.root_hash(11), map_root=MAP_ROOT, proof=proof
            )

    def test_proof_made_for_another_old_size_reverts(self, chain: Chain) -> None:
        anchor_tree(chain.anchorer, 7)
        log = log_tree(12)
        for other in (5, 6, 9):
            proof = log.consistency_proof(size1=other, size2=12)
            with pytest.raises(InvalidConsistencyProof):
                chain.anchorer.anchor(
                    tree_size=12, log_root=log.root_hash(12), map_root=MAP_ROOT, proof=proof
                )

    def test_claimed_sizes_agree_with_the_core(self, chain: Chain) -> None:
        # A consistency proof pins the new size only within a range (docs/spec.md §7): for each
        # size the contract and the core must still give the same answer.
        anchor_tree(chain.anchorer, 7)
        log = log_tree(12)
        proof = log.consistency_proof(size1=7, size2=12)
        root1, root2 = log.root_hash(7), log.root_hash(12)
        verdicts = {}
        for size in range(8, 33):
            core = core_accepts_consistency(
                size1=7, size2=size, root1=root1, root2=root2, proof=proof
            )
            contract = chain.outsider.verify_consistency(
                size1=7, size2=size, root1=root1, root2=root2, proof=proof
            )
            assert contract == core, size
            verdicts[size] = contract
        assert [size for size, accepted in verdicts.items() if accepted] == list(range(9, 17))

    def test_event_is_indexed(self, chain: Chain) -> None:
        log = log_tree(5)
        result = anchor_tree(chain.anchorer, 5)
        receipt = chain.w3.eth.get_transaction_receipt(result.transaction.tx_hash)
        (entry,) = receipt["logs"]
        topics = [bytes(t) for t in entry["topics"]]
        signature = Web3.keccak(text="CheckpointAnchored(uint256,uint64,bytes32,bytes32)")
        assert topics == [
            signature,
            (0).to_bytes(32, "big"),
            (5).to_bytes(32, "big"),
            log.root_hash(),
        ]
        assert bytes(entry["data"]) == MAP_ROOT

    def test_checkpoint_fields_share_one_storage_slot(self, chain: Chain) -> None:
        result = anchor_tree(chain.anchorer, 5)
        c = result.checkpoint
        # Storage: slot 0 AccessControl's roles, slots 1-2 AccessControlDefaultAdminRules' (the
        # pending admin, its schedule and the delay; the admin, the pending delay and its
        # schedule), slot 3 the checkpoints by index, checkpoint i at keccak(i ‖ 3) taking three
        # slots, slot 4 their count.
        base = int.from_bytes(Web3.keccak(abi_encode(["uint256", "uint256"], [0, 3])), "big")
        address = chain.deployment.address
        slots = [bytes(chain.w3.eth.get_storage_at(address, base + i)) for i in range(4)]
        packed = c.tree_size | c.block_number << 64 | c.timestamp << 128
        assert slots[0] == packed.to_bytes(32, "big")
        assert slots[1:3] == [c.log_root, c.map_root]
        assert slots[3] == bytes(32)
        assert bytes(chain.w3.eth.get_storage_at(address, 4)) == (1).to_bytes(32, "big")

    def test_client_refuses_values_that_are_not_bytes32_or_uint64(self, chain: Chain) -> None:
        with pytest.raises(InvalidArgumentError, match="log root: got 31 bytes, want 32"):
            chain.anchorer.anchor(tree_size=1, log_root=bytes(31), map_root=MAP_ROOT, proof=[])
        with pytest.raises(InvalidArgumentError, match="tree size"):
            chain.anchorer.anchor(tree_size=2**64, log_root=MAP_ROOT, map_root=MAP_ROOT, proof=[])
        with pytest.raises(InvalidArgumentError, match=r"consistency proof\[0\]"):
            chain.anchorer.anchor(
                tree_size=1, log_root=MAP_ROOT, map_root=MAP_ROOT, proof=[b"short"]
            )


class TestCheckpointCount:
    def test_counts_anchors(self, chain: Chain) -> None:
        assert chain.outsider.checkpoint_count() == 0
        anchor_tree(chain.anchorer, 2)
        assert chain.outsider.checkpoint_count() == 1
        anchor_tree(chain.anchorer, 3, from_size=2)
        assert chain.outsider.checkpoint_count() == 2


class TestCheckpoint:
    def test_reads_each_checkpoint(self, chain: Chain) -> None:
        first = anchor_tree(chain.anchorer, 2).checkpoint
        second = anchor_tree(chain.anchorer, 9, from_size=2).checkpoint
        assert chain.outsider.checkpoint(0) == first
        assert chain.outsider.checkpoint(1) == second
        assert second.block_number > first.block_number

    def test_missing_index_is_all_zero_not_a_revert(self, chain: Chain) -> None:
        anchor_tree(chain.anchorer, 2)
        raw = chain.outsider.contract.functions.checkpoint(1).call()
        assert raw == [0, bytes(32), bytes(32), 0, 0] or tuple(raw) == (
            0,
            bytes(32),
            bytes(32),
            0,
            0,
        )
        assert chain.outsider.checkpoint(1) is None
        assert chain.outsider.checkpoint(2**255) is None

    def test_reads_at_a_past_block(self, chain: Chain) -> None:
        first = anchor_tree(chain.anchorer, 2).checkpoint
        anchor_tree(chain.anchorer, 9, from_size=2)
        assert chain.outsider.checkpoint_count(block=first.block_number) == 1
        assert chain.outsider.checkpoint(1, block=first.block_number) is None


class TestLatestCheckpoint:
    def test_none_before_the_first(self, chain: Chain) -> None:
        raw = chain.outsider.contract.functions.latestCheckpoint().call()
        assert tuple(raw) == (0, 0, bytes(32), bytes(32), 0, 0)
        assert chain.outsider.latest_checkpoint() is None

    def test_follows_the_latest(self, chain: Chain) -> None:
        anchor_tree(chain.anchorer, 2)
        second = anchor_tree(chain.anchorer, 9, from_size=2).checkpoint
        assert chain.outsider.latest_checkpoint() == second


class TestVerifyInclusion:
    def test_every_leaf_of_a_tree_agrees_with_the_core(self, chain: Chain) -> None:
        log = log_tree(13)
        for size in (1, 2, 5, 8, 13):
            for index in range(size):
                proof = log.inclusion_proof(leaf_index=index, tree_size=size)
                assert chain.outsider.verify_inclusion(
                    leaf_index=index,
                    tree_size=size,
                    leaf_hash=log.leaf_hash(index),
                    proof=proof,
                    root=log.root_hash(size),
                )

    def test_wrong_leaf_index_size_or_root_is_false(self, chain: Chain) -> None:
        log = log_tree(13)
        proof = log.inclusion_proof(leaf_index=6, tree_size=13)
        good = {
            "leaf_index": 6,
            "tree_size": 13,
            "leaf_hash": log.leaf_hash(6),
            "proof": proof,
            "root": log.root_hash(13),
        }
        assert chain.outsider.verify_inclusion(**good)  # type: ignore[arg-type]
        for change in (
            {"leaf_index": 7},
            {"leaf_index": 13},
            {"tree_size": 0},
            {"tree_size": 2**64 - 1},
            {"leaf_hash": log.leaf_hash(5)},
            {"root": log.root_hash(12)},
            {"proof": proof[:-1]},
            {"proof": [*proof, proof[0]]},
        ):
            assert not chain.outsider.verify_inclusion(**{**good, **change}), change  # type: ignore[arg-type]

    def test_is_callable_from_any_account(self, chain: Chain) -> None:
        log = log_tree(1)
        assert chain.outsider.verify_inclusion(
            leaf_index=0, tree_size=1, leaf_hash=log.leaf_hash(0), proof=[], root=log.root_hash()
        )


class TestVerifyConsistency:
    def test_agrees_with_the_core_on_a_grid(self, chain: Chain) -> None:
        log = log_tree(17)
        for size1 in range(1, 18):
            for size2 in range(size1, 18):
                proof = log.consistency_proof(size1=size1, size2=size2)
                assert chain.outsider.verify_consistency(
                    size1=size1,
                    size2=size2,
                    root1=log.root_hash(size1),
                    root2=log.root_hash(size2),
                    proof=proof,
                ), (size1, size2)

    def test_empty_old_tree_and_shrinking_trees_are_false(self, chain: Chain) -> None:
        log = log_tree(4)
        root = log.root_hash()
        empty = log_tree(0).root_hash()
        client = chain.outsider
        assert not client.verify_consistency(size1=0, size2=4, root1=empty, root2=root, proof=[])
        assert not client.verify_consistency(size1=0, size2=0, root1=empty, root2=empty, proof=[])
        assert not client.verify_consistency(size1=4, size2=3, root1=root, root2=root, proof=[])
        assert client.verify_consistency(size1=4, size2=4, root1=root, root2=root, proof=[])
        assert not client.verify_consistency(size1=4, size2=4, root1=root, root2=root, proof=[root])


class TestRegisterIssuerKey:
    def test_registers_from_the_current_block(self, chain: Chain) -> None:
        key, result = chain.issuer_admin.register_issuer_key(
            issuer_id=ISSUER, public_key=PUBLIC_KEY
        )
        assert key.key_id == key_id(PUBLIC_KEY) == hashlib.sha256(PUBLIC_KEY).digest()
        assert key.valid_from == result.block_number
        stored = chain.outsider.issuer_key(issuer_id=ISSUER, key_id=key.key_id)
        assert stored == key
        assert stored.registered

    def test_registers_from_a_future_block(self, chain: Chain) -> None:
        future = chain.block_number + 100
        key, _ = chain.issuer_admin.register_issuer_key(
            issuer_id=ISSUER, public_key=PUBLIC_KEY, valid_from=future
        )
        assert key.valid_from == future

    def test_valid_from_in_the_past_reverts(self, chain: Chain) -> None:
        chain.mine(5)
        past = chain.block_number - 1
        with pytest.raises(ValidFromInPast) as caught:
            chain.issuer_admin.register_issuer_key(
                issuer_id=ISSUER, public_key=PUBLIC_KEY, valid_from=past
            )
        assert caught.value.valid_from == past
        # The pre-flight estimate runs in the latest or the pending block, depending on the node.
        assert caught.value.current_block in {chain.block_number, chain.block_number + 1}

    def test_zero_key_reverts(self, chain: Chain) -> None:
        with pytest.raises(ZeroPublicKey) as caught:
            chain.issuer_admin.register_issuer_key(issuer_id=ISSUER, public_key=bytes(32))
        assert caught.value.issuer_id == ISSUER

    def test_same_key_twice_reverts(self, chain: Chain) -> None:
        chain.issuer_admin.register_issuer_key(issuer_id=ISSUER, public_key=PUBLIC_KEY)
        with pytest.raises(IssuerKeyAlreadyRegistered) as caught:
            chain.issuer_admin.register_issuer_key(issuer_id=ISSUER, public_key=PUBLIC_KEY)
        assert caught.value.args_ == (ISSUER, key_id(PUBLIC_KEY))

    def test_revoked_key_cannot_come_back(self, chain: Chain) -> None:
        key, _ = chain.issuer_admin.register_issuer_key(issuer_id=ISSUER, public_key=PUBLIC_KEY)
        chain.issuer_admin.revoke_issuer_key(issuer_id=ISSUER, key_id=key.key_id)
        with pytest.raises(IssuerKeyAlreadyRegistered):
            chain.issuer_admin.register_issuer_key(issuer_id=ISSUER, public_key=PUBLIC_KEY)

    def test_keys_are_per_issuer(self, chain: Chain) -> None:
        chain.issuer_admin.register_issuer_key(issuer_id=ISSUER, public_key=PUBLIC_KEY)
        other, _ = chain.issuer_admin.register_issuer_key(
            issuer_id=OTHER_ISSUER, public_key=PUBLIC_KEY
        )
        assert other.issuer_id == OTHER_ISSUER
        chain.issuer_admin.register_issuer_key(issuer_id=ISSUER, public_key=OTHER_KEY)

    @pytest.mark.parametrize("who", ["outsider", "anchorer", "admin"])
    def test_needs_issuer_admin_role(self, chain: Chain, who: str) -> None:
        client: AnchorClient = getattr(chain, who)
        with pytest.raises(AccessControlUnauthorizedAccount) as caught:
            client.register_issuer_key(issuer_id=ISSUER, public_key=PUBLIC_KEY)
        assert caught.value.account == client.chain.address
        assert caught.value.needed_role == ISSUER_ADMIN_ROLE

    def test_event_is_indexed(self, chain: Chain) -> None:
        key, result = chain.issuer_admin.register_issuer_key(
            issuer_id=ISSUER, public_key=PUBLIC_KEY
        )
        receipt = chain.w3.eth.get_transaction_receipt(result.tx_hash)
        (entry,) = receipt["logs"]
        signature = Web3.keccak(text="IssuerKeyRegistered(bytes32,bytes32,bytes32,uint64)")
        assert [bytes(t) for t in entry["topics"]] == [signature, ISSUER, key.key_id]
        assert bytes(entry["data"]) == abi_encode(
            ["bytes32", "uint64"], [PUBLIC_KEY, key.valid_from]
        )


class TestRevokeIssuerKey:
    def test_revokes_from_the_current_block(self, chain: Chain) -> None:
        key, _ = chain.issuer_admin.register_issuer_key(issuer_id=ISSUER, public_key=PUBLIC_KEY)
        revoked_at, result = chain.issuer_admin.revoke_issuer_key(
            issuer_id=ISSUER, key_id=key.key_id
        )
        assert revoked_at == result.block_number
        assert chain.outsider.issuer_key(issuer_id=ISSUER, key_id=key.key_id).revoked_at == (
            revoked_at
        )

    def test_backdated_revocation(self, chain: Chain) -> None:
        key, _ = chain.issuer_admin.register_issuer_key(issuer_id=ISSUER, public_key=PUBLIC_KEY)
        chain.mine(10)
        revoked_at, result = chain.issuer_admin.revoke_issuer_key(
            issuer_id=ISSUER, key_id=key.key_id, revoked_at=key.valid_from + 3
        )
        assert revoked_at == key.valid_from + 3 < result.block_number

    def test_unknown_key_reverts(self, chain: Chain) -> None:
        with pytest.raises(IssuerKeyNotRegistered) as caught:
            chain.issuer_admin.revoke_issuer_key(issuer_id=ISSUER, key_id=key_id(PUBLIC_KEY))
        assert caught.value.args_ == (ISSUER, key_id(PUBLIC_KEY))

    def test_key_of_another_issuer_reverts(self, chain: Chain) -> None:
        key, _ = chain.issuer_admin.register_issuer_key(issuer_id=ISSUER, public_key=PUBLIC_KEY)
        with pytest.raises(IssuerKeyNotRegistered):
            chain.issuer_admin.revoke_issuer_key(issuer_id=OTHER_ISSUER, key_id=key.key_id)

    def test_twice_reverts(self, chain: Chain) -> None:
        # Again "now" is later than the revocation in force: refused.
        key, _ = chain.issuer_admin.register_issuer_key(issuer_id=ISSUER, public_key=PUBLIC_KEY)
        revoked_at, _ = chain.issuer_admin.revoke_issuer_key(issuer_id=ISSUER, key_id=key.key_id)
        with pytest.raises(IssuerKeyAlreadyRevoked) as caught:
            chain.issuer_admin.revoke_issuer_key(issuer_id=ISSUER, key_id=key.key_id)
        assert caught.value.args_[:3] == (ISSUER, key.key_id, revoked_at)
        assert caught.value.requested >= revoked_at

    def test_moved_earlier(self, chain: Chain) -> None:
        key, _ = chain.issuer_admin.register_issuer_key(issuer_id=ISSUER, public_key=PUBLIC_KEY)
        chain.mine(20)
        first, _ = chain.issuer_admin.revoke_issuer_key(issuer_id=ISSUER, key_id=key.key_id)
        earlier, result = chain.issuer_admin.revoke_issuer_key(
            issuer_id=ISSUER, key_id=key.key_id, revoked_at=first - 10
        )
        assert earlier == first - 10
        assert chain.outsider.issuer_key(issuer_id=ISSUER, key_id=key.key_id).revoked_at == earlier
        # The event again, with the new block: a reader of events sees the move.
        receipt = chain.w3.eth.get_transaction_receipt(result.tx_hash)
        (entry,) = receipt["logs"]
        assert bytes(entry["data"]) == abi_encode(["uint64"], [earlier])
        assert not chain.outsider.issuer_key_in_force(
            issuer_id=ISSUER, key_id=key.key_id, block_number=first - 5
        )

    @pytest.mark.parametrize("later", [0, 1])
    def test_moved_later_or_kept_reverts(self, chain: Chain, later: int) -> None:
        key, _ = chain.issuer_admin.register_issuer_key(issuer_id=ISSUER, public_key=PUBLIC_KEY)
        future = chain.block_number + 100
        chain.issuer_admin.revoke_issuer_key(issuer_id=ISSUER, key_id=key.key_id, revoked_at=future)
        with pytest.raises(IssuerKeyAlreadyRevoked) as caught:
            chain.issuer_admin.revoke_issuer_key(
                issuer_id=ISSUER, key_id=key.key_id, revoked_at=future + later
            )
        assert caught.value.args_ == (ISSUER, key.key_id, future, future + later)
        assert "want one before" in str(caught.value)

    def test_future_revocation_never_blocks_an_earlier_one(self, chain: Chain) -> None:
        # A revocation dated in the future (a planned retirement) and then a compromise: the
        # key must be revocable now, and from a block already mined.
        key, _ = chain.issuer_admin.register_issuer_key(issuer_id=ISSUER, public_key=PUBLIC_KEY)
        chain.mine(5)
        planned = chain.block_number + 1000
        chain.issuer_admin.revoke_issuer_key(
            issuer_id=ISSUER, key_id=key.key_id, revoked_at=planned
        )
        now, _ = chain.issuer_admin.revoke_issuer_key(issuer_id=ISSUER, key_id=key.key_id)
        assert now < planned
        backdated, _ = chain.issuer_admin.revoke_issuer_key(
            issuer_id=ISSUER, key_id=key.key_id, revoked_at=now - 3
        )
        assert chain.outsider.issuer_key(issuer_id=ISSUER, key_id=key.key_id).revoked_at == (
            backdated
        )

    def test_moved_before_valid_from_reverts(self, chain: Chain) -> None:
        valid_from = chain.block_number + 5
        key, _ = chain.issuer_admin.register_issuer_key(
            issuer_id=ISSUER, public_key=PUBLIC_KEY, valid_from=valid_from
        )
        chain.mine(10)
        chain.issuer_admin.revoke_issuer_key(issuer_id=ISSUER, key_id=key.key_id)
        with pytest.raises(RevokedBeforeValidFrom):
            chain.issuer_admin.revoke_issuer_key(
                issuer_id=ISSUER, key_id=key.key_id, revoked_at=valid_from - 1
            )

    def test_before_valid_from_reverts(self, chain: Chain) -> None:
        future = chain.block_number + 50
        key, _ = chain.issuer_admin.register_issuer_key(
            issuer_id=ISSUER, public_key=PUBLIC_KEY, valid_from=future
        )
        with pytest.raises(RevokedBeforeValidFrom) as caught:
            chain.issuer_admin.revoke_issuer_key(issuer_id=ISSUER, key_id=key.key_id)
        assert caught.value.valid_from == future
        # Withdrawing a key before it starts: revoke it at its first block.
        revoked_at, _ = chain.issuer_admin.revoke_issuer_key(
            issuer_id=ISSUER, key_id=key.key_id, revoked_at=future
        )
        assert revoked_at == future

    @pytest.mark.parametrize("who", ["outsider", "anchorer", "admin"])
    def test_needs_issuer_admin_role(self, chain: Chain, who: str) -> None:
        key, _ = chain.issuer_admin.register_issuer_key(issuer_id=ISSUER, public_key=PUBLIC_KEY)
        client: AnchorClient = getattr(chain, who)
        with pytest.raises(AccessControlUnauthorizedAccount) as caught:
            client.revoke_issuer_key(issuer_id=ISSUER, key_id=key.key_id)
        assert caught.value.needed_role == ISSUER_ADMIN_ROLE

    def test_event_is_indexed(self, chain: Chain) -> None:
        key, _ = chain.issuer_admin.register_issuer_key(issuer_id=ISSUER, public_key=PUBLIC_KEY)
        revoked_at, result = chain.issuer_admin.revoke_issuer_key(
            issuer_id=ISSUER, key_id=key.key_id
        )
        receipt = chain.w3.eth.get_transaction_receipt(result.tx_hash)
        (entry,) = receipt["logs"]
        signature = Web3.keccak(text="IssuerKeyRevoked(bytes32,bytes32,uint64)")
        assert [bytes(t) for t in entry["topics"]] == [signature, ISSUER, key.key_id]
        assert bytes(entry["data"]) == abi_encode(["uint64"], [revoked_at])


class TestIssuerKey:
    def test_unknown_key_is_all_zero(self, chain: Chain) -> None:
        raw = chain.outsider.contract.functions.issuerKey(ISSUER, key_id(PUBLIC_KEY)).call()
        assert tuple(raw) == (bytes(32), 0, 0)
        assert not chain.outsider.issuer_key(issuer_id=ISSUER, key_id=key_id(PUBLIC_KEY)).registered

    def test_reads_at_a_past_block(self, chain: Chain) -> None:
        key, result = chain.issuer_admin.register_issuer_key(
            issuer_id=ISSUER, public_key=PUBLIC_KEY
        )
        chain.issuer_admin.revoke_issuer_key(issuer_id=ISSUER, key_id=key.key_id)
        before = chain.outsider.issuer_key(
            issuer_id=ISSUER, key_id=key.key_id, block=result.block_number
        )
        assert before.revoked_at == 0


class TestIssuerKeyInForce:
    def test_in_force_between_valid_from_and_revoked_at(self, chain: Chain) -> None:
        valid_from = chain.block_number + 5
        key, _ = chain.issuer_admin.register_issuer_key(
            issuer_id=ISSUER, public_key=PUBLIC_KEY, valid_from=valid_from
        )
        chain.mine(10)
        revoked_at, _ = chain.issuer_admin.revoke_issuer_key(
            issuer_id=ISSUER, key_id=key.key_id, revoked_at=valid_from + 4
        )
        stored = chain.outsider.issuer_key(issuer_id=ISSUER, key_id=key.key_id)
        for block in range(valid_from - 2, revoked_at + 3):
            want = valid_from <= block < revoked_at
            assert (
                chain.outsider.issuer_key_in_force(
                    issuer_id=ISSUER, key_id=key.key_id, block_number=block
                )
                is want
            ), block
            assert stored.in_force_at(block) is want

    def test_unrevoked_key_stays_in_force(self, chain: Chain) -> None:
        key, _ = chain.issuer_admin.register_issuer_key(issuer_id=ISSUER, public_key=PUBLIC_KEY)
        assert chain.outsider.issuer_key_in_force(
            issuer_id=ISSUER, key_id=key.key_id, block_number=2**64 - 1
        )

    def test_unknown_key_is_never_in_force(self, chain: Chain) -> None:
        assert not chain.outsider.issuer_key_in_force(
            issuer_id=ISSUER, key_id=key_id(PUBLIC_KEY), block_number=chain.block_number
        )


def test_every_abi_function_has_a_test_group() -> None:
    """A new external function must come with its tests (the groups above, by name)."""
    tested = {
        "ANCHORER_ROLE", "ISSUER_ADMIN_ROLE", "DEFAULT_ADMIN_ROLE", "anchor", "checkpointCount",
        "checkpoint", "latestCheckpoint", "verifyInclusion", "verifyConsistency",
        "registerIssuerKey", "revokeIssuerKey", "issuerKey", "issuerKeyInForce",
        "getRoleAdmin", "grantRole", "revokeRole", "renounceRole", "hasRole", "supportsInterface",
        # the log signer's authorisation and succession (test_anchor_roles.py: TestAuthorisation,
        # TestCheckpointDigest, TestEip712Domain, TestPredecessor)
        "LOG_SIGNER_ROLE", "checkpointDigest", "eip712Domain", "predecessor",
        # the authority in two steps (test_anchor_roles.py: TestDefaultAdminRules)
        "defaultAdmin", "owner", "defaultAdminDelay", "pendingDefaultAdmin",
        "beginDefaultAdminTransfer", "cancelDefaultAdminTransfer", "acceptDefaultAdminTransfer",
        "changeDefaultAdminDelay", "rollbackDefaultAdminDelay", "pendingDefaultAdminDelay",
        "defaultAdminDelayIncreaseWait",
    }  # fmt: skip
    functions = {item["name"] for item in load_artifact().abi if item["type"] == "function"}
    assert functions == tested


def test_chain_client_is_reusable_across_contracts(chain: Chain) -> None:
    # One account (one nonce counter) can drive several contracts.
    sender: ChainClient = chain.admin.chain
    first = deploy_contract(sender, admin=sender.address)
    second = deploy_contract(sender, admin=sender.address)
    assert first.address != second.address


class TestGas:
    def test_per_certificate_target_at_ten_thousand_events(self, chain: Chain) -> None:
        # docs/benchmarks.md: <= 15 gas per certificate when a checkpoint covers 10,000 events
        # of a 1,000,000-entry log. The gas depends on the sizes, not on the entries: equal
        # leaves keep the tree cheap to build here.
        log = LogTree()
        log.append_leaf_hashes([hashlib.sha256(b"\x00event").digest()] * 1_010_000)
        chain.anchorer.anchor(
            tree_size=1_000_000, log_root=log.root_hash(1_000_000), map_root=MAP_ROOT, proof=[]
        )
        result = chain.anchorer.anchor(
            tree_size=1_010_000,
            log_root=log.root_hash(),
            map_root=MAP_ROOT,
            proof=log.consistency_proof(size1=1_000_000),
        )
        assert result.transaction.gas_used / 10_000 <= 15
