"""The sample issuers and certificates shipped with the package (demo data, tests, benchmarks)."""

import datetime as dt
import json
from importlib import resources
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from registry.service import IssuerCreated, RegistryService


def load_samples() -> dict[str, Any]:
    """`{"issuers": [...], "certificates": [...]}` from `registry/data/sample_certificates.json`."""
    text = resources.files("registry").joinpath("data/sample_certificates.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def admit_sample_issuer(
    service: "RegistryService", issuer_id: str | None = None
) -> "IssuerCreated":
    """Admit one of the sample issuers (default: the first, a certification body)."""
    issuers = load_samples()["issuers"]
    issuer = issuers[0] if issuer_id is None else next(i for i in issuers if i["id"] == issuer_id)
    return service.add_issuer(
        issuer_id=issuer["id"],
        name_vi=issuer["name_vi"],
        name_en=issuer["name_en"],
        accreditation=issuer["accreditation"],
        kinds=issuer["kinds"],
    )


#: the 2025 provincial-level unit (by code) of each place the sample addresses name
_PROVINCE_OF_PLACE: Final = {
    "Hà Nội": "01",
    "Thái Nguyên": "19",
    "Hải Phòng": "31",
    "Đà Nẵng": "48",
    "TP. Hồ Chí Minh": "79",
    "Bình Dương": "79",  # part of Thành phố Hồ Chí Minh since 1 July 2025
    "Đồng Nai": "75",
    "Cần Thơ": "92",
    "Hậu Giang": "92",  # part of Thành phố Cần Thơ since 1 July 2025
}

#: measured points per instrument: (quantity, value, unit, expanded uncertainty)
_POINTS: Final = {
    "Cold water meter": (
        ("Lưu lượng Q3", "2.500", "m³/h", "0.010"),
        ("Sai số tại Q3", "0.8", "%", "0.3"),
    ),
    "Electronic balance": (("Khối lượng danh định", "200.000", "g", "0.002"),),
    "AC electricity meter": (
        ("Điện áp", "220.0", "V", "0.2"),
        ("Sai số năng lượng", "0.15", "%", "0.05"),
    ),
    "Fuel dispenser": (("Thể tích", "20.00", "L", "0.01"),),
}


def typed_sample(certificate: dict[str, Any], *, index: int = 0) -> dict[str, Any]:
    """The format-2 submission (docs/spec.md §2c) of one sample certificate: its values in the
    typed fields of its kind, with what a real certificate of that kind also states (province,
    scheme, results with uncertainties, stamp numbers, sites) filled in realistically and
    deterministically from the sample and `index`."""
    holder = certificate["holder"]
    subject = certificate["subject"]
    place = holder["address"].split(", ")[-2]
    out: dict[str, Any] = {
        "format": 2,
        "kind": certificate["kind"],
        "number": certificate["number"],
        "issued_on": certificate["issued_on"],
        "valid_from": certificate["valid_from"],
        "holder_name": holder["name"],
        "holder_tax_code": holder.get("tax_code"),
        "holder_address": holder["address"],
        "province": _PROVINCE_OF_PLACE[place],
        "standards": certificate.get("standards", []),
    }
    if certificate.get("valid_until") is not None:
        out["valid_until"] = certificate["valid_until"]
    kind = certificate["kind"]
    if kind in ("product-conformity", "regulation-conformity"):
        scheme = int(str(certificate.get("scheme", "Phương thức 5")).rsplit(" ", 1)[-1])
        out |= {
            "product": subject["product"],
            "model": subject.get("model"),
            "hs_code": subject.get("hs_code"),
            "manufacturer": holder["name"],
            "scheme": scheme,
            "test_reports": [f"KQ-{certificate['number']}-{n}" for n in (1, 2)],
        }
        if scheme == 7:
            out["lot"] = f"LÔ-{index:04d}"
    elif kind == "management-system":
        sites = [{"name": "Trụ sở chính", "address": holder["address"]}] + [
            {"name": f"Nhà máy số {n}", "address": f"Khu công nghiệp số {n}, {place}, Việt Nam"}
            for n in range(1, int(subject.get("sites", 1)))
        ]
        out |= {
            "scope_vi": subject["scope_vi"],
            "scope_en": subject.get("scope_en"),
            "sites": sites,
            "iaf_sectors": [3 if "22000" in "".join(out["standards"]) else 17 + index % 3],
        }
    elif kind in ("calibration", "instrument-verification"):
        out |= {
            "instrument": subject["instrument_vi"],
            "instrument_en": subject.get("instrument_en"),
            "serial": subject["serial"],
            "procedure": subject.get("procedure"),
            "manufacturer": ("Itron", "Sartorius", "Landis+Gyr", "Tatsuno")[index % 4],
        }
        if kind == "calibration":
            points = _POINTS.get(
                str(subject.get("instrument_en")), (("Giá trị", "1.000", "1", "0.001"),)
            )
            issued = dt.date.fromisoformat(certificate["issued_on"])
            out |= {
                "calibration_date": str(issued - dt.timedelta(days=1 + index % 3)),
                "results": [
                    {
                        "quantity": q,
                        "value": v,
                        "unit": u,
                        "expanded_uncertainty": e,
                        "coverage_factor": "2",
                    }
                    for q, v, u, e in points
                ],
                "traceability": "Chuẩn đo lường quốc gia do Viện Đo lường Việt Nam duy trì",
                "due_date": str(issued + dt.timedelta(days=365)),
                "lab_accreditation": "VILAS 903",
            }
        else:
            out |= {"verification_mark": f"KĐ-{100000 + index:06d}", "result": "pass"}
    elif kind == "test-report":
        method = subject.get("method", "TCVN 6238-3:2011")
        out |= {
            "sample": subject["sample"],
            "sample_code": subject.get("sample_code"),
            "received_on": certificate["issued_on"],
            "methods": [method],
            "results": [
                {
                    "parameter": "Hàm lượng chì (Pb)",
                    "value": "0.05",
                    "unit": "mg/kg",
                    "limit": "≤ 90",
                    "method": method,
                },
                {"parameter": "Ngoại quan", "value": "Đạt"},
            ],
            "results_sha256": certificate.get("results_sha256"),
            "lab_accreditation": "VILAS 903",
        }
    elif kind == "inspection":
        out |= {
            "object": subject["goods"],
            "lot": subject.get("lot"),
            "quantity": str(subject["quantity_t"]) if "quantity_t" in subject else None,
            "quantity_unit": "t" if "quantity_t" in subject else None,
            "result": "conforming",
        }
    return {k: v for k, v in out.items() if v is not None}


def typed_samples() -> list[dict[str, Any]]:
    """Every sample certificate as a format-2 submission (with its `issuer_id`)."""
    return [
        typed_sample(c, index=i) | {"issuer_id": c["issuer_id"]}
        for i, c in enumerate(load_samples()["certificates"])
    ]
