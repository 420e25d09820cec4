"""Keys the authority approves, and statements a CB signs with a key it keeps (docs/spec.md
§3.1, §3a.1, §11.11), against a real database (SQLite and PostgreSQL)."""

import dataclasses
import datetime as dt
import secrets
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session, sessionmaker

from registry.accounts import Actor, Principal, Role
from registry.certificates import SignedItem
from registry.client import KeyHolder
from registry.core.canonical import canonical_json
from registry.core.events import ISSUER_STATEMENT, Event, EventType
from registry.core.governance import (
    Admit,
    ApproveKey,
    Custody,
    RevokeKey,
    Scope,
    Statement,
    sign_statement,
)
from registry.core.hashing import sha256
from registry.db import models
from registry.db.repositories import LogRepository
from registry.errors import (
    ConflictError,
    ForbiddenError,
    IllegalTransitionError,
    InvalidRequestError,
    NotFoundError,
)
from registry.records import build_record
from registry.service import RegistryService
from tests.integration.registry.conftest import Clock, sample_submissions

CB = "vn-cb-quatest3"
OTHER = "vn-cb-hoabinh"
AUTHORITY = Ed25519PrivateKey.generate()
AUTHORITY_PUBLIC = AUTHORITY.public_key().public_bytes_raw()


def _principal(role: Role, issuer_id: str | None = None) -> Principal:
    return Principal(
        account_id=secrets.token_hex(8),
        role=role,
        issuer_id=issuer_id,
        name="Chi",
        credential="token:" + secrets.token_hex(8),
    )


ADMIN = Actor(principal=_principal(Role.AUTHORITY_ADMIN), address="192.0.2.9")
CB_ADMIN = Actor(principal=_principal(Role.CB_ADMIN, CB), address="192.0.2.10")


@pytest.fixture
def service(sessions: sessionmaker[Session], clock: Clock) -> RegistryService:
    return RegistryService(
        sessions=sessions, kek=secrets.token_bytes(32), clock=clock, authority_key=AUTHORITY_PUBLIC
    )


@pytest.fixture
def holder() -> KeyHolder:
    return KeyHolder(issuer_id=CB, private_key=Ed25519PrivateKey.generate())


def _submit(service: RegistryService, statement: Statement, clock: Clock) -> int:
    signed = sign_statement(statement, AUTHORITY).to_json()
    assert ADMIN.principal is not None
    seq = service.governance.submit(ADMIN.principal, signed, actor=ADMIN).seq
    clock.advance(seconds=1)
    return seq


def _common(clock: Clock, issuer_id: str = CB) -> dict[str, Any]:
    return {"issuer_id": issuer_id, "at": clock.now, "authority_key_id": sha256(AUTHORITY_PUBLIC)}


def _admit(service: RegistryService, clock: Clock, issuer_id: str = CB) -> int:
    return _submit(
        service,
        Admit(
            **_common(clock, issuer_id),
            name_vi="Trung tâm 3",
            name_en="Centre 3",
            accreditation_body="BoA",
            accreditation_number="VICAS 001",
            scope=Scope(kinds=("regulation-conformity", "calibration"), standards=()),
            valid_from=dt.date(2026, 1, 1),
            valid_until=dt.date(2028, 12, 31),
        ),
        clock,
    )


def _approve(
    service: RegistryService, clock: Clock, key_id: bytes, public_key: bytes, custody: Custody
) -> int:
    return _submit(
        service,
        ApproveKey(**_common(clock), key_id=key_id, public_key=public_key, custody=custody),
        clock,
    )


def _held(service: RegistryService, clock: Clock, holder: KeyHolder, *, admit: bool = True) -> int:
    """Admit the CB, propose the held key and approve it; return the approval's seq."""
    if admit:
        _admit(service, clock)
    service.issuers.propose_key(
        CB,
        custody=Custody.HELD,
        actor=CB_ADMIN,
        public_key=holder.public_key,
        proof=holder.possession_proof(),
    )
    return _approve(service, clock, holder.key_id, holder.public_key, Custody.HELD)


def _issue_item(
    holder: KeyHolder, clock: Clock, *, number: str = "VICAS-H-1", **statement: Any
) -> SignedItem:
    submission = next(s for s in sample_submissions() if s.kind.value == "regulation-conformity")
    record = build_record(submission.model_copy(update={"number": number}), issuer_id=CB)
    signed = holder.sign(
        EventType.ISSUE,
        certificate_id=record["id"],
        record_hash=sha256(canonical_json(record)),
        at=clock.now,
    )
    return SignedItem(statement={**signed, **statement}, record=record)


def _change_item(
    holder: KeyHolder, clock: Clock, kind: EventType, certificate_id: str, record_hash: bytes
) -> SignedItem:
    return SignedItem(
        statement=holder.sign(
            kind,
            certificate_id=certificate_id,
            record_hash=record_hash,
            at=clock.now,
            reason="holder-request",
        )
    )


def _entry(sessions: sessionmaker[Session], seq: int) -> Event:
    with sessions() as session:
        entry = LogRepository(session).entry(seq)
    assert entry is not None
    return Event.from_leaf(entry)


class TestProposeKey:
    def test_hosted_and_held(
        self, service: RegistryService, clock: Clock, holder: KeyHolder
    ) -> None:
        _admit(service, clock)
        hosted = service.issuers.propose_key(CB, custody=Custody.HOSTED, actor=ADMIN)
        held = service.issuers.propose_key(
            CB,
            custody=Custody.HELD,
            actor=CB_ADMIN,
            public_key=holder.public_key,
            proof=holder.possession_proof(),
        )
        assert (hosted.custody, hosted.state) == ("hosted", "proposed")
        assert (held.custody, held.state, held.key_id) == ("held", "proposed", holder.key_id)
        assert [k.key_id for k in service.issuers.keys(CB)] == [hosted.key_id, held.key_id]

    @pytest.mark.parametrize(
        "role", [Role.CB_OFFICER, Role.AUDITOR, "other-admin", "setup-admin"], ids=str
    )
    def test_only_the_cbs_admin_or_the_authority(
        self, service: RegistryService, clock: Clock, role: object
    ) -> None:
        _admit(service, clock)
        if role == "other-admin":
            principal = _principal(Role.CB_ADMIN, OTHER)
        elif role == "setup-admin":
            principal = dataclasses.replace(_principal(Role.CB_ADMIN, CB), setup_only=True)
        else:
            assert isinstance(role, Role)
            principal = _principal(role, CB if role is Role.CB_OFFICER else None)
        with pytest.raises(ForbiddenError, match="want an admin of that CB"):
            service.issuers.propose_key(CB, custody=Custody.HOSTED, actor=Actor(principal))

    def test_held_key_needs_proof_of_possession(
        self, service: RegistryService, clock: Clock, holder: KeyHolder
    ) -> None:
        _admit(service, clock)
        other = KeyHolder(issuer_id=OTHER, private_key=holder.private_key)
        for proof, match in (
            (None, "want the public key the CB holds"),
            (other.possession_proof(), "does not verify"),  # made for another CB
            (bytes(64), "does not verify"),
        ):
            with pytest.raises(InvalidRequestError, match=match):
                service.issuers.propose_key(
                    CB,
                    custody=Custody.HELD,
                    actor=CB_ADMIN,
                    public_key=holder.public_key,
                    proof=proof,
                )
        with pytest.raises(InvalidRequestError, match="prime-order"):
            service.issuers.propose_key(
                CB, custody=Custody.HELD, actor=CB_ADMIN, public_key=bytes(32), proof=bytes(64)
            )
        assert service.issuers.keys(CB) == []

    def test_not_for_a_cb_never_admitted_by_statements(self, service: RegistryService) -> None:
        with pytest.raises(NotFoundError):
            service.issuers.propose_key("vn-cb-nobody", custody=Custody.HOSTED, actor=ADMIN)


class TestApproveKey:
    def test_approval_activates_and_retires_the_previous_key(
        self, service: RegistryService, clock: Clock, holder: KeyHolder
    ) -> None:
        _admit(service, clock)
        first = service.issuers.propose_key(CB, custody=Custody.HOSTED, actor=ADMIN)
        conformity = next(
            s for s in sample_submissions() if s.kind.value == "regulation-conformity"
        )
        with pytest.raises(ForbiddenError, match="no active signing key"):
            service.issue(CB, conformity)  # proposed: signs nothing yet
        _approve(service, clock, first.key_id, first.public_key, Custody.HOSTED)
        assert service.issue(CB, conformity).created
        approved = _held(service, clock, holder, admit=False)
        states = {k.key_id: (k.state, k.approved_seq) for k in service.issuers.keys(CB)}
        assert states[first.key_id][0] == "retired"
        assert states[holder.key_id] == ("active", approved)
        # The registry cannot sign for a CB that keeps its key.
        calibration = next(s for s in sample_submissions() if s.kind.value == "calibration")
        with pytest.raises(ForbiddenError, match="custody held"):
            service.issue(CB, calibration)

    def test_the_approval_must_state_the_key_as_proposed(
        self, service: RegistryService, clock: Clock, holder: KeyHolder
    ) -> None:
        _admit(service, clock)
        hosted = service.issuers.propose_key(CB, custody=Custody.HOSTED, actor=ADMIN)
        with pytest.raises(ConflictError, match="want the key as proposed"):
            _approve(service, clock, hosted.key_id, hosted.public_key, Custody.HELD)
        with pytest.raises(NotFoundError, match="want a key"):
            _approve(service, clock, holder.key_id, holder.public_key, Custody.HELD)
        _approve(service, clock, hosted.key_id, hosted.public_key, Custody.HOSTED)
        with pytest.raises(IllegalTransitionError, match="not yet approved"):
            _approve(service, clock, hosted.key_id, hosted.public_key, Custody.HOSTED)


class TestStatements:
    def test_issue_and_change_with_a_held_key(
        self,
        service: RegistryService,
        sessions: sessionmaker[Session],
        clock: Clock,
        holder: KeyHolder,
    ) -> None:
        approved = _held(service, clock, holder)
        admitted = service.governance.admission(CB)
        assert admitted is not None
        item = _issue_item(holder, clock)
        [issued] = service.certificates.append_statements(CB, [item])
        assert issued.created
        event = _entry(sessions, issued.seq)
        assert event.version == ISSUER_STATEMENT
        assert event.admission_seq == admitted.admission_seq
        assert event.key_id == holder.key_id
        assert approved < issued.seq
        # The repeat of the same statement is answered, not appended.
        [again] = service.certificates.append_statements(CB, [item])
        assert (again.created, again.seq) == (False, issued.seq)
        certificate = issued.certificate
        clock.advance(seconds=5)
        results = service.certificates.append_statements(
            CB,
            [
                _change_item(holder, clock, kind, certificate.id, certificate.record_hash)
                for kind in (EventType.SUSPEND, EventType.REINSTATE, EventType.WITHDRAW)
            ],
        )
        assert [r.certificate.status for r in results] == ["suspended", "valid", "withdrawn"]
        assert _entry(sessions, results[1].seq).admission_seq == admitted.admission_seq
        assert _entry(sessions, results[2].seq).admission_seq is None

    def test_supersede(self, service: RegistryService, clock: Clock, holder: KeyHolder) -> None:
        _held(service, clock, holder)
        [old] = service.certificates.append_statements(CB, [_issue_item(holder, clock)])
        submission = next(s for s in sample_submissions() if s.kind.value == "calibration")
        record = {**build_record(submission, issuer_id=CB), "supersedes": old.certificate.id}
        statement = holder.sign(
            EventType.SUPERSEDE,
            certificate_id=record["id"],
            record_hash=sha256(canonical_json(record)),
            at=clock.now,
            reason="renewal",
            supersedes=old.certificate.id,
        )
        [new] = service.certificates.append_statements(
            CB, [SignedItem(statement=statement, record=record)]
        )
        assert new.certificate.supersedes == old.certificate.id
        assert service.get(old.certificate.id).status == "superseded"

    def test_refused(self, service: RegistryService, clock: Clock, holder: KeyHolder) -> None:
        _held(service, clock, holder)
        stranger = KeyHolder(issuer_id=CB, private_key=Ed25519PrivateKey.generate())
        item = _issue_item(holder, clock)
        late = Clock()
        late.now = clock.now - dt.timedelta(minutes=11)
        cases: list[tuple[SignedItem, type[Exception], str]] = [
            (_issue_item(stranger, clock), ForbiddenError, "want 0x"),  # not the approved key
            (
                SignedItem(
                    statement={**item.statement, "signature": "A" * 86 + "=="}, record=item.record
                ),
                InvalidRequestError,
                "does not verify",
            ),
            (
                SignedItem(statement={**item.statement, "seq": 3}, record=item.record),
                InvalidRequestError,
                "left to the registry",
            ),
            (
                SignedItem(
                    statement=item.statement, record={**(item.record or {}), "salt": "0x00"}
                ),
                InvalidRequestError,
                "salt",
            ),
            (_issue_item(holder, late, number="VICAS-H-9"), InvalidRequestError, "within"),
            (SignedItem(statement=item.statement, record=None), InvalidRequestError, "record"),
        ]
        for bad, error, match in cases:
            with pytest.raises(error, match=match):
                service.certificates.append_statements(CB, [bad])
        # All or none: a good statement before a bad one is not appended either.
        with pytest.raises(ForbiddenError):
            service.certificates.append_statements(CB, [item, _issue_item(stranger, clock)])
        assert service.search(issuer_id=CB)[1] == 0

    def test_outside_the_scope(
        self, service: RegistryService, clock: Clock, holder: KeyHolder
    ) -> None:
        _held(service, clock, holder)
        submission = next(
            s for s in sample_submissions() if s.kind.value == "instrument-verification"
        )
        record = build_record(submission, issuer_id=CB)
        statement = holder.sign(
            EventType.ISSUE,
            certificate_id=record["id"],
            record_hash=sha256(canonical_json(record)),
            at=clock.now,
        )
        with pytest.raises(ForbiddenError, match="kind_not_covered"):
            service.certificates.append_statements(
                CB, [SignedItem(statement=statement, record=record)]
            )

    def test_an_old_statement_cannot_undo_a_newer_one(
        self, service: RegistryService, clock: Clock, holder: KeyHolder
    ) -> None:
        """A suspension signed before the reinstatement, replayed after it, is refused."""
        _held(service, clock, holder)
        [issued] = service.certificates.append_statements(CB, [_issue_item(holder, clock)])
        certificate = issued.certificate
        clock.advance(seconds=10)
        old_suspend = _change_item(
            holder, clock, EventType.SUSPEND, certificate.id, certificate.record_hash
        )
        service.certificates.append_statements(CB, [old_suspend])
        clock.advance(seconds=10)
        service.certificates.append_statements(
            CB,
            [
                _change_item(
                    holder, clock, EventType.REINSTATE, certificate.id, certificate.record_hash
                )
            ],
        )
        with pytest.raises(ConflictError, match="appended in order, once"):
            service.certificates.append_statements(CB, [old_suspend])
        assert service.get(certificate.id).status == "valid"
        # Within one second too: a suspension and a reinstatement signed at the same time,
        # then the suspension again.
        clock.advance(seconds=10)
        suspend = _change_item(
            holder, clock, EventType.SUSPEND, certificate.id, certificate.record_hash
        )
        reinstate = _change_item(
            holder, clock, EventType.REINSTATE, certificate.id, certificate.record_hash
        )
        service.certificates.append_statements(CB, [suspend, reinstate])
        with pytest.raises(ConflictError, match="appended in order, once"):
            service.certificates.append_statements(CB, [suspend])
        assert service.get(certificate.id).status == "valid"


class TestRevokeKey:
    def test_from_a_checkpoint_boundary_only(
        self,
        service: RegistryService,
        sessions: sessionmaker[Session],
        clock: Clock,
        holder: KeyHolder,
    ) -> None:
        _held(service, clock, holder)
        service.certificates.append_statements(CB, [_issue_item(holder, clock)])
        with sessions.begin() as session:  # an anchored checkpoint of size 2
            session.add(
                models.Checkpoint(
                    index=0,
                    tree_size=2,
                    log_root=bytes(32),
                    map_root=bytes(32),
                    note="",
                    state="anchored",
                    created_at=clock.now.replace(tzinfo=None),
                )
            )

        def revoke(from_seq: int) -> int:
            return _submit(
                service,
                RevokeKey(**_common(clock), key_id=holder.key_id, revoked_from_seq=from_seq),
                clock,
            )

        with pytest.raises(InvalidRequestError, match=r"e\.g\. 2"):
            revoke(3)
        revoke(2)
        [key] = [k for k in service.issuers.keys(CB) if k.key_id == holder.key_id]
        assert (key.state, key.revoked_from_seq) == ("revoked", 2)
        with pytest.raises(ForbiddenError, match="no active signing key"):
            service.certificates.append_statements(
                CB, [_issue_item(holder, clock, number="VICAS-H-2")]
            )
        revoke(0)  # moved earlier: allowed
        with pytest.raises(IllegalTransitionError, match="want one earlier"):
            revoke(2)
