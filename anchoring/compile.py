"""Build the contract with py-solc-x driving the npm `solc` package.

No native solc can be downloaded on our machines, so `compile_standard(..., solc_binary=...)`
runs `hardhat-node/solc-wrapper.js`, which answers `--version` like native solc and runs
`--standard-json` through solcjs with stdout kept pure JSON. Every source — ours and the
OpenZeppelin files they import — is read here and put in the compiler input, and the settings
are pinned (compiler version, evmVersion, optimizer), so the input alone determines the output
and the build is reproducible: `python -m anchoring.compile --check` rebuilds and compares with
the committed artifacts.

    python -m anchoring.compile           # rebuild anchoring/compiled/*.json
    python -m anchoring.compile --check   # exit 1 if the committed artifacts are stale
    python -m anchoring.compile --evm-version london --out build/london   # an older EVM
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import posixpath
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import solcx
import solcx.exceptions
import solcx.wrapper

from anchoring.artifacts import (
    ARTIFACT_DIR,
    CONTRACT_NAME,
    CompilerInfo,
    ContractArtifact,
    artifact_path,
)
from anchoring.errors import CompileError

__all__ = [
    "EVM_VERSION",
    "OPTIMIZER_RUNS",
    "SOLC_VERSION",
    "BuildPaths",
    "build",
    "collect_sources",
    "compiler_input",
    "main",
    "solc_version",
    "write_artifacts",
]

#: The npm `solc` version pinned in hardhat-node/package.json (and its lock file).
SOLC_VERSION: Final = "0.8.37"
#: Pinned because solc's default moves with its releases and the chain must support the opcodes.
#: Chains on an older EVM (GoQuorum: no PUSH0) get a build for theirs (`--evm-version`).
EVM_VERSION: Final = "cancun"
#: Tuned for calls, not deployment: the contract is deployed once and `anchor` runs forever.
OPTIMIZER_RUNS: Final = 10_000

_REPO_ROOT: Final = Path(__file__).resolve().parent.parent
_IMPORT = re.compile(r"""^\s*import\s+(?:[^"';]*\bfrom\s+)?["']([^"']+)["']""", re.MULTILINE)
_PACKAGE_PREFIXES: Final = ("@openzeppelin/",)


@dataclass(frozen=True, slots=True)
class BuildPaths:
    """Where the build reads from: the repository root (contracts/, hardhat-node/)."""

    root: Path = _REPO_ROOT

    @property
    def contracts(self) -> Path:
        return self.root / "contracts"

    @property
    def node_modules(self) -> Path:
        return self.root / "hardhat-node" / "node_modules"

    @property
    def solc_wrapper(self) -> Path:
        return self.root / "hardhat-node" / "solc-wrapper.js"

    def file_of(self, source_name: str) -> Path:
        """The file behind a source unit name (`contracts/...` or an npm package path)."""
        if source_name.startswith(_PACKAGE_PREFIXES):
            return self.node_modules / source_name
        return self.root / source_name


def _sha256_hex(data: bytes) -> str:
    return "0x" + hashlib.sha256(data).hexdigest()


def collect_sources(paths: BuildPaths, roots: list[str]) -> dict[str, str]:
    """Every source reachable from `roots` by imports, by source unit name, sorted.

    Relative imports resolve against the importing unit's name, as solc does; names starting
    with a package prefix (`@openzeppelin/`) come from hardhat-node/node_modules.
    """
    sources: dict[str, str] = {}
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name in sources:
            continue
        path = paths.file_of(name)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise CompileError(
                f"source {name}: got no file at {path}, want it there "
                "(run `make install` for the npm packages)"
            ) from exc
        sources[name] = text
        for target in _IMPORT.findall(text):
            relative = target.startswith(("./", "../"))
            base = posixpath.dirname(name)
            pending.append(posixpath.normpath(posixpath.join(base, target)) if relative else target)
    return dict(sorted(sources.items()))


def compiler_input(
    sources: Mapping[str, str], root: str, *, evm_version: str = EVM_VERSION
) -> dict[str, Any]:
    """The solc standard-JSON input for `sources`, with every setting that matters pinned.

    Output is asked for the contracts of `root` only (its imports need none).
    """
    return {
        "language": "Solidity",
        "sources": {name: {"content": text} for name, text in sorted(sources.items())},
        "settings": {
            "evmVersion": evm_version,
            "optimizer": {"enabled": True, "runs": OPTIMIZER_RUNS},
            "viaIR": False,
            # The metadata hash in the bytecode covers the sources; keep it, it is deterministic.
            "metadata": {"bytecodeHash": "ipfs"},
            "outputSelection": {
                root: {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}
            },
        },
    }


def solc_version(paths: BuildPaths) -> str:
    """The wrapper's compiler version with commit (e.g. `0.8.37+commit.f401782d`), checked."""
    if not paths.solc_wrapper.is_file() or not (paths.node_modules / "solc").is_dir():
        raise CompileError(
            f"solc: got no {paths.solc_wrapper} with node_modules/solc, "
            "want them (run `make install`)"
        )
    if not os.access(paths.solc_wrapper, os.X_OK):
        # py-solc-x runs the file itself, as it would a native binary.
        raise CompileError(f"{paths.solc_wrapper}: got a file that is not executable, want +x")
    version = str(solcx.wrapper.get_solc_version(paths.solc_wrapper, with_commit_hash=True))
    if version.split("+", 1)[0] != SOLC_VERSION:
        raise CompileError(f"solc version: got {version}, want {SOLC_VERSION} (package-lock.json)")
    return version


def build(
    paths: BuildPaths | None = None, *, evm_version: str = EVM_VERSION
) -> dict[str, ContractArtifact]:
    """Compile the contracts and return the artifact of each deployable one, by name."""
    paths = paths or BuildPaths()
    # The one deployable contract; interfaces, errors and the library come in by import.
    root = f"contracts/{CONTRACT_NAME}.sol"
    sources = collect_sources(paths, [root])
    version = solc_version(paths)
    data = compiler_input(sources, root, evm_version=evm_version)
    try:
        output = solcx.compile_standard(data, solc_binary=paths.solc_wrapper)
    except solcx.exceptions.SolcError as exc:
        raise CompileError(f"solc: got errors, want none:\n{exc}") from exc
    warnings = [
        err["formattedMessage"]
        for err in output.get("errors", [])
        if err.get("severity") == "warning"
        and err.get("sourceLocation", {}).get("file", "").startswith("contracts/")
    ]
    if warnings:
        raise CompileError("solc: got warnings in our sources, want none:\n" + "\n".join(warnings))
    input_sha256 = _sha256_hex(
        json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    )
    source_hashes = {name: _sha256_hex(text.encode("utf-8")) for name, text in sources.items()}
    compiler = CompilerInfo(version=version, evm_version=evm_version, optimizer_runs=OPTIMIZER_RUNS)
    contract = output.get("contracts", {}).get(root, {}).get(CONTRACT_NAME)
    if contract is None:
        raise CompileError(f"build: got no {CONTRACT_NAME} in {root}, want it compiled")
    artifact = ContractArtifact(
        contract_name=CONTRACT_NAME,
        source_name=root,
        compiler=compiler,
        sources=source_hashes,
        input_sha256=input_sha256,
        abi=contract["abi"],
        bytecode="0x" + contract["evm"]["bytecode"]["object"],
        deployed_bytecode="0x" + contract["evm"]["deployedBytecode"]["object"],
    )
    return {CONTRACT_NAME: artifact}


def write_artifacts(artifacts: Mapping[str, ContractArtifact], directory: Path) -> list[Path]:
    """Write each artifact as `<directory>/<name>.json`; return the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, artifact in sorted(artifacts.items()):
        path = artifact_path(name, directory)
        path.write_text(artifact.to_json(), encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    """Command line: rebuild the committed artifacts, or check that they are current."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    parser.add_argument("--out", type=Path, default=ARTIFACT_DIR, help="artifact folder")
    parser.add_argument(
        "--evm-version", default=EVM_VERSION, help="target EVM (e.g. london for GoQuorum)"
    )
    args = parser.parse_args(argv)
    if args.evm_version != EVM_VERSION and args.out == ARTIFACT_DIR:
        parser.error(f"--evm-version {args.evm_version} needs its own --out folder")
    artifacts = build(evm_version=args.evm_version)
    if not args.check:
        for path in write_artifacts(artifacts, args.out):
            print(path)
        return 0
    stale = [
        name
        for name, artifact in artifacts.items()
        if not artifact_path(name, args.out).is_file()
        or artifact_path(name, args.out).read_text(encoding="utf-8") != artifact.to_json()
    ]
    for name in stale:
        print(f"{artifact_path(name, args.out)}: stale, run python -m anchoring.compile")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
