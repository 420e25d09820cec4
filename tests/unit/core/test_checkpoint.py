import dataclasses
from collections.abc import Callable

import pytest

from registry.core.checkpoint import (
    MAX_TREE_SIZE,
    Checkpoint,
    parse_checkpoint_body,
    sign_checkpoint,
    verify_checkpoint,
)
from registry.core.encoding import b64
from registry.core.errors import NoteError
from registry.core.hashing import sha256
from registry.core.note import NoteSigner, open_note, sign_note

ORIGIN = "registry.example/log"
SEED = bytes(range(1, 33))  # the fixed test seed of docs/spec.md §6

# docs/spec.md §6 publishes exactly this key and note; keep them in step.
SPEC_VKEY = "registry.example/log+2785cffd+AXm1Vi6P5lT5QHixEuipi6eQH4U65pW+1+DjkQutBJZk"
SPEC_NOTE = (
    "registry.example/log\n"
    "3\n"
    "g2/xhOe0Gx4Ty1/Yn6HemNu6uZ6dKRiRP/Q7hqXHwhM=\n"
    "map-root YL6YYXUPrL+th1glSi92wM/njVRFmjvBh9SbFAH82Og=\n"
    "\n"
    "— registry.example/log J4XP/YW81595LNZ6qTudfZ8pifT7Ac3EGG4Gi2EdvFzBhMI/vVOzPdxk3/1er+vgBPNRX"
    "N0VOirwlS+WVnyd8CzJ/A8=\n"
)


@pytest.fixture
def signer() -> NoteSigner:
    return NoteSigner.from_seed(ORIGIN, SEED)


@pytest.fixture
def checkpoint() -> Checkpoint:
    return Checkpoint(origin=ORIGIN, tree_size=3, root_hash=sha256(b"log"), map_root=sha256(b"map"))


class TestSpecExample:
    def test_vkey(self, signer: NoteSigner) -> None:
        assert signer.verifier().vkey == SPEC_VKEY
        assert signer.key_id.hex() == "2785cffd"

    def test_note(self, signer: NoteSigner, checkpoint: Checkpoint) -> None:
        assert sign_checkpoint(checkpoint, signer) == SPEC_NOTE

    def test_verify(self, signer: NoteSigner, checkpoint: Checkpoint) -> None:
        verifier = signer.verifier()
        assert verify_checkpoint(SPEC_NOTE, verifier=verifier, origin=ORIGIN) == checkpoint
        assert verify_checkpoint(SPEC_NOTE.encode(), verifier=verifier) == checkpoint


class TestBody:
    def test_exact_layout(self, checkpoint: Checkpoint) -> None:
        assert checkpoint.body() == (
            f"{ORIGIN}\n3\n{b64(sha256(b'log'))}\nmap-root {b64(sha256(b'map'))}\n"
        )

    @pytest.mark.parametrize("size", [0, 1, 10, 2**53, MAX_TREE_SIZE])
    def test_round_trip(self, checkpoint: Checkpoint, size: int) -> None:
        cp = dataclasses.replace(checkpoint, tree_size=size)
        assert parse_checkpoint_body(cp.body()) == cp
        assert cp.body().splitlines()[1] == str(size)

    @pytest.mark.parametrize(
        "origin", ["", "has space", "a+b", "tab\there", "new\nline", "nbsp\u00a0x"]
    )
    def test_bad_origin_line(self, checkpoint: Checkpoint, origin: str) -> None:
        lines = checkpoint.body().split("\n")
        lines[0] = origin
        with pytest.raises(NoteError):
            parse_checkpoint_body("\n".join(lines))

    @pytest.mark.parametrize(
        "size",
        [
            "",
            "-1",
            "+1",
            "01",
            "00",
            " 1",
            "1 ",
            "1.0",
            "1e3",
            "0x10",
            "١",  # Arabic-Indic digit one: int() would accept it
            "1_000",
            str(MAX_TREE_SIZE + 1),
            "9" * 21,
            "9" * 5000,
        ],
    )
    def test_bad_size_line(self, checkpoint: Checkpoint, size: str) -> None:
        lines = checkpoint.body().split("\n")
        lines[1] = size
        with pytest.raises(NoteError, match="tree size"):
            parse_checkpoint_body("\n".join(lines))

    @pytest.mark.parametrize(
        "root",
        [
            "",
            b64(b"\x00" * 31),
            b64(b"\x00" * 33),
            b64(b"\x00" * 32).rstrip("="),  # unpadded
            b64(b"\x00" * 32)[:-2] + "B=",  # non-zero pad bits
            b64(b"\xff" * 32).replace("/", "_"),  # URL-safe alphabet
            "0x" + "00" * 32,
            " " + b64(b"\x00" * 32),
        ],
    )
    def test_bad_root_line(self, checkpoint: Checkpoint, root: str) -> None:
        lines = checkpoint.body().split("\n")
        lines[2] = root
        with pytest.raises(NoteError, match="root hash"):
            parse_checkpoint_body("\n".join(lines))

    @pytest.mark.parametrize(
        "line",
        [
            "",
            "map-root",
            "map-root ",
            "maproot " + b64(b"\x00" * 32),
            "Map-root " + b64(b"\x00" * 32),
            "map-root  " + b64(b"\x00" * 32),
            "map-root\t" + b64(b"\x00" * 32),
            "map_root " + b64(b"\x00" * 32),
            "map-root " + b64(b"\x00" * 31),
            "map-root " + b64(b"\x00" * 32) + " ",
            b64(b"\x00" * 32),
        ],
    )
    def test_bad_map_root_line(self, checkpoint: Checkpoint, line: str) -> None:
        lines = checkpoint.body().split("\n")
        lines[3] = line
        with pytest.raises(NoteError):
            parse_checkpoint_body("\n".join(lines))

    @pytest.mark.parametrize(
        "mutate",
        [
            pytest.param(lambda b: b[:-1], id="no-final-newline"),
            pytest.param(lambda b: b + "extension\n", id="extra-line"),
            pytest.param(lambda b: b + "\n", id="trailing-blank-line"),
            pytest.param(lambda b: b + "x", id="trailing-data"),
            pytest.param(lambda b: b.rsplit("\n", 2)[0] + "\n", id="missing-map-line"),
            pytest.param(lambda b: "\n" + b, id="leading-blank-line"),
            pytest.param(lambda b: b.replace("\n", "\r\n"), id="crlf"),
            pytest.param(lambda b: "", id="empty"),
        ],
    )
    def test_bad_shape(self, checkpoint: Checkpoint, mutate: Callable[[str], str]) -> None:
        with pytest.raises(NoteError):
            parse_checkpoint_body(mutate(checkpoint.body()))

    @pytest.mark.parametrize(
        "changes",
        [
            {"origin": "a b"},
            {"tree_size": -1},
            {"tree_size": MAX_TREE_SIZE + 1},
            {"tree_size": True},
            {"tree_size": "3"},
            {"root_hash": b"\x00" * 31},
            {"map_root": "00" * 32},
        ],
    )
    def test_constructor_validates(
        self, checkpoint: Checkpoint, changes: dict[str, object]
    ) -> None:
        with pytest.raises(NoteError):
            dataclasses.replace(checkpoint, **changes)  # type: ignore[arg-type]


class TestSignAndVerify:
    def test_round_trip(self, signer: NoteSigner, checkpoint: Checkpoint) -> None:
        note = sign_checkpoint(checkpoint, signer)
        assert verify_checkpoint(note, verifier=signer.verifier()) == checkpoint

    def test_signer_must_be_named_after_origin(self, checkpoint: Checkpoint) -> None:
        other = NoteSigner.from_seed("other.example/log", SEED)
        with pytest.raises(NoteError, match="origin"):
            sign_checkpoint(checkpoint, other)

    def test_wrong_expected_origin(self, signer: NoteSigner, checkpoint: Checkpoint) -> None:
        note = sign_checkpoint(checkpoint, signer)
        with pytest.raises(NoteError, match="origin"):
            verify_checkpoint(note, verifier=signer.verifier(), origin="other.example/log")

    def test_origin_must_be_key_name(self, checkpoint: Checkpoint) -> None:
        # A key named X signing a checkpoint for origin Y is not Y's checkpoint.
        other = NoteSigner.from_seed("other.example/log", SEED)
        note = sign_note(checkpoint.body(), other)
        with pytest.raises(NoteError, match="key name"):
            verify_checkpoint(note, verifier=other.verifier())

    def test_wrong_key(self, signer: NoteSigner, checkpoint: Checkpoint) -> None:
        note = sign_checkpoint(checkpoint, signer)
        impostor = NoteSigner.from_seed(ORIGIN, b"\x02" * 32)
        with pytest.raises(NoteError, match="no signature by a known key"):
            verify_checkpoint(note, verifier=impostor.verifier())

    def test_impostor_signature_alone(self, signer: NoteSigner, checkpoint: Checkpoint) -> None:
        impostor = NoteSigner.from_seed(ORIGIN, b"\x02" * 32)
        note = sign_checkpoint(checkpoint, impostor)
        with pytest.raises(NoteError, match="no signature by a known key"):
            verify_checkpoint(note, verifier=signer.verifier())

    def test_missing_signature(self, signer: NoteSigner, checkpoint: Checkpoint) -> None:
        for note in (checkpoint.body(), checkpoint.body() + "\n"):
            with pytest.raises(NoteError):
                verify_checkpoint(note, verifier=signer.verifier())

    @pytest.mark.parametrize(
        "field", ["origin", "tree_size", "root_hash", "map_root"], ids=lambda f: f"tampered-{f}"
    )
    def test_tampered_body(self, signer: NoteSigner, checkpoint: Checkpoint, field: str) -> None:
        changes: dict[str, object] = {
            "origin": "registry.example/lug",
            "tree_size": 4,
            "root_hash": sha256(b"other"),
            "map_root": sha256(b"other"),
        }
        forged = dataclasses.replace(checkpoint, **{field: changes[field]})  # type: ignore[arg-type]
        signature_block = sign_checkpoint(checkpoint, signer).split("\n\n", 1)[1]
        note = forged.body() + "\n" + signature_block
        with pytest.raises(NoteError):
            verify_checkpoint(note, verifier=signer.verifier())

    def test_tampered_signature(self, signer: NoteSigner, checkpoint: Checkpoint) -> None:
        note = sign_checkpoint(checkpoint, signer)
        body = note.split("\n\n", 1)[0]
        blob = bytearray(open_note(note, [signer.verifier()]).signatures[0].signature)
        blob[10] ^= 1
        forged = f"{body}\n\n— {ORIGIN} {b64(signer.key_id + bytes(blob))}\n"
        with pytest.raises(NoteError, match="invalid signature"):
            verify_checkpoint(forged, verifier=signer.verifier())

    def test_cosignatures_are_ignored(self, signer: NoteSigner, checkpoint: Checkpoint) -> None:
        witness = NoteSigner.from_seed("witness.example", b"\x03" * 32)
        note = sign_note(checkpoint.body(), signer, witness)
        assert verify_checkpoint(note, verifier=signer.verifier()) == checkpoint
        note = sign_note(checkpoint.body(), witness, signer)
        assert verify_checkpoint(note, verifier=signer.verifier()) == checkpoint

    def test_signed_extra_line_is_rejected(
        self, signer: NoteSigner, checkpoint: Checkpoint
    ) -> None:
        # Even correctly signed, a body with an extension line we do not define is refused.
        note = sign_note(checkpoint.body() + "extension\n", signer)
        with pytest.raises(NoteError, match="lines"):
            verify_checkpoint(note, verifier=signer.verifier())

    def test_signed_non_canonical_size_is_rejected(
        self, signer: NoteSigner, checkpoint: Checkpoint
    ) -> None:
        body = checkpoint.body().replace("\n3\n", "\n03\n")
        note = sign_note(body, signer)
        with pytest.raises(NoteError, match="tree size"):
            verify_checkpoint(note, verifier=signer.verifier())
