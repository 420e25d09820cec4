"""Schemathesis over the whole OpenAPI document, in process, on SQLite and on PostgreSQL, against
the real chain: no input makes the API answer 5xx, and every answer is one the document declares.

Two runs per database, over one registry that an issuer has already used (certificates issued,
one withdrawn, another issuer's certificate, all anchored):

- every operation on its own, with schema-valid (positive) and schema-breaking (negative) cases,
  authenticated as the issuer, as nobody, or with a forged key; positive cases of operations on
  a certificate also aim at the certificates that exist, not only at random ids (always 404),
  and some valid submissions are made issuable (`fuzzing.issuable`), so that generated text,
  dates and numbers reach the database;
- the stateful run: sequences of valid requests that follow the document's links
  (api/routes/links.py), e.g. issue → suspend → reinstate → withdraw → proof → `POST /v1/verify`
  of that bundle, with the anchoring worker run after each change, so that proofs and verdicts
  are of anchored state.

The checks, and why these:

- `not_a_server_error`: the point — no 5xx from input;
- `status_code_conformance`, `content_type_conformance`, `response_schema_conformance`: the
  answer is one the document declares (problem JSON, a verdict, a bundle), so clients generated
  from it can read every answer;
- `negative_data_rejection`: a request that breaks the schema is refused (4xx), not served;
- stateful runs add `ensure_resource_availability`: a certificate just issued can be read.

Left out: `positive_data_acceptance` (a schema-valid request is legitimately 403, 404 or 409: a
kind this issuer may not issue, an id never issued, a transition the status forbids), the
response-time check (this shares 2 cores with the rest of CI) and the auth checks that need a
`securitySchemes` entry (the document has none: the issuer's key is a plain header).

Bounded for CI: `EXAMPLES` cases per operation, `STATEFUL_RUNS` sequences of at most
`STATEFUL_STEPS` calls; about 20 s per database. `CERTREG_FUZZ_SCALE=10` runs ten times as many,
with fresh random cases each run instead of the fixed ones CI uses.
"""

import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from traceback import format_exc
from typing import Any, Final

import hypothesis.strategies as st
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import given as hypothesis_given
from hypothesis.errors import Flaky
from schemathesis import checks
from schemathesis.core.failures import FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.generation.stateful import run_state_machine_as_test
from schemathesis.generation.stateful.state_machine import APIStateMachine

from tests.integration.api.fuzzing import FuzzTarget, fuzz_target, make_issuable, report
from tests.integration.conftest import Chain

SCALE = int(os.environ.get("CERTREG_FUZZ_SCALE", "1"))
#: generated cases per operation (positive and negative together)
EXAMPLES = 30 * SCALE
STATEFUL_RUNS = 25 * SCALE
STATEFUL_STEPS = 15

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.negative_data_rejection,
]
STATEFUL_CHECKS = [*CHECKS, checks.ensure_resource_availability]

FORGED = {"Authorization": "Bearer crk_0000000000000000_" + "A" * 43}


def hypothesis_settings(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples,
        deadline=None,
        # CI runs the same cases each time; a wider local run explores.
        derandomize=SCALE == 1,
        database=None,
        suppress_health_check=list(HealthCheck),
        stateful_step_count=STATEFUL_STEPS,
        report_multiple_bugs=False,
    )


def load_schema(target: FuzzTarget) -> Any:
    """The document as the app serves it, bound to the app (requests go to it in process)."""
    return schemathesis.openapi.from_asgi("/openapi.json", target.app)


def operation_test(
    operation: Any, target: FuzzTarget, statuses: Counter[int], failures: list[str]
) -> Callable[[], None]:
    """A Hypothesis test of one operation. Failures are collected, not raised: the registry's
    state moves on between examples, so Hypothesis could not replay one to shrink it; the
    failure's own request (schemathesis prints it as curl) is the reproduction."""
    strategies = [
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
    ]
    if operation.method.upper() == "POST":
        strategies.append(operation.as_strategy().map(make_issuable))
    if any(p.name == "certificate_id" for p in operation.iter_parameters()):
        strategies += [
            operation.as_strategy(path_parameters={"certificate_id": cid})
            for cid in [*target.certificate_ids, target.foreign_id]
        ]
    if any(p.name == "draft_id" for p in operation.iter_parameters()):
        strategies += [
            operation.as_strategy(path_parameters={"draft_id": did}) for did in target.draft_ids
        ]
    strategies += operation.get_strategies_from_examples()
    headers = st.sampled_from([target.auth, target.auth, target.auth, {}, FORGED])

    @hypothesis_settings(EXAMPLES)
    @hypothesis_given(case=st.one_of(strategies), auth=headers)
    def run(case: schemathesis.Case[Any], auth: dict[str, str]) -> None:
        try:
            response = case.call(headers=auth)
        except Exception:  # the app raised: in process, a 500 arrives as its exception
            failures.append(f"{operation.label}: {case.as_curl_command()}\n{format_exc()}")
            return
        statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS, headers=auth)
        except FailureGroup as failure:
            failures.append(f"{operation.label}: {failure}")

    return run


def test_every_operation(
    database_url: str, chain: Chain, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    with fuzz_target(database_url, chain, tmp_path) as target:
        schema = load_schema(target)
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 19  # every documented operation is fuzzed
        for operation in operations:
            operation_test(operation, target, statuses, failures)()
    report(request, f"{statuses.total()} requests, statuses {dict(sorted(statuses.items()))}")
    assert not failures, "\n\n".join(failures[:10])
    assert not [s for s in statuses if s >= 500], statuses
    # The fuzzer got through authentication and validation to the routes themselves.
    assert statuses[200] + statuses[201] > len(operations), statuses


def state_machine(
    target: FuzzTarget, statuses: Counter[str], failures: list[str]
) -> type[APIStateMachine]:
    """Schemathesis's state machine over the document's links, authenticated, anchoring after
    each change. Failures are collected with the calls that led to them, not raised: which
    rules can run depends on earlier answers, and those change as the registry fills, so
    Hypothesis could not replay a sequence to shrink it."""
    schema = load_schema(target)
    # Valid requests only: they are what the links can carry on from (a schema-breaking one
    # is refused, and test_every_operation sends those).
    schema.config.generation.update(modes=[GenerationMode.POSITIVE])
    base = schema.as_state_machine()

    class Workflow(base):  # type: ignore[valid-type, misc]
        def setup(self) -> None:
            self.calls: list[str] = []
            statuses["scenarios"] += 1

        def get_call_kwargs(self, case: schemathesis.Case[Any]) -> dict[str, Any]:
            return {"headers": target.auth}

        def before_call(self, case: schemathesis.Case[Any]) -> None:
            # Half the valid submissions made issuable, so that sequences get past issuance.
            positive = case.meta is None or case.meta.generation.mode.is_positive
            if positive and len(repr(case.body)) % 2 == 0:
                make_issuable(case)

        def _step(self, input: Any) -> Any:
            try:
                return super()._step(input)
            except Exception:  # the app raised (a 500 in process), or anchoring failed
                failures.append(
                    "after " + " | ".join(self.calls) + f":\n{input.case.as_curl_command()}"
                    f"\n{format_exc()}"
                )
                return None  # no response to follow links from

        def after_call(self, response: Any, case: schemathesis.Case[Any]) -> None:
            super().after_call(response, case)
            statuses[f"{case.operation.label} {response.status_code}"] += 1
            self.calls.append(f"{case.operation.label} -> {response.status_code}")
            if case.method.upper() == "POST" and response.status_code in (200, 201):
                target.anchor()  # the next proof or verdict is of anchored state

        def validate_response(
            self, response: Any, case: schemathesis.Case[Any], **kwargs: Any
        ) -> None:
            try:
                case.validate_response(
                    response,
                    checks=STATEFUL_CHECKS,
                    headers=target.auth,
                    transport_kwargs=kwargs or None,
                    recorder=self.recorder,
                )
            except FailureGroup as failure:
                failures.append("after " + " | ".join(self.calls) + f":\n{failure}")

    return Workflow


#: the operations that issue a certificate
ISSUING: Final = frozenset(
    {
        "POST /v1/certificates",
        "POST /v1/certificates/batch",
        "POST /v1/certificates/{certificate_id}/supersede",
        "POST /v1/drafts/{draft_id}/approve",
    }
)


def test_stateful_sequences(
    database_url: str, chain: Chain, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    statuses: Counter[str] = Counter()
    failures: list[str] = []
    with fuzz_target(database_url, chain, tmp_path) as target:
        machine = state_machine(target, statuses, failures)
        for _ in range(5):
            left = STATEFUL_RUNS - statuses["scenarios"]
            if left <= 0:
                break
            try:
                run_state_machine_as_test(machine, settings=hypothesis_settings(left))
            except Flaky:
                # The registry moved on since the sequence Hypothesis is replaying, so it branches
                # otherwise (a rule's inputs come from earlier answers). Failures are collected,
                # never raised, so this is no failure: like schemathesis's own runner, start over
                # for the runs left.
                continue
    calls = {s: n for s, n in statuses.items() if s != "scenarios"}
    by_status = Counter[str]()
    for call, n in calls.items():
        by_status[call.rsplit(" ", 1)[1]] += n
    succeeded = sorted({c.rsplit(" ", 1)[0] for c in calls if c.endswith((" 200", " 201"))})
    report(
        request,
        f"{statuses['scenarios']} sequences, {sum(calls.values())} calls, statuses "
        f"{dict(sorted(by_status.items()))}; 2xx from {len(succeeded)} operations",
    )
    assert statuses["scenarios"] >= STATEFUL_RUNS // 2, statuses
    assert not failures, "\n\n".join(failures[:10])
    assert not [s for s in calls if int(s.rsplit(" ", 1)[1]) >= 500], calls
    # The links were followed: a certificate was issued, then acted on and verified.
    followed = {s.rsplit(" ", 1)[0] for s in calls if s.endswith((" 200", " 201"))}
    # Issued by any of the routes that issue: with drafts and imports there are more entry
    # points than sequences, so which one a run reaches first varies.
    assert followed & ISSUING, statuses
    # ...then a link from it followed to the certificate (its proof, a change, its PDF, …).
    assert any("{certificate_id}" in call for call in followed - ISSUING), statuses
