"""The pages, QR codes and PDFs in process, over a real database and chain: every outcome,
both languages, the QR digest check, search, upload (genuine, tampered, outdated, not a
bundle), HTML error pages, and the JSON API's QR and PDF routes."""

import copy
import csv
import datetime as dt
import hashlib
import io
import json
import re
import secrets
import shutil
import subprocess
import zipfile
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from reportlab import rl_config
from sqlalchemy import text

from api.app import create_app
from api.stack import Stack
from api.web.i18n import catalogue
from api.web.routes import MAX_PDFS
from registry.accounts import Actor, Principal, Role
from registry.core.governance import Admit, Scope, Statement, SuspendIssuer, sign_statement
from registry.core.hashing import sha256
from registry.records import CertificateSubmission, submission_adapter
from registry.samples import admit_sample_issuer, typed_samples
from registry.service import IssueResult
from tests.integration.web.conftest import (
    AUTHORITY,
    BASE_URL,
    EXPLORER,
    ISSUER_ID,
    admit,
    sample,
)
from verifier.verify import Verifier

PROBLEM = "application/problem+json"


FSI, PDI = "\u2068", "\u2069"


def issue(stack: Stack, number: str, *, issuer_id: str = ISSUER_ID, **dates: Any) -> IssueResult:
    body = sample(number, issuer_id=issuer_id, **dates)
    return stack.service.issue(issuer_id, CertificateSubmission.model_validate(body))


class Page(HTMLParser):
    """What a test reads off a page: the outcome, the checks, the text and the headings."""

    def __init__(self, response: Response) -> None:
        super().__init__()
        self.response = response
        self.attrs: list[tuple[str, dict[str, str | None]]] = []
        self.texts: list[str] = []
        self.raw: list[str] = []
        self.h1 = 0
        self.scripts = 0
        self.feed(response.text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.attrs.append((tag, dict(attrs)))
        self.h1 += tag == "h1"
        self.scripts += tag == "script"

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.raw.append(data)
            # Bidi isolates around data (FSI, PDI) are invisible: the text as a reader sees it.
            self.texts.append(" ".join(data.replace(FSI, "").replace(PDI, "").split()))

    @property
    def text(self) -> str:
        return " ".join(self.texts)

    def first(self, attribute: str) -> str | None:
        return next((a[attribute] for _, a in self.attrs if attribute in a), None)

    def all(self, tag: str, attribute: str) -> list[str | None]:
        return [a.get(attribute) for t, a in self.attrs if t == tag and attribute in a]

    @property
    def outcome(self) -> str | None:
        return self.first("data-outcome")

    @property
    def lang(self) -> str | None:
        return next((a.get("lang") for t, a in self.attrs if t == "html"), None)

    @property
    def checks(self) -> dict[str, str | None]:
        names = [a.get("data-check") for _, a in self.attrs if "data-check" in a]
        statuses = [a.get("data-status") for _, a in self.attrs if "data-check" in a]
        return {str(n): s for n, s in zip(names, statuses, strict=True)}


def get(client: TestClient, path: str, **headers: str) -> Page:
    response = client.get(path, headers=headers, follow_redirects=False)
    page = Page(response)
    if response.headers.get("content-type", "").startswith("text/html"):
        assert page.h1 == 1, path
        assert page.scripts == 0, path
        assert "default-src 'none'" in response.headers["content-security-policy"]
    return page


def title(outcome: str, lang: str) -> str:
    return catalogue(lang)[f"verdict.{outcome}.title"]


def test_a_cb_suspended_since_is_said_and_its_certificate_stands(
    client: TestClient, stack: Stack
) -> None:
    """The authority adopts the CB, then suspends it: its certificate from before stays valid,
    and the page says the body's accreditation is suspended now (docs/spec.md §11.10)."""
    admit(stack)
    cid = issue(stack, "WEB-STANDING").certificate.id
    stack.worker.run_until_idle()
    admin = Principal(
        account_id="a" * 16,
        role=Role.AUTHORITY_ADMIN,
        issuer_id=None,
        name="x",
        credential="token:x",
    )
    key_id = sha256(AUTHORITY.public_key().public_bytes_raw())
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    statements: list[Statement] = [
        Admit(
            issuer_id=ISSUER_ID,
            at=now,
            authority_key_id=key_id,
            name_vi="Trung tâm",
            name_en="Centre",
            accreditation_body="BoA",
            accreditation_number="VICAS 901",
            scope=Scope(kinds=("regulation-conformity",)),
            valid_from=now.date() - dt.timedelta(days=1),
            valid_until=now.date() + dt.timedelta(days=365),
        ),
        SuspendIssuer(issuer_id=ISSUER_ID, at=now, authority_key_id=key_id, reason="đánh giá lại"),
    ]
    for statement in statements:
        signed = sign_statement(statement, AUTHORITY).to_json()
        stack.service.governance.submit(admin, signed, actor=Actor())
    for lang in ("vi", "en"):
        page = get(client, f"/verify/{cid}?lang={lang}")
        assert page.outcome == "valid"
        assert catalogue(lang)["issuer.standing.suspended"] in page.text
    before = get(client, f"/verify/{cid}")
    assert before.checks["issuer_accredited"] == "skipped"  # issued before the adoption


def test_pending_then_valid_in_both_languages(client: TestClient, stack: Stack) -> None:
    admit(stack)
    cid = issue(stack, "WEB-1").certificate.id
    pending = get(client, f"/verify/{cid}")
    assert pending.response.status_code == 200
    assert (pending.outcome, pending.lang) == ("pending", "vi")
    assert title("pending", "vi") in pending.text
    assert pending.checks["checkpoint_anchored"] == "skipped"
    assert "WEB-1" in pending.text

    stack.worker.run_until_idle()
    for lang in ("vi", "en"):
        page = get(client, f"/verify/{cid}?lang={lang}")
        assert (page.outcome, page.lang) == ("valid", lang)
        assert title("valid", lang) in page.text
        # all passed but the admission's: the CB was admitted by the operator (before_governance)
        checks = page.checks
        assert checks.pop("issuer_accredited") == "skipped"
        assert set(checks.values()) == {"passed"}
        assert "VICAS 901" in page.text
        assert "Công ty TNHH Đồ chơi Trẻ em Bé Ngoan" in page.text
        bundle = client.get(f"/v1/certificates/{cid}/proof").json()
        assert EXPLORER + bundle["anchor"]["tx_hash"] in page.all("a", "href")
        digest = bundle["status_proof"]["leaf"]["record_hash"][2:18]
        assert " ".join(digest[i : i + 4] for i in range(0, 16, 4)) in page.text


def test_every_outcome(client: TestClient, stack: Stack) -> None:
    admit(stack)
    today = dt.datetime.now(dt.UTC).date()
    ids = {
        "valid": issue(stack, "W-VALID").certificate.id,
        "suspended": issue(stack, "W-SUSP").certificate.id,
        "withdrawn": issue(stack, "W-WDRN").certificate.id,
        "expired": issue(
            stack,
            "W-EXP",
            valid_from=today - dt.timedelta(days=100),
            valid_until=today - dt.timedelta(days=1),
        ).certificate.id,
        "superseded": issue(stack, "W-OLD").certificate.id,
        "invalid": issue(stack, "W-TAMP").certificate.id,
    }
    stack.service.suspend(
        ISSUER_ID, ids["suspended"], reason="misuse-of-mark: logo on wrong product"
    )
    stack.service.withdraw(ISSUER_ID, ids["withdrawn"], reason="fraud")
    successor = stack.service.supersede(
        ISSUER_ID,
        ids["superseded"],
        CertificateSubmission.model_validate(sample("W-NEW")),
        reason="renewal",
    ).certificate.id
    stack.worker.run_until_idle()
    with stack.engine.begin() as connection:
        record = json.loads(
            connection.execute(
                text("SELECT record FROM certificates WHERE id = :id"), {"id": ids["invalid"]}
            ).scalar_one()
        )
        record["subject"]["model"] = "M-246"
        connection.execute(
            text("UPDATE certificates SET record = :r WHERE id = :id"),
            {"r": json.dumps(record), "id": ids["invalid"]},
        )

    for outcome, cid in ids.items():
        for lang in ("vi", "en"):
            page = get(client, f"/verify/{cid}?lang={lang}")
            assert page.response.status_code == 200
            assert page.outcome == outcome, (outcome, lang)
            assert title(outcome, lang) in page.text
    suspended = get(client, f"/verify/{ids['suspended']}?lang=en")
    assert "Reason: misuse of the certification mark — logo on wrong product." in suspended.text
    withdrawn = get(client, f"/verify/{ids['withdrawn']}")
    assert "Lý do: gian lận." in withdrawn.text
    old = get(client, f"/verify/{ids['superseded']}?lang=en")
    assert f"/verify/{successor}?lang=en" in old.all("a", "href")
    new = get(client, f"/verify/{successor}?lang=en")
    assert new.outcome == "valid"
    assert f"/verify/{ids['superseded']}?lang=en" in new.all("a", "href")
    tampered = get(client, f"/verify/{ids['invalid']}?lang=en")
    assert tampered.checks["record_integrity"] == "failed"
    assert "they were changed after registration" in tampered.text
    # The checks are open: what failed shows without a click.
    assert any(tag == "details" and "open" in a for tag, a in tampered.attrs)
    expired = get(client, f"/verify/{ids['expired']}?lang=en")
    assert expired.checks["validity_period"] == "passed"
    assert "Its validity ended on" in expired.text

    # The replacement, suspended since, still links to the certificate it replaced.
    stack.service.suspend(ISSUER_ID, successor, reason="other")
    stack.worker.run_until_idle()
    suspended_new = get(client, f"/verify/{successor}?lang=en")
    assert suspended_new.outcome == "suspended"
    assert f"/verify/{ids['superseded']}?lang=en" in suspended_new.all("a", "href")


def test_not_found_says_so_and_nothing_else(client: TestClient, stack: Stack) -> None:
    admit(stack)
    issue(stack, "WEB-NF")
    unknown = "0x" + secrets.token_hex(32)
    before = get(client, f"/verify/{unknown}?lang=en")  # no anchored checkpoint yet
    assert before.response.status_code == 404
    assert before.outcome == "not_found"
    assert before.checks == {}
    stack.worker.run_until_idle()
    after = get(client, f"/verify/{unknown}?lang=en")
    assert after.response.status_code == 404
    assert after.outcome == "not_found"
    assert after.checks["certificate_status"] == "passed"  # the non-membership proof
    assert "WEB-NF" not in after.text
    assert "Công ty" not in after.text
    for path in ("/verify/0x1234", "/verify/not-an-id", f"/verify/{unknown.upper()}z"):
        page = get(client, path)
        assert page.response.status_code == 404
        assert page.outcome == "not_found"


def test_uppercase_id_is_the_same_certificate(client: TestClient, stack: Stack) -> None:
    admit(stack)
    cid = issue(stack, "WEB-UP").certificate.id
    page = get(client, f"/verify/0x{cid[2:].upper()}")
    assert page.outcome == "pending"


def test_language_choice_and_switch(client: TestClient, stack: Stack) -> None:
    admit(stack)
    cid = issue(stack, "WEB-LANG").certificate.id
    assert get(client, f"/verify/{cid}").lang == "vi"
    assert get(client, f"/verify/{cid}", **{"accept-language": "en-GB,en;q=0.9"}).lang == "en"
    assert get(client, f"/verify/{cid}?lang=vi", **{"accept-language": "en"}).lang == "vi"
    assert get(client, f"/verify/{cid}?lang=xx", **{"accept-language": "en"}).lang == "en"
    page = get(client, f"/verify/{cid}?d=0011223344556677&lang=en")
    switch = [a for t, a in page.attrs if t == "a" and a.get("hreflang")]
    assert [(a["hreflang"], a.get("aria-current")) for a in switch] == [
        ("vi", None),
        ("en", "page"),
    ]
    assert switch[0]["href"] == f"/verify/{cid}?d=0011223344556677&lang=vi"


def test_qr_digest_on_the_page(client: TestClient, stack: Stack) -> None:
    admit(stack)
    created = issue(stack, "WEB-QR").certificate
    short = created.record_hash.hex()[:16]
    match = get(client, f"/verify/{created.id}?d={short}&lang=en")
    assert match.first("data-qr") == "match"
    other = get(client, f"/verify/{created.id}?d={'0' * 16}&lang=en")
    assert other.first("data-qr") == "mismatch"
    assert "this QR code was made for another version of the record" in other.text
    garbled = get(client, f"/verify/{created.id}?d=zz&lang=vi")
    assert garbled.first("data-qr") == "mismatch"
    assert get(client, f"/verify/{created.id}").first("data-qr") is None


def test_qr_endpoints(client: TestClient, stack: Stack) -> None:
    admit(stack)
    created = issue(stack, "WEB-QR2").certificate
    url = f"{BASE_URL}/verify/{created.id}?d={created.record_hash.hex()[:16]}"
    png = client.get(f"/v1/certificates/{created.id}/qr.png")
    assert png.status_code == 200
    assert png.headers["content-type"] == "image/png"
    assert "max-age" in png.headers["cache-control"]
    image = cv2.imdecode(np.frombuffer(png.content, dtype=np.uint8), cv2.IMREAD_GRAYSCALE)
    assert image is not None
    assert cv2.QRCodeDetector().detectAndDecode(image)[0] == url
    svg = client.get(f"/v1/certificates/{created.id}/qr.svg")
    assert svg.status_code == 200
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert svg.text.startswith("<svg") and url.replace("&", "&amp;") in svg.text
    unknown = client.get(f"/v1/certificates/0x{'ab' * 32}/qr.png")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == PROBLEM
    malformed = client.get("/v1/certificates/0x12/qr.svg")
    assert malformed.status_code == 422
    assert malformed.headers["content-type"] == PROBLEM


def _pdf_text(content: bytes, tmp_path: Path) -> str:
    assert shutil.which("pdftotext"), "pdftotext: want Debian's poppler-utils (make install)"
    path = tmp_path / "c.pdf"
    path.write_bytes(content)
    return subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout


def test_pdf(client: TestClient, stack: Stack, tmp_path: Path) -> None:
    admit(stack)
    created = issue(stack, "WEB-PDF-Đ1").certificate
    response = client.get(f"/v1/certificates/{created.id}/pdf")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == 'inline; filename="WEB-PDF-_1.pdf"'
    assert response.content.startswith(b"%PDF-")
    extracted = _pdf_text(response.content, tmp_path)
    for expected in (
        "WEB-PDF-Đ1",
        "GIẤY CHỨNG NHẬN",
        "Trung tâm Kỹ thuật Tiêu chuẩn Đo lường Chất lượng Mẫu 3",
        "Sample Quality Technical Centre 3",
        "VICAS 901",
        "Công ty TNHH Đồ chơi Trẻ em Bé Ngoan",
        "Thép thanh vằn CB400-V",
        "QCVN 7:2019/BKHCN",
        "Chứng nhận hợp quy",
        "Conformity to a technical regulation",
        " ".join(re.findall("....", created.record_hash.hex()[:16])),
    ):
        assert expected in extracted, expected
    assert "Not valid" not in extracted

    stack.service.withdraw(ISSUER_ID, created.id, reason="fraud")
    withdrawn = _pdf_text(client.get(f"/v1/certificates/{created.id}/pdf").content, tmp_path)
    assert "đã bị thu hồi. Không còn giá trị." in withdrawn
    assert "withdrawn. Not valid." in withdrawn

    assert client.get(f"/v1/certificates/0x{'cd' * 32}/pdf").status_code == 404


def test_search(client: TestClient, stack: Stack) -> None:
    admit(stack)
    admit(stack, "vn-cb-hoabinh")
    cid = issue(stack, "SEARCH-1").certificate.id
    found = get(client, "/verify?number=SEARCH-1&lang=en")
    assert found.response.status_code == 303
    assert found.response.headers["location"] == f"/verify/{cid}?lang=en"
    lower = get(client, "/verify?number=+search-1+")
    assert lower.response.headers["location"] == f"/verify/{cid}?lang=vi"

    form = get(client, "/verify?lang=en")
    assert form.response.status_code == 200
    assert "vn-cb-hoabinh" in form.all("option", "value")
    empty = get(client, "/verify?number=&lang=en")
    assert empty.response.status_code == 400
    assert "Type a certificate number." in empty.text
    missing = get(client, "/verify?number=NOPE-9&lang=vi")
    assert missing.response.status_code == 404
    assert "Không có chứng nhận nào số “NOPE-9” được đăng ký." in missing.text

    other = issue(stack, "SEARCH-1", issuer_id="vn-cb-hoabinh").certificate.id
    several = get(client, "/verify?number=SEARCH-1&lang=en")
    assert several.response.status_code == 200
    assert {f"/verify/{cid}?lang=en", f"/verify/{other}?lang=en"} <= set(several.all("a", "href"))
    assert "Hoa Binh Certification JSC" in several.text
    narrowed = get(client, "/verify?number=SEARCH-1&issuer=vn-cb-hoabinh")
    assert narrowed.response.headers["location"] == f"/verify/{other}?lang=vi"


def upload(client: TestClient, content: bytes, *, lang: str = "en", name: str = "b.json") -> Page:
    response = client.post(
        f"/verify/bundle?lang={lang}", files={"bundle": (name, content, "application/json")}
    )
    return Page(response)


def test_upload(client: TestClient, stack: Stack) -> None:
    admit(stack)
    cid = issue(stack, "UP-1").certificate.id
    stack.worker.run_until_idle()
    bundle = client.get(f"/v1/certificates/{cid}/proof").json()
    form = get(client, "/verify/bundle?lang=en")
    assert form.response.status_code == 200
    assert "64 KB" in form.text

    genuine = upload(client, json.dumps(bundle).encode(), name="proof.json")
    assert genuine.outcome == "valid"
    assert "Result for the uploaded file “proof.json”." in genuine.text
    assert "/v1/certificates" not in " ".join(str(h) for h in genuine.all("a", "href"))

    forged = copy.deepcopy(bundle)
    forged["record"]["holder"]["name"] = "Công ty Giả Mạo"
    page = upload(client, json.dumps(forged).encode(), lang="vi")
    assert page.outcome == "invalid"
    assert page.checks["record_integrity"] == "failed"
    assert title("invalid", "vi") in page.text

    for junk in (b"\xff\xfe not text", b"{", b"[" * 50_000, b'{"a": NaN}', b"42", b"{}"):
        page = upload(client, junk)
        assert page.response.status_code == 200
        assert page.outcome == "invalid", junk[:20]

    unknown_bundle = client.get(f"/v1/certificates/0x{'ab' * 32}/proof").json()
    assert upload(client, json.dumps(unknown_bundle).encode()).outcome == "not_found"

    no_file = client.post("/verify/bundle?lang=en", data={"other": "x"})
    assert no_file.status_code == 400
    assert "Choose a file first." in no_file.text


def test_an_outdated_upload_shows_the_current_status(client: TestClient, stack: Stack) -> None:
    admit(stack)
    cid = issue(stack, "UP-OLD").certificate.id
    stack.worker.run_until_idle()
    saved = client.get(f"/v1/certificates/{cid}/proof").json()
    stack.service.withdraw(ISSUER_ID, cid, reason="holder-request")
    stack.worker.run_until_idle()
    page = upload(client, json.dumps(saved).encode())
    assert page.outcome == "withdrawn"
    assert "proves checkpoint 0, older than the latest" in page.text
    assert "The status shown above is the current one" in page.text

    # An outdated file that was tampered with stays invalid.
    saved["record"]["number"] = "UP-OLDX"
    assert upload(client, json.dumps(saved).encode()).outcome == "invalid"


def test_chain_down_is_unavailable_not_valid(client: TestClient, stack: Stack) -> None:
    admit(stack)
    cid = issue(stack, "WEB-DOWN").certificate.id
    stack.worker.run_until_idle()
    stack.__dict__["verifier"] = Verifier.for_chain(
        stack.trust, rpc=["http://127.0.0.1:9"], status_source=None
    )
    page = get(client, f"/verify/{cid}?lang=en")
    assert page.response.status_code == 503
    assert page.outcome == "unavailable"
    assert "The blockchain did not answer" in page.text


def test_error_pages_are_html(client: TestClient, stack: Stack) -> None:
    admit(stack)
    for method, path, status in (
        ("GET", "/verify/a/b", 404),
        ("POST", "/verify?lang=en", 405),
        ("DELETE", "/verify/bundle", 405),
    ):
        response = client.request(method, path, headers={"accept-language": "en"})
        assert response.status_code == status, path
        assert response.headers["content-type"].startswith("text/html")
        assert catalogue("en")[f"error.{status}.title"] in response.text
    big = client.post(
        "/verify/bundle?lang=vi", files={"bundle": ("big.json", b" " * (70 * 1024), "text/plain")}
    )
    assert big.status_code == 413
    assert big.headers["content-type"].startswith("text/html")
    assert "Tệp quá lớn" in big.text
    # The JSON API keeps its problems.
    assert client.get("/v1/nothing").headers["content-type"] == PROBLEM


def test_page_failure_is_an_html_500(
    client: TestClient, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(certificate_id: str) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(stack.assembler, "bundle", broken)
    response = client.get(f"/verify/0x{'ab' * 32}?lang=en")
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/html")
    assert "Something went wrong" in response.text
    assert "boom" not in response.text


def test_stylesheet_and_openapi(stack: Stack, client: TestClient) -> None:
    css = client.get("/verify/static/verify.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert "immutable" in css.headers["cache-control"]
    paths = create_app(stack).openapi()["paths"]
    for route in ("qr.svg", "qr.png", "pdf"):
        assert f"/v1/certificates/{{certificate_id}}/{route}" in paths
    assert not [p for p in paths if p.startswith("/verify")]


def test_data_cannot_reorder_the_page_or_the_pdf(
    client: TestClient, stack: Stack, tmp_path: Path
) -> None:
    # A right-to-left override in a holder's name or in a number someone typed stays inside
    # its own isolate on the page, and prints without it in the PDF.
    admit(stack)
    override = "\u202e"
    fields = sample("WEB-BIDI-1")
    fields["holder"]["name"] = f"Công ty {override}ABC lừa đảo"
    created = stack.service.issue(ISSUER_ID, CertificateSubmission.model_validate(fields))
    page = client.get(f"/verify/{created.certificate.id}")
    assert page.status_code == 200
    html = page.text
    cell = re.search(r"<dd([^>]*)>([^<]*\u202e[^<]*)</dd>", html)
    assert cell is not None and 'dir="auto"' in cell.group(1), "the name is in an isolate"
    assert f"<title>Chứng nhận {FSI}WEB-BIDI-1{PDI} · " in html
    typed = f"X{override}1"
    searched = Page(client.get("/verify", params={"number": typed}))
    assert any(f"{FSI}{typed}{PDI}" in text for text in searched.raw)
    pdf = client.get(f"/v1/certificates/{created.certificate.id}/pdf")
    extracted = _pdf_text(pdf.content, tmp_path)
    assert override not in extracted
    assert "Công ty ABC lừa đảo" in extracted


def test_api_docs_load_nothing_from_elsewhere(client: TestClient) -> None:
    # Swagger UI from the installed package: the page works offline and runs no code fetched
    # from a CDN (FastAPI's default).
    page = client.get("/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources, page.text
    assert all(s.startswith("/") for s in sources), sources
    assert "cdn" not in page.text.lower()
    for source in sources:
        asset = client.get(source)
        assert asset.status_code == 200, source
        assert len(asset.content) > 100
    assert client.get("/openapi.json").status_code == 200


def test_labels_of_a_batch(client: TestClient, stack: Stack, tmp_path: Path) -> None:
    """One PDF of a batch's labels (24 to an A4 sheet): each certificate's number, holder,
    kind and QR code; a CB's people print only their own CB's certificates."""
    token = admit_sample_issuer(stack.service, ISSUER_ID).api_key
    ids = [issue(stack, f"WEB-LABEL-{i:02d}").certificate.id for i in range(26)]
    own = {"Authorization": f"Bearer {token}"}
    response = client.post("/v1/certificates/labels", json={"certificate_ids": ids}, headers=own)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    extracted = _pdf_text(response.content, tmp_path)
    assert extracted.count("\f") == 2  # two sheets: 24 labels, then 2
    for i in range(26):
        assert f"WEB-LABEL-{i:02d}" in extracted
    assert "Chứng nhận hợp quy" in extracted
    assert "Công ty TNHH Đồ chơi Trẻ em Bé Ngoan" in " ".join(extracted.split())  # on 2 lines
    assert client.post("/v1/certificates/labels", json={"certificate_ids": ids}).status_code == 401
    other = admit_sample_issuer(stack.service, "vn-cb-hoabinh").api_key
    refused = client.post(
        "/v1/certificates/labels",
        json={"certificate_ids": ids[:1]},
        headers={"Authorization": f"Bearer {other}"},
    )
    assert refused.status_code == 403, refused.text
    too_many = client.post(
        "/v1/certificates/labels", json={"certificate_ids": ids * 20}, headers=own
    )
    assert too_many.status_code == 422
    unknown = client.post(
        "/v1/certificates/labels",
        json={"certificate_ids": [ids[0], f"0x{'cd' * 32}"]},
        headers=own,
    )
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == PROBLEM


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _token(client: TestClient, setup_token: str) -> str:
    """An account's API token, made with its one-time setup token."""
    made = client.post("/v1/tokens", json={"label": "web"}, headers=_bearer(setup_token))
    assert made.status_code == 201, made.text
    return str(made.json()["secret"])


def _unzip(response: Response) -> tuple[zipfile.ZipFile, list[dict[str, str]]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["cache-control"] == "no-store"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.testzip() is None
    assert archive.namelist()[0] == "manifest.csv"
    manifest = archive.read("manifest.csv").decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(manifest, newline="")))
    assert archive.namelist()[1:] == [row["file"] for row in rows]
    for row in rows:
        assert row["sha256"] == hashlib.sha256(archive.read(row["file"])).hexdigest()
    return archive, rows


def test_pdfs_of_a_batch(
    client: TestClient, stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ZIP of a batch's printable certificates, each the PDF `GET …/pdf` gives, named after
    its number and made distinct, with a manifest of them; a CB's people print only their own
    CB's certificates, the authority and auditors any."""
    # Without a creation time, and with a document id made from the content, ReportLab prints
    # the same certificate into the same bytes: each PDF is compared whole with the route's.
    monkeypatch.setattr(rl_config, "invariant", 1)
    token = admit_sample_issuer(stack.service, ISSUER_ID).api_key
    own = _bearer(token)
    # Đ folds to D and a case-insensitive disk takes d1 for D1: three names that would collide.
    numbers = ["WEB-ZIP-Đ1", "WEB-ZIP-D1", "web-zip-d1", "Hồ sơ 2\\..\\x", "=1+2"]
    ids = [issue(stack, number).certificate.id for number in numbers]
    stack.service.withdraw(ISSUER_ID, ids[3], reason="fraud")
    # An id given twice is one file.
    response = client.post(
        "/v1/certificates/pdfs", json={"certificate_ids": ids + ids[:1]}, headers=own
    )
    today = dt.datetime.now(dt.UTC).date()
    disposition = f'attachment; filename="certificates-{today}.zip"'
    assert response.headers["content-disposition"] == disposition
    archive, rows = _unzip(response)
    assert [row["file"] for row in rows] == [
        f"WEB-ZIP-D1-{ids[0][2:10]}.pdf",
        f"WEB-ZIP-D1-{ids[1][2:10]}.pdf",
        f"web-zip-d1-{ids[2][2:10]}.pdf",
        "Ho_so_2_.._x.pdf",
        "1_2.pdf",
    ]
    assert [row["certificate_id"] for row in rows] == ids
    assert [row["number"] for row in rows] == [*numbers[:4], "'=1+2"]
    assert [row["status"] for row in rows] == ["valid"] * 3 + ["withdrawn", "valid"]
    assert {row["issuer_id"] for row in rows} == {ISSUER_ID}
    for row in rows:
        single = client.get(f"/v1/certificates/{row['certificate_id']}/pdf")
        assert archive.read(row["file"]) == single.content, row["file"]
    withdrawn = _pdf_text(archive.read(rows[3]["file"]), tmp_path)
    assert "Hồ sơ 2\\..\\x" in withdrawn
    assert "withdrawn. Not valid." in withdrawn

    def refused(body: dict[str, Any], headers: dict[str, str], status: int) -> None:
        answer = client.post("/v1/certificates/pdfs", json=body, headers=headers)
        assert answer.status_code == status, answer.text
        assert answer.headers["content-type"] == PROBLEM

    # The authority and auditors print any CB's: the same number at two CBs is two files.
    other = _bearer(admit_sample_issuer(stack.service, "vn-cb-hoabinh").api_key)
    same = [
        issue(stack, "WEB-ZIP-SAME", issuer_id=issuer).certificate.id
        for issuer in (ISSUER_ID, "vn-cb-hoabinh")
    ]
    created = stack.service.accounts.bootstrap_authority(name="Quản trị", login="web-authority")
    authority = _bearer(_token(client, created.setup_token))
    made = client.post(
        "/v1/accounts", json={"role": "auditor", "name": "Kiểm toán"}, headers=authority
    )
    assert made.status_code == 201, made.text
    setup = str(made.json()["setup_token"])
    refused({"certificate_ids": same}, _bearer(setup), 403)
    for headers in (authority, _bearer(_token(client, setup))):
        both = client.post("/v1/certificates/pdfs", json={"certificate_ids": same}, headers=headers)
        _, rows = _unzip(both)
        assert [row["file"] for row in rows] == [f"WEB-ZIP-SAME-{i[2:10]}.pdf" for i in same]
        assert [row["issuer_id"] for row in rows] == [ISSUER_ID, "vn-cb-hoabinh"]

    refused({"certificate_ids": ids}, {}, 401)
    refused({"certificate_ids": ids[:1]}, other, 403)
    refused({"certificate_ids": same}, own, 403)  # one of them another CB's
    refused({"certificate_ids": [ids[0], f"0x{'cd' * 32}"]}, own, 404)
    refused({"certificate_ids": [ids[0]] * (MAX_PDFS + 1)}, own, 422)
    refused({"certificate_ids": []}, own, 422)
    refused({"certificate_ids": ["0x12"]}, own, 422)


def test_a_typed_certificate_shows_its_public_fields(
    client: TestClient, stack: Stack, tmp_path: Path
) -> None:
    """A format-2 calibration certificate (docs/spec.md §2b, §2c): the page and the PDF show
    its public fields — instrument, serial, traceability, province — and say how many fields
    are withheld; the restricted results and customer address appear nowhere public."""
    admit(stack, "vn-lab-songhong")
    body = next(s for s in typed_samples() if s["kind"] == "calibration")
    body = {k: v for k, v in body.items() if k != "issuer_id"} | {
        "number": "WEB-T-1",
        "valid_until": None,
    }
    created = stack.service.issue(
        "vn-lab-songhong", submission_adapter().validate_python(body)
    ).certificate
    stack.worker.run_until_idle()
    for lang in ("vi", "en"):
        page = get(client, f"/verify/{created.id}?lang={lang}")
        assert page.outcome == "valid"
        instrument = body["instrument"] if lang == "vi" else body["instrument_en"]
        assert instrument in page.text and body["serial"] in page.text
        assert "Thành phố" in page.text  # the province's name, from its code
        assert body["results"][0]["quantity"] not in page.text
        assert body["holder_address"] not in page.text
    english = get(client, f"/verify/{created.id}?lang=en")
    assert "2 restricted fields of this record are not shown publicly" in english.text
    extracted = _pdf_text(client.get(f"/v1/certificates/{created.id}/pdf").content, tmp_path)
    assert body["serial"] in extracted and body["traceability"] in extracted
    assert body["results"][0]["quantity"] not in extracted
