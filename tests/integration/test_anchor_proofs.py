"""The on-chain RFC 9162 verifiers agree with the Python core (registry.core.proofs): on every
transparency-dev vector, and on random trees and random corruptions of their proofs."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anchoring.errors import InvalidArgumentError, InvalidConsistencyProof, TreeSizeNotGrowing
from tests.integration.chain_helpers import (
    MAP_ROOT,
    core_accepts_consistency,
    core_accepts_inclusion,
    log_tree,
)
from tests.integration.conftest import Chain, DeployedChain
from tests.rfc6962_vectors import load

INCLUSION = load("inclusion")
CONSISTENCY = load("consistency")
MAX_SIZE = 300
# One log for all the random cases: the root and proofs at any size up to MAX_SIZE come from it.
LOG = log_tree(MAX_SIZE)


def _fits_bytes32(case: dict[str, Any], keys: tuple[str, ...]) -> bool:
    return all(len(case[k]) == 32 for k in keys) and all(len(h) == 32 for h in case["proof"])


def _ids(cases: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [name for name, _ in cases]


CONSISTENCY_ON_CHAIN = [c for c in CONSISTENCY if _fits_bytes32(c[1], ("root1", "root2"))]
CONSISTENCY_OFF_CHAIN = [c for c in CONSISTENCY if not _fits_bytes32(c[1], ("root1", "root2"))]
INCLUSION_ON_CHAIN = [c for c in INCLUSION if _fits_bytes32(c[1], ("root", "leafHash"))]
INCLUSION_OFF_CHAIN = [c for c in INCLUSION if not _fits_bytes32(c[1], ("root", "leafHash"))]
ANCHORABLE = [(name, case) for name, case in CONSISTENCY_ON_CHAIN if case["size1"] > 0]


def test_vectors_split_as_expected() -> None:
    # Most vectors fit the contract's bytes32 parameters; the rest carry hashes of the wrong
    # length, which the client refuses before anything reaches the chain (tested below).
    assert len(CONSISTENCY_ON_CHAIN) > 60
    assert len(INCLUSION_ON_CHAIN) > 60
    assert len(CONSISTENCY_ON_CHAIN) + len(CONSISTENCY_OFF_CHAIN) == len(CONSISTENCY)
    assert any(not case["wantErr"] for _, case in ANCHORABLE)


class TestConsistencyVectors:
    @pytest.mark.parametrize(("name", "case"), CONSISTENCY_ON_CHAIN, ids=_ids(CONSISTENCY_ON_CHAIN))
    def test_view_agrees_with_vector_and_core(
        self, deployed_chain: DeployedChain, name: str, case: dict[str, Any]
    ) -> None:
        args = {k: case[k] for k in ("size1", "size2", "root1", "root2", "proof")}
        contract = deployed_chain.reader.verify_consistency(**args)
        assert contract is (not case["wantErr"])
        assert contract is core_accepts_consistency(**args)

    @pytest.mark.parametrize(("name", "case"), ANCHORABLE, ids=_ids(ANCHORABLE))
    def test_anchor_agrees_with_vector(self, chain: Chain, name: str, case: dict[str, Any]) -> None:
        # The contract holds (size1, root1) as its latest checkpoint, then is offered the rest.
        chain.anchorer.anchor(
            tree_size=case["size1"], log_root=case["root1"], map_root=MAP_ROOT, proof=[]
        )
        accepted = not case["wantErr"] and case["size2"] > case["size1"]
        extend = {
            "tree_size": case["size2"],
            "log_root": case["root2"],
            "map_root": MAP_ROOT,
            "proof": case["proof"],
        }
        if accepted:
            assert chain.anchorer.anchor(**extend).checkpoint.tree_size == case["size2"]
        elif case["size2"] <= case["size1"]:
            with pytest.raises(TreeSizeNotGrowing):
                chain.anchorer.anchor(**extend)
        else:
            with pytest.raises(InvalidConsistencyProof):
                chain.anchorer.anchor(**extend)

    @pytest.mark.parametrize(
        ("name", "case"), CONSISTENCY_OFF_CHAIN, ids=_ids(CONSISTENCY_OFF_CHAIN)
    )
    def test_hashes_of_the_wrong_length_never_reach_the_chain(
        self, deployed_chain: DeployedChain, name: str, case: dict[str, Any]
    ) -> None:
        with pytest.raises(InvalidArgumentError):
            deployed_chain.reader.verify_consistency(
                **{k: case[k] for k in ("size1", "size2", "root1", "root2", "proof")}
            )


def test_first_checkpoint_rule_on_the_size_zero_vectors(chain: Chain) -> None:
    # RFC 9162 defines no proof from the empty tree and the core refuses one (the vectors with
    # size1 0 all want an error); the contract's first checkpoint extends the empty log with
    # an empty proof instead — accepted for any size > 0, refused with any proof.
    sized = [case for _, case in CONSISTENCY_ON_CHAIN if case["size1"] == 0]
    assert sized
    for case in sized:
        assert case["wantErr"]
        snapshot = chain.rpc("evm_snapshot")
        attempt = {
            "tree_size": case["size2"],
            "log_root": case["root2"],
            "map_root": MAP_ROOT,
            "proof": case["proof"],
        }
        if case["size2"] == 0:
            with pytest.raises(TreeSizeNotGrowing):
                chain.anchorer.anchor(**attempt)
        elif case["proof"]:
            with pytest.raises(InvalidConsistencyProof):
                chain.anchorer.anchor(**attempt)
        else:
            assert chain.anchorer.anchor(**attempt).checkpoint.index == 0
        chain.rpc("evm_revert", [snapshot])
        chain.anchorer.chain.forget_nonce()


class TestInclusionVectors:
    @pytest.mark.parametrize(("name", "case"), INCLUSION_ON_CHAIN, ids=_ids(INCLUSION_ON_CHAIN))
    def test_view_agrees_with_vector_and_core(
        self, deployed_chain: DeployedChain, name: str, case: dict[str, Any]
    ) -> None:
        args = {
            "leaf_index": case["leafIdx"],
            "tree_size": case["treeSize"],
            "leaf_hash": case["leafHash"],
            "proof": case["proof"],
            "root": case["root"],
        }
        contract = deployed_chain.reader.verify_inclusion(**args)
        assert contract is (not case["wantErr"])
        assert contract is core_accepts_inclusion(**args)

    @pytest.mark.parametrize(("name", "case"), INCLUSION_OFF_CHAIN, ids=_ids(INCLUSION_OFF_CHAIN))
    def test_hashes_of_the_wrong_length_never_reach_the_chain(
        self, deployed_chain: DeployedChain, name: str, case: dict[str, Any]
    ) -> None:
        assert case["wantErr"]
        with pytest.raises(InvalidArgumentError):
            deployed_chain.reader.verify_inclusion(
                leaf_index=case["leafIdx"],
                tree_size=case["treeSize"],
                leaf_hash=case["leafHash"],
                proof=case["proof"],
                root=case["root"],
            )


# -- random trees ------------------------------------------------------------------------------

sizes = st.integers(min_value=1, max_value=MAX_SIZE)


@st.composite
def consistency_cases(draw: st.DrawFn) -> dict[str, Any]:
    """A correct proof between two sizes of LOG, then maybe one corruption of it."""
    size2 = draw(sizes)
    size1 = draw(st.integers(min_value=1, max_value=size2))
    case: dict[str, Any] = {
        "size1": size1,
        "size2": size2,
        "root1": LOG.root_hash(size1),
        "root2": LOG.root_hash(size2),
        "proof": LOG.consistency_proof(size1=size1, size2=size2),
    }
    corruption = draw(
        st.sampled_from(
            ["none", "flip", "drop", "append", "swap", "size1", "size2", "root1", "root2"]
        )
    )
    proof = list(case["proof"])
    if corruption == "flip" and proof:
        i = draw(st.integers(0, len(proof) - 1))
        bit = draw(st.integers(0, 255))
        proof[i] = (int.from_bytes(proof[i], "big") ^ (1 << bit)).to_bytes(32, "big")
    elif corruption == "drop" and proof:
        del proof[draw(st.integers(0, len(proof) - 1))]
    elif corruption == "append":
        proof.append(draw(st.sampled_from([case["root1"], case["root2"], bytes(32)])))
    elif corruption == "swap" and len(proof) > 1:
        proof[0], proof[-1] = proof[-1], proof[0]
    elif corruption in {"size1", "size2"}:
        case[corruption] = draw(st.integers(min_value=0, max_value=2 * MAX_SIZE))
    elif corruption in {"root1", "root2"}:
        case[corruption] = LOG.root_hash(draw(sizes))
    case["proof"] = proof
    return case


@st.composite
def inclusion_cases(draw: st.DrawFn) -> dict[str, Any]:
    """A correct inclusion proof in LOG, then maybe one corruption of it."""
    size = draw(sizes)
    index = draw(st.integers(min_value=0, max_value=size - 1))
    case: dict[str, Any] = {
        "leaf_index": index,
        "tree_size": size,
        "leaf_hash": LOG.leaf_hash(index),
        "proof": LOG.inclusion_proof(leaf_index=index, tree_size=size),
        "root": LOG.root_hash(size),
    }
    corruption = draw(st.sampled_from(["none", "flip", "drop", "append", "index", "size", "leaf"]))
    if corruption == "flip" and case["proof"]:
        i = draw(st.integers(0, len(case["proof"]) - 1))
        case["proof"][i] = bytes([case["proof"][i][0] ^ 1]) + case["proof"][i][1:]
    elif corruption == "drop" and case["proof"]:
        case["proof"].pop()
    elif corruption == "append":
        case["proof"].append(case["root"])
    elif corruption == "index":
        case["leaf_index"] = draw(st.integers(min_value=0, max_value=2 * MAX_SIZE))
    elif corruption == "size":
        case["tree_size"] = draw(st.integers(min_value=0, max_value=2 * MAX_SIZE))
    elif corruption == "leaf":
        case["leaf_hash"] = LOG.leaf_hash(draw(st.integers(0, MAX_SIZE - 1)))
    return case


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=consistency_cases())
def test_random_consistency_agrees_with_core(
    deployed_chain: DeployedChain, case: dict[str, Any]
) -> None:
    contract = deployed_chain.reader.verify_consistency(**case)
    assert contract is core_accepts_consistency(**case)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=inclusion_cases())
def test_random_inclusion_agrees_with_core(
    deployed_chain: DeployedChain, case: dict[str, Any]
) -> None:
    contract = deployed_chain.reader.verify_inclusion(**case)
    assert contract is core_accepts_inclusion(**case)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=6))
def test_random_anchor_sequences(deployed_chain: DeployedChain, steps: list[int]) -> None:
    """Growing the log by random steps, each anchor with the core's proof is accepted, and the
    stored checkpoints are exactly the log's roots."""
    snapshot = deployed_chain.rpc("evm_snapshot")
    try:
        client = deployed_chain.client(deployed_chain.accounts.anchorer)
        previous = 0
        for step in steps:
            size = min(previous + step, MAX_SIZE)
            if size == previous:
                break
            proof = LOG.consistency_proof(size1=previous, size2=size) if previous else []
            client.anchor(
                tree_size=size, log_root=LOG.root_hash(size), map_root=MAP_ROOT, proof=proof
            )
            previous = size
        stored = client.checkpoints()
        assert all(c.log_root == LOG.root_hash(c.tree_size) for c in stored)
        assert [c.tree_size for c in stored] == sorted({c.tree_size for c in stored})
    finally:
        assert deployed_chain.rpc("evm_revert", [snapshot]) is True
