"""The contract build: py-solc-x driving npm solc through our wrapper, reproducibly.

One fresh build per session (~4 s) is compared byte for byte with the committed artifact: the
artifact was built earlier, in another process, so equality shows the build is reproducible from
the sources (and that nobody changed a contract without rebuilding).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from anchoring import compile as build_module
from anchoring.artifacts import ContractArtifact, artifact_path, load_artifact
from anchoring.compile import (
    EVM_VERSION,
    SOLC_VERSION,
    BuildPaths,
    build,
    collect_sources,
    compiler_input,
)
from anchoring.errors import CompileError

PATHS = BuildPaths()


@pytest.fixture(scope="module")
def fresh() -> ContractArtifact:
    return build()["CertregAnchor"]


def test_fresh_build_equals_the_committed_artifact(fresh: ContractArtifact) -> None:
    committed = artifact_path().read_text(encoding="utf-8")
    assert fresh.to_json() == committed, "stale artifact: run python -m anchoring.compile"


def test_artifact_records_what_built_it(fresh: ContractArtifact) -> None:
    assert fresh.compiler.version.startswith(SOLC_VERSION + "+commit.")
    assert fresh.compiler.evm_version == EVM_VERSION
    for name, digest in fresh.sources.items():
        text = PATHS.file_of(name).read_bytes()
        assert digest == "0x" + hashlib.sha256(text).hexdigest(), name
    assert "contracts/CertregAnchor.sol" in fresh.sources
    assert "@openzeppelin/contracts/access/AccessControl.sol" in fresh.sources
    # The CBOR metadata at the end of the runtime code names the compiler: 0.8.37.
    major, minor, patch = (int(p) for p in SOLC_VERSION.split("."))
    assert fresh.deployed_bytecode.endswith(f"64736f6c6343{major:02x}{minor:02x}{patch:02x}0033")


def test_input_hash_covers_sources_and_settings(fresh: ContractArtifact) -> None:
    sources = collect_sources(PATHS, ["contracts/CertregAnchor.sol"])
    data = compiler_input(sources, "contracts/CertregAnchor.sol")
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert fresh.input_sha256 == "0x" + hashlib.sha256(text.encode()).hexdigest()
    assert data["settings"]["evmVersion"] == "cancun"
    assert data["settings"]["optimizer"]["enabled"] is True


def test_check_mode(
    fresh: ContractArtifact, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(build_module, "build", lambda **_: {"CertregAnchor": fresh})
    assert build_module.main(["--out", str(tmp_path)]) == 0
    assert build_module.main(["--check", "--out", str(tmp_path)]) == 0
    stale = fresh.model_copy(update={"bytecode": "0x00"})
    artifact_path(directory=tmp_path).write_text(stale.to_json(), encoding="utf-8")
    assert build_module.main(["--check", "--out", str(tmp_path)]) == 1
    assert load_artifact(directory=tmp_path) == stale


def test_collects_imports_transitively() -> None:
    sources = collect_sources(PATHS, ["contracts/CertregAnchor.sol"])
    assert list(sources) == sorted(sources)
    assert {
        "contracts/ICertregAnchor.sol",
        "contracts/ICertregAnchorErrors.sol",
        "contracts/RFC6962.sol",
        "@openzeppelin/contracts/utils/introspection/ERC165.sol",
    } <= set(sources)


def test_wrapper_answers_version_like_native_solc() -> None:
    out = subprocess.run(
        [str(PATHS.solc_wrapper), "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert out.splitlines()[1].startswith(f"Version: {SOLC_VERSION}+commit.")


def test_wrapper_keeps_stdout_pure_json() -> None:
    data = {
        "language": "Solidity",
        "sources": {"a.sol": {"content": "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.0;"
                                         " contract A { function f() external {} }"}},
        "settings": {"outputSelection": {"*": {"*": ["abi"]}}},
    }  # fmt: skip
    out = subprocess.run(
        [str(PATHS.solc_wrapper), "--standard-json"],
        input=json.dumps(data),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert json.loads(out)["contracts"]["a.sol"]["A"]["abi"][0]["name"] == "f"


def test_wrapper_reads_no_files() -> None:
    data = {
        "language": "Solidity",
        "sources": {"a.sol": {"content": 'import "./b.sol";'}},
        "settings": {"outputSelection": {"*": {"*": ["abi"]}}},
    }
    out = subprocess.run(
        [str(PATHS.solc_wrapper), "--standard-json"],
        input=json.dumps(data),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    errors = json.loads(out)["errors"]
    assert any("not in the compiler input" in e["message"] for e in errors)


def test_wrapper_refuses_other_options() -> None:
    done = subprocess.run(
        [str(PATHS.solc_wrapper), "--bin", "x.sol"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 1
    assert done.stderr.startswith("unrecognised option '--bin'")


def _copy_tree(tmp_path: Path) -> BuildPaths:
    shutil.copytree(PATHS.contracts, tmp_path / "contracts")
    (tmp_path / "hardhat-node").mkdir()
    (tmp_path / "hardhat-node" / "node_modules").symlink_to(PATHS.node_modules)
    shutil.copy(PATHS.solc_wrapper, tmp_path / "hardhat-node" / "solc-wrapper.js")
    return BuildPaths(root=tmp_path)


def test_compile_errors_are_reported(tmp_path: Path) -> None:
    paths = _copy_tree(tmp_path)
    source = paths.contracts / "RFC6962.sol"
    source.write_text(source.read_text().replace("return false;", "return 0;", 1))
    with pytest.raises(CompileError, match="got errors"):
        build(paths)


def test_warnings_in_our_sources_fail_the_build(tmp_path: Path) -> None:
    paths = _copy_tree(tmp_path)
    source = paths.contracts / "RFC6962.sol"
    source.write_text(
        source.read_text().replace(
            "uint256 sn = treeSize - 1;", "uint256 sn = treeSize - 1; uint256 unused;", 1
        )
    )
    with pytest.raises(CompileError, match="got warnings"):
        build(paths)


def test_missing_import_is_reported(tmp_path: Path) -> None:
    paths = _copy_tree(tmp_path)
    (paths.contracts / "RFC6962.sol").unlink()
    with pytest.raises(CompileError, match=r"source contracts/RFC6962\.sol: got no file"):
        build(paths)
