"""Importing the chain stack must not leave the interpreter open to a stack-overflow crash."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROGRAM = """
import json, sys
{imports}
try:
    json.loads("[" * 200_000)
except RecursionError:
    print("recursion error", sys.getrecursionlimit())
"""


@pytest.mark.parametrize(
    "imports",
    [
        "import anchoring.client",
        # eth-account first (it brings py_ecc, which raises the limit), anchoring after.
        "import eth_account, web3\nimport anchoring",
    ],
)
def test_deep_json_raises_instead_of_crashing(imports: str) -> None:
    # In a child process: with py_ecc's limit of 100,000 the parser overflows the C stack and
    # the process dies with SIGSEGV, which would take this test run down with it.
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM.format(imports=imports)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-500:]
    assert done.stdout.strip() == "recursion error 1000"
