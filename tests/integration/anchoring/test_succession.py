"""Moving to a successor contract (docs/spec.md §7.7), on the real node: the worker goes on
anchoring on the successor from the last checkpoint it anchored on the old one, with the same
indexes; issuer keys carry over; verifiers pinned to either contract follow the line; a
contract that is not on it is refused."""

from __future__ import annotations

from typing import Any

from anchoring.client import AnchorClient
from anchoring.deploy import deploy_contract
from anchoring.logsigner import LogSigner
from anchoring.succession import line_from, line_through
from registry.assembly import AnchorInfo, ProofAssembler
from registry.core.verify import Check, TrustAnchors, Verdict
from registry.db.mapstore import AnchoredMapCache
from tests.integration.anchoring.conftest import Stack
from tests.integration.anchoring.test_worker import db_checkpoints
from tests.integration.conftest import CHAIN_ID, deploy_successor
from tests.integration.registry.conftest import admit, sample_submissions
from verifier.audit import _check_line
from verifier.verify import Verifier

ISSUER = "vn-cb-quatest3"


def bundle(stack: Stack, certificate_id: str, *, contract: str) -> dict[str, Any]:
    """The registry's bundle, as its API serves it once configured for `contract`."""
    assembler = ProofAssembler(
        engine=stack.engine,
        map_cache=AnchoredMapCache(),
        anchor_info=lambda: AnchorInfo(chain_id=CHAIN_ID, contract=contract),
        checkpoint_interval_s=0,
    )
    return assembler.bundle(certificate_id).model_dump(mode="json")


def verifier(stack: Stack, *, pinned: str) -> Verifier:
    trust = TrustAnchors(registry_key=stack.signer.verifier(), chain_id=CHAIN_ID, contract=pinned)
    return Verifier.for_chain(trust, rpc=[stack.chain.node.url], status_source=None)


def check(verdict: Verdict, name: str) -> Check:
    [found] = [c for c in verdict.checks if c.name == name]
    return found


def move(stack: Stack) -> tuple[str, str, list[str]]:
    """Anchor checkpoints 0 (three certificates) and 1 (one more) on the session contract, move
    to a successor starting from checkpoint 1, suspend the first certificate and issue two more
    there (checkpoint 2). Returns the old and new contracts and the first two certificates."""
    chain = stack.chain
    old = chain.deployment.address
    admit(stack.service)
    submissions = sample_submissions()
    issued = stack.service.issue_batch(ISSUER, submissions[:3])
    stack.worker().run_until_idle()
    stack.service.issue_batch(ISSUER, submissions[3:4])
    stack.worker().run_until_idle()
    new = deploy_successor(chain, index=1)
    moved = stack.worker(
        client_factory=lambda: AnchorClient(chain.client(chain.accounts.anchorer).chain, new),
        key_client_factory=lambda: AnchorClient(
            chain.client(chain.accounts.issuer_admin).chain, new
        ),
        authoriser_factory=lambda: LogSigner(
            account=chain.accounts.log_signer,
            registry_key=stack.signer.verifier(),
            contract=AnchorClient(chain.outsider.chain, new),
        ),
    )
    ids = [r.certificate.id for r in issued[:2]]
    stack.service.suspend(ISSUER, ids[0], reason="surveillance audit")
    stack.service.issue_batch(ISSUER, submissions[4:6])
    moved.run_until_idle()
    return old, new, ids


class TestMove:
    def test_the_worker_goes_on_with_the_same_indexes(self, stack: Stack) -> None:
        old, new, _ = move(stack)
        rows = db_checkpoints(stack)
        assert [r.index for r in rows] == [0, 1, 2]
        assert all(r.state == "anchored" for r in rows)
        successor = AnchorClient(stack.chain.outsider.chain, new)
        assert successor.checkpoint_count() == 3
        assert successor.checkpoint(0) is None  # before its start: the old contract's
        for row in rows[1:]:  # its start and its own: the same index as in the database
            on_chain = successor.checkpoint(row.index)
            assert on_chain is not None
            assert (on_chain.tree_size, on_chain.log_root) == (row.tree_size, row.log_root)
        assert AnchorClient(stack.chain.outsider.chain, old).checkpoint_count() == 2

    def test_a_verifier_pinned_to_the_old_contract_follows(self, stack: Stack) -> None:
        old, new, (suspended, _) = move(stack)
        fresh = bundle(stack, suspended, contract=new)
        assert (fresh["checkpoint"]["index"], fresh["anchor"]["contract"]) == (2, new)
        verdict = verifier(stack, pinned=old).verify(fresh)
        assert verdict.status.value == "SUSPENDED", verdict.to_json()
        assert check(verdict, "checkpoint_anchored").code == "anchored_latest"
        # The key the old contract registered before the move is the successor's too.
        assert check(verdict, "issuer_key_registered").status.value == "passed"

    def test_a_verifier_pinned_to_the_new_contract_reads_older_checkpoints_on_the_old(
        self, stack: Stack
    ) -> None:
        _, new, (_, untouched) = move(stack)
        fresh = bundle(stack, untouched, contract=new)
        assert (fresh["checkpoint"]["index"], fresh["first_anchored_index"]) == (2, 0)
        verdict = verifier(stack, pinned=new).verify(fresh)
        # Every check but the validity dates (one sample has expired) passes.
        assert verdict.status.value in {"VALID", "EXPIRED"}, verdict.to_json()
        failed = [c.name for c in verdict.checks if c.status.value != "passed"]
        # the CB was admitted by the operator, not by statements: its admission is not checked
        assert failed in (["issuer_accredited"], ["issuer_accredited", "validity_period"]), (
            verdict.to_json()
        )
        assert verdict.first_anchored_index == 0  # confirmed on the old contract

    def test_a_contract_off_the_line_is_refused(self, stack: Stack) -> None:
        old, _, (suspended, _) = move(stack)
        stranger = deploy_contract(
            stack.chain.admin.chain, admin=stack.chain.accounts.admin.address
        )
        forged = bundle(stack, suspended, contract=stranger.address)
        verdict = verifier(stack, pinned=old).verify(forged)
        assert verdict.status.value == "INVALID"
        assert check(verdict, "checkpoint_anchored").code == "anchor_mismatch"

    def test_the_auditor_reads_the_line_as_one_history(self, stack: Stack) -> None:
        old, new, _ = move(stack)
        pinned = line_from(AnchorClient(stack.chain.outsider.chain, old))
        assert pinned.addresses == (old,)
        line = line_through(pinned, new)
        assert line is not None
        assert line.to_json() == [  # as GET /v1/registry publishes it
            {"contract": new, "predecessor": old, "start_index": 1},
            {"contract": old, "predecessor": None, "start_index": None},
        ]
        problems: list[str] = []
        _check_line(line, problems)
        assert problems == []
        history = line.checkpoints()
        assert [(c.index, c.tree_size, c.log_root) for c in history] == [
            (r.index, r.tree_size, r.log_root) for r in db_checkpoints(stack)
        ]
        # Seen from the successor, the line is the same.
        assert line_from(AnchorClient(stack.chain.outsider.chain, new)).addresses == (new, old)

    def test_a_successor_the_authority_did_not_deploy_is_refused(self, stack: Stack) -> None:
        # Anyone can deploy our contract naming the registry's as its predecessor; without the
        # predecessor's authority as its own it joins no line.
        old, _, (suspended, _) = move(stack)
        chain = stack.chain
        squatter = deploy_contract(
            chain.admin.chain,
            admin=chain.accounts.spare.address,
            predecessor=old,
            predecessor_index=1,
        )
        pinned = line_from(AnchorClient(chain.outsider.chain, old))
        assert line_through(pinned, squatter.address) is None
        assert line_from(AnchorClient(chain.outsider.chain, squatter.address)).addresses == (
            squatter.address,
        )
        forged = bundle(stack, suspended, contract=squatter.address)
        verdict = verifier(stack, pinned=old).verify(forged)
        assert check(verdict, "checkpoint_anchored").code == "anchor_mismatch"
