"""Events: the entries of the log, and the issuer's Ed25519 signature over each (docs/spec.md §3).

An event's JSON form is its wire form: hashes and ids `0x` hex, `at` as `YYYY-MM-DDTHH:MM:SSZ`,
the signature base64, absent optional fields omitted (never `null`). The issuer signs the
canonical JSON (NFC + RFC 8785) of that form without `signature`; the log entry (leaf) is the
canonical JSON of the whole signed form.
"""

import copy
import datetime as dt
import enum
import json
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from registry.core import ed25519
from registry.core.canonical import canonical_json, json_depth
from registry.core.encoding import (
    b64,
    format_timestamp,
    hex0x,
    parse_b64,
    parse_hex,
    parse_timestamp,
)
from registry.core.errors import CanonicalizationError, EncodingError, SignatureError
from registry.core.hashing import RFC6962, sha256

__all__ = [
    "ISSUER_STATEMENT",
    "MAX_SEQ",
    "REGISTRY_SIGNED",
    "Event",
    "EventType",
    "issuer_chain_id",
    "issuer_key_id",
    "load_entry",
    "sign_event",
    "verify_event_signature",
]

MAX_SEQ: Final = 2**53 - 1  # JCS writes numbers as IEEE-754 doubles: exact up to here
_MAX_ENTRY_DEPTH: Final = 2  # an event is one object of scalars
_MIN_YEAR: Final = 1970  # before Unix time, and `%Y` would not give four digits below 1000
_MAX_YEAR: Final = 9999

_REQUIRED: Final = frozenset(
    {"seq", "type", "certificate_id", "record_hash", "issuer_id", "key_id", "at"}
)
_OPTIONAL: Final = frozenset({"reason", "supersedes", "admission_seq", "version", "signature"})

#: the event formats (docs/spec.md §3.1): 1, the registry signs the whole event, `seq` included
#: (absent from the wire form); 2, the issuer signs a statement without the members the registry
#: fills in at append time, which no client can know beforehand
REGISTRY_SIGNED: Final = 1
ISSUER_STATEMENT: Final = 2
_VERSIONS: Final = frozenset({REGISTRY_SIGNED, ISSUER_STATEMENT})
#: what the registry adds to a version-2 statement when it appends it: outside the signature
_APPENDED: Final = ("seq", "admission_seq")


class EventType(enum.StrEnum):
    """What an event does to its certificate."""

    ISSUE = "issue"
    SUSPEND = "suspend"
    REINSTATE = "reinstate"
    WITHDRAW = "withdraw"
    SUPERSEDE = "supersede"


_EVENT_TYPES: Final = frozenset(kind.value for kind in EventType)

# Where `supersedes` may appear: required on `supersede`, optional on `issue` (a replacement
# certificate naming the one it replaces), meaningless elsewhere.
_SUPERSEDES_ALLOWED: Final = frozenset({EventType.ISSUE, EventType.SUPERSEDE})
# Where `admission_seq` may appear: the events that put a certificate in force, which the CB's
# admission must allow (docs/spec.md §3, §3a.6).
_ADMISSION_ALLOWED: Final = frozenset({EventType.ISSUE, EventType.SUPERSEDE, EventType.REINSTATE})


def _nfc(value: object, *, what: str, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        want = "a string or absent" if optional else "a string"
        raise EncodingError(f"event.{what}: got {type(value).__name__}, want {want}")
    if not value:
        want = "a non-empty string or the field omitted" if optional else "a non-empty string"
        raise EncodingError(f"event.{what}: got an empty string, want {want}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise EncodingError(f"event.{what}: got a lone surrogate, want valid Unicode") from exc
    return unicodedata.normalize("NFC", value)


def _check_bytes(value: object, *, size: int, what: str) -> bytes:
    if not isinstance(value, bytes) or len(value) != size:
        raise EncodingError(f"event.{what}: got {value!r:.80}, want {size} bytes")
    return value


@dataclass(frozen=True, kw_only=True)
class Event:
    """One log entry. Strings are kept in NFC, `at` in UTC, so equal events hash equally.

    `signature` is None until `sign_event` fills it in; only a signed event is a log leaf.
    """

    seq: int
    type: EventType
    certificate_id: str
    record_hash: bytes
    issuer_id: str
    key_id: bytes
    at: dt.datetime
    reason: str | None = None
    supersedes: str | None = None
    #: the log position of the CB's admission in force when the event was appended (§3a)
    admission_seq: int | None = None
    #: the event format: REGISTRY_SIGNED (1) or ISSUER_STATEMENT (2)
    version: int = REGISTRY_SIGNED
    signature: bytes | None = None

    def __post_init__(self) -> None:
        seq = self.seq
        if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= MAX_SEQ:
            raise EncodingError(f"event.seq: got {seq!r:.40}, want an integer 0 <= n <= 2^53 - 1")
        kind = _event_type(self.type)
        object.__setattr__(self, "type", kind)
        version = self.version
        if isinstance(version, bool) or version not in _VERSIONS:
            raise EncodingError(f"event.version: got {version!r:.40}, want 1 (omitted) or 2")
        for name in ("certificate_id", "issuer_id"):
            object.__setattr__(self, name, _nfc(getattr(self, name), what=name))
        for name in ("reason", "supersedes"):
            object.__setattr__(self, name, _nfc(getattr(self, name), what=name, optional=True))
        _check_bytes(self.record_hash, size=32, what="record_hash")
        _check_bytes(self.key_id, size=32, what="key_id")
        if self.signature is not None:
            _check_bytes(self.signature, size=64, what="signature")
        object.__setattr__(self, "at", _check_at(self.at))

        if self.supersedes is None and kind is EventType.SUPERSEDE:
            raise EncodingError("event.supersedes: got none, want it on a 'supersede' event")
        if self.supersedes is not None:
            if kind not in _SUPERSEDES_ALLOWED:
                raise EncodingError(
                    f"event.supersedes: got it on a {kind.value!r} event, "
                    "want it only on 'issue' or 'supersede'"
                )
            if self.supersedes == self.certificate_id:
                raise EncodingError(
                    f"event.supersedes: got {self.supersedes!r:.80}, want another certificate"
                )
        admission = self.admission_seq
        if admission is not None:
            if (
                isinstance(admission, bool)
                or not isinstance(admission, int)
                or not (0 <= admission < seq)
            ):
                raise EncodingError(
                    f"event.admission_seq: got {admission!r:.40}, want an integer 0 <= n < seq"
                )
            if kind not in _ADMISSION_ALLOWED:
                raise EncodingError(
                    f"event.admission_seq: got it on a {kind.value!r} event, want it only on "
                    "'issue', 'supersede' or 'reinstate'"
                )

    def to_json(self) -> dict[str, str | int]:
        """The wire form: optional fields omitted when absent, never null."""
        out: dict[str, str | int] = {
            "seq": self.seq,
            "type": self.type.value,
            "certificate_id": self.certificate_id,
            "record_hash": hex0x(self.record_hash),
            "issuer_id": self.issuer_id,
            "key_id": hex0x(self.key_id),
            "at": format_timestamp(self.at),
        }
        if self.reason is not None:
            out["reason"] = self.reason
        if self.supersedes is not None:
            out["supersedes"] = self.supersedes
        if self.admission_seq is not None:
            out["admission_seq"] = self.admission_seq
        if self.version != REGISTRY_SIGNED:
            out["version"] = self.version
        if self.signature is not None:
            out["signature"] = b64(self.signature)
        return out

    @classmethod
    def from_json(cls, obj: object) -> "Event":
        """Parse the wire form strictly.

        Refused with `EncodingError`: a non-object, unknown or missing fields, `null` anywhere,
        wrong JSON types (a bool or float for `seq`), and every non-canonical encoding of a hash,
        key id, timestamp or signature. A missing `signature` gives an unsigned event.
        """
        if not isinstance(obj, Mapping):
            raise EncodingError(f"event: got {type(obj).__name__}, want a JSON object")
        keys = set(obj)
        if unknown := keys - _REQUIRED - _OPTIONAL:
            raise EncodingError(f"event: got unknown fields {sorted(map(str, unknown))}, want none")
        if missing := _REQUIRED - keys:
            raise EncodingError(f"event: got no {sorted(missing)}, want every required field")
        for key in sorted(keys & _OPTIONAL):
            if obj[key] is None:
                raise EncodingError(f"event.{key}: got null, want a value or the field omitted")

        def text(name: str) -> str:
            value = obj[name]
            if not isinstance(value, str):
                raise EncodingError(f"event.{name}: got {type(value).__name__}, want a string")
            return value

        seq = obj["seq"]
        if isinstance(seq, bool) or not isinstance(seq, int):
            raise EncodingError(f"event.seq: got {type(seq).__name__}, want an integer")
        signature = obj.get("signature")
        version = obj.get("version", REGISTRY_SIGNED)
        # Version 1 is the format without the member: spelling it out would be a second
        # encoding of one event, with another leaf hash.
        if "version" in obj and (
            isinstance(version, bool) or not isinstance(version, int) or version == REGISTRY_SIGNED
        ):
            raise EncodingError(f"event.version: got {version!r:.40}, want 2 or the member omitted")
        admission = obj.get("admission_seq")
        if admission is not None and (
            isinstance(admission, bool) or not isinstance(admission, int)
        ):
            raise EncodingError(
                f"event.admission_seq: got {type(admission).__name__}, want an integer"
            )
        return cls(
            seq=seq,
            type=_event_type(text("type")),
            certificate_id=text("certificate_id"),
            record_hash=parse_hex(text("record_hash"), what="event.record_hash"),
            issuer_id=text("issuer_id"),
            key_id=parse_hex(text("key_id"), what="event.key_id"),
            at=parse_timestamp(text("at"), what="event.at"),
            reason=text("reason") if "reason" in obj else None,
            supersedes=text("supersedes") if "supersedes" in obj else None,
            admission_seq=admission,
            version=version,
            signature=(
                None
                if signature is None
                else parse_b64(text("signature"), size=64, what="event.signature")
            ),
        )

    @classmethod
    def from_statement(cls, obj: object, *, seq: int, admission_seq: int | None) -> "Event":
        """The event a signed version-2 statement becomes when appended at `seq`.

        `obj` is the statement as its signer sent it (`statement_json` plus `signature`):
        `version` 2, signed, and without `seq` or `admission_seq`, which are the registry's.
        """
        if not isinstance(obj, Mapping):
            raise EncodingError(f"statement: got {type(obj).__name__}, want a JSON object")
        if given := sorted(name for name in _APPENDED if name in obj):
            raise EncodingError(
                f"statement: got {given}, want them left to the registry, which assigns them "
                "when it appends the statement"
            )
        if obj.get("version") != ISSUER_STATEMENT:
            raise EncodingError(
                f"statement.version: got {obj.get('version')!r:.40}, want 2 (a statement the "
                "issuer signed without seq)"
            )
        if "signature" not in obj:
            raise EncodingError("statement.signature: got none, want the issuer's signature")
        wire: dict[str, object] = {**obj, "seq": seq}
        if admission_seq is not None:
            wire["admission_seq"] = admission_seq
        return cls.from_json(wire)

    @classmethod
    def from_leaf(cls, entry: bytes) -> "Event":
        """Parse a log entry: UTF-8 canonical JSON of a signed event, byte for byte.

        An entry that parses but is not exactly `leaf_bytes()` of its event (other key order,
        whitespace, escapes, duplicate keys, NFD text) is refused: its leaf hash would differ.
        """
        return cls.from_loaded_leaf(load_entry(entry, max_depth=_MAX_ENTRY_DEPTH), entry)

    @classmethod
    def from_loaded_leaf(cls, obj: object, entry: bytes) -> "Event":
        """`from_leaf` of an entry already parsed: `obj` is `load_entry(entry, …)`.

        `registry.core.governance.parse_log_entry` parses an entry once to tell an event from an
        authority entry, and hands the parsed JSON on rather than parsing it twice.
        """
        event = cls.from_json(obj)
        if event.signature is None:
            raise EncodingError("log entry: got an unsigned event, want a signed one")
        if event.leaf_bytes() != entry:
            raise EncodingError("log entry: got non-canonical JSON, want JCS of the NFC event")
        return event

    def signing_bytes(self) -> bytes:
        """What the issuer signs: canonical JSON of the wire form without `signature` — and,
        for a version-2 statement, without `seq` and `admission_seq`, which the registry
        assigns when it appends the statement."""
        unsigned = self.to_json()
        unsigned.pop("signature", None)
        if self.version == ISSUER_STATEMENT:
            for name in _APPENDED:
                unsigned.pop(name, None)
        return _canonical(unsigned)

    def statement_json(self) -> dict[str, str | int]:
        """A version-2 statement as its signer hands it over: the wire form without what the
        registry fills in at append time (`seq`, `admission_seq`)."""
        if self.version != ISSUER_STATEMENT:
            raise EncodingError(f"event.version: got {self.version}, want 2 (a statement)")
        wire = self.to_json()
        for name in _APPENDED:
            wire.pop(name, None)
        return wire

    def leaf_bytes(self) -> bytes:
        """The log entry: canonical JSON of the full signed wire form."""
        if self.signature is None:
            raise SignatureError("event.signature: got none, want a signed event for the log")
        return _canonical(self.to_json())

    def signing_and_leaf_bytes(self) -> tuple[bytes, bytes]:
        """`(signing_bytes(), leaf_bytes())` from one wire form: a verifier needs both."""
        if self.signature is None:
            raise SignatureError("event.signature: got none, want a signed event for the log")
        wire = self.to_json()
        leaf = _canonical(wire)
        del wire["signature"]
        if self.version == ISSUER_STATEMENT:
            for name in _APPENDED:
                wire.pop(name, None)
        return _canonical(wire), leaf

    def leaf_hash(self) -> bytes:
        """RFC 6962 leaf hash of the log entry: SHA-256(0x00 ‖ leaf_bytes())."""
        return RFC6962.hash_leaf(self.leaf_bytes())


def load_entry(entry: bytes, *, max_depth: int) -> object:
    """The JSON value of a log entry (UTF-8), refusing nesting deeper than `max_depth` unparsed."""
    # Every opening bracket, inside strings or not, bounds the depth from above: most
    # entries have few, and skip the exact (and slower) count.
    brackets = entry.count(b"{") + entry.count(b"[")
    if brackets > max_depth and json_depth(entry) > max_depth:
        raise EncodingError(f"log entry: got JSON nested deeper than {max_depth}, want a log entry")
    try:
        return json.loads(entry.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise EncodingError(f"log entry: got invalid UTF-8 JSON, want a log entry: {exc}") from exc


def _event_type(value: object) -> EventType:
    if isinstance(value, str) and value in _EVENT_TYPES:
        return EventType(value)
    kinds = " | ".join(kind.value for kind in EventType)
    raise EncodingError(f"event.type: got {value!r:.40}, want {kinds}")


def _check_at(value: object) -> dt.datetime:
    if not isinstance(value, dt.datetime) or value.utcoffset() is None:
        raise EncodingError(f"event.at: got {value!r:.60}, want an aware datetime")
    if value.microsecond:
        raise EncodingError(f"event.at: got {value.isoformat()}, want whole seconds")
    at = value.astimezone(dt.UTC)
    if not _MIN_YEAR <= at.year <= _MAX_YEAR:
        raise EncodingError(f"event.at: got year {at.year}, want {_MIN_YEAR}..{_MAX_YEAR}")
    return at


def _canonical(value: dict[str, str | int]) -> bytes:
    try:
        return canonical_json(value)
    except CanonicalizationError as exc:  # unreachable after __post_init__, kept for clarity
        raise EncodingError(f"event: got a value canonical JSON refuses: {exc}") from exc


def _raw_public_key(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def issuer_key_id(public_key: bytes) -> bytes:
    """`key_id` of an issuer key: SHA-256 of the raw 32-byte Ed25519 public key."""
    if not isinstance(public_key, bytes) or len(public_key) != 32:
        raise SignatureError(f"issuer public key: got {public_key!r:.80}, want 32 raw bytes")
    return sha256(public_key)


def issuer_chain_id(issuer_id: str) -> bytes:
    """On-chain issuer id: SHA-256 of the UTF-8 issuer id, in NFC like every event string."""
    nfc = _nfc(issuer_id, what="issuer_id")
    assert nfc is not None  # not optional
    return sha256(nfc.encode("utf-8"))


def sign_event(event: Event, private_key: Ed25519PrivateKey) -> Event:
    """Return `event` signed by the issuer's key, whose key id must be `event.key_id`."""
    key = ed25519.signing_key(private_key)
    if key.key_id != event.key_id:
        raise SignatureError(
            f"event.key_id: got {hex0x(event.key_id)}, want {hex0x(key.key_id)} (the signing key)"
        )
    signature = ed25519.sign(key, event.signing_bytes())
    # Not `replace`, which validates every field again (6-8 µs of a certificate's ~220 µs):
    # they were validated when `event` was made, and the signature is libsodium's 64 bytes.
    signed = copy.copy(event)
    object.__setattr__(signed, "signature", signature)
    return signed


def verify_event_signature(
    event: Event, public_key: bytes, *, signing_bytes: bytes | None = None
) -> None:
    """Check the issuer's signature on `event` with a raw 32-byte Ed25519 public key.

    Raises `SignatureError` if the key is not the one `event.key_id` names, the event is
    unsigned, or the signature does not verify over `event.signing_bytes()` — which a caller
    that has computed it already (`signing_and_leaf_bytes`) passes as `signing_bytes`.
    """
    key_id = issuer_key_id(public_key)
    if key_id != event.key_id:
        raise SignatureError(
            f"event.key_id: got {hex0x(event.key_id)}, want {hex0x(key_id)} (the given key)"
        )
    if event.signature is None:
        raise SignatureError("event.signature: got none, want an Ed25519 signature")
    # libsodium, not OpenSSL: the one Ed25519 check of every bundle (registry/core/ed25519.py).
    message = event.signing_bytes() if signing_bytes is None else signing_bytes
    if not ed25519.verify(public_key, event.signature, message):
        raise SignatureError(
            f"event {event.seq} signature: got one that does not verify, "
            f"want a valid signature by key {hex0x(key_id)}"
        )
