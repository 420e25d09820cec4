"""Accounts, tokens, login sessions and the audit trail over HTTP (api/routes/accounts.py),
from `certreg authority init` to an officer's issuance, on both databases."""

import json
import os
from pathlib import Path
from typing import Any

import pyotp
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app as cli
from api.settings import ApiSettings
from api.stack import Stack
from tests.integration.api.conftest import UNLIMITED, admit, bodies
from tests.integration.conftest import CHAIN_ID, Chain

PASSWORD = "mật khẩu đủ dài 2026"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class People:
    """The authority's first admin (from its setup token), an auditor, a CB admin and the
    officer the CB admin makes, each with an API token, all through the API."""

    def __init__(self, client: TestClient, setup_token: str) -> None:
        self.client = client
        made = client.post("/v1/tokens", json={"label": "admin cli"}, headers=_bearer(setup_token))
        assert made.status_code == 201, made.text
        self.admin = _bearer(made.json()["secret"])
        self.auditor = self.person(self.admin, "auditor", None, "kiemtoan")
        self.cb_admin = self.person(self.admin, "cb_admin", "vn-cb-quatest3", "q3-admin")
        self.officer = self.person(self.cb_admin, "cb_officer", "vn-cb-quatest3", "q3-officer")

    def person(
        self, by: dict[str, str], role: str, issuer_id: str | None, login: str
    ) -> dict[str, str]:
        created = self.client.post(
            "/v1/accounts",
            json={"role": role, "issuer_id": issuer_id, "name": login, "login": login},
            headers=by,
        )
        assert created.status_code == 201, created.text
        setup = _bearer(created.json()["setup_token"])
        password = self.client.put(
            "/v1/me/password", json={"new_password": PASSWORD}, headers=setup
        )
        assert password.status_code == 204, password.text
        login_answer = self.client.post(
            "/v1/auth/login", json={"login": login, "password": PASSWORD}
        )
        assert login_answer.status_code == 200, login_answer.text
        csrf = {"X-CSRF-Token": login_answer.json()["csrf_token"]}
        made = self.client.post("/v1/tokens", json={"label": "own"}, headers=csrf)
        assert made.status_code == 201, made.text
        self.client.post("/v1/auth/logout", headers=csrf)
        self.client.cookies.clear()
        return _bearer(made.json()["secret"])


@pytest.fixture
def people(stack: Stack, client: TestClient) -> People:
    admit(stack)
    created = stack.service.accounts.bootstrap_authority(name="Trần Văn An", login=None)
    return People(client, created.setup_token)


class TestSessions:
    def test_login_sets_a_strict_http_only_cookie_and_changes_need_csrf(
        self, people: People, client: TestClient
    ) -> None:
        answer = client.post("/v1/auth/login", json={"login": "Q3-ADMIN", "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        cookie = answer.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
        assert answer.json()["account"]["role"] == "cb_admin"
        me = client.get("/v1/me")
        assert me.status_code == 200 and me.json()["credential"].startswith("session:")
        refused = client.post("/v1/tokens", json={"label": "x"})
        assert refused.status_code == 403, refused.text
        assert "CSRF" in refused.json()["detail"]
        csrf = {"X-CSRF-Token": answer.json()["csrf_token"]}
        assert client.post("/v1/tokens", json={"label": "x"}, headers=csrf).status_code == 201
        assert client.post("/v1/auth/logout", headers=csrf).status_code == 204
        assert client.get("/v1/me").status_code == 401

    def test_a_failed_login_is_one_answer_for_every_reason(
        self, people: People, client: TestClient
    ) -> None:
        for login, password in (("nobody", PASSWORD), ("q3-admin", "wrong password")):
            answer = client.post("/v1/auth/login", json={"login": login, "password": password})
            assert answer.status_code == 401
            assert answer.json()["detail"] == (
                "login: got a wrong login, password or code, want the account's"
            )

    def test_totp_turned_on_is_asked_at_login(self, people: People, client: TestClient) -> None:
        begun = client.post("/v1/me/totp", headers=people.officer)
        assert begun.status_code == 200, begun.text
        totp = pyotp.TOTP(begun.json()["secret"])
        confirmed = client.post(
            "/v1/me/totp/confirm", json={"code": totp.now()}, headers=people.officer
        )
        assert confirmed.status_code == 204, confirmed.text
        without = client.post("/v1/auth/login", json={"login": "q3-officer", "password": PASSWORD})
        assert without.status_code == 401


class TestRoles:
    def test_only_an_officer_issues(self, people: People, client: TestClient) -> None:
        body = bodies()[0]
        for who in (people.admin, people.auditor, people.cb_admin):
            refused = client.post("/v1/certificates", json=body, headers=who)
            assert refused.status_code == 403, refused.text
        issued = client.post("/v1/certificates", json=body, headers=people.officer)
        assert issued.status_code == 201, issued.text

    def test_an_auditor_reads_everything_and_changes_nothing(
        self, people: People, client: TestClient
    ) -> None:
        assert client.get("/v1/accounts", headers=people.auditor).status_code == 200
        assert client.get("/v1/tokens", headers=people.auditor).status_code == 200
        assert client.get("/v1/audit", headers=people.auditor).status_code == 200
        made = client.post(
            "/v1/accounts",
            json={"role": "auditor", "name": "x"},
            headers=people.auditor,
        )
        assert made.status_code == 403

    def test_tokens_are_listed_with_last_use_and_revoked(
        self, people: People, client: TestClient
    ) -> None:
        me = client.get("/v1/me", headers=people.officer).json()
        tokens = client.get(
            "/v1/tokens",
            params={"account_id": me["account"]["account_id"]},
            headers=people.cb_admin,
        ).json()["tokens"]
        own = next(t for t in tokens if t["label"] == "own")
        assert own["last_used_at"] is not None and own["expires_at"]
        assert "secret" not in json.dumps(tokens)
        revoked = client.delete(f"/v1/tokens/{own['token_id']}", headers=people.cb_admin)
        assert revoked.status_code == 200, revoked.text
        answer = client.get("/v1/me", headers=people.officer)
        assert answer.status_code == 401 and "revoked" in answer.json()["detail"]


class TestAuditTrail:
    def test_the_trail_names_who_did_what_from_where(
        self, people: People, client: TestClient
    ) -> None:
        issued = client.post("/v1/certificates", json=bodies()[0], headers=people.officer)
        assert issued.status_code == 201
        page = client.get("/v1/audit", params={"limit": 1000}, headers=people.auditor).json()
        entries = page["entries"]
        assert page["next_after"] is None
        issue = next(e for e in entries if e["action"] == "certificate.issue")
        assert issue["role"] == "cb_officer" and issue["issuer_id"] == "vn-cb-quatest3"
        assert issue["address"] == "testclient"
        assert issue["target"] == f"certificate:{issued.json()['id']}"
        actions = {e["action"] for e in entries}
        assert {"account.create", "account.password", "auth.login", "token.create"} <= actions
        first = client.get("/v1/audit", params={"limit": 2}, headers=people.auditor).json()
        assert len(first["entries"]) == 2 and first["next_after"] == first["entries"][1]["seq"]

    def test_an_officer_may_not_read_it(self, people: People, client: TestClient) -> None:
        assert client.get("/v1/audit", headers=people.officer).status_code == 403


def test_authority_init_then_the_api(
    chain: Chain, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`certreg authority init` on a fresh database prints a setup token that works once
    against the served API; a second init is refused."""
    for name in list(os.environ):
        if name.startswith("CERTREG_"):
            monkeypatch.delenv(name)
    settings: dict[str, Any] = {
        "CERTREG_DATABASE_URL": database_url,
        "CERTREG_RPC_URL": chain.node.url,
        "CERTREG_CHAIN_ID": str(CHAIN_ID),
        "CERTREG_CONTRACT_ADDRESS": chain.deployment.address,
        "CERTREG_DATA_DIR": str(tmp_path / "data"),
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    assert runner.invoke(cli, ["keys", "init"]).exit_code == 0
    made = runner.invoke(cli, ["authority", "init", "--name", "Trần Văn An", "--json"])
    assert made.exit_code == 0, made.output
    setup_token = json.loads(made.stdout)["setup_token"]
    again = runner.invoke(cli, ["authority", "init", "--name", "Another"])
    assert again.exit_code == 1 and "active admin" in again.output
    stack = Stack()
    try:
        with TestClient(create_app(stack, ApiSettings(**UNLIMITED))) as client:
            first = client.post("/v1/tokens", json={"label": "cli"}, headers=_bearer(setup_token))
            assert first.status_code == 201, first.text
            assert first.json()["token"]["role"] == "authority_admin"
            second = client.post("/v1/tokens", json={"label": "x"}, headers=_bearer(setup_token))
            assert second.status_code == 401  # used once
    finally:
        stack.close()
