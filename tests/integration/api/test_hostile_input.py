"""Input that used to reach the database or the encoder and come back as a 500: now a 422
naming the field, or accepted and stored whole, on SQLite and on PostgreSQL alike
(docs/spec.md §11.1, "Input limits"); a read the registry kept moving under is a 503."""

import copy
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.limits import RateLimiter
from api.settings import ApiSettings
from api.stack import Stack
from registry.db.mapstore import StaleCacheError
from tests.integration.api.conftest import admit, bodies
from tests.integration.api.test_api import assert_problem

MAX_SAFE = 2**53 - 1


def body(number: str, /, **changes: Any) -> dict[str, Any]:
    fields = copy.deepcopy(bodies()[0])
    fields["number"] = number
    for path, value in changes.items():
        target = fields
        *parents, last = path.split("__")
        for parent in parents:
            target = target[parent]
        target[last] = value
    return fields


def test_integers_stay_within_what_json_carries(client: TestClient, stack: Stack) -> None:
    auth = admit(stack)
    for n, too_big in enumerate((MAX_SAFE + 1, -(MAX_SAFE + 1), 2**64, 10**30)):
        sent = body(f"INT-{n}", subject__lot=too_big)
        problem = assert_problem(
            client.post("/v1/certificates", json=sent, headers=auth), 422, "validation"
        )
        assert "subject" in problem["detail"]
    for n, fine in enumerate((MAX_SAFE, -MAX_SAFE, 0)):
        sent = body(f"INT-OK-{n}", subject__lot=fine)
        created = client.post("/v1/certificates", json=sent, headers=auth)
        assert created.status_code == 201, created.text
        assert created.json()["record"]["subject"]["lot"] == fine


def test_every_length_the_model_accepts_is_stored(client: TestClient, stack: Stack) -> None:
    # The columns are as wide as the model's limits (they were 300 and 40 on PostgreSQL).
    auth = admit(stack)
    sent = body("LONG-1", holder__name="Đ" * 500, holder__tax_code="7" * 100)
    created = client.post("/v1/certificates", json=sent, headers=auth)
    assert created.status_code == 201, created.text
    found = client.get("/v1/certificates", params={"tax_code": "7" * 100})
    assert found.status_code == 200, found.text
    assert found.json()["total"] == 1


def test_limits_apply_to_the_normalised_text(client: TestClient, stack: Stack) -> None:
    # U+0958 is excluded from composition: NFC makes each one two code points, so a name within
    # the limit as sent would exceed it as stored. The limit applies to what is stored.
    auth = admit(stack)
    sent = body("NFC-1", holder__name="\u0958" * 300)
    problem = assert_problem(
        client.post("/v1/certificates", json=sent, headers=auth), 422, "validation"
    )
    assert "holder.name" in problem["detail"]
    fine = body("NFC-2", holder__name="\u0958" * 250)
    created = client.post("/v1/certificates", json=fine, headers=auth)
    assert created.status_code == 201, created.text
    assert created.json()["record"]["holder"]["name"] == "\u0915\u093c" * 250


@pytest.mark.parametrize(
    ("where", "text"),
    [
        ("holder__name", "Công ty\x00 ABC"),
        ("holder__address", "a\ud800b"),
        ("subject__product", "x\x00"),
        ("number", "N\udfff1"),
    ],
    ids=["nul-name", "surrogate-address", "nul-subject", "surrogate-number"],
)
def test_nul_and_lone_surrogates_are_refused(
    client: TestClient, stack: Stack, where: str, text: str
) -> None:
    auth = admit(stack)
    sent = body("CTRL-1", **{where: text})
    # Lone surrogates cannot be encoded as UTF-8: send the JSON text with \u escapes.
    raw = json.dumps(sent, ensure_ascii=True).encode()
    response = client.post(
        "/v1/certificates", content=raw, headers={**auth, "content-type": "application/json"}
    )
    problem = assert_problem(response, 422, "validation")
    assert where.rsplit("__", maxsplit=1)[-1] in problem["detail"]


@pytest.mark.parametrize("param", ["holder", "number", "tax_code", "issuer_id"])
def test_search_parameters_with_nul_are_refused(client: TestClient, param: str) -> None:
    assert_problem(client.get("/v1/certificates", params={param: "ab\x00cd"}), 422, "validation")


def test_deep_nesting_in_a_bundle_is_refused(client: TestClient, stack: Stack) -> None:
    auth = admit(stack)
    created = client.post("/v1/certificates", json=body("DEEP-1"), headers=auth).json()
    bundle = client.get(f"/v1/certificates/{created['id']}/proof").json()
    depth = 20_000  # 40 kB: under the body limit, so the parser meets it
    bundle["record"]["subject"] = {"deep": "x"}
    # Built as text: json.dumps itself would recurse.
    nested = "[" * depth + '"x"' + "]" * depth
    text = json.dumps(bundle).replace('{"deep": "x"}', '{"deep": ' + nested + "}")
    response = client.post(
        "/v1/verify", content=text.encode(), headers={"content-type": "application/json"}
    )
    assert response.status_code < 500, response.text
    assert_problem(response, 422, "validation")


def test_a_map_that_keeps_moving_is_a_503_with_retry_after(
    client: TestClient, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = admit(stack)
    created = client.post("/v1/certificates", json=body("MOVING-1"), headers=auth).json()

    def moving(*_args: Any, **_kwargs: Any) -> Any:
        raise StaleCacheError("the anchored version kept moving")

    monkeypatch.setattr(stack.assembler, "bundle", moving)
    response = client.get(f"/v1/certificates/{created['id']}/proof")
    problem = assert_problem(response, 503, "unavailable")
    assert int(response.headers["Retry-After"]) >= 1
    assert "retry" in problem["detail"]


def test_headers_on_every_answer(client: TestClient, stack: Stack) -> None:
    auth = admit(stack)
    created = client.post("/v1/certificates", json=body("HDR-1"), headers=auth)
    assert created.headers["X-Content-Type-Options"] == "nosniff"
    assert created.headers["Cache-Control"] == "no-store"  # an issuer's answer
    assert "Strict-Transport-Security" not in created.headers  # plain http here
    cid = created.json()["id"]
    public = client.get(f"/v1/certificates/{cid}")
    assert public.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" not in public.headers.get("Cache-Control", "")
    error = client.get("/v1/certificates/0xABC", headers=auth)
    assert error.status_code == 422
    assert error.headers["X-Content-Type-Options"] == "nosniff"
    assert error.headers["Cache-Control"] == "no-store"
    secure = TestClient(client.app, base_url="https://registry.test")
    assert secure.get("/healthz").headers["Strict-Transport-Security"] == "max-age=31536000"


def test_a_retried_withdrawal_gets_the_same_answer(client: TestClient, stack: Stack) -> None:
    auth = admit(stack)
    cid = client.post("/v1/certificates", json=body("RETRY-1"), headers=auth).json()["id"]
    size = client.get("/v1/registry").json()["log_size"]
    reason = {"reason": "fraud", "note": "lô hàng 7"}
    first = client.post(f"/v1/certificates/{cid}/withdraw", json=reason, headers=auth)
    again = client.post(f"/v1/certificates/{cid}/withdraw", json=reason, headers=auth)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert client.get("/v1/registry").json()["log_size"] == size + 1
    other = client.post(
        f"/v1/certificates/{cid}/withdraw", json={"reason": "holder-request"}, headers=auth
    )
    problem = assert_problem(other, 409, "illegal-transition")
    assert f"event {size}" in problem["detail"]


def test_a_forged_key_cannot_lock_its_owner_out(stack: Stack) -> None:
    # Buckets were keyed by the key id inside the token, before authentication: anyone could
    # spend an issuer's allowance by sending its key id with a wrong secret. Now failures count
    # against the sender's address and successes against the issuer.
    settings = ApiSettings(
        rate_limit_per_s=0.5, rate_limit_burst=3, public_rate_limit_per_s=0.5,
        public_rate_limit_burst=3,
    )  # fmt: skip
    app = create_app(stack, settings)
    auth = admit(stack)
    key_id = auth["Authorization"].split("_")[1]
    forged = {"Authorization": f"Bearer crk_{key_id}_{'A' * 43}"}
    attacker = TestClient(app, client=("203.0.113.9", 4000))
    owner = TestClient(app, client=("198.51.100.7", 5000))
    with attacker, owner:
        statuses = [
            attacker.post("/v1/certificates", json=body("LOCK-0"), headers=forged).status_code
            for _ in range(6)
        ]
        assert statuses == [401, 401, 401, 429, 429, 429]
        for n in range(3):
            created = owner.post("/v1/certificates", json=body(f"LOCK-{n + 1}"), headers=auth)
            assert created.status_code == 201, created.text
        limited = owner.post("/v1/certificates", json=body("LOCK-9"), headers=auth)
        problem = assert_problem(limited, 429, "rate-limited")
        assert "issuer" in problem["detail"]


def test_the_limiter_keeps_a_bounded_number_of_buckets() -> None:
    limiter = RateLimiter(rate=1.0, burst=2, max_keys=100)
    for n in range(10_000):
        limiter.take(f"address:10.0.{n // 256}.{n % 256}")
    assert len(limiter) == 100
    assert limiter.take("address:10.0.39.15") == 0.0  # the most recent keys are kept
    assert limiter.take("address:10.0.39.15") > 0
    assert limiter.wait("address:never-seen") == 0.0
    assert len(limiter) == 100


# --- found by the fuzzers (test_fuzz_verify.py, test_fuzz_openapi.py) ---------------------------


def post_json_text(client: TestClient, path: str, body: Any) -> Any:
    """POST `body` as JSON text with \\u escapes, so that NUL and lone surrogates arrive."""
    raw = json.dumps(body, ensure_ascii=True).encode()
    return client.post(path, content=raw, headers={"content-type": "application/json"})


@pytest.mark.parametrize("odd", ["\x00", "\ud800"], ids=["nul", "surrogate"])
def test_a_record_id_of_66_odd_characters(client: TestClient, stack: Stack, odd: str) -> None:
    # Any 66 characters were taken for an id and looked up: a lone surrogate raised out of the
    # map key (500 on both databases).
    auth = admit(stack)
    created = client.post("/v1/certificates", json=body("REC-ID-1"), headers=auth).json()
    record = {**created["record"], "id": created["id"][:-1] + odd}
    response = post_json_text(client, "/v1/verify", {"record": record})
    assert response.status_code == 200, response.text
    verdict = response.json()
    assert verdict["status"] == "INVALID"
    assert verdict["checks"][0]["code"] == "malformed_record"


def test_malformed_bundles_get_verdicts(client: TestClient, stack: Stack) -> None:
    auth = admit(stack)
    cid = client.post("/v1/certificates", json=body("ODD-1"), headers=auth).json()["id"]
    stack.worker.run_until_idle()
    bundle = client.get(f"/v1/certificates/{cid}/proof").json()
    for changed, echoed in (
        ({"format": ["certreg-bundle/2"]}, cid),  # unhashable: a TypeError
        ({"certificate_id": cid[:-1] + "\ud800"}, None),  # no map key: StatusMapError
    ):
        response = post_json_text(client, "/v1/verify", {"bundle": {**bundle, **changed}})
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "INVALID"
        assert response.json()["certificate_id"] == echoed


def test_refreshing_a_bundle_whose_id_holds_a_nul(client: TestClient, stack: Stack) -> None:
    # A bundle older than the chain's latest checkpoint is refreshed from the registry by its
    # id: one with a NUL reached PostgreSQL's text column (DataError, a 500 there only).
    auth = admit(stack)
    cid = client.post("/v1/certificates", json=body("NUL-ID-1"), headers=auth).json()["id"]
    stack.worker.run_until_idle()
    old = client.get(f"/v1/certificates/{cid}/proof").json()
    client.post("/v1/certificates", json=body("NUL-ID-2"), headers=auth)
    stack.worker.run_until_idle()
    forged = {**old, "certificate_id": "\x00" + cid[1:]}
    response = post_json_text(client, "/v1/verify", {"bundle": forged})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "INVALID"
    # What the refresh now reads for such an id: nothing, as for any id never issued.
    document = stack.assembler.status_document("\x00" + cid[1:])
    assert document.status == "UNKNOWN"
    assert document.status_proof.leaf is None


def test_an_uploaded_bundle_with_a_lone_surrogate(client: TestClient, stack: Stack) -> None:
    # json.loads reads "\ud800" into a str the result page could not encode: the upload page
    # answered 500. Now the file is not a bundle, and the page says so.
    auth = admit(stack)
    cid = client.post("/v1/certificates", json=body("UPLOAD-1"), headers=auth).json()["id"]
    stack.worker.run_until_idle()
    bundle = client.get(f"/v1/certificates/{cid}/proof").json()
    bundle["record"]["holder"]["name"] = "Công ty \ud800"
    content = json.dumps(bundle, ensure_ascii=True).encode()
    page = client.post(
        "/verify/bundle?lang=en", files={"bundle": ("b.json", content, "application/json")}
    )
    assert page.status_code == 200, page.text
    assert "lone surrogate" in page.text
