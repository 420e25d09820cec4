"""The auditor's `records` check: every certificate put in force under an admission was within
its scope on the day, by the record the registry serves for it, which must hash to the event's
`record_hash` (verifier/audit.py; docs/spec.md §3a.6, §11.7). And the order of statements a CB
signed itself (version 2: no `seq` of their own, docs/spec.md §3.1)."""

import dataclasses
import datetime as dt
from typing import Any, cast

import httpx2

from anchoring.client import AnchorClient
from registry.core.events import Event, EventType
from registry.core.governance import Admit, Custody, Scope
from registry.core.hashing import sha256
from tests.bundles import World, sample
from tests.unit.verifier.test_audit_hostile import Chain, registry
from verifier.audit import AuditReport, _Replay, audit


def _narrow_world() -> tuple[World, str, str]:
    """A CB admitted for calibration only, whose registry appended an inspection anyway."""
    world = World()
    issuer = sample("calibration")["issuer_id"]
    world.state(
        Admit(
            **world._common(issuer),
            name_vi="Phòng hiệu chuẩn",
            name_en="Calibration lab",
            accreditation_body="BoA",
            accreditation_number="VILAS 001",
            scope=Scope(kinds=("calibration",)),
            valid_from=dt.date(2020, 1, 1),
            valid_until=dt.date(2099, 12, 31),
        )
    )
    world.approve_key(issuer, Custody.HOSTED)
    inside = world.issue(sample("calibration"))
    outside = world.issue(sample("inspection"), issuer_id=issuer)
    world.checkpoint()
    return world, inside, outside


def _audited(world: World, serve: dict[str, Any]) -> AuditReport:
    def records(request: httpx2.Request) -> httpx2.Response | None:
        path = request.url.path
        if not path.startswith("/v1/certificates/"):
            return None
        certificate_id = path.rsplit("/", 1)[1]
        if certificate_id not in serve:
            return httpx2.Response(404)
        return httpx2.Response(200, json={"id": certificate_id, "record": serve[certificate_id]})

    return audit(
        client=cast(AnchorClient, Chain(world)),
        http=registry(world, records),
        vkey=world.signer.verifier(),
        authority_key=world.authority_public,
        records=True,
    )


def test_a_certificate_outside_the_scope_is_reported() -> None:
    world, _, outside = _narrow_world()
    report = _audited(world, world.records)
    assert report.scope_checked == 2
    [problem] = report.problems
    assert outside in problem and "outside the admission in force" in problem
    assert "kind_not_covered" in problem


def test_without_records_nothing_is_fetched() -> None:
    world, _, _ = _narrow_world()
    report = audit(
        client=cast(AnchorClient, Chain(world)),
        http=registry(world),
        vkey=world.signer.verifier(),
        authority_key=world.authority_public,
    )
    assert report.ok, report.problems
    assert report.scope_checked == 0


def test_the_registry_cannot_answer_with_another_record() -> None:
    world, inside, outside = _narrow_world()
    # The registry serves a calibration record for the inspection: it does not hash to the
    # event's record_hash.
    disguised = {**world.records[outside], "kind": "calibration"}
    report = _audited(world, {**world.records, outside: disguised})
    [problem] = report.problems
    assert "hashes to" in problem and outside in problem
    # A record not served at all is a finding too.
    report = _audited(world, {inside: world.records[inside]})
    assert any(outside in p and "got no record" in p for p in report.problems), report.problems


def _statement(at: dt.datetime, reason: str = "holder-request") -> Event:
    return Event(
        seq=5,
        type=EventType.SUSPEND,
        certificate_id="0x" + "ab" * 32,
        record_hash=sha256(b"record"),
        issuer_id="vn-cb-quatest3",
        key_id=sha256(b"key"),
        at=at,
        reason=reason,
        version=2,
    )


def test_statements_a_cb_signed_are_appended_in_order_once() -> None:
    replay = _Replay(
        client=cast(Any, None),
        chain=[],
        report=AuditReport(),
        certificate_id=None,
        at_checkpoint=None,
    )
    at = dt.datetime(2026, 12, 7, 9, tzinfo=dt.UTC)
    first = _statement(at)
    replay._check_statement_order(first)
    replay._check_statement_order(_statement(at, reason="other"))  # same second: fine
    assert replay.report.problems == []
    replay._check_statement_order(dataclasses.replace(first, seq=9))  # the same again
    replay._check_statement_order(_statement(at - dt.timedelta(seconds=1)))  # older
    assert len(replay.report.problems) == 2, replay.report.problems
    # Version 1 events (the registry signed them with seq) are not this check's.
    replay._check_statement_order(dataclasses.replace(first, version=1))
    assert len(replay.report.problems) == 2


def _withdrawn_cb_world(*, stated_of: str | None = None) -> World:
    """A CB withdrawn by the authority, which then withdraws one of its certificates; with
    `stated_of`, the statement names another (withdrawn) CB than the certificate's."""
    world = World()
    issuer = sample("calibration")["issuer_id"]
    other = sample("inspection")["issuer_id"]
    world.admit(issuer)
    world.approve_key(issuer, Custody.HOSTED)
    certificate = world.issue(sample("calibration"))
    world.admit(other)
    world.withdraw_issuer(issuer)
    world.withdraw_issuer(other)
    world.withdraw_certificate(certificate, issuer_id=stated_of)
    world.checkpoint()
    return world


def test_the_authority_withdraws_a_certificate_of_a_withdrawn_cb() -> None:
    report = audit(
        client=cast(AnchorClient, Chain(world := _withdrawn_cb_world())),
        http=registry(world),
        vkey=world.signer.verifier(),
        authority_key=world.authority_public,
    )
    assert report.ok, report.problems
    assert report.statements == 6


def test_an_action_stated_of_another_cb_is_a_finding() -> None:
    world = _withdrawn_cb_world(stated_of=sample("inspection")["issuer_id"])
    report = audit(
        client=cast(AnchorClient, Chain(world)),
        http=registry(world),
        vkey=world.signer.verifier(),
        authority_key=world.authority_public,
    )
    [problem] = report.problems
    assert "want its own CB" in problem


def _transferred_world(*, changed_by_giver: bool = False) -> World:
    """A's certificate transferred to B by the authority, then suspended: by B, or (a registry
    that let it) by A."""
    world = World()
    giver = sample("calibration")["issuer_id"]
    receiver = sample("inspection")["issuer_id"]
    for cb in (giver, receiver):
        world.admit(cb)
        world.approve_key(cb, Custody.HOSTED)
    certificate = world.issue(sample("calibration"))
    world.transfer_certificate(certificate, receiver)
    world.append(
        EventType.SUSPEND,
        certificate,
        by=giver if changed_by_giver else None,
        reason="holder-request",
    )
    world.checkpoint()
    return world


def test_a_transferred_certificate_is_changed_by_its_new_cb() -> None:
    world = _transferred_world()
    report = audit(
        client=cast(AnchorClient, Chain(world)),
        http=registry(world),
        vkey=world.signer.verifier(),
        authority_key=world.authority_public,
    )
    assert report.ok, report.problems


def test_the_giving_cb_changing_it_after_the_transfer_is_a_finding() -> None:
    world = _transferred_world(changed_by_giver=True)
    report = audit(
        client=cast(AnchorClient, Chain(world)),
        http=registry(world),
        vkey=world.signer.verifier(),
        authority_key=world.authority_public,
    )
    [problem] = report.problems
    assert "want its CB" in problem and sample("inspection")["issuer_id"] in problem
