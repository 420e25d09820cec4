"""`registry.core` must stay pure: nothing in it may do I/O or pull in a library that does."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[3] / "registry" / "core"

# `nacl` (PyNaCl, libsodium): Ed25519 verification only (registry/core/ed25519.py), the largest
# cost of verifying a bundle: measured 53-55 µs per signature against 104-107 µs for OpenSSL
# through `cryptography` on the bench machine (docs/benchmarks.md, "Bundle verification and the
# compact form"). Like `cryptography`, a binding to a C library that does no I/O.
ALLOWED_THIRD_PARTY = {"cryptography", "nacl", "rfc8785"}
ALLOWED_FIRST_PARTY = {"registry.core", "registry.errors"}
# Standard-library modules that reach files, processes, sockets or clocks of other machines.
FORBIDDEN_STDLIB = {
    "asyncio",
    "ftplib",
    "glob",
    "http",
    "io",
    "logging",
    "multiprocessing",
    "os",
    "pathlib",
    "select",
    "selectors",
    "shutil",
    "smtplib",
    "socket",
    "socketserver",
    "sqlite3",
    "ssl",
    "subprocess",
    "tempfile",
    "threading",
    "urllib",
}
IO_LIBRARIES = [
    "sqlalchemy",
    "web3",
    "fastapi",
    "starlette",
    "httpx",
    "requests",
    "aiohttp",
    "psycopg",
    "psycopg2",
    "eth_account",
    "solcx",
    "uvicorn",
    "alembic",
]


def imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: relative imports hide where code comes from"
            assert node.module is not None
            names.append(node.module)
    return names


def allowed(module: str) -> bool:
    top = module.split(".", maxsplit=1)[0]
    if any(module == p or module.startswith(p + ".") for p in ALLOWED_FIRST_PARTY):
        return True
    if top in ALLOWED_THIRD_PARTY:
        return True
    return top in sys.stdlib_module_names and top not in FORBIDDEN_STDLIB


CORE_FILES = sorted(CORE.glob("*.py"))


def test_core_has_modules() -> None:
    assert len(CORE_FILES) >= 6


@pytest.mark.parametrize("path", CORE_FILES, ids=[p.name for p in CORE_FILES])
def test_core_imports_only_pure_modules(path: Path) -> None:
    bad = [m for m in imported_modules(path) if not allowed(m)]
    assert bad == [], f"{path.name} imports {bad}"


def test_importing_the_core_loads_no_io_library() -> None:
    modules = [f"registry.core.{p.stem}" for p in CORE_FILES if p.stem != "__init__"]
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    loaded = {name.split(".", maxsplit=1)[0] for name in json.loads(out)}
    assert loaded.isdisjoint(IO_LIBRARIES), sorted(loaded & set(IO_LIBRARIES))


def test_the_checker_catches_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "bad.py"
    sample.write_text("import sqlalchemy\nfrom web3 import Web3\nimport socket\nimport hashlib\n")
    assert [m for m in imported_modules(sample) if not allowed(m)] == [
        "sqlalchemy",
        "web3",
        "socket",
    ]
