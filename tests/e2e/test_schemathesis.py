"""Schemathesis against the running server: every operation of its OpenAPI document, with the
issuer's API key, valid and invalid inputs; no 5xx, and every response (status code, content
type, body) as the document declares it.

The document is built from `api.app.create_app()` when this module is collected (the server's
port is not known yet then) and `test_served_document_is_the_one_tested` checks that the
running server serves exactly it. Schemathesis' fixture-based loader
(`schemathesis.pytest.from_fixture`) would fetch it from the server instead, but it fails on
pytest 9 (it writes `request.node._nodeid`, which pytest no longer has).
"""

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks
from schemathesis.generation import GenerationMode

from api.app import create_app
from tests.e2e.harness import RunningRegistry

pytestmark = pytest.mark.e2e

#: Examples per operation and generation mode: the whole module runs in well under a minute.
MAX_EXAMPLES = 15

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]

DOCUMENT: dict[str, Any] = create_app().openapi()
schema = schemathesis.openapi.from_dict(DOCUMENT)
schema.config.generation.update(
    max_examples=MAX_EXAMPLES, modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
)


#: What was sent and answered, printed when the module ends.
CALLS: Counter[str] = Counter()
STATUSES: Counter[int] = Counter()


@pytest.fixture(scope="module", autouse=True)
def _report(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if capture is not None and CALLS:
        with capture.global_and_fixture_disabled():
            print(
                f"\nschemathesis: {sum(CALLS.values())} requests to {len(CALLS)} operations; "
                f"statuses {dict(sorted(STATUSES.items()))}"
            )


def test_served_document_is_the_one_tested(registry: RunningRegistry) -> None:
    served = registry.http.get("/openapi.json")
    assert served.status_code == 200
    assert served.json() == DOCUMENT


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_openapi(case: schemathesis.Case[Any], registry: RunningRegistry) -> None:
    response = case.call_and_validate(
        base_url=registry.url, headers=registry.auth, checks=CHECKS, timeout=30
    )
    CALLS[case.operation.label] += 1
    STATUSES[response.status_code] += 1
