"""Signed notes, checkpoints and events: random round trips, and single-byte tampering."""

import datetime as dt
import unicodedata

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given
from hypothesis import strategies as st

from registry.core.checkpoint import (
    MAX_TREE_SIZE,
    Checkpoint,
    parse_checkpoint_body,
    sign_checkpoint,
    verify_checkpoint,
)
from registry.core.encoding import b64
from registry.core.errors import NoteError, SignatureError
from registry.core.events import (
    MAX_SEQ,
    Event,
    EventType,
    issuer_key_id,
    sign_event,
    verify_event_signature,
)
from registry.core.note import NoteSigner, is_valid_key_name, open_note, sign_note

_CONTROLS = [chr(c) for c in range(32) if c != 10]

names = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cc", "Zs", "Zl", "Zp"]),
    min_size=1,
    max_size=30,
).filter(is_valid_key_name)
seeds = st.binary(min_size=32, max_size=32)
# Any note text: valid Unicode, no control character but newline, ending in a newline.
texts = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters=_CONTROLS),
    max_size=200,
).map(lambda text: text + "\n")
hashes = st.binary(min_size=32, max_size=32)
# Optional strings as the wire carries them: absent, or a non-empty string.
optional_text = st.none() | st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=40)
identifiers = st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=40)
moments = st.datetimes(
    min_value=dt.datetime(1970, 1, 1),
    max_value=dt.datetime(9999, 12, 31, 23, 59, 59),
).map(lambda moment: moment.replace(microsecond=0, tzinfo=dt.UTC))


@given(text=texts, name=names, seed=seeds)
def test_note_round_trip(text: str, name: str, seed: bytes) -> None:
    signer = NoteSigner.from_seed(name, seed)
    note = sign_note(text, signer)
    opened = open_note(note, [signer.verifier()])
    assert opened.text == text
    assert [s.key_id for s in opened.signatures] == [signer.key_id]
    assert open_note(note.encode("utf-8"), [signer.verifier()]) == opened


@given(text=texts, seed=seeds, witness_seed=seeds, data=st.data())
def test_single_byte_change_never_yields_another_text(
    text: str, seed: bytes, witness_seed: bytes, data: st.DataObject
) -> None:
    signer = NoteSigner.from_seed("log.example", seed)
    witness = NoteSigner.from_seed("witness.example", witness_seed)
    note = sign_note(text, signer, witness).encode("utf-8")
    index = data.draw(st.integers(0, len(note) - 1), label="index")
    value = data.draw(st.integers(0, 255).filter(lambda v: v != note[index]), label="value")
    tampered = note[:index] + bytes([value]) + note[index + 1 :]
    witness_line_start = note.rindex("— witness.example ".encode())
    try:
        opened = open_note(tampered, [signer.verifier()])
    except NoteError:
        return
    # Only a change inside the unknown (witness) signature may go unnoticed, and then the
    # verified text is still exactly the signed one.
    assert index >= witness_line_start
    assert opened.text == text


@given(text=texts, seed=seeds, data=st.data())
def test_single_byte_change_is_rejected(text: str, seed: bytes, data: st.DataObject) -> None:
    signer = NoteSigner.from_seed("log.example", seed)
    note = sign_note(text, signer).encode("utf-8")
    index = data.draw(st.integers(0, len(note) - 1), label="index")
    value = data.draw(st.integers(0, 255).filter(lambda v: v != note[index]), label="value")
    tampered = note[:index] + bytes([value]) + note[index + 1 :]
    try:
        open_note(tampered, [signer.verifier()])
    except NoteError:
        return
    raise AssertionError(f"tampered note accepted: {tampered!r}")


@given(
    origin=names,
    size=st.integers(0, MAX_TREE_SIZE),
    root=hashes,
    map_root=hashes,
    seed=seeds,
)
def test_checkpoint_round_trip(
    origin: str, size: int, root: bytes, map_root: bytes, seed: bytes
) -> None:
    checkpoint = Checkpoint(origin=origin, tree_size=size, root_hash=root, map_root=map_root)
    assert parse_checkpoint_body(checkpoint.body()) == checkpoint
    signer = NoteSigner.from_seed(origin, seed)
    note = sign_checkpoint(checkpoint, signer)
    assert verify_checkpoint(note, verifier=signer.verifier(), origin=origin) == checkpoint


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


@st.composite
def events(draw: st.DrawFn, key_id: bytes) -> Event:
    kind = draw(st.sampled_from(EventType))
    certificate_id = draw(identifiers)
    supersedes = None
    if kind in (EventType.ISSUE, EventType.SUPERSEDE):
        supersedes = draw(identifiers.filter(lambda other: _nfc(other) != _nfc(certificate_id)))
        if kind is EventType.ISSUE and draw(st.booleans()):
            supersedes = None
    return Event(
        seq=draw(st.integers(0, MAX_SEQ)),
        type=kind,
        certificate_id=certificate_id,
        record_hash=draw(hashes),
        issuer_id=draw(identifiers),
        key_id=key_id,
        at=draw(moments),
        reason=draw(optional_text),
        supersedes=supersedes,
    )


@given(seed=seeds, data=st.data())
def test_event_round_trip(seed: bytes, data: st.DataObject) -> None:
    key = Ed25519PrivateKey.from_private_bytes(seed)
    public_key = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    event = data.draw(events(issuer_key_id(public_key)))
    signed = sign_event(event, key)
    verify_event_signature(signed, public_key)
    assert Event.from_json(event.to_json()) == event
    assert Event.from_json(signed.to_json()) == signed
    assert Event.from_leaf(signed.leaf_bytes()) == signed


@given(seed=seeds, data=st.data())
def test_event_signature_covers_every_byte(seed: bytes, data: st.DataObject) -> None:
    key = Ed25519PrivateKey.from_private_bytes(seed)
    public_key = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    event = Event(
        seq=7,
        type=EventType.WITHDRAW,
        certificate_id="C-1",
        record_hash=b"\x11" * 32,
        issuer_id="issuer",
        key_id=issuer_key_id(public_key),
        at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        reason="Thu hồi",
    )
    signed = sign_event(event, key)
    assert signed.signature is not None
    index = data.draw(st.integers(0, 63))
    flipped = bytearray(signed.signature)
    flipped[index] ^= 1 << data.draw(st.integers(0, 7))
    try:
        verify_event_signature(
            Event.from_json({**signed.to_json(), "signature": b64(bytes(flipped))}), public_key
        )
    except SignatureError:
        return
    raise AssertionError("flipped signature accepted")
