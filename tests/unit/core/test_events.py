import dataclasses
import datetime as dt
import json
import sys
import unicodedata
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from registry.core.encoding import b64, hex0x
from registry.core.errors import EncodingError, SignatureError
from registry.core.events import (
    Event,
    EventType,
    issuer_chain_id,
    issuer_key_id,
    sign_event,
    verify_event_signature,
)
from registry.core.hashing import sha256

ISSUER_SEED = bytes(range(33, 65))  # the fixed issuer test seed of docs/spec.md §3
REASON = "Tạm đình chỉ theo yêu cầu"  # NFC
AT = dt.datetime(2026, 3, 2, 9, 15, 0, tzinfo=dt.UTC)

# docs/spec.md §3 publishes exactly these values; keep them in step.
SPEC_PUBLIC_KEY = "5/FioQvsVZr+oZXk3OhLaVaNXSywlj60RsBoXisX8vA="
SPEC_KEY_ID = "0xc945cbf2a5602002141e2fb9d17054d6ca069951df73f49d1f8aca87f9878f60"
SPEC_SIGNING_BYTES = (
    '{"at":"2026-03-02T09:15:00Z","certificate_id":"VN-QUACERT-2026-000123",'
    '"issuer_id":"quacert","key_id":"' + SPEC_KEY_ID + '",'
    '"reason":"Tạm đình chỉ theo yêu cầu",'
    '"record_hash":"0x70ce871f8a3d3fb449bc3c3ace6547cef02dfc74ffe48d912532a724bfdbe5b9",'
    '"seq":1,"type":"suspend"}'
).encode()
SPEC_SIGNATURE = (
    "ms+BNRpZ1azyL5sCwDBCX9O4SPR9qGW8RJ8IYe+4Debb0HhGsYHxJ71FBqDaanBLUtN15BaY36T618nHf26UBg=="
)
SPEC_LEAF_HASH = "ee11603573f98c182ee3d790f2361e70dff34342a86ed09624b3f3bab8875b25"
SPEC_CHAIN_ID = "9fde82cd40e6c595c80b6398e2ff4ecbf102f1bf018e19e868c29d5fb5df04ac"
# docs/spec.md §3.1: a version-2 statement (the issuer signs without seq) appended at 12
SPEC_STATEMENT_SIGNING_BYTES = (
    '{"at":"2026-03-02T09:15:00Z","certificate_id":"VN-QUACERT-2026-000125",'
    '"issuer_id":"quacert","key_id":"' + SPEC_KEY_ID + '",'
    '"record_hash":"0x70ce871f8a3d3fb449bc3c3ace6547cef02dfc74ffe48d912532a724bfdbe5b9",'
    '"type":"issue","version":2}'
).encode()
SPEC_STATEMENT_SIGNATURE = (
    "HrVFviBUjvEu3GnMM8sFOOwGPFWkJ83zY3vpWYNTudMeDfxTLGrRCJ0RwWw28M3n196QZHHMg/E0bhI8bHcvBA=="
)
SPEC_STATEMENT_LEAF = (
    '{"admission_seq":3,"at":"2026-03-02T09:15:00Z","certificate_id":"VN-QUACERT-2026-000125",'
    '"issuer_id":"quacert","key_id":"' + SPEC_KEY_ID + '",'
    '"record_hash":"0x70ce871f8a3d3fb449bc3c3ace6547cef02dfc74ffe48d912532a724bfdbe5b9",'
    '"seq":12,"signature":"' + SPEC_STATEMENT_SIGNATURE + '","type":"issue","version":2}'
).encode()
ED25519_L = 2**252 + 27742317777372353535851937790883648493  # the group order


def raw(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(ISSUER_SEED)


@pytest.fixture
def public_key(key: Ed25519PrivateKey) -> bytes:
    return raw(key)


@pytest.fixture
def event(public_key: bytes) -> Event:
    return Event(
        seq=1,
        type=EventType.SUSPEND,
        certificate_id="VN-QUACERT-2026-000123",
        record_hash=sha256(b"record"),
        issuer_id="quacert",
        key_id=issuer_key_id(public_key),
        at=AT,
        reason=REASON,
    )


@pytest.fixture
def signed(event: Event, key: Ed25519PrivateKey) -> Event:
    return sign_event(event, key)


class TestSpecExample:
    def test_keys(self, public_key: bytes) -> None:
        assert b64(public_key) == SPEC_PUBLIC_KEY
        assert hex0x(issuer_key_id(public_key)) == SPEC_KEY_ID
        assert issuer_chain_id("quacert").hex() == SPEC_CHAIN_ID

    def test_signing_bytes_signature_and_leaf(self, event: Event, signed: Event) -> None:
        assert event.signing_bytes() == SPEC_SIGNING_BYTES
        assert signed.signature is not None
        assert b64(signed.signature) == SPEC_SIGNATURE
        leaf = SPEC_SIGNING_BYTES.replace(
            b',"type"', b',"signature":"' + SPEC_SIGNATURE.encode() + b'","type"'
        )
        assert signed.leaf_bytes() == leaf
        assert signed.leaf_hash() == sha256(b"\x00" + leaf)
        assert signed.leaf_hash().hex() == SPEC_LEAF_HASH


class TestIssuerIds:
    def test_key_id_is_sha256_of_raw_key(self, public_key: bytes) -> None:
        assert issuer_key_id(public_key) == sha256(public_key)

    def test_key_id_needs_32_bytes(self) -> None:
        with pytest.raises(SignatureError, match="32 raw bytes"):
            issuer_key_id(b"\x00" * 33)

    def test_chain_id(self) -> None:
        assert issuer_chain_id("abc") == sha256(b"abc")
        decomposed = unicodedata.normalize("NFD", "Tổng cục")
        assert issuer_chain_id(decomposed) == sha256("Tổng cục".encode())

    @pytest.mark.parametrize("bad", ["", None, b"abc"])
    def test_chain_id_needs_text(self, bad: Any) -> None:
        with pytest.raises(EncodingError):
            issuer_chain_id(bad)


class TestSignatures:
    def test_round_trip(self, signed: Event, public_key: bytes) -> None:
        verify_event_signature(signed, public_key)

    def test_signing_bytes_exclude_signature(self, event: Event, signed: Event) -> None:
        assert signed.signing_bytes() == event.signing_bytes()
        assert b"signature" not in signed.signing_bytes()
        assert b'"signature":' in signed.leaf_bytes()

    def test_signing_and_leaf_bytes_together(self, event: Event, signed: Event) -> None:
        assert signed.signing_and_leaf_bytes() == (signed.signing_bytes(), signed.leaf_bytes())
        with pytest.raises(SignatureError, match="got none"):
            event.signing_and_leaf_bytes()

    def test_precomputed_signing_bytes(self, signed: Event, public_key: bytes) -> None:
        verify_event_signature(signed, public_key, signing_bytes=signed.signing_bytes())
        with pytest.raises(SignatureError, match="does not verify"):
            verify_event_signature(signed, public_key, signing_bytes=signed.leaf_bytes())

    def test_every_flipped_byte_of_signing_bytes_fails(
        self, signed: Event, public_key: bytes
    ) -> None:
        assert signed.signature is not None
        verifier = Ed25519PublicKey.from_public_bytes(public_key)
        message = signed.signing_bytes()
        verifier.verify(signed.signature, message)
        for i in range(len(message)):
            for bit in (0x01, 0x80):
                forged = bytearray(message)
                forged[i] ^= bit
                with pytest.raises(InvalidSignature):
                    verifier.verify(signed.signature, bytes(forged))

    def test_every_flipped_byte_of_signature_fails(self, signed: Event, public_key: bytes) -> None:
        assert signed.signature is not None
        for i in range(64):
            forged = bytearray(signed.signature)
            forged[i] ^= 0x01
            with pytest.raises(SignatureError, match="does not verify"):
                verify_event_signature(
                    dataclasses.replace(signed, signature=bytes(forged)), public_key
                )

    def test_malleated_signature_fails(self, signed: Event, public_key: bytes) -> None:
        # S + L is the same signature modulo L; RFC 8032 §5.1.7 requires rejecting S >= L.
        assert signed.signature is not None
        s = int.from_bytes(signed.signature[32:], "little") + ED25519_L
        malleated = signed.signature[:32] + s.to_bytes(32, "little")
        with pytest.raises(SignatureError, match="does not verify"):
            verify_event_signature(dataclasses.replace(signed, signature=malleated), public_key)

    @pytest.mark.parametrize(
        "changes",
        [
            {"seq": 2},
            {"type": EventType.WITHDRAW},
            {"certificate_id": "VN-QUACERT-2026-000124"},
            {"record_hash": sha256(b"other record")},
            {"issuer_id": "quacert2"},
            {"at": AT + dt.timedelta(seconds=1)},
            {"reason": REASON + "."},
            {"reason": None},
        ],
        ids="-".join,
    )
    def test_every_field_is_signed(
        self, signed: Event, public_key: bytes, changes: dict[str, Any]
    ) -> None:
        with pytest.raises(SignatureError, match="does not verify"):
            verify_event_signature(dataclasses.replace(signed, **changes), public_key)

    def test_supersedes_is_signed(self, key: Ed25519PrivateKey, public_key: bytes) -> None:
        event = Event(
            seq=5,
            type=EventType.SUPERSEDE,
            certificate_id="A",
            record_hash=sha256(b"r"),
            issuer_id="i",
            key_id=issuer_key_id(public_key),
            at=AT,
            supersedes="B",
        )
        signed = sign_event(event, key)
        verify_event_signature(signed, public_key)
        with pytest.raises(SignatureError):
            verify_event_signature(dataclasses.replace(signed, supersedes="C"), public_key)

    def test_key_id_is_signed(self, signed: Event, public_key: bytes) -> None:
        # Changing key_id alone already fails on the key-id check, before the signature.
        with pytest.raises(SignatureError, match="key_id"):
            verify_event_signature(dataclasses.replace(signed, key_id=b"\x00" * 32), public_key)

    def test_wrong_key(self, signed: Event) -> None:
        other = raw(Ed25519PrivateKey.generate())
        with pytest.raises(SignatureError, match="key_id"):
            verify_event_signature(signed, other)

    def test_other_key_claiming_the_key_id(self, event: Event, public_key: bytes) -> None:
        # A signature by another key, relabelled with the issuer's key id, does not verify.
        other = Ed25519PrivateKey.generate()
        forged = sign_event(dataclasses.replace(event, key_id=issuer_key_id(raw(other))), other)
        relabelled = dataclasses.replace(forged, key_id=event.key_id)
        with pytest.raises(SignatureError, match="does not verify"):
            verify_event_signature(relabelled, public_key)

    def test_missing_signature(self, event: Event, public_key: bytes) -> None:
        with pytest.raises(SignatureError, match="got none"):
            verify_event_signature(event, public_key)

    def test_sign_checks_key_id(self, event: Event) -> None:
        with pytest.raises(SignatureError, match="key_id"):
            sign_event(event, Ed25519PrivateKey.generate())

    def test_bad_public_key(self, signed: Event) -> None:
        with pytest.raises(SignatureError, match="32 raw bytes"):
            verify_event_signature(signed, b"\x00" * 31)

    def test_nfd_and_nfc_sign_identically(
        self, event: Event, key: Ed25519PrivateKey, public_key: bytes
    ) -> None:
        nfd = unicodedata.normalize("NFD", REASON)
        assert nfd != REASON
        decomposed = dataclasses.replace(event, reason=nfd)
        assert decomposed.signing_bytes() == event.signing_bytes()
        assert sign_event(decomposed, key).signature == sign_event(event, key).signature
        assert decomposed == event  # strings are kept in NFC
        verify_event_signature(sign_event(decomposed, key), public_key)

    def test_nfd_identifiers_are_normalised(self, event: Event) -> None:
        nfd = dataclasses.replace(event, certificate_id=unicodedata.normalize("NFD", "Số-1"))
        assert nfd.certificate_id == "Số-1"

    def test_leaf_needs_signature(self, event: Event) -> None:
        with pytest.raises(SignatureError, match="signed event"):
            event.leaf_bytes()


class TestJson:
    def test_shape(self, signed: Event) -> None:
        obj = signed.to_json()
        assert obj == {
            "seq": 1,
            "type": "suspend",
            "certificate_id": "VN-QUACERT-2026-000123",
            "record_hash": hex0x(sha256(b"record")),
            "issuer_id": "quacert",
            "key_id": SPEC_KEY_ID,
            "at": "2026-03-02T09:15:00Z",
            "reason": REASON,
            "signature": SPEC_SIGNATURE,
        }

    def test_absent_optionals_are_omitted(self, event: Event) -> None:
        obj = dataclasses.replace(event, reason=None).to_json()
        assert set(obj) == {
            "seq",
            "type",
            "certificate_id",
            "record_hash",
            "issuer_id",
            "key_id",
            "at",
        }
        assert None not in obj.values()

    def test_round_trip(self, event: Event, signed: Event) -> None:
        for value in (event, signed, dataclasses.replace(signed, reason=None)):
            assert Event.from_json(value.to_json()) == value
            assert Event.from_json(json.loads(json.dumps(value.to_json()))) == value

    def test_leaf_round_trip(self, signed: Event) -> None:
        assert Event.from_leaf(signed.leaf_bytes()) == signed

    @pytest.mark.parametrize("field", ["reason", "supersedes", "signature"])
    def test_null_optional_rejected(self, signed: Event, field: str) -> None:
        obj: dict[str, Any] = dict(signed.to_json())
        obj[field] = None
        with pytest.raises(EncodingError, match="null"):
            Event.from_json(obj)

    @pytest.mark.parametrize(
        "field", ["seq", "type", "certificate_id", "record_hash", "issuer_id", "key_id", "at"]
    )
    def test_null_or_missing_required_rejected(self, signed: Event, field: str) -> None:
        obj: dict[str, Any] = dict(signed.to_json())
        obj[field] = None
        with pytest.raises(EncodingError, match=field):
            Event.from_json(obj)
        del obj[field]
        with pytest.raises(EncodingError, match=field):
            Event.from_json(obj)

    def test_unknown_field_rejected(self, signed: Event) -> None:
        obj: dict[str, Any] = dict(signed.to_json())
        obj["status"] = "valid"
        with pytest.raises(EncodingError, match="unknown fields \\['status'\\]"):
            Event.from_json(obj)

    @pytest.mark.parametrize("value", [None, [], "event", 1])
    def test_not_an_object(self, value: Any) -> None:
        with pytest.raises(EncodingError, match="JSON object"):
            Event.from_json(value)

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("seq", True),
            ("seq", 1.0),
            ("seq", "1"),
            ("seq", -1),
            ("seq", 2**53),
            ("type", "Issue"),
            ("type", "revoke"),
            ("type", 1),
            ("certificate_id", ""),
            ("certificate_id", 123),
            ("issuer_id", ""),
            ("record_hash", "70ce871f8a3d3fb449bc3c3ace6547cef02dfc74ffe48d912532a724bfdbe5b9"),
            ("record_hash", "0x70CE871F8A3D3FB449BC3C3ACE6547CEF02DFC74FFE48D912532A724BFDBE5B9"),
            ("record_hash", "0x" + "00" * 31),
            ("record_hash", "0x" + "00" * 33),
            ("key_id", b64(b"\x00" * 32)),
            ("at", "2026-03-02T09:15:00.000Z"),
            ("at", "2026-03-02T09:15:00+00:00"),
            ("at", "2026-03-02T09:15:00z"),
            ("at", "2026-03-02 09:15:00Z"),
            ("at", "2026-02-30T09:15:00Z"),
            ("at", "1969-12-31T23:59:59Z"),
            ("at", 1772442900),
            ("reason", ""),
            ("reason", 5),
            ("signature", SPEC_SIGNATURE.rstrip("=")),
            ("signature", SPEC_SIGNATURE[:-3] + "h=="),
            ("signature", b64(b"\x00" * 63)),
            ("signature", "0x" + "00" * 64),
        ],
    )
    def test_bad_values(self, signed: Event, field: str, value: Any) -> None:
        obj: dict[str, Any] = dict(signed.to_json())
        obj[field] = value
        with pytest.raises(EncodingError, match=f"event.{field}"):
            Event.from_json(obj)

    @pytest.mark.parametrize(
        "mutate",
        [
            pytest.param(lambda b: b.replace(b'{"at"', b'{ "at"'), id="whitespace"),
            pytest.param(lambda b: b + b"\n", id="trailing-newline"),
            pytest.param(
                lambda b: b.replace(b'"seq":1', b'"seq":1.0'),
                id="float-seq",
            ),
            pytest.param(lambda b: b.replace(b'"quacert"', b'"qu\\u0061cert"'), id="escape"),
            pytest.param(
                lambda b: b.replace(b'{"at":"2026-03-02T09:15:00Z",', b"{"), id="missing-field"
            ),
            pytest.param(
                lambda b: b[:-1] + b',"seq":1}',
                id="duplicate-key",
            ),
            pytest.param(
                lambda b: unicodedata.normalize("NFD", b.decode()).encode(), id="nfd-text"
            ),
            pytest.param(lambda b: b"\xef\xbb\xbf" + b, id="bom"),
            pytest.param(lambda b: b"[" * 100_000, id="deep-nesting"),
            pytest.param(lambda b: b"\xff", id="not-utf8"),
        ],
    )
    def test_non_canonical_leaf_rejected(self, signed: Event, mutate: Any) -> None:
        with pytest.raises(EncodingError):
            Event.from_leaf(mutate(signed.leaf_bytes()))

    def test_unsigned_leaf_rejected(self, event: Event) -> None:
        with pytest.raises(EncodingError, match="unsigned"):
            Event.from_leaf(json.dumps(event.to_json()).encode())


class TestConstructor:
    def test_type_from_string(self, event: Event) -> None:
        assert dataclasses.replace(event, type="withdraw").type is EventType.WITHDRAW  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        "changes",
        [
            {"seq": -1},
            {"seq": True},
            {"type": "expire"},
            {"certificate_id": ""},
            {"issuer_id": None},
            {"record_hash": b"\x00" * 31},
            {"record_hash": "0x" + "00" * 32},
            {"key_id": bytearray(32)},
            {"signature": b"\x00" * 63},
            {"reason": ""},
            {"reason": "lone \ud800"},
            {"at": dt.datetime(2026, 3, 2, 9, 15, 0)},  # naive
            {"at": dt.datetime(2026, 3, 2, 9, 15, 0, 1, tzinfo=dt.UTC)},  # microseconds
            {"at": dt.datetime(1969, 12, 31, 23, 59, 59, tzinfo=dt.UTC)},
            {"at": "2026-03-02T09:15:00Z"},
            {"supersedes": "B"},  # on a suspend event
        ],
        ids=repr,
    )
    def test_rejects(self, event: Event, changes: dict[str, Any]) -> None:
        with pytest.raises(EncodingError):
            dataclasses.replace(event, **changes)

    def test_at_is_converted_to_utc(self, event: Event) -> None:
        hanoi = dt.timezone(dt.timedelta(hours=7))
        local = dataclasses.replace(event, at=AT.astimezone(hanoi))
        assert local.at.tzinfo is dt.UTC
        assert local == event
        assert local.signing_bytes() == event.signing_bytes()

    def test_supersede_needs_supersedes(self, event: Event) -> None:
        with pytest.raises(EncodingError, match="supersedes"):
            dataclasses.replace(event, type=EventType.SUPERSEDE, reason=None)

    def test_supersedes_not_itself(self, event: Event) -> None:
        with pytest.raises(EncodingError, match="another certificate"):
            dataclasses.replace(event, type=EventType.SUPERSEDE, supersedes=event.certificate_id)

    def test_issue_may_name_what_it_supersedes(self, event: Event) -> None:
        issued = dataclasses.replace(event, type=EventType.ISSUE, supersedes="OLD-1")
        assert issued.to_json()["supersedes"] == "OLD-1"
        assert Event.from_json(issued.to_json()) == issued

    def test_max_seq(self, event: Event) -> None:
        big = dataclasses.replace(event, seq=2**53 - 1)
        assert Event.from_json(big.to_json()) == big


def test_deep_nesting_is_refused_even_under_a_raised_recursion_limit() -> None:
    # py_ecc (imported by eth-account) raises the limit to 100,000; json.loads would then
    # overflow the C stack. The depth check must refuse the entry before parsing it.
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(100_000)
    try:
        with pytest.raises(EncodingError, match="nested deeper"):
            Event.from_leaf(b"[" * 200_000)
    finally:
        sys.setrecursionlimit(before)


class TestAdmissionSeq:
    """`admission_seq` names the CB's admission in force (docs/spec.md §3, §3a)."""

    def _issue(self, public_key: bytes, **changes: Any) -> Event:
        fields: dict[str, Any] = {
            "seq": 9,
            "type": EventType.ISSUE,
            "certificate_id": "VN-QUACERT-2026-000124",
            "record_hash": sha256(b"record"),
            "issuer_id": "quacert",
            "key_id": issuer_key_id(public_key),
            "at": AT,
            "admission_seq": 3,
        }
        return Event(**{**fields, **changes})

    def test_round_trip_and_signed(self, key: Ed25519PrivateKey, public_key: bytes) -> None:
        signed = sign_event(self._issue(public_key), key)
        assert signed.to_json()["admission_seq"] == 3
        assert Event.from_leaf(signed.leaf_bytes()) == signed
        assert b'"admission_seq":3' in signed.signing_bytes()
        verify_event_signature(signed, public_key)
        with pytest.raises(SignatureError):
            verify_event_signature(dataclasses.replace(signed, admission_seq=4), public_key)

    @pytest.mark.parametrize(
        ("changes", "message"),
        [
            ({"admission_seq": 9}, "0 <= n < seq"),
            ({"admission_seq": -1}, "0 <= n < seq"),
            ({"admission_seq": True}, "0 <= n < seq"),
            ({"type": EventType.SUSPEND, "reason": "x"}, "only on 'issue'"),
            ({"type": EventType.WITHDRAW, "reason": "x"}, "only on 'issue'"),
        ],
    )
    def test_refused(self, public_key: bytes, changes: dict[str, Any], message: str) -> None:
        with pytest.raises(EncodingError, match=message):
            self._issue(public_key, **changes)

    @pytest.mark.parametrize("value", [None, "3", 3.0, True])
    def test_refused_in_json(self, public_key: bytes, value: object) -> None:
        wire: dict[str, Any] = {**self._issue(public_key).to_json(), "admission_seq": value}
        with pytest.raises(EncodingError, match="admission_seq"):
            Event.from_json(wire)

    def test_reinstate_may_name_it(self, public_key: bytes) -> None:
        assert self._issue(public_key, type=EventType.REINSTATE, reason="x").admission_seq == 3


class TestIssuerStatement:
    """Version 2: the issuer signs the event without `seq` and `admission_seq`, which the
    registry assigns at append time (docs/spec.md §3.1)."""

    def _statement(self, public_key: bytes, **changes: Any) -> Event:
        fields: dict[str, Any] = {
            "seq": 12,
            "type": EventType.ISSUE,
            "certificate_id": "VN-QUACERT-2026-000125",
            "record_hash": sha256(b"record"),
            "issuer_id": "quacert",
            "key_id": issuer_key_id(public_key),
            "at": AT,
            "admission_seq": 3,
            "version": 2,
        }
        return Event(**{**fields, **changes})

    def test_spec_vector(self, key: Ed25519PrivateKey, public_key: bytes) -> None:
        signed = sign_event(self._statement(public_key), key)
        assert signed.signing_bytes() == SPEC_STATEMENT_SIGNING_BYTES
        assert signed.signature is not None
        assert b64(signed.signature) == SPEC_STATEMENT_SIGNATURE
        assert signed.leaf_bytes() == SPEC_STATEMENT_LEAF
        assert signed.leaf_hash().hex() == (
            "ea6308f193f6b58f2e74fbc51927c531643f02275501d841b56a27a6b28eb091"
        )

    def test_seq_and_admission_are_outside_the_signature(
        self, key: Ed25519PrivateKey, public_key: bytes
    ) -> None:
        signed = sign_event(self._statement(public_key), key)
        assert b'"seq"' not in signed.signing_bytes()
        assert b'"admission_seq"' not in signed.signing_bytes()
        assert b'"version":2' in signed.signing_bytes()
        # The same signature verifies wherever the registry appends it.
        for seq, admission in ((12, 3), (40, 7), (5, None)):
            moved = dataclasses.replace(signed, seq=seq, admission_seq=admission)
            verify_event_signature(moved, public_key)
            assert Event.from_leaf(moved.leaf_bytes()) == moved
        # Everything else stays signed, the version too.
        for changes in (
            {"reason": None, "type": EventType.ISSUE, "record_hash": sha256(b"other")},
            {"at": AT + dt.timedelta(seconds=1)},
            {"version": 1},
        ):
            with pytest.raises(SignatureError):
                verify_event_signature(dataclasses.replace(signed, **changes), public_key)

    def test_version_one_still_signs_seq(self, key: Ed25519PrivateKey, public_key: bytes) -> None:
        signed = sign_event(self._statement(public_key, version=1), key)
        assert b'"seq":12' in signed.signing_bytes()
        assert "version" not in signed.to_json()
        with pytest.raises(SignatureError):
            verify_event_signature(dataclasses.replace(signed, seq=13), public_key)

    def test_from_statement(self, key: Ed25519PrivateKey, public_key: bytes) -> None:
        signed = sign_event(self._statement(public_key), key)
        sent = {**signed.statement_json()}
        assert "seq" not in sent
        assert "admission_seq" not in sent
        appended = Event.from_statement(sent, seq=12, admission_seq=3)
        assert appended == signed
        verify_event_signature(appended, public_key)

    @pytest.mark.parametrize(
        ("changes", "message"),
        [
            ({"seq": 4}, "left to the registry"),
            ({"admission_seq": 1}, "left to the registry"),
            ({"version": 1}, "want 2"),
            ({"version": None}, "want 2"),
            ({"signature": None}, "signature"),
        ],
    )
    def test_from_statement_refuses(
        self, key: Ed25519PrivateKey, public_key: bytes, changes: dict[str, Any], message: str
    ) -> None:
        sent: dict[str, Any] = {**sign_event(self._statement(public_key), key).statement_json()}
        for name, value in changes.items():
            if value is None:
                sent.pop(name, None)
            else:
                sent[name] = value
        with pytest.raises(EncodingError, match=message):
            Event.from_statement(sent, seq=12, admission_seq=None)

    @pytest.mark.parametrize("value", [1, 3, 0, "2", 2.0, True])
    def test_version_refused(self, public_key: bytes, value: object) -> None:
        wire: dict[str, Any] = {**self._statement(public_key).to_json(), "version": value}
        with pytest.raises(EncodingError, match="version"):
            Event.from_json(wire)

    def test_statement_json_of_version_one_refused(self, public_key: bytes) -> None:
        with pytest.raises(EncodingError, match="want 2"):
            self._statement(public_key, version=1).statement_json()
