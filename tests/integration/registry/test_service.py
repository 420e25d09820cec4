"""The registry service against real SQLite and PostgreSQL databases."""

import datetime as dt
import threading
import unicodedata
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from registry.assembly import SharedLogTree
from registry.core.events import Event, EventType, verify_event_signature
from registry.core.lifecycle import StatusLeaf, apply_event
from registry.db import models
from registry.db.repositories import LogRepository
from registry.errors import (
    AuthenticationError,
    ConflictError,
    ForbiddenError,
    IllegalTransitionError,
    InvalidRequestError,
    NotFoundError,
)
from registry.records import CertificateSubmission, certificate_id_for
from registry.service import RegistryService
from registry.transparency import TransparencyService
from tests.integration.registry.conftest import Clock, admit, sample_submissions


def log_size(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.execute(select(func.count()).select_from(models.Event)).scalar_one())


def events(sessions: sessionmaker[Session]) -> list[Event]:
    with sessions() as session:
        return [
            Event.from_leaf(entry)
            for entry in session.scalars(select(models.Event.entry).order_by(models.Event.seq))
        ]


def changed(submission: CertificateSubmission, **fields: Any) -> CertificateSubmission:
    return CertificateSubmission.model_validate({**submission.model_dump(mode="json"), **fields})


class TestAddIssuer:
    def test_creates_a_signing_key_and_an_api_key(self, service: RegistryService) -> None:
        token = admit(service)
        assert service.authenticate(token) == "vn-cb-quatest3"

    def test_refuses_a_second_admission(self, service: RegistryService) -> None:
        admit(service)
        with pytest.raises(ConflictError):
            admit(service)

    @pytest.mark.parametrize("issuer_id", ["", "UPPER", "a", "has space", "-lead", "x" * 70])
    def test_refuses_malformed_ids(self, service: RegistryService, issuer_id: str) -> None:
        with pytest.raises(InvalidRequestError, match="issuer_id"):
            service.add_issuer(
                issuer_id=issuer_id,
                name_vi="x",
                name_en="x",
                accreditation="x",
                kinds=["inspection"],
            )


class TestAuthenticate:
    def test_refuses_wrong_secret(self, service: RegistryService) -> None:
        token = admit(service)
        with pytest.raises(AuthenticationError, match="unknown token"):
            service.authenticate(token[:-1] + ("A" if token[-1] != "A" else "B"))

    @pytest.mark.parametrize("token", ["", "Bearer x", "crk_zz_yy"])
    def test_refuses_malformed(self, service: RegistryService, token: str) -> None:
        with pytest.raises(AuthenticationError, match="malformed"):
            service.authenticate(token)

    def test_refuses_revoked(self, service: RegistryService) -> None:
        token = admit(service)
        service.revoke_api_key(token.split("_")[1])
        with pytest.raises(AuthenticationError, match="revoked"):
            service.authenticate(token)


class TestIssue:
    def test_appends_one_signed_event(
        self, service: RegistryService, sessions: sessionmaker[Session]
    ) -> None:
        admit(service)
        submission = sample_submissions()[0]
        result = service.issue("vn-cb-quatest3", submission)
        assert result.created
        view = result.certificate
        assert view.id == certificate_id_for(issuer_id="vn-cb-quatest3", number=submission.number)
        assert view.status == "valid"
        assert view.last_event_seq == 0
        [event] = events(sessions)
        assert event.type is EventType.ISSUE
        assert event.record_hash == view.record_hash
        with sessions() as session:
            key = session.scalars(select(models.IssuerKey)).one()
        verify_event_signature(event, key.public_key)

    def test_same_record_again_is_idempotent(
        self, service: RegistryService, sessions: sessionmaker[Session]
    ) -> None:
        admit(service)
        submission = sample_submissions()[0]
        first = service.issue("vn-cb-quatest3", submission)
        again = service.issue("vn-cb-quatest3", submission)
        assert not again.created
        assert again.certificate == first.certificate
        assert log_size(sessions) == 1

    def test_nfd_text_is_the_same_record(self, service: RegistryService) -> None:
        admit(service)
        submission = sample_submissions()[0]
        first = service.issue("vn-cb-quatest3", submission)
        nfd = changed(
            submission,
            holder={
                **submission.holder.model_dump(exclude_none=True),
                "name": unicodedata.normalize("NFD", submission.holder.name),
            },
        )
        assert not service.issue("vn-cb-quatest3", nfd).created
        assert first.certificate.record["holder"]["name"] == unicodedata.normalize(
            "NFC", submission.holder.name
        )

    def test_different_record_under_the_same_number_conflicts(
        self, service: RegistryService, sessions: sessionmaker[Session]
    ) -> None:
        admit(service)
        submission = sample_submissions()[0]
        service.issue("vn-cb-quatest3", submission)
        with pytest.raises(ConflictError, match="different record"):
            service.issue("vn-cb-quatest3", changed(submission, scheme="Phương thức 5"))
        assert log_size(sessions) == 1

    def test_kind_the_issuer_may_not_issue_is_forbidden(self, service: RegistryService) -> None:
        admit(service, "vn-insp-mekong")
        with pytest.raises(ForbiddenError, match="kind"):
            service.issue("vn-insp-mekong", changed(sample_submissions()[0], issuer_id=None))

    def test_body_naming_another_issuer_is_forbidden(self, service: RegistryService) -> None:
        admit(service)
        submission = changed(sample_submissions()[0], issuer_id="vn-cb-hoabinh")
        with pytest.raises(ForbiddenError, match="issuer_id"):
            service.issue("vn-cb-quatest3", submission)

    def test_unknown_issuer(self, service: RegistryService) -> None:
        with pytest.raises(NotFoundError):
            service.issue("vn-nobody", sample_submissions()[0])


class TestIssueBatch:
    def test_sequence_numbers_follow_the_batch_order(
        self, service: RegistryService, sessions: sessionmaker[Session]
    ) -> None:
        admit(service)
        submissions = sample_submissions()
        results = service.issue_batch("vn-cb-quatest3", submissions)
        assert [r.certificate.last_event_seq for r in results] == list(range(len(submissions)))
        assert [e.certificate_id for e in events(sessions)] == [r.certificate.id for r in results]

    def test_all_or_nothing(
        self, service: RegistryService, sessions: sessionmaker[Session]
    ) -> None:
        admit(service)
        submissions = sample_submissions()
        service.issue("vn-cb-quatest3", submissions[-1])
        bad = [*submissions[:-1], changed(submissions[-1], scheme="khác")]
        with pytest.raises(ConflictError, match=rf"certificates\[{len(submissions) - 1}\]"):
            service.issue_batch("vn-cb-quatest3", bad)
        assert log_size(sessions) == 1

    def test_repeats_within_a_batch(
        self, service: RegistryService, sessions: sessionmaker[Session]
    ) -> None:
        admit(service)
        first = sample_submissions()[0]
        results = service.issue_batch("vn-cb-quatest3", [first, first])
        assert [r.created for r in results] == [True, False]
        assert log_size(sessions) == 1
        with pytest.raises(ConflictError, match="twice"):
            service.issue_batch(
                "vn-cb-quatest3",
                [sample_submissions()[1], changed(sample_submissions()[1], scheme="x")],
            )

    def test_size_limits(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        service = RegistryService(sessions=sessions, kek=bytes(32), max_batch_size=2, clock=clock)
        admit(service)
        with pytest.raises(InvalidRequestError, match="at most 2"):
            service.issue_batch("vn-cb-quatest3", sample_submissions()[:3])
        with pytest.raises(InvalidRequestError, match="no certificates"):
            service.issue_batch("vn-cb-quatest3", [])


class TestTransitions:
    def issued(self, service: RegistryService) -> str:
        admit(service)
        return service.issue("vn-cb-quatest3", sample_submissions()[0]).certificate.id

    def test_suspend_reinstate_withdraw(
        self, service: RegistryService, sessions: sessionmaker[Session]
    ) -> None:
        cid = self.issued(service)
        assert service.suspend("vn-cb-quatest3", cid, reason="audit").status == "suspended"
        assert service.reinstate("vn-cb-quatest3", cid, reason="fixed").status == "valid"
        view = service.withdraw("vn-cb-quatest3", cid, reason="fraud")
        assert view.status == "withdrawn"
        assert view.last_event_seq == 3
        assert [e.type for e in events(sessions)] == [
            EventType.ISSUE,
            EventType.SUSPEND,
            EventType.REINSTATE,
            EventType.WITHDRAW,
        ]
        assert events(sessions)[3].reason == "fraud"

    @pytest.mark.parametrize(
        ("steps", "illegal"),
        [
            ([], "reinstate"),
            (["withdraw"], "reinstate"),
            (["withdraw"], "suspend"),
            (["withdraw"], "withdraw"),
            (["suspend"], "suspend"),
        ],
    )
    def test_illegal_transitions_change_nothing(
        self,
        service: RegistryService,
        sessions: sessionmaker[Session],
        steps: list[str],
        illegal: str,
    ) -> None:
        cid = self.issued(service)
        for step in steps:
            getattr(service, step)("vn-cb-quatest3", cid, reason="r")
        before = (log_size(sessions), service.get(cid))
        # (A repeat with the reason already recorded is a retry, not illegal: see below.)
        with pytest.raises(IllegalTransitionError):
            getattr(service, illegal)("vn-cb-quatest3", cid, reason="another")
        assert (log_size(sessions), service.get(cid)) == before

    @pytest.mark.parametrize("change", ["suspend", "withdraw"])
    def test_a_repeated_change_is_answered_again_and_appends_nothing(
        self, service: RegistryService, sessions: sessionmaker[Session], change: str
    ) -> None:
        # A client that lost the answer retries: the same change with the same reason gets the
        # same answer; with another reason it is refused, naming the event that recorded it.
        cid = self.issued(service)
        first = getattr(service, change)("vn-cb-quatest3", cid, reason="fraud: lô 7")
        size = log_size(sessions)
        again = getattr(service, change)("vn-cb-quatest3", cid, reason="fraud: lô 7")
        assert again == first
        assert log_size(sessions) == size
        with pytest.raises(IllegalTransitionError, match=f"event {size - 1}.*'fraud: lô 7'"):
            getattr(service, change)("vn-cb-quatest3", cid, reason="other")
        assert log_size(sessions) == size

    def test_a_reinstated_certificate_is_not_a_repeated_issue(
        self, service: RegistryService
    ) -> None:
        cid = self.issued(service)
        with pytest.raises(IllegalTransitionError):  # valid since issue: nothing to reinstate
            service.reinstate("vn-cb-quatest3", cid, reason="r")

    def test_the_issuer_of_record_may_always_withdraw(
        self, service: RegistryService, sessions: sessionmaker[Session]
    ) -> None:
        # A body no longer admitted for a kind cannot suspend such a certificate any more, but
        # a revocation for cause must never be blocked.
        cid = self.issued(service)
        kind = service.get(cid).record["kind"]
        with sessions.begin() as session:
            issuer = session.get(models.Issuer, "vn-cb-quatest3")
            assert issuer is not None
            issuer.kinds = [k for k in issuer.kinds if k != kind]
        with pytest.raises(ForbiddenError, match="no longer issue"):
            service.suspend("vn-cb-quatest3", cid, reason="r")
        assert service.withdraw("vn-cb-quatest3", cid, reason="fraud").status == "withdrawn"

    def test_expired_certificate_cannot_be_suspended_but_can_be_withdrawn(
        self, service: RegistryService, clock: Clock
    ) -> None:
        cid = self.issued(service)
        valid_until = service.get(cid).record["valid_until"]
        clock.now = clock.now.replace(year=int(valid_until[:4]) + 1)
        assert service.get(cid).status == "expired"
        with pytest.raises(IllegalTransitionError, match="expired"):
            service.suspend("vn-cb-quatest3", cid, reason="r")
        assert service.withdraw("vn-cb-quatest3", cid, reason="fraud found").status == "withdrawn"

    def test_only_the_issuer_may_act(self, service: RegistryService) -> None:
        cid = self.issued(service)
        admit(service, "vn-cb-hoabinh")
        with pytest.raises(ForbiddenError):
            service.suspend("vn-cb-hoabinh", cid, reason="r")

    def test_unknown_certificate(self, service: RegistryService) -> None:
        admit(service)
        with pytest.raises(NotFoundError):
            service.suspend("vn-cb-quatest3", "0x" + "00" * 32, reason="r")


class TestSupersede:
    def test_one_event_replaces_the_old_certificate(
        self, service: RegistryService, sessions: sessionmaker[Session]
    ) -> None:
        admit(service)
        old_submission, new_submission = sample_submissions()[:2]
        old = service.issue("vn-cb-quatest3", old_submission).certificate
        new = service.supersede("vn-cb-quatest3", old.id, new_submission, reason="renewal")
        assert new.certificate.supersedes == old.id
        assert new.certificate.record["supersedes"] == old.id
        replaced = service.get(old.id)
        assert replaced.status == "superseded"
        assert replaced.superseded_by == new.certificate.id
        last = events(sessions)[-1]
        assert (last.type, last.certificate_id, last.supersedes) == (
            EventType.SUPERSEDE,
            new.certificate.id,
            old.id,
        )

    def test_superseded_certificate_cannot_be_superseded_again(
        self, service: RegistryService
    ) -> None:
        admit(service)
        a, b, c = sample_submissions()[:3]
        old = service.issue("vn-cb-quatest3", a).certificate
        service.supersede("vn-cb-quatest3", old.id, b)
        with pytest.raises(IllegalTransitionError):
            service.supersede("vn-cb-quatest3", old.id, c)

    def test_replacement_needs_a_new_number(self, service: RegistryService) -> None:
        admit(service)
        a, b = sample_submissions()[:2]
        old = service.issue("vn-cb-quatest3", a).certificate
        service.issue("vn-cb-quatest3", b)
        with pytest.raises(ConflictError):
            service.supersede("vn-cb-quatest3", old.id, b)
        with pytest.raises(ConflictError):
            service.supersede("vn-cb-quatest3", old.id, a)


class TestReads:
    def test_search_by_day_of_issue(self, service: RegistryService) -> None:
        admit(service)
        submissions = [
            changed(s, number=f"DAY-{n}", issued_on=f"2025-0{n}-15", valid_from=f"2025-0{n}-15")
            for n, s in enumerate(sample_submissions()[:1] * 3, start=1)
        ]
        service.issue_batch("vn-cb-quatest3", submissions)

        def numbers(**dates: dt.date) -> set[str]:
            views, total = service.search(issuer_id="vn-cb-quatest3", **dates)
            assert total == len(views)
            return {v.number for v in views if v.number.startswith("DAY-")}

        assert numbers(issued_from=dt.date(2025, 2, 15)) == {"DAY-2", "DAY-3"}
        assert numbers(issued_until=dt.date(2025, 2, 15)) == {"DAY-1", "DAY-2"}
        both = numbers(issued_from=dt.date(2025, 1, 16), issued_until=dt.date(2025, 3, 14))
        assert both == {"DAY-2"}

    def test_history_names_every_entry_about_the_certificate(
        self, service: RegistryService
    ) -> None:
        admit(service)
        old_submission, new_submission = sample_submissions()[:2]
        old = service.issue("vn-cb-quatest3", old_submission).certificate
        service.suspend("vn-cb-quatest3", old.id, reason="holder-request: moving site")
        service.reinstate("vn-cb-quatest3", old.id, reason="holder-request")
        new = service.supersede("vn-cb-quatest3", old.id, new_submission, reason="renewal")
        history = service.history(old.id)
        assert [(e.type, e.reason) for e in history] == [
            ("issue", None),
            ("suspend", "holder-request: moving site"),
            ("reinstate", "holder-request"),
            ("supersede", "renewal"),
        ]
        assert [e.seq for e in history] == sorted(e.seq for e in history)
        assert history[-1].certificate_id == new.certificate.id  # it names the replacement
        assert not any(e.by_authority for e in history)
        assert [e.type for e in service.history(new.certificate.id)] == ["supersede"]
        assert service.history("0x" + "00" * 32) == []


class TestRotateKey:
    def test_new_events_use_the_new_key(
        self, service: RegistryService, sessions: sessionmaker[Session]
    ) -> None:
        admit(service)
        a, b = sample_submissions()[:2]
        service.issue("vn-cb-quatest3", a)
        new_key = service.rotate_key("vn-cb-quatest3")
        service.issue("vn-cb-quatest3", b)
        first, second = events(sessions)
        assert first.key_id != new_key
        assert second.key_id == new_key
        with sessions() as session:
            query = select(models.IssuerKey.key_id, models.IssuerKey.state)
            states = dict(session.execute(query).all())
        assert states == {first.key_id: "retired", new_key: "active"}


def test_replaying_the_log_gives_the_stored_statuses(
    service: RegistryService, sessions: sessionmaker[Session]
) -> None:
    admit(service)
    submissions = sample_submissions()
    ids = [r.certificate.id for r in service.issue_batch("vn-cb-quatest3", submissions[:-1])]
    current = [cid for cid in ids if service.get(cid).status == "valid"]
    service.suspend("vn-cb-quatest3", current[0], reason="r")
    service.withdraw("vn-cb-quatest3", current[1], reason="r")
    service.supersede("vn-cb-quatest3", current[2], submissions[-1])
    leaves: dict[str, StatusLeaf] = {}
    for event in events(sessions):
        apply_event(leaves, event)
    with sessions() as session:
        stored = dict(
            session.execute(select(models.Certificate.id, models.Certificate.status)).all()
        )
    assert {cid: leaf.status for cid, leaf in leaves.items()} == stored


def test_reads_do_not_queue_behind_a_writer(
    database_url: str, service: RegistryService, sessions: sessionmaker[Session]
) -> None:
    # On SQLite every session used to begin with BEGIN IMMEDIATE, so a certificate page, a
    # search, an authentication or a transparency read waited for any issuance in progress
    # (up to the 30 s busy timeout). Reads now use sessions that never take the write lock.
    api_key = admit(service)
    created = service.issue("vn-cb-quatest3", sample_submissions()[0]).certificate
    transparency = TransparencyService(
        sessions=sessions, log_tree=SharedLogTree(sessions.kw["bind"])
    )
    reads = {
        "get": lambda: service.get(created.id).id,
        "search": lambda: service.search(number=created.number)[1],
        "authenticate": lambda: service.authenticate(api_key),
        "log size": transparency.log_size,
        "anchored size": transparency.anchored_size,
    }
    with sessions.begin() as writer:
        LogRepository(writer).lock_head()  # a writer holds the lock (SQLite: the database's)
        results: dict[str, object] = {}

        def run() -> None:
            for name, read in reads.items():
                results[name] = read()

        reader = threading.Thread(target=run)
        reader.start()
        reader.join(timeout=10)
        assert not reader.is_alive(), f"reads waited for the writer: done {sorted(results)}"
    assert results["get"] == created.id
    assert results["search"] == 1
    assert results["authenticate"] == "vn-cb-quatest3"
