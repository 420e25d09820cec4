"""The portal's drafts (docs/spec.md §11.12): a CB admin requires a second person's decision,
an officer's draft is submitted, rejected with a comment, submitted again and approved by
another officer, which issues it; the preparer cannot decide; others see and do what they may."""

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from api.stack import Stack
from registry.accounts import Actor, Principal, Role
from registry.db import models
from registry.records import submission_adapter
from registry.samples import typed_samples
from tests.integration.web.conftest import ISSUER_ID
from tests.integration.web.test_portal import (
    People,
    _field,
    _person,
    _text,
    people,
    signed_in,
)

__all__ = ["people"]  # the fixture, imported for this module's tests


def _post(client: TestClient, url: str, csrf: str, **form: Any) -> Any:
    return client.post(url, data={"csrf_token": csrf, **form}, follow_redirects=False)


def _revision(html: str) -> str:
    return _field(html, "revision")


def test_a_draft_decided_by_another_officer(
    client: TestClient, stack: Stack, people: People
) -> None:
    # The CB's admin turns the rule on in the settings page.
    csrf = signed_in(client, people.cb_admin)
    saved = _post(client, "/portal/settings?lang=en", csrf, review_required="1")
    assert saved.status_code == 303
    assert 'data-review="on"' in client.get("/portal/settings?lang=en").text
    preparer_id = _account_id(stack, people.officer)
    body = next(s for s in typed_samples() if s["issuer_id"] == ISSUER_ID)
    submission = submission_adapter().validate_python(
        {**body, "number": "DRAFT-PORTAL-1", "valid_until": None}
    )
    preparer = Actor(Principal(preparer_id, Role.CB_OFFICER, ISSUER_ID, "x", "fixture:p"))
    draft = stack.service.drafts.create(preparer, submission)

    client.cookies.clear()
    csrf = signed_in(client, people.officer)
    page = client.get(f"/portal/drafts/{draft.id}?lang=en")
    assert "DRAFT-PORTAL-1" in _text(page) and "Submit for review" in _text(page)
    assert "Approve and issue" not in _text(page)
    assert (
        _post(
            client, f"/portal/drafts/{draft.id}/submit?lang=en", csrf, revision=_revision(page.text)
        ).status_code
        == 303
    )
    waiting = client.get(f"/portal/drafts/{draft.id}?lang=en")
    assert "Waiting for another officer's decision." in _text(waiting)
    # The preparer's own approval is refused, said on the page.
    own = _post(
        client, f"/portal/drafts/{draft.id}/approve?lang=en", csrf, revision=_revision(waiting.text)
    )
    assert own.status_code == 403 and "Not done:" in _text(own)

    client.cookies.clear()
    csrf = signed_in(client, people.other_officer)  # another CB's officer: not found
    assert client.get(f"/portal/drafts/{draft.id}?lang=en").status_code == 404

    # The reviewer: an officer of the same CB.
    client.cookies.clear()
    _reviewer(stack, people)
    csrf = signed_in(client, "p-reviewer")
    page = client.get(f"/portal/drafts/{draft.id}?lang=en")
    assert "Approve and issue" in _text(page) and "Reject" in _text(page)
    bare = _post(
        client, f"/portal/drafts/{draft.id}/reject?lang=en", csrf, revision=_revision(page.text)
    )
    assert bare.status_code == 400 and "Write a comment" in _text(bare)
    rejected = _post(
        client,
        f"/portal/drafts/{draft.id}/reject?lang=en",
        csrf,
        revision=_revision(page.text),
        comment="Thiếu số hiệu VILAS",
    )
    assert rejected.status_code == 303

    client.cookies.clear()
    csrf = signed_in(client, people.officer)
    page = client.get(f"/portal/drafts/{draft.id}?lang=en")
    assert "Thiếu số hiệu VILAS" in _text(page)
    _post(client, f"/portal/drafts/{draft.id}/submit?lang=en", csrf, revision=_revision(page.text))

    client.cookies.clear()
    csrf = signed_in(client, "p-reviewer")
    page = client.get(f"/portal/drafts/{draft.id}?lang=en")
    approved = _post(
        client, f"/portal/drafts/{draft.id}/approve?lang=en", csrf, revision=_revision(page.text)
    )
    assert approved.status_code == 303
    certificate_id = re.search(
        r"/portal/certificates/(0x[0-9a-f]{64})", approved.headers["location"]
    )
    assert certificate_id is not None
    view = stack.service.get(certificate_id.group(1))
    assert view.number == "DRAFT-PORTAL-1" and view.record["format"] == 2
    listed = client.get("/portal/drafts?lang=en&state=issued")
    assert "DRAFT-PORTAL-1" in _text(listed)


def _account_id(stack: Stack, login: str) -> str:
    with stack.sessions() as session:
        account_id = session.scalar(select(models.Account.id).where(models.Account.login == login))
    assert account_id is not None
    return str(account_id)


def _reviewer(stack: Stack, people: People) -> None:
    """A second officer of CB A, made by its admin."""
    admin = Principal(_account_id(stack, people.cb_admin), Role.CB_ADMIN, ISSUER_ID, "x", "p")
    _person(stack, admin, Role.CB_OFFICER, ISSUER_ID, "p-reviewer")


def test_who_sees_and_changes_the_setting(client: TestClient, stack: Stack, people: People) -> None:
    csrf = signed_in(client, people.officer)
    page = client.get("/portal/settings?lang=en")
    assert "Only your body's admins change its settings." in _text(page)
    assert _post(client, "/portal/settings?lang=en", csrf, review_required="1").status_code == 403
    client.cookies.clear()
    signed_in(client, people.auditor)
    assert "sign in as one of its people" in _text(client.get("/portal/settings?lang=en"))
    assert client.get("/portal/drafts?lang=en").status_code == 200
