"""The chain stack must not leave the interpreter open to a stack-overflow crash, and importing
our own packages must not touch the interpreter at all.

py_ecc (under eth-account) raises the recursion limit to 100,000 when first imported; with that
limit a deeply nested JSON document overflows the C stack. Each case runs in a child process:
a crash there would take this test run down with it.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

PROGRAM = """
import json, sys
{code}
try:
    json.loads("[" * 200_000)
except RecursionError:
    print("recursion error", sys.getrecursionlimit())
"""


def run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM.format(code=code)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-500:]
    return done.stdout.strip()


def test_without_containment_the_chain_libraries_crash_the_parser() -> None:
    # The premise: if py_ecc stopped raising the limit, the rest of this file would prove nothing.
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM.format(code="import eth_account")],
        capture_output=True,
        check=False,
        timeout=120,
    )
    assert done.returncode != 0 or done.stdout.strip() != b"recursion error 1000"


def test_importing_our_packages_changes_nothing() -> None:
    code = (
        "sys.setrecursionlimit(1234)\n"
        "import anchoring, registry, verifier, api\n"
        "assert sys.getrecursionlimit() == 1234, sys.getrecursionlimit()\n"
        "sys.setrecursionlimit(1000)"
    )
    assert run(code) == "recursion error 1000"


@pytest.mark.parametrize(
    "code",
    [
        # The chain stack imported first (py_ecc raises the limit), contained after.
        "import anchoring.client\nfrom anchoring.pyecc import contain_py_ecc\ncontain_py_ecc()",
        # Contained first: the chain libraries imported later cannot raise it again.
        "from anchoring.pyecc import contain_py_ecc\ncontain_py_ecc()\n"
        "import eth_account, web3, anchoring.client, verifier.chain",
        # The API factory contains it before its first request.
        "from api.app import create_app\ncreate_app()",
        # So does every `certreg` command.
        "from typer.testing import CliRunner\nfrom api.cli import app\n"
        "assert CliRunner().invoke(app, ['trust', 'list', '--json']).exit_code in (0, 2)\n"
        "import web3",
    ],
    ids=["after", "before", "api", "cli"],
)
def test_deep_json_raises_instead_of_crashing(code: str) -> None:
    assert run(code) == "recursion error 1000"
