"""Reading certificates from spreadsheets (docs/spec.md §11.13): templates, cells, mapping and
row errors in plain words."""

import datetime as dt
import io
from typing import Any

import pytest
from openpyxl import Workbook

from registry.fields import CertificateKind
from registry.samples import typed_samples
from registry.sheets import (
    MAX_ROWS,
    SheetError,
    auto_mapping,
    cells_of,
    check_mapping,
    read_table,
    rows_csv,
    submission_of,
    template_columns,
    template_csv,
    template_xlsx,
    validate_rows,
)


def sample(kind: str) -> dict[str, Any]:
    return {k: v for k, v in next(s for s in typed_samples() if s["kind"] == kind).items()
            if k != "issuer_id"}  # fmt: skip


@pytest.mark.parametrize("kind", list(CertificateKind))
def test_every_sample_goes_through_a_sheet_and_back(kind: CertificateKind) -> None:
    """A kind's samples written as a CSV of its columns read back as the same submissions."""
    bodies = [sample(kind.value)]
    table = read_table(rows_csv(bodies, kind), filename="x.csv")
    mapping = auto_mapping(table.headers, kind)
    assert check_mapping(mapping, table.headers, kind) == []
    checked = validate_rows(table, mapping, kind)
    assert checked.errors == []
    [submission] = checked.submissions
    assert submission is not None
    assert cells_of(submission.model_dump(mode="json", exclude_none=True), kind) == cells_of(
        bodies[0], kind
    )


@pytest.mark.parametrize("kind", list(CertificateKind))
def test_templates_map_to_every_column(kind: CertificateKind) -> None:
    for data, name in ((template_xlsx(kind), "t.xlsx"), (template_csv(kind), "t.csv")):
        table = read_table(data, filename=name)
        assert table.rows == []
        assert auto_mapping(table.headers, kind) == {
            c.header_vi: c.key for c in template_columns(kind)
        }


def test_cells_as_people_write_them() -> None:
    body = submission_of(
        {
            "issued_on": "5/3/2026",
            "province": "TP. Hồ Chí Minh",
            "scheme": "Phương thức 7",
            "standards": "QCVN 7:2019/BKHCN; TCVN 1651-2:2018 ;",
        },
        CertificateKind.PRODUCT_CONFORMITY,
    )
    assert body["issued_on"] == "2026-03-05"
    assert body["province"] == "79"
    assert body["scheme"] == 7
    assert body["standards"] == ["QCVN 7:2019/BKHCN", "TCVN 1651-2:2018"]
    assert submission_of({"province": "hà nội"}, CertificateKind.INSPECTION)["province"] == "01"
    assert submission_of({"province": "7"}, CertificateKind.INSPECTION)["province"] == "7"
    results = {"result": "Không đạt"}
    assert submission_of(results, CertificateKind.INSTRUMENT_VERIFICATION)["result"] == "fail"
    assert submission_of({"result": "phù hợp"}, CertificateKind.INSPECTION)["result"] == (
        "conforming"
    )
    points = submission_of(
        {"result_2_value": "2", "result_1_value": "1", "result_1_unit": "mm"},
        CertificateKind.CALIBRATION,
    )
    assert points["results"] == [{"value": "1", "unit": "mm"}, {"value": "2"}]


def test_errors_name_the_row_and_the_column() -> None:
    body = sample("calibration") | {"province": "Hà Giang", "calibration_date": "31/02/2026"}
    body["results"] = [body["results"][0] | {"unit": "bogons"}]
    good = sample("calibration") | {"number": "OTHER"}
    data = rows_csv([body, good, good], "calibration")
    table = read_table(data, filename="x.csv")
    checked = validate_rows(table, auto_mapping(table.headers, "calibration"), "calibration")
    assert checked.valid == 1
    where = {(e.row, e.column) for e in checked.errors}
    assert (2, "province") in where
    assert (2, "calibration_date") in where
    assert (2, "result_1_unit") in where
    assert (4, "number") in where  # the same number as row 3
    assert all(e.message_vi and e.message_en for e in checked.errors)
    missing = [e for e in checked.errors if e.row == 2 and e.column == "province"]
    assert "34 provincial-level units" in missing[0].message_en


def test_a_model_check_names_its_column() -> None:
    body = sample("product-conformity") | {"scheme": 7}
    body.pop("lot", None)
    data = rows_csv([body], "product-conformity")
    table = read_table(data, filename="x.csv")
    checked = validate_rows(
        table, auto_mapping(table.headers, "product-conformity"), "product-conformity"
    )
    [error] = checked.errors
    assert "scheme 7" in error.message_en


def test_csv_with_semicolons_and_a_bom() -> None:
    data = "\ufeffSố chứng nhận;Ngày cấp\nA-1;01/02/2026\n\n;\n".encode()
    table = read_table(data, filename="x.csv")
    assert table.headers == ["Số chứng nhận", "Ngày cấp"]
    assert table.rows == [["A-1", "01/02/2026"]]
    assert table.first_row == 2


def test_xlsx_cells_become_text() -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["number", "issued_on", "quantity"])
    sheet.append([12345, dt.datetime(2026, 3, 15), 2.5])
    out = io.BytesIO()
    book.save(out)
    table = read_table(out.getvalue(), filename="x.xlsx")
    assert table.rows == [["12345", "2026-03-15", "2.5"]]


def test_what_is_not_a_table() -> None:
    with pytest.raises(SheetError, match="UTF-8"):
        read_table("Sô\nĐ".encode("cp1258"), filename="x.csv")
    with pytest.raises(SheetError, match="XLSX"):
        read_table(b"PK\x03\x04garbage", filename="x.xlsx")
    with pytest.raises(SheetError, match="header"):
        read_table(b"\n\n", filename="x.csv")
    with pytest.raises(SheetError, match=str(MAX_ROWS)):
        read_table(b"number\n" + b"1\n" * (MAX_ROWS + 1), filename="x.csv")


def test_a_mapping_that_cannot_be_used() -> None:
    problems = check_mapping(
        {"x": "serial", "y": "nonsense", "z": "serial"}, ["x", "z"], "calibration"
    )
    text = " | ".join(problems)
    assert "“y”: không có trong tệp" in text
    assert "not a field of this kind" in text
    assert "two columns" in text
    assert "required column missing: Certificate number" in text
