"""Chain fixtures: one real Hardhat node per session, the contract deployed once, and every test
wrapped in `evm_snapshot`/`evm_revert` so that tests see the same fresh deployment and never each
other's transactions.

Nothing is installed here: `make test` runs `npm ci` in hardhat-node before pytest. Accounts are
Hardhat's well-known development keys: 0 is the authority (admin), 1 the anchorer, 2 the issuer
admin, 3 an account with no role, 4 the log signer (LOG_SIGNER_ROLE), 5 a spare account.

The clients tests get sign each anchor's authorisation with the log signer's key when the test
gives none — the step from the checkpoint on chain, as `certreg log-signer` would sign it after
its checks (tests/integration/anchoring/test_log_signer.py tests those checks and the service).
Tests of the authorisation itself pass theirs explicitly.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from anchoring.authorisation import CheckpointStep, sign_step
from anchoring.client import AnchorClient, ChainClient, PendingTransaction
from anchoring.deploy import Deployment, deploy_contract
from anchoring.devnode import HardhatNode, dev_account, start_hardhat_node
from anchoring.models import AnchorResult

CHAIN_ID = 31337

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/integration is an integration test (`-m "not integration"` runs
    the unit, property and e2e suites without a database or a chain node)."""
    for item in items:
        if item.path.resolve().is_relative_to(HERE):
            item.add_marker(pytest.mark.integration)


@dataclass(frozen=True)
class Accounts:
    admin: LocalAccount
    anchorer: LocalAccount
    issuer_admin: LocalAccount
    outsider: LocalAccount
    log_signer: LocalAccount
    spare: LocalAccount


def authorise(
    client: AnchorClient, signer: LocalAccount, *, tree_size: int, log_root: bytes, map_root: bytes
) -> bytes:
    """`signer`'s authorisation of the step from the checkpoint on chain to this one."""
    step = CheckpointStep.on_top_of(
        client.anchor_base(), tree_size=tree_size, log_root=log_root, map_root=map_root
    )
    return sign_step(signer, client.domain(), step).signature


class SigningAnchorClient(AnchorClient):
    """An `AnchorClient` whose `anchor`/`send_anchor` sign the authorisation with the session's
    log signer key when the caller gives none."""

    def __init__(self, chain: ChainClient, address: str, *, log_signer: LocalAccount) -> None:
        super().__init__(chain, address)
        self.log_signer = log_signer

    def send_anchor(
        self,
        *,
        tree_size: int,
        log_root: bytes,
        map_root: bytes,
        proof: Sequence[bytes],
        authorisation: bytes | None = None,
    ) -> PendingTransaction:
        if authorisation is None:
            authorisation = authorise(
                self, self.log_signer, tree_size=tree_size, log_root=log_root, map_root=map_root
            )
        return super().send_anchor(
            tree_size=tree_size,
            log_root=log_root,
            map_root=map_root,
            proof=proof,
            authorisation=authorisation,
        )

    def anchor(
        self,
        *,
        tree_size: int,
        log_root: bytes,
        map_root: bytes,
        proof: Sequence[bytes],
        authorisation: bytes | None = None,
    ) -> AnchorResult:
        return self.wait_anchor(
            self.send_anchor(
                tree_size=tree_size,
                log_root=log_root,
                map_root=map_root,
                proof=proof,
                authorisation=authorisation,
            )
        )


@dataclass(frozen=True)
class DeployedChain:
    """What is set up once per session."""

    node: HardhatNode
    w3: Web3
    accounts: Accounts
    deployment: Deployment

    def rpc(self, method: str, params: list[Any] | None = None) -> Any:
        """A raw JSON-RPC call (Hardhat's evm_* and hardhat_* methods)."""
        response = self.w3.provider.make_request(method, params or [])  # type: ignore[arg-type]
        if "error" in response:
            raise AssertionError(f"{method}: {response['error']}")
        return response["result"]

    def client(self, account: LocalAccount, **options: Any) -> SigningAnchorClient:
        """A fresh client (fresh nonce counter) for `account`."""
        chain = ChainClient(self.w3, account, chain_id=CHAIN_ID, poll_interval_s=0.02, **options)
        return SigningAnchorClient(
            chain, self.deployment.address, log_signer=self.accounts.log_signer
        )

    @cached_property
    def reader(self) -> SigningAnchorClient:
        """One shared client for read-only calls (views send no transaction, keep no state)."""
        return self.client(self.accounts.outsider)

    def mine(self, blocks: int = 1) -> None:
        self.rpc("hardhat_mine", [hex(blocks)])

    @property
    def block_number(self) -> int:
        return self.w3.eth.block_number


@dataclass(frozen=True)
class Chain(DeployedChain):
    """A test's view: the session chain plus one fresh client per role."""

    admin: SigningAnchorClient
    anchorer: SigningAnchorClient
    issuer_admin: SigningAnchorClient
    outsider: SigningAnchorClient


def deploy_successor(chain: Chain, *, index: int) -> str:
    """A successor of the session contract from its checkpoint `index` (docs/spec.md §7.7),
    the authority its admin, every role granted to the session's accounts; its address."""
    deployment = deploy_contract(
        chain.admin.chain,
        admin=chain.accounts.admin.address,
        predecessor=chain.deployment.address,
        predecessor_index=index,
    )
    admin = AnchorClient(chain.admin.chain, deployment.address)
    admin.grant_role("ANCHORER_ROLE", chain.accounts.anchorer.address)
    admin.grant_role("LOG_SIGNER_ROLE", chain.accounts.log_signer.address)
    admin.grant_role("ISSUER_ADMIN_ROLE", chain.accounts.issuer_admin.address)
    return deployment.address


@pytest.fixture(scope="session")
def hardhat_node() -> Iterator[HardhatNode]:
    node = start_hardhat_node(chain_id=CHAIN_ID)
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="session")
def deployed_chain(hardhat_node: HardhatNode) -> DeployedChain:
    w3 = Web3(Web3.HTTPProvider(hardhat_node.url))
    accounts = Accounts(
        admin=dev_account(0),
        anchorer=dev_account(1),
        issuer_admin=dev_account(2),
        outsider=dev_account(3),
        log_signer=dev_account(4),
        spare=dev_account(5),
    )
    admin_chain = ChainClient(w3, accounts.admin, chain_id=CHAIN_ID, poll_interval_s=0.02)
    deployment = deploy_contract(admin_chain, admin=accounts.admin.address)
    admin = AnchorClient(admin_chain, deployment.address)
    admin.grant_role("ANCHORER_ROLE", accounts.anchorer.address)
    admin.grant_role("ISSUER_ADMIN_ROLE", accounts.issuer_admin.address)
    admin.grant_role("LOG_SIGNER_ROLE", accounts.log_signer.address)
    return DeployedChain(node=hardhat_node, w3=w3, accounts=accounts, deployment=deployment)


@pytest.fixture
def chain(deployed_chain: DeployedChain) -> Iterator[Chain]:
    """The deployed contract with roles granted, reverted to that state after the test."""
    d = deployed_chain
    snapshot = d.rpc("evm_snapshot")
    try:
        yield Chain(
            node=d.node,
            w3=d.w3,
            accounts=d.accounts,
            deployment=d.deployment,
            admin=d.client(d.accounts.admin),
            anchorer=d.client(d.accounts.anchorer),
            issuer_admin=d.client(d.accounts.issuer_admin),
            outsider=d.client(d.accounts.outsider),
        )
    finally:
        # Mining modes are not part of a snapshot: put back automine for the next test.
        d.rpc("evm_setIntervalMining", [0])
        d.rpc("evm_setAutomine", [True])
        assert d.rpc("evm_revert", [snapshot]) is True
