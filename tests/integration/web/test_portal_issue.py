"""Issuing from the portal (api/web/portal/issue.py), in process over a real database and
chain: a form per kind filled from the typed samples, the review page, the certificate issued
with a format-2 record equal to the submission; errors next to their inputs with what was
typed kept; the same form sent twice; CSRF; who may issue; a replacement and a correction
from the certificate's page; the command line for a CB that keeps its own key."""

import re
from dataclasses import dataclass
from html import unescape
from typing import Any, Final

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response

from api.stack import Stack
from api.web.i18n import catalogue
from api.web.portal.issue import values_of
from registry.accounts import Actor, Principal, Role
from registry.core.disclosure import is_v2
from registry.fields import CertificateKind
from registry.kinds import model_of
from registry.records import CertificateSubmission, record_fields, same_submission
from registry.samples import typed_samples
from tests.integration.web.conftest import ISSUER_ID, admit, sample
from tests.integration.web.test_portal import PASSWORD, keep_own_key, sign_in

EN: Final = catalogue("en")
VI: Final = catalogue("vi")
#: the first typed sample of each kind, whose CB is admitted for it
SAMPLES: Final = {
    kind: next(s for s in typed_samples() if s["kind"] == kind.value) for kind in CertificateKind
}
ISSUERS: Final = sorted({s["issuer_id"] for s in SAMPLES.values()} | {ISSUER_ID})


def _text(response: Response) -> str:
    plain = re.sub(r"<[^>]+>", " ", response.text)
    return " ".join(unescape(plain).replace("\u2068", "").replace("\u2069", "").split())


def _hidden(html: str, action: str) -> dict[str, str]:
    """The hidden fields of the page's form sent to `action`."""
    start = html.index(f'action="{action}')
    form = html[start : html.index("</form>", start)]
    return {
        unescape(name): unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form)
    }


def _input_tag(html: str, name: str) -> str:
    found = re.search(rf'<(?:input|select|textarea)[^>]*\bname="{re.escape(name)}"[^>]*>', html)
    assert found is not None, f"no input {name} on the page"
    return found.group(0)


@dataclass(frozen=True)
class Cast:
    """Logins: each CB's officer and admin, the authority's admin, an auditor."""

    def officer(self, issuer_id: str) -> str:
        return f"i-officer-{issuer_id}"

    def admin(self, issuer_id: str) -> str:
        return f"i-admin-{issuer_id}"

    authority: str = "i-authority"
    auditor: str = "i-auditor"


def _account(stack: Stack, by: Principal, role: Role, issuer_id: str | None, login: str) -> str:
    created = stack.service.accounts.create_account(
        by, role=role, issuer_id=issuer_id, name=f"Người {login}", login=login, actor=Actor()
    )
    setup = stack.service.accounts.authenticate_token(created.setup_token)
    stack.service.accounts.set_password(setup, current=None, new=PASSWORD, actor=Actor())
    return created.account.account_id


@pytest.fixture
def cast(stack: Stack) -> Cast:
    for issuer_id in ISSUERS:
        admit(stack, issuer_id)
    made = stack.service.accounts.bootstrap_authority(name="Quản trị", login=Cast.authority)
    setup = stack.service.accounts.authenticate_token(made.setup_token)
    stack.service.accounts.set_password(setup, current=None, new=PASSWORD, actor=Actor())
    authority = Principal(made.account.account_id, Role.AUTHORITY_ADMIN, None, "x", "fixture:i")
    _account(stack, authority, Role.AUDITOR, None, Cast.auditor)
    cast = Cast()
    for issuer_id in ISSUERS:
        admin_id = _account(stack, authority, Role.CB_ADMIN, issuer_id, cast.admin(issuer_id))
        admin = Principal(admin_id, Role.CB_ADMIN, issuer_id, "x", "fixture:i")
        _account(stack, admin, Role.CB_OFFICER, issuer_id, cast.officer(issuer_id))
    return cast


def signed_in(client: TestClient, login: str) -> str:
    """Sign `login` in (afresh); its CSRF token."""
    client.cookies.clear()
    answer = sign_in(client, login)
    assert answer.status_code == 303, answer.text
    page = client.get("/portal?lang=en")
    found = re.search(r'name="csrf_token" value="([^"]*)"', page.text)
    assert found is not None
    return unescape(found.group(1))


def _values(kind: CertificateKind, **changes: str) -> dict[str, str]:
    body = {k: v for k, v in SAMPLES[kind].items() if k != "issuer_id"}
    return values_of(body, kind) | {"kind": kind.value} | changes


def _review(client: TestClient, csrf: str, values: dict[str, str], lang: str = "en") -> Response:
    return client.post(f"/portal/issue/review?lang={lang}", data={**values, "csrf_token": csrf})


def _issue(client: TestClient, csrf: str, values: dict[str, str]) -> Response:
    """Review, then the review page's "Issue" with the fields it carries."""
    review = _review(client, csrf, values)
    assert review.status_code == 200, _text(review)
    carried = _hidden(review.text, "/portal/issue?")
    return client.post("/portal/issue?lang=en", data=carried, follow_redirects=False)


def _issued_id(answer: Response, done: str = "issued") -> str:
    assert answer.status_code == 303, answer.text
    found = re.fullmatch(
        rf"/portal/certificates/(0x[0-9a-f]{{64}})\?lang=en&done={done}",
        answer.headers["location"],
    )
    assert found is not None, answer.headers["location"]
    return found.group(1)


class TestEveryKind:
    @pytest.mark.parametrize("kind", list(CertificateKind), ids=str)
    def test_form_review_issue(
        self, client: TestClient, stack: Stack, cast: Cast, kind: CertificateKind
    ) -> None:
        issuer_id = SAMPLES[kind]["issuer_id"]
        signed_in(client, cast.officer(issuer_id))
        choose = client.get("/portal/issue?lang=en")
        assert choose.status_code == 200
        assert f"/portal/issue?kind={kind.value}&amp;lang=en" in choose.text
        form = client.get(f"/portal/issue?kind={kind.value}&lang=vi")
        assert form.status_code == 200, form.text
        html = form.text
        assert "<script" not in html
        assert 'type="date"' in _input_tag(html, "issued_on")
        assert "required" in _input_tag(html, "number")
        assert 'maxlength="100"' in _input_tag(html, "number")
        assert _input_tag(html, "province").startswith("<select")
        assert "Thành phố Hồ Chí Minh</option>" in html
        assert f'<label for="holder_name">{VI["portal.issue.field.holder_name"]}' in html
        assert 'pattern="^[0-9]{10}(-[0-9]{3})?$"' in _input_tag(html, "holder_tax_code")
        # every input has its label
        names = set(re.findall(r'<(?:input|select|textarea) id="([^"]+)"', html))
        labelled = set(re.findall(r'<label for="([^"]+)"', html))
        assert names and names <= labelled
        assert VI["portal.issue.restricted"] in _text(form)  # holder_id_number at least
        if kind is CertificateKind.CALIBRATION:
            assert 'inputmode="decimal"' in _input_tag(html, "results-1-value")
            assert "results-3-value" in html and "results-4-value" not in html
            assert "<legend>" in html
        csrf = signed_in(client, cast.officer(issuer_id))
        values = _values(kind)
        review = _review(client, csrf, values)
        assert review.status_code == 200, _text(review)
        assert EN["portal.issue.review.warning"] in _text(review)
        assert SAMPLES[kind]["holder_name"] in _text(review)
        carried = _hidden(review.text, "/portal/issue?")
        assert carried["csrf_token"] == csrf and carried["kind"] == kind.value
        done = client.post("/portal/issue?lang=en", data=carried, follow_redirects=False)
        certificate_id = _issued_id(done)
        view = stack.service.get(certificate_id)
        assert view.issuer_id == issuer_id and view.kind == kind.value
        assert is_v2(view.record)
        submission = model_of(kind).model_validate(
            {k: v for k, v in SAMPLES[kind].items() if k != "issuer_id"}
        )
        assert same_submission(view.record, submission)
        page = client.get(done.headers["location"])
        assert EN["portal.issue.done.issued"] in _text(page)
        [event] = stack.service.history(certificate_id)
        assert event.type == "issue"


class TestErrors:
    def test_errors_sit_next_to_their_inputs_and_values_are_kept(
        self, client: TestClient, stack: Stack, cast: Cast
    ) -> None:
        kind = CertificateKind.CALIBRATION
        csrf = signed_in(client, cast.officer(SAMPLES[kind]["issuer_id"]))
        values = _values(kind, province="99", number="CAL-ERR-1")
        values["results-1-unit"] = "furlongs per fortnight squared-ish"
        del values["holder_name"]
        answer = _review(client, csrf, values)
        assert answer.status_code == 400
        html = answer.text
        for name, message in (
            ("province", "portal.issue.error.province"),
            ("results-1-unit", "portal.issue.error.unit"),
            ("holder_name", "portal.issue.error.required"),
        ):
            tag = _input_tag(html, name)
            assert 'aria-invalid="true"' in tag, tag
            assert f"{name}-error" in re.search(r'aria-describedby="([^"]*)"', tag).group(1)  # type: ignore[union-attr]
            assert f'<p class="field-error" id="{name}-error">{EN[message]}</p>' in html
            assert f'href="#{name}"' in html  # the summary links to the input
        assert 'class="error-summary"' in html and 'tabindex="-1"' in html
        assert EN["portal.issue.errors.title"] in _text(answer)
        assert 'value="CAL-ERR-1"' in _input_tag(html, "number")  # kept
        assert SAMPLES[kind]["serial"] in _input_tag(html, "serial")
        assert 'value="furlongs per fortnight squared-ish"' in _input_tag(html, "results-1-unit")
        assert stack.service.search(issuer_id=SAMPLES[kind]["issuer_id"])[1] == 0

    def test_a_model_check_in_vietnamese(self, client: TestClient, cast: Cast) -> None:
        kind = CertificateKind.REGULATION_CONFORMITY
        csrf = signed_in(client, cast.officer(SAMPLES[kind]["issuer_id"]))
        answer = _review(client, csrf, _values(kind, standards="TCVN 1651-2:2018"), lang="vi")
        assert answer.status_code == 400
        assert f'id="standards-error">{VI["portal.issue.error.standards_qcvn"]}<' in answer.text

    def test_more_rows(self, client: TestClient, cast: Cast) -> None:
        kind = CertificateKind.TEST_REPORT
        csrf = signed_in(client, cast.officer(SAMPLES[kind]["issuer_id"]))
        more = _review(client, csrf, _values(kind, more="results"))
        assert more.status_code == 200
        assert "results-6-parameter" in more.text and "results-7-parameter" not in more.text
        assert _hidden(more.text, "/portal/issue/review")["rows-results"] == "6"
        assert SAMPLES[kind]["sample"] in _input_tag(more.text, "sample")

    def test_the_same_form_twice_and_a_taken_number(
        self, client: TestClient, stack: Stack, cast: Cast
    ) -> None:
        kind = CertificateKind.INSPECTION
        csrf = signed_in(client, cast.officer(SAMPLES[kind]["issuer_id"]))
        values = _values(kind, number="INSP-TWICE")
        first = _issued_id(_issue(client, csrf, values))
        again = _issue(client, csrf, values)
        assert _issued_id(again, "exists") == first
        assert EN["portal.issue.done.exists"] in _text(client.get(again.headers["location"]))
        other = _issue(client, csrf, values | {"holder_name": "Công ty khác"})
        assert other.status_code == 409
        assert f'id="number-error">{EN["portal.issue.error.number_taken"]}<' in other.text
        assert 'aria-invalid="true"' in _input_tag(other.text, "number")
        assert len(stack.service.history(first)) == 1

    def test_change_goes_back_to_the_form_with_the_values(
        self, client: TestClient, cast: Cast
    ) -> None:
        kind = CertificateKind.MANAGEMENT_SYSTEM
        csrf = signed_in(client, cast.officer(SAMPLES[kind]["issuer_id"]))
        review = _review(client, csrf, _values(kind, number="MS-CHANGE"))
        carried = _hidden(review.text, "/portal/issue?")
        back = client.post("/portal/issue?lang=en", data={**carried, "change": "1"})
        assert back.status_code == 200
        assert 'value="MS-CHANGE"' in _input_tag(back.text, "number")
        assert SAMPLES[kind]["sites"][0]["address"] in _input_tag(back.text, "sites-1-address")


class TestWhoMayIssue:
    def test_without_the_csrf_token_nothing_is_issued(
        self, client: TestClient, stack: Stack, cast: Cast
    ) -> None:
        kind = CertificateKind.INSPECTION
        issuer_id = SAMPLES[kind]["issuer_id"]
        csrf = signed_in(client, cast.officer(issuer_id))
        values = _values(kind, number="INSP-CSRF")
        refused = client.post("/portal/issue?lang=en", data=values, follow_redirects=False)
        assert refused.status_code == 403
        assert refused.headers["content-type"].startswith("text/html")
        wrong = client.post("/portal/issue?lang=en", data={**values, "csrf_token": csrf + "x"})
        assert wrong.status_code == 403
        assert client.post("/portal/issue/review", data=values).status_code == 403
        assert stack.service.search(issuer_id=issuer_id)[1] == 0

    @pytest.mark.parametrize("who", ["admin", "auditor", "authority"])
    def test_only_officers_issue(
        self, client: TestClient, stack: Stack, cast: Cast, who: str
    ) -> None:
        kind = CertificateKind.REGULATION_CONFORMITY
        issuer_id = SAMPLES[kind]["issuer_id"]
        login = cast.admin(issuer_id) if who == "admin" else getattr(cast, who)
        csrf = signed_in(client, login)
        assert EN["portal.issue.button"] not in _text(client.get("/portal?lang=en"))
        page = client.get(f"/portal/issue?kind={kind.value}&lang=en")
        assert page.status_code == 403
        assert EN["portal.issue.officers_only"] in _text(page)
        values = {**_values(kind, number="REG-NOT-YOURS"), "csrf_token": csrf}
        assert client.post("/portal/issue/review?lang=en", data=values).status_code == 403
        answer = client.post("/portal/issue?lang=en", data=values, follow_redirects=False)
        assert answer.status_code == 403
        assert stack.service.search(issuer_id=issuer_id)[1] == 0

    def test_a_kind_the_cb_is_not_admitted_for(self, client: TestClient, cast: Cast) -> None:
        csrf = signed_in(client, cast.officer(SAMPLES[CertificateKind.INSPECTION]["issuer_id"]))
        kind = CertificateKind.CALIBRATION
        assert client.get(f"/portal/issue?kind={kind.value}&lang=en").status_code == 404
        answer = _review(client, csrf, _values(kind))
        assert answer.status_code == 403

    def test_a_cb_that_keeps_its_key_gets_the_command_line(
        self, client: TestClient, stack: Stack, cast: Cast
    ) -> None:
        keep_own_key(stack, ISSUER_ID)
        kind = CertificateKind.REGULATION_CONFORMITY
        csrf = signed_in(client, cast.officer(ISSUER_ID))
        form = client.get(f"/portal/issue?kind={kind.value}&lang=en")
        assert EN["portal.issue.held_intro"] in _text(form)
        review = _review(client, csrf, _values(kind, number="REG-HELD"))
        assert review.status_code == 200
        text = _text(review)
        assert EN["portal.issue.held"] in text
        assert "certreg issue certificate.json --key <key file>" in text
        assert '"number": "REG-HELD"' in text and '"format": 2' in text
        assert EN["portal.issue.new.submit"] not in text
        carried = _hidden(review.text, "/portal/issue?")
        answer = client.post("/portal/issue?lang=en", data=carried, follow_redirects=False)
        assert answer.status_code == 409
        assert stack.service.search(issuer_id=ISSUER_ID, number="REG-HELD")[1] == 0


class TestReplace:
    def _typed(self, stack: Stack, kind: CertificateKind, number: str) -> str:
        body = {k: v for k, v in SAMPLES[kind].items() if k != "issuer_id"}
        body |= {"number": number, "valid_until": "2099-01-01"}
        submission = model_of(kind).model_validate(body)
        return stack.service.issue(SAMPLES[kind]["issuer_id"], submission).certificate.id

    def _replace(
        self, client: TestClient, csrf: str, old: str, values: dict[str, str]
    ) -> tuple[Response, Response]:
        base = f"/portal/certificates/{old}/replace"
        review = client.post(f"{base}/review?lang=en", data={**values, "csrf_token": csrf})
        assert review.status_code == 200, _text(review)
        carried = _hidden(review.text, f"{base}?")
        return review, client.post(f"{base}?lang=en", data=carried, follow_redirects=False)

    def test_replace_prefilled_with_a_new_number(
        self, client: TestClient, stack: Stack, cast: Cast
    ) -> None:
        kind = CertificateKind.MANAGEMENT_SYSTEM
        old = self._typed(stack, kind, "MS-OLD")
        csrf = signed_in(client, cast.officer(SAMPLES[kind]["issuer_id"]))
        page = client.get(f"/portal/certificates/{old}?lang=en")
        assert f'href="/portal/certificates/{old}/replace?lang=en"' in page.text
        assert f'href="/portal/certificates/{old}/replace?mode=correct&amp;lang=en"' in page.text
        form = client.get(f"/portal/certificates/{old}/replace?lang=en")
        assert form.status_code == 200
        html = form.text
        assert 'value=""' in _input_tag(html, "number")  # a new number is needed
        assert SAMPLES[kind]["scope_vi"] in html  # prefilled from the record
        assert '<option value="renewal" selected>' in html
        values = _hidden(html, f"/portal/certificates/{old}/replace/review")
        values |= {k: v for k, v in _values(kind).items() if k not in ("number", "kind")}
        same = client.post(
            f"/portal/certificates/{old}/replace/review?lang=en",
            data={**values, "number": "MS-OLD", "csrf_token": csrf},
        )
        assert same.status_code == 400
        assert f'id="number-error">{EN["portal.issue.error.number_same"]}<' in same.text
        values |= {"number": "MS-NEW", "scope_en": "A wider scope", "reason": "renewal"}
        review, done = self._replace(client, csrf, old, values)
        assert EN["portal.issue.replace.warning"].split("{")[0] in _text(review)
        new = _issued_id(done, "replaced")
        assert stack.service.get(old).status == "superseded"
        assert stack.service.get(old).superseded_by == new
        view = stack.service.get(new)
        assert view.supersedes == old
        assert record_fields(view.record)["scope_en"] == "A wider scope"
        assert record_fields(view.record)["supersedes"] == old
        [event] = [e for e in stack.service.history(new) if e.type == "supersede"]
        assert event.reason == "renewal"
        # the review's "Issue" sent again: the replacement, not an error
        again = client.post(
            f"/portal/certificates/{old}/replace?lang=en",
            data=_hidden(review.text, f"/portal/certificates/{old}/replace?"),
            follow_redirects=False,
        )
        assert _issued_id(again, "exists") == new

    def test_correct_and_reissue(self, client: TestClient, stack: Stack, cast: Cast) -> None:
        kind = CertificateKind.TEST_REPORT
        old = self._typed(stack, kind, "TR-WRONG")
        csrf = signed_in(client, cast.officer(SAMPLES[kind]["issuer_id"]))
        form = client.get(f"/portal/certificates/{old}/replace?mode=correct&lang=en")
        assert form.status_code == 200
        assert '<option value="error-in-issue" selected>' in form.text
        assert EN["portal.issue.correct.intro"].split("{")[0] in _text(form)
        values = _hidden(form.text, f"/portal/certificates/{old}/replace/review")
        assert values["mode"] == "correct"
        values |= {k: v for k, v in _values(kind).items() if k not in ("number", "kind")}
        values |= {
            "number": "TR-RIGHT",
            "results-1-value": "0.04",
            "reason": "error-in-issue",
            "note": "Pb misread",
        }
        _, done = self._replace(client, csrf, old, values)
        new = _issued_id(done, "replaced")
        assert stack.service.get(old).status == "superseded"
        assert record_fields(stack.service.get(new).record)["results"][0]["value"] == "0.04"
        [event] = [e for e in stack.service.history(new) if e.type == "supersede"]
        assert event.reason == "error-in-issue: Pb misread"
        page = client.get(done.headers["location"])
        assert EN["portal.issue.done.replaced"] in _text(page)
        assert f'href="/portal/certificates/{old}?lang=en"' in page.text

    def test_a_format_1_certificate_gets_an_empty_form(
        self, client: TestClient, stack: Stack, cast: Cast
    ) -> None:
        body = sample("F1-OLD")
        old = stack.service.issue(
            ISSUER_ID, CertificateSubmission.model_validate(body)
        ).certificate.id
        csrf = signed_in(client, cast.officer(ISSUER_ID))
        form = client.get(f"/portal/certificates/{old}/replace?lang=en")
        assert form.status_code == 200
        assert EN["portal.issue.replace.format_1"] in _text(form)
        assert 'value=""' in _input_tag(form.text, "holder_name")
        kind = CertificateKind(body["kind"])
        values: dict[str, Any] = _hidden(form.text, f"/portal/certificates/{old}/replace/review")
        typed = next(
            s for s in typed_samples() if s["kind"] == kind.value and s["issuer_id"] == ISSUER_ID
        )
        values |= values_of({k: v for k, v in typed.items() if k != "issuer_id"}, kind)
        values |= {"number": "F1-NEW", "valid_until": "2099-01-01", "reason": "renewal"}
        _, done = self._replace(client, csrf, old, values)
        new = _issued_id(done, "replaced")
        assert is_v2(stack.service.get(new).record)
        assert stack.service.get(old).status == "superseded"

    def test_others_may_not_replace(self, client: TestClient, stack: Stack, cast: Cast) -> None:
        kind = CertificateKind.INSPECTION
        issuer_id = SAMPLES[kind]["issuer_id"]
        old = self._typed(stack, kind, "INSP-KEEP")
        csrf = signed_in(client, cast.admin(issuer_id))
        page = client.get(f"/portal/certificates/{old}?lang=en")
        assert f"/portal/certificates/{old}/replace" not in page.text
        assert client.get(f"/portal/certificates/{old}/replace?lang=en").status_code == 403
        values = {**_values(kind, number="INSP-NEW"), "reason": "renewal", "csrf_token": csrf}
        answer = client.post(f"/portal/certificates/{old}/replace?lang=en", data=values)
        assert answer.status_code == 403
        signed_in(client, cast.officer(ISSUER_ID))  # another CB's officer: not found
        assert client.get(f"/portal/certificates/{old}/replace?lang=en").status_code == 404
        assert stack.service.get(old).status == "valid"


class TestDrafts:
    """The form's review page keeps a draft (docs/spec.md §11.12): "Save as a draft" when the
    CB does not require review, "Send for review" (a draft submitted) when it does — then the
    draft's page, where another officer decides."""

    def test_save_as_a_draft_then_send_for_review(
        self, client: TestClient, stack: Stack, cast: Cast
    ) -> None:
        kind = CertificateKind.INSPECTION
        issuer_id = SAMPLES[kind]["issuer_id"]
        csrf = signed_in(client, cast.officer(issuer_id))
        review = _review(client, csrf, _values(kind, number="FORM-DRAFT-1"))
        assert "Save as a draft" in _text(review)
        carried = _hidden(review.text, "/portal/issue?")
        saved = client.post(
            "/portal/issue?lang=en", data={**carried, "draft": "1"}, follow_redirects=False
        )
        assert saved.status_code == 303 and saved.headers["location"].startswith("/portal/drafts/")
        page = client.get(saved.headers["location"])
        assert 'data-state="draft"' in page.text and "FORM-DRAFT-1" in _text(page)
        assert stack.service.search(number="FORM-DRAFT-1")[1] == 0  # nothing issued yet

        # The CB now requires review: the review page offers only to send it for review, and
        # issuing directly is not possible even by posting the form's Issue.
        csrf = signed_in(client, cast.admin(issuer_id))
        client.post("/portal/settings?lang=en", data={"csrf_token": csrf, "review_required": "1"})
        csrf = signed_in(client, cast.officer(issuer_id))
        review = _review(client, csrf, _values(kind, number="FORM-DRAFT-2"))
        text = _text(review)
        assert "Send for review" in text and "Save as a draft" not in text
        carried = _hidden(review.text, "/portal/issue?")
        sent = client.post("/portal/issue?lang=en", data=carried, follow_redirects=False)
        assert sent.status_code == 303 and sent.headers["location"].startswith("/portal/drafts/")
        assert 'data-state="submitted"' in client.get(sent.headers["location"]).text
        assert stack.service.search(number="FORM-DRAFT-2")[1] == 0
