"""The field types records of both formats share: cleaned text, hex digests, safe integers,
the certificate kinds, attachments and certificate numbers (docs/spec.md §2a, §2c)."""

import re
import unicodedata
from enum import StrEnum
from typing import Annotated, Final

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

__all__ = [
    "MAX_SAFE_INTEGER",
    "Attachment",
    "CertificateKind",
    "Hex32",
    "SafeInt",
    "ShortText",
    "Text",
    "check_number",
    "clean_text",
]

_HEX32 = r"^0x[0-9a-f]{64}$"

#: integers in records stay exact in every JSON implementation (and in canonical JSON, RFC 8785)
MAX_SAFE_INTEGER: Final = 2**53 - 1


def clean_text(value: object) -> object:
    """Text as it will be stored: NFC (canonical JSON normalises it anyway, so limits apply to
    what is stored, not to what was sent), without NUL (PostgreSQL's text cannot hold it) or
    lone surrogates (not Unicode text: nothing can encode them)."""
    if not isinstance(value, str):
        return value  # the type check that follows says what was wrong
    if "\x00" in value:
        raise ValueError("got a NUL character (U+0000), want text without it")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(
            "got a lone surrogate (U+D800-U+DFFF), want well-formed Unicode text"
        ) from None
    return unicodedata.normalize("NFC", value)


Clean = BeforeValidator(clean_text)
Text = Annotated[str, Clean, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
ShortText = Annotated[
    str, Clean, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)
]
Hex32 = Annotated[str, StringConstraints(pattern=_HEX32)]
SafeInt = Annotated[int, Field(ge=-MAX_SAFE_INTEGER, le=MAX_SAFE_INTEGER)]


class CertificateKind(StrEnum):
    """The certificate kinds of docs/spec.md §2a."""

    PRODUCT_CONFORMITY = "product-conformity"  # chứng nhận hợp chuẩn (TCVN, ISO)
    REGULATION_CONFORMITY = "regulation-conformity"  # chứng nhận hợp quy (QCVN)
    MANAGEMENT_SYSTEM = "management-system"  # ISO 9001, 14001, 22000 …
    CALIBRATION = "calibration"  # giấy chứng nhận hiệu chuẩn
    INSTRUMENT_VERIFICATION = "instrument-verification"  # kiểm định phương tiện đo
    TEST_REPORT = "test-report"  # phiếu kết quả thử nghiệm
    INSPECTION = "inspection"  # giám định


class Attachment(BaseModel):
    """A document that belongs to the certificate, by its SHA-256 digest."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: ShortText
    sha256: Hex32


_NUMBER = re.compile(r"[^\x00-\x1f\x7f/?#]{1,100}")


def check_number(value: str) -> str:
    """A certificate number: it is part of URLs and file names."""
    if _NUMBER.fullmatch(value) is None:
        raise ValueError(f"got {value!r}, want 1-100 characters without controls, / ? #")
    return value
