"""Anchoring checkpoints on an EVM chain: contract build, deployment, the worker, chain reads."""

import sys as _sys
from typing import Final as _Final

# eth-account imports eth-keyfile, which imports py_ecc, which raises the interpreter's recursion
# limit to 100,000 at import time (for BLS code we never run). With that limit a deeply nested
# JSON document makes json.loads recurse until the C stack overflows: the process dies with a
# segmentation fault instead of raising RecursionError, so one request could kill the API.
# Import it here, first, and undo the change — also when something imported it before us.
_PY_ECC_LIMIT: _Final = 100_000
_PYTHON_DEFAULT_LIMIT: _Final = 1_000
_limit_before = _sys.getrecursionlimit()

import eth_account as _eth_account  # noqa: E402

if _sys.getrecursionlimit() >= _PY_ECC_LIMIT:
    _sys.setrecursionlimit(
        _limit_before if _limit_before < _PY_ECC_LIMIT else _PYTHON_DEFAULT_LIMIT
    )
del _eth_account
