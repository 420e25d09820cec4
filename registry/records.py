"""Certificate records: what an issuer submits, validated, and the record the registry stores.

Two formats (docs/spec.md §2a, §2b). Format 1: the submitted fields + `id`, `issuer_id` and
`salt`, one JSON object, `record_hash = H(canonical(record))`, with a free-form `subject`.
Format 2: a typed submission per kind (registry.kinds), every field committed on its own
(registry.core.disclosure) so that public copies can withhold restricted fields and still
hash as the original. The status is part of neither.
"""

import datetime as dt
import functools
import re
import secrets
from typing import Annotated, Any, Final

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    TypeAdapter,
    field_validator,
    model_validator,
)

from registry.core.canonical import canonical_json, normalize
from registry.core.disclosure import (
    FORMAT,
    commit,
    digests_hash,
    hash_record,
    is_v2,
    open_record,
    redact,
)
from registry.core.encoding import hex0x
from registry.core.hashing import sha256
from registry.core.ids import certificate_id_for
from registry.fields import (
    MAX_SAFE_INTEGER,
    Attachment,
    CertificateKind,
    Clean,
    Hex32,
    SafeInt,
    ShortText,
    Text,
    check_number,
)
from registry.kinds import TypedModel, TypedSubmission, public_fields, typed_adapter

__all__ = [
    "MAX_SAFE_INTEGER",
    "AnySubmission",
    "Attachment",
    "CertificateKind",
    "CertificateSubmission",
    "Holder",
    "Submission",
    "build_record",
    "certificate_id_for",
    "hash_record",
    "holder_of",
    "public_record",
    "record_fields",
    "stored_form",
    "submission_adapter",
    "submitted_fields",
]

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


class Holder(BaseModel):
    """Who the certificate is issued to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Text
    tax_code: ShortText | None = None
    address: Text | None = None


SubjectValue = Annotated[str, Clean, StringConstraints(max_length=500)] | SafeInt | list[Text]


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
        return check_number(value)

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


def _format_of(value: Any) -> str:
    if isinstance(value, dict):
        return "2" if value.get("format") == FORMAT else "1"
    return "2" if getattr(value, "format", None) == FORMAT else "1"


#: the request schema of one submission: format 1 (no `format`, a free-form `subject`) or a
#: typed format-2 one, chosen by its `format` and then its `kind`
AnySubmission = Annotated[
    Annotated[CertificateSubmission, Tag("1")] | Annotated[TypedSubmission, Tag("2")],
    Discriminator(_format_of),
]
#: a validated submission of either format
Submission = CertificateSubmission | TypedModel


@functools.cache
def submission_adapter() -> TypeAdapter[Submission]:
    """Validates a submission of either format from JSON-like data."""
    adapter: TypeAdapter[Submission] = TypeAdapter(AnySubmission)
    return adapter


def submitted_fields(submission: Submission) -> dict[str, Any]:
    """The submission as plain JSON, issuer_id dropped. Format 1: absent fields omitted (never
    null). Format 2: the record's fields, `valid_until` always present (null: no end date)."""
    if isinstance(submission, TypedModel):
        fields = submission.model_dump(mode="json", exclude_none=True, exclude={"format"})
        fields.setdefault("valid_until", None)
        return fields
    return submission.model_dump(mode="json", exclude_none=True, exclude={"issuer_id"})


def _salt() -> str:
    return hex0x(secrets.token_bytes(16))


def build_record(
    submission: Submission, *, issuer_id: str, supersedes: str | None = None
) -> dict[str, Any]:
    """The stored record. Format 1: submitted fields plus id, issuer_id, a fresh 16-byte salt
    and, for a replacement, `supersedes`. Format 2: those fields (`supersedes` always, null for
    none) each committed with its own fresh salt (spec §2b)."""
    certificate_id = certificate_id_for(issuer_id=issuer_id, number=submission.number)
    fields = submitted_fields(submission)
    if isinstance(submission, TypedModel):
        fields |= {"id": certificate_id, "issuer_id": issuer_id, "supersedes": supersedes}
        return commit(fields, {name: _salt() for name in fields})
    record = {**fields, "id": certificate_id, "issuer_id": issuer_id, "salt": _salt()}
    if supersedes is not None:
        record["supersedes"] = supersedes
    return record


def record_fields(record: dict[str, Any]) -> dict[str, Any]:
    """The fields a record shows: a format-1 record as it is, a format-2 record's disclosed
    fields by name (all of them in the registry's own copy). Unchecked: for records the
    registry built or checked already (a verifier opens them with `open_record`)."""
    if is_v2(record):
        return {name: value for _, name, value in record["disclosures"]}
    return record


def stored_form(record: dict[str, Any]) -> tuple[str, bytes]:
    """(text, record hash) of a record the registry built or checked: the stored text is its
    canonical JSON (NFC, so search columns and hash agree); the hash is that text's SHA-256
    for format 1, the hash over the digests for format 2 (spec §2a, §2b)."""
    text = canonical_json(record)
    return text.decode("utf-8"), digests_hash(record) if is_v2(record) else sha256(text)


def public_record(record: dict[str, Any]) -> dict[str, Any]:
    """The copy of a record anyone may see: a format-2 record without its kind's restricted
    fields (their digests stay, so it hashes the same); a format-1 record has none."""
    if not is_v2(record):
        return record
    return redact(record, keep=public_fields(str(record_fields(record)["kind"])))


def holder_of(fields: dict[str, Any]) -> tuple[str, str | None]:
    """(name, tax code) of the holder, from the fields of either format."""
    holder = fields.get("holder")
    if isinstance(holder, dict):
        return str(holder["name"]), holder.get("tax_code")
    return str(fields["holder_name"]), fields.get("holder_tax_code")


_SALT = re.compile(r"0x[0-9a-f]{32}")
#: what `build_record` adds to the submitted fields, and a replacement's link to the old one
_ADDED: Final = ("id", "issuer_id", "salt", "supersedes")


def record_from_signer(
    record: object, *, issuer_id: str, supersedes: str | None = None
) -> tuple[Submission, dict[str, Any]]:
    """A record a CB built and hashed on its side (an issuer statement, docs/spec.md §3.1):
    exactly what `build_record` makes of its submitted fields — the id its number gives, this
    issuer, fresh salts, `supersedes` on a replacement — and nothing else; a format-2 record
    discloses every field. Returns the submission (for the scope checks) and the record in
    NFC."""
    if not isinstance(record, dict):
        raise ValueError(f"record: got {type(record).__name__}, want a JSON object")
    if is_v2(record):
        opened = open_record(record)
        if opened.withheld:
            raise ValueError(
                f"record: got {opened.withheld} fields withheld, want every field disclosed"
            )
        fields = opened.fields
        submission: Submission = typed_adapter().validate_python(
            {k: v for k, v in fields.items() if k not in _ADDED} | {"format": FORMAT}
        )
    else:
        salt = record.get("salt")
        if not isinstance(salt, str) or _SALT.fullmatch(salt) is None:
            raise ValueError(f"record.salt: got {salt!r:.80}, want 0x and 32 lowercase hex digits")
        fields = record
        submission = CertificateSubmission.model_validate(
            {k: v for k, v in record.items() if k not in _ADDED}
        )
    if fields.get("issuer_id") != issuer_id:
        raise ValueError(
            f"record.issuer_id: got {fields.get('issuer_id')!r:.80}, want {issuer_id!r}"
        )
    if fields.get("supersedes") != supersedes:
        raise ValueError(
            f"record.supersedes: got {fields.get('supersedes')!r:.80}, want "
            f"{'none' if supersedes is None else repr(supersedes)} (the statement's)"
        )
    if canonical_json(submitted_fields(submission)) != canonical_json(
        {k: v for k, v in fields.items() if k not in _ADDED}
    ):
        raise ValueError(
            "record: got fields that are not the canonical form of a submission (a null, an "
            "empty optional, another spelling), want exactly what the submission holds"
        )
    expected = certificate_id_for(issuer_id=issuer_id, number=submission.number)
    if fields.get("id") != expected:
        raise ValueError(f"record.id: got {fields.get('id')!r:.80}, want {expected!r}")
    normalized = normalize(record)
    assert isinstance(normalized, dict)
    return submission, normalized


def same_submission(record: dict[str, Any], submission: Submission) -> bool:
    """Whether `record` was built from a submission equal to this one (idempotent issue)."""
    if is_v2(record) != isinstance(submission, TypedModel):
        return False
    fields = record_fields(record)
    stored = {k: v for k, v in fields.items() if k not in ("id", "issuer_id", "salt")}
    if is_v2(record) and stored.get("supersedes", "") is None:
        del stored["supersedes"]
    return canonical_json(stored) == canonical_json(submitted_fields(submission))
