"""C2SP signed notes (https://c2sp.org/signed-note), Ed25519 only (signature type 0x01).

Parsing follows the Go reference (golang.org/x/mod/sumdb/note) line for line, and is stricter
where Go is lax: base64 must be canonical (zero pad bits), a key id must be lowercase hex, and a
known key may sign a note only once. A note `sign_note` emits always opens with `open_note` and
with Go's `note.Open`.

Layout of a signed note (UTF-8)::

    <text, ending in "\\n">
    "\\n"
    one or more lines "— <key name> <base64(4-byte key id ‖ signature)>\\n"

Key id = SHA-256(name ‖ 0x0A ‖ 0x01 ‖ 32-byte public key)[:4]. A verifier key (vkey) is
`<name>+<8 hex digits key id>+<base64(0x01 ‖ public key)>`; a signer key (skey) is
`PRIVATE+KEY+<name>+<8 hex digits key id>+<base64(0x01 ‖ 32-byte seed)>`.
"""

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from registry.core.encoding import b64, parse_b64
from registry.core.errors import EncodingError, NoteError

__all__ = [
    "MAX_NOTE_SIZE",
    "MAX_SIGNATURES",
    "SIGNATURE_TYPE_ED25519",
    "NoteSignature",
    "NoteSigner",
    "NoteVerifier",
    "OpenedNote",
    "is_valid_key_name",
    "note_key_id",
    "open_note",
    "sign_note",
]

SIGNATURE_TYPE_ED25519: Final = 0x01
MAX_NOTE_SIZE: Final = 1 << 20  # bytes of UTF-8; checked before anything else is parsed
MAX_SIGNATURES: Final = 100  # Go's limit; the spec asks verifiers to accept at least 16

_SIG_PREFIX: Final = "— "  # U+2014 EM DASH, U+0020 SPACE
_ED25519_SIG_SIZE: Final = 64
_ED25519_KEY_SIZE: Final = 32
_KEY_ID_HEX = re.compile(r"[0-9a-f]{8}")
# Every ASCII control character except newline (C2SP: "those below U+0020").
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")
# The Unicode White_Space property (what Go's unicode.IsSpace tests), spelled out so that the
# rule does not depend on the Unicode tables of one language's runtime.
_WHITE_SPACE: Final = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)


def is_valid_key_name(name: object) -> bool:
    """Whether `name` is a valid key name: non-empty UTF-8, no Unicode space, no `+`.

    Control characters are refused too: a name appears in notes, which may not contain them.
    """
    if not isinstance(name, str) or not name or "+" in name:
        return False
    if _CONTROL.search(name) or any(char in _WHITE_SPACE for char in name):
        return False
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates
        return False
    return True


def _check_name(name: object, *, what: str) -> str:
    if not is_valid_key_name(name):
        raise NoteError(
            f"{what}: got {name!r:.80}, want a non-empty name without spaces, '+' or controls"
        )
    assert isinstance(name, str)  # for mypy: is_valid_key_name checked it
    return name


def note_key_id(name: str, public_key: bytes) -> bytes:
    """The 4-byte key id of an Ed25519 key: SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4]."""
    _check_name(name, what="key name")
    if len(public_key) != _ED25519_KEY_SIZE:
        raise NoteError(f"public key: got {len(public_key)} bytes, want {_ED25519_KEY_SIZE}")
    data = name.encode("utf-8") + b"\n" + bytes([SIGNATURE_TYPE_ED25519]) + public_key
    return hashlib.sha256(data).digest()[:4]


def _parse_key_material(text: str, *, what: str, secret: bool) -> bytes:
    """Decode `base64(0x01 ‖ 32 bytes)`; a secret is never echoed in an error message."""
    try:
        data = parse_b64(text, what=what)
    except EncodingError as exc:
        if secret:
            raise NoteError(f"{what}: got malformed base64, want standard padded base64") from None
        raise NoteError(str(exc)) from exc
    if not data or data[0] != SIGNATURE_TYPE_ED25519:
        got = f"0x{data[0]:02x}" if data else "nothing"
        raise NoteError(f"{what} type: got {got}, want 0x01 (Ed25519)")
    if len(data) != 1 + _ED25519_KEY_SIZE:
        raise NoteError(f"{what}: got {len(data) - 1} key bytes, want {_ED25519_KEY_SIZE}")
    return data[1:]


def _parse_key_id(text: str, *, what: str) -> bytes:
    if _KEY_ID_HEX.fullmatch(text) is None:
        raise NoteError(f"{what}: got {text!r:.20}, want 8 lowercase hex digits")
    return bytes.fromhex(text)


@dataclass(frozen=True)
class NoteVerifier:
    """A known note-signing key: its name, 4-byte key id and raw Ed25519 public key.

    Construction checks that `key_id` is the one derived from `name` and `public_key`.
    """

    name: str
    key_id: bytes
    public_key: bytes
    _key: Ed25519PublicKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_name(self.name, what="verifier name")
        if not isinstance(self.public_key, bytes) or len(self.public_key) != _ED25519_KEY_SIZE:
            raise NoteError(f"verifier public key: got {self.public_key!r:.80}, want 32 bytes")
        want = note_key_id(self.name, self.public_key)
        if self.key_id != want:
            raise NoteError(
                f"verifier key id of {self.name}: got {self.key_id!r:.40}, want {want.hex()}"
            )
        object.__setattr__(self, "_key", Ed25519PublicKey.from_public_bytes(self.public_key))

    @classmethod
    def for_key(cls, name: str, public_key: bytes) -> "NoteVerifier":
        """The verifier for a raw 32-byte Ed25519 public key under `name`."""
        return cls(name=name, key_id=note_key_id(name, public_key), public_key=public_key)

    @classmethod
    def from_vkey(cls, vkey: str) -> "NoteVerifier":
        """Parse a verifier key string `<name>+<hex key id>+<base64(0x01 ‖ public key)>`."""
        if not isinstance(vkey, str):
            raise NoteError(f"vkey: got {type(vkey).__name__}, want a string")
        parts = vkey.split("+", 2)  # the base64 key may itself contain '+'
        if len(parts) != 3:
            raise NoteError(f"vkey: got {vkey!r:.120}, want <name>+<key id>+<key>")
        name, key_id_hex, key64 = parts
        _check_name(name, what="vkey name")
        key_id = _parse_key_id(key_id_hex, what="vkey key id")
        public_key = _parse_key_material(key64, what="vkey key", secret=False)
        want = note_key_id(name, public_key)
        if key_id != want:
            raise NoteError(f"vkey key id: got {key_id.hex()}, want {want.hex()}")
        return cls(name=name, key_id=key_id, public_key=public_key)

    @property
    def vkey(self) -> str:
        """The verifier key string (what `GET /v1/registry` publishes)."""
        material = b64(bytes([SIGNATURE_TYPE_ED25519]) + self.public_key)
        return f"{self.name}+{self.key_id.hex()}+{material}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether `signature` is this key's Ed25519 signature of `message`."""
        if len(signature) != _ED25519_SIG_SIZE:
            return False
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class NoteSigner:
    """A note-signing key: a name and an Ed25519 private key (never shown by `repr`)."""

    name: str
    private_key: Ed25519PrivateKey = field(repr=False, compare=False)
    public_key: bytes = field(init=False)
    key_id: bytes = field(init=False)

    def __post_init__(self) -> None:
        _check_name(self.name, what="signer name")
        if not isinstance(self.private_key, Ed25519PrivateKey):
            raise NoteError(
                f"signer key: got {type(self.private_key).__name__}, want Ed25519PrivateKey"
            )
        public_key = self.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        object.__setattr__(self, "public_key", public_key)
        object.__setattr__(self, "key_id", note_key_id(self.name, public_key))

    @classmethod
    def from_seed(cls, name: str, seed: bytes) -> "NoteSigner":
        """The signer for a 32-byte Ed25519 seed (RFC 8032 private key) under `name`."""
        if not isinstance(seed, bytes) or len(seed) != _ED25519_KEY_SIZE:
            raise NoteError("signer seed: got a value that is not 32 bytes, want 32 bytes")
        return cls(name=name, private_key=Ed25519PrivateKey.from_private_bytes(seed))

    @classmethod
    def from_skey(cls, skey: str) -> "NoteSigner":
        """Parse `PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 ‖ seed)>` (Go's signer key)."""
        if not isinstance(skey, str):
            raise NoteError(f"skey: got {type(skey).__name__}, want a string")
        parts = skey.split("+", 4)
        if len(parts) != 5 or parts[0] != "PRIVATE" or parts[1] != "KEY":
            raise NoteError("skey: got a malformed key, want PRIVATE+KEY+<name>+<key id>+<key>")
        name, key_id_hex, key64 = parts[2], parts[3], parts[4]
        _check_name(name, what="skey name")
        key_id = _parse_key_id(key_id_hex, what="skey key id")
        seed = _parse_key_material(key64, what="skey key", secret=True)
        signer = cls.from_seed(name, seed)
        # The id hashes the public key, so it can only be checked after deriving that key.
        if signer.key_id != key_id:
            raise NoteError(f"skey key id: got {key_id.hex()}, want {signer.key_id.hex()}")
        return signer

    def skey(self) -> str:
        """The signer key string. It is the secret: store it as one."""
        seed = self.private_key.private_bytes_raw()
        material = b64(bytes([SIGNATURE_TYPE_ED25519]) + seed)
        return f"PRIVATE+KEY+{self.name}+{self.key_id.hex()}+{material}"

    def verifier(self) -> NoteVerifier:
        """The matching verifier (publish its `vkey`)."""
        return NoteVerifier(name=self.name, key_id=self.key_id, public_key=self.public_key)

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of `message`."""
        return self.private_key.sign(message)


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: key name, 4-byte key id and the signature bytes after the id."""

    name: str
    key_id: bytes
    signature: bytes


@dataclass(frozen=True)
class OpenedNote:
    """A note whose `text` carries at least one valid signature by a known key.

    `signatures` are those verified, in note order; `unverified` are by keys not passed to
    `open_note` (ignored for trust, kept e.g. for witness cosignatures), deduplicated.
    """

    text: str
    signatures: tuple[NoteSignature, ...]
    unverified: tuple[NoteSignature, ...] = ()


def _check_text(text: str, *, what: str) -> bytes:
    """UTF-8 bytes of `text` after the checks common to the whole note and its text."""
    # Every character takes at least one byte: refuse huge input before scanning it.
    if len(text) > MAX_NOTE_SIZE:
        raise NoteError(f"{what}: got {len(text)} characters, want at most {MAX_NOTE_SIZE} bytes")
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise NoteError(f"{what}: got a lone surrogate, want valid UTF-8") from exc
    if len(data) > MAX_NOTE_SIZE:
        raise NoteError(f"{what}: got {len(data)} bytes, want at most {MAX_NOTE_SIZE}")
    if _CONTROL.search(text):
        raise NoteError(f"{what}: got an ASCII control character, want none besides newline")
    return data


def sign_note(text: str, *signers: NoteSigner) -> str:
    """Sign `text` with every signer, one signature line each, in the order given.

    `text` must be non-empty, end with a newline and contain no ASCII control character
    other than newline. Two signers with one name and key id are refused: `open_note` would.
    """
    if not isinstance(text, str) or not text.endswith("\n"):
        raise NoteError(f"note text: got {text!r:.80}, want non-empty text ending in a newline")
    message = _check_text(text, what="note text")
    if not signers:
        raise NoteError("signers: got none, want at least one")
    if len(signers) > MAX_SIGNATURES:
        raise NoteError(f"signers: got {len(signers)}, want at most {MAX_SIGNATURES}")
    seen: set[tuple[str, bytes]] = set()
    lines = []
    for signer in signers:
        if (signer.name, signer.key_id) in seen:
            raise NoteError(f"signers: got {signer.name}+{signer.key_id.hex()} twice, want once")
        seen.add((signer.name, signer.key_id))
        blob = b64(signer.key_id + signer.sign(message))
        lines.append(f"{_SIG_PREFIX}{signer.name} {blob}\n")
    note = text + "\n" + "".join(lines)
    size = len(note.encode("utf-8"))
    if size > MAX_NOTE_SIZE:
        raise NoteError(f"signed note: got {size} bytes, want at most {MAX_NOTE_SIZE}")
    return note


def _parse_signature_line(line: str, *, number: int) -> tuple[NoteSignature, str]:
    """Parse one signature line (without its newline); also return its base64 for dedup."""
    what = f"note signature line {number}"
    if not line.startswith(_SIG_PREFIX):
        raise NoteError(f"{what}: got {line!r:.80}, want '— <key name> <base64>'")
    name, _, blob64 = line[len(_SIG_PREFIX) :].partition(" ")
    _check_name(name, what=f"{what} key name")
    try:
        blob = parse_b64(blob64, what=f"{what} signature")
    except EncodingError as exc:
        raise NoteError(str(exc)) from exc
    if len(blob) < 5:
        raise NoteError(f"{what}: got {len(blob)} signature bytes, want a 4-byte key id and more")
    return NoteSignature(name=name, key_id=blob[:4], signature=blob[4:]), blob64


def _index_verifiers(verifiers: Iterable[NoteVerifier]) -> dict[tuple[str, bytes], NoteVerifier]:
    known: dict[tuple[str, bytes], NoteVerifier] = {}
    for verifier in verifiers:
        slot = (verifier.name, verifier.key_id)
        if known.setdefault(slot, verifier) != verifier:
            # Two keys with one name and id: someone controls the list; refuse to guess.
            raise NoteError(f"verifiers: got two keys for {verifier.name}+{verifier.key_id.hex()}")
    return known


def _split_note(note: str | bytes) -> tuple[str, list[str]]:
    """Check the whole note and split it into its text and its signature lines."""
    if isinstance(note, bytes):
        if len(note) > MAX_NOTE_SIZE:
            raise NoteError(f"note: got {len(note)} bytes, want at most {MAX_NOTE_SIZE}")
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NoteError(f"note: got invalid UTF-8 at byte {exc.start}, want UTF-8") from exc
    elif not isinstance(note, str):
        raise NoteError(f"note: got {type(note).__name__}, want str or bytes")
    _check_text(note, what="note")
    # The text ends at the last blank line: it may contain blank lines, signatures cannot.
    split = note.rfind("\n\n")
    if split < 0:
        raise NoteError("note: got no blank line, want text, a blank line, then signatures")
    text, block = note[: split + 1], note[split + 2 :]
    if not block.endswith("\n"):
        raise NoteError("note: got no signature lines ending in a newline, want at least one")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"note: got {len(lines)} signature lines, want at most {MAX_SIGNATURES}")
    return text, lines


def open_note(note: str | bytes, verifiers: Iterable[NoteVerifier]) -> OpenedNote:
    """Parse `note` and verify its signatures by the known `verifiers`.

    Raises `NoteError` if the note is malformed (see the module docstring), if a signature by a
    known key (name and key id both match) does not verify, if a known key signed twice, or if no
    known key signed at all. Signatures by unknown keys are ignored.
    """
    known = _index_verifiers(verifiers)
    text, lines = _split_note(note)
    message = text.encode("utf-8")
    verified: list[NoteSignature] = []
    unverified: list[NoteSignature] = []
    seen_known: set[tuple[str, bytes]] = set()
    seen_unknown: set[tuple[str, str]] = set()
    for number, line in enumerate(lines, start=1):
        sig, blob64 = _parse_signature_line(line, number=number)
        slot = (sig.name, sig.key_id)
        verifier = known.get(slot)
        if verifier is None:
            if (sig.name, blob64) not in seen_unknown:
                seen_unknown.add((sig.name, blob64))
                unverified.append(sig)
            continue
        if slot in seen_known:
            raise NoteError(f"note: got two signatures by {sig.name}+{sig.key_id.hex()}, want one")
        seen_known.add(slot)
        if not verifier.verify(message, sig.signature):
            raise NoteError(
                f"note signature line {number} by known key {sig.name}+{sig.key_id.hex()}: "
                "got an invalid signature, want a valid Ed25519 signature of the text"
            )
        verified.append(sig)

    if not verified:
        raise NoteError("note: got no signature by a known key, want at least one that verifies")
    return OpenedNote(text=text, signatures=tuple(verified), unverified=tuple(unverified))
