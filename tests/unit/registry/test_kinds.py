"""Typed records of format 2 (docs/spec.md §2c): every kind's sample validates, builds a
record that hashes and redacts as §2b says, and each rule refuses what it should."""

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from registry.core.disclosure import open_record
from registry.fields import CertificateKind
from registry.kinds import (
    PROVINCES,
    model_of,
    public_fields,
    published_schema,
    restricted_fields,
    typed_adapter,
)
from registry.records import (
    build_record,
    hash_record,
    public_record,
    record_fields,
    record_from_signer,
    same_submission,
    submission_adapter,
)
from registry.samples import load_samples, typed_samples

SAMPLES = typed_samples()


def sample_of(kind: str) -> dict[str, Any]:
    found = next(s for s in SAMPLES if s["kind"] == kind)
    return {k: v for k, v in found.items() if k != "issuer_id"}


def test_the_34_provincial_units_of_2025() -> None:
    assert len(PROVINCES) == 34
    assert PROVINCES["01"] == "Thành phố Hà Nội"
    assert PROVINCES["79"] == "Thành phố Hồ Chí Minh"
    assert "02" not in PROVINCES  # Hà Giang: part of Tuyên Quang since 1 July 2025


def test_every_sample_is_a_valid_typed_submission() -> None:
    kinds = set()
    for body in SAMPLES:
        submission = submission_adapter().validate_python(body)
        assert type(submission) is model_of(body["kind"])
        kinds.add(submission.kind)
    assert kinds == set(CertificateKind)


@pytest.mark.parametrize("kind", [k.value for k in CertificateKind])
def test_a_record_of_each_kind(kind: str) -> None:
    body = sample_of(kind)
    submission = typed_adapter().validate_python(body)
    record = build_record(submission, issuer_id="vn-lab-songhong")
    fields = record_fields(record)
    assert fields["kind"] == kind and fields["supersedes"] is None
    assert same_submission(record, submission)
    # the public copy withholds exactly the kind's restricted fields that the record has
    public = public_record(record)
    opened = open_record(public)
    assert set(opened.fields) == set(fields) - restricted_fields(kind)
    assert opened.record_hash == hash_record(record)
    assert opened.withheld == len(set(fields) & restricted_fields(kind))
    # a CB that holds its key sends exactly this record
    again, normalized = record_from_signer(record, issuer_id="vn-lab-songhong")
    assert again == submission and normalized == record


def test_the_public_and_restricted_fields_partition_each_kind() -> None:
    for kind in CertificateKind:
        assert not public_fields(kind) & restricted_fields(kind)
    assert restricted_fields(CertificateKind.CALIBRATION) >= {"results", "holder_address"}
    assert "holder_address" in public_fields(CertificateKind.MANAGEMENT_SYSTEM)
    assert "holder_id_number" in restricted_fields(CertificateKind.PRODUCT_CONFORMITY)


def test_the_schema_marks_restricted_fields() -> None:
    schema = json.dumps(typed_adapter().json_schema())
    assert '"x-visibility": "restricted"' in schema


def _refused(kind: str, **change: Any) -> str:
    body = sample_of(kind) | change
    with pytest.raises(ValidationError) as caught:
        typed_adapter().validate_python(body)
    return str(caught.value)


def _point(**change: Any) -> list[dict[str, Any]]:
    return [sample_of("calibration")["results"][0] | change]


def test_refusals() -> None:
    assert "34 provincial" in _refused("inspection", province="02")
    assert "want a unit" in _refused("calibration", results=_point(unit="furlongs per bogon"))
    assert "empty unit" in _refused("calibration", results=_point(unit=" "))
    assert "same dimension" in _refused(
        "calibration", results=_point(unit="V", uncertainty_unit="mm")
    )
    assert "pattern" in _refused("calibration", results=_point(value="1e3"))
    assert "pattern" in _refused("calibration", results=_point(value="01.5"))
    assert "string" in _refused("calibration", results=_point(value=1.5))
    assert "0 or more" in _refused("calibration", results=_point(expanded_uncertainty="-0.1"))
    assert "more than 0" in _refused("calibration", results=_point(coverage_factor="0"))
    assert "on or before issued_on" in _refused("calibration", calibration_date="2099-01-01")
    assert "QCVN" in _refused("regulation-conformity", standards=["TCVN 1:2020"])
    assert "scheme 7" in _refused("product-conformity", scheme=7, lot=None)
    assert "less than or equal to 8" in _refused("product-conformity", scheme=9)
    assert "standards" in _refused("management-system", standards=[])
    assert "each code once" in _refused("management-system", iaf_sectors=[3, 3])
    assert "verification period" in _refused(
        "instrument-verification", result="pass", valid_until=None
    )
    assert "both" in _refused("inspection", quantity_unit=None)
    assert "decimal number" in _refused(
        "test-report", results=[{"parameter": "Pb", "value": "ít", "unit": "mg/kg"}]
    )
    assert "pattern" in _refused("test-report", holder_tax_code="123")
    assert "Extra inputs" in _refused("inspection", subject={"goods": "x"})


def test_format_1_still_validates() -> None:
    first = load_samples()["certificates"][0]
    submission = submission_adapter().validate_python(first)
    assert type(submission).__name__ == "CertificateSubmission"
    record = build_record(submission, issuer_id=first["issuer_id"], supersedes="0x" + "ab" * 32)
    assert record["supersedes"] == "0x" + "ab" * 32 and "salt" in record


def test_the_published_schema_is_current() -> None:
    """docs/schemas/certificate-format-2.json is the models' JSON Schema: regenerate it with
    `python -m registry.kinds > docs/schemas/certificate-format-2.json` after a change."""
    published = Path(__file__).parents[3] / "docs/schemas/certificate-format-2.json"
    assert json.loads(published.read_text("utf-8")) == published_schema()
