import base64
import dataclasses
import datetime as dt
import hashlib
import itertools
import json
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from nacl.bindings import crypto_core_ed25519_add

from registry.core.canonical import canonical_json
from registry.core.encoding import b64, hex0x
from registry.core.errors import EncodingError, LifecycleError, SignatureError
from registry.core.events import Event, EventType, sign_event, verify_event_signature
from registry.core.governance import (
    ALLOWED_FROM,
    FORMAT,
    KINDS,
    Admission,
    Admit,
    ApproveKey,
    AuthorityEntry,
    ChangeScope,
    Custody,
    GovernanceState,
    IssuerLeaf,
    NotCovered,
    ReinstateIssuer,
    RevokeKey,
    Scope,
    SignedStatement,
    Statement,
    StatementType,
    SuspendCertificate,
    SuspendIssuer,
    TransferCertificate,
    WithdrawCertificate,
    WithdrawIssuer,
    admission_covers,
    apply_statement,
    issuer_map_key,
    parse_log_entry,
    sign_statement,
    verify_statement,
)
from registry.core.lifecycle import LogState, StatusLeaf, apply_entry, apply_event, replay
from registry.core.statusmap import StatusMap, map_key
from registry.records import CertificateKind

AUTHORITY_SEED = bytes(range(0x41, 0x61))  # the fixed authority test seed of docs/spec.md §3a
ISSUER_SEED = bytes(range(33, 65))  # the issuer test seed of docs/spec.md §3
CB = "vn-cb-hoabinh"
NAME_VI = "Công ty Cổ phần Chứng nhận Hòa Bình"  # NFC
KINDS_0 = ("management-system", "product-conformity", "regulation-conformity")
STANDARDS_0 = ("QCVN 7:2019/BKHCN", "TCVN ISO 14001:2015", "TCVN ISO 9001:2015")
STANDARDS_2 = ("QCVN 3:2019/BKHCN", *STANDARDS_0)


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


AUTHORITY_KEY = Ed25519PrivateKey.from_private_bytes(AUTHORITY_SEED)
AUTHORITY_PUBLIC = AUTHORITY_KEY.public_key().public_bytes_raw()
AUTHORITY_KEY_ID = sha(AUTHORITY_PUBLIC)
ISSUER_KEY = Ed25519PrivateKey.from_private_bytes(ISSUER_SEED)
ISSUER_PUBLIC = ISSUER_KEY.public_key().public_bytes_raw()
ISSUER_KEY_ID = sha(ISSUER_PUBLIC)

COMMON: dict[str, Any] = {"issuer_id": CB, "authority_key_id": AUTHORITY_KEY_ID}
TERMS: dict[str, Any] = {
    "name_vi": NAME_VI,
    "name_en": "Hoa Binh Certification JSC",
    "accreditation_body": "BoA",
    "accreditation_number": "VICAS 902",
    "valid_from": dt.date(2026, 1, 15),
    "valid_until": dt.date(2031, 1, 14),
}

# The statements of docs/spec.md §3a's test vectors, at seqs 0 to 6 of one log, in this order.
VECTOR_STATEMENTS: list[Statement] = [
    Admit(
        at=utc("2026-01-15T02:00:00Z"),
        **COMMON,
        **TERMS,
        scope=Scope(kinds=KINDS_0, standards=STANDARDS_0),
    ),
    ApproveKey(
        at=utc("2026-01-15T02:05:00Z"),
        **COMMON,
        key_id=ISSUER_KEY_ID,
        public_key=ISSUER_PUBLIC,
        custody=Custody.HELD,
    ),
    ChangeScope(
        at=utc("2026-06-01T03:00:00Z"),
        **COMMON,
        **TERMS,
        scope=Scope(kinds=KINDS_0, standards=STANDARDS_2),
        reason="Mở rộng phạm vi chỉ định",
    ),
    SuspendIssuer(
        at=utc("2026-09-10T08:30:00Z"),
        **COMMON,
        reason="Tạm đình chỉ do chưa khắc phục điểm không phù hợp",
    ),
    ReinstateIssuer(
        at=utc("2026-10-01T01:00:00Z"), **COMMON, reason="Đã hoàn thành hành động khắc phục"
    ),
    RevokeKey(
        at=utc("2026-10-01T01:05:00Z"),
        **COMMON,
        key_id=ISSUER_KEY_ID,
        revoked_from_seq=3,
        reason="Khóa bị lộ",
    ),
    WithdrawIssuer(
        at=utc("2027-03-01T00:00:00Z"),
        **COMMON,
        reason="Thu hồi quyết định chỉ định theo đề nghị của tổ chức",
    ),
]

# docs/spec.md §3a publishes exactly these values; keep them in step.
SPEC_AUTHORITY_PUBLIC_KEY = "rcFAEfgtHFbZVqpPnXPYhYNhpgYEhSXg0Ixjjcdd2Mc="
SPEC_AUTHORITY_KEY_ID = "0xba8112fa4ba3d6f934b2ad2aa06966023d56e1eeb0b2d5b74b5dd6ec152ba690"
_AK = '"authority_key_id":"' + SPEC_AUTHORITY_KEY_ID + '"'
_ISSUER = '"format":"certreg-authority/1","issuer_id":"vn-cb-hoabinh"'
_TERMS = '"name_en":"Hoa Binh Certification JSC","name_vi":"Công ty Cổ phần Chứng nhận Hòa Bình"'
_VALIDITY = '"valid_from":"2026-01-15","valid_until":"2031-01-14"'
_KEY = '"key_id":"0xc945cbf2a5602002141e2fb9d17054d6ca069951df73f49d1f8aca87f9878f60"'
SPEC_SIGNING_BYTES = [
    '{"accreditation_body":"BoA","accreditation_number":"VICAS 902",'
    '"at":"2026-01-15T02:00:00Z",' + _AK + "," + _ISSUER + "," + _TERMS + ","
    '"scope":{"kinds":["management-system","product-conformity","regulation-conformity"],'
    '"standards":["QCVN 7:2019/BKHCN","TCVN ISO 14001:2015","TCVN ISO 9001:2015"]},'
    '"type":"admit",' + _VALIDITY + "}",
    '{"at":"2026-01-15T02:05:00Z",' + _AK + ',"custody":"held",' + _ISSUER + "," + _KEY + ","
    '"public_key":"5/FioQvsVZr+oZXk3OhLaVaNXSywlj60RsBoXisX8vA=","type":"approve_key"}',
    '{"accreditation_body":"BoA","accreditation_number":"VICAS 902",'
    '"at":"2026-06-01T03:00:00Z",' + _AK + "," + _ISSUER + "," + _TERMS + ","
    '"reason":"Mở rộng phạm vi chỉ định",'
    '"scope":{"kinds":["management-system","product-conformity","regulation-conformity"],'
    '"standards":["QCVN 3:2019/BKHCN","QCVN 7:2019/BKHCN","TCVN ISO 14001:2015",'
    '"TCVN ISO 9001:2015"]},"type":"change_scope",' + _VALIDITY + "}",
    '{"at":"2026-09-10T08:30:00Z",' + _AK + "," + _ISSUER + ","
    '"reason":"Tạm đình chỉ do chưa khắc phục điểm không phù hợp","type":"suspend_issuer"}',
    '{"at":"2026-10-01T01:00:00Z",' + _AK + "," + _ISSUER + ","
    '"reason":"Đã hoàn thành hành động khắc phục","type":"reinstate_issuer"}',
    '{"at":"2026-10-01T01:05:00Z",' + _AK + "," + _ISSUER + "," + _KEY + ","
    '"reason":"Khóa bị lộ","revoked_from_seq":3,"type":"revoke_key"}',
    '{"at":"2027-03-01T00:00:00Z",' + _AK + "," + _ISSUER + ","
    '"reason":"Thu hồi quyết định chỉ định theo đề nghị của tổ chức","type":"withdraw_issuer"}',
]
SPEC_SIGNATURES = [
    "GiOs8phYWEwu1KJFiL7xCPgqDnfQPQ6Z2fTfJQFUuXLEt2bshB4RSYonR2p59wpMx8xENMGldIV2gBCeZnoeDQ==",
    "fNHTFjKeEzyQ5wrHYu4A0KZWs5Vhbd2hmTVd4zAnzOMtJXm65FHbX+lRdNU52Du95MOaXyXjdrNNsea/KY89DQ==",
    "cZSKBkt8qY9hryUmV5SCCPXhDiXYc/vv1BDdmS63GVWCAMR9/gA7GbnS5aT0llVBdT3smSdng6GFnqEMB0UiBQ==",
    "8isjwHBkb7rBY89MZbKUTMKQFy+Tz0C2fAiSCp/Cbf2HFvHCSByNjJ995CWHHMmvDHLMPiJvw+EX753nzB6ZBA==",
    "OCHevx7BQPS0LWymZA8tex8549zFYdKD7QTF52nJswumE2KHGCB+KJv1oRdm+lzwU+NS7xsSTrIqH8ooPfpXAQ==",
    "GKpVxjSMtzxPhRMLPTwqdyKS3UMhlqYO3OUgQBoSPp9jYkextdH+QnZeL9ne/SyaVT1QEWgw6cRu6h6HBPLEDQ==",
    "cR1H7YsEY3ND8CPxlWDbl5OsAhM8ien0nidHzLLs/pmddyKFC8YRiKuqZ7Ezi9nrvWUKro1+bPYmxIIbCAi8Aw==",
]
SPEC_LEAF_HASHES = [
    "0x7582c2c15c965e425095e1f48a922b5a583ff9b7f39b6f6fe254db72264364eb",
    "0x80229a3c550d9abe691be1de514fba49912ba9c8f4e4d006f8e27510192f15a6",
    "0x24019e8f2e5ee1e1dd518c872da639f702695546e7ce2876f042f742361d95e6",
    "0xa0d7eb5709e8a7e747a7f8d5eb1ebac59131f0520353b05a3448040de7a4bf81",
    "0x10ea6af91576a3d0a0fb9d4b4ddb54f815717d7d1073430812aa1b0d8363ede0",
    "0x38a72ea8e901156195be39978587104949bfa842015b85f7aa93a03081257882",
    "0x4d0bde3feb36bfbd72e1269d5e61c31e578bda94984e51d8e01e0590eac7db52",
]
SPEC_FINAL_LEAF = (
    '{"admission_hash":"0x24019e8f2e5ee1e1dd518c872da639f702695546e7ce2876f042f742361d95e6",'
    '"admission_seq":2,"issuer_id":"vn-cb-hoabinh","status":"withdrawn","status_seq":6}'
)
SPEC_ISSUER_KEY = "0x1c58f231f7fee1a0ddb880dacce8d6705f0ba10e83db384c1a020319ffc4fda9"
SPEC_ISSUER_VALUE = "0xe663956d2a3090ab597ef127648f068273d6d1f9275b62f27b63d5e75f12a5dc"
SPEC_MAP_ROOT = "0x1931134baaccad1406b776cdd91367730fc0152e3e774ee4319cec77a826bb2e"


def spec_leaf(seq: int) -> bytes:
    """The entry by the rule of docs/spec.md §3a: the signing bytes, verbatim, wrapped."""
    return (
        f'{{"seq":{seq},"signature":"{SPEC_SIGNATURES[seq]}","statement":'
        f"{SPEC_SIGNING_BYTES[seq]}}}"
    ).encode()


def entry_of(statement: Statement, seq: int) -> AuthorityEntry:
    return sign_statement(statement, AUTHORITY_KEY).at_seq(seq)


# The authority acting on a certificate of a withdrawn CB (docs/spec.md §3a.1): their own
# vectors, outside the seven-entry log above (they need a certificate issued first).
CERTIFICATE = "0x" + "5a" * 32
CERTIFICATE_VECTORS: list[Statement] = [
    SuspendCertificate(
        at=utc("2027-03-01T00:10:00Z"),
        **COMMON,
        certificate_id=CERTIFICATE,
        record_hash=sha(b"record"),
        reason="Tạm đình chỉ chứng chỉ do tổ chức bị thu hồi chỉ định",
    ),
    WithdrawCertificate(
        at=utc("2027-03-01T00:20:00Z"),
        **COMMON,
        certificate_id=CERTIFICATE,
        record_hash=sha(b"record"),
        reason="Thu hồi chứng chỉ do tổ chức đã giải thể",
    ),
    TransferCertificate(
        at=utc("2027-03-01T00:30:00Z"),
        **COMMON,
        certificate_id=CERTIFICATE,
        record_hash=sha(b"record"),
        to_issuer_id="vn-cb-quatest3",
        reason="Chuyển giao chứng nhận theo IAF MD 2",
    ),
]


def vector(type_: StatementType) -> Statement:
    return next(s for s in VECTOR_STATEMENTS + CERTIFICATE_VECTORS if s.TYPE is type_)


ALL_TYPES = list(StatementType)
CERTIFICATE_TYPES = (
    StatementType.SUSPEND_CERTIFICATE,
    StatementType.WITHDRAW_CERTIFICATE,
    StatementType.TRANSFER_CERTIFICATE,
)


@pytest.fixture
def admit() -> Admit:
    statement = VECTOR_STATEMENTS[0]
    assert isinstance(statement, Admit)
    return statement


@pytest.fixture
def event() -> Event:
    """The issuer's signed event of docs/spec.md §3."""
    return sign_event(
        Event(
            seq=1,
            type=EventType.SUSPEND,
            certificate_id="VN-QUACERT-2026-000123",
            record_hash=sha(b"record"),
            issuer_id="quacert",
            key_id=ISSUER_KEY_ID,
            at=utc("2026-03-02T09:15:00Z"),
            reason="Tạm đình chỉ theo yêu cầu",
        ),
        ISSUER_KEY,
    )


class TestSpecVectors:
    def test_authority_key(self) -> None:
        assert b64(AUTHORITY_PUBLIC) == SPEC_AUTHORITY_PUBLIC_KEY
        assert hex0x(AUTHORITY_KEY_ID) == SPEC_AUTHORITY_KEY_ID

    def test_one_statement_of_each_type(self) -> None:
        assert [s.TYPE for s in VECTOR_STATEMENTS] == [
            StatementType.ADMIT,
            StatementType.APPROVE_KEY,
            StatementType.CHANGE_SCOPE,
            StatementType.SUSPEND_ISSUER,
            StatementType.REINSTATE_ISSUER,
            StatementType.REVOKE_KEY,
            StatementType.WITHDRAW_ISSUER,
        ]
        assert set(ALL_TYPES) - set(CERTIFICATE_TYPES) == {s.TYPE for s in VECTOR_STATEMENTS}
        assert [s.TYPE for s in CERTIFICATE_VECTORS] == list(CERTIFICATE_TYPES)

    @pytest.mark.parametrize("seq", range(7))
    def test_signing_bytes_signature_leaf(self, seq: int) -> None:
        statement = VECTOR_STATEMENTS[seq]
        assert statement.signing_bytes() == SPEC_SIGNING_BYTES[seq].encode()
        entry = entry_of(statement, seq)
        assert b64(entry.signature) == SPEC_SIGNATURES[seq]
        assert entry.leaf_bytes() == spec_leaf(seq)
        assert hex0x(entry.leaf_hash()) == SPEC_LEAF_HASHES[seq]

    @pytest.mark.parametrize("seq", range(7))
    def test_independently(self, seq: int) -> None:
        # With `cryptography` (OpenSSL) and hashlib only, from the pinned text.
        message = SPEC_SIGNING_BYTES[seq].encode()
        public = Ed25519PublicKey.from_public_bytes(AUTHORITY_PUBLIC)
        public.verify(base64.b64decode(SPEC_SIGNATURES[seq]), message)
        assert AUTHORITY_KEY.sign(message) == base64.b64decode(SPEC_SIGNATURES[seq])
        assert "0x" + hashlib.sha256(b"\x00" + spec_leaf(seq)).hexdigest() == SPEC_LEAF_HASHES[seq]
        # The signed bytes are the statement's JCS: sorted keys, no whitespace, no seq.
        obj = json.loads(message)
        assert (
            message
            == json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        )
        assert "seq" not in obj
        assert obj["format"] == "certreg-authority/1"

    @pytest.mark.parametrize("seq", range(7))
    def test_leaves_parse(self, seq: int) -> None:
        entry = parse_log_entry(spec_leaf(seq))
        assert isinstance(entry, AuthorityEntry)
        assert entry == entry_of(VECTOR_STATEMENTS[seq], seq)
        verify_statement(entry, AUTHORITY_PUBLIC)

    def test_replay_and_map(self) -> None:
        state = replay(spec_leaf(seq) for seq in range(7))
        leaf = state.governance.issuers[CB]
        assert canonical_json(leaf.to_json()) == SPEC_FINAL_LEAF.encode()
        assert hex0x(leaf.key) == SPEC_ISSUER_KEY
        assert leaf.key == sha(b"\xff" + b"issuer" + b"\x00" + CB.encode())
        assert hex0x(leaf.value) == SPEC_ISSUER_VALUE
        assert leaf.value == sha(SPEC_FINAL_LEAF.encode())
        status_map = StatusMap()
        status_map.update_many(state.map_items())
        # One leaf: the root is H(0x02 ‖ key ‖ value) (docs/spec.md §5.2).
        assert status_map.root_hash == sha(b"\x02" + leaf.key + leaf.value)
        assert hex0x(status_map.root_hash) == SPEC_MAP_ROOT
        approval = state.governance.keys[CB, ISSUER_KEY_ID]
        assert (approval.approved_seq, approval.revoked_from_seq) == (1, 3)
        assert approval.custody is Custody.HELD


def test_the_spec_publishes_these_vectors() -> None:
    spec = (Path(__file__).parents[3] / "docs" / "spec.md").read_text(encoding="utf-8")
    section = spec[spec.index("### 3a.7 Test vectors") : spec.index("## 4. The log")]
    lines = set(section.splitlines())
    assert set(SPEC_SIGNING_BYTES) <= lines
    assert SPEC_FINAL_LEAF in lines
    for value in (
        SPEC_AUTHORITY_PUBLIC_KEY,
        SPEC_AUTHORITY_KEY_ID,
        *SPEC_SIGNATURES,
        *SPEC_LEAF_HASHES,
        SPEC_ISSUER_KEY,
        SPEC_ISSUER_VALUE,
        SPEC_MAP_ROOT,
    ):
        assert value in section


class TestKinds:
    def test_same_kinds_as_records(self) -> None:
        assert {kind.value for kind in CertificateKind} == KINDS

    def test_same_kinds_as_samples(self) -> None:
        samples = Path(__file__).parents[3] / "registry" / "data" / "sample_certificates.json"
        data = json.loads(samples.read_text(encoding="utf-8"))
        assert {c["kind"] for c in data["certificates"]} == KINDS
        assert {kind for issuer in data["issuers"] for kind in issuer["kinds"]} == KINDS


# --- the statement's JSON -------------------------------------------------------------------


def wire(type_: StatementType) -> dict[str, Any]:
    obj: dict[str, Any] = json.loads(json.dumps(vector(type_).to_json()))
    return obj


REQUIRED = {
    StatementType.ADMIT: [
        "name_vi",
        "name_en",
        "accreditation_body",
        "accreditation_number",
        "scope",
        "valid_from",
        "valid_until",
    ],
    StatementType.CHANGE_SCOPE: [
        "name_vi",
        "name_en",
        "accreditation_body",
        "accreditation_number",
        "scope",
        "valid_from",
        "valid_until",
    ],
    StatementType.SUSPEND_ISSUER: ["reason"],
    StatementType.REINSTATE_ISSUER: ["reason"],
    StatementType.WITHDRAW_ISSUER: ["reason"],
    StatementType.APPROVE_KEY: ["key_id", "public_key", "custody"],
    StatementType.REVOKE_KEY: ["key_id", "revoked_from_seq"],
    StatementType.SUSPEND_CERTIFICATE: ["certificate_id", "record_hash", "reason"],
    StatementType.WITHDRAW_CERTIFICATE: ["certificate_id", "record_hash", "reason"],
    StatementType.TRANSFER_CERTIFICATE: ["certificate_id", "record_hash", "to_issuer_id", "reason"],
}
OPTIONAL = {StatementType.CHANGE_SCOPE: ["reason"], StatementType.REVOKE_KEY: ["reason"]}
COMMON_MEMBERS = ["format", "type", "issuer_id", "at", "authority_key_id"]
REQUIRED_CASES = [(t, m) for t in ALL_TYPES for m in COMMON_MEMBERS + REQUIRED[t]]


class TestStatementJson:
    @pytest.mark.parametrize("type_", ALL_TYPES)
    def test_round_trip(self, type_: StatementType) -> None:
        statement = vector(type_)
        parsed = Statement.from_json(wire(type_))
        assert parsed == statement
        assert type(parsed) is type(statement)

    def test_a_subclass_parses_its_own_types(self) -> None:
        assert isinstance(Admit.from_json(wire(StatementType.ADMIT)), Admit)
        assert isinstance(Admission.from_json(wire(StatementType.CHANGE_SCOPE)), ChangeScope)
        with pytest.raises(EncodingError, match="want a statement of class Admit"):
            Admit.from_json(wire(StatementType.CHANGE_SCOPE))
        with pytest.raises(EncodingError, match="want a statement of class Admission"):
            Admission.from_json(wire(StatementType.SUSPEND_ISSUER))

    @pytest.mark.parametrize("type_", ALL_TYPES)
    def test_members_exactly(self, type_: StatementType) -> None:
        expected = set(COMMON_MEMBERS + REQUIRED[type_] + OPTIONAL.get(type_, []))
        assert set(vector(type_).to_json()) == expected

    @pytest.mark.parametrize(("type_", "member"), REQUIRED_CASES, ids=repr)
    def test_missing_or_null_member(self, type_: StatementType, member: str) -> None:
        obj = wire(type_)
        obj[member] = None
        with pytest.raises(EncodingError, match=member):
            Statement.from_json(obj)
        del obj[member]
        with pytest.raises(EncodingError, match=member):
            Statement.from_json(obj)

    @pytest.mark.parametrize(
        ("type_", "member"), [(t, m) for t, ms in OPTIONAL.items() for m in ms], ids=repr
    )
    def test_optional_member(self, type_: StatementType, member: str) -> None:
        obj = wire(type_)
        obj[member] = None
        with pytest.raises(EncodingError, match="null, want a value or the member omitted"):
            Statement.from_json(obj)
        del obj[member]
        parsed = Statement.from_json(obj)
        assert getattr(parsed, member) is None
        assert member not in parsed.to_json()

    @pytest.mark.parametrize("type_", ALL_TYPES)
    @pytest.mark.parametrize("member", ["seq", "signature", "certificate_id", "extra"])
    def test_unknown_member(self, type_: StatementType, member: str) -> None:
        if member == "certificate_id" and type_ in CERTIFICATE_TYPES:
            return  # one of theirs
        obj = wire(type_)
        obj[member] = 1
        with pytest.raises(EncodingError, match=f"unknown members \\['{member}'\\]"):
            Statement.from_json(obj)

    @pytest.mark.parametrize(
        ("type_", "member"),
        [
            (StatementType.SUSPEND_ISSUER, "scope"),  # another type's member
            (StatementType.ADMIT, "reason"),
            (StatementType.APPROVE_KEY, "reason"),
            (StatementType.WITHDRAW_ISSUER, "key_id"),
            (StatementType.REVOKE_KEY, "public_key"),
        ],
    )
    def test_member_of_another_type(self, type_: StatementType, member: str) -> None:
        obj = wire(type_)
        obj[member] = wire(StatementType.CHANGE_SCOPE).get(member) or "x"
        with pytest.raises(EncodingError, match="unknown members"):
            Statement.from_json(obj)

    @pytest.mark.parametrize("value", [None, [], "statement", 1, True])
    def test_not_an_object(self, value: Any) -> None:
        with pytest.raises(EncodingError, match="JSON object"):
            Statement.from_json(value)

    @pytest.mark.parametrize(
        ("type_", "member", "value"),
        [
            (StatementType.ADMIT, "format", "certreg-authority/2"),
            (StatementType.ADMIT, "format", "certreg-bundle/2"),
            (StatementType.ADMIT, "format", 1),
            (StatementType.ADMIT, "type", "Admit"),
            (StatementType.ADMIT, "type", "issue"),
            (StatementType.ADMIT, "type", "suspend-issuer"),
            (StatementType.ADMIT, "type", 0),
            (StatementType.ADMIT, "issuer_id", "VN-CB-HOABINH"),
            (StatementType.ADMIT, "issuer_id", "ab"),
            (StatementType.ADMIT, "issuer_id", "-abc"),
            (StatementType.ADMIT, "issuer_id", "abc-"),
            (StatementType.ADMIT, "issuer_id", "vn cb"),
            (StatementType.ADMIT, "issuer_id", "a" * 65),
            (StatementType.ADMIT, "issuer_id", 5),
            (StatementType.ADMIT, "at", "2026-01-15T02:00:00.000Z"),
            (StatementType.ADMIT, "at", "2026-01-15T02:00:00+00:00"),
            (StatementType.ADMIT, "at", "2026-01-15 02:00:00Z"),
            (StatementType.ADMIT, "at", "2026-02-30T02:00:00Z"),
            (StatementType.ADMIT, "at", "1969-12-31T23:59:59Z"),
            (StatementType.ADMIT, "at", 1768442400),
            (StatementType.ADMIT, "authority_key_id", SPEC_AUTHORITY_KEY_ID.upper()),
            (StatementType.ADMIT, "authority_key_id", "0x" + SPEC_AUTHORITY_KEY_ID[2:].upper()),
            (StatementType.ADMIT, "authority_key_id", SPEC_AUTHORITY_KEY_ID[2:]),
            (StatementType.ADMIT, "authority_key_id", SPEC_AUTHORITY_KEY_ID[:-2]),
            (StatementType.ADMIT, "authority_key_id", b64(bytes(32))),
            (StatementType.ADMIT, "name_vi", ""),
            (StatementType.ADMIT, "name_vi", " Hòa Bình"),
            (StatementType.ADMIT, "name_vi", "Hòa Bình "),
            (StatementType.ADMIT, "name_vi", "Hòa\nBình"),
            (StatementType.ADMIT, "name_vi", "Hòa\x85Bình"),
            (StatementType.ADMIT, "name_vi", "x" * 501),
            (StatementType.ADMIT, "name_vi", ["Hòa Bình"]),
            (StatementType.ADMIT, "name_en", 1.0),
            (StatementType.ADMIT, "accreditation_body", ""),
            (StatementType.ADMIT, "accreditation_number", "x" * 101),
            (StatementType.ADMIT, "accreditation_number", 902),
            (StatementType.ADMIT, "valid_from", "2026-1-15"),
            (StatementType.ADMIT, "valid_from", "15/01/2026"),
            (StatementType.ADMIT, "valid_from", "2026-01-15T00:00:00Z"),
            (StatementType.ADMIT, "valid_until", "2031-02-29"),
            (StatementType.ADMIT, "valid_until", "2026-01-14"),  # before valid_from
            (StatementType.ADMIT, "scope", []),
            (StatementType.ADMIT, "scope", "any"),
            (StatementType.SUSPEND_ISSUER, "reason", ""),
            (StatementType.SUSPEND_ISSUER, "reason", 3),
            (StatementType.SUSPEND_ISSUER, "reason", "x" * 501),
            (StatementType.APPROVE_KEY, "key_id", _KEY.split('"')[3].upper()),
            (StatementType.APPROVE_KEY, "key_id", "0x" + "00" * 32),  # not H(public_key)
            (
                StatementType.APPROVE_KEY,
                "public_key",
                "5/FioQvsVZr+oZXk3OhLaVaNXSywlj60RsBoXisX8vA",
            ),
            (
                StatementType.APPROVE_KEY,
                "public_key",
                "5/FioQvsVZr+oZXk3OhLaVaNXSywlj60RsBoXisX8vB=",
            ),
            (
                StatementType.APPROVE_KEY,
                "public_key",
                " 5/FioQvsVZr+oZXk3OhLaVaNXSywlj60RsBoXisX8vA=",
            ),
            (StatementType.APPROVE_KEY, "public_key", b64(ISSUER_PUBLIC[:31])),
            (StatementType.APPROVE_KEY, "public_key", hex0x(ISSUER_PUBLIC)),
            (StatementType.APPROVE_KEY, "custody", "HELD"),
            (StatementType.APPROVE_KEY, "custody", "registry"),
            (StatementType.APPROVE_KEY, "custody", True),
            (StatementType.REVOKE_KEY, "revoked_from_seq", True),
            (StatementType.REVOKE_KEY, "revoked_from_seq", 3.0),
            (StatementType.REVOKE_KEY, "revoked_from_seq", "3"),
            (StatementType.REVOKE_KEY, "revoked_from_seq", -1),
            (StatementType.REVOKE_KEY, "revoked_from_seq", 2**53),
            (StatementType.REVOKE_KEY, "key_id", b64(ISSUER_KEY_ID)),
        ],
        ids=repr,
    )
    def test_bad_values(self, type_: StatementType, member: str, value: Any) -> None:
        obj = wire(type_)
        obj[member] = value
        with pytest.raises(EncodingError, match=f"statement.{member}"):
            Statement.from_json(obj)

    @pytest.mark.parametrize(
        ("scope", "match"),
        [
            ({"kinds": ["calibration"]}, "no \\['standards'\\]"),
            ({"kinds": ["calibration"], "standards": [], "extra": []}, "unknown members"),
            ({"kinds": [], "standards": []}, "at least one"),
            ({"kinds": ["calibration", "calibration"], "standards": []}, "duplicates"),
            ({"kinds": ["test-report", "calibration"], "standards": []}, "sorted"),
            ({"kinds": ["Calibration"], "standards": []}, "want kinds of"),
            ({"kinds": ["hợp quy"], "standards": []}, "want kinds of"),
            ({"kinds": "calibration", "standards": []}, "array of strings"),
            ({"kinds": [1], "standards": []}, "array of strings"),
            ({"kinds": ["calibration"], "standards": ["B", "A"]}, "sorted"),
            ({"kinds": ["calibration"], "standards": ["A", "A"]}, "duplicates"),
            ({"kinds": ["calibration"], "standards": [""]}, "empty"),
            ({"kinds": ["calibration"], "standards": ["x" * 101]}, "at most 100"),
            ({"kinds": ["calibration"], "standards": [" QCVN 7"]}, "space"),
            ({"kinds": ["calibration"], "standards": [None]}, "array of strings"),
            ({"kinds": ["calibration"], "standards": None}, "null"),
            (
                {"kinds": ["calibration"], "standards": [f"S{i:04}" for i in range(1001)]},
                "at most 1000",
            ),
            (
                # Distinct as sent, equal after NFC: one standard twice.
                {
                    "kinds": ["calibration"],
                    "standards": ["Hòa", unicodedata.normalize("NFD", "Hòa")],
                },
                "duplicates",
            ),
        ],
        ids=repr,
    )
    def test_bad_scope(self, scope: Any, match: str) -> None:
        obj = wire(StatementType.ADMIT)
        obj["scope"] = scope
        with pytest.raises(EncodingError, match=match):
            Statement.from_json(obj)

    def test_largest_scope(self) -> None:
        obj = wire(StatementType.ADMIT)
        obj["scope"] = {"kinds": sorted(KINDS), "standards": [f"S{i:04}" for i in range(1000)]}
        parsed = Statement.from_json(obj)
        assert isinstance(parsed, Admit)
        assert len(parsed.scope.standards) == 1000

    def test_nfd_is_accepted_and_normalised(self) -> None:
        obj = wire(StatementType.CHANGE_SCOPE)
        for member in ("name_vi", "reason"):
            obj[member] = unicodedata.normalize("NFD", obj[member])
        # NFD sorts like NFC here ('Đ…' and 'Q…' and 'T…'): the one spelling is NFC's order.
        obj["scope"]["standards"] = [*obj["scope"]["standards"], "TCVN Đo lường"]
        obj["scope"]["standards"][-1] = unicodedata.normalize("NFD", "TCVN Đo lường")
        parsed = Statement.from_json(obj)
        assert isinstance(parsed, ChangeScope)
        assert parsed.name_vi == NAME_VI
        assert parsed.reason == "Mở rộng phạm vi chỉ định"
        assert parsed.scope.standards[-1] == "TCVN Đo lường"
        assert unicodedata.is_normalized("NFC", parsed.signing_bytes().decode())
        change = vector(StatementType.CHANGE_SCOPE)
        assert isinstance(change, ChangeScope)
        nfc = dataclasses.replace(
            change,
            scope=Scope(kinds=KINDS_0, standards=(*STANDARDS_2, "TCVN Đo lường")),
        )
        assert parsed == nfc
        assert parsed.signing_bytes() == nfc.signing_bytes()

    def test_json_types_after_parse(self) -> None:
        obj = wire(StatementType.REVOKE_KEY)
        assert type(obj["revoked_from_seq"]) is int
        assert Statement.from_json(obj).to_json() == obj


class TestConstructor:
    def test_base_classes_cannot_be_built(self) -> None:
        with pytest.raises(TypeError):
            Statement(**COMMON, at=utc("2026-01-15T00:00:00Z"))  # type: ignore[abstract]
        with pytest.raises(TypeError):
            Admission(
                **COMMON,
                **TERMS,
                at=utc("2026-01-15T00:00:00Z"),
                scope=Scope(kinds=("calibration",)),
            )  # type: ignore[abstract]

    @pytest.mark.parametrize(
        ("type_", "changes"),
        [
            (StatementType.ADMIT, {"issuer_id": "Quacert"}),
            (StatementType.ADMIT, {"authority_key_id": AUTHORITY_KEY_ID[:31]}),
            (StatementType.ADMIT, {"authority_key_id": bytearray(AUTHORITY_KEY_ID)}),
            (StatementType.ADMIT, {"authority_key_id": SPEC_AUTHORITY_KEY_ID}),
            (StatementType.ADMIT, {"at": dt.datetime(2026, 1, 15, 2)}),  # naive
            (StatementType.ADMIT, {"at": utc("2026-01-15T02:00:00Z").replace(microsecond=1)}),
            (StatementType.ADMIT, {"at": "2026-01-15T02:00:00Z"}),
            (StatementType.ADMIT, {"valid_from": dt.datetime(2026, 1, 15, tzinfo=dt.UTC)}),
            (StatementType.ADMIT, {"valid_until": "2031-01-14"}),
            (StatementType.ADMIT, {"scope": {"kinds": ["calibration"], "standards": []}}),
            (StatementType.ADMIT, {"name_vi": "lone \ud800"}),
            (StatementType.ADMIT, {"name_en": None}),
            (StatementType.CHANGE_SCOPE, {"reason": ""}),
            (StatementType.SUSPEND_ISSUER, {"reason": None}),
            (StatementType.APPROVE_KEY, {"custody": "self"}),
            (StatementType.REVOKE_KEY, {"revoked_from_seq": True}),
            (StatementType.REVOKE_KEY, {"key_id": b"\x00" * 33}),
        ],
        ids=repr,
    )
    def test_rejects(self, type_: StatementType, changes: dict[str, Any]) -> None:
        with pytest.raises(EncodingError):
            dataclasses.replace(vector(type_), **changes)

    @pytest.mark.parametrize(
        "public_key",
        [
            pytest.param(bytes(32), id="not-on-the-curve"),
            pytest.param(b"\x01" + bytes(31), id="identity"),  # small order
            pytest.param(b"\xec" + b"\xff" * 30 + b"\x7f", id="order-2"),
            # The issuer key plus the point of order 2: libsodium's verify would take it as a key.
            pytest.param(
                crypto_core_ed25519_add(ISSUER_PUBLIC, b"\xec" + b"\xff" * 30 + b"\x7f"),
                id="mixed-order",
            ),
            pytest.param(b"\xed" + b"\xff" * 30 + b"\x7f", id="non-canonical"),  # y = p
        ],
    )
    def test_approved_key_must_be_of_prime_order(self, public_key: bytes) -> None:
        approve = vector(StatementType.APPROVE_KEY)
        assert isinstance(approve, ApproveKey)
        with pytest.raises(EncodingError, match="prime-order subgroup"):
            dataclasses.replace(approve, public_key=public_key, key_id=sha(public_key))

    def test_custody_from_string(self) -> None:
        approve = vector(StatementType.APPROVE_KEY)
        assert isinstance(approve, ApproveKey)
        statement = dataclasses.replace(approve, custody="hosted")  # type: ignore[arg-type]
        assert statement.custody is Custody.HOSTED

    def test_at_is_kept_in_utc(self, admit: Admit) -> None:
        hanoi = dt.timezone(dt.timedelta(hours=7))
        local = dataclasses.replace(admit, at=admit.at.astimezone(hanoi))
        assert local.at.tzinfo is dt.UTC
        assert local == admit
        assert local.signing_bytes() == admit.signing_bytes()

    def test_nfd_is_kept_in_nfc(self, admit: Admit) -> None:
        nfd = dataclasses.replace(admit, name_vi=unicodedata.normalize("NFD", NAME_VI))
        assert nfd.name_vi == NAME_VI
        assert nfd == admit

    def test_scope_sorts_and_normalises(self) -> None:
        scope = Scope(
            kinds=("regulation-conformity", "calibration"),
            standards=("TCVN 2", unicodedata.normalize("NFD", "QCVN Đ"), "QCVN 1"),
        )
        assert scope.kinds == ("calibration", "regulation-conformity")
        assert scope.standards == ("QCVN 1", "QCVN Đ", "TCVN 2")
        assert Scope.from_json(scope.to_json()) == scope

    @pytest.mark.parametrize(
        "changes",
        [
            {"kinds": "calibration"},  # a string is not a set of strings
            {"kinds": ()},
            {"kinds": ("calibration", "calibration")},
            {"standards": b"QCVN"},
            {"standards": ("A", "A")},
            {"standards": (1,)},
        ],
        ids=repr,
    )
    def test_scope_rejects(self, changes: dict[str, Any]) -> None:
        with pytest.raises(EncodingError):
            Scope(**{"kinds": ("calibration",), "standards": (), **changes})

    def test_valid_for_one_day(self, admit: Admit) -> None:
        day = dt.date(2026, 1, 15)
        one_day = dataclasses.replace(admit, valid_from=day, valid_until=day)
        assert Statement.from_json(one_day.to_json()) == one_day


# --- signatures, entries, the dispatcher ------------------------------------------------------


class TestSignatures:
    @pytest.mark.parametrize("type_", ALL_TYPES)
    def test_round_trip(self, type_: StatementType) -> None:
        signed = sign_statement(vector(type_), AUTHORITY_KEY)
        verify_statement(signed, AUTHORITY_PUBLIC)
        verify_statement(signed.at_seq(7), AUTHORITY_PUBLIC)

    def test_seq_is_not_signed(self, admit: Admit) -> None:
        signed = sign_statement(admit, AUTHORITY_KEY)
        early, late = signed.at_seq(0), signed.at_seq(2**53 - 1)
        assert early.signature == late.signature
        assert early.leaf_bytes() != late.leaf_bytes()
        assert b'"seq"' not in admit.signing_bytes()
        verify_statement(late, AUTHORITY_PUBLIC)
        assert late.signed == signed

    @pytest.mark.parametrize(
        ("type_", "changes"),
        [
            (StatementType.ADMIT, {"issuer_id": "vn-cb-hoabinh2"}),
            (StatementType.ADMIT, {"at": utc("2026-01-15T02:00:01Z")}),
            (StatementType.ADMIT, {"name_vi": NAME_VI + "."}),
            (StatementType.ADMIT, {"name_en": "Hoa Binh"}),
            (StatementType.ADMIT, {"accreditation_body": "VILAS"}),
            (StatementType.ADMIT, {"accreditation_number": "VICAS 903"}),
            (StatementType.ADMIT, {"scope": Scope(kinds=KINDS_0, standards=())}),
            (StatementType.ADMIT, {"scope": Scope(kinds=KINDS_0[:2], standards=STANDARDS_0)}),
            (StatementType.ADMIT, {"valid_from": dt.date(2026, 1, 14)}),
            (StatementType.ADMIT, {"valid_until": dt.date(2031, 1, 15)}),
            (StatementType.CHANGE_SCOPE, {"reason": None}),
            (StatementType.SUSPEND_ISSUER, {"reason": "Khác"}),
            (StatementType.APPROVE_KEY, {"custody": Custody.HOSTED}),
            (StatementType.REVOKE_KEY, {"revoked_from_seq": 2}),
            (StatementType.REVOKE_KEY, {"key_id": AUTHORITY_KEY_ID}),
        ],
        ids=repr,
    )
    def test_every_member_is_signed(self, type_: StatementType, changes: dict[str, Any]) -> None:
        signed = sign_statement(vector(type_), AUTHORITY_KEY)
        changed = dataclasses.replace(signed.statement, **changes)
        with pytest.raises(SignatureError, match="does not verify"):
            verify_statement(dataclasses.replace(signed, statement=changed), AUTHORITY_PUBLIC)

    def test_the_type_is_signed(self) -> None:
        # The same members under another type: suspend's signature is not reinstate's.
        suspend = vector(StatementType.SUSPEND_ISSUER)
        assert isinstance(suspend, SuspendIssuer)
        signed = sign_statement(suspend, AUTHORITY_KEY)
        reinstate = ReinstateIssuer(
            issuer_id=suspend.issuer_id,
            at=suspend.at,
            authority_key_id=suspend.authority_key_id,
            reason=suspend.reason,
        )
        with pytest.raises(SignatureError, match="does not verify"):
            verify_statement(
                SignedStatement(statement=reinstate, signature=signed.signature),
                AUTHORITY_PUBLIC,
            )

    def test_every_flipped_bit_of_signature_fails(self, admit: Admit) -> None:
        signed = sign_statement(admit, AUTHORITY_KEY)
        for i in range(64):
            forged = bytearray(signed.signature)
            forged[i] ^= 0x01
            with pytest.raises(SignatureError, match="does not verify"):
                verify_statement(
                    dataclasses.replace(signed, signature=bytes(forged)), AUTHORITY_PUBLIC
                )

    def test_malleated_signature_fails(self, admit: Admit) -> None:
        order = 2**252 + 27742317777372353535851937790883648493
        signed = sign_statement(admit, AUTHORITY_KEY)
        s = int.from_bytes(signed.signature[32:], "little") + order
        malleated = signed.signature[:32] + s.to_bytes(32, "little")
        with pytest.raises(SignatureError, match="does not verify"):
            verify_statement(dataclasses.replace(signed, signature=malleated), AUTHORITY_PUBLIC)

    def test_wrong_key(self, admit: Admit) -> None:
        signed = sign_statement(admit, AUTHORITY_KEY)
        with pytest.raises(SignatureError, match="authority_key_id"):
            verify_statement(signed, ISSUER_PUBLIC)

    def test_other_key_claiming_the_key_id(self, admit: Admit) -> None:
        other = Ed25519PrivateKey.generate()
        other_id = sha(other.public_key().public_bytes_raw())
        forged = sign_statement(dataclasses.replace(admit, authority_key_id=other_id), other)
        relabelled = SignedStatement(statement=admit, signature=forged.signature)
        with pytest.raises(SignatureError, match="does not verify"):
            verify_statement(relabelled, AUTHORITY_PUBLIC)

    def test_sign_checks_key_id(self, admit: Admit) -> None:
        with pytest.raises(SignatureError, match="authority_key_id"):
            sign_statement(admit, ISSUER_KEY)

    @pytest.mark.parametrize("key", [b"\x00" * 31, bytearray(32), "key"])
    def test_bad_public_key(self, admit: Admit, key: Any) -> None:
        with pytest.raises(SignatureError, match="32 raw bytes"):
            verify_statement(sign_statement(admit, AUTHORITY_KEY), key)

    @pytest.mark.parametrize("signature", [b"\x00" * 63, None, "sig"])
    def test_bad_signature_value(self, admit: Admit, signature: Any) -> None:
        with pytest.raises(EncodingError, match="signature"):
            SignedStatement(statement=admit, signature=signature)


class TestDomainSeparation:
    """A certificate event's signing bytes never verify as a statement, nor the reverse."""

    def test_event_signing_bytes_are_no_statement(self, event: Event) -> None:
        with pytest.raises(EncodingError):
            Statement.from_json(json.loads(event.signing_bytes()))
        assert "format" not in json.loads(event.signing_bytes())

    @pytest.mark.parametrize("type_", ALL_TYPES)
    def test_statement_signing_bytes_are_no_event(self, type_: StatementType) -> None:
        with pytest.raises(EncodingError):
            Event.from_json(json.loads(vector(type_).signing_bytes()))

    @pytest.mark.parametrize("type_", ALL_TYPES)
    def test_one_key_signing_both(self, event: Event, type_: StatementType) -> None:
        # Even were the authority's key also an issuer key, neither signature serves the other.
        as_issuer = sign_event(dataclasses.replace(event, key_id=AUTHORITY_KEY_ID), AUTHORITY_KEY)
        assert as_issuer.signature is not None
        verify_event_signature(as_issuer, AUTHORITY_PUBLIC)
        statement = vector(type_)
        with pytest.raises(SignatureError, match="does not verify"):
            verify_statement(
                SignedStatement(statement=statement, signature=as_issuer.signature),
                AUTHORITY_PUBLIC,
            )
        signed = sign_statement(statement, AUTHORITY_KEY)
        with pytest.raises(SignatureError, match="does not verify"):
            verify_event_signature(
                dataclasses.replace(as_issuer, signature=signed.signature), AUTHORITY_PUBLIC
            )

    def test_leaves_of_one_kind_are_not_the_other(self, event: Event) -> None:
        with pytest.raises(EncodingError):
            AuthorityEntry.from_leaf(event.leaf_bytes())
        for seq in range(7):
            with pytest.raises(EncodingError):
                Event.from_leaf(spec_leaf(seq))


class TestEntries:
    def test_shape(self, admit: Admit) -> None:
        entry = entry_of(admit, 12)
        assert entry.to_json() == {
            "seq": 12,
            "signature": SPEC_SIGNATURES[0],
            "statement": admit.to_json(),
        }

    @pytest.mark.parametrize("type_", ALL_TYPES)
    def test_round_trips(self, type_: StatementType) -> None:
        entry = entry_of(vector(type_), 3)
        assert AuthorityEntry.from_leaf(entry.leaf_bytes()) == entry
        assert AuthorityEntry.from_json(json.loads(json.dumps(entry.to_json()))) == entry
        signed = entry.signed
        assert SignedStatement.from_json(json.loads(json.dumps(signed.to_json()))) == signed

    def test_leaf_holds_the_signing_bytes_verbatim(self, admit: Admit) -> None:
        leaf = entry_of(admit, 0).leaf_bytes()
        assert leaf.endswith(b',"statement":' + admit.signing_bytes() + b"}")

    @pytest.mark.parametrize(
        "mutate",
        [
            pytest.param(lambda b: b.replace(b'{"seq"', b'{ "seq"'), id="whitespace"),
            pytest.param(lambda b: b.replace(b'":"admit"', b'": "admit"'), id="inner-space"),
            pytest.param(lambda b: b + b"\n", id="trailing-newline"),
            pytest.param(lambda b: b.replace(b'"seq":0', b'"seq":0.0'), id="float-seq"),
            pytest.param(lambda b: b.replace(b'"seq":0', b'"seq":false'), id="bool-seq"),
            pytest.param(lambda b: b.replace(b'"seq":0', b'"seq":"0"'), id="string-seq"),
            pytest.param(lambda b: b.replace(b'"BoA"', b'"Bo\\u0041"'), id="escape"),
            pytest.param(lambda b: b.replace(b'"seq":0,', b""), id="no-seq"),
            pytest.param(
                lambda b: b[: b.index(b'"signature"')] + b[b.index(b'"statement"') :],
                id="no-signature",
            ),
            pytest.param(lambda b: b[:-1] + b',"seq":0}', id="duplicate-seq"),
            pytest.param(lambda b: b[:-1] + b',"extra":1}', id="unknown-member"),
            pytest.param(
                lambda b: b'{"signature":' + b.split(b'"signature":', 1)[1][:-1] + b',"seq":0}',
                id="member-order",
            ),
            pytest.param(
                lambda b: unicodedata.normalize("NFD", b.decode()).encode(), id="nfd-text"
            ),
            pytest.param(
                lambda b: b.replace(
                    b'"QCVN 7:2019/BKHCN","TCVN ISO 14001:2015"',
                    b'"TCVN ISO 14001:2015","QCVN 7:2019/BKHCN"',
                ),
                id="unsorted-standards",
            ),
            pytest.param(lambda b: b.replace(b"==", b"="), id="bad-base64"),
            pytest.param(lambda b: b.replace(b"0xba8112fa", b"0xBA8112FA"), id="uppercase-hex"),
            pytest.param(lambda b: b"\xef\xbb\xbf" + b, id="bom"),
            pytest.param(lambda b: b"[" * 100_000, id="deep-nesting"),
            pytest.param(lambda b: b"\xff", id="not-utf8"),
            pytest.param(lambda b: b[b.index(b'"statement":') + 12 : -1], id="bare-statement"),
        ],
    )
    def test_non_canonical_leaf_rejected(self, mutate: Callable[[bytes], bytes]) -> None:
        leaf = spec_leaf(0)
        forged = mutate(leaf)
        assert forged != leaf
        with pytest.raises(EncodingError):
            AuthorityEntry.from_leaf(forged)
        with pytest.raises(EncodingError):
            parse_log_entry(forged)

    def test_signed_statement_has_no_seq(self, admit: Admit) -> None:
        obj = entry_of(admit, 0).to_json()
        with pytest.raises(EncodingError, match="unknown members \\['seq'\\]"):
            SignedStatement.from_json(obj)

    @pytest.mark.parametrize("seq", [-1, 2**53, True])
    def test_seq_range(self, admit: Admit, seq: Any) -> None:
        with pytest.raises(EncodingError, match=r"entry\.seq"):
            sign_statement(admit, AUTHORITY_KEY).at_seq(seq)

    def test_unsigned_statement_is_no_entry(self, admit: Admit) -> None:
        with pytest.raises(EncodingError):
            parse_log_entry(admit.signing_bytes())


class TestParseLogEntry:
    def test_event(self, event: Event) -> None:
        parsed = parse_log_entry(event.leaf_bytes())
        assert isinstance(parsed, Event)
        assert parsed == Event.from_leaf(event.leaf_bytes()) == event

    def test_event_of_spec_3(self, event: Event) -> None:
        assert hex0x(event.leaf_hash()) == (
            "0xee11603573f98c182ee3d790f2361e70dff34342a86ed09624b3f3bab8875b25"
        )
        assert parse_log_entry(event.leaf_bytes()) == event

    def test_authority_entry(self) -> None:
        assert isinstance(parse_log_entry(spec_leaf(0)), AuthorityEntry)

    @pytest.mark.parametrize(
        "leaf",
        [b"[]", b"null", b'"statement"', b"1", b"{}", b'{"statement":{}}', b"", b"  "],
    )
    def test_anything_else_is_refused(self, leaf: bytes) -> None:
        with pytest.raises(EncodingError):
            parse_log_entry(leaf)

    def test_event_with_a_statement_member(self, event: Event) -> None:
        # Routed by `statement` to the authority parser, which refuses the event's members.
        leaf = event.leaf_bytes()
        forged = leaf[:-1] + b',"statement":' + SPEC_SIGNING_BYTES[0].encode() + b"}"
        with pytest.raises(EncodingError, match="unknown members"):
            parse_log_entry(forged)

    @pytest.mark.parametrize(
        "mutate",
        [
            pytest.param(lambda b: b.replace(b'{"at"', b'{ "at"'), id="whitespace"),
            pytest.param(lambda b: b.replace(b'"seq":1', b'"seq":1.0'), id="float-seq"),
            pytest.param(lambda b: b[:-1] + b',"seq":1}', id="duplicate-key"),
            pytest.param(lambda b: b[:-1] + b',"format":"certreg-authority/1"}', id="format"),
            pytest.param(
                lambda b: unicodedata.normalize("NFD", b.decode()).encode(), id="nfd-text"
            ),
            pytest.param(
                lambda b: b.replace(
                    b',"signature":"' + b.split(b'"signature":"')[1].split(b'"')[0] + b'"', b""
                ),
                id="unsigned",
            ),
            pytest.param(lambda b: b.replace(b'"reason":"', b'"reason":{"a":["'), id="nested"),
        ],
    )
    def test_bad_events_refused_as_before(
        self, event: Event, mutate: Callable[[bytes], bytes]
    ) -> None:
        forged = mutate(event.leaf_bytes())
        with pytest.raises(EncodingError):
            Event.from_leaf(forged)
        with pytest.raises(EncodingError):
            parse_log_entry(forged)


# --- the map's side ----------------------------------------------------------------------------


class TestMapKeys:
    def test_key_by_hand(self) -> None:
        assert issuer_map_key("quacert") == sha(bytes([0xFF]) + b"issuer" + bytes([0]) + b"quacert")

    def test_no_certificate_id_gives_an_issuer_key(self) -> None:
        # The closest a certificate id can come: the same characters, but U+00FF is C3 BF in
        # UTF-8 and U+0000 is 00: the preimage starts with 0xC3, never 0xFF.
        lookalike = "\u00ffissuer\u0000quacert"
        assert lookalike.encode() == b"\xc3\xbfissuer\x00quacert"
        assert map_key(lookalike) != issuer_map_key("quacert")
        assert map_key("quacert") != issuer_map_key("quacert")
        assert map_key("issuer\x00quacert") != issuer_map_key("quacert")

    @pytest.mark.parametrize("bad", ["", "Quacert", "ab", None, b"quacert"])
    def test_needs_an_issuer_id(self, bad: Any) -> None:
        with pytest.raises(EncodingError, match="issuer_id"):
            issuer_map_key(bad)

    def test_leaf(self) -> None:
        leaf = IssuerLeaf(
            issuer_id="quacert",
            status="admitted",
            admission_seq=4,
            admission_hash=sha(b"entry"),
            status_seq=4,
        )
        text = (
            '{"admission_hash":"' + hex0x(sha(b"entry")) + '","admission_seq":4,'
            '"issuer_id":"quacert","status":"admitted","status_seq":4}'
        )
        assert canonical_json(leaf.to_json()) == text.encode()
        assert leaf.value == sha(text.encode())
        assert leaf.key == issuer_map_key("quacert")

    @pytest.mark.parametrize(
        "changes",
        [
            {"status": "valid"},
            {"status": "Admitted"},
            {"admission_seq": -1},
            {"admission_seq": True},
            {"status_seq": 3},  # before the admission it keeps
            {"admission_hash": b"\x00" * 31},
            {"issuer_id": "Q"},
        ],
        ids=repr,
    )
    def test_leaf_rejects(self, changes: dict[str, Any]) -> None:
        fields: dict[str, Any] = {
            "issuer_id": "quacert",
            "status": "admitted",
            "admission_seq": 4,
            "admission_hash": sha(b"entry"),
            "status_seq": 4,
            **changes,
        }
        with pytest.raises(EncodingError):
            IssuerLeaf(**fields)


# --- transitions -------------------------------------------------------------------------------

OTHER_KEY = (
    Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33))).public_key().public_bytes_raw()
)


def statement_for(type_: StatementType, **changes: Any) -> Statement:
    return dataclasses.replace(vector(type_), **changes)


def state_with(status: str | None) -> GovernanceState:
    """A state in which CB is at `status` (None: never admitted), its key approved unless
    never admitted."""
    state = GovernanceState()
    if status is None:
        return state
    for seq, type_ in enumerate(
        {
            "admitted": [StatementType.ADMIT, StatementType.APPROVE_KEY],
            "suspended": [
                StatementType.ADMIT,
                StatementType.APPROVE_KEY,
                StatementType.SUSPEND_ISSUER,
            ],
            "withdrawn": [
                StatementType.ADMIT,
                StatementType.APPROVE_KEY,
                StatementType.WITHDRAW_ISSUER,
            ],
        }[status]
    ):
        apply_statement(state, entry_of(vector(type_), seq))
    assert state.issuers[CB].status == status
    return state


# Each statement from each state: the status it leaves, or None when refused.
TRANSITIONS: dict[tuple[StatementType, str | None], str | None] = {
    (StatementType.ADMIT, None): "admitted",
    (StatementType.ADMIT, "admitted"): None,
    (StatementType.ADMIT, "suspended"): None,
    (StatementType.ADMIT, "withdrawn"): "admitted",
    (StatementType.CHANGE_SCOPE, None): None,
    (StatementType.CHANGE_SCOPE, "admitted"): "admitted",
    (StatementType.CHANGE_SCOPE, "suspended"): "suspended",
    (StatementType.CHANGE_SCOPE, "withdrawn"): None,
    (StatementType.SUSPEND_ISSUER, None): None,
    (StatementType.SUSPEND_ISSUER, "admitted"): "suspended",
    (StatementType.SUSPEND_ISSUER, "suspended"): None,
    (StatementType.SUSPEND_ISSUER, "withdrawn"): None,
    (StatementType.REINSTATE_ISSUER, None): None,
    (StatementType.REINSTATE_ISSUER, "admitted"): None,
    (StatementType.REINSTATE_ISSUER, "suspended"): "admitted",
    (StatementType.REINSTATE_ISSUER, "withdrawn"): None,
    (StatementType.WITHDRAW_ISSUER, None): None,
    (StatementType.WITHDRAW_ISSUER, "admitted"): "withdrawn",
    (StatementType.WITHDRAW_ISSUER, "suspended"): "withdrawn",
    (StatementType.WITHDRAW_ISSUER, "withdrawn"): None,
}
STATUS_CASES = sorted(TRANSITIONS.items(), key=repr)


class TestTransitions:
    def test_table_is_complete(self) -> None:
        status_types = [
            t
            for t in ALL_TYPES
            if t not in (StatementType.APPROVE_KEY, StatementType.REVOKE_KEY, *CERTIFICATE_TYPES)
        ]
        assert {t for t, _ in TRANSITIONS} == set(status_types)
        assert len(TRANSITIONS) == len(status_types) * 4

    @pytest.mark.parametrize(("case", "after"), STATUS_CASES, ids=repr)
    def test_status_statement(
        self, case: tuple[StatementType, str | None], after: str | None
    ) -> None:
        type_, before = case
        state = state_with(before)
        previous = state.issuers.get(CB)
        entry = entry_of(vector(type_), 10)
        if after is None:
            with pytest.raises(LifecycleError, match=f"authority entry 10: got {type_.value}"):
                apply_statement(state, entry)
            assert state.issuers.get(CB) == previous  # a refused entry changes nothing
            return
        leaf = apply_statement(state, entry)
        assert leaf is not None
        assert state.issuers[CB] == leaf
        assert leaf.status == after
        assert leaf.status_seq == 10
        if type_ in (StatementType.ADMIT, StatementType.CHANGE_SCOPE):
            assert (leaf.admission_seq, leaf.admission_hash) == (10, entry.leaf_hash())
        else:
            assert previous is not None
            assert (leaf.admission_seq, leaf.admission_hash) == (
                previous.admission_seq,
                previous.admission_hash,
            )

    def test_allowed_from_matches_the_table(self) -> None:
        for (type_, before), after in TRANSITIONS.items():
            allowed = ALLOWED_FROM[type_]
            if allowed is None:
                assert (after is not None) == (before in (None, "withdrawn"))
            else:
                assert (after is not None) == (before in allowed)

    def test_readmission_keeps_the_keys(self) -> None:
        state = state_with("withdrawn")
        apply_statement(state, entry_of(vector(StatementType.ADMIT), 9))
        assert state.issuers[CB].status == "admitted"
        assert state.keys[CB, ISSUER_KEY_ID].approved_seq == 1

    def test_other_cbs_are_untouched(self) -> None:
        state = state_with("admitted")
        other = statement_for(StatementType.ADMIT, issuer_id="vn-lab-songhong")
        apply_statement(state, entry_of(other, 5))
        assert sorted(state.issuers) == [CB, "vn-lab-songhong"]
        apply_statement(state, entry_of(statement_for(StatementType.SUSPEND_ISSUER), 6))
        assert state.issuers["vn-lab-songhong"].status == "admitted"
        assert state.issuers[CB].status == "suspended"


class TestKeyTransitions:
    @pytest.mark.parametrize(
        ("before", "allowed"),
        [(None, False), ("admitted", True), ("suspended", True), ("withdrawn", False)],
    )
    def test_approve_from_each_status(self, before: str | None, allowed: bool) -> None:
        state = state_with(before)
        leaves = dict(state.issuers)
        approve = statement_for(
            StatementType.APPROVE_KEY,
            public_key=OTHER_KEY,
            key_id=sha(OTHER_KEY),
            custody=Custody.HOSTED,
        )
        if not allowed:
            with pytest.raises(LifecycleError, match="approve_key"):
                apply_statement(state, entry_of(approve, 8))
            assert (CB, sha(OTHER_KEY)) not in state.keys
            return
        assert apply_statement(state, entry_of(approve, 8)) is None
        assert state.issuers == leaves  # a key changes no leaf
        approval = state.keys[CB, sha(OTHER_KEY)]
        assert (approval.approved_seq, approval.custody, approval.public_key) == (
            8,
            Custody.HOSTED,
            OTHER_KEY,
        )
        assert approval.revoked_from_seq is None

    def test_approve_twice_refused(self) -> None:
        state = state_with("admitted")
        with pytest.raises(LifecycleError, match="approved at 1"):
            apply_statement(state, entry_of(vector(StatementType.APPROVE_KEY), 2))

    def test_a_revoked_key_never_comes_back(self) -> None:
        state = state_with("admitted")
        apply_statement(state, entry_of(vector(StatementType.REVOKE_KEY), 5))
        with pytest.raises(LifecycleError, match="not yet approved"):
            apply_statement(state, entry_of(vector(StatementType.APPROVE_KEY), 6))

    def test_same_key_for_two_cbs(self) -> None:
        state = state_with("admitted")
        other = "vn-lab-songhong"
        apply_statement(state, entry_of(statement_for(StatementType.ADMIT, issuer_id=other), 2))
        apply_statement(
            state, entry_of(statement_for(StatementType.APPROVE_KEY, issuer_id=other), 3)
        )
        assert {(CB, ISSUER_KEY_ID), (other, ISSUER_KEY_ID)} <= set(state.keys)

    @pytest.mark.parametrize("before", ["admitted", "suspended", "withdrawn"])
    def test_revoke_from_each_status(self, before: str) -> None:
        state = state_with(before)
        leaves = dict(state.issuers)
        assert apply_statement(state, entry_of(vector(StatementType.REVOKE_KEY), 5)) is None
        assert state.keys[CB, ISSUER_KEY_ID].revoked_from_seq == 3
        assert state.issuers == leaves

    def test_revoke_unknown_cb_or_key(self) -> None:
        with pytest.raises(LifecycleError, match="unknown CB"):
            apply_statement(GovernanceState(), entry_of(vector(StatementType.REVOKE_KEY), 5))
        state = state_with("admitted")
        unknown = statement_for(StatementType.REVOKE_KEY, key_id=sha(OTHER_KEY))
        with pytest.raises(LifecycleError, match="want a key approved"):
            apply_statement(state, entry_of(unknown, 5))

    @pytest.mark.parametrize(("revoked_from", "allowed"), [(0, True), (5, True), (6, False)])
    def test_revoke_reaches_no_later_than_itself(self, revoked_from: int, allowed: bool) -> None:
        state = state_with("admitted")
        revoke = statement_for(StatementType.REVOKE_KEY, revoked_from_seq=revoked_from)
        if allowed:
            apply_statement(state, entry_of(revoke, 5))
            assert state.keys[CB, ISSUER_KEY_ID].revoked_from_seq == revoked_from
        else:
            with pytest.raises(LifecycleError, match="at most the entry's own seq 5"):
                apply_statement(state, entry_of(revoke, 5))

    @pytest.mark.parametrize(("again", "allowed"), [(2, True), (3, False), (4, False)])
    def test_revoke_again_only_earlier(self, again: int, allowed: bool) -> None:
        state = state_with("admitted")
        apply_statement(state, entry_of(vector(StatementType.REVOKE_KEY), 5))  # from 3
        revoke = statement_for(StatementType.REVOKE_KEY, revoked_from_seq=again)
        if allowed:
            apply_statement(state, entry_of(revoke, 6))
            assert state.keys[CB, ISSUER_KEY_ID].revoked_from_seq == again
        else:
            with pytest.raises(LifecycleError, match="earlier than the key's revocation from 3"):
                apply_statement(state, entry_of(revoke, 6))
            assert state.keys[CB, ISSUER_KEY_ID].revoked_from_seq == 3


class TestReplay:
    def test_mixed_log(self, event: Event) -> None:
        issue = sign_event(
            dataclasses.replace(event, seq=1, type=EventType.ISSUE, issuer_id=CB, reason=None),
            ISSUER_KEY,
        )
        suspend = sign_event(dataclasses.replace(event, seq=3, issuer_id=CB), ISSUER_KEY)
        leaves = [
            spec_leaf(0),
            issue.leaf_bytes(),
            entry_of(vector(StatementType.APPROVE_KEY), 2).leaf_bytes(),
            suspend.leaf_bytes(),
            entry_of(vector(StatementType.SUSPEND_ISSUER), 4).leaf_bytes(),
        ]
        state = replay(leaves)
        certificate = state.certificates[event.certificate_id]
        assert (certificate.status, certificate.event_seq) == ("suspended", 3)
        cb = state.governance.issuers[CB]
        assert (cb.status, cb.admission_seq, cb.status_seq) == ("suspended", 0, 4)
        assert cb.admission_hash == sha(b"\x00" + spec_leaf(0))
        # The map holds both kinds of leaf, under keys that cannot meet.
        status_map = StatusMap()
        status_map.update_many(state.map_items())
        expected = StatusMap()
        expected.update(key=map_key(event.certificate_id), value=certificate.value)
        expected.update(key=issuer_map_key(CB), value=cb.value)
        assert status_map.root_hash == expected.root_hash
        assert len(state.map_items()) == 2

    def test_apply_entry_returns_the_leaves(self, event: Event) -> None:
        state = LogState()
        issue = sign_event(
            dataclasses.replace(event, seq=0, type=EventType.ISSUE, reason=None), ISSUER_KEY
        )
        [leaf] = apply_entry(state, issue)
        assert isinstance(leaf, StatusLeaf)
        [cb] = apply_entry(state, entry_of(vector(StatementType.ADMIT), 1))
        assert isinstance(cb, IssuerLeaf)
        assert apply_entry(state, entry_of(vector(StatementType.APPROVE_KEY), 2)) == []

    def test_events_only_log_as_before(self, event: Event) -> None:
        events = [
            sign_event(
                dataclasses.replace(event, seq=0, type=EventType.ISSUE, reason=None), ISSUER_KEY
            ),
            sign_event(dataclasses.replace(event, seq=1), ISSUER_KEY),
        ]
        leaves: dict[str, StatusLeaf] = {}
        for e in events:
            apply_event(leaves, e)
        state = replay(e.leaf_bytes() for e in events)
        assert state.certificates == leaves
        assert state.governance == GovernanceState()

    def test_seq_must_be_the_index(self) -> None:
        with pytest.raises(LifecycleError, match="log entry 0: got seq 1, want 0"):
            replay([entry_of(vector(StatementType.ADMIT), 1).leaf_bytes()])

    def test_illegal_statement_fails_the_replay(self) -> None:
        with pytest.raises(LifecycleError, match="suspend_issuer of an unknown CB"):
            replay([entry_of(vector(StatementType.SUSPEND_ISSUER), 0).leaf_bytes()])


# --- coverage -----------------------------------------------------------------------------------


def admission(standards: tuple[str, ...] = STANDARDS_0, kinds: tuple[str, ...] = KINDS_0) -> Admit:
    return Admit(
        at=utc("2026-01-15T02:00:00Z"),
        **COMMON,
        **TERMS,
        scope=Scope(kinds=kinds, standards=standards),
    )


FIRST, LAST = TERMS["valid_from"], TERMS["valid_until"]
DAY = dt.timedelta(days=1)


class TestCoverage:
    @pytest.mark.parametrize("kind", sorted(KINDS))
    def test_each_kind(self, kind: str) -> None:
        result = admission_covers(admission(), kind=kind, standards=[], on=FIRST)
        if kind in KINDS_0:
            assert result is None
        else:
            assert result is not None
            assert result.code == "kind_not_covered"
            assert kind in result.message

    @pytest.mark.parametrize("kind", ["", "Calibration", "hợp quy", "certificate"])
    def test_unknown_kind_is_not_covered(self, kind: str) -> None:
        result = admission_covers(admission(), kind=kind, standards=[], on=FIRST)
        assert result is not None
        assert result.code == "kind_not_covered"

    @pytest.mark.parametrize(
        ("standards", "covered"),
        [
            ([], True),  # cites none: the kind alone decides
            (["QCVN 7:2019/BKHCN"], True),
            (list(STANDARDS_0), True),
            (["TCVN ISO 9001:2015", "QCVN 7:2019/BKHCN"], True),  # any order
            (["QCVN 7:2019/BKHCN", "QCVN 7:2019/BKHCN"], True),
            (["QCVN 3:2019/BKHCN"], False),
            (["QCVN 7:2019/BKHCN", "QCVN 3:2019/BKHCN"], False),  # one outside is enough
            (["qcvn 7:2019/bkhcn"], False),  # exact match: no case folding
            (["QCVN 7:2019/BKHCN "], False),
            (["ISO 9001:2015"], False),  # no equivalence of TCVN ISO and ISO
        ],
        ids=repr,
    )
    def test_standards(self, standards: list[str], covered: bool) -> None:
        result = admission_covers(
            admission(), kind="regulation-conformity", standards=standards, on=FIRST
        )
        if covered:
            assert result is None
        else:
            assert result == NotCovered(code="standard_not_covered", message=result.message)  # type: ignore[union-attr]

    def test_nfd_standard_matches(self) -> None:
        scope = ("TCVN Đo lường 1",)
        nfd = unicodedata.normalize("NFD", scope[0])
        assert nfd != scope[0]
        assert (
            admission_covers(admission(scope), kind="calibration", standards=[nfd], on=FIRST)
            is not None  # calibration is not among KINDS_0
        )
        assert (
            admission_covers(
                admission(scope, kinds=("calibration",)),
                kind="calibration",
                standards=[nfd],
                on=FIRST,
            )
            is None
        )

    @pytest.mark.parametrize(
        "standards", [[], ["QCVN 3:2019/BKHCN"], ["anything at all", "Đ"]], ids=repr
    )
    def test_empty_standards_means_any(self, standards: list[str]) -> None:
        any_standard = admission(standards=())
        assert (
            admission_covers(any_standard, kind="product-conformity", standards=standards, on=LAST)
            is None
        )
        other_kind = admission_covers(any_standard, kind="inspection", standards=standards, on=LAST)
        assert other_kind is not None
        assert other_kind.code == "kind_not_covered"

    @pytest.mark.parametrize(
        ("on", "code"),
        [
            (dt.date(1970, 1, 1), "admission_not_yet_valid"),
            (FIRST - DAY, "admission_not_yet_valid"),
            (FIRST, None),
            (dt.date(2028, 2, 29), None),
            (LAST, None),
            (LAST + DAY, "admission_expired"),
            (dt.date(9999, 12, 31), "admission_expired"),
        ],
        ids=repr,
    )
    def test_dates(self, on: dt.date, code: str | None) -> None:
        result = admission_covers(admission(), kind="management-system", standards=[], on=on)
        assert (None if result is None else result.code) == code

    def test_order_of_reasons(self) -> None:
        a = admission()
        late = LAST + DAY
        outside = ["QCVN 3:2019/BKHCN"]
        kind = admission_covers(a, kind="inspection", standards=outside, on=late)
        standard = admission_covers(a, kind="management-system", standards=outside, on=late)
        date = admission_covers(a, kind="management-system", standards=[], on=late)
        assert kind is not None and kind.code == "kind_not_covered"
        assert standard is not None and standard.code == "standard_not_covered"
        assert date is not None and date.code == "admission_expired"

    def test_change_scope_is_an_admission(self) -> None:
        scope = vector(StatementType.CHANGE_SCOPE)
        assert isinstance(scope, ChangeScope)
        cited = ["QCVN 3:2019/BKHCN"]
        assert (
            admission_covers(scope, kind="regulation-conformity", standards=cited, on=FIRST) is None
        )
        assert (
            admission_covers(admission(), kind="regulation-conformity", standards=cited, on=FIRST)
            is not None
        )

    def test_exhaustive_against_the_rule(self) -> None:
        # Every kind × every subset of three standards (two inside, one outside) × five days,
        # for a restricting and an unrestricting scope, against the rule written out plainly.
        pool = ["QCVN 7:2019/BKHCN", "TCVN ISO 9001:2015", "QCVN 3:2019/BKHCN"]
        days = [FIRST - DAY, FIRST, FIRST + 400 * DAY, LAST, LAST + DAY]
        for restricted in (STANDARDS_0, ()):
            a = admission(restricted)
            for kind, n, on in itertools.product(sorted(KINDS), range(4), days):
                for cited in itertools.combinations(pool, n):
                    covered = (
                        kind in KINDS_0
                        and (not restricted or set(cited) <= set(restricted))
                        and FIRST <= on <= LAST
                    )
                    result = admission_covers(a, kind=kind, standards=cited, on=on)
                    assert (result is None) == covered, (restricted, kind, cited, on)

    @pytest.mark.parametrize(
        ("arguments", "match"),
        [
            ({"standards": "QCVN 7:2019/BKHCN"}, "collection of strings"),
            ({"standards": [7]}, "want strings"),
            ({"standards": None}, "collection of strings"),
            ({"kind": None}, "kind"),
            ({"on": dt.datetime(2026, 3, 1, tzinfo=dt.UTC)}, "want a date"),
            ({"on": "2026-03-01"}, "want a date"),
        ],
        ids=repr,
    )
    def test_bad_arguments(self, arguments: dict[str, Any], match: str) -> None:
        call: dict[str, Any] = {"kind": "management-system", "standards": [], "on": FIRST}
        with pytest.raises(EncodingError, match=match):
            admission_covers(admission(), **{**call, **arguments})

    @pytest.mark.parametrize(
        "type_",
        [t for t in ALL_TYPES if t not in (StatementType.ADMIT, StatementType.CHANGE_SCOPE)],
    )
    def test_only_an_admission_covers(self, type_: StatementType) -> None:
        with pytest.raises(EncodingError, match="admit or change_scope"):
            admission_covers(vector(type_), kind="management-system", standards=[], on=FIRST)  # type: ignore[arg-type]


def test_format_constant() -> None:
    assert FORMAT == "certreg-authority/1"
    assert all(s.to_json()["format"] == FORMAT for s in VECTOR_STATEMENTS)


def test_cryptography_agrees_on_a_tampered_message() -> None:
    # The pinned signature is over exactly the pinned bytes: one more byte and OpenSSL refuses.
    public = Ed25519PublicKey.from_public_bytes(AUTHORITY_PUBLIC)
    with pytest.raises(InvalidSignature):
        public.verify(base64.b64decode(SPEC_SIGNATURES[0]), SPEC_SIGNING_BYTES[0].encode() + b" ")


# --- the authority acting on a certificate (docs/spec.md §3a.1, §3a.5) ------------------------

# docs/spec.md §3a.7 publishes exactly these values (entries 9 and 10 of their log).
SPEC_CERTIFICATE_SIGNATURES = [
    "D1ECTyEG0T/nGax4ygRyB173lM6HDY5XPeTiQ2AsTTHmHiMGhLRjmdsFSOFyB4Vn1mPNT302D49ONcBPBaapBA==",
    "iJ5+vSx6y1bINcOF0xS+GBx9Qq6z9cfnYLfTaN94CfpSJ+qw4MaK/f5E3INoojFH54i8TxoR3GM6VZJ2tTHlAw==",
    "2QSQuwNVey1my2slkCp74bLSCKfeCKDvlZpXn3XntbaE4pB0mGEK1n2Yukc5jE0jJjGU4ouTSAfQRblH+2wPDg==",
]
SPEC_CERTIFICATE_LEAF_HASHES = [
    "0x15316c8b03aef361a83f88c95d3e70ec06c7c48b5b473aa561e08c9d8422f132",
    "0x59d9a7bc4a3f27e9dd5358106ca7326278da287e0068446a126d7a2c186a53f6",
    "0xd79c8b2d077fbd0956ad8f2c6b61ffb8e98ab015d27e938695c282614da9307f",
]


class TestCertificateActions:
    @pytest.mark.parametrize("index", [0, 1, 2])
    def test_spec_vectors(self, index: int) -> None:
        statement = CERTIFICATE_VECTORS[index]
        entry = entry_of(statement, 9 + index)
        assert b64(entry.signature) == SPEC_CERTIFICATE_SIGNATURES[index]
        assert hex0x(entry.leaf_hash()) == SPEC_CERTIFICATE_LEAF_HASHES[index]
        message = statement.signing_bytes()
        assert b'"certificate_id":"0x5a5a' in message and b'"record_hash":"0x70ce' in message
        Ed25519PublicKey.from_public_bytes(AUTHORITY_PUBLIC).verify(
            base64.b64decode(SPEC_CERTIFICATE_SIGNATURES[index]), message
        )

    @pytest.mark.parametrize("certificate_id", ["VN-1", "0x" + "5A" * 32, "0x" + "5a" * 31, ""])
    def test_certificate_id_is_one_of_ours(self, certificate_id: str) -> None:
        obj = wire(StatementType.WITHDRAW_CERTIFICATE)
        obj["certificate_id"] = certificate_id
        with pytest.raises(EncodingError, match="certificate_id"):
            Statement.from_json(obj)

    def test_status(self) -> None:
        assert [s.status for s in CERTIFICATE_VECTORS[:2]] == ["suspended", "withdrawn"]  # type: ignore[attr-defined]

    @staticmethod
    def _log(cb_status: str, certificate_status: str | None) -> LogState:
        """A log where CB's certificate CERTIFICATE has `certificate_status`, the CB
        `cb_status`."""
        state = LogState()
        state.governance.issuers[CB] = IssuerLeaf(
            issuer_id=CB,
            status=cb_status,
            admission_seq=0,
            admission_hash=sha(b"admit"),
            status_seq=0,
        )
        if certificate_status is not None:
            state.certificates[CERTIFICATE] = StatusLeaf(
                certificate_id=CERTIFICATE,
                status=certificate_status,
                record_hash=sha(b"record"),
                event_seq=1,
            )
        return state

    @pytest.mark.parametrize(
        ("type_", "cb", "before", "after"),
        [
            (StatementType.SUSPEND_CERTIFICATE, "withdrawn", "valid", "suspended"),
            (StatementType.SUSPEND_CERTIFICATE, "suspended", "valid", "suspended"),
            (StatementType.SUSPEND_CERTIFICATE, "admitted", "valid", None),  # the CB can act
            (StatementType.SUSPEND_CERTIFICATE, "withdrawn", "suspended", None),
            (StatementType.SUSPEND_CERTIFICATE, "withdrawn", "withdrawn", None),
            (StatementType.SUSPEND_CERTIFICATE, "withdrawn", None, None),  # never issued
            (StatementType.WITHDRAW_CERTIFICATE, "withdrawn", "valid", "withdrawn"),
            (StatementType.WITHDRAW_CERTIFICATE, "withdrawn", "suspended", "withdrawn"),
            (StatementType.WITHDRAW_CERTIFICATE, "suspended", "valid", "withdrawn"),
            (StatementType.WITHDRAW_CERTIFICATE, "admitted", "valid", None),
            (StatementType.WITHDRAW_CERTIFICATE, "withdrawn", "superseded", None),
            (StatementType.WITHDRAW_CERTIFICATE, "withdrawn", "withdrawn", None),
        ],
        ids=repr,
    )
    def test_transitions(
        self, type_: StatementType, cb: str, before: str | None, after: str | None
    ) -> None:
        state = self._log(cb, before)
        entry = entry_of(vector(type_), 9)
        if after is None:
            with pytest.raises(LifecycleError):
                apply_entry(state, entry)
            return
        [leaf] = apply_entry(state, entry)
        assert isinstance(leaf, StatusLeaf)
        assert (leaf.status, leaf.event_seq, leaf.record_hash) == (after, 9, sha(b"record"))
        assert state.certificates[CERTIFICATE] == leaf
        assert state.governance.issuers[CB].status == cb  # the CB's leaf is unchanged

    def test_another_record_hash_is_refused(self) -> None:
        state = self._log("withdrawn", "valid")
        withdrawal = vector(StatementType.WITHDRAW_CERTIFICATE)
        assert isinstance(withdrawal, WithdrawCertificate)
        statement = dataclasses.replace(withdrawal, record_hash=sha(b"other"))
        with pytest.raises(LifecycleError, match="record hash"):
            apply_entry(state, entry_of(statement, 9))


class TestTransfers:
    @staticmethod
    def _log(*, receiving: str | None, certificate_status: str) -> LogState:
        state = TestCertificateActions._log("admitted", certificate_status)
        if receiving is not None:
            state.governance.issuers["vn-cb-quatest3"] = IssuerLeaf(
                issuer_id="vn-cb-quatest3",
                status=receiving,
                admission_seq=1,
                admission_hash=sha(b"admit 2"),
                status_seq=1,
            )
        return state

    @pytest.mark.parametrize(
        ("receiving", "certificate", "allowed"),
        [
            ("admitted", "valid", True),
            ("admitted", "suspended", True),
            ("admitted", "withdrawn", False),
            ("admitted", "superseded", False),
            ("admitted", None, False),
            ("suspended", "valid", False),
            ("withdrawn", "valid", False),
            (None, "valid", False),
        ],
        ids=repr,
    )
    def test_preconditions(
        self, receiving: str | None, certificate: str | None, allowed: bool
    ) -> None:
        state = self._log(receiving=receiving, certificate_status=certificate or "valid")
        if certificate is None:
            del state.certificates[CERTIFICATE]
        before = dict(state.certificates)
        entry = entry_of(vector(StatementType.TRANSFER_CERTIFICATE), 11)
        if not allowed:
            with pytest.raises(LifecycleError):
                apply_entry(state, entry)
            return
        assert apply_entry(state, entry) == []  # no leaf changes: the events after it do
        assert state.certificates == before

    def test_to_itself_is_refused(self) -> None:
        obj = wire(StatementType.TRANSFER_CERTIFICATE)
        obj["to_issuer_id"] = obj["issuer_id"]
        with pytest.raises(EncodingError, match="another CB"):
            Statement.from_json(obj)
