"""Every route of the API, in process, over a real database and chain."""

import copy
from typing import Any

from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from api.stack import Stack
from registry.compact import MEDIA_TYPE, decode_bundle, encode_bundle
from tests.integration.api.conftest import admit, bodies

PROBLEM = "application/problem+json"


def assert_problem(response: Any, status: int, kind: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    problem: dict[str, Any] = response.json()
    assert problem["type"] == f"urn:certreg:problem:{kind}"
    assert problem["status"] == status
    assert problem["detail"]
    return problem


def current(bodies_: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [b for b in bodies_ if b.get("valid_until", "9999") > "2026-12-31"]


class TestIssue:
    def test_created_then_idempotent_then_conflict(self, client: TestClient, stack: Stack) -> None:
        auth = admit(stack)
        body = bodies()[0]
        first = client.post("/v1/certificates", json=body, headers=auth)
        assert first.status_code == 201, first.text
        assert first.json()["created"] is True
        again = client.post("/v1/certificates", json=body, headers=auth)
        assert again.status_code == 200
        assert again.json()["id"] == first.json()["id"]
        assert again.json()["created"] is False
        different = {**body, "scheme": "Phương thức 5"}
        assert_problem(
            client.post("/v1/certificates", json=different, headers=auth), 409, "conflict"
        )

    def test_needs_an_api_key(self, client: TestClient, stack: Stack) -> None:
        admit(stack)
        body = bodies()[0]
        problem = assert_problem(client.post("/v1/certificates", json=body), 401, "unauthorized")
        assert "Bearer" in problem["detail"]
        bad = {"Authorization": "Bearer crk_0000000000000000_" + "A" * 43}
        assert_problem(client.post("/v1/certificates", json=body, headers=bad), 401, "unauthorized")
        basic = {"Authorization": "Basic dXNlcjpwYXNz"}
        assert_problem(
            client.post("/v1/certificates", json=body, headers=basic), 401, "unauthorized"
        )

    def test_schema_errors(self, client: TestClient, stack: Stack) -> None:
        auth = admit(stack)
        for body in ({}, {**bodies()[0], "kind": "astrology"}, {**bodies()[0], "extra": 1}):
            assert_problem(
                client.post("/v1/certificates", json=body, headers=auth), 422, "validation"
            )
        response = client.post(
            "/v1/certificates",
            content=b"{not json",
            headers={**auth, "content-type": "application/json"},
        )
        assert_problem(response, 422, "validation")

    def test_kind_not_allowed(self, client: TestClient, stack: Stack) -> None:
        auth = admit(stack, "vn-insp-mekong")
        response = client.post("/v1/certificates", json=bodies()[0], headers=auth)
        assert_problem(response, 403, "forbidden")

    def test_batch(self, client: TestClient, stack: Stack) -> None:
        auth = admit(stack)
        batch = {"certificates": bodies()[:5]}
        response = client.post("/v1/certificates/batch", json=batch, headers=auth)
        assert response.status_code == 201, response.text
        assert response.json()["created"] == 5
        repeat = client.post("/v1/certificates/batch", json=batch, headers=auth)
        assert repeat.status_code == 200
        too_many = {"certificates": bodies() * 3}
        assert_problem(
            client.post("/v1/certificates/batch", json=too_many, headers=auth),
            400,
            "invalid-request",
        )

    def test_body_size_limit(self, client: TestClient, stack: Stack) -> None:
        auth = admit(stack)
        huge = {**bodies()[0], "scheme": "x" * 100_000}
        assert_problem(
            client.post("/v1/certificates", json=huge, headers=auth), 413, "payload-too-large"
        )


class TestLifecycle:
    def test_transitions_and_illegal_ones(self, client: TestClient, stack: Stack) -> None:
        auth = admit(stack)
        cid = client.post("/v1/certificates", json=current(bodies())[0], headers=auth).json()["id"]
        for action, status in (
            ("suspend", "suspended"),
            ("reinstate", "valid"),
            ("withdraw", "withdrawn"),
        ):
            response = client.post(
                f"/v1/certificates/{cid}/{action}", json={"reason": "other"}, headers=auth
            )
            assert response.status_code == 200, response.text
            assert response.json()["status"] == status
        assert_problem(
            client.post(
                f"/v1/certificates/{cid}/reinstate", json={"reason": "other"}, headers=auth
            ),
            409,
            "illegal-transition",
        )
        assert_problem(
            client.post(f"/v1/certificates/{cid}/suspend", json={"reason": "nope"}, headers=auth),
            422,
            "validation",
        )

    def test_another_issuers_certificate(self, client: TestClient, stack: Stack) -> None:
        auth = admit(stack)
        other = admit(stack, "vn-cb-hoabinh")
        cid = client.post("/v1/certificates", json=current(bodies())[0], headers=auth).json()["id"]
        assert_problem(
            client.post(
                f"/v1/certificates/{cid}/withdraw", json={"reason": "fraud"}, headers=other
            ),
            403,
            "forbidden",
        )

    def test_supersede(self, client: TestClient, stack: Stack) -> None:
        auth = admit(stack)
        old, new = current(bodies())[:2]
        cid = client.post("/v1/certificates", json=old, headers=auth).json()["id"]
        response = client.post(
            f"/v1/certificates/{cid}/supersede", json={"certificate": new}, headers=auth
        )
        assert response.status_code == 201, response.text
        assert response.json()["supersedes"] == cid
        assert client.get(f"/v1/certificates/{cid}").json()["status"] == "superseded"


class TestReads:
    def test_get_and_search(self, client: TestClient, stack: Stack) -> None:
        auth = admit(stack)
        created = client.post(
            "/v1/certificates/batch", json={"certificates": bodies()}, headers=auth
        )
        first = created.json()["certificates"][0]
        got = client.get(f"/v1/certificates/{first['id']}")
        assert got.status_code == 200
        assert got.json()["record"] == first["record"]
        found = client.get("/v1/certificates", params={"number": first["number"]}).json()
        assert found["total"] == 1
        assert found["certificates"][0]["id"] == first["id"]
        by_issuer = client.get(
            "/v1/certificates", params={"issuer_id": "vn-cb-quatest3", "limit": 2}
        )
        assert by_issuer.json()["total"] == len(bodies())
        assert len(by_issuer.json()["certificates"]) == 2

    def test_unknown_and_malformed_ids(self, client: TestClient) -> None:
        assert_problem(client.get("/v1/certificates/0x" + "00" * 32), 404, "not-found")
        assert_problem(client.get("/v1/certificates/0xABC"), 422, "validation")
        assert_problem(client.get("/v1/nothing-here"), 404, "not-found")
        assert_problem(client.delete("/v1/certificates"), 405, "method-not-allowed")


class TestProofsAndVerification:
    def test_pending_anchored_verified_tampered(self, client: TestClient, stack: Stack) -> None:
        auth = admit(stack)
        cid = client.post("/v1/certificates", json=current(bodies())[0], headers=auth).json()["id"]
        pending = client.get(f"/v1/certificates/{cid}/proof").json()
        assert pending["status"] == "PENDING"
        assert pending["checkpoint"] is None and pending["next_checkpoint_due"]
        verdict = client.post("/v1/verify", json={"bundle": pending}).json()
        assert verdict["status"] == "PENDING"

        stack.worker.run_until_idle()
        bundle = client.get(f"/v1/certificates/{cid}/proof").json()
        assert bundle["status"] == "ANCHORED"
        verdict = client.post("/v1/verify", json={"bundle": bundle}).json()
        assert verdict["status"] == "VALID", verdict["checks"]
        assert {c["name"]: c["status"] for c in verdict["checks"]} == dict.fromkeys(
            [
                "record_integrity",
                "issuer_signature",
                "issuer_key_registered",
                "log_inclusion",
                "checkpoint_anchored",
                "certificate_status",
                "validity_period",
            ],
            "passed",
        ) | {"issuer_accredited": "skipped"}  # a CB admitted by the operator: before_governance
        forged = copy.deepcopy(bundle)
        forged["record"]["holder"]["name"] = "Công ty Giả Mạo"
        assert client.post("/v1/verify", json={"bundle": forged}).json()["status"] == "INVALID"
        garbage = client.post("/v1/verify", json={"bundle": {"format": "x"}})
        assert garbage.status_code == 200
        assert garbage.json()["status"] == "INVALID"

        assert (
            client.post("/v1/verify", json={"record": bundle["record"]}).json()["status"] == "VALID"
        )
        altered = {**bundle["record"], "number": "VICAS-9999"}
        assert client.post("/v1/verify", json={"record": altered}).json()["status"] == "INVALID"
        assert_problem(client.post("/v1/verify", json={}), 422, "validation")

    def test_unknown_id_gets_a_non_membership_proof(self, client: TestClient, stack: Stack) -> None:
        auth = admit(stack)
        client.post("/v1/certificates", json=bodies()[0], headers=auth)
        stack.worker.run_until_idle()
        bundle = client.get("/v1/certificates/0x" + "ab" * 32 + "/proof").json()
        assert bundle["status"] == "UNKNOWN"
        assert bundle["status_proof"]["leaf"] is None
        assert client.post("/v1/verify", json={"bundle": bundle}).json()["status"] == "UNKNOWN"

    def test_bundles_are_compressed_for_clients_that_ask(
        self, client: TestClient, stack: Stack
    ) -> None:
        auth = admit(stack)
        cid = client.post("/v1/certificates", json=bodies()[0], headers=auth).json()["id"]
        stack.worker.run_until_idle()
        response = client.get(f"/v1/certificates/{cid}/proof", headers={"Accept-Encoding": "gzip"})
        assert response.headers["content-encoding"] == "gzip"
        assert response.json()["status"] == "ANCHORED"

    def test_the_compact_form_for_clients_that_ask(self, client: TestClient, stack: Stack) -> None:
        auth = admit(stack)
        cid = client.post("/v1/certificates", json=bodies()[0], headers=auth).json()["id"]
        pending_json = client.get(f"/v1/certificates/{cid}/proof").json()
        pending_cbor = client.get(
            f"/v1/certificates/{cid}/proof", headers={"Accept": "application/cbor"}
        )
        assert pending_cbor.headers["content-type"] == "application/cbor"
        assert decode_bundle(pending_cbor.content) == pending_json
        stack.worker.run_until_idle()
        url = f"/v1/certificates/{cid}/proof"
        as_json = client.get(url)
        assert as_json.headers["content-type"] == "application/json"
        assert "Accept" in as_json.headers["vary"].split(", ")
        for accept, media in [
            (MEDIA_TYPE, MEDIA_TYPE),
            ("application/cbor", "application/cbor"),
            (f"application/json;q=0.5, {MEDIA_TYPE}", MEDIA_TYPE),
            (f"application/cbor, {MEDIA_TYPE};q=0.9, */*;q=0.1", "application/cbor"),
        ]:
            compact = client.get(url, headers={"Accept": accept})
            assert compact.status_code == 200
            assert compact.headers["content-type"] == media
            assert "Accept" in compact.headers["vary"].split(", ")
            assert compact.content == encode_bundle(as_json.json())  # deterministic
            assert decode_bundle(compact.content) == as_json.json()
            assert len(compact.content) < len(as_json.content)
        for accept in ["*/*", "application/json", f"application/json, {MEDIA_TYPE};q=0.5"]:
            response = client.get(url, headers={"Accept": accept})
            assert response.headers["content-type"] == "application/json"
        zero = client.get(url, headers={"Accept": f"{MEDIA_TYPE};q=0, application/json;q=0.1"})
        assert zero.headers["content-type"] == "application/json"
        unknown = client.get(
            "/v1/certificates/0x" + "ab" * 32 + "/proof", headers={"Accept": MEDIA_TYPE}
        )
        assert decode_bundle(unknown.content)["status"] == "UNKNOWN"
        verdict = client.post("/v1/verify", json={"bundle": decode_bundle(compact.content)})
        assert verdict.json()["status"] == "VALID"


class TestAudit:
    def test_registry_checkpoints_consistency_entries(
        self, client: TestClient, stack: Stack
    ) -> None:
        auth = admit(stack)
        every = bodies()
        client.post("/v1/certificates/batch", json={"certificates": every[:3]}, headers=auth)
        stack.worker.run_until_idle()
        client.post("/v1/certificates/batch", json={"certificates": every[3:]}, headers=auth)
        stack.worker.run_until_idle()

        registry = client.get("/v1/registry").json()
        assert registry["origin"] == "registry.test/log"
        assert registry["vkey"].startswith("registry.test/log+")
        assert registry["log_size"] == len(every)
        # A first contract: a line of one (docs/spec.md §7.7).
        assert registry["succession"] == [
            {"contract": registry["contract"], "predecessor": None, "start_index": None}
        ]
        checkpoints = client.get("/v1/checkpoints").json()["checkpoints"]
        assert [c["tree_size"] for c in checkpoints] == [3, len(every)]
        assert client.get("/v1/checkpoints/1").json() == checkpoints[1]
        assert_problem(client.get("/v1/checkpoints/7"), 404, "not-found")
        proof = client.get("/v1/log/consistency", params={"from": 3, "to": len(every)}).json()
        assert proof["size1"] == 3 and proof["hashes"]
        assert_problem(
            client.get("/v1/log/consistency", params={"from": 3, "to": 999}), 400, "invalid-request"
        )
        page = client.get("/v1/log/entries", params={"start": 0, "end": len(every)}).json()
        assert [e["seq"] for e in page["entries"]] == list(range(len(every)))
        assert_problem(
            client.get("/v1/log/entries", params={"start": 5, "end": 5}), 400, "invalid-request"
        )

    def test_metrics(self, client: TestClient, stack: Stack) -> None:
        auth = admit(stack)
        client.post("/v1/certificates", json=bodies()[0], headers=auth)
        text = client.get("/metrics").text
        assert "certreg_events_unanchored 1.0" in text
        assert "certreg_log_size 1.0" in text


def test_rate_limit(stack: Stack) -> None:
    settings = ApiSettings(rate_limit_per_s=0.5, rate_limit_burst=2)
    with TestClient(create_app(stack, settings)) as client:
        auth = admit(stack)
        body = bodies()[0]
        statuses = [
            client.post("/v1/certificates", json=body, headers=auth).status_code for _ in range(3)
        ]
        assert statuses[:2] == [201, 200]
        limited = client.post("/v1/certificates", json=body, headers=auth)
        assert_problem(limited, 429, "rate-limited")
        assert int(limited.headers["Retry-After"]) >= 1
