"""Accounts, roles, tokens, password logins and the audit trail (registry.accounts;
docs/security.md §8), on both databases."""

import pyotp
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from registry.accounts import Accounts, Actor, Principal, Role, officer_of, session_csrf_token
from registry.errors import (
    AuthenticationError,
    ConflictError,
    ForbiddenError,
    InvalidRequestError,
    NotFoundError,
)
from registry.service import RegistryService
from tests.integration.registry.conftest import Clock, admit, sample_submissions

PASSWORD = "correct horse battery staple"


def _as(principal: Principal) -> Actor:
    return Actor(principal=principal, address="192.0.2.1", user_agent="pytest")


class World:
    """An authority admin, an auditor, two CBs each with an admin and an officer."""

    def __init__(self, service: RegistryService) -> None:
        self.service = service
        self.accounts: Accounts = service.accounts
        admit(service, "vn-cb-quatest3")
        admit(service, "vn-cb-hoabinh")
        created = self.accounts.bootstrap_authority(name="Trần Văn An", login="an@authority.vn")
        self.admin = self.accounts.authenticate_token(created.setup_token)
        made = self.accounts.create_token(
            self.admin, account_id=None, label="cli", expires_in_days=30, actor=_as(self.admin)
        )
        self.admin = self.accounts.authenticate_token(made.secret)
        self.auditor = self._make(self.admin, Role.AUDITOR, None, "auditor")
        self.cb_admin = self._make(self.admin, Role.CB_ADMIN, "vn-cb-quatest3", "q3-admin")
        self.officer = self._make(self.cb_admin, Role.CB_OFFICER, "vn-cb-quatest3", "q3-officer")
        self.officer_secret = self._secret
        self.other_admin = self._make(self.admin, Role.CB_ADMIN, "vn-cb-hoabinh", "hb-admin")
        self.other_officer = self._make(
            self.other_admin, Role.CB_OFFICER, "vn-cb-hoabinh", "hb-officer"
        )

    def _make(self, by: Principal, role: Role, issuer_id: str | None, login: str) -> Principal:
        created = self.accounts.create_account(
            by, role=role, issuer_id=issuer_id, name=login, login=login, actor=_as(by)
        )
        setup = self.accounts.authenticate_token(created.setup_token)
        made = self.accounts.create_token(
            setup, account_id=None, label="own", expires_in_days=30, actor=_as(setup)
        )
        self._secret = made.secret
        return self.accounts.authenticate_token(made.secret)


@pytest.fixture
def world(service: RegistryService) -> World:
    return World(service)


class TestBootstrap:
    def test_one_setup_token_for_the_first_admin_only(self, service: RegistryService) -> None:
        created = service.accounts.bootstrap_authority(name="An", login="an@authority.vn")
        assert created.account.role is Role.AUTHORITY_ADMIN
        assert created.setup_token.startswith("crk_")
        with pytest.raises(ConflictError, match="active admin"):
            service.accounts.bootstrap_authority(name="Bình", login=None)

    def test_the_setup_token_is_good_once_and_for_nothing_else(
        self, service: RegistryService
    ) -> None:
        created = service.accounts.bootstrap_authority(name="An", login="an@authority.vn")
        setup = service.accounts.authenticate_token(created.setup_token)
        assert setup.setup_only
        with pytest.raises(ForbiddenError, match="setup token"):
            service.accounts.accounts(setup)
        with pytest.raises(ForbiddenError, match="setup token"):
            service.accounts.create_account(
                setup, role=Role.AUDITOR, issuer_id=None, name="x", login=None, actor=_as(setup)
            )
        with pytest.raises(ForbiddenError, match="setup token"):
            service.accounts.logout(setup, actor=_as(setup))
        service.accounts.set_password(setup, current=None, new=PASSWORD, actor=_as(setup))
        with pytest.raises(AuthenticationError, match="revoked"):
            service.accounts.authenticate_token(created.setup_token)

    def test_the_setup_token_expires(self, service: RegistryService, clock: Clock) -> None:
        created = service.accounts.bootstrap_authority(name="An", login=None)
        clock.advance(hours=72)
        with pytest.raises(AuthenticationError, match="expired"):
            service.accounts.authenticate_token(created.setup_token)


class TestWhoMayCreateWhom:
    @pytest.mark.parametrize(
        ("creator", "role", "issuer_id", "allowed"),
        [
            ("admin", Role.AUTHORITY_ADMIN, None, True),
            ("admin", Role.AUDITOR, None, True),
            ("admin", Role.CB_ADMIN, "vn-cb-hoabinh", True),
            ("admin", Role.CB_OFFICER, "vn-cb-quatest3", False),
            ("cb_admin", Role.CB_OFFICER, "vn-cb-quatest3", True),
            ("cb_admin", Role.CB_ADMIN, "vn-cb-quatest3", True),
            ("cb_admin", Role.CB_OFFICER, "vn-cb-hoabinh", False),
            ("cb_admin", Role.AUDITOR, None, False),
            ("cb_admin", Role.AUTHORITY_ADMIN, None, False),
            ("officer", Role.CB_OFFICER, "vn-cb-quatest3", False),
            ("auditor", Role.AUDITOR, None, False),
        ],
    )
    def test_rules(
        self, world: World, creator: str, role: Role, issuer_id: str | None, allowed: bool
    ) -> None:
        by: Principal = getattr(world, creator)

        def create() -> object:
            return world.accounts.create_account(
                by, role=role, issuer_id=issuer_id, name="New", login=None, actor=_as(by)
            )

        if allowed:
            created = create()
            assert created.account.role is role  # type: ignore[attr-defined]
        else:
            with pytest.raises(ForbiddenError):
                create()

    def test_a_cb_role_needs_a_known_cb_and_others_none(self, world: World) -> None:
        with pytest.raises(InvalidRequestError, match="issuer_id"):
            world.accounts.create_account(
                world.admin, role=Role.CB_ADMIN, issuer_id=None, name="x", login=None,
                actor=_as(world.admin),
            )  # fmt: skip
        with pytest.raises(NotFoundError, match="vn-cb-none"):
            world.accounts.create_account(
                world.admin, role=Role.CB_ADMIN, issuer_id="vn-cb-none", name="x", login=None,
                actor=_as(world.admin),
            )  # fmt: skip
        with pytest.raises(InvalidRequestError, match="want none"):
            world.accounts.create_account(
                world.admin, role=Role.AUDITOR, issuer_id="vn-cb-hoabinh", name="x", login=None,
                actor=_as(world.admin),
            )  # fmt: skip

    def test_logins_are_unique_whatever_their_case_and_form(self, world: World) -> None:
        with pytest.raises(ConflictError, match="taken"):
            world.accounts.create_account(
                world.admin, role=Role.AUDITOR, issuer_id=None, name="x", login="AUDITOR",
                actor=_as(world.admin),
            )  # fmt: skip


class TestVisibility:
    def test_who_sees_which_accounts(self, world: World) -> None:
        every = {a.account_id for a in world.accounts.accounts(world.admin)}
        assert every == {a.account_id for a in world.accounts.accounts(world.auditor)}
        assert len(every) == 8  # and the two CBs' system officers (made with each CB)
        own = {a.issuer_id for a in world.accounts.accounts(world.cb_admin)}
        assert own == {"vn-cb-quatest3"}
        assert [a.account_id for a in world.accounts.accounts(world.officer)] == [
            world.officer.account_id
        ]
        with pytest.raises(ForbiddenError):
            world.accounts.accounts(world.cb_admin, issuer_id="vn-cb-hoabinh")

    def test_another_cbs_account_is_not_found(self, world: World) -> None:
        with pytest.raises(NotFoundError):
            world.accounts.account(world.cb_admin, world.other_officer.account_id)
        with pytest.raises(NotFoundError):
            world.accounts.disable_account(
                world.cb_admin, world.other_officer.account_id, reason="x",
                actor=_as(world.cb_admin),
            )  # fmt: skip

    def test_an_authority_admin_manages_cb_admins_not_their_officers(self, world: World) -> None:
        """A CB's officers are its admins' to manage: a reset by the authority would hand it a
        setup token of another organisation's account."""
        officer = world.officer.account_id
        with pytest.raises(ForbiddenError, match="manager"):
            world.accounts.reset_credentials(world.admin, officer, actor=_as(world.admin))
        with pytest.raises(ForbiddenError, match="manager"):
            world.accounts.disable_account(world.admin, officer, reason="x", actor=_as(world.admin))
        token_id = world.officer.credential.partition(":")[2]
        with pytest.raises(ForbiddenError, match="manager"):
            world.accounts.revoke_token(world.admin, token_id, actor=_as(world.admin))
        disabled = world.accounts.disable_account(
            world.admin, world.cb_admin.account_id, reason="x", actor=_as(world.admin)
        )
        assert disabled.disabled_at is not None


class TestTokens:
    def test_a_token_is_scoped_to_its_account_and_lists_its_last_use(
        self, world: World, clock: Clock
    ) -> None:
        made = world.accounts.create_token(
            world.officer, account_id=None, label="erp", expires_in_days=7,
            actor=_as(world.officer),
        )  # fmt: skip
        assert made.token.role is Role.CB_OFFICER and made.token.issuer_id == "vn-cb-quatest3"
        clock.advance(minutes=5)
        principal = world.accounts.authenticate_token(made.secret)
        assert principal.credential == f"token:{made.token.token_id}"
        listed = {t.token_id: t for t in world.accounts.tokens(world.officer)}
        assert listed[made.token.token_id].last_used_at == clock.now
        assert made.secret not in repr(listed)
        clock.advance(days=7)
        with pytest.raises(AuthenticationError, match="expired"):
            world.accounts.authenticate_token(made.secret)

    def test_expiry_is_bounded(self, world: World) -> None:
        for days in (0, 366):
            with pytest.raises(InvalidRequestError, match="expires_in_days"):
                world.accounts.create_token(
                    world.officer, account_id=None, label="x", expires_in_days=days,
                    actor=_as(world.officer),
                )  # fmt: skip

    def test_a_cb_admin_makes_tokens_for_its_cbs_accounts_only(self, world: World) -> None:
        made = world.accounts.create_token(
            world.cb_admin, account_id=world.officer.account_id, label="erp", expires_in_days=30,
            actor=_as(world.cb_admin),
        )  # fmt: skip
        assert made.token.account_id == world.officer.account_id
        with pytest.raises(NotFoundError):
            world.accounts.create_token(
                world.cb_admin, account_id=world.other_officer.account_id, label="x",
                expires_in_days=30, actor=_as(world.cb_admin),
            )  # fmt: skip
        # The authority manages CB admins' accounts but makes no credentials for them.
        with pytest.raises(ForbiddenError, match="another organisation"):
            world.accounts.create_token(
                world.admin, account_id=world.cb_admin.account_id, label="x",
                expires_in_days=30, actor=_as(world.admin),
            )  # fmt: skip

    def test_revocation_by_owner_or_manager_only(self, world: World) -> None:
        token_id = world.officer.credential.partition(":")[2]
        with pytest.raises(NotFoundError):
            world.accounts.revoke_token(world.other_admin, token_id, actor=_as(world.other_admin))
        with pytest.raises(ForbiddenError):
            world.accounts.revoke_token(world.auditor, token_id, actor=_as(world.auditor))
        revoked = world.accounts.revoke_token(world.cb_admin, token_id, actor=_as(world.cb_admin))
        assert revoked.revoked_at is not None
        tokens = world.service.accounts.tokens(world.cb_admin, account_id=world.officer.account_id)
        assert any(t.token_id == token_id and t.revoked_at for t in tokens)

    def test_a_disabled_account_loses_every_credential(self, world: World) -> None:
        world.accounts.disable_account(
            world.cb_admin, world.officer.account_id, reason="left the company",
            actor=_as(world.cb_admin),
        )  # fmt: skip
        token = world.officer.credential.partition(":")[2]
        rows = {t.token_id: t for t in world.accounts.tokens(world.cb_admin)}
        assert rows[token].revoked_at is None  # not revoked: refused through its account
        with pytest.raises(AuthenticationError, match="disabled account"):
            world.accounts.authenticate_token(world.officer_secret)

    def test_the_last_authority_admin_stays(self, world: World) -> None:
        with pytest.raises(ConflictError, match="last active authority admin"):
            world.accounts.disable_account(
                world.admin, world.admin.account_id, reason="x", actor=_as(world.admin)
            )


class TestOfficersIssue:
    def test_only_officers_issue(self, world: World) -> None:
        assert officer_of(world.officer) == "vn-cb-quatest3"
        for principal in (world.cb_admin, world.admin, world.auditor):
            with pytest.raises(ForbiddenError, match="want a CB officer"):
                officer_of(principal)
        setup = world.accounts.reset_credentials(
            world.cb_admin, world.officer.account_id, actor=_as(world.cb_admin)
        )
        with pytest.raises(ForbiddenError, match="setup token"):
            officer_of(world.accounts.authenticate_token(setup.setup_token))

    def test_a_token_keeps_the_scope_it_was_made_with(
        self, world: World, sessions: sessionmaker[Session]
    ) -> None:
        token = world.officer.credential
        with sessions.begin() as session:  # an account whose role changed (by hand)
            session.execute(
                text("UPDATE accounts SET role = 'cb_admin' WHERE id = :id"),
                {"id": world.officer.account_id},
            )
        with pytest.raises(AuthenticationError, match="earlier scope"):
            world.accounts.authenticate_token(world.officer_secret)
        assert token.startswith("token:")


class TestPasswordLogin:
    def _person(self, world: World) -> Principal:
        world.accounts.set_password(
            world.officer, current=None, new=PASSWORD, actor=_as(world.officer)
        )
        return world.officer

    def test_login_then_session_with_csrf(self, world: World) -> None:
        self._person(world)
        result = world.accounts.login(
            login="Q3-Officer", password=PASSWORD, totp_code=None, actor=Actor()
        )
        assert result.principal.account_id == world.officer.account_id
        read = world.accounts.authenticate_session(result.cookie, csrf_token=None, changes=False)
        assert read.credential.startswith("session:")
        with pytest.raises(ForbiddenError, match="CSRF"):
            world.accounts.authenticate_session(result.cookie, csrf_token=None, changes=True)
        with pytest.raises(ForbiddenError, match="CSRF"):
            world.accounts.authenticate_session(result.cookie, csrf_token="x" * 43, changes=True)
        world.accounts.authenticate_session(
            result.cookie, csrf_token=result.csrf_token, changes=True
        )
        # The portal renders the token from the cookie; it tells nothing of the session secret.
        assert session_csrf_token(result.cookie) == result.csrf_token
        assert result.csrf_token not in result.cookie
        world.accounts.logout(read, actor=Actor(read))
        with pytest.raises(AuthenticationError, match="ended"):
            world.accounts.authenticate_session(result.cookie, csrf_token=None, changes=False)

    def test_sessions_end_when_idle_or_old(self, world: World, clock: Clock) -> None:
        self._person(world)

        def login() -> str:
            return world.accounts.login(
                login="q3-officer", password=PASSWORD, totp_code=None, actor=Actor()
            ).cookie

        cookie = login()
        clock.advance(minutes=29)
        world.accounts.authenticate_session(cookie, csrf_token=None, changes=False)
        clock.advance(minutes=29)
        world.accounts.authenticate_session(cookie, csrf_token=None, changes=False)
        clock.advance(minutes=31)
        with pytest.raises(AuthenticationError, match="idle"):
            world.accounts.authenticate_session(cookie, csrf_token=None, changes=False)
        cookie = login()
        for _ in range(24):  # kept busy: good for 12 hours (24 × 29 minutes is 11 h 36 min)
            clock.advance(minutes=29)
            world.accounts.authenticate_session(cookie, csrf_token=None, changes=False)
        clock.advance(minutes=29)
        with pytest.raises(AuthenticationError, match="ended"):
            world.accounts.authenticate_session(cookie, csrf_token=None, changes=False)

    def test_wrong_password_unknown_login_and_lockout(self, world: World, clock: Clock) -> None:
        self._person(world)
        for login, password in (("nobody", PASSWORD), ("q3-officer", "wrong password!")):
            with pytest.raises(AuthenticationError, match="wrong login, password or code"):
                world.accounts.login(login=login, password=password, totp_code=None, actor=Actor())
        for _ in range(9):
            with pytest.raises(AuthenticationError):
                world.accounts.login(
                    login="q3-officer", password="wrong password!", totp_code=None, actor=Actor()
                )
        with pytest.raises(AuthenticationError, match="locked"):
            world.accounts.login(
                login="q3-officer", password=PASSWORD, totp_code=None, actor=Actor()
            )
        clock.advance(minutes=15)
        world.accounts.login(login="q3-officer", password=PASSWORD, totp_code=None, actor=Actor())

    def test_changing_the_password_needs_the_current_one(self, world: World) -> None:
        self._person(world)
        with pytest.raises(ForbiddenError, match="current_password"):
            world.accounts.set_password(
                world.officer, current="guess", new="another long password", actor=Actor()
            )
        with pytest.raises(InvalidRequestError, match="12-1024"):
            world.accounts.set_password(world.officer, current=PASSWORD, new="short", actor=Actor())
        world.accounts.set_password(
            world.officer, current=PASSWORD, new="another long password", actor=Actor()
        )

    def test_totp_second_factor_each_code_once(self, world: World, clock: Clock) -> None:
        self._person(world)
        enrolment = world.accounts.begin_totp(world.officer, actor=Actor())
        assert enrolment.uri.startswith("otpauth://totp/")
        totp = pyotp.TOTP(enrolment.secret)
        with pytest.raises(ForbiddenError, match="totp code"):
            world.accounts.confirm_totp(world.officer, code="000000", actor=Actor())
        world.accounts.confirm_totp(
            world.officer, code=totp.at(clock.now.timestamp()), actor=Actor()
        )
        code = totp.at(clock.now.timestamp())
        with pytest.raises(AuthenticationError):  # the code just used
            world.accounts.login(
                login="q3-officer", password=PASSWORD, totp_code=code, actor=Actor()
            )
        with pytest.raises(AuthenticationError):  # none
            world.accounts.login(
                login="q3-officer", password=PASSWORD, totp_code=None, actor=Actor()
            )
        clock.advance(seconds=30)
        world.accounts.login(
            login="q3-officer",
            password=PASSWORD,
            totp_code=totp.at(clock.now.timestamp()),
            actor=Actor(),
        )

    def test_reset_clears_password_and_totp(self, world: World) -> None:
        self._person(world)
        reset = world.accounts.reset_credentials(
            world.cb_admin, world.officer.account_id, actor=_as(world.cb_admin)
        )
        with pytest.raises(AuthenticationError):
            world.accounts.login(
                login="q3-officer", password=PASSWORD, totp_code=None, actor=Actor()
            )
        setup = world.accounts.authenticate_token(reset.setup_token)
        world.accounts.set_password(setup, current=None, new="a brand new password", actor=Actor())


class TestAuditTrail:
    def test_every_change_is_recorded_with_who_and_where(self, world: World) -> None:
        token = world.officer.credential.partition(":")[2]
        officer_token = world.accounts.create_token(
            world.officer, account_id=None, label="x", expires_in_days=1, actor=_as(world.officer)
        )
        principal = world.accounts.authenticate_token(officer_token.secret)
        world.service.issue("vn-cb-quatest3", sample_submissions()[0], actor=_as(principal))
        world.accounts.revoke_token(world.cb_admin, token, actor=_as(world.cb_admin))
        entries = world.accounts.audit_trail(world.auditor, limit=1000)
        actions = [e.action for e in entries]
        assert actions.count("account.create") == 6
        assert "certificate.issue" in actions and "token.revoke" in actions
        issue = next(e for e in entries if e.action == "certificate.issue")
        assert issue.account_id == world.officer.account_id
        assert issue.issuer_id == "vn-cb-quatest3" and issue.address == "192.0.2.1"
        assert issue.detail["count"] == 1
        assert [e.seq for e in entries] == sorted(e.seq for e in entries)

    def test_who_reads_which_entries(self, world: World) -> None:
        everything = world.accounts.audit_trail(world.admin, limit=1000)
        own = world.accounts.audit_trail(world.cb_admin, limit=1000)
        assert own and len(own) < len(everything)
        assert all("vn-cb-quatest3" in (e.issuer_id, e.actor_issuer_id) for e in own)
        for principal in (world.officer, world.other_officer):
            with pytest.raises(ForbiddenError):
                world.accounts.audit_trail(principal)

    @pytest.mark.parametrize(
        "statement", ["UPDATE audit_trail SET action = 'x'", "DELETE FROM audit_trail"]
    )
    def test_append_only_in_the_database(
        self, world: World, sessions: sessionmaker[Session], statement: str
    ) -> None:
        with pytest.raises(DBAPIError, match="append-only"), sessions.begin() as session:
            session.execute(text(statement))
        assert world.accounts.audit_trail(world.auditor)
