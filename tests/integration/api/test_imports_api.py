"""Spreadsheet imports over the API (docs/spec.md §11.13), both databases: a template per
kind, an upload with deliberate errors previewed row by row and nothing issued, the fixed file
confirmed and issued in the background, its result file, the same file again issuing nothing
new, and who may."""

import csv
import io
import time
from typing import Any

from fastapi.testclient import TestClient
from openpyxl import Workbook, load_workbook

from api.stack import Stack
from registry.samples import typed_samples
from registry.sheets import template_columns
from tests.integration.api.conftest import admit

CB = "vn-lab-songhong"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _cells(body: dict[str, Any], key: str) -> str:
    """A submission's value as a person types it in the template's column `key`."""
    if "_" in key and key.split("_", 1)[0] == "result" and key.split("_")[1].isdigit():
        _, n, item = key.split("_", 2)
        results = body.get("results", [])
        point = results[int(n) - 1] if int(n) <= len(results) else {}
        return str(point.get(item, ""))
    value = body.get(key)
    if value is None:
        return ""
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    return str(value)


def workbook(rows: list[dict[str, Any]], kind: str = "calibration") -> bytes:
    columns = template_columns(kind)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append([c.header_vi for c in columns])
    for body in rows:
        sheet.append([_cells(body, c.key) for c in columns])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def calibration_rows(n: int, prefix: str = "IMP") -> list[dict[str, Any]]:
    base = next(s for s in typed_samples() if s["kind"] == "calibration")
    rows = []
    for i in range(n):
        row = {**base, "number": f"{prefix}-{i:05d}", "valid_until": None}
        row["issued_on"] = "15/03/2026"  # the Vietnamese way: read as 2026-03-15
        rows.append(row)
    return rows


def wait_done(client: TestClient, auth: dict[str, str], job_id: str) -> dict[str, Any]:
    for _ in range(600):
        job: dict[str, Any] = client.get(f"/v1/imports/{job_id}", headers=auth).json()
        if job["state"] in ("done", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"import {job_id} still {job['state']}")


def test_template_of_each_kind(client: TestClient) -> None:
    response = client.get("/v1/imports/templates/calibration")
    assert response.status_code == 200
    assert response.headers["content-type"] == XLSX
    book = load_workbook(io.BytesIO(response.content))
    headers = [c.value for c in book.worksheets[0][1]]
    assert headers[:3] == ["Số chứng nhận", "Ngày cấp", "Hiệu lực từ"]
    assert "Kết quả 1 – giá trị" in headers
    assert book.worksheets[1].title == "Hướng dẫn"
    text = client.get("/v1/imports/templates/inspection?format=csv").content.decode("utf-8-sig")
    assert next(csv.reader(io.StringIO(text)))[0] == "Số chứng nhận"
    columns = client.get("/v1/imports/templates/management-system?format=json").json()["columns"]
    assert any(c["key"] == "site_1_address" and c["required"] for c in columns)


def test_upload_preview_fix_confirm(client: TestClient, stack: Stack) -> None:
    auth = admit(stack, CB)
    rows = calibration_rows(200)
    broken = [dict(r) for r in rows]
    broken[3]["province"] = "Hà Giang"  # not a unit since 1 July 2025
    broken[10]["results"] = [{**rows[10]["results"][0], "unit": "furlong per bogon"}]
    broken[20]["number"] = broken[19]["number"]  # the same number twice
    broken[30]["calibration_date"] = "31/02/2026"
    first = client.post(
        "/v1/imports",
        headers=auth,
        data={"kind": "calibration"},
        files={"file": ("thang-3.xlsx", workbook(broken), XLSX)},
    )
    assert first.status_code == 201, first.text
    job = first.json()
    assert (job["state"], job["rows"], job["valid"]) == ("uploaded", 200, 196)
    assert job["mapping_problems"] == []
    by_row = {(e["row"], e["column"]) for e in job["errors"]}
    assert (5, "Tỉnh/thành phố") in by_row  # data starts on row 2: row index 3 is row 5
    assert (12, "Kết quả 1 – đơn vị") in by_row
    assert (22, "Số chứng nhận") in by_row
    assert (32, "Ngày hiệu chuẩn") in by_row
    assert all(e["message_vi"] and e["message_en"] for e in job["errors"])
    # Nothing was issued, and it cannot be confirmed with errors unless the officer says so.
    assert client.get("/v1/certificates", params={"issuer_id": CB}).json()["total"] == 0
    refused = client.post(f"/v1/imports/{job['id']}/confirm", json={}, headers=auth)
    assert refused.status_code == 409
    preview = client.get(f"/v1/imports/{job['id']}/result.csv", headers=auth)
    lines = list(csv.reader(io.StringIO(preview.content.decode("utf-8-sig"))))
    assert lines[0][0] == "dòng/row" and len(lines) == 201
    assert [line[3] for line in lines[1:]].count("invalid") == 4

    # The fixed file: every row valid, confirmed, issued in the background.
    fixed_file = workbook(rows)
    fixed = client.post(
        "/v1/imports",
        headers=auth,
        data={"kind": "calibration"},
        files={"file": ("thang-3-sua.xlsx", fixed_file, XLSX)},
    ).json()
    assert (fixed["valid"], fixed["error_count"]) == (200, 0)
    confirmed = client.post(f"/v1/imports/{fixed['id']}/confirm", json={}, headers=auth)
    assert confirmed.status_code == 202
    done = wait_done(client, auth, fixed["id"])
    assert (done["state"], done["done"], done["issued"], done["refused"]) == ("done", 200, 200, 0)
    result = client.get(f"/v1/imports/{fixed['id']}/result.csv", headers=auth).content
    outcome = list(csv.reader(io.StringIO(result.decode("utf-8-sig"))))[1:]
    assert {line[3] for line in outcome} == {"issued"}
    issued = client.get(f"/v1/certificates/{outcome[0][2]}").json()
    assert issued["number"] == "IMP-00000"
    assert issued["record"]["format"] == 2

    # The same file again: its earlier job, and nothing new to issue.
    again = client.post(
        "/v1/imports",
        headers=auth,
        data={"kind": "calibration"},
        files={"file": ("copy.xlsx", fixed_file, XLSX)},
    )
    assert again.status_code == 200 and again.json()["id"] == fixed["id"]
    assert again.json()["repeated"] is True
    # The first (broken) upload, its valid rows confirmed: all issued before, none again.
    partial = client.post(
        f"/v1/imports/{job['id']}/confirm", json={"skip_invalid": True}, headers=auth
    )
    assert partial.status_code == 202
    done = wait_done(client, auth, job["id"])
    assert (done["issued"], done["existing"], done["refused"]) == (0, 196, 0)
    assert client.get("/v1/certificates", params={"issuer_id": CB}).json()["total"] == 200

    stack.worker.run_until_idle()
    bundle = client.get(f"/v1/certificates/{outcome[-1][2]}/proof").json()
    assert client.post("/v1/verify", json={"bundle": bundle}).json()["status"] == "VALID"


def test_csv_with_its_own_headers_and_a_mapping(client: TestClient, stack: Stack) -> None:
    auth = admit(stack, "vn-insp-mekong")
    body = next(s for s in typed_samples() if s["kind"] == "inspection")
    lines = [
        "so;ngay cap;hieu luc tu;khach hang;TINH/THANH PHO;doi tuong giam dinh;ket luan;"
        "so luong, khoi luong;don vi",
        *(
            f"GD-{i};21/08/2024;2024-08-21;{body['holder_name']};Hải Phòng;"
            f"{body['object']};phù hợp;808;t"
            for i in range(3)
        ),
    ]
    data = ("\ufeff" + "\n".join(lines) + "\n").encode()
    job = client.post(
        "/v1/imports",
        headers=auth,
        data={"kind": "inspection"},
        files={"file": ("giam-dinh.csv", data, "text/csv")},
    ).json()
    # Headers without diacritics still map where they name a column; two do not.
    assert job["mapping"]["so luong, khoi luong"] == "quantity"
    assert any("Số chứng nhận" in p for p in job["mapping_problems"])
    mapping = {**job["mapping"], "so": "number", "khach hang": "holder_name"}
    remapped = client.put(
        f"/v1/imports/{job['id']}/mapping", json={"mapping": mapping}, headers=auth
    )
    assert remapped.status_code == 200, remapped.text
    assert (remapped.json()["valid"], remapped.json()["mapping_problems"]) == (3, [])
    client.post(f"/v1/imports/{job['id']}/confirm", json={}, headers=auth)
    assert wait_done(client, auth, job["id"])["issued"] == 3
    found = client.get("/v1/certificates", params={"issuer_id": "vn-insp-mekong"}).json()
    record = next(c for c in found["certificates"] if c["number"] == "GD-0")["record"]
    fields = {d[1]: d[2] for d in record["disclosures"]}
    assert (fields["province"], fields["result"], fields["quantity"]) == ("31", "conforming", "808")


def test_who_may(client: TestClient, stack: Stack) -> None:
    auth = admit(stack, CB)
    other = admit(stack, "vn-cb-quatest3")
    job = client.post(
        "/v1/imports",
        headers=auth,
        data={"kind": "calibration"},
        files={"file": ("a.xlsx", workbook(calibration_rows(2, "W")), XLSX)},
    ).json()
    assert client.get(f"/v1/imports/{job['id']}", headers=other).status_code == 404
    assert (
        client.post(f"/v1/imports/{job['id']}/confirm", json={}, headers=other).status_code == 404
    )
    assert client.get(f"/v1/imports/{job['id']}").status_code == 401
    # A kind the CB is not admitted for is refused when issuing, row by row.
    denied = client.post(
        "/v1/imports",
        headers=other,
        data={"kind": "calibration"},
        files={"file": ("b.xlsx", workbook(calibration_rows(2, "X")), XLSX)},
    ).json()
    client.post(f"/v1/imports/{denied['id']}/confirm", json={}, headers=other)
    done = wait_done(client, other, denied["id"])
    if "calibration" in next(
        i["kinds"]
        for i in client.get("/v1/issuers").json()["issuers"]
        if i["issuer_id"] == "vn-cb-quatest3"
    ):
        assert done["issued"] == 2
    else:
        assert done["refused"] == 2
    assert client.get("/v1/imports", headers=auth).json()["total"] == 1
    garbage = client.post(
        "/v1/imports",
        headers=auth,
        data={"kind": "calibration"},
        files={"file": ("x.xlsx", b"PK\x03\x04 not a workbook", XLSX)},
    )
    assert garbage.status_code == 400
