"""Drafts and the second person's decision over HTTP (api/routes/drafts.py; docs/spec.md
§11.12), on both databases: the CB's setting, the draft's routes, their problems and paging;
who may call each is the authorisation matrix's (test_authorization_matrix.py)."""

import itertools
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.stack import Stack
from registry.samples import typed_samples
from tests.integration.api.conftest import admit

A = "vn-cb-quatest3"
B = "vn-cb-hoabinh"
PROBLEM = "application/problem+json"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class People:
    """An authority admin and an auditor; CB A's admin and two officers; CB B's officer."""

    def __init__(self, client: TestClient, stack: Stack) -> None:
        self.client = client
        self._numbers = itertools.count(1)
        admit(stack, A)
        admit(stack, B)
        created = stack.service.accounts.bootstrap_authority(name="Quản trị", login=None)
        self.authority = self._token(_bearer(created.setup_token))
        self.auditor = self.person(self.authority, "auditor", None)
        self.admin = self.person(self.authority, "cb_admin", A)
        self.preparer = self.person(self.admin, "cb_officer", A)
        self.reviewer = self.person(self.admin, "cb_officer", A)
        self.other = self.person(self.person(self.authority, "cb_admin", B), "cb_officer", B)

    def _token(self, setup: dict[str, str]) -> dict[str, str]:
        made = self.client.post("/v1/tokens", json={"label": "t"}, headers=setup)
        assert made.status_code == 201, made.text
        return _bearer(made.json()["secret"])

    def person(self, by: dict[str, str], role: str, issuer_id: str | None) -> dict[str, str]:
        created = self.client.post(
            "/v1/accounts",
            json={"role": role, "issuer_id": issuer_id, "name": f"{role} {issuer_id}"},
            headers=by,
        )
        assert created.status_code == 201, created.text
        return self._token(_bearer(created.json()["setup_token"]))

    def certificate(self, issuer_id: str = A, **changes: Any) -> dict[str, Any]:
        """A typed (format 2) sample of `issuer_id`'s under a new number."""
        sample = next(s for s in typed_samples() if s["issuer_id"] == issuer_id)
        body = {k: v for k, v in sample.items() if k != "issuer_id"}
        return {**body, "number": f"API-DRAFT-{next(self._numbers):05d}", **changes}

    def ok(self, method: str, url: str, who: dict[str, str], **kwargs: Any) -> dict[str, Any]:
        answer = self.client.request(method, url, headers=who, **kwargs)
        assert answer.is_success, f"{method} {url}: {answer.status_code} {answer.text}"
        result: dict[str, Any] = answer.json()
        return result

    def problem(
        self, method: str, url: str, who: dict[str, str], status: int, kind: str, **kwargs: Any
    ) -> dict[str, Any]:
        answer = self.client.request(method, url, headers=who, **kwargs)
        assert answer.status_code == status, answer.text
        assert answer.headers["content-type"] == PROBLEM
        body: dict[str, Any] = answer.json()
        assert body["type"] == f"urn:certreg:problem:{kind}"
        return body

    def review(self, on: bool) -> None:
        self.ok("PUT", f"/v1/issuers/{A}/settings", self.admin, json={"review_required": on})


@pytest.fixture
def people(client: TestClient, stack: Stack) -> People:
    return People(client, stack)


def test_the_flow_with_review_required(people: People) -> None:
    people.review(True)
    draft = people.ok(
        "POST", "/v1/drafts", people.preparer, json={"certificate": people.certificate()}
    )
    assert (draft["state"], draft["revision"], draft["issuer_id"]) == ("draft", 1, A)
    assert draft["certificate"]["format"] == 2
    url = f"/v1/drafts/{draft['id']}"
    edited = people.certificate(holder_name="Công ty TNHH Sửa Lại")
    draft = people.ok("PUT", url, people.preparer, json={"certificate": edited, "revision": 1})
    assert draft["certificate"]["holder_name"] == "Công ty TNHH Sửa Lại"
    draft = people.ok("POST", f"{url}/submit", people.preparer, json={"revision": 2})
    problem = people.problem(
        "POST", f"{url}/approve", people.preparer, 403, "forbidden", json={"revision": 3}
    )
    assert "preparer" in problem["detail"]
    draft = people.ok(
        "POST", f"{url}/reject", people.reviewer, json={"revision": 3, "comment": "Sai mã số"}
    )
    assert (draft["state"], draft["comment"]) == ("rejected", "Sai mã số")
    draft = people.ok("POST", f"{url}/submit", people.preparer, json={"revision": 4})
    people.problem("POST", f"{url}/approve", people.reviewer, 409, "conflict", json={"revision": 4})
    approved = people.ok(
        "POST", f"{url}/approve", people.reviewer, json={"revision": 5, "comment": "Đạt"}
    )
    assert approved["draft"]["state"] == "issued"
    certificate = approved["certificate"]
    assert certificate["created"] and certificate["status"] == "valid"
    assert approved["draft"]["certificate_id"] == certificate["id"]
    assert certificate["record"]["format"] == 2  # the CB gets its whole record
    public = people.ok("GET", f"/v1/certificates/{certificate['id']}", {})
    assert public["record_hash"] == certificate["record_hash"]
    people.problem(
        "POST", f"{url}/withdraw", people.preparer, 409, "illegal-transition", json={"revision": 6}
    )
    # The audit trail has every change, who made it.
    trail = people.ok("GET", "/v1/audit", people.admin, params={"limit": 1000})["entries"]
    actions = [e["action"] for e in trail if e["target"] == f"draft:{draft['id']}"]
    assert actions == [
        "draft.create",
        "draft.update",
        "draft.submit",
        "draft.reject",
        "draft.submit",
        "draft.approve",
    ]


def test_direct_issue_is_refused_while_review_is_required(people: People) -> None:
    issued = people.ok("POST", "/v1/certificates", people.preparer, json=people.certificate())
    people.review(True)
    for url, body in (
        ("/v1/certificates", people.certificate()),
        ("/v1/certificates/batch", {"certificates": [people.certificate()]}),
        (
            f"/v1/certificates/{issued['id']}/supersede",
            {"certificate": people.certificate(), "reason": "renewal"},
        ),
    ):
        problem = people.problem("POST", url, people.preparer, 403, "forbidden", json=body)
        assert "want a draft" in problem["detail"]
    # Another CB's setting is its own.
    people.ok("POST", "/v1/certificates", people.other, json=people.certificate(B))
    settings = people.ok("GET", f"/v1/issuers/{A}/settings", people.auditor)
    assert settings["review_required"] is True
    people.problem(
        "PUT",
        f"/v1/issuers/{A}/settings",
        people.preparer,
        403,
        "forbidden",
        json={"review_required": False},
    )


def test_a_replacement_through_a_draft(people: People) -> None:
    old = people.ok("POST", "/v1/certificates", people.preparer, json=people.certificate())
    body = {
        "certificate": people.certificate(),
        "supersedes": old["id"],
        "reason": "error-in-issue",
        "note": "sai địa chỉ",
    }
    draft = people.ok("POST", "/v1/drafts", people.preparer, json=body)
    assert draft["reason"] == "error-in-issue: sai địa chỉ"
    approved = people.ok(
        "POST", f"/v1/drafts/{draft['id']}/approve", people.preparer, json={"revision": 1}
    )
    assert approved["certificate"]["supersedes"] == old["id"]
    status = people.ok("GET", f"/v1/certificates/{old['id']}", {})["status"]
    assert status == "superseded"


def test_problems(people: People) -> None:
    create = people.certificate()
    people.problem(
        "POST", "/v1/drafts", people.preparer, 422, "validation", json={"certificate": {}}
    )
    people.problem(
        "POST",
        "/v1/drafts",
        people.preparer,
        403,
        "forbidden",
        json={"certificate": {**create, "issuer_id": B}},
    )
    draft = people.ok("POST", "/v1/drafts", people.preparer, json={"certificate": create})
    url = f"/v1/drafts/{draft['id']}"
    people.problem("GET", url, people.other, 404, "not-found")
    people.problem("GET", "/v1/drafts/0123456789abcdef", people.preparer, 404, "not-found")
    people.problem("GET", "/v1/drafts/not-a-draft", people.preparer, 422, "validation")
    people.problem("GET", url, {}, 401, "unauthorized")
    people.problem(
        "POST", f"{url}/reject", people.reviewer, 409, "illegal-transition",
        json={"revision": 1, "comment": "x"},
    )  # fmt: skip
    people.problem(
        "POST", f"{url}/reject", people.reviewer, 422, "validation",
        json={"revision": 1, "comment": "\u0000"},
    )  # fmt: skip
    people.problem("POST", f"{url}/submit", people.reviewer, 403, "forbidden", json={"revision": 1})
    people.problem("POST", f"{url}/approve", people.auditor, 403, "forbidden", json={"revision": 1})
    issued = people.ok("POST", "/v1/certificates", people.preparer, json=people.certificate())
    taken = {**people.certificate(), "number": issued["number"]}
    people.problem(
        "POST", "/v1/drafts", people.preparer, 409, "conflict", json={"certificate": taken}
    )
    people.problem(
        "POST",
        "/v1/drafts",
        people.preparer,
        400,
        "invalid-request",
        json={"certificate": people.certificate(), "reason": "renewal"},
    )


def test_paging_and_filters(people: People) -> None:
    made = [
        people.ok("POST", "/v1/drafts", people.preparer, json={"certificate": people.certificate()})
        for _ in range(5)
    ]
    people.ok("POST", "/v1/drafts", people.other, json={"certificate": people.certificate(B)})
    people.ok("POST", f"/v1/drafts/{made[0]['id']}/submit", people.preparer, json={"revision": 1})
    first = people.ok("GET", "/v1/drafts", people.reviewer, params={"limit": 2})
    assert (first["total"], first["limit"], first["offset"], len(first["drafts"])) == (5, 2, 0, 2)
    rest = people.ok("GET", "/v1/drafts", people.reviewer, params={"limit": 200, "offset": 2})
    ids = [d["id"] for d in first["drafts"] + rest["drafts"]]
    assert sorted(ids) == sorted(d["id"] for d in made)
    submitted = people.ok("GET", "/v1/drafts", people.reviewer, params={"state": "submitted"})
    assert [d["id"] for d in submitted["drafts"]] == [made[0]["id"]]
    kind = made[0]["kind"]
    assert people.ok("GET", "/v1/drafts", people.reviewer, params={"kind": kind})["total"] == 5
    everyone = people.ok("GET", "/v1/drafts", people.auditor)
    assert everyone["total"] == 6
    only_b = people.ok("GET", "/v1/drafts", people.authority, params={"issuer_id": B})
    assert {d["issuer_id"] for d in only_b["drafts"]} == {B}
    people.problem("GET", "/v1/drafts", people.reviewer, 403, "forbidden", params={"issuer_id": B})
    people.problem("GET", "/v1/drafts", people.reviewer, 422, "validation", params={"limit": 0})
    people.problem(
        "GET", "/v1/drafts", people.reviewer, 422, "validation", params={"state": "lost"}
    )
