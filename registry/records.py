"""Certificate records: what an issuer submits, validated, and the record the registry stores.

Record = the issuer's submitted fields + `id`, `issuer_id` and `salt` (docs/spec.md §2a). The
status is not part of the record. `record_hash = H(canonical(record))`.
"""

import datetime as dt
import re
import secrets
import unicodedata
from enum import StrEnum
from typing import Annotated, Any, Final

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from registry.core.canonical import canonical_json, normalize
from registry.core.encoding import hex0x
from registry.core.ids import certificate_id_for

__all__ = [
    "MAX_SAFE_INTEGER",
    "Attachment",
    "CertificateKind",
    "CertificateSubmission",
    "Holder",
    "build_record",
    "certificate_id_for",
    "submitted_fields",
]

_HEX32 = r"^0x[0-9a-f]{64}$"

#: integers in records stay exact in every JSON implementation (and in canonical JSON, RFC 8785)
MAX_SAFE_INTEGER: Final = 2**53 - 1


def _clean_text(value: object) -> object:
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


_Clean = BeforeValidator(_clean_text)
Text = Annotated[
    str, _Clean, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)
]
ShortText = Annotated[
    str, _Clean, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)
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


# What a subject must name, per kind: a certificate that does not say what it certifies is
# useless to the person scanning it. Any of the keys in a group satisfies it.
_SUBJECT_REQUIRES: Final[dict[CertificateKind, tuple[tuple[str, ...], ...]]] = {
    CertificateKind.PRODUCT_CONFORMITY: (("product",),),
    CertificateKind.REGULATION_CONFORMITY: (("product",),),
    CertificateKind.MANAGEMENT_SYSTEM: (("scope_vi", "scope_en"),),
    CertificateKind.CALIBRATION: (("instrument_vi", "instrument_en"), ("serial",)),
    CertificateKind.INSTRUMENT_VERIFICATION: (("instrument_vi", "instrument_en"), ("serial",)),
    CertificateKind.TEST_REPORT: (("sample",),),
    CertificateKind.INSPECTION: (("goods",),),
}

_NUMBER = re.compile(r"[^\x00-\x1f\x7f/?#]{1,100}")


class Holder(BaseModel):
    """Who the certificate is issued to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Text
    tax_code: ShortText | None = None
    address: Text | None = None


class Attachment(BaseModel):
    """A document that belongs to the certificate, by its SHA-256 digest."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: ShortText
    sha256: Hex32


SubjectValue = Annotated[str, _Clean, StringConstraints(max_length=500)] | SafeInt | list[Text]


class CertificateSubmission(BaseModel):
    """The fields an issuer submits for one certificate."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "kind": "regulation-conformity",
                    "number": "VICAS-2026-00001",
                    "holder": {
                        "name": "Công ty TNHH Đồ chơi Trẻ em Bé Ngoan",
                        "tax_code": "0029772769",
                        "address": "Số 1 đường Lê Lợi, TP. Hồ Chí Minh, Việt Nam",
                    },
                    "issued_on": "2026-02-26",
                    "valid_from": "2026-02-26",
                    "valid_until": "2029-02-26",
                    "subject": {"product": "Thép thanh vằn CB400-V", "model": "M-245"},
                    "standards": ["QCVN 7:2019/BKHCN"],
                    "scheme": "Phương thức 7",
                }
            ]
        },
    )

    kind: CertificateKind
    number: ShortText
    holder: Holder
    issued_on: dt.date
    valid_from: dt.date
    valid_until: dt.date | None = None
    subject: dict[
        Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")], SubjectValue
    ] = Field(max_length=30)
    standards: list[ShortText] | None = Field(default=None, max_length=30)
    scheme: ShortText | None = None
    results_sha256: Hex32 | None = None
    attachments: list[Attachment] | None = Field(default=None, max_length=30)
    # Accepted only when it names the caller: the authenticated issuer decides, not the body.
    issuer_id: str | None = None

    @field_validator("number")
    @classmethod
    def _number(cls, value: str) -> str:
        if _NUMBER.fullmatch(value) is None:
            raise ValueError(f"got {value!r}, want 1-100 characters without controls, / ? #")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "CertificateSubmission":
        if self.valid_until is not None and self.valid_until < self.valid_from:
            raise ValueError(
                f"valid_until: got {self.valid_until}, "
                f"want on or after valid_from {self.valid_from}"
            )
        for group in _SUBJECT_REQUIRES[self.kind]:
            if not any(self.subject.get(key) not in (None, "", []) for key in group):
                raise ValueError(
                    f"subject: got keys {sorted(self.subject)}, "
                    f"want {' or '.join(group)} for a {self.kind.value} certificate"
                )
        return self


def submitted_fields(submission: CertificateSubmission) -> dict[str, Any]:
    """The submission as plain JSON, absent fields omitted (never null), issuer_id dropped."""
    return submission.model_dump(mode="json", exclude_none=True, exclude={"issuer_id"})


def build_record(submission: CertificateSubmission, *, issuer_id: str) -> dict[str, Any]:
    """The stored record: submitted fields plus id, issuer_id and a fresh 16-byte salt."""
    fields = submitted_fields(submission)
    return {
        **fields,
        "id": certificate_id_for(issuer_id=issuer_id, number=submission.number),
        "issuer_id": issuer_id,
        "salt": hex0x(secrets.token_bytes(16)),
    }


_SALT = re.compile(r"0x[0-9a-f]{32}")
#: what `build_record` adds to the submitted fields, and a replacement's link to the old one
_ADDED: Final = ("id", "issuer_id", "salt")


def record_from_signer(
    record: object, *, issuer_id: str, supersedes: str | None = None
) -> tuple[CertificateSubmission, dict[str, Any]]:
    """A record a CB built and hashed on its side (an issuer statement, docs/spec.md §3.1):
    exactly what `build_record` makes of its submitted fields — the id its number gives, this
    issuer, a 16-byte salt, `supersedes` on a replacement — and nothing else. Returns the
    submission (for the scope checks) and the record in NFC."""
    if not isinstance(record, dict):
        raise ValueError(f"record: got {type(record).__name__}, want a JSON object")
    salt = record.get("salt")
    if not isinstance(salt, str) or _SALT.fullmatch(salt) is None:
        raise ValueError(f"record.salt: got {salt!r:.80}, want 0x and 32 lowercase hex digits")
    if record.get("issuer_id") != issuer_id:
        raise ValueError(
            f"record.issuer_id: got {record.get('issuer_id')!r:.80}, want {issuer_id!r}"
        )
    if record.get("supersedes") != supersedes:
        raise ValueError(
            f"record.supersedes: got {record.get('supersedes')!r:.80}, want "
            f"{'none' if supersedes is None else repr(supersedes)} (the statement's)"
        )
    fields = {k: v for k, v in record.items() if k not in (*_ADDED, "supersedes")}
    submission = CertificateSubmission.model_validate(fields)
    if canonical_json(submitted_fields(submission)) != canonical_json(fields):
        raise ValueError(
            "record: got fields that are not the canonical form of a submission (a null, an "
            "empty optional, another spelling), want exactly what the submission holds"
        )
    expected = certificate_id_for(issuer_id=issuer_id, number=submission.number)
    if record.get("id") != expected:
        raise ValueError(f"record.id: got {record.get('id')!r:.80}, want {expected!r}")
    normalized = normalize(record)
    assert isinstance(normalized, dict)
    return submission, normalized


def same_submission(record: dict[str, Any], submission: CertificateSubmission) -> bool:
    """Whether `record` was built from a submission equal to this one (idempotent issue)."""
    stored = {k: v for k, v in record.items() if k not in ("id", "issuer_id", "salt")}
    return canonical_json(stored) == canonical_json(submitted_fields(submission))
