"""The authority's statements appended to the log (registry.governance; docs/spec.md §3a,
§11.10): checked, appended once, enforced at issuance, and in the anchored map — on both
databases."""

import base64
import datetime as dt
import secrets
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from registry.accounts import Actor, Principal, Role
from registry.checkpointing import CheckpointBuilder
from registry.core.events import Event
from registry.core.governance import (
    Admit,
    ApproveKey,
    AuthorityEntry,
    ChangeScope,
    Custody,
    ReinstateIssuer,
    Scope,
    Statement,
    SuspendCertificate,
    SuspendIssuer,
    TransferCertificate,
    WithdrawCertificate,
    WithdrawIssuer,
    issuer_map_key,
    parse_log_entry,
    sign_statement,
)
from registry.core.hashing import sha256
from registry.core.lifecycle import replay
from registry.core.note import NoteSigner
from registry.core.statusmap import StatusMap
from registry.db import models
from registry.db.mapstore import AnchoredMapCache
from registry.db.repositories import CheckpointRepository, LogRepository
from registry.errors import (
    ConflictError,
    ForbiddenError,
    IllegalTransitionError,
    InvalidRequestError,
    NotFoundError,
)
from registry.service import RegistryService
from tests.integration.registry.conftest import Clock, admit, sample_submissions

CB = "vn-cb-quatest3"
AUTHORITY = Ed25519PrivateKey.generate()
AUTHORITY_PUBLIC = AUTHORITY.public_key().public_bytes_raw()
ADMIN = Principal(
    account_id="a" * 16,
    role=Role.AUTHORITY_ADMIN,
    issuer_id=None,
    name="An",
    credential="token:" + "b" * 16,
)
ACTOR = Actor(principal=ADMIN, address="192.0.2.9")


@pytest.fixture
def service(sessions: sessionmaker[Session], clock: Clock) -> RegistryService:
    return RegistryService(
        sessions=sessions,
        kek=secrets.token_bytes(32),
        clock=clock,
        authority_key=AUTHORITY_PUBLIC,
    )


def _terms(clock: Clock, **changes: Any) -> dict[str, Any]:
    terms: dict[str, Any] = {
        "issuer_id": CB,
        "at": clock.now,
        "authority_key_id": sha256(AUTHORITY_PUBLIC),
        "name_vi": "Trung tâm Kỹ thuật Tiêu chuẩn Đo lường Chất lượng 3",
        "name_en": "Quality Assurance and Testing Centre 3",
        "accreditation_body": "BoA",
        "accreditation_number": "VICAS 001",
        "scope": Scope(kinds=("regulation-conformity",), standards=("QCVN 7:2019/BKHCN",)),
        "valid_from": dt.date(2026, 1, 1),
        "valid_until": dt.date(2028, 12, 31),
    }
    return {**terms, **changes}


def _signed(statement: Statement, key: Ed25519PrivateKey = AUTHORITY) -> dict[str, Any]:
    return sign_statement(statement, key).to_json()


def _status(cls: type[Statement], clock: Clock, reason: str = "theo quyết định") -> dict[str, Any]:
    return _signed(
        cls(  # type: ignore[call-arg]
            issuer_id=CB, at=clock.now, authority_key_id=sha256(AUTHORITY_PUBLIC), reason=reason
        )
    )


def _submit(service: RegistryService, signed: dict[str, Any], clock: Clock) -> int:
    appended = service.governance.submit(ADMIN, signed, actor=ACTOR)
    clock.advance(seconds=1)  # statements about one CB are dated in increasing order
    return appended.seq


def _admit(service: RegistryService, clock: Clock, **terms: Any) -> int:
    """Admit the CB and, if it has none, approve a hosted key for it: a CB the authority's
    statements admitted signs only with a key the authority approved."""
    seq = _submit(service, _signed(Admit(**_terms(clock, **terms))), clock)
    if not any(key.state == "active" for key in service.issuers.keys(CB)):
        proposed = service.issuers.propose_key(CB, custody=Custody.HOSTED, actor=ACTOR)
        approval = ApproveKey(
            issuer_id=CB,
            at=clock.now,
            authority_key_id=sha256(AUTHORITY_PUBLIC),
            key_id=proposed.key_id,
            public_key=proposed.public_key,
            custody=Custody.HOSTED,
        )
        _submit(service, _signed(approval), clock)
    return seq


def _issue(service: RegistryService, *, kind: str = "regulation-conformity", **changes: Any) -> Any:
    submission = next(s for s in sample_submissions() if s.kind.value == kind)
    return service.issue(CB, submission.model_copy(update=changes))


class TestSubmit:
    def test_admit_is_appended_as_a_signed_entry(
        self, service: RegistryService, sessions: sessionmaker[Session], clock: Clock
    ) -> None:
        signed = _signed(Admit(**_terms(clock)))
        seq = _submit(service, signed, clock)
        with sessions() as session:
            leaf = LogRepository(session).entry(seq)
            issuer = session.get(models.Issuer, CB)
            trail = session.scalars(select(models.AuditEntry.action)).all()
        assert leaf is not None
        entry = parse_log_entry(leaf)
        assert isinstance(entry, AuthorityEntry) and entry.signed.to_json() == signed
        assert issuer is not None and issuer.kinds == ["regulation-conformity"]
        assert issuer.accreditation == "BoA VICAS 001"
        admission = service.governance.admission(CB)
        assert admission is not None and (admission.status, admission.admission_seq) == (
            "admitted",
            seq,
        )
        assert "authority.admit" in trail

    def test_a_statement_is_appended_once(self, service: RegistryService, clock: Clock) -> None:
        signed = _signed(Admit(**_terms(clock)))
        _submit(service, signed, clock)
        suspend = _status(SuspendIssuer, clock)
        _submit(service, suspend, clock)
        _submit(service, _status(ReinstateIssuer, clock), clock)
        with pytest.raises(ConflictError, match="appended once"):
            service.governance.submit(ADMIN, suspend, actor=ACTOR)  # a replay
        with pytest.raises(ConflictError, match="appended once"):
            service.governance.submit(ADMIN, signed, actor=ACTOR)

    def test_statements_of_one_second_each_once(
        self, service: RegistryService, clock: Clock
    ) -> None:
        service.governance.submit(ADMIN, _signed(Admit(**_terms(clock))), actor=ACTOR)
        suspend = _status(SuspendIssuer, clock)
        service.governance.submit(ADMIN, suspend, actor=ACTOR)  # the same second: fine
        service.governance.submit(ADMIN, _status(ReinstateIssuer, clock), actor=ACTOR)
        with pytest.raises(ConflictError, match="appended once"):
            service.governance.submit(ADMIN, suspend, actor=ACTOR)
        clock.advance(seconds=-1)
        with pytest.raises(ConflictError, match="appended once"):  # dated earlier
            service.governance.submit(ADMIN, _status(SuspendIssuer, clock, "x"), actor=ACTOR)

    @pytest.mark.parametrize(
        "damage", ["another_key", "another_key_id", "tampered", "admin_of_a_cb", "future"]
    )
    def test_refused(self, service: RegistryService, clock: Clock, damage: str) -> None:
        statement = Admit(**_terms(clock))
        principal, signed = ADMIN, _signed(statement)
        error: type[Exception] = ForbiddenError
        if damage == "another_key":
            other = Ed25519PrivateKey.generate()
            key_id = sha256(other.public_key().public_bytes_raw())
            signed = _signed(Admit(**_terms(clock, authority_key_id=key_id)), other)
        elif damage == "another_key_id":  # names the authority's key, signed by another
            other = Ed25519PrivateKey.generate()
            signed["signature"] = base64.b64encode(other.sign(statement.signing_bytes())).decode()
        elif damage == "tampered":
            signed["statement"]["name_en"] = "Another Centre"
        elif damage == "admin_of_a_cb":
            principal = Principal(
                account_id="c" * 16,
                role=Role.CB_ADMIN,
                issuer_id=CB,
                name="x",
                credential="token:" + "d" * 16,
            )
        else:
            later = clock.now + dt.timedelta(hours=1)
            signed, error = _signed(Admit(**_terms(clock, at=later))), InvalidRequestError
        with pytest.raises(error):
            service.governance.submit(principal, signed, actor=ACTOR)
        assert service.governance.admission(CB) is None

    def test_transitions_follow_the_spec(self, service: RegistryService, clock: Clock) -> None:
        with pytest.raises(IllegalTransitionError):
            service.governance.submit(ADMIN, _status(SuspendIssuer, clock), actor=ACTOR)
        _submit(service, _signed(Admit(**_terms(clock))), clock)
        with pytest.raises(IllegalTransitionError):
            service.governance.submit(ADMIN, _status(ReinstateIssuer, clock), actor=ACTOR)
        with pytest.raises(IllegalTransitionError):
            service.governance.submit(ADMIN, _signed(Admit(**_terms(clock))), actor=ACTOR)
        _submit(service, _status(WithdrawIssuer, clock), clock)
        _submit(service, _signed(Admit(**_terms(clock))), clock)  # admitted again
        admission = service.governance.admission(CB)
        assert admission is not None and admission.status == "admitted"

    def test_without_an_authority_key_nothing_is_appended(
        self, sessions: sessionmaker[Session], clock: Clock
    ) -> None:
        plain = RegistryService(sessions=sessions, kek=secrets.token_bytes(32), clock=clock)
        with pytest.raises(ConflictError, match="CERTREG_AUTHORITY_PUBLIC_KEY"):
            plain.governance.submit(ADMIN, _signed(Admit(**_terms(clock))), actor=ACTOR)


class TestIssuanceFollowsTheAdmission:
    def test_scope_kinds_standards_and_validity(
        self, service: RegistryService, clock: Clock
    ) -> None:
        _admit(service, clock)
        assert _issue(service).created
        with pytest.raises(ForbiddenError, match="kind_not_covered"):
            # the issuers row follows the admission: calibration is not among its kinds
            _issue(service, kind="calibration")
        with pytest.raises(ForbiddenError, match="standard_not_covered"):
            _issue(service, number="VICAS-X-1", standards=["QCVN 4:2009/BKHCN"])
        wider = Scope(kinds=("calibration", "regulation-conformity"), standards=())  # any standard
        _submit(service, _signed(ChangeScope(**_terms(clock, scope=wider))), clock)
        assert _issue(service, number="VICAS-X-2", standards=["QCVN 4:2009/BKHCN"]).created
        assert _issue(service, kind="calibration").created
        clock.now = dt.datetime(2029, 1, 1, 9, tzinfo=dt.UTC)
        with pytest.raises(ForbiddenError, match="admission_expired"):
            _issue(service, number="VICAS-X-3")

    def test_a_suspended_cb_may_not_issue_but_may_withdraw(
        self, service: RegistryService, clock: Clock
    ) -> None:
        _admit(service, clock)
        issued = _issue(service).certificate
        service.suspend(CB, issued.id, reason="kiểm tra")
        _submit(service, _status(SuspendIssuer, clock), clock)
        with pytest.raises(ForbiddenError, match="got status suspended"):
            _issue(service, number="VICAS-Y-1")
        with pytest.raises(ForbiddenError, match="to reinstate"):
            service.reinstate(CB, issued.id, reason="xong")
        _submit(service, _status(ReinstateIssuer, clock), clock)
        service.reinstate(CB, issued.id, reason="xong")
        _submit(service, _status(WithdrawIssuer, clock), clock)
        assert service.withdraw(CB, issued.id, reason="thu hồi").status == "withdrawn"
        with pytest.raises(ForbiddenError, match="got status withdrawn"):
            _issue(service, number="VICAS-Y-2")


def _event(sessions: sessionmaker[Session], seq: int) -> Event:
    with sessions() as session:
        entry = LogRepository(session).entry(seq)
    assert entry is not None
    return Event.from_leaf(entry)


def test_events_name_the_admission_in_force(
    service: RegistryService, sessions: sessionmaker[Session], clock: Clock
) -> None:
    """Issue, supersede and reinstate name the admission in force; suspend and withdraw do not;
    a CB admitted before the statements names none."""
    admitted = _admit(service, clock)
    issued = _issue(service).certificate
    assert _event(sessions, issued.last_event_seq).admission_seq == admitted
    wider = Scope(kinds=("calibration", "regulation-conformity"), standards=())
    rescoped = _submit(service, _signed(ChangeScope(**_terms(clock, scope=wider))), clock)
    suspended = service.suspend(CB, issued.id, reason="kiểm tra")
    assert _event(sessions, suspended.last_event_seq).admission_seq is None
    reinstated = service.reinstate(CB, issued.id, reason="xong")
    assert _event(sessions, reinstated.last_event_seq).admission_seq == rescoped
    replacement = next(s for s in sample_submissions() if s.kind.value == "calibration")
    superseding = service.supersede(CB, issued.id, replacement)
    assert _event(sessions, superseding.certificate.last_event_seq).admission_seq == rescoped
    admit(service, "vn-cb-hoabinh")
    legacy = next(s for s in sample_submissions("vn-cb-hoabinh"))
    before = service.issue("vn-cb-hoabinh", legacy).certificate
    assert _event(sessions, before.last_event_seq).admission_seq is None


def test_the_anchored_map_holds_the_cbs_leaf(
    service: RegistryService, sessions: sessionmaker[Session], clock: Clock
) -> None:
    """Checkpoints over both kinds of entry: each map root is the one a replay of the log
    alone gives (spec §5.7), and the CB's anchored leaf is stored."""
    signer = NoteSigner(name="test.example/log", private_key=Ed25519PrivateKey.generate())
    builder = CheckpointBuilder(
        sessions=sessions, signer=signer, map_cache=AnchoredMapCache(), clock=clock
    )

    def checkpoint(block: int) -> str | None:
        row = builder.prepare()
        assert row is not None
        with sessions.begin() as session:
            latest = CheckpointRepository(session).latest()
            assert latest is not None
            builder.finalize(
                session, latest, block_number=block, block_timestamp=block, tx_hash=None
            )
            entries = LogRepository(session).entries(0, latest.tree_size)
            stored = session.get(models.MapIssuerLeaf, issuer_map_key(CB))
        status_map = StatusMap()
        status_map.update_many(replay(entries).map_items())
        assert status_map.root_hash == row.map_root
        return None if stored is None else stored.status

    _admit(service, clock)
    _issue(service)
    assert checkpoint(1) == "admitted"
    _submit(service, _status(SuspendIssuer, clock), clock)
    assert checkpoint(2) == "suspended"


def _action(
    cls: type[SuspendCertificate] | type[WithdrawCertificate],
    clock: Clock,
    certificate: Any,
    **changes: Any,
) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "issuer_id": CB,
        "at": clock.now,
        "authority_key_id": sha256(AUTHORITY_PUBLIC),
        "certificate_id": certificate.id,
        "record_hash": certificate.record_hash,
        "reason": "tổ chức đã bị thu hồi chỉ định",
        **changes,
    }
    return _signed(cls(**fields))


class TestTheAuthorityActsOnCertificates:
    """A CB suspended or withdrawn cannot act on its certificates: the authority does
    (docs/spec.md §3a.1, §11.10), and the anchored map is what a replay of the log gives."""

    def test_suspend_then_withdraw(
        self, service: RegistryService, sessions: sessionmaker[Session], clock: Clock
    ) -> None:
        signer = NoteSigner(name="test.example/log", private_key=Ed25519PrivateKey.generate())
        builder = CheckpointBuilder(
            sessions=sessions, signer=signer, map_cache=AnchoredMapCache(), clock=clock
        )

        def checkpoint(block: int) -> None:
            row = builder.prepare()
            assert row is not None
            with sessions.begin() as session:
                latest = CheckpointRepository(session).latest()
                assert latest is not None
                builder.finalize(
                    session, latest, block_number=block, block_timestamp=block, tx_hash=None
                )
                entries = LogRepository(session).entries(0, latest.tree_size)
            status_map = StatusMap()
            status_map.update_many(replay(entries).map_items())
            assert status_map.root_hash == row.map_root

        _admit(service, clock)
        first = _issue(service).certificate
        second = _issue(service, number="VICAS-A-2").certificate
        checkpoint(1)
        with pytest.raises(IllegalTransitionError, match="want one that is suspended or withdrawn"):
            _submit(service, _action(SuspendCertificate, clock, first), clock)  # the CB can act
        _submit(service, _status(SuspendIssuer, clock), clock)
        seq = _submit(service, _action(SuspendCertificate, clock, first), clock)
        assert service.get(first.id).status == "suspended"
        assert service.get(first.id).last_event_seq == seq
        checkpoint(2)
        # Reinstated, the CB may reinstate its certificate itself.
        _submit(service, _status(ReinstateIssuer, clock), clock)
        assert service.reinstate(CB, first.id, reason="đã khắc phục").status == "valid"
        _submit(service, _status(WithdrawIssuer, clock), clock)
        for certificate in (first, second):
            _submit(service, _action(WithdrawCertificate, clock, certificate), clock)
            assert service.get(certificate.id).status == "withdrawn"
        checkpoint(3)
        with pytest.raises(IllegalTransitionError, match="withdrawn certificate"):
            _submit(service, _action(WithdrawCertificate, clock, first), clock)

    def test_refused(self, service: RegistryService, clock: Clock) -> None:
        _admit(service, clock)
        mine = _issue(service).certificate
        admit(service, "vn-cb-hoabinh")
        theirs = service.issue("vn-cb-hoabinh", sample_submissions("vn-cb-hoabinh")[0])
        _submit(service, _status(WithdrawIssuer, clock), clock)
        for changes, error, match in (
            ({"record_hash": sha256(b"other")}, ConflictError, "record hash"),
            ({"certificate_id": theirs.certificate.id}, ConflictError, "want one of"),
            ({"certificate_id": "0x" + "00" * 32}, NotFoundError, "unknown id"),
        ):
            with pytest.raises(error, match=match):
                service.governance.submit(
                    ADMIN, _action(WithdrawCertificate, clock, mine, **changes), actor=ACTOR
                )
        assert service.get(mine.id).status == "valid"


OTHER_CB = "vn-cb-hoabinh"


def _admit_other(service: RegistryService, clock: Clock) -> None:
    """A second CB, admitted by statement for the same kinds, with an approved hosted key."""
    _submit(
        service,
        _signed(
            Admit(
                **_terms(
                    clock,
                    issuer_id=OTHER_CB,
                    scope=Scope(kinds=("regulation-conformity",), standards=()),
                )
            )
        ),
        clock,
    )
    proposed = service.issuers.propose_key(OTHER_CB, custody=Custody.HOSTED, actor=ACTOR)
    _submit(
        service,
        _signed(
            ApproveKey(
                issuer_id=OTHER_CB,
                at=clock.now,
                authority_key_id=sha256(AUTHORITY_PUBLIC),
                key_id=proposed.key_id,
                public_key=proposed.public_key,
                custody=Custody.HOSTED,
            )
        ),
        clock,
    )


def _transfer(clock: Clock, certificate: Any, **changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "issuer_id": CB,
        "at": clock.now,
        "authority_key_id": sha256(AUTHORITY_PUBLIC),
        "certificate_id": certificate.id,
        "record_hash": certificate.record_hash,
        "to_issuer_id": OTHER_CB,
        "reason": "chuyển giao theo IAF MD 2",
        **changes,
    }
    return _signed(TransferCertificate(**fields))


def _anchor(sessions: sessionmaker[Session], clock: Clock, block: int) -> None:
    """The next checkpoint formed and recorded as anchored at `block` (no chain here)."""
    signer = NoteSigner(name="test.example/log", private_key=Ed25519PrivateKey.generate())
    builder = CheckpointBuilder(
        sessions=sessions, signer=signer, map_cache=AnchoredMapCache(), clock=clock
    )
    assert builder.prepare() is not None
    with sessions.begin() as session:
        latest = CheckpointRepository(session).latest()
        assert latest is not None
        builder.finalize(session, latest, block_number=block, block_timestamp=block, tx_hash=None)


class TestTransfers:
    def test_the_receiving_cb_changes_it_from_then_on(
        self, service: RegistryService, sessions: sessionmaker[Session], clock: Clock
    ) -> None:
        _admit(service, clock)
        _admit_other(service, clock)
        certificate = _issue(service).certificate
        _anchor(sessions, clock, 1)
        seq = _submit(service, _transfer(clock, certificate), clock)
        moved = service.get(certificate.id)
        assert moved.issuer_id == OTHER_CB
        assert moved.record["issuer_id"] == CB  # the record is as it was issued
        assert moved.last_event_seq == certificate.last_event_seq  # no status change
        with pytest.raises(ForbiddenError, match="want its issuer"):
            service.suspend(CB, certificate.id, reason="kiểm tra")
        suspended = service.suspend(OTHER_CB, certificate.id, reason="kiểm tra")
        assert _event(sessions, suspended.last_event_seq).issuer_id == OTHER_CB
        assert service.reinstate(OTHER_CB, certificate.id, reason="xong").status == "valid"
        replacement = next(
            s for s in sample_submissions() if s.kind.value == "regulation-conformity"
        )
        renewed = service.supersede(
            OTHER_CB,
            certificate.id,
            replacement.model_copy(update={"number": "HB-RE-1", "issuer_id": None}),
        )
        assert renewed.certificate.record["issuer_id"] == OTHER_CB
        assert service.get(certificate.id).status == "superseded"
        with sessions() as session:
            entries = LogRepository(session).entries(0, seq + 10)
        replay(entries)  # the log replays: every transition allowed

    def test_refused(
        self, service: RegistryService, sessions: sessionmaker[Session], clock: Clock
    ) -> None:
        _admit(service, clock)
        certificate = _issue(service).certificate
        with pytest.raises(IllegalTransitionError, match="want one that is admitted"):
            _submit(service, _transfer(clock, certificate), clock)  # no such CB yet
        _admit_other(service, clock)
        with pytest.raises(ConflictError, match="not yet in an anchored checkpoint"):
            _submit(service, _transfer(clock, certificate), clock)
        _anchor(sessions, clock, 1)
        for changes, error, match in (
            ({"record_hash": sha256(b"other")}, ConflictError, "record hash"),
            ({"certificate_id": "0x" + "00" * 32}, NotFoundError, "unknown id"),
            ({"issuer_id": OTHER_CB, "to_issuer_id": CB}, ConflictError, "want one of"),
        ):
            with pytest.raises(error, match=match):
                service.governance.submit(
                    ADMIN, _transfer(clock, certificate, **changes), actor=ACTOR
                )
        service.withdraw(CB, certificate.id, reason="thu hồi")
        with pytest.raises(IllegalTransitionError, match="suspended or valid"):
            _submit(
                service,
                _transfer(clock, certificate, record_hash=service.get(certificate.id).record_hash),
                clock,
            )
        assert service.get(certificate.id).issuer_id == CB
