"""The verifier's decision logic on bundles built in memory (tests/bundles.py)."""

import copy
import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from registry.core.events import EventType, issuer_key_id
from registry.core.governance import Admit, AuthorityEntry, Custody, Scope
from registry.core.verify import (
    BUNDLE_FORMAT_V1,
    CHECK_NAMES,
    ChainFacts,
    CheckStatus,
    Verdict,
    VerdictStatus,
    claims_our_format,
    compose,
    verify_bundle,
)
from tests.bundles import TODAY, World, sample


def verify(world: World, bundle: Any, *, chain: bool = True, **options: Any) -> Verdict:
    """The verdict with the world's chain, an older bundle refreshed from the world's registry
    (`fresh=False`: no refresh source)."""
    if not chain:
        return verify_bundle(bundle, trust=world.trust, chain=None, today=TODAY, **options)
    return world.verify(bundle, **options)


@pytest.fixture
def world() -> World:
    w = World()
    w.issue(sample("regulation-conformity"), valid_until="2029-02-26")
    w.issue(sample("calibration"), valid_until="2027-01-11")
    w.issue(sample("inspection"))
    w.checkpoint()
    return w


def ids(world: World) -> list[str]:
    return list(world.records)


def replacement() -> dict[str, Any]:
    """A renewal of the first regulation-conformity sample, by the same issuer."""
    first = sample("regulation-conformity")
    return {**first, "number": first["number"] + "-R1"}


class TestStatuses:
    def test_valid(self, world: World) -> None:
        verdict = verify(world, world.bundle(ids(world)[0]))
        assert verdict.status is VerdictStatus.VALID
        assert verdict.exit_code == 0
        assert [c.name for c in verdict.checks] == list(CHECK_NAMES)
        # The world's CB is not admitted by statements: its events name no admission.
        accredited = verdict.check("issuer_accredited")
        assert (accredited.status, accredited.code) == (CheckStatus.SKIPPED, "before_governance")
        others = [c for c in verdict.checks if c.name != "issuer_accredited"]
        assert all(c.status is CheckStatus.PASSED for c in others), verdict.to_json()
        assert verdict.check("certificate_status").code == "valid"
        assert verdict.check("checkpoint_anchored").code == "anchored_latest"
        assert verdict.checkpoint_index == 0
        assert verdict.first_anchored_index == 0
        assert verdict.refreshed_from is None

    @pytest.mark.parametrize(
        ("change", "status"),
        [
            ("suspend", VerdictStatus.SUSPENDED),
            ("withdraw", VerdictStatus.WITHDRAWN),
        ],
    )
    def test_lifecycle(self, world: World, change: str, status: VerdictStatus) -> None:
        world.append(EventType(change), ids(world)[0], reason="audit finding")
        world.checkpoint()
        verdict = verify(world, world.bundle(ids(world)[0]))
        assert verdict.status is status
        assert verdict.exit_code == 1

    def test_superseded_old_and_valid_new(self, world: World) -> None:
        old = ids(world)[0]
        new = world.supersede(old, replacement(), valid_until="2030-01-01")
        world.checkpoint()
        assert verify(world, world.bundle(old)).status is VerdictStatus.SUPERSEDED
        assert verify(world, world.bundle(new)).status is VerdictStatus.VALID

    def test_expired(self, world: World) -> None:
        verdict = verify(world, world.bundle(ids(world)[1]), today=dt.date(2027, 1, 12))
        assert verdict.status is VerdictStatus.EXPIRED
        assert verdict.check("validity_period").code == "expired"
        assert verify(world, world.bundle(ids(world)[1]), today=dt.date(2027, 1, 11)).status is (
            VerdictStatus.VALID
        )

    def test_no_end_date_never_expires(self, world: World) -> None:
        verdict = verify(world, world.bundle(ids(world)[2]), today=dt.date(2099, 1, 1))
        assert verdict.status is VerdictStatus.VALID
        assert verdict.check("validity_period").code == "no_expiry"

    def test_unknown_id_gets_a_checked_non_membership_proof(self, world: World) -> None:
        verdict = verify(world, world.bundle("0x" + "ab" * 32))
        assert verdict.status is VerdictStatus.UNKNOWN
        assert verdict.exit_code == 1
        assert verdict.check("certificate_status").code == "not_issued"
        assert verdict.check("checkpoint_anchored").status is CheckStatus.PASSED


class TestNoChainNoValid:
    def test_offline_is_unconfirmed(self, world: World) -> None:
        verdict = verify(world, world.bundle(ids(world)[0]), chain=False)
        assert verdict.status is VerdictStatus.UNCONFIRMED
        assert verdict.exit_code == 3
        skipped = {c.name for c in verdict.checks if c.status is CheckStatus.SKIPPED}
        assert skipped == {"issuer_key_registered", "checkpoint_anchored", "issuer_accredited"}

    def test_an_unreachable_chain_is_unconfirmed(self, world: World) -> None:
        verdict = verify_bundle(
            world.bundle(ids(world)[0]),
            trust=world.trust,
            chain=None,
            today=TODAY,
            chain_error="eth_call: connection refused",
        )
        assert verdict.status is VerdictStatus.UNCONFIRMED
        assert verdict.check("checkpoint_anchored").code == "chain_unavailable"
        assert verdict.check("issuer_key_registered").status is CheckStatus.ERROR

    def test_offline_still_finds_tampering(self, world: World) -> None:
        bundle = world.bundle(ids(world)[0])
        bundle["record"]["number"] += "X"
        assert verify(world, bundle, chain=False).status is VerdictStatus.INVALID


class TestCurrentNotReplayed:
    def _old_then_withdrawn(self, world: World) -> dict[str, Any]:
        cid = ids(world)[0]
        old = world.bundle(cid)
        world.append(EventType.WITHDRAW, cid, reason="fraud")
        world.checkpoint()
        return old

    def test_an_old_bundle_after_withdrawal_is_withdrawn_when_refreshed(self, world: World) -> None:
        verdict = verify(world, self._old_then_withdrawn(world))
        assert verdict.status is VerdictStatus.WITHDRAWN
        assert verdict.refreshed_from == "registry.example"
        assert verdict.bundle_checkpoint_index == 0
        assert verdict.checkpoint_index == 1
        # the status rests on the issuer's signed withdrawal event, included in the log
        assert verdict.check("issuer_signature").status is CheckStatus.PASSED
        assert verdict.check("log_inclusion").message.startswith("event 3 ")

    def test_an_old_bundle_after_withdrawal_is_stale_without_a_fresh_status(
        self, world: World
    ) -> None:
        verdict = verify(world, self._old_then_withdrawn(world), fresh=False)
        assert verdict.status is VerdictStatus.STALE
        assert verdict.exit_code == 3
        status = verdict.check("certificate_status")
        assert status.code == "stale"
        assert "valid as of checkpoint 0, 2023-11-14" in status.message
        assert verdict.check("checkpoint_anchored").code == "anchored_older"

    def test_an_old_bundle_of_an_unchanged_certificate_is_valid_when_refreshed(
        self, world: World
    ) -> None:
        old = world.bundle(ids(world)[0])
        world.issue(sample("test-report"))
        world.checkpoint()
        verdict = verify(world, old)
        assert verdict.status is VerdictStatus.VALID
        assert verdict.checkpoint_index == 1
        assert verdict.first_anchored_index == 0

    def test_a_lying_mirror_makes_it_stale_not_valid_nor_invalid(self, world: World) -> None:
        old = self._old_then_withdrawn(world)
        lie = world.status_document(ids(world)[0])
        lie["status_proof"]["leaf"]["status"] = "valid"  # the map proof no longer holds
        facts = world.facts_for(old).merged(world.facts_for(compose(old, lie)))
        verdict = verify_bundle(
            old, trust=world.trust, chain=facts, today=TODAY, fresh=lie, fresh_source="mirror"
        )
        assert verdict.status is VerdictStatus.STALE
        assert "did not verify" in verdict.check("certificate_status").message

    def test_a_status_of_another_certificate_is_refused(self, world: World) -> None:
        old = self._old_then_withdrawn(world)
        other = world.status_document(ids(world)[1])
        facts = world.facts_for(old)
        verdict = verify_bundle(
            old, trust=world.trust, chain=facts, today=TODAY, fresh=other, fresh_source="mirror"
        )
        assert verdict.status is VerdictStatus.STALE
        assert "unusable" in verdict.check("certificate_status").message

    def test_moved_onto_a_newer_checkpoint_its_proofs_fail(self, world: World) -> None:
        cid = ids(world)[0]
        moved = copy.deepcopy(self._old_then_withdrawn(world))
        moved["checkpoint"] = world.bundle(cid)["checkpoint"]
        moved["anchor"] = world.bundle(cid)["anchor"]
        assert verify(world, moved).status is VerdictStatus.INVALID


class TestKeysJudgedAtAnchoring:
    def test_a_routine_rotation_keeps_earlier_certificates_valid(self, world: World) -> None:
        first = ids(world)[0]
        world.rotate(world.records[first]["issuer_id"])
        later = world.issue(sample("product-conformity"))
        world.checkpoint()
        old_key = verify(world, world.bundle(first))
        assert old_key.status is VerdictStatus.VALID, old_key.to_json()
        assert "when checkpoint 0 first anchored" in old_key.check("issuer_key_registered").message
        assert verify(world, world.bundle(later)).status is VerdictStatus.VALID

    def test_a_compromise_invalidates_exactly_the_events_anchored_after_it(
        self, world: World
    ) -> None:
        before = ids(world)[0]
        issuer = world.records[before]["issuer_id"]
        after = world.issue(sample("regulation-conformity"), number="QC-AFTER-1")
        world.checkpoint()  # block 16; checkpoint 0 was at block 13
        world.rotate(issuer, revoked_at=14)  # compromised from block 14, found later
        assert verify(world, world.bundle(before)).status is VerdictStatus.VALID
        verdict = verify(world, world.bundle(after))
        assert verdict.status is VerdictStatus.INVALID
        assert verdict.check("issuer_key_registered").code == "key_not_in_force"

    def test_a_version_1_bundle_is_judged_by_searching_the_chain(self, world: World) -> None:
        first = ids(world)[0]
        world.rotate(world.records[first]["issuer_id"])
        world.issue(sample("product-conformity"))
        world.checkpoint()
        v1 = {k: v for k, v in world.bundle(first).items() if k != "first_anchored_index"}
        v1["format"] = BUNDLE_FORMAT_V1
        verdict = verify(world, v1)
        assert verdict.status is VerdictStatus.VALID, verdict.to_json()
        assert verdict.first_anchored_index == 0

    def test_a_wrong_first_anchoring_hint_is_invalid(self, world: World) -> None:
        world.issue(sample("product-conformity"))
        world.checkpoint()
        bundle = world.bundle(ids(world)[-1]) | {"first_anchored_index": 0}
        verdict = verify(world, bundle)
        assert verdict.status is VerdictStatus.INVALID
        assert verdict.check("issuer_key_registered").code == "first_anchoring_mismatch"


class TestPending:
    def test_pending(self, world: World) -> None:
        new = world.issue(sample("test-report"))
        verdict = verify(world, world.pending_bundle(new))
        assert verdict.status is VerdictStatus.PENDING
        assert verdict.exit_code == 3
        assert verdict.check("issuer_signature").status is CheckStatus.PASSED
        assert verdict.check("issuer_key_registered").code == "key_in_force_now"
        assert verdict.check("log_inclusion").status is CheckStatus.SKIPPED

    def test_pending_offline_is_unconfirmed(self, world: World) -> None:
        new = world.issue(sample("test-report"))
        verdict = verify(world, world.pending_bundle(new), chain=False)
        assert verdict.status is VerdictStatus.UNCONFIRMED

    def test_a_forged_pending_bundle_with_its_own_key_is_invalid(self, world: World) -> None:
        """A made-up certificate "of" a real issuer, signed with a fresh key it carries."""
        real = world.records[ids(world)[0]]["issuer_id"]
        forger = World()
        forged_id = forger.issue(sample("test-report"), issuer_id=real, number="FAKE-1")
        bundle = forger.pending_bundle(forged_id)
        verdict = verify(world, bundle)
        assert verdict.status is VerdictStatus.INVALID
        assert verdict.check("issuer_signature").code == "key_not_registered"
        assert verdict.check("issuer_key_registered").code == "key_not_registered"

    def test_a_pending_event_signed_with_a_revoked_key_is_invalid(self, world: World) -> None:
        new = world.issue(sample("test-report"))
        bundle = world.pending_bundle(new)
        world.rotate(world.records[new]["issuer_id"])
        verdict = verify(world, bundle)
        assert verdict.status is VerdictStatus.INVALID
        assert verdict.check("issuer_key_registered").code == "key_not_in_force"


class TestChainChecks:
    def test_key_not_registered(self, world: World) -> None:
        bundle = world.bundle(ids(world)[0])
        facts = world.facts_for(bundle)
        unregistered = ChainFacts(
            latest_index=facts.latest_index,
            checkpoints=facts.checkpoints,
            issuer_keys=dict.fromkeys(facts.issuer_keys),
            anchor_txs=facts.anchor_txs,
        )
        verdict = verify_bundle(bundle, trust=world.trust, chain=unregistered, today=TODAY)
        assert verdict.status is VerdictStatus.INVALID
        assert verdict.check("issuer_key_registered").code == "key_not_registered"

    def test_key_revoked_before_the_anchor(self, world: World) -> None:
        bundle = world.bundle(ids(world)[0])
        for key_id in world.key_blocks:
            world.key_blocks[key_id] = (1, 5)  # revoked at block 5, anchored at 13
        verdict = verify(world, bundle)
        assert verdict.check("issuer_key_registered").code == "key_not_in_force"

    def test_checkpoint_not_on_chain(self, world: World) -> None:
        bundle = world.bundle(ids(world)[0])
        world.checkpoints.clear()
        verdict = verify(world, bundle)
        assert verdict.status is VerdictStatus.INVALID
        assert verdict.check("checkpoint_anchored").code == "not_on_chain"

    def test_anchor_of_another_contract(self, world: World) -> None:
        bundle = world.bundle(ids(world)[0])
        bundle["anchor"]["contract"] = "0x" + "11" * 20
        assert verify(world, bundle).check("checkpoint_anchored").code == "anchor_mismatch"

    def test_a_registry_key_we_do_not_pin_is_refused(self, world: World) -> None:
        bundle = world.bundle(ids(world)[0])
        other = World()
        verdict = verify_bundle(bundle, trust=other.trust, chain=None, today=TODAY)
        assert verdict.status is VerdictStatus.INVALID
        assert verdict.check("checkpoint_anchored").code == "note_invalid"


class TestMalformed:
    @pytest.mark.parametrize(
        "bundle",
        [None, [], "x", {}, {"format": "certreg-bundle/9"}],
        ids=["null", "list", "string", "empty", "other-format"],
    )
    def test_envelope(self, world: World, bundle: Any) -> None:
        verdict = verify(world, bundle)
        assert verdict.status is VerdictStatus.INVALID
        assert {c.code for c in verdict.checks} == {"malformed_bundle"}

    def test_unknown_member(self, world: World) -> None:
        bundle = world.bundle(ids(world)[0]) | {"extra": 1}
        assert verify(world, bundle).status is VerdictStatus.INVALID

    @pytest.mark.parametrize("fmt", [["certreg-bundle/2"], {"v": 2}], ids=["list", "object"])
    def test_a_format_of_another_type(self, world: World, fmt: Any) -> None:
        # An unhashable format was looked up in a dict: TypeError, a 500 at POST /v1/verify.
        bundle = world.bundle(ids(world)[0]) | {"format": fmt}
        verdict = verify(world, bundle)
        assert verdict.status is VerdictStatus.INVALID
        assert {c.code for c in verdict.checks} == {"malformed_bundle"}

    @pytest.mark.parametrize("where", ["certificate_id", "issuer_key"])
    def test_a_lone_surrogate_is_malformed(self, world: World, where: str) -> None:
        # JSON can spell one (\ud800); hashing the id for its map key raised StatusMapError out
        # of verify_bundle (a 500), and the verdict could not have been encoded to echo it.
        bundle = world.bundle(ids(world)[0])
        if where == "certificate_id":
            bundle[where] = bundle[where][:-1] + "\ud800"
        else:
            bundle[where] = {**bundle[where], "issuer_id": "vn-\udfff"}
        verdict = verify(world, bundle)
        assert verdict.status is VerdictStatus.INVALID
        assert verdict.certificate_id is None or verdict.certificate_id.isascii()
        assert any("valid Unicode" in c.message for c in verdict.checks), verdict.checks
        assert verify(world, bundle, chain=False).status is VerdictStatus.INVALID

    def test_pending_claim_on_an_anchored_bundle(self, world: World) -> None:
        bundle = world.bundle(ids(world)[0]) | {"status": "PENDING"}
        assert verify(world, bundle).status is VerdictStatus.INVALID

    @pytest.mark.parametrize(
        ("obj", "ours"),
        [
            ({"format": "certreg-bundle/1"}, True),
            ({"format": "certreg-bundle/2", "x": 1}, True),
            ({"format": "certreg-bundle/7"}, True),
            ({"format": "other"}, False),
            ({}, False),
            ([], False),
            ("certreg-bundle/2", False),
        ],
    )
    def test_claims_our_format(self, obj: Any, ours: bool) -> None:
        assert claims_our_format(obj) is ours


# --- the key's approval by the authority (spec §3a.1 approve_key, §9.2) ----------------------


def governed(
    custody: Custody = Custody.HELD, *, approve: bool = True
) -> tuple[World, str, int | None]:
    """A world whose CB the authority admitted and (`approve`) whose key it approved before
    the CB issued a certificate: (world, certificate id, the approval's seq)."""
    world = World()
    issuer = sample("regulation-conformity")["issuer_id"]
    world.admit(issuer)
    approval = world.approve_key(issuer, custody).seq if approve else None
    cid = world.issue(sample("regulation-conformity"), valid_until="2029-02-26")
    world.checkpoint()
    return world, cid, approval


def key_check(verdict: Verdict) -> tuple[CheckStatus, str]:
    check = verdict.check("issuer_key_registered")
    return check.status, check.code


class TestKeyApproval:
    @pytest.mark.parametrize(
        ("custody", "words"),
        [
            (Custody.HELD, "custody held: the certification body keeps the private key"),
            (Custody.HOSTED, "custody hosted: the registry keeps the private key, sealed"),
        ],
    )
    def test_an_approved_key_passes_and_names_its_custody(
        self, custody: Custody, words: str
    ) -> None:
        world, cid, approval = governed(custody)
        bundle = world.bundle(cid)
        assert bundle["key_approval"]["log_inclusion"]["leaf_index"] == approval
        verdict = verify(world, bundle)
        assert verdict.status is VerdictStatus.VALID, verdict.to_json()
        assert key_check(verdict) == (CheckStatus.PASSED, "key_in_force")
        message = verdict.check("issuer_key_registered").message
        assert words in message
        assert f"(approved by the authority, log entry {approval})" in message
        assert (verdict.key_custody, verdict.key_approval_seq) == (custody.value, approval)
        assert verdict.to_json()["key_custody"] == custody.value
        assert verdict.to_json()["key_approval_seq"] == approval

    def test_without_the_authority_pinned_it_passes_and_says_so(self) -> None:
        world, cid, approval = governed()
        world.pin_authority = False
        verdict = verify(world, world.bundle(cid))
        assert key_check(verdict) == (CheckStatus.PASSED, "key_in_force")
        message = verdict.check("issuer_key_registered").message
        assert f"entry {approval}" in message
        assert "signature on it was not checked: no authority key is pinned" in message
        # the custody is the authority's word only once its signature is checked
        assert (verdict.key_custody, verdict.key_approval_seq) == (None, None)

    def test_a_key_from_before_approvals_passes_without_a_custody(self, world: World) -> None:
        verdict = verify(world, world.bundle(ids(world)[0]))
        assert verdict.status is VerdictStatus.VALID
        assert key_check(verdict) == (CheckStatus.PASSED, "key_in_force")
        assert "custody not stated" in verdict.check("issuer_key_registered").message
        assert verdict.key_custody is None and verdict.key_approval_seq is None
        assert "key_approval" not in world.bundle(ids(world)[0])

    def test_missing_when_the_event_names_an_admission(self) -> None:
        world, cid, _ = governed()
        bundle = world.bundle(cid)
        del bundle["key_approval"]
        verdict = verify(world, bundle)
        assert verdict.status is VerdictStatus.INVALID
        assert key_check(verdict) == (CheckStatus.FAILED, "missing_key_approval")
        assert verdict.key_custody is None

    def test_an_admitted_cb_whose_key_was_never_approved(self) -> None:
        world, cid, _ = governed(approve=False)
        bundle = world.bundle(cid)
        assert "key_approval" not in bundle
        assert key_check(verify(world, bundle)) == (CheckStatus.FAILED, "missing_key_approval")

    def test_missing_for_a_statement_the_cb_signed(self, world: World) -> None:
        # Events of version 2 (the CB signs a statement itself) need the approval of their key
        # even from a CB admitted before the authority's statements (the signature and the
        # inclusion fail too here: the version is signed, and part of the leaf).
        bundle = world.bundle(ids(world)[0])
        assert key_check(verify(world, bundle))[0] is CheckStatus.PASSED
        bundle["event"]["version"] = 2
        verdict = verify(world, bundle)
        assert key_check(verdict) == (CheckStatus.FAILED, "missing_key_approval")
        assert "version 2" in verdict.check("issuer_key_registered").message

    def test_an_approval_on_an_event_that_needs_none_is_still_checked(self) -> None:
        world, cid, approval = governed(Custody.HOSTED)
        world.append(EventType.SUSPEND, cid, reason="audit finding")  # names no admission
        world.checkpoint()
        bundle = world.bundle(cid)
        assert "admission_seq" not in bundle["event"] and "key_approval" in bundle
        verdict = verify(world, bundle)
        assert verdict.status is VerdictStatus.SUSPENDED
        assert (verdict.key_custody, verdict.key_approval_seq) == ("hosted", approval)
        bundle["key_approval"]["log_inclusion"]["hashes"][0] = "0x" + "00" * 32
        assert key_check(verify(world, bundle)) == (CheckStatus.FAILED, "key_approval_not_included")
        del bundle["key_approval"]
        assert key_check(verify(world, bundle)) == (CheckStatus.PASSED, "key_in_force")

    def test_an_approval_signed_by_another_key_than_the_authority_s(self) -> None:
        """The registry appends an approval of a key of its own making: the log holds it, but
        a verifier pinning the authority's key refuses it."""
        world = World()
        issuer = sample("regulation-conformity")["issuer_id"]
        world.admit(issuer)
        world.approve_key(issuer, Custody.HOSTED, forged_by=Ed25519PrivateKey.generate())
        cid = world.issue(sample("regulation-conformity"), valid_until="2029-02-26")
        world.checkpoint()
        verdict = verify(world, world.bundle(cid))
        assert verdict.status is VerdictStatus.INVALID
        assert key_check(verdict) == (CheckStatus.FAILED, "authority_signature_invalid")
        assert verdict.key_custody is None
        world.pin_authority = False  # not pinned: the signature is not checked
        assert key_check(verify(world, world.bundle(cid))) == (CheckStatus.PASSED, "key_in_force")

    def test_a_flipped_signature_is_not_in_the_log(self) -> None:
        world, cid, _ = governed()
        bundle = world.bundle(cid)
        entry = bundle["key_approval"]["entry"]
        entry["signature"] = flip(entry["signature"], 5)
        assert key_check(verify(world, bundle)) == (CheckStatus.FAILED, "key_approval_not_included")

    def test_the_approval_of_another_key_of_the_cb(self) -> None:
        world, cid, _ = governed()
        issuer = world.records[cid]["issuer_id"]
        world.rotate(issuer)
        other = world.approve_key(issuer)
        world.checkpoint()
        bundle = world.bundle(cid)
        tree_size = bundle["checkpoint"]["tree_size"]
        bundle["key_approval"] = world.authority_member(other.seq, tree_size)
        verdict = verify(world, bundle)
        assert key_check(verdict) == (CheckStatus.FAILED, "key_approval_mismatch")

    def test_the_approval_of_another_cb(self) -> None:
        world, cid, _ = governed()
        other_issuer = sample("regulation-conformity", 1)["issuer_id"]
        assert other_issuer != world.records[cid]["issuer_id"]
        world.admit(other_issuer)
        other = world.approve_key(other_issuer)
        world.checkpoint()
        bundle = world.bundle(cid)
        bundle["key_approval"] = world.authority_member(
            other.seq, bundle["checkpoint"]["tree_size"]
        )
        assert key_check(verify(world, bundle)) == (CheckStatus.FAILED, "key_approval_mismatch")

    def test_an_approval_after_the_event(self) -> None:
        world, cid, _ = governed(approve=False)
        late = world.approve_key(world.records[cid]["issuer_id"])
        world.checkpoint()
        bundle = world.bundle(cid)
        assert "key_approval" not in bundle  # the registry does not carry a later one
        bundle["key_approval"] = world.authority_member(late.seq, bundle["checkpoint"]["tree_size"])
        assert key_check(verify(world, bundle)) == (CheckStatus.FAILED, "key_approval_mismatch")

    @pytest.mark.parametrize(
        ("change", "code"),
        [
            (("log_inclusion", "leaf_index", 1), "key_approval_mismatch"),
            (("log_inclusion", "tree_size", 1), "key_approval_mismatch"),
            (("entry", "seq", 1), "key_approval_mismatch"),
            (("log_inclusion", "hashes", None), "key_approval_not_included"),
        ],
    )
    def test_a_wrong_inclusion(self, change: tuple[str, str, int | None], code: str) -> None:
        world, cid, _ = governed()
        world.issue(sample("calibration"))  # a larger log: the proof has hashes
        world.checkpoint()
        bundle = world.bundle(cid)
        part, member, delta = change
        target = bundle["key_approval"][part]
        if delta is None:
            target[member] = target[member][:-1]
        else:
            target[member] += delta
        assert key_check(verify(world, bundle)) == (CheckStatus.FAILED, code)

    @pytest.mark.parametrize(
        "damage",
        [
            {"entry": {}},
            "not an object",
            {"log_inclusion": {"leaf_index": 1, "tree_size": 4, "hashes": []}},
            {"entry": "x", "log_inclusion": {"leaf_index": 1, "tree_size": 4, "hashes": []}},
        ],
    )
    def test_malformed(self, damage: Any) -> None:
        world, cid, _ = governed()
        bundle = world.bundle(cid) | {"key_approval": damage}
        assert key_check(verify(world, bundle)) == (CheckStatus.FAILED, "malformed_key_approval")

    def test_an_approval_of_another_kind_of_entry(self) -> None:
        world, cid, _ = governed()
        bundle = world.bundle(cid)
        bundle["key_approval"] = bundle["admission"]
        assert key_check(verify(world, bundle)) == (CheckStatus.FAILED, "key_approval_mismatch")

    def test_an_old_bundle_is_refreshed_with_its_approval(self) -> None:
        world, cid, approval = governed()
        old = world.bundle(cid)
        world.issue(sample("test-report"))
        world.checkpoint()
        assert "key_approval" in world.status_document(cid)
        verdict = verify(world, old)
        assert verdict.status is VerdictStatus.VALID, verdict.to_json()
        assert verdict.refreshed_from == "registry.example"
        assert (verdict.key_custody, verdict.key_approval_seq) == ("held", approval)

    def test_a_pending_bundle_is_not_judged_by_it(self) -> None:
        world, _, _ = governed()
        new = world.issue(sample("test-report"))
        verdict = verify(world, world.pending_bundle(new))
        assert verdict.status is VerdictStatus.PENDING
        assert key_check(verdict) == (CheckStatus.PASSED, "key_in_force_now")

    def test_offline_it_is_not_checked(self) -> None:
        world, cid, _ = governed()
        bundle = world.bundle(cid)
        del bundle["key_approval"]
        verdict = verify(world, bundle, chain=False)
        assert key_check(verdict) == (CheckStatus.SKIPPED, "no_chain_access")


# --- the authority's action on a certificate (spec §3a.5, §9.2 certificate_status) -----------


def acted(action: str = "withdraw", *, cb: str = "withdraw") -> tuple[World, str, AuthorityEntry]:
    """A governed world whose CB the authority suspended or withdrew (`cb`), then suspended or
    withdrew (`action`) one of the CB's certificates: (world, its id, the action's entry)."""
    world, cid, _ = governed()
    issuer = world.records[cid]["issuer_id"]
    if cb == "suspend":
        world.suspend_issuer(issuer)
    else:
        world.withdraw_issuer(issuer)
    if action == "suspend":
        entry = world.suspend_certificate(cid, "Tạm đình chỉ theo quyết định 12/QĐ")
    else:
        entry = world.withdraw_certificate(cid, "Thu hồi theo quyết định 13/QĐ")
    world.checkpoint()
    return world, cid, entry


def status_check(verdict: Verdict) -> tuple[CheckStatus, str]:
    check = verdict.check("certificate_status")
    return check.status, check.code


class TestAuthorityAction:
    @pytest.mark.parametrize("cb", ["suspend", "withdraw"])
    @pytest.mark.parametrize(
        ("action", "status"),
        [("suspend", VerdictStatus.SUSPENDED), ("withdraw", VerdictStatus.WITHDRAWN)],
    )
    def test_the_status_the_authority_set(
        self, action: str, status: VerdictStatus, cb: str
    ) -> None:
        world, cid, entry = acted(action, cb=cb)
        bundle = world.bundle(cid)
        # the event stays the certificate's own latest event, proved as before; the leaf points
        # at the authority's entry, which the bundle carries with its own proof
        assert bundle["event"]["type"] == "issue"
        assert bundle["log_inclusion"]["leaf_index"] == bundle["event"]["seq"] < entry.seq
        assert bundle["status_proof"]["leaf"]["event_seq"] == entry.seq
        assert bundle["authority_action"]["log_inclusion"]["leaf_index"] == entry.seq
        verdict = verify(world, bundle)
        assert verdict.status is status, verdict.to_json()
        assert verdict.exit_code == 1
        assert all(c.status is CheckStatus.PASSED for c in verdict.checks), verdict.to_json()
        assert status_check(verdict) == (CheckStatus.PASSED, status.value.lower())
        reason = entry.statement.reason  # type: ignore[attr-defined]
        assert verdict.check("certificate_status").message == (
            f"{status.value.lower()} by the authority at checkpoint 1 (log entry {entry.seq}): "
            f"{reason}"
        )
        assert verdict.status_set_by_authority is True
        assert (verdict.authority_action_seq, verdict.authority_action_reason) == (
            entry.seq,
            reason,
        )
        assert verdict.authority_action_at == entry.statement.at.strftime("%Y-%m-%dT%H:%M:%SZ")
        out = verdict.to_json()
        assert out["status_set_by_authority"] is True
        assert out["authority_action_seq"] == entry.seq
        assert out["authority_action_reason"] == reason

    def test_withdrawn_after_the_authority_suspended_it(self) -> None:
        world, cid, suspension = acted("suspend", cb="suspend")
        withdrawal = world.withdraw_certificate(cid, "Thu hồi")
        world.checkpoint()
        bundle = world.bundle(cid)
        assert bundle["event"]["type"] == "issue"
        assert bundle["authority_action"]["entry"]["seq"] == withdrawal.seq > suspension.seq
        verdict = verify(world, bundle)
        assert verdict.status is VerdictStatus.WITHDRAWN, verdict.to_json()
        assert verdict.authority_action_seq == withdrawal.seq
        # the earlier suspension is not the entry the leaf points at
        bundle["authority_action"] = world.authority_member(
            suspension.seq, bundle["checkpoint"]["tree_size"]
        )
        assert status_check(verify(world, bundle)) == (
            CheckStatus.FAILED,
            "authority_action_mismatch",
        )

    def test_withdrawn_after_its_own_cb_suspended_it(self) -> None:
        world, cid, _ = governed()
        world.append(EventType.SUSPEND, cid, reason="audit finding")
        world.withdraw_issuer(world.records[cid]["issuer_id"])
        action = world.withdraw_certificate(cid)
        world.checkpoint()
        bundle = world.bundle(cid)
        assert bundle["event"]["type"] == "suspend"
        verdict = verify(world, bundle)
        assert verdict.status is VerdictStatus.WITHDRAWN, verdict.to_json()
        assert verdict.authority_action_seq == action.seq

    def test_without_the_authority_pinned_it_is_decided_from_the_map_and_says_so(self) -> None:
        world, cid, entry = acted()
        world.pin_authority = False
        verdict = verify(world, world.bundle(cid))
        assert verdict.status is VerdictStatus.WITHDRAWN
        assert status_check(verdict) == (CheckStatus.PASSED, "withdrawn")
        message = verdict.check("certificate_status").message
        assert f"withdrawn by the authority at checkpoint 1 (log entry {entry.seq})" in message
        assert "signature on it was not checked: no authority key is pinned" in message
        assert verdict.status_set_by_authority is False
        assert verdict.authority_action_seq == entry.seq

    def test_signed_by_another_key_than_the_authority_s(self) -> None:
        """The registry appends an action of its own making: the log and the map hold it, but
        a verifier pinning the authority's key refuses it."""
        world, cid, _ = governed()
        world.withdraw_issuer(world.records[cid]["issuer_id"])
        world.withdraw_certificate(cid, forged_by=Ed25519PrivateKey.generate())
        world.checkpoint()
        verdict = verify(world, world.bundle(cid))
        assert verdict.status is VerdictStatus.INVALID
        assert status_check(verdict) == (CheckStatus.FAILED, "authority_signature_invalid")
        assert verdict.authority_action_seq is None
        assert verdict.status_set_by_authority is False
        world.pin_authority = False
        verdict = verify(world, world.bundle(cid))
        assert verdict.status is VerdictStatus.WITHDRAWN
        assert verdict.status_set_by_authority is False

    @pytest.mark.parametrize(
        "damage",
        [
            ("statement", "reason", "Thu hồi vì lý do khác"),
            ("statement", "at", "2026-01-01T00:00:00Z"),
            ("signature", None, None),
        ],
    )
    def test_a_tampered_action_is_not_in_the_log(self, damage: tuple[str, Any, Any]) -> None:
        world, cid, _ = acted()
        bundle = world.bundle(cid)
        entry = bundle["authority_action"]["entry"]
        part, member, value = damage
        if member is None:
            entry[part] = flip(entry[part], 3)
        else:
            entry[part][member] = value
        verdict = verify(world, bundle)
        assert verdict.status is VerdictStatus.INVALID
        assert status_check(verdict) == (CheckStatus.FAILED, "authority_action_not_included")

    def test_the_action_on_another_certificate(self) -> None:
        world, cid, _ = governed()
        issuer = world.records[cid]["issuer_id"]
        other = world.issue(sample("regulation-conformity"), number="other-1")
        world.withdraw_issuer(issuer)
        world.withdraw_certificate(cid)
        on_other = world.withdraw_certificate(other)
        world.checkpoint()
        bundle = world.bundle(cid)
        bundle["authority_action"] = world.authority_member(
            on_other.seq, bundle["checkpoint"]["tree_size"]
        )
        assert status_check(verify(world, bundle)) == (
            CheckStatus.FAILED,
            "authority_action_mismatch",
        )

    def test_an_action_stated_for_another_cb(self) -> None:
        """An entry naming this certificate and its record, but stated of another CB (the one
        the authority withdrew): the leaf points at it, and the verifier refuses it."""
        world, cid, _ = governed()
        other_issuer = sample("regulation-conformity", 1)["issuer_id"]
        assert other_issuer != world.records[cid]["issuer_id"]
        world.admit(other_issuer)
        world.withdraw_issuer(other_issuer)
        world.withdraw_certificate(cid, issuer_id=other_issuer)
        world.checkpoint()
        verdict = verify(world, world.bundle(cid))
        assert status_check(verdict) == (CheckStatus.FAILED, "authority_action_mismatch")

    def test_an_earlier_action_on_a_leaf_that_points_at_the_event(self) -> None:
        """Suspended by the authority, then reinstated by its CB once reinstated itself: the
        leaf points at the CB's event again, and a bundle carrying the old action is refused."""
        world, cid, suspension = acted("suspend", cb="suspend")
        issuer = world.records[cid]["issuer_id"]
        world.reinstate_issuer(issuer)
        world.append(EventType.REINSTATE, cid, reason="Khôi phục")
        world.checkpoint()
        bundle = world.bundle(cid)
        assert "authority_action" not in bundle
        assert verify(world, bundle).status is VerdictStatus.VALID
        bundle["authority_action"] = world.authority_member(
            suspension.seq, bundle["checkpoint"]["tree_size"]
        )
        verdict = verify(world, bundle)
        assert verdict.status is VerdictStatus.INVALID
        assert status_check(verdict) == (CheckStatus.FAILED, "authority_action_mismatch")

    def test_missing_while_the_leaf_points_past_the_event(self) -> None:
        world, cid, entry = acted()
        bundle = world.bundle(cid)
        del bundle["authority_action"]
        verdict = verify(world, bundle)
        assert verdict.status is VerdictStatus.INVALID
        assert status_check(verdict) == (CheckStatus.FAILED, "leaf_event_mismatch")
        assert f"log entry {entry.seq}" in verdict.check("certificate_status").message

    def test_a_leaf_status_the_action_does_not_give(self) -> None:
        world, cid, _ = acted("suspend")
        bundle = world.bundle(cid)
        bundle["status_proof"]["leaf"]["status"] = "withdrawn"
        assert status_check(verify(world, bundle)) == (CheckStatus.FAILED, "leaf_event_mismatch")

    @pytest.mark.parametrize(
        ("change", "code"),
        [
            (("log_inclusion", "leaf_index", 1), "authority_action_mismatch"),
            (("log_inclusion", "leaf_index", -1), "authority_action_mismatch"),
            (("log_inclusion", "tree_size", 1), "authority_action_mismatch"),
            (("entry", "seq", -1), "authority_action_mismatch"),
            (("log_inclusion", "hashes", None), "authority_action_not_included"),
        ],
    )
    def test_a_wrong_inclusion(self, change: tuple[str, str, int | None], code: str) -> None:
        world, cid, _ = acted()
        bundle = world.bundle(cid)
        part, member, delta = change
        target = bundle["authority_action"][part]
        if delta is None:
            target[member] = target[member][:-1]
        else:
            target[member] += delta
        assert status_check(verify(world, bundle)) == (CheckStatus.FAILED, code)

    @pytest.mark.parametrize(
        "damage",
        [
            {"entry": {}},
            "not an object",
            {"log_inclusion": {"leaf_index": 1, "tree_size": 4, "hashes": []}},
            {"entry": "x", "log_inclusion": {"leaf_index": 1, "tree_size": 4, "hashes": []}},
        ],
    )
    def test_malformed(self, damage: Any) -> None:
        world, cid, _ = acted()
        bundle = world.bundle(cid) | {"authority_action": damage}
        verdict = verify(world, bundle)
        assert status_check(verdict) == (CheckStatus.FAILED, "malformed_authority_action")

    def test_another_kind_of_authority_entry(self) -> None:
        world, cid, _ = acted()
        bundle = world.bundle(cid)
        bundle["authority_action"] = bundle["admission"]
        assert status_check(verify(world, bundle)) == (
            CheckStatus.FAILED,
            "authority_action_mismatch",
        )

    def test_on_a_pending_or_unknown_bundle(self) -> None:
        world, cid, _ = acted()
        carried = world.bundle(cid)["authority_action"]
        new = world.issue(sample("test-report"))
        pending = world.pending_bundle(new) | {"authority_action": carried}
        assert status_check(verify(world, pending)) == (CheckStatus.FAILED, "unexpected_proof")
        unknown = world.bundle("0x" + "ab" * 32) | {"authority_action": carried}
        assert status_check(verify(world, unknown)) == (
            CheckStatus.FAILED,
            "authority_action_mismatch",
        )

    def test_an_old_bundle_is_refreshed_to_the_authority_s_status(self) -> None:
        world, cid, _ = governed()
        old = world.bundle(cid)
        world.suspend_issuer(world.records[cid]["issuer_id"])
        action = world.suspend_certificate(cid)
        world.checkpoint()
        assert "authority_action" in world.status_document(cid)
        verdict = verify(world, old)
        assert verdict.status is VerdictStatus.SUSPENDED, verdict.to_json()
        assert verdict.refreshed_from == "registry.example"
        assert (verdict.status_set_by_authority, verdict.authority_action_seq) == (
            True,
            action.seq,
        )

    def test_an_old_bundle_with_an_action_not_refreshed_is_stale_without_its_fields(self) -> None:
        world, cid, _ = acted()
        old = world.bundle(cid)
        assert verify(world, old).authority_action_seq is not None
        world.issue(sample("test-report"))
        world.checkpoint()
        verdict = verify(world, old, fresh=False)
        assert verdict.status is VerdictStatus.STALE
        assert "withdrawn as of checkpoint 1" in verdict.check("certificate_status").message
        assert verdict.authority_action_seq is None
        assert verdict.status_set_by_authority is False
        refreshed = verify(world, old)
        assert refreshed.status is VerdictStatus.WITHDRAWN
        assert refreshed.authority_action_seq is not None


# --- a certificate the authority transferred to another CB (spec §3a.5, §9.2 issuer_signature) -


#: a third CB, admitted, for transfers onward and events of a CB the certificate was not given to
THIRD_CB = "vn-cb-third-body"


def transferred() -> tuple[World, str, AuthorityEntry, str]:
    """A governed world whose CB issued a certificate, then the authority admitted a second CB
    (and approved its key) and transferred the certificate to it: (world, certificate id, the
    transfer's entry, the receiving CB). No checkpoint after the transfer yet."""
    world, cid, _ = governed()
    receiving = sample("regulation-conformity", 1)["issuer_id"]
    assert receiving != world.records[cid]["issuer_id"]
    world.admit(receiving)
    world.approve_key(receiving)
    entry = world.transfer_certificate(cid, receiving, "Tổ chức chứng nhận đã giải thể")
    return world, cid, entry, receiving


def signature_check(verdict: Verdict) -> tuple[CheckStatus, str]:
    check = verdict.check("issuer_signature")
    return check.status, check.code


class TestTransfer:
    @pytest.mark.parametrize("pinned", [True, False])
    @pytest.mark.parametrize(
        ("kind", "status"),
        [
            (EventType.SUSPEND, VerdictStatus.SUSPENDED),
            (EventType.WITHDRAW, VerdictStatus.WITHDRAWN),
        ],
    )
    def test_acted_on_by_the_receiving_cb(
        self, kind: EventType, status: VerdictStatus, pinned: bool
    ) -> None:
        world, cid, entry, receiving = transferred()
        original = world.records[cid]["issuer_id"]
        event = world.append(kind, cid, reason="Theo đề nghị của khách hàng")
        assert event.issuer_id == receiving
        world.checkpoint()
        world.pin_authority = pinned
        bundle = world.bundle(cid)
        assert bundle["record"]["issuer_id"] == original
        assert bundle["event"]["issuer_id"] == receiving
        assert bundle["transfer"]["entry"]["seq"] == entry.seq
        assert bundle["transfer"]["log_inclusion"]["leaf_index"] == entry.seq
        verdict = verify(world, bundle)
        assert verdict.status is status, verdict.to_json()
        assert signature_check(verdict) == (CheckStatus.PASSED, "signature_valid")
        message = verdict.check("issuer_signature").message
        assert message.startswith(f"signed by {receiving} with key ")
        assert not any(c.status is CheckStatus.FAILED for c in verdict.checks)
        if pinned:
            assert message.endswith(
                f"(the certificate, transferred from {original} by the authority, log entry "
                f"{entry.seq})"
            )
            assert (verdict.transferred_from, verdict.transfer_seq) == (original, entry.seq)
            out = verdict.to_json()
            assert (out["transferred_from"], out["transfer_seq"]) == (original, entry.seq)
        else:
            assert "the authority's signature on the transfer was not checked" in message
            assert (verdict.transferred_from, verdict.transfer_seq) == (None, None)

    def test_the_event_s_cb_keys_and_admission_are_the_receiving_cb_s(self) -> None:
        """Suspended by its CB, transferred, reinstated by the receiving CB: the key checked on
        chain and approved by the authority, and the admission the reinstatement names, are the
        receiving CB's."""
        world, cid, _ = governed()
        world.append(EventType.SUSPEND, cid, reason="Chờ chuyển giao")
        receiving = sample("regulation-conformity", 1)["issuer_id"]
        admission = world.admit(receiving)
        approval = world.approve_key(receiving)
        transfer = world.transfer_certificate(cid, receiving)
        world.append(EventType.REINSTATE, cid, reason="Khôi phục sau chuyển giao")
        world.checkpoint()
        bundle = world.bundle(cid)
        assert bundle["event"]["admission_seq"] == admission.seq
        assert bundle["admission"]["entry"]["seq"] == admission.seq
        verdict = verify(world, bundle)
        assert verdict.status is VerdictStatus.VALID, verdict.to_json()
        assert all(c.status is CheckStatus.PASSED for c in verdict.checks), verdict.to_json()
        assert verdict.key_approval_seq == approval.seq
        assert verdict.transfer_seq == transfer.seq
        assert f"for {bundle['record']['kind']}" in verdict.check("issuer_accredited").message

    def test_the_record_is_judged_against_the_receiving_cb_s_admission(self) -> None:
        world, cid, _ = governed()
        world.append(EventType.SUSPEND, cid, reason="Chờ chuyển giao")
        receiving = sample("regulation-conformity", 1)["issuer_id"]
        world.state(
            Admit(
                issuer_id=receiving,
                at=world.at + dt.timedelta(minutes=1),
                authority_key_id=issuer_key_id(world.authority_public),
                name_vi="Tổ chức nhận",
                name_en="Receiving body",
                accreditation_body="BoA",
                accreditation_number="VICAS 002",
                scope=Scope(kinds=("calibration",)),
                valid_from=dt.date(2020, 1, 1),
                valid_until=dt.date(2099, 12, 31),
            )
        )
        world.approve_key(receiving)
        world.transfer_certificate(cid, receiving)
        world.append(EventType.REINSTATE, cid)
        world.checkpoint()
        verdict = verify(world, world.bundle(cid))
        assert signature_check(verdict) == (CheckStatus.PASSED, "signature_valid")
        assert verdict.check("issuer_accredited").code == "kind_not_covered"
        assert verdict.status is VerdictStatus.INVALID

    def test_superseded_by_the_receiving_cb(self) -> None:
        world, cid, entry, receiving = transferred()
        renewal = {**sample("regulation-conformity", 1), "number": "R-2027-001"}
        new = world.supersede(cid, renewal)
        world.checkpoint()
        old_bundle = world.bundle(cid)
        assert old_bundle["event"]["type"] == "supersede"
        assert old_bundle["transfer"]["entry"]["seq"] == entry.seq
        verdict = verify(world, old_bundle)
        assert verdict.status is VerdictStatus.SUPERSEDED, verdict.to_json()
        assert verdict.transfer_seq == entry.seq
        new_bundle = world.bundle(new)
        assert new_bundle["record"]["issuer_id"] == receiving
        assert "transfer" not in new_bundle  # the new certificate is the receiving CB's own
        assert verify(world, new_bundle).status is VerdictStatus.VALID
        assert verify(world, new_bundle).transferred_from is None

    def test_transferred_twice(self) -> None:
        """A to B, B suspends it, B to C, C reinstates it: the bundle carries the latest
        transfer only (B to C), which the verifier checks; the first is the registry's and the
        audit's to check."""
        world, cid, first, second_cb = transferred()
        original = world.records[cid]["issuer_id"]
        world.append(EventType.SUSPEND, cid, reason="Tạm đình chỉ")
        world.admit(THIRD_CB)
        world.approve_key(THIRD_CB)
        second = world.transfer_certificate(cid, THIRD_CB)
        assert second.statement.issuer_id == second_cb
        world.append(EventType.REINSTATE, cid)
        world.checkpoint()
        bundle = world.bundle(cid)
        assert bundle["transfer"]["entry"]["seq"] == second.seq
        verdict = verify(world, bundle)
        assert verdict.status is VerdictStatus.VALID, verdict.to_json()
        assert (verdict.transferred_from, verdict.transfer_seq) == (original, second.seq)
        assert verdict.check("issuer_signature").message.endswith(
            f"(the certificate, issued by {original}, transferred from {second_cb} by the "
            f"authority, log entry {second.seq})"
        )
        # the first transfer hands it to B, not to C, whose event this is
        bundle["transfer"] = world.authority_member(first.seq, bundle["checkpoint"]["tree_size"])
        assert signature_check(verify(world, bundle)) == (CheckStatus.FAILED, "transfer_mismatch")

    def test_an_event_of_a_cb_it_was_not_transferred_to(self) -> None:
        world, cid, entry, _ = transferred()
        world.admit(THIRD_CB)
        world.approve_key(THIRD_CB)
        world.append(EventType.SUSPEND, cid, by=THIRD_CB)
        world.checkpoint()
        bundle = world.bundle(cid)
        assert bundle["transfer"]["entry"]["seq"] == entry.seq  # the latest there is
        verdict = verify(world, bundle)
        assert verdict.status is VerdictStatus.INVALID
        assert signature_check(verdict) == (CheckStatus.FAILED, "transfer_mismatch")
        assert verdict.transferred_from is None

    def test_the_transfer_of_another_certificate(self) -> None:
        world, cid, _, receiving = transferred()
        other = world.issue(sample("regulation-conformity"), number="other-1")
        on_other = world.transfer_certificate(other, receiving)
        world.append(EventType.SUSPEND, cid)
        world.checkpoint()
        bundle = world.bundle(cid)
        bundle["transfer"] = world.authority_member(on_other.seq, bundle["checkpoint"]["tree_size"])
        assert signature_check(verify(world, bundle)) == (CheckStatus.FAILED, "transfer_mismatch")

    def test_a_transfer_with_another_record_hash(self) -> None:
        world, cid, _ = governed()
        receiving = sample("regulation-conformity", 1)["issuer_id"]
        world.admit(receiving)
        world.approve_key(receiving)
        world.transfer_certificate(cid, receiving, record_hash=b"\x07" * 32)
        world.append(EventType.SUSPEND, cid, by=receiving)
        world.checkpoint()
        bundle = world.bundle(cid)
        assert "transfer" in bundle
        assert signature_check(verify(world, bundle)) == (CheckStatus.FAILED, "transfer_mismatch")

    def test_a_transfer_after_the_event(self) -> None:
        world, cid, _ = governed()
        receiving = sample("regulation-conformity", 1)["issuer_id"]
        world.admit(receiving)
        world.approve_key(receiving)
        world.append(EventType.SUSPEND, cid, by=receiving)
        late = world.transfer_certificate(cid, receiving)
        world.checkpoint()
        bundle = world.bundle(cid)
        assert "transfer" not in bundle  # none before the event
        assert signature_check(verify(world, bundle)) == (CheckStatus.FAILED, "issuer_mismatch")
        bundle["transfer"] = world.authority_member(late.seq, bundle["checkpoint"]["tree_size"])
        assert signature_check(verify(world, bundle)) == (CheckStatus.FAILED, "transfer_mismatch")

    @pytest.mark.parametrize(
        "damage",
        [
            ("statement", "reason", "Lý do khác"),
            ("statement", "at", "2026-01-01T00:00:00Z"),
            ("signature", None, None),
        ],
    )
    def test_a_tampered_transfer_is_not_in_the_log(self, damage: tuple[str, Any, Any]) -> None:
        world, cid, _, _ = transferred()
        world.append(EventType.SUSPEND, cid)
        world.checkpoint()
        bundle = world.bundle(cid)
        entry = bundle["transfer"]["entry"]
        part, member, value = damage
        if member is None:
            entry[part] = flip(entry[part], 3)
        else:
            entry[part][member] = value
        verdict = verify(world, bundle)
        assert verdict.status is VerdictStatus.INVALID
        assert signature_check(verdict) == (CheckStatus.FAILED, "transfer_not_included")

    @pytest.mark.parametrize(
        ("change", "code"),
        [
            (("log_inclusion", "leaf_index", 1), "transfer_mismatch"),
            (("log_inclusion", "tree_size", 1), "transfer_mismatch"),
            (("log_inclusion", "tree_size", -1), "transfer_mismatch"),
            (("log_inclusion", "hashes", None), "transfer_not_included"),
        ],
    )
    def test_a_wrong_inclusion(self, change: tuple[str, str, int | None], code: str) -> None:
        world, cid, _, _ = transferred()
        world.append(EventType.SUSPEND, cid)
        world.checkpoint()
        bundle = world.bundle(cid)
        part, member, delta = change
        target = bundle["transfer"][part]
        if delta is None:
            target[member] = target[member][:-1]
        else:
            target[member] += delta
        assert signature_check(verify(world, bundle)) == (CheckStatus.FAILED, code)

    def test_signed_by_another_key_than_the_authority_s(self) -> None:
        """The registry appends a transfer of its own making: the log holds it, but a verifier
        pinning the authority's key refuses it."""
        world, cid, _ = governed()
        receiving = sample("regulation-conformity", 1)["issuer_id"]
        world.admit(receiving)
        world.approve_key(receiving)
        world.transfer_certificate(cid, receiving, forged_by=Ed25519PrivateKey.generate())
        world.append(EventType.SUSPEND, cid)
        world.checkpoint()
        verdict = verify(world, world.bundle(cid))
        assert verdict.status is VerdictStatus.INVALID
        assert signature_check(verdict) == (CheckStatus.FAILED, "authority_signature_invalid")
        assert verdict.transferred_from is None
        world.pin_authority = False
        verdict = verify(world, world.bundle(cid))
        assert verdict.status is VerdictStatus.SUSPENDED
        assert "was not checked" in verdict.check("issuer_signature").message

    def test_missing(self) -> None:
        world, cid, _, _ = transferred()
        world.append(EventType.SUSPEND, cid)
        world.checkpoint()
        bundle = world.bundle(cid)
        del bundle["transfer"]
        verdict = verify(world, bundle)
        assert verdict.status is VerdictStatus.INVALID
        assert signature_check(verdict) == (CheckStatus.FAILED, "issuer_mismatch")

    def test_present_when_the_event_is_the_record_s_cb_s(self) -> None:
        world, cid, entry, _ = transferred()
        world.checkpoint()
        bundle = world.bundle(cid)
        assert "transfer" not in bundle  # the event is the issue, by the record's CB
        assert verify(world, bundle).status is VerdictStatus.VALID
        bundle["transfer"] = world.authority_member(entry.seq, bundle["checkpoint"]["tree_size"])
        verdict = verify(world, bundle)
        assert verdict.status is VerdictStatus.INVALID
        assert signature_check(verdict) == (CheckStatus.FAILED, "transfer_mismatch")

    def test_another_kind_of_authority_entry(self) -> None:
        world, cid, _, _ = transferred()
        world.append(EventType.SUSPEND, cid)
        world.checkpoint()
        bundle = world.bundle(cid)
        bundle["transfer"] = bundle["key_approval"]
        assert signature_check(verify(world, bundle)) == (CheckStatus.FAILED, "transfer_mismatch")

    @pytest.mark.parametrize(
        "damage",
        [
            {"entry": {}},
            "not an object",
            {"log_inclusion": {"leaf_index": 1, "tree_size": 4, "hashes": []}},
            {"entry": "x", "log_inclusion": {"leaf_index": 1, "tree_size": 4, "hashes": []}},
        ],
    )
    def test_malformed(self, damage: Any) -> None:
        world, cid, _, _ = transferred()
        world.append(EventType.SUSPEND, cid)
        world.checkpoint()
        bundle = world.bundle(cid) | {"transfer": damage}
        assert signature_check(verify(world, bundle)) == (CheckStatus.FAILED, "malformed_transfer")

    def test_on_a_pending_or_unknown_bundle(self) -> None:
        world, cid, _, _ = transferred()
        world.append(EventType.SUSPEND, cid)
        world.checkpoint()
        carried = world.bundle(cid)["transfer"]
        world.append(EventType.REINSTATE, cid)
        pending = world.pending_bundle(cid)
        assert pending["event"]["type"] == "reinstate"
        # a PENDING bundle cannot prove the transfer: its event of another CB is refused
        assert signature_check(verify(world, pending)) == (CheckStatus.FAILED, "issuer_mismatch")
        pending |= {"transfer": carried}
        assert signature_check(verify(world, pending)) == (CheckStatus.FAILED, "unexpected_proof")
        unknown = world.bundle("0x" + "ab" * 32) | {"transfer": carried}
        assert signature_check(verify(world, unknown)) == (CheckStatus.FAILED, "transfer_mismatch")

    def test_an_old_bundle_is_refreshed_to_the_receiving_cb_s_status(self) -> None:
        world, cid, _ = governed()
        old = world.bundle(cid)
        receiving = sample("regulation-conformity", 1)["issuer_id"]
        world.admit(receiving)
        world.approve_key(receiving)
        transfer = world.transfer_certificate(cid, receiving)
        world.append(EventType.WITHDRAW, cid, reason="Khách hàng đề nghị")
        world.checkpoint()
        assert "transfer" in world.status_document(cid)
        verdict = verify(world, old)
        assert verdict.status is VerdictStatus.WITHDRAWN, verdict.to_json()
        assert verdict.refreshed_from == "registry.example"
        assert verdict.transfer_seq == transfer.seq
        # not refreshed, the bundle's own event (the issue) names no transfer
        stale = verify(world, old, fresh=False)
        assert stale.status is VerdictStatus.STALE
        assert stale.transfer_seq is None


# --- tampering with any single byte ---------------------------------------------------------


def leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from leaves(item, (*path, i))
    else:
        yield path, value


def set_at(bundle: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(bundle)
    target: Any = changed
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return changed


def flip(text: str, position: int) -> str:
    char = text[position]
    other = "b" if char == "a" else ("1" if char == "0" else "a")
    if char in "0123456789abcdef" and char != "a":
        other = "0" if char != "0" else "1"
    return text[:position] + other + text[position + 1 :]


def tampered(bundle: dict[str, Any], sections: tuple[str, ...]) -> Iterator[tuple[str, Any]]:
    for path, value in leaves({k: bundle[k] for k in sections}):
        where = "/".join(map(str, path))
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, int):
            yield f"{where}+1", set_at(bundle, path, value + 1)
        elif isinstance(value, str):
            for position in range(len(value)):
                yield f"{where}@{position}", set_at(bundle, path, flip(value, position))


SECTIONS = (
    "record",
    "event",
    "log_inclusion",
    "status_proof",
    "checkpoint",
    "certificate_id",
    "first_anchored_index",
)


@pytest.mark.parametrize(
    "kind", ["anchored", "superseded", "unknown", "governed", "authority_action", "transfer"]
)
def test_every_single_change_is_invalid(world: World, kind: str) -> None:
    """Every character of every string, and every integer, of the record, event, proofs and
    checkpoint (and the authority's entries a governed CB's bundle carries, its action on the
    certificate included), changed in turn: the verdict is INVALID every time."""
    cid = ids(world)[0]
    if kind == "superseded":
        world.supersede(cid, replacement(), valid_until="2030-01-01")
        world.checkpoint()
    if kind == "governed":
        world, cid, _ = governed()
    if kind == "authority_action":
        world, cid, _ = acted()
    if kind == "transfer":
        world, cid, _, _ = transferred()
        world.append(EventType.SUSPEND, cid)
        world.checkpoint()
    bundle = world.bundle("0x" + "cd" * 32 if kind == "unknown" else cid)
    assert verify(world, bundle).status is not VerdictStatus.INVALID
    sections: tuple[str, ...] = (
        SECTIONS if kind != "unknown" else ("status_proof", "checkpoint", "certificate_id")
    )
    if kind == "governed":
        sections = ("event", "key_approval", "admission")
    if kind == "authority_action":
        sections = ("authority_action", "status_proof", "log_inclusion", "event")
    if kind == "transfer":
        sections = ("transfer", "event", "record")
    survivors = []
    count = 0
    for where, changed in tampered(bundle, sections):
        count += 1
        if verify(world, changed).status is not VerdictStatus.INVALID:
            survivors.append(where)
    assert count > 500
    assert survivors == []


def test_a_replacement_by_another_issuer_is_invalid(world: World) -> None:
    old = ids(world)[0]
    other = sample("regulation-conformity", 1)  # another issuer's certificate
    assert other["issuer_id"] != world.records[old]["issuer_id"]
    world.supersede(old, other)
    world.checkpoint()
    verdict = verify(world, world.bundle(old))
    assert verdict.status is VerdictStatus.INVALID
    assert verdict.check("issuer_signature").code == "issuer_mismatch"


def test_unknown_before_any_checkpoint_is_unknown_not_invalid() -> None:
    world = World()
    bundle = {
        "format": "certreg-bundle/1",
        "status": "UNKNOWN",
        "certificate_id": "0x" + "ab" * 32,
        "record": None,
        "event": None,
        "log_inclusion": None,
        "status_proof": None,
        "checkpoint": None,
        "anchor": None,
        "issuer_key": None,
    }
    verdict = verify_bundle(bundle, trust=world.trust, chain=world.facts_for(bundle), today=TODAY)
    assert verdict.status is VerdictStatus.UNKNOWN
    assert verdict.check("certificate_status").code == "no_checkpoint"
    assert verdict.check("checkpoint_anchored").code == "no_checkpoint"
