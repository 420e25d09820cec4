"""A Hypothesis fuzzer over `POST /v1/verify` bodies, on SQLite and PostgreSQL, against the real
chain: real bundles (anchored, anchored then overtaken by a later checkpoint, pending, unknown,
withdrawn) and records, taken apart and put back wrong — values of the wrong type, integers past
2^53 and 2^64, hex of the wrong length or case, text with NUL, lone surrogates, bidi controls or
combining marks, nesting past the parser's depth, members dropped or added, proofs truncated or
lengthened, parts of one bundle in another, random JSON.

Whatever arrives, the answer is a verdict (200, with every named check) or a problem (4xx,
RFC 9457), never a 5xx; and a bundle whose record, event or checkpoint was changed is never
VALID. Each bundle also goes, as a file, to the upload page (`/verify/bundle`), which shows
what the bundle says. A third as many bodies again with the chain unreachable: UNCONFIRMED at
best, still no 5xx from /v1/verify (the page's 503 then is by design). `EXAMPLES` bodies per
database, about 8 s each; `CERTREG_FUZZ_SCALE` as in test_fuzz_openapi.py.
"""

import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings

from anchoring.devnode import free_port
from api.schemas import VerdictOut
from api.stack import AssemblerStatusSource
from registry.core.verify import CHECK_NAMES
from tests.integration.api.conftest import bodies
from tests.integration.api.fuzzing import FuzzTarget, fuzz_target, in_process, report
from tests.integration.conftest import Chain
from verifier.chain import ChainReader
from verifier.verify import Verifier

SCALE = int(os.environ.get("CERTREG_FUZZ_SCALE", "1"))
EXAMPLES = 300 * SCALE

PROBLEM = "application/problem+json"
JSON = dict[str, Any] | list[Any] | str | int | float | bool | None


@dataclass(frozen=True)
class Raw:
    """JSON text put in as is: arrays nested past any recursion limit (json.dumps would itself
    recurse) and integers longer than Python converts to text (4,300 digits)."""

    text: str


def deep(depth: int) -> Raw:
    return Raw("[" * depth + "0" + "]" * depth)


@dataclass(frozen=True)
class Seeds:
    """Real documents to start from."""

    bundles: list[dict[str, Any]]
    records: list[dict[str, Any]]
    status_documents: list[dict[str, Any]]


def collect_seeds(target: FuzzTarget) -> Seeds:
    """Bundles of every kind the registry serves, taken through the API."""
    with in_process(target.app) as client:

        def get(path: str) -> dict[str, Any]:
            response = client.get(path)
            assert response.status_code == 200, response.text
            document: dict[str, Any] = response.json()
            return document

        current, foreign = target.certificate_ids[0], target.foreign_id
        withdrawn = target.certificate_ids[-1]
        before = get(f"/v1/certificates/{current}/proof")
        # A later checkpoint overtakes `before`: verifying it refreshes its status.
        target.stack.service.suspend("vn-cb-quatest3", current, reason="fraud")
        target.anchor()
        issued = client.post(
            "/v1/certificates",
            json={**bodies()[3], "number": "FUZZ-PENDING-1"},
            headers=target.auth,
        )
        assert issued.status_code == 201, issued.text
        pending = issued.json()["id"]
        bundles = [
            before,
            get(f"/v1/certificates/{current}/proof"),
            get(f"/v1/certificates/{withdrawn}/proof"),
            get(f"/v1/certificates/{foreign}/proof"),
            get(f"/v1/certificates/{pending}/proof"),
            get(f"/v1/certificates/0x{'5e' * 32}/proof"),
        ]
        statuses = [get(f"/v1/certificates/{cid}/status-proof") for cid in (current, withdrawn)]
    assert [b["status"] for b in bundles] == ["ANCHORED"] * 4 + ["PENDING", "UNKNOWN"]
    records = [b["record"] for b in bundles if b["record"] is not None]
    return Seeds(bundles=bundles, records=records, status_documents=statuses)


# --- hostile values -----------------------------------------------------------------------------

ODD_TEXT = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "a\x00b",
        "\ud800",
        "x\udfffy",
        "\u202eevil\u202c",
        "\u2066isolate\u2069",
        "e\u0301" * 50,
        "\u0958" * 400,
        "\ufeff0x00",
        "Đ" * 600,
        "0x",
        "0X" + "ab" * 32,
        "0x" + "AB" * 32,
        "0x" + "ab" * 31,
        "0x" + "ab" * 33,
        "0x" + "zz" * 32,
        "0x" + "ab" * 20,
        "ab" * 32,
        " 0x" + "ab" * 32,
        "AAAA",
        "=" * 44,
        "2026-13-45T25:61:61Z",
        "9999-12-31",
        "0000-00-00",
        "NaN",
        "1e400",
        "certreg-bundle/1",
        "certreg-bundle/3",
        "certreg-status/1",
        "ANCHORED",
        "PENDING",
        "UNKNOWN",
        "valid",
        "withdrawn",
        "—\n— registry.test/log",
    ]
)
HUGE_INTS = st.one_of(
    st.sampled_from([-1, 2**31, 2**53 - 1, 2**53, 2**63, 2**64, 2**64 + 1, -(2**63), 10**30]),
    st.sampled_from([Raw("9" * 5_000), Raw("-" + "1" * 4_301), Raw("1e400"), Raw("-0")]),
)
HEXES = st.builds(
    lambda raw, upper: "0x" + (raw.hex().upper() if upper else raw.hex()),
    st.binary(max_size=70),
    st.booleans(),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    HUGE_INTS,
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    ODD_TEXT,
    HEXES,
)
RANDOM_JSON: st.SearchStrategy[Any] = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
HOSTILE = st.one_of(
    SCALARS,
    RANDOM_JSON,
    st.builds(deep, st.sampled_from([50, 999, 1_001, 5_000, 20_000])),
    st.lists(HEXES, max_size=70),
)


# --- mutations ----------------------------------------------------------------------------------


def paths(document: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside `document` (dict keys and list indexes)."""
    found = [prefix]
    if isinstance(document, dict):
        for key, value in document.items():
            found += paths(value, (*prefix, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found += paths(value, (*prefix, index))
    return found


def at(document: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        document = document[step]
    return document


def replaced(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    """`document` with the value at `path` replaced (copied along the path only)."""
    if not path:
        return value
    head, *rest = path
    if isinstance(document, dict):
        return {**document, head: replaced(document[head], tuple(rest), value)}
    copy = list(document)
    copy[head] = replaced(document[head], tuple(rest), value)
    return copy


def removed(document: Any, path: tuple[Any, ...]) -> Any:
    *parents, last = path
    parent = at(document, tuple(parents))
    if isinstance(parent, dict):
        smaller: Any = {k: v for k, v in parent.items() if k != last}
    else:
        smaller = parent[:last] + parent[last + 1 :]
    return replaced(document, tuple(parents), smaller)


@st.composite
def mutated(draw: st.DrawFn, document: Any, donors: list[dict[str, Any]]) -> Any:
    """`document` after one to four mutations."""
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.sampled_from(paths(document)))
        value = at(document, where)
        kind = draw(
            st.sampled_from(
                ["replace", "remove", "add", "truncate", "extend", "transplant", "flip", "retype"]
            )
        )
        if kind == "replace" or (kind == "remove" and not where):
            document = replaced(document, where, draw(HOSTILE))
        elif kind == "remove":
            document = removed(document, where)
        elif kind == "add" and isinstance(value, dict):
            extra = draw(st.one_of(st.sampled_from(sorted(value) or ["x"]), st.text(max_size=12)))
            document = replaced(document, where, {**value, extra + "_": draw(HOSTILE)})
        elif kind == "truncate" and isinstance(value, list | str) and value:
            document = replaced(document, where, value[: draw(st.integers(0, len(value) - 1))])
        elif kind == "extend" and isinstance(value, list | str):
            longer: Any = value  # a list or a string, repeated the same way
            document = replaced(document, where, longer + longer[:1] * draw(st.integers(1, 80)))
        elif kind == "transplant":
            donor = draw(st.sampled_from(donors))
            same = [p for p in paths(donor) if p == where] or paths(donor)
            document = replaced(document, where, at(donor, draw(st.sampled_from(same))))
        elif kind == "flip" and isinstance(value, str) and value:
            # One character changed, the length kept: what passes a length check but no other.
            i = draw(st.integers(0, len(value) - 1))
            odd = draw(st.sampled_from(["0", "1", "A", "G", " ", "\x00", "\ud800", "\u202e"]))
            odd = "1" if odd == value[i] else odd
            document = replaced(document, where, value[:i] + odd + value[i + 1 :])
        elif kind == "retype":
            document = replaced(document, where, [value] if draw(st.booleans()) else str(value))
        else:
            document = replaced(document, where, draw(HOSTILE))
    return document


@st.composite
def verify_bodies(draw: st.DrawFn, seeds: Seeds) -> Any:
    """A request body: mostly a mutated bundle, else a record, the envelope, or anything."""
    donors = seeds.bundles + seeds.status_documents
    shape = draw(st.sampled_from(["bundle"] * 6 + ["record"] * 2 + ["envelope", "random"]))
    if shape == "bundle":
        if draw(st.integers(0, 9)) == 0:  # a status document is no bundle
            return {"bundle": draw(st.sampled_from(seeds.status_documents))}
        return {"bundle": draw(mutated(draw(st.sampled_from(seeds.bundles)), donors))}
    if shape == "record":
        record = draw(st.sampled_from(seeds.records))
        return {"record": draw(st.one_of(st.just(record), mutated(record, seeds.records)))}
    if shape == "envelope":
        body = {"bundle": draw(st.sampled_from(seeds.bundles))}
        return draw(mutated(body, [{"bundle": b} for b in seeds.bundles]))
    return draw(HOSTILE)


def encode(body: Any) -> bytes:
    """JSON text with \\u escapes (lone surrogates survive), NaN and Infinity as Python writes
    them, and `Raw` values as their text."""
    marks: dict[str, Raw] = {}

    def default(value: object) -> str:
        assert isinstance(value, Raw)
        mark = f"@@raw{len(marks)}@@"
        marks[mark] = value
        return mark

    text = json.dumps(body, ensure_ascii=True, allow_nan=True, default=default)
    for mark, raw in marks.items():
        text = text.replace(f'"{mark}"', raw.text)
    return text.encode("ascii")


VOUCHED = ("record", "event", "checkpoint")


def genuine(bundle: Any, seeds: Seeds) -> bool:
    """Whether what a VALID verdict vouches for (record, event, checkpoint) is a real bundle's:
    mutations may move anything else (a proof, the anchor) without making it any less VALID."""
    if not isinstance(bundle, dict):
        return False
    return any(all(bundle.get(p) == real.get(p) for p in VOUCHED) for real in seeds.bundles)


def check_answer(response: Any, bundle: Any, seeds: Seeds) -> str:
    status: int = response.status_code
    assert status < 500, f"got {status}, want no 5xx: {response.text[:2000]}"
    if status == 200:
        verdict = VerdictOut.model_validate(response.json())  # the declared shape
        assert len(verdict.checks) == len(CHECK_NAMES), verdict
        if bundle is not None and verdict.status == "VALID":
            assert genuine(bundle, seeds), f"got VALID for a changed bundle: {bundle}"
        return verdict.status
    assert 400 <= status < 500, response.text
    assert response.headers["content-type"].startswith(PROBLEM), response.headers
    problem = response.json()
    assert problem["status"] == status, problem
    assert problem["type"].startswith("urn:certreg:problem:"), problem
    assert problem["title"] and problem["detail"], problem
    return str(status)


def chain_down(target: FuzzTarget) -> Verifier:
    """The registry's verifier reading the chain from a port nothing listens on."""
    trust = target.stack.trust
    dead = f"http://127.0.0.1:{free_port()}"
    return Verifier(
        trust=trust,
        chain=ChainReader.for_urls([dead], contract=trust.contract, chain_id=trust.chain_id),
        status_source=AssemblerStatusSource(target.stack.assembler),
    )


def test_verify_answers_every_body(
    database_url: str,
    chain: Chain,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    outcomes: Counter[str] = Counter()
    with fuzz_target(database_url, chain, tmp_path) as target:
        seeds = collect_seeds(target)
        headers = {"content-type": "application/json"}
        with in_process(target.app) as client:
            # The seeds as served are verdicts, not problems: the fuzzer starts from the real path.
            for bundle in seeds.bundles:
                answer = client.post("/v1/verify", data=encode({"bundle": bundle}), headers=headers)
                assert answer.status_code == 200, answer.text

            def fuzz(examples: int, *, page_statuses: frozenset[int]) -> None:
                @settings(
                    max_examples=examples,
                    deadline=None,
                    derandomize=SCALE == 1,
                    database=None,
                    suppress_health_check=list(HealthCheck),
                )
                @given(body=verify_bodies(seeds))
                def run(body: Any) -> None:
                    response = client.post("/v1/verify", data=encode(body), headers=headers)
                    bundle = body.get("bundle") if isinstance(body, dict) else None
                    outcomes[check_answer(response, bundle, seeds)] += 1
                    if bundle is not None:
                        # The same bundle as a file, to the page that shows what it says.
                        files = {"bundle": ("bundle.json", encode(bundle), "application/json")}
                        page = client.post("/verify/bundle", files=files)
                        assert page.status_code < 500 or page.status_code in page_statuses, (
                            f"got {page.status_code}: {page.text[:2000]}"
                        )
                        outcomes[f"page {page.status_code}"] += 1

                run()

            fuzz(EXAMPLES, page_statuses=frozenset())
            # Without the chain: /v1/verify still answers (UNCONFIRMED at best); the page says
            # the check could not be made with a 503 (api/web/routes.py), which is no crash.
            monkeypatch.setitem(target.stack.__dict__, "verifier", chain_down(target))
            fuzz(EXAMPLES // 3, page_statuses=frozenset({503}))
    report(request, f"{outcomes.total()} answers: {dict(outcomes)}")
    # Mutations reached the verifier (verdicts), and malformed requests were refused (4xx).
    assert outcomes["422"] > 0, outcomes
    assert sum(n for k, n in outcomes.items() if k.isupper()) > EXAMPLES // 4, outcomes
    assert outcomes["page 200"] > EXAMPLES // 4, outcomes
    assert {"INVALID", "VALID", "UNCONFIRMED"} <= outcomes.keys(), outcomes
