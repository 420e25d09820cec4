"""Record format 2: every field committed on its own (docs/spec.md §2b).

A field is disclosed as `[salt, name, value]`; its digest is SHA-256 of that array's canonical
JSON; the record hash is SHA-256 of the canonical JSON of `{"digests": [...], "format": 2}`,
the digests of all fields sorted. A copy of the record may leave fields out (their digests
stay), and it still hashes to the hash the issuer signed: a field can be shown, and checked,
without its neighbours — the salted-digest construction of SD-JWT (RFC 9901) applied to a flat
record.

Pure: no I/O. The registry builds and redacts records with it, the verifier parses them.
"""

import hashlib
import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from registry.core.canonical import JSONValue, canonical_hash, canonical_json, normalize
from registry.core.encoding import hex0x
from registry.core.errors import CoreError

__all__ = [
    "ALWAYS_DISCLOSED",
    "FORMAT",
    "DisclosureError",
    "OpenRecord",
    "commit",
    "digests_hash",
    "field_digest",
    "hash_record",
    "is_v2",
    "open_record",
    "record_hash",
    "redact",
]

#: the value of a format-2 record's `format` member
FORMAT: Final = 2
#: fields every copy of a format-2 record discloses: what the verifier reads (id and issuer for
#: the record's identity, kind and standards for the CB's scope, dates for expiry, supersedes for
#: the chain of replacements). `valid_until` and `supersedes` are always present, null when the
#: certificate has none, so that leaving them out cannot pass for "no end date".
ALWAYS_DISCLOSED: Final = frozenset(
    {
        "id",
        "issuer_id",
        "kind",
        "number",
        "issued_on",
        "valid_from",
        "valid_until",
        "supersedes",
        "standards",
    }
)

_NAME: Final = re.compile(r"[a-z][a-z0-9_]{0,39}")
_SALT: Final = re.compile(r"0x[0-9a-f]{32}")
_DIGEST: Final = re.compile(r"0x[0-9a-f]{64}")
#: more fields than any kind has, by far: a bound on what a verifier hashes
MAX_FIELDS: Final = 64


class DisclosureError(CoreError, ValueError):
    """A format-2 record that does not parse, or whose disclosures do not match its digests."""


def field_digest(*, salt: str, name: str, value: JSONValue) -> bytes:
    """SHA-256 of the canonical JSON of `[salt, name, value]` (spec §2b)."""
    return hashlib.sha256(canonical_json([salt, name, value])).digest()


def record_hash(digests: Iterable[bytes]) -> bytes:
    """The record hash over the digests of all its fields, sorted (spec §2b)."""
    listed = sorted(hex0x(d) for d in digests)
    return hashlib.sha256(canonical_json({"digests": listed, "format": FORMAT})).digest()


def commit(fields: Mapping[str, JSONValue], salts: Mapping[str, str]) -> dict[str, Any]:
    """The full record: every field disclosed with its salt, and all digests.

    `fields` holds each field's value (None only where a field is present and empty:
    `valid_until`, `supersedes`); `salts` one fresh salt per field name."""
    if set(fields) != set(salts):
        raise DisclosureError(
            f"salts: got names {sorted(salts)}, want one per field {sorted(fields)}"
        )
    normalized = normalize(dict(fields))
    assert isinstance(normalized, dict)
    disclosures = [[salts[name], name, normalized[name]] for name in sorted(normalized)]
    digests = sorted(hex0x(field_digest(salt=s, name=n, value=v)) for s, n, v in disclosures)
    return {"format": FORMAT, "digests": digests, "disclosures": disclosures}


def is_v2(record: object) -> bool:
    """Whether `record` claims format 2 (a format-1 record has no `format` member)."""
    return isinstance(record, Mapping) and "format" in record


@dataclass(frozen=True, slots=True)
class OpenRecord:
    """A format-2 record checked: the disclosed fields, the record hash, and how many fields
    were withheld."""

    fields: dict[str, Any]
    record_hash: bytes
    withheld: int
    #: name → salt of each disclosed field (to redact it again, or to show it)
    salts: dict[str, str]


def _digests(digests: object) -> list[str]:
    if not isinstance(digests, list) or not 1 <= len(digests) <= MAX_FIELDS:
        raise DisclosureError(
            f"record.digests: got {type(digests).__name__}, want a list of 1-{MAX_FIELDS}"
        )
    for digest in digests:
        if not isinstance(digest, str) or _DIGEST.fullmatch(digest) is None:
            raise DisclosureError(
                f"record.digests: got {digest!r:.80}, want 0x and 64 lowercase hex digits"
            )
    if any(a >= b for a, b in itertools.pairwise(digests)):
        raise DisclosureError(
            "record.digests: got a list out of order or with repeats, want distinct digests "
            "in ascending order"
        )
    return digests


def _disclosure(item: object, known: set[str]) -> tuple[str, str, Any]:
    if not isinstance(item, list) or len(item) != 3:
        raise DisclosureError(f"record.disclosures: got {item!r:.80}, want [salt, name, value]")
    salt, name, value = item
    if not isinstance(salt, str) or _SALT.fullmatch(salt) is None:
        raise DisclosureError(
            f"disclosure salt: got {salt!r:.80}, want 0x and 32 lowercase hex digits"
        )
    if not isinstance(name, str) or _NAME.fullmatch(name) is None:
        raise DisclosureError(f"disclosure name: got {name!r:.80}, want [a-z][a-z0-9_]{{0,39}}")
    if hex0x(field_digest(salt=salt, name=name, value=value)) not in known:
        raise DisclosureError(
            f"disclosure {name!r}: got a field whose digest is not among the record's digests, "
            "want each disclosed field committed"
        )
    return salt, name, value


def open_record(
    record: Mapping[str, Any], *, require: frozenset[str] = ALWAYS_DISCLOSED
) -> OpenRecord:
    """Check a format-2 record and return its disclosed fields (spec §2b): `format` is 2,
    `digests` sorted and distinct, each disclosure `[salt, name, value]` well formed, names
    distinct, each disclosure's digest among the digests, and every name of `require`
    disclosed. Raises `DisclosureError` saying what is wrong."""
    if set(record) != {"format", "digests", "disclosures"}:
        raise DisclosureError(
            f"record: got members {sorted(record)}, want digests, disclosures and format"
        )
    if record["format"] != FORMAT or type(record["format"]) is not int:
        raise DisclosureError(f"record.format: got {record['format']!r:.40}, want {FORMAT}")
    digests = _digests(record["digests"])
    disclosures = record["disclosures"]
    if not isinstance(disclosures, list) or len(disclosures) > len(digests):
        raise DisclosureError(
            f"record.disclosures: got {type(disclosures).__name__} of "
            f"{len(disclosures) if isinstance(disclosures, list) else '?'}, want a list of at "
            f"most {len(digests)} (one per digest)"
        )
    known = set(digests)
    fields: dict[str, Any] = {}
    salts: dict[str, str] = {}
    for item in disclosures:
        salt, name, value = _disclosure(item, known)
        if name in fields:
            raise DisclosureError(f"disclosure name: got {name!r} twice, want each once")
        fields[name] = normalize(value)
        salts[name] = salt
    missing = sorted(require - set(fields))
    if missing:
        raise DisclosureError(
            f"record.disclosures: got none for {', '.join(missing)}, want them always disclosed"
        )
    return OpenRecord(
        fields=fields,
        record_hash=record_hash(bytes.fromhex(d[2:]) for d in digests),
        withheld=len(digests) - len(fields),
        salts=salts,
    )


def hash_record(record: Mapping[str, Any]) -> bytes:
    """The record hash of either format (spec §2a, §2b): SHA-256 of a format-1 record's
    canonical JSON; a format-2 record's hash over its digests, its disclosures checked."""
    if is_v2(record):
        return open_record(record, require=frozenset()).record_hash
    return canonical_hash(record)


def digests_hash(record: Mapping[str, Any]) -> bytes:
    """The record hash of a format-2 record from its digests alone, its disclosures unchecked:
    for a record the caller built, or opened already."""
    return record_hash(bytes.fromhex(d[2:]) for d in record["digests"])


def redact(record: Mapping[str, Any], *, keep: Iterable[str]) -> dict[str, Any]:
    """A copy of a format-2 record disclosing only the fields named in `keep` (and those always
    disclosed); all digests stay, so it hashes as the original does."""
    kept = frozenset(keep) | ALWAYS_DISCLOSED
    return {
        "format": record["format"],
        "digests": list(record["digests"]),
        "disclosures": [list(d) for d in record["disclosures"] if d[1] in kept],
    }
