"""The portal's issuing form (api/web/portal/issue.py) without a server: every kind's form is
its model's fields, a submission written into the form and read back is the same submission,
errors land on the input they are about, and every label, hint and message is in both
catalogues."""

from typing import Any

import pytest

from api.web.i18n import LANGUAGES, catalogue, translator
from api.web.portal.issue import (
    SUPERSEDE_REASONS,
    check,
    form_sections,
    specs,
    submission_of,
    values_of,
)
from registry.fields import CertificateKind
from registry.kinds import model_of, restricted_fields
from registry.samples import typed_samples

KINDS = list(CertificateKind)


def _sample(kind: CertificateKind) -> dict[str, Any]:
    body = next(s for s in typed_samples() if s["kind"] == kind.value)
    return {k: v for k, v in body.items() if k != "issuer_id"}


@pytest.mark.parametrize("kind", KINDS, ids=str)
def test_the_form_has_every_field_of_the_model(kind: CertificateKind) -> None:
    keys = {s.key for s in specs(kind)}
    assert keys == set(model_of(kind).model_fields) - {"format", "kind", "issuer_id"}
    assert {s.key for s in specs(kind) if s.restricted} == restricted_fields(kind)


@pytest.mark.parametrize("kind", KINDS, ids=str)
def test_a_submission_through_the_form_is_unchanged(kind: CertificateKind) -> None:
    body = _sample(kind)
    values = values_of(body, kind)
    assert all(isinstance(v, str) for v in values.values())
    submission, errors, general = check(kind, values, translator("en"))
    assert (errors, general) == ({}, [])
    assert submission == model_of(kind).model_validate(body)
    assert submission_of(kind, values).body["format"] == 2


def test_errors_land_on_their_inputs() -> None:
    kind = CertificateKind.CALIBRATION
    values = values_of(_sample(kind), kind)
    # the second measured point typed in row 3, row 2 left empty
    values["results-3-quantity"] = "Nhiệt độ"
    values["results-3-value"] = "1,5"
    values["results-3-unit"] = "furlongs per gallon-ish"
    values["results-3-expanded_uncertainty"] = "-1"
    values["results-3-coverage_factor"] = "2"
    values["province"] = "99"
    values["valid_until"] = "2000-01-01"
    del values["holder_name"]
    t = translator("en")
    _, errors, general = check(kind, values, t)
    assert general == []
    assert errors["province"] == catalogue("en")["portal.issue.error.province"]
    assert errors["holder_name"] == catalogue("en")["portal.issue.error.required"]
    assert errors["results-3-value"] == catalogue("en")["portal.issue.error.pattern"]
    assert errors["results-3-unit"] == catalogue("en")["portal.issue.error.unit"]
    assert "valid_until" not in errors or errors["valid_until"]


def test_model_checks_name_their_field() -> None:
    kind = CertificateKind.INSPECTION
    values = values_of(_sample(kind), kind) | {"quantity": "12.5"}
    values.pop("quantity_unit", None)
    _, errors, _ = check(kind, values, translator("vi"))
    assert errors == {"quantity": catalogue("vi")["portal.issue.error.quantity_both"]}
    verification = CertificateKind.INSTRUMENT_VERIFICATION
    values = values_of(_sample(verification), verification)
    values["valid_until"] = ""
    _, errors, _ = check(verification, values, translator("en"))
    assert errors == {"valid_until": catalogue("en")["portal.issue.error.valid_until_pass"]}
    sites = CertificateKind.MANAGEMENT_SYSTEM
    values = {k: v for k, v in values_of(_sample(sites), sites).items() if "sites-" not in k}
    _, errors, _ = check(sites, values, translator("en"))
    assert errors == {"sites-1-address": catalogue("en")["portal.issue.error.required"]}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_label_hint_and_message_has_words(lang: str) -> None:
    t = translator(lang)
    for kind in KINDS:
        values = values_of(_sample(kind), kind)
        for section in form_sections(kind, values, {}, t):
            assert section.legend
            for item in section.items:
                assert item.group or item.label  # type: ignore[union-attr]
    words = catalogue(lang)
    for code in SUPERSEDE_REASONS:
        assert f"reason.{code}" in words
    for mode in ("new", "replace", "correct"):
        assert f"portal.issue.{mode}.submit" in words
    for mode in ("replace", "correct"):
        for part in ("title", "intro", "warning", "button"):
            assert f"portal.issue.{mode}.{part}" in words
    for done in ("issued", "exists", "replaced"):
        assert f"portal.issue.done.{done}" in words
