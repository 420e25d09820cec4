"""The contract's roles on a real Hardhat node: the log signer's EIP-712 authorisation of each
anchor (docs/spec.md §7.3) and the authority's two-step transfer (OpenZeppelin
`AccessControlDefaultAdminRules`). The other functions are in test_anchor_contract.py."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from anchoring.authorisation import (
    EIP712_NAME,
    EIP712_VERSION,
    AnchorDomain,
    CheckpointStep,
    recover_signer,
    sign_step,
)
from anchoring.client import AnchorClient
from anchoring.deploy import deploy_contract
from anchoring.errors import (
    AccessControlEnforcedDefaultAdminDelay,
    AccessControlEnforcedDefaultAdminRules,
    AccessControlInvalidDefaultAdmin,
    AccessControlUnauthorizedAccount,
    ECDSAInvalidSignature,
    ECDSAInvalidSignatureLength,
    ECDSAInvalidSignatureS,
    InvalidConsistencyProof,
    InvalidPredecessor,
    IssuerKeyAlreadyRegistered,
    IssuerKeyAlreadyRevoked,
    TreeSizeNotGrowing,
    UnauthorisedLogSigner,
)
from anchoring.models import issuer_id_hash
from tests.integration.chain_helpers import MAP_ROOT, log_tree
from tests.integration.conftest import CHAIN_ID, Chain, SigningAnchorClient, deploy_successor

LOG_SIGNER_ROLE = Web3.keccak(text="LOG_SIGNER_ROLE")
ANCHORER_ROLE = Web3.keccak(text="ANCHORER_ROLE")
DEFAULT_ADMIN_ROLE = bytes(32)
# secp256k1's group order: s and n - s both verify; the contract takes only the low one.
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def step_on_chain(client: AnchorClient, size: int, *, map_root: bytes = MAP_ROOT) -> CheckpointStep:
    """The step from the checkpoint on chain to the log of `size` entries."""
    return CheckpointStep.on_top_of(
        client.latest_checkpoint(),
        tree_size=size,
        log_root=log_tree(size).root_hash(size),
        map_root=map_root,
    )


def send(
    client: AnchorClient,
    step: CheckpointStep,
    signature: bytes,
    *,
    proof: list[bytes] | None = None,
) -> object:
    """Anchor `step`'s checkpoint with `signature`; the proof from the anchored size by default."""
    if proof is None:
        latest = step.previous_tree_size
        proof = [] if latest == 0 else log_tree(step.tree_size).consistency_proof(size1=latest)
    return client.anchor(
        tree_size=step.tree_size,
        log_root=step.log_root,
        map_root=step.map_root,
        proof=proof,
        authorisation=signature,
    )


class TestAuthorisation:
    """`anchor`'s last argument: the log signer's signature of exactly this step."""

    def test_log_signers_signature_anchors(self, chain: Chain) -> None:
        step = step_on_chain(chain.anchorer, 5)
        authorisation = sign_step(chain.accounts.log_signer, chain.anchorer.domain(), step)
        result = send(chain.anchorer, step, authorisation.signature)
        assert result.checkpoint.tree_size == 5  # type: ignore[attr-defined]
        later = step_on_chain(chain.anchorer, 9)
        assert later.previous_tree_size == 5
        assert later.previous_log_root == log_tree(5).root_hash()
        again = sign_step(chain.accounts.log_signer, chain.anchorer.domain(), later)
        assert send(chain.anchorer, later, again.signature).checkpoint.index == 1  # type: ignore[attr-defined]

    @pytest.mark.parametrize("length", [0, 64, 66])
    def test_wrong_length_reverts(self, chain: Chain, length: int) -> None:
        step = step_on_chain(chain.anchorer, 5)
        with pytest.raises(ECDSAInvalidSignatureLength) as caught:
            send(chain.anchorer, step, b"\x01" * length)
        assert caught.value.length == length
        assert f"got {length} bytes, want 65" in str(caught.value)

    def test_high_s_reverts(self, chain: Chain) -> None:
        step = step_on_chain(chain.anchorer, 5)
        good = sign_step(chain.accounts.log_signer, chain.anchorer.domain(), step).signature
        s = int.from_bytes(good[32:64], "big")
        flipped = good[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([good[64] ^ 1])
        with pytest.raises(ECDSAInvalidSignatureS):
            send(chain.anchorer, step, flipped)

    def test_garbage_reverts(self, chain: Chain) -> None:
        step = step_on_chain(chain.anchorer, 5)
        with pytest.raises(ECDSAInvalidSignature):
            send(chain.anchorer, step, b"\x01" * 64 + b"\x05")  # v = 5: no key recovers

    @pytest.mark.parametrize("who", ["anchorer", "outsider", "admin"])
    def test_signer_without_the_role_reverts(self, chain: Chain, who: str) -> None:
        # The sending key signing for itself — what a thief of it alone could do — is refused.
        account: LocalAccount = getattr(chain.accounts, who)
        step = step_on_chain(chain.anchorer, 5)
        signature = sign_step(account, chain.anchorer.domain(), step).signature
        with pytest.raises(UnauthorisedLogSigner) as caught:
            send(chain.anchorer, step, signature)
        assert caught.value.signer == account.address
        assert caught.value.digest == chain.outsider.checkpoint_digest(step)
        assert "want one by a log signer" in str(caught.value)

    def test_revoked_log_signer_reverts(self, chain: Chain) -> None:
        chain.admin.revoke_role("LOG_SIGNER_ROLE", chain.accounts.log_signer.address)
        step = step_on_chain(chain.anchorer, 5)
        signature = sign_step(chain.accounts.log_signer, chain.anchorer.domain(), step).signature
        with pytest.raises(UnauthorisedLogSigner) as caught:
            send(chain.anchorer, step, signature)
        assert caught.value.signer == chain.accounts.log_signer.address

    def test_any_account_granted_the_role_may_sign(self, chain: Chain) -> None:
        chain.admin.grant_role("LOG_SIGNER_ROLE", chain.accounts.spare.address)
        step = step_on_chain(chain.anchorer, 5)
        signature = sign_step(chain.accounts.spare, chain.anchorer.domain(), step).signature
        assert send(chain.anchorer, step, signature).checkpoint.tree_size == 5  # type: ignore[attr-defined]

    @pytest.mark.parametrize("other", ["chain", "contract"])
    def test_another_domain_reverts(self, chain: Chain, other: str) -> None:
        step = step_on_chain(chain.anchorer, 5)
        domain = chain.anchorer.domain()
        if other == "chain":
            wrong = AnchorDomain(chain_id=1, contract=domain.contract)
        else:
            sibling = deploy_contract(chain.admin.chain, admin=chain.accounts.admin.address)
            wrong = AnchorDomain(chain_id=CHAIN_ID, contract=sibling.address)
        signature = sign_step(chain.accounts.log_signer, wrong, step).signature
        with pytest.raises(UnauthorisedLogSigner) as caught:
            send(chain.anchorer, step, signature)
        assert caught.value.signer != chain.accounts.log_signer.address
        assert caught.value.digest == step.digest(domain)

    @pytest.mark.parametrize("field", ["tree_size", "log_root", "map_root"])
    def test_signed_for_another_checkpoint_reverts(self, chain: Chain, field: str) -> None:
        # Each field is bound: a signature of the registry's checkpoint does not carry over to
        # the same size with another root, another size, or another map root.
        signed = step_on_chain(chain.anchorer, 5)
        sent = {
            "tree_size": step_on_chain(chain.anchorer, 6),
            "log_root": CheckpointStep(
                previous_tree_size=0,
                previous_log_root=bytes(32),
                tree_size=5,
                log_root=log_tree(5, fork_at=2).root_hash(),
                map_root=MAP_ROOT,
            ),
            "map_root": step_on_chain(chain.anchorer, 5, map_root=b"\x07" * 32),
        }[field]
        signature = sign_step(chain.accounts.log_signer, chain.anchorer.domain(), signed).signature
        with pytest.raises(UnauthorisedLogSigner):
            send(chain.anchorer, sent, signature)

    def test_replay_of_an_used_authorisation_reverts(self, chain: Chain) -> None:
        # The signature binds the previous checkpoint: once used, it fits no later step, and the
        # contract says so with the signature's error before any size is looked at.
        step = step_on_chain(chain.anchorer, 5)
        signature = sign_step(chain.accounts.log_signer, chain.anchorer.domain(), step).signature
        send(chain.anchorer, step, signature)
        with pytest.raises(UnauthorisedLogSigner):
            send(chain.anchorer, step, signature, proof=[])

    def test_authorisation_for_a_step_the_chain_moved_past_reverts(self, chain: Chain) -> None:
        # Signed on top of 5; meanwhile 7 was anchored. The old signature, with a valid proof
        # from 7, is refused: the signer never saw (and never checked) that step.
        send(
            chain.anchorer,
            step_on_chain(chain.anchorer, 5),
            sign_step(
                chain.accounts.log_signer, chain.anchorer.domain(), step_on_chain(chain.anchorer, 5)
            ).signature,
        )
        stale = step_on_chain(chain.anchorer, 12)
        stale_signature = sign_step(
            chain.accounts.log_signer, chain.anchorer.domain(), stale
        ).signature
        chain.anchorer.anchor(
            tree_size=7,
            log_root=log_tree(7).root_hash(),
            map_root=MAP_ROOT,
            proof=log_tree(7).consistency_proof(size1=5),
        )
        with pytest.raises(UnauthorisedLogSigner):
            chain.anchorer.anchor(
                tree_size=12,
                log_root=stale.log_root,
                map_root=MAP_ROOT,
                proof=log_tree(12).consistency_proof(size1=7),
                authorisation=stale_signature,
            )

    def test_authorised_junk_still_needs_a_consistent_proof(self, chain: Chain) -> None:
        # The signature comes first, the proof rule still holds after it.
        chain.anchorer.anchor(
            tree_size=7, log_root=log_tree(7).root_hash(), map_root=MAP_ROOT, proof=[]
        )
        fork = log_tree(12, fork_at=6)
        with pytest.raises(InvalidConsistencyProof):
            chain.anchorer.anchor(
                tree_size=12,
                log_root=fork.root_hash(),
                map_root=MAP_ROOT,
                proof=fork.consistency_proof(size1=7),
            )
        with pytest.raises(TreeSizeNotGrowing):
            chain.anchorer.anchor(
                tree_size=7, log_root=log_tree(7).root_hash(), map_root=MAP_ROOT, proof=[]
            )

    def test_the_log_signer_alone_cannot_send(self, chain: Chain) -> None:
        signer = chain.client(chain.accounts.log_signer)
        with pytest.raises(AccessControlUnauthorizedAccount) as caught:
            signer.anchor(
                tree_size=5, log_root=log_tree(5).root_hash(), map_root=MAP_ROOT, proof=[]
            )
        assert caught.value.needed_role == ANCHORER_ROLE

    def test_recovered_signer_agrees_with_the_contract(self, chain: Chain) -> None:
        step = step_on_chain(chain.anchorer, 5)
        authorisation = sign_step(chain.accounts.log_signer, chain.anchorer.domain(), step)
        assert authorisation.signer == chain.accounts.log_signer.address
        assert len(authorisation.signature) == 65
        assert (
            recover_signer(chain.anchorer.domain(), step, authorisation.signature)
            == chain.accounts.log_signer.address
        )


class TestCheckpointDigest:
    @pytest.mark.parametrize(
        ("previous", "size"), [(0, 1), (5, 9), (2**64 - 2, 2**64 - 1), (1000, 1_000_000)]
    )
    def test_agrees_with_eth_account(self, chain: Chain, previous: int, size: int) -> None:
        step = CheckpointStep(
            previous_tree_size=previous,
            previous_log_root=b"\x11" * 32 if previous else bytes(32),
            tree_size=size,
            log_root=b"\x22" * 32,
            map_root=b"\x33" * 32,
        )
        assert chain.outsider.checkpoint_digest(step) == step.digest(chain.outsider.domain())

    def test_depends_on_the_contract(self, chain: Chain) -> None:
        step = step_on_chain(chain.outsider, 5)
        sibling = deploy_contract(chain.admin.chain, admin=chain.accounts.admin.address)
        other = AnchorClient(chain.outsider.chain, sibling.address)
        assert other.checkpoint_digest(step) != chain.outsider.checkpoint_digest(step)
        assert other.checkpoint_digest(step) == step.digest(other.domain())


class TestEip712Domain:
    def test_erc5267_fields(self, chain: Chain) -> None:
        fields, name, version, chain_id, contract, salt, extensions = (
            chain.outsider.contract.functions.eip712Domain().call()
        )
        assert fields == b"\x0f"  # name, version, chainId, verifyingContract
        assert (name, version) == (EIP712_NAME, EIP712_VERSION)
        assert chain_id == CHAIN_ID
        assert contract == chain.deployment.address
        assert (bytes(salt), list(extensions)) == (bytes(32), [])


class TestDefaultAdminRules:
    """The authority moves in two steps, a delay apart; it cannot be granted or revoked."""

    DELAY = 60

    @pytest.fixture
    def contract(self, chain: Chain) -> AnchorClient:
        deployer = chain.admin.chain
        deployment = deploy_contract(deployer, admin=deployer.address, admin_delay_s=self.DELAY)
        return AnchorClient(deployer, deployment.address)

    def _as(self, chain: Chain, contract: AnchorClient, account: LocalAccount) -> AnchorClient:
        return AnchorClient(chain.client(account).chain, contract.address)

    def test_one_admin_from_the_start(self, chain: Chain, contract: AnchorClient) -> None:
        assert contract.default_admin() == chain.accounts.admin.address
        assert contract.contract.functions.owner().call() == chain.accounts.admin.address
        assert contract.default_admin_delay() == self.DELAY
        assert contract.pending_default_admin() == ("0x" + "00" * 20, 0)

    def test_transfer_in_two_steps_after_the_delay(
        self, chain: Chain, contract: AnchorClient
    ) -> None:
        new = chain.accounts.spare
        begun = contract.begin_default_admin_transfer(new.address)
        started = chain.w3.eth.get_block(begun.block_number)["timestamp"]
        pending, schedule = contract.pending_default_admin()
        assert (pending, schedule) == (new.address, started + self.DELAY)
        successor = self._as(chain, contract, new)
        with pytest.raises(AccessControlEnforcedDefaultAdminDelay) as caught:
            successor.accept_default_admin_transfer()
        assert caught.value.schedule == schedule
        chain.rpc("evm_increaseTime", [self.DELAY + 1])
        chain.mine()
        successor.accept_default_admin_transfer()
        assert contract.default_admin() == new.address
        assert not contract.has_role("DEFAULT_ADMIN_ROLE", chain.accounts.admin.address)
        # The new authority grants; the old one no longer can.
        successor.grant_role("ANCHORER_ROLE", chain.accounts.anchorer.address)
        with pytest.raises(AccessControlUnauthorizedAccount):
            contract.grant_role("ANCHORER_ROLE", chain.accounts.outsider.address)

    def test_only_the_pending_admin_accepts(self, chain: Chain, contract: AnchorClient) -> None:
        contract.begin_default_admin_transfer(chain.accounts.spare.address)
        chain.rpc("evm_increaseTime", [self.DELAY + 1])
        chain.mine()
        thief = self._as(chain, contract, chain.accounts.outsider)
        with pytest.raises(AccessControlInvalidDefaultAdmin) as caught:
            thief.accept_default_admin_transfer()
        assert caught.value.admin == chain.accounts.outsider.address

    def test_cancel(self, chain: Chain, contract: AnchorClient) -> None:
        contract.begin_default_admin_transfer(chain.accounts.spare.address)
        contract.cancel_default_admin_transfer()
        assert contract.pending_default_admin() == ("0x" + "00" * 20, 0)

    def test_begin_needs_the_admin(self, chain: Chain, contract: AnchorClient) -> None:
        outsider = self._as(chain, contract, chain.accounts.outsider)
        with pytest.raises(AccessControlUnauthorizedAccount) as caught:
            outsider.begin_default_admin_transfer(chain.accounts.outsider.address)
        assert caught.value.needed_role == DEFAULT_ADMIN_ROLE

    def test_no_direct_grant_or_revoke(self, chain: Chain, contract: AnchorClient) -> None:
        with pytest.raises(AccessControlEnforcedDefaultAdminRules):
            contract.grant_role("DEFAULT_ADMIN_ROLE", chain.accounts.spare.address)
        with pytest.raises(AccessControlEnforcedDefaultAdminRules):
            contract.revoke_role("DEFAULT_ADMIN_ROLE", chain.accounts.admin.address)

    def test_delay_change_is_scheduled(self, chain: Chain, contract: AnchorClient) -> None:
        functions = contract.contract.functions
        wait = functions.defaultAdminDelayIncreaseWait().call()
        assert wait == 5 * 24 * 3600  # OpenZeppelin's cap on how long an increase waits
        contract._transact("changeDefaultAdminDelay", self.DELAY * 10)
        new_delay, schedule = functions.pendingDefaultAdminDelay().call()
        assert new_delay == self.DELAY * 10
        assert schedule > chain.w3.eth.get_block("latest")["timestamp"]
        assert contract.default_admin_delay() == self.DELAY  # not yet
        contract._transact("rollbackDefaultAdminDelay")
        assert tuple(functions.pendingDefaultAdminDelay().call()) == (0, 0)

    def test_supports_the_interface(self, chain: Chain) -> None:
        # IAccessControlDefaultAdminRules' ERC-165 id (OpenZeppelin's tests use the same)
        assert chain.outsider.contract.functions.supportsInterface(bytes.fromhex("31498786")).call()


class TestPredecessor:
    """A successor starts from a checkpoint of its predecessor, read by its constructor, and
    its first anchor must extend it (docs/spec.md §7.7)."""

    def _old(self, chain: Chain) -> None:
        """The session contract with two checkpoints (5, then 9)."""
        chain.anchorer.anchor(
            tree_size=5, log_root=log_tree(5).root_hash(), map_root=MAP_ROOT, proof=[]
        )
        chain.anchorer.anchor(
            tree_size=9,
            log_root=log_tree(9).root_hash(),
            map_root=b"\x09" * 32,
            proof=log_tree(9).consistency_proof(size1=5),
        )

    def _successor(self, chain: Chain, index: int) -> SigningAnchorClient:
        return SigningAnchorClient(
            chain.client(chain.accounts.anchorer).chain,
            deploy_successor(chain, index=index),
            log_signer=chain.accounts.log_signer,
        )

    def test_a_first_contract_has_none(self, chain: Chain) -> None:
        assert chain.outsider.predecessor() is None
        raw = chain.outsider.contract.functions.predecessor().call()
        assert tuple(raw) == ("0x" + "00" * 20, 0, 0, bytes(32), bytes(32))

    @pytest.mark.parametrize("index", [0, 1])
    def test_starts_from_the_predecessors_checkpoint(self, chain: Chain, index: int) -> None:
        self._old(chain)
        new = self._successor(chain, index)
        start = chain.outsider.checkpoint(index)
        assert start is not None
        predecessor = new.predecessor()
        assert predecessor is not None
        assert (predecessor.contract, predecessor.index) == (chain.deployment.address, index)
        assert (predecessor.tree_size, predecessor.log_root, predecessor.map_root) == (
            start.tree_size,
            start.log_root,
            start.map_root,
        )
        # Indexes go on counting: the start is held at its own index, block and time as the
        # predecessor anchored it, and is the latest until the successor anchors.
        assert new.checkpoint_count() == index + 1
        assert new.checkpoint(index) == start
        assert new.latest_checkpoint() == start
        assert new.anchor_base() == start
        assert [new.checkpoint(i) for i in range(index)] == [None] * index  # the predecessor's
        assert new.checkpoint(index + 1) is None

    def test_first_anchor_extends_the_start(self, chain: Chain) -> None:
        self._old(chain)
        new = self._successor(chain, 1)
        with pytest.raises(TreeSizeNotGrowing) as not_growing:
            new.anchor(tree_size=9, log_root=log_tree(9).root_hash(), map_root=MAP_ROOT, proof=[])
        assert not_growing.value.args_ == (9, 9)
        with pytest.raises(InvalidConsistencyProof) as caught:  # unchecked: refused
            new.anchor(tree_size=12, log_root=log_tree(12).root_hash(), map_root=MAP_ROOT, proof=[])
        assert caught.value.args_ == (9, 12, 0)
        fork = log_tree(12, fork_at=7)
        with pytest.raises(InvalidConsistencyProof):
            new.anchor(
                tree_size=12,
                log_root=fork.root_hash(),
                map_root=MAP_ROOT,
                proof=fork.consistency_proof(size1=9),
            )
        result = new.anchor(
            tree_size=12,
            log_root=log_tree(12).root_hash(),
            map_root=MAP_ROOT,
            proof=log_tree(12).consistency_proof(size1=9),
        )
        assert (result.checkpoint.index, result.checkpoint.tree_size) == (2, 12)
        assert new.checkpoint_count() == 3
        latest = new.latest_checkpoint()
        assert latest is not None
        assert (latest.index, latest.tree_size) == (2, 12)

    def test_a_successor_of_a_successor_counts_on(self, chain: Chain) -> None:
        self._old(chain)
        second = self._successor(chain, 1)
        second.anchor(
            tree_size=12,
            log_root=log_tree(12).root_hash(),
            map_root=MAP_ROOT,
            proof=log_tree(12).consistency_proof(size1=9),
        )
        third = deploy_contract(
            chain.admin.chain,
            admin=chain.accounts.admin.address,
            predecessor=second.address,
            predecessor_index=2,
        )
        reader = AnchorClient(chain.outsider.chain, third.address)
        assert reader.checkpoint_count() == 3
        start = reader.latest_checkpoint()
        assert start is not None
        assert (start.index, start.tree_size) == (2, 12)
        predecessor = reader.predecessor()
        assert predecessor is not None
        assert (predecessor.contract, predecessor.index) == (second.address, 2)

    def _key_admin(self, chain: Chain, address: str) -> AnchorClient:
        return AnchorClient(chain.issuer_admin.chain, address)  # granted by deploy_successor

    def test_keys_registered_before_it_are_its_own(self, chain: Chain) -> None:
        issuer = issuer_id_hash("vn-cb-successor")
        before, _ = chain.issuer_admin.register_issuer_key(
            issuer_id=issuer, public_key=b"\x0a" * 32
        )
        self._old(chain)
        new = self._successor(chain, 1)
        keys = self._key_admin(chain, new.address)
        inherited = keys.issuer_key(issuer_id=issuer, key_id=before.key_id)
        assert inherited == before
        assert keys.issuer_key_in_force(
            issuer_id=issuer, key_id=before.key_id, block_number=before.valid_from
        )
        with pytest.raises(IssuerKeyAlreadyRegistered):
            keys.register_issuer_key(issuer_id=issuer, public_key=b"\x0a" * 32)
        # Registered on the old contract after the move (a holder of its role): not ours.
        after, _ = chain.issuer_admin.register_issuer_key(issuer_id=issuer, public_key=b"\x0b" * 32)
        assert not keys.issuer_key(issuer_id=issuer, key_id=after.key_id).registered
        own, _ = keys.register_issuer_key(issuer_id=issuer, public_key=b"\x0b" * 32)
        assert keys.issuer_key(issuer_id=issuer, key_id=own.key_id) == own

    def test_a_revocation_here_overrides_the_predecessors_record(self, chain: Chain) -> None:
        issuer = issuer_id_hash("vn-cb-successor")
        key, _ = chain.issuer_admin.register_issuer_key(issuer_id=issuer, public_key=b"\x0c" * 32)
        self._old(chain)
        new = self._successor(chain, 1)
        keys = self._key_admin(chain, new.address)
        revoked_at, _ = keys.revoke_issuer_key(issuer_id=issuer, key_id=key.key_id)
        assert keys.issuer_key(issuer_id=issuer, key_id=key.key_id).revoked_at == revoked_at
        assert chain.outsider.issuer_key(issuer_id=issuer, key_id=key.key_id) == key
        assert not keys.issuer_key_in_force(
            issuer_id=issuer, key_id=key.key_id, block_number=revoked_at
        )
        earlier, _ = keys.revoke_issuer_key(
            issuer_id=issuer, key_id=key.key_id, revoked_at=key.valid_from + 1
        )
        assert earlier == key.valid_from + 1
        with pytest.raises(IssuerKeyAlreadyRevoked):
            keys.revoke_issuer_key(issuer_id=issuer, key_id=key.key_id, revoked_at=revoked_at)

    def test_the_authorisation_binds_the_start(self, chain: Chain) -> None:
        self._old(chain)
        new = self._successor(chain, 1)
        # Signed as for a first contract (previous 0): refused.
        step = CheckpointStep.on_top_of(
            None, tree_size=12, log_root=log_tree(12).root_hash(), map_root=MAP_ROOT
        )
        signature = sign_step(chain.accounts.log_signer, new.domain(), step).signature
        with pytest.raises(UnauthorisedLogSigner):
            new.anchor(
                tree_size=12,
                log_root=step.log_root,
                map_root=MAP_ROOT,
                proof=log_tree(12).consistency_proof(size1=9),
                authorisation=signature,
            )

    @pytest.mark.parametrize("case", ["no checkpoint there", "no contract", "index without one"])
    def test_invalid_predecessor_reverts(self, chain: Chain, case: str) -> None:
        self._old(chain)
        predecessor, index = {
            "no checkpoint there": (chain.deployment.address, 2),
            "no contract": (chain.accounts.spare.address, 0),
            "index without one": (None, 3),
        }[case]
        with pytest.raises(InvalidPredecessor) as caught:
            deploy_contract(
                chain.admin.chain,
                admin=chain.accounts.admin.address,
                predecessor=predecessor,
                predecessor_index=index,
            )
        assert caught.value.index == index


def test_domain_refuses_a_bad_address() -> None:
    with pytest.raises(ValueError, match="EIP-55"):
        AnchorDomain(chain_id=1, contract=Account.create().address.lower())
