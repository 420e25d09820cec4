"""The portal's spreadsheet imports (docs/spec.md §11.13), in a browser's terms: a CB officer
uploads a file with deliberate errors, sees them by row and column, fixes the mapping, issues
the valid rows, follows the progress without script, downloads the result; the dashboard
shows the new certificates; nobody else may."""

import csv
import io
import time
import zipfile
from typing import Any

from fastapi.testclient import TestClient

from api.stack import Stack
from registry.samples import typed_samples
from registry.sheets import rows_csv
from tests.integration.web.test_portal import People, _field, _text, people, signed_in

__all__ = ["people"]  # the fixture, imported for this module's tests


def rows(n: int) -> list[dict[str, Any]]:
    base = next(
        {k: v for k, v in s.items() if k != "issuer_id"}
        for s in typed_samples()
        if s["kind"] == "calibration"
    )
    return [{**base, "number": f"PORTAL-IMP-{i:03d}", "valid_until": None} for i in range(n)]


def upload(client: TestClient, csrf: str, data: bytes, name: str = "thang-3.csv") -> str:
    """Upload a calibration file through the page's form; the import page's URL."""
    answer = client.post(
        "/portal/imports?lang=en",
        data={"kind": "calibration", "csrf_token": csrf},
        files={"file": (name, data, "text/csv")},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return str(answer.headers["location"])


def test_an_officer_imports_a_file_with_errors(
    client: TestClient, stack: Stack, people: People
) -> None:
    csrf = signed_in(client, people.officer)
    page = client.get("/portal/imports?lang=en")
    assert page.status_code == 200
    assert "/v1/imports/templates/calibration?format=xlsx" in page.text
    body = rows(20)
    body[4] = {**body[4], "province": "Hà Giang"}
    body[9] = {**body[9], "serial": ""}
    data = rows_csv(body, "calibration").replace(b"holder_name", b"Ten khach hang")
    location = upload(client, csrf, data)
    job = client.get(location)
    text = _text(job)
    # The file's own header for the holder is not known: a required column is unmapped.
    assert "The columns cannot be used yet" in text
    assert "required column missing: Holder" in text
    assert 'data-rows="20"' in job.text
    # Map it in the form: the select of the header "Ten khach hang" set to holder_name.
    job_id = location.split("/")[3].split("?")[0]
    headers = csv.reader(io.StringIO(data.decode())).__next__()
    form = {"csrf_token": _field(job.text, "csrf_token")}
    for index, header in enumerate(headers):
        form[f"map-{index}"] = "holder_name" if header == "Ten khach hang" else header
    mapped = client.post(
        f"/portal/imports/{job_id}/mapping?lang=en", data=form, follow_redirects=True
    )
    text = _text(mapped)
    assert "20 rows: 18 ready to issue, 2 with errors." in text
    assert "Errors (2)" in text
    assert "34 provincial-level units" in text
    # Not with errors unless the officer leaves them out.
    refused = client.post(f"/portal/imports/{job_id}/confirm?lang=en", data={"csrf_token": csrf})
    assert refused.status_code == 409
    assert "Some rows have errors" in _text(refused)
    confirmed = client.post(
        f"/portal/imports/{job_id}/confirm?lang=en",
        data={"csrf_token": csrf, "skip_invalid": "1"},
        follow_redirects=False,
    )
    assert confirmed.status_code == 303
    for _ in range(400):
        progress = client.get(f"/portal/imports/{job_id}?lang=en")
        if 'data-issued="18"' in progress.text and "Refresh" not in progress.headers:
            break
        assert progress.headers.get("Refresh") == "2"  # refreshes itself while issuing
        time.sleep(0.05)
    assert "18 of 20 rows done." in _text(progress) or "20 of 20 rows done." in _text(progress)
    result = client.get(f"/portal/imports/{job_id}/result.csv")
    lines = list(csv.reader(io.StringIO(result.content.decode("utf-8-sig"))))[1:]
    assert [line[3] for line in lines].count("issued") == 18
    assert [line[3] for line in lines].count("invalid") == 2
    # Print them: labels (one PDF) and the printable certificates (a ZIP), in parts.
    page = client.get(f"/portal/imports/{job_id}?lang=en")
    assert "Labels with QR codes, certificates 1–18 (PDF)" in _text(page)
    labels = client.get(f"/portal/imports/{job_id}/labels.pdf?part=1")
    assert labels.status_code == 200 and labels.content.startswith(b"%PDF-")
    archive = client.get(f"/portal/imports/{job_id}/certificates.zip?part=1")
    assert archive.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(archive.content)).namelist()
    assert len(names) == 19 and "manifest.csv" in names
    assert client.get(f"/portal/imports/{job_id}/certificates.zip?part=2").status_code == 404
    # The dashboard lists them, with their holder.
    dashboard = _text(client.get("/portal?lang=en&q=PORTAL-IMP-000"))
    assert "PORTAL-IMP-000" in dashboard
    assert body[0]["holder_name"] in dashboard
    assert stack.service.search(number="PORTAL-IMP-000")[1] == 1


def test_only_officers_import_and_only_their_own(
    client: TestClient, stack: Stack, people: People
) -> None:
    csrf = signed_in(client, people.officer)
    location = upload(client, csrf, rows_csv(rows(2), "calibration"))
    client.cookies.clear()
    csrf_other = signed_in(client, people.other_officer)
    assert client.get(location).status_code == 404
    job_id = location.split("/")[3].split("?")[0]
    answer = client.post(f"/portal/imports/{job_id}/confirm", data={"csrf_token": csrf_other})
    assert answer.status_code == 404
    client.cookies.clear()
    csrf_admin = signed_in(client, people.cb_admin)
    page = client.get("/portal/imports?lang=en")
    assert "Only a certification body's officers import certificates." in _text(page)
    refused = client.post(
        "/portal/imports?lang=en",
        data={"kind": "calibration", "csrf_token": csrf_admin},
        files={"file": ("x.csv", b"number\n1\n", "text/csv")},
    )
    assert refused.status_code == 403
    # Without the CSRF token the upload is refused before it is read.
    client.cookies.clear()
    signed_in(client, people.officer)
    no_token = client.post(
        "/portal/imports?lang=en",
        data={"kind": "calibration"},
        files={"file": ("x.csv", b"number\n1\n", "text/csv")},
    )
    assert no_token.status_code == 403
