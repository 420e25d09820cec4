"""The authority's statements about certification bodies (docs/spec.md §3a).

The authority admits a certification body (CB), changes its scope, suspends, reinstates or
withdraws it, and approves or revokes its signing keys. Each action is a statement the authority
signs with its own Ed25519 key, on its side; the registry verifies it and appends it to the same
log as certificate events, wrapped with the log position it assigns:

    {"seq": n, "signature": "<base64>", "statement": {"format": "certreg-authority/1", …}}

The signature covers `canonical(statement)` only, so the authority signs without knowing `seq`.
The `format` member (which no event has) keeps statement and event signing bytes apart, and the
`statement` member (which no event has) tells the two kinds of log entry apart.

The status map holds each CB's admission beside the certificates, under a key no certificate id
can produce (`issuer_map_key`); `apply_statement` is the rule that sets it, and
`admission_covers` the check a verifier makes of a certificate against the admission in force.
"""

import abc
import datetime as dt
import enum
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Final, TypeAlias

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from registry.core import ed25519
from registry.core.canonical import JSONValue, canonical_hash, canonical_json
from registry.core.encoding import (
    b64,
    format_date,
    format_timestamp,
    hex0x,
    parse_b64,
    parse_date,
    parse_hex,
    parse_timestamp,
)
from registry.core.errors import EncodingError, LifecycleError, SignatureError
from registry.core.events import MAX_SEQ, Event, load_entry
from registry.core.hashing import RFC6962, sha256

__all__ = [
    "ALLOWED_FROM",
    "CERTIFICATE_ALLOWED_FROM",
    "FORMAT",
    "ISSUER_STATUSES",
    "KINDS",
    "Admission",
    "Admit",
    "ApproveKey",
    "AuthorityEntry",
    "CertificateAction",
    "ChangeScope",
    "Custody",
    "GovernanceState",
    "IssuerLeaf",
    "KeyApproval",
    "LogEntry",
    "NotCovered",
    "ReinstateIssuer",
    "RevokeKey",
    "Scope",
    "SignedStatement",
    "Statement",
    "StatementType",
    "SuspendCertificate",
    "SuspendIssuer",
    "TransferCertificate",
    "WithdrawCertificate",
    "WithdrawIssuer",
    "admission_covers",
    "apply_statement",
    "issuer_map_key",
    "parse_log_entry",
    "sign_statement",
    "verify_statement",
]

FORMAT: Final = "certreg-authority/1"

# The certificate kinds of docs/spec.md §2a (`registry.records.CertificateKind`, which the core
# cannot import; tests/unit/core/test_governance.py keeps the two equal).
KINDS: Final = frozenset(
    {
        "product-conformity",
        "regulation-conformity",
        "management-system",
        "calibration",
        "instrument-verification",
        "test-report",
        "inspection",
    }
)

ISSUER_STATUSES: Final = frozenset({"admitted", "suspended", "withdrawn"})

# An issuer id as docs/spec.md §2a and `registry.issuers` have it: 3-64 of a-z 0-9, inner '-'.
_ISSUER_ID: Final = re.compile(r"[a-z0-9][a-z0-9-]{1,62}[a-z0-9]")
# Free text is shown to people and compared: no control characters, no spaces at either end.
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_NAME_MAX: Final = 500  # as a record's `Text`
_SHORT_MAX: Final = 100  # as a record's `ShortText`: a certificate's standards are at most this
_MAX_STANDARDS: Final = 1000
_MIN_YEAR: Final = 1970
_MAX_YEAR: Final = 9999
_MAX_ENTRY_DEPTH: Final = 4  # entry { statement { scope { kinds [ … ] } } }
# UTF-8 never contains 0xFF, so no certificate id's UTF-8 (the certificate keys' preimage)
# starts like this; 0x00 ends the label, which itself never contains 0x00.
_ISSUER_KEY_PREFIX: Final = b"\xffissuer\x00"


class StatementType(enum.StrEnum):
    """What a statement does."""

    ADMIT = "admit"
    CHANGE_SCOPE = "change_scope"
    SUSPEND_ISSUER = "suspend_issuer"
    REINSTATE_ISSUER = "reinstate_issuer"
    WITHDRAW_ISSUER = "withdraw_issuer"
    APPROVE_KEY = "approve_key"
    REVOKE_KEY = "revoke_key"
    SUSPEND_CERTIFICATE = "suspend_certificate"
    WITHDRAW_CERTIFICATE = "withdraw_certificate"
    TRANSFER_CERTIFICATE = "transfer_certificate"


class Custody(enum.StrEnum):
    """Who keeps an approved key's private half."""

    HELD = "held"  # the CB itself: the registry cannot sign for it
    HOSTED = "hosted"  # the registry, sealed at rest


# --- value checks (each raises EncodingError naming the member) ------------------------------


def _text(value: object, *, what: str, limit: int) -> str:
    if not isinstance(value, str):
        raise EncodingError(f"{what}: got {type(value).__name__}, want a string")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise EncodingError(f"{what}: got a lone surrogate, want valid Unicode") from exc
    text = unicodedata.normalize("NFC", value)
    if not text:
        raise EncodingError(f"{what}: got an empty string, want text")
    if len(text) > limit:
        raise EncodingError(f"{what}: got {len(text)} characters, want at most {limit}")
    if _CONTROL.search(text):
        raise EncodingError(f"{what}: got {text!r:.80}, want no control characters")
    if text[0] == " " or text[-1] == " ":
        raise EncodingError(f"{what}: got {text!r:.80}, want no space at either end")
    return text


def _issuer_id(value: object) -> str:
    if not isinstance(value, str) or _ISSUER_ID.fullmatch(value) is None:
        raise EncodingError(
            f"statement.issuer_id: got {value!r:.80}, want 3-64 of a-z 0-9 and inner hyphens"
        )
    return value


def _bytes(value: object, *, size: int, what: str) -> bytes:
    if type(value) is not bytes or len(value) != size:
        raise EncodingError(f"{what}: got {value!r:.80}, want {size} bytes")
    return value


def _seq(value: object, *, what: str) -> int:
    if type(value) is not int or not 0 <= value <= MAX_SEQ:
        raise EncodingError(f"{what}: got {value!r:.40}, want an integer 0 <= n <= 2^53 - 1")
    return value


def _at(value: object) -> dt.datetime:
    if not isinstance(value, dt.datetime) or value.utcoffset() is None:
        raise EncodingError(f"statement.at: got {value!r:.60}, want an aware datetime")
    if value.microsecond:
        raise EncodingError(f"statement.at: got {value.isoformat()}, want whole seconds")
    at = value.astimezone(dt.UTC)
    if not _MIN_YEAR <= at.year <= _MAX_YEAR:
        raise EncodingError(f"statement.at: got year {at.year}, want {_MIN_YEAR}..{_MAX_YEAR}")
    return at


def _date(value: object, *, what: str) -> dt.date:
    # A datetime is a date too, and would carry a time and a zone the statement cannot say.
    if type(value) is not dt.date:
        raise EncodingError(f"{what}: got {value!r:.60}, want a date")
    return value


def _enum(kind: type[enum.StrEnum], value: object, *, what: str) -> enum.StrEnum:
    for member in kind:
        if value == member.value and isinstance(value, str):
            return member
    raise EncodingError(f"{what}: got {value!r:.40}, want {' | '.join(m.value for m in kind)}")


class _Members:
    """Reads a JSON object's members strictly: exactly the expected ones, no nulls."""

    def __init__(
        self, obj: object, *, what: str, required: frozenset[str], optional: frozenset[str]
    ) -> None:
        if not isinstance(obj, Mapping):
            raise EncodingError(f"{what}: got {type(obj).__name__}, want a JSON object")
        keys = set(obj)
        if unknown := keys - required - optional:
            raise EncodingError(
                f"{what}: got unknown members {sorted(map(str, unknown))}, want none"
            )
        if missing := required - keys:
            raise EncodingError(f"{what}: got no {sorted(missing)}, want every required member")
        for key in sorted(keys):
            if obj[key] is None:
                want = "a value or the member omitted" if key in optional else "a value"
                raise EncodingError(f"{what}.{key}: got null, want {want}")
        self.obj = obj
        self.what = what

    def has(self, name: str) -> bool:
        return name in self.obj

    def raw(self, name: str) -> object:
        return self.obj[name]

    def string(self, name: str) -> str:
        value = self.obj[name]
        if not isinstance(value, str):
            raise EncodingError(f"{self.what}.{name}: got {type(value).__name__}, want a string")
        return value

    def integer(self, name: str) -> int:
        value = self.obj[name]
        if type(value) is not int:  # bool is an int subclass, and a float is no integer here
            raise EncodingError(f"{self.what}.{name}: got {type(value).__name__}, want an integer")
        return value

    def strings(self, name: str) -> list[str]:
        value = self.obj[name]
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise EncodingError(f"{self.what}.{name}: got {value!r:.80}, want an array of strings")
        return value


# --- scope -----------------------------------------------------------------------------------


def _string_set(values: object, *, what: str, limit: int, most: int) -> tuple[str, ...]:
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise EncodingError(f"statement.{what}: got {values!r:.60}, want a set of strings")
    values = list(values)
    # Counted before any string is looked at: an oversized set costs nothing to refuse.
    if len(values) > most:
        raise EncodingError(f"statement.{what}: got {len(values)}, want at most {most}")
    items = [_text(v, what=f"statement.{what}[{i}]", limit=limit) for i, v in enumerate(values)]
    out = tuple(sorted(set(items)))
    if len(out) != len(items):
        raise EncodingError(f"statement.{what}: got {items!r:.120}, want no duplicates (after NFC)")
    return out


@dataclass(frozen=True, kw_only=True)
class Scope:
    """What a CB may certify: certificate kinds, and the standards or regulations it may cite.

    Both are sets, kept sorted (code point order) so that one scope has one spelling. An empty
    `standards` is deliberate: the admission does not restrict by standard (docs/spec.md §3a).
    """

    kinds: tuple[str, ...]
    standards: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        kinds = _string_set(self.kinds, what="scope.kinds", limit=_SHORT_MAX, most=len(KINDS))
        if not kinds:
            raise EncodingError(
                "statement.scope.kinds: got none, want at least one certificate kind"
            )
        if unknown := sorted(set(kinds) - KINDS):
            raise EncodingError(
                f"statement.scope.kinds: got {unknown}, want kinds of {sorted(KINDS)}"
            )
        standards = _string_set(
            self.standards, what="scope.standards", limit=_SHORT_MAX, most=_MAX_STANDARDS
        )
        object.__setattr__(self, "kinds", kinds)
        object.__setattr__(self, "standards", standards)

    def to_json(self) -> dict[str, JSONValue]:
        return {"kinds": list(self.kinds), "standards": list(self.standards)}

    @classmethod
    def from_json(cls, obj: object) -> "Scope":
        """Parse strictly: both arrays must already be sorted and free of duplicates."""
        members = _Members(
            obj,
            what="statement.scope",
            required=frozenset({"kinds", "standards"}),
            optional=frozenset(),
        )
        kinds, standards = members.strings("kinds"), members.strings("standards")
        scope = cls(kinds=tuple(kinds), standards=tuple(standards))
        # The arrays are signed as sent: another order would be another signature of one scope.
        for name, sent, kept in (
            ("kinds", kinds, scope.kinds),
            ("standards", standards, scope.standards),
        ):
            if [unicodedata.normalize("NFC", s) for s in sent] != list(kept):
                raise EncodingError(
                    f"statement.scope.{name}: got {sent!r:.120}, want them sorted by code point"
                )
        return scope


# --- statements ------------------------------------------------------------------------------

_COMMON: Final = frozenset({"format", "type", "issuer_id", "at", "authority_key_id"})


@dataclass(frozen=True, kw_only=True)
class Statement(abc.ABC):
    """What every statement says: which CB, when, and under which authority key.

    Strings are kept in NFC and `at` in UTC, so equal statements sign equally. Subclasses add
    the members of their type; `Statement.from_json` builds the right one.
    """

    TYPE: ClassVar[StatementType]
    _REQUIRED: ClassVar[frozenset[str]] = frozenset()
    _OPTIONAL: ClassVar[frozenset[str]] = frozenset()

    issuer_id: str
    at: dt.datetime
    authority_key_id: bytes

    def __post_init__(self) -> None:
        if type(self) not in _CLASSES.values():
            raise TypeError(f"{type(self).__name__}: got a base class, want a statement type")
        _issuer_id(self.issuer_id)
        object.__setattr__(self, "at", _at(self.at))
        _bytes(self.authority_key_id, size=32, what="statement.authority_key_id")

    def to_json(self) -> dict[str, JSONValue]:
        """The wire form: absent optional members omitted, never null."""
        return {
            "format": FORMAT,
            "type": self.TYPE.value,
            "issuer_id": self.issuer_id,
            "at": format_timestamp(self.at),
            "authority_key_id": hex0x(self.authority_key_id),
            **self._members_json(),
        }

    @abc.abstractmethod
    def _members_json(self) -> dict[str, JSONValue]:
        """The members of this statement type, in wire form."""

    @classmethod
    @abc.abstractmethod
    def _from_members(cls, members: _Members, common: dict[str, object]) -> "Statement":
        """The statement from its checked members and the common ones already parsed."""

    def signing_bytes(self) -> bytes:
        """What the authority signs: the canonical JSON of the statement (it has no `seq`)."""
        return canonical_json(self.to_json())

    @classmethod
    def from_json(cls, obj: object) -> "Statement":
        """Parse a statement strictly: of any type on `Statement`, of its own on a subclass.

        Refused with `EncodingError`: a non-object, another `format`, an unknown `type`, unknown
        or missing members, `null`, wrong JSON types, and every non-canonical spelling of a hash,
        key, timestamp, date or set. Strings are accepted in any normal form and kept in NFC.
        """
        if not isinstance(obj, Mapping):
            raise EncodingError(f"statement: got {type(obj).__name__}, want a JSON object")
        if obj.get("format") != FORMAT:
            raise EncodingError(f"statement.format: got {obj.get('format')!r:.60}, want {FORMAT!r}")
        kind = StatementType(_enum(StatementType, obj.get("type"), what="statement.type"))
        parser = _CLASSES[kind]
        if not issubclass(parser, cls):
            raise EncodingError(
                f"statement.type: got {kind.value!r}, want a statement of class {cls.__name__}"
            )
        members = _Members(
            obj, what="statement", required=_COMMON | parser._REQUIRED, optional=parser._OPTIONAL
        )
        common: dict[str, object] = {
            "issuer_id": members.string("issuer_id"),
            "at": parse_timestamp(members.string("at"), what="statement.at"),
            "authority_key_id": parse_hex(
                members.string("authority_key_id"), what="statement.authority_key_id"
            ),
        }
        return parser._from_members(members, common)


def _reason_json(reason: str | None) -> dict[str, JSONValue]:
    return {} if reason is None else {"reason": reason}


def _reason(value: object, *, optional: bool) -> str | None:
    if value is None and optional:
        return None
    return _text(value, what="statement.reason", limit=_NAME_MAX)


_ADMISSION_MEMBERS: Final = frozenset(
    {
        "name_vi",
        "name_en",
        "accreditation_body",
        "accreditation_number",
        "scope",
        "valid_from",
        "valid_until",
    }
)


@dataclass(frozen=True, kw_only=True)
class Admission(Statement):
    """The terms of a CB's admission, complete in one statement (`admit` or `change_scope`).

    Complete so that the statement in force is all a verifier needs: names to show, scope and
    validity to judge a certificate by (`admission_covers`).
    """

    _REQUIRED: ClassVar[frozenset[str]] = _ADMISSION_MEMBERS

    name_vi: str
    name_en: str
    accreditation_body: str
    accreditation_number: str
    scope: Scope
    valid_from: dt.date
    valid_until: dt.date

    def __post_init__(self) -> None:
        super().__post_init__()
        for name, limit in (
            ("name_vi", _NAME_MAX),
            ("name_en", _NAME_MAX),
            ("accreditation_body", _SHORT_MAX),
            ("accreditation_number", _SHORT_MAX),
        ):
            text = _text(getattr(self, name), what=f"statement.{name}", limit=limit)
            object.__setattr__(self, name, text)
        if not isinstance(self.scope, Scope):
            raise EncodingError(f"statement.scope: got {self.scope!r:.60}, want a Scope")
        valid_from = _date(self.valid_from, what="statement.valid_from")
        valid_until = _date(self.valid_until, what="statement.valid_until")
        if valid_until < valid_from:
            raise EncodingError(
                f"statement.valid_until: got {valid_until}, want on or after valid_from "
                f"{valid_from}"
            )

    def _admission_json(self) -> dict[str, JSONValue]:
        return {
            "name_vi": self.name_vi,
            "name_en": self.name_en,
            "accreditation_body": self.accreditation_body,
            "accreditation_number": self.accreditation_number,
            "scope": self.scope.to_json(),
            "valid_from": format_date(self.valid_from),
            "valid_until": format_date(self.valid_until),
        }

    @staticmethod
    def _admission_members(members: _Members) -> dict[str, object]:
        return {
            "name_vi": members.string("name_vi"),
            "name_en": members.string("name_en"),
            "accreditation_body": members.string("accreditation_body"),
            "accreditation_number": members.string("accreditation_number"),
            "scope": Scope.from_json(members.raw("scope")),
            "valid_from": parse_date(members.string("valid_from"), what="statement.valid_from"),
            "valid_until": parse_date(members.string("valid_until"), what="statement.valid_until"),
        }


@dataclass(frozen=True, kw_only=True)
class Admit(Admission):
    """A CB admitted: who it is, its accreditation, what it may certify, and for how long."""

    TYPE: ClassVar[StatementType] = StatementType.ADMIT

    def _members_json(self) -> dict[str, JSONValue]:
        return self._admission_json()

    @classmethod
    def _from_members(cls, members: _Members, common: dict[str, object]) -> "Admit":
        return cls(**common, **cls._admission_members(members))  # type: ignore[arg-type]


@dataclass(frozen=True, kw_only=True)
class ChangeScope(Admission):
    """New terms for an admitted or suspended CB: its scope, and with it its validity and names."""

    TYPE: ClassVar[StatementType] = StatementType.CHANGE_SCOPE
    _OPTIONAL: ClassVar[frozenset[str]] = frozenset({"reason"})

    reason: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "reason", _reason(self.reason, optional=True))

    def _members_json(self) -> dict[str, JSONValue]:
        return {**self._admission_json(), **_reason_json(self.reason)}

    @classmethod
    def _from_members(cls, members: _Members, common: dict[str, object]) -> "ChangeScope":
        reason = members.string("reason") if members.has("reason") else None
        return cls(**common, **cls._admission_members(members), reason=reason)  # type: ignore[arg-type]


@dataclass(frozen=True, kw_only=True)
class _StatusChange(Statement):
    """A change of the CB's status, with the reason the authority gives."""

    _REQUIRED: ClassVar[frozenset[str]] = frozenset({"reason"})

    reason: str

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "reason", _reason(self.reason, optional=False))

    def _members_json(self) -> dict[str, JSONValue]:
        return {"reason": self.reason}

    @classmethod
    def _from_members(cls, members: _Members, common: dict[str, object]) -> "_StatusChange":
        return cls(**common, reason=members.string("reason"))  # type: ignore[arg-type]


@dataclass(frozen=True, kw_only=True)
class SuspendIssuer(_StatusChange):
    """The CB may not issue until reinstated; what it issued before stays verifiable."""

    TYPE: ClassVar[StatementType] = StatementType.SUSPEND_ISSUER


@dataclass(frozen=True, kw_only=True)
class ReinstateIssuer(_StatusChange):
    """A suspended CB admitted again, under the admission in force."""

    TYPE: ClassVar[StatementType] = StatementType.REINSTATE_ISSUER


@dataclass(frozen=True, kw_only=True)
class WithdrawIssuer(_StatusChange):
    """The admission ends; only a new `admit` admits the CB again."""

    TYPE: ClassVar[StatementType] = StatementType.WITHDRAW_ISSUER


@dataclass(frozen=True, kw_only=True)
class ApproveKey(Statement):
    """An Ed25519 key approved for the CB's certificate events, and who keeps its private half."""

    TYPE: ClassVar[StatementType] = StatementType.APPROVE_KEY
    _REQUIRED: ClassVar[frozenset[str]] = frozenset({"key_id", "public_key", "custody"})

    key_id: bytes
    public_key: bytes
    custody: Custody

    def __post_init__(self) -> None:
        super().__post_init__()
        _bytes(self.key_id, size=32, what="statement.key_id")
        public_key = _bytes(self.public_key, size=32, what="statement.public_key")
        # Every RFC 8032 key is a canonical point of the prime-order subgroup; any other
        # (small order, mixed order, not on the curve) is made for a forgery (docs/spec.md §3).
        if not ed25519.is_prime_order_point(public_key):
            raise EncodingError(
                f"statement.public_key: got {b64(public_key)}, "
                "want an Ed25519 key of the prime-order subgroup"
            )
        if sha256(public_key) != self.key_id:
            raise EncodingError(
                f"statement.key_id: got {hex0x(self.key_id)}, "
                f"want {hex0x(sha256(public_key))} (SHA-256 of public_key)"
            )
        custody = _enum(Custody, self.custody, what="statement.custody")
        object.__setattr__(self, "custody", Custody(custody))

    def _members_json(self) -> dict[str, JSONValue]:
        return {
            "key_id": hex0x(self.key_id),
            "public_key": b64(self.public_key),
            "custody": self.custody.value,
        }

    @classmethod
    def _from_members(cls, members: _Members, common: dict[str, object]) -> "ApproveKey":
        return cls(
            **common,  # type: ignore[arg-type]
            key_id=parse_hex(members.string("key_id"), what="statement.key_id"),
            public_key=parse_b64(
                members.string("public_key"), size=32, what="statement.public_key"
            ),
            custody=Custody(_enum(Custody, members.raw("custody"), what="statement.custody")),
        )


@dataclass(frozen=True, kw_only=True)
class RevokeKey(Statement):
    """A key's certificate events refused from log position `revoked_from_seq` on.

    A log position, not a time: the log fixes it, whereas an event's `at` is whatever the
    holder of a stolen key chose to sign. The chain's own revocation (a block, §7.5) is made by
    the authority's chain key beside this statement.
    """

    TYPE: ClassVar[StatementType] = StatementType.REVOKE_KEY
    _REQUIRED: ClassVar[frozenset[str]] = frozenset({"key_id", "revoked_from_seq"})
    _OPTIONAL: ClassVar[frozenset[str]] = frozenset({"reason"})

    key_id: bytes
    revoked_from_seq: int
    reason: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        _bytes(self.key_id, size=32, what="statement.key_id")
        _seq(self.revoked_from_seq, what="statement.revoked_from_seq")
        object.__setattr__(self, "reason", _reason(self.reason, optional=True))

    def _members_json(self) -> dict[str, JSONValue]:
        return {
            "key_id": hex0x(self.key_id),
            "revoked_from_seq": self.revoked_from_seq,
            **_reason_json(self.reason),
        }

    @classmethod
    def _from_members(cls, members: _Members, common: dict[str, object]) -> "RevokeKey":
        return cls(
            **common,  # type: ignore[arg-type]
            key_id=parse_hex(members.string("key_id"), what="statement.key_id"),
            revoked_from_seq=members.integer("revoked_from_seq"),
            reason=members.string("reason") if members.has("reason") else None,
        )


@dataclass(frozen=True, kw_only=True)
class _AboutCertificate(Statement):
    """A statement about one certificate of the CB: which, with its record hash (the authority
    signs which record it acts on), and why."""

    _REQUIRED: ClassVar[frozenset[str]] = frozenset({"certificate_id", "record_hash", "reason"})

    certificate_id: str
    record_hash: bytes
    reason: str

    def __post_init__(self) -> None:
        super().__post_init__()
        certificate_id = self.certificate_id
        if not isinstance(certificate_id, str) or _CERTIFICATE_ID.fullmatch(certificate_id) is None:
            raise EncodingError(
                f"statement.certificate_id: got {certificate_id!r:.80}, want 0x and 64 "
                "lowercase hex digits"
            )
        _bytes(self.record_hash, size=32, what="statement.record_hash")
        object.__setattr__(self, "reason", _reason(self.reason, optional=False))

    def _members_json(self) -> dict[str, JSONValue]:
        return {
            "certificate_id": self.certificate_id,
            "record_hash": hex0x(self.record_hash),
            "reason": self.reason,
        }

    @staticmethod
    def _certificate_members(members: _Members) -> dict[str, object]:
        return {
            "certificate_id": members.string("certificate_id"),
            "record_hash": parse_hex(members.string("record_hash"), what="statement.record_hash"),
            "reason": members.string("reason"),
        }

    @classmethod
    def _from_members(cls, members: _Members, common: dict[str, object]) -> "_AboutCertificate":
        return cls(**common, **cls._certificate_members(members))  # type: ignore[arg-type]


@dataclass(frozen=True, kw_only=True)
class CertificateAction(_AboutCertificate):
    """The authority acts on a certificate of a CB that can no longer act on it (suspended or
    withdrawn, §3a.5): the certificate's status changes, the event that issued it stays."""

    @property
    def status(self) -> str:
        """The certificate's status after it."""
        return _CERTIFICATE_STATUS[self.TYPE]


@dataclass(frozen=True, kw_only=True)
class SuspendCertificate(CertificateAction):
    """A valid certificate suspended by the authority."""

    TYPE: ClassVar[StatementType] = StatementType.SUSPEND_CERTIFICATE


@dataclass(frozen=True, kw_only=True)
class WithdrawCertificate(CertificateAction):
    """A valid or suspended certificate withdrawn by the authority."""

    TYPE: ClassVar[StatementType] = StatementType.WITHDRAW_CERTIFICATE


@dataclass(frozen=True, kw_only=True)
class TransferCertificate(_AboutCertificate):
    """A certificate of `issuer_id` handed over to `to_issuer_id` (as IAF MD 2 allows: the CB
    ceased to exist, or lost its accreditation, or the holder moved): from this entry on, the
    certificate's events are the receiving CB's, its status and record unchanged."""

    TYPE: ClassVar[StatementType] = StatementType.TRANSFER_CERTIFICATE
    _REQUIRED: ClassVar[frozenset[str]] = _AboutCertificate._REQUIRED | {"to_issuer_id"}

    to_issuer_id: str

    def __post_init__(self) -> None:
        super().__post_init__()
        _issuer_id(self.to_issuer_id)
        if self.to_issuer_id == self.issuer_id:
            raise EncodingError(
                f"statement.to_issuer_id: got {self.to_issuer_id!r}, want another CB than issuer_id"
            )

    def _members_json(self) -> dict[str, JSONValue]:
        return {**super()._members_json(), "to_issuer_id": self.to_issuer_id}

    @classmethod
    def _from_members(cls, members: _Members, common: dict[str, object]) -> "TransferCertificate":
        return cls(
            **common,  # type: ignore[arg-type]
            **cls._certificate_members(members),  # type: ignore[arg-type]
            to_issuer_id=members.string("to_issuer_id"),
        )


_CERTIFICATE_ID: Final = re.compile(r"0x[0-9a-f]{64}")
_CERTIFICATE_STATUS: Final = {
    StatementType.SUSPEND_CERTIFICATE: "suspended",
    StatementType.WITHDRAW_CERTIFICATE: "withdrawn",
}
#: the certificate statuses each action applies to (§3a.5)
CERTIFICATE_ALLOWED_FROM: Final = {
    StatementType.SUSPEND_CERTIFICATE: frozenset({"valid"}),
    StatementType.WITHDRAW_CERTIFICATE: frozenset({"valid", "suspended"}),
}


_CLASSES: Final[dict[StatementType, type[Statement]]] = {
    cls.TYPE: cls
    for cls in (
        Admit,
        ChangeScope,
        SuspendIssuer,
        ReinstateIssuer,
        WithdrawIssuer,
        ApproveKey,
        RevokeKey,
        SuspendCertificate,
        WithdrawCertificate,
        TransferCertificate,
    )
}


# --- signed statements and log entries -------------------------------------------------------


def _signature(value: object, *, what: str) -> bytes:
    return _bytes(value, size=ed25519.SIGNATURE_SIZE, what=what)


def _statement(value: object) -> Statement:
    if not isinstance(value, Statement) or type(value) is Statement:
        raise EncodingError(f"statement: got {value!r:.60}, want an authority statement")
    return value


@dataclass(frozen=True, kw_only=True)
class SignedStatement:
    """A statement and the authority's signature over its signing bytes: what the authority
    hands the registry, before the log gives it a position."""

    statement: Statement
    signature: bytes

    def __post_init__(self) -> None:
        _statement(self.statement)
        _signature(self.signature, what="signature")

    def to_json(self) -> dict[str, JSONValue]:
        return {"statement": self.statement.to_json(), "signature": b64(self.signature)}

    @classmethod
    def from_json(cls, obj: object) -> "SignedStatement":
        members = _Members(
            obj,
            what="signed statement",
            required=frozenset({"statement", "signature"}),
            optional=frozenset(),
        )
        return cls(
            statement=Statement.from_json(members.raw("statement")),
            signature=parse_b64(members.string("signature"), size=64, what="signature"),
        )

    def at_seq(self, seq: int) -> "AuthorityEntry":
        """The log entry of this statement at position `seq`."""
        return AuthorityEntry(seq=seq, statement=self.statement, signature=self.signature)


@dataclass(frozen=True, kw_only=True)
class AuthorityEntry:
    """A signed statement at its log position: `{"seq", "signature", "statement"}`."""

    seq: int
    statement: Statement
    signature: bytes

    def __post_init__(self) -> None:
        _seq(self.seq, what="entry.seq")
        _statement(self.statement)
        _signature(self.signature, what="entry.signature")

    @property
    def signed(self) -> SignedStatement:
        return SignedStatement(statement=self.statement, signature=self.signature)

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "seq": self.seq,
            "signature": b64(self.signature),
            "statement": self.statement.to_json(),
        }

    @classmethod
    def from_json(cls, obj: object) -> "AuthorityEntry":
        members = _Members(
            obj,
            what="entry",
            required=frozenset({"seq", "signature", "statement"}),
            optional=frozenset(),
        )
        return cls(
            seq=members.integer("seq"),
            statement=Statement.from_json(members.raw("statement")),
            signature=parse_b64(members.string("signature"), size=64, what="entry.signature"),
        )

    def leaf_bytes(self) -> bytes:
        """The log entry: canonical JSON of the wire form (named as `Event.leaf_bytes`)."""
        return canonical_json(self.to_json())

    def leaf_hash(self) -> bytes:
        """RFC 6962 leaf hash of the log entry: SHA-256(0x00 ‖ leaf_bytes())."""
        return RFC6962.hash_leaf(self.leaf_bytes())

    @classmethod
    def from_leaf(cls, leaf: bytes) -> "AuthorityEntry":
        """Parse a log entry byte for byte: it must be `leaf_bytes()` of what it parses to."""
        return cls.from_loaded_leaf(load_entry(leaf, max_depth=_MAX_ENTRY_DEPTH), leaf)

    @classmethod
    def from_loaded_leaf(cls, obj: object, leaf: bytes) -> "AuthorityEntry":
        """`from_leaf` of an entry already parsed: `obj` is `load_entry(leaf, …)`."""
        entry = cls.from_json(obj)
        if entry.leaf_bytes() != leaf:
            raise EncodingError("log entry: got non-canonical JSON, want JCS of the NFC entry")
        return entry


def parse_log_entry(leaf: bytes) -> Event | AuthorityEntry:
    """A log entry of either kind: an authority entry iff its object has a `statement` member.

    No event has that member and every authority entry has it; each kind is then parsed by its
    own strict rules, which refuse every member of the other. Certificate events parse exactly
    as `Event.from_leaf` parses them.
    """
    obj = load_entry(leaf, max_depth=_MAX_ENTRY_DEPTH)
    if isinstance(obj, dict) and "statement" in obj:
        return AuthorityEntry.from_loaded_leaf(obj, leaf)
    return Event.from_loaded_leaf(obj, leaf)


def sign_statement(statement: Statement, private_key: Ed25519PrivateKey) -> SignedStatement:
    """`statement` signed by the authority key whose key id is `statement.authority_key_id`."""
    key = ed25519.signing_key(private_key)
    if key.key_id != statement.authority_key_id:
        raise SignatureError(
            f"statement.authority_key_id: got {hex0x(statement.authority_key_id)}, "
            f"want {hex0x(key.key_id)} (the signing key)"
        )
    return SignedStatement(
        statement=statement, signature=ed25519.sign(key, statement.signing_bytes())
    )


def verify_statement(signed: SignedStatement | AuthorityEntry, public_key: bytes) -> None:
    """Check the authority's signature with its raw 32-byte Ed25519 public key (pinned by the
    verifier, never taken from what is checked). Raises `SignatureError`."""
    if type(public_key) is not bytes or len(public_key) != ed25519.PUBLIC_KEY_SIZE:
        raise SignatureError(f"authority public key: got {public_key!r:.80}, want 32 raw bytes")
    statement = signed.statement
    if sha256(public_key) != statement.authority_key_id:
        raise SignatureError(
            f"statement.authority_key_id: got {hex0x(statement.authority_key_id)}, "
            f"want {hex0x(sha256(public_key))} (the given key)"
        )
    if not ed25519.verify(public_key, signed.signature, statement.signing_bytes()):
        raise SignatureError(
            f"statement signature: got one that does not verify, want a valid signature by "
            f"authority key {hex0x(statement.authority_key_id)}"
        )


# --- the status map's side -------------------------------------------------------------------


def issuer_map_key(issuer_id: str) -> bytes:
    """The map key of a CB's admission: H(0xFF ‖ "issuer" ‖ 0x00 ‖ UTF-8(NFC(issuer_id))).

    A certificate's key hashes the UTF-8 of its id, which never contains the byte 0xFF: the
    two preimages always differ, so the keys collide only if SHA-256 does.
    """
    nfc = unicodedata.normalize("NFC", _issuer_id(issuer_id))
    return sha256(_ISSUER_KEY_PREFIX + nfc.encode("utf-8"))


@dataclass(frozen=True, slots=True, kw_only=True)
class IssuerLeaf:
    """A CB's status-map leaf: its status, and the admission statement in force.

    `admission_hash` is the RFC 6962 leaf hash of the `admit` or `change_scope` entry at
    `admission_seq`, so the leaf binds that entry's signature and position; `status_seq` is the
    entry that last set the leaf.
    """

    issuer_id: str
    status: str
    admission_seq: int
    admission_hash: bytes
    status_seq: int

    def __post_init__(self) -> None:
        _issuer_id(self.issuer_id)
        if self.status not in ISSUER_STATUSES:
            raise EncodingError(
                f"issuer leaf status: got {self.status!r:.40}, want {sorted(ISSUER_STATUSES)}"
            )
        _seq(self.admission_seq, what="issuer leaf admission_seq")
        _bytes(self.admission_hash, size=32, what="issuer leaf admission_hash")
        _seq(self.status_seq, what="issuer leaf status_seq")
        if self.status_seq < self.admission_seq:
            raise EncodingError(
                f"issuer leaf status_seq: got {self.status_seq}, "
                f"want at least admission_seq {self.admission_seq}"
            )

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "issuer_id": self.issuer_id,
            "status": self.status,
            "admission_seq": self.admission_seq,
            "admission_hash": hex0x(self.admission_hash),
            "status_seq": self.status_seq,
        }

    @property
    def key(self) -> bytes:
        return issuer_map_key(self.issuer_id)

    @property
    def value(self) -> bytes:
        """H(canonical(leaf)), as a certificate leaf's value (docs/spec.md §5.1)."""
        return canonical_hash(self.to_json())


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyApproval:
    """An approved key as the log states it (not in the map: the chain registers keys, §7.5)."""

    issuer_id: str
    key_id: bytes
    public_key: bytes
    custody: Custody
    approved_seq: int
    revoked_from_seq: int | None = None


@dataclass(frozen=True)
class GovernanceState:
    """What the authority entries of a log prefix have set: CB leaves and key approvals.

    Frozen as a binding; the two dictionaries are filled by `apply_statement` as the log is
    replayed.
    """

    issuers: dict[str, IssuerLeaf] = field(default_factory=dict)
    keys: dict[tuple[str, bytes], KeyApproval] = field(default_factory=dict)


# Statuses a CB must be in for a statement to apply (None: no leaf, or a withdrawn one).
ALLOWED_FROM: Final[dict[StatementType, frozenset[str] | None]] = {
    StatementType.ADMIT: None,
    StatementType.CHANGE_SCOPE: frozenset({"admitted", "suspended"}),
    StatementType.SUSPEND_ISSUER: frozenset({"admitted"}),
    StatementType.REINSTATE_ISSUER: frozenset({"suspended"}),
    StatementType.WITHDRAW_ISSUER: frozenset({"admitted", "suspended"}),
    StatementType.APPROVE_KEY: frozenset({"admitted", "suspended"}),
    # A key may be revoked whatever became of its CB: a compromise is always recorded.
    StatementType.REVOKE_KEY: frozenset({"admitted", "suspended", "withdrawn"}),
    # The authority acts on a CB's certificates only when the CB itself cannot: suspended
    # (it may not reinstate) or withdrawn (it may not act at all, or has ceased to exist).
    StatementType.SUSPEND_CERTIFICATE: frozenset({"suspended", "withdrawn"}),
    StatementType.WITHDRAW_CERTIFICATE: frozenset({"suspended", "withdrawn"}),
    # A transfer is the authority's to order whatever the giving CB's standing (the holder may
    # move from a CB in good standing too); the receiving CB must be admitted.
    StatementType.TRANSFER_CERTIFICATE: frozenset({"admitted", "suspended", "withdrawn"}),
}

_NEXT_STATUS: Final = {
    StatementType.SUSPEND_ISSUER: "suspended",
    StatementType.REINSTATE_ISSUER: "admitted",
    StatementType.WITHDRAW_ISSUER: "withdrawn",
}


def _check_from(state: GovernanceState, entry: AuthorityEntry) -> IssuerLeaf | None:
    statement = entry.statement
    kind = statement.TYPE
    current = state.issuers.get(statement.issuer_id)
    allowed = ALLOWED_FROM[kind]
    if allowed is None:
        if current is not None and current.status != "withdrawn":
            raise LifecycleError(
                f"authority entry {entry.seq}: got {kind.value} of {statement.issuer_id}, "
                f"want a CB never admitted or withdrawn (it is {current.status})"
            )
        return current
    if current is None or current.status not in allowed:
        got = "an unknown CB" if current is None else f"a {current.status} CB"
        raise LifecycleError(
            f"authority entry {entry.seq}: got {kind.value} of {got} {statement.issuer_id}, "
            f"want one that is {' or '.join(sorted(allowed))}"
        )
    return current


def apply_statement(state: GovernanceState, entry: AuthorityEntry) -> IssuerLeaf | None:
    """Apply one authority entry to `state`; return the CB leaf it sets, if it sets one.

    Raises `LifecycleError` for an entry the log before it does not allow (ALLOWED_FROM, and
    for keys: approved once per CB, revoked only once approved, from no later a position than
    the entry's own, and again only from an earlier one). Signatures are not checked here:
    `verify_statement` with the pinned authority key does that.
    """
    statement = entry.statement
    current = _check_from(state, entry)
    issuer_id = statement.issuer_id
    if isinstance(statement, Admission):
        # An admit (re)admits; a change of scope leaves a suspension in place.
        if isinstance(statement, Admit):
            status = "admitted"
        else:
            assert current is not None  # _check_from: change_scope needs a leaf
            status = current.status
        leaf = IssuerLeaf(
            issuer_id=issuer_id,
            status=status,
            admission_seq=entry.seq,
            admission_hash=entry.leaf_hash(),
            status_seq=entry.seq,
        )
    elif isinstance(statement, _StatusChange):
        assert current is not None  # _check_from: every status change needs a leaf
        leaf = IssuerLeaf(
            issuer_id=issuer_id,
            status=_NEXT_STATUS[statement.TYPE],
            admission_seq=current.admission_seq,
            admission_hash=current.admission_hash,
            status_seq=entry.seq,
        )
    elif isinstance(statement, ApproveKey):
        _approve_key(state, entry, statement)
        return None
    elif isinstance(statement, CertificateAction):
        # The certificate's leaf is the lifecycle's (`lifecycle.apply_entry`); here only the
        # CB's standing is judged (`_check_from`).
        return None
    elif isinstance(statement, TransferCertificate):
        receiving = state.issuers.get(statement.to_issuer_id)
        if receiving is None or receiving.status != "admitted":
            got = "an unknown CB" if receiving is None else f"a {receiving.status} CB"
            raise LifecycleError(
                f"authority entry {entry.seq}: got transfer_certificate to {got} "
                f"{statement.to_issuer_id}, want one that is admitted"
            )
        return None
    else:
        assert isinstance(statement, RevokeKey)
        _revoke_key(state, entry, statement)
        return None
    state.issuers[issuer_id] = leaf
    return leaf


def _approve_key(state: GovernanceState, entry: AuthorityEntry, statement: ApproveKey) -> None:
    slot = (statement.issuer_id, statement.key_id)
    if slot in state.keys:
        # As on chain (§7.5): a key is approved once; a revoked key never comes back.
        raise LifecycleError(
            f"authority entry {entry.seq}: got approve_key of {hex0x(statement.key_id)}, "
            f"want a key not yet approved for {statement.issuer_id} "
            f"(approved at {state.keys[slot].approved_seq})"
        )
    state.keys[slot] = KeyApproval(
        issuer_id=statement.issuer_id,
        key_id=statement.key_id,
        public_key=statement.public_key,
        custody=statement.custody,
        approved_seq=entry.seq,
    )


def _revoke_key(state: GovernanceState, entry: AuthorityEntry, statement: RevokeKey) -> None:
    slot = (statement.issuer_id, statement.key_id)
    approval = state.keys.get(slot)
    if approval is None:
        raise LifecycleError(
            f"authority entry {entry.seq}: got revoke_key of {hex0x(statement.key_id)}, "
            f"want a key approved for {statement.issuer_id}"
        )
    wanted = statement.revoked_from_seq
    # An entry speaks of the log up to itself; the log cannot yet hold what comes after.
    if wanted > entry.seq:
        raise LifecycleError(
            f"authority entry {entry.seq}: got revoked_from_seq {wanted}, "
            f"want at most the entry's own seq {entry.seq}"
        )
    # As on chain (§7.5): a signature once refused stays refused.
    if approval.revoked_from_seq is not None and wanted >= approval.revoked_from_seq:
        raise LifecycleError(
            f"authority entry {entry.seq}: got revoked_from_seq {wanted}, want one earlier "
            f"than the key's revocation from {approval.revoked_from_seq}"
        )
    state.keys[slot] = KeyApproval(
        issuer_id=approval.issuer_id,
        key_id=approval.key_id,
        public_key=approval.public_key,
        custody=approval.custody,
        approved_seq=approval.approved_seq,
        revoked_from_seq=wanted,
    )


# --- what a verifier checks of a certificate --------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class NotCovered:
    """Why an admission does not cover a certificate: a stable `code` and a message."""

    # kind_not_covered | standard_not_covered | admission_not_yet_valid | admission_expired
    code: str
    message: str


def admission_covers(
    admission: Admission, *, kind: str, standards: Iterable[str], on: dt.date
) -> NotCovered | None:
    """None if `admission` covers a certificate of `kind` citing `standards` on day `on`.

    In this order: the kind is one of the scope's kinds; when the scope lists standards, each
    standard cited (in NFC) is one of them (a certificate citing none passes); `on` is within
    `valid_from`..`valid_until`, both days included. Whether the CB was suspended or withdrawn
    is the log's to say, not the admission's.
    """
    if not isinstance(admission, Admission):
        raise EncodingError(f"admission: got {admission!r:.60}, want an admit or change_scope")
    if not isinstance(kind, str):
        raise EncodingError(f"kind: got {type(kind).__name__}, want a string")
    if isinstance(standards, str | bytes) or not isinstance(standards, Iterable):
        raise EncodingError(f"standards: got {standards!r:.60}, want a collection of strings")
    cited = list(standards)
    if not all(isinstance(s, str) for s in cited):
        raise EncodingError(f"standards: got {cited!r:.80}, want strings")
    day = _date(on, what="on")
    scope = admission.scope
    if kind not in scope.kinds:
        return NotCovered(
            code="kind_not_covered",
            message=f"kind: got {kind!r:.60}, want one of {list(scope.kinds)}",
        )
    if scope.standards:
        allowed = set(scope.standards)
        for standard in cited:
            if unicodedata.normalize("NFC", standard) not in allowed:
                return NotCovered(
                    code="standard_not_covered",
                    message=f"standard: got {standard!r:.100}, want one of the scope's "
                    f"{len(allowed)} standards",
                )
    if day < admission.valid_from:
        return NotCovered(
            code="admission_not_yet_valid",
            message=f"date: got {day}, want on or after valid_from {admission.valid_from}",
        )
    if day > admission.valid_until:
        return NotCovered(
            code="admission_expired",
            message=f"date: got {day}, want on or before valid_until {admission.valid_until}",
        )
    return None


# The kinds of log entry, for callers that take either.
LogEntry: TypeAlias = Event | AuthorityEntry
