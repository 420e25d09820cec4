"""The compromise drill (docs/deploy.md §2, "If the anchoring key is stolen"), on the real node:

1. the registry anchors as in production: the worker sends with the anchorer's key and asks
   `certreg log-signer` — another process, with its own key file in its own directory — for
   each checkpoint's authorisation;
2. a thief holds the anchorer's key: junk with no authorisation, with a forged one, and with
   real authorisations replayed (read from the chain's own transactions) is refused, and so is
   asking the log signer to sign junk; the chain does not move;
3. the authority revokes the stolen key's role and grants a new anchorer; the thief can no
   longer send at all;
4. the worker, with the new key, anchors what was issued meanwhile and after;
5. nothing is lost: every event anchored, every root on chain the registry's.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from anchoring.authorisation import CheckpointStep, sign_step
from anchoring.client import AnchorClient
from anchoring.devnode import free_port
from anchoring.errors import (
    AccessControlUnauthorizedAccount,
    ECDSAInvalidSignatureLength,
    UnauthorisedLogSigner,
)
from anchoring.logsigner import HttpAuthoriser
from registry.core.checkpoint import Checkpoint, sign_checkpoint
from registry.core.log import LogTree
from registry.core.note import NoteSigner
from registry.db.repositories import LogRepository
from tests.integration.anchoring.conftest import Stack
from tests.integration.anchoring.faults import wait_for
from tests.integration.anchoring.test_worker import assert_db_matches_chain, db_checkpoints
from tests.integration.chain_helpers import MAP_ROOT
from tests.integration.conftest import CHAIN_ID, Chain
from tests.integration.registry.conftest import admit, sample_submissions

ISSUER = "vn-cb-quatest3"
CERTREG = Path(sys.executable).with_name("certreg")


@contextmanager
def log_signer_process(chain: Chain, *, registry_vkey: str, home: Path) -> Iterator[str]:
    """`certreg log-signer` as its own process on 127.0.0.1, its key in a file of its own
    directory (`.env`, mode 0600) that no other process here reads; stopped on the way out."""
    home.mkdir(mode=0o700)
    key_file = home / ".env"
    key_file.write_text(
        f"CERTREG_LOG_SIGNER_KEY=0x{bytes(chain.accounts.log_signer.key).hex()}\n",
        encoding="utf-8",
    )
    key_file.chmod(0o600)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTREG_")} | {
        "CERTREG_RPC_URL": chain.node.url,
        "CERTREG_CHAIN_ID": str(CHAIN_ID),
        "CERTREG_CONTRACT_ADDRESS": chain.deployment.address,
        "CERTREG_REGISTRY_VKEY": registry_vkey,
    }
    url = f"http://127.0.0.1:{port}"
    with (home / "log-signer.log").open("wb") as log:
        process = subprocess.Popen(
            [str(CERTREG), "log-signer", "--host", "127.0.0.1", "--port", str(port)],
            cwd=home,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:

        def healthy() -> bool:
            assert process.poll() is None, (home / "log-signer.log").read_text()
            try:
                answer = requests.get(url + "/v1/health", timeout=2).json()
            except requests.RequestException:
                return False
            return bool(answer["holds_log_signer_role"])

        wait_for(healthy, timeout_s=60, what="the log signer's health")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def issue(stack: Stack, count: int, *, start: int) -> None:
    submissions = sample_submissions()
    for i in range(start, start + count):
        submission = submissions[i % len(submissions)]
        stack.service.issue(
            ISSUER, submission.model_copy(update={"number": f"{submission.number}-drill-{i}"})
        )


def log_size(stack: Stack) -> int:
    with stack.sessions() as session:
        return LogRepository(session).tree_size()


def recomputed_root(stack: Stack) -> bytes:
    """The log's root from its stored entries, computed afresh."""
    with stack.sessions() as session:
        repository = LogRepository(session)
        entries = repository.entries(0, repository.tree_size())
    tree = LogTree()
    tree.append_many(entries)
    return tree.root_hash()


def test_the_stolen_anchorer_key_drill(stack: Stack, tmp_path: Path) -> None:
    chain = stack.chain
    reader = chain.reader
    with log_signer_process(
        chain, registry_vkey=stack.signer.verifier().vkey, home=tmp_path / "log-signer"
    ) as signer_url:
        authoriser = HttpAuthoriser(signer_url)

        # 1. Business as usual: two checkpoints, each authorised by the other process.
        admit(stack.service)
        worker = stack.worker(authoriser_factory=lambda: authoriser)
        for start in (0, 4):
            issue(stack, 4, start=start)
            worker.run_until_idle()
        assert [c.tree_size for c in db_checkpoints(stack)] == [4, 8]
        assert_db_matches_chain(stack)

        # 2. The thief has the anchorer's key (nothing else: not the log signer's, not the
        # registry's checkpoint key). Meanwhile issuers keep issuing.
        thief = AnchorClient(chain.client(chain.accounts.anchorer).chain, chain.deployment.address)
        before = reader.checkpoint_count()
        latest = reader.latest_checkpoint()
        assert latest is not None
        issue(stack, 3, start=8)
        junk_root = hashlib.sha256(b"a log the registry never had").digest()

        def anchor_junk(authorisation: bytes) -> None:
            thief.anchor(
                tree_size=2**64 - 1,
                log_root=junk_root,
                map_root=MAP_ROOT,
                proof=[],
                authorisation=authorisation,
            )

        with pytest.raises(ECDSAInvalidSignatureLength):  # no authorisation
            anchor_junk(b"")
        forged = sign_step(
            chain.accounts.anchorer,
            thief.domain(),
            CheckpointStep.on_top_of(
                latest, tree_size=2**64 - 1, log_root=junk_root, map_root=MAP_ROOT
            ),
        )
        with pytest.raises(UnauthorisedLogSigner) as caught:  # signed with the stolen key
            anchor_junk(forged.signature)
        assert caught.value.signer == chain.accounts.anchorer.address

        # Real authorisations are public: they are in the anchors' calldata on chain.
        for row in db_checkpoints(stack):
            assert row.tx_hash is not None
            transaction = chain.w3.eth.get_transaction(row.tx_hash)  # type: ignore[arg-type]
            _, args = thief.contract.decode_function_input(transaction["input"])
            replayed = bytes(args["authorisation"])
            with pytest.raises(UnauthorisedLogSigner):  # the same checkpoint again
                thief.anchor(
                    tree_size=args["treeSize"],
                    log_root=bytes(args["logRoot"]),
                    map_root=bytes(args["mapRoot"]),
                    proof=[bytes(h) for h in args["consistencyProof"]],
                    authorisation=replayed,
                )
            with pytest.raises(UnauthorisedLogSigner):  # junk under a real signature
                anchor_junk(replayed)

        # The log signer signs only what the registry's key signed.
        thief_note_key = NoteSigner(
            name=stack.signer.name, private_key=Ed25519PrivateKey.generate()
        )
        junk_note = sign_checkpoint(
            Checkpoint(
                origin=stack.signer.name,
                tree_size=2**64 - 1,
                root_hash=junk_root,
                map_root=MAP_ROOT,
            ),
            thief_note_key,
        )
        refused = requests.post(
            signer_url + "/v1/authorise",
            json={"note": junk_note, "consistency_proof": []},
            timeout=10,
        )
        assert (refused.status_code, refused.json()["reason"]) == (409, "bad_note")
        assert reader.checkpoint_count() == before
        assert reader.latest_checkpoint() == latest

        # 3. The authority rotates the role: the stolen key out, a new anchorer in.
        chain.admin.revoke_role("ANCHORER_ROLE", chain.accounts.anchorer.address)
        chain.admin.grant_role("ANCHORER_ROLE", chain.accounts.spare.address)
        assert not reader.has_role("ANCHORER_ROLE", chain.accounts.anchorer.address)
        with pytest.raises(AccessControlUnauthorizedAccount):
            anchor_junk(forged.signature)

        # 4. The worker continues with the new key (and the same log signer).
        worker = stack.worker(
            client_factory=lambda: chain.client(chain.accounts.spare),
            authoriser_factory=lambda: authoriser,
        )
        worker.run_until_idle()
        issue(stack, 2, start=11)
        worker.run_until_idle()
        assert worker.foreign_checkpoints == 0

    # 5. Nothing lost: every event is anchored, every checkpoint on chain is the registry's, and
    # the chain's latest root is the one recomputed from the stored log.
    rows = db_checkpoints(stack)
    assert [c.tree_size for c in rows] == [4, 8, 11, 13]
    assert rows[-1].tree_size == log_size(stack)
    assert_db_matches_chain(stack)
    final = reader.latest_checkpoint()
    assert final is not None
    assert final.log_root == recomputed_root(stack)
    senders = {
        chain.w3.eth.get_transaction(row.tx_hash)["from"]  # type: ignore[arg-type]
        for row in rows
        if row.tx_hash is not None
    }
    assert senders == {chain.accounts.anchorer.address, chain.accounts.spare.address}
