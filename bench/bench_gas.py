"""Gas of the anchoring contract, measured on a local Hardhat node that this script starts.

    python bench/bench_gas.py            # everything at the default sizes
    python bench/bench_gas.py --n 10000  # the cases at one size only

Cases (gas is the transaction's gasUsed, so it includes the 21,000 base and the calldata):
- deploy, grant_role, register_issuer_key, revoke_issuer_key: n=1;
- anchor_first n=<tree size>: the first checkpoint (no proof; the size barely matters);
- anchor_later n=<tree size>: a checkpoint after the log grew by 10% since the last one, with
  the consistency proof's length and the number of hashes the contract computes;
- per_cert n=<events>: a checkpoint covering n new events on a log of 1,000,000 entries, with
  gas_per_cert = gas / n. The target is <= 15 gas per certificate at 10,000 events.

Every anchor carries the log signer's EIP-712 authorisation (65 bytes, one `ecrecover`), as
the worker's do (docs/spec.md §7.3).

Consistency proofs of logs of millions of entries come from a log whose entries are all equal:
then every subtree's hash depends only on its size, so roots and proofs of any size cost
O(log^2 n) to compute. The contract's work (proof length, hash count, storage) depends only on
the two sizes, and SHA-256 outputs are as incompressible as real ones, so the gas is the same
as for a real log. The script checks those proofs against the core's LogTree on small sizes.
"""

import hashlib
from functools import cache

from _common import report, sizes_from_args
from web3 import Web3

from anchoring.authorisation import CheckpointStep, sign_step
from anchoring.client import AnchorClient, ChainClient
from anchoring.deploy import deploy_contract
from anchoring.devnode import dev_account, start_hardhat_node
from registry.core.log import LogTree
from registry.core.proofs import verify_consistency

TREE_SIZES = (1_000, 1_000_000, 10_000_000)
EVENTS_PER_CHECKPOINT = (1_000, 10_000, 100_000)
BASE_LOG = 1_000_000
TARGET_GAS_PER_CERT = 15
LEAF = hashlib.sha256(b"\x00" + b"a certificate event").digest()
MAP_ROOT = hashlib.sha256(b"a status-map root").digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (RFC 6962's k)."""
    return 1 << ((n - 1).bit_length() - 1)


@cache
def uniform_root(n: int) -> bytes:
    """MTH of n equal leaves."""
    if n == 1:
        return LEAF
    k = _split(n)
    return _node(uniform_root(k), uniform_root(n - k))


def _subproof(m: int, n: int, complete: bool) -> list[bytes]:
    """RFC 6962 §2.1.2 SUBPROOF(m, D[n], b) for equal leaves."""
    if m == n:
        return [] if complete else [uniform_root(n)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, k, complete), uniform_root(n - k)]
    return [*_subproof(m - k, n - k, False), uniform_root(k)]


def uniform_proof(size1: int, size2: int) -> list[bytes]:
    """The consistency proof between two sizes of the equal-leaf log."""
    return _subproof(size1, size2, True)


def hash_count(size1: int, size2: int) -> int:
    """How many node hashes the RFC 9162 §2.1.4.2 verifier computes for these sizes."""
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    steps = len(uniform_proof(size1, size2)) - (0 if size1 & (size1 - 1) else 1)
    count = 0
    for _ in range(steps):
        if fn & 1 or fn == sn:
            count += 2
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            count += 1
        fn, sn = fn >> 1, sn >> 1
    return count


def self_check() -> None:
    """The equal-leaf roots and proofs are the core's, and they verify."""
    tree = LogTree()
    tree.append_leaf_hashes([LEAF] * 300)
    for size1, size2 in [(1, 2), (3, 7), (7, 12), (8, 300), (100, 255), (257, 300)]:
        assert uniform_root(size2) == tree.root_hash(size2)
        assert uniform_proof(size1, size2) == tree.consistency_proof(size1=size1, size2=size2)
    for size1, size2 in [(900_000, 1_000_000), (1_000_000, 1_010_000)]:
        verify_consistency(
            size1=size1,
            size2=size2,
            root1=uniform_root(size1),
            root2=uniform_root(size2),
            proof=uniform_proof(size1, size2),
        )


class Bench:
    """A fresh deployment; every case runs inside evm_snapshot / evm_revert."""

    def __init__(self, url: str) -> None:
        self.w3 = Web3(Web3.HTTPProvider(url))
        admin = ChainClient(self.w3, dev_account(0), chain_id=31337, poll_interval_s=0.01)
        deployment = deploy_contract(admin, admin=admin.address)
        receipt = self.w3.eth.get_transaction_receipt(deployment.tx_hash)
        report("deploy", 1, gas=receipt["gasUsed"])
        self.admin = AnchorClient(admin, deployment.address)
        result = self.admin.grant_role("ANCHORER_ROLE", dev_account(1).address)
        report("grant_role", 1, gas=result.gas_used)
        self.admin.grant_role("ISSUER_ADMIN_ROLE", dev_account(2).address)
        self.log_signer = dev_account(4)
        self.admin.grant_role("LOG_SIGNER_ROLE", self.log_signer.address)
        self.address = deployment.address

    def client(self, index: int) -> AnchorClient:
        chain = ChainClient(self.w3, dev_account(index), chain_id=31337, poll_interval_s=0.01)
        return AnchorClient(chain, self.address)

    def _snapshot(self) -> str:
        return str(self.w3.provider.make_request("evm_snapshot", [])["result"])  # type: ignore[arg-type]

    def _revert(self, snapshot: str) -> None:
        self.w3.provider.make_request("evm_revert", [snapshot])  # type: ignore[arg-type]

    def authorise(self, client: AnchorClient, size: int) -> bytes:
        """The log signer's authorisation of the step from the chain's latest to `size`."""
        step = CheckpointStep.on_top_of(
            client.latest_checkpoint(),
            tree_size=size,
            log_root=uniform_root(size),
            map_root=MAP_ROOT,
        )
        return sign_step(self.log_signer, client.domain(), step).signature

    def anchor_gas(self, size1: int, size2: int) -> tuple[int, int, int]:
        """(gas of a first anchor at size1, of the next one at size2, proof length)."""
        snapshot = self._snapshot()
        try:
            anchorer = self.client(1)
            first = anchorer.anchor(
                tree_size=size1,
                log_root=uniform_root(size1),
                map_root=MAP_ROOT,
                proof=[],
                authorisation=self.authorise(anchorer, size1),
            )
            proof = uniform_proof(size1, size2)
            later = anchorer.anchor(
                tree_size=size2,
                log_root=uniform_root(size2),
                map_root=MAP_ROOT,
                proof=proof,
                authorisation=self.authorise(anchorer, size2),
            )
            return first.transaction.gas_used, later.transaction.gas_used, len(proof)
        finally:
            self._revert(snapshot)

    def issuer_keys(self) -> None:
        snapshot = self._snapshot()
        try:
            issuer_admin = self.client(2)
            key, registered = issuer_admin.register_issuer_key(
                issuer_id=hashlib.sha256(b"vn-quatest-3").digest(),
                public_key=hashlib.sha256(b"an Ed25519 public key").digest(),
            )
            report("register_issuer_key", 1, gas=registered.gas_used)
            _, revoked = issuer_admin.revoke_issuer_key(issuer_id=key.issuer_id, key_id=key.key_id)
            report("revoke_issuer_key", 1, gas=revoked.gas_used)
        finally:
            self._revert(snapshot)


def main() -> None:
    sizes = sizes_from_args(
        "Gas of the anchoring contract.", default=TREE_SIZES + EVENTS_PER_CHECKPOINT
    )
    self_check()
    with start_hardhat_node() as node:
        bench = Bench(node.url)
        bench.issuer_keys()
        for n in sorted({n for n in sizes if n in TREE_SIZES or n not in EVENTS_PER_CHECKPOINT}):
            previous = n - n // 10
            first, _, _ = bench.anchor_gas(n - 1, n)
            report("anchor_first", n, gas=first)
            _, later, proof_len = bench.anchor_gas(previous, n)
            report(
                "anchor_later",
                n,
                gas=later,
                from_size=previous,
                proof_len=proof_len,
                hashes=hash_count(previous, n),
            )
        for n in sorted({n for n in sizes if n in EVENTS_PER_CHECKPOINT or n not in TREE_SIZES}):
            _, gas, proof_len = bench.anchor_gas(BASE_LOG, BASE_LOG + n)
            report(
                "per_cert",
                n,
                gas=gas,
                gas_per_cert=round(gas / n, 2),
                base_log=BASE_LOG,
                proof_len=proof_len,
                hashes=hash_count(BASE_LOG, BASE_LOG + n),
                target=TARGET_GAS_PER_CERT if n == 10_000 else "-",
            )


if __name__ == "__main__":
    main()
