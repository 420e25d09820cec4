"""Bad input over the wire gets a clear 4xx problem and changes nothing (docs/spec.md §12):
malformed JSON, bytes that are not UTF-8, a body that is not JSON, wrong types, unknown members,
oversize bodies (declared or streamed), unknown and malformed ids, forged and missing API keys."""

import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.harness import RunningRegistry, submission

pytestmark = pytest.mark.e2e

PROBLEM = "application/problem+json"
JSON = {"content-type": "application/json"}


def streamed(size: int) -> Iterator[bytes]:
    """A body sent in chunks, without Content-Length."""
    chunk = b" " * 4096
    for _ in range(size // len(chunk) + 1):
        yield chunk


def test_bad_input_gets_a_problem_and_changes_nothing(registry: RunningRegistry) -> None:
    http, auth = registry.http, registry.auth
    before = http.get("/v1/registry").json()["log_size"]
    body = submission(f"E2E-BAD-{secrets.token_hex(3)}")
    forged_key = f"crk_{secrets.token_hex(8)}_{secrets.token_urlsafe(32)}"
    unknown = "0x" + secrets.token_hex(32)
    big = int(registry.env.get("CERTREG_MAX_BODY_BYTES", 1024 * 1024)) + 4096

    cases: list[tuple[str, Any, int, str]] = [
        ("malformed JSON", lambda: http.post(
            "/v1/certificates", content=b'{"kind": ', headers={**auth, **JSON}
        ), 422, "validation"),
        ("bytes that are not UTF-8", lambda: http.post(
            "/v1/certificates", content=b"\x80\x81", headers={**auth, **JSON}
        ), 422, "validation"),
        ("a body that is not JSON", lambda: http.post(
            "/v1/certificates", content=b"kind=calibration",
            headers={**auth, "content-type": "application/x-www-form-urlencoded"},
        ), 415, "unsupported-media-type"),
        ("wrong types", lambda: http.post(
            "/v1/certificates", json={**body, "holder": 5, "valid_from": 20260101}, headers=auth
        ), 422, "validation"),
        ("unknown member", lambda: http.post(
            "/v1/certificates", json={**body, "status": "valid"}, headers=auth
        ), 422, "validation"),
        ("oversize, declared", lambda: http.post(
            "/v1/certificates", content=b" " * big, headers={**auth, **JSON}
        ), 413, "payload-too-large"),
        ("oversize, streamed", lambda: http.post(
            "/v1/certificates", content=streamed(big), headers={**auth, **JSON}
        ), 413, "payload-too-large"),
        ("no API key", lambda: http.post("/v1/certificates", json=body), 401, "unauthorized"),
        ("forged API key", lambda: http.post(
            "/v1/certificates", json=body, headers={"Authorization": f"Bearer {forged_key}"}
        ), 401, "unauthorized"),
        ("unknown id", lambda: http.post(
            f"/v1/certificates/{unknown}/withdraw", json={"reason": "fraud"}, headers=auth
        ), 404, "not-found"),
        ("malformed id", lambda: http.post(
            "/v1/certificates/0xABC/withdraw", json={"reason": "fraud"}, headers=auth
        ), 422, "validation"),
        ("unknown reason", lambda: http.post(
            f"/v1/certificates/{unknown}/withdraw", json={"reason": "because"}, headers=auth
        ), 422, "validation"),
        ("verify with neither bundle nor record", lambda: http.post(
            "/v1/verify", json={}
        ), 422, "validation"),
        ("verify a bundle that is not an object", lambda: http.post(
            "/v1/verify", json={"bundle": [1, 2]}
        ), 422, "validation"),
        ("entries past the anchored size", lambda: http.get(
            "/v1/log/entries", params={"start": 0, "end": 2**40}
        ), 400, "invalid-request"),
        ("no such route", lambda: http.get("/v1/nothing"), 404, "not-found"),
    ]  # fmt: skip
    for name, send, status, kind in cases:
        response = send()
        assert response.status_code == status, f"{name}: {response.status_code} {response.text}"
        assert response.headers["content-type"].startswith(PROBLEM), name
        problem = response.json()
        assert problem["type"] == f"urn:certreg:problem:{kind}", name
        assert problem["status"] == status and problem["detail"], name

    assert http.get("/v1/registry").json()["log_size"] == before
    found = http.get("/v1/certificates", params={"number": body["number"]}).json()
    assert found["total"] == 0
    # The server is still well: the same body, properly sent, is issued.
    assert registry.issue(body)["number"] == body["number"]
