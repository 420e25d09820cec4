"""A batch's printable certificates as one ZIP: a PDF each, named after its certificate number,
and a manifest listing every file with its certificate and the SHA-256 of its bytes.

File names are portable ASCII: Vietnamese letters lose their marks (Đ → D), anything else that
is not a letter, digit, `.`, `_` or `-` becomes `_`, so that no name is a path, starts with a
dot, or shows garbled in an unzip tool that ignores the ZIP's UTF-8 flag (the manifest keeps
the numbers as registered). Names that would be the same on a case-insensitive disk get the
first 8 hex digits of their certificate's id, so no file overwrites another when unpacked.
"""

import csv
import datetime as dt
import hashlib
import io
import re
import unicodedata
import zipfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

__all__ = ["MANIFEST", "MANIFEST_COLUMNS", "Printed", "file_names", "file_stem", "pdfs_zip"]

MANIFEST: Final = "manifest.csv"
MANIFEST_COLUMNS: Final = ("file", "certificate_id", "issuer_id", "number", "status", "sha256")
#: a stem's length at most, as the single certificate's PDF is named
MAX_STEM: Final = 80

# Đ and đ do not decompose into D plus a mark (NFKD leaves them as they are).
_NO_MARK: Final = str.maketrans({"Đ": "D", "đ": "d"})
_UNSAFE: Final = re.compile(r"[^A-Za-z0-9._-]+")
# Windows refuses these as file names, with any extension.
_RESERVED: Final = frozenset(
    {"CON", "PRN", "AUX", "NUL", *(f"{p}{i}" for p in ("COM", "LPT") for i in range(1, 10))}
)
# A spreadsheet opening the manifest would take a cell starting with these for a formula.
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")


def file_stem(number: str) -> str:
    """The certificate number as a portable file name without its extension: ASCII, no path
    separator, no leading or trailing dot, not a name Windows reserves, never empty."""
    folded = unicodedata.normalize("NFKD", number.translate(_NO_MARK))
    plain = "".join(c for c in folded if not unicodedata.combining(c))
    stem = _UNSAFE.sub("_", plain).strip("._-")[:MAX_STEM].rstrip("._-")
    if not stem:
        return "certificate"
    if stem.split(".", 1)[0].upper() in _RESERVED:
        return f"_{stem}"
    return stem


def file_names(certificates: Sequence[tuple[str, str]]) -> list[str]:
    """A distinct `.pdf` name for each (certificate id, number), ids distinct, in order.

    Certificates whose stems are the same (ignoring case) all get their id's first 8 hex
    digits, so that none of them looks like the only one; a name still taken (a number that
    happens to end that way) gets a counter."""
    stems = [file_stem(number) for _, number in certificates]
    counts = Counter(stem.casefold() for stem in stems)
    taken: set[str] = set()
    names: list[str] = []
    for (certificate_id, _), plain in zip(certificates, stems, strict=True):
        stem = plain
        if counts[plain.casefold()] > 1:
            stem = f"{plain}-{certificate_id.removeprefix('0x')[:8]}"
        name, n = stem, 1
        while name.casefold() in taken:
            n += 1
            name = f"{stem}-{n}"
        taken.add(name.casefold())
        names.append(f"{name}.pdf")
    return names


@dataclass(frozen=True)
class Printed:
    """One certificate's PDF and what the manifest says of it."""

    certificate_id: str
    issuer_id: str
    number: str
    status: str
    pdf: bytes


def _cell(text: str) -> str:
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def pdfs_zip(printed: Sequence[Printed], *, at: dt.datetime) -> bytes:
    """The ZIP: `manifest.csv` first, then the PDFs in order, every entry dated `at` (UTC;
    ZIP times carry no zone).

    The manifest is CSV (RFC 4180) in UTF-8 with a byte order mark, without which Excel reads
    it in the local code page and garbles Vietnamese; a number a spreadsheet would take for a
    formula is written after an apostrophe."""
    names = file_names([(p.certificate_id, p.number) for p in printed])
    manifest = io.StringIO()
    writer = csv.writer(manifest)
    writer.writerow(MANIFEST_COLUMNS)
    for name, p in zip(names, printed, strict=True):
        digest = hashlib.sha256(p.pdf).hexdigest()
        writer.writerow([name, p.certificate_id, p.issuer_id, _cell(p.number), p.status, digest])
    utc = at.astimezone(dt.UTC)
    stamp = (utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second)
    out = io.BytesIO()
    # Deflated: PDFs shrink little (their streams are compressed already), the manifest much;
    # the cost is small beside making the PDFs.
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        entries = [(MANIFEST, manifest.getvalue().encode("utf-8-sig"))]
        entries += [(name, p.pdf) for name, p in zip(names, printed, strict=True)]
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16  # a plain file, readable by all once unpacked
            archive.writestr(info, data)
    return out.getvalue()
