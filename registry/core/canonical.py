"""Canonical JSON (DESIGN §3): Unicode NFC on every key and string, then RFC 8785 (JCS).

Vietnamese text reaches us both precomposed and decomposed; normalising first makes both spell
the same bytes, hence the same hashes. Floats are refused outright: a certificate has no use for
them and their JCS form depends on IEEE-754 rounding that other verifiers may get wrong.
"""

import hashlib
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import TypeAlias

import rfc8785

from registry.core.errors import CanonicalizationError

__all__ = ["JSONValue", "canonical_hash", "canonical_json", "json_depth", "normalize"]

JSONValue: TypeAlias = bool | int | str | Sequence["JSONValue"] | Mapping[str, "JSONValue"] | None

# JCS writes numbers as IEEE-754 doubles; beyond this an integer would silently lose precision.
_INT_LIMIT = 2**53 - 1


def normalize(value: object, *, path: str = "$") -> JSONValue:
    """Return a copy of `value` with every string and key in NFC, checking it is plain JSON.

    Accepts dicts with string keys, lists and tuples, strings, ints within ±(2^53 - 1), bools and
    None. Raises `CanonicalizationError` naming the JSON path of the first offending value.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, int):
        if not -_INT_LIMIT <= value <= _INT_LIMIT:
            raise CanonicalizationError(
                f"{path}: got integer {value}, want |n| <= 2^53 - 1 (exact in JCS)"
            )
        return value
    if isinstance(value, float):
        raise CanonicalizationError(f"{path}: got float {value!r}, want an integer or a string")
    if isinstance(value, Mapping):
        out: dict[str, JSONValue] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise CanonicalizationError(
                    f"{path}: got key {key!r} of type {type(key).__name__}, want a string"
                )
            nfc_key = unicodedata.normalize("NFC", key)
            if nfc_key in out:
                raise CanonicalizationError(
                    f"{path}: got two keys equal to {nfc_key!r} after NFC, want distinct keys"
                )
            out[nfc_key] = normalize(item, path=f"{path}.{nfc_key}")
        return out
    if isinstance(value, list | tuple):
        return [normalize(item, path=f"{path}[{i}]") for i, item in enumerate(value)]
    raise CanonicalizationError(f"{path}: got {type(value).__name__}, want a JSON value")


def canonical_json(value: object) -> bytes:
    """The canonical bytes of a JSON value: JCS over the NFC-normalised value."""
    try:
        return rfc8785.dumps(normalize(value))
    except rfc8785.CanonicalizationError as exc:  # e.g. lone surrogates
        raise CanonicalizationError(f"$: got a value JCS rejects, want valid JSON: {exc}") from exc


def canonical_hash(value: object) -> bytes:
    """SHA-256 of the canonical bytes (used for `record_hash` and status-map values)."""
    return hashlib.sha256(canonical_json(value)).digest()


# A JSON string (skipped whole, escapes included) or one structural bracket.
_STRUCTURE = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def json_depth(data: bytes) -> int:
    """The deepest nesting of arrays and objects in JSON text, without parsing it.

    Checked before `json.loads` on untrusted input: a library we load (py_ecc, via
    eth-account) raises the recursion limit so far that deep nesting would overflow the C stack
    instead of raising RecursionError.
    """
    depth = deepest = 0
    for match in _STRUCTURE.finditer(data):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        elif token in (b"]", b"}"):
            depth -= 1
    return deepest
