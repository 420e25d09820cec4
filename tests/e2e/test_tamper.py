"""Tampering with any single character of a real bundle makes the verdict INVALID
(docs/spec.md §12).

A small bundle is fetched over HTTP; every character of every JSON string in it (member names
and values) and every digit of every integer is changed, one at a time, to another character of
the same kind (hex digit for hex digit, letter for letter, digit for digit), so that each
variant is still well-formed JSON with well-formed encodings and must be caught by the checks
themselves. Each variant goes to `POST /v1/verify`, which checks it against the chain.
"""

import json
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest

from tests.e2e.harness import RunningRegistry, submission

pytestmark = pytest.mark.e2e

Path = tuple[str | int, ...]


def flip(char: str) -> str:
    """Another character of the same kind: a digit, a lowercase hex digit, a letter."""
    for alphabet in ("0123456789", "abcdef", "ghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"):
        if char in alphabet:
            return alphabet[(alphabet.index(char) + 1) % len(alphabet)]
    flipped = chr(ord(char) ^ 1)
    assert flipped != char
    return flipped


@dataclass(frozen=True)
class Variant:
    section: str
    where: str  # e.g. event.signature[17] or record.holder{name}[2]
    bundle: dict[str, Any]


def _replace(root: Any, path: Path, make: Any) -> Any:
    """A copy of `root` with the value at `path` replaced by `make(old)` (copies only the spine)."""
    if not path:
        return make(root)
    head, rest = path[0], path[1:]
    if isinstance(root, dict):
        return {**root, head: _replace(root[head], rest, make)}
    copy = list(root)
    assert isinstance(head, int)
    copy[head] = _replace(root[head], rest, make)
    return copy


def _rename(root: Any, path: Path, old: str, new: str) -> Any:
    """A copy of `root` whose object at `path` has member `old` renamed to `new` (same order)."""

    def rename(obj: dict[str, Any]) -> dict[str, Any]:
        return {(new if k == old else k): v for k, v in obj.items()}

    return _replace(root, path, rename)


def _show(path: Path) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


def variants(bundle: dict[str, Any]) -> Iterator[Variant]:
    """One variant per character of every string and digit of every integer in the bundle."""

    def walk(value: Any, path: Path) -> Iterator[Variant]:
        section = str(path[0])
        if isinstance(value, dict):
            for key, child in value.items():
                for i, char in enumerate(key):
                    new = key[:i] + flip(char) + key[i + 1 :]
                    where = f"{_show(path)}{{{key}}}[{i}]"
                    yield Variant(section, where, _rename(bundle, path, key, new))
                yield from walk(child, (*path, key))
        elif isinstance(value, list):
            for i, child in enumerate(value):
                yield from walk(child, (*path, i))
        elif isinstance(value, bool) or value is None:
            return
        elif isinstance(value, int | str):
            text = str(value)
            for i, char in enumerate(text):
                new_text = text[:i] + flip(char) + text[i + 1 :]
                new_value: int | str = int(new_text) if isinstance(value, int) else new_text
                if isinstance(value, int):
                    assert new_value != value
                yield Variant(
                    section,
                    f"{_show(path)}[{i}]",
                    _replace(bundle, path, lambda _, v=new_value: v),
                )
        else:
            raise AssertionError(f"{_show(path)}: unexpected {type(value).__name__} in a bundle")

    for key, child in bundle.items():
        for i, char in enumerate(key):
            new = key[:i] + flip(char) + key[i + 1 :]
            yield Variant("envelope", f"{{{key}}}[{i}]", _rename(bundle, (), key, new))
        yield from walk(child, (key,))


def test_every_single_character_flip_is_invalid(
    registry: RunningRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    # A few certificates so the inclusion proof and the status-map proof have some hashes.
    batch = [submission(f"E2E-TAMPER-{i}-{time.time_ns()}", template=9) for i in range(4)]
    response = registry.http.post(
        "/v1/certificates/batch", json={"certificates": batch}, headers=registry.auth
    )
    assert response.status_code == 201, response.text
    certificate = response.json()["certificates"][1]
    bundle = registry.wait_anchored(certificate["id"], seq=certificate["last_event_seq"])
    assert bundle["log_inclusion"]["hashes"] and bundle["status_proof"]["siblings"]
    assert registry.verify(bundle)["status"] == "VALID"
    size = len(json.dumps(bundle, ensure_ascii=False).encode("utf-8"))

    every = list(variants(bundle))
    assert len({json.dumps(v.bundle, sort_keys=True) for v in every}) == len(every)

    def verdict(variant: Variant) -> tuple[Variant, str, list[dict[str, Any]]]:
        got = registry.http.post("/v1/verify", json={"bundle": variant.bundle})
        assert got.status_code == 200, f"{variant.where}: HTTP {got.status_code} {got.text}"
        body = got.json()
        return variant, body["status"], body["checks"]

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(verdict, every))
    elapsed = time.monotonic() - started

    passed = [(v.where, status, checks) for v, status, checks in results if status != "INVALID"]
    per_section = Counter(v.section for v in every)
    with capsys.disabled():
        print(
            f"\ntamper: {len(every)} single-character variants of a {size}-byte bundle "
            f"({', '.join(f'{s} {n}' for s, n in per_section.items())}) "
            f"verified in {elapsed:.1f} s; {len(every) - len(passed)} INVALID"
        )
    assert not passed, f"{len(passed)} tampered bundles not INVALID, e.g.: " + "; ".join(
        f"{where} -> {status} {[c['code'] for c in checks]}" for where, status, checks in passed[:5]
    )
    # The registry still vouches for the untouched bundle.
    assert registry.verify(bundle)["status"] == "VALID"
