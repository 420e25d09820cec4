"""The auditor's check that an event needing it is signed with a key the authority approved
(verifier/audit.py; docs/spec.md §3a.1, §3a.5): every case it must report, and those it must
not."""

import datetime as dt
from typing import Any, cast

import pytest

from anchoring.client import AnchorClient
from registry.core.events import Event, EventType, issuer_key_id
from registry.core.governance import Custody, KeyApproval
from registry.core.hashing import sha256
from tests.bundles import World, sample
from tests.unit.verifier.test_audit_hostile import Chain, registry
from verifier.audit import AuditReport, _Replay, audit

CB = "vn-cb-quatest3"
KEY_ID = sha256(b"key")


def _replay(approval: KeyApproval | None) -> _Replay:
    replay = _Replay(
        client=cast(Any, None),
        chain=[],
        report=AuditReport(),
        certificate_id=None,
        at_checkpoint=None,
    )
    if approval is not None:
        replay.governance.keys[(approval.issuer_id, approval.key_id)] = approval
    return replay


def _approval(
    approved_seq: int = 4,
    revoked_from_seq: int | None = None,
    *,
    issuer_id: str = CB,
    key_id: bytes = KEY_ID,
) -> KeyApproval:
    return KeyApproval(
        issuer_id=issuer_id,
        key_id=key_id,
        public_key=sha256(b"public"),
        custody=Custody.HELD,
        approved_seq=approved_seq,
        revoked_from_seq=revoked_from_seq,
    )


def _event(
    kind: EventType = EventType.ISSUE, admission_seq: int | None = 3, version: int = 1
) -> Event:
    return Event(
        seq=10,
        type=kind,
        certificate_id="0x" + "ab" * 32,
        record_hash=sha256(b"record"),
        issuer_id=CB,
        key_id=KEY_ID,
        at=dt.datetime(2026, 12, 7, tzinfo=dt.UTC),
        reason=None if kind is EventType.ISSUE else "x",
        admission_seq=admission_seq,
        version=version,
    )


@pytest.mark.parametrize(
    ("approval", "event", "finding"),
    [
        (_approval(), _event(), None),
        (_approval(revoked_from_seq=11), _event(), None),  # revoked only after the event
        (None, _event(admission_seq=None), None),  # a key from before the approvals
        (None, _event(EventType.SUSPEND, admission_seq=None), None),
        (None, _event(), "approved for it before (none)"),
        (_approval(issuer_id="vn-other-cb"), _event(), "approved for it before (none)"),
        (_approval(key_id=sha256(b"other")), _event(), "approved for it before (none)"),
        (_approval(approved_seq=12), _event(), "approved for it before (entry 12)"),
        (_approval(revoked_from_seq=10), _event(), "revoked from entry 10"),
        (_approval(revoked_from_seq=2), _event(), "revoked from entry 2"),
    ],
)
def test_key_approved_and_not_revoked(
    approval: KeyApproval | None, event: Event, finding: str | None
) -> None:
    replay = _replay(approval)
    replay._check_key_approval(event)
    report = replay.report
    assert report.keys_checked == (0 if event.admission_seq is None else 1)
    if finding is None:
        assert report.problems == []
    else:
        assert len(report.problems) == 1 and finding in report.problems[0], report.problems
        assert f"entry {event.seq}: {event.type.value} by {CB}" in report.problems[0]


def test_a_statement_the_cb_signed_needs_an_approval() -> None:
    # Version 2 (the CB signs a statement itself): needs an approved key even without an
    # admission.
    replay = _replay(None)
    replay._check_key_approval(_event(EventType.SUSPEND, admission_seq=None, version=2))
    assert replay.report.keys_checked == 1
    assert len(replay.report.problems) == 1
    approved = _replay(_approval())
    approved._check_key_approval(_event(EventType.SUSPEND, admission_seq=None, version=2))
    assert approved.report.problems == []


def test_the_report_counts_them() -> None:
    replay = _replay(_approval())
    for _ in range(3):
        replay._check_key_approval(_event())
    assert replay.report.keys_checked == 3
    assert replay.report.to_json()["keys_checked"] == 3
    assert replay.report.ok


# --- the whole log replayed: the keys come from the authority's entries ----------------------


def _audited(world: World) -> AuditReport:
    return audit(
        client=cast(AnchorClient, Chain(world)),
        http=registry(world),
        vkey=world.signer.verifier(),
        authority_key=world.authority_public,
    )


def _governed(*, approve: bool = True, revoke: bool = False) -> World:
    world = World()
    issuer = sample("inspection")["issuer_id"]
    world.issue(sample("calibration"))  # a CB from before the statements: needs no approval
    world.admit(issuer)
    if approve:
        world.approve_key(issuer, Custody.HOSTED)
    if revoke:
        world.revoke_key(issuer, revoked_from_seq=len(world.entries))
    world.checkpoint()
    world.issue(sample("inspection"))  # names the admission
    world.checkpoint()
    return world


def test_an_approved_key_passes_the_audit() -> None:
    report = _audited(_governed())
    assert report.ok, report.problems
    assert (report.statements, report.keys_checked, report.admissions_checked) == (2, 1, 1)
    assert report.authority_signatures_checked == 2


def test_a_key_never_approved_is_a_finding() -> None:
    report = _audited(_governed(approve=False))
    assert report.keys_checked == 1
    assert [p for p in report.problems if "approved for it before (none)" in p], report.problems
    assert len(report.problems) == 1, report.problems


def test_a_revoked_key_is_a_finding() -> None:
    # The event signed after the revocation is one finding; the chain, which this world never
    # told of the revocation (no worker), still holding the key in force is the other.
    report = _audited(_governed(revoke=True))
    assert len(report.problems) == 2, report.problems
    assert "revoked from entry 3" in report.problems[0]
    assert "the chain has it not revoked" in report.problems[1]
    assert report.revocations_checked == 0


def test_the_chain_carries_the_authoritys_revocation() -> None:
    """As the worker does: the key revoked on chain from the block of the first checkpoint past
    the revocation's position. Only the log's own finding remains."""
    world = _governed(revoke=True)
    issuer = sample("inspection")["issuer_id"]
    key_id = issuer_key_id(world.key(issuer).public_key().public_bytes_raw())
    valid_from, _ = world.key_blocks[key_id]
    first_block = world.checkpoints[0][2]
    world.key_blocks[key_id] = (valid_from, first_block)
    report = _audited(world)
    assert report.revocations_checked == 1
    assert [p for p in report.problems if "the chain has it" in p] == []
