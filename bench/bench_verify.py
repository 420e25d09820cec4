"""Bundle verification in process, with the chain's answers read beforehand: the verifier's own
cost per bundle.

    python bench/bench_verify.py            # 2,000 distinct bundles from a log of 10k
    python bench/bench_verify.py --n 5000

Bundles are built in memory with the core (tests/bundles.py-style: real records, signed events,
RFC 6962 and status-map proofs, one signed checkpoint), then each is verified once with
`registry.core.verify.verify_bundle` against chain facts fetched beforehand from the in-memory
chain (so every check runs and the verdict is VALID or EXPIRED, as against a real node). Also
reported: the Ed25519 verification alone, the floor under every bundle (one issuer signature
each; the checkpoint note is shared and verified once).
"""

import sys
import time
from pathlib import Path

from _common import report, sizes_from_args

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from registry.core.verify import VerdictStatus, verify_bundle
from registry.samples import load_samples
from tests.bundles import TODAY, World

LOG_SIZE = 10_000


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

    start = time.perf_counter()
    for bundle, chain in zip(bundles, facts, strict=True):
        verdict = verify_bundle(bundle, trust=trust, chain=chain, today=TODAY)
        assert verdict.status in (VerdictStatus.VALID, VerdictStatus.EXPIRED), verdict.to_json()
    elapsed = time.perf_counter() - start
    report(
        "verify_bundle",
        n,
        verifications_per_s=n / elapsed,
        microseconds=elapsed / n * 1e6,
        log_size=world.log.tree_size,
        approx_bundle_chars=size,
    )

    key = Ed25519PrivateKey.generate()
    public = key.public_key()
    message = b"x" * 300
    signature = key.sign(message)
    rounds = 5000
    start = time.perf_counter()
    for _ in range(rounds):
        public.verify(signature, message)
    elapsed = time.perf_counter() - start
    report("ed25519_verify_only", rounds, microseconds=elapsed / rounds * 1e6)


def main() -> None:
    for n in sizes_from_args(__doc__ or "", default=(2_000,)):
        bench(n)


if __name__ == "__main__":
    main()
