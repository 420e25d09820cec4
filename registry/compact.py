"""The compact form of a proof bundle (docs/spec.md §8.3): deterministic CBOR of the same model.

The JSON bundle (spec §8) stays the canonical form; the compact form is another encoding of the
same JSON value, for clients that ask for it (`Accept: application/vnd.certreg.bundle+cbor`)
and for files. Decoding gives back exactly the JSON bundle (the same JSON value), which is then
verified like any other: the verifier's rules are written once, over the JSON.

The mapping, by member path (`[]`: each element of an array):

- byte strings instead of text, at the proofs' hashes and the issuer key:
  `log_inclusion.hashes[]`, `status_proof.key`, `status_proof.bitmap`,
  `status_proof.siblings[]`, `status_proof.leaf.record_hash`, `status_proof.other_leaf.key`,
  `status_proof.other_leaf.value`, `checkpoint.log_root`, `checkpoint.map_root`,
  `anchor.tx_hash`, `issuer_key.key_id` (all `0x`-hex in JSON) and `issuer_key.public_key`
  (base64 in JSON); a `null` there stays null;
- everything else as its JSON value: objects as maps with text keys, arrays, text, integers,
  true, false, null. `record` and `event` in particular keep their text members (the event's
  hashes and signature too): both are hashed and signed over their canonical JSON, so they
  travel as exactly the values that were signed.

Encoding is RFC 8949 §4.2.1 core deterministic (cbor2 with `canonical=True`): shortest heads,
definite lengths, map keys in bytewise order of their encodings (for text keys: shorter first,
then bytewise). Decoding accepts only that encoding of a value of this mapping: anything else —
indefinite lengths, longer heads, unsorted or duplicate keys, bytes after the item, tags,
floats, other simple values, a byte string where text belongs or text where bytes belong — is
refused, so one bundle has exactly one compact form.

Outside the pure core: the verdict is defined over the JSON bundle alone, and this is one more
way to carry it (cbor2 does no I/O, but the core need not know about transports).
"""

import re
from collections.abc import Mapping
from typing import Any, Final, TypeAlias

import cbor2

from registry.core.encoding import b64, hex0x, parse_b64, parse_hex
from registry.core.errors import EncodingError
from registry.core.verify import claims_our_format
from registry.errors import RegistryError

__all__ = [
    "CBOR_MEDIA_TYPES",
    "MEDIA_TYPE",
    "CompactFormError",
    "claims_compact_bundle",
    "decode_bundle",
    "encode_bundle",
]

#: the compact form's own media type; plain `application/cbor` is accepted as a synonym
MEDIA_TYPE: Final = "application/vnd.certreg.bundle+cbor"
CBOR_MEDIA_TYPES: Final = (MEDIA_TYPE, "application/cbor")

_MAX_DEPTH: Final = 32  # a bundle nests 4 deep, a record a few more
_INT_MIN: Final = -(2**64)  # CBOR's major types 0 and 1; beyond, a tag (refused)
_INT_MAX: Final = 2**64 - 1

_HEX: Final = "hex"
_B64: Final = "b64"
_Schema: TypeAlias = Mapping[str, "_Schema"] | str
#: where a member is a byte string in the compact form, and how its JSON text spells it
_BYTES: Final[_Schema] = {
    "log_inclusion": {"hashes": {"[]": _HEX}},
    "status_proof": {
        "key": _HEX,
        "bitmap": _HEX,
        "siblings": {"[]": _HEX},
        "leaf": {"record_hash": _HEX},
        "other_leaf": {"key": _HEX, "value": _HEX},
    },
    "checkpoint": {"log_root": _HEX, "map_root": _HEX},
    "anchor": {"tx_hash": _HEX},
    "issuer_key": {"key_id": _HEX, "public_key": _B64},
}
# A map (of any length encoding) that names our format: "format": "certreg-bundle/…" encoded.
_MAP_HEAD: Final = frozenset([*range(0xA0, 0xBC), 0xBF])
_CLAIMS_FORMAT: Final = re.compile(rb"\x66format[\x60-\x77]certreg-bundle/")


class CompactFormError(RegistryError):
    """Bytes that are not the compact form of a bundle, or a bundle it cannot carry."""


def encode_bundle(bundle: Mapping[str, Any]) -> bytes:
    """The compact form of a JSON bundle (plain JSON values, as parsed or `model_dump`ed).

    Raises `CompactFormError` for a value JSON or the mapping cannot carry: a float, an
    integer beyond 64 bits, a non-text key, or a text at a byte member that is not the
    canonical `0x`-hex (base64 for the public key) of some bytes.
    """
    if not claims_our_format(bundle):
        raise CompactFormError("bundle: got no format certreg-bundle/…, want a proof bundle")
    value = _to_cbor(bundle, _BYTES, "$")
    try:
        return cbor2.dumps(value, canonical=True)
    except (cbor2.CBORError, ValueError, TypeError) as exc:
        raise CompactFormError(f"bundle: got a value CBOR cannot carry: {exc}") from exc


def decode_bundle(data: bytes) -> dict[str, Any]:
    """The JSON bundle a compact form carries, refusing any other encoding (see the module)."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise CompactFormError(f"compact bundle: got {type(data).__name__}, want bytes")
    data = bytes(data)
    try:
        item = cbor2.loads(
            data, allow_indefinite=False, allow_duplicate_keys=False, max_depth=_MAX_DEPTH
        )
    except (cbor2.CBORError, ValueError, TypeError, RecursionError) as exc:
        raise CompactFormError(f"compact bundle: got bytes that are not CBOR: {exc}") from exc
    bundle = _to_json(item, _BYTES, "$")
    if not isinstance(bundle, dict) or not claims_our_format(bundle):
        raise CompactFormError("compact bundle: got CBOR, want a map with format certreg-bundle/…")
    # Deterministic, and nothing after the item: exactly the bytes this value encodes to.
    if cbor2.dumps(item, canonical=True) != data:
        raise CompactFormError(
            "compact bundle: got CBOR that is not the deterministic encoding of its value "
            "(RFC 8949 §4.2.1: shortest heads, sorted keys, nothing after the item)"
        )
    return bundle


def claims_compact_bundle(data: bytes) -> bool:
    """Whether `data` is a CBOR map that names our format: a file to verify as a compact
    bundle (a damaged one is then INVALID), not something else (an input error, exit 2)."""
    return bool(data) and data[0] in _MAP_HEAD and _CLAIMS_FORMAT.search(data) is not None


def _child(schema: _Schema | None, key: str) -> _Schema | None:
    return schema.get(key) if isinstance(schema, Mapping) else None


def _bytes_of(value: object, kind: str, path: str) -> bytes | None:
    """A byte member's JSON text (`0x`-hex, or base64 for `kind` b64) as the bytes it spells."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise CompactFormError(f"{path}: got {type(value).__name__}, want a text to carry")
    try:
        if kind == _B64:
            return parse_b64(value, what=path)
        return parse_hex(value, size=None, what=path)
    except EncodingError as exc:
        raise CompactFormError(str(exc)) from exc


def _to_cbor(value: object, schema: _Schema | None, path: str) -> object:
    if isinstance(schema, str):
        return _bytes_of(value, schema, path)
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        if not _INT_MIN <= value <= _INT_MAX:
            raise CompactFormError(f"{path}: got integer {value}, want one of at most 64 bits")
        return value
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise CompactFormError(f"{path}: got a key of type {type(key).__name__}")
            out[key] = _to_cbor(item, _child(schema, key), f"{path}.{key}")
        return out
    if isinstance(value, list | tuple):
        element = _child(schema, "[]")
        return [_to_cbor(item, element, f"{path}[{i}]") for i, item in enumerate(value)]
    raise CompactFormError(f"{path}: got {type(value).__name__}, want a JSON value")


def _to_json(item: object, schema: _Schema | None, path: str) -> object:
    # Exact types: cbor2 decodes tags into other Python types (datetime, Decimal, CBORTag…),
    # and none of them is ours.
    kind = type(item)
    if isinstance(schema, str):
        if item is None:
            return None
        if kind is not bytes:
            raise CompactFormError(f"{path}: got {kind.__name__}, want a byte string")
        assert isinstance(item, bytes)
        return b64(item) if schema == _B64 else hex0x(item)
    if item is None or kind is bool or kind is str:
        return item
    if kind is int:
        assert isinstance(item, int)
        if not _INT_MIN <= item <= _INT_MAX:  # a bignum (tag 2 or 3)
            raise CompactFormError(f"{path}: got integer {item}, want one of at most 64 bits")
        return item
    if kind is dict:
        assert isinstance(item, dict)
        out = {}
        for key, value in item.items():
            if type(key) is not str:
                raise CompactFormError(f"{path}: got a key of type {type(key).__name__}")
            out[key] = _to_json(value, _child(schema, key), f"{path}.{key}")
        return out
    if kind is list:
        assert isinstance(item, list)
        element = _child(schema, "[]")
        return [_to_json(value, element, f"{path}[{i}]") for i, value in enumerate(item)]
    what = "a byte string" if kind is bytes else kind.__name__
    raise CompactFormError(f"{path}: got {what}, want a JSON value (text, integer, map, array)")
