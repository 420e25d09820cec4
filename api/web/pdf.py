"""The printable certificate: one A4 document in Vietnamese and English (ReportLab).

It shows the record as registered — issuer with both names and its accreditation number,
holder, subject, standards, dates, certificate number — with the QR code of the verification
page and the record digest that page shows, so that a reader can compare the two. The status on
the day it was printed is printed too, in large type when the certificate is not valid: a fresh
printout of a withdrawn certificate must not look like a valid one.

Text is set in DejaVu Sans (Debian's fonts-dejavu-core), embedded as TrueType: it has every
precomposed Vietnamese letter, and all text is NFC-normalised first, so decomposed input prints
and extracts (pdftotext) as the same letters.
"""

import datetime as dt
import io
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Final
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from api.web.i18n import translator
from api.web.present import IssuerInfo, details, nfc, shown_fields
from api.web.qr import digest, group_digest, qr_code

__all__ = ["FONT_DIR", "FontMissingError", "Label", "certificate_pdf", "labels_pdf"]

FONT_DIR: Final = Path("/usr/share/fonts/truetype/dejavu")
_FONTS: Final = {"CertSans": "DejaVuSans.ttf", "CertSans-Bold": "DejaVuSans-Bold.ttf"}

INK: Final = colors.HexColor("#1b1b1b")
MUTED: Final = colors.HexColor("#4d4d4d")
RULE: Final = colors.HexColor("#b5b5b5")
ALERT: Final = colors.HexColor("#a4161a")


class FontMissingError(RuntimeError):
    """The TrueType fonts the certificate is set in are not installed."""


@cache
def register_fonts(font_dir: Path = FONT_DIR) -> tuple[str, str]:
    """Register DejaVu Sans and DejaVu Sans Bold once; their names in ReportLab."""
    for name, filename in _FONTS.items():
        path = font_dir / filename
        if not path.is_file():
            raise FontMissingError(
                f"PDF font: got no {path}, want DejaVu Sans installed "
                "(Debian: apt-get install fonts-dejavu-core; `make install` does it)"
            )
        pdfmetrics.registerFont(TTFont(name, str(path)))
    return "CertSans", "CertSans-Bold"


class QrFlowable(Flowable):
    """A QR code drawn as vector squares, with its four-module quiet zone."""

    def __init__(self, url: str, size: float) -> None:
        super().__init__()
        self.matrix = [bytes(row) for row in qr_code(url).matrix]
        self.size = size

    def wrap(self, aW: float, aH: float) -> tuple[float, float]:  # noqa: ARG002, N803 (ReportLab's)
        return self.size, self.size

    def draw(self) -> None:
        canvas = self.canv
        count = len(self.matrix)
        module = self.size / (count + 8)
        canvas.setFillColor(colors.white)
        canvas.rect(0, 0, self.size, self.size, stroke=0, fill=1)
        canvas.setFillColor(colors.black)
        for y, row in enumerate(self.matrix):
            top = self.size - (y + 4 + 1) * module
            x = 0
            while x < count:
                if row[x]:
                    start = x
                    while x < count and row[x]:
                        x += 1
                    canvas.rect(
                        (start + 4) * module, top, (x - start) * module, module, stroke=0, fill=1
                    )
                else:
                    x += 1


def _styles(regular: str, bold: str) -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=regular, fontSize=9.5, leading=12.5, textColor=INK)
    return {
        "base": base,
        "issuer": ParagraphStyle(
            "issuer", parent=base, fontName=bold, fontSize=12, leading=15, alignment=TA_CENTER
        ),
        "issuer_en": ParagraphStyle("issuer_en", parent=base, textColor=MUTED, alignment=TA_CENTER),
        "title": ParagraphStyle(
            "title", parent=base, fontName=bold, fontSize=22, leading=27, alignment=TA_CENTER
        ),
        "subtitle": ParagraphStyle(
            "subtitle", parent=base, fontSize=11, leading=14, alignment=TA_CENTER
        ),
        "number": ParagraphStyle(
            "number", parent=base, fontName=bold, fontSize=13, leading=17, alignment=TA_CENTER
        ),
        "alert": ParagraphStyle(
            "alert",
            parent=base,
            fontName=bold,
            fontSize=13,
            leading=17,
            alignment=TA_CENTER,
            textColor=colors.white,
        ),
        "label": ParagraphStyle("label", parent=base, fontName=bold, fontSize=8.5, leading=11),
        "label_en": ParagraphStyle(
            "label_en", parent=base, fontSize=8, leading=10.5, textColor=MUTED
        ),
        "value": ParagraphStyle("value", parent=base, fontSize=10, leading=13),
        "small": ParagraphStyle("small", parent=base, fontSize=8, leading=10.5, textColor=MUTED),
        "mono": ParagraphStyle("mono", parent=base, fontName=bold, fontSize=11, leading=14),
    }


# Bidi controls (embeddings, overrides, isolates, marks): ReportLab lays text out in logical
# order without the bidi algorithm, so they would only show as missing glyphs, and text
# extracted from the PDF would be reordered by them. Data with them prints without them.
_BIDI_CONTROLS = dict.fromkeys(
    [0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
)


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(nfc(text).translate(_BIDI_CONTROLS)), style)


def _both(vi: str, en: str, style_vi: ParagraphStyle, style_en: ParagraphStyle) -> list[Any]:
    return [_p(vi, style_vi), _p(en, style_en)] if vi != en else [_p(vi, style_vi)]


def certificate_pdf(
    *,
    record: Mapping[str, Any],
    status: str,
    issuer: IssuerInfo | None,
    url: str,
    record_hash: bytes,
    today: dt.date,
) -> bytes:
    """The certificate as a PDF (bytes)."""
    regular, bold = register_fonts()
    s = _styles(regular, bold)
    vi, en = translator("vi"), translator("en")
    dvi = details(record, issuer=issuer, t=vi, record_hash=record_hash)
    den = details(record, issuer=issuer, t=en, record_hash=record_hash)
    short = group_digest(digest(record_hash))

    story: list[Any] = []
    if issuer is not None:
        story += [_p(issuer.name_vi, s["issuer"]), _p(issuer.name_en, s["issuer_en"])]
        story.append(
            _p(
                f"{vi('issuer.accreditation')} / {en('issuer.accreditation')}: "
                f"{issuer.accreditation}",
                s["issuer_en"],
            )
        )
    else:
        story.append(_p(dvi.issuer_id, s["issuer"]))
    story += [
        Spacer(1, 9 * mm),
        _p(vi("pdf.title"), s["title"]),
        _p(en("pdf.title"), s["subtitle"]),
        Spacer(1, 2 * mm),
        *_both(dvi.kind, den.kind, s["subtitle"], s["issuer_en"]),
        Spacer(1, 4 * mm),
        _p(f"{vi('pdf.number')} / {en('pdf.number')}: {dvi.number}", s["number"]),
        Spacer(1, 5 * mm),
    ]
    if status != "valid":
        banner = Table(
            [
                [
                    _p(
                        vi("pdf.status_alert", date=vi.date(today), status=vi(f"status.{status}")),
                        s["alert"],
                    )
                ],
                [
                    _p(
                        en("pdf.status_alert", date=en.date(today), status=en(f"status.{status}")),
                        s["alert"],
                    )
                ],
            ],
            colWidths=[170 * mm],
        )
        banner.setStyle(
            TableStyle(
                [
                    ("BACKGROUND", (0, 0), (-1, -1), ALERT),
                    ("TOPPADDING", (0, 0), (-1, -1), 4),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
                ]
            )
        )
        story += [banner, Spacer(1, 5 * mm)]

    def label(key: str) -> list[Any]:
        return _both(vi(key), en(key), s["label"], s["label_en"])

    rows: list[list[Any]] = []
    holder_vi = {r.key: r for r in dvi.holder}
    for key in ("name", "tax_code", "address"):
        if key in holder_vi:
            rows.append(
                [
                    label("field.holder" if key == "name" else f"field.{key}"),
                    _p(holder_vi[key].value, s["value"]),
                ]
            )
    for row_vi, row_en in zip(dvi.subject, den.subject, strict=True):
        value = row_vi.value if row_vi.value == row_en.value else f"{row_vi.value} / {row_en.value}"
        rows.append(
            [_both(row_vi.label, row_en.label, s["label"], s["label_en"]), _p(value, s["value"])]
        )
    if dvi.standards:
        rows.append([label("field.standards"), _p("; ".join(dvi.standards), s["value"])])
    for row_vi in dvi.other:
        rows.append([label(f"field.{row_vi.key}"), _p(row_vi.value, s["value"])])
    if dvi.withheld:
        rows.append([label("record.withheld_label"), _p(f"{dvi.withheld}", s["value"])])
    record_view = shown_fields(record)
    for key in ("issued_on", "valid_from", "valid_until"):
        day = record_view.get(key)
        shown = (
            day
            if isinstance(day, str) and day
            else f"{vi('field.valid_until_none')} / {en('field.valid_until_none')}"
        )
        rows.append([label(f"field.{key}"), _p(shown, s["value"])])
    fields = Table(rows, colWidths=[55 * mm, 115 * mm])
    fields.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, -1), 0.4, RULE),
                ("TOPPADDING", (0, 0), (-1, -1), 4),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
                ("LEFTPADDING", (0, 0), (-1, -1), 2),
            ]
        )
    )
    story += [fields, Spacer(1, 8 * mm)]

    verify_text = [
        *_both(vi("pdf.verify"), en("pdf.verify"), s["label"], s["label_en"]),
        Spacer(1, 2 * mm),
        _p(url, s["small"]),
        Spacer(1, 3 * mm),
        *_both(vi("field.digest"), en("field.digest"), s["label"], s["label_en"]),
        _p(short, s["mono"]),
        Spacer(1, 2 * mm),
        _p(f"{vi('field.id')} / {en('field.id')}: {dvi.certificate_id}", s["small"]),
    ]
    footer = Table([[QrFlowable(url, 38 * mm), verify_text]], colWidths=[44 * mm, 126 * mm])
    footer.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story += [footer, Spacer(1, 6 * mm)]
    story += _both(
        vi("pdf.printed", date=vi.date(today), status=vi(f"status.{status}")),
        en("pdf.printed", date=en.date(today), status=en(f"status.{status}")),
        s["small"],
        s["small"],
    )

    out = io.BytesIO()
    document = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=18 * mm,
        bottomMargin=16 * mm,
        title=nfc(f"{vi('pdf.title')} {dvi.number}"),
        author=nfc(issuer.name_vi if issuer else dvi.issuer_id),
        subject=nfc(dvi.kind),
        creator="certreg",
    )
    document.build(story)
    return out.getvalue()


# -- labels: a batch's QR codes on one sheet -------------------------------------------------------


@dataclass(frozen=True)
class Label:
    """One certificate's label: its QR code (the verification page) and what identifies it."""

    number: str
    holder: str
    kind: str
    valid_until: str | None
    url: str


#: A4 sheets of 3 × 8 labels of 70 × 37 mm, the common self-adhesive format
LABEL_COLUMNS: Final = 3
LABEL_ROWS: Final = 8
LABEL_WIDTH: Final = 70 * mm
LABEL_HEIGHT: Final = 37.125 * mm


def _fit(text: str, font: str, size: float, width: float) -> str:
    """`text` cut (with an ellipsis) to fit `width` points; bidi controls dropped, as in the
    certificate's PDF (they would only reorder or show as missing glyphs)."""
    text = nfc(text).translate(_BIDI_CONTROLS)
    if pdfmetrics.stringWidth(text, font, size) <= width:
        return text
    while text and pdfmetrics.stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text + "…"


def _wrap(text: str, font: str, size: float, width: float, *, most: int) -> list[str]:
    """`text` in at most `most` lines of `width` points, by words, the last cut to fit."""
    words, lines = nfc(text).translate(_BIDI_CONTROLS).split(), [""]
    for word in words:
        trial = f"{lines[-1]} {word}".strip()
        if pdfmetrics.stringWidth(trial, font, size) <= width or not lines[-1]:
            lines[-1] = trial
        elif len(lines) < most:
            lines.append(word)
        else:
            lines[-1] = f"{lines[-1]} {word}"
    return [_fit(line, font, size, width) for line in lines]


def labels_pdf(labels: list[Label]) -> bytes:
    """A PDF of labels, 24 an A4 page: each with the certificate's QR code, its number, its
    holder, its kind (vi / en) and its last valid day, to stick on goods or files."""
    regular, bold = register_fonts()
    vi, en = translator("vi"), translator("en")
    out = io.BytesIO()
    sheet = canvas.Canvas(out, pagesize=A4, pageCompression=1)
    sheet.setTitle("Certificate labels")
    page_height = A4[1]
    per_page = LABEL_COLUMNS * LABEL_ROWS
    qr = 26 * mm
    text_width = LABEL_WIDTH - qr - 6 * mm
    for index, label in enumerate(labels):
        if index and index % per_page == 0:
            sheet.showPage()
        slot = index % per_page
        column, row = slot % LABEL_COLUMNS, slot // LABEL_COLUMNS
        left = column * LABEL_WIDTH
        bottom = page_height - (row + 1) * LABEL_HEIGHT
        QrFlowable(label.url, qr).drawOn(sheet, left + 2 * mm, bottom + (LABEL_HEIGHT - qr) / 2)
        x = left + qr + 4 * mm
        y = bottom + LABEL_HEIGHT - 7 * mm
        sheet.setFillColor(INK)
        sheet.setFont(bold, 8.5)
        sheet.drawString(x, y, _fit(label.number, bold, 8.5, text_width))
        lines = [
            *_wrap(label.holder, regular, 7, text_width, most=2),
            _fit(vi(f"kind.{label.kind}"), regular, 7, text_width),
            _fit(f"{vi('label.valid_until')}: {label.valid_until or '—'}", regular, 7, text_width),
        ]
        sheet.setFont(regular, 7)
        for offset, line in enumerate(lines, start=1):
            sheet.drawString(x, y - offset * 8.5, line)
        sheet.setFillColor(MUTED)
        sheet.setFont(regular, 6)
        sheet.drawString(x, y - 5 * 8.5, _fit(en(f"kind.{label.kind}"), regular, 6, text_width))
        sheet.drawString(x, bottom + 3 * mm, _fit(vi("label.scan"), regular, 6, text_width))
    sheet.save()
    return out.getvalue()
