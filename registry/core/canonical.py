"""Canonical JSON (docs/spec.md §2): Unicode NFC on every key and string, then RFC 8785 (JCS).

Vietnamese text reaches us both precomposed and decomposed; normalising first makes both spell
the same bytes, hence the same hashes. Floats are refused outright: a certificate has no use for
them and their JCS form depends on IEEE-754 rounding that other verifiers may get wrong.
"""

import hashlib
import json
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


class _Unusual(Exception):  # noqa: N818 (a signal between two private functions, not an error)
    """Something `_normalize_common` does not handle: the checked path decides."""


_nfc = unicodedata.normalize


def _normalize_common(value: object) -> JSONValue:
    """`normalize` for the common case, without tracking the JSON path: exact dict, list, str,
    int, bool and None, with ASCII keys. Anything else raises `_Unusual`, and `_normalize_checked`
    gives the answer (or the error naming the path); on what this accepts, both agree.

    ASCII keys also make code-point key order (the C encoder's `sort_keys`) equal to the UTF-16
    order RFC 8785 wants.
    """
    if type(value) is str:
        return _nfc("NFC", value)
    if type(value) is dict:
        out: dict[str, JSONValue] = {}
        for key, item in value.items():
            if type(key) is not str or not key.isascii():
                raise _Unusual
            # ASCII is NFC already: the key is its own normal form. Strings inline: most values.
            out[key] = _nfc("NFC", item) if type(item) is str else _normalize_common(item)
        return out
    if type(value) is list:
        return [_normalize_common(item) for item in value]
    if type(value) is int:
        if not -_INT_LIMIT <= value <= _INT_LIMIT:
            raise _Unusual
        return value
    if value is None or type(value) is bool:
        return value
    raise _Unusual


def normalize(value: object, *, path: str = "$") -> JSONValue:
    """Return a copy of `value` with every string and key in NFC, checking it is plain JSON.

    Accepts dicts with string keys, lists and tuples, strings, ints within ±(2^53 - 1), bools and
    None. Raises `CanonicalizationError` naming the JSON path of the first offending value.
    """
    try:
        return _normalize_common(value)
    except _Unusual:
        return _normalize_checked(value, path=path)


def _normalize_checked(value: object, *, path: str) -> JSONValue:
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
            out[nfc_key] = _normalize_checked(item, path=f"{path}.{nfc_key}")
        return out
    if isinstance(value, list | tuple):
        return [_normalize_checked(item, path=f"{path}[{i}]") for i, item in enumerate(value)]
    raise CanonicalizationError(f"{path}: got {type(value).__name__}, want a JSON value")


# For a normalised value with ASCII keys, the C JSON encoder — sorted keys, no whitespace,
# non-ASCII left literal — writes exactly the JCS bytes: the same string escapes (\" \\ \b \f \n
# \r \t, other controls as lowercase \u00xx, everything else literal), the same digits for
# integers within ±(2^53 - 1), true/false/null, and, for ASCII keys, the same key order (JCS sorts
# by UTF-16 code units, Python by code points; they differ only above U+FFFF). Values outside
# that common case take rfc8785. The C encoder is 4-8 times faster than rfc8785's pure-Python
# one, and canonicalising records and events is the issuance hot path.
# tests/property/test_canonical_properties.py checks that the two paths agree.
_ENCODER = json.JSONEncoder(
    ensure_ascii=False,
    separators=(",", ":"),
    sort_keys=True,
    allow_nan=False,
    check_circular=False,  # a normalised value is a fresh tree
)


def canonical_json(value: object) -> bytes:
    """The canonical bytes of a JSON value: JCS over the NFC-normalised value."""
    try:
        try:
            common = _normalize_common(value)
        except _Unusual:
            return rfc8785.dumps(_normalize_checked(value, path="$"))
        return _ENCODER.encode(common).encode("utf-8")  # lone surrogates raise, as in rfc8785
    # rfc8785 raises UnicodeEncodeError itself for a lone surrogate in a key.
    except (rfc8785.CanonicalizationError, UnicodeEncodeError) as exc:
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
