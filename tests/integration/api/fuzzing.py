"""What the fuzzers share: the app over a real database (SQLite and PostgreSQL, the `database_url`
fixture) and the session's Hardhat chain, an admitted issuer with some anchored certificates,
and rate limits set out of reach so that every request reaches its route.

Requests go through schemathesis's in-process ASGI transport, which starts the app's lifespan
once per app and keeps it until `serving` ends: no socket, no port.
"""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
from fastapi import FastAPI
from schemathesis.python import asgi

from api.app import create_app
from api.settings import ApiSettings
from api.stack import Stack
from registry.samples import admit_sample_issuer
from tests.integration.api.conftest import UNLIMITED, admit, bodies, make_stack
from tests.integration.conftest import Chain

__all__ = [
    "FUZZ_SETTINGS",
    "FuzzTarget",
    "fuzz_target",
    "in_process",
    "issuable",
    "make_issuable",
    "report",
]

#: Fuzzing sends thousands of requests, and chain reads, from one address: every limit is set
#: out of reach (`UNLIMITED`), so that each request gets to its route and a 429 would be a
#: limiter bug, not a busy fuzzer. The body limit is the fixture's usual 64 KiB, so that
#: bodies above it (413) are cheap to generate.
FUZZ_SETTINGS = ApiSettings(
    max_body_bytes=64 * 1024, public_base_url="http://registry.test", **UNLIMITED
)


def in_process(app: FastAPI) -> asgi.ASGIClient:
    """A `requests` session that calls `app` in process (starting its lifespan once)."""
    return asgi.get_client(cast(Any, app))  # FastAPI's ASGI signature is the looser one


_NUMBER = re.compile(r"[^\x00-\x1f\x7f/?#]{1,100}")


def issuable(submission: Any) -> Any:
    """A schema-valid submission made one this issuer may issue: a kind it holds, the subject
    that kind requires, an end on or after the start, no issuer_id. Random valid submissions
    almost never are, and then nothing gets past 403/422 to the database, the log and the links
    that follow issuance; the rest (number, holder, dates, subject values) stays as generated."""
    if not isinstance(submission, dict):
        return submission
    fixed = {k: v for k, v in submission.items() if k != "issuer_id"}
    fixed = _issuable_typed(fixed) if fixed.get("format") == 2 else _issuable_format_1(fixed)
    if _NUMBER.fullmatch(str(fixed.get("number"))) is None:
        fixed["number"] = f"FUZZ-{len(repr(submission))}"
    if str(fixed.get("valid_until", "9999")) < str(fixed.get("valid_from", "")):
        fixed.pop("valid_until")
    return fixed


def _issuable_format_1(fixed: dict[str, Any]) -> dict[str, Any]:
    fixed["kind"] = "regulation-conformity"
    # The rules the document cannot state: subject keys and values, the number's characters.
    holder = fixed.get("holder")
    name = holder.get("name") if isinstance(holder, dict) else None
    fixed["subject"] = {"product": name if isinstance(name, str) and name.strip() else "Thép"}
    return fixed


_COMMON_TYPED = ("number", "issued_on", "valid_from", "valid_until", "holder_tax_code")


def _issuable_typed(fixed: dict[str, Any]) -> dict[str, Any]:
    """A typed (format 2) submission of whatever kind made a regulation-conformity one: its
    common fields kept, the kind's own fields set (docs/spec.md §2c)."""
    name = fixed.get("holder_name")
    name = name if isinstance(name, str) and name.strip() else "Công ty TNHH Thép"
    return {k: fixed[k] for k in _COMMON_TYPED if k in fixed} | {
        "format": 2,
        "kind": "regulation-conformity",
        "holder_name": name,
        "province": "79",
        "standards": ["QCVN 7:2019/BKHCN"],
        "product": name,
        "scheme": 5,
    }


def make_issuable(case: Any) -> Any:
    """`issuable` applied to a schemathesis case's body, wherever the operation takes
    submissions (one, a batch, a replacement); other cases unchanged."""
    path, body = case.operation.path, case.body
    if case.method.upper() != "POST" or not isinstance(body, dict):
        return case
    if path == "/v1/certificates":
        case.body = issuable(body)
    elif path == "/v1/certificates/batch" and isinstance(body.get("certificates"), list):
        case.body = {**body, "certificates": [issuable(c) for c in body["certificates"]]}
    elif (path.endswith("/supersede") or path == "/v1/drafts") and "certificate" in body:
        case.body = {**body, "certificate": issuable(body["certificate"])}
    return case


def report(request: pytest.FixtureRequest, line: str) -> None:
    """Print `line` past pytest's capture: what a fuzzer reached, in the CI log."""
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if capture is None:
        print(line)
        return
    with capture.global_and_fixture_disabled():
        print(f"\n{request.node.name}: {line}")


@dataclass(frozen=True)
class FuzzTarget:
    app: FastAPI
    stack: Stack
    #: the sample certification body's Authorization header
    auth: dict[str, str]
    #: certificates it issued and the worker anchored, one of them withdrawn
    certificate_ids: list[str]
    #: another issuer's anchored certificate (the first issuer gets 403 on it)
    foreign_id: str
    #: drafts of the first issuer (one submitted), and one of another's (404 to the first)
    draft_ids: list[str]

    def anchor(self) -> None:
        self.stack.worker.run_until_idle()


def _issue(stack: Stack, auth: dict[str, str], app: FastAPI, body: dict[str, Any]) -> str:
    with in_process(app) as client:
        response = client.post("/v1/certificates", json=body, headers=auth)
    assert response.status_code in (200, 201), response.text
    return str(response.json()["id"])


def _draft(app: FastAPI, auth: dict[str, str], body: dict[str, Any]) -> str:
    """A draft of `body` under a number of its own, so that it could be approved."""
    certificate = {k: v for k, v in body.items() if k != "issuer_id"}
    certificate["number"] = f"{certificate['number']}-DRAFT"
    with in_process(app) as client:
        response = client.post("/v1/drafts", json={"certificate": certificate}, headers=auth)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


@contextmanager
def fuzz_target(database_url: str, chain: Chain, data_dir: Path) -> Iterator[FuzzTarget]:
    """The app, served in process, with certificates issued and anchored through it."""
    stack = make_stack(database_url, chain, data_dir, max_batch_size=20)
    try:
        auth = admit(stack)
        other = admit_sample_issuer(stack.service, "vn-cb-hoabinh").api_key
        app = create_app(stack, FUZZ_SETTINGS)
        try:
            ids = [_issue(stack, auth, app, body) for body in bodies()[:3]]
            other_body = {k: v for k, v in bodies("vn-cb-hoabinh")[0].items() if k != "issuer_id"}
            foreign = _issue(stack, {"Authorization": f"Bearer {other}"}, app, other_body)
            stack.service.withdraw("vn-cb-quatest3", ids[-1], reason="fraud")
            stack.worker.run_until_idle()
            drafts = [_draft(app, auth, body) for body in bodies()[:2]]
            with in_process(app) as client:
                client.post(f"/v1/drafts/{drafts[0]}/submit", json={"revision": 1}, headers=auth)
            drafts.append(_draft(app, {"Authorization": f"Bearer {other}"}, other_body))
            yield FuzzTarget(
                app=app,
                stack=stack,
                auth=auth,
                certificate_ids=ids,
                foreign_id=foreign,
                draft_ids=drafts,
            )
        finally:
            asgi.shutdown_lifespans()
    finally:
        stack.close()
