"""The verifier's decision logic on bundles built in memory (tests/bundles.py)."""

import copy
import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from registry.core.events import EventType
from registry.core.verify import (
    CHECK_NAMES,
    ChainFacts,
    CheckStatus,
    Verdict,
    VerdictStatus,
    verify_bundle,
)
from tests.bundles import TODAY, World, sample


def verify(world: World, bundle: Any, *, chain: bool = True, **options: Any) -> Verdict:
    facts = world.facts_for(bundle) if chain else None
    return verify_bundle(
        bundle, trust=world.trust, chain=facts, today=options.pop("today", TODAY), **options
    )


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
        assert [c.name for c in verdict.checks] == list(CHECK_NAMES)
        assert all(c.status is CheckStatus.PASSED for c in verdict.checks), verdict.to_json()
        assert verdict.check("certificate_status").code == "valid"
        assert verdict.checkpoint_index == 0

    def test_without_chain_access_chain_checks_are_skipped(self, world: World) -> None:
        verdict = verify(world, world.bundle(ids(world)[0]), chain=False)
        assert verdict.status is VerdictStatus.VALID
        skipped = {c.name for c in verdict.checks if c.status is CheckStatus.SKIPPED}
        assert skipped == {"issuer_key_registered", "checkpoint_anchored"}

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
        assert verify(world, world.bundle(ids(world)[0])).status is status

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
        assert verdict.check("certificate_status").code == "not_issued"
        assert verdict.check("checkpoint_anchored").status is CheckStatus.PASSED

    def test_pending(self, world: World) -> None:
        new = world.issue(sample("test-report"))
        verdict = verify(world, world.pending_bundle(new))
        assert verdict.status is VerdictStatus.PENDING
        assert verdict.check("issuer_signature").status is CheckStatus.PASSED
        assert verdict.check("log_inclusion").status is CheckStatus.SKIPPED

    def test_an_old_bundle_is_not_current(self, world: World) -> None:
        cid = ids(world)[0]
        old = world.bundle(cid)
        world.append(EventType.WITHDRAW, cid, reason="fraud")
        world.checkpoint()
        # As of its own checkpoint it still proves what it proved then...
        assert verify(world, old).status is VerdictStatus.VALID
        assert verify(world, old).check("checkpoint_anchored").code == "anchored_older"
        # ...but it does not pass as the current status.
        current = verify(world, old, require_current=True)
        assert current.status is VerdictStatus.UNKNOWN
        assert current.check("checkpoint_anchored").code == "newer_checkpoint"
        # Moved onto the new checkpoint, its proofs no longer match.
        moved = copy.deepcopy(old)
        moved["checkpoint"] = world.bundle(cid)["checkpoint"]
        moved["anchor"] = world.bundle(cid)["anchor"]
        assert verify(world, moved).status is VerdictStatus.INVALID
        assert verify(world, world.bundle(cid), require_current=True).status is (
            VerdictStatus.WITHDRAWN
        )


class TestChainChecks:
    def test_key_not_registered(self, world: World) -> None:
        bundle = world.bundle(ids(world)[0])
        facts = world.facts_for(bundle)
        verdict = verify_bundle(
            bundle,
            trust=world.trust,
            chain=ChainFacts(
                checkpoint=facts.checkpoint,
                latest_index=facts.latest_index,
                issuer_key=None,
                anchor_tx_matches=True,
            ),
            today=TODAY,
        )
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
        [None, [], "x", {}, {"format": "certreg-bundle/2"}],
        ids=["null", "list", "string", "empty", "other-format"],
    )
    def test_envelope(self, world: World, bundle: Any) -> None:
        verdict = verify(world, bundle)
        assert verdict.status is VerdictStatus.INVALID
        assert {c.code for c in verdict.checks} == {"malformed_bundle"}

    def test_unknown_member(self, world: World) -> None:
        bundle = world.bundle(ids(world)[0]) | {"extra": 1}
        assert verify(world, bundle).status is VerdictStatus.INVALID

    def test_pending_claim_on_an_anchored_bundle(self, world: World) -> None:
        bundle = world.bundle(ids(world)[0]) | {"status": "PENDING"}
        assert verify(world, bundle).status is VerdictStatus.INVALID


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


SECTIONS = ("record", "event", "log_inclusion", "status_proof", "checkpoint", "certificate_id")


@pytest.mark.parametrize("kind", ["anchored", "superseded", "unknown"])
def test_every_single_change_is_invalid(world: World, kind: str) -> None:
    """Every character of every string, and every integer, of the record, event, proofs and
    checkpoint, changed in turn: the verdict is INVALID every time."""
    cid = ids(world)[0]
    if kind == "superseded":
        world.supersede(cid, replacement(), valid_until="2030-01-01")
        world.checkpoint()
    bundle = world.bundle("0x" + "cd" * 32 if kind == "unknown" else cid)
    assert verify(world, bundle).status is not VerdictStatus.INVALID
    sections = SECTIONS if kind != "unknown" else ("status_proof", "checkpoint", "certificate_id")
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


def test_an_unreachable_chain_makes_the_verdict_unknown(world: World) -> None:
    verdict = verify_bundle(
        world.bundle(ids(world)[0]),
        trust=world.trust,
        chain=None,
        today=TODAY,
        chain_unavailable="eth_call: connection refused",
    )
    assert verdict.status is VerdictStatus.UNKNOWN
    assert verdict.check("checkpoint_anchored").code == "chain_unavailable"


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
    verdict = verify_bundle(bundle, trust=world.trust, chain=None, today=TODAY)
    assert verdict.status is VerdictStatus.UNKNOWN
    assert verdict.check("certificate_status").code == "no_checkpoint"
    assert verdict.check("checkpoint_anchored").code == "no_checkpoint"
