"""The HTTP API under load: `certreg serve` with 2 uvicorn workers, wrk on the same machine.

    python bench/bench_api.py              # a registry of 100k certificates
    python bench/bench_api.py --n 1000000  # the 1M figure (setup takes a few minutes)

Builds a registry in a temporary folder (SQLite) anchored on a Hardhat node it starts, then
loads the server with wrk (Debian package `wrk`) and prints, per case, requests/s and the p50
and p99 latency: `get_proof` (random certificates) and `post_verify` (one anchored bundle, the
server's chain reads included), each at 8 and 32 connections; `post_batch` (issuance, 100
certificates a request); `issue_under_reads`, the latency of one issuing connection alone and
under 200 proof reads a second. Also the size of a bundle in bytes, raw and gzip-compressed (the API
compresses responses on request). The server's settings come from the environment too, e.g.
`CERTREG_REQUEST_THREADS=4 python bench/bench_api.py`.
"""

import gzip
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from _common import report, sizes_from_args

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx2  # noqa: E402
from web3 import Web3  # noqa: E402

from anchoring.client import AnchorClient, ChainClient  # noqa: E402
from anchoring.deploy import deploy_contract  # noqa: E402
from anchoring.devnode import dev_account, free_port, start_hardhat_node  # noqa: E402
from api.stack import Stack  # noqa: E402
from registry.records import CertificateSubmission  # noqa: E402
from registry.samples import admit_sample_issuer, load_samples  # noqa: E402

DURATION_S = 10
BATCH = 1000

PROOF_LUA = """
local ids = {}
for line in io.lines("%(ids)s") do ids[#ids + 1] = line end
local seeded = false
request = function()
  if not seeded then
    math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
    seeded = true
  end
  return wrk.format("GET", "/v1/certificates/" .. ids[math.random(#ids)] .. "/proof")
end
"""

BATCH_LUA = """
local template = %(template)s
local counter = 0
local tag = nil
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(key)s"
request = function()
  if tag == nil then tag = tostring(math.random(1, 1000000000)) .. tostring(os.time()) end
  counter = counter + 1
  local items = {}
  for i = 1, 100 do items[i] = string.format(template, tag, counter, i) end
  return wrk.format(nil, "/v1/certificates/batch", nil,
    '{"certificates":[' .. table.concat(items, ",") .. ']}')
end
"""

VERIFY_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = io.open("%(body)s"):read("*a")
"""


def wrk(
    url: str, script: Path, *, connections: int, duration_s: int = DURATION_S
) -> dict[str, float]:
    out = subprocess.run(
        # A 10 s timeout, not wrk's 2 s: a slow answer is measured, not dropped from the latencies.
        [
            *("wrk", "-t1", f"-c{connections}", f"-d{duration_s}s", "--timeout", "10s"),
            *("--latency", "-s", str(script), url),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    def latency(pct: str) -> float:
        match = re.search(rf"^\s*{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        assert match, out
        value, unit = float(match.group(1)), match.group(2)
        return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if os.environ.get("BENCH_DEBUG"):
        print(out, file=sys.stderr)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    # Connect, read, write errors and timeouts (a request unanswered for 10 s): none succeeded.
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    assert rate, out
    return {
        "connections": connections,
        "requests_per_s": float(rate.group(1)),
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
        "non_2xx": float(errors.group(1)) if errors else 0.0,
        "socket_errors": sum(int(g) for g in socket.groups()) if socket else 0,
    }


@contextmanager
def paced_reads(base: str, ids: list[str], *, rate: float) -> Iterator[Callable[[], int]]:
    """GET random proofs at `rate` per second (four threads, each paced) until the block ends;
    yields a function that tells how many were answered."""
    stop = threading.Event()
    answered = [0] * 4

    def run(slot: int) -> None:
        rng = random.Random(slot)
        interval = 4 / rate
        with httpx2.Client(base_url=base, timeout=10) as client:
            due = time.monotonic()
            while not stop.is_set():
                client.get(f"/v1/certificates/{rng.choice(ids)}/proof").raise_for_status()
                answered[slot] += 1
                due += interval
                stop.wait(max(0.0, due - time.monotonic()))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)] if rate else []
    for thread in threads:
        thread.start()
    try:
        yield lambda: sum(answered)
    finally:
        stop.set()
        for thread in threads:
            thread.join()


def build(n: int) -> tuple[str, list[str]]:
    stack = Stack()
    issuer = load_samples()["issuers"][0]
    created = admit_sample_issuer(stack.service, issuer["id"])
    samples = [
        {k: v for k, v in c.items() if k != "issuer_id"}
        for c in load_samples()["certificates"]
        if c["kind"] in issuer["kinds"]
    ]
    ids: list[str] = []
    start = time.perf_counter()
    for lo in range(0, n, BATCH):
        batch = [
            CertificateSubmission.model_validate(
                {
                    **samples[i % len(samples)],
                    "number": f"BENCH-{i:08d}",
                    "valid_until": "2030-01-01",
                }
            )
            for i in range(lo, min(n, lo + BATCH))
        ]
        ids += [r.certificate.id for r in stack.service.issue_batch(issuer["id"], batch)]
    issued = time.perf_counter() - start
    stack.worker.run_until_idle(timeout_s=3600)
    anchored = time.perf_counter() - start - issued
    report("setup", n, issue_seconds=issued, anchor_seconds=anchored)
    stack.close()
    return created.api_key, ids


def bench(n: int) -> None:
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    workdir = Path(tempfile.mkdtemp(prefix="certreg-bench-api-"))
    node = start_hardhat_node(chain_id=31337)
    server = None
    try:
        admin, anchorer = dev_account(0), dev_account(1)
        chain = ChainClient(Web3(Web3.HTTPProvider(node.url)), admin, chain_id=31337)
        deployment = deploy_contract(chain, admin=admin.address)
        AnchorClient(chain, deployment.address).grant_role("ANCHORER_ROLE", anchorer.address)
        AnchorClient(chain, deployment.address).grant_role("ISSUER_ADMIN_ROLE", admin.address)
        log_signer = dev_account(4)
        AnchorClient(chain, deployment.address).grant_role("LOG_SIGNER_ROLE", log_signer.address)
        env = {
            "CERTREG_DEV": "true",  # secrets generated in workdir, as `certreg dev` does
            "CERTREG_DATA_DIR": str(workdir),
            "CERTREG_RPC_URL": node.url,
            "CERTREG_CHAIN_ID": "31337",
            "CERTREG_CONTRACT_ADDRESS": deployment.address,
            "CERTREG_ANCHORER_KEY": "0x" + bytes(anchorer.key).hex(),
            "CERTREG_ISSUER_ADMIN_KEY": "0x" + bytes(admin.key).hex(),
            "CERTREG_LOG_SIGNER_KEY": "0x" + bytes(log_signer.key).hex(),  # in process: dev chain
            "CERTREG_CHECKPOINT_INTERVAL_S": "0",
            "CERTREG_CHECKPOINT_MAX_EVENTS": "1000000",
            "CERTREG_RATE_LIMIT_PER_S": "1000000",
            "CERTREG_RATE_LIMIT_BURST": "1000000",
            "CERTREG_PUBLIC_RATE_LIMIT_PER_S": "1000000",
            "CERTREG_PUBLIC_RATE_LIMIT_BURST": "1000000",
            "CERTREG_VERIFY_CHAIN_READS_PER_S": "1000000",
            "CERTREG_VERIFY_CHAIN_READS_BURST": "1000000",
        }
        os.environ.update(env)
        key, ids = build(n)
        sample = random.Random(1).sample(ids, min(len(ids), 20_000))
        (workdir / "ids.txt").write_text("\n".join(sample) + "\n")

        port = free_port()
        server = subprocess.Popen(
            [str(ROOT / ".venv/bin/certreg"), "serve", "--workers", "2", "--port", str(port)],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                if httpx2.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx2.HTTPError:
                time.sleep(0.1)
        bundle = httpx2.get(f"{base}/v1/certificates/{sample[0]}/proof").content
        report(
            "bundle_size",
            n,
            bytes=len(bundle),
            gzip_bytes=len(gzip.compress(bundle)),
            log_hashes=len(json.loads(bundle)["log_inclusion"]["hashes"]),
            map_siblings=len(json.loads(bundle)["status_proof"]["siblings"]),
        )

        (workdir / "proof.lua").write_text(PROOF_LUA % {"ids": workdir / "ids.txt"})
        # Throughput at a latency: 8 connections (the target's p99) and 32 (a queue behind them).
        # Not reported: a first pass loads each worker's caches (the anchored map, log tiles).
        wrk(base, workdir / "proof.lua", connections=8, duration_s=3)
        for connections in (8, 32):
            report("get_proof", n, **wrk(base, workdir / "proof.lua", connections=connections))

        (workdir / "bundle.json").write_text(json.dumps({"bundle": json.loads(bundle)}))
        (workdir / "verify.lua").write_text(VERIFY_LUA % {"body": workdir / "bundle.json"})
        wrk(base + "/v1/verify", workdir / "verify.lua", connections=8, duration_s=3)  # warm-up
        for connections in (8, 32):
            report(
                "post_verify",
                n,
                **wrk(base + "/v1/verify", workdir / "verify.lua", connections=connections),
            )

        template = json.dumps(
            {
                **{k: v for k, v in load_samples()["certificates"][0].items() if k != "issuer_id"},
                "number": "LOAD-%s-%d-%d",
                "valid_until": "2030-01-01",
            },
            ensure_ascii=False,
        )
        lua_template = "[==[" + template + "]==]"
        (workdir / "batch.lua").write_text(BATCH_LUA % {"template": lua_template, "key": key})
        result = wrk(base, workdir / "batch.lua", connections=4)
        report(
            "post_batch",
            n,
            certificates_per_s=result["requests_per_s"] * 100,
            **result,
        )
        # Issuance latency alone, then under 200 public reads a second (issue 12, item 3:
        # reads never take SQLite's write lock, so issuance should barely notice them).
        for reads_per_s in (0, 200):
            with paced_reads(base, sample, rate=reads_per_s) as done:
                result = wrk(base, workdir / "batch.lua", connections=1)
            report(
                "issue_under_reads",
                n,
                reads_per_s=reads_per_s,
                reads_done_per_s=round(done() / DURATION_S, 1),
                **result,
            )
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        node.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    for n in sizes_from_args(__doc__ or "", default=(100_000,)):
        bench(n)


if __name__ == "__main__":
    main()
