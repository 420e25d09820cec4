"""Anchoring checkpoints on an EVM chain: contract build, deployment, the worker, chain reads."""
