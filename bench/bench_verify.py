"""Bundle verification in process, with the chain's answers read beforehand: the verifier's own
cost per bundle; and the size of a bundle, JSON and compact (CBOR), as the registry grows.

    python bench/bench_verify.py                    # 2,000 bundles of a 10k log; sizes at 100k, 1M
    python bench/bench_verify.py --n 5000           # verification only, 5,000 bundles
    python bench/bench_verify.py --leaves 10000000  # sizes only, at 10M (2 minutes, 11 GB)

Verification: bundles are built in memory with the core (tests/bundles.py: real records,
signed events, RFC 6962 and status-map proofs, one signed checkpoint), then each is verified
once per pass with `registry.core.verify.verify_bundle` against chain facts fetched beforehand
from the in-memory chain (so every check runs and the verdict is VALID or EXPIRED, as against a
real node). Each case runs several passes and reports the best and the median: the bench
machine is shared, and the best pass is the one least disturbed by other work. Also reported:
one Ed25519 verification alone, through libsodium (PyNaCl, what the core uses) and through
OpenSSL (`cryptography`), the floor under every bundle (one issuer signature each; the
checkpoint note is shared and verified once).

Sizes: a world of n log leaves and n status-map leaves (`World.fill`: random hashes standing
for other certificates, so that both proofs have the depth they have in a registry of n
certificates) with 100 real certificates spread through the log; the bundles of those 100,
as compact JSON (what the API sends), gzip-compressed JSON (what it sends to clients that
ask), the compact form (docs/spec.md §8.3) and that compressed. `bundle_parts` splits the
compact form by member (key and value as encoded); `bundle_size_extrapolated` extends the two
largest sizes measured to 10M along log2(n) (each proof grows by one hash per doubling).
"""

import argparse
import gzip
import json
import math
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import report

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cbor2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nacl.bindings import crypto_sign_open

from registry.compact import LABELS, compact_value, encode_bundle
from registry.core.verify import VerdictStatus, verify_bundle
from registry.samples import load_samples
from tests.bundles import TODAY, World

LOG_SIZE = 10_000
PASSES = 7


def passes(fn: Callable[[], object], rounds: int) -> tuple[float, float]:
    """(best, median) seconds per round over `PASSES` passes of `rounds` rounds."""
    times = []
    for _ in range(PASSES):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) / rounds)
    return min(times), statistics.median(times)


def bench(n: int) -> None:
    world = World()
    samples = load_samples()["certificates"]
    ids = []
    for i in range(max(n, LOG_SIZE)):
        sample = samples[i % len(samples)]
        ids.append(world.issue(sample, number=f"{sample['number']}-{i}"))
    world.checkpoint()
    bundles = [world.bundle(cid) for cid in ids[:n]]
    size = sum(len(str(b)) for b in bundles) // n
    trust = world.trust
    facts = [world.facts_for(b) for b in bundles]
    verify_bundle(bundles[0], trust=trust, chain=facts[0], today=TODAY)  # warm the note cache

    def verify_all() -> None:
        for bundle, chain in zip(bundles, facts, strict=True):
            verdict = verify_bundle(bundle, trust=trust, chain=chain, today=TODAY)
            assert verdict.status in (VerdictStatus.VALID, VerdictStatus.EXPIRED), verdict

    best, median = passes(verify_all, n)
    report(
        "verify_bundle",
        n,
        verifications_per_s=1 / best,
        microseconds=best * 1e6,
        median_microseconds=median * 1e6,
        passes=PASSES,
        log_size=world.log.tree_size,
        approx_bundle_chars=size,
    )

    key = Ed25519PrivateKey.generate()
    public = key.public_key()
    raw = public.public_bytes_raw()
    message = b"x" * 300
    signature = key.sign(message)
    rounds = 5000

    def openssl() -> None:
        for _ in range(rounds):
            public.verify(signature, message)

    def libsodium() -> None:
        for _ in range(rounds):
            crypto_sign_open(signature + message, raw)

    for case, fn in (("ed25519_verify_libsodium", libsodium), ("ed25519_verify_openssl", openssl)):
        best, median = passes(fn, rounds)
        report(case, rounds, microseconds=best * 1e6, median_microseconds=median * 1e6)


SIZE_CERTIFICATES = 100
TARGET_BYTES = 3_000  # the compact form at 10M certificates (issue 11, item 7)


def _json_bytes(bundle: dict[str, Any]) -> bytes:
    return json.dumps(bundle, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sizes(leaves: int) -> dict[str, float]:
    world = World()
    rng = random.Random(leaves)
    samples = load_samples()["certificates"]
    ids = []
    for i in range(SIZE_CERTIFICATES):
        world.fill((leaves - SIZE_CERTIFICATES) // SIZE_CERTIFICATES, rng)
        sample = samples[i % len(samples)]
        ids.append(world.issue(sample, number=f"{sample['number']}-{i}"))
    world.fill(leaves - world.log.tree_size, rng)
    world.checkpoint()
    bundles = [world.bundle(cid) for cid in ids]
    as_json = [_json_bytes(b) for b in bundles]
    compact = [encode_bundle(b) for b in bundles]

    def mean(values: list[int]) -> float:
        return sum(values) / len(values)

    figures = {
        "json_bytes": mean([len(j) for j in as_json]),
        "json_gzip_bytes": mean([len(gzip.compress(j, mtime=0)) for j in as_json]),
        "cbor_bytes": mean([len(c) for c in compact]),
        "cbor_gzip_bytes": mean([len(gzip.compress(c, mtime=0)) for c in compact]),
        "cbor_max_bytes": max(len(c) for c in compact),
        "log_hashes": mean([len(b["log_inclusion"]["hashes"]) for b in bundles]),
        "map_siblings": mean([len(b["status_proof"]["siblings"]) for b in bundles]),
    }
    report("bundle_size", leaves, certificates=SIZE_CERTIFICATES, target=TARGET_BYTES, **figures)
    # Each member's share of the compact form: its key and value as encoded in the whole
    # item (members left out because derivable count nothing; the version key is shared).
    items = [compact_value(b) for b in bundles]
    names: dict[object, str] = {label: name for name, label in LABELS.items()}
    parts = {
        names.get(key, str(key)): mean(
            [len(cbor2.dumps(key) + cbor2.dumps(item.get(key), canonical=True)) for item in items]
        )
        for key in sorted(items[0], key=str)
        if key not in ("format", 0)
    }
    report("bundle_parts", leaves, **{f"{k}_bytes": v for k, v in parts.items()})
    return figures


def extrapolate(measured: dict[int, dict[str, float]], to: int = 10_000_000) -> None:
    """The two largest sizes measured, extended along log2(n) to `to`."""
    (small, a), (large, b) = sorted(measured.items())[-2:]
    steps = math.log2(to / large) / math.log2(large / small)
    report(
        "bundle_size_extrapolated",
        to,
        source=f"{small},{large}",
        target=TARGET_BYTES,
        **{key: b[key] + (b[key] - a[key]) * steps for key in b if key != "cbor_max_bytes"},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, help="verify this many bundles (and measure no sizes)")
    parser.add_argument("--leaves", type=int, help="measure sizes at this many leaves only")
    args = parser.parse_args()
    if args.leaves is None:
        bench(args.n or 2_000)
    if args.n is None:
        measured = {n: sizes(n) for n in ([args.leaves] if args.leaves else [100_000, 1_000_000])}
        if len(measured) >= 2:
            extrapolate(measured)


if __name__ == "__main__":
    main()
