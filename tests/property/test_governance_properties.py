"""Authority statements (docs/spec.md §3a): random round trips, the two kinds of log entry kept
apart, map keys that cannot meet, and the coverage rule against a plain restatement of it."""

import datetime as dt
import hashlib
import json
import unicodedata
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from registry.core.errors import EncodingError
from registry.core.events import MAX_SEQ, Event, EventType, sign_event
from registry.core.governance import (
    KINDS,
    Admission,
    Admit,
    ApproveKey,
    AuthorityEntry,
    ChangeScope,
    Custody,
    ReinstateIssuer,
    RevokeKey,
    Scope,
    Statement,
    SuspendIssuer,
    WithdrawIssuer,
    admission_covers,
    issuer_map_key,
    parse_log_entry,
    sign_statement,
    verify_statement,
)
from registry.core.statusmap import map_key

AUTHORITY = Ed25519PrivateKey.from_private_bytes(bytes(range(0x41, 0x61)))
AUTHORITY_PUBLIC = AUTHORITY.public_key().public_bytes_raw()
AUTHORITY_KEY_ID = hashlib.sha256(AUTHORITY_PUBLIC).digest()
ISSUER = Ed25519PrivateKey.from_private_bytes(bytes(range(33, 65)))
ISSUER_PUBLIC = ISSUER.public_key().public_bytes_raw()

issuer_ids = st.from_regex(r"[a-z0-9][a-z0-9-]{1,62}[a-z0-9]", fullmatch=True)
# Free text as statements accept it: no controls, no space at either end, any normal form.
texts = (
    st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"]),
        min_size=1,
        max_size=40,
    )
    .filter(lambda t: (n := unicodedata.normalize("NFC", t)) == n.strip(" ") and n != "")
    .filter(lambda t: not any(0x80 <= ord(c) <= 0x9F for c in unicodedata.normalize("NFC", t)))
)
moments = st.datetimes(
    min_value=dt.datetime(1970, 1, 1), max_value=dt.datetime(9999, 12, 31, 23, 59, 59)
).map(lambda moment: moment.replace(microsecond=0, tzinfo=dt.UTC))
days = st.dates(min_value=dt.date(1970, 1, 1), max_value=dt.date(9999, 12, 31))
scopes = st.builds(
    Scope,
    kinds=st.sets(st.sampled_from(sorted(KINDS)), min_size=1).map(tuple),
    standards=st.lists(texts, max_size=6, unique_by=lambda t: unicodedata.normalize("NFC", t)).map(
        tuple
    ),
)
reasons = texts


@st.composite
def admission_terms(draw: st.DrawFn) -> dict[str, Any]:
    first, last = sorted((draw(days), draw(days)))
    return {
        "name_vi": draw(texts),
        "name_en": draw(texts),
        "accreditation_body": draw(texts),
        "accreditation_number": draw(texts),
        "scope": draw(scopes),
        "valid_from": first,
        "valid_until": last,
    }


@st.composite
def statements(draw: st.DrawFn) -> Statement:
    common: dict[str, Any] = {
        "issuer_id": draw(issuer_ids),
        "at": draw(moments),
        "authority_key_id": AUTHORITY_KEY_ID,
    }
    kind = draw(st.integers(0, 6))
    if kind == 0:
        return Admit(**common, **draw(admission_terms()))
    if kind == 1:
        return ChangeScope(
            **common,
            **draw(admission_terms()),
            reason=draw(st.none() | reasons),
        )
    if kind in (2, 3, 4):
        cls = (SuspendIssuer, ReinstateIssuer, WithdrawIssuer)[kind - 2]
        return cls(**common, reason=draw(reasons))
    if kind == 5:
        return ApproveKey(
            **common,
            key_id=hashlib.sha256(ISSUER_PUBLIC).digest(),
            public_key=ISSUER_PUBLIC,
            custody=draw(st.sampled_from(Custody)),
        )
    return RevokeKey(
        **common,
        key_id=draw(st.binary(min_size=32, max_size=32)),
        revoked_from_seq=draw(st.integers(0, MAX_SEQ)),
        reason=draw(st.none() | reasons),
    )


events = st.builds(
    Event,
    seq=st.integers(0, MAX_SEQ),
    type=st.sampled_from([EventType.ISSUE, EventType.SUSPEND, EventType.WITHDRAW]),
    certificate_id=st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=30),
    record_hash=st.binary(min_size=32, max_size=32),
    issuer_id=issuer_ids,
    key_id=st.just(hashlib.sha256(ISSUER_PUBLIC).digest()),
    at=moments,
    reason=st.none() | reasons,
)


@given(statement=statements(), seq=st.integers(0, MAX_SEQ))
def test_statement_round_trips(statement: Statement, seq: int) -> None:
    assert Statement.from_json(json.loads(json.dumps(statement.to_json()))) == statement
    entry = sign_statement(statement, AUTHORITY).at_seq(seq)
    leaf = entry.leaf_bytes()
    assert AuthorityEntry.from_leaf(leaf) == entry
    assert parse_log_entry(leaf) == entry
    verify_statement(entry, AUTHORITY_PUBLIC)
    # The leaf wraps the signing bytes verbatim, and they hold no seq.
    assert leaf.endswith(b',"statement":' + statement.signing_bytes() + b"}")
    assert "seq" not in json.loads(statement.signing_bytes())


@given(statement=statements(), event=events)
def test_the_two_kinds_never_meet(statement: Statement, event: Event) -> None:
    signed_event = sign_event(event, ISSUER)
    assert statement.signing_bytes() != signed_event.signing_bytes()
    try:
        Event.from_json(json.loads(statement.signing_bytes()))
    except EncodingError:
        pass
    else:
        raise AssertionError("a statement's signing bytes parsed as an event")
    try:
        Statement.from_json(json.loads(signed_event.signing_bytes()))
    except EncodingError:
        pass
    else:
        raise AssertionError("an event's signing bytes parsed as a statement")
    parsed = parse_log_entry(signed_event.leaf_bytes())
    assert isinstance(parsed, Event)
    assert parsed == Event.from_leaf(signed_event.leaf_bytes())


@given(certificate_id=st.text(min_size=1, max_size=80), issuer_id=issuer_ids)
def test_map_keys_cannot_meet(certificate_id: str, issuer_id: str) -> None:
    try:
        utf8 = unicodedata.normalize("NFC", certificate_id).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: no certificate id, no key
        return
    assert 0xFF not in utf8  # why the preimages always differ
    preimage = b"\xffissuer\x00" + issuer_id.encode()
    assert utf8 != preimage
    assert map_key(certificate_id) != issuer_map_key(issuer_id)


def rule(admission: Admission, kind: str, cited: list[str], on: dt.date) -> bool:
    """docs/spec.md §3a's coverage rule, written out plainly."""
    allowed = admission.scope.standards
    return (
        kind in admission.scope.kinds
        and (not allowed or all(unicodedata.normalize("NFC", s) in allowed for s in cited))
        and admission.valid_from <= on <= admission.valid_until
    )


@given(
    terms=admission_terms(),
    kind=st.sampled_from(sorted(KINDS)),
    extra=st.lists(texts, max_size=3),
    data=st.data(),
    on=days,
)
def test_coverage_is_the_rule(
    terms: dict[str, Any], kind: str, extra: list[str], data: st.DataObject, on: dt.date
) -> None:
    admission = Admit(
        issuer_id="quacert",
        at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        authority_key_id=AUTHORITY_KEY_ID,
        **terms,
    )
    inside = list(admission.scope.standards)
    cited = data.draw(st.lists(st.sampled_from(inside), max_size=3)) if inside else []
    cited += extra
    result = admission_covers(admission, kind=kind, standards=cited, on=on)
    assert (result is None) == rule(admission, kind, cited, on)
