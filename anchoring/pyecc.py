"""py_ecc's recursion limit, undone once where a process starts.

eth-account imports eth-keyfile, which imports py_ecc, whose `__init__` raises the interpreter's
recursion limit to 100,000 (for BLS code we never run). With that limit a deeply nested JSON
document makes `json.loads` recurse until the C stack overflows: the process dies with a
segmentation fault instead of raising RecursionError, so one request could kill the API.

py_ecc does this once, when it is first imported. `contain_py_ecc` imports it (cheaply: its
curves load lazily) and puts the limit back, so a chain library imported later changes nothing.
Each entry point calls it before it reads untrusted input: the `certreg` command
(`api.cli`), the API factory (`api.app.create_app`) and the test suite (`tests/conftest.py`).
A program that uses `anchoring` or `verifier` as a library calls it itself.
"""

import sys
from typing import Final

__all__ = ["PYTHON_DEFAULT_LIMIT", "PY_ECC_LIMIT", "contain_py_ecc"]

PY_ECC_LIMIT: Final = 100_000
PYTHON_DEFAULT_LIMIT: Final = 1_000


def contain_py_ecc() -> None:
    """Load py_ecc now and undo its recursion limit (also when it was loaded before)."""
    before = sys.getrecursionlimit()
    try:
        # The import is the point: it runs py_ecc's __init__ now, if it has not run yet.
        import py_ecc  # noqa: F401, PLC0415
    except ModuleNotFoundError:  # a later eth-keyfile without py_ecc: nothing to undo
        return

    if sys.getrecursionlimit() >= PY_ECC_LIMIT:
        sys.setrecursionlimit(before if before < PY_ECC_LIMIT else PYTHON_DEFAULT_LIMIT)
