import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from registry.core.encoding import b64
from registry.core.errors import NoteError
from registry.core.note import (
    MAX_NOTE_SIZE,
    MAX_SIGNATURES,
    NoteSignature,
    NoteSigner,
    NoteVerifier,
    is_valid_key_name,
    note_key_id,
    open_note,
    sign_note,
)

# The example key and notes of Go's golang.org/x/mod/sumdb/note (package doc and note_test.go).
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_B64 = (
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
)
ENOCH_B64 = (
    "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ="
)
PETER_SIG = f"— PeterNeumann {PETER_B64}\n"
ENOCH_SIG = f"— EnochRoot {ENOCH_B64}\n"
PETER_NOTE = TEXT + "\n" + PETER_SIG
ED25519_L = 2**252 + 27742317777372353535851937790883648493  # the group order


@pytest.fixture
def peter() -> NoteVerifier:
    return NoteVerifier.from_vkey(PETER_VKEY)


@pytest.fixture
def enoch() -> NoteVerifier:
    return NoteVerifier.from_vkey(ENOCH_VKEY)


def make_signer(name: str = "example.com/log", n: int = 1) -> NoteSigner:
    return NoteSigner.from_seed(name, bytes([n]) * 32)


class TestGoVectors:
    """Interoperability with the Go reference implementation, byte for byte."""

    def test_key_id(self, peter: NoteVerifier) -> None:
        assert peter.key_id == bytes.fromhex("c74f20a3")
        assert note_key_id("PeterNeumann", peter.public_key) == bytes.fromhex("c74f20a3")

    def test_signer_key_parses_and_matches_verifier(self, peter: NoteVerifier) -> None:
        signer = NoteSigner.from_skey(PETER_SKEY)
        assert signer.key_id == bytes.fromhex("c74f20a3")
        assert signer.verifier() == peter
        assert signer.skey() == PETER_SKEY
        assert peter.vkey == PETER_VKEY

    def test_sign_reproduces_the_published_note(self) -> None:
        # Ed25519 is deterministic (RFC 8032), so the note must match exactly.
        assert sign_note(TEXT, NoteSigner.from_skey(PETER_SKEY)) == PETER_NOTE

    def test_open_published_note(self, peter: NoteVerifier) -> None:
        opened = open_note(PETER_NOTE, [peter])
        assert opened.text == TEXT
        assert [(s.name, s.key_id) for s in opened.signatures] == [
            ("PeterNeumann", bytes.fromhex("c74f20a3"))
        ]
        assert opened.unverified == ()
        assert open_note(PETER_NOTE.encode("utf-8"), [peter]) == opened

    def test_one_known_one_unknown(self, peter: NoteVerifier) -> None:
        opened = open_note(TEXT + "\n" + PETER_SIG + ENOCH_SIG, [peter])
        assert [s.name for s in opened.signatures] == ["PeterNeumann"]
        assert [(s.name, s.key_id) for s in opened.unverified] == [
            ("EnochRoot", bytes.fromhex("af0cfe78"))
        ]

    def test_both_known(self, peter: NoteVerifier, enoch: NoteVerifier) -> None:
        opened = open_note(TEXT + "\n" + PETER_SIG + ENOCH_SIG, [peter, enoch])
        assert [s.name for s in opened.signatures] == ["PeterNeumann", "EnochRoot"]
        assert opened.unverified == ()

    def test_no_known_key(self) -> None:
        with pytest.raises(NoteError, match="no signature by a known key"):
            open_note(TEXT + "\n" + PETER_SIG + ENOCH_SIG, [])

    def test_every_mangled_vkey_is_rejected(self) -> None:
        # As Go's TestNewVerifier: every proper substring and every one-byte increment fails.
        data = PETER_VKEY.encode("ascii")
        for i in range(len(data) + 1):
            for j in range(i + 1, len(data) + 1):
                if (i, j) != (0, len(data)):
                    with pytest.raises(NoteError):
                        NoteVerifier.from_vkey(data[i:j].decode("ascii"))
        for i in range(len(data)):
            mangled = data[:i] + bytes([data[i] + 1]) + data[i + 1 :]
            with pytest.raises(NoteError):
                NoteVerifier.from_vkey(mangled.decode("ascii"))

    def test_every_mangled_skey_is_rejected(self) -> None:
        data = PETER_SKEY.encode("ascii")
        for i in range(len(data)):
            mangled = data[:i] + bytes([data[i] + 1]) + data[i + 1 :]
            with pytest.raises(NoteError):
                NoteSigner.from_skey(mangled.decode("ascii"))

    @pytest.mark.parametrize(
        "note",
        [
            pytest.param(TEXT, id="no-signatures"),
            pytest.param(TEXT + "\n", id="blank-line-only"),
            pytest.param(TEXT + "\n" + PETER_SIG[:-1], id="no-final-newline"),
            pytest.param("\x01" + TEXT + "\n" + PETER_SIG, id="control-character"),
            pytest.param(
                TEXT + "\n" + "— Bad Name " + PETER_B64, id="space-in-name-and-no-newline"
            ),
            pytest.param(TEXT + "\n" + PETER_SIG + "Unexpected line.\n", id="unexpected-line"),
        ],
    )
    def test_go_malformed_messages(self, peter: NoteVerifier, note: str) -> None:
        with pytest.raises(NoteError):
            open_note(note, [peter])

    def test_invalid_utf8(self, peter: NoteVerifier) -> None:
        with pytest.raises(NoteError, match="UTF-8"):
            open_note(b"\xff" + PETER_NOTE.encode("utf-8"), [peter])

    def test_too_many_signatures(self, peter: NoteVerifier) -> None:
        body = TEXT + "\n" + ENOCH_SIG * (MAX_SIGNATURES + 1)
        for verifiers in ([peter], []):
            with pytest.raises(NoteError, match="signature lines"):
                open_note(body, verifiers)

    def test_invalid_known_signature(self, peter: NoteVerifier) -> None:
        bad = TEXT + "\n" + PETER_SIG[:60] + "ABCD" + PETER_SIG[60:]
        with pytest.raises(NoteError, match="invalid signature"):
            open_note(bad, [peter])

    def test_tampered_text(self, peter: NoteVerifier) -> None:
        with pytest.raises(NoteError, match="invalid signature"):
            open_note(PETER_NOTE.replace("cryptography", "cryptographY"), [peter])


class TestKeys:
    def test_round_trip(self) -> None:
        signer = make_signer("registry.example/log")
        verifier = signer.verifier()
        assert NoteVerifier.from_vkey(verifier.vkey) == verifier
        assert NoteSigner.from_skey(signer.skey()).verifier() == verifier
        assert NoteVerifier.for_key(signer.name, signer.public_key) == verifier

    def test_key_id_depends_on_name(self) -> None:
        a = make_signer("a.example")
        b = make_signer("b.example")
        assert a.public_key == b.public_key
        assert a.key_id != b.key_id

    def test_verifier_checks_key_id(self) -> None:
        signer = make_signer()
        with pytest.raises(NoteError, match="key id"):
            NoteVerifier(name=signer.name, key_id=b"\x00" * 4, public_key=signer.public_key)

    def test_verifier_checks_key_size(self) -> None:
        with pytest.raises(NoteError, match="32 bytes"):
            NoteVerifier(name="a", key_id=b"\x00" * 4, public_key=b"\x00" * 31)

    @pytest.mark.parametrize(
        "vkey",
        [
            "",
            "PeterNeumann",
            "PeterNeumann+c74f20a3",
            "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # uppercase id
            "PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW ",
            "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # other id
            "PeterNeumann+c74f20a3+AhpcsQcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # type 0x02
        ],
    )
    def test_bad_vkeys(self, vkey: str) -> None:
        with pytest.raises(NoteError):
            NoteVerifier.from_vkey(vkey)

    def test_wrong_signature_type_is_named(self) -> None:
        signer = make_signer("x")
        material = b64(b"\x02" + signer.public_key)
        vkey = f"x+{signer.key_id.hex()}+{material}"
        with pytest.raises(NoteError, match="got 0x02, want 0x01"):
            NoteVerifier.from_vkey(vkey)

    def test_skey_errors_never_show_the_secret(self) -> None:
        signer = make_signer("x")
        secret = signer.skey().rsplit("+", 1)[1]
        for bad in (
            signer.skey()[:-2] + "==",  # non-canonical base64
            signer.skey().replace(signer.key_id.hex(), "00000000"),
            "PRIVATE+KEY+" + secret,
            "PRIVATE+KEY+x+zzzzzzzz+" + secret,
        ):
            with pytest.raises(NoteError) as info:
                NoteSigner.from_skey(bad)
            assert secret not in str(info.value)
            assert secret[:12] not in str(info.value)

    def test_signer_repr_hides_private_key(self) -> None:
        signer = make_signer("x")
        seed = signer.private_key.private_bytes_raw()
        assert repr(seed) not in repr(signer)
        assert "private_key" not in repr(signer)

    def test_signer_from_private_key(self) -> None:
        key = Ed25519PrivateKey.generate()
        signer = NoteSigner(name="n", private_key=key)
        assert open_note(sign_note("hi\n", signer), [signer.verifier()]).text == "hi\n"

    @pytest.mark.parametrize(
        "name",
        [
            "",
            "a b",
            "a\tb",
            "a+b",
            "a\u00a0b",
            "a\u3000b",
            "a\u2028b",
            "a\u0085b",
            "a\x01b",
            "a\ud800b",
            "a\nb",
        ],
    )
    def test_invalid_names(self, name: str) -> None:
        assert not is_valid_key_name(name)
        with pytest.raises(NoteError, match="name"):
            NoteSigner.from_seed(name, b"\x01" * 32)

    @pytest.mark.parametrize(
        "name", ["registry.example/log", "Đăng-ký.vn/sổ", "a", "x\u200by", "😀", "a\x7fb"]
    )
    def test_valid_names(self, name: str) -> None:
        assert is_valid_key_name(name)
        signer = NoteSigner.from_seed(name, b"\x01" * 32)
        assert NoteVerifier.from_vkey(signer.verifier().vkey).name == name

    def test_seed_size(self) -> None:
        with pytest.raises(NoteError, match="32 bytes"):
            NoteSigner.from_seed("x", b"\x01" * 31)


class TestSignAndOpen:
    @pytest.mark.parametrize(
        "text",
        [
            "\n",
            "a\n",
            "line one\n\nafter a blank line\n",
            "trailing blank lines\n\n\n",
            "— not a signature line\n",
            "Tiếng Việt có dấu\n",
            "tab-free text with unicode spaces\u3000\u00a0\n",
        ],
    )
    def test_round_trip(self, text: str) -> None:
        signer = make_signer()
        note = sign_note(text, signer)
        opened = open_note(note, [signer.verifier()])
        assert opened.text == text
        assert opened.signatures == (
            NoteSignature(
                name=signer.name,
                key_id=signer.key_id,
                signature=signer.sign(text.encode("utf-8")),
            ),
        )

    def test_several_signers_in_order(self) -> None:
        a, b = make_signer("a", 1), make_signer("b", 2)
        note = sign_note("t\n", a, b)
        assert [line.split(" ")[:2] for line in note.splitlines()[2:]] == [["—", "a"], ["—", "b"]]
        opened = open_note(note, [b.verifier(), a.verifier()])
        assert [s.name for s in opened.signatures] == ["a", "b"]
        assert [s.name for s in open_note(note, [b.verifier()]).unverified] == ["a"]

    @pytest.mark.parametrize(
        "text",
        ["", "no newline", "control \x07 char\n", "carriage\r\n", "lone \ud800\n"],
    )
    def test_sign_rejects_bad_text(self, text: str) -> None:
        with pytest.raises(NoteError):
            sign_note(text, make_signer())

    def test_sign_needs_a_signer(self) -> None:
        with pytest.raises(NoteError, match="at least one"):
            sign_note("t\n")

    def test_sign_rejects_duplicate_signers(self) -> None:
        signer = make_signer()
        with pytest.raises(NoteError, match="twice"):
            sign_note("t\n", signer, make_signer())

    def test_sign_rejects_oversize(self) -> None:
        with pytest.raises(NoteError, match="at most"):
            sign_note("a" * (MAX_NOTE_SIZE - 10) + "\n", make_signer())

    def test_open_rejects_oversize_before_parsing(self) -> None:
        signer = make_signer()
        note = sign_note("t\n", signer)
        huge = "x" * MAX_NOTE_SIZE + note
        for value in (huge, huge.encode("utf-8")):
            with pytest.raises(NoteError, match="at most"):
                open_note(value, [signer.verifier()])
        # Multi-byte characters count as bytes, not characters.
        wide = "é" * (MAX_NOTE_SIZE // 2) + "\n"
        with pytest.raises(NoteError, match="bytes"):
            open_note(wide + "\n" + note.split("\n\n")[1], [signer.verifier()])

    def test_note_at_size_limit_opens(self) -> None:
        signer = make_signer()
        overhead = len(sign_note("\n", signer).encode("utf-8")) - 1
        note = sign_note("a" * (MAX_NOTE_SIZE - overhead - 1) + "\n", signer)
        assert len(note.encode("utf-8")) == MAX_NOTE_SIZE
        open_note(note, [signer.verifier()])

    def test_lone_surrogate_in_str_note(self) -> None:
        signer = make_signer()
        note = sign_note("t\n", signer)
        with pytest.raises(NoteError, match="surrogate"):
            open_note("\ud800" + note, [signer.verifier()])

    @pytest.mark.parametrize("char", ["\x00", "\t", "\r", "\x1b", "\x1f"])
    def test_open_rejects_control_characters(self, char: str) -> None:
        signer = make_signer()
        note = sign_note("t\n", signer)
        with pytest.raises(NoteError, match="control"):
            open_note(char + note, [signer.verifier()])
        with pytest.raises(NoteError, match="control"):
            open_note(note[:-1] + char + "\n", [signer.verifier()])

    def test_known_name_other_key_id_is_ignored(self) -> None:
        ours, theirs = make_signer("log", 1), make_signer("log", 2)
        note = sign_note("t\n", theirs, ours)
        opened = open_note(note, [ours.verifier()])
        assert [s.key_id for s in opened.signatures] == [ours.key_id]
        assert [s.key_id for s in opened.unverified] == [theirs.key_id]
        with pytest.raises(NoteError, match="no signature by a known key"):
            open_note(sign_note("t\n", theirs), [ours.verifier()])

    def test_duplicate_known_signature_is_rejected(self) -> None:
        # Stricter than Go, which skips later lines of a known key without verifying them.
        signer = make_signer()
        note = sign_note("t\n", signer)
        sig_line = note.split("\n\n")[1]
        with pytest.raises(NoteError, match="two signatures"):
            open_note(note + sig_line, [signer.verifier()])

    def test_duplicate_unknown_signatures_are_collapsed(self) -> None:
        ours, other = make_signer("a", 1), make_signer("b", 2)
        note = sign_note("t\n", ours, other)
        other_line = note.splitlines(keepends=True)[-1]
        opened = open_note(note + other_line, [ours.verifier()])
        assert len(opened.unverified) == 1

    def test_ambiguous_verifiers(self) -> None:
        signer = make_signer()
        good = signer.verifier()
        note = sign_note("t\n", signer)
        assert open_note(note, [good, good]).text == "t\n"  # the same key twice is harmless
        # A forged verifier cannot be built: its key id would not match its key.
        with pytest.raises(NoteError):
            NoteVerifier(name=good.name, key_id=good.key_id, public_key=b"\x00" * 32)

    def test_wrong_signature_length_for_known_key(self) -> None:
        signer = make_signer()
        note = f"t\n\n— {signer.name} {b64(signer.key_id + b'x' * 63)}\n"
        with pytest.raises(NoteError, match="invalid signature"):
            open_note(note, [signer.verifier()])

    @pytest.mark.parametrize(
        "line",
        [
            "-- log AAAAAAA=",  # ASCII dashes
            "—log AAAAAAA=",  # no space after the dash
            "—  log AAAAAAA=",  # two spaces
            "— log",  # no signature
            "— log ",  # empty signature
            "— log AAAA",  # fewer than 5 bytes
            "— log AAAAAAA",  # unpadded
            "— log AAAAAAB=",  # non-zero pad bits
            "— log AAAA AAA=",  # space inside the base64
            "— a+b AAAAAAA=",  # '+' in the name
        ],
    )
    def test_malformed_signature_lines(self, line: str) -> None:
        signer = make_signer()
        note = sign_note("t\n", signer)
        with pytest.raises(NoteError):
            open_note(note + line + "\n", [signer.verifier()])

    def test_unknown_short_signature_is_accepted(self) -> None:
        # Five bytes is enough for an unknown key; only known keys need 64 signature bytes.
        signer = make_signer()
        note = sign_note("t\n", signer) + "— other AAAAAAA=\n"
        opened = open_note(note, [signer.verifier()])
        assert opened.unverified == (
            NoteSignature(name="other", key_id=b"\0" * 4, signature=b"\0"),
        )

    def test_text_cannot_be_hidden_in_the_signature_block(self) -> None:
        # The last blank line splits text from signatures, so appended text becomes the text.
        signer = make_signer()
        note = sign_note("t\n", signer)
        with pytest.raises(NoteError):
            open_note(note + "\nextra\n", [signer.verifier()])

    def test_malleated_signature_is_rejected(self) -> None:
        signer = make_signer()
        note = sign_note("t\n", signer)
        sig = open_note(note, [signer.verifier()]).signatures[0].signature
        s = int.from_bytes(sig[32:], "little") + ED25519_L
        malleated = sig[:32] + s.to_bytes(32, "little")
        forged = f"t\n\n— {signer.name} {b64(signer.key_id + malleated)}\n"
        with pytest.raises(NoteError, match="invalid signature"):
            open_note(forged, [signer.verifier()])

    def test_verify_rejects_wrong_length(self) -> None:
        signer = make_signer()
        assert not signer.verifier().verify(b"m", signer.sign(b"m")[:-1])
        assert signer.verifier().verify(b"m", signer.sign(b"m"))

    def test_open_rejects_other_types(self) -> None:
        with pytest.raises(NoteError, match="want str or bytes"):
            open_note(1234, [])  # type: ignore[arg-type]
