"""Signing keys and issuer statements over HTTP, driven by the Python client a CB uses
(`registry.client.RegistryClient`), against the real app, database and chain: a CB proposes a
key it keeps, the authority approves it, officers issue and change certificates signed on their
side, and the bundles verify with the custody the authority stated (docs/spec.md §11.11)."""

import base64
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from api.stack import Stack
from registry.accounts import Actor
from registry.client import ClientError, KeyHolder, RegistryClient
from registry.core.events import EventType
from registry.core.governance import (
    Admit,
    ApproveKey,
    Custody,
    Scope,
    Statement,
    TransferCertificate,
    sign_statement,
)
from registry.core.hashing import sha256
from registry.records import CertificateSubmission, submission_adapter
from registry.samples import typed_samples
from tests.integration.api.conftest import UNLIMITED, bodies, make_stack
from tests.integration.conftest import Chain

AUTHORITY: Final = Ed25519PrivateKey.generate()
CB: Final = "vn-cb-quatest3"


@pytest.fixture
def stack(database_url: str, chain: Chain, tmp_path: Path) -> Iterator[Stack]:
    authority = base64.b64encode(AUTHORITY.public_key().public_bytes_raw()).decode()
    built = make_stack(database_url, chain, tmp_path, authority_public_key=authority)
    yield built
    built.close()


@pytest.fixture
def client(stack: Stack) -> Iterator[TestClient]:
    with TestClient(create_app(stack, ApiSettings(max_body_bytes=256 * 1024, **UNLIMITED))) as c:
        yield c


class Authority:
    """The authority's side: its first admin's token, and statements signed with its key."""

    def __init__(self, client: TestClient, stack: Stack) -> None:
        self.client = client
        setup = stack.service.accounts.bootstrap_authority(name="An", login=None).setup_token
        made = client.post(
            "/v1/tokens", json={"label": "t"}, headers={"Authorization": f"Bearer {setup}"}
        )
        assert made.status_code == 201, made.text
        self.headers = {"Authorization": f"Bearer {made.json()['secret']}"}

    def says(self, statement: Statement) -> dict[str, Any]:
        answer = self.client.post(
            "/v1/authority/statements",
            json=sign_statement(statement, AUTHORITY).to_json(),
            headers=self.headers,
        )
        assert answer.status_code == 201, answer.text
        return dict(answer.json())

    def common(self) -> dict[str, Any]:
        return {
            "issuer_id": CB,
            "at": dt.datetime.now(dt.UTC).replace(microsecond=0),
            "authority_key_id": sha256(AUTHORITY.public_key().public_bytes_raw()),
        }

    def person(self, by: dict[str, str], role: str) -> str:
        made = self.client.post(
            "/v1/accounts", json={"role": role, "issuer_id": CB, "name": role}, headers=by
        )
        assert made.status_code == 201, made.text
        setup = {"Authorization": f"Bearer {made.json()['setup_token']}"}
        token = self.client.post("/v1/tokens", json={"label": "t"}, headers=setup)
        assert token.status_code == 201, token.text
        return str(token.json()["secret"])


def _submissions(*numbers: str) -> list[CertificateSubmission]:
    return [
        CertificateSubmission.model_validate({**bodies(CB)[0], "number": n, "valid_until": None})
        for n in numbers
    ]


def test_a_cb_that_keeps_its_key(client: TestClient, stack: Stack) -> None:
    authority = Authority(client, stack)
    kinds = sorted({b["kind"] for b in bodies(CB)})
    authority.says(
        Admit(
            **authority.common(),
            name_vi="Trung tâm 3",
            name_en="Centre 3",
            accreditation_body="BoA",
            accreditation_number="VICAS 001",
            scope=Scope(kinds=tuple(kinds)),
            valid_from=dt.date(2020, 1, 1),
            valid_until=dt.date(2099, 12, 31),
        )
    )
    admin_token = authority.person(authority.headers, "cb_admin")
    officer_token = authority.person({"Authorization": f"Bearer {admin_token}"}, "cb_officer")

    holder = KeyHolder(issuer_id=CB, private_key=Ed25519PrivateKey.generate())
    admin = RegistryClient("http://testserver", token=admin_token, http=client)
    proposed = admin.propose_held_key(holder)
    assert (proposed["custody"], proposed["state"]) == ("held", "proposed")
    # Another CB's admin, an officer, or a proof made for another key: refused.
    officer_plain = RegistryClient("http://testserver", token=officer_token, http=client)
    with pytest.raises(ClientError) as refused:
        officer_plain.propose_held_key(holder)
    assert refused.value.status == 403
    approval = authority.says(
        ApproveKey(
            **authority.common(),
            key_id=holder.key_id,
            public_key=holder.public_key,
            custody=Custody.HELD,
        )
    )
    [key] = [k for k in admin.keys(CB) if k["custody"] == "held"]
    assert (key["state"], key["approved_seq"]) == ("active", approval["seq"])

    officer = RegistryClient("http://testserver", token=officer_token, key=holder, http=client)
    issued = officer.issue(_submissions("HELD-1", "HELD-2", "HELD-3"))
    assert issued["created"] == 3
    ids = [s["certificate"]["id"] for s in issued["statements"]]
    # A typed record of format 2 (docs/spec.md §2b), built and hashed on the CB's side.
    typed_body = next(b for b in typed_samples() if b["issuer_id"] == CB)
    typed = submission_adapter().validate_python(
        {k: v for k, v in typed_body.items() if k != "issuer_id"}
        | {"number": "HELD-T1", "valid_until": None}
    )
    typed_id = officer.issue([typed])["statements"][0]["certificate"]["id"]
    # The registry cannot sign for it.
    with pytest.raises(ClientError, match="custody held") as plain:
        officer_plain.issue(_submissions("HELD-4"))
    assert plain.value.status == 403
    changed = officer.change(EventType.SUSPEND, ids[:2], reason="holder-request", note="tạm")
    assert [s["certificate"]["status"] for s in changed["statements"]] == ["suspended"] * 2
    officer.change(EventType.REINSTATE, ids[:1], reason="corrective-action-completed")
    officer.change(EventType.WITHDRAW, ids[1:2], reason="fraud")
    replaced = officer.supersede(ids[2], _submissions("HELD-5")[0], reason="renewal")
    new_id = replaced["statements"][0]["certificate"]["id"]
    # A reason outside the codes is refused before anything is appended.
    with pytest.raises(ClientError, match="reason code"):
        officer.change(EventType.SUSPEND, ids[:1], reason="whatever")

    stack.worker.run_until_idle()
    expected = {
        ids[0]: "VALID",
        ids[1]: "WITHDRAWN",
        ids[2]: "SUPERSEDED",
        new_id: "VALID",
        typed_id: "VALID",
    }
    for certificate_id, status in expected.items():
        bundle = client.get(f"/v1/certificates/{certificate_id}/proof").json()
        assert bundle["status"] == "ANCHORED"
        assert bundle["event"]["version"] == 2
        assert bundle["key_approval"]["entry"]["statement"]["custody"] == "held"
        verdict = client.post("/v1/verify", json={"bundle": bundle}).json()
        assert verdict["status"] == status, verdict
        assert verdict["key_custody"] == "held"
    # The CBOR form carries it too, and decodes to the same bundle.
    compact = client.get(f"/v1/certificates/{ids[0]}/proof", headers={"Accept": "application/cbor"})
    assert compact.status_code == 200
    assert len(compact.content) < len(client.get(f"/v1/certificates/{ids[0]}/proof").content)


OTHER: Final = "vn-cb-hoabinh"


def test_a_certificate_the_authority_transferred(client: TestClient, stack: Stack) -> None:
    """A's certificate transferred to B by the authority: B suspends and then re-issues it, and
    the bundles — assembled by the registry, checked by its verifier — carry the transfer."""
    authority = Authority(client, stack)
    kinds = tuple(sorted({b["kind"] for b in bodies(CB)}))
    for cb in (CB, OTHER):
        authority.says(
            Admit(
                **{**authority.common(), "issuer_id": cb},
                name_vi=f"Tổ chức {cb}",
                name_en=f"Body {cb}",
                accreditation_body="BoA",
                accreditation_number="VICAS 001",
                scope=Scope(kinds=kinds),
                valid_from=dt.date(2020, 1, 1),
                valid_until=dt.date(2099, 12, 31),
            )
        )
        proposed = stack.service.issuers.propose_key(
            cb, custody=Custody.HOSTED, actor=Actor(principal=None)
        )
        authority.says(
            ApproveKey(
                **{**authority.common(), "issuer_id": cb},
                key_id=proposed.key_id,
                public_key=proposed.public_key,
                custody=Custody.HOSTED,
            )
        )
    [issued] = stack.service.issue_batch(CB, _submissions("TRANSFER-1"))
    certificate = issued.certificate
    stack.worker.run_until_idle()  # a certificate is transferred once anchored
    transfer = authority.says(
        TransferCertificate(
            **authority.common(),
            certificate_id=certificate.id,
            record_hash=certificate.record_hash,
            to_issuer_id=OTHER,
            reason="Tổ chức chứng nhận ngừng hoạt động",
        )
    )
    stack.service.suspend(OTHER, certificate.id, reason="holder-request")
    stack.worker.run_until_idle()

    bundle = client.get(f"/v1/certificates/{certificate.id}/proof").json()
    assert (bundle["record"]["issuer_id"], bundle["event"]["issuer_id"]) == (CB, OTHER)
    assert bundle["transfer"]["entry"]["seq"] == transfer["seq"]
    verdict = client.post("/v1/verify", json={"bundle": bundle}).json()
    assert verdict["status"] == "SUSPENDED", verdict
    assert (verdict["transferred_from"], verdict["transfer_seq"]) == (CB, transfer["seq"])

    replacement = _submissions("TRANSFER-2")[0]
    stack.service.reinstate(OTHER, certificate.id, reason="corrective-action-completed")
    renewed = stack.service.supersede(OTHER, certificate.id, replacement)
    stack.worker.run_until_idle()
    old = client.get(f"/v1/certificates/{certificate.id}/proof").json()
    assert old["event"]["type"] == "supersede" and "transfer" in old
    assert client.post("/v1/verify", json={"bundle": old}).json()["status"] == "SUPERSEDED"
    new = client.get(f"/v1/certificates/{renewed.certificate.id}/proof").json()
    assert new["record"]["issuer_id"] == OTHER and "transfer" not in new
    assert client.post("/v1/verify", json={"bundle": new}).json()["status"] == "VALID"
    # Without the transfer, the event of another CB than the record's is refused.
    stripped = {k: v for k, v in bundle.items() if k != "transfer"}
    refused = client.post("/v1/verify", json={"bundle": stripped}).json()
    assert refused["status"] == "INVALID"
