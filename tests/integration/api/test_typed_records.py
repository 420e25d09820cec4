"""Typed records of format 2 over the API (docs/spec.md §2b, §2c): issued by each CB for each
of its kinds, public copies without restricted fields that still verify against the chain, the
whole record for the CB, and a changed disclosure caught."""

import copy
from typing import Any

from fastapi.testclient import TestClient

from api.stack import Stack
from registry.compact import decode_bundle, encode_bundle
from registry.core.disclosure import open_record
from registry.kinds import restricted_fields
from registry.samples import load_samples, typed_samples
from tests.integration.api.conftest import admit


def typed_bodies(issuer_id: str) -> list[dict[str, Any]]:
    return [
        {k: v for k, v in s.items() if k != "issuer_id"}
        for s in typed_samples()
        if s["issuer_id"] == issuer_id
    ]


def test_typed_certificates_of_every_kind(client: TestClient, stack: Stack) -> None:
    issued: dict[str, tuple[str, dict[str, str]]] = {}
    for issuer in load_samples()["issuers"]:
        auth = admit(stack, issuer["id"])
        batch = {"certificates": typed_bodies(issuer["id"])}
        response = client.post("/v1/certificates/batch", json=batch, headers=auth)
        assert response.status_code == 201, response.text
        for certificate in response.json()["certificates"]:
            # The CB gets its whole record back: nothing withheld.
            assert open_record(certificate["record"]).withheld == 0
            issued[certificate["id"]] = (certificate["kind"], auth)
        # The same batch again issues nothing new.
        again = client.post("/v1/certificates/batch", json=batch, headers=auth)
        assert again.status_code == 200 and again.json()["created"] == 0
    assert {kind for kind, _ in issued.values()} == {
        "product-conformity", "regulation-conformity", "management-system", "calibration",
        "instrument-verification", "test-report", "inspection",
    }  # fmt: skip
    stack.worker.run_until_idle()
    for certificate_id, (kind, auth) in issued.items():
        public = client.get(f"/v1/certificates/{certificate_id}").json()["record"]
        shown = open_record(public)
        assert not set(shown.fields) & restricted_fields(kind)
        bundle = client.get(f"/v1/certificates/{certificate_id}/proof").json()
        assert bundle["record"] == public
        verdict = client.post("/v1/verify", json={"bundle": bundle}).json()
        # Some samples ended before today: expired, and verified as such.
        assert verdict["status"] in ("VALID", "EXPIRED"), verdict
        full = client.get(f"/v1/certificates/{certificate_id}/proof/full", headers=auth).json()
        assert open_record(full["record"]).withheld == 0
        again = client.post("/v1/verify", json={"bundle": full}).json()
        assert again["status"] == verdict["status"]
        if shown.withheld:
            [check] = [c for c in verdict["checks"] if c["name"] == "record_integrity"]
            assert f"{shown.withheld} fields withheld" in check["message"]
        # The compact form carries a format-2 record unchanged.
        assert decode_bundle(encode_bundle(bundle)) == bundle


def test_a_changed_disclosure_is_caught(client: TestClient, stack: Stack) -> None:
    auth = admit(stack, "vn-lab-songhong")
    [body] = [b for b in typed_bodies("vn-lab-songhong") if b["kind"] == "calibration"][:1]
    certificate = client.post("/v1/certificates", json=body, headers=auth).json()
    stack.worker.run_until_idle()
    full = client.get(f"/v1/certificates/{certificate['id']}/proof/full", headers=auth).json()
    for name, value in (("serial", "SN000001"), ("results", []), ("valid_until", None)):
        forged = copy.deepcopy(full)
        for item in forged["record"]["disclosures"]:
            if item[1] == name:
                item[2] = value
        verdict = client.post("/v1/verify", json={"bundle": forged}).json()
        assert verdict["status"] == "INVALID", name
        [check] = [c for c in verdict["checks"] if c["name"] == "record_integrity"]
        assert check["status"] == "failed" and check["code"] == "malformed_record"
    # Dropping a field every copy must show is refused too, not read as "no end date".
    forged = copy.deepcopy(full)
    forged["record"]["disclosures"] = [
        d for d in forged["record"]["disclosures"] if d[1] != "valid_until"
    ]
    assert client.post("/v1/verify", json={"bundle": forged}).json()["status"] == "INVALID"


def test_the_whole_record_is_for_its_cb(client: TestClient, stack: Stack) -> None:
    auth = admit(stack, "vn-lab-songhong")
    other = admit(stack, "vn-cb-quatest3")
    [body] = [b for b in typed_bodies("vn-lab-songhong") if b["kind"] == "test-report"][:1]
    certificate = client.post("/v1/certificates", json=body, headers=auth).json()
    path = f"/v1/certificates/{certificate['id']}/proof/full"
    assert client.get(path).status_code == 401
    assert client.get(path, headers=other).status_code == 403
    assert client.get(path, headers=auth).status_code == 200
    # Search shows public copies only.
    found = client.get("/v1/certificates", params={"issuer_id": "vn-lab-songhong"}).json()
    [record] = [c["record"] for c in found["certificates"] if c["id"] == certificate["id"]]
    assert "results" not in open_record(record).fields
