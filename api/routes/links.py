"""OpenAPI links (OpenAPI 3.1, "Link Object"): how values of one response feed the next request.

An issued certificate's id leads to its reads, proofs, QR codes and lifecycle calls; a proof
bundle to `POST /v1/verify`; a checkpoint to the log's entries and consistency proofs. Swagger
UI shows them to client authors, and schemathesis follows them in its stateful runs
(tests/integration/api/test_fuzz_openapi.py), which is how issuance → suspend → proof → verify
sequences get exercised at all: a random certificate id is never one that exists.

Targets are named by `operationRef` (a JSON pointer into the document), not `operationId`, so
that no operation id changes for clients generated from the document.
"""

from typing import Any

__all__ = ["CERTIFICATE_PATH", "certificate_links", "link", "operation_ref"]

CERTIFICATE_PATH = "/v1/certificates/{certificate_id}"


def operation_ref(path: str, method: str) -> str:
    """`#/paths/<path, escaped per RFC 6901>/<method>`."""
    return "#/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method.lower()


def link(
    path: str,
    method: str,
    description: str,
    *,
    parameters: dict[str, Any] | None = None,
    request_body: Any = None,
) -> dict[str, Any]:
    """One Link Object; values are runtime expressions (`$response.body#/id`) or constants."""
    definition: dict[str, Any] = {
        "operationRef": operation_ref(path, method),
        "description": description,
    }
    if parameters:
        definition["parameters"] = parameters
    if request_body is not None:
        definition["requestBody"] = request_body
    return definition


def certificate_links(id_expression: str, record_expression: str | None) -> dict[str, Any]:
    """Links from a response naming a certificate (its id at `id_expression`) to everything
    that takes that id, and, with `record_expression`, to verifying its record."""
    by_id = {"certificate_id": id_expression}
    suffixes = {
        "GetCertificate": ("", "get", "the certificate and its current status"),
        "GetProof": ("/proof", "get", "its proof bundle"),
        "GetStatusProof": ("/status-proof", "get", "its status at the latest checkpoint"),
        "GetQrSvg": ("/qr.svg", "get", "its QR code (SVG)"),
        "GetQrPng": ("/qr.png", "get", "its QR code (PNG)"),
        "GetPdf": ("/pdf", "get", "its printable certificate"),
        "Suspend": ("/suspend", "post", "suspend it"),
        "Reinstate": ("/reinstate", "post", "reinstate it"),
        "Withdraw": ("/withdraw", "post", "withdraw it"),
        "Supersede": ("/supersede", "post", "issue its replacement"),
    }
    links = {
        name: link(CERTIFICATE_PATH + suffix, method, description, parameters=by_id)
        for name, (suffix, method, description) in suffixes.items()
    }
    if record_expression is not None:
        links["VerifyRecord"] = link(
            "/v1/verify",
            "post",
            "check the registered record against the registry and the chain",
            request_body={"record": record_expression},
        )
    return links
