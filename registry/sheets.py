"""Certificates from a spreadsheet: the columns of each kind's template, reading CSV and XLSX,
matching a file's headers to fields, and turning each row into a typed submission or into
errors in plain words (docs/spec.md §11.13).

A row is one certificate of format 2 (docs/spec.md §2c). List fields are one cell, items
separated by `;`; measured points, test results and sites are numbered groups of columns
(`result_1_value`, `site_2_address`, …), as many as the file has. Cells are read as text:
dates as `YYYY-MM-DD` or `DD/MM/YYYY`, the province by its code or its name.
"""

import csv
import datetime as dt
import io
import re
import unicodedata
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException
from pydantic import BaseModel, ValidationError

from registry.fields import CertificateKind
from registry.kinds import PROVINCES, TypedModel, model_of, typed_adapter

__all__ = [
    "MAX_ROWS",
    "Column",
    "RowError",
    "SheetError",
    "Table",
    "auto_mapping",
    "cells_of",
    "read_table",
    "rows_csv",
    "template_columns",
    "template_csv",
    "template_xlsx",
    "validate_rows",
]

#: rows one file may hold: a month of a large CB's certificates, twice over
MAX_ROWS: Final = 20_000
#: numbered groups a template shows (a file may have more)
TEMPLATE_GROUPS: Final = 3
_MAX_CELL: Final = 2_000


class SheetError(ValueError):
    """A file that cannot be read as a table of certificates."""


@dataclass(frozen=True)
class Column:
    """One column of a kind's template: the field it fills (`key`), its headers, whether a row
    needs it, and how to write it."""

    key: str
    header_vi: str
    header_en: str
    required: bool
    hint: str


# Headers in Vietnamese (what the template's first row says) and English, per field.
_HEADERS: Final[dict[str, tuple[str, str, str]]] = {
    "number": ("Số chứng nhận", "Certificate number", "VICAS-2026-00001"),
    "issued_on": ("Ngày cấp", "Issued on", "2026-03-15 hoặc 15/03/2026"),
    "valid_from": ("Hiệu lực từ", "Valid from", "2026-03-15"),
    "valid_until": ("Hiệu lực đến", "Valid until", "2029-03-14 (để trống: không hết hạn)"),
    "holder_name": ("Tên tổ chức, cá nhân được cấp", "Holder", "Công ty TNHH …"),
    "holder_tax_code": ("Mã số thuế", "Tax code", "10 chữ số, hoặc 10-3"),
    "holder_id_number": ("Số CCCD", "Citizen ID number", "12 chữ số (cá nhân)"),
    "holder_address": ("Địa chỉ", "Address", "Số 1 đường Lê Lợi, …"),
    "province": ("Tỉnh/thành phố", "Province", "mã (79) hoặc tên (Thành phố Hồ Chí Minh)"),
    "standards": ("Tiêu chuẩn, quy chuẩn", "Standards", "QCVN 7:2019/BKHCN; TCVN …"),
    "product": ("Sản phẩm", "Product", ""),
    "model": ("Kiểu, loại", "Model", ""),
    "hs_code": ("Mã HS", "HS code", "4, 6, 8 hoặc 10 chữ số"),
    "manufacturer": ("Nhà sản xuất", "Manufacturer", ""),
    "scheme": ("Phương thức chứng nhận", "Certification scheme", "1 đến 8"),
    "lot": ("Lô hàng", "Lot", "bắt buộc với phương thức 7"),
    "test_reports": ("Phiếu kết quả thử nghiệm", "Test reports", "KQ-1; KQ-2"),
    "scope_vi": ("Phạm vi", "Scope (Vietnamese)", ""),
    "scope_en": ("Phạm vi (tiếng Anh)", "Scope (English)", ""),
    "iaf_sectors": ("Lĩnh vực IAF", "IAF sectors", "3; 17"),
    "instrument": ("Phương tiện đo", "Instrument", ""),
    "instrument_en": ("Phương tiện đo (tiếng Anh)", "Instrument (English)", ""),
    "serial": ("Số sản xuất", "Serial number", ""),
    "procedure": ("Quy trình", "Procedure", "ĐLVN …"),
    "calibration_date": ("Ngày hiệu chuẩn", "Calibration date", "2026-03-14"),
    "traceability": ("Liên kết chuẩn", "Traceability", ""),
    "due_date": ("Thời hạn hiệu chuẩn tiếp theo", "Recommended due date", ""),
    "lab_accreditation": ("Số hiệu VILAS", "Lab accreditation", "VILAS 903"),
    "verification_mark": ("Số tem kiểm định", "Verification mark", ""),
    "result": ("Kết luận", "Result", "đạt / không đạt; phù hợp / không phù hợp"),
    "sample": ("Mẫu thử", "Sample", ""),
    "sample_code": ("Mã mẫu", "Sample code", ""),
    "received_on": ("Ngày nhận mẫu", "Sample received on", ""),
    "methods": ("Phương pháp thử", "Test methods", "TCVN …; ISO …"),
    "results_sha256": ("SHA-256 của phiếu kết quả", "Report SHA-256", "0x + 64 chữ số hex"),
    "object": ("Đối tượng giám định", "Object inspected", ""),
    "quantity": ("Số lượng, khối lượng", "Quantity", "808 (ghi dạng chữ)"),
    "quantity_unit": ("Đơn vị", "Unit", "t, kg, chiếc"),
    "findings": ("Nhận xét", "Findings", ""),
}
# Numbered groups: the list field, its item's fields with their headers.
_GROUPS: Final[dict[str, tuple[str, str, dict[str, tuple[str, str, str]]]]] = {
    "results@calibration": (
        "result",
        "Kết quả",
        {
            "quantity": ("đại lượng", "quantity", "Khối lượng"),
            "value": ("giá trị", "value", "200.000 (ghi dạng chữ)"),
            "unit": ("đơn vị", "unit", "g, mm, °C, %"),
            "expanded_uncertainty": ("độ không đảm bảo mở rộng", "expanded uncertainty", "0.002"),
            "uncertainty_unit": ("đơn vị độ không đảm bảo", "uncertainty unit", "mg"),
            "coverage_factor": ("hệ số phủ k", "coverage factor k", "2"),
        },
    ),
    "results@test-report": (
        "result",
        "Kết quả",
        {
            "parameter": ("chỉ tiêu", "parameter", "Hàm lượng chì (Pb)"),
            "value": ("giá trị", "value", "0.05"),
            "unit": ("đơn vị", "unit", "mg/kg"),
            "limit": ("mức giới hạn", "limit", "≤ 90"),
            "method": ("phương pháp", "method", ""),
        },
    ),
    "sites@management-system": (
        "site",
        "Địa điểm",
        {
            "name": ("tên", "name", "Nhà máy số 1"),
            "address": ("địa chỉ", "address", ""),
        },
    ),
}
#: fields a template leaves out: attachments are documents, not cells
_NOT_IN_SHEETS: Final = frozenset({"format", "kind", "issuer_id", "attachments"})
#: fields written as one cell of `;`-separated items
_LISTS: Final = frozenset({"standards", "test_reports", "methods", "iaf_sectors"})
_GROUP_KEY: Final = re.compile(r"([a-z]+)_([0-9]{1,3})_([a-z_]+)")


def _group_of(kind: str, field: str) -> tuple[str, str, dict[str, tuple[str, str, str]]] | None:
    return _GROUPS.get(f"{field}@{kind}")


def template_columns(kind: CertificateKind | str, *, groups: int = TEMPLATE_GROUPS) -> list[Column]:
    """The columns of `kind`'s template, in the model's order; `groups` numbered groups of
    each list of items."""
    kind = CertificateKind(kind)
    model = model_of(kind)
    columns: list[Column] = []
    for name, info in model.model_fields.items():
        if name in _NOT_IN_SHEETS:
            continue
        group = _group_of(kind.value, name)
        if group is not None:
            prefix, label, items = group
            item_model = _item_model(model, name)
            for n in range(1, groups + 1):
                for item, (vi, en, hint) in items.items():
                    required = n == 1 and info.is_required() and item_model[item]
                    columns.append(
                        Column(
                            f"{prefix}_{n}_{item}",
                            f"{label} {n} – {vi}",
                            f"{en} {n}",
                            required,
                            hint,
                        )
                    )
            continue
        vi, en, hint = _HEADERS[name]
        columns.append(Column(name, vi, en, info.is_required(), hint))
    return columns


def _item_model(model: type[TypedModel], field: str) -> dict[str, bool]:
    """Which fields of a list field's items are required."""
    annotation = model.model_fields[field].annotation
    item = getattr(annotation, "__args__", (None,))[0]
    assert isinstance(item, type)
    assert issubclass(item, BaseModel)
    return {name: info.is_required() for name, info in item.model_fields.items()}


# --- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    """A file's header row and data rows, every cell as text ('' for empty); `first_row` is
    the spreadsheet row number of `rows[0]`, for messages."""

    headers: list[str]
    rows: list[list[str]]
    first_row: int


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        # A spreadsheet's number: the shortest text that reads back as it (trailing zeros a
        # cell typed as a number has lost already; the template's columns are text).
        return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
    text = str(value)
    return text[:_MAX_CELL].strip()


def read_table(data: bytes, *, filename: str) -> Table:
    """The table in a CSV (UTF-8, with or without BOM; `,` or `;`) or XLSX file (its first
    sheet), up to `MAX_ROWS` data rows after the first non-empty (header) row."""
    if filename.lower().endswith(".xlsx") or data[:4] == b"PK\x03\x04":
        raw = _xlsx_rows(data)
    else:
        raw = _csv_rows(data)
    header: list[str] | None = None
    rows: list[list[str]] = []
    first_row = 0
    for number, cells in enumerate(raw, start=1):
        if header is None:
            if any(cells):
                header = cells
                first_row = number + 1
            continue
        if not any(cells):
            continue
        if len(rows) >= MAX_ROWS:
            raise SheetError(f"rows: got more than {MAX_ROWS}, want at most {MAX_ROWS} a file")
        rows.append(cells + [""] * (len(header) - len(cells)))
    if header is None:
        raise SheetError("file: got no header row, want the template's first row")
    return Table(headers=header, rows=rows, first_row=first_row)


def _csv_rows(data: bytes) -> Iterator[list[str]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SheetError(
            f"file: got bytes that are not UTF-8 (at {exc.start}), want a CSV saved as UTF-8"
        ) from None
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    try:
        for cells in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
            yield [_cell(c) for c in cells]
    except csv.Error as exc:
        raise SheetError(f"file: {exc}") from exc


def _xlsx_rows(data: bytes) -> Iterator[list[str]]:
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise SheetError(f"file: got no readable XLSX workbook ({exc}), want an .xlsx") from exc
    try:
        sheet = workbook.worksheets[0]
        for cells in sheet.iter_rows(values_only=True):
            yield [_cell(c) for c in cells]
    finally:
        workbook.close()


# --- mapping ---------------------------------------------------------------------------------


def _plain(text: str) -> str:
    """Text compared loosely: no diacritics (đ as d), lowercase, one space, no punctuation."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^0-9a-z]+", " ", stripped.lower()).split())


def auto_mapping(headers: Sequence[str], kind: CertificateKind | str) -> dict[str, str]:
    """Header → column key, for each header that names a column of `kind`'s template by its
    Vietnamese or English header or its key (any spelling of case, diacritics, punctuation);
    numbered groups beyond the template's too."""
    kind = CertificateKind(kind)
    known: dict[str, str] = {}
    for column in template_columns(kind, groups=99):
        for name in (column.key, column.header_vi, column.header_en):
            known.setdefault(_plain(name), column.key)
    mapping: dict[str, str] = {}
    for header in headers:
        key = known.get(_plain(header))
        if key is not None and key not in mapping.values():
            mapping[header] = key
    return mapping


def check_mapping(
    mapping: dict[str, str], headers: Sequence[str], kind: CertificateKind | str
) -> list[str]:
    """What is wrong with a mapping (headers the file lacks, keys the kind has not, a key
    twice, required columns unmapped), in plain words; [] when it can be used."""
    keys = {c.key: c for c in template_columns(kind, groups=99)}
    problems = []
    for header, key in mapping.items():
        if header not in headers:
            problems.append(f"cột “{header}”: không có trong tệp / not in the file")
        if key not in keys:
            problems.append(
                f"cột “{header}”: “{key}” không phải trường của loại này / not a field of this kind"
            )
    if len(set(mapping.values())) != len(mapping):
        problems.append("một trường được gán cho hai cột / a field mapped to two columns")
    for column in template_columns(kind):
        if column.required and column.key not in mapping.values():
            problems.append(
                f"thiếu cột bắt buộc “{column.header_vi}” / required column missing: "
                f"{column.header_en}"
            )
    return problems


# --- rows to submissions ---------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    """One problem of one row: the spreadsheet row, the column header (or '' for the row as a
    whole), and what is wrong in Vietnamese and English."""

    row: int
    column: str
    message_vi: str
    message_en: str


_DMY: Final = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})")
_DATES: Final = frozenset(
    {"issued_on", "valid_from", "valid_until", "calibration_date", "due_date", "received_on"}
)
_RESULTS: Final = {
    "dat": "pass", "pass": "pass", "khong dat": "fail", "fail": "fail",
    "phu hop": "conforming", "conforming": "conforming",
    "khong phu hop": "non-conforming", "non conforming": "non-conforming",
}  # fmt: skip


def _province_codes() -> dict[str, str]:
    names: dict[str, str] = {}
    for code, name in PROVINCES.items():
        plain = _plain(name)
        names[plain] = code
        names[plain.removeprefix("thanh pho ")] = code
        names[plain.removeprefix("tinh ")] = code
        names[str(int(code))] = code
        names[code] = code
    names["tp ho chi minh"] = names["tp hcm"] = names["hcm"] = "79"
    return names


_PROVINCE_CODES: Final = _province_codes()


def _date(text: str) -> str:
    match = _DMY.fullmatch(text)
    if match is None:
        return text
    day, month, year = match.groups()
    return f"{year}-{int(month):02d}-{int(day):02d}"


def _scheme(text: str) -> int | str:
    digits = re.sub(r"^phuong thuc\s*", "", _plain(text))
    return int(digits) if digits.isdigit() else text


def _list(key: str, text: str) -> list[Any]:
    items = [item.strip() for item in text.split(";") if item.strip()]
    if key == "iaf_sectors":
        return [int(i) if i.isdigit() else i for i in items]
    return items


def _value(key: str, text: str) -> Any:
    """A cell's text as the field wants it; unchanged where it cannot tell (the model then
    says what is wrong)."""
    if key in _DATES:
        return _date(text)
    if key in _LISTS:
        return _list(key, text)
    converted: dict[str, Any] = {
        "province": lambda: _PROVINCE_CODES.get(_plain(text), text),
        "scheme": lambda: _scheme(text),
        "result": lambda: _RESULTS.get(_plain(text), text),
    }
    return converted[key]() if key in converted else text


def submission_of(cells: dict[str, str], kind: CertificateKind) -> dict[str, Any]:
    """The submission a row's mapped cells (key → text, empty ones left out) make."""
    body: dict[str, Any] = {"format": 2, "kind": kind.value}
    groups: dict[str, dict[int, dict[str, str]]] = {}
    for key, text in cells.items():
        if not text:
            continue
        match = _GROUP_KEY.fullmatch(key)
        if match is not None:
            prefix, n, item = match.groups()
            groups.setdefault(prefix, {}).setdefault(int(n), {})[item] = text
            continue
        body[key] = _value(key, text)
    for field in model_of(kind).model_fields:
        group = _group_of(kind.value, field)
        if group is not None and group[0] in groups:
            numbered = groups[group[0]]
            body[field] = [numbered[n] for n in sorted(numbered)]
    return body


def _headers_by_key(mapping: dict[str, str]) -> dict[str, str]:
    return {key: header for header, key in mapping.items()}


def _column_of(
    loc: tuple[Any, ...], kind: CertificateKind, by_key: dict[str, str], message: str
) -> str:
    """The header of the column an error is about: from its location (the kind's tag first),
    or a model check's message, which starts with the field's name."""
    path = [str(p) for p in loc if str(p) != kind.value]
    if path and path[0] in by_key:
        return by_key[path[0]]
    group = _group_of(kind.value, path[0]) if path else None
    if group is not None and len(path) >= 3:
        key = f"{group[0]}_{int(path[1]) + 1}_{path[2]}"
        return by_key.get(key, key)
    if path:
        return by_key.get(path[0], path[0])
    named = message.split(":", 1)[0].removeprefix("Value error, ")
    return by_key.get(named, "")


_PLAIN_VI: Final = {
    "missing": "thiếu giá trị bắt buộc",
    "string_pattern_mismatch": "sai định dạng",
    "date_from_datetime_parsing": "không phải ngày (YYYY-MM-DD hoặc DD/MM/YYYY)",
    "date_parsing": "không phải ngày (YYYY-MM-DD hoặc DD/MM/YYYY)",
    "int_parsing": "không phải số nguyên",
    "literal_error": "không phải một giá trị được phép",
    "greater_than_equal": "nhỏ hơn mức cho phép",
    "less_than_equal": "lớn hơn mức cho phép",
    "too_short": "thiếu mục",
    "too_long": "quá dài hoặc quá nhiều mục",
    "string_too_short": "để trống",
    "string_too_long": "quá dài",
    "value_error": "giá trị không hợp lệ",
}


def _row_errors(
    error: ValidationError, *, row: int, kind: CertificateKind, by_key: dict[str, str]
) -> list[RowError]:
    out = []
    for item in error.errors(include_url=False):
        message = str(item["msg"]).removeprefix("Value error, ")
        column = _column_of(tuple(item["loc"]), kind, by_key, message)
        vi = _PLAIN_VI.get(str(item["type"]), "giá trị không hợp lệ")
        out.append(RowError(row, column, f"{vi} ({message})", message))
    return out


@dataclass(frozen=True)
class Checked:
    """Each row's submission (None for a row with errors) and every error."""

    submissions: list[TypedModel | None]
    errors: list[RowError]

    @property
    def valid(self) -> int:
        return sum(s is not None for s in self.submissions)


def validate_rows(table: Table, mapping: dict[str, str], kind: CertificateKind | str) -> Checked:
    """Every row of `table` through `kind`'s model, with `mapping` (header → key); a number
    twice in the file is an error of its second row."""
    kind = CertificateKind(kind)
    adapter = typed_adapter()
    by_key = _headers_by_key(mapping)
    index = [
        (table.headers.index(header), key)
        for header, key in mapping.items()
        if header in table.headers
    ]
    submissions: list[TypedModel | None] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for offset, cells in enumerate(table.rows):
        row = table.first_row + offset
        body = submission_of({key: cells[i] for i, key in index if i < len(cells)}, kind)
        try:
            submission = adapter.validate_python(body)
        except ValidationError as exc:
            errors.extend(_row_errors(exc, row=row, kind=kind, by_key=by_key))
            submissions.append(None)
            continue
        first = seen.setdefault(submission.number, row)
        if first != row:
            errors.append(
                RowError(
                    row,
                    by_key.get("number", "number"),
                    f"số chứng nhận đã có ở dòng {first}",
                    f"number: got {submission.number!r} again, want each once (row {first})",
                )
            )
            submissions.append(None)
            continue
        submissions.append(submission)
    return Checked(submissions, errors)


# --- templates -------------------------------------------------------------------------------


def template_csv(kind: CertificateKind | str) -> bytes:
    """The kind's template as CSV: the header row in Vietnamese, UTF-8 with a BOM (so that a
    spreadsheet opens the Vietnamese right)."""
    out = io.StringIO()
    csv.writer(out).writerow([c.header_vi for c in template_columns(kind)])
    return "\ufeff".encode() + out.getvalue().encode("utf-8")


def template_xlsx(kind: CertificateKind | str) -> bytes:
    """The kind's template as XLSX: a sheet with the header row in Vietnamese, every column
    formatted as text (a tax code's leading zero, a value's trailing zeros survive), and a
    sheet of instructions: each column's key, English header, whether it is required, how to
    write it."""
    columns = template_columns(kind)
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Chứng nhận"
    sheet.append([c.header_vi for c in columns])
    for index, column in enumerate(columns, start=1):
        cell = sheet.cell(row=1, column=index)
        cell.font = Font(bold=True)
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = max(14, min(40, len(column.header_vi) + 2))
        sheet.column_dimensions[letter].number_format = "@"
        for row in range(2, 202):  # text format on the rows people fill in first
            sheet.cell(row=row, column=index).number_format = "@"
    sheet.freeze_panes = "A2"
    guide = workbook.create_sheet("Hướng dẫn")
    guide.append(["Cột", "Trường", "Column", "Bắt buộc / Required", "Cách ghi / How to write"])
    for column in columns:
        guide.append(
            [
                column.header_vi,
                column.key,
                column.header_en,
                "x" if column.required else "",
                column.hint,
            ]
        )
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def cells_of(body: dict[str, Any], kind: CertificateKind | str) -> dict[str, str]:
    """A submission's values as a person types them in `kind`'s columns (key → text): the
    inverse of reading a row, for exports, tests and benchmarks."""
    kind = CertificateKind(kind)
    cells: dict[str, str] = {}
    for field, value in body.items():
        if field in _NOT_IN_SHEETS or value is None:
            continue
        group = _group_of(kind.value, field)
        if group is not None:
            for n, item in enumerate(value, start=1):
                for key, text in item.items():
                    if text is not None:
                        cells[f"{group[0]}_{n}_{key}"] = str(text)
        elif isinstance(value, list):
            cells[field] = "; ".join(str(v) for v in value)
        else:
            cells[field] = str(value)
    return cells


def rows_csv(bodies: Sequence[dict[str, Any]], kind: CertificateKind | str) -> bytes:
    """A CSV of submissions of one kind, headed by the column keys (which map by themselves)."""
    rows = [cells_of(b, kind) for b in bodies]
    keys = [c.key for c in template_columns(kind, groups=99) if any(c.key in r for r in rows)]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(keys)
    for row in rows:
        writer.writerow([row.get(k, "") for k in keys])
    return out.getvalue().encode("utf-8")
