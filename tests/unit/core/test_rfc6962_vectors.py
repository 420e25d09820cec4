"""The RFC 6962 known-answer and must-fail vectors of transparency-dev/merkle."""

from typing import Any

import pytest

from registry.core.errors import ProofError
from registry.core.log import LogTree
from registry.core.proofs import verify_consistency, verify_inclusion
from tests.rfc6962_vectors import RFC6962_LEAVES, load

INCLUSION = load("inclusion")
CONSISTENCY = load("consistency")


def test_vectors_are_present() -> None:
    assert len(INCLUSION) > 80
    assert len(CONSISTENCY) > 80
    assert any(not case["wantErr"] for _, case in INCLUSION)
    assert any(not case["wantErr"] for _, case in CONSISTENCY)


@pytest.mark.parametrize(("name", "case"), INCLUSION, ids=[name for name, _ in INCLUSION])
def test_inclusion(name: str, case: dict[str, Any]) -> None:
    def check() -> None:
        verify_inclusion(
            leaf_index=case["leafIdx"],
            tree_size=case["treeSize"],
            leaf_hash=case["leafHash"],
            proof=case["proof"],
            root_hash=case["root"],
        )

    if case["wantErr"]:
        with pytest.raises(ProofError):
            check()
    else:
        check()


@pytest.mark.parametrize(("name", "case"), CONSISTENCY, ids=[name for name, _ in CONSISTENCY])
def test_consistency(name: str, case: dict[str, Any]) -> None:
    def check() -> None:
        verify_consistency(
            size1=case["size1"],
            size2=case["size2"],
            root1=case["root1"],
            root2=case["root2"],
            proof=case["proof"],
        )

    if case["wantErr"]:
        with pytest.raises(ProofError):
            check()
    else:
        check()


def _rfc_tree() -> LogTree:
    tree = LogTree()
    tree.append_many(RFC6962_LEAVES)
    return tree


HAPPY_INCLUSION = [
    (name, case)
    for name, case in INCLUSION
    if not case["wantErr"] and case["treeSize"] <= 8 and case["proof"]
]
HAPPY_CONSISTENCY = [
    (name, case)
    for name, case in CONSISTENCY
    if not case["wantErr"] and 0 < case["size1"] < case["size2"] <= 8
]


@pytest.mark.parametrize(("name", "case"), HAPPY_INCLUSION, ids=[n for n, _ in HAPPY_INCLUSION])
def test_tree_builds_the_vector_inclusion_proofs(name: str, case: dict[str, Any]) -> None:
    tree = _rfc_tree()
    assert tree.root_hash(case["treeSize"]) == case["root"]
    assert tree.leaf_hash(case["leafIdx"]) == case["leafHash"]
    assert (
        tree.inclusion_proof(leaf_index=case["leafIdx"], tree_size=case["treeSize"])
        == case["proof"]
    )


@pytest.mark.parametrize(("name", "case"), HAPPY_CONSISTENCY, ids=[n for n, _ in HAPPY_CONSISTENCY])
def test_tree_builds_the_vector_consistency_proofs(name: str, case: dict[str, Any]) -> None:
    tree = _rfc_tree()
    assert tree.root_hash(case["size1"]) == case["root1"]
    assert tree.root_hash(case["size2"]) == case["root2"]
    assert tree.consistency_proof(size1=case["size1"], size2=case["size2"]) == case["proof"]


def test_happy_paths_exercise_the_tree() -> None:
    assert len(HAPPY_INCLUSION) >= 4
    assert len(HAPPY_CONSISTENCY) >= 4
