"""Rate limits that cannot be turned against users (docs/security.md): anonymous traffic by
client address, authenticated traffic by issuer, `POST /v1/verify`'s chain reads by client —
through the real app, database and chain."""

import copy
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from api.settings import ApiSettings
from api.stack import Stack
from registry.db import models
from tests.clock import ManualClock
from tests.integration.api.conftest import UNLIMITED, admit, bodies, chain_settings, make_stack
from tests.integration.api.test_api import assert_problem
from tests.integration.conftest import Chain

ATTACKER = ("203.0.113.9", 4000)
NEIGHBOUR = ("198.51.100.7", 5000)


def limited(**settings: Any) -> ApiSettings:
    return ApiSettings(**{**UNLIMITED, **settings})


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def stack(database_url: str, chain: Chain, tmp_path: Any, clock: ManualClock) -> Iterator[Stack]:
    # Time stands still unless a test moves it: no bucket refills behind a test's back, and the
    # chain-facts cache's TTLs do not expire mid-test.
    built = make_stack(database_url, chain, tmp_path)
    timed = Stack(built.settings, chain_settings(chain), migrate=False, clock=clock)
    built.close()
    yield timed
    timed.close()


def issue(client: TestClient, auth: dict[str, str], n: int = 0) -> str:
    body = {**bodies()[n], "valid_until": "2099-01-01"}
    response = client.post("/v1/certificates", json=body, headers=auth)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


class TestAnonymousTraffic:
    def test_is_limited_per_client_address(self, stack: Stack, clock: ManualClock) -> None:
        app = create_app(stack, limited(public_rate_limit_per_s=1, public_rate_limit_burst=3))
        with TestClient(app, client=ATTACKER) as attacker, TestClient(app, client=NEIGHBOUR) as n:
            assert [attacker.get("/v1/registry").status_code for _ in range(3)] == [200] * 3
            refused = attacker.get("/v1/registry")
            assert_problem(refused, 429, "rate-limited")
            assert refused.headers["Retry-After"] == "1"
            assert n.get("/v1/registry").status_code == 200  # another address is not affected
            clock.advance(1.0)
            assert attacker.get("/v1/registry").status_code == 200

    def test_pages_and_public_routes_share_the_allowance(self, stack: Stack) -> None:
        app = create_app(stack, limited(public_rate_limit_per_s=0.01, public_rate_limit_burst=2))
        with TestClient(app, client=ATTACKER) as client:
            assert client.get("/verify").status_code == 200
            assert client.get("/v1/checkpoints").status_code == 200
            page = client.get("/verify", headers={"Accept-Language": "en"})
            assert page.status_code == 429
            assert page.headers["content-type"].startswith("text/html")  # a page, not JSON

    def test_credentials_sent_to_a_public_route_buy_nothing(self, stack: Stack) -> None:
        auth = admit(stack)
        app = create_app(stack, limited(public_rate_limit_per_s=0.01, public_rate_limit_burst=2))
        with TestClient(app, client=ATTACKER) as client:
            statuses = [client.get("/v1/registry", headers=auth).status_code for _ in range(3)]
            assert statuses == [200, 200, 429]

    def test_made_up_credentials_count_against_the_address(self, stack: Stack) -> None:
        app = create_app(stack, limited(public_rate_limit_per_s=0.01, public_rate_limit_burst=2))
        forged = {"Authorization": f"Bearer crk_{secrets.token_hex(8)}_{'A' * 43}"}
        with TestClient(app, client=ATTACKER) as client:
            statuses = [
                client.post("/v1/certificates", json=bodies()[0], headers=forged).status_code
                for _ in range(3)
            ]
            assert statuses == [401, 401, 429]
            # …and so does the address's anonymous traffic: the same allowance.
            assert client.get("/v1/registry").status_code == 429


class TestAuthenticatedTraffic:
    def test_an_issuer_is_not_limited_by_its_address(self, stack: Stack) -> None:
        # A bulk import from one office address runs on the issuer's allowance, not on the
        # (small) anonymous one of that address.
        auth = admit(stack)
        app = create_app(stack, limited(public_rate_limit_per_s=0.01, public_rate_limit_burst=1))
        with TestClient(app, client=ATTACKER) as client:
            for n in range(3):
                assert issue(client, auth, n)
            assert client.get("/v1/registry").status_code == 200
            assert client.get("/v1/registry").status_code == 429

    def test_an_issuer_is_limited_by_its_own_allowance(self, stack: Stack) -> None:
        auth = admit(stack)
        app = create_app(stack, limited(rate_limit_per_s=0.01, rate_limit_burst=2))
        with TestClient(app, client=ATTACKER) as one, TestClient(app, client=NEIGHBOUR) as two:
            issue(one, auth, 0)
            issue(two, auth, 1)  # another address, the same issuer: the same bucket
            refused = one.post("/v1/certificates", json=bodies()[2], headers=auth)
            problem = assert_problem(refused, 429, "rate-limited")
            assert "issuer" in problem["detail"]


class TestChainReadsOfVerify:
    def test_cached_facts_are_free_made_up_ones_are_charged(
        self, stack: Stack, clock: ManualClock
    ) -> None:
        auth = admit(stack)
        settings = limited(verify_chain_reads_per_s=0.5, verify_chain_reads_burst=12)
        app = create_app(stack, settings)
        with TestClient(app, client=ATTACKER) as attacker, TestClient(app, client=NEIGHBOUR) as n:
            certificate_id = issue(attacker, auth)
            stack.worker.run_until_idle()
            bundle = attacker.get(f"/v1/certificates/{certificate_id}/proof").json()
            assert bundle["status"] == "ANCHORED"
            # The first verification reads the chain (a few calls); the same bundle again is
            # answered from the cache: a verifier checking real bundles never meets the limit.
            for _ in range(20):
                answer = attacker.post("/v1/verify", json={"bundle": bundle})
                assert answer.status_code == 200, answer.text
                assert answer.json()["status"] == "VALID"
            # A made-up anchoring transaction costs a receipt lookup each: the client runs out.
            statuses = []
            for _ in range(15):
                forged = copy.deepcopy(bundle)
                forged["anchor"]["tx_hash"] = "0x" + secrets.token_hex(32)
                statuses.append(attacker.post("/v1/verify", json={"bundle": forged}).status_code)
            assert 429 in statuses, statuses
            first = statuses.index(429)
            assert statuses[:first] == [200] * first and first >= 5, statuses
            assert set(statuses[first:]) == {429}, statuses
            refused = attacker.post("/v1/verify", json={"bundle": bundle})
            problem = assert_problem(refused, 429, "rate-limited")
            assert "chain" in problem["detail"]
            # Its neighbour's verifications are unaffected…
            assert n.post("/v1/verify", json={"bundle": bundle}).status_code == 200
            # …and a "no" is cached too: the same made-up hash again costs nothing.
            repeat = n.post("/v1/verify", json={"bundle": forged})
            assert repeat.status_code == 200
            # Time pays the debt back.
            clock.advance(60)
            assert attacker.post("/v1/verify", json={"bundle": bundle}).status_code == 200


class TestIssuanceQuota:
    def test_off_by_default(self, stack: Stack) -> None:
        auth = admit(stack)
        with TestClient(create_app(stack, limited())) as client:
            for n in range(4):
                issue(client, auth, n)
        with stack.sessions() as session:
            assert session.scalars(select(models.IssuanceCount)).all() == []

    def test_a_batch_past_the_quota_is_refused_whole(
        self, database_url: str, chain: Chain, tmp_path: Any, clock: ManualClock
    ) -> None:
        built = make_stack(database_url, chain, tmp_path, issuance_quota_per_day=3)
        stack = Stack(built.settings, chain_settings(chain), migrate=False, clock=clock)
        built.close()
        try:
            auth = admit(stack)
            other = admit(stack, "vn-cb-hoabinh")
            batch = [{**b, "valid_until": "2099-01-01"} for b in bodies()[:4]]
            with TestClient(create_app(stack, limited())) as client:
                first = client.post(
                    "/v1/certificates/batch", json={"certificates": batch[:2]}, headers=auth
                )
                assert first.status_code == 201, first.text
                # Repeats are not new certificates: they do not count.
                again = client.post(
                    "/v1/certificates/batch", json={"certificates": batch[:2]}, headers=auth
                )
                assert again.status_code == 200, again.text
                assert again.json()["created"] == 0
                refused = client.post(
                    "/v1/certificates/batch", json={"certificates": batch[2:4]}, headers=auth
                )
                problem = assert_problem(refused, 429, "quota-exceeded")
                assert "got 2 more certificates after 2 today" in problem["detail"]
                # The manual clock says 09:00 UTC: retry at midnight, 15 hours on.
                assert refused.headers["Retry-After"] == str(15 * 3600)
                number = batch[2]["number"]
                assert client.get(f"/v1/certificates?number={number}").json()["total"] == 0
                # One more fits; another issuer has a count of its own.
                assert issue(client, auth, 2)
                theirs = {**bodies("vn-cb-hoabinh")[0], "valid_until": "2099-01-01"}
                assert (
                    client.post("/v1/certificates", json=theirs, headers=other).status_code == 201
                )
                clock.advance(15 * 3600)  # a new UTC day
                assert issue(client, auth, 3)
        finally:
            stack.close()


def test_request_threads_bound_the_requests_run_at_once(stack: Stack) -> None:
    from anyio import to_thread  # noqa: PLC0415

    with TestClient(create_app(stack, limited(request_threads=3))) as client:
        assert client.portal is not None
        tokens = client.portal.call(lambda: to_thread.current_default_thread_limiter().total_tokens)
        assert tokens == 3
