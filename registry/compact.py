"""The compact form of a proof bundle (docs/spec.md §8.3): deterministic CBOR of the same model.

The JSON bundle (spec §8) stays the canonical form; the compact form is another encoding of the
same JSON value, for clients that ask for it (`Accept: application/vnd.certreg.bundle+cbor`)
and for files. Decoding gives back exactly the JSON bundle (the same JSON value), which is then
verified like any other: the verifier's rules are written once, over the JSON.

Version 2 (what `encode_bundle` writes; spec §8.3), in three steps over the JSON value:

1. **Derived members are left out.** A member whose value the rest of the bundle determines —
   `certificate_id` is `record.id`, the status leaf repeats the event's `record_hash` and `seq`,
   `status_proof.key` is the map key of the certificate id, the checkpoint's size and roots are
   in its signed note, and so on (`_DERIVED`) — is omitted when it equals that value, carried
   when it differs (a damaged bundle travels as it is), and carried as CBOR `undefined` when the
   JSON lacks it although it could be derived. The decoder fills each omitted member back in,
   in the table's order, and refuses a carried member equal to its derived value (it would have
   been omitted), so one bundle still has one compact form.
2. **Member names become small integers** (`LABELS`, one CBOR byte each) in every object of
   the bundle except the record, whose names are the issuer's; `format` stays text, so a file
   is recognised as before, and the integer key 0 of the outer map holds the version (2).
3. **Hashes, keys and signatures become byte strings** (`_BYTES`), the event's too: each has
   exactly one accepted spelling (lowercase `0x`-hex, padded base64), so the decoder writes back
   exactly the text that was hashed and signed.

Version 1 (no key 0: text member names, nothing left out, the event's members as text) is still
decoded, so compact files written before stay readable.

Encoding is RFC 8949 §4.2.1 core deterministic (cbor2 with `canonical=True`): shortest heads,
definite lengths, map keys in bytewise order of their encodings. Decoding accepts only that
encoding of a value of this mapping: anything else — indefinite lengths, longer heads, unsorted
or duplicate keys, bytes after the item, tags, floats, other simple values, a byte string where
text belongs or text where bytes belong, an unknown label — is refused.

Outside the pure core: the verdict is defined over the JSON bundle alone, and this is one more
way to carry it (cbor2 does no I/O, but the core need not know about transports).
"""

import copy
import re
from collections.abc import Callable, Mapping
from typing import Any, Final, TypeAlias

import cbor2

from registry.core.checkpoint import parse_checkpoint_body
from registry.core.encoding import b64, hex0x, parse_b64, parse_hex
from registry.core.errors import CoreError, EncodingError
from registry.core.statusmap import map_key
from registry.core.verify import claims_our_format
from registry.errors import RegistryError

__all__ = [
    "CBOR_MEDIA_TYPES",
    "COMPACT_VERSION",
    "LABELS",
    "MEDIA_TYPE",
    "CompactFormError",
    "claims_compact_bundle",
    "compact_value",
    "decode_bundle",
    "encode_bundle",
]

#: the compact form's own media type; plain `application/cbor` is accepted as a synonym
MEDIA_TYPE: Final = "application/vnd.certreg.bundle+cbor"
CBOR_MEDIA_TYPES: Final = (MEDIA_TYPE, "application/cbor")
#: the version `encode_bundle` writes, under the integer key 0 of the outer map
COMPACT_VERSION: Final = 2

_MAX_DEPTH: Final = 32  # a bundle nests 4 deep, a record a few more
_INT_MIN: Final = -(2**64)  # CBOR's major types 0 and 1; beyond, a tag (refused)
_INT_MAX: Final = 2**64 - 1
_VERSION_KEY: Final = 0

_HEX: Final = "hex"
_B64: Final = "b64"
_Schema: TypeAlias = Mapping[str, "_Schema"] | str
#: version 1: where a member is a byte string, and how its JSON text spells it
_BYTES_V1: Final[Mapping[str, _Schema]] = {
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
#: version 2: those, and the event's hashes and signature
_BYTES: Final[Mapping[str, _Schema]] = {
    **_BYTES_V1,
    "admission": {"log_inclusion": {"hashes": {"[]": _HEX}}},
    "key_approval": {"log_inclusion": {"hashes": {"[]": _HEX}}},
    "authority_action": {"log_inclusion": {"hashes": {"[]": _HEX}}},
    "transfer": {"log_inclusion": {"hashes": {"[]": _HEX}}},
    "event": {"record_hash": _HEX, "key_id": _HEX, "signature": _B64},
}

#: version 2: member names as integers, -24 … 23 (one CBOR byte each; spec §8.3); 0 is the
#: version key
LABELS: Final[Mapping[str, int]] = {
    "status": 1,
    "certificate_id": 2,
    "record": 3,
    "event": 4,
    "log_inclusion": 5,
    "status_proof": 6,
    "checkpoint": 7,
    "anchor": 8,
    "issuer_key": 9,
    "first_anchored_index": 10,
    "next_checkpoint_due": 11,
    "hashes": 12,
    "siblings": 13,
    "bitmap": 14,
    "leaf": 15,
    "note": 16,
    "index": 17,
    "chain_id": 18,
    "contract": 19,
    "tx_hash": 20,
    "block_number": 21,
    "public_key": 22,
    "seq": 23,
    "type": -1,
    "record_hash": -2,
    "issuer_id": -3,
    "key_id": -4,
    "at": -5,
    "signature": -6,
    "reason": -7,
    "supersedes": -8,
    "key": -9,
    "other_leaf": -10,
    "value": -11,
    "event_seq": -12,
    "leaf_index": -13,
    "tree_size": -14,
    "log_root": -15,
    "map_root": -16,
    "admission_seq": -17,
    "admission": -18,
    "entry": -19,
    "key_approval": -20,
    "version": -21,
    "authority_action": -22,
    "transfer": -23,
}
_NAMES: Final[Mapping[int, str]] = {label: name for name, label in LABELS.items()}
#: the objects whose member names stay text: the record is the issuer's document
_UNLABELLED: Final = frozenset({("record",)})

_Path: TypeAlias = tuple[str, ...]
_Derive: TypeAlias = Callable[[Mapping[str, Any]], object]


class _Missing:
    """No derived value: the member's source is absent or does not give one."""


_NONE: Final = _Missing()


def _at(bundle: Mapping[str, Any], path: _Path) -> object:
    value: object = bundle
    for name in path:
        if not isinstance(value, dict) or name not in value:
            return _NONE
        value = value[name]
    return value


def _copy(path: _Path) -> _Derive:
    return lambda bundle: _at(bundle, path)


def _key_of(bundle: Mapping[str, Any]) -> object:
    certificate_id = _at(bundle, ("certificate_id",))
    if not isinstance(certificate_id, str):
        return _NONE
    try:
        return hex0x(map_key(certificate_id))
    except CoreError:
        return _NONE


def _from_note(member: str) -> _Derive:
    def derive(bundle: Mapping[str, Any]) -> object:
        note = _at(bundle, ("checkpoint", "note"))
        if not isinstance(note, str):
            return _NONE
        split = note.rfind("\n\n")
        try:
            body = parse_checkpoint_body(note[: split + 1]) if split >= 0 else None
        except CoreError:
            return _NONE
        if body is None:
            return _NONE
        if member == "tree_size":
            return body.tree_size
        return hex0x(body.root_hash if member == "log_root" else body.map_root)

    return derive


#: version 2: members left out when they equal what the rest of the bundle gives, in the order
#: the decoder fills them in (a member's source is never filled in after it)
_DERIVED: Final[tuple[tuple[_Path, _Derive], ...]] = (
    (("certificate_id",), _copy(("record", "id"))),
    (("event", "certificate_id"), _copy(("certificate_id",))),
    (("status_proof", "leaf", "certificate_id"), _copy(("certificate_id",))),
    (("status_proof", "key"), _key_of),
    (("status_proof", "leaf", "record_hash"), _copy(("event", "record_hash"))),
    (("status_proof", "leaf", "event_seq"), _copy(("event", "seq"))),
    (("log_inclusion", "leaf_index"), _copy(("event", "seq"))),
    (("checkpoint", "tree_size"), _from_note("tree_size")),
    (("checkpoint", "log_root"), _from_note("log_root")),
    (("checkpoint", "map_root"), _from_note("map_root")),
    (("log_inclusion", "tree_size"), _copy(("checkpoint", "tree_size"))),
    (("issuer_key", "issuer_id"), _copy(("event", "issuer_id"))),
    (("issuer_key", "key_id"), _copy(("event", "key_id"))),
    (("first_anchored_index",), _copy(("checkpoint", "index"))),
)
_DERIVED_PATHS: Final = frozenset(path for path, _ in _DERIVED)

# A map (of any length encoding) that names our format: "format": "certreg-bundle/…" encoded.
_MAP_HEAD: Final = frozenset([*range(0xA0, 0xBC), 0xBF])
_CLAIMS_FORMAT: Final = re.compile(rb"\x66format[\x60-\x77]certreg-bundle/")


class CompactFormError(RegistryError):
    """Bytes that are not the compact form of a bundle, or a bundle it cannot carry."""


def _same(a: object, b: object) -> bool:
    """JSON equality with exact types (`true` is not `1`)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        assert isinstance(b, dict)
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        assert isinstance(b, list)
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


class _Omit:
    """Left out of the compact form: the decoder derives it."""


_OMIT: Final = _Omit()


def compact_value(bundle: Mapping[str, Any]) -> dict[object, object]:
    """The CBOR data item (before encoding) of a JSON bundle's compact form, version 2.

    Raises `CompactFormError` for a value JSON or the mapping cannot carry: a float, an integer
    beyond 64 bits, a non-text key, or a text at a byte member that is not the canonical
    `0x`-hex (base64 for a key or signature) of some bytes.
    """
    if not claims_our_format(bundle):
        raise CompactFormError("bundle: got no format certreg-bundle/…, want a proof bundle")
    replaced: dict[_Path, object] = {}
    for path, derive in _DERIVED:
        parent = _at(bundle, path[:-1])
        derived = derive(bundle)
        if not isinstance(parent, dict) or derived is _NONE:
            continue
        if path[-1] not in parent:
            replaced[path] = cbor2.undefined
        elif _same(parent[path[-1]], derived):
            replaced[path] = _OMIT
    value = _to_cbor(bundle, _BYTES, (), labels=True, replaced=replaced)
    assert isinstance(value, dict)
    value[_VERSION_KEY] = COMPACT_VERSION
    return value


def encode_bundle(bundle: Mapping[str, Any]) -> bytes:
    """The compact form (version 2) of a JSON bundle (plain JSON values, as parsed or
    `model_dump`ed); see `compact_value` for what it refuses."""
    value = compact_value(bundle)
    try:
        return cbor2.dumps(value, canonical=True)
    except (cbor2.CBORError, ValueError, TypeError) as exc:
        raise CompactFormError(f"bundle: got a value CBOR cannot carry: {exc}") from exc


def decode_bundle(data: bytes) -> dict[str, Any]:
    """The JSON bundle a compact form (version 2 or 1) carries, refusing any other encoding."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise CompactFormError(f"compact bundle: got {type(data).__name__}, want bytes")
    data = bytes(data)
    try:
        item = cbor2.loads(
            data, allow_indefinite=False, allow_duplicate_keys=False, max_depth=_MAX_DEPTH
        )
    except (cbor2.CBORError, ValueError, TypeError, RecursionError) as exc:
        raise CompactFormError(f"compact bundle: got bytes that are not CBOR: {exc}") from exc
    if type(item) is not dict:
        raise CompactFormError("compact bundle: got CBOR, want a map with format certreg-bundle/…")
    if _VERSION_KEY in item:
        bundle = _decode_v2(item)
    else:
        bundle = _to_json(item, _BYTES_V1, (), labels=False)
    if not isinstance(bundle, dict) or not claims_our_format(bundle):
        raise CompactFormError("compact bundle: got CBOR, want a map with format certreg-bundle/…")
    # Deterministic, and nothing after the item: exactly the bytes this value encodes to.
    if cbor2.dumps(item, canonical=True) != data:
        raise CompactFormError(
            "compact bundle: got CBOR that is not the deterministic encoding of its value "
            "(RFC 8949 §4.2.1: shortest heads, sorted keys, nothing after the item)"
        )
    return bundle


def _decode_v2(item: dict[object, object]) -> object:
    version = item.pop(_VERSION_KEY)
    try:
        if type(version) is not int or version != COMPACT_VERSION:
            raise CompactFormError(
                f"compact bundle: got version {version!r:.20}, want 1 (no key 0) or "
                f"{COMPACT_VERSION}"
            )
        bundle = _to_json(item, _BYTES, (), labels=True)
    finally:
        item[_VERSION_KEY] = version  # the item is re-encoded to check its bytes
    if not isinstance(bundle, dict):
        return bundle
    for path, derive in _DERIVED:
        parent = _at(bundle, path[:-1])
        if not isinstance(parent, dict):
            continue
        name = path[-1]
        derived = derive(bundle)
        where = ".".join(("$", *path))
        if derived is _NONE:
            if parent.get(name, _NONE) is cbor2.undefined:
                raise CompactFormError(f"{where}: got undefined, want a value (nothing derives it)")
        elif name not in parent:
            parent[name] = copy.deepcopy(derived)
        elif parent[name] is cbor2.undefined:
            del parent[name]
        elif _same(parent[name], derived):
            raise CompactFormError(
                f"{where}: got the value the bundle derives, want it left out (spec §8.3)"
            )
    return bundle


def claims_compact_bundle(data: bytes) -> bool:
    """Whether `data` is a CBOR map that names our format: a file to verify as a compact
    bundle (a damaged one is then INVALID), not something else (an input error, exit 2)."""
    return bool(data) and data[0] in _MAP_HEAD and _CLAIMS_FORMAT.search(data) is not None


def _child(schema: _Schema | None, key: str) -> _Schema | None:
    return schema.get(key) if isinstance(schema, Mapping) else None


def _where(path: _Path) -> str:
    return "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in ("$", *path))[1:]


def _bytes_of(value: object, kind: str, path: _Path) -> bytes | None:
    """A byte member's JSON text (`0x`-hex, or base64 for `kind` b64) as the bytes it spells."""
    if value is None:
        return None
    what = _where(path)
    if not isinstance(value, str):
        raise CompactFormError(f"{what}: got {type(value).__name__}, want a text to carry")
    try:
        if kind == _B64:
            return parse_b64(value, what=what)
        return parse_hex(value, size=None, what=what)
    except EncodingError as exc:
        raise CompactFormError(str(exc)) from exc


def _to_cbor(
    value: object,
    schema: _Schema | None,
    path: _Path,
    *,
    labels: bool,
    replaced: Mapping[_Path, object],
) -> object:
    if isinstance(schema, str):
        return _bytes_of(value, schema, path)
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        if not _INT_MIN <= value <= _INT_MAX:
            raise CompactFormError(f"{_where(path)}: got integer {value}, want one of 64 bits")
        return value
    if isinstance(value, Mapping):
        labelled = labels and path not in _UNLABELLED
        out: dict[object, object] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise CompactFormError(f"{_where(path)}: got a key of type {type(key).__name__}")
            inner = (*path, key)
            instead = replaced.get(inner, _NONE)
            if instead is _OMIT:
                continue
            label = LABELS.get(key, key) if labelled else key
            out[label] = _to_cbor(
                item, _child(schema, key), inner, labels=labelled, replaced=replaced
            )
        for inner, instead in replaced.items():
            if instead is cbor2.undefined and inner[:-1] == path:
                out[LABELS.get(inner[-1], inner[-1])] = instead
        return out
    if isinstance(value, list | tuple):
        element = _child(schema, "[]")
        return [
            _to_cbor(item, element, (*path, str(i)), labels=labels, replaced=replaced)
            for i, item in enumerate(value)
        ]
    raise CompactFormError(f"{_where(path)}: got {type(value).__name__}, want a JSON value")


def _to_json(item: object, schema: _Schema | None, path: _Path, *, labels: bool) -> object:
    # Exact types: cbor2 decodes tags into other Python types (datetime, Decimal, CBORTag…),
    # and none of them is ours.
    kind = type(item)
    if isinstance(schema, str):
        if item is None:
            return None
        if kind is not bytes:
            raise CompactFormError(f"{_where(path)}: got {kind.__name__}, want a byte string")
        assert isinstance(item, bytes)
        return b64(item) if schema == _B64 else hex0x(item)
    if item is None or kind is bool or kind is str:
        return item
    if kind is int:
        assert isinstance(item, int)
        if not _INT_MIN <= item <= _INT_MAX:  # a bignum (tag 2 or 3)
            raise CompactFormError(f"{_where(path)}: got integer {item}, want one of 64 bits")
        return item
    if kind is dict:
        assert isinstance(item, dict)
        labelled = labels and path not in _UNLABELLED
        out: dict[str, object] = {}
        for key, value in item.items():
            name = _name(key, labelled=labelled, path=path)
            if name in out:  # a label and its name, both
                raise CompactFormError(f"{_where(path)}: got member {name!r} twice")
            inner = (*path, name)
            if labelled and value is cbor2.undefined and inner in _DERIVED_PATHS:
                out[name] = value  # a derivable member the JSON lacks; `_decode_v2` removes it
                continue
            out[name] = _to_json(value, _child(schema, name), inner, labels=labelled)
        return out
    if kind is list:
        assert isinstance(item, list)
        element = _child(schema, "[]")
        return [
            _to_json(value, element, (*path, str(i)), labels=labels) for i, value in enumerate(item)
        ]
    what = "a byte string" if kind is bytes else kind.__name__
    raise CompactFormError(
        f"{_where(path)}: got {what}, want a JSON value (text, integer, map, array)"
    )


def _name(key: object, *, labelled: bool, path: _Path) -> str:
    """A member's name from its key: text, or in a labelled object of version 2 a label."""
    if type(key) is str:
        assert isinstance(key, str)
        if labelled and key in LABELS:
            raise CompactFormError(
                f"{_where(path)}: got member {key!r} by name, want its label {LABELS[key]}"
            )
        return key
    if labelled and type(key) is int and key in _NAMES:
        assert isinstance(key, int)
        return _NAMES[key]
    raise CompactFormError(f"{_where(path)}: got a key {key!r:.20}, want a member name or label")
