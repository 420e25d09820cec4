"""A batch's ZIP of PDFs, without the PDFs: file names made of certificate numbers (portable,
distinct), the manifest, and the archive itself."""

import csv
import datetime as dt
import hashlib
import io
import zipfile

import pytest

from api.web.archive import MANIFEST, MANIFEST_COLUMNS, Printed, file_names, file_stem, pdfs_zip


def _id(digit: str) -> str:
    return "0x" + digit * 64


@pytest.mark.parametrize(
    ("number", "stem"),
    [
        ("VICAS-2026-00001", "VICAS-2026-00001"),
        ("QT3.2026.15", "QT3.2026.15"),
        ("Số 12-ĐK/Hà Nội", "So_12-DK_Ha_Noi"),
        ("SỐ 12-đk", "SO_12-dk"),
        ("Hồ sơ \u01a0\u0323 ư", "Ho_so_O_u"),  # Ợ decomposed prints the same as composed
        ("№ 5", "No_5"),
        ("..\\..\\Windows\\win.ini", "Windows_win.ini"),
        (".hidden", "hidden"),
        ("-rf *", "rf"),
        ("trailing. ", "trailing"),
        ("x\u202e1", "x_1"),
        ("=1+2", "1_2"),
        ("CON", "_CON"),
        ("com1.2026", "_com1.2026"),
        ("CONSOLE", "CONSOLE"),
        ("漢字", "certificate"),
        ("...", "certificate"),
        ("A" * 120, "A" * 80),
        ("A" * 79 + ".B", "A" * 79),
    ],
)
def test_file_stem(number: str, stem: str) -> None:
    assert file_stem(number) == stem


def test_distinct_numbers_keep_their_names() -> None:
    assert file_names([(_id("a"), "QT3-1"), (_id("b"), "QT3-2")]) == ["QT3-1.pdf", "QT3-2.pdf"]


def test_names_that_would_collide_all_take_their_ids() -> None:
    # Đ folds to D, and a case-insensitive disk (Windows, macOS) takes d1 for D1.
    certificates = [(_id("a"), "QT-Đ1"), (_id("b"), "QT-D1"), (_id("c"), "qt-d1"), (_id("d"), "X")]
    assert file_names(certificates) == [
        "QT-D1-aaaaaaaa.pdf",
        "QT-D1-bbbbbbbb.pdf",
        "qt-d1-cccccccc.pdf",
        "X.pdf",
    ]


def test_a_number_spelling_another_name_gets_a_counter() -> None:
    # Two "A" take their ids; a third certificate's number is the first one's name already.
    certificates = [(_id("a"), "A"), (_id("b"), "A"), (_id("c"), "a-AAAAAAAA")]
    assert file_names(certificates) == ["A-aaaaaaaa.pdf", "A-bbbbbbbb.pdf", "a-AAAAAAAA-2.pdf"]


def _printed(digit: str, number: str, status: str = "valid") -> Printed:
    pdf = f"%PDF-1.4 {number}".encode()
    return Printed(_id(digit), "vn-cb-quatest3", number, status, pdf)


def test_the_zip_and_its_manifest() -> None:
    printed = [_printed("a", "Số 1"), _printed("b", "=HYPERLINK(1)", "withdrawn")]
    at = dt.datetime(2026, 3, 1, 17, 30, 5, tzinfo=dt.timezone(dt.timedelta(hours=7)))
    with zipfile.ZipFile(io.BytesIO(pdfs_zip(printed, at=at))) as archive:
        assert archive.testzip() is None
        assert archive.namelist() == [MANIFEST, "So_1.pdf", "HYPERLINK_1.pdf"]
        for info in archive.infolist():
            assert info.date_time == (2026, 3, 1, 10, 30, 4)  # UTC, in ZIP's 2-second steps
            assert info.compress_type == zipfile.ZIP_DEFLATED
            assert info.external_attr >> 16 == 0o644
        raw = archive.read(MANIFEST)
        assert raw.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
        rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
        assert raw.count(b"\r\n") == 3  # RFC 4180 line ends
        assert rows[0] == list(MANIFEST_COLUMNS)
        for row, p in zip(rows[1:], printed, strict=True):
            assert archive.read(row[0]) == p.pdf
            assert row[1:3] == [p.certificate_id, p.issuer_id]
            assert row[4:] == [p.status, hashlib.sha256(p.pdf).hexdigest()]
        # a spreadsheet shows the number as text instead of running it
        assert [row[3] for row in rows[1:]] == ["Số 1", "'=HYPERLINK(1)"]
