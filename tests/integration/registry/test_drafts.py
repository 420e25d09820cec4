"""Drafts and the second person's decision (registry.drafts; docs/spec.md §11.12), on both
databases: a CB's setting `review_required`, drafts prepared, edited, submitted, approved
(issued through the ordinary path) or rejected, and who may do which."""

import itertools
import json
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from registry.accounts import Actor, Principal, Role
from registry.core.disclosure import hash_record
from registry.core.events import Event, EventType, verify_event_signature
from registry.db import models
from registry.drafts import Drafts
from registry.errors import (
    ConflictError,
    ForbiddenError,
    IllegalTransitionError,
    InvalidRequestError,
    NotFoundError,
)
from registry.records import Submission, certificate_id_for, submission_adapter
from registry.samples import typed_samples
from registry.service import RegistryService
from tests.integration.registry.conftest import Clock, admit

A = "vn-cb-quatest3"
B = "vn-cb-hoabinh"


def _as(principal: Principal) -> Actor:
    return Actor(principal=principal, address="192.0.2.7", user_agent="pytest")


class World:
    """Two CBs; CB A with an admin and two officers, CB B with an officer; an authority admin
    and an auditor. Each person acts through an `Actor`."""

    def __init__(self, service: RegistryService) -> None:
        self.service = service
        self.drafts: Drafts = service.drafts
        self._numbers = itertools.count(1)
        admit(service, A)
        admit(service, B)
        accounts = service.accounts
        created = accounts.bootstrap_authority(name="Quản trị", login="d-authority")
        setup = accounts.authenticate_token(created.setup_token)
        made = accounts.create_token(
            setup, account_id=None, label="t", expires_in_days=30, actor=_as(setup)
        )
        self.authority = _as(accounts.authenticate_token(made.secret))
        self.auditor = self._make(self.authority, Role.AUDITOR, None, "d-auditor")
        self.admin = self._make(self.authority, Role.CB_ADMIN, A, "d-admin-a")
        self.preparer = self._make(self.admin, Role.CB_OFFICER, A, "d-preparer")
        self.reviewer = self._make(self.admin, Role.CB_OFFICER, A, "d-reviewer")
        other_admin = self._make(self.authority, Role.CB_ADMIN, B, "d-admin-b")
        self.other = self._make(other_admin, Role.CB_OFFICER, B, "d-other")

    def _make(self, by: Actor, role: Role, issuer_id: str | None, login: str) -> Actor:
        accounts = self.service.accounts
        assert by.principal is not None
        created = accounts.create_account(
            by.principal, role=role, issuer_id=issuer_id, name=login, login=login, actor=by
        )
        setup = accounts.authenticate_token(created.setup_token)
        made = accounts.create_token(
            setup, account_id=None, label="t", expires_in_days=30, actor=_as(setup)
        )
        return _as(accounts.authenticate_token(made.secret))

    def submission(self, issuer_id: str = A, **changes: Any) -> Submission:
        """A typed (format 2) sample of `issuer_id`'s, under a new number."""
        sample = next(s for s in typed_samples() if s["issuer_id"] == issuer_id)
        number = f"DRAFT-{next(self._numbers):05d}"
        return submission_adapter().validate_python({**sample, "number": number, **changes})

    def review(self, on: bool) -> None:
        self.drafts.set_settings(self.admin, A, review_required=on)


@pytest.fixture
def world(service: RegistryService) -> World:
    return World(service)


def _account(actor: Actor) -> str:
    assert actor.principal is not None
    return actor.principal.account_id


def _verifies(sessions: sessionmaker[Session], certificate_id: str) -> Event:
    """The certificate's record hashes as its row and event say, and the event is signed by
    its CB's active key."""
    with sessions() as session:
        row = session.get(models.Certificate, certificate_id)
        assert row is not None
        entry = session.scalars(
            select(models.Event.entry).where(models.Event.seq == row.last_event_seq)
        ).one()
        key = session.scalars(
            select(models.IssuerKey).where(
                models.IssuerKey.issuer_id == row.issuer_id, models.IssuerKey.state == "active"
            )
        ).one()
        record = json.loads(row.record)
    event = Event.from_leaf(entry)
    assert event.record_hash == row.record_hash == hash_record(record)
    verify_event_signature(event, key.public_key)
    return event


def _audit(world: World, prefix: str) -> list[tuple[str, str | None, dict[str, Any]]]:
    assert world.authority.principal is not None
    return [
        (e.action, e.account_id, e.detail)
        for e in world.service.accounts.audit_trail(world.authority.principal, limit=1000)
        if e.action.startswith(prefix)
    ]


class TestTheFlow:
    def test_create_edit_submit_approve_issues_a_certificate_that_verifies(
        self, world: World, sessions: sessionmaker[Session]
    ) -> None:
        world.review(True)
        draft = world.drafts.create(world.preparer, world.submission())
        assert (draft.state, draft.revision, draft.prepared_by) == (
            "draft",
            1,
            _account(world.preparer),
        )
        edited = world.submission(holder_name="Công ty Cổ phần Đã Sửa")
        draft = world.drafts.update(world.preparer, draft.id, edited, revision=1)
        assert draft.submission["holder_name"] == "Công ty Cổ phần Đã Sửa"
        assert draft.number == edited.number
        draft = world.drafts.submit(world.preparer, draft.id, revision=draft.revision)
        assert draft.state == "submitted" and draft.submitted_at is not None
        approved, result = world.drafts.approve(
            world.reviewer, draft.id, revision=draft.revision, comment="Đủ hồ sơ"
        )
        assert result.created
        assert approved.state == "issued"
        assert approved.certificate_id == result.certificate.id
        assert approved.certificate_id == certificate_id_for(issuer_id=A, number=edited.number)
        assert (approved.reviewed_by, approved.comment) == (_account(world.reviewer), "Đủ hồ sơ")
        event = _verifies(sessions, result.certificate.id)
        assert event.type is EventType.ISSUE
        assert result.certificate.record["format"] == 2

    def test_reject_edit_resubmit(self, world: World) -> None:
        world.review(True)
        draft = world.drafts.create(world.preparer, world.submission())
        draft = world.drafts.submit(world.preparer, draft.id, revision=draft.revision)
        with pytest.raises(InvalidRequestError, match="comment"):
            world.drafts.reject(world.reviewer, draft.id, revision=draft.revision, comment=" ")
        draft = world.drafts.reject(
            world.reviewer, draft.id, revision=draft.revision, comment="Sai địa chỉ"
        )
        assert (draft.state, draft.comment) == ("rejected", "Sai địa chỉ")
        with pytest.raises(IllegalTransitionError, match="rejected"):
            world.drafts.approve(world.reviewer, draft.id, revision=draft.revision)
        draft = world.drafts.update(
            world.preparer, draft.id, world.submission(), revision=draft.revision
        )
        assert draft.state == "draft"
        draft = world.drafts.submit(world.preparer, draft.id, revision=draft.revision)
        approved, _ = world.drafts.approve(world.reviewer, draft.id, revision=draft.revision)
        assert approved.state == "issued"

    def test_a_replacement(self, world: World, sessions: sessionmaker[Session]) -> None:
        old = world.service.issue(A, world.submission()).certificate
        world.review(True)
        draft = world.drafts.create(
            world.preparer, world.submission(), supersedes=old.id, reason="renewal: năm 2027"
        )
        draft = world.drafts.submit(world.preparer, draft.id, revision=draft.revision)
        _, result = world.drafts.approve(world.admin, draft.id, revision=draft.revision)
        assert result.certificate.supersedes == old.id
        assert world.service.get(old.id).status == "superseded"
        event = _verifies(sessions, result.certificate.id)
        assert (event.type, event.reason) == (EventType.SUPERSEDE, "renewal: năm 2027")

    def test_a_reviewer_approves_exactly_the_revision_read(self, world: World) -> None:
        draft = world.drafts.create(world.preparer, world.submission())
        draft = world.drafts.submit(world.preparer, draft.id, revision=draft.revision)
        with pytest.raises(ConflictError, match="revision"):
            world.drafts.approve(world.reviewer, draft.id, revision=draft.revision - 1)
        assert world.drafts.get(world.reviewer, draft.id).state == "submitted"

    def test_edits_and_submission_are_the_preparers(self, world: World) -> None:
        draft = world.drafts.create(world.preparer, world.submission())
        with pytest.raises(ForbiddenError, match="preparer"):
            world.drafts.update(world.reviewer, draft.id, world.submission(), revision=1)
        with pytest.raises(ForbiddenError, match="preparer"):
            world.drafts.submit(world.reviewer, draft.id, revision=1)
        draft = world.drafts.submit(world.preparer, draft.id, revision=1)
        with pytest.raises(IllegalTransitionError, match="submitted"):
            world.drafts.update(world.preparer, draft.id, world.submission(), revision=2)

    def test_withdrawn_by_the_preparer_or_an_admin_only(self, world: World) -> None:
        first = world.drafts.create(world.preparer, world.submission())
        second = world.drafts.create(world.preparer, world.submission())
        with pytest.raises(ForbiddenError, match="preparer"):
            world.drafts.withdraw(world.reviewer, first.id, revision=1)
        assert world.drafts.withdraw(world.preparer, first.id, revision=1).state == "withdrawn"
        withdrawn = world.drafts.withdraw(world.admin, second.id, revision=1)
        assert (withdrawn.state, withdrawn.withdrawn_by) == ("withdrawn", _account(world.admin))
        with pytest.raises(IllegalTransitionError, match="withdrawn"):
            world.drafts.submit(world.preparer, first.id, revision=2)


class TestTheSecondPerson:
    def test_the_preparer_cannot_approve_when_review_is_required(self, world: World) -> None:
        world.review(True)
        draft = world.drafts.create(world.preparer, world.submission())
        with pytest.raises(IllegalTransitionError, match="draft draft"):
            world.drafts.approve(world.reviewer, draft.id, revision=1)  # not submitted yet
        draft = world.drafts.submit(world.preparer, draft.id, revision=1)
        with pytest.raises(ForbiddenError, match="preparer"):
            world.drafts.approve(world.preparer, draft.id, revision=draft.revision)
        with pytest.raises(ForbiddenError, match="preparer"):
            world.drafts.reject(world.preparer, draft.id, revision=draft.revision, comment="x")
        assert world.drafts.get(world.preparer, draft.id).state == "submitted"

    def test_the_preparer_may_issue_directly_when_review_is_not_required(
        self, world: World, sessions: sessionmaker[Session]
    ) -> None:
        draft = world.drafts.create(world.preparer, world.submission())
        approved, result = world.drafts.approve(world.preparer, draft.id, revision=1)
        assert approved.state == "issued" and approved.reviewed_by == _account(world.preparer)
        _verifies(sessions, result.certificate.id)

    def test_a_cb_admin_prepares_and_approves_too(self, world: World) -> None:
        world.review(True)
        draft = world.drafts.create(world.admin, world.submission())
        draft = world.drafts.submit(world.admin, draft.id, revision=1)
        approved, _ = world.drafts.approve(world.preparer, draft.id, revision=draft.revision)
        assert approved.state == "issued"

    def test_approval_is_checked_again_at_issue(self, world: World) -> None:
        submission = world.submission()
        draft = world.drafts.create(world.preparer, submission)
        world.service.issue(A, submission)  # the same number issued meanwhile
        with pytest.raises(ConflictError, match="already issued"):
            world.drafts.approve(world.reviewer, draft.id, revision=1)
        assert world.drafts.get(world.reviewer, draft.id).state == "draft"

    def test_a_draft_is_issued_once(self, world: World, sessions: sessionmaker[Session]) -> None:
        draft = world.drafts.create(world.preparer, world.submission())
        approved, _ = world.drafts.approve(world.reviewer, draft.id, revision=1)
        with pytest.raises(ConflictError, match="revision"):
            world.drafts.approve(world.reviewer, draft.id, revision=1)
        with pytest.raises(IllegalTransitionError, match="issued"):
            world.drafts.approve(world.reviewer, draft.id, revision=approved.revision)
        with sessions() as session:
            issued = session.scalars(
                select(models.Certificate).where(models.Certificate.number == draft.number)
            ).all()
        assert len(issued) == 1


class TestWhoSeesAndActs:
    def test_another_cb_neither_sees_nor_acts(self, world: World) -> None:
        draft = world.drafts.create(world.preparer, world.submission())
        with pytest.raises(NotFoundError):
            world.drafts.get(world.other, draft.id)
        for act in (
            lambda: world.drafts.submit(world.other, draft.id, revision=1),
            lambda: world.drafts.approve(world.other, draft.id, revision=1),
            lambda: world.drafts.reject(world.other, draft.id, revision=1, comment="x"),
            lambda: world.drafts.withdraw(world.other, draft.id, revision=1),
            lambda: world.drafts.update(world.other, draft.id, world.submission(B), revision=1),
        ):
            with pytest.raises(NotFoundError):
                act()
        assert world.drafts.list(world.other).total == 0
        with pytest.raises(ForbiddenError, match="your own"):
            world.drafts.list(world.other, issuer_id=A)
        assert world.drafts.get(world.preparer, draft.id).revision == 1

    def test_the_authority_and_auditors_read_and_change_nothing(self, world: World) -> None:
        draft = world.drafts.create(world.preparer, world.submission())
        for reader in (world.authority, world.auditor):
            assert world.drafts.get(reader, draft.id).id == draft.id
            assert world.drafts.list(reader, issuer_id=A).total == 1
            with pytest.raises(ForbiddenError):
                world.drafts.approve(reader, draft.id, revision=1)
            with pytest.raises(ForbiddenError):
                world.drafts.create(reader, world.submission())
            with pytest.raises(ForbiddenError):
                world.drafts.set_settings(reader, A, review_required=True)
            assert world.drafts.settings(reader, A).review_required is False

    def test_a_draft_is_checked_as_issuance_checks_it(self, world: World) -> None:
        with pytest.raises(ForbiddenError, match="issuer_id"):
            world.drafts.create(world.preparer, world.submission(issuer_id=B))
        issued = world.service.issue(A, world.submission()).certificate
        with pytest.raises(ConflictError, match="already issued"):
            world.drafts.create(world.preparer, world.submission(number=issued.number, issuer_id=A))
        other = world.service.issue(B, world.submission(B)).certificate
        with pytest.raises(ForbiddenError, match="want its issuer"):
            world.drafts.create(world.preparer, world.submission(), supersedes=other.id)
        with pytest.raises(InvalidRequestError, match="reason"):
            world.drafts.create(world.preparer, world.submission(), reason="renewal")

    def test_a_kind_the_cb_may_not_issue(
        self, world: World, sessions: sessionmaker[Session]
    ) -> None:
        with sessions() as session:
            issuer = session.get(models.Issuer, A)
            assert issuer is not None
            admitted = set(issuer.kinds)
        foreign = next(s for s in typed_samples() if s["kind"] not in admitted)
        theirs = submission_adapter().validate_python({**foreign, "issuer_id": A})
        with pytest.raises(ForbiddenError, match="kind"):
            world.drafts.create(world.preparer, theirs)

    def test_paging_and_filters(self, world: World) -> None:
        made = [world.drafts.create(world.preparer, world.submission()) for _ in range(5)]
        world.drafts.submit(world.preparer, made[0].id, revision=1)
        page = world.drafts.list(world.reviewer, limit=2, offset=0)
        assert page.total == 5 and len(page.drafts) == 2
        rest = world.drafts.list(world.reviewer, limit=10, offset=2)
        listed = [d.id for d in page.drafts + rest.drafts]
        assert sorted(listed) == sorted(d.id for d in made)
        assert [d.id for d in world.drafts.list(world.reviewer, state="submitted").drafts] == [
            made[0].id
        ]
        assert world.drafts.list(world.reviewer, kind=made[0].kind).total == 5
        assert world.drafts.list(world.reviewer, kind="inspection-x").total == 0
        with pytest.raises(InvalidRequestError, match="state"):
            world.drafts.list(world.reviewer, state="lost")

    def test_open_drafts_are_bounded(
        self, world: World, sessions: sessionmaker[Session], clock: Clock
    ) -> None:
        bounded = Drafts(
            sessions=sessions,
            certificates=world.service.certificates,
            clock=clock,
            max_open=2,
        )
        first = bounded.create(world.preparer, world.submission())
        bounded.create(world.preparer, world.submission())
        with pytest.raises(ConflictError, match="open"):
            bounded.create(world.preparer, world.submission())
        bounded.withdraw(world.preparer, first.id, revision=1)
        bounded.create(world.preparer, world.submission())  # a withdrawn one is not open


class TestTheSetting:
    def test_set_by_the_cbs_admin_only(self, world: World) -> None:
        assert world.drafts.settings(world.preparer, A).review_required is False
        for who in (world.preparer, world.authority, world.auditor, world.other):
            with pytest.raises(ForbiddenError):
                world.drafts.set_settings(who, A, review_required=True)
        with pytest.raises(ForbiddenError):
            world.drafts.settings(world.other, A)
        view = world.drafts.set_settings(world.admin, A, review_required=True)
        assert view.review_required and view.updated_by == _account(world.admin)
        assert world.drafts.settings(world.reviewer, A).review_required is True
        assert world.drafts.settings(world.other, B).review_required is False

    def test_direct_issue_is_refused_when_review_is_required(self, world: World) -> None:
        old = world.service.issue(A, world.submission()).certificate
        world.review(True)
        with pytest.raises(ForbiddenError, match="draft"):
            world.service.issue(A, world.submission())
        with pytest.raises(ForbiddenError, match="draft"):
            world.service.issue_batch(A, [world.submission()])
        with pytest.raises(ForbiddenError, match="draft"):
            world.service.supersede(A, old.id, world.submission(), reason="renewal")
        world.service.issue(B, world.submission(B))  # another CB's setting is its own
        world.service.suspend(A, old.id, reason="holder-request")  # not an issue decision
        world.review(False)
        assert world.service.issue(A, world.submission()).created

    def test_every_change_is_in_the_audit_trail(self, world: World) -> None:
        world.review(True)
        draft = world.drafts.create(world.preparer, world.submission())
        draft = world.drafts.submit(world.preparer, draft.id, revision=1)
        draft = world.drafts.reject(world.reviewer, draft.id, revision=2, comment="Thiếu")
        draft = world.drafts.update(world.preparer, draft.id, world.submission(), revision=3)
        draft = world.drafts.submit(world.preparer, draft.id, revision=4)
        approved, result = world.drafts.approve(world.reviewer, draft.id, revision=5)
        preparer, reviewer = _account(world.preparer), _account(world.reviewer)
        trail = _audit(world, "draft.")
        assert [(action, who) for action, who, _ in trail] == [
            ("draft.create", preparer),
            ("draft.submit", preparer),
            ("draft.reject", reviewer),
            ("draft.update", preparer),
            ("draft.submit", preparer),
            ("draft.approve", reviewer),
        ]
        assert trail[-1][2]["certificate_id"] == result.certificate.id
        assert trail[-1][2]["from"] == "submitted" and trail[-1][2]["review_required"]
        [setting] = _audit(world, "issuer.settings")
        assert setting[2]["review_required"] == {"from": False, "to": True}
        assert setting[1] == _account(world.admin)
        [issued] = _audit(world, "certificate.issue")
        assert issued[1] == reviewer
        assert approved.revision == 6
