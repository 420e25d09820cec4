"""Typed certificates of format 2: one model per kind, with the fields a real certificate of
that kind carries (docs/spec.md §2b, §2c).

A submission names `"format": 2` and its `kind`; the kind chooses the model (a discriminated
union). Every field is committed on its own in the record (registry.core.disclosure) and is
`public` or `restricted`: public copies of the record (pages, public bundles, open data) carry
only the public ones and the digests of the rest. A field is restricted when its model field
says `x-visibility: restricted` in its JSON Schema, so the published schema and the registry
agree by construction.

Numbers that are measured (values, uncertainties, quantities) are decimal strings: canonical
JSON refuses floats, and a measurement's trailing zeros are significant. Units are checked by
`pint`. The holder's province is one of the 34 provincial-level units from 1 July 2025, by its
code in the national statistics office's list (package `vietnam-provinces`).
"""

import datetime as dt
import decimal
import functools
import json
import re
from typing import Annotated, Any, Final, Literal

import pint
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    field_validator,
    model_validator,
)
from vietnam_provinces import Province

from registry.fields import (
    Attachment,
    CertificateKind,
    Hex32,
    ShortText,
    Text,
    check_number,
)

__all__ = [
    "PROVINCES",
    "RESTRICTED",
    "Calibration",
    "Inspection",
    "InstrumentVerification",
    "ManagementSystem",
    "ProductConformity",
    "RegulationConformity",
    "TestReport",
    "TypedModel",
    "TypedSubmission",
    "model_of",
    "province_name",
    "public_fields",
    "published_schema",
    "restricted_fields",
    "typed_adapter",
]

#: the JSON Schema mark of a restricted field
RESTRICTED: Final = {"x-visibility": "restricted"}


def _province_table() -> dict[str, str]:
    return {f"{p.code.value:02d}": p.name for p in Province.iter_all()}


#: code (two digits, as the statistics office writes it) → name, of the 34 units of 2025
PROVINCES: Final = _province_table()


def province_name(code: str) -> str:
    """The unit's Vietnamese name, e.g. "Thành phố Hồ Chí Minh" for "79"."""
    return PROVINCES[code]


def _province(value: str) -> str:
    if value not in PROVINCES:
        raise ValueError(
            f"got {value!r}, want the two-digit code of one of the 34 provincial-level units "
            "(e.g. 01 Hà Nội, 79 Thành phố Hồ Chí Minh)"
        )
    return value


_DECIMAL: Final = r"^-?(0|[1-9][0-9]{0,29})(\.[0-9]{1,30})?$"
#: a decimal number written as a string: sign, digits, optional fraction; no exponent, no
#: leading zeros (one spelling per number, trailing zeros kept: they state the resolution)
DecimalText = Annotated[str, StringConstraints(pattern=_DECIMAL)]


@functools.cache
def _units() -> "pint.UnitRegistry[Any]":
    # Built on first use: loading pint's definitions takes about 0.3 s.
    return pint.UnitRegistry(cache_folder=None)


#: what a unit is written with, checked before pint's parser sees it
_UNIT_TEXT: Final = re.compile(r"[^\W_]([\w°·/*^.%() -]{0,39})|%|°[CF]")


def _unit(value: str) -> str:
    text = value.strip()
    if not text:
        raise ValueError("got an empty unit, want one such as mm, °C, kPa, L/min or %")
    if _UNIT_TEXT.fullmatch(text) is None:
        raise ValueError(
            f"got {value!r:.60}, want a unit of letters, digits, spaces and / * · ^ . % ( ) - "
            "such as mm, °C, kPa, L/min or %"
        )
    try:
        _units().parse_units(text)
    except Exception as exc:
        raise ValueError(f"got {value!r}, want a unit such as mm, °C, kPa, L/min or %") from exc
    return text


Unit = Annotated[ShortText, AfterValidator(_unit)]


def _same_dimension(unit: str, other: str) -> bool:
    registry = _units()
    return bool(
        registry.parse_units(unit).dimensionality == registry.parse_units(other).dimensionality
    )


TaxCode = Annotated[str, StringConstraints(pattern=r"^[0-9]{10}(-[0-9]{3})?$")]
IdNumber = Annotated[str, StringConstraints(pattern=r"^[0-9]{12}$")]
Vilas = Annotated[str, StringConstraints(pattern=r"^VILAS [0-9]{3,4}$")]
HsCode = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}([0-9]{2}){0,3}$")]
ProvinceCode = Annotated[str, AfterValidator(_province)]


class TypedModel(BaseModel):
    """What every kind has."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal[2]
    kind: CertificateKind  # each kind's model narrows it to its own value
    number: ShortText
    issued_on: dt.date
    valid_from: dt.date
    valid_until: dt.date | None = None
    holder_name: Text
    #: a company's tax code (mã số thuế) — public in the national business register
    holder_tax_code: TaxCode | None = None
    #: a private person's citizen identity number (CCCD): never public
    holder_id_number: Annotated[IdNumber | None, Field(json_schema_extra=RESTRICTED)] = None
    holder_address: Text | None = None
    province: ProvinceCode
    standards: list[ShortText] = Field(default_factory=list, max_length=30)
    attachments: Annotated[
        list[Attachment] | None, Field(max_length=30, json_schema_extra=RESTRICTED)
    ] = None
    # Accepted only when it names the caller, as in format 1.
    issuer_id: str | None = Field(default=None, exclude=True)

    @field_validator("number")
    @classmethod
    def _number(cls, value: str) -> str:
        return check_number(value)

    @model_validator(mode="after")
    def _dates(self) -> "TypedModel":
        if self.valid_until is not None and self.valid_until < self.valid_from:
            raise ValueError(
                f"valid_until: got {self.valid_until}, "
                f"want on or after valid_from {self.valid_from}"
            )
        return self


#: a customer's address is the customer's business, not the public's, on a lab's certificate
_CustomerAddress = Annotated[Text | None, Field(json_schema_extra=RESTRICTED)]


class _Conformity(TypedModel):
    product: Text
    model: ShortText | None = None
    hs_code: HsCode | None = None
    manufacturer: Text | None = None
    #: the certification scheme (phương thức) 1-8 of the conformity regulations
    scheme: int = Field(ge=1, le=8)
    #: the lot certified, for scheme 7 (one lot tested and assessed)
    lot: ShortText | None = None
    test_reports: Annotated[
        list[ShortText] | None, Field(max_length=30, json_schema_extra=RESTRICTED)
    ] = None

    @model_validator(mode="after")
    def _scheme(self) -> "_Conformity":
        if not self.standards:
            raise ValueError("standards: got none, want the standard or regulation certified to")
        if self.scheme == 7 and self.lot is None:
            raise ValueError("lot: got none, want the lot certified under scheme 7")
        return self


class ProductConformity(_Conformity):
    """Chứng nhận hợp chuẩn: a product conforms to a standard (TCVN, ISO, …)."""

    kind: Literal[CertificateKind.PRODUCT_CONFORMITY]


class RegulationConformity(_Conformity):
    """Chứng nhận hợp quy: a product conforms to a national technical regulation (QCVN)."""

    kind: Literal[CertificateKind.REGULATION_CONFORMITY]

    @model_validator(mode="after")
    def _regulation(self) -> "RegulationConformity":
        if not any(s.startswith("QCVN") for s in self.standards):
            raise ValueError(
                f"standards: got {self.standards}, want a technical regulation (QCVN …)"
            )
        return self


class Site(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: ShortText | None = None
    address: Text


class ManagementSystem(TypedModel):
    """A management system certified to ISO 9001, 14001, 22000, 45001, 27001, …"""

    kind: Literal[CertificateKind.MANAGEMENT_SYSTEM]
    scope_vi: Text
    scope_en: Text | None = None
    sites: list[Site] = Field(min_length=1, max_length=100)
    #: the IAF sector codes (1-39) of the scope
    iaf_sectors: list[Annotated[int, Field(ge=1, le=39)]] | None = Field(
        default=None, max_length=39
    )

    @model_validator(mode="after")
    def _standards(self) -> "ManagementSystem":
        if not self.standards:
            raise ValueError("standards: got none, want the management-system standard")
        if self.iaf_sectors is not None and len(set(self.iaf_sectors)) != len(self.iaf_sectors):
            raise ValueError(f"iaf_sectors: got {self.iaf_sectors}, want each code once")
        return self


class CalibrationResult(BaseModel):
    """One measured point: value and expanded uncertainty U = k·u (JCGM 100 / ISO/IEC 17025)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    quantity: ShortText
    value: DecimalText
    unit: Unit
    expanded_uncertainty: DecimalText
    #: when the uncertainty is stated in another unit of the same dimension (value in V, U in mV)
    uncertainty_unit: Unit | None = None
    coverage_factor: DecimalText

    @model_validator(mode="after")
    def _uncertainty(self) -> "CalibrationResult":
        if decimal.Decimal(self.expanded_uncertainty) < 0:
            raise ValueError(
                f"expanded_uncertainty: got {self.expanded_uncertainty}, want 0 or more"
            )
        if decimal.Decimal(self.coverage_factor) <= 0:
            raise ValueError(f"coverage_factor: got {self.coverage_factor}, want more than 0")
        if self.uncertainty_unit is not None and not _same_dimension(
            self.unit, self.uncertainty_unit
        ):
            raise ValueError(
                f"uncertainty_unit: got {self.uncertainty_unit!r}, want a unit of the same "
                f"dimension as {self.unit!r}"
            )
        return self


class _Instrument(TypedModel):
    instrument: Text
    instrument_en: Text | None = None
    manufacturer: Text | None = None
    model: ShortText | None = None
    serial: ShortText
    #: the procedure followed (ĐLVN …)
    procedure: ShortText | None = None
    holder_address: _CustomerAddress = None


class Calibration(_Instrument):
    """Giấy chứng nhận hiệu chuẩn: an instrument's calibration results with uncertainties."""

    kind: Literal[CertificateKind.CALIBRATION]
    calibration_date: dt.date
    results: Annotated[
        list[CalibrationResult], Field(min_length=1, max_length=200, json_schema_extra=RESTRICTED)
    ]
    traceability: Text
    #: recommended, not binding: the user decides the interval (ILAC-G24)
    due_date: dt.date | None = None
    lab_accreditation: Vilas | None = None

    @model_validator(mode="after")
    def _calibration_dates(self) -> "Calibration":
        if self.calibration_date > self.issued_on:
            raise ValueError(
                f"calibration_date: got {self.calibration_date}, want on or before issued_on "
                f"{self.issued_on}"
            )
        if self.due_date is not None and self.due_date <= self.calibration_date:
            raise ValueError(
                f"due_date: got {self.due_date}, want after calibration_date "
                f"{self.calibration_date}"
            )
        return self


class InstrumentVerification(_Instrument):
    """Kiểm định phương tiện đo: a measuring instrument passed (or failed) legal verification."""

    kind: Literal[CertificateKind.INSTRUMENT_VERIFICATION]
    #: the verification mark or stamp number (số tem, dấu kiểm định)
    verification_mark: ShortText
    #: đạt / không đạt
    result: Literal["pass", "fail"]

    @model_validator(mode="after")
    def _passed(self) -> "InstrumentVerification":
        if self.result == "pass" and self.valid_until is None:
            raise ValueError("valid_until: got none, want the end of the verification period")
        return self


class TestResult(BaseModel):
    """One tested parameter. A value with a unit is a decimal string; without one it may be
    text ("không phát hiện", "< 0.01")."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    parameter: ShortText
    value: ShortText
    unit: Unit | None = None
    limit: ShortText | None = None
    method: ShortText | None = None

    @model_validator(mode="after")
    def _numeric(self) -> "TestResult":
        if self.unit is not None and re.fullmatch(_DECIMAL, self.value) is None:
            raise ValueError(
                f"value: got {self.value!r} with unit {self.unit!r}, want a decimal number "
                "such as 0.05 (or no unit)"
            )
        return self


class TestReport(TypedModel):
    """Phiếu kết quả thử nghiệm: a sample's test results."""

    __test__ = False  # not a pytest test class, despite its name

    kind: Literal[CertificateKind.TEST_REPORT]
    sample: Text
    sample_code: ShortText | None = None
    received_on: dt.date | None = None
    methods: list[ShortText] = Field(min_length=1, max_length=50)
    results: Annotated[
        list[TestResult], Field(min_length=1, max_length=500, json_schema_extra=RESTRICTED)
    ]
    #: the SHA-256 of the full report file
    results_sha256: Annotated[Hex32 | None, Field(json_schema_extra=RESTRICTED)] = None
    lab_accreditation: Vilas | None = None
    holder_address: _CustomerAddress = None


class Inspection(TypedModel):
    """Chứng thư giám định: an object or lot inspected and found (non-)conforming."""

    kind: Literal[CertificateKind.INSPECTION]
    object: Text
    lot: ShortText | None = None
    quantity: DecimalText | None = None
    quantity_unit: Unit | None = None
    result: Literal["conforming", "non-conforming"]
    findings: Annotated[Text | None, Field(json_schema_extra=RESTRICTED)] = None
    holder_address: _CustomerAddress = None

    @model_validator(mode="after")
    def _quantity(self) -> "Inspection":
        if (self.quantity is None) != (self.quantity_unit is None):
            raise ValueError("quantity, quantity_unit: got one without the other, want both")
        return self


TypedSubmission = Annotated[
    ProductConformity
    | RegulationConformity
    | ManagementSystem
    | Calibration
    | InstrumentVerification
    | TestReport
    | Inspection,
    Field(discriminator="kind"),
]

_MODELS: Final[dict[CertificateKind, type[TypedModel]]] = {
    CertificateKind.PRODUCT_CONFORMITY: ProductConformity,
    CertificateKind.REGULATION_CONFORMITY: RegulationConformity,
    CertificateKind.MANAGEMENT_SYSTEM: ManagementSystem,
    CertificateKind.CALIBRATION: Calibration,
    CertificateKind.INSTRUMENT_VERIFICATION: InstrumentVerification,
    CertificateKind.TEST_REPORT: TestReport,
    CertificateKind.INSPECTION: Inspection,
}


def model_of(kind: CertificateKind | str) -> type[TypedModel]:
    """The model of one kind."""
    return _MODELS[CertificateKind(kind)]


@functools.cache
def typed_adapter() -> TypeAdapter[TypedSubmission]:
    return TypeAdapter(TypedSubmission)


@functools.cache
def restricted_fields(kind: CertificateKind | str) -> frozenset[str]:
    """The fields of `kind` that public copies of its records withhold."""
    return frozenset(
        name
        for name, info in model_of(kind).model_fields.items()
        if isinstance(info.json_schema_extra, dict)
        and info.json_schema_extra.get("x-visibility") == "restricted"
    )


@functools.cache
def public_fields(kind: CertificateKind | str) -> frozenset[str]:
    """The fields of `kind` that every copy of its records shows (and those the record adds:
    id, issuer_id, supersedes)."""
    names = set(model_of(kind).model_fields) - {"format", "issuer_id"}
    return frozenset(names - restricted_fields(kind)) | {"id", "issuer_id", "supersedes"}


def published_schema() -> dict[str, Any]:
    """The JSON Schema of a typed submission as `docs/schemas/certificate-format-2.json`
    publishes it."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "certreg typed certificate submission, format 2 (docs/spec.md §2c)",
        **typed_adapter().json_schema(),
    }


if __name__ == "__main__":
    print(json.dumps(published_schema(), ensure_ascii=False, indent=1))
