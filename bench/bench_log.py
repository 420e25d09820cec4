"""Log tree benchmarks: build, root, proofs and verifications from the in-memory tile store.

    python bench/bench_log.py            # n = 10k, 100k, 1M
    python bench/bench_log.py --n 50000  # one size

The build line also times 2n plain hashlib.sha256 calls on 64-byte inputs in the same run (the
hashes a tree of n leaves needs) and prints the ratio as ratio_to_hashlib.
"""

import hashlib
import os
import random
import time

from _common import report, sizes_from_args

from registry.core.log import LogTree
from registry.core.proofs import verify_consistency, verify_inclusion

PROOFS = 50_000
VERIFICATIONS = 20_000


def hashlib_baseline(count: int) -> float:
    inputs = [os.urandom(64) for _ in range(count)]
    sha = hashlib.sha256
    start = time.perf_counter()
    for data in inputs:
        sha(data).digest()
    return time.perf_counter() - start


def bench(n: int) -> None:
    rng = random.Random(n)
    # 64-byte entries make leaf inputs (0x00 ‖ entry) the size of node inputs (0x01 ‖ l ‖ r).
    entries = [os.urandom(64) for _ in range(n)]

    baseline = hashlib_baseline(2 * n)
    tree = LogTree()
    start = time.perf_counter()
    tree.append_many(entries)
    root = tree.root_hash()
    build = time.perf_counter() - start
    report(
        "log_build",
        n,
        seconds=build,
        leaves_per_s=n / build,
        hashlib_2n_seconds=baseline,
        ratio_to_hashlib=build / baseline,
    )

    batched = LogTree()
    batch = 1000
    start = time.perf_counter()
    for lo in range(0, n, batch):
        batched.append_many(entries[lo : lo + batch])
        batched.root_hash()
    elapsed = time.perf_counter() - start
    assert batched.root_hash() == root
    report("log_append_batches_of_1000_with_root", n, seconds=elapsed, leaves_per_s=n / elapsed)

    count = min(n, 20_000)
    single = LogTree()
    start = time.perf_counter()
    for entry in entries[:count]:
        single.append(entry)
    elapsed = time.perf_counter() - start
    report("log_append_one_by_one", count, appends_per_s=count / elapsed)

    start = time.perf_counter()
    for _ in range(1000):
        tree.root_hash()
    report("log_root", n, microseconds=(time.perf_counter() - start) * 1000)

    indices = [rng.randrange(n) for _ in range(PROOFS)]
    start = time.perf_counter()
    proofs = [tree.inclusion_proof(leaf_index=i) for i in indices]
    elapsed = time.perf_counter() - start
    report("log_inclusion_proof", n, proofs_per_s=PROOFS / elapsed)

    sizes = [rng.randrange(1, n) for _ in range(PROOFS)]
    start = time.perf_counter()
    consistency = [tree.consistency_proof(size1=s) for s in sizes]
    elapsed = time.perf_counter() - start
    report("log_consistency_proof", n, proofs_per_s=PROOFS / elapsed)

    leaves = [tree.leaf_hash(i) for i in indices[:VERIFICATIONS]]
    start = time.perf_counter()
    for i, leaf, proof in zip(indices, leaves, proofs, strict=False):
        verify_inclusion(leaf_index=i, tree_size=n, leaf_hash=leaf, proof=proof, root_hash=root)
    elapsed = time.perf_counter() - start
    report("log_inclusion_verify", n, verifications_per_s=VERIFICATIONS / elapsed)

    old_roots = [tree.root_hash(s) for s in sizes[:VERIFICATIONS]]
    start = time.perf_counter()
    for size1, old, proof in zip(sizes, old_roots, consistency, strict=False):
        verify_consistency(size1=size1, size2=n, root1=old, root2=root, proof=proof)
    elapsed = time.perf_counter() - start
    report("log_consistency_verify", n, verifications_per_s=VERIFICATIONS / elapsed)


def main() -> None:
    for n in sizes_from_args(__doc__ or ""):
        bench(n)


if __name__ == "__main__":
    main()
