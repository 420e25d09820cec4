"""What VALID promises, over the API against the real chain (docs/spec.md §9): a routine key
rotation keeps earlier certificates VALID, an old bundle of a withdrawn certificate is never
VALID, a forged PENDING bundle is INVALID and its page names no issuer, and the status proof
a verifier refreshes from."""

import datetime as dt
import json
import time
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from api.stack import Stack
from registry.core.canonical import canonical_hash, normalize
from registry.core.encoding import b64, hex0x
from registry.core.events import Event, EventType, issuer_chain_id, issuer_key_id, sign_event
from registry.core.ids import certificate_id_for
from tests.integration.api.conftest import admit, bodies
from tests.integration.registry.conftest import SAMPLES

ISSUER = "vn-cb-quatest3"


def issue(client: TestClient, auth: dict[str, str], n: int = 0) -> str:
    body = {**bodies()[n], "valid_until": "2099-01-01"}
    response = client.post("/v1/certificates", json=body, headers=auth)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def verdict(client: TestClient, bundle: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/v1/verify", json={"bundle": bundle})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def codes(result: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["code"] for c in result["checks"]}


def test_a_key_rotation_keeps_earlier_certificates_valid(client: TestClient, stack: Stack) -> None:
    auth = admit(stack)
    first = issue(client, auth, 0)
    stack.worker.run_until_idle()
    stack.service.rotate_key(ISSUER)
    second = issue(client, auth, 1)
    stack.worker.run_until_idle()  # registers the new key, revokes the old, anchors

    fresh = client.get(f"/v1/certificates/{first}/proof").json()
    assert fresh["checkpoint"]["index"] > fresh["first_anchored_index"]
    result = verdict(client, fresh)
    assert result["status"] == "VALID", result["checks"]
    assert codes(result)["issuer_key_registered"] == "key_in_force"
    assert verdict(client, client.get(f"/v1/certificates/{second}/proof").json())["status"] == (
        "VALID"
    )
    page = client.get(f"/verify/{first}?lang=en")
    assert page.status_code == 200
    assert 'data-outcome="valid"' in page.text


def test_an_old_bundle_after_withdrawal_is_withdrawn(client: TestClient, stack: Stack) -> None:
    auth = admit(stack)
    cid = issue(client, auth)
    stack.worker.run_until_idle()
    old = client.get(f"/v1/certificates/{cid}/proof").json()
    assert verdict(client, old)["status"] == "VALID"
    response = client.post(
        f"/v1/certificates/{cid}/withdraw", json={"reason": "fraud"}, headers=auth
    )
    assert response.status_code == 200, response.text
    stack.worker.run_until_idle()
    # The API's verifier keeps the chain's latest index for a second (docs/architecture.md).
    deadline = time.monotonic() + 5
    while (result := verdict(client, old))["status"] == "VALID" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert result["status"] == "WITHDRAWN"
    assert result["refreshed_from"] == "this registry"
    assert result["bundle_checkpoint_index"] == old["checkpoint"]["index"]

    status = client.get(f"/v1/certificates/{cid}/status-proof").json()
    assert status["format"] == "certreg-status/1"
    assert status["status"] == "ANCHORED"
    assert "record" not in status
    assert status["event"]["type"] == "withdraw"
    assert status["status_proof"]["leaf"]["status"] == "withdrawn"
    unknown = client.get(f"/v1/certificates/0x{'ab' * 32}/status-proof").json()
    assert unknown["status"] == "UNKNOWN" and unknown["status_proof"]["leaf"] is None


def test_status_proof_before_anything_is_anchored_is_404(client: TestClient) -> None:
    response = client.get(f"/v1/certificates/0x{'ab' * 32}/status-proof")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


def forged_pending(issuer_id: str) -> dict[str, Any]:
    """A made-up certificate "of" a real issuer, signed with a fresh key it carries."""
    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes_raw()
    number = "FAKE-0001"
    cid = certificate_id_for(issuer_id=issuer_id, number=number)
    record = normalize(
        {
            **bodies()[0],
            "number": number,
            "id": cid,
            "issuer_id": issuer_id,
            "salt": "0x" + "11" * 16,
        }
    )
    assert isinstance(record, dict)
    event = sign_event(
        Event(
            seq=0,
            type=EventType.ISSUE,
            certificate_id=cid,
            record_hash=canonical_hash(record),
            issuer_id=issuer_id,
            key_id=issuer_key_id(public),
            at=dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC),
        ),
        private,
    )
    return {
        "format": "certreg-bundle/2",
        "status": "PENDING",
        "certificate_id": cid,
        "record": record,
        "event": event.to_json(),
        "log_inclusion": None,
        "status_proof": None,
        "checkpoint": None,
        "anchor": None,
        "issuer_key": {
            "issuer_id": issuer_id,
            "key_id": hex0x(event.key_id),
            "public_key": b64(public),
        },
        "first_anchored_index": None,
    }


def test_a_forged_pending_bundle_is_invalid_and_names_no_issuer(
    client: TestClient, stack: Stack
) -> None:
    admit(stack)
    bundle = forged_pending(ISSUER)
    result = verdict(client, bundle)
    assert result["status"] == "INVALID"
    assert codes(result)["issuer_signature"] == "key_not_registered"
    page = client.post(
        "/verify/bundle?lang=en",
        files={"bundle": ("fake.json", json.dumps(bundle).encode(), "application/json")},
    )
    assert 'data-outcome="invalid"' in page.text
    issuer = next(i for i in SAMPLES["issuers"] if i["id"] == ISSUER)
    assert issuer["name_en"] not in page.text
    assert issuer["accreditation"] not in page.text


def test_a_key_revoked_for_compromise_invalidates_exactly_the_later_anchorings(
    client: TestClient, stack: Stack
) -> None:
    """The authority revokes a key back to a block B, after the fact: events first anchored
    before B stay VALID, those first anchored at or after B are INVALID."""
    auth = admit(stack)
    before = issue(client, auth, 0)
    stack.worker.run_until_idle()
    after = issue(client, auth, 1)
    stack.worker.run_until_idle()
    first = client.get(f"/v1/certificates/{before}/proof").json()
    second = client.get(f"/v1/certificates/{after}/proof").json()
    assert first["first_anchored_index"] < second["first_anchored_index"]

    def block(index: int) -> int:
        return int(client.get(f"/v1/checkpoints/{index}").json()["block_number"])

    compromised_from = block(second["first_anchored_index"])  # B: the second one's anchoring
    assert block(first["first_anchored_index"]) < compromised_from
    key_id = bytes.fromhex(first["event"]["key_id"][2:])
    stack.issuer_admin_client().revoke_issuer_key(
        issuer_id=issuer_chain_id(ISSUER), key_id=key_id, revoked_at=compromised_from
    )
    # The API's verifier keeps an issuer key for 5 s (docs/architecture.md): start a fresh one.
    stack.__dict__.pop("verifier", None)
    assert verdict(client, client.get(f"/v1/certificates/{before}/proof").json())["status"] == (
        "VALID"
    )
    result = verdict(client, client.get(f"/v1/certificates/{after}/proof").json())
    assert result["status"] == "INVALID"
    assert codes(result)["issuer_key_registered"] == "key_not_in_force"
