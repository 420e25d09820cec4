"""Status map (sparse Merkle tree): updates, proofs and verifications per second.

For each size n: load n keys through the batch path (`update_many`) and through n single
`update` calls (same keys, same root), then prove and verify a sample of keys.

Keys are `map_key("cert-<i>")` as in production; values are SHA-256 of the index (the value's
derivation, `status_leaf_value`, is canonical JSON and not what is measured here).
"""

import hashlib
import time

from _common import report, sizes_from_args

from registry.core.statusmap import MapProof, StatusMap, map_key, verify_map_proof

SAMPLE = 100_000  # proofs and verifications per size (at most n)


def main() -> None:
    for n in sizes_from_args(__doc__.splitlines()[0]):
        keys = [map_key(f"cert-{i}") for i in range(n)]
        values = [hashlib.sha256(i.to_bytes(8, "big")).digest() for i in range(n)]

        batch = StatusMap()
        start = time.perf_counter()
        batch.update_many(zip(keys, values, strict=True))
        seconds = time.perf_counter() - start
        report("map_update", n, path="batch", updates_per_s=n / seconds, total_s=seconds)

        single = StatusMap()
        update = single.update
        start = time.perf_counter()
        for key, value in zip(keys, values, strict=True):
            update(key=key, value=value)
        seconds = time.perf_counter() - start
        report("map_update", n, path="single", updates_per_s=n / seconds, total_s=seconds)
        if single.root_hash != batch.root_hash:
            raise SystemExit("batch and single updates disagree on the root")
        del batch

        sample = min(n, SAMPLE)
        step = n // sample
        picked = [(keys[i * step], values[i * step]) for i in range(sample)]
        prove = single.prove
        start = time.perf_counter()
        proofs: list[MapProof] = [prove(key) for key, _ in picked]
        seconds = time.perf_counter() - start
        mean_siblings = sum(len(p.siblings) for p in proofs) / sample
        mean_depth = sum(p.depth for p in proofs) / sample
        report(
            "map_prove",
            n,
            sample=sample,
            proofs_per_s=sample / seconds,
            mean_depth=mean_depth,
            mean_siblings=mean_siblings,
        )

        root = single.root_hash
        start = time.perf_counter()
        for (key, value), proof in zip(picked, proofs, strict=True):
            verify_map_proof(root_hash=root, key=key, value=value, proof=proof)
        seconds = time.perf_counter() - start
        report("map_verify", n, sample=sample, verifications_per_s=sample / seconds)


if __name__ == "__main__":
    main()
