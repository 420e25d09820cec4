"""Anchoring checkpoints on an EVM chain: contract build, deployment, the worker, the log signer
that authorises each anchor, chain reads.

Importing this package changes nothing in the interpreter. The chain libraries do (py_ecc, via
eth-account, raises the recursion limit): a process calls `anchoring.pyecc.contain_py_ecc()`
where it starts.
"""
