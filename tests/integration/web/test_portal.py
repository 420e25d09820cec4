"""The portal in process (api/web/portal), over a real database and chain: signing in and out,
CSRF, the dashboard's search, filters and pages, a CB's people kept to their CB's certificates,
the lifecycle actions through their confirmation step (and the command line for a CB that keeps
its own key), accounts and tokens made by a CB's admin, and the authority's list of CBs."""

import datetime as dt
import re
from dataclasses import dataclass
from html import unescape
from typing import Any, Final

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from httpx2 import Response

from api.deps import SESSION_COOKIE
from api.stack import Stack
from api.web.i18n import catalogue
from registry.accounts import Actor, Principal, Role
from registry.client import KeyHolder
from registry.core.governance import Admit, ApproveKey, Custody, Scope, sign_statement
from registry.core.hashing import sha256
from registry.records import CertificateSubmission
from tests.integration.web.conftest import AUTHORITY, ISSUER_ID, admit, sample

OTHER: Final = "vn-cb-hoabinh"
PASSWORD: Final = "mật khẩu cổng quản lý 2026"
AUTHORITY_PRINCIPAL: Final = Principal(
    account_id="f" * 16,
    role=Role.AUTHORITY_ADMIN,
    issuer_id=None,
    name="fixture",
    credential="fixture:portal",
)


def _field(html: str, name: str) -> str:
    """The value of the first hidden input named `name` on a page."""
    found = re.search(rf'name="{re.escape(name)}" value="([^"]*)"', html)
    assert found is not None, f"no field {name} on the page"
    return unescape(found.group(1))


def _text(response: Response) -> str:
    """The page's text without tags or the bidi isolates around data."""
    plain = re.sub(r"<[^>]+>", " ", response.text)
    return " ".join(unescape(plain).replace("\u2068", "").replace("\u2069", "").split())


@dataclass(frozen=True)
class People:
    """The authority's admin, an auditor, CB A's admin and officer, CB B's officer: logins."""

    authority: str = "p-authority"
    auditor: str = "p-auditor"
    cb_admin: str = "p-admin"
    officer: str = "p-officer"
    other_officer: str = "p-other"


def _person(stack: Stack, by: Principal, role: Role, issuer_id: str | None, login: str) -> str:
    created = stack.service.accounts.create_account(
        by, role=role, issuer_id=issuer_id, name=f"Người {login}", login=login, actor=Actor()
    )
    setup = stack.service.accounts.authenticate_token(created.setup_token)
    stack.service.accounts.set_password(setup, current=None, new=PASSWORD, actor=Actor())
    return created.account.account_id


@pytest.fixture
def people(stack: Stack) -> People:
    admit(stack)
    admit(stack, OTHER)
    made = stack.service.accounts.bootstrap_authority(name="Quản trị", login="p-authority")
    setup = stack.service.accounts.authenticate_token(made.setup_token)
    stack.service.accounts.set_password(setup, current=None, new=PASSWORD, actor=Actor())
    authority = Principal(made.account.account_id, Role.AUTHORITY_ADMIN, None, "x", "fixture:p")
    _person(stack, authority, Role.AUDITOR, None, "p-auditor")
    admin_id = _person(stack, authority, Role.CB_ADMIN, ISSUER_ID, "p-admin")
    cb_admin = Principal(admin_id, Role.CB_ADMIN, ISSUER_ID, "x", "fixture:p")
    _person(stack, cb_admin, Role.CB_OFFICER, ISSUER_ID, "p-officer")
    other_admin = _person(stack, authority, Role.CB_ADMIN, OTHER, "p-other-admin")
    _person(
        stack, Principal(other_admin, Role.CB_ADMIN, OTHER, "x", "fixture:p"), Role.CB_OFFICER,
        OTHER, "p-other",
    )  # fmt: skip
    return People()


def sign_in(client: TestClient, login: str, *, lang: str = "en", **extra: str) -> Response:
    form = client.get(f"/portal/login?lang={lang}")
    assert form.status_code == 200, form.text
    data = {
        "login": login,
        "password": PASSWORD,
        "form_token": _field(form.text, "form_token"),
        "next": "/portal",
        **extra,
    }
    return client.post(f"/portal/login?lang={lang}", data=data, follow_redirects=False)


def signed_in(client: TestClient, login: str) -> str:
    """Sign `login` in; its CSRF token, as the portal's pages carry it."""
    answer = sign_in(client, login)
    assert answer.status_code == 303, answer.text
    page = client.get("/portal?lang=en")
    assert page.status_code == 200, page.text
    return _field(page.text, "csrf_token")


def issue(stack: Stack, number: str, *, issuer_id: str = ISSUER_ID, **dates: Any) -> str:
    body = sample(number, issuer_id=issuer_id, **dates)
    return stack.service.issue(issuer_id, CertificateSubmission.model_validate(body)).certificate.id


class TestSignIn:
    def test_sign_in_then_out(self, client: TestClient, people: People) -> None:
        answer = sign_in(client, people.officer)
        assert answer.status_code == 303 and answer.headers["location"] == "/portal?lang=en"
        cookie = answer.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
        page = client.get("/portal?lang=en")
        assert page.status_code == 200
        assert "no-store" in page.headers["cache-control"]
        assert "script-src" not in page.headers["content-security-policy"]
        assert "<script" not in page.text
        csrf = _field(page.text, "csrf_token")
        out = client.post(
            "/portal/logout?lang=en", data={"csrf_token": csrf}, follow_redirects=False
        )
        assert out.status_code == 303 and out.headers["location"].startswith("/portal/login")
        again = client.get("/portal?lang=en", follow_redirects=False)
        assert again.status_code == 303
        assert again.headers["location"].startswith("/portal/login?lang=en&next=")
        # A form sent once signed out: a page saying to sign in again, not a redirect.
        late = client.post("/portal/tokens?lang=en", data={"label": "x", "csrf_token": csrf})
        assert late.status_code == 401
        assert catalogue("en")["portal.error.401.text"] in _text(late)

    def test_a_wrong_password_is_refused_with_a_page(
        self, client: TestClient, people: People
    ) -> None:
        answer = sign_in(client, people.officer, password="not the password at all")
        assert answer.status_code == 401
        assert answer.headers["content-type"].startswith("text/html")
        assert catalogue("en")["portal.login.failed"] in _text(answer)
        assert 'aria-describedby="login-error"' in answer.text
        assert SESSION_COOKIE not in client.cookies

    def test_a_sign_in_form_from_elsewhere_is_refused(
        self, client: TestClient, people: People
    ) -> None:
        """Without the form's own token (a page on another site cannot read it), no login."""
        answer = client.post(
            "/portal/login",
            data={"login": people.officer, "password": PASSWORD, "form_token": "forged"},
            follow_redirects=False,
        )
        assert answer.status_code == 400
        assert SESSION_COOKIE not in client.cookies

    def test_the_next_page_stays_on_this_site(self, client: TestClient, people: People) -> None:
        answer = sign_in(client, people.officer, next="https://evil.example/portal")
        assert answer.headers["location"] == "/portal?lang=en"
        back = sign_in(client, people.officer, next="/portal/tokens")
        assert back.headers["location"] == "/portal/tokens?lang=en"

    def test_a_setup_token_sets_the_first_password(
        self, client: TestClient, stack: Stack, people: People
    ) -> None:
        authority = stack.service.accounts.accounts(AUTHORITY_PRINCIPAL, role=Role.AUTHORITY_ADMIN)
        by = Principal(authority[0].account_id, Role.AUTHORITY_ADMIN, None, "x", "fixture:p")
        created = stack.service.accounts.create_account(
            by, role=Role.AUDITOR, issuer_id=None, name="Lê Thị Hoa", login="p-new", actor=Actor()
        )
        form = client.get("/portal/setup?lang=vi")
        assert form.status_code == 200
        data = {
            "setup_token": created.setup_token,
            "new_password": PASSWORD,
            "repeat_password": PASSWORD + "x",
            "form_token": _field(form.text, "form_token"),
        }
        mismatch = client.post("/portal/setup?lang=vi", data=data)
        assert mismatch.status_code == 400
        assert 'aria-describedby="repeat_password-error"' in mismatch.text
        assert catalogue("vi")["portal.setup.mismatch"] in _text(mismatch)
        data["repeat_password"] = PASSWORD
        data["form_token"] = _field(mismatch.text, "form_token")
        done = client.post("/portal/setup?lang=vi", data=data, follow_redirects=False)
        assert done.status_code == 303, done.text
        assert sign_in(client, "p-new").status_code == 303
        data["form_token"] = _field(client.get("/portal/setup").text, "form_token")
        used = client.post("/portal/setup", data=data)
        assert used.status_code == 400  # a setup token works once


class TestCsrf:
    def test_a_form_post_without_the_token_is_refused(
        self, client: TestClient, stack: Stack, people: People
    ) -> None:
        certificate_id = issue(stack, "PORTAL-CSRF")
        csrf = signed_in(client, people.officer)
        url = f"/portal/certificates/{certificate_id}/suspend"
        data = {"reason": "holder-request"}
        refused = client.post(url, data=data)
        assert refused.status_code == 403
        assert refused.headers["content-type"].startswith("text/html")
        wrong = client.post(url, data={**data, "csrf_token": csrf[:-2] + "xx"})
        assert wrong.status_code == 403
        assert stack.service.get(certificate_id).status == "valid"
        done = client.post(url, data={**data, "csrf_token": csrf})
        assert done.status_code == 200
        assert stack.service.get(certificate_id).status == "suspended"

    def test_the_json_api_takes_the_portal_session_with_its_header(
        self, client: TestClient, people: People
    ) -> None:
        csrf = signed_in(client, people.officer)
        assert client.post("/v1/tokens", json={"label": "x"}).status_code == 403
        made = client.post("/v1/tokens", json={"label": "x"}, headers={"X-CSRF-Token": csrf})
        assert made.status_code == 201, made.text


class TestDashboard:
    def test_filters_and_pages(self, client: TestClient, stack: Stack, people: People) -> None:
        today = dt.datetime.now(dt.UTC).date()
        old = today - dt.timedelta(days=400)
        ids = [issue(stack, f"PORTAL-{n:03d}") for n in range(27)]
        issue(stack, "PORTAL-OLD", valid_from=old)
        issue(stack, "PORTAL-B", issuer_id=OTHER)
        stack.service.suspend(ISSUER_ID, ids[0], reason="holder-request")
        signed_in(client, people.officer)
        first = client.get("/portal?lang=en")
        assert first.status_code == 200
        text = _text(first)
        assert "28 certificates" in text and "Page 1 of 2" in text
        assert "PORTAL-B" not in text  # another CB's
        second = client.get("/portal?lang=en&page=2")
        assert "Page 2 of 2" in _text(second)
        suspended = client.get("/portal?lang=en&status=suspended")
        assert "1 certificates" in _text(suspended) and "PORTAL-000" in _text(suspended)
        number = client.get("/portal?lang=en&q=PORTAL-005&field=number")
        assert "1 certificates" in _text(number)
        assert f"/portal/certificates/{ids[5]}" in number.text
        since = (today - dt.timedelta(days=60)).isoformat()
        recent = client.get(f"/portal?lang=en&issued_from={since}")
        assert "27 certificates" in _text(recent) and "PORTAL-OLD" not in _text(recent)
        until = client.get(f"/portal?lang=en&issued_until={since}")
        assert "1 certificates" in _text(until) and "PORTAL-OLD" in _text(until)
        holder = stack.service.get(ids[1]).record["holder"]["name"]
        by_holder = client.get("/portal", params={"lang": "en", "q": holder[:6], "field": "holder"})
        assert by_holder.status_code == 200 and "28 certificates" in _text(by_holder)

    def test_a_bad_date_is_an_error_tied_to_its_field(
        self, client: TestClient, people: People
    ) -> None:
        signed_in(client, people.officer)
        answer = client.get("/portal?lang=vi&issued_from=2026-13-40")
        assert answer.status_code == 400
        assert 'aria-describedby="issued_from-error"' in answer.text
        assert catalogue("vi")["portal.filter.bad_date"] in _text(answer)

    def test_the_authority_sees_every_cb_with_an_issuer_filter(
        self, client: TestClient, stack: Stack, people: People
    ) -> None:
        issue(stack, "PORTAL-A1")
        issue(stack, "PORTAL-B1", issuer_id=OTHER)
        signed_in(client, people.auditor)
        every = _text(client.get("/portal?lang=en"))
        assert "PORTAL-A1" in every and "PORTAL-B1" in every
        only = _text(client.get(f"/portal?lang=en&issuer={OTHER}"))
        assert "PORTAL-B1" in only and "PORTAL-A1" not in only


class TestCertificatePage:
    def test_fields_history_and_links(
        self, client: TestClient, stack: Stack, people: People
    ) -> None:
        certificate_id = issue(stack, "PORTAL-PAGE")
        stack.service.suspend(ISSUER_ID, certificate_id, reason="misuse-of-mark: logo on flyers")
        signed_in(client, people.officer)
        page = client.get(f"/portal/certificates/{certificate_id}?lang=en")
        assert page.status_code == 200
        text = _text(page)
        assert "PORTAL-PAGE" in text and "suspended" in text
        assert "misuse of the certification mark — logo on flyers" in text
        for link in ("/verify/", "/qr.svg", "/qr.png", "/pdf", "/proof"):
            assert link in page.text
        assert f'href="/portal/certificates/{certificate_id}/reinstate?lang=en"' in page.text

    def test_another_cbs_certificate_is_not_found(
        self, client: TestClient, stack: Stack, people: People
    ) -> None:
        theirs = issue(stack, "PORTAL-THEIRS", issuer_id=OTHER)
        signed_in(client, people.officer)
        page = client.get(f"/portal/certificates/{theirs}?lang=en")
        assert page.status_code == 404
        assert page.headers["content-type"].startswith("text/html")
        action = client.get(f"/portal/certificates/{theirs}/suspend?lang=en")
        assert action.status_code == 404
        assert client.get("/portal/certificates/0x12?lang=en").status_code == 404

    def test_admins_and_the_authority_see_but_do_not_act(
        self, client: TestClient, stack: Stack, people: People
    ) -> None:
        certificate_id = issue(stack, "PORTAL-SEE")
        for login in (people.cb_admin, people.authority):
            client.cookies.clear()
            csrf = signed_in(client, login)
            page = client.get(f"/portal/certificates/{certificate_id}?lang=en")
            assert page.status_code == 200
            assert catalogue("en")["portal.certificate.officers_only"] in _text(page)
            refused = client.post(
                f"/portal/certificates/{certificate_id}/suspend",
                data={"reason": "holder-request", "csrf_token": csrf},
            )
            assert refused.status_code == 403
        assert stack.service.get(certificate_id).status == "valid"


class TestLifecycle:
    def _act(
        self, client: TestClient, certificate_id: str, action: str, reason: str, note: str = ""
    ) -> Response:
        """The three steps: the form, the confirmation page, the change."""
        url = f"/portal/certificates/{certificate_id}/{action}"
        form = client.get(f"{url}?lang=en")
        assert form.status_code == 200, form.text
        csrf = _field(form.text, "csrf_token")
        confirm = client.post(
            f"{url}/confirm?lang=en", data={"reason": reason, "note": note, "csrf_token": csrf}
        )
        assert confirm.status_code == 200, confirm.text
        assert catalogue("en")[f"portal.action.{action}.warning"] in _text(confirm)
        assert _field(confirm.text, "reason") == reason
        return client.post(
            f"{url}?lang=en",
            data={"reason": reason, "note": _field(confirm.text, "note"), "csrf_token": csrf},
            follow_redirects=False,
        )

    def test_suspend_reinstate_withdraw(
        self, client: TestClient, stack: Stack, people: People
    ) -> None:
        certificate_id = issue(stack, "PORTAL-LIFE")
        signed_in(client, people.officer)
        done = self._act(client, certificate_id, "suspend", "surveillance-nonconformity", "NC 3")
        assert done.status_code == 303
        assert done.headers["location"].endswith("&done=suspend")
        assert stack.service.get(certificate_id).status == "suspended"
        page = client.get(done.headers["location"])
        assert catalogue("en")["portal.action.suspend.done"] in _text(page)
        assert self._act(client, certificate_id, "reinstate", "corrective-action-completed")
        assert stack.service.get(certificate_id).status == "valid"
        assert self._act(client, certificate_id, "withdraw", "fraud").status_code == 303
        assert stack.service.get(certificate_id).status == "withdrawn"
        history = [e.type for e in stack.service.history(certificate_id)]
        assert history == ["issue", "suspend", "reinstate", "withdraw"]
        [suspension] = [e for e in stack.service.history(certificate_id) if e.type == "suspend"]
        assert suspension.reason == "surveillance-nonconformity: NC 3"
        final = client.get(f"/portal/certificates/{certificate_id}?lang=en")
        assert catalogue("en")["portal.certificate.no_actions"] in _text(final)

    def test_the_confirmation_checks_the_reason(
        self, client: TestClient, stack: Stack, people: People
    ) -> None:
        certificate_id = issue(stack, "PORTAL-REASON")
        csrf = signed_in(client, people.officer)
        url = f"/portal/certificates/{certificate_id}/suspend/confirm?lang=en"
        answer = client.post(url, data={"reason": "renewal", "csrf_token": csrf})
        assert answer.status_code == 400
        assert 'aria-describedby="reason-error"' in answer.text
        assert stack.service.get(certificate_id).status == "valid"

    def test_an_action_the_status_does_not_allow_is_refused(
        self, client: TestClient, stack: Stack, people: People
    ) -> None:
        certificate_id = issue(stack, "PORTAL-VALID")
        csrf = signed_in(client, people.officer)
        answer = client.post(
            f"/portal/certificates/{certificate_id}/reinstate?lang=en",
            data={"reason": "holder-request", "csrf_token": csrf},
        )
        assert answer.status_code == 409
        assert stack.service.get(certificate_id).status == "valid"

    def test_a_cb_that_keeps_its_key_is_sent_to_the_command_line(
        self, client: TestClient, stack: Stack, people: People
    ) -> None:
        certificate_id = issue(stack, "PORTAL-HELD")
        keep_own_key(stack, ISSUER_ID)
        csrf = signed_in(client, people.officer)
        page = client.get(f"/portal/certificates/{certificate_id}?lang=en")
        assert catalogue("en")["portal.action.held"] in _text(page)
        assert f"certreg suspend {certificate_id}" in _text(page)
        form = client.get(f"/portal/certificates/{certificate_id}/suspend?lang=en")
        assert form.status_code == 200 and "--key" in _text(form)
        refused = client.post(
            f"/portal/certificates/{certificate_id}/suspend?lang=en",
            data={"reason": "holder-request", "csrf_token": csrf},
        )
        assert refused.status_code == 409
        assert stack.service.get(certificate_id).status == "valid"


def keep_own_key(stack: Stack, issuer_id: str) -> None:
    """The CB admitted by the authority's statements, with a key it keeps approved."""
    key_id = sha256(AUTHORITY.public_key().public_bytes_raw())
    issuer = next(i for i in stack.transparency.issuers() if i.id == issuer_id)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    common: dict[str, Any] = {"issuer_id": issuer_id, "at": now, "authority_key_id": key_id}
    holder = KeyHolder(issuer_id, Ed25519PrivateKey.generate())
    admission = Admit(
        **common,
        name_vi=issuer.name_vi,
        name_en=issuer.name_en,
        accreditation_body="BoA",
        accreditation_number="VICAS 901",
        scope=Scope(kinds=tuple(issuer.kinds)),
        valid_from=now.date() - dt.timedelta(days=1),
        valid_until=now.date() + dt.timedelta(days=365),
    )
    stack.service.governance.submit(
        AUTHORITY_PRINCIPAL, sign_statement(admission, AUTHORITY).to_json(), actor=Actor()
    )
    stack.service.issuers.propose_key(
        issuer_id,
        custody=Custody.HELD,
        actor=Actor(),
        public_key=holder.public_key,
        proof=holder.possession_proof(),
    )
    approval = ApproveKey(
        **common, key_id=holder.key_id, public_key=holder.public_key, custody=Custody.HELD
    )
    stack.service.governance.submit(
        AUTHORITY_PRINCIPAL, sign_statement(approval, AUTHORITY).to_json(), actor=Actor()
    )


class TestManagement:
    def test_a_cb_admin_creates_an_officer_and_a_token(
        self, client: TestClient, stack: Stack, people: People
    ) -> None:
        csrf = signed_in(client, people.cb_admin)
        page = client.get("/portal/accounts?lang=en")
        assert page.status_code == 200 and "p-officer" in _text(page)
        assert "p-other" not in _text(page)  # another CB's people
        created = client.post(
            "/portal/accounts?lang=en",
            data={
                "role": "cb_officer",
                "name": "Phạm Minh Đức",
                "login": "p-duc",
                "csrf_token": csrf,
            },
        )
        assert created.status_code == 201, created.text
        setup_token = re.search(r"data-setup-token>([^<]+)<", created.text)
        assert setup_token is not None and setup_token.group(1).startswith("crk_")
        account = next(
            a for a in stack.service.accounts.accounts(AUTHORITY_PRINCIPAL) if a.login == "p-duc"
        )
        assert account.role is Role.CB_OFFICER and account.issuer_id == ISSUER_ID
        again = client.post(
            "/portal/accounts?lang=en",
            data={"role": "cb_officer", "name": "x", "login": "p-duc", "csrf_token": csrf},
        )
        assert again.status_code == 400 and 'aria-describedby="login-hint login-error"' in (
            again.text
        )
        made = client.post(
            "/portal/tokens?lang=en",
            data={
                "label": "ERP",
                "days": "30",
                "account_id": account.account_id,
                "csrf_token": csrf,
            },
        )
        assert made.status_code == 201, made.text
        secret = re.search(r"data-secret>([^<]+)<", made.text)
        assert secret is not None
        principal = stack.service.accounts.authenticate_token(secret.group(1))
        assert principal.account_id == account.account_id
        listed = client.get("/portal/tokens?lang=en")
        assert "ERP" in _text(listed) and secret.group(1) not in listed.text  # shown once
        [token] = [
            t for t in stack.service.accounts.tokens(AUTHORITY_PRINCIPAL) if t.label == "ERP"
        ]
        revoked = client.post(
            f"/portal/tokens/{token.token_id}/revoke?lang=en",
            data={"csrf_token": csrf},
            follow_redirects=False,
        )
        assert revoked.status_code == 303
        disabled = client.post(
            f"/portal/accounts/{account.account_id}/disable?lang=en",
            data={"reason": "left the CB", "csrf_token": csrf},
            follow_redirects=False,
        )
        assert disabled.status_code == 303
        view = stack.service.accounts.account(AUTHORITY_PRINCIPAL, account.account_id)
        assert view.disabled_reason == "left the CB"

    def test_an_officer_has_no_accounts_page(self, client: TestClient, people: People) -> None:
        signed_in(client, people.officer)
        assert client.get("/portal/accounts").status_code == 403
        assert client.get("/portal/issuers").status_code == 403
        assert client.get("/portal/tokens").status_code == 200

    def test_a_cb_admin_proposes_a_hosted_key(
        self, client: TestClient, stack: Stack, people: People
    ) -> None:
        keep_own_key(stack, ISSUER_ID)  # admitted by the statements: it may propose keys
        csrf = signed_in(client, people.cb_admin)
        page = client.get("/portal/keys?lang=en")
        assert page.status_code == 200
        proposed = client.post("/portal/keys?lang=en", data={"csrf_token": csrf})
        assert proposed.status_code == 201, proposed.text
        assert "certreg authority approve-key" in _text(proposed)
        states = [k.state for k in stack.service.issuers.keys(ISSUER_ID)]
        assert states.count("proposed") == 1

    def test_the_authority_sees_the_cbs_and_the_commands(
        self, client: TestClient, stack: Stack, people: People
    ) -> None:
        keep_own_key(stack, ISSUER_ID)
        signed_in(client, people.authority)
        page = client.get("/portal/issuers?lang=vi")
        assert page.status_code == 200
        text = _text(page)
        assert ISSUER_ID in text and OTHER in text
        assert catalogue("vi")["portal.issuers.status.admitted"] in text
        assert f"certreg authority suspend --key <authority key file> --issuer {ISSUER_ID}" in text
        assert "certreg authority adopt" in text  # the CB admitted before the statements


def test_a_setup_token_is_not_a_portal_credential(
    client: TestClient, stack: Stack, people: People
) -> None:
    by = Principal("x" * 16, Role.AUTHORITY_ADMIN, None, "x", "fixture:p")
    made = stack.service.accounts.accounts(by, role=Role.AUTHORITY_ADMIN)[0]
    admin = Principal(made.account_id, Role.AUTHORITY_ADMIN, None, "x", "fixture:p")
    account = stack.service.accounts.create_account(
        admin, role=Role.AUDITOR, issuer_id=None, name="x", login="p-setup", actor=Actor()
    )
    answer = client.get("/portal", headers={"Authorization": f"Bearer {account.setup_token}"})
    assert answer.status_code == 403
